package cards_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/cards"
	"github.com/rechargekit/rechargekit/internal/testkit"
	"github.com/rechargekit/rechargekit/recharge"
	"github.com/rechargekit/rechargekit/recharge/rechargetest"
)

// newFakeClock returns a clock that the test moves by hand, at a fixed
// start so that every run sees the same times.
func newFakeClock() *testkit.Clock {
	return testkit.NewClock(time.Date(2025, 3, 12, 9, 0, 0, 0, time.UTC))
}

// fakeCards is a CardService whose answers the test controls. Each call
// gets a card named "v<n>" (n = the call's number, from 1) unless err is
// set; with block set, calls wait for it to close (or for their context).
type fakeCards struct {
	mu         sync.Mutex
	calls      int
	background []bool // rechargekit.IsBackground of each call's context
	err        error
	block      chan struct{}
	started    chan int // receives each call's number when it starts, if set
	stale      bool     // cards come marked Stale, as the mirror's do while Recharge fails
}

func (f *fakeCards) setErr(err error) {
	f.mu.Lock()
	f.err = err
	f.mu.Unlock()
}

func (f *fakeCards) setBlock(ch chan struct{}) {
	f.mu.Lock()
	f.block = ch
	f.mu.Unlock()
}

func (f *fakeCards) Calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

func (f *fakeCards) Card(ctx context.Context, id int64) (*rechargekit.Card, error) {
	f.mu.Lock()
	f.calls++
	n, err, block, started, stale := f.calls, f.err, f.block, f.started, f.stale
	f.background = append(f.background, rechargekit.IsBackground(ctx))
	f.mu.Unlock()
	if started != nil {
		started <- n
	}
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return nil, rechargekit.WrapError(rechargekit.EUPSTREAM, "Recharge did not answer in time", ctx.Err())
		}
	}
	if err != nil {
		return nil, err
	}
	return &rechargekit.Card{
		Customer:  rechargekit.Customer{ID: id, FirstName: "v" + strconv.Itoa(n)},
		FetchedAt: time.Date(2025, 3, 12, 9, 0, n, 0, time.UTC),
		Stale:     stale,
	}, nil
}

func (f *fakeCards) FindCustomers(ctx context.Context, q rechargekit.CustomerSearch) ([]*rechargekit.Match, error) {
	return []*rechargekit.Match{{Customer: &rechargekit.Customer{ID: 7}, By: rechargekit.MatchEmail, Value: "a@example.com"}}, nil
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newCached returns a Cached over f with a fake clock; RefreshAfter is off
// unless opts sets it.
func newCached(t *testing.T, f *fakeCards, opts cards.CachedOptions) (*cards.Cached, *testkit.Clock) {
	t.Helper()
	clock := newFakeClock()
	if opts.Now == nil {
		opts.Now = clock.Now
	}
	if opts.RefreshAfter == 0 {
		opts.RefreshAfter = -1
	}
	opts.Logger = quietLogger()
	c := cards.NewCached(f, cards.NewMemoryCache(100), opts)
	t.Cleanup(func() { _ = c.Close() })
	return c, clock
}

// MustCard returns the card or fails the test.
func MustCard(tb testing.TB, svc rechargekit.CardService, id int64) *rechargekit.Card {
	tb.Helper()
	card, err := svc.Card(context.Background(), id)
	if err != nil {
		tb.Fatalf("Card(%d): %v", id, err)
	}
	return card
}

func TestCachedExpiresAfterTTL(t *testing.T) {
	t.Parallel()
	f := &fakeCards{}
	c, clock := newCached(t, f, cards.CachedOptions{TTL: time.Minute})

	steps := []struct {
		name      string
		advance   time.Duration
		wantName  string
		wantCalls int
	}{
		{"first lookup fetches", 0, "v1", 1},
		{"within the TTL: cached", 59 * time.Second, "v1", 1},
		{"at the TTL: fetched again", time.Second, "v2", 2},
		{"cached again", 30 * time.Second, "v2", 2},
	}
	for _, st := range steps {
		clock.Advance(st.advance)
		card := MustCard(t, c, 42)
		if card.Customer.FirstName != st.wantName || card.Stale || f.Calls() != st.wantCalls {
			t.Fatalf("%s: card %q (stale %v), %d calls; want %q, fresh, %d calls",
				st.name, card.Customer.FirstName, card.Stale, f.Calls(), st.wantName, st.wantCalls)
		}
	}
	got := c.Stats()
	want := cards.CacheStats{Hits: 2, Misses: 2, Fetches: 2}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
}

func TestCachedSingleFlight(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	f := &fakeCards{block: release}
	c, _ := newCached(t, f, cards.CachedOptions{})

	const n = 25
	var wg sync.WaitGroup
	cardsc := make(chan *rechargekit.Card, n)
	for range n {
		wg.Go(func() {
			card, err := c.Card(context.Background(), 42)
			if err != nil {
				t.Error(err)
				return
			}
			cardsc <- card
		})
	}
	// Every lookup has either started the fetch or joined it.
	testkit.WaitFor(t, "all lookups to wait on one fetch", func() bool {
		s := c.Stats()
		return s.Fetches+s.Coalesced == n
	})
	close(release)
	wg.Wait()
	close(cardsc)
	for card := range cardsc {
		if card.Customer.FirstName != "v1" {
			t.Errorf("a lookup got %q, want the one fetch's card v1", card.Customer.FirstName)
		}
	}
	if got := f.Calls(); got != 1 {
		t.Errorf("%d concurrent misses made %d fetches, want 1", n, got)
	}
	if s := c.Stats(); s.Fetches != 1 || s.Coalesced != n-1 {
		t.Errorf("stats = %+v, want 1 fetch and %d coalesced", s, n-1)
	}
	MustCard(t, c, 42)
	if got := f.Calls(); got != 1 {
		t.Errorf("the next lookup fetched again (%d calls); want it served from the cache", got)
	}
}

func TestCachedFallsBackToStale(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		err       error
		age       time.Duration
		wantStale bool
		wantCode  string
	}{
		{"Recharge down", rechargekit.Errorf(rechargekit.EUPSTREAM, "Recharge is unavailable"), 2 * time.Minute, true, ""},
		{"token refused", rechargekit.UpstreamRefused("Recharge refused rechargekit's API token.", nil), 2 * time.Minute, true, ""},
		// Only Recharge's failures are covered by a stale card: a refusal
		// of some caller's credentials is not Recharge's to excuse.
		{"not an upstream failure", rechargekit.Errorf(rechargekit.EUNAUTHORIZED, "Send an API token."), 2 * time.Minute, false, rechargekit.EUNAUTHORIZED},
		{"a bug is not hidden", errors.New("boom"), 2 * time.Minute, false, rechargekit.EINTERNAL},
		{"too old to serve", rechargekit.Errorf(rechargekit.EUPSTREAM, "Recharge is unavailable"), 25 * time.Hour, false, rechargekit.EUPSTREAM},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := &fakeCards{}
			c, clock := newCached(t, f, cards.CachedOptions{TTL: time.Minute, StaleFor: 24 * time.Hour})
			fresh := MustCard(t, c, 42)
			clock.Advance(tt.age)
			f.setErr(tt.err)
			card, err := c.Card(context.Background(), 42)
			if !tt.wantStale {
				if code := rechargekit.ErrorCode(err); code != tt.wantCode || card != nil {
					t.Fatalf("got card %v, error %v (code %q); want code %q", card, err, code, tt.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want the stale card", err)
			}
			if !card.Stale || card.Customer.FirstName != "v1" || !card.FetchedAt.Equal(fresh.FetchedAt) {
				t.Fatalf("got %+v, want the first card marked stale with its own FetchedAt", card)
			}
			if fresh.Stale {
				t.Error("serving stale changed the cached card itself")
			}
			if s := c.Stats(); s.Stale != 1 {
				t.Errorf("stats.Stale = %d, want 1", s.Stale)
			}
		})
	}
}

func TestCachedAnswersStaleBeforeTheDeadline(t *testing.T) {
	t.Parallel()
	f := &fakeCards{}
	c, clock := newCached(t, f, cards.CachedOptions{TTL: time.Minute, StaleMargin: 100 * time.Millisecond})
	MustCard(t, c, 42)
	clock.Advance(2 * time.Minute)
	f.setBlock(make(chan struct{})) // Recharge hangs

	ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
	defer cancel()
	card, err := c.Card(ctx, 42)
	if err != nil || !card.Stale || card.Customer.FirstName != "v1" {
		t.Fatalf("got %+v, %v; want the stale card v1", card, err)
	}
}

func TestCachedAnswersStaleWhenFetchesAreBusy(t *testing.T) {
	t.Parallel()
	started := make(chan int, 8)
	f := &fakeCards{started: started}
	c, clock := newCached(t, f, cards.CachedOptions{TTL: time.Minute, MaxFetches: 1})
	MustCard(t, c, 42)
	<-started
	clock.Advance(2 * time.Minute)
	release := make(chan struct{})
	f.setBlock(release)

	var wg sync.WaitGroup
	errs := make([]error, 2)
	wg.Go(func() { _, errs[0] = c.Card(context.Background(), 44) }) // nothing cached: fetches
	<-started
	// One fetch is running: 42's expired card is answered at once, no fetch.
	if card := MustCard(t, c, 42); !card.Stale || f.Calls() != 2 {
		t.Fatalf("got %+v after %d calls; want the stale card without a fetch", card, f.Calls())
	}
	// A customer with nothing to fall back on waits for its turn: until
	// its deadline, it fails then ...
	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := c.Card(short, 46); rechargekit.ErrorCode(err) != rechargekit.EUPSTREAM || f.Calls() != 2 {
		t.Fatalf("got %v after %d calls; want EUPSTREAM (busy) without a fetch", err, f.Calls())
	}
	// ... or until the running fetch ends, and then fetches.
	wg.Go(func() { _, errs[1] = c.Card(context.Background(), 45) })
	close(release)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if f.Calls() != 3 {
		t.Errorf("%d fetches, want 3", f.Calls())
	}
}

func TestCachedNoFallbackIsAnError(t *testing.T) {
	t.Parallel()
	f := &fakeCards{err: rechargekit.Errorf(rechargekit.EUPSTREAM, "Recharge is unavailable")}
	c, _ := newCached(t, f, cards.CachedOptions{})
	if _, err := c.Card(context.Background(), 42); rechargekit.ErrorCode(err) != rechargekit.EUPSTREAM {
		t.Fatalf("err = %v, want EUPSTREAM", err)
	}
	if _, err := c.Card(context.Background(), 0); rechargekit.ErrorCode(err) != rechargekit.EINVALID {
		t.Fatalf("err = %v, want EINVALID", err)
	}
	if s := c.Stats(); s.Errors != 1 {
		t.Errorf("stats.Errors = %d, want 1", s.Errors)
	}
}

func TestCachedDropsCustomersRechargeNoLongerKnows(t *testing.T) {
	t.Parallel()
	f := &fakeCards{}
	c, clock := newCached(t, f, cards.CachedOptions{TTL: time.Minute})
	MustCard(t, c, 42)
	clock.Advance(2 * time.Minute)
	f.setErr(rechargekit.Errorf(rechargekit.ENOTFOUND, "Recharge customer not found"))
	if card, err := c.Card(context.Background(), 42); card != nil || rechargekit.ErrorCode(err) != rechargekit.ENOTFOUND {
		t.Fatalf("Card() = %+v, %v; want no card and ENOTFOUND", card, err)
	}
	// The deleted customer's card is gone: no stale copy when Recharge
	// fails, but Recharge's own error.
	unavailable := rechargekit.Errorf(rechargekit.EUPSTREAM, "Recharge is unavailable")
	f.setErr(unavailable)
	if card, err := c.Card(context.Background(), 42); card != nil || !errors.Is(err, unavailable) {
		t.Fatalf("Card() = %+v, %v; want no card and Recharge's error: a deleted customer's card must not come back stale", card, err)
	}
}

func TestCachedInvalidate(t *testing.T) {
	t.Parallel()
	f := &fakeCards{}
	c, _ := newCached(t, f, cards.CachedOptions{})
	MustCard(t, c, 42)
	for range 2 { // a duplicate delivery is harmless
		if err := c.Invalidate(context.Background(), 42); err != nil {
			t.Fatal(err)
		}
	}
	if card := MustCard(t, c, 42); card.Customer.FirstName != "v2" || f.Calls() != 2 {
		t.Fatalf("after Invalidate: %q after %d calls, want v2 after 2", card.Customer.FirstName, f.Calls())
	}
	if card := MustCard(t, c, 42); card.Customer.FirstName != "v2" || f.Calls() != 2 {
		t.Fatalf("then: %q after %d calls, want v2 from the cache", card.Customer.FirstName, f.Calls())
	}
	// An invalidated card is still a stale fallback.
	if err := c.Invalidate(context.Background(), 42); err != nil {
		t.Fatal(err)
	}
	f.setErr(rechargekit.Errorf(rechargekit.EUPSTREAM, "Recharge is unavailable"))
	if card := MustCard(t, c, 42); !card.Stale || card.Customer.FirstName != "v2" {
		t.Fatalf("got %+v, want v2 marked stale", card)
	}
}

// A webhook that arrives while a fetch is running must not be lost: the
// fetch read Recharge before the change.
func TestCachedInvalidateDuringFetch(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	started := make(chan int, 4)
	f := &fakeCards{block: release, started: started}
	c, clock := newCached(t, f, cards.CachedOptions{})

	var wg sync.WaitGroup
	results := make([]*rechargekit.Card, 2)
	errs := make([]error, 2)
	wg.Go(func() { results[0], errs[0] = c.Card(context.Background(), 42) })
	<-started // the first fetch is reading Recharge
	if err := c.Invalidate(context.Background(), 42); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	wg.Go(func() { results[1], errs[1] = c.Card(context.Background(), 42) })
	<-started // a lookup after the webhook starts its own fetch
	close(release)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}

	if f.Calls() != 2 {
		t.Fatalf("%d fetches, want 2: the lookup after the webhook must not join the older fetch", f.Calls())
	}
	// The second fetch's card is the current one and is served from the cache.
	card := MustCard(t, c, 42)
	if f.Calls() != 2 || card.Customer.FirstName != results[1].Customer.FirstName {
		t.Fatalf("then: %q after %d calls, want %q from the cache", card.Customer.FirstName, f.Calls(), results[1].Customer.FirstName)
	}
}

func TestCachedRefreshesAheadInTheBackground(t *testing.T) {
	t.Parallel()
	f := &fakeCards{}
	c, clock := newCached(t, f, cards.CachedOptions{TTL: time.Minute, RefreshAfter: 45 * time.Second})
	MustCard(t, c, 42)
	clock.Advance(50 * time.Second)
	if card := MustCard(t, c, 42); card.Customer.FirstName != "v1" {
		t.Fatalf("got %q, want the cached v1 at once", card.Customer.FirstName)
	}
	testkit.WaitFor(t, "the background refresh", func() bool {
		return c.Stats().Refreshes == 1 && f.Calls() == 2
	})
	if err := c.Close(); err != nil { // waits for the refresh to be stored
		t.Fatal(err)
	}
	if card := MustCard(t, c, 42); card.Customer.FirstName != "v2" || f.Calls() != 2 {
		t.Fatalf("got %q after %d calls, want the refreshed v2 from the cache", card.Customer.FirstName, f.Calls())
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if want := []bool{false, true}; !cmp.Equal(f.background, want) {
		t.Errorf("IsBackground of the calls = %v, want %v: refreshes must yield to lookups", f.background, want)
	}
}

// downCache is a CardCache whose store is unreachable.
type downCache struct{}

var errDown = errors.New("cache down")

func (downCache) Get(context.Context, int64) (*rechargekit.CacheEntry, error) { return nil, errDown }
func (downCache) Set(context.Context, *rechargekit.Card, time.Time, uint64) error {
	return errDown
}
func (downCache) Invalidate(context.Context, int64) error { return errDown }
func (downCache) Delete(context.Context, int64) error     { return errDown }

func TestCachedWorksWithoutItsCache(t *testing.T) {
	t.Parallel()
	f := &fakeCards{}
	c := cards.NewCached(f, downCache{}, cards.CachedOptions{Logger: quietLogger()})
	t.Cleanup(func() { _ = c.Close() })
	for want := 1; want <= 2; want++ {
		if card := MustCard(t, c, 42); card.Customer.FirstName != "v"+strconv.Itoa(want) {
			t.Fatalf("got %q, want v%d straight from Recharge", card.Customer.FirstName, want)
		}
	}
	if err := c.Invalidate(context.Background(), 42); !errors.Is(err, errDown) {
		t.Errorf("Invalidate = %v, want the cache's error (so the webhook is delivered again)", err)
	}
	if s := c.Stats(); s.CacheErrors != 5 {
		t.Errorf("stats.CacheErrors = %d, want 5 (two reads, two writes, one invalidation)", s.CacheErrors)
	}
}

func TestCachedPassesSearchesThrough(t *testing.T) {
	t.Parallel()
	c, _ := newCached(t, &fakeCards{}, cards.CachedOptions{})
	m, err := c.FindCustomers(context.Background(), rechargekit.CustomerSearch{Emails: []string{"a@example.com"}})
	if err != nil || len(m) != 1 || m[0].Customer.ID != 7 {
		t.Fatalf("FindCustomers = %v, %v", m, err)
	}
}

// simStack is a Cached service over the real Source and client, against
// a demo-seeded simulator.
type simStack struct {
	sim    *rechargetest.Server
	client *recharge.Client
	cached *cards.Cached
	clock  *testkit.Clock
}

func newSimStack(t *testing.T, cfg rechargetest.Config, clock *testkit.Clock) *simStack {
	t.Helper()
	sim := rechargetest.NewServer(t, cfg)
	sim.Load(rechargetest.DemoSeed())
	noWait := func(ctx context.Context, d time.Duration) error { return ctx.Err() }
	client := sim.Client(recharge.WithClock(time.Now, noWait), recharge.WithMaxRetries(1))
	opts := cards.CachedOptions{RefreshAfter: -1, Logger: quietLogger()}
	if clock != nil {
		opts.Now = clock.Now
	}
	cached := cards.NewCachedService(&recharge.Source{Client: client}, nil, opts)
	t.Cleanup(func() { _ = cached.Close() })
	return &simStack{sim: sim, client: client, cached: cached, clock: clock}
}

func TestCachedServesStaleUnderRechargeFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		faults  rechargetest.Faults
		timeout time.Duration
	}{
		{"503s", rechargetest.Faults{Status: http.StatusServiceUnavailable}, 0},
		{"429s: budget spent", rechargetest.Faults{Status: http.StatusTooManyRequests}, 0},
		{"401: token revoked", rechargetest.Faults{Status: http.StatusUnauthorized}, 0},
		{"too slow", rechargetest.Faults{Delay: 10 * time.Second}, 500 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st := newSimStack(t, rechargetest.Config{}, newFakeClock())
			fresh := MustCard(t, st.cached, rechargetest.DemoAlexRiveraID)
			st.clock.Advance(10 * time.Minute) // past the TTL
			st.sim.SetFaults(tt.faults)
			ctx := context.Background()
			if tt.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			card, err := st.cached.Card(ctx, rechargetest.DemoAlexRiveraID)
			if err != nil {
				t.Fatalf("got %v, want the stale card", err)
			}
			if !card.Stale {
				t.Fatal("card.Stale = false, want true")
			}
			want := *fresh
			want.Stale = true
			if diff := cmp.Diff(&want, card); diff != "" {
				t.Errorf("stale card differs from the one fetched (-want +got):\n%s", diff)
			}
			if st.sim.Stats().FaultsInjected == 0 {
				t.Error("the fetch never reached Recharge")
			}
		})
	}
}

// TestCachedServesStaleAtOnceWhileTheBreakerIsOpen checks what the
// client's breaker buys a lookup: once Recharge has failed, an expired
// card is answered stale and a card never cached fails with EUPSTREAM, at
// once and without a request to Recharge, even while Recharge hangs.
func TestCachedServesStaleAtOnceWhileTheBreakerIsOpen(t *testing.T) {
	t.Parallel()
	sim := rechargetest.NewServer(t, rechargetest.Config{})
	sim.Load(rechargetest.DemoSeed())
	clock := newFakeClock()
	noWait := func(ctx context.Context, d time.Duration) error { return ctx.Err() }
	// The client reads the same fake clock, so the breaker stays open for
	// the whole test. It opens at the first failure: the card's reads run
	// in parallel and a failed customer read cancels the others, so how
	// many failures the first lookup meets varies.
	// Requests are counted as the client sends them: the simulator counts
	// a request when it arrives, which can be after the first lookup
	// returned (one cancelled on its way).
	var sent atomic.Int64
	hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		sent.Add(1)
		return http.DefaultTransport.RoundTrip(r)
	})}
	client := sim.Client(recharge.WithClock(clock.Now, noWait), recharge.WithMaxRetries(1),
		recharge.WithBreaker(1, time.Second, 30*time.Second), recharge.WithHTTPClient(hc))
	cached := cards.NewCachedService(&recharge.Source{Client: client}, nil,
		cards.CachedOptions{RefreshAfter: -1, Logger: quietLogger(), Now: clock.Now})
	t.Cleanup(func() { _ = cached.Close() })

	fresh := MustCard(t, cached, rechargetest.DemoAlexRiveraID)
	clock.Advance(10 * time.Minute) // past the TTL
	sim.SetFaults(rechargetest.Faults{Status: http.StatusServiceUnavailable})
	// The first lookup meets the failures and opens the breaker.
	if card, err := cached.Card(context.Background(), rechargetest.DemoAlexRiveraID); err != nil || !card.Stale {
		t.Fatalf("first lookup in the outage: %v, want the stale card", err)
	}
	if h := client.Health(); h.Breaker != recharge.BreakerOpen {
		t.Fatalf("breaker %q after the failures, want open", h.Breaker)
	}

	// Recharge now hangs: a lookup that asked it would wait out its
	// deadline.
	sim.SetFaults(rechargetest.Faults{Delay: time.Minute})
	before := sent.Load()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	card, err := cached.Card(ctx, rechargetest.DemoAlexRiveraID)
	if err != nil || !card.Stale {
		t.Fatalf("lookup while open: %v, want the stale card", err)
	}
	want := *fresh
	want.Stale = true
	if diff := cmp.Diff(&want, card); diff != "" {
		t.Errorf("stale card differs from the one fetched (-want +got):\n%s", diff)
	}
	_, err = cached.Card(ctx, rechargetest.DemoSamTaylorID)
	if rechargekit.ErrorCode(err) != rechargekit.EUPSTREAM || !strings.Contains(rechargekit.ErrorMessage(err), "not asking it") {
		t.Fatalf("uncached card while open: %v (%s), want EUPSTREAM saying Recharge is not asked", err, rechargekit.ErrorMessage(err))
	}
	// A generous bound: the point is that nothing waited on Recharge.
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the lookups took %v while the breaker was open", took)
	}
	if n := sent.Load() - before; n != 0 {
		t.Errorf("%d requests were sent to Recharge while the breaker was open", n)
	}
}

// hookReceiver serves a WebhookHandler wired to a Cached service's
// Invalidate, as serve wires it.
func hookReceiver(t *testing.T, secret string, target func() *cards.Cached) *httptest.Server {
	t.Helper()
	h := &recharge.WebhookHandler{
		Verifier: recharge.WebhookVerifier{Secret: secret},
		OnEvent: recharge.InvalidateOnEvent(func(ctx context.Context, id int64) error {
			return target().Invalidate(ctx, id)
		}),
		Logger: quietLogger(),
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func postHook(t *testing.T, url, topic string, body []byte, sign func(http.Header)) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(recharge.HeaderTopic, topic)
	sign(req.Header)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func subscriptionStatus(card *rechargekit.Card, id int64) string {
	for _, s := range card.Subscriptions {
		if s.ID == id {
			return s.Status
		}
	}
	return ""
}

func TestWebhookInvalidationEndToEnd(t *testing.T) {
	t.Parallel()
	const secret = "client-secret-for-tests"
	var target atomic.Pointer[cards.Cached]
	hooks := hookReceiver(t, secret, target.Load)
	st := newSimStack(t, rechargetest.Config{WebhookURL: hooks.URL, WebhookSecret: secret}, nil)
	target.Store(st.cached)
	ctx := context.Background()
	alex := rechargetest.DemoAlexRiveraID

	before := MustCard(t, st.cached, alex)
	var sub *rechargekit.Subscription
	for _, s := range before.Subscriptions {
		if s.IsActive() {
			sub = s
			break
		}
	}
	if sub == nil {
		t.Fatal("the demo customer has no active subscription")
	}
	calls := st.sim.Stats().Requests
	MustCard(t, st.cached, alex)
	if got := st.sim.Stats().Requests; got != calls {
		t.Fatalf("a second lookup made %d Recharge calls, want 0 (cached)", got-calls)
	}

	// A forged delivery is refused and changes nothing.
	forged := []byte(`{"subscription":{"id":` + strconv.FormatInt(sub.ID, 10) + `,"customer_id":` + strconv.FormatInt(alex, 10) + `}}`)
	for name, sign := range map[string]func(http.Header){
		"no signature": func(http.Header) {},
		"wrong secret": func(h http.Header) { h.Set(recharge.HeaderHmacSha256, recharge.SignWebhook("guess", forged)) },
		"wrong timestamped": func(h http.Header) {
			h.Set(recharge.HeaderWebhookSignature, recharge.SignWebhookTimestamped("guess", forged, time.Now()))
		},
	} {
		if code := postHook(t, hooks.URL, "subscription/updated", forged, sign); code != http.StatusUnauthorized {
			t.Errorf("%s: status %d, want 401", name, code)
		}
	}
	if s := st.cached.Stats(); s.Invalidations != 0 {
		t.Fatalf("forged deliveries caused %d invalidations, want 0", s.Invalidations)
	}

	// A change in Recharge reaches the card through the simulator's webhook.
	if _, _, err := st.client.Subscriptions.Cancel(ctx, sub.ID, &recharge.SubscriptionCancelRequest{CancellationReason: "Too expensive"}); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, "the cancellation to show on the card", func() bool {
		return subscriptionStatus(MustCard(t, st.cached, alex), sub.ID) == rechargekit.StatusCancelled
	})
	if s := st.cached.Stats(); s.Invalidations == 0 {
		t.Fatal("the card changed without an invalidation")
	}

	// A duplicate, and an older event delivered late, only cost a fetch:
	// the card shows Recharge's current state.
	testkit.WaitFor(t, "the simulator's deliveries to settle", func() bool {
		s := st.sim.Stats()
		return s.WebhooksQueued > 0 && s.WebhooksDelivered == s.WebhooksQueued
	})
	old := []byte(`{"subscription":{"id":` + strconv.FormatInt(sub.ID, 10) + `,"customer_id":` + strconv.FormatInt(alex, 10) + `,"status":"active"}}`)
	for range 2 {
		code := postHook(t, hooks.URL, "subscription/activated", old, func(h http.Header) {
			h.Set(recharge.HeaderHmacSha256, recharge.SignWebhook(secret, old))
		})
		if code != http.StatusOK {
			t.Fatalf("a signed delivery got %d, want 200", code)
		}
	}
	card := MustCard(t, st.cached, alex)
	if got := subscriptionStatus(card, sub.ID); got != rechargekit.StatusCancelled || card.Stale {
		t.Fatalf("after a late, repeated event the card says %q (stale %v), want cancelled and fresh", got, card.Stale)
	}
}

// roundTripFunc is an http.RoundTripper made of a function.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestCachedDoesNotKeepAStaleCard: a card its source marked stale (the
// mirror answering while Recharge fails) is shown but not cached, so the
// next lookup asks the source again instead of showing it for a TTL.
func TestCachedDoesNotKeepAStaleCard(t *testing.T) {
	t.Parallel()
	f := &fakeCards{stale: true}
	c, _ := newCached(t, f, cards.CachedOptions{})
	for i := 1; i <= 2; i++ {
		card, err := c.Card(context.Background(), 7)
		if err != nil || !card.Stale {
			t.Fatalf("lookup %d: %+v, %v; want the stale card", i, card, err)
		}
	}
	if n := f.Calls(); n != 2 {
		t.Errorf("the source was asked %d times for two lookups; want 2 (a stale card is not kept)", n)
	}
}
