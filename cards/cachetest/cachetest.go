// Package cachetest is the conformance suite every rechargekit.CardCache
// must pass: the in-memory cache of package cards and the Redis one run
// the same checks, so that cards.Cached behaves the same on either.
package cachetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rechargekit/rechargekit"
)

// Run checks the cache that newCache returns (a fresh, empty one per
// subtest) against the CardCache contract.
func Run(t *testing.T, newCache func(t *testing.T) rechargekit.CardCache) {
	ctx := context.Background()
	base := time.Date(2025, 3, 12, 9, 30, 0, 123456000, time.UTC)

	t.Run("unknown customer", func(t *testing.T) {
		t.Parallel()
		c := newCache(t)
		if e := MustGet(t, c, 404); e != nil {
			t.Fatalf("Get of an unknown customer = %+v, want nil", e)
		}
	})

	t.Run("set then get round-trips the card", func(t *testing.T) {
		t.Parallel()
		c := newCache(t)
		card := Card(1001, base)
		MustSet(t, c, card, base, 0)
		e := MustGet(t, c, 1001)
		want := &rechargekit.CacheEntry{Card: card, StoredAt: base, Gen: 0}
		if diff := cmp.Diff(want, e); diff != "" {
			t.Errorf("entry mismatch (-want +got):\n%s", diff)
		}
	})

	t.Run("invalidate keeps the card, marked", func(t *testing.T) {
		t.Parallel()
		c := newCache(t)
		MustSet(t, c, Card(1002, base), base, 0)
		MustInvalidate(t, c, 1002)
		e := MustGet(t, c, 1002)
		if e == nil || e.Card == nil || !e.Invalid || e.Gen == 0 {
			t.Fatalf("after Invalidate: %+v, want the card, Invalid and a new generation", e)
		}
		gen := e.Gen
		MustInvalidate(t, c, 1002) // a duplicate delivery
		if e := MustGet(t, c, 1002); e.Gen == gen || !e.Invalid || e.Card == nil {
			t.Fatalf("after a second Invalidate: %+v, want the card, Invalid and yet another generation", e)
		}
	})

	t.Run("a fetch that began before an invalidation stores its card invalid", func(t *testing.T) {
		t.Parallel()
		c := newCache(t)
		MustSet(t, c, Card(1003, base), base, 0)
		seen := MustGet(t, c, 1003).Gen // the fetch's Get
		MustInvalidate(t, c, 1003)      // the webhook arrives during the fetch
		MustSet(t, c, Card(1003, base.Add(time.Second)), base.Add(time.Second), seen)
		e := MustGet(t, c, 1003)
		if !e.Invalid || !e.StoredAt.Equal(base.Add(time.Second)) {
			t.Fatalf("entry = %+v, want the new card stored invalid", e)
		}
		// A fetch that began after the invalidation stores a valid card.
		MustSet(t, c, Card(1003, base.Add(2*time.Second)), base.Add(2*time.Second), e.Gen)
		if e := MustGet(t, c, 1003); e.Invalid {
			t.Fatalf("entry = %+v, want valid", e)
		}
	})

	t.Run("invalidating an unknown customer leaves a mark", func(t *testing.T) {
		t.Parallel()
		c := newCache(t)
		MustInvalidate(t, c, 1004)
		e := MustGet(t, c, 1004)
		if e == nil || e.Card != nil || e.Gen == 0 {
			t.Fatalf("entry = %+v, want a bare mark with a generation", e)
		}
		MustSet(t, c, Card(1004, base), base, 0) // the fetch's Get found nothing
		if e := MustGet(t, c, 1004); e.Card == nil || !e.Invalid {
			t.Fatalf("entry = %+v, want the card stored invalid", e)
		}
	})

	t.Run("an older fetch does not replace a newer card", func(t *testing.T) {
		t.Parallel()
		c := newCache(t)
		newer := Card(1005, base.Add(time.Minute))
		newer.Customer.FirstName = "Newer"
		MustSet(t, c, newer, base.Add(time.Minute), 0)
		MustSet(t, c, Card(1005, base), base, 0)
		e := MustGet(t, c, 1005)
		if e.Card.Customer.FirstName != "Newer" || !e.StoredAt.Equal(base.Add(time.Minute)) {
			t.Fatalf("entry = %+v, want the newer card kept", e)
		}
		// But a valid older-started card replaces a newer invalid one.
		gen := e.Gen
		MustInvalidate(t, c, 1005)
		gen2 := MustGet(t, c, 1005).Gen
		if gen2 == gen {
			t.Fatal("Invalidate did not move the generation")
		}
		MustSet(t, c, Card(1005, base.Add(30*time.Second)), base.Add(30*time.Second), gen2)
		if e := MustGet(t, c, 1005); e.Invalid || e.Card.Customer.FirstName == "Newer" {
			t.Fatalf("entry = %+v, want the valid card", e)
		}
	})

	t.Run("delete drops the card and moves the generation", func(t *testing.T) {
		t.Parallel()
		c := newCache(t)
		MustSet(t, c, Card(1006, base), base, 0)
		seen := MustGet(t, c, 1006).Gen
		if err := c.Delete(ctx, 1006); err != nil {
			t.Fatal(err)
		}
		if e := MustGet(t, c, 1006); e != nil && e.Card != nil {
			t.Fatalf("after Delete: %+v, want no card", e)
		}
		MustSet(t, c, Card(1006, base.Add(time.Second)), base.Add(time.Second), seen)
		if e := MustGet(t, c, 1006); e == nil || !e.Invalid {
			t.Fatalf("a fetch from before Delete stored %+v, want it invalid", e)
		}
	})

	t.Run("concurrent use", func(t *testing.T) {
		t.Parallel()
		c := newCache(t)
		var wg sync.WaitGroup
		errs := make(chan error, 64)
		for i := range 16 {
			wg.Go(func() {
				id := int64(2000 + i%4)
				for j := range 10 {
					at := base.Add(time.Duration(j) * time.Second)
					e, err := c.Get(ctx, id)
					if err != nil {
						errs <- err
						return
					}
					var gen uint64
					if e != nil {
						gen = e.Gen
					}
					if err := c.Set(ctx, Card(id, at), at, gen); err != nil {
						errs <- err
						return
					}
					if j%3 == 0 {
						if err := c.Invalidate(ctx, id); err != nil {
							errs <- err
							return
						}
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		for id := int64(2000); id < 2004; id++ {
			if e := MustGet(t, c, id); e == nil || e.Card == nil || e.Card.Customer.ID != id {
				t.Errorf("customer %d: entry %+v, want its card", id, e)
			}
		}
	})
}

// Card returns a card for customer id with every field set, fetched at.
func Card(id int64, at time.Time) *rechargekit.Card {
	total, active := 2, 1
	cancelled := at.Add(-48 * time.Hour)
	return &rechargekit.Card{
		Customer: rechargekit.Customer{
			ID: id, ExternalID: fmt.Sprint(7900000000000 + id), Email: fmt.Sprintf("c%d@example.com", id),
			FirstName: "Alex", LastName: "Rivera", Phone: "+15551234567",
			SubscriptionsTotal: &total, SubscriptionsActive: &active,
			CreatedAt: at.Add(-90 * 24 * time.Hour), UpdatedAt: at.Add(-time.Hour),
		},
		Subscriptions: []*rechargekit.Subscription{
			{
				ID: id*10 + 1, CustomerID: id, AddressID: id*100 + 1, Status: rechargekit.StatusActive,
				CreatedAt: at.Add(-60 * 24 * time.Hour), UpdatedAt: at.Add(-24 * time.Hour),
				ChargeIntervalFrequency: 1, OrderIntervalFrequency: 1, IntervalUnit: "month",
				NextChargeDate: "2025-04-01", Price: "25.00", Currency: "USD", Quantity: 1,
				Product: rechargekit.Product{ID: "8143925215383", VariantID: "44449165557911", Name: "Cold Brew",
					VariantName: "12 oz", SKU: "CB-12", ImageURL: "https://cdn.example.com/cb_medium.png"},
			},
			{
				ID: id*10 + 2, CustomerID: id, Status: rechargekit.StatusCancelled,
				CreatedAt: at.Add(-80 * 24 * time.Hour), UpdatedAt: cancelled,
				ChargeIntervalFrequency: 2, OrderIntervalFrequency: 2, IntervalUnit: "week",
				CancelledAt: &cancelled, CancellationReason: "Too expensive", CancellationReasonComments: "ünïcødé <b>",
				Price: "9.50", Currency: "EUR", Quantity: 2,
				Product: rechargekit.Product{ID: "1", Name: "Tea"},
			},
		},
		FetchedAt: at,
		Details:   Details(id, at),
	}
}

// Details returns card details for customer id with every field set, so
// that a cache must keep each of them.
func Details(id int64, at time.Time) *rechargekit.CardDetails {
	processed, attempt, retry := at.Add(-30*24*time.Hour), at.Add(-time.Hour), at.Add(72*time.Hour)
	addr := &rechargekit.Address{ID: id*100 + 1, FirstName: "Alex", LastName: "Rivera", Company: "Acme",
		Address1: "1 Main St", Address2: "Apt 2", City: "Austin", Province: "Texas", Zip: "78701", Country: "US",
		Phone: "+15551234567", PaymentMethodID: id*1000 + 1}
	next := &rechargekit.Charge{
		ID: id*10000 + 1, AddressID: addr.ID, Status: rechargekit.ChargeError, Type: "recurring", ScheduledAt: "2025-04-01",
		Currency: "USD",
		Lines: []rechargekit.ChargeLine{
			{SubscriptionID: id*10 + 1, Title: "Cold Brew", VariantTitle: "12 oz", SKU: "CB-12",
				ImageURL: "https://cdn.example.com/cb_medium.png", Quantity: 2, UnitPrice: "25.00", TotalPrice: "50.00"},
			{SubscriptionID: id*10 + 9, OneTime: true, Skipped: true, Title: "Mug", Quantity: 1, UnitPrice: "9.00", TotalPrice: "9.00"},
		},
		Discounts:     []rechargekit.Discount{{Code: "SAVE10", Value: "10", ValueType: "percentage", Amount: "5.00"}},
		Shipping:      []rechargekit.ShippingLine{{Title: "Pending", Code: "pending", Price: "0.00", Pending: true}},
		SubtotalPrice: "59.00", TotalDiscounts: "5.00", TotalTax: "1.00", TotalPrice: "55.00",
		ShipTo:    addr,
		ErrorType: "CARD_DECLINED", Error: "Your card was declined.", Attempts: 2,
		LastAttemptAt: &attempt, RetryAt: &retry,
	}
	order := &rechargekit.Charge{ID: id*10000 + 2, AddressID: addr.ID, Status: rechargekit.ChargeSuccess, ScheduledAt: "2025-03-01",
		ProcessedAt: &processed, Currency: "USD", TotalPrice: "55.00", OrderName: "#1016", RetriesExhausted: true}
	return &rechargekit.CardDetails{
		NextCharges: []*rechargekit.Charge{next},
		Payment: &rechargekit.Payment{InDunning: true, Failing: []*rechargekit.Charge{next},
			Default: &rechargekit.PaymentMethod{ID: id*1000 + 1, Default: true, Type: "CREDIT_CARD", Brand: "visa", Last4: "4242",
				ExpMonth: 12, ExpYear: 2026, Status: "valid", Email: "pay@example.com"}},
		RecentOrders: []*rechargekit.Charge{order},
		Addresses:    []*rechargekit.Address{addr},
		Events: []*rechargekit.Event{{ID: 1, At: attempt, ObjectType: "charge", ObjectID: next.ID, Verb: "failed",
			Description: "Failed charge", Origin: "api", Who: "rechargekit"}},
		Unavailable: map[string]string{rechargekit.SectionEvents: "The Recharge token may not read events (read_events)."},
	}
}

// MustGet returns c.Get's entry or fails the test.
func MustGet(tb testing.TB, c rechargekit.CardCache, id int64) *rechargekit.CacheEntry {
	tb.Helper()
	e, err := c.Get(context.Background(), id)
	if err != nil {
		tb.Fatalf("Get(%d): %v", id, err)
	}
	return e
}

// MustSet stores card or fails the test.
func MustSet(tb testing.TB, c rechargekit.CardCache, card *rechargekit.Card, at time.Time, gen uint64) {
	tb.Helper()
	if err := c.Set(context.Background(), card, at, gen); err != nil {
		tb.Fatalf("Set(%d): %v", card.Customer.ID, err)
	}
}

// MustInvalidate invalidates the customer or fails the test.
func MustInvalidate(tb testing.TB, c rechargekit.CardCache, id int64) {
	tb.Helper()
	if err := c.Invalidate(context.Background(), id); err != nil {
		tb.Fatalf("Invalidate(%d): %v", id, err)
	}
}
