// Package postgres is rechargekit's shared store: a rechargekit.Store
// on PostgreSQL, for several replicas behind a load balancer.
//
// It talks to PostgreSQL through pgx's own pool (pgxpool) rather than
// database/sql: PostgreSQL is all it talks to, pgx's native interface maps
// text[] and timestamptz directly, and its *pgconn.PgError gives the
// SQLSTATE and constraint name that turn a unique or foreign-key violation
// into a rechargekit error code without parsing messages.
//
// Link races are decided by the database, never by an in-process mutex,
// since replicas share nothing else: CreateLink and DeleteLink lock the
// profile's row (SELECT ... FOR UPDATE) before they look at its link, so
// of two racing links exactly one is made and the other is refused and
// audited.
//
// The schema lives in migrations/*.sql, embedded in the binary, applied in
// order, each in a transaction that first takes a transaction-scoped
// advisory lock (pg_advisory_xact_lock), and recorded in
// schema_migrations; replicas that start at once apply each file once.
// Everything lives in the connection's current schema, so a search_path
// in the URL (postgres://...?search_path=rechargekit) gives the store a
// schema of its own.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rechargekit/rechargekit"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// migrationLockClass is the first key of the advisory lock migrations take
// ("rk"); the second is a hash of the schema, so stores in different
// schemas of one database migrate independently.
const migrationLockClass = 0x726b

// Store is a rechargekit.Store on PostgreSQL. It is safe for concurrent
// use, and any number of Stores (replicas) may share one database.
type Store struct {
	// Now is the store's clock: it stamps links, audit entries, users,
	// sessions and tokens whose time the caller left zero. Tests replace
	// it; it must be set before the store is used concurrently.
	Now func() time.Time

	pool *pgxpool.Pool
}

var _ rechargekit.Store = (*Store)(nil)

// Open connects to the PostgreSQL database at url (postgres:// or
// postgresql://, or a key=value DSN; pgx's pool parameters such as
// pool_max_conns are honoured; the pool defaults to the greater of 4 and
// the number of CPUs) and brings its schema up to date. The URL
// may carry a password; it never appears in an error.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx's parse errors already redact the password.
		return nil, rechargekit.WrapError(rechargekit.EINVALID, "the PostgreSQL URL is not valid", err)
	}
	if cfg.ConnConfig.RuntimeParams["application_name"] == "" {
		cfg.ConnConfig.RuntimeParams["application_name"] = "rechargekit"
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect to %s: %w", cfg.ConnConfig.Host, err)
	}
	s := &Store{Now: time.Now, pool: pool}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: connect to %s: %w", cfg.ConnConfig.Host, err)
	}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the pool, waiting for connections in use to be returned.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// migrate applies the embedded migrations that schema_migrations does not
// list yet, in file name order, each in its own transaction under an
// advisory lock, so that concurrent starters apply each file once.
func (s *Store) migrate(ctx context.Context) error {
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return fmt.Errorf("postgres: list migrations: %w", err)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := s.migrateFile(ctx, name); err != nil {
			return fmt.Errorf("postgres: migrate %s: %w", path.Base(name), err)
		}
	}
	return nil
}

func (s *Store) migrateFile(ctx context.Context, name string) error {
	base := path.Base(name)
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// The lock comes first: even CREATE TABLE IF NOT EXISTS fails when
		// two sessions run it at once.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext(coalesce(current_schema(), '')))`,
			int32(migrationLockClass)); err != nil {
			return fmt.Errorf("take the migration lock: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			name       text PRIMARY KEY,
			applied_at timestamptz NOT NULL
		)`); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM schema_migrations WHERE name = $1`, base).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		script, err := migrationFS.ReadFile(name)
		if err != nil {
			return err
		}
		// Without arguments pgx uses the simple protocol, which runs a
		// script of several statements.
		if _, err := tx.Exec(ctx, string(script)); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO schema_migrations (name, applied_at) VALUES ($1, $2)`, base, s.now())
		return err
	})
}

// write runs fn in a transaction and commits when fn returns nil.
func (s *Store) write(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool, fn)
}

// now returns the store's clock in UTC at the precision the store keeps.
func (s *Store) now() time.Time { return truncate(s.Now()) }

// truncate returns t in UTC at microsecond precision. PostgreSQL keeps
// microseconds but rounds finer input; truncating first makes both stores
// return the same instant for the same input.
func truncate(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// SQLSTATE codes the store maps to domain errors.
const (
	uniqueViolation     = "23505"
	foreignKeyViolation = "23503"
)

func pgError(err error) *pgconn.PgError {
	var e *pgconn.PgError
	if errors.As(err, &e) {
		return e
	}
	return nil
}

func isCode(err error, code string) bool {
	e := pgError(err)
	return e != nil && e.Code == code
}
