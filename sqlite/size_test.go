package sqlite_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rechargekit/rechargekit"
)

// Size counts what was written, also while it still sat in the
// write-ahead log, and not the pages deletions freed.
func TestSize(t *testing.T) {
	t.Parallel()
	s := MustOpen(t, filepath.Join(t.TempDir(), "rechargekit.db"))
	empty, err := s.Size(t.Context())
	if err != nil || empty <= 0 {
		t.Fatalf("Size of a new database = %d, %v; want its schema's pages", empty, err)
	}
	name := strings.Repeat("x", 1000)
	for i := range 300 {
		if _, err := s.UpsertProfile(t.Context(), &rechargekit.Profile{ID: fmt.Sprintf("p%d", i), Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	full, err := s.Size(t.Context())
	if err != nil || full < empty+300*1000 {
		t.Errorf("Size after 300 profiles of 1 kB = %d, %v; want at least %d", full, err, empty+300*1000)
	}
	for i := range 300 {
		recs := []*rechargekit.MirrorRecord{{Resource: rechargekit.MirrorCustomers, ID: int64(i + 1), CustomerID: int64(i + 1),
			UpdatedAt: time.Now(), Doc: []byte(`{"note":"` + name + `"}`)}}
		if _, err := s.PutMirror(t.Context(), recs); err != nil {
			t.Fatal(err)
		}
	}
	withMirror, err := s.Size(t.Context())
	if err != nil || withMirror < full+300*1000 {
		t.Fatalf("Size after 300 mirrored records of 1 kB = %d, %v; want at least %d", withMirror, err, full+300*1000)
	}
	if err := s.PurgeMirror(t.Context()); err != nil {
		t.Fatal(err)
	}
	if purged, err := s.Size(t.Context()); err != nil || purged >= withMirror-300*1000 {
		t.Errorf("Size after the mirror was purged = %d, %v; want under %d: free pages are not data", purged, err, withMirror-300*1000)
	}
}
