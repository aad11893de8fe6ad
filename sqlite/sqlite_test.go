package sqlite_test

import (
	"github.com/rechargekit/rechargekit/actions/actionstest"
	"path/filepath"
	"testing"
	"time"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/sqlite"
	"github.com/rechargekit/rechargekit/storetest"
)

// MustOpen opens a store on path and closes it when the test ends.
func MustOpen(tb testing.TB, path string) *sqlite.Store {
	tb.Helper()
	s, err := sqlite.Open(tb.Context(), path)
	if err != nil {
		tb.Fatalf("Open(%s): %v", path, err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) rechargekit.Store {
		return MustOpen(t, filepath.Join(t.TempDir(), "rechargekit.db"))
	})
}

func TestPersistence(t *testing.T) {
	t.Parallel()
	storetest.RunPersistence(t, func(t *testing.T) (rechargekit.Store, func() rechargekit.Store) {
		path := filepath.Join(t.TempDir(), "rechargekit.db")
		s, err := sqlite.Open(t.Context(), path)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s, func() rechargekit.Store {
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			return MustOpen(t, path)
		}
	})
}

// TestShared opens two Stores on one file, as two processes sharing a
// database would: writes from one are visible to the other, and racing
// links from both are decided by SQLite's write lock, not by a mutex.
func TestShared(t *testing.T) {
	t.Parallel()
	storetest.RunShared(t, func(t *testing.T) (rechargekit.Store, rechargekit.Store) {
		path := filepath.Join(t.TempDir(), "shared.db")
		return MustOpen(t, path), MustOpen(t, path)
	})
}

// openClocked opens a store at where whose clock reads now.
func openClocked(t *testing.T, where string, now func() time.Time) rechargekit.ActionStore {
	s := MustOpen(t, where)
	s.Now = now
	return s
}

// placeForActions makes an empty database for one test.
var placeForActions = func(t *testing.T) string { return filepath.Join(t.TempDir(), "rechargekit.db") }

// TestActionStoreForTheService runs the actions package's own suite too,
// which checks what the service relies on (ActionByKey among it).
func TestActionStoreForTheService(t *testing.T) {
	t.Parallel()
	actionstest.RunStore(t, func(t *testing.T, now func() time.Time) rechargekit.ActionStore {
		return openClocked(t, placeForActions(t), now)
	})
}

func TestActionStore(t *testing.T) {
	t.Parallel()
	storetest.RunActionStore(t, storetest.TwoHandles(placeForActions, openClocked))
}

func TestMirrorStore(t *testing.T) {
	t.Parallel()
	storetest.RunMirrorStore(t, storetest.TwoHandles(placeForActions, func(t *testing.T, where string, now func() time.Time) rechargekit.MirrorStore {
		return openClocked(t, where, now).(rechargekit.MirrorStore) // the same *Store
	}))
}
