package rechargekit

import (
	"context"
	"time"
)

// CardCache stores Subscription cards by Recharge customer id. The cards
// package's Cached service keeps cards in it; the cards package has an
// in-memory implementation and the redis package one that several replicas
// share. Implementations must be safe for concurrent use.
//
// Besides the card, an entry carries an invalidation generation, so that a
// fetch that began before a webhook invalidated the customer cannot store
// its (older) card as if it were current: Set compares the generation the
// fetch saw with the current one and, when they differ, stores the card
// already invalid. Such a card is still good to serve marked stale when
// Recharge cannot be reached, but the next lookup fetches again.
//
// Cached cards are shared between callers: treat them as read-only.
type CardCache interface {
	// Get returns the customer's entry, or nil and no error when there is
	// none. An entry may carry no card: a bare invalidation mark.
	Get(ctx context.Context, customerID int64) (*CacheEntry, error)

	// Set stores card, read from Recharge by a fetch that started at
	// storedAt, after Get had returned an entry of generation gen (0 when
	// Get found none). When the entry's generation has moved since (the
	// customer was invalidated meanwhile) the card is stored invalid. A
	// valid card stored by a fetch that started later is kept.
	Set(ctx context.Context, card *Card, storedAt time.Time, gen uint64) error

	// Invalidate marks the customer's card out of date (it stays available
	// as a stale fallback) and moves its generation, also when no card is
	// cached. Invalidating twice is harmless.
	Invalidate(ctx context.Context, customerID int64) error

	// Delete drops the customer's card, for when Recharge says the
	// customer no longer exists. Like Invalidate it moves the generation,
	// so a fetch that began before cannot bring the card back as valid.
	Delete(ctx context.Context, customerID int64) error
}

// CacheEntry is what a CardCache holds for one customer.
type CacheEntry struct {
	// Card is the cached card; nil for a bare invalidation mark.
	Card *Card
	// StoredAt is when the fetch that read the card started: the card is
	// at least as new as this.
	StoredAt time.Time
	// Gen is the invalidation generation, moved by every Invalidate. Pass
	// it back to Set after a fetch.
	Gen uint64
	// Invalid reports that the customer changed (a webhook) after the card
	// was read: serve the card only as stale.
	Invalid bool
}

type backgroundKey struct{}

// WithBackground marks ctx as background work, such as refreshing a cached
// card nobody is waiting for. A shared rate limiter admits background work
// only while Recharge's budget has room to spare, so that lookups agents
// wait for go first.
func WithBackground(ctx context.Context) context.Context {
	return context.WithValue(ctx, backgroundKey{}, true)
}

// IsBackground reports whether ctx was marked by WithBackground.
func IsBackground(ctx context.Context) bool {
	b, _ := ctx.Value(backgroundKey{}).(bool)
	return b
}
