package actions_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/actions"
	"github.com/rechargekit/rechargekit/actions/actionstest"
	"github.com/rechargekit/rechargekit/cards"
	"github.com/rechargekit/rechargekit/internal/testkit"
	"github.com/rechargekit/rechargekit/recharge"
	"github.com/rechargekit/rechargekit/recharge/rechargetest"
)

// The seeded store: Alex (customer 1001, profile "p-alex") has a T-shirt
// and cat treats on one address and one date, so both are on one queued
// charge, a hoodie on another date, and cancelled pajamas; Blake (1002,
// profile "p-blake") has one subscription.
const (
	alex, blake             = int64(1001), int64(1002)
	shirt, treats, hoodie   = int64(5001), int64(5002), int64(5003)
	pajamas, blakes         = int64(5004), int64(5005)
	profileAlex, profileBlk = "p-alex", "p-blake"
)

var t0 = time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)

func seed() rechargetest.Seed {
	return rechargetest.Seed{Customers: []rechargetest.SeedCustomer{
		{ID: alex, Email: "alex@example.com", FirstName: "Alex", LastName: "Rivera", Subscriptions: []rechargetest.SeedSubscription{
			{ID: shirt, ProductID: "p1", ProductTitle: "Dog Lovers T-Shirt", VariantTitle: "Large", Price: "25.00", PastCharges: 2, NextChargeInDays: 10},
			{ID: treats, ProductID: "p2", ProductTitle: "Cat Treats", Price: "12.50", Quantity: 2, PastCharges: 1, NextChargeInDays: 10},
			{ID: hoodie, ProductID: "p3", ProductTitle: "Hoodie", Price: "40.00", Interval: 2, Unit: "week", PastCharges: 1, NextChargeInDays: 20},
			{ID: pajamas, ProductID: "p4", ProductTitle: "Cat Pajamas", Price: "49.50", Status: "cancelled", PastCharges: 2, CancellationReason: "Too expensive"},
		}},
		{ID: blake, Email: "blake@example.com", FirstName: "Blake", Subscriptions: []rechargetest.SeedSubscription{
			{ID: blakes, ProductID: "p1", ProductTitle: "Dog Lovers T-Shirt", Price: "25.00", PastCharges: 1, NextChargeInDays: 5},
		}},
	}}
}

// links is a LinkStore's Link over a map.
type links map[string]int64

func (l links) Link(ctx context.Context, profileID string) (*rechargekit.Link, error) {
	id, ok := l[profileID]
	if !ok {
		return nil, rechargekit.Errorf(rechargekit.ENOTFOUND, "not linked")
	}
	return &rechargekit.Link{ProfileID: profileID, CustomerID: id, Method: rechargekit.LinkManual, By: "admin@brand.com", At: t0}, nil
}

// harness is the service wired to the simulator as cmd wires it, with the
// in-memory ActionStore. In front of the simulator, a small handler serves
// GET /retention_strategies (which the simulator does not have yet) and
// can answer chosen routes with Recharge's own refusals.
type harness struct {
	t      *testing.T
	sim    *rechargetest.Simulator
	clock  *testkit.Clock
	store  *actionstest.Store
	cards  *cards.Cached
	svc    *actions.Service
	client *recharge.Client

	mu      sync.Mutex
	reasons []string
	refuse  map[string]refusal // by "METHOD /path" prefix
	extra   int                // requests answered by the front handler
	prepaid bool
}

type harnessOpt func(*rechargetest.Config)

func withScopes(scopes ...string) harnessOpt {
	return func(c *rechargetest.Config) { c.Scopes = scopes }
}

func newHarness(t *testing.T, opts ...harnessOpt) *harness {
	t.Helper()
	clock := testkit.NewClock(t0)
	cfg := rechargetest.Config{Now: clock.Now, BucketSize: 1000, LeakPerSecond: 1000}
	for _, o := range opts {
		o(&cfg)
	}
	h := &harness{t: t, clock: clock, reasons: []string{"Too expensive", "Moving abroad", "Other"}}
	h.sim = rechargetest.New(cfg)
	h.sim.Load(seed())
	srv := httptest.NewServer(http.HandlerFunc(h.front))
	t.Cleanup(func() { srv.Close(); _ = h.sim.Close() })
	h.client = recharge.NewClient(rechargetest.DefaultToken, recharge.WithBaseURL(srv.URL),
		recharge.WithClock(clock.Now, clock.Sleep))
	h.cards = cards.NewCachedService(&recharge.Source{Client: h.client, Now: clock.Now}, nil, cards.CachedOptions{
		TTL: time.Hour, RefreshAfter: 2 * time.Hour, Now: clock.Now,
	})
	t.Cleanup(func() { _ = h.cards.Close() })
	h.store = actionstest.NewStore(clock.Now)
	var src rechargekit.ActionSource = &recharge.Actions{Client: h.client}
	src = &prepaidSource{ActionSource: src, h: h}
	h.svc = &actions.Service{
		Source: src, Store: h.store, Cards: h.cards,
		Links: links{profileAlex: alex, profileBlk: blake},
		Now:   clock.Now,
	}
	return h
}

// prepaidSource marks every subscription prepaid while h.prepaid is set:
// the simulator cannot seed prepaid subscriptions.
type prepaidSource struct {
	rechargekit.ActionSource
	h *harness
}

func (p *prepaidSource) mark(s *rechargekit.ActionSubscription) {
	p.h.mu.Lock()
	defer p.h.mu.Unlock()
	if s != nil && p.h.prepaid {
		s.Prepaid = true
	}
}

func (p *prepaidSource) ActionSubscription(ctx context.Context, id int64) (*rechargekit.ActionSubscription, error) {
	s, err := p.ActionSource.ActionSubscription(ctx, id)
	p.mark(s)
	return s, err
}

func (p *prepaidSource) CustomerSubscriptions(ctx context.Context, id int64) ([]*rechargekit.ActionSubscription, error) {
	subs, err := p.ActionSource.CustomerSubscriptions(ctx, id)
	for _, s := range subs {
		p.mark(s)
	}
	return subs, err
}

func (h *harness) front(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	reasons := h.reasons
	var refused *refusal
	for prefix, rf := range h.refuse {
		if strings.HasPrefix(r.Method+" "+r.URL.Path, prefix) {
			refused = &rf
		}
	}
	if r.URL.Path == "/retention_strategies" || refused != nil {
		h.extra++
	}
	h.mu.Unlock()
	switch {
	case r.URL.Path == "/retention_strategies":
		var list []map[string]any
		for i, reason := range reasons {
			list = append(list, map[string]any{"id": i + 1, "reason": reason, "incentive_type": "discount"})
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"next_cursor": nil, "previous_cursor": nil, "retention_strategies": list})
	case refused != nil:
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(refused.status)
		_, _ = io.WriteString(w, refused.body)
	default:
		h.sim.ServeHTTP(w, r)
	}
}

func (h *harness) setReasons(r ...string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.reasons = r
}

// refusal is an answer the front handler gives instead of the simulator.
type refusal struct {
	status int
	body   string
}

// setRefusal makes requests whose "METHOD /path" starts with prefix answer
// status with body.
func (h *harness) setRefusal(prefix string, status int, body string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.refuse = map[string]refusal{prefix: {status, body}}
}

// writes counts the simulator's POST and PUT requests (its writes).
func (h *harness) writes() int {
	n := 0
	for route, c := range h.sim.Stats().ByRoute {
		if strings.HasPrefix(route, "POST ") || strings.HasPrefix(route, "PUT ") {
			n += c
		}
	}
	return n
}

// requests counts every Recharge request, the front handler's included.
func (h *harness) requests() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.sim.Stats().Requests + h.extra
}

var (
	agent  = rechargekit.Actor{Role: rechargekit.RoleAgent, Name: "agent@brand.com", Via: rechargekit.ViaConsole}
	admin  = rechargekit.Actor{Role: rechargekit.RoleAdmin, Name: "admin@brand.com", Via: rechargekit.ViaConsole}
	gladly = rechargekit.Actor{Role: rechargekit.RoleGladly, Via: rechargekit.ViaGladly, CorrelationID: "corr-1"}
	target = rechargekit.ActionTarget{ProfileID: profileAlex}
)

func (h *harness) card(id int64) *rechargekit.Card {
	h.t.Helper()
	c, err := h.cards.Card(context.Background(), id)
	if err != nil {
		h.t.Fatalf("card %d: %v", id, err)
	}
	return c
}

func subOf(c *rechargekit.Card, id int64) *rechargekit.Subscription {
	for _, s := range c.Subscriptions {
		if s.ID == id {
			return s
		}
	}
	return nil
}

func (h *harness) preview(actor rechargekit.Actor, req *rechargekit.ActionRequest) *rechargekit.ActionPreview {
	h.t.Helper()
	p, err := h.svc.Preview(context.Background(), target, actor, req)
	if err != nil {
		h.t.Fatalf("Preview(%+v): %v", req, err)
	}
	return p
}

func (h *harness) do(actor rechargekit.Actor, req *rechargekit.ActionRequest, key string) *rechargekit.ActionResult {
	h.t.Helper()
	res, err := h.svc.Do(context.Background(), target, actor, req, key)
	if err != nil {
		h.t.Fatalf("Do(%+v): %v", req, err)
	}
	return res
}

func (h *harness) records(f rechargekit.ActionFilter) []*rechargekit.ActionRecord {
	h.t.Helper()
	rs, err := h.store.ActionRecords(context.Background(), f)
	if err != nil {
		h.t.Fatal(err)
	}
	return rs
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := rechargekit.ErrorCode(err); got != code {
		t.Fatalf("error %v (code %q), want code %q", err, got, code)
	}
}

func ptr[T any](v T) *T { return &v }

func day(days int) string { return t0.AddDate(0, 0, days).Format("2006-01-02") }

func summary(p *rechargekit.ActionPreview) string { return strings.Join(p.Summary, "\n") }
