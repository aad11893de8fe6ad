package testkit

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestGolden(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		file      string // the golden file's content before the call; "" for no file
		got       string
		update    bool
		wantError string // a part of the reported error; "" for none
		wantFatal string // a part of the fatal message; "" for none
		wantFile  string // the golden file's content after the call
	}{
		{name: "same bytes pass", file: "a\nb\n", got: "a\nb\n", wantFile: "a\nb\n"},
		{name: "a difference is an error naming -update", file: "a\nb\n", got: "a\nc\n",
			wantError: "run the test with -update", wantFile: "a\nb\n"},
		{name: "a missing final newline is a difference", file: "a\n", got: "a",
			wantError: "differs from the golden file", wantFile: "a\n"},
		{name: "a missing file is fatal and says how to create it", got: "a\n",
			wantFatal: "run the test with -update to create it"},
		{name: "update rewrites a different file", file: "old\n", got: "new\n", update: true, wantFile: "new\n"},
		{name: "update creates a missing file and its directory", got: "new\n", update: true, wantFile: "new\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "sub", "x.golden")
			if tt.file != "" {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(tt.file), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			r := runTB(func(tb testing.TB) { golden(tb, path, []byte(tt.got), tt.update) })

			switch {
			case tt.wantError == "" && len(r.errors) != 0:
				t.Errorf("errors %q, want none", r.errors)
			case tt.wantError != "" && (len(r.errors) != 1 || !strings.Contains(r.errors[0], tt.wantError) || !strings.Contains(r.errors[0], path)):
				t.Errorf("errors %q, want one naming %s and saying %q", r.errors, path, tt.wantError)
			}
			switch {
			case tt.wantFatal == "" && r.fatal != "":
				t.Errorf("fatal %q, want none", r.fatal)
			case tt.wantFatal != "" && !strings.Contains(r.fatal, tt.wantFatal):
				t.Errorf("fatal %q, want one saying %q", r.fatal, tt.wantFatal)
			}
			b, err := os.ReadFile(path)
			if tt.wantFile == "" {
				if !os.IsNotExist(err) {
					t.Errorf("golden file after the call: %q, %v; want none", b, err)
				}
				return
			}
			if err != nil || string(b) != tt.wantFile {
				t.Errorf("golden file after the call: %q, %v; want %q", b, err, tt.wantFile)
			}
		})
	}
}

// TestGoldenReadsTestdata checks the exported helpers against testdata in
// the working directory, as a package's tests use them. (It changes the
// working directory, so it cannot run in parallel.)
func TestGoldenReadsTestdata(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	const pretty = "{\n  \"a\": [\n    1,\n    \"<b>\"\n  ]\n}\n"
	if err := os.MkdirAll(filepath.Join(dir, "testdata", "golden"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "testdata", "golden", "doc.golden"), []byte(pretty), 0o644); err != nil {
		t.Fatal(err)
	}

	t.Run("Golden", func(t *testing.T) {
		r := runTB(func(tb testing.TB) { Golden(tb, "golden/doc.golden", []byte(pretty)) })
		if r.fatal != "" || len(r.errors) != 0 {
			t.Errorf("Golden of the same bytes: fatal %q, errors %q", r.fatal, r.errors)
		}
	})
	t.Run("GoldenJSON indents and ends with a newline", func(t *testing.T) {
		r := runTB(func(tb testing.TB) { GoldenJSON(tb, "golden/doc.golden", []byte(`{"a":[1, "<b>"]}`)) })
		if r.fatal != "" || len(r.errors) != 0 {
			t.Errorf("GoldenJSON of the compact document: fatal %q, errors %q", r.fatal, r.errors)
		}
	})
	t.Run("GoldenJSON reports a different document", func(t *testing.T) {
		if *update {
			t.Skip("under -update every output matches")
		}
		r := runTB(func(tb testing.TB) { GoldenJSON(tb, "golden/doc.golden", []byte(`{"a":[2,"<b>"]}`)) })
		if r.fatal != "" || len(r.errors) != 1 || !strings.Contains(r.errors[0], "    2,") {
			t.Errorf("GoldenJSON of another document: fatal %q, errors %q; want one error showing the line", r.fatal, r.errors)
		}
	})
	t.Run("GoldenJSON of something else is fatal", func(t *testing.T) {
		r := runTB(func(tb testing.TB) { GoldenJSON(tb, "golden/doc.golden", []byte(`{"a":`)) })
		if !strings.Contains(r.fatal, "not JSON") || len(r.errors) != 0 {
			t.Errorf("GoldenJSON of a cut document: fatal %q, errors %q; want fatal, not JSON", r.fatal, r.errors)
		}
	})
}
