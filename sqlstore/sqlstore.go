// Package sqlstore is rechargekit's one SQL implementation of
// rechargekit.Store, written once over database/sql for both databases. The
// sqlite and postgres packages open their database, hand it over with their
// Dialect and their embedded migrations, and return this Store: the SQL,
// the transactions and the mapping of driver errors to domain errors live
// here, so the two databases cannot drift apart.
//
// Both drivers accept $1 placeholders, ON CONFLICT upserts and RETURNING,
// so one statement serves both. What really differs is in Dialect: row
// locks (PostgreSQL locks rows; SQLite's BEGIN IMMEDIATE already excludes
// every other writer), the JSON aggregate, the migration lock and the
// reading of driver error codes. Times are bound through dbTime: SQLite
// keeps them as fixed-width UTC text that compares as the times do, and
// PostgreSQL's driver binds the time itself into timestamptz columns.
//
// Every write runs in a closure that commits when it returns nil and rolls
// back otherwise, and gets the transaction's one clock reading.
package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"time"

	"github.com/rechargekit/rechargekit"
)

// Condition is what a driver error means to the store.
type Condition int

// Conditions that Dialect.Classify reports.
const (
	Other               Condition = iota
	NoRows                        // the statement found no row (sql.ErrNoRows)
	UniqueViolation               // a unique or primary key constraint refused the write
	ForeignKeyViolation           // a foreign key refused the write
	InvalidInput                  // the database cannot hold or compare the caller's input
	Unavailable                   // the database did not answer in time, or cannot be reached
)

// Dialect is what differs between the databases the store runs on.
type Dialect struct {
	// Name prefixes the store's unexpected errors ("sqlite", "postgres").
	Name string
	// ForUpdate ends a SELECT that locks the rows it reads until the
	// transaction ends: " FOR UPDATE" where the database locks rows, ""
	// where a write transaction already excludes every other writer.
	ForUpdate string
	// JSONArrayAgg is the aggregate that makes a JSON array of text values.
	JSONArrayAgg string
	// MigrationsTable creates schema_migrations when it is missing.
	MigrationsTable string
	// MigrationLock, when set, runs first in each migration's transaction,
	// so that stores starting at once apply each migration once.
	MigrationLock string
	// Classify reads a driver error; NoRows and deadlines are recognised
	// by the store itself.
	Classify func(error) Condition
}

// Config is what Open needs.
type Config struct {
	Writer  *sql.DB // runs every write transaction
	Reader  *sql.DB // runs reads; may be Writer
	Dialect Dialect
	// Migrations holds the schema as migrations/*.sql files, applied in
	// name order and recorded in schema_migrations by file name.
	Migrations fs.FS
	// Timeout, when positive, bounds every call (on top of the caller's
	// context), so that a database that stops answering costs a caller a
	// bounded time even when its context has no deadline.
	Timeout time.Duration
}

// Store is a rechargekit.Store on a SQL database. It is safe for concurrent use.
type Store struct {
	// Now is the store's clock: it stamps what the caller left unstamped.
	// Tests replace it before the store is used concurrently.
	Now func() time.Time

	w, r    *sql.DB
	d       Dialect
	timeout time.Duration
}

var _ rechargekit.Store = (*Store)(nil)

// Open brings the database's schema up to date and returns the store. The
// store owns the databases: Close closes them.
func Open(ctx context.Context, c Config) (*Store, error) {
	// Migrations take the caller's time, not the per-call bound.
	s := &Store{Now: time.Now, w: c.Writer, r: c.Reader, d: c.Dialect}
	names, err := fs.Glob(c.Migrations, "migrations/*.sql")
	if err != nil {
		return nil, fmt.Errorf("%s: list migrations: %w", s.d.Name, err)
	}
	sort.Strings(names)
	for _, name := range names {
		err := s.write(ctx, func(ctx context.Context, tx *sql.Tx, now time.Time) error {
			return migrate(ctx, tx, s.d, c.Migrations, name, now)
		})
		if err != nil {
			return nil, fmt.Errorf("%s: migrate %s: %w", s.d.Name, path.Base(name), err)
		}
	}
	s.timeout = c.Timeout
	return s, nil
}

// migrate applies one migration file unless schema_migrations lists it.
func migrate(ctx context.Context, tx *sql.Tx, d Dialect, fsys fs.FS, name string, now time.Time) error {
	// The lock comes first: even CREATE TABLE IF NOT EXISTS can fail when
	// two sessions run it at once.
	if d.MigrationLock != "" {
		if _, err := tx.ExecContext(ctx, d.MigrationLock); err != nil {
			return fmt.Errorf("take the migration lock: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, d.MigrationsTable); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	var applied bool
	if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE name = $1)`, path.Base(name)).Scan(&applied); err != nil || applied {
		return err
	}
	script, err := fs.ReadFile(fsys, name)
	if err != nil {
		return err
	}
	// Without arguments both drivers run a script of several statements.
	if _, err := tx.ExecContext(ctx, string(script)); err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO schema_migrations (name, applied_at) VALUES ($1, $2)`, path.Base(name), dbTime(now))
	return err
}

// Close closes the databases.
func (s *Store) Close() error {
	err := s.w.Close()
	if s.r != s.w {
		err = errors.Join(s.r.Close(), err)
	}
	return err
}

// dbtx is what a database and a transaction have in common: the read
// helpers take either.
type dbtx interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// bound applies the store's timeout to ctx.
func (s *Store) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if s.timeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, s.timeout)
}

// write runs fn in a transaction on the writer, within the store's
// timeout and with the store's clock read once for the whole transaction,
// and commits when fn returns nil; any error rolls it back, so no path can
// forget to.
func (s *Store) write(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx, now time.Time) error) error {
	return s.writeScaled(ctx, 1, fn)
}

// writeScaled is write for a batch whose work grows with its size: the
// store's timeout is multiplied by scale (at least 1), so that a page of
// mirrored records on a loaded database is bounded, not cut short.
func (s *Store) writeScaled(ctx context.Context, scale int, fn func(ctx context.Context, tx *sql.Tx, now time.Time) error) error {
	var cancel context.CancelFunc
	if s.timeout <= 0 {
		ctx, cancel = context.WithCancel(ctx)
	} else {
		ctx, cancel = context.WithTimeout(ctx, s.timeout*time.Duration(max(scale, 1)))
	}
	defer cancel()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(ctx, tx, truncate(s.Now())); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// change runs fn as write does and appends the audit entry fn returns
// (none when nil), stamped with the transaction's time unless fn set one
// and with by as the actor, so a change and its story commit together.
func (s *Store) change(ctx context.Context, op, by string, fn func(ctx context.Context, tx *sql.Tx, now time.Time) (*rechargekit.AuditEntry, error)) error {
	if err := rechargekit.ValidateActor(by); err != nil {
		return err
	}
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx, now time.Time) error {
		e, err := fn(ctx, tx, now)
		if err != nil || e == nil {
			return err
		}
		e.At, e.Actor = stamp(e.At, now), by
		return appendAudit(ctx, tx, e)
	})
	return s.wrap(op, err)
}

// appendAudit inserts e inside tx and sets e.ID.
func appendAudit(ctx context.Context, tx *sql.Tx, e *rechargekit.AuditEntry) error {
	err := tx.QueryRowContext(ctx, `
		INSERT INTO audit (at, actor, action, profile_id, customer_id, detail) VALUES ($1, $2, $3, $4, $5, $6)
		RETURNING id`,
		dbTime(e.At), e.Actor, e.Action, e.ProfileID, e.CustomerID, e.Detail).Scan(&e.ID)
	if err != nil {
		return fmt.Errorf("append %s audit entry: %w", e.Action, err)
	}
	return nil
}

// row is what *sql.Row and *sql.Rows have in common.
type row interface{ Scan(dest ...any) error }

// get reads one row from the reader with scan, within the store's
// timeout; no row is notFound, and op names the read in other errors.
func get[T any](ctx context.Context, s *Store, op string, notFound error, scan func(row) (T, error), query string, args ...any) (T, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	v, err := scan(s.r.QueryRowContext(ctx, query, args...))
	if err != nil {
		var zero T
		return zero, s.wrap(op, s.check(err, on{NoRows, notFound}))
	}
	return v, nil
}

// list reads every row of a query from the reader with scan, within the
// store's timeout; it never returns a nil slice.
func list[T any](ctx context.Context, s *Store, op string, scan func(row) (T, error), query string, args ...any) ([]T, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, s.wrap(op, err)
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, s.wrap(op, err)
		}
		out = append(out, v)
	}
	return out, s.wrap(op, rows.Err())
}

// condition says what err, from a driver or database/sql, means.
func (s *Store) condition(err error) Condition {
	switch {
	case err == nil:
		return Other
	case errors.Is(err, sql.ErrNoRows):
		return NoRows
	case errors.Is(err, context.DeadlineExceeded):
		return Unavailable
	}
	return s.d.Classify(err)
}

// on pairs a condition with the domain error it means for one statement.
type on struct {
	c   Condition
	err error
}

// check returns the domain error that err's condition means for this
// statement, or err itself when it means nothing in particular.
func (s *Store) check(err error, cases ...on) error {
	if err == nil {
		return nil
	}
	c := s.condition(err)
	for _, o := range cases {
		if o.c == c {
			return o.err
		}
	}
	return err
}

// wrap turns what a method failed with into what its caller sees: domain
// errors pass through so callers can branch on their code; input the
// database cannot take is EINVALID; a database that does not answer is
// EUPSTREAM; anything else is unexpected and gets the operation as context.
func (s *Store) wrap(op string, err error) error {
	var e *rechargekit.Error
	if err == nil || errors.As(err, &e) {
		return err
	}
	err = fmt.Errorf("%s: %s: %w", s.d.Name, op, err)
	switch s.condition(err) {
	case InvalidInput:
		return rechargekit.WrapError(rechargekit.EINVALID, "The input contains text that the database cannot store or search.", err)
	case Unavailable:
		return rechargekit.WrapError(rechargekit.EUPSTREAM, "The database is not answering right now.", err)
	}
	return err
}

// stamp returns t, or now when t is zero, at the precision the store keeps.
func stamp(t, now time.Time) time.Time {
	if t.IsZero() {
		return now
	}
	return truncate(t)
}

// truncate returns t in UTC at microsecond precision, PostgreSQL's, so both
// databases return the same instant for the same input.
func truncate(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// timeLayout is fixed-width, so comparing the text compares the times.
const timeLayout = "2006-01-02T15:04:05.000000Z"

func formatTime(t time.Time) string { return truncate(t).Format(timeLayout) }

// dbTime binds a time. database/sql gives SQLite's driver its Value, the
// timeLayout text; pgx takes driver arguments as they are and binds the
// underlying time.Time into timestamptz.
type dbTime time.Time

// Value implements driver.Valuer.
func (t dbTime) Value() (driver.Value, error) { return formatTime(time.Time(t)), nil }

// scanTime reads a time column into *t: text written by dbTime (SQLite) or
// a time (PostgreSQL's timestamptz). NULL, from an outer join, leaves it zero.
type scanTime struct{ t *time.Time }

// Scan implements sql.Scanner.
func (st scanTime) Scan(v any) error {
	switch v := v.(type) {
	case nil:
		return nil
	case time.Time:
		*st.t = v.UTC()
		return nil
	case []byte:
		return st.Scan(string(v))
	case string:
		t, err := time.Parse(timeLayout, v)
		if err != nil {
			return fmt.Errorf("parse time column: %w", err)
		}
		*st.t = t.UTC()
		return nil
	}
	return fmt.Errorf("time column holds %T, want text or a time", v)
}
