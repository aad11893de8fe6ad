package storetest

import (
	"context"
	"database/sql"
	"github.com/rechargekit/rechargekit/sqlstore"
	"io/fs"
	"path"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rechargekit/rechargekit"
)

// DB is direct access to a store's database, for the checks that the
// Store interface cannot make (a *sql.DB is one).
type DB interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// RunConcurrentOpen opens stores on one new database from several
// goroutines at once, as replicas deployed together do, and then once more:
// every Open must succeed and each of the store's migrations must be
// recorded in schema_migrations exactly once (migrationFS holds them as
// migrations/*.sql). open opens a store on the
// test's database; db returns its database. The stores are closed when the
// test ends.
func RunConcurrentOpen[S rechargekit.Store](t *testing.T, migrationFS fs.FS, open func(context.Context) (S, error), db func(S) DB) {
	files, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("embedded migrations: %v, %v", files, err)
	}
	const n = 4
	stores := make([]S, n+1)
	errs := make([]error, n+1)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stores[i], errs[i] = open(t.Context())
		}()
	}
	wg.Wait()
	stores[n], errs[n] = open(t.Context()) // a later start applies nothing again
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Open %d of %d: %v", i+1, n+1, err)
		}
		t.Cleanup(func() { stores[i].Close() })
	}
	for i, s := range stores {
		var got int
		mustOK(t, "count migrations", db(s).QueryRowContext(t.Context(), "SELECT count(*) FROM schema_migrations").Scan(&got))
		if got != len(files) {
			t.Errorf("store %d: schema_migrations has %d rows, want %d", i+1, got, len(files))
		}
	}
	MustUpsertProfile(t, stores[n], profile("p", "Ada"))
}

// CheckAuditAppendOnly checks that the database itself refuses each of
// stmts, statements that would change or remove audit entries, whatever
// code talks to it.
func CheckAuditAppendOnly(t *testing.T, s rechargekit.Store, db DB, stmts ...string) {
	mustOK(t, "UpdateSettings", s.UpdateSettings(t.Context(), &rechargekit.Settings{AutoLink: false}, "admin@example.com"))
	for _, stmt := range stmts {
		if _, err := db.ExecContext(t.Context(), stmt); err == nil {
			t.Errorf("%s succeeded; the audit log must be append-only", stmt)
		}
	}
	entries := MustAudit(t, s, rechargekit.AuditFilter{})
	if len(entries) != 1 || entries[0].Actor != "admin@example.com" {
		t.Errorf("Audit after refused changes = %v; want the one original entry", story(t, entries))
	}
}

// CheckActionsAppendOnly checks that the database itself refuses each of
// stmts, statements that would change a completed action attempt, rewrite
// a pending one beyond completing it, or remove attempts, whatever code
// talks to it. It records one completed and one pending attempt first.
func CheckActionsAppendOnly(t *testing.T, s rechargekit.ActionStore, db DB, stmts ...string) {
	done := attempt("", "")
	MustBeginAction(t, s, done)
	mustOK(t, "CompleteAction", s.CompleteAction(t.Context(), done.ID, rechargekit.OutcomeDone, "", nil))
	pending := attempt("", "")
	MustBeginAction(t, s, pending)
	want := MustActionRecords(t, s, rechargekit.ActionFilter{})
	for _, stmt := range stmts {
		if _, err := db.ExecContext(t.Context(), stmt); err == nil {
			t.Errorf("%s succeeded; action attempts must be append-only", stmt)
		}
	}
	if diff := cmp.Diff(want, MustActionRecords(t, s, rechargekit.ActionFilter{})); diff != "" {
		t.Errorf("action attempts changed after refused statements (-want +got):\n%s", diff)
	}
}

// ActionsAppendOnlyStatements are statements that the actions table's
// triggers must refuse on both databases, for CheckActionsAppendOnly.
var ActionsAppendOnlyStatements = []string{
	"UPDATE actions SET actor_name = 'mallory'",
	"UPDATE actions SET outcome = 'failed' WHERE outcome = 'done'",
	"UPDATE actions SET outcome = 'pending', completed_at = NULL WHERE outcome = 'done'",
	"UPDATE actions SET outcome = 'done', completed_at = at, state_before = NULL WHERE outcome = 'pending'",
	"DELETE FROM actions",
}

// MigrationsBefore returns the migrations of fsys (migrations/*.sql) whose
// names sort before name, for building a database as an older release left
// it (sqlstore.Config.Migrations).
func MigrationsBefore(tb testing.TB, fsys fs.FS, name string) fs.FS {
	tb.Helper()
	files, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		tb.Fatalf("embedded migrations: %v", err)
	}
	out := fstest.MapFS{}
	for _, f := range files {
		if path.Base(f) >= name {
			continue
		}
		b, err := fs.ReadFile(fsys, f)
		if err != nil {
			tb.Fatalf("read %s: %v", f, err)
		}
		out[f] = &fstest.MapFile{Data: b}
	}
	return out
}

// MustOpenBefore opens cfg's database migrated up to, not including, the
// migration named first (fsys holds migrations/*.sql), as an older release
// left it, and closes that store when the test ends.
func MustOpenBefore(tb testing.TB, cfg sqlstore.Config, fsys fs.FS, first string) {
	tb.Helper()
	cfg.Migrations = MigrationsBefore(tb, fsys, first)
	old, err := sqlstore.Open(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("open the database as it was before %s: %v", first, err)
	}
	tb.Cleanup(func() { old.Close() })
}

// CheckTokenRolesUpgrade checks the upgrade that gave API tokens a role:
// old is a database migrated up to (not including) 0002_actions.sql, in
// which a token is stored as the older release stored it; open then opens
// the current store on it, and the token must be an agent's.
func CheckTokenRolesUpgrade(t *testing.T, old DB, open func() rechargekit.Store) {
	_, err := old.ExecContext(t.Context(), `INSERT INTO api_tokens (name, hash, created_at) VALUES ('legacy', 'sha256:legacy', $1)`,
		time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).Format("2006-01-02T15:04:05.000000Z"))
	mustOK(t, "store a token without a role", err)
	s := open()
	tok, err := s.APITokenByHash(t.Context(), "sha256:legacy")
	mustOK(t, "APITokenByHash after the upgrade", err)
	if tok.Name != "legacy" || tok.Role != rechargekit.RoleAgent {
		t.Errorf("token stored before roles = %+v, want legacy, an agent's", tok)
	}
}
