package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/rechargekit/rechargekit"
)

// CreateUser implements rechargekit.UserStore.
func (s *Store) CreateUser(ctx context.Context, u *rechargekit.User, by string) error {
	if err := u.Validate(); err != nil {
		return err
	}
	if err := rechargekit.ValidateActor(by); err != nil {
		return err
	}
	var id int64
	var created time.Time
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx, now time.Time) error {
		created = stamp(u.CreatedAt, now)
		err := tx.QueryRowContext(ctx, `
			INSERT INTO users (email, email_lower, role, password_hash, created_at) VALUES ($1, $2, $3, $4, $5)
			RETURNING id`,
			u.Email, strings.ToLower(u.Email), u.Role, u.PasswordHash, dbTime(created)).Scan(&id)
		if err != nil {
			return s.check(err, on{UniqueViolation, rechargekit.Errorf(rechargekit.ECONFLICT, "A user with the email %q already exists.", u.Email)})
		}
		return appendAudit(ctx, tx, &rechargekit.AuditEntry{
			At: created, Actor: by, Action: rechargekit.AuditUserChange,
			Detail: fmt.Sprintf("added user %s (%s)", u.Email, u.Role),
		})
	})
	if err != nil {
		return s.wrap("create user", err)
	}
	u.ID, u.CreatedAt = id, created
	return nil
}

// stamp returns t, or now when t is zero, at the precision the store keeps.
func stamp(t, now time.Time) time.Time {
	if t.IsZero() {
		return now
	}
	return truncate(t)
}

// findUsers returns the users that match where (with any ORDER BY).
func findUsers(ctx context.Context, q dbtx, where string, args ...any) ([]*rechargekit.User, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, email, role, password_hash, created_at FROM users WHERE `+where, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*rechargekit.User{}
	for rows.Next() {
		var u rechargekit.User
		if err := rows.Scan(&u.ID, &u.Email, &u.Role, &u.PasswordHash, scanTime{&u.CreatedAt}); err != nil {
			return nil, err
		}
		out = append(out, &u)
	}
	return out, rows.Err()
}

// findUser returns the one user that matches where, or notFound.
func (s *Store) findUser(ctx context.Context, op string, notFound error, where string, args ...any) (*rechargekit.User, error) {
	var found []*rechargekit.User
	err := s.read(ctx, func(ctx context.Context, q dbtx) (err error) {
		found, err = findUsers(ctx, q, where, args...)
		return err
	})
	if err != nil {
		return nil, s.wrap(op, err)
	}
	if len(found) == 0 {
		return nil, notFound
	}
	return found[0], nil
}

// UserByEmail implements rechargekit.UserStore.
func (s *Store) UserByEmail(ctx context.Context, email string) (*rechargekit.User, error) {
	return s.findUser(ctx, "get user by email", rechargekit.Errorf(rechargekit.ENOTFOUND, "There is no user with the email %q.", email),
		`email_lower = $1`, strings.ToLower(strings.TrimSpace(email)))
}

// UserByID implements rechargekit.UserStore.
func (s *Store) UserByID(ctx context.Context, id int64) (*rechargekit.User, error) {
	return s.findUser(ctx, fmt.Sprintf("get user %d", id), noUser(id), `id = $1`, id)
}

func noUser(id int64) error {
	return rechargekit.Errorf(rechargekit.ENOTFOUND, "There is no user %d.", id)
}

// Users implements rechargekit.UserStore.
func (s *Store) Users(ctx context.Context) (out []*rechargekit.User, err error) {
	err = s.read(ctx, func(ctx context.Context, q dbtx) (err error) {
		out, err = findUsers(ctx, q, `true ORDER BY email_lower, id`)
		return err
	})
	if err != nil {
		return nil, s.wrap("list users", err)
	}
	return out, nil
}

// DeleteUser implements rechargekit.UserStore; the foreign key removes the
// user's sessions.
func (s *Store) DeleteUser(ctx context.Context, id int64, by string) error {
	if err := rechargekit.ValidateActor(by); err != nil {
		return err
	}
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx, now time.Time) error {
		var email, role string
		err := tx.QueryRowContext(ctx, `DELETE FROM users WHERE id = $1 RETURNING email, role`, id).Scan(&email, &role)
		if err != nil {
			return s.check(err, on{NoRows, noUser(id)})
		}
		return appendAudit(ctx, tx, &rechargekit.AuditEntry{
			At: now, Actor: by, Action: rechargekit.AuditUserChange,
			Detail: fmt.Sprintf("removed user %s (%s)", email, role),
		})
	})
	return s.wrap(fmt.Sprintf("delete user %d", id), err)
}

// noSession never names the hash: it is a credential.
var noSession = rechargekit.Errorf(rechargekit.ENOTFOUND, "There is no such session, or it has expired.")

// CreateSession implements rechargekit.SessionStore. A refused session
// (no such user, a token hash already stored) rolls back the purge too:
// a refused write changes nothing.
func (s *Store) CreateSession(ctx context.Context, sess *rechargekit.Session) error {
	if err := sess.Validate(); err != nil {
		return err
	}
	var created, expires time.Time
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx, now time.Time) error {
		created, expires = stamp(sess.CreatedAt, now), truncate(sess.ExpiresAt)
		if !expires.After(created) {
			return rechargekit.Errorf(rechargekit.EINVALID, "A session must expire after it is created.")
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at <= $1`, dbTime(created)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `
			INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)`,
			sess.TokenHash, sess.UserID, sess.CSRFToken, dbTime(created), dbTime(expires))
		return s.check(err,
			on{UniqueViolation, rechargekit.Errorf(rechargekit.ECONFLICT, "That session token is already stored.")},
			on{ForeignKeyViolation, noUser(sess.UserID)})
	})
	if err != nil {
		return s.wrap("create session", err)
	}
	sess.CreatedAt, sess.ExpiresAt = created, expires
	return nil
}

// Session implements rechargekit.SessionStore.
func (s *Store) Session(ctx context.Context, tokenHash string, now time.Time) (*rechargekit.Session, error) {
	sess := rechargekit.Session{TokenHash: tokenHash}
	err := s.read(ctx, func(ctx context.Context, q dbtx) error {
		return q.QueryRowContext(ctx, `
			SELECT user_id, csrf_token, created_at, expires_at FROM sessions WHERE token_hash = $1 AND expires_at > $2`,
			tokenHash, dbTime(now)).
			Scan(&sess.UserID, &sess.CSRFToken, scanTime{&sess.CreatedAt}, scanTime{&sess.ExpiresAt})
	})
	if err != nil {
		return nil, s.wrap("get session", s.check(err, on{NoRows, noSession}))
	}
	return &sess, nil
}

// DeleteSession implements rechargekit.SessionStore.
func (s *Store) DeleteSession(ctx context.Context, tokenHash string) error {
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx, _ time.Time) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE token_hash = $1`, tokenHash)
		return err
	})
	return s.wrap("delete session", err)
}

// TouchSession implements rechargekit.SessionStore.
func (s *Store) TouchSession(ctx context.Context, tokenHash string, now, until time.Time) error {
	now, until = truncate(now), truncate(until)
	if !until.After(now) {
		return rechargekit.Errorf(rechargekit.EINVALID, "A session must expire after now.")
	}
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx, _ time.Time) error {
		res, err := tx.ExecContext(ctx, `UPDATE sessions SET expires_at = $1 WHERE token_hash = $2 AND expires_at > $3`,
			dbTime(until), tokenHash, dbTime(now))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			if err == nil {
				err = noSession
			}
			return err
		}
		return nil
	})
	return s.wrap("touch session", err)
}

// DeleteUserSessions implements rechargekit.SessionStore.
func (s *Store) DeleteUserSessions(ctx context.Context, userID int64, by string) (int, error) {
	if err := rechargekit.ValidateActor(by); err != nil {
		return 0, err
	}
	var n int64
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx, now time.Time) error {
		var email string
		// The user's row stays locked, so a concurrent DeleteUser waits and
		// the entry never names a user already gone.
		err := tx.QueryRowContext(ctx, `SELECT email FROM users WHERE id = $1`+s.d.ForUpdate, userID).Scan(&email)
		if err != nil {
			return s.check(err, on{NoRows, noUser(userID)})
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = $1`, userID)
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		return appendAudit(ctx, tx, &rechargekit.AuditEntry{
			At: now, Actor: by, Action: rechargekit.AuditUserChange,
			Detail: fmt.Sprintf("signed out %s everywhere (%d sessions)", email, n),
		})
	})
	return int(n), s.wrap(fmt.Sprintf("delete the sessions of user %d", userID), err)
}

// CreateAPIToken implements rechargekit.TokenStore.
func (s *Store) CreateAPIToken(ctx context.Context, t *rechargekit.APIToken, by string) error {
	if err := t.Validate(); err != nil {
		return err
	}
	if err := rechargekit.ValidateActor(by); err != nil {
		return err
	}
	var id int64
	var created time.Time
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx, now time.Time) error {
		created = stamp(t.CreatedAt, now)
		// The name is checked first for the clearer message; the unique
		// constraints still decide a race.
		var taken bool
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM api_tokens WHERE name = $1)`, t.Name).Scan(&taken); err != nil {
			return err
		}
		if taken {
			return rechargekit.Errorf(rechargekit.ECONFLICT, "An API token named %q already exists.", t.Name)
		}
		err := tx.QueryRowContext(ctx, `INSERT INTO api_tokens (name, hash, created_at) VALUES ($1, $2, $3) RETURNING id`,
			t.Name, t.Hash, dbTime(created)).Scan(&id)
		if err != nil {
			return s.check(err, on{UniqueViolation, rechargekit.Errorf(rechargekit.ECONFLICT, "That API token is already stored.")})
		}
		return appendAudit(ctx, tx, &rechargekit.AuditEntry{
			At: created, Actor: by, Action: rechargekit.AuditTokenChange,
			Detail: fmt.Sprintf("added API token %s", t.Name),
		})
	})
	if err != nil {
		return s.wrap("create API token", err)
	}
	t.ID, t.CreatedAt = id, created
	return nil
}

// findTokens returns the API tokens that match where (with any ORDER BY).
func findTokens(ctx context.Context, q dbtx, where string, args ...any) ([]*rechargekit.APIToken, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, name, hash, created_at FROM api_tokens WHERE `+where, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*rechargekit.APIToken{}
	for rows.Next() {
		var t rechargekit.APIToken
		if err := rows.Scan(&t.ID, &t.Name, &t.Hash, scanTime{&t.CreatedAt}); err != nil {
			return nil, err
		}
		out = append(out, &t)
	}
	return out, rows.Err()
}

// APITokenByHash implements rechargekit.TokenStore.
func (s *Store) APITokenByHash(ctx context.Context, hash string) (*rechargekit.APIToken, error) {
	found, err := s.apiTokens(ctx, "get API token", `hash = $1`, hash)
	if err == nil && len(found) == 0 {
		return nil, rechargekit.Errorf(rechargekit.ENOTFOUND, "There is no such API token.")
	}
	if err != nil {
		return nil, err
	}
	return found[0], nil
}

// APITokens implements rechargekit.TokenStore.
func (s *Store) APITokens(ctx context.Context) ([]*rechargekit.APIToken, error) {
	return s.apiTokens(ctx, "list API tokens", `true ORDER BY name, id`)
}

func (s *Store) apiTokens(ctx context.Context, op, where string, args ...any) (out []*rechargekit.APIToken, err error) {
	err = s.read(ctx, func(ctx context.Context, q dbtx) (err error) {
		out, err = findTokens(ctx, q, where, args...)
		return err
	})
	if err != nil {
		return nil, s.wrap(op, err)
	}
	return out, nil
}

// DeleteAPIToken implements rechargekit.TokenStore.
func (s *Store) DeleteAPIToken(ctx context.Context, id int64, by string) error {
	if err := rechargekit.ValidateActor(by); err != nil {
		return err
	}
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx, now time.Time) error {
		var name string
		err := tx.QueryRowContext(ctx, `DELETE FROM api_tokens WHERE id = $1 RETURNING name`, id).Scan(&name)
		if err != nil {
			return s.check(err, on{NoRows, rechargekit.Errorf(rechargekit.ENOTFOUND, "There is no API token %d.", id)})
		}
		return appendAudit(ctx, tx, &rechargekit.AuditEntry{
			At: now, Actor: by, Action: rechargekit.AuditTokenChange,
			Detail: fmt.Sprintf("revoked API token %s", name),
		})
	})
	return s.wrap(fmt.Sprintf("delete API token %d", id), err)
}
