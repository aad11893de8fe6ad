package sqlite

import (
	"context"
	"database/sql"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/sqlstore"
	"github.com/rechargekit/rechargekit/storetest"
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
	if _, err := s.UpsertProfile(t.Context(), &rechargekit.Profile{ID: "p", Name: "Ada"}); err != nil {
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
// processes starting together would; each migration must apply once.
func TestConcurrentOpen(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "c.db")
	storetest.RunConcurrentOpen(t, migrationFS, func(ctx context.Context) (*Store, error) { return Open(ctx, path) }, func(s *Store) storetest.DB { return s.writer })
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
		if _, err := s.UpsertProfile(t.Context(), &rechargekit.Profile{ID: "p", Name: "Ada"}); err != nil {
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

// TestAuditAppendOnly checks that the database itself refuses to change
// or remove audit entries.
func TestAuditAppendOnly(t *testing.T) {
	t.Parallel()
	s := mustOpen(t, filepath.Join(t.TempDir(), "a.db"))
	storetest.CheckAuditAppendOnly(t, s, s.writer, "UPDATE audit SET actor = 'mallory'", "DELETE FROM audit")
}

// TestActionsAppendOnly checks that the database itself refuses to change
// or remove action attempts beyond completing a pending one.
func TestActionsAppendOnly(t *testing.T) {
	t.Parallel()
	s := mustOpen(t, filepath.Join(t.TempDir(), "a.db"))
	storetest.CheckActionsAppendOnly(t, s, s.writer, storetest.ActionsAppendOnlyStatements...)
}

// TestTokenRolesUpgrade opens a database as the release before action
// roles left it: its API tokens become agents' tokens.
func TestTokenRolesUpgrade(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "old.db")
	if err := createPrivate(path); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", dsn(path, "_txlock=immediate"))
	if err != nil {
		t.Fatal(err)
	}
	storetest.MustOpenBefore(t, sqlstore.Config{Writer: db, Reader: db, Dialect: dialect}, migrationFS, "0002_actions.sql")
	storetest.CheckTokenRolesUpgrade(t, db, func() rechargekit.Store { return mustOpen(t, path) })
}
