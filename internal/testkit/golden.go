package testkit

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// update is the one -update flag of every test binary that imports testkit:
// with it, Golden rewrites the golden files instead of trusting them.
var update = flag.Bool("update", false, "rewrite the golden files in testdata with what the tests produce")

// Golden compares got with the golden file testdata/<name> of the package
// under test and reports any difference as a test error. name may hold
// slashes, for golden files in a subdirectory of testdata.
//
// Under go test -update it first writes got to the file (creating its
// directory), so that an intended change of output is accepted by running
// the test once with -update and reviewing the file's diff before the commit.
func Golden(tb testing.TB, name string, got []byte) {
	tb.Helper()
	golden(tb, filepath.Join("testdata", filepath.FromSlash(name)), got, *update)
}

// GoldenJSON is Golden for a JSON document: it indents got by two spaces and
// ends it with a newline first, so that the golden file reads, and diffs,
// one value a line. It fails the test at once when got is not JSON.
func GoldenJSON(tb testing.TB, name string, got []byte) {
	tb.Helper()
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, got, "", "  "); err != nil {
		tb.Fatalf("golden file %s: the output is not JSON: %v\n%s", name, err, got)
	}
	pretty.WriteByte('\n')
	Golden(tb, name, pretty.Bytes())
}

// golden is Golden with the file's path and the update switch given, so
// that testkit's own tests can run it on a temporary file in both modes.
func golden(tb testing.TB, path string, got []byte, update bool) {
	tb.Helper()
	if update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			tb.Fatalf("golden file %s: %v", path, err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			tb.Fatalf("golden file %s: %v", path, err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("golden file %s: %v (run the test with -update to create it)", path, err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		tb.Errorf("output differs from the golden file %s (-golden +got); if the change is intended, run the test with -update and review the file's diff:\n%s", path, diff)
	}
}
