package cards_test

import (
	"context"
	"testing"
	"time"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/cards"
	"github.com/rechargekit/rechargekit/cards/cachetest"
)

func TestMemoryCacheConformance(t *testing.T) {
	t.Parallel()
	cachetest.Run(t, func(t *testing.T) rechargekit.CardCache { return cards.NewMemoryCache(100) })
}

func TestMemoryCacheEvictsLeastRecentlyUsed(t *testing.T) {
	t.Parallel()
	m := cards.NewMemoryCache(3)
	at := time.Date(2025, 3, 12, 9, 0, 0, 0, time.UTC)
	for id := int64(1); id <= 3; id++ {
		cachetest.MustSet(t, m, cachetest.Card(id, at), at, 0)
	}
	cachetest.MustGet(t, m, 1) // 2 is now the least recently used
	cachetest.MustSet(t, m, cachetest.Card(4, at), at, 0)
	if m.Len() != 3 {
		t.Fatalf("Len = %d, want 3", m.Len())
	}
	for id, want := range map[int64]bool{1: true, 2: false, 3: true, 4: true} {
		if got := cachetest.MustGet(t, m, id) != nil; got != want {
			t.Errorf("customer %d held = %v, want %v", id, got, want)
		}
	}
}

// Invalidations of customers the cache does not hold (a billing run's
// webhooks) must not evict the cards in use.
func TestMemoryCacheMarksDoNotEvictCards(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := cards.NewMemoryCache(3)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for id := int64(1); id <= 2; id++ {
		if err := m.Set(ctx, &rechargekit.Card{Customer: rechargekit.Customer{ID: id}}, now, 0); err != nil {
			t.Fatal(err)
		}
	}
	for id := int64(100); id < 150; id++ {
		if err := m.Invalidate(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	for id := int64(1); id <= 2; id++ {
		e, err := m.Get(ctx, id)
		if err != nil || e == nil || e.Card == nil {
			t.Errorf("card %d evicted by marks: %+v, %v", id, e, err)
		}
	}
	if m.Len() > 3 {
		t.Errorf("Len = %d, want at most 3", m.Len())
	}
}
