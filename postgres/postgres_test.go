package postgres

import (
	"io/fs"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/storetest"
)

// testDSN returns the PostgreSQL server the tests use, from
// RECHARGEKIT_TEST_POSTGRES. Without it the tests skip, except in CI,
// where a skipped store would hide a broken one.
func testDSN(tb testing.TB) string {
	tb.Helper()
	dsn := os.Getenv("RECHARGEKIT_TEST_POSTGRES")
	if dsn == "" {
		if os.Getenv("CI") == "true" {
			tb.Fatal("RECHARGEKIT_TEST_POSTGRES not set in CI: the PostgreSQL store tests must run there " +
				"(e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable)")
		}
		tb.Skip("RECHARGEKIT_TEST_POSTGRES not set: skipping PostgreSQL store tests")
	}
	return dsn
}

// MustSchemaURL creates an empty schema of the test's own, dropped when
// the test ends, and returns a URL whose connections use it, so parallel
// tests and runs never see each other's tables.
func MustSchemaURL(tb testing.TB) string {
	tb.Helper()
	return storetest.MustPostgresSchema(tb, testDSN(tb))
}

// MustOpen opens a store on url and closes it when the test ends (before
// its schema is dropped: cleanups run last-in, first-out).
func MustOpen(tb testing.TB, url string) *Store {
	tb.Helper()
	s, err := Open(tb.Context(), url)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	t.Parallel()
	testDSN(t)
	storetest.Run(t, func(t *testing.T) rechargekit.Store {
		return MustOpen(t, MustSchemaURL(t))
	})
}

func TestPersistence(t *testing.T) {
	t.Parallel()
	storetest.RunPersistence(t, func(t *testing.T) (rechargekit.Store, func() rechargekit.Store) {
		url := MustSchemaURL(t)
		s, err := Open(t.Context(), url)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s, func() rechargekit.Store {
			s.Close()
			return MustOpen(t, url)
		}
	})
}

// TestShared opens two pools on one schema, as two replicas have.
func TestShared(t *testing.T) {
	t.Parallel()
	storetest.RunShared(t, func(t *testing.T) (rechargekit.Store, rechargekit.Store) {
		url := MustSchemaURL(t)
		return MustOpen(t, url), MustOpen(t, url)
	})
}

func migrationCount(tb testing.TB, s *Store) int {
	tb.Helper()
	var n int
	if err := s.db.QueryRowContext(tb.Context(), "SELECT count(*) FROM schema_migrations").Scan(&n); err != nil {
		tb.Fatalf("count migrations: %v", err)
	}
	return n
}

// TestConcurrentOpen starts several stores on one empty schema at once, as
// replicas deployed together do: the advisory lock must let each
// migration apply exactly once and every Open succeed.
func TestConcurrentOpen(t *testing.T) {
	t.Parallel()
	url := MustSchemaURL(t)
	const n = 4
	stores := make([]*Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stores[i], errs[i] = Open(t.Context(), url)
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Open %d: %v", i, errs[i])
		}
		t.Cleanup(func() { stores[i].Close() })
	}
	files, _ := fs.Glob(migrationFS, "migrations/*.sql")
	if got := migrationCount(t, stores[0]); got != len(files) || got == 0 {
		t.Errorf("schema_migrations has %d rows, want %d", got, len(files))
	}
	// Reopening applies nothing again.
	s := MustOpen(t, url)
	if got := migrationCount(t, s); got != len(files) {
		t.Errorf("schema_migrations has %d rows after reopen, want %d", got, len(files))
	}
}

// TestAuditAppendOnly checks that the database itself refuses to change
// or remove audit entries, whatever code talks to it.
func TestAuditAppendOnly(t *testing.T) {
	t.Parallel()
	s := MustOpen(t, MustSchemaURL(t))
	if err := s.UpdateSettings(t.Context(), &rechargekit.Settings{AutoLink: false}, "admin@example.com"); err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{"UPDATE audit SET actor = 'mallory'", "DELETE FROM audit", "TRUNCATE audit"} {
		if _, err := s.db.ExecContext(t.Context(), stmt); err == nil {
			t.Errorf("%s succeeded; the audit log must be append-only", stmt)
		}
	}
	entries, err := s.Audit(t.Context(), rechargekit.AuditFilter{})
	if err != nil || len(entries) != 1 || entries[0].Actor != "admin@example.com" {
		t.Errorf("Audit after refused changes = %v, %v; want the one original entry", entries, err)
	}
}

// TestBadInput checks that text PostgreSQL cannot hold, reaching a lookup
// that does not validate it first, is the caller's error, not ours.
func TestBadInput(t *testing.T) {
	t.Parallel()
	s := MustOpen(t, MustSchemaURL(t))
	for _, id := range []string{"bad\x00id", "bad\xffid"} {
		_, err := s.Profile(t.Context(), id)
		if code := rechargekit.ErrorCode(err); code != rechargekit.EINVALID {
			t.Errorf("Profile(%q) = %v (code %q), want EINVALID", id, err, code)
		}
	}
}

func TestOpenBadURL(t *testing.T) {
	t.Parallel()
	_, err := Open(t.Context(), "postgres://user:s3cret@[::1")
	if rechargekit.ErrorCode(err) != rechargekit.EINVALID {
		t.Errorf("Open(bad URL) = %v, want EINVALID", err)
	}
	if err != nil && strings.Contains(err.Error(), "s3cret") {
		t.Errorf("Open's error shows the password: %v", err)
	}
}
