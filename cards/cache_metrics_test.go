package cards_test

import (
	"context"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/cards"
	"github.com/rechargekit/rechargekit/internal/testkit"
	"github.com/rechargekit/rechargekit/metrics/metricstest"
)

// TestCachedMetrics checks that the cache reports how each card was
// served: a miss, hits, a lookup that joined another's fetch, a stale
// answer and a background refresh.
func TestCachedMetrics(t *testing.T) {
	t.Parallel()
	rec := &metricstest.Recorder{}
	f := &fakeCards{}
	c, clock := newCached(t, f, cards.CachedOptions{TTL: time.Minute, StaleFor: time.Hour, RefreshAfter: 45 * time.Second, Metrics: rec})
	want := map[string]int{}
	check := func(step string) {
		t.Helper()
		if got := rec.Counts(); !maps.Equal(got, want) {
			t.Errorf("%s: counted %v, want %v", step, got, want)
		}
	}

	MustCard(t, c, 1)
	want["cache miss"]++
	check("first lookup")
	MustCard(t, c, 1)
	MustCard(t, c, 1)
	want["cache hit"] += 2
	check("two warm lookups")

	// Two lookups at once for a new customer: one fetch, one joins it.
	block := make(chan struct{})
	f.setBlock(block)
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() { MustCard(t, c, 2) })
	}
	testkit.WaitFor(t, "both lookups to be counted", func() bool { return rec.Count("cache miss")+rec.Count("cache shared") == 3 })
	close(block)
	wg.Wait()
	f.setBlock(nil)
	want["cache miss"]++
	want["cache shared"]++
	check("two lookups at once")

	// Near expiry, a hit starts a background refresh.
	clock.Advance(50 * time.Second)
	MustCard(t, c, 1)
	want["cache hit"]++
	want["cache refresh"]++
	testkit.WaitFor(t, "the refresh", func() bool { return f.Calls() == 3 })
	check("a hit near expiry")

	// Past its TTL with Recharge down: stale.
	clock.Advance(2 * time.Minute)
	f.setErr(rechargekit.Errorf(rechargekit.EUPSTREAM, "Recharge is unavailable"))
	if card, err := c.Card(context.Background(), 2); err != nil || !card.Stale {
		t.Fatalf("card %v, err %v; want stale", card, err)
	}
	want["cache miss"]++
	want["cache stale"]++
	check("Recharge down")
}
