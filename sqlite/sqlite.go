// Package sqlite is rechargekit's embedded store: a rechargekit.Store on
// SQLite through modernc.org/sqlite (pure Go, no cgo), so the default
// install is one binary and one database file.
//
// The database runs in WAL mode with synchronous=FULL, so an acknowledged
// link or unlink survives a crash or power loss, and readers never wait for
// the writer. All writes go through one connection that starts its
// transactions with BEGIN IMMEDIATE: in one process they queue for that
// connection, and a second process (or a second Store on the same file)
// waits on SQLite's busy timeout instead of failing half-way through a
// transaction.
//
// The schema lives in migrations/*.sql, embedded in the binary, applied in
// order, each in its own transaction, and recorded in schema_migrations, so
// opening a database is also how it is upgraded. The SQL itself is
// sqlstore's, shared with the postgres package; this package opens the file
// and says what SQLite does differently (its sqlstore.Dialect).
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/sqlstore"
	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// busyTimeout is how long a write waits for another process's write
// transaction to finish before it gives up with SQLITE_BUSY.
const busyTimeout = 10 * time.Second

// dialect is what SQLite does differently from PostgreSQL. Write
// transactions start with BEGIN IMMEDIATE (the writer's _txlock), which
// takes the database's one write lock at once, so no row needs a lock of
// its own.
var dialect = sqlstore.Dialect{
	Name:            "sqlite",
	ForUpdate:       "",
	JSONArrayAgg:    "json_group_array",
	MigrationsTable: `CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL) STRICT`,
	Classify:        classify,
}

// Store is a rechargekit.Store on one SQLite database file: sqlstore's
// implementation, with the file's path. It is safe for concurrent use, and
// several Stores (or processes) may share one file.
type Store struct {
	*sqlstore.Store

	path   string
	writer *sql.DB // one connection, BEGIN IMMEDIATE
	reader *sql.DB // several read-only connections
}

var _ rechargekit.Store = (*Store)(nil)

// Open opens (creating it and its directory when missing) the SQLite
// database at path and brings its schema up to date. path is a file path;
// ":memory:" and "file:" URIs are refused because the store opens the file
// more than once (a writer and readers). A new database file is created
// readable by its owner only, since it holds password and session hashes.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, rechargekit.Errorf(rechargekit.EINVALID, "The SQLite store needs a file path, not %q.", path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: resolve %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, fmt.Errorf("sqlite: create directory for %s: %w", abs, err)
	}
	if err := createPrivate(abs); err != nil {
		return nil, err
	}
	s := &Store{path: abs}
	if s.writer, err = sql.Open("sqlite", dsn(abs, "_txlock=immediate")); err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", abs, err)
	}
	// One writer connection: in-process writers queue in database/sql
	// instead of spinning on SQLite's busy handler. Keeping it open
	// forever also keeps the WAL index mapped.
	s.writer.SetMaxOpenConns(1)
	s.writer.SetMaxIdleConns(1)
	s.writer.SetConnMaxLifetime(0)
	s.writer.SetConnMaxIdleTime(0)
	if s.reader, err = sql.Open("sqlite", dsn(abs, "_pragma=query_only(1)")); err != nil {
		s.writer.Close()
		return nil, fmt.Errorf("sqlite: open %s for reading: %w", abs, err)
	}
	s.reader.SetMaxOpenConns(max(4, runtime.NumCPU()))
	s.reader.SetMaxIdleConns(max(4, runtime.NumCPU()))
	if err := s.open(ctx); err != nil {
		_, _ = s.writer.Close(), s.reader.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", abs, err)
	}
	return s, nil
}

// open checks the journal mode, then migrates through sqlstore.
func (s *Store) open(ctx context.Context) error {
	var mode string
	if err := s.writer.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return err
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("journal mode is %q, want wal (is the file on a network file system?)", mode)
	}
	var err error
	s.Store, err = sqlstore.Open(ctx, sqlstore.Config{Writer: s.writer, Reader: s.reader, Dialect: dialect, Migrations: migrationFS})
	if err != nil {
		return err
	}
	return s.reader.PingContext(ctx)
}

// createPrivate creates an empty database file with mode 0600 when none
// exists; SQLite gives its -wal and -shm files the same permissions.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("sqlite: create %s: %w", path, err)
	}
	return f.Close()
}

// dsn is the modernc.org/sqlite data source name for the file at path. The
// path goes in a file: URI, escaped, so that a '?' or '#' in a directory
// name cannot be taken for parameters.
func dsn(abs, extra string) string {
	u := url.URL{Path: filepath.ToSlash(abs)}
	params := []string{
		// busy_timeout first, so that the pragmas below wait for a
		// concurrent opener instead of failing.
		fmt.Sprintf("_pragma=busy_timeout(%d)", busyTimeout.Milliseconds()),
		"_pragma=foreign_keys(1)",
		"_pragma=journal_mode(WAL)",
		"_pragma=synchronous(FULL)",
		// Statement journals (a multi-row insert's, such as a mirrored
		// record's keys) and sorts stay in memory, not in temp files: a
		// backfill page wrote most of its time into them.
		"_pragma=temp_store(MEMORY)",
		extra,
	}
	return "file:" + u.EscapedPath() + "?" + strings.Join(params, "&")
}

// Path returns the absolute path of the database file.
func (s *Store) Path() string { return s.path }

// Close closes the database. SQLite checkpoints the WAL into the main file
// when the last connection closes.
func (s *Store) Close() error {
	if err := s.Store.Close(); err != nil {
		return fmt.Errorf("sqlite: close %s: %w", s.path, err)
	}
	return nil
}

// classify reads SQLite's extended result codes.
func classify(err error) sqlstore.Condition {
	var e *msqlite.Error
	if !errors.As(err, &e) {
		return sqlstore.Other
	}
	switch c := e.Code(); {
	case c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return sqlstore.UniqueViolation
	case c == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return sqlstore.ForeignKeyViolation
	case c == sqlite3.SQLITE_CONSTRAINT_DATATYPE || c&0xff == sqlite3.SQLITE_TOOBIG || c&0xff == sqlite3.SQLITE_MISMATCH:
		return sqlstore.InvalidInput
	case c&0xff == sqlite3.SQLITE_BUSY || c&0xff == sqlite3.SQLITE_INTERRUPT:
		// Another process held the write lock past the busy timeout, or
		// the call's deadline interrupted it.
		return sqlstore.Unavailable
	}
	return sqlstore.Other
}
