package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rechargekit/rechargekit"
)

// Limits for SearchProfiles and Audit.
const (
	defaultSearchLimit = 50
	defaultAuditLimit  = 100
	maxLimit           = 1000
)

// querier is what a pool and a transaction have in common.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// wrap adds the operation to an unexpected failure; domain errors pass
// through untouched so callers can branch on their code. PostgreSQL's data
// exceptions (SQLSTATE class 22, such as text that is not UTF-8 in a
// lookup) are the caller's input, so they become EINVALID.
func wrap(op string, err error) error {
	var e *rechargekit.Error
	if err == nil || errors.As(err, &e) {
		return err
	}
	if pe := pgError(err); pe != nil && strings.HasPrefix(pe.Code, "22") {
		return rechargekit.WrapError(rechargekit.EINVALID, "the input cannot be stored or searched: "+pe.Message, err)
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}

// UpsertProfile creates or replaces a desk profile, emails and phones included.
func (s *Store) UpsertProfile(ctx context.Context, p *rechargekit.Profile) error {
	n, err := rechargekit.NormalizeProfile(p)
	if err != nil {
		return err
	}
	err = s.write(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `
			INSERT INTO profiles (id, name, name_lower, updated_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (id) DO UPDATE SET name = excluded.name, name_lower = excluded.name_lower, updated_at = excluded.updated_at`,
			n.ID, n.Name, strings.ToLower(n.Name), s.now())
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM profile_emails WHERE profile_id = $1`, n.ID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM profile_phones WHERE profile_id = $1`, n.ID); err != nil {
			return err
		}
		lower := make([]string, len(n.Emails))
		for i, e := range n.Emails {
			lower[i] = strings.ToLower(e)
		}
		_, err = tx.Exec(ctx, `
			INSERT INTO profile_emails (profile_id, position, email, email_lower)
			SELECT $1, e.ord - 1, e.email, e.email_lower
			FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS e (email, email_lower, ord)`,
			n.ID, n.Emails, lower)
		if err != nil {
			return err
		}
		lower, dig := make([]string, len(n.Phones)), make([]string, len(n.Phones))
		for i, ph := range n.Phones {
			lower[i], dig[i] = strings.ToLower(ph), rechargekit.PhoneDigits(ph)
		}
		_, err = tx.Exec(ctx, `
			INSERT INTO profile_phones (profile_id, position, phone, phone_lower, phone_digits)
			SELECT $1, f.ord - 1, f.phone, f.phone_lower, f.phone_digits
			FROM unnest($2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS f (phone, phone_lower, phone_digits, ord)`,
			n.ID, n.Phones, lower, dig)
		return err
	})
	return wrap(fmt.Sprintf("upsert profile %q", n.ID), err)
}

// profileColumns selects a profile with its emails and phones as arrays,
// in their stored order, so one query returns whole profiles.
const profileColumns = `p.id, p.name,
	coalesce((SELECT array_agg(email ORDER BY position) FROM profile_emails WHERE profile_id = p.id), '{}'),
	coalesce((SELECT array_agg(phone ORDER BY position) FROM profile_phones WHERE profile_id = p.id), '{}')`

func scanProfile(row pgx.Row) (*rechargekit.Profile, error) {
	var p rechargekit.Profile
	if err := row.Scan(&p.ID, &p.Name, &p.Emails, &p.Phones); err != nil {
		return nil, err
	}
	return &p, nil
}

// Profile returns one profile.
func (s *Store) Profile(ctx context.Context, id string) (*rechargekit.Profile, error) {
	p, err := scanProfile(s.pool.QueryRow(ctx, `SELECT `+profileColumns+` FROM profiles p WHERE p.id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
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
	rows, err := s.pool.Query(ctx, `
		SELECT `+profileColumns+` FROM profiles p
		WHERE $1 = ''
		   OR strpos(p.name_lower, $1) > 0
		   OR EXISTS (SELECT 1 FROM profile_emails e WHERE e.profile_id = p.id AND strpos(e.email_lower, $1) > 0)
		   OR EXISTS (SELECT 1 FROM profile_phones f WHERE f.profile_id = p.id
		              AND (strpos(f.phone_lower, $1) > 0 OR ($2 <> '' AND strpos(f.phone_digits, $2) > 0)))
		ORDER BY p.name_lower, p.name, p.id
		LIMIT $3`,
		strings.ToLower(q), rechargekit.PhoneQueryDigits(q), limit)
	if err != nil {
		return nil, wrap("search profiles", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*rechargekit.Profile, error) { return scanProfile(row) })
	if err != nil {
		return nil, wrap("search profiles", err)
	}
	if out == nil {
		out = []*rechargekit.Profile{}
	}
	return out, nil
}

// Link returns the profile's current link.
func (s *Store) Link(ctx context.Context, profileID string) (*rechargekit.Link, error) {
	l, err := getLink(ctx, s.pool, profileID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, rechargekit.Errorf(rechargekit.ENOTFOUND, "profile %q is not linked", profileID)
	}
	if err != nil {
		return nil, wrap(fmt.Sprintf("get link of profile %q", profileID), err)
	}
	return l, nil
}

func getLink(ctx context.Context, q querier, profileID string) (*rechargekit.Link, error) {
	l := rechargekit.Link{ProfileID: profileID}
	err := q.QueryRow(ctx, `SELECT customer_id, method, linked_by, linked_at FROM links WHERE profile_id = $1`, profileID).
		Scan(&l.CustomerID, &l.Method, &l.By, &l.At)
	if err != nil {
		return nil, err
	}
	l.At = l.At.UTC()
	return &l, nil
}

// lockProfile locks the profile's row until tx ends, so that link changes
// to one profile happen one at a time across every replica.
func lockProfile(ctx context.Context, tx pgx.Tx, profileID string) error {
	var one int
	err := tx.QueryRow(ctx, `SELECT 1 FROM profiles WHERE id = $1 FOR UPDATE`, profileID).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return rechargekit.Errorf(rechargekit.ENOTFOUND, "no profile %q", profileID)
	}
	return err
}

// CreateLink links a profile. The profile's row lock makes the decision:
// of two racing links to different customers, the second waits, then sees
// the first one's link and is refused and audited.
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
	err := s.write(ctx, func(tx pgx.Tx) error {
		refused = nil
		if err := lockProfile(ctx, tx, want.ProfileID); err != nil {
			return err
		}
		cur, err := getLink(ctx, tx, want.ProfileID)
		switch {
		case err == nil && cur.CustomerID == want.CustomerID:
			*l = *cur
			return nil
		case err == nil:
			refused = rechargekit.Errorf(rechargekit.ECONFLICT,
				"profile %q is already linked to Recharge customer %d", want.ProfileID, cur.CustomerID)
			return appendAudit(ctx, tx, &rechargekit.AuditEntry{
				At: s.now(), Actor: want.By, Action: rechargekit.AuditLinkConflict,
				ProfileID: want.ProfileID, CustomerID: want.CustomerID,
				Detail: fmt.Sprintf("refused %s link to Recharge customer %d: already linked to Recharge customer %d",
					want.Method, want.CustomerID, cur.CustomerID),
			})
		case !errors.Is(err, pgx.ErrNoRows):
			return err
		}
		if want.Method == rechargekit.LinkAuto {
			var unlinked bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM unlinks WHERE profile_id = $1)`, want.ProfileID).Scan(&unlinked); err != nil {
				return err
			}
			if unlinked {
				return rechargekit.Errorf(rechargekit.ECONFLICT,
					"profile %q was unlinked by an agent, so it is never linked automatically again", want.ProfileID)
			}
		}
		tag, err := tx.Exec(ctx, `
			INSERT INTO links (profile_id, customer_id, method, linked_by, linked_at) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (profile_id) DO NOTHING`,
			want.ProfileID, want.CustomerID, want.Method, want.By, want.At)
		if err != nil {
			return err
		}
		if tag.RowsAffected() != 1 {
			// The profile's row lock is held, so no one can have linked
			// it since the read above.
			return fmt.Errorf("link of profile %q appeared under its row lock", want.ProfileID)
		}
		*l = want
		return appendAudit(ctx, tx, &rechargekit.AuditEntry{
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
	err := s.write(ctx, func(tx pgx.Tx) error {
		if err := lockProfile(ctx, tx, profileID); rechargekit.ErrorCode(err) == rechargekit.ENOTFOUND {
			return rechargekit.Errorf(rechargekit.ENOTFOUND, "profile %q is not linked", profileID)
		} else if err != nil {
			return err
		}
		var customerID int64
		err := tx.QueryRow(ctx, `DELETE FROM links WHERE profile_id = $1 RETURNING customer_id`, profileID).Scan(&customerID)
		if errors.Is(err, pgx.ErrNoRows) {
			return rechargekit.Errorf(rechargekit.ENOTFOUND, "profile %q is not linked", profileID)
		}
		if err != nil {
			return err
		}
		now := s.now()
		_, err = tx.Exec(ctx, `
			INSERT INTO unlinks (profile_id, customer_id, unlinked_by, unlinked_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (profile_id) DO UPDATE SET customer_id = excluded.customer_id,
				unlinked_by = excluded.unlinked_by, unlinked_at = excluded.unlinked_at`,
			profileID, customerID, by, now)
		if err != nil {
			return err
		}
		return appendAudit(ctx, tx, &rechargekit.AuditEntry{
			At: now, Actor: by, Action: rechargekit.AuditUnlink, ProfileID: profileID, CustomerID: customerID,
			Detail: fmt.Sprintf("unlinked from Recharge customer %d", customerID),
		})
	})
	return wrap(fmt.Sprintf("unlink profile %q", profileID), err)
}

// WasUnlinked reports whether the profile was ever unlinked.
func (s *Store) WasUnlinked(ctx context.Context, profileID string) (bool, error) {
	var unlinked bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM unlinks WHERE profile_id = $1)`, profileID).Scan(&unlinked)
	if err != nil {
		return false, wrap(fmt.Sprintf("check unlink of profile %q", profileID), err)
	}
	return unlinked, nil
}

// appendAudit inserts e inside tx and sets e.ID.
func appendAudit(ctx context.Context, tx pgx.Tx, e *rechargekit.AuditEntry) error {
	err := tx.QueryRow(ctx, `
		INSERT INTO audit (at, actor, action, profile_id, customer_id, detail) VALUES ($1, $2, $3, $4, $5, $6)
		RETURNING id`,
		truncate(e.At), e.Actor, e.Action, e.ProfileID, e.CustomerID, e.Detail).Scan(&e.ID)
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
	rows, err := s.pool.Query(ctx, `
		SELECT id, at, actor, action, profile_id, customer_id, detail FROM audit
		WHERE $1 = '' OR profile_id = $1
		ORDER BY id DESC LIMIT $2`, f.ProfileID, limit)
	if err != nil {
		return nil, wrap("read audit", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*rechargekit.AuditEntry, error) {
		var e rechargekit.AuditEntry
		if err := row.Scan(&e.ID, &e.At, &e.Actor, &e.Action, &e.ProfileID, &e.CustomerID, &e.Detail); err != nil {
			return nil, err
		}
		e.At = e.At.UTC()
		return &e, nil
	})
	if err != nil {
		return nil, wrap("read audit", err)
	}
	if out == nil {
		out = []*rechargekit.AuditEntry{}
	}
	return out, nil
}

// Settings keys.
const settingAutoLink = "auto_link"

// Settings returns the settings, defaults for keys never set.
func (s *Store) Settings(ctx context.Context) (*rechargekit.Settings, error) {
	st, err := readSettings(ctx, s.pool)
	return st, wrap("read settings", err)
}

func readSettings(ctx context.Context, q querier) (*rechargekit.Settings, error) {
	st := rechargekit.DefaultSettings()
	rows, err := q.Query(ctx, `SELECT key, value FROM settings`)
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
	err := s.write(ctx, func(tx pgx.Tx) error {
		// Two admins saving at once must not both audit the same change
		// from the same old value: writers take turns, readers do not wait.
		if _, err := tx.Exec(ctx, `LOCK TABLE settings IN EXCLUSIVE MODE`); err != nil {
			return err
		}
		cur, err := readSettings(ctx, tx)
		if err != nil {
			return err
		}
		if cur.AutoLink == st.AutoLink {
			return nil
		}
		now := s.now()
		_, err = tx.Exec(ctx, `
			INSERT INTO settings (key, value, updated_by, updated_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_by = excluded.updated_by, updated_at = excluded.updated_at`,
			settingAutoLink, strconv.FormatBool(st.AutoLink), by, now)
		if err != nil {
			return err
		}
		return appendAudit(ctx, tx, &rechargekit.AuditEntry{
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
	err := s.write(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `
			INSERT INTO users (email, email_lower, role, password_hash, created_at) VALUES ($1, $2, $3, $4, $5)
			RETURNING id`,
			u.Email, strings.ToLower(u.Email), u.Role, u.PasswordHash, created).Scan(&id)
		if isCode(err, uniqueViolation) {
			return rechargekit.Errorf(rechargekit.ECONFLICT, "a user with email %q already exists", u.Email)
		}
		if err != nil {
			return err
		}
		return appendAudit(ctx, tx, &rechargekit.AuditEntry{
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

func scanUser(row pgx.Row) (*rechargekit.User, error) {
	var u rechargekit.User
	if err := row.Scan(&u.ID, &u.Email, &u.Role, &u.PasswordHash, &u.CreatedAt); err != nil {
		return nil, err
	}
	u.CreatedAt = u.CreatedAt.UTC()
	return &u, nil
}

// UserByEmail returns a user by email, case-insensitively.
func (s *Store) UserByEmail(ctx context.Context, email string) (*rechargekit.User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE email_lower = $1`,
		strings.ToLower(strings.TrimSpace(email))))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, rechargekit.Errorf(rechargekit.ENOTFOUND, "no user with email %q", email)
	}
	if err != nil {
		return nil, wrap("get user by email", err)
	}
	return u, nil
}

// UserByID returns a user.
func (s *Store) UserByID(ctx context.Context, id int64) (*rechargekit.User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, rechargekit.Errorf(rechargekit.ENOTFOUND, "no user %d", id)
	}
	if err != nil {
		return nil, wrap(fmt.Sprintf("get user %d", id), err)
	}
	return u, nil
}

// Users lists users by email.
func (s *Store) Users(ctx context.Context) ([]*rechargekit.User, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+userColumns+` FROM users ORDER BY email_lower, id`)
	if err != nil {
		return nil, wrap("list users", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*rechargekit.User, error) { return scanUser(row) })
	if err != nil {
		return nil, wrap("list users", err)
	}
	if out == nil {
		out = []*rechargekit.User{}
	}
	return out, nil
}

// DeleteUser removes a user; the foreign key removes their sessions.
func (s *Store) DeleteUser(ctx context.Context, id int64, by string) error {
	if err := rechargekit.ValidateActor(by); err != nil {
		return err
	}
	err := s.write(ctx, func(tx pgx.Tx) error {
		var email, role string
		err := tx.QueryRow(ctx, `DELETE FROM users WHERE id = $1 RETURNING email, role`, id).Scan(&email, &role)
		if errors.Is(err, pgx.ErrNoRows) {
			return rechargekit.Errorf(rechargekit.ENOTFOUND, "no user %d", id)
		}
		if err != nil {
			return err
		}
		return appendAudit(ctx, tx, &rechargekit.AuditEntry{
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
	err := s.write(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM sessions WHERE expires_at <= $1`, created); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `
			INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)`,
			sess.TokenHash, sess.UserID, sess.CSRFToken, created, expires)
		switch {
		case isCode(err, uniqueViolation):
			return rechargekit.Errorf(rechargekit.ECONFLICT, "that session token is already stored")
		case isCode(err, foreignKeyViolation):
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
	err := s.pool.QueryRow(ctx, `
		SELECT user_id, csrf_token, created_at, expires_at FROM sessions WHERE token_hash = $1 AND expires_at > $2`,
		tokenHash, truncate(now)).
		Scan(&sess.UserID, &sess.CSRFToken, &sess.CreatedAt, &sess.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		// The message never names the hash: it is a credential.
		return nil, rechargekit.Errorf(rechargekit.ENOTFOUND, "no such session, or it has expired")
	}
	if err != nil {
		return nil, wrap("get session", err)
	}
	sess.CreatedAt, sess.ExpiresAt = sess.CreatedAt.UTC(), sess.ExpiresAt.UTC()
	return &sess, nil
}

// DeleteSession removes a session; a missing one is not an error.
func (s *Store) DeleteSession(ctx context.Context, tokenHash string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE token_hash = $1`, tokenHash)
	return wrap("delete session", err)
}

// TouchSession sets a valid session's expiry to until.
func (s *Store) TouchSession(ctx context.Context, tokenHash string, now, until time.Time) error {
	now, until = truncate(now), truncate(until)
	if !until.After(now) {
		return rechargekit.Errorf(rechargekit.EINVALID, "a session must expire after now")
	}
	tag, err := s.pool.Exec(ctx, `
		UPDATE sessions SET expires_at = $1 WHERE token_hash = $2 AND expires_at > $3`,
		until, tokenHash, now)
	if err != nil {
		return wrap("touch session", err)
	}
	if tag.RowsAffected() == 0 {
		return rechargekit.Errorf(rechargekit.ENOTFOUND, "no such session, or it has expired")
	}
	return nil
}

// DeleteUserSessions removes every session of a user, audited.
func (s *Store) DeleteUserSessions(ctx context.Context, userID int64, by string) (int, error) {
	if err := rechargekit.ValidateActor(by); err != nil {
		return 0, err
	}
	var n int64
	err := s.write(ctx, func(tx pgx.Tx) error {
		var email string
		// FOR UPDATE: a concurrent DeleteUser waits, so the entry never
		// names a user already gone.
		err := tx.QueryRow(ctx, `SELECT email FROM users WHERE id = $1 FOR UPDATE`, userID).Scan(&email)
		if errors.Is(err, pgx.ErrNoRows) {
			return rechargekit.Errorf(rechargekit.ENOTFOUND, "no user %d", userID)
		}
		if err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1`, userID)
		if err != nil {
			return err
		}
		n = tag.RowsAffected()
		return appendAudit(ctx, tx, &rechargekit.AuditEntry{
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
	err := s.write(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO api_tokens (name, hash, created_at) VALUES ($1, $2, $3) RETURNING id`,
			t.Name, t.Hash, created).Scan(&id)
		if pe := pgError(err); pe != nil && pe.Code == uniqueViolation {
			if pe.ConstraintName == "api_tokens_name_key" {
				return rechargekit.Errorf(rechargekit.ECONFLICT, "an API token named %q already exists", t.Name)
			}
			return rechargekit.Errorf(rechargekit.ECONFLICT, "that API token is already stored")
		}
		if err != nil {
			return err
		}
		return appendAudit(ctx, tx, &rechargekit.AuditEntry{
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

func scanToken(row pgx.Row) (*rechargekit.APIToken, error) {
	var t rechargekit.APIToken
	if err := row.Scan(&t.ID, &t.Name, &t.Hash, &t.CreatedAt); err != nil {
		return nil, err
	}
	t.CreatedAt = t.CreatedAt.UTC()
	return &t, nil
}

// APITokenByHash returns a token.
func (s *Store) APITokenByHash(ctx context.Context, hash string) (*rechargekit.APIToken, error) {
	t, err := scanToken(s.pool.QueryRow(ctx, `SELECT id, name, hash, created_at FROM api_tokens WHERE hash = $1`, hash))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, rechargekit.Errorf(rechargekit.ENOTFOUND, "no such API token")
	}
	if err != nil {
		return nil, wrap("get API token", err)
	}
	return t, nil
}

// APITokens lists API tokens by name.
func (s *Store) APITokens(ctx context.Context) ([]*rechargekit.APIToken, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, name, hash, created_at FROM api_tokens ORDER BY name, id`)
	if err != nil {
		return nil, wrap("list API tokens", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*rechargekit.APIToken, error) { return scanToken(row) })
	if err != nil {
		return nil, wrap("list API tokens", err)
	}
	if out == nil {
		out = []*rechargekit.APIToken{}
	}
	return out, nil
}

// DeleteAPIToken revokes a token.
func (s *Store) DeleteAPIToken(ctx context.Context, id int64, by string) error {
	if err := rechargekit.ValidateActor(by); err != nil {
		return err
	}
	err := s.write(ctx, func(tx pgx.Tx) error {
		var name string
		err := tx.QueryRow(ctx, `DELETE FROM api_tokens WHERE id = $1 RETURNING name`, id).Scan(&name)
		if errors.Is(err, pgx.ErrNoRows) {
			return rechargekit.Errorf(rechargekit.ENOTFOUND, "no API token %d", id)
		}
		if err != nil {
			return err
		}
		return appendAudit(ctx, tx, &rechargekit.AuditEntry{
			At: s.now(), Actor: by, Action: rechargekit.AuditTokenChange,
			Detail: fmt.Sprintf("revoked API token %s", name),
		})
	})
	return wrap(fmt.Sprintf("delete API token %d", id), err)
}
