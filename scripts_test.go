package rechargekit_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// fakeGo stands in for the go command in TestScriptsTestShowsFuzzProgress:
// every check passes, two packages have fuzz targets, and each fuzz run
// saves what scripts/test had printed when it started ($FAKE_OUT), then
// fails when its target is $FAKE_FAIL.
const fakeGo = `#!/usr/bin/env bash
set -e
case "$1" in
vet) exit 0 ;;
list) printf 'example.com/a %s\nexample.com/b %s\n' "$FAKE_DIR" "$FAKE_DIR" ;;
test)
	case " $* " in
	*" -list "*) printf 'FuzzOne\nFuzzTwo\nok  \t%s\t0.01s\n' "${@: -1}" ;;
	*" -fuzz "*)
		name=$5; name=${name#^}; name=${name%$}
		mkdir -p "$(dirname "$FAKE_SEEN/${@: -1}")"
		cp "$FAKE_OUT" "$FAKE_SEEN/${@: -1}.$name"
		if [ "${@: -1}.$name" = "$FAKE_FAIL" ]; then echo "--- FAIL: $name"; exit 1; fi ;;
	esac ;;
esac
`

// TestScriptsTestShowsFuzzProgress runs scripts/test with a stand-in go
// command and checks that its fuzz step, minutes long for real, names each
// target (package and name) before it runs and its time when done, and
// still stops at the first failing target, naming it.
func TestScriptsTestShowsFuzzProgress(t *testing.T) {
	t.Parallel()
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash: scripts/test is a bash script")
	}
	tmp := t.TempDir()
	bin, pkgDir, seen := filepath.Join(tmp, "bin"), filepath.Join(tmp, "pkg"), filepath.Join(tmp, "seen")
	for _, d := range []string{bin, pkgDir, seen} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		filepath.Join(bin, "go"):             fakeGo,
		filepath.Join(bin, "gofmt"):          "#!/bin/sh\nexit 0\n",
		filepath.Join(pkgDir, "a_test.go"):   "package a\n\nfunc FuzzOne(f *testing.F) {}\n",
		filepath.Join(pkgDir, "not_test.go"): "package a\n",
	}
	for name, text := range files {
		if err := os.WriteFile(name, []byte(text), 0o755); err != nil {
			t.Fatal(err)
		}
	}

	runScript := func(fail string) (string, error) {
		outPath := filepath.Join(tmp, "out-"+strings.ReplaceAll(fail, "/", "_"))
		out, err := os.Create(outPath)
		if err != nil {
			t.Fatal(err)
		}
		defer out.Close()
		cmd := exec.Command(bash, filepath.Join("scripts", "test"))
		cmd.Env = []string{
			"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH"),
			"HOME=" + tmp,
			"RECHARGEKIT_TEST_POSTGRES=postgres://unused", "RECHARGEKIT_TEST_REDIS=redis://unused", "RECHARGEKIT_TEST_CHROME=/unused",
			"FAKE_DIR=" + pkgDir, "FAKE_OUT=" + outPath, "FAKE_SEEN=" + seen, "FAKE_FAIL=" + fail,
		}
		cmd.Stdout, cmd.Stderr = out, out
		err = cmd.Run()
		b, rerr := os.ReadFile(outPath)
		if rerr != nil {
			t.Fatal(rerr)
		}
		return string(b), err
	}

	got, err := runScript("")
	if err != nil {
		t.Fatalf("scripts/test failed: %v\n%s", err, got)
	}
	for _, target := range []string{"example.com/a FuzzOne", "example.com/a FuzzTwo", "example.com/b FuzzOne", "example.com/b FuzzTwo"} {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(target) + ` \.\.\. ok \([0-9]+s\)$`).MatchString(got) {
			t.Errorf("the fuzz step does not show %q with its time:\n%s", target, got)
		}
		pkg, name, _ := strings.Cut(target, " ")
		before, err := os.ReadFile(filepath.Join(seen, pkg+"."+name))
		if err != nil {
			t.Errorf("%s did not run: %v", target, err)
		} else if !strings.HasSuffix(string(before), target+" ... ") {
			t.Errorf("%s was not named before it ran; the output then ended:\n%s", target, before)
		}
	}
	if !strings.Contains(got, "4 fuzz targets passed in ") {
		t.Errorf("no summary:\n%s", got)
	}

	got, err = runScript("example.com/a.FuzzTwo")
	if err == nil {
		t.Fatalf("scripts/test passed with a failing fuzz target:\n%s", got)
	}
	for _, want := range []string{"example.com/a FuzzTwo ... FAIL (", "--- FAIL: FuzzTwo", "fuzz target FuzzTwo (example.com/a) failed"} {
		if !strings.Contains(got, want) {
			t.Errorf("a failing target: output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "example.com/b FuzzOne") {
		t.Errorf("scripts/test went on after a failing target:\n%s", got)
	}
}
