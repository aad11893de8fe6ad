package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/gladly"
	"github.com/rechargekit/rechargekit/internal/testkit"
	"github.com/rechargekit/rechargekit/recharge"
	"github.com/rechargekit/rechargekit/recharge/rechargetest"
)

// webhookShowWithin is how soon a charge failed in Recharge must show on
// the card when Recharge's webhooks reach the service (issue 12).
const webhookShowWithin = 2 * time.Second

// paymentStack is the service on the demo store, with a desk profile
// linked to Alex Rivera, a JSON API token, a Gladly desk and the test
// clock that ages the cached cards.
type paymentStack struct {
	t        *testing.T
	sim      *rechargetest.Server
	clock    *testkit.Clock
	base     string
	apiToken string
	desk     *gladly.Client
}

// newPaymentStack starts the service. With webhooks, the simulator posts
// every change to the service's /webhooks/recharge, signed; without them,
// only cardTTL (on the test clock) brings a change to the card.
func newPaymentStack(t *testing.T, webhooks bool, cardTTL time.Duration) *paymentStack {
	t.Helper()
	ctx := context.Background()
	const secret = "whsec-payment-test"

	// The app's URL must exist before the simulator that posts to it.
	var handler atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handler.Load().(http.Handler).ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	clock := testkit.NewClock(time.Now())
	simCfg := rechargetest.Config{Now: clock.Now}
	if webhooks {
		simCfg.WebhookURL, simCfg.WebhookSecret, simCfg.WebhookBackoff = srv.URL+"/webhooks/recharge", secret, time.Millisecond
	}
	sim := rechargetest.NewServer(t, simCfg)
	sim.Load(rechargetest.DemoSeed())

	store, err := openStore(ctx, filepath.Join(t.TempDir(), "rechargekit.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if _, err := store.UpsertProfile(ctx, &rechargekit.Profile{ID: "alex", Name: "Alex Rivera"}); err != nil {
		t.Fatal(err)
	}
	if err := store.CreateLink(ctx, &rechargekit.Link{ProfileID: "alex", CustomerID: rechargetest.DemoAlexRiveraID,
		Method: rechargekit.LinkManual, By: "agent@example.com"}); err != nil {
		t.Fatal(err)
	}
	apiToken, err := addAPIToken(ctx, store, "desk", rechargekit.RoleAgent, "test")
	if err != nil {
		t.Fatal(err)
	}
	cfg := appConfig{
		token:         rechargetest.DefaultToken,
		baseURL:       sim.URL,
		clientOptions: []recharge.Option{recharge.WithClock(clock.Now, clock.Sleep)},
		logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
		store:         store,
		cardTTL:       cardTTL,
		cardClock:     clock.Now,
		gladlyPath:    gladly.DefaultPath,
		gladly:        gladly.Config{SigningKey: stackKey},
	}
	if webhooks {
		cfg.webhookSecret = secret
	}
	a, err := newApp(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	handler.Store(a.handler)
	return &paymentStack{t: t, sim: sim, clock: clock, base: srv.URL, apiToken: apiToken,
		desk: &gladly.Client{URL: srv.URL + gladly.DefaultPath, SigningKey: stackKey}}
}

// apiPayment returns the payment section of Alex's card from the JSON API.
func (s *paymentStack) apiPayment() *rechargekit.PaymentJSON {
	s.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.base+"/api/profiles/alex/card", nil)
	req.Header.Set("Authorization", "Bearer "+s.apiToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var body struct {
		Card *rechargekit.CardJSON `json:"card"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &body) != nil || body.Card == nil ||
		body.Card.CardDetailsJSON == nil || body.Card.Payment == nil {
		s.t.Fatalf("GET /api/profiles/alex/card = %d, want a card with its payment:\n%s", resp.StatusCode, b)
	}
	return body.Card.Payment
}

// gladlyPaymentStatus returns the paymentStatus attribute of Alex's
// DETAILED Gladly lookup.
func (s *paymentStack) gladlyPaymentStatus() string {
	s.t.Helper()
	resp, err := s.desk.Detailed(context.Background(), strconv.FormatInt(rechargetest.DemoAlexRiveraID, 10), rechargekit.Profile{ID: "alex"})
	if err != nil {
		s.t.Fatal(err)
	}
	if len(resp.Results) != 1 {
		s.t.Fatalf("results = %+v", resp.Results)
	}
	return resp.Results[0].CustomAttributes[gladly.AttrPaymentStatus]
}

// failNextCharge processes Alex's next queued charge through the
// simulator's control call, as declined, and returns it as the call
// answers it.
func (s *paymentStack) failNextCharge() *recharge.Charge {
	s.t.Helper()
	queued, _, err := s.sim.Client().Charges.List(context.Background(),
		&recharge.ChargeListOptions{CustomerID: rechargetest.DemoAlexRiveraID, Status: rechargekit.ChargeQueued})
	if err != nil || len(queued) == 0 {
		s.t.Fatalf("Alex's queued charges: %d, %v", len(queued), err)
	}
	next := slices.MinFunc(queued, func(a, b *recharge.Charge) int {
		return strings.Compare(a.ScheduledAt.String(), b.ScheduledAt.String())
	})
	resp, err := http.Post(s.sim.URL+"/__sim/charges/"+strconv.FormatInt(int64(next.ID), 10)+"/process", "application/json",
		strings.NewReader(`{"outcome":"error","error_type":"CARD_DECLINED"}`))
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var body struct{ Charge *recharge.Charge }
	if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &body) != nil || body.Charge == nil ||
		body.Charge.Status != rechargekit.ChargeError || body.Charge.RetryDate.UTCPtr() == nil {
		s.t.Fatalf("process charge %d = %d, want it in error with a retry date:\n%s", next.ID, resp.StatusCode, b)
	}
	return body.Charge
}

// showsFailure reports whether both the JSON API card and Gladly's
// paymentStatus show ch as a declined payment with its retry date.
func (s *paymentStack) showsFailure(ch *recharge.Charge) bool {
	s.t.Helper()
	retry := ch.RetryDate.UTCPtr().UTC()
	p := s.apiPayment()
	var f *rechargekit.ChargeJSON
	for i := range p.Failing {
		if p.Failing[i].ChargeID == strconv.FormatInt(int64(ch.ID), 10) {
			f = &p.Failing[i]
		}
	}
	if f == nil {
		return false
	}
	if p.Healthy || f.Failure == nil || f.Failure.Reason != rechargekit.ChargeErrorText("CARD_DECLINED") ||
		f.Failure.RetryAt == nil || *f.Failure.RetryAt != retry.Format(rechargekit.TimeLayout) {
		s.t.Fatalf("the JSON API shows the failed charge as %+v (healthy %v), want declined with retry %s", f.Failure, p.Healthy, retry)
	}
	return s.gladlyPaymentStatus() == "Failing: the card was declined, retry "+retry.Format(time.DateOnly)
}

// TestFailedChargeReachesCard: a charge failed through the simulator's
// control call shows on the card (the JSON API's payment section and
// Gladly's paymentStatus) as a declined payment with its retry date: within
// webhookShowWithin through Recharge's webhooks, and without webhooks once
// the cached card is older than CARD_TTL, not before.
func TestFailedChargeReachesCard(t *testing.T) {
	t.Parallel()
	healthy := func(t *testing.T, s *paymentStack) {
		t.Helper()
		if p := s.apiPayment(); !p.Healthy || len(p.Failing) != 0 {
			t.Fatalf("before the failure the JSON API shows %+v, want healthy payments", p)
		}
		if got := s.gladlyPaymentStatus(); got != "OK" {
			t.Fatalf("before the failure Gladly's paymentStatus = %q, want OK", got)
		}
	}

	t.Run("webhooks", func(t *testing.T) {
		t.Parallel()
		// A TTL the test never reaches: only the webhook can bring the
		// failure to the cached card.
		s := newPaymentStack(t, true, time.Hour)
		healthy(t, s)
		start := time.Now()
		ch := s.failNextCharge()
		testkit.WaitFor(t, "the failed charge to reach the card", func() bool { return s.showsFailure(ch) })
		if took := time.Since(start); took > webhookShowWithin {
			t.Errorf("the failed charge took %s to reach the card, want at most %s", took, webhookShowWithin)
		}
	})

	t.Run("no webhooks, after the TTL", func(t *testing.T) {
		t.Parallel()
		const ttl = 30 * time.Second
		s := newPaymentStack(t, false, ttl)
		healthy(t, s)
		ch := s.failNextCharge()
		// Nothing tells the service: the cached card is served until it
		// is older than the TTL.
		if s.showsFailure(ch) {
			t.Fatal("the failure shows before the TTL has passed without a webhook: the card was not cached")
		}
		s.clock.Advance(ttl + time.Second)
		testkit.WaitFor(t, "the failed charge to reach the card after the TTL", func() bool { return s.showsFailure(ch) })
	})
}
