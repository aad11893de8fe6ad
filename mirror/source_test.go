package mirror

import (
	"context"
	"testing"
	"time"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/recharge"
	"github.com/rechargekit/rechargekit/recharge/rechargetest"
	"github.com/rechargekit/rechargekit/search"
)

// TestCardWhileRechargeFails answers a mirrored customer's card from the
// mirror while Recharge fails and the breaker is open, with no call.
func TestCardWhileRechargeFails(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{client: []recharge.Option{recharge.WithBreaker(1, time.Minute, time.Minute)}})
	ctx := context.Background()
	e.backfill(t)
	e.sim.SetFaults(rechargetest.Faults{Status: 503})
	// One failed call opens the breaker (one call: no abandoned parallel
	// call can reach the simulator after the count below).
	if _, _, err := e.client.Customers.Get(ctx, alex, nil); err == nil {
		t.Fatal("a call succeeded while Recharge fails")
	}
	before := e.requests()
	card, err := e.m.Source().ReadCard(ctx, alex)
	if err != nil {
		t.Fatalf("mirrored card while Recharge fails: %v", err)
	}
	if card.Customer.ID != alex || len(card.Subscriptions) == 0 {
		t.Errorf("card %+v", card.Customer)
	}
	if n := e.requests() - before; n != 0 {
		t.Errorf("%d Recharge calls for a mirrored card, want 0", n)
	}
	// A customer the mirror does not hold is read live: the open breaker
	// fails it at once.
	if _, err := e.m.Source().ReadCard(ctx, 999999); rechargekit.ErrorCode(err) != rechargekit.EUPSTREAM {
		t.Errorf("live read with the breaker open: %v, want EUPSTREAM", err)
	}
}

// TestReadCardWritesThrough reads a card live before the mirror is
// complete and writes it through; the mirror then holds the customer.
func TestReadCardWritesThrough(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{})
	ctx := context.Background()
	card, err := e.m.Source().ReadCard(ctx, alex)
	if err != nil {
		t.Fatal(err)
	}
	if card.FetchedAt.IsZero() {
		t.Error("a live card without FetchedAt")
	}
	recs, err := e.store.MirroredCustomer(ctx, alex)
	if err != nil {
		t.Fatalf("the live read was not written through: %v", err)
	}
	kinds := map[string]bool{}
	for _, r := range recs {
		kinds[r.Resource] = true
	}
	for _, res := range []string{rechargekit.MirrorCustomers, rechargekit.MirrorAddresses, rechargekit.MirrorSubscriptions, rechargekit.MirrorCharges} {
		if !kinds[res] {
			t.Errorf("written through without %s: %v", res, kinds)
		}
	}
	if _, ok, err := e.m.SearchCustomers(ctx, search.Query("rivera", ""), 10); ok || err != nil {
		t.Errorf("search before the backfill: ok %v, err %v; want not ok", ok, err)
	}
}

// TestSearchCustomers finds Alex Rivera by phone, name and Shopify id,
// and by email through FindCustomers, without a Recharge call.
func TestSearchCustomers(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{})
	ctx := context.Background()
	e.backfill(t)
	before := e.requests()
	for _, tc := range []struct{ q, by string }{
		{"555-123-4567", rechargekit.MatchPhone},
		{"+1 (555) 123-4567", rechargekit.MatchPhone},
		{"rivera", rechargekit.MatchName},
		{"Alex Rivera", rechargekit.MatchName},
		{"7923224739991", rechargekit.MatchExternalID},
		{"Alex.Rivera@Example.com", rechargekit.MatchEmail},
	} {
		matches, ok, err := e.m.SearchCustomers(ctx, search.Query(tc.q, ""), 10)
		if err != nil || !ok {
			t.Fatalf("search %q: ok %v, err %v", tc.q, ok, err)
		}
		found := false
		for _, m := range matches {
			if m.Customer.ID == alex && m.By == tc.by {
				found = true
			}
		}
		if !found {
			t.Errorf("search %q did not find Alex by %s: %+v", tc.q, tc.by, matches)
		}
	}
	got, err := e.m.Source().FindCustomers(ctx, "ALEX.RIVERA@example.com", "")
	if err != nil || len(got) != 1 || got[0].ID != alex {
		t.Errorf("FindCustomers by email: %v, %v", got, err)
	}
	if n := e.requests() - before; n != 0 {
		t.Errorf("%d Recharge calls for mirror searches, want 0", n)
	}
}
