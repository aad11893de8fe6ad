package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/rechargekit/rechargekit/storetest"
)

// Size counts the pages in use: what a purge freed, which SQLite keeps in
// the file for reuse, is not data.
func TestSize(t *testing.T) {
	t.Parallel()
	s := MustOpen(t, filepath.Join(t.TempDir(), "rechargekit.db"))
	mirrored := storetest.RunSize(t, s)
	if err := s.PurgeMirror(t.Context()); err != nil {
		t.Fatal(err)
	}
	if purged, err := s.Size(t.Context()); err != nil || purged > mirrored-300*1000 {
		t.Errorf("Size after the mirror was purged = %d, %v; want at most %d", purged, err, mirrored-300*1000)
	}
}
