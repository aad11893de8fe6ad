package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/rechargekit/rechargekit"
)

// Limits for searches and the audit log.
const (
	defaultSearchLimit = 50
	defaultAuditLimit  = 100
	maxLimit           = 1000
)

// UpsertProfile implements rechargekit.ProfileStore.
func (s *Store) UpsertProfile(ctx context.Context, p *rechargekit.Profile) (created bool, err error) {
	n, err := rechargekit.NormalizeProfile(p)
	if err != nil {
		return false, err
	}
	err = s.write(ctx, func(ctx context.Context, tx *sql.Tx, now time.Time) error {
		created, err = upsertProfile(ctx, tx, n, now)
		return err
	})
	return created, s.wrap(fmt.Sprintf("upsert profile %q", n.ID), err)
}

// upsertProfile stores a normalized profile and reports whether it is new.
// The insert that does nothing on conflict decides: of two racing creators
// one inserts, and the other waits for it and then updates.
func upsertProfile(ctx context.Context, tx *sql.Tx, p *rechargekit.Profile, now time.Time) (bool, error) {
	res, err := tx.ExecContext(ctx, `
		INSERT INTO profiles (id, name, name_lower, updated_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (id) DO NOTHING`, p.ID, p.Name, strings.ToLower(p.Name), dbTime(now))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, err
	}
	if n == 0 {
		_, err := tx.ExecContext(ctx, `UPDATE profiles SET name = $2, name_lower = $3, updated_at = $4 WHERE id = $1`,
			p.ID, p.Name, strings.ToLower(p.Name), dbTime(now))
		if err != nil {
			return false, err
		}
	}
	for _, stmt := range []string{`DELETE FROM profile_emails WHERE profile_id = $1`, `DELETE FROM profile_phones WHERE profile_id = $1`} {
		if _, err := tx.ExecContext(ctx, stmt, p.ID); err != nil {
			return false, err
		}
	}
	for i, e := range p.Emails {
		_, err := tx.ExecContext(ctx, `INSERT INTO profile_emails (profile_id, position, email, email_lower) VALUES ($1, $2, $3, $4)`,
			p.ID, i, e, strings.ToLower(e))
		if err != nil {
			return false, err
		}
	}
	for i, ph := range p.Phones {
		_, err := tx.ExecContext(ctx, `INSERT INTO profile_phones (profile_id, position, phone, phone_lower, phone_digits) VALUES ($1, $2, $3, $4, $5)`,
			p.ID, i, ph, strings.ToLower(ph), rechargekit.PhoneDigits(ph))
		if err != nil {
			return false, err
		}
	}
	return n == 1, nil
}

// Profile implements rechargekit.ProfileStore.
func (s *Store) Profile(ctx context.Context, id string) (*rechargekit.Profile, error) {
	found, err := s.findProfiles(ctx, fmt.Sprintf("get profile %q", id), `p.id = $1`, id)
	if err == nil && len(found) == 0 {
		err = rechargekit.Errorf(rechargekit.ENOTFOUND, "There is no profile %q.", id)
	}
	if err != nil {
		return nil, err
	}
	return found[0].Profile, nil
}

// SearchProfiles implements rechargekit.ProfileStore.
func (s *Store) SearchProfiles(ctx context.Context, q string, limit int) ([]*rechargekit.Profile, error) {
	found, err := s.SearchProfileSummaries(ctx, q, limit)
	if err != nil {
		return nil, err
	}
	out := make([]*rechargekit.Profile, len(found))
	for i, f := range found {
		out[i] = f.Profile
	}
	return out, nil
}

// SearchProfileSummaries implements rechargekit.ProfileStore.
func (s *Store) SearchProfileSummaries(ctx context.Context, q string, limit int) ([]*rechargekit.ProfileSummary, error) {
	q = strings.ToLower(strings.TrimSpace(q))
	if limit <= 0 {
		limit = defaultSearchLimit
	}
	// LIKE with the pattern's own wildcards escaped, so that "%" and "_"
	// in q match themselves; the text columns are lowered in Go.
	like := "%" + strings.NewReplacer("!", "!!", "%", "!%", "_", "!_").Replace(q) + "%"
	return s.findProfiles(ctx, "search profiles", `$1 = ''
		OR p.name_lower LIKE $2 ESCAPE '!'
		OR EXISTS (SELECT 1 FROM profile_emails e WHERE e.profile_id = p.id AND e.email_lower LIKE $2 ESCAPE '!')
		OR EXISTS (SELECT 1 FROM profile_phones f WHERE f.profile_id = p.id
		           AND (f.phone_lower LIKE $2 ESCAPE '!' OR ($3 <> '' AND f.phone_digits LIKE '%' || $3 || '%')))
		ORDER BY p.name_lower, p.name, p.id
		LIMIT $4`, q, like, rechargekit.PhoneQueryDigits(q), min(limit, maxLimit))
}

// findProfiles returns the profiles that match where (a condition on p,
// followed by any ORDER BY and LIMIT), each whole, with its link and its
// unlink state, in one query.
func (s *Store) findProfiles(ctx context.Context, op, where string, args ...any) ([]*rechargekit.ProfileSummary, error) {
	return list(ctx, s, op, scanProfileSummary, fmt.Sprintf(`
		SELECT p.id, p.name,
			coalesce((SELECT %[1]s(email ORDER BY position) FROM profile_emails WHERE profile_id = p.id), '[]'),
			coalesce((SELECT %[1]s(phone ORDER BY position) FROM profile_phones WHERE profile_id = p.id), '[]'),
			l.customer_id, l.method, l.linked_by, l.linked_at,
			EXISTS (SELECT 1 FROM unlinks u WHERE u.profile_id = p.id)
		FROM profiles p LEFT JOIN links l ON l.profile_id = p.id
		WHERE `, s.d.JSONArrayAgg)+where, args...)
}

func scanProfileSummary(r row) (*rechargekit.ProfileSummary, error) {
	var (
		p              rechargekit.Profile
		emails, phones string
		customerID     sql.NullInt64
		method, by     sql.NullString
		at             time.Time
		f              = &rechargekit.ProfileSummary{Profile: &p}
	)
	if err := r.Scan(&p.ID, &p.Name, &emails, &phones, &customerID, &method, &by, scanTime{&at}, &f.WasUnlinked); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(emails), &p.Emails); err != nil {
		return nil, fmt.Errorf("decode emails of profile %q: %w", p.ID, err)
	}
	if err := json.Unmarshal([]byte(phones), &p.Phones); err != nil {
		return nil, fmt.Errorf("decode phones of profile %q: %w", p.ID, err)
	}
	if customerID.Valid {
		f.Link = &rechargekit.Link{ProfileID: p.ID, CustomerID: customerID.Int64, Method: method.String, By: by.String, At: at}
	}
	return f, nil
}
