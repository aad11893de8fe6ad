package actions_test

import (
	"context"
	"sync"
	"testing"

	"github.com/rechargekit/rechargekit"
)

// deadlineAtAnswer is an ActionSource whose cancel answers Recharge's
// reply and then ends the caller's context: the deadline running out just
// as Recharge applied the change.
type deadlineAtAnswer struct {
	rechargekit.ActionSource
	end context.CancelFunc
}

func (d *deadlineAtAnswer) CancelSubscription(ctx context.Context, id int64, req rechargekit.CancelRequest) (*rechargekit.ActionSubscription, error) {
	s, err := d.ActionSource.CancelSubscription(ctx, id, req)
	d.end()
	return s, err
}

// invalidations records whether each Invalidate had a live context.
type invalidations struct {
	rechargekit.CardService
	inner interface {
		Invalidate(ctx context.Context, customerID int64) error
	}

	mu   sync.Mutex
	errs []error
}

func (i *invalidations) Invalidate(ctx context.Context, customerID int64) error {
	i.mu.Lock()
	i.errs = append(i.errs, ctx.Err())
	i.mu.Unlock()
	if err := ctx.Err(); err != nil {
		// A shared cache (Redis) refuses a call whose context is done.
		return err
	}
	return i.inner.Invalidate(ctx, customerID)
}

// TestCardDroppedWhenTheDeadlineEndsAtTheAnswer: when the caller's
// deadline runs out just as Recharge applied the change, the customer's
// card is still dropped from every cache, as the outcome is still
// recorded: otherwise every replica and Gladly's next lookup keep showing
// the subscription as it was before, for the cache's whole lifetime.
func TestCardDroppedWhenTheDeadlineEndsAtTheAnswer(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.card(alex) // the agent's card is cached
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	inv := &invalidations{CardService: h.cards, inner: h.cards}
	svc := h.svc
	svc.Source = &deadlineAtAnswer{ActionSource: svc.Source, end: cancel}
	svc.Cards = inv

	req := &rechargekit.ActionRequest{Action: rechargekit.ActionCancel, SubscriptionID: shirt, Reason: "Other"}
	if _, err := svc.Do(ctx, target, agent, req, "late"); err != nil {
		t.Logf("Do: %v", err)
	}
	rs := h.records(rechargekit.ActionFilter{})
	if len(rs) != 1 || rs[0].Outcome != rechargekit.OutcomeDone {
		t.Fatalf("audit %+v", rs)
	}
	inv.mu.Lock()
	errs := inv.errs
	inv.mu.Unlock()
	if len(errs) != 1 || errs[0] != nil {
		t.Fatalf("invalidations after the change: %v, want one with a live context", errs)
	}
	if !subOf(h.card(alex), shirt).IsCancelled() {
		t.Error("the cached card still shows the subscription active")
	}
}
