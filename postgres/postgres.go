// Package postgres is rechargekit's shared store: a rechargekit.Store
// on PostgreSQL, for several replicas behind a load balancer.
//
// The SQL is sqlstore's, shared with the sqlite package; this package
// connects through database/sql with pgx's driver (pgx/v5/stdlib) and says
// what PostgreSQL does differently (its sqlstore.Dialect). Its *pgconn.PgError gives
// the SQLSTATE that turns a unique or foreign-key violation into a
// rechargekit error code without parsing messages.
//
// Link races are decided by the database, never by an in-process mutex,
// since replicas share nothing else: CreateLink and DeleteLink lock the
// profile's row (SELECT ... FOR UPDATE) before they look at its link, so
// of two racing links exactly one is made and the other is refused and
// audited.
//
// Every call is bounded, so a database that stops answering costs a
// request seconds, not minutes: connecting by connect_timeout, each
// statement on the server by statement_timeout (both defaulted when the URL
// has none), and the whole call by the caller's context and by the sum of
// the two plus a margin, for callers whose context has no deadline.
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
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/sqlstore"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Defaults for a URL that does not set its own.
const (
	// DefaultConnectTimeout bounds opening one connection (connect_timeout).
	DefaultConnectTimeout = 5 * time.Second
	// DefaultStatementTimeout bounds each statement on the server
	// (statement_timeout).
	DefaultStatementTimeout = 5 * time.Second
	// callMargin is added to the two for the bound of a whole call.
	callMargin = 2 * time.Second
)

// dialect is what PostgreSQL does differently from SQLite: rows are locked
// one by one (FOR UPDATE), and migrations take an advisory lock whose
// second key is a hash of the schema ("rk" first), so stores in different
// schemas of one database migrate independently.
var dialect = sqlstore.Dialect{
	Name:         "postgres",
	ForUpdate:    " FOR UPDATE",
	JSONArrayAgg: "json_agg",
	MigrationsTable: `CREATE TABLE IF NOT EXISTS schema_migrations (
		name       text PRIMARY KEY,
		applied_at timestamptz NOT NULL
	)`,
	MigrationLock: `SELECT pg_advisory_xact_lock(29291, hashtext(coalesce(current_schema(), '')))`, // 29291 is 0x726b, "rk"
	Classify:      classify,
}

// Store is a rechargekit.Store on PostgreSQL: sqlstore's implementation.
// It is safe for concurrent use, and any number of Stores (replicas) may
// share one database.
type Store struct {
	*sqlstore.Store

	db *sql.DB
}

var _ rechargekit.Store = (*Store)(nil)

// Open connects to the PostgreSQL database at url (postgres:// or
// postgresql://, or a key=value DSN) and brings its schema up to date. The
// URL may set connect_timeout (seconds), statement_timeout (as PostgreSQL
// reads it, e.g. 5000 or 5s; 0 turns it and the store's own bound off) and
// pool_max_conns (default the greater of 4 and the number of CPUs). The URL
// may carry a password; it never appears in an error.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		// pgx's parse errors already redact the password.
		return nil, rechargekit.WrapError(rechargekit.EINVALID, "The PostgreSQL URL is not valid.", err)
	}
	// pool_max_conns is the pool's, not a PostgreSQL setting; pgxpool's
	// other pool_* parameters have no meaning here.
	maxConns := max(4, runtime.NumCPU())
	for k, v := range cfg.RuntimeParams {
		if k == "pool_max_conns" {
			delete(cfg.RuntimeParams, k)
			if maxConns, err = strconv.Atoi(v); err != nil || maxConns < 1 {
				return nil, rechargekit.Errorf(rechargekit.EINVALID, "The PostgreSQL URL's pool_max_conns must be a positive number.")
			}
		} else if strings.HasPrefix(k, "pool_") {
			return nil, rechargekit.Errorf(rechargekit.EINVALID, "The PostgreSQL URL's %s is not supported: of the pool's settings, only pool_max_conns is.", k)
		}
	}
	if cfg.RuntimeParams["application_name"] == "" {
		cfg.RuntimeParams["application_name"] = "rechargekit"
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	if _, ok := cfg.RuntimeParams["statement_timeout"]; !ok {
		cfg.RuntimeParams["statement_timeout"] = strconv.FormatInt(DefaultStatementTimeout.Milliseconds(), 10)
	}

	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(maxConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	db.SetConnMaxLifetime(time.Hour)
	s := &Store{db: db}
	if err := s.open(ctx, cfg.Host, cfg.ConnectTimeout); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// open reads the statement timeout the server applies (from the URL or
// the default), which is also how it checks the connection, and migrates
// through sqlstore. A whole call is bounded by the time to connect plus
// the statement timeout plus a margin, for callers whose context has no
// deadline; PostgreSQL answers a slow statement itself before that.
func (s *Store) open(ctx context.Context, host string, connect time.Duration) error {
	pingCtx, cancel := context.WithTimeout(ctx, connect+callMargin)
	defer cancel()
	var statementMillis int64
	if err := s.db.QueryRowContext(pingCtx, `SELECT setting::bigint FROM pg_settings WHERE name = 'statement_timeout'`).Scan(&statementMillis); err != nil {
		return fmt.Errorf("postgres: connect to %s: %w", host, err)
	}
	var call time.Duration // none when the URL turns the statement timeout off
	if statementMillis > 0 {
		call = connect + time.Duration(statementMillis)*time.Millisecond + callMargin
	}
	var err error
	s.Store, err = sqlstore.Open(ctx, sqlstore.Config{Writer: s.db, Reader: s.db, Dialect: dialect, Migrations: migrationFS, Timeout: call})
	return err
}

// Close closes the pool, waiting for connections in use to be returned.
func (s *Store) Close() error { return s.Store.Close() }

// classify reads PostgreSQL's SQLSTATE codes and pgx's connection errors.
func classify(err error) sqlstore.Condition {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "23505":
			return sqlstore.UniqueViolation
		case pe.Code == "23503":
			return sqlstore.ForeignKeyViolation
		case strings.HasPrefix(pe.Code, "22"): // data exception: the caller's text
			return sqlstore.InvalidInput
		case strings.HasPrefix(pe.Code, "08"), strings.HasPrefix(pe.Code, "53"), strings.HasPrefix(pe.Code, "57"):
			// Connection exceptions, exhausted resources, and operator
			// intervention, which includes 57014, a statement cancelled by
			// statement_timeout.
			return sqlstore.Unavailable
		}
		return sqlstore.Other
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	// A pooled connection the server (or the network) closed fails its
	// next statement with an EOF read: the database is not answering.
	if errors.As(err, &ce) || errors.As(err, &ne) || pgconn.Timeout(err) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return sqlstore.Unavailable
	}
	return sqlstore.Other
}
