package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/gladly"
	"github.com/rechargekit/rechargekit/internal/testkit"
	"github.com/rechargekit/rechargekit/recharge"
	"github.com/rechargekit/rechargekit/recharge/rechargetest"
)

// TestWebhookFreshnessAndStaleServing drives the whole freshness loop
// through the simulator: a change in Recharge reaches the card through a
// signed webhook, and when Recharge then fails, the last card is served
// (stale, with its age) instead of an error.
func TestWebhookFreshnessAndStaleServing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const secret = "whsec-test"

	// The app's URL must exist before the simulator that posts to it.
	var handler atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handler.Load().(http.Handler).ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	sim := rechargetest.NewServer(t, rechargetest.Config{
		WebhookURL: srv.URL + "/webhooks/recharge", WebhookSecret: secret, WebhookBackoff: time.Millisecond,
	})
	sim.Load(rechargetest.DemoSeed())
	clock := testkit.NewClock(time.Now())
	a, err := newApp(ctx, appConfig{
		token:         rechargetest.DefaultToken,
		baseURL:       sim.URL,
		clientOptions: []recharge.Option{recharge.WithClock(clock.Now, clock.Sleep)},
		logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
		webhookSecret: secret,
		gladlyPath:    gladly.DefaultPath,
		gladly:        gladly.Config{SigningKey: stackKey},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	handler.Store(a.handler)
	desk := &gladly.Client{URL: srv.URL + gladly.DefaultPath, SigningKey: stackKey}
	alex := strconv.FormatInt(rechargetest.DemoAlexRiveraID, 10)

	detailed := func() gladly.Result {
		t.Helper()
		resp, err := desk.Detailed(ctx, alex, rechargekit.Profile{ID: "p"})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Results) != 1 {
			t.Fatalf("results = %+v", resp.Results)
		}
		return resp.Results[0]
	}
	dogStatus := func(r gladly.Result) (id int64, status string) {
		for _, tx := range r.Transactions {
			if *tx.Products[0].Name == "Dog Lovers T-Shirt" {
				id, _ = strconv.ParseInt(tx.SubscriptionID, 10, 64)
				return id, *tx.Status
			}
		}
		t.Fatalf("no Dog Lovers T-Shirt in %+v", r.Transactions)
		return 0, ""
	}

	first := detailed()
	dogID, status := dogStatus(first)
	if status != "active" {
		t.Fatalf("Dog Lovers T-Shirt is %s, want active", status)
	}
	warm := sim.Stats().Requests
	if dogStatus(detailed()); sim.Stats().Requests != warm {
		t.Errorf("a warm lookup called Recharge: %d calls, want 0", sim.Stats().Requests-warm)
	}

	// A change in Recharge: the webhook invalidates the card, and the next
	// lookup shows it.
	recharging := sim.Client()
	if _, _, err := recharging.Subscriptions.Cancel(ctx, dogID, &recharge.SubscriptionCancelRequest{CancellationReason: "Moving house"}); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, "the cancel to reach the card", func() bool {
		_, status := dogStatus(detailed())
		return status == "cancelled"
	})

	// Recharge fails after another change: the last card is served, with its age.
	delivered := sim.Stats().WebhooksDelivered
	sim.SetFaults(rechargetest.Faults{Status: http.StatusServiceUnavailable, Route: "GET /"})
	if _, _, err := recharging.Subscriptions.Activate(ctx, dogID); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, "the activate webhook", func() bool { return sim.Stats().WebhooksDelivered > delivered })
	faulted := sim.Stats().FaultsInjected
	stale := detailed()
	if sim.Stats().FaultsInjected == faulted {
		t.Error("the lookup after the webhook did not ask Recharge: the card was not invalidated")
	}
	if _, status := dogStatus(stale); status != "cancelled" {
		t.Errorf("stale card shows the Dog Lovers T-Shirt %s, want the cached cancelled", status)
	}
	if stale.CustomAttributes[gladly.AttrDataAsOf] == "" {
		t.Errorf("stale answer lacks %s: %v", gladly.AttrDataAsOf, stale.CustomAttributes)
	}

	// Recharge back: the change shows once the client's breaker, opened by
	// the failures, lets a probe through (its interval runs on the fake
	// clock, so the test moves it past the longest interval).
	sim.SetFaults(rechargetest.Faults{})
	clock.Advance(recharge.DefaultBreakerMax)
	testkit.WaitFor(t, "the activate to reach the card", func() bool {
		_, status := dogStatus(detailed())
		return status == "active"
	})
}
