package postgres

import (
	"context"
	"github.com/rechargekit/rechargekit/actions/actionstest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/sqlstore"
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

// TestConcurrentOpen starts several stores on one empty schema at once, as
// replicas deployed together do: the advisory lock must let each
// migration apply exactly once and every Open succeed.
func TestConcurrentOpen(t *testing.T) {
	t.Parallel()
	url := MustSchemaURL(t)
	storetest.RunConcurrentOpen(t, migrationFS, func(ctx context.Context) (*Store, error) { return Open(ctx, url) }, func(s *Store) storetest.DB { return s.db })
}

// TestAuditAppendOnly checks that the database itself refuses to change,
// remove or truncate audit entries.
func TestAuditAppendOnly(t *testing.T) {
	t.Parallel()
	s := MustOpen(t, MustSchemaURL(t))
	storetest.CheckAuditAppendOnly(t, s, s.db, "UPDATE audit SET actor = 'mallory'", "DELETE FROM audit", "TRUNCATE audit")
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

// openClocked opens a store at where whose clock reads now.
func openClocked(t *testing.T, where string, now func() time.Time) rechargekit.ActionStore {
	s := MustOpen(t, where)
	s.Now = now
	return s
}

// placeForActions makes an empty database for one test.
var placeForActions = func(t *testing.T) string { return MustSchemaURL(t) }

// TestActionStoreForTheService runs the actions package's own suite too,
// which checks what the service relies on (ActionByKey among it).
func TestActionStoreForTheService(t *testing.T) {
	t.Parallel()
	testDSN(t)
	actionstest.RunStore(t, func(t *testing.T, now func() time.Time) rechargekit.ActionStore {
		return openClocked(t, placeForActions(t), now)
	})
}

func TestActionStore(t *testing.T) {
	t.Parallel()
	testDSN(t)
	storetest.RunActionStore(t, storetest.TwoHandles(placeForActions, openClocked))
}

// TestActionsAppendOnly checks that the database itself refuses to change,
// remove or truncate action attempts beyond completing a pending one.
func TestActionsAppendOnly(t *testing.T) {
	t.Parallel()
	s := MustOpen(t, MustSchemaURL(t))
	storetest.CheckActionsAppendOnly(t, s, s.db, append(storetest.ActionsAppendOnlyStatements, "TRUNCATE actions CASCADE")...)
}

// TestTokenRolesUpgrade opens a schema as the release before action roles
// left it: its API tokens become agents' tokens.
func TestTokenRolesUpgrade(t *testing.T) {
	t.Parallel()
	url := MustSchemaURL(t)
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	db := stdlib.OpenDB(*cfg)
	storetest.MustOpenBefore(t, sqlstore.Config{Writer: db, Reader: db, Dialect: dialect}, migrationFS, "0002_actions.sql")
	storetest.CheckTokenRolesUpgrade(t, db, func() rechargekit.Store { return MustOpen(t, url) })
}

func TestMirrorStore(t *testing.T) {
	t.Parallel()
	testDSN(t)
	storetest.RunMirrorStore(t, storetest.TwoHandles(placeForActions, func(t *testing.T, where string, now func() time.Time) rechargekit.MirrorStore {
		return openClocked(t, where, now).(rechargekit.MirrorStore) // the same *Store
	}))
}
