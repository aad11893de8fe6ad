// Package actionstest holds an in-memory rechargekit.ActionStore for tests
// and RunStore, the conformance suite that every ActionStore (this one, and
// the SQL stores) must pass, so that the fake follows the same rules as the
// real ones.
package actionstest

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/rechargekit/rechargekit"
)

// Store is an in-memory rechargekit.ActionStore (and rechargekit.AuditLog
// for the policy changes it audits). The zero value is ready to use; it is
// safe for concurrent use. Tests may set Now to control the idempotency
// window and FailComplete to make CompleteAction fail, as a crash between
// Recharge's answer and the audit write would.
type Store struct {
	// Now is the store's clock (time.Now when nil).
	Now func() time.Time
	// FailComplete, when set, is returned by CompleteAction for every
	// attempt, which then stays pending.
	FailComplete error

	mu      sync.Mutex
	records []*rechargekit.ActionRecord
	policy  rechargekit.ActionPolicy
	audit   []*rechargekit.AuditEntry
}

var (
	_ rechargekit.ActionStore = (*Store)(nil)
	_ rechargekit.AuditLog    = (*Store)(nil)
)

// NewStore returns an empty store with the given clock (time.Now when nil).
func NewStore(now func() time.Time) *Store { return &Store{Now: now} }

func (s *Store) now() time.Time {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	// The SQL stores keep microseconds; so does the fake, so that values
	// compare equal whichever store a test runs on.
	return now().UTC().Truncate(time.Microsecond)
}

// validOutcome reports whether o is one of the Outcome constants.
func validOutcome(o string) bool {
	switch o {
	case rechargekit.OutcomePending, rechargekit.OutcomeDone, rechargekit.OutcomeRefusedPolicy,
		rechargekit.OutcomeRefusedRecharge, rechargekit.OutcomeFailed:
		return true
	}
	return false
}

func validAction(a string) bool { return slices.Contains(rechargekit.AllActions(), a) }

func validRole(r string) bool {
	return r == rechargekit.RoleAdmin || r == rechargekit.RoleAgent || r == rechargekit.RoleGladly
}

// copyRecord returns a deep copy, so that callers never share the store's
// memory.
func copyRecord(r *rechargekit.ActionRecord) *rechargekit.ActionRecord {
	c := *r
	if r.CompletedAt != nil {
		t := *r.CompletedAt
		c.CompletedAt = &t
	}
	if r.Before != nil {
		b := *r.Before
		c.Before = &b
	}
	if r.After != nil {
		a := *r.After
		c.After = &a
	}
	return &c
}

// BeginAction implements rechargekit.ActionStore.
func (s *Store) BeginAction(ctx context.Context, rec *rechargekit.ActionRecord) (*rechargekit.ActionRecord, error) {
	switch {
	case rec == nil:
		return nil, rechargekit.Errorf(rechargekit.EINVALID, "An action record is required.")
	case !validAction(rec.Action):
		return nil, rechargekit.Errorf(rechargekit.EINVALID, "The action %q is not known.", rec.Action)
	case rec.Outcome != rechargekit.OutcomePending && rec.Outcome != rechargekit.OutcomeRefusedPolicy:
		return nil, rechargekit.Errorf(rechargekit.EINVALID, "An attempt begins pending or refused by policy, not %q.", rec.Outcome)
	case rec.ActorRole == "" || rec.ActorName == "":
		return nil, rechargekit.Errorf(rechargekit.EINVALID, "An attempt needs the actor's role and name.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if rec.IdempotencyKey != "" {
		if prev := s.byKey(rec.IdempotencyKey, now.Add(-rechargekit.IdempotencyWindow)); prev != nil {
			if prev.RequestHash != rec.RequestHash {
				return copyRecord(prev), rechargekit.Errorf(rechargekit.ECONFLICT,
					"This idempotency key was already used for another request.")
			}
			return copyRecord(prev), nil
		}
	}
	stored := copyRecord(rec)
	stored.ID = int64(len(s.records) + 1)
	stored.At = now
	stored.CompletedAt = nil
	if stored.Outcome != rechargekit.OutcomePending {
		stored.CompletedAt = &now
	}
	s.records = append(s.records, stored)
	rec.ID, rec.At, rec.CompletedAt = stored.ID, stored.At, copyRecord(stored).CompletedAt
	return nil, nil
}

// byKey returns the newest attempt with the key begun at or after since.
// s.mu must be held.
func (s *Store) byKey(key string, since time.Time) *rechargekit.ActionRecord {
	for i := len(s.records) - 1; i >= 0; i-- {
		r := s.records[i]
		if r.IdempotencyKey == key && !r.At.Before(since) {
			return r
		}
	}
	return nil
}

// ActionByKey implements rechargekit.ActionStore.
func (s *Store) ActionByKey(ctx context.Context, key string, since time.Time) (*rechargekit.ActionRecord, error) {
	if key == "" {
		return nil, rechargekit.Errorf(rechargekit.EINVALID, "An idempotency key is required.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.byKey(key, since); r != nil {
		return copyRecord(r), nil
	}
	return nil, rechargekit.Errorf(rechargekit.ENOTFOUND, "No attempt was made with this idempotency key.")
}

// CompleteAction implements rechargekit.ActionStore.
func (s *Store) CompleteAction(ctx context.Context, id int64, outcome, message string, after *rechargekit.SubscriptionState) error {
	if outcome == rechargekit.OutcomePending || !validOutcome(outcome) {
		return rechargekit.Errorf(rechargekit.EINVALID, "An attempt cannot be completed as %q.", outcome)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.FailComplete != nil {
		return fmt.Errorf("actionstest: complete action %d: %w", id, s.FailComplete)
	}
	if id < 1 || id > int64(len(s.records)) {
		return rechargekit.Errorf(rechargekit.ENOTFOUND, "No such action attempt.")
	}
	r := s.records[id-1]
	if r.Outcome != rechargekit.OutcomePending {
		return rechargekit.Errorf(rechargekit.ECONFLICT, "This action attempt was already completed.")
	}
	now := s.now()
	r.Outcome, r.Message, r.CompletedAt = outcome, message, &now
	if after != nil {
		a := *after
		r.After = &a
	}
	return nil
}

// ActionRecords implements rechargekit.ActionStore.
func (s *Store) ActionRecords(ctx context.Context, f rechargekit.ActionFilter) ([]*rechargekit.ActionRecord, error) {
	if f.Action != "" && !validAction(f.Action) {
		return nil, rechargekit.Errorf(rechargekit.EINVALID, "The action %q is not known.", f.Action)
	}
	if f.Outcome != "" && !validOutcome(f.Outcome) {
		return nil, rechargekit.Errorf(rechargekit.EINVALID, "The outcome %q is not known.", f.Outcome)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*rechargekit.ActionRecord
	for _, r := range s.records {
		if (f.Action != "" && r.Action != f.Action) || (f.ActorName != "" && r.ActorName != f.ActorName) ||
			(f.CustomerID != 0 && r.CustomerID != f.CustomerID) || (f.ProfileID != "" && r.ProfileID != f.ProfileID) ||
			(f.Outcome != "" && r.Outcome != f.Outcome) {
			continue
		}
		out = append(out, copyRecord(r))
	}
	slices.SortStableFunc(out, func(a, b *rechargekit.ActionRecord) int {
		if c := b.At.Compare(a.At); c != 0 {
			return c
		}
		return cmp.Compare(b.ID, a.ID)
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// ActionPolicy implements rechargekit.ActionStore.
func (s *Store) ActionPolicy(ctx context.Context) (rechargekit.ActionPolicy, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.policy == nil {
		return rechargekit.DefaultActionPolicy(), nil
	}
	return copyPolicy(s.policy), nil
}

func copyPolicy(p rechargekit.ActionPolicy) rechargekit.ActionPolicy {
	out := rechargekit.ActionPolicy{}
	for _, role := range []string{rechargekit.RoleAdmin, rechargekit.RoleAgent, rechargekit.RoleGladly} {
		out[role] = map[string]bool{}
		for _, a := range rechargekit.AllActions() {
			if p[role][a] {
				out[role][a] = true
			}
		}
	}
	return out
}

// UpdateActionPolicy implements rechargekit.ActionStore.
func (s *Store) UpdateActionPolicy(ctx context.Context, p rechargekit.ActionPolicy, by string) error {
	if err := rechargekit.ValidateActor(by); err != nil {
		return err
	}
	for role, actions := range p {
		if !validRole(role) {
			return rechargekit.Errorf(rechargekit.EINVALID, "The role %q is not known.", role)
		}
		for a := range actions {
			if !validAction(a) {
				return rechargekit.Errorf(rechargekit.EINVALID, "The action %q is not known.", a)
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.policy
	if old == nil {
		old = rechargekit.DefaultActionPolicy()
	}
	next := copyPolicy(p)
	now := s.now()
	for _, role := range []string{rechargekit.RoleAdmin, rechargekit.RoleAgent, rechargekit.RoleGladly} {
		for _, a := range rechargekit.AllActions() {
			if old.Allows(role, a) == next.Allows(role, a) {
				continue
			}
			s.audit = append(s.audit, &rechargekit.AuditEntry{
				ID: int64(len(s.audit) + 1), At: now, Actor: by, Action: rechargekit.AuditSettingChange,
				Detail: fmt.Sprintf("action %s for %s: %s -> %s", a, role,
					rechargekit.OnOff(old.Allows(role, a)), rechargekit.OnOff(next.Allows(role, a))),
			})
		}
	}
	s.policy = next
	return nil
}

// Audit implements rechargekit.AuditLog for the policy changes.
func (s *Store) Audit(ctx context.Context, f rechargekit.AuditFilter) ([]*rechargekit.AuditEntry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*rechargekit.AuditEntry
	for i := len(s.audit) - 1; i >= 0; i-- {
		e := *s.audit[i]
		if f.ProfileID == "" || e.ProfileID == f.ProfileID {
			out = append(out, &e)
		}
	}
	return out, nil
}
