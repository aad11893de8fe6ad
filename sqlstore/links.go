package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"time"

	"github.com/rechargekit/rechargekit"
)

// Link implements rechargekit.LinkStore.
func (s *Store) Link(ctx context.Context, profileID string) (*rechargekit.Link, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	l, err := findLink(ctx, s.r, profileID)
	if err != nil {
		return nil, s.wrap(fmt.Sprintf("get link of profile %q", profileID), s.check(err, notLinked(profileID)))
	}
	return l, nil
}

func notLinked(profileID string) on {
	return on{NoRows, rechargekit.Errorf(rechargekit.ENOTFOUND, "Profile %q is not linked.", profileID)}
}

// findLink returns the profile's link, or sql.ErrNoRows.
func findLink(ctx context.Context, q dbtx, profileID string) (*rechargekit.Link, error) {
	l := rechargekit.Link{ProfileID: profileID}
	return &l, q.QueryRowContext(ctx, `SELECT customer_id, method, linked_by, linked_at FROM links WHERE profile_id = $1`, profileID).
		Scan(&l.CustomerID, &l.Method, &l.By, scanTime{&l.At})
}

// lockProfile locks the profile's row until tx ends, so that link changes
// to one profile happen one at a time, across processes and replicas too.
// A missing profile gives missing.
func (s *Store) lockProfile(ctx context.Context, tx *sql.Tx, profileID string, missing error) error {
	var one int
	err := tx.QueryRowContext(ctx, `SELECT 1 FROM profiles WHERE id = $1`+s.d.ForUpdate, profileID).Scan(&one)
	return s.check(err, on{NoRows, missing})
}

// wasUnlinked reports whether the profile has an unlink tombstone.
func wasUnlinked(ctx context.Context, q dbtx, profileID string) (unlinked bool, err error) {
	return unlinked, q.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM unlinks WHERE profile_id = $1)`, profileID).Scan(&unlinked)
}

// CreateLink implements rechargekit.LinkStore. The profile's row lock
// makes the decision: of two racing links to different customers, the
// second waits, then sees the first one's link and is refused and audited.
func (s *Store) CreateLink(ctx context.Context, l *rechargekit.Link) error {
	if err := l.Validate(); err != nil {
		return err
	}
	var stored rechargekit.Link
	var refused error // committed with its audit entry, then returned
	err := s.change(ctx, fmt.Sprintf("link profile %q", l.ProfileID), l.By, func(ctx context.Context, tx *sql.Tx, now time.Time) (*rechargekit.AuditEntry, error) {
		want := *l
		want.At, refused = stamp(l.At, now), nil
		missing := rechargekit.Errorf(rechargekit.ENOTFOUND, "There is no profile %q.", want.ProfileID)
		if err := s.lockProfile(ctx, tx, want.ProfileID, missing); err != nil {
			return nil, err
		}
		cur, err := findLink(ctx, tx, want.ProfileID)
		switch {
		case err == nil && cur.CustomerID == want.CustomerID:
			stored = *cur
			return nil, nil
		case err == nil:
			refused = rechargekit.Errorf(rechargekit.ECONFLICT,
				"Profile %q is already linked to Recharge customer %d.", want.ProfileID, cur.CustomerID)
			return &rechargekit.AuditEntry{At: now, Action: rechargekit.AuditLinkConflict, ProfileID: want.ProfileID, CustomerID: want.CustomerID,
				Detail: fmt.Sprintf("refused %s link to Recharge customer %d: already linked to Recharge customer %d",
					want.Method, want.CustomerID, cur.CustomerID)}, nil
		case s.condition(err) != NoRows:
			return nil, err
		}
		if want.Method == rechargekit.LinkAuto {
			if unlinked, err := wasUnlinked(ctx, tx, want.ProfileID); err != nil || unlinked {
				if err == nil {
					err = rechargekit.Errorf(rechargekit.ECONFLICT,
						"Profile %q was unlinked by an agent, so it is never linked automatically again.", want.ProfileID)
				}
				return nil, err
			}
		}
		// The profile's row is locked (on SQLite, the whole database is),
		// so no one can have linked it since the read above.
		_, err = tx.ExecContext(ctx, `INSERT INTO links (profile_id, customer_id, method, linked_by, linked_at) VALUES ($1, $2, $3, $4, $5)`,
			want.ProfileID, want.CustomerID, want.Method, want.By, dbTime(want.At))
		if err != nil {
			return nil, err
		}
		stored = want
		return &rechargekit.AuditEntry{At: want.At, Action: rechargekit.AuditLink, ProfileID: want.ProfileID, CustomerID: want.CustomerID,
			Detail: fmt.Sprintf("linked to Recharge customer %d (%s)", want.CustomerID, want.Method)}, nil
	})
	if err != nil || refused != nil {
		return cmp.Or(err, refused)
	}
	*l = stored
	return nil
}

// DeleteLink implements rechargekit.LinkStore. It takes the profile's row
// lock as CreateLink does, so a link and an unlink of one profile never
// interleave and the audit log tells them in the order they took effect.
func (s *Store) DeleteLink(ctx context.Context, profileID, by string) error {
	return s.change(ctx, fmt.Sprintf("unlink profile %q", profileID), by, func(ctx context.Context, tx *sql.Tx, now time.Time) (*rechargekit.AuditEntry, error) {
		if err := s.lockProfile(ctx, tx, profileID, notLinked(profileID).err); err != nil {
			return nil, err
		}
		var customerID int64
		if err := tx.QueryRowContext(ctx, `DELETE FROM links WHERE profile_id = $1 RETURNING customer_id`, profileID).Scan(&customerID); err != nil {
			return nil, s.check(err, notLinked(profileID))
		}
		_, err := tx.ExecContext(ctx, `
			INSERT INTO unlinks (profile_id, customer_id, unlinked_by, unlinked_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (profile_id) DO UPDATE SET customer_id = excluded.customer_id,
				unlinked_by = excluded.unlinked_by, unlinked_at = excluded.unlinked_at`,
			profileID, customerID, by, dbTime(now))
		return &rechargekit.AuditEntry{Action: rechargekit.AuditUnlink, ProfileID: profileID, CustomerID: customerID,
			Detail: fmt.Sprintf("unlinked from Recharge customer %d", customerID)}, err
	})
}

// WasUnlinked implements rechargekit.LinkStore.
func (s *Store) WasUnlinked(ctx context.Context, profileID string) (bool, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	unlinked, err := wasUnlinked(ctx, s.r, profileID)
	return unlinked, s.wrap(fmt.Sprintf("check unlink of profile %q", profileID), err)
}

// Audit implements rechargekit.AuditLog.
func (s *Store) Audit(ctx context.Context, f rechargekit.AuditFilter) ([]*rechargekit.AuditEntry, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = defaultAuditLimit
	}
	return list(ctx, s, "read audit", func(r row) (*rechargekit.AuditEntry, error) {
		var e rechargekit.AuditEntry
		return &e, r.Scan(&e.ID, scanTime{&e.At}, &e.Actor, &e.Action, &e.ProfileID, &e.CustomerID, &e.Detail)
	}, `SELECT id, at, actor, action, profile_id, customer_id, detail FROM audit
		WHERE $1 = '' OR profile_id = $1
		ORDER BY id DESC LIMIT $2`, f.ProfileID, min(limit, maxLimit))
}

// Settings keys.
const settingAutoLink = "auto_link"

// Settings implements rechargekit.SettingsStore.
func (s *Store) Settings(ctx context.Context) (*rechargekit.Settings, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	st := rechargekit.DefaultSettings()
	var v string
	err := s.r.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = $1`, settingAutoLink).Scan(&v)
	if err == nil {
		st.AutoLink, err = strconv.ParseBool(v)
	}
	if err != nil && s.condition(err) != NoRows {
		return nil, s.wrap("read settings", err)
	}
	return st, nil
}

// UpdateSettings implements rechargekit.SettingsStore. A switch is written
// only when it changes, by a statement that itself says whether it did:
// of two admins making the same change at once, the second waits for the
// first one's row, then finds nothing to change, so the change is audited
// once. (A switch has two values, so a changed one held the other.)
func (s *Store) UpdateSettings(ctx context.Context, st *rechargekit.Settings, by string) error {
	if st == nil {
		return rechargekit.Errorf(rechargekit.EINVALID, "Settings are required.")
	}
	return s.change(ctx, "update settings", by, func(ctx context.Context, tx *sql.Tx, now time.Time) (*rechargekit.AuditEntry, error) {
		// A store never configured gets the default's row first.
		_, err := tx.ExecContext(ctx, `INSERT INTO settings (key, value, updated_by, updated_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (key) DO NOTHING`, settingAutoLink, strconv.FormatBool(rechargekit.DefaultSettings().AutoLink), by, dbTime(now))
		if err != nil {
			return nil, err
		}
		n, err := rowsAffected(tx.ExecContext(ctx, `UPDATE settings SET value = $2, updated_by = $3, updated_at = $4 WHERE key = $1 AND value <> $2`,
			settingAutoLink, strconv.FormatBool(st.AutoLink), by, dbTime(now)))
		if err != nil || n == 0 {
			return nil, err
		}
		return &rechargekit.AuditEntry{Action: rechargekit.AuditSettingChange,
			Detail: fmt.Sprintf("%s: %s -> %s", settingAutoLink, rechargekit.OnOff(!st.AutoLink), rechargekit.OnOff(st.AutoLink))}, nil
	})
}
