package sqlite

import (
	"database/sql"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rechargekit/rechargekit"
)

func mustOpen(tb testing.TB, path string) *Store {
	tb.Helper()
	s, err := Open(tb.Context(), path)
	if err != nil {
		tb.Fatalf("Open(%s): %v", path, err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// TestPragmas checks, on both connection pools, the settings that make an
// acknowledged write durable (WAL, synchronous=FULL), keep references
// honest (foreign keys) and make a second writer wait (busy timeout).
func TestPragmas(t *testing.T) {
	t.Parallel()
	s := mustOpen(t, filepath.Join(t.TempDir(), "p.db"))
	tests := []struct {
		pragma string
		want   string
	}{
		{"journal_mode", "wal"},
		{"synchronous", "2"}, // FULL
		{"foreign_keys", "1"},
		{"busy_timeout", "10000"},
	}
	for _, db := range []struct {
		name string
		db   *sql.DB
	}{{"writer", s.writer}, {"reader", s.reader}} {
		for _, tt := range tests {
			var got string
			if err := db.db.QueryRowContext(t.Context(), "PRAGMA "+tt.pragma).Scan(&got); err != nil {
				t.Fatalf("%s: PRAGMA %s: %v", db.name, tt.pragma, err)
			}
			if got != tt.want {
				t.Errorf("%s: PRAGMA %s = %q, want %q", db.name, tt.pragma, got, tt.want)
			}
		}
	}
	var qo string
	if err := s.reader.QueryRowContext(t.Context(), "PRAGMA query_only").Scan(&qo); err != nil || qo != "1" {
		t.Errorf("reader: PRAGMA query_only = %q, %v; want 1", qo, err)
	}
}

func migrationCount(tb testing.TB, s *Store) int {
	tb.Helper()
	var n int
	if err := s.reader.QueryRowContext(tb.Context(), "SELECT count(*) FROM schema_migrations").Scan(&n); err != nil {
		tb.Fatalf("count migrations: %v", err)
	}
	return n
}

// TestMigrationsIdempotent reopens a database and checks that every
// embedded migration is recorded exactly once.
func TestMigrationsIdempotent(t *testing.T) {
	t.Parallel()
	files, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("embedded migrations: %v, %v", files, err)
	}
	path := filepath.Join(t.TempDir(), "m.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.UpsertProfile(t.Context(), &rechargekit.Profile{ID: "p", Name: "Ada"}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = mustOpen(t, path)
	if n := migrationCount(t, s); n != len(files) {
		t.Errorf("schema_migrations has %d rows after reopen, want %d", n, len(files))
	}
	if _, err := s.Profile(t.Context(), "p"); err != nil {
		t.Errorf("Profile after reopen: %v", err)
	}
}

// TestConcurrentOpen starts several Stores on one new file at once, as
// replicas starting together would; each migration must apply once.
func TestConcurrentOpen(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "c.db")
	const n = 4
	stores := make([]*Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stores[i], errs[i] = Open(t.Context(), path)
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
	if got := migrationCount(t, stores[0]); got != len(files) {
		t.Errorf("schema_migrations has %d rows, want %d", got, len(files))
	}
}

// TestAuditAppendOnly checks that the database itself refuses to change
// or remove audit entries, whatever code talks to it.
func TestAuditAppendOnly(t *testing.T) {
	t.Parallel()
	s := mustOpen(t, filepath.Join(t.TempDir(), "a.db"))
	if err := s.UpdateSettings(t.Context(), &rechargekit.Settings{AutoLink: false}, "admin@example.com"); err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{"UPDATE audit SET actor = 'mallory'", "DELETE FROM audit"} {
		if _, err := s.writer.ExecContext(t.Context(), stmt); err == nil {
			t.Errorf("%s succeeded; the audit log must be append-only", stmt)
		}
	}
	entries, err := s.Audit(t.Context(), rechargekit.AuditFilter{})
	if err != nil || len(entries) != 1 || entries[0].Actor != "admin@example.com" {
		t.Errorf("Audit after refused changes = %v, %v; want the one original entry", entries, err)
	}
}

func TestOpenPaths(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	t.Run("refused", func(t *testing.T) {
		for _, p := range []string{"", ":memory:", "file:x.db?mode=memory"} {
			if s, err := Open(t.Context(), p); rechargekit.ErrorCode(err) != rechargekit.EINVALID {
				if s != nil {
					s.Close()
				}
				t.Errorf("Open(%q) = %v, want EINVALID", p, err)
			}
		}
	})
	t.Run("odd characters and new directories", func(t *testing.T) {
		path := filepath.Join(dir, "a dir?x=1#frag", "100% new", "db?.sqlite")
		s := mustOpen(t, path)
		if err := s.UpsertProfile(t.Context(), &rechargekit.Profile{ID: "p", Name: "Ada"}); err != nil {
			t.Fatal(err)
		}
		if s.Path() != path {
			t.Errorf("Path() = %q, want %q", s.Path(), path)
		}
		if _, err := os.Stat(path); err != nil {
			t.Errorf("database not at %q: %v", path, err)
		}
	})
	t.Run("private file", func(t *testing.T) {
		path := filepath.Join(dir, "private.db")
		mustOpen(t, path)
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			t.Errorf("new database has mode %v; it holds password hashes and must be private", perm)
		}
	})
}

func TestTimeText(t *testing.T) {
	t.Parallel()
	// The layout must sort as text in time order, also across zones and
	// with whole seconds (no trimmed zeros).
	a := formatTime(mustTime(t, "2026-01-02T03:04:05Z"))
	b := formatTime(mustTime(t, "2026-01-02T03:04:05.000001Z"))
	c := formatTime(mustTime(t, "2026-01-02T00:04:06-03:00"))
	if !(a < b && b < c) {
		t.Errorf("time text does not sort in time order: %q, %q, %q", a, b, c)
	}
	var got = mustTime(t, "2000-01-01T00:00:00Z")
	if err := (scanTime{&got}).Scan(b); err != nil || formatTime(got) != b {
		t.Errorf("scanTime(%q) = %v, %v", b, got, err)
	}
	if err := (scanTime{&got}).Scan(int64(5)); err == nil {
		t.Error("scanTime accepted an integer")
	}
}

func mustTime(tb testing.TB, s string) time.Time {
	tb.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		tb.Fatal(fmt.Errorf("parse %q: %w", s, err))
	}
	return v
}

// FuzzTimeText checks that stored time text reads back as the same instant
// at microsecond precision, and that comparing the text of two times
// compares the times (session expiry and the audit order rely on it).
func FuzzTimeText(f *testing.F) {
	// Times are microseconds since 1970 plus a few nanoseconds, which the
	// store drops.
	f.Add(int64(0), uint16(0), int64(1), uint16(999))
	f.Add(int64(1767225600123456), uint16(789), int64(1767225600123456), uint16(0))
	f.Add(int64(-62135596800000000), uint16(1), int64(253402300799999999), uint16(999)) // years 1 and 9999
	f.Fuzz(func(t *testing.T, a int64, an uint16, b int64, bn uint16) {
		ta := time.UnixMicro(a).Add(time.Duration(an % 1000))
		tb := time.UnixMicro(b).Add(time.Duration(bn % 1000))
		if ta.Year() < 1 || ta.Year() > 9999 || tb.Year() < 1 || tb.Year() > 9999 {
			t.Skip("outside the four-digit years the layout covers")
		}
		sa, sb := formatTime(ta), formatTime(tb)
		var got time.Time
		if err := (scanTime{&got}).Scan(sa); err != nil {
			t.Fatalf("scan %q: %v", sa, err)
		}
		if want := truncate(ta); !got.Equal(want) || got.Location() != time.UTC {
			t.Fatalf("round trip of %v gave %v, want %v", ta, got, want)
		}
		if ua, ub := truncate(ta), truncate(tb); (sa < sb) != ua.Before(ub) || (sa == sb) != ua.Equal(ub) {
			t.Fatalf("text order of %q and %q disagrees with time order of %v and %v", sa, sb, ua, ub)
		}
	})
}
