package gladly

import (
	"os"
	"path/filepath"
	"testing"
)

// findFixtures returns <module root>/../shared/fixtures/gladly and whether it
// exists.
func findFixtures() (string, bool) {
	dir, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
	fixtures := filepath.Join(dir, "..", "shared", "fixtures", "gladly")
	_, err = os.Stat(fixtures)
	return fixtures, err == nil
}

// FixturesDir returns <module root>/../shared/fixtures/gladly, or skips the
// test when it is absent (a user's clone has no shared fixtures). Exported
// for the external test package.
func FixturesDir(tb testing.TB) string {
	tb.Helper()
	dir, ok := findFixtures()
	if !ok {
		tb.Skipf("shared fixtures not found at %s: skipping captured-payload tests", dir)
	}
	return dir
}

// FindFixtures is findFixtures for the external test package's fuzz seeds,
// which must not skip.
var FindFixtures = findFixtures

// MustReadFile returns the contents of a file or fails the test.
func MustReadFile(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
