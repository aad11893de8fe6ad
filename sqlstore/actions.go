package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/rechargekit/rechargekit"
)

// Limits on an action record's free text, so that a caller cannot grow the
// audit without bound; generous enough for any real request and for
// Recharge's messages.
const (
	maxActionInputs  = 16 << 10
	maxActionMessage = 4 << 10
)

// actionRoles are the roles an action policy and an action's actor may have.
var actionRoles = []string{rechargekit.RoleAdmin, rechargekit.RoleAgent, rechargekit.RoleGladly}

// outcomes are the outcomes an attempt may be recorded with.
var outcomes = []string{rechargekit.OutcomePending, rechargekit.OutcomeDone, rechargekit.OutcomeRefusedPolicy,
	rechargekit.OutcomeRefusedRecharge, rechargekit.OutcomeFailed}

// checkField rejects text the stores cannot keep faithfully, as
// rechargekit's own checks do: invalid UTF-8, control characters (the
// message and inputs are one line), and values over max bytes.
func checkField(what, v string, max int, required bool) error {
	switch {
	case required && strings.TrimSpace(v) == "":
		return rechargekit.Errorf(rechargekit.EINVALID, "The action's %s is required.", what)
	case len(v) > max:
		return rechargekit.Errorf(rechargekit.EINVALID, "The action's %s is longer than %d bytes.", what, max)
	case !isText(v):
		return rechargekit.Errorf(rechargekit.EINVALID, "The action's %s is not one line of valid UTF-8 text.", what)
	}
	return nil
}

// isText reports whether v is valid UTF-8 without control characters.
func isText(v string) bool {
	return utf8.ValidString(v) && strings.IndexFunc(v, unicode.IsControl) < 0
}

// validateAction reports, with EINVALID, what is wrong with an attempt
// before it is recorded.
func validateAction(rec *rechargekit.ActionRecord) error {
	switch {
	case rec == nil:
		return rechargekit.Errorf(rechargekit.EINVALID, "An action record is required.")
	case !slices.Contains(rechargekit.AllActions(), rec.Action):
		return rechargekit.Errorf(rechargekit.EINVALID, "%q is not an action.", rec.Action)
	case !slices.Contains(outcomes, rec.Outcome):
		return rechargekit.Errorf(rechargekit.EINVALID, "%q is not an action outcome.", rec.Outcome)
	case rec.Outcome == rechargekit.OutcomeDone:
		// Done is only ever learnt from Recharge, after the intent was
		// recorded: an attempt cannot begin done.
		return rechargekit.Errorf(rechargekit.EINVALID, "An action attempt cannot begin done: record its intent first.")
	case !slices.Contains(actionRoles, rec.ActorRole):
		return rechargekit.Errorf(rechargekit.EINVALID, "%q is not a role that can act.", rec.ActorRole)
	case rec.Via != rechargekit.ViaConsole && rec.Via != rechargekit.ViaAPI && rec.Via != rechargekit.ViaGladly:
		return rechargekit.Errorf(rechargekit.EINVALID, "%q is not where an action can come from.", rec.Via)
	case rec.CustomerID < 0 || rec.SubscriptionID < 0:
		return rechargekit.Errorf(rechargekit.EINVALID, "Recharge ids must not be negative.")
	case rec.IdempotencyKey != "" && rec.RequestHash == "":
		return rechargekit.Errorf(rechargekit.EINVALID, "An action with an idempotency key needs the hash of its request.")
	case rec.Inputs != "" && !json.Valid([]byte(rec.Inputs)):
		return rechargekit.Errorf(rechargekit.EINVALID, "The action's inputs must be JSON.")
	}
	for _, f := range []struct {
		what     string
		v        string
		max      int
		required bool
	}{
		{"actor name", rec.ActorName, rechargekit.MaxTextLength, true},
		{"idempotency key", rec.IdempotencyKey, rechargekit.MaxIDLength, false},
		{"request hash", rec.RequestHash, rechargekit.MaxTextLength, false},
		{"correlation id", rec.CorrelationID, rechargekit.MaxIDLength, false},
		{"profile id", rec.ProfileID, rechargekit.MaxIDLength, false},
		{"inputs", rec.Inputs, maxActionInputs, false},
		{"message", rec.Message, maxActionMessage, false},
	} {
		if err := checkField(f.what, f.v, f.max, f.required); err != nil {
			return err
		}
	}
	return nil
}

// stateJSON encodes a subscription state for a state column; nil is NULL.
func stateJSON(st *rechargekit.SubscriptionState) (sql.NullString, error) {
	if st == nil {
		return sql.NullString{}, nil
	}
	b, err := json.Marshal(st)
	if err != nil {
		return sql.NullString{}, fmt.Errorf("encode subscription state: %w", err)
	}
	return sql.NullString{String: string(b), Valid: true}, nil
}

// BeginAction implements rechargekit.ActionStore. The attempt's row is
// inserted first; then the key is claimed by one upsert that inserts it,
// or takes it over when the attempt holding it began before the window,
// and otherwise changes nothing. PostgreSQL's upsert waits for a racing
// transaction that holds the same key and then sees its row, and SQLite
// runs one writer at a time, so of two attempts racing with one key (in
// any process or replica) exactly one claims it; the other reads the
// winner's attempt and rolls its own row back, writing nothing.
func (s *Store) BeginAction(ctx context.Context, rec *rechargekit.ActionRecord) (*rechargekit.ActionRecord, error) {
	if err := validateAction(rec); err != nil {
		return nil, err
	}
	before, err := stateJSON(rec.Before)
	if err != nil {
		return nil, err
	}
	after, err := stateJSON(rec.After)
	if err != nil {
		return nil, err
	}
	var (
		stored   = *rec
		existing *rechargekit.ActionRecord
		errReuse = errors.New("idempotency key held") // rolls back the attempt's row
	)
	err = s.write(ctx, func(ctx context.Context, tx *sql.Tx, now time.Time) error {
		stored.At, stored.CompletedAt = now, nil
		var completed any // NULL while pending
		if stored.Outcome != rechargekit.OutcomePending {
			stored.CompletedAt, completed = &now, dbTime(now)
		}
		err := tx.QueryRowContext(ctx, `
			INSERT INTO actions (at, completed_at, idempotency_key, request_hash, actor_role, actor_name, via, correlation_id,
				profile_id, customer_id, subscription_id, action, inputs, state_before, state_after, outcome, message)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
			RETURNING id`,
			dbTime(now), completed, rec.IdempotencyKey, rec.RequestHash, rec.ActorRole, rec.ActorName, rec.Via, rec.CorrelationID,
			rec.ProfileID, rec.CustomerID, rec.SubscriptionID, rec.Action, rec.Inputs, before, after, rec.Outcome, rec.Message,
		).Scan(&stored.ID)
		if err != nil || rec.IdempotencyKey == "" {
			return err
		}
		var claimed int64
		err = tx.QueryRowContext(ctx, `
			INSERT INTO action_keys (key, action_id, at) VALUES ($1, $2, $3)
			ON CONFLICT (key) DO UPDATE SET action_id = excluded.action_id, at = excluded.at
				WHERE action_keys.at <= $4
			RETURNING action_id`,
			rec.IdempotencyKey, stored.ID, dbTime(now), dbTime(now.Add(-rechargekit.IdempotencyWindow))).Scan(&claimed)
		if s.condition(err) != NoRows {
			return err
		}
		// The key is held by an attempt within the window.
		existing, err = scanAction(tx.QueryRowContext(ctx, selectActions+`
			WHERE id = (SELECT action_id FROM action_keys WHERE key = $1)`, rec.IdempotencyKey))
		if err != nil {
			return fmt.Errorf("read the attempt holding idempotency key: %w", err)
		}
		return errReuse
	})
	switch {
	case errors.Is(err, errReuse) && existing.RequestHash != rec.RequestHash:
		return existing, rechargekit.Errorf(rechargekit.ECONFLICT,
			"That idempotency key was already used for another request within the last %s.", durationWords(rechargekit.IdempotencyWindow))
	case errors.Is(err, errReuse):
		return existing, nil
	case err != nil:
		return nil, s.wrap(fmt.Sprintf("begin %s action", rec.Action), err)
	}
	*rec = stored
	return nil, nil
}

// durationWords says a whole number of hours the way a message does.
func durationWords(d time.Duration) string {
	return fmt.Sprintf("%d hours", int(d.Hours()))
}

// CompleteAction implements rechargekit.ActionStore. The update itself
// requires the attempt to be pending, so of two racing completions the
// second waits for the first one's row and then changes nothing.
func (s *Store) CompleteAction(ctx context.Context, id int64, outcome, message string, after *rechargekit.SubscriptionState) error {
	if outcome == rechargekit.OutcomePending || !slices.Contains(outcomes, outcome) {
		return rechargekit.Errorf(rechargekit.EINVALID, "%q is not a final action outcome.", outcome)
	}
	if err := checkField("message", message, maxActionMessage, false); err != nil {
		return err
	}
	state, err := stateJSON(after)
	if err != nil {
		return err
	}
	err = s.write(ctx, func(ctx context.Context, tx *sql.Tx, now time.Time) error {
		n, err := rowsAffected(tx.ExecContext(ctx, `
			UPDATE actions SET outcome = $2, message = $3, state_after = $4, completed_at = $5
			WHERE id = $1 AND outcome = 'pending'`, id, outcome, message, state, dbTime(now)))
		if err != nil || n == 1 {
			return err
		}
		var cur string
		if err := tx.QueryRowContext(ctx, `SELECT outcome FROM actions WHERE id = $1`, id).Scan(&cur); err != nil {
			return s.check(err, on{NoRows, rechargekit.Errorf(rechargekit.ENOTFOUND, "There is no action attempt %d.", id)})
		}
		return rechargekit.Errorf(rechargekit.ECONFLICT, "Action attempt %d is already completed (%s).", id, cur)
	})
	return s.wrap(fmt.Sprintf("complete action %d", id), err)
}

// ActionByKey implements rechargekit.ActionStore. The key's claim in
// action_keys names the newest attempt that holds it, so one lookup by the
// key's primary index answers.
func (s *Store) ActionByKey(ctx context.Context, key string, since time.Time) (*rechargekit.ActionRecord, error) {
	if key == "" {
		return nil, rechargekit.Errorf(rechargekit.EINVALID, "An idempotency key is required.")
	}
	return get(ctx, s, "read action by idempotency key",
		rechargekit.Errorf(rechargekit.ENOTFOUND, "No action attempt holds that idempotency key."), scanAction,
		selectActions+`WHERE id = (SELECT action_id FROM action_keys WHERE key = $1 AND at >= $2)`, key, dbTime(since))
}

const selectActions = `SELECT id, at, completed_at, idempotency_key, request_hash, actor_role, actor_name, via, correlation_id,
	profile_id, customer_id, subscription_id, action, inputs, state_before, state_after, outcome, message FROM actions `

func scanAction(r row) (*rechargekit.ActionRecord, error) {
	var (
		a             rechargekit.ActionRecord
		completed     time.Time
		before, after sql.NullString
	)
	err := r.Scan(&a.ID, scanTime{&a.At}, scanTime{&completed}, &a.IdempotencyKey, &a.RequestHash, &a.ActorRole, &a.ActorName,
		&a.Via, &a.CorrelationID, &a.ProfileID, &a.CustomerID, &a.SubscriptionID, &a.Action, &a.Inputs, &before, &after,
		&a.Outcome, &a.Message)
	if err != nil {
		return nil, err
	}
	if !completed.IsZero() {
		a.CompletedAt = &completed
	}
	for _, st := range []struct {
		col  sql.NullString
		dest **rechargekit.SubscriptionState
	}{{before, &a.Before}, {after, &a.After}} {
		if !st.col.Valid {
			continue
		}
		*st.dest = new(rechargekit.SubscriptionState)
		if err := json.Unmarshal([]byte(st.col.String), *st.dest); err != nil {
			return nil, fmt.Errorf("decode subscription state of action %d: %w", a.ID, err)
		}
	}
	return &a, nil
}

// ActionRecords implements rechargekit.ActionStore. Only the filter's set
// fields become conditions, so each query can use the index on its column;
// each matches exactly (the actor's name as the audit shows it).
func (s *Store) ActionRecords(ctx context.Context, f rechargekit.ActionFilter) ([]*rechargekit.ActionRecord, error) {
	switch {
	case f.Action != "" && !slices.Contains(rechargekit.AllActions(), f.Action):
		return nil, rechargekit.Errorf(rechargekit.EINVALID, "%q is not an action.", f.Action)
	case f.Outcome != "" && !slices.Contains(outcomes, f.Outcome):
		return nil, rechargekit.Errorf(rechargekit.EINVALID, "%q is not an action outcome.", f.Outcome)
	case f.CustomerID < 0:
		return nil, rechargekit.Errorf(rechargekit.EINVALID, "A Recharge customer id must not be negative.")
	}
	var (
		conds []string
		args  []any
	)
	for _, c := range []struct {
		col string
		v   any
		set bool
	}{
		{"action", f.Action, f.Action != ""},
		{"actor_name", f.ActorName, f.ActorName != ""},
		{"customer_id", f.CustomerID, f.CustomerID != 0},
		{"profile_id", f.ProfileID, f.ProfileID != ""},
		{"outcome", f.Outcome, f.Outcome != ""},
	} {
		if c.set {
			args = append(args, c.v)
			conds = append(conds, fmt.Sprintf("%s = $%d", c.col, len(args)))
		}
	}
	where := ""
	if len(conds) > 0 {
		where = "WHERE " + strings.Join(conds, " AND ") + " "
	}
	limit := f.Limit
	if limit <= 0 {
		limit = defaultAuditLimit
	}
	args = append(args, min(limit, maxLimit))
	return list(ctx, s, "read actions", scanAction, selectActions+where+fmt.Sprintf("ORDER BY id DESC LIMIT $%d", len(args)), args...)
}

// ActionPolicy implements rechargekit.ActionStore: the stored permissions
// over the defaults.
func (s *Store) ActionPolicy(ctx context.Context) (rechargekit.ActionPolicy, error) {
	type perm struct {
		role, action string
		allowed      bool
	}
	rows, err := list(ctx, s, "read action policy", func(r row) (perm, error) {
		var p perm
		return p, r.Scan(&p.role, &p.action, &p.allowed)
	}, `SELECT role, action, allowed FROM action_policy`)
	if err != nil {
		return nil, err
	}
	p := rechargekit.DefaultActionPolicy()
	for _, r := range rows {
		if p[r.role] == nil {
			p[r.role] = map[string]bool{}
		}
		p[r.role][r.action] = r.allowed
	}
	return p, nil
}

// UpdateActionPolicy implements rechargekit.ActionStore. Every (role,
// action) pair is written, each only when it changes, by a statement that
// itself says whether it did, as UpdateSettings does: of two admins making
// the same change at once, the change is audited once. A pair p leaves out
// is not allowed; a nil p is refused rather than taken to forbid everything.
func (s *Store) UpdateActionPolicy(ctx context.Context, p rechargekit.ActionPolicy, by string) error {
	if p == nil {
		return rechargekit.Errorf(rechargekit.EINVALID, "An action policy is required.")
	}
	for role, actions := range p {
		if !slices.Contains(actionRoles, role) {
			return rechargekit.Errorf(rechargekit.EINVALID, "%q is not a role that can act.", role)
		}
		for action := range actions {
			if !slices.Contains(rechargekit.AllActions(), action) {
				return rechargekit.Errorf(rechargekit.EINVALID, "%q is not an action.", action)
			}
		}
	}
	if err := rechargekit.ValidateActor(by); err != nil {
		return err
	}
	def := rechargekit.DefaultActionPolicy()
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx, now time.Time) error {
		for _, role := range actionRoles {
			for _, action := range rechargekit.AllActions() {
				// A pair never configured gets the default's row first.
				_, err := tx.ExecContext(ctx, `INSERT INTO action_policy (role, action, allowed, updated_by, updated_at)
					VALUES ($1, $2, $3, $4, $5) ON CONFLICT (role, action) DO NOTHING`,
					role, action, def.Allows(role, action), by, dbTime(now))
				if err != nil {
					return err
				}
				allowed := p.Allows(role, action)
				n, err := rowsAffected(tx.ExecContext(ctx, `UPDATE action_policy SET allowed = $3, updated_by = $4, updated_at = $5
					WHERE role = $1 AND action = $2 AND allowed <> $3`, role, action, allowed, by, dbTime(now)))
				if err != nil {
					return err
				}
				if n == 0 {
					continue
				}
				err = appendAudit(ctx, tx, &rechargekit.AuditEntry{At: now, Actor: by, Action: rechargekit.AuditSettingChange,
					Detail: fmt.Sprintf("action policy %s %s: %s -> %s", role, action, rechargekit.OnOff(!allowed), rechargekit.OnOff(allowed))})
				if err != nil {
					return err
				}
			}
		}
		return nil
	})
	return s.wrap("update action policy", err)
}
