package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/rechargekit/rechargekit"
)

// Limits for SearchProfiles and Audit.
const (
	defaultSearchLimit = 50
	defaultAuditLimit  = 100
	maxLimit           = 1000
)

// wrap adds the operation to an unexpected failure; domain errors pass
// through untouched so callers can branch on their code.
func wrap(op string, err error) error {
	var e *rechargekit.Error
	if err == nil || errors.As(err, &e) {
		return err
	}
	return fmt.Errorf("sqlite: %s: %w", op, err)
}

// UpsertProfile creates or replaces a desk profile, emails and phones included.
func (s *Store) UpsertProfile(ctx context.Context, p *rechargekit.Profile) error {
	n, err := rechargekit.NormalizeProfile(p)
	if err != nil {
		return err
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `
			INSERT INTO profiles (id, name, name_lower, updated_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET name = excluded.name, name_lower = excluded.name_lower, updated_at = excluded.updated_at`,
			n.ID, n.Name, strings.ToLower(n.Name), formatTime(s.now()))
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM profile_emails WHERE profile_id = ?`, n.ID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM profile_phones WHERE profile_id = ?`, n.ID); err != nil {
			return err
		}
		for i, e := range n.Emails {
			_, err := tx.ExecContext(ctx, `INSERT INTO profile_emails (profile_id, position, email, email_lower) VALUES (?, ?, ?, ?)`,
				n.ID, i, e, strings.ToLower(e))
			if err != nil {
				return err
			}
		}
		for i, ph := range n.Phones {
			_, err := tx.ExecContext(ctx, `INSERT INTO profile_phones (profile_id, position, phone, phone_lower, phone_digits) VALUES (?, ?, ?, ?, ?)`,
				n.ID, i, ph, strings.ToLower(ph), rechargekit.PhoneDigits(ph))
			if err != nil {
				return err
			}
		}
		return nil
	})
	return wrap(fmt.Sprintf("upsert profile %q", n.ID), err)
}

// profileColumns selects a profile with its emails and phones as JSON
// arrays, in their stored order, so one query returns whole profiles.
const profileColumns = `p.id, p.name,
	(SELECT json_group_array(email ORDER BY position) FROM profile_emails WHERE profile_id = p.id),
	(SELECT json_group_array(phone ORDER BY position) FROM profile_phones WHERE profile_id = p.id)`

func scanProfile(row interface{ Scan(...any) error }) (*rechargekit.Profile, error) {
	var p rechargekit.Profile
	var emails, phones string
	if err := row.Scan(&p.ID, &p.Name, &emails, &phones); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(emails), &p.Emails); err != nil {
		return nil, fmt.Errorf("decode emails of profile %q: %w", p.ID, err)
	}
	if err := json.Unmarshal([]byte(phones), &p.Phones); err != nil {
		return nil, fmt.Errorf("decode phones of profile %q: %w", p.ID, err)
	}
	return &p, nil
}

// Profile returns one profile.
func (s *Store) Profile(ctx context.Context, id string) (*rechargekit.Profile, error) {
	p, err := scanProfile(s.reader.QueryRowContext(ctx, `SELECT `+profileColumns+` FROM profiles p WHERE p.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, rechargekit.Errorf(rechargekit.ENOTFOUND, "no profile %q", id)
	}
	if err != nil {
		return nil, wrap(fmt.Sprintf("get profile %q", id), err)
	}
	return p, nil
}

// SearchProfiles finds profiles by name, email or phone.
func (s *Store) SearchProfiles(ctx context.Context, q string, limit int) ([]*rechargekit.Profile, error) {
	q = strings.TrimSpace(q)
	if limit <= 0 {
		limit = defaultSearchLimit
	}
	limit = min(limit, maxLimit)
	rows, err := s.reader.QueryContext(ctx, `
		SELECT `+profileColumns+` FROM profiles p
		WHERE ?1 = ''
		   OR instr(p.name_lower, ?1) > 0
		   OR EXISTS (SELECT 1 FROM profile_emails e WHERE e.profile_id = p.id AND instr(e.email_lower, ?1) > 0)
		   OR EXISTS (SELECT 1 FROM profile_phones f WHERE f.profile_id = p.id
		              AND (instr(f.phone_lower, ?1) > 0 OR (?2 <> '' AND instr(f.phone_digits, ?2) > 0)))
		ORDER BY p.name_lower, p.name, p.id
		LIMIT ?3`,
		strings.ToLower(q), rechargekit.PhoneQueryDigits(q), limit)
	if err != nil {
		return nil, wrap("search profiles", err)
	}
	defer rows.Close()
	out := []*rechargekit.Profile{}
	for rows.Next() {
		p, err := scanProfile(rows)
		if err != nil {
			return nil, wrap("search profiles", err)
		}
		out = append(out, p)
	}
	return out, wrap("search profiles", rows.Err())
}

// Link returns the profile's current link.
func (s *Store) Link(ctx context.Context, profileID string) (*rechargekit.Link, error) {
	l, err := getLink(ctx, s.reader, profileID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, rechargekit.Errorf(rechargekit.ENOTFOUND, "profile %q is not linked", profileID)
	}
	if err != nil {
		return nil, wrap(fmt.Sprintf("get link of profile %q", profileID), err)
	}
	return l, nil
}

type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func getLink(ctx context.Context, q queryer, profileID string) (*rechargekit.Link, error) {
	l := rechargekit.Link{ProfileID: profileID}
	err := q.QueryRowContext(ctx, `SELECT customer_id, method, linked_by, linked_at FROM links WHERE profile_id = ?`, profileID).
		Scan(&l.CustomerID, &l.Method, &l.By, scanTime{&l.At})
	if err != nil {
		return nil, err
	}
	return &l, nil
}

// CreateLink links a profile, deciding inside one IMMEDIATE transaction, so
// that of two racing links to different customers exactly one wins and the
// other is refused and audited.
func (s *Store) CreateLink(ctx context.Context, l *rechargekit.Link) error {
	if err := l.Validate(); err != nil {
		return err
	}
	want := *l
	if want.At.IsZero() {
		want.At = s.Now()
	}
	want.At = truncate(want.At)
	var refused error // committed with its audit entry, then returned
	err := s.write(ctx, func(tx *sql.Tx) error {
		refused = nil
		var exists int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM profiles WHERE id = ?`, want.ProfileID).Scan(&exists); err != nil {
			return err
		}
		if exists == 0 {
			return rechargekit.Errorf(rechargekit.ENOTFOUND, "no profile %q", want.ProfileID)
		}
		cur, err := getLink(ctx, tx, want.ProfileID)
		switch {
		case err == nil && cur.CustomerID == want.CustomerID:
			*l = *cur
			return nil
		case err == nil:
			refused = rechargekit.Errorf(rechargekit.ECONFLICT,
				"profile %q is already linked to Recharge customer %d", want.ProfileID, cur.CustomerID)
			return s.appendAudit(ctx, tx, &rechargekit.AuditEntry{
				At: s.now(), Actor: want.By, Action: rechargekit.AuditLinkConflict,
				ProfileID: want.ProfileID, CustomerID: want.CustomerID,
				Detail: fmt.Sprintf("refused %s link to Recharge customer %d: already linked to Recharge customer %d",
					want.Method, want.CustomerID, cur.CustomerID),
			})
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		if want.Method == rechargekit.LinkAuto {
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM unlinks WHERE profile_id = ?`, want.ProfileID).Scan(&exists); err != nil {
				return err
			}
			if exists > 0 {
				return rechargekit.Errorf(rechargekit.ECONFLICT,
					"profile %q was unlinked by an agent, so it is never linked automatically again", want.ProfileID)
			}
		}
		res, err := tx.ExecContext(ctx, `
			INSERT INTO links (profile_id, customer_id, method, linked_by, linked_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (profile_id) DO NOTHING`,
			want.ProfileID, want.CustomerID, want.Method, want.By, formatTime(want.At))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n != 1 {
			// The IMMEDIATE transaction holds the write lock, so no one
			// can have linked the profile since the read above.
			return fmt.Errorf("link of profile %q appeared inside a write transaction", want.ProfileID)
		}
		*l = want
		return s.appendAudit(ctx, tx, &rechargekit.AuditEntry{
			At: want.At, Actor: want.By, Action: rechargekit.AuditLink,
			ProfileID: want.ProfileID, CustomerID: want.CustomerID,
			Detail: fmt.Sprintf("linked to Recharge customer %d (%s)", want.CustomerID, want.Method),
		})
	})
	if err != nil {
		return wrap(fmt.Sprintf("link profile %q", want.ProfileID), err)
	}
	return refused
}

// DeleteLink unlinks a profile and leaves a tombstone.
func (s *Store) DeleteLink(ctx context.Context, profileID, by string) error {
	if err := rechargekit.ValidateActor(by); err != nil {
		return err
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		var customerID int64
		err := tx.QueryRowContext(ctx, `DELETE FROM links WHERE profile_id = ? RETURNING customer_id`, profileID).Scan(&customerID)
		if errors.Is(err, sql.ErrNoRows) {
			return rechargekit.Errorf(rechargekit.ENOTFOUND, "profile %q is not linked", profileID)
		}
		if err != nil {
			return err
		}
		now := s.now()
		_, err = tx.ExecContext(ctx, `
			INSERT INTO unlinks (profile_id, customer_id, unlinked_by, unlinked_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (profile_id) DO UPDATE SET customer_id = excluded.customer_id,
				unlinked_by = excluded.unlinked_by, unlinked_at = excluded.unlinked_at`,
			profileID, customerID, by, formatTime(now))
		if err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, &rechargekit.AuditEntry{
			At: now, Actor: by, Action: rechargekit.AuditUnlink, ProfileID: profileID, CustomerID: customerID,
			Detail: fmt.Sprintf("unlinked from Recharge customer %d", customerID),
		})
	})
	return wrap(fmt.Sprintf("unlink profile %q", profileID), err)
}

// WasUnlinked reports whether the profile was ever unlinked.
func (s *Store) WasUnlinked(ctx context.Context, profileID string) (bool, error) {
	var n int
	if err := s.reader.QueryRowContext(ctx, `SELECT count(*) FROM unlinks WHERE profile_id = ?`, profileID).Scan(&n); err != nil {
		return false, wrap(fmt.Sprintf("check unlink of profile %q", profileID), err)
	}
	return n > 0, nil
}

// appendAudit inserts e inside tx and sets e.ID.
func (s *Store) appendAudit(ctx context.Context, tx *sql.Tx, e *rechargekit.AuditEntry) error {
	err := tx.QueryRowContext(ctx, `
		INSERT INTO audit (at, actor, action, profile_id, customer_id, detail) VALUES (?, ?, ?, ?, ?, ?)
		RETURNING id`,
		formatTime(e.At), e.Actor, e.Action, e.ProfileID, e.CustomerID, e.Detail).Scan(&e.ID)
	if err != nil {
		return fmt.Errorf("append %s audit entry: %w", e.Action, err)
	}
	return nil
}

// Audit returns audit entries, newest first.
func (s *Store) Audit(ctx context.Context, f rechargekit.AuditFilter) ([]*rechargekit.AuditEntry, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = defaultAuditLimit
	}
	limit = min(limit, maxLimit)
	rows, err := s.reader.QueryContext(ctx, `
		SELECT id, at, actor, action, profile_id, customer_id, detail FROM audit
		WHERE ?1 = '' OR profile_id = ?1
		ORDER BY id DESC LIMIT ?2`, f.ProfileID, limit)
	if err != nil {
		return nil, wrap("read audit", err)
	}
	defer rows.Close()
	out := []*rechargekit.AuditEntry{}
	for rows.Next() {
		var e rechargekit.AuditEntry
		if err := rows.Scan(&e.ID, scanTime{&e.At}, &e.Actor, &e.Action, &e.ProfileID, &e.CustomerID, &e.Detail); err != nil {
			return nil, wrap("read audit", err)
		}
		out = append(out, &e)
	}
	return out, wrap("read audit", rows.Err())
}

// Settings keys.
const settingAutoLink = "auto_link"

// Settings returns the settings, defaults for keys never set.
func (s *Store) Settings(ctx context.Context) (*rechargekit.Settings, error) {
	st, err := readSettings(ctx, s.reader)
	return st, wrap("read settings", err)
}

func readSettings(ctx context.Context, q interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}) (*rechargekit.Settings, error) {
	st := rechargekit.DefaultSettings()
	rows, err := q.QueryContext(ctx, `SELECT key, value FROM settings`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, err
		}
		switch k {
		case settingAutoLink:
			b, err := strconv.ParseBool(v)
			if err != nil {
				return nil, fmt.Errorf("setting %s holds %q: %w", k, v, err)
			}
			st.AutoLink = b
		}
	}
	return st, rows.Err()
}

// UpdateSettings replaces the settings and audits each changed switch.
func (s *Store) UpdateSettings(ctx context.Context, st *rechargekit.Settings, by string) error {
	if st == nil {
		return rechargekit.Errorf(rechargekit.EINVALID, "settings are required")
	}
	if err := rechargekit.ValidateActor(by); err != nil {
		return err
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		cur, err := readSettings(ctx, tx)
		if err != nil {
			return err
		}
		if cur.AutoLink == st.AutoLink {
			return nil
		}
		now := s.now()
		_, err = tx.ExecContext(ctx, `
			INSERT INTO settings (key, value, updated_by, updated_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_by = excluded.updated_by, updated_at = excluded.updated_at`,
			settingAutoLink, strconv.FormatBool(st.AutoLink), by, formatTime(now))
		if err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, &rechargekit.AuditEntry{
			At: now, Actor: by, Action: rechargekit.AuditSettingChange,
			Detail: fmt.Sprintf("%s: %s -> %s", settingAutoLink, rechargekit.OnOff(cur.AutoLink), rechargekit.OnOff(st.AutoLink)),
		})
	})
	return wrap("update settings", err)
}

// CreateUser adds a user.
func (s *Store) CreateUser(ctx context.Context, u *rechargekit.User, by string) error {
	if err := u.Validate(); err != nil {
		return err
	}
	if err := rechargekit.ValidateActor(by); err != nil {
		return err
	}
	created := u.CreatedAt
	if created.IsZero() {
		created = s.Now()
	}
	created = truncate(created)
	var id int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `
			INSERT INTO users (email, email_lower, role, password_hash, created_at) VALUES (?, ?, ?, ?, ?)
			RETURNING id`,
			u.Email, strings.ToLower(u.Email), u.Role, u.PasswordHash, formatTime(created)).Scan(&id)
		if isUniqueViolation(err) {
			return rechargekit.Errorf(rechargekit.ECONFLICT, "a user with email %q already exists", u.Email)
		}
		if err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, &rechargekit.AuditEntry{
			At: created, Actor: by, Action: rechargekit.AuditUserChange,
			Detail: fmt.Sprintf("added user %s (%s)", u.Email, u.Role),
		})
	})
	if err != nil {
		return wrap("create user", err)
	}
	u.ID, u.CreatedAt = id, created
	return nil
}

const userColumns = `id, email, role, password_hash, created_at`

func scanUser(row interface{ Scan(...any) error }) (*rechargekit.User, error) {
	var u rechargekit.User
	if err := row.Scan(&u.ID, &u.Email, &u.Role, &u.PasswordHash, scanTime{&u.CreatedAt}); err != nil {
		return nil, err
	}
	return &u, nil
}

// UserByEmail returns a user by email, case-insensitively.
func (s *Store) UserByEmail(ctx context.Context, email string) (*rechargekit.User, error) {
	u, err := scanUser(s.reader.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE email_lower = ?`,
		strings.ToLower(strings.TrimSpace(email))))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, rechargekit.Errorf(rechargekit.ENOTFOUND, "no user with email %q", email)
	}
	return u, wrap("get user by email", err)
}

// UserByID returns a user.
func (s *Store) UserByID(ctx context.Context, id int64) (*rechargekit.User, error) {
	u, err := scanUser(s.reader.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, rechargekit.Errorf(rechargekit.ENOTFOUND, "no user %d", id)
	}
	return u, wrap(fmt.Sprintf("get user %d", id), err)
}

// Users lists users by email.
func (s *Store) Users(ctx context.Context) ([]*rechargekit.User, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT `+userColumns+` FROM users ORDER BY email_lower, id`)
	if err != nil {
		return nil, wrap("list users", err)
	}
	defer rows.Close()
	out := []*rechargekit.User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, wrap("list users", err)
		}
		out = append(out, u)
	}
	return out, wrap("list users", rows.Err())
}

// DeleteUser removes a user; the foreign key removes their sessions.
func (s *Store) DeleteUser(ctx context.Context, id int64, by string) error {
	if err := rechargekit.ValidateActor(by); err != nil {
		return err
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		var email, role string
		err := tx.QueryRowContext(ctx, `DELETE FROM users WHERE id = ? RETURNING email, role`, id).Scan(&email, &role)
		if errors.Is(err, sql.ErrNoRows) {
			return rechargekit.Errorf(rechargekit.ENOTFOUND, "no user %d", id)
		}
		if err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, &rechargekit.AuditEntry{
			At: s.now(), Actor: by, Action: rechargekit.AuditUserChange,
			Detail: fmt.Sprintf("removed user %s (%s)", email, role),
		})
	})
	return wrap(fmt.Sprintf("delete user %d", id), err)
}

// CreateSession stores a session and drops the ones expired by its creation.
func (s *Store) CreateSession(ctx context.Context, sess *rechargekit.Session) error {
	if err := sess.Validate(); err != nil {
		return err
	}
	created := sess.CreatedAt
	if created.IsZero() {
		created = s.Now()
	}
	created, expires := truncate(created), truncate(sess.ExpiresAt)
	if !expires.After(created) {
		return rechargekit.Errorf(rechargekit.EINVALID, "a session must expire after it is created")
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM users WHERE id = ?`, sess.UserID).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return rechargekit.Errorf(rechargekit.ENOTFOUND, "no user %d", sess.UserID)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at <= ?`, formatTime(created)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `
			INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
			sess.TokenHash, sess.UserID, sess.CSRFToken, formatTime(created), formatTime(expires))
		switch {
		case isUniqueViolation(err):
			return rechargekit.Errorf(rechargekit.ECONFLICT, "that session token is already stored")
		case isForeignKeyViolation(err):
			return rechargekit.Errorf(rechargekit.ENOTFOUND, "no user %d", sess.UserID)
		}
		return err
	})
	if err != nil {
		return wrap("create session", err)
	}
	sess.CreatedAt, sess.ExpiresAt = created, expires
	return nil
}

// Session returns a session by token hash if it expires after now.
func (s *Store) Session(ctx context.Context, tokenHash string, now time.Time) (*rechargekit.Session, error) {
	sess := rechargekit.Session{TokenHash: tokenHash}
	err := s.reader.QueryRowContext(ctx, `
		SELECT user_id, csrf_token, created_at, expires_at FROM sessions WHERE token_hash = ? AND expires_at > ?`,
		tokenHash, formatTime(now)).
		Scan(&sess.UserID, &sess.CSRFToken, scanTime{&sess.CreatedAt}, scanTime{&sess.ExpiresAt})
	if errors.Is(err, sql.ErrNoRows) {
		// The message never names the hash: it is a credential.
		return nil, rechargekit.Errorf(rechargekit.ENOTFOUND, "no such session, or it has expired")
	}
	if err != nil {
		return nil, wrap("get session", err)
	}
	return &sess, nil
}

// DeleteSession removes a session; a missing one is not an error.
func (s *Store) DeleteSession(ctx context.Context, tokenHash string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE token_hash = ?`, tokenHash)
		return err
	})
	return wrap("delete session", err)
}

// TouchSession sets a valid session's expiry to until.
func (s *Store) TouchSession(ctx context.Context, tokenHash string, now, until time.Time) error {
	now, until = truncate(now), truncate(until)
	if !until.After(now) {
		return rechargekit.Errorf(rechargekit.EINVALID, "a session must expire after now")
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		// Times are stored as fixed-width text that sorts as it reads.
		res, err := tx.ExecContext(ctx, `
			UPDATE sessions SET expires_at = ? WHERE token_hash = ? AND expires_at > ?`,
			formatTime(until), tokenHash, formatTime(now))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			if err == nil {
				err = rechargekit.Errorf(rechargekit.ENOTFOUND, "no such session, or it has expired")
			}
			return err
		}
		return nil
	})
	return wrap("touch session", err)
}

// DeleteUserSessions removes every session of a user, audited.
func (s *Store) DeleteUserSessions(ctx context.Context, userID int64, by string) (int, error) {
	if err := rechargekit.ValidateActor(by); err != nil {
		return 0, err
	}
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		var email string
		err := tx.QueryRowContext(ctx, `SELECT email FROM users WHERE id = ?`, userID).Scan(&email)
		if errors.Is(err, sql.ErrNoRows) {
			return rechargekit.Errorf(rechargekit.ENOTFOUND, "no user %d", userID)
		}
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ?`, userID)
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, &rechargekit.AuditEntry{
			At: s.now(), Actor: by, Action: rechargekit.AuditUserChange,
			Detail: fmt.Sprintf("signed out %s everywhere (%d sessions)", email, n),
		})
	})
	return int(n), wrap(fmt.Sprintf("delete the sessions of user %d", userID), err)
}

// CreateAPIToken stores a token's hash.
func (s *Store) CreateAPIToken(ctx context.Context, t *rechargekit.APIToken, by string) error {
	if err := t.Validate(); err != nil {
		return err
	}
	if err := rechargekit.ValidateActor(by); err != nil {
		return err
	}
	created := t.CreatedAt
	if created.IsZero() {
		created = s.Now()
	}
	created = truncate(created)
	var id int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM api_tokens WHERE name = ?`, t.Name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return rechargekit.Errorf(rechargekit.ECONFLICT, "an API token named %q already exists", t.Name)
		}
		err := tx.QueryRowContext(ctx, `INSERT INTO api_tokens (name, hash, created_at) VALUES (?, ?, ?) RETURNING id`,
			t.Name, t.Hash, formatTime(created)).Scan(&id)
		if isUniqueViolation(err) {
			return rechargekit.Errorf(rechargekit.ECONFLICT, "that API token is already stored")
		}
		if err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, &rechargekit.AuditEntry{
			At: created, Actor: by, Action: rechargekit.AuditTokenChange,
			Detail: fmt.Sprintf("added API token %s", t.Name),
		})
	})
	if err != nil {
		return wrap("create API token", err)
	}
	t.ID, t.CreatedAt = id, created
	return nil
}

func scanToken(row interface{ Scan(...any) error }) (*rechargekit.APIToken, error) {
	var t rechargekit.APIToken
	if err := row.Scan(&t.ID, &t.Name, &t.Hash, scanTime{&t.CreatedAt}); err != nil {
		return nil, err
	}
	return &t, nil
}

// APITokenByHash returns a token.
func (s *Store) APITokenByHash(ctx context.Context, hash string) (*rechargekit.APIToken, error) {
	t, err := scanToken(s.reader.QueryRowContext(ctx, `SELECT id, name, hash, created_at FROM api_tokens WHERE hash = ?`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, rechargekit.Errorf(rechargekit.ENOTFOUND, "no such API token")
	}
	return t, wrap("get API token", err)
}

// APITokens lists API tokens by name.
func (s *Store) APITokens(ctx context.Context) ([]*rechargekit.APIToken, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT id, name, hash, created_at FROM api_tokens ORDER BY name, id`)
	if err != nil {
		return nil, wrap("list API tokens", err)
	}
	defer rows.Close()
	out := []*rechargekit.APIToken{}
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, wrap("list API tokens", err)
		}
		out = append(out, t)
	}
	return out, wrap("list API tokens", rows.Err())
}

// DeleteAPIToken revokes a token.
func (s *Store) DeleteAPIToken(ctx context.Context, id int64, by string) error {
	if err := rechargekit.ValidateActor(by); err != nil {
		return err
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		var name string
		err := tx.QueryRowContext(ctx, `DELETE FROM api_tokens WHERE id = ? RETURNING name`, id).Scan(&name)
		if errors.Is(err, sql.ErrNoRows) {
			return rechargekit.Errorf(rechargekit.ENOTFOUND, "no API token %d", id)
		}
		if err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, &rechargekit.AuditEntry{
			At: s.now(), Actor: by, Action: rechargekit.AuditTokenChange,
			Detail: fmt.Sprintf("revoked API token %s", name),
		})
	})
	return wrap(fmt.Sprintf("delete API token %d", id), err)
}
