package mirror

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/internal/testkit"
	"github.com/rechargekit/rechargekit/recharge"
	"github.com/rechargekit/rechargekit/recharge/rechargetest"
)

// alex is the demo store's Alex Rivera.
const alex = 183940021

// clockedEnv is a testEnv, backfilled, whose simulator and mirror share
// a test clock, with the simulator's webhooks posted to a receiver.
func clockedEnv(t *testing.T) (*testEnv, *testkit.Clock, *receiver) {
	t.Helper()
	clock := testkit.NewClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	rcv := newReceiver(t)
	e := newEnv(t, envConfig{
		sim:  rechargetest.Config{Now: clock.Now, WebhookURL: rcv.URL, WebhookSecret: "whsec_test"},
		opts: func(o *Options) { o.Now = clock.Now },
	})
	e.backfill(t)
	return e, clock, rcv
}

// mirroredSub returns the subscription on the customer's mirrored card,
// nil when the card does not show it.
func mirroredSub(t *testing.T, m *Mirror, customerID, subID int64) *rechargekit.Subscription {
	t.Helper()
	recs, err := m.store.MirroredCustomer(context.Background(), customerID)
	if err != nil {
		t.Fatal(err)
	}
	card, err := m.mirroredCard(context.Background(), recs, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range card.Subscriptions {
		if s.ID == subID {
			return s
		}
	}
	return nil
}

// activeSub returns the card's first active subscription.
func activeSub(t *testing.T, card *rechargekit.Card) *rechargekit.Subscription {
	t.Helper()
	for _, s := range card.Subscriptions {
		if s.IsActive() {
			return s
		}
	}
	t.Fatalf("customer %d has no active subscription", card.Customer.ID)
	return nil
}

func setQuantity(t *testing.T, c *recharge.Client, subID int64, q int) {
	t.Helper()
	if _, _, err := c.Subscriptions.Update(context.Background(), subID, &recharge.SubscriptionUpdateRequest{Quantity: &q}); err != nil {
		t.Fatal(err)
	}
}

// TestApplyWebhooks applies real deliveries of the simulator out of
// order, twice, without a topic and as deletions.
func TestApplyWebhooks(t *testing.T) {
	t.Parallel()
	e, clock, rcv := clockedEnv(t)
	ctx := context.Background()
	sub := activeSub(t, e.card(t, alex))
	q := sub.Quantity

	clock.Advance(time.Minute)
	setQuantity(t, e.client, sub.ID, q+1)
	older := rcv.next(t, "subscription/updated")
	clock.Advance(time.Minute)
	setQuantity(t, e.client, sub.ID, q+2)
	newer := rcv.next(t, "subscription/updated")
	e.changed()

	apply := func(h hook, withTopic bool) []int64 {
		t.Helper()
		if err := e.m.Apply(ctx, parse(t, h, withTopic)); err != nil {
			t.Fatalf("apply %s: %v", h.topic, err)
		}
		return e.changed()
	}
	if got := apply(newer, true); !slices.Equal(got, []int64{alex}) {
		t.Errorf("the newer delivery changed %v, want Alex", got)
	}
	if got := apply(older, true); len(got) != 0 {
		t.Errorf("the older delivery, arriving late, changed %v, want nothing", got)
	}
	if got := apply(newer, true); len(got) != 0 {
		t.Errorf("a duplicate delivery changed %v, want nothing", got)
	}
	// Deliveries arriving at once: the newer one still wins.
	var wg sync.WaitGroup
	evs := []*recharge.WebhookEvent{parse(t, older, true), parse(t, newer, true)}
	for i := range 20 {
		ev := evs[i%2]
		wg.Go(func() {
			if err := e.m.Apply(ctx, ev); err != nil {
				t.Errorf("concurrent apply: %v", err)
			}
		})
	}
	wg.Wait()
	if s := mirroredSub(t, e.m, alex, sub.ID); s == nil || s.Quantity != q+2 {
		t.Fatalf("after out-of-order deliveries the mirror shows %+v, want quantity %d", s, q+2)
	}
	e.changed()

	clock.Advance(time.Minute)
	setQuantity(t, e.client, sub.ID, q+3)
	if got := apply(rcv.next(t, "subscription/updated"), false); !slices.Equal(got, []int64{alex}) {
		t.Errorf("a delivery without a topic changed %v, want Alex", got)
	}
	if s := mirroredSub(t, e.m, alex, sub.ID); s == nil || s.Quantity != q+3 {
		t.Fatalf("after a delivery without a topic the mirror shows %+v, want quantity %d", s, q+3)
	}

	clock.Advance(time.Minute)
	if _, err := e.client.Subscriptions.Delete(ctx, sub.ID); err != nil {
		t.Fatal(err)
	}
	if got := apply(rcv.next(t, "subscription/deleted"), true); !slices.Equal(got, []int64{alex}) {
		t.Errorf("the deletion changed %v, want Alex", got)
	}
	if s := mirroredSub(t, e.m, alex, sub.ID); s != nil {
		t.Errorf("the deleted subscription is still mirrored: %+v", s)
	}

	// A deleted customer takes its records along; the card is then read live.
	const other = 183940019 // Lucas Silva
	if _, err := e.m.store.MirroredCustomer(ctx, other); err != nil {
		t.Fatalf("customer %d not mirrored: %v", other, err)
	}
	if _, err := e.client.Customers.Delete(ctx, other); err != nil {
		t.Fatal(err)
	}
	apply(rcv.next(t, "customer/deleted"), true)
	if _, err := e.m.store.MirroredCustomer(ctx, other); rechargekit.ErrorCode(err) != rechargekit.ENOTFOUND {
		t.Errorf("the deleted customer is still mirrored (err %v)", err)
	}
}

// TestApplyPaymentMethodAndOthers files a payment method delivery (a
// resource ParseWebhook leaves raw) and ignores an order delivery.
func TestApplyPaymentMethodAndOthers(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{})
	ctx := context.Background()
	apply := func(topic, body string) {
		t.Helper()
		ev, err := recharge.ParseWebhook(topic, []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		if err := e.m.Apply(ctx, ev); err != nil {
			t.Fatalf("apply %s: %v", topic, err)
		}
	}
	apply("order/created", `{"order":{"id":1,"customer_id":2}}`)
	if got := e.changed(); len(got) != 0 {
		t.Errorf("an order delivery changed %v", got)
	}
	apply("", `{"payment_method":{"id":77,"customer_id":5,"default":true,"processor_customer_token":"cus_secret","updated_at":"2026-01-02T03:04:05+00:00"}}`)
	if got := e.changed(); !slices.Equal(got, []int64{5}) {
		t.Errorf("a payment method delivery changed %v, want customer 5", got)
	}
	recs, err := e.store.MirroredCustomer(ctx, 5)
	if rechargekit.ErrorCode(err) != rechargekit.ENOTFOUND {
		// Customer 5 is not held: its payment method waits for it.
		t.Errorf("customer 5 without its customer record: %v, %v", recs, err)
	}
	apply("payment_method/deleted", `{"payment_method":{"id":77,"customer_id":5,"updated_at":"2026-01-02T03:04:05+00:00"}}`)
	if got := e.changed(); !slices.Equal(got, []int64{5}) {
		t.Errorf("a payment method deletion changed %v, want customer 5", got)
	}
}
