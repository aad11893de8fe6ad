package sqlstore

import (
	"cmp"
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
	var stored rechargekit.User
	err := s.change(ctx, "create user", by, func(ctx context.Context, tx *sql.Tx, now time.Time) (*rechargekit.AuditEntry, error) {
		stored = *u
		stored.CreatedAt = stamp(u.CreatedAt, now)
		err := tx.QueryRowContext(ctx, `
			INSERT INTO users (email, email_lower, role, password_hash, created_at) VALUES ($1, $2, $3, $4, $5)
			RETURNING id`,
			u.Email, strings.ToLower(u.Email), u.Role, u.PasswordHash, dbTime(stored.CreatedAt)).Scan(&stored.ID)
		if err != nil {
			return nil, s.check(err, on{UniqueViolation, rechargekit.Errorf(rechargekit.ECONFLICT, "A user with the email %q already exists.", u.Email)})
		}
		return &rechargekit.AuditEntry{At: stored.CreatedAt, Action: rechargekit.AuditUserChange,
			Detail: fmt.Sprintf("added user %s (%s)", u.Email, u.Role)}, nil
	})
	if err == nil {
		*u = stored
	}
	return err
}

const selectUsers = `SELECT id, email, role, password_hash, created_at FROM users `

func scanUser(r row) (*rechargekit.User, error) {
	var u rechargekit.User
	return &u, r.Scan(&u.ID, &u.Email, &u.Role, &u.PasswordHash, scanTime{&u.CreatedAt})
}

// UserByEmail implements rechargekit.UserStore.
func (s *Store) UserByEmail(ctx context.Context, email string) (*rechargekit.User, error) {
	return get(ctx, s, "get user by email", rechargekit.Errorf(rechargekit.ENOTFOUND, "There is no user with the email %q.", email),
		scanUser, selectUsers+`WHERE email_lower = $1`, strings.ToLower(strings.TrimSpace(email)))
}

// UserByID implements rechargekit.UserStore.
func (s *Store) UserByID(ctx context.Context, id int64) (*rechargekit.User, error) {
	return get(ctx, s, fmt.Sprintf("get user %d", id), noUser(id).err, scanUser, selectUsers+`WHERE id = $1`, id)
}

func noUser(id int64) on {
	return on{NoRows, rechargekit.Errorf(rechargekit.ENOTFOUND, "There is no user %d.", id)}
}

// Users implements rechargekit.UserStore.
func (s *Store) Users(ctx context.Context) ([]*rechargekit.User, error) {
	return list(ctx, s, "list users", scanUser, selectUsers+`ORDER BY email_lower, id`)
}

// DeleteUser implements rechargekit.UserStore; the foreign key removes the
// user's sessions.
func (s *Store) DeleteUser(ctx context.Context, id int64, by string) error {
	return s.change(ctx, fmt.Sprintf("delete user %d", id), by, func(ctx context.Context, tx *sql.Tx, _ time.Time) (*rechargekit.AuditEntry, error) {
		var email, role string
		if err := tx.QueryRowContext(ctx, `DELETE FROM users WHERE id = $1 RETURNING email, role`, id).Scan(&email, &role); err != nil {
			return nil, s.check(err, noUser(id))
		}
		return &rechargekit.AuditEntry{Action: rechargekit.AuditUserChange, Detail: fmt.Sprintf("removed user %s (%s)", email, role)}, nil
	})
}

// noSession never names the hash: it is a credential.
func noSession() error {
	return rechargekit.Errorf(rechargekit.ENOTFOUND, "There is no such session, or it has expired.")
}

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
			INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at, flash) VALUES ($1, $2, $3, $4, $5, $6)`,
			sess.TokenHash, sess.UserID, sess.CSRFToken, dbTime(created), dbTime(expires), flashKey(sess.Flash))
		return s.check(err,
			on{UniqueViolation, rechargekit.Errorf(rechargekit.ECONFLICT, "That session token is already stored.")},
			on{ForeignKeyViolation, noUser(sess.UserID).err})
	})
	if err == nil {
		sess.CreatedAt, sess.ExpiresAt = created, expires
	}
	return s.wrap("create session", err)
}

// Session implements rechargekit.SessionStore.
func (s *Store) Session(ctx context.Context, tokenHash string, now time.Time) (*rechargekit.Session, error) {
	return get(ctx, s, "get session", noSession(), func(r row) (*rechargekit.Session, error) {
		sess := rechargekit.Session{TokenHash: tokenHash}
		var flash sql.NullString
		err := r.Scan(&sess.UserID, &sess.CSRFToken, scanTime{&sess.CreatedAt}, scanTime{&sess.ExpiresAt}, &flash)
		sess.Flash = flash.String
		return &sess, err
	}, `SELECT user_id, csrf_token, created_at, expires_at, flash FROM sessions WHERE token_hash = $1 AND expires_at > $2`, tokenHash, dbTime(now))
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
		if n, _ := rowsAffected(res, err); err == nil && n == 0 {
			return noSession()
		}
		return err
	})
	return s.wrap("touch session", err)
}

// rowsAffected returns how many rows a statement changed (0 when it failed).
func rowsAffected(res sql.Result, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// DeleteUserSessions implements rechargekit.SessionStore.
func (s *Store) DeleteUserSessions(ctx context.Context, userID int64, by string) (int, error) {
	var n int64
	err := s.change(ctx, fmt.Sprintf("delete the sessions of user %d", userID), by, func(ctx context.Context, tx *sql.Tx, _ time.Time) (*rechargekit.AuditEntry, error) {
		var email string
		// The user's row stays locked, so a concurrent DeleteUser waits and
		// the entry never names a user already gone.
		if err := tx.QueryRowContext(ctx, `SELECT email FROM users WHERE id = $1`+s.d.ForUpdate, userID).Scan(&email); err != nil {
			return nil, s.check(err, noUser(userID))
		}
		var err error
		if n, err = rowsAffected(tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = $1`, userID)); err != nil {
			return nil, err
		}
		return &rechargekit.AuditEntry{Action: rechargekit.AuditUserChange,
			Detail: fmt.Sprintf("signed out %s everywhere (%d sessions)", email, n)}, nil
	})
	if err != nil {
		return 0, err
	}
	return int(n), nil
}

// CreateAPIToken implements rechargekit.TokenStore.
func (s *Store) CreateAPIToken(ctx context.Context, t *rechargekit.APIToken, by string) error {
	if err := t.Validate(); err != nil {
		return err
	}
	var stored rechargekit.APIToken
	err := s.change(ctx, "create API token", by, func(ctx context.Context, tx *sql.Tx, now time.Time) (*rechargekit.AuditEntry, error) {
		stored = *t
		stored.CreatedAt = stamp(t.CreatedAt, now)
		stored.Role = cmp.Or(t.Role, rechargekit.RoleAgent)
		// The name is checked first for the clearer message; the unique
		// constraints still decide a race.
		var taken bool
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM api_tokens WHERE name = $1)`, t.Name).Scan(&taken); err != nil || taken {
			if err == nil {
				err = rechargekit.Errorf(rechargekit.ECONFLICT, "An API token named %q already exists.", t.Name)
			}
			return nil, err
		}
		err := tx.QueryRowContext(ctx, `INSERT INTO api_tokens (name, hash, role, created_at) VALUES ($1, $2, $3, $4) RETURNING id`,
			t.Name, t.Hash, stored.Role, dbTime(stored.CreatedAt)).Scan(&stored.ID)
		if err != nil {
			return nil, s.check(err, on{UniqueViolation, rechargekit.Errorf(rechargekit.ECONFLICT, "That API token is already stored.")})
		}
		return &rechargekit.AuditEntry{At: stored.CreatedAt, Action: rechargekit.AuditTokenChange, Detail: fmt.Sprintf("added API token %s (%s)", t.Name, stored.Role)}, nil
	})
	if err == nil {
		*t = stored
	}
	return err
}

const selectTokens = `SELECT id, name, role, hash, created_at FROM api_tokens `

func scanToken(r row) (*rechargekit.APIToken, error) {
	var t rechargekit.APIToken
	return &t, r.Scan(&t.ID, &t.Name, &t.Role, &t.Hash, scanTime{&t.CreatedAt})
}

// APITokenByHash implements rechargekit.TokenStore.
func (s *Store) APITokenByHash(ctx context.Context, hash string) (*rechargekit.APIToken, error) {
	return get(ctx, s, "get API token", rechargekit.Errorf(rechargekit.ENOTFOUND, "There is no such API token."),
		scanToken, selectTokens+`WHERE hash = $1`, hash)
}

// APITokens implements rechargekit.TokenStore.
func (s *Store) APITokens(ctx context.Context) ([]*rechargekit.APIToken, error) {
	return list(ctx, s, "list API tokens", scanToken, selectTokens+`ORDER BY name, id`)
}

// DeleteAPIToken implements rechargekit.TokenStore.
func (s *Store) DeleteAPIToken(ctx context.Context, id int64, by string) error {
	return s.change(ctx, fmt.Sprintf("delete API token %d", id), by, func(ctx context.Context, tx *sql.Tx, _ time.Time) (*rechargekit.AuditEntry, error) {
		var name string
		if err := tx.QueryRowContext(ctx, `DELETE FROM api_tokens WHERE id = $1 RETURNING name`, id).Scan(&name); err != nil {
			return nil, s.check(err, on{NoRows, rechargekit.Errorf(rechargekit.ENOTFOUND, "There is no API token %d.", id)})
		}
		return &rechargekit.AuditEntry{Action: rechargekit.AuditTokenChange, Detail: "revoked API token " + name}, nil
	})
}
