package actions_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/actions"
	"github.com/rechargekit/rechargekit/recharge/rechargetest"
)

func TestTokenLimitsOfAReadOnlyToken(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withScopes("read_customers", "read_subscriptions", "read_orders"))
	got, err := h.svc.TokenLimits(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	subs := "The Recharge token lacks the write_subscriptions scope, which the store's admin can grant in Recharge."
	orders := "The Recharge token lacks the write_orders scope, which the store's admin can grant in Recharge."
	want := []rechargekit.ActionOffer{
		{Action: rechargekit.ActionCancel, Why: subs},
		{Action: rechargekit.ActionReactivate, Why: subs},
		{Action: rechargekit.ActionSkip, Why: orders},
		{Action: rechargekit.ActionUnskip, Why: orders},
		{Action: rechargekit.ActionSetNextChargeDate, Why: subs},
		{Action: rechargekit.ActionChangeFrequency, Why: subs},
		{Action: rechargekit.ActionChangeQuantity, Why: subs},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("TokenLimits (-want +got):\n%s", diff)
	}
}

func TestTokenLimitsFollowOffers(t *testing.T) {
	t.Parallel()
	// write_charges is the other name of write_orders for charges: skip and
	// unskip are allowed by it, as Offers allows them.
	h := newHarness(t, withScopes("read_customers", "read_subscriptions", "write_charges"))
	limits, err := h.svc.TokenLimits(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	offers, err := h.svc.Offers(context.Background(), target, admin)
	if err != nil {
		t.Fatal(err)
	}
	byAction := offered(t, offers)[shirt]
	for _, l := range limits {
		hiddenByScope := strings.HasPrefix(byAction[l.Action], "rechargekit's Recharge token may not do this")
		if l.Offered == hiddenByScope {
			t.Errorf("%s: TokenLimits says allowed=%v, Offers says %q", l.Action, l.Offered, byAction[l.Action])
		}
	}
	for _, l := range limits {
		switch l.Action {
		case rechargekit.ActionSkip, rechargekit.ActionUnskip:
			if !l.Offered || l.Why != "" {
				t.Errorf("%s with write_charges: %+v", l.Action, l)
			}
		default:
			if l.Offered || !strings.Contains(l.Why, "write_subscriptions") {
				t.Errorf("%s without write_subscriptions: %+v", l.Action, l)
			}
		}
	}
}

func TestTokenLimitsOfAFullToken(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	got, err := h.svc.TokenLimits(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(rechargekit.AllActions()) {
		t.Fatalf("%d limits, want one per action", len(got))
	}
	for i, l := range got {
		if l.Action != rechargekit.AllActions()[i] || !l.Offered || l.Why != "" {
			t.Errorf("limit %d: %+v", i, l)
		}
	}
}

func TestTokenLimitsShareTheScopeCache(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	calls := func() int { return h.sim.Stats().ByRoute["GET /token_information"] }
	if _, err := h.svc.Offers(ctx, target, admin); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := h.svc.TokenLimits(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := calls(); n != 1 {
		t.Errorf("token_information asked %d times by Offers and three TokenLimits, want 1", n)
	}
	h.clock.Advance(actions.DefaultScopesTTL)
	if _, err := h.svc.TokenLimits(ctx); err != nil {
		t.Fatal(err)
	}
	if n := calls(); n != 2 {
		t.Errorf("token_information asked %d times after the TTL, want 2", n)
	}
}

func TestTokenLimitsWhenRechargeIsDown(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.sim.SetFaults(rechargetest.Faults{Status: 503, Route: "GET /token_information"})
	got, err := h.svc.TokenLimits(context.Background())
	wantCode(t, err, rechargekit.EUPSTREAM)
	if got != nil {
		t.Errorf("limits %+v alongside the error", got)
	}
	if msg := rechargekit.ErrorMessage(err); msg != "Could not check the Recharge token's permissions right now." {
		t.Errorf("message %q", msg)
	}
	// A failed read is not remembered: once Recharge answers, the limits do.
	h.sim.SetFaults(rechargetest.Faults{})
	if _, err := h.svc.TokenLimits(context.Background()); err != nil {
		t.Errorf("after Recharge is back: %v", err)
	}
}
