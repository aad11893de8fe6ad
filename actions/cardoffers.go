package actions

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/rechargekit/rechargekit"
)

// This file decides the actions a card lookup lists beside the card
// (Gladly's DETAILED result). A lookup must cost no Recharge call beyond
// the card's own (DESIGN.md, Budgets) and must never wait on the database
// (a hung database must not slow a lookup), so the decision is made from
// the card, a cached policy and the token scopes already remembered. The
// form and the submit read everything fresh: precision belongs there.

// Policy cache defaults.
const (
	// DefaultPolicyTTL is how long the policy CardOffers uses is trusted
	// before it is read again in the background. An admin's change to the
	// gladly role reaches the DETAILED results within it; forms and
	// submits always read the policy fresh.
	DefaultPolicyTTL = 15 * time.Second
	// DefaultPolicyWait is how long CardOffers waits for the first read of
	// the policy, when none is known yet (a replica's first lookup). Past
	// it, DefaultActionPolicy stands in until the read answers.
	DefaultPolicyWait = 50 * time.Millisecond
	// policyReadTimeout bounds one background read of the policy.
	policyReadTimeout = 5 * time.Second
)

// policyCache keeps the policy for CardOffers. At most one read is in
// flight at a time, so that a hung database holds one goroutine, not one
// per lookup.
type policyCache struct {
	mu      sync.Mutex
	policy  rechargekit.ActionPolicy // nil until a read answered or the first wait ran out
	at      time.Time                // when policy was read, or last tried
	reading chan struct{}            // closed when the read in flight ends; nil when none is
}

func (s *Service) policyTTL() time.Duration {
	if s.PolicyTTL > 0 {
		return s.PolicyTTL
	}
	return DefaultPolicyTTL
}

func (s *Service) policyWait() time.Duration {
	if s.PolicyWait > 0 {
		return s.PolicyWait
	}
	return DefaultPolicyWait
}

// cachedPolicy returns the policy for a card lookup without waiting on the
// database: the cached one, read again in the background once older than
// PolicyTTL. Only when none is known yet does it wait, at most PolicyWait,
// for the first read; then DefaultActionPolicy stands in.
func (s *Service) cachedPolicy(ctx context.Context) rechargekit.ActionPolicy {
	c := &s.policy
	c.mu.Lock()
	p, stale := c.policy, s.now().Sub(c.at) >= s.policyTTL()
	reading := c.reading
	if (p == nil || stale) && reading == nil {
		reading = make(chan struct{})
		c.reading = reading
		go s.readPolicy(context.WithoutCancel(ctx), reading)
	}
	c.mu.Unlock()
	if p != nil {
		return p
	}

	t := time.NewTimer(s.policyWait())
	defer t.Stop()
	select {
	case <-reading:
	case <-t.C:
	case <-ctx.Done():
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.policy == nil {
		// The database is slow: later lookups take the default at once
		// rather than each waiting, until the read in flight answers.
		c.policy, c.at = rechargekit.DefaultActionPolicy(), s.now()
		s.logger().LogAttrs(ctx, slog.LevelWarn, "actions: policy not read in time; offering the default policy's actions until it is")
	}
	return c.policy
}

// readPolicy reads the policy into the cache and closes done. A failure
// keeps what the cache has (the last known policy, or the default that
// stood in) and is tried again after PolicyTTL.
func (s *Service) readPolicy(ctx context.Context, done chan struct{}) {
	c := &s.policy
	var p rechargekit.ActionPolicy
	err := fmt.Errorf("actions: read policy: no answer")
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("actions: read policy: panic: %v", r)
		}
		c.mu.Lock()
		switch {
		case err == nil:
			c.policy = p
		case c.policy == nil:
			c.policy = rechargekit.DefaultActionPolicy()
		}
		c.at = s.now()
		c.reading = nil
		c.mu.Unlock()
		close(done)
		if err != nil {
			s.logger().LogAttrs(ctx, slog.LevelWarn, "actions: policy not read; card offers keep the last known policy",
				slog.String("error", err.Error()))
		}
	}()
	ctx, cancel := context.WithTimeout(ctx, policyReadTimeout)
	defer cancel()
	p, err = s.Store.ActionPolicy(ctx)
	if err == nil && p == nil {
		p = rechargekit.DefaultActionPolicy()
	}
}

// cachedScopes returns the token's scopes as last read by Offers, however
// old (they change only when the store's admin edits the token), or nil
// when they were never read: then nothing is hidden for them.
func (s *Service) cachedScopes() []string {
	s.scopesMu.Lock()
	defer s.scopesMu.Unlock()
	return s.scopes
}

// CardOffers implements rechargekit.ActionService. It makes no Recharge
// call and does not wait on the database but for a replica's first lookup
// (at most PolicyWait).
//
// From the card: cancel, reactivate, moving the date and changing the
// frequency or quantity follow the same state rules as Offers. Skip is
// offered on an active subscription with a next charge date (its queued
// charge is on that date). Unskip is offered whenever an active
// subscription exists: the card does not show skipped charges (after a
// skip, the subscription's next charge date simply moves on), and hiding
// unskip would leave a Gladly agent no way to undo a skip; its form lists
// only the subscriptions with a skipped charge, from fresh data, and says
// so when there are none. A prepaid subscription's frequency change is
// likewise offered and then refused on the form.
func (s *Service) CardOffers(ctx context.Context, card *rechargekit.Card, actor rechargekit.Actor) []string {
	if card == nil || len(card.Subscriptions) == 0 {
		return nil
	}
	policy := s.cachedPolicy(ctx)
	scopes := s.cachedScopes()
	var out []string
	for _, a := range rechargekit.AllActions() {
		if !policy.Allows(actor.Role, a) || scopeWhy(scopes, a) != "" {
			continue
		}
		for _, sub := range card.Subscriptions {
			if sub != nil && cardAllows(a, sub) {
				out = append(out, a)
				break
			}
		}
	}
	return out
}

// cardAllows reports whether the card's subscription may allow the action,
// as far as the card can tell.
func cardAllows(action string, sub *rechargekit.Subscription) bool {
	switch action {
	case rechargekit.ActionSkip:
		return sub.IsActive() && sub.NextChargeDate != ""
	case rechargekit.ActionUnskip:
		return sub.IsActive()
	}
	return stateWhy(action, facts{sub: &rechargekit.ActionSubscription{Subscription: sub}}) == ""
}
