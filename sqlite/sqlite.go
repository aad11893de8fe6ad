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
// opening a database is also how it is upgraded.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/rechargekit/rechargekit"
	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// busyTimeout is how long a write waits for another process's write
// transaction to finish before it gives up with SQLITE_BUSY.
const busyTimeout = 10 * time.Second

// Store is a rechargekit.Store on one SQLite database file. It is safe
// for concurrent use, and several Stores (or processes) may share one file.
type Store struct {
	// Now is the store's clock: it stamps links, audit entries, users,
	// sessions and tokens whose time the caller left zero. Tests replace
	// it; it must be set before the store is used concurrently.
	Now func() time.Time

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
		return nil, rechargekit.Errorf(rechargekit.EINVALID, "the SQLite store needs a file path, not %q", path)
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

	s := &Store{Now: time.Now, path: abs}
	s.writer, err = sql.Open("sqlite", dsn(abs, "_txlock=immediate"))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", abs, err)
	}
	// One writer connection: in-process writers queue in database/sql
	// instead of spinning on SQLite's busy handler. Keeping it open
	// forever also keeps the WAL index mapped.
	s.writer.SetMaxOpenConns(1)
	s.writer.SetMaxIdleConns(1)
	s.writer.SetConnMaxLifetime(0)
	s.writer.SetConnMaxIdleTime(0)

	var mode string
	if err := s.writer.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", abs, err)
	}
	if !strings.EqualFold(mode, "wal") {
		s.Close()
		return nil, fmt.Errorf("sqlite: open %s: journal mode is %q, want wal (is the file on a network file system?)", abs, mode)
	}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}

	s.reader, err = sql.Open("sqlite", dsn(abs, "_pragma=query_only(1)"))
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlite: open %s for reading: %w", abs, err)
	}
	s.reader.SetMaxOpenConns(max(4, runtime.NumCPU()))
	s.reader.SetMaxIdleConns(max(4, runtime.NumCPU()))
	if err := s.reader.PingContext(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlite: open %s for reading: %w", abs, err)
	}
	return s, nil
}

// createPrivate creates an empty database file with mode 0600 when none
// exists; SQLite gives its -wal and -shm files the same permissions.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
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
		extra,
	}
	return "file:" + u.EscapedPath() + "?" + strings.Join(params, "&")
}

// Path returns the absolute path of the database file.
func (s *Store) Path() string { return s.path }

// Close closes the database. SQLite checkpoints the WAL into the main file
// when the last connection closes.
func (s *Store) Close() error {
	var errs []error
	if s.reader != nil {
		errs = append(errs, s.reader.Close())
	}
	if s.writer != nil {
		errs = append(errs, s.writer.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sqlite: close %s: %w", s.path, err)
	}
	return nil
}

// migrate applies the embedded migrations that schema_migrations does not
// list yet, in file name order, each in its own IMMEDIATE transaction so
// that two processes opening a new database at once apply each file once.
func (s *Store) migrate(ctx context.Context) error {
	const create = `CREATE TABLE IF NOT EXISTS schema_migrations (
		name       TEXT PRIMARY KEY,
		applied_at TEXT NOT NULL
	) STRICT`
	if _, err := s.writer.ExecContext(ctx, create); err != nil {
		return fmt.Errorf("sqlite: create schema_migrations: %w", err)
	}
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return fmt.Errorf("sqlite: list migrations: %w", err)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := s.migrateFile(ctx, name); err != nil {
			return fmt.Errorf("sqlite: migrate %s: %w", path.Base(name), err)
		}
	}
	return nil
}

func (s *Store) migrateFile(ctx context.Context, name string) error {
	base := path.Base(name)
	return s.write(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE name = ?`, base).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		script, err := migrationFS.ReadFile(name)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, string(script)); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)`, base, formatTime(s.now()))
		return err
	})
}

// write runs fn in an IMMEDIATE transaction on the writer connection and
// commits when fn returns nil.
func (s *Store) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// now returns the store's clock in UTC at the precision the store keeps.
func (s *Store) now() time.Time { return truncate(s.Now()) }

// truncate returns t in UTC at microsecond precision, PostgreSQL's, so both
// stores return the same instant for the same input.
func truncate(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// timeLayout is fixed-width, so comparing the text compares the times.
const timeLayout = "2006-01-02T15:04:05.000000Z"

func formatTime(t time.Time) string { return truncate(t).Format(timeLayout) }

// scanTime reads a time written by formatTime into *t.
type scanTime struct{ t *time.Time }

// Scan implements sql.Scanner.
func (st scanTime) Scan(v any) error {
	var text string
	switch v := v.(type) {
	case string:
		text = v
	case []byte:
		text = string(v)
	default:
		return fmt.Errorf("time column holds %T, want text", v)
	}
	t, err := time.Parse(timeLayout, text)
	if err != nil {
		return fmt.Errorf("parse time column: %w", err)
	}
	*st.t = t.UTC()
	return nil
}

// sqliteCode returns the extended SQLite result code of err, or 0.
func sqliteCode(err error) int {
	var e *msqlite.Error
	if errors.As(err, &e) {
		return e.Code()
	}
	return 0
}

func isUniqueViolation(err error) bool {
	c := sqliteCode(err)
	return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

func isForeignKeyViolation(err error) bool {
	return sqliteCode(err) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
}
