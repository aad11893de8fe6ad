package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/rechargekit/rechargekit"
)

// flashKey binds a session's flash key: NULL when no notice is waiting.
func flashKey(key string) sql.NullString { return sql.NullString{String: key, Valid: key != ""} }

// SetSessionFlash implements rechargekit.SessionStore.
func (s *Store) SetSessionFlash(ctx context.Context, tokenHash, key string, now time.Time) error {
	if err := rechargekit.ValidateFlashKey(key); err != nil {
		return err
	}
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx, _ time.Time) error {
		res, err := tx.ExecContext(ctx, `UPDATE sessions SET flash = $1 WHERE token_hash = $2 AND expires_at > $3`,
			flashKey(key), tokenHash, dbTime(truncate(now)))
		if n, _ := rowsAffected(res, err); err == nil && n == 0 {
			return noSession()
		}
		return err
	})
	return s.wrap("set session flash", err)
}

// TakeSessionFlash implements rechargekit.SessionStore. The read locks the
// session's row (SQLite's write transaction already excludes every other
// writer), so a second taker waits for the first to commit and then reads
// the cleared column: a notice is taken once.
func (s *Store) TakeSessionFlash(ctx context.Context, tokenHash string, now time.Time) (string, error) {
	var key sql.NullString
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx, _ time.Time) error {
		err := tx.QueryRowContext(ctx, `SELECT flash FROM sessions WHERE token_hash = $1 AND expires_at > $2`+s.d.ForUpdate,
			tokenHash, dbTime(truncate(now))).Scan(&key)
		if err != nil || !key.Valid {
			return s.check(err, on{NoRows, noSession()})
		}
		_, err = tx.ExecContext(ctx, `UPDATE sessions SET flash = NULL WHERE token_hash = $1`, tokenHash)
		return err
	})
	if err != nil {
		return "", s.wrap("take session flash", err)
	}
	return key.String, nil
}
