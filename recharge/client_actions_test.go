package recharge_test

import (
	"context"
	"testing"

	"github.com/rechargekit/rechargekit/recharge"
	"github.com/rechargekit/rechargekit/recharge/rechargetest"
)

// The calls the agent actions make, through the client against the
// simulator: each one's body and answer, and each refusal as a typed error.

// dogTee is Alex Rivera's active Dog Lovers T-Shirt in the demo store.
const dogTee = 585062092

func actionClient(t *testing.T, cfg rechargetest.Config) (*rechargetest.Server, *recharge.Client) {
	t.Helper()
	cfg.BucketSize, cfg.LeakPerSecond = 1000, 1000
	sim := rechargetest.NewServer(t, cfg)
	sim.Load(rechargetest.DemoSeed())
	return sim, sim.Client(recharge.WithRateLimit(1000, 1000))
}

// nextQueued finds a subscription's queued charge the way the actions do:
// by purchase item and status, never by a stored charge id.
func nextQueued(t *testing.T, c *recharge.Client, subID int64) *recharge.Charge {
	t.Helper()
	chs, _, err := c.Charges.List(context.Background(), &recharge.ChargeListOptions{PurchaseItemID: subID, Status: "queued"})
	if err != nil {
		t.Fatal(err)
	}
	if len(chs) != 1 {
		t.Fatalf("%d queued charges for %d, want 1", len(chs), subID)
	}
	return chs[0]
}

func TestClientActionsAgainstSimulator(t *testing.T) {
	t.Parallel()
	sim, c := actionClient(t, rechargetest.Config{})
	ctx := context.Background()

	ti, _, err := c.TokenInformation(ctx)
	if err != nil || !ti.HasScope("write_subscriptions") || !ti.HasScope("write_orders") {
		t.Fatalf("token information = %+v, %v", ti, err)
	}

	var reasons []string
	for rs, err := range c.RetentionStrategies.All(ctx, &recharge.RetentionStrategyListOptions{SortBy: "id-asc", Limit: 3}) {
		if err != nil {
			t.Fatal(err)
		}
		reasons = append(reasons, string(rs.Reason))
		if rs.ID == 0 || string(rs.CancellationFlowType) != "subscription" {
			t.Errorf("strategy %+v", rs)
		}
	}
	if len(reasons) != 7 || reasons[0] != "Too expensive" || reasons[6] != "Other" {
		t.Errorf("reasons = %q", reasons)
	}

	// Skip and unskip the Dog Lovers T-Shirt's next charge, which it
	// shares with the Dog Dental Chews: the skip splits the T-Shirt off.
	ch := nextQueued(t, c, dogTee)
	if len(ch.LineItems) != 2 {
		t.Fatalf("the T-Shirt's next charge has %d lines, want 2", len(ch.LineItems))
	}
	skipped, _, err := c.Charges.Skip(ctx, int64(ch.ID), []int64{dogTee})
	if err != nil || skipped.Status != "skipped" || skipped.ID == ch.ID || len(skipped.LineItems) != 1 {
		t.Fatalf("skip = %+v, %v", skipped, err)
	}
	if _, _, err := c.Charges.Skip(ctx, int64(skipped.ID), []int64{dogTee}); !recharge.IsValidation(err) {
		t.Errorf("second skip: %v, want a 422", err)
	}
	back, _, err := c.Charges.Unskip(ctx, int64(skipped.ID), []int64{dogTee})
	if err != nil || back.Status != "queued" || len(back.LineItems) != 2 || len(back.ShippingLines) != 1 || back.ShippingLines[0].Code != "pending" ||
		back.TotalPrice != back.SubtotalPrice {
		t.Fatalf("unskip = %+v, %v", back, err)
	}

	// Move the date: not into the past; a move regenerates the charge.
	if _, _, err := c.Subscriptions.SetNextChargeDate(ctx, dogTee, "2025-01-01"); !recharge.IsValidation(err) {
		t.Errorf("a past date: %v, want a 422", err)
	}
	sub, _, err := c.Subscriptions.SetNextChargeDate(ctx, dogTee, "2099-12-24")
	if err != nil || sub.NextChargeScheduledAt.String() != "2099-12-24" {
		t.Fatalf("move = %+v, %v", sub, err)
	}
	moved := nextQueued(t, c, dogTee)
	if moved.ID == ch.ID || moved.ScheduledAt.String() != "2099-12-24" {
		t.Errorf("after the move the queued charge is %d on %s, want a new id on 2099-12-24", moved.ID, moved.ScheduledAt)
	}

	// Frequency and quantity.
	before := sim.Stats()
	if _, _, err := c.Subscriptions.Update(ctx, dogTee, &recharge.SubscriptionUpdateRequest{OrderIntervalUnit: recharge.Ptr("week")}); err == nil {
		t.Error("a partial interval was accepted")
	}
	if n := sim.Stats().Requests - before.Requests; n != 0 {
		t.Errorf("a partial interval sent %d requests", n)
	}
	sub, _, err = c.Subscriptions.Update(ctx, dogTee, &recharge.SubscriptionUpdateRequest{
		OrderIntervalUnit: recharge.Ptr("week"), OrderIntervalFrequency: recharge.Ptr(2), ChargeIntervalFrequency: recharge.Ptr(2), Quantity: recharge.Ptr(3)})
	if err != nil || sub.OrderIntervalUnit != "week" || sub.OrderIntervalFrequency != 2 || sub.ChargeIntervalFrequency != 2 || sub.Quantity != 3 {
		t.Fatalf("update = %+v, %v", sub, err)
	}
	if q := nextQueued(t, c, dogTee); q.ID == moved.ID || q.SubtotalPrice != "75.00" || len(q.LineItems) != 1 {
		t.Errorf("after the update the queued charge is %d with %s, want a new id with 75.00", q.ID, q.SubtotalPrice)
	}

	// Cancel (a reason is required before any call) and reactivate.
	if _, _, err := c.Subscriptions.Cancel(ctx, dogTee, &recharge.SubscriptionCancelRequest{}); err == nil {
		t.Error("a cancel without a reason was sent")
	}
	sub, _, err = c.Subscriptions.Cancel(ctx, dogTee, &recharge.SubscriptionCancelRequest{CancellationReason: reasons[0],
		CancellationReasonComments: recharge.Ptr("Moving abroad. (by agent@brand.com via rechargekit)"), SendEmail: recharge.Ptr(false)})
	if err != nil || sub.Status != "cancelled" || string(sub.CancellationReason) != "Too expensive" ||
		string(sub.CancellationReasonComments) != "Moving abroad. (by agent@brand.com via rechargekit)" || sub.NextChargeScheduledAt.String() != "" {
		t.Fatalf("cancel = %+v, %v", sub, err)
	}
	chs, _, err := c.Charges.List(ctx, &recharge.ChargeListOptions{PurchaseItemID: dogTee, Status: "queued"})
	if err != nil || len(chs) != 0 {
		t.Errorf("queued charges after cancel: %d, %v", len(chs), err)
	}
	sub, _, err = c.Subscriptions.Activate(ctx, dogTee)
	if err != nil || sub.Status != "active" || sub.NextChargeScheduledAt.String() != "2099-12-24" {
		t.Fatalf("activate = %+v, %v", sub, err)
	}
	if _, _, err := c.Subscriptions.Activate(ctx, dogTee); !recharge.IsValidation(err) {
		t.Errorf("activating an active subscription: %v, want a 422", err)
	}
	if _, _, err := c.Subscriptions.Activate(ctx, 999999999); !recharge.IsNotFound(err) {
		t.Errorf("an unknown subscription: %v, want a 404", err)
	}
}

func TestClientActionsForbiddenAndRetried(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sim, c := actionClient(t, rechargetest.Config{Scopes: []string{"read_customers", "read_subscriptions", "read_orders"}})
	ti, _, err := c.TokenInformation(ctx)
	if err != nil || ti.HasScope("write_subscriptions") {
		t.Fatalf("token information = %+v, %v", ti, err)
	}
	if _, _, err := c.Subscriptions.Cancel(ctx, dogTee, &recharge.SubscriptionCancelRequest{CancellationReason: "Other"}); !recharge.IsForbidden(err) {
		t.Errorf("cancel with a read-only token: %v, want a 403", err)
	}
	ch := nextQueued(t, c, dogTee)
	if _, _, err := c.Charges.Skip(ctx, int64(ch.ID), []int64{dogTee}); !recharge.IsForbidden(err) {
		t.Errorf("skip with a read-only token: %v, want a 403", err)
	}
	if n := sim.Stats().ByRoute["POST /subscriptions/{id}/cancel"]; n != 1 {
		t.Errorf("a 403 was retried: %d cancel calls", n)
	}

	// A write is retried after a route lock (409: not applied), once, and
	// never after a 500 (it may have been applied).
	sim2, c2 := actionClient(t, rechargetest.Config{})
	sim2.SetFaults(rechargetest.Faults{Status: 409, Count: 1, Route: "POST /subscriptions/{id}/set_next_charge_date"})
	if _, _, err := c2.Subscriptions.SetNextChargeDate(ctx, dogTee, "2099-01-02"); err != nil {
		t.Fatalf("after a route lock: %v", err)
	}
	if st := sim2.Stats(); st.ByRoute["POST /subscriptions/{id}/set_next_charge_date"] != 2 || st.ByStatus["409"] != 1 {
		t.Errorf("route lock: %v calls, statuses %v", st.ByRoute, st.ByStatus)
	}
	sim2.SetFaults(rechargetest.Faults{Status: 500, Count: 1, Route: "POST /subscriptions/{id}/cancel"})
	if _, _, err := c2.Subscriptions.Cancel(ctx, dogTee, &recharge.SubscriptionCancelRequest{CancellationReason: "Other"}); err == nil {
		t.Error("a 500 on cancel came back as success")
	}
	if n := sim2.Stats().ByRoute["POST /subscriptions/{id}/cancel"]; n != 1 {
		t.Errorf("a 500 on a write was retried: %d calls", n)
	}
	if sim2.Stats().ByStatus["500"] != 1 {
		t.Errorf("statuses %v", sim2.Stats().ByStatus)
	}
}
