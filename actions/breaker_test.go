package actions_test

import (
	"context"
	"testing"
	"time"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/actions"
	"github.com/rechargekit/rechargekit/cards"
	"github.com/rechargekit/rechargekit/recharge"
	"github.com/rechargekit/rechargekit/recharge/rechargetest"
)

// TestOpenBreakerRefusesBeforeTheKeyIsUsed checks an action while the
// Recharge client's breaker is open: the fresh read of the preview is
// refused first, so nothing is sent, nothing is recorded, and the same
// idempotency key applies the action once Recharge answers again.
func TestOpenBreakerRefusesBeforeTheKeyIsUsed(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	// The service as cmd wires it, its client with a breaker, in front of
	// the same simulator, store and clock.
	client := recharge.NewClient(rechargetest.DefaultToken, recharge.WithBaseURL(h.client.BaseURL()),
		recharge.WithClock(h.clock.Now, h.clock.Sleep), recharge.WithBreaker(1, time.Second, time.Second))
	cardsSvc := cards.NewCachedService(&recharge.Source{Client: client, Now: h.clock.Now}, nil,
		cards.CachedOptions{TTL: time.Hour, RefreshAfter: 2 * time.Hour, Now: h.clock.Now})
	t.Cleanup(func() { _ = cardsSvc.Close() })
	svc := &actions.Service{Source: &recharge.Actions{Client: client}, Store: h.store, Cards: cardsSvc,
		Links: links{profileAlex: alex, profileBlk: blake}, Now: h.clock.Now}
	req := &rechargekit.ActionRequest{Action: rechargekit.ActionCancel, SubscriptionID: shirt, Reason: "Other"}

	h.sim.SetFaults(rechargetest.Faults{Status: 503, Route: "GET /subscriptions"})
	_, _, _ = client.Subscriptions.Get(context.Background(), shirt) // the failure that opens it
	if b := client.Health().Breaker; b != recharge.BreakerOpen {
		t.Fatalf("breaker %q, want open", b)
	}
	h.sim.SetFaults(rechargetest.Faults{})
	before := h.sim.Stats().Requests
	_, err := svc.Do(context.Background(), target, agent, req, "k")
	wantCode(t, err, rechargekit.EUPSTREAM)
	if n := h.sim.Stats().Requests - before; n != 0 {
		t.Errorf("%d requests sent while the breaker was open", n)
	}
	if rs := h.records(rechargekit.ActionFilter{}); len(rs) != 0 {
		t.Fatalf("a refusal that sent nothing was recorded: %+v", rs)
	}

	// After the interval one call probes (a lookup, say) and closes it.
	h.clock.Advance(time.Second)
	if _, _, err := client.Subscriptions.Get(context.Background(), shirt); err != nil || client.Health().Breaker != recharge.BreakerClosed {
		t.Fatalf("probe: %v, breaker %q", err, client.Health().Breaker)
	}
	res, err := svc.Do(context.Background(), target, agent, req, "k")
	if err != nil || res.Replayed || res.Record.Outcome != rechargekit.OutcomeDone {
		t.Fatalf("the same key after the outage: %v, %+v", err, res)
	}
	if n := h.sim.Stats().ByRoute["POST /subscriptions/{id}/cancel"]; n != 1 {
		t.Errorf("%d cancels sent, want 1", n)
	}
}
