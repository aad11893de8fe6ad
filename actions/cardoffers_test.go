package actions_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/actions"
	"github.com/rechargekit/rechargekit/internal/testkit"
)

// cardOffers is CardOffers on the customer's (cached) card.
func (h *harness) cardOffers(id int64, actor rechargekit.Actor) []string {
	h.t.Helper()
	return h.svc.CardOffers(context.Background(), h.card(id), actor)
}

// union lists, in AllActions order, each action Offers offers on at least
// one subscription.
func union(t *testing.T, got []*rechargekit.SubscriptionActions) []string {
	t.Helper()
	var out []string
	for _, a := range rechargekit.AllActions() {
		for _, whys := range offered(t, got) {
			if whys[a] == "" {
				out = append(out, a)
				break
			}
		}
	}
	return out
}

// CardOffers decides from the card alone: no Recharge call, the state rules
// of Offers, and the role's policy.
func TestCardOffersFromTheCard(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_ = h.card(alex)
	before := h.requests()
	everyday := []string{rechargekit.ActionCancel, rechargekit.ActionReactivate, rechargekit.ActionSkip,
		rechargekit.ActionUnskip, rechargekit.ActionSetNextChargeDate}
	for _, tc := range []struct {
		actor rechargekit.Actor
		want  []string
	}{
		{gladly, everyday},
		{agent, everyday},
		{admin, rechargekit.AllActions()},
	} {
		if diff := cmp.Diff(tc.want, h.cardOffers(alex, tc.actor)); diff != "" {
			t.Errorf("%s's card offers (-want +got):\n%s", tc.actor.Role, diff)
		}
	}
	if n := h.requests() - before; n != 0 {
		t.Errorf("card offers made %d Recharge requests, want 0", n)
	}

	sub := func(status, next string) *rechargekit.Subscription {
		return &rechargekit.Subscription{ID: 1, Status: status, NextChargeDate: next}
	}
	for _, tc := range []struct {
		name string
		subs []*rechargekit.Subscription
		want []string
	}{
		{"active with a next charge", []*rechargekit.Subscription{sub("active", "2026-12-15")},
			[]string{rechargekit.ActionCancel, rechargekit.ActionSkip, rechargekit.ActionUnskip, rechargekit.ActionSetNextChargeDate,
				rechargekit.ActionChangeFrequency, rechargekit.ActionChangeQuantity}},
		{"active without a next charge: nothing to skip", []*rechargekit.Subscription{sub("active", "")},
			[]string{rechargekit.ActionCancel, rechargekit.ActionUnskip, rechargekit.ActionSetNextChargeDate,
				rechargekit.ActionChangeFrequency, rechargekit.ActionChangeQuantity}},
		{"cancelled only", []*rechargekit.Subscription{sub("cancelled", "")}, []string{rechargekit.ActionReactivate}},
		{"expired only", []*rechargekit.Subscription{sub("expired", "")}, nil},
		{"no subscriptions", nil, nil},
	} {
		card := &rechargekit.Card{Customer: rechargekit.Customer{ID: 9}, Subscriptions: tc.subs}
		if diff := cmp.Diff(tc.want, h.svc.CardOffers(context.Background(), card, admin)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
	}
	if got := h.svc.CardOffers(context.Background(), nil, admin); got != nil {
		t.Errorf("a nil card offers %v", got)
	}
}

// The card's offers never hide an action that the fresh offers (what the
// form lists) allow on some subscription, before and after a skip.
func TestCardOffersCoverTheFreshOffers(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	check := func(when string) {
		t.Helper()
		for _, actor := range []rechargekit.Actor{gladly, agent, admin} {
			fresh, err := h.svc.Offers(context.Background(), target, actor)
			if err != nil {
				t.Fatal(err)
			}
			card := h.cardOffers(alex, actor)
			for _, a := range union(t, fresh) {
				if !slices.Contains(card, a) {
					t.Errorf("%s, %s: %s is offered on the form but not beside the card %v", when, actor.Role, a, card)
				}
			}
		}
	}
	check("at first")
	h.do(agent, &rechargekit.ActionRequest{Action: rechargekit.ActionSkip, SubscriptionID: hoodie}, "")
	check("after a skip")
}

// The token's scopes hide actions only once Offers has read them; card
// offers never ask Recharge for them, and keep them past ScopesTTL.
func TestCardOffersUseOnlyRememberedScopes(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withScopes("read_customers", "read_subscriptions", "read_orders", "write_subscriptions"))
	if got := h.cardOffers(alex, admin); !slices.Contains(got, rechargekit.ActionSkip) {
		t.Errorf("scopes never read: skip should be offered, got %v", got)
	}
	if n := h.sim.Stats().ByRoute["GET /token_information"]; n != 0 {
		t.Errorf("card offers asked for the token's scopes %d times, want 0", n)
	}
	if _, err := h.svc.Offers(context.Background(), target, admin); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(2 * actions.DefaultScopesTTL)
	got := h.cardOffers(alex, admin)
	if slices.Contains(got, rechargekit.ActionSkip) || slices.Contains(got, rechargekit.ActionUnskip) || !slices.Contains(got, rechargekit.ActionCancel) {
		t.Errorf("with remembered scopes lacking write_orders: %v, want no skip or unskip, cancel still offered", got)
	}
	if n := h.sim.Stats().ByRoute["GET /token_information"]; n != 1 {
		t.Errorf("token_information asked %d times, want once (by Offers)", n)
	}
}

// countingStore counts ActionPolicy reads and can make them fail or block.
type countingStore struct {
	rechargekit.ActionStore
	calls   atomic.Int32
	mu      sync.Mutex
	fail    bool
	release chan struct{} // when set, reads block until it is closed, ignoring their context
}

func (s *countingStore) ActionPolicy(ctx context.Context) (rechargekit.ActionPolicy, error) {
	s.calls.Add(1)
	s.mu.Lock()
	fail, release := s.fail, s.release
	s.mu.Unlock()
	if release != nil {
		<-release
		return nil, errors.New("counting store: released")
	}
	if fail {
		return nil, errors.New("counting store: database down")
	}
	return s.ActionStore.ActionPolicy(ctx)
}

// An admin's change to the policy reaches the card offers once PolicyTTL
// has passed, read in the background; a failed read keeps the last known
// policy.
func TestCardOffersFollowThePolicy(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	store := &countingStore{ActionStore: h.store}
	h.svc.Store = store
	h.svc.PolicyWait = testkit.WaitTimeout // the first read, from memory, always answers in time here
	ctx := context.Background()

	p := rechargekit.DefaultActionPolicy()
	p[rechargekit.RoleGladly][rechargekit.ActionChangeQuantity] = true
	if err := h.store.UpdateActionPolicy(ctx, p, "admin@brand.com"); err != nil {
		t.Fatal(err)
	}
	if got := h.cardOffers(alex, gladly); !slices.Contains(got, rechargekit.ActionChangeQuantity) {
		t.Fatalf("the first card offers read the policy: got %v, want change_quantity", got)
	}

	p[rechargekit.RoleGladly][rechargekit.ActionCancel] = false
	if err := h.store.UpdateActionPolicy(ctx, p, "admin@brand.com"); err != nil {
		t.Fatal(err)
	}
	if got := h.cardOffers(alex, gladly); !slices.Contains(got, rechargekit.ActionCancel) {
		t.Errorf("within PolicyTTL the cached policy stands: got %v, want cancel still", got)
	}
	if n := store.calls.Load(); n != 1 {
		t.Errorf("%d policy reads within the TTL, want 1", n)
	}
	h.clock.Advance(actions.DefaultPolicyTTL)
	testkit.WaitFor(t, "the policy read again in the background", func() bool {
		return !slices.Contains(h.cardOffers(alex, gladly), rechargekit.ActionCancel)
	})

	// The database fails: the last known policy stays.
	store.mu.Lock()
	store.fail = true
	store.mu.Unlock()
	reads := store.calls.Load()
	h.clock.Advance(actions.DefaultPolicyTTL)
	_ = h.cardOffers(alex, gladly)
	// Reads are one at a time: the next one begins only after the failed
	// one has settled.
	testkit.WaitFor(t, "a read after the failed one", func() bool {
		h.clock.Advance(actions.DefaultPolicyTTL)
		_ = h.cardOffers(alex, gladly)
		return store.calls.Load() >= reads+2
	})
	got := h.cardOffers(alex, gladly)
	if slices.Contains(got, rechargekit.ActionCancel) || !slices.Contains(got, rechargekit.ActionChangeQuantity) {
		t.Errorf("after failed reads: %v, want the last known policy (no cancel, change_quantity)", got)
	}
}

// A hung store holds neither the card offers nor more than one read: the
// first card offers wait at most PolicyWait and offer the default policy's
// actions, later ones do not wait at all.
func TestCardOffersDoNotWaitOnAHungStore(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	store := &countingStore{ActionStore: h.store, release: make(chan struct{})}
	t.Cleanup(func() { close(store.release) })
	h.svc.Store = store
	h.svc.PolicyWait = 10 * time.Millisecond
	card := h.card(alex)

	want := []string{rechargekit.ActionCancel, rechargekit.ActionReactivate, rechargekit.ActionSkip,
		rechargekit.ActionUnskip, rechargekit.ActionSetNextChargeDate}
	for i := range 5 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		got := h.svc.CardOffers(ctx, card, gladly)
		late := ctx.Err() != nil
		cancel()
		if late {
			t.Fatalf("card offers %d waited out a 2 s deadline on a hung store", i)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("card offers %d with a hung store (-want the default policy's +got):\n%s", i, diff)
		}
	}
	if n := store.calls.Load(); n != 1 {
		t.Errorf("%d policy reads are waiting on the hung store, want 1", n)
	}
}
