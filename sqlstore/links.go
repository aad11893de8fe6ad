package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"time"

	"github.com/rechargekit/rechargekit"
)

// Link implements rechargekit.LinkStore.
func (s *Store) Link(ctx context.Context, profileID string) (l *rechargekit.Link, err error) {
	err = s.read(ctx, func(ctx context.Context, q dbtx) (err error) {
		l, err = findLink(ctx, q, profileID)
		return err
	})
	return l, s.wrap(fmt.Sprintf("get link of profile %q", profileID), s.check(err, notLinked(profileID)))
}

func notLinked(profileID string) on {
	return on{NoRows, rechargekit.Errorf(rechargekit.ENOTFOUND, "Profile %q is not linked.", profileID)}
}

// findLink returns the profile's link, or sql.ErrNoRows.
func findLink(ctx context.Context, q dbtx, profileID string) (*rechargekit.Link, error) {
	l := rechargekit.Link{ProfileID: profileID}
	err := q.QueryRowContext(ctx, `SELECT customer_id, method, linked_by, linked_at FROM links WHERE profile_id = $1`, profileID).
		Scan(&l.CustomerID, &l.Method, &l.By, scanTime{&l.At})
	if err != nil {
		return nil, err
	}
	return &l, nil
}

// lockProfile locks the profile's row until tx ends, so that link changes
// to one profile happen one at a time, across processes and replicas too.
func (s *Store) lockProfile(ctx context.Context, tx *sql.Tx, profileID string) error {
	var one int
	err := tx.QueryRowContext(ctx, `SELECT 1 FROM profiles WHERE id = $1`+s.d.ForUpdate, profileID).Scan(&one)
	return s.check(err, on{NoRows, rechargekit.Errorf(rechargekit.ENOTFOUND, "There is no profile %q.", profileID)})
}

// wasUnlinked reports whether the profile has an unlink tombstone.
func wasUnlinked(ctx context.Context, q dbtx, profileID string) (bool, error) {
	var unlinked bool
	err := q.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM unlinks WHERE profile_id = $1)`, profileID).Scan(&unlinked)
	return unlinked, err
}

// CreateLink implements rechargekit.LinkStore. The profile's row lock
// makes the decision: of two racing links to different customers, the
// second waits, then sees the first one's link and is refused and audited.
func (s *Store) CreateLink(ctx context.Context, l *rechargekit.Link) error {
	if err := l.Validate(); err != nil {
		return err
	}
	var refused error // committed with its audit entry, then returned
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx, now time.Time) error {
		want := *l
		if want.At.IsZero() {
			want.At = now
		}
		want.At = truncate(want.At)
		refused = nil
		if err := s.lockProfile(ctx, tx, want.ProfileID); err != nil {
			return err
		}
		cur, err := findLink(ctx, tx, want.ProfileID)
		switch s.condition(err) {
		case NoRows:
		case Other:
			if err != nil {
				return err
			}
			if cur.CustomerID == want.CustomerID {
				*l = *cur
				return nil
			}
			refused = rechargekit.Errorf(rechargekit.ECONFLICT,
				"Profile %q is already linked to Recharge customer %d.", want.ProfileID, cur.CustomerID)
			return appendAudit(ctx, tx, &rechargekit.AuditEntry{
				At: now, Actor: want.By, Action: rechargekit.AuditLinkConflict,
				ProfileID: want.ProfileID, CustomerID: want.CustomerID,
				Detail: fmt.Sprintf("refused %s link to Recharge customer %d: already linked to Recharge customer %d",
					want.Method, want.CustomerID, cur.CustomerID),
			})
		default:
			return err
		}
		if want.Method == rechargekit.LinkAuto {
			if unlinked, err := wasUnlinked(ctx, tx, want.ProfileID); err != nil || unlinked {
				if err == nil {
					err = rechargekit.Errorf(rechargekit.ECONFLICT,
						"Profile %q was unlinked by an agent, so it is never linked automatically again.", want.ProfileID)
				}
				return err
			}
		}
		// The profile's row is locked (or, on SQLite, the whole database
		// is), so no one can have linked it since the read above.
		_, err = tx.ExecContext(ctx, `INSERT INTO links (profile_id, customer_id, method, linked_by, linked_at) VALUES ($1, $2, $3, $4, $5)`,
			want.ProfileID, want.CustomerID, want.Method, want.By, dbTime(want.At))
		if err != nil {
			return err
		}
		*l = want
		return appendAudit(ctx, tx, &rechargekit.AuditEntry{
			At: want.At, Actor: want.By, Action: rechargekit.AuditLink,
			ProfileID: want.ProfileID, CustomerID: want.CustomerID,
			Detail: fmt.Sprintf("linked to Recharge customer %d (%s)", want.CustomerID, want.Method),
		})
	})
	if err != nil {
		return s.wrap(fmt.Sprintf("link profile %q", l.ProfileID), err)
	}
	return refused
}

// DeleteLink implements rechargekit.LinkStore. It takes the profile's row
// lock as CreateLink does, so a link and an unlink of one profile never
// interleave and the audit log tells them in the order they took effect.
func (s *Store) DeleteLink(ctx context.Context, profileID, by string) error {
	if err := rechargekit.ValidateActor(by); err != nil {
		return err
	}
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx, now time.Time) error {
		if err := s.lockProfile(ctx, tx, profileID); rechargekit.ErrorCode(err) == rechargekit.ENOTFOUND {
			return notLinked(profileID).err
		} else if err != nil {
			return err
		}
		var customerID int64
		err := tx.QueryRowContext(ctx, `DELETE FROM links WHERE profile_id = $1 RETURNING customer_id`, profileID).Scan(&customerID)
		if err != nil {
			return s.check(err, notLinked(profileID))
		}
		_, err = tx.ExecContext(ctx, `
			INSERT INTO unlinks (profile_id, customer_id, unlinked_by, unlinked_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (profile_id) DO UPDATE SET customer_id = excluded.customer_id,
				unlinked_by = excluded.unlinked_by, unlinked_at = excluded.unlinked_at`,
			profileID, customerID, by, dbTime(now))
		if err != nil {
			return err
		}
		return appendAudit(ctx, tx, &rechargekit.AuditEntry{
			At: now, Actor: by, Action: rechargekit.AuditUnlink, ProfileID: profileID, CustomerID: customerID,
			Detail: fmt.Sprintf("unlinked from Recharge customer %d", customerID),
		})
	})
	return s.wrap(fmt.Sprintf("unlink profile %q", profileID), err)
}

// WasUnlinked implements rechargekit.LinkStore.
func (s *Store) WasUnlinked(ctx context.Context, profileID string) (unlinked bool, err error) {
	err = s.read(ctx, func(ctx context.Context, q dbtx) (err error) {
		unlinked, err = wasUnlinked(ctx, q, profileID)
		return err
	})
	return unlinked, s.wrap(fmt.Sprintf("check unlink of profile %q", profileID), err)
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

// Audit implements rechargekit.AuditLog.
func (s *Store) Audit(ctx context.Context, f rechargekit.AuditFilter) ([]*rechargekit.AuditEntry, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = defaultAuditLimit
	}
	out := []*rechargekit.AuditEntry{}
	err := s.read(ctx, func(ctx context.Context, q dbtx) error {
		rows, err := q.QueryContext(ctx, `
			SELECT id, at, actor, action, profile_id, customer_id, detail FROM audit
			WHERE $1 = '' OR profile_id = $1
			ORDER BY id DESC LIMIT $2`, f.ProfileID, min(limit, maxLimit))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var e rechargekit.AuditEntry
			if err := rows.Scan(&e.ID, scanTime{&e.At}, &e.Actor, &e.Action, &e.ProfileID, &e.CustomerID, &e.Detail); err != nil {
				return err
			}
			out = append(out, &e)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, s.wrap("read audit", err)
	}
	return out, nil
}

// Settings keys.
const settingAutoLink = "auto_link"

// Settings implements rechargekit.SettingsStore.
func (s *Store) Settings(ctx context.Context) (*rechargekit.Settings, error) {
	st := rechargekit.DefaultSettings()
	err := s.read(ctx, func(ctx context.Context, q dbtx) error {
		var v string
		err := q.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = $1`, settingAutoLink).Scan(&v)
		if s.condition(err) == NoRows {
			return nil
		} else if err != nil {
			return err
		}
		if st.AutoLink, err = strconv.ParseBool(v); err != nil {
			return fmt.Errorf("setting %s holds %q: %w", settingAutoLink, v, err)
		}
		return nil
	})
	if err != nil {
		return nil, s.wrap("read settings", err)
	}
	return st, nil
}

// UpdateSettings implements rechargekit.SettingsStore. Each switch is
// written only when it changes, by a statement that itself says whether it
// did: of two admins saving the same change at once, the second waits for
// the first one's row and then finds nothing to change, so the change is
// audited once.
func (s *Store) UpdateSettings(ctx context.Context, st *rechargekit.Settings, by string) error {
	if st == nil {
		return rechargekit.Errorf(rechargekit.EINVALID, "Settings are required.")
	}
	if err := rechargekit.ValidateActor(by); err != nil {
		return err
	}
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx, now time.Time) error {
		value, old := strconv.FormatBool(st.AutoLink), strconv.FormatBool(rechargekit.DefaultSettings().AutoLink)
		res, err := tx.ExecContext(ctx, `
			INSERT INTO settings (key, value, updated_by, updated_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (key) DO NOTHING`, settingAutoLink, value, by, dbTime(now))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			if err != nil {
				return err
			}
			// The row existed: change it only if it differs. A switch has
			// two values, so a changed one held the other.
			old = strconv.FormatBool(!st.AutoLink)
			res, err = tx.ExecContext(ctx, `
				UPDATE settings SET value = $2, updated_by = $3, updated_at = $4 WHERE key = $1 AND value <> $2`,
				settingAutoLink, value, by, dbTime(now))
			if err != nil {
				return err
			}
			if n, err = res.RowsAffected(); err != nil || n == 0 {
				return err
			}
		}
		if old == value {
			return nil // a new row that holds the default changes nothing
		}
		return appendAudit(ctx, tx, &rechargekit.AuditEntry{
			At: now, Actor: by, Action: rechargekit.AuditSettingChange,
			Detail: fmt.Sprintf("%s: %s -> %s", settingAutoLink, rechargekit.OnOff(!st.AutoLink), rechargekit.OnOff(st.AutoLink)),
		})
	})
	return s.wrap("update settings", err)
}
