package cards

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rechargekit/rechargekit"
)

// Defaults of CachedOptions.
const (
	// DefaultCardTTL is how long a cached card is served without asking
	// Recharge. Webhooks invalidate changed cards sooner.
	DefaultCardTTL = 60 * time.Second
	// DefaultStaleFor is how long an expired card is kept to be served,
	// marked stale, when Recharge cannot be reached.
	DefaultStaleFor = 24 * time.Hour
	// DefaultStaleMargin is how long before the caller's deadline a lookup
	// stops waiting for Recharge and answers from the cache instead.
	DefaultStaleMargin = 250 * time.Millisecond
	// DefaultFetchTimeout bounds a fetch when the caller's context has no
	// deadline, and every background refresh.
	DefaultFetchTimeout = 15 * time.Second
	// DefaultMaxFetches is how many fetches may run at once before lookups
	// that have a stale card to show are answered with it at once.
	DefaultMaxFetches = 16
)

// CachedOptions configures a Cached service. Zero values take the defaults.
type CachedOptions struct {
	// TTL is how long a card is served from the cache (DefaultCardTTL).
	TTL time.Duration
	// StaleFor is how old a card may be and still be served, marked stale,
	// when Recharge fails (DefaultStaleFor). Caches that expire entries
	// themselves (Redis) should keep them at least this long.
	StaleFor time.Duration
	// RefreshAfter is the age after which a lookup that finds a fresh card
	// also refreshes it in the background, so that customers who are looked
	// at often rarely wait for Recharge. Zero means three quarters of the
	// TTL; a negative value turns refreshing ahead off.
	RefreshAfter time.Duration
	// StaleMargin is how long before the caller's deadline a lookup that
	// has a stale card to fall back on stops waiting for Recharge
	// (DefaultStaleMargin).
	StaleMargin time.Duration
	// FetchTimeout bounds a fetch when the caller's context has no
	// deadline, and every background refresh (DefaultFetchTimeout).
	FetchTimeout time.Duration
	// MaxFetches is how many fetches (and refreshes) may run at once
	// (DefaultMaxFetches; negative: no limit). When that many run, a
	// lookup that has a stale card answers with it at once, and one with
	// nothing cached waits for a fetch to end (or for its deadline). Under
	// a burst, Recharge's budget (40 requests, 3 a card) then goes to whole
	// cards instead of being spread over many fetches that each get one
	// call of three and fail.
	MaxFetches int
	// Now is the clock that ages cards (time.Now when nil). Deadlines
	// follow the wall clock, as contexts do.
	Now func() time.Time
	// Logger receives cache failures (slog.Default() when nil).
	Logger *slog.Logger
	// Metrics counts how cards are served (hit, miss, shared, stale,
	// refresh); nil counts nothing.
	Metrics rechargekit.Metrics
}

// CacheStats counts what a Cached service did since it was created.
type CacheStats struct {
	Hits          int64 // lookups answered from the cache, fresh
	Misses        int64 // lookups that needed Recharge
	Fetches       int64 // fetches from Recharge for lookups (one per single flight)
	Coalesced     int64 // lookups that waited for a fetch another lookup started
	Stale         int64 // lookups answered with a stale card
	Errors        int64 // lookups answered with an error (ENOTFOUND included)
	Refreshes     int64 // background refreshes started
	Invalidations int64 // Invalidate calls
	CacheErrors   int64 // failures of the CardCache itself (reads count as misses)
}

// Cached is a rechargekit.CardService that keeps cards in a CardCache in
// front of another CardService (normally a Service over Recharge):
//
//   - a card younger than the TTL is served from the cache, without
//     asking Recharge; webhooks call Invalidate when a customer changes;
//   - concurrent misses for one customer make one fetch (single flight);
//   - when Recharge fails (EUPSTREAM: down, too slow, budget spent, or
//     refusing our token) or the caller's deadline draws near, a card younger
//     than StaleFor is served with Stale set instead of an error;
//   - at most MaxFetches fetches run at once: under a burst, a lookup
//     that has a stale card answers with it at once, and one that has
//     nothing cached waits its turn, rather than start another fetch that
//     Recharge's budget could only partly serve;
//   - a customer Recharge no longer knows (ENOTFOUND) is dropped.
//
// FindCustomers is passed through uncached: searches feed auto-linking,
// which must see current emails. Create it with NewCached; it is safe for
// concurrent use. Close stops background refreshes.
type Cached struct {
	svc          rechargekit.CardService
	cache        rechargekit.CardCache
	ttl          time.Duration
	staleFor     time.Duration
	refreshAfter time.Duration
	margin       time.Duration
	fetchTimeout time.Duration
	maxFetches   int
	now          func() time.Time
	log          *slog.Logger
	metrics      rechargekit.Metrics

	mu         sync.Mutex
	flights    map[int64]*flight
	refreshing map[int64]bool
	slots      chan struct{} // one per fetch or refresh in progress; nil: no limit
	closed     bool
	bg         sync.WaitGroup
	bgCtx      context.Context
	bgCancel   context.CancelFunc

	hits, misses, fetches, coalesced, stale, errs, refreshes, invalidations, cacheErrs atomic.Int64

	lastCacheLog atomic.Int64 // unix nanoseconds of the last cache failure logged
}

var (
	_ rechargekit.CardService      = (*Cached)(nil)
	_ rechargekit.CustomerSearcher = (*Cached)(nil)
)

// NewCached returns a Cached service reading through svc and keeping cards
// in cache.
func NewCached(svc rechargekit.CardService, cache rechargekit.CardCache, opts CachedOptions) *Cached {
	c := &Cached{
		svc:          svc,
		cache:        cache,
		ttl:          opts.TTL,
		staleFor:     opts.StaleFor,
		refreshAfter: opts.RefreshAfter,
		margin:       opts.StaleMargin,
		fetchTimeout: opts.FetchTimeout,
		maxFetches:   opts.MaxFetches,
		now:          opts.Now,
		log:          opts.Logger,
		metrics:      opts.Metrics,
		flights:      map[int64]*flight{},
		refreshing:   map[int64]bool{},
	}
	if c.ttl <= 0 {
		c.ttl = DefaultCardTTL
	}
	if c.staleFor <= 0 {
		c.staleFor = DefaultStaleFor
	}
	c.staleFor = max(c.staleFor, c.ttl)
	switch {
	case c.refreshAfter == 0:
		c.refreshAfter = c.ttl * 3 / 4
	case c.refreshAfter >= c.ttl:
		c.refreshAfter = -1
	}
	if c.margin <= 0 {
		c.margin = DefaultStaleMargin
	}
	if c.fetchTimeout <= 0 {
		c.fetchTimeout = DefaultFetchTimeout
	}
	if c.maxFetches == 0 {
		c.maxFetches = DefaultMaxFetches
	}
	if c.maxFetches > 0 {
		c.slots = make(chan struct{}, c.maxFetches)
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.metrics == nil {
		c.metrics = rechargekit.NopMetrics{}
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	c.bgCtx, c.bgCancel = context.WithCancel(context.Background())
	return c
}

// NewCachedService is the usual wiring in one call: a Service over src with
// a Cached in front of it. A nil cache means an in-memory one of
// DefaultMemoryCacheEntries cards.
func NewCachedService(src rechargekit.RechargeSource, cache rechargekit.CardCache, opts CachedOptions) *Cached {
	svc := New(src)
	svc.Now = opts.Now
	svc.Logger = opts.Logger
	if cache == nil {
		cache = NewMemoryCache(DefaultMemoryCacheEntries)
	}
	return NewCached(svc, cache, opts)
}

// Stats returns the counters.
func (c *Cached) Stats() CacheStats {
	return CacheStats{
		Hits:          c.hits.Load(),
		Misses:        c.misses.Load(),
		Fetches:       c.fetches.Load(),
		Coalesced:     c.coalesced.Load(),
		Stale:         c.stale.Load(),
		Errors:        c.errs.Load(),
		Refreshes:     c.refreshes.Load(),
		Invalidations: c.invalidations.Load(),
		CacheErrors:   c.cacheErrs.Load(),
	}
}

// Close cancels background refreshes and fetches in progress, and waits
// for them to end. Call it at shutdown: after Close, a lookup that misses
// the cache can only be answered stale (or fail).
func (c *Cached) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.bgCancel()
	c.bg.Wait()
	return nil
}

// FindCustomers passes the search through to the wrapped service.
func (c *Cached) FindCustomers(ctx context.Context, q rechargekit.CustomerSearch) ([]*rechargekit.Match, error) {
	return c.svc.FindCustomers(ctx, q)
}

// SearchCustomers passes the search through to the wrapped service,
// keeping what it could not search (rechargekit.CustomerSearcher).
func (c *Cached) SearchCustomers(ctx context.Context, q rechargekit.CustomerSearch) (*rechargekit.SearchResult, error) {
	return rechargekit.SearchCustomers(ctx, c.svc, q)
}

// Invalidate marks the customer's cached card out of date, so that the next
// lookup reads Recharge again (the card stays available as a stale
// fallback), and makes the next lookup start a fetch of its own rather
// than join one that began before the change. Webhooks call it; it is
// idempotent.
func (c *Cached) Invalidate(ctx context.Context, customerID int64) error {
	c.invalidations.Add(1)
	c.mu.Lock()
	delete(c.flights, customerID)
	c.mu.Unlock()
	if err := c.cache.Invalidate(ctx, customerID); err != nil {
		c.cacheErrs.Add(1)
		return fmt.Errorf("cards: invalidate the card of customer %d: %w", customerID, err)
	}
	return nil
}

// Card returns the customer's card from the cache when it is fresh, and
// otherwise from the wrapped service, falling back to a stale card as
// described on Cached.
// Errors: EINVALID, ENOTFOUND, EUPSTREAM.
func (c *Cached) Card(ctx context.Context, customerID int64) (*rechargekit.Card, error) {
	if customerID <= 0 {
		return nil, rechargekit.Errorf(rechargekit.EINVALID, "A Recharge customer id must be a positive number.")
	}
	entry, err := c.cache.Get(ctx, customerID)
	if err != nil {
		c.cacheFailed(ctx, "card cache read failed; asking Recharge", customerID, err)
		entry = nil
	}
	now := c.now()
	if entry != nil && entry.Card != nil && !entry.Invalid {
		if age := now.Sub(entry.StoredAt); age < c.ttl {
			c.hits.Add(1)
			c.metrics.CardCache(rechargekit.CacheHit)
			if c.refreshAfter > 0 && age >= c.refreshAfter {
				c.refresh(customerID, entry.Gen)
			}
			return entry.Card, nil
		}
	}
	c.misses.Add(1)
	var fallback *rechargekit.Card
	if entry != nil && entry.Card != nil && now.Sub(entry.StoredAt) < c.staleFor {
		fallback = entry.Card
	}
	var gen uint64
	if entry != nil {
		gen = entry.Gen
	}
	f, err := c.join(ctx, customerID, gen, fallback != nil)
	if err != nil {
		c.errs.Add(1)
		return nil, err
	}
	if f == nil { // MaxFetches running: the stale card now
		return c.fallBack(fallback, rechargekit.Errorf(rechargekit.EUPSTREAM, "Recharge is busy; try again shortly."))
	}
	card, err := c.await(ctx, f, fallback)
	if err != nil {
		c.errs.Add(1)
	}
	return card, err
}

// flight is one fetch of a card that several lookups may wait for.
type flight struct {
	done chan struct{}
	card *rechargekit.Card
	err  error
}

// join returns the customer's fetch in progress, or starts one. When
// MaxFetches run, it returns nil for a caller that can answer stale, and
// otherwise waits for a slot until ctx ends (then EUPSTREAM). The fetch
// runs on its own goroutine with the first caller's values and deadline
// (FetchTimeout when it has none) but not its cancellation, so that callers
// who stop waiting (to answer stale) do not waste the calls already made:
// the card still lands in the cache for the next lookup.
func (c *Cached) join(ctx context.Context, customerID int64, gen uint64, hasFallback bool) (*flight, error) {
	c.mu.Lock()
	if f, ok := c.flights[customerID]; ok {
		c.mu.Unlock()
		c.coalesced.Add(1)
		c.metrics.CardCache(rechargekit.CacheShared)
		return f, nil
	}
	if c.tryAcquire() {
		defer c.mu.Unlock()
		return c.start(ctx, customerID, gen), nil
	}
	c.mu.Unlock()
	if hasFallback {
		return nil, nil
	}
	select {
	case c.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, rechargekit.WrapError(rechargekit.EUPSTREAM, "Recharge is busy: too many lookups are waiting for it.", ctx.Err())
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if f, ok := c.flights[customerID]; ok { // started while we waited
		<-c.slots
		c.coalesced.Add(1)
		c.metrics.CardCache(rechargekit.CacheShared)
		return f, nil
	}
	return c.start(ctx, customerID, gen), nil
}

// tryAcquire takes a fetch slot if one is free.
func (c *Cached) tryAcquire() bool {
	if c.slots == nil {
		return true
	}
	select {
	case c.slots <- struct{}{}:
		return true
	default:
		return false
	}
}

// releaseSlot gives a fetch slot back.
func (c *Cached) releaseSlot() {
	if c.slots != nil {
		<-c.slots
	}
}

// start begins a fetch. The caller holds mu and a fetch slot, which the
// fetch gives back when it ends.
func (c *Cached) start(ctx context.Context, customerID int64, gen uint64) *flight {
	f := &flight{done: make(chan struct{})}
	c.flights[customerID] = f
	c.bg.Add(1)
	c.fetches.Add(1)
	c.metrics.CardCache(rechargekit.CacheMiss)

	deadline := time.Now().Add(c.fetchTimeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	fctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), deadline)
	stop := context.AfterFunc(c.bgCtx, cancel) // Close cancels it
	go func() {
		defer c.bg.Done()
		defer cancel()
		defer stop()
		start := c.now()
		card, err := c.svc.Card(fctx, customerID)
		c.store(fctx, customerID, card, err, start, gen)
		f.card, f.err = card, err
		c.mu.Lock()
		if c.flights[customerID] == f {
			delete(c.flights, customerID)
		}
		c.mu.Unlock()
		c.releaseSlot()
		close(f.done)
	}()
	return f
}

// cacheFailed counts a failure of the CardCache and logs it, at most once
// every ten seconds: when Redis is down, every lookup fails the same way.
func (c *Cached) cacheFailed(ctx context.Context, msg string, customerID int64, err error) {
	c.cacheErrs.Add(1)
	now := time.Now().UnixNano()
	last := c.lastCacheLog.Load()
	if now-last < int64(10*time.Second) || !c.lastCacheLog.CompareAndSwap(last, now) {
		return
	}
	c.log.WarnContext(ctx, msg, "customer_id", customerID, "correlation_id", rechargekit.CorrelationID(ctx),
		"failures", c.cacheErrs.Load(), "error", err)
}

// store records a fetch's outcome in the cache: the card, or the customer's
// removal when Recharge no longer knows it.
func (c *Cached) store(ctx context.Context, customerID int64, card *rechargekit.Card, err error, start time.Time, gen uint64) {
	var cerr error
	switch {
	case err == nil && card != nil && card.Stale:
		// A source that answered from its own copy while Recharge failed
		// (the mirror): not kept, so the next lookup asks again.
	case err == nil && card != nil:
		cerr = c.cache.Set(ctx, card, start, gen)
	case rechargekit.ErrorCode(err) == rechargekit.ENOTFOUND:
		cerr = c.cache.Delete(ctx, customerID)
	}
	if cerr != nil {
		c.cacheFailed(ctx, "card cache write failed", customerID, cerr)
	}
}

// await waits for f, or, when there is a stale card to fall back on, until
// StaleMargin before ctx's deadline, whichever comes first.
func (c *Cached) await(ctx context.Context, f *flight, fallback *rechargekit.Card) (*rechargekit.Card, error) {
	var cutoff <-chan time.Time
	if dl, ok := ctx.Deadline(); ok && fallback != nil {
		t := time.NewTimer(time.Until(dl) - c.margin)
		defer t.Stop()
		cutoff = t.C
	}
	select {
	case <-f.done:
		if f.err == nil {
			return f.card, nil
		}
		return c.fallBack(fallback, f.err)
	case <-cutoff:
		return c.fallBack(fallback, rechargekit.Errorf(rechargekit.EUPSTREAM, "Recharge did not answer in time."))
	case <-ctx.Done():
		return c.fallBack(fallback, rechargekit.WrapError(rechargekit.EUPSTREAM, "The lookup ran out of time.", ctx.Err()))
	}
}

// fallBack answers a failed fetch: with the stale card when the failure
// is Recharge's (EUPSTREAM, which includes Recharge refusing our token) and
// there is one, else with the error.
func (c *Cached) fallBack(fallback *rechargekit.Card, err error) (*rechargekit.Card, error) {
	if fallback == nil || rechargekit.ErrorCode(err) != rechargekit.EUPSTREAM {
		return nil, err
	}
	c.stale.Add(1)
	c.metrics.CardCache(rechargekit.CacheStale)
	cp := *fallback
	cp.Stale = true
	return &cp, nil
}

// refresh fetches the card again in the background, marked as background
// work so that a shared rate limiter lets agents' lookups go first. At most
// one refresh per customer runs at a time.
func (c *Cached) refresh(customerID int64, gen uint64) {
	c.mu.Lock()
	if c.closed || c.refreshing[customerID] || !c.tryAcquire() {
		c.mu.Unlock()
		return
	}
	c.refreshing[customerID] = true
	c.bg.Add(1)
	c.mu.Unlock()
	c.refreshes.Add(1)
	c.metrics.CardCache(rechargekit.CacheRefresh)
	go func() {
		defer c.bg.Done()
		defer func() {
			c.mu.Lock()
			delete(c.refreshing, customerID)
			c.mu.Unlock()
			c.releaseSlot()
		}()
		ctx, cancel := context.WithTimeout(rechargekit.WithBackground(c.bgCtx), c.fetchTimeout)
		defer cancel()
		start := c.now()
		card, err := c.svc.Card(ctx, customerID)
		if err != nil && rechargekit.ErrorCode(err) != rechargekit.ENOTFOUND {
			c.log.DebugContext(ctx, "background card refresh failed", "customer_id", customerID, "error", err)
			return
		}
		c.store(ctx, customerID, card, err, start, gen)
	}()
}
