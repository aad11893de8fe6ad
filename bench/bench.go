// Package bench measures rechargekit's lookup path against the Recharge
// simulator, the way `rechargekit bench` runs it: a generated store behind
// realistic latency and Recharge's rate limit, the Gladly Lookup Adaptor
// served over loopback HTTP in front of the card service and its cache,
// and signed DETAILED lookups sent as Gladly sends them.
//
// One Run measures, side by side and against the same store:
//
//   - naive: no cache, no client-side pacing, one call after another
//     (the customer, the subscriptions page by page, then one charges call
//     per subscription for its image), as a simple integration would;
//   - rechargekit warm: every card already cached;
//   - rechargekit cold: every lookup a customer never seen before;
//   - burst, cold: Burst lookups at once for as many never-seen customers,
//     on one token's budget;
//   - burst, expired: the same for customers whose cards are cached but
//     older than the TTL, so that what Recharge's budget cannot fetch in
//     time is answered stale.
//
// and, unless Options.NoMirror, the mirror (a SQLite database of its own
// by default), as serve runs it:
//
//   - rechargekit cold, backfill running: the cold mode again, for other
//     customers, while a backfill into the empty mirror shares the token's
//     budget at background priority (the lookups go first; their p99
//     beside the cold mode's shows it);
//   - the backfill: the whole store mirrored from empty with no agent
//     traffic, its records a second against the budget's ceiling (250
//     records a page at the drain rate: 500 records a second on
//     Recharge's budget), and the database's size on disk; for a large
//     store it may run on a faster simulated budget, the time at
//     Recharge's being then projected;
//   - mirror, burst cold: the cold burst answered from the complete
//     mirror (no card cached), with no Recharge call;
//   - mirror, uncached: sustained lookups each read from the mirror's
//     database, no card cache in front, as many in flight as serve's card
//     cache reads the mirror at once (cards.DefaultMaxFetches); its p99
//     should not grow with the store;
//   - a change made in Recharge until the card shows it, with webhooks
//     delivered, then with them lost and reconciliation running on a
//     short interval (Options.ReconcileInterval);
//   - mirror, burst, Recharge down: a burst while every Recharge request
//     fails and a reconciliation has failed: the mirror, behind, tries
//     Recharge first until the client's breaker opens, then answers every
//     card at once, marked stale.
//
// Timing is measured, never asserted: the numbers depend on the machine.
package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/cards"
	"github.com/rechargekit/rechargekit/gladly"
	"github.com/rechargekit/rechargekit/metrics"
	"github.com/rechargekit/rechargekit/mirror"
	"github.com/rechargekit/rechargekit/recharge"
	"github.com/rechargekit/rechargekit/recharge/rechargetest"
)

// Defaults of Options.
const (
	DefaultCustomers          = 3000
	DefaultHeavy              = 10
	DefaultHeavySubscriptions = 120
	DefaultConcurrency        = 500
	DefaultColdConcurrency    = 2
	DefaultDuration           = 6 * time.Second
	DefaultLatency            = 80 * time.Millisecond
	DefaultBurst              = 1000
	DefaultWarmCustomers      = 500
)

// GladlyLimit is Gladly's own timeout: a lookup answered later is lost.
const GladlyLimit = 15 * time.Second

// Options configures Run. Zero values take the defaults.
type Options struct {
	// Customers is the number of generated customers
	// (rechargetest.GenerateSeed; DefaultCustomers), each with 1 to 5
	// subscriptions.
	Customers int
	// Heavy customers have HeavySubscriptions subscriptions each
	// (DefaultHeavy and DefaultHeavySubscriptions); half are looked up warm,
	// half cold.
	Heavy              int
	HeavySubscriptions int
	// WarmCustomers is how many customers the warm mode spreads its lookups
	// over (DefaultWarmCustomers, fewer on a small store).
	WarmCustomers int
	// Concurrency is the number of lookups in flight in the warm mode
	// (DefaultConcurrency).
	Concurrency int
	// ColdConcurrency is the number of lookups in flight in the naive and
	// cold modes (DefaultColdConcurrency). Those are bound by Recharge's
	// budget (2 requests a second per token), not by the machine: more
	// workers only queue longer or fail sooner; the bursts show that.
	ColdConcurrency int
	// Duration is how long each of the naive, cold and warm modes runs
	// (DefaultDuration).
	Duration time.Duration
	// Latency is added to every Recharge request (DefaultLatency).
	Latency time.Duration
	// Burst is the number of lookups sent at once in each burst mode
	// (DefaultBurst, fewer on a small store); 0 takes the default, a
	// negative value skips the bursts.
	Burst int
	// BucketSize and LeakPerSecond are the token's rate limit, in the
	// simulator and in the client (Recharge's 40 and 2 by default).
	BucketSize    int
	LeakPerSecond float64
	// Deadline is the Lookup Adaptor's answer deadline
	// (gladly.DefaultDeadline).
	Deadline time.Duration
	// TTL is the card cache's TTL (cards.DefaultCardTTL).
	TTL time.Duration
	// Cache keeps the cards; nil means a fresh in-memory cache. A shared
	// Redis cache (redis.NewCardCache) measures the Redis round trip too.
	Cache rechargekit.CardCache
	// Limiter, when set, paces the rechargekit client instead of its own
	// leaky bucket (a redis.Limiter, say). Unlike the client's own bucket,
	// which each mode starts afresh, its budget carries over from one mode
	// to the next.
	Limiter recharge.Limiter
	// NoMirror skips the mirror's modes.
	NoMirror bool
	// MirrorStore keeps the mirror; nil means a SQLite database in a
	// temporary directory, removed when Run returns. Run empties its
	// mirror (PurgeMirror) before filling it. When the store has a
	// Size(ctx) (int64, error) method, as sqlite.Store and postgres.Store
	// have, the report gives the mirror's size on disk. MirrorDatabase
	// names it in the report.
	MirrorStore    rechargekit.MirrorStore
	MirrorDatabase string
	// ReconcileInterval is the mirror's reconciliation interval while a
	// lost webhook waits for it (DefaultReconcileInterval).
	ReconcileInterval time.Duration
	// Changes is the number of subscription changes timed with webhooks
	// delivered, and again with them lost (DefaultChanges).
	Changes int
	// BackfillLeakPerSecond, when above LeakPerSecond, runs the complete
	// backfill through a token of its own draining that many requests a
	// second, for a large store (100,000 customers take about 15 minutes
	// at Recharge's 2); the report then also gives the time projected at
	// LeakPerSecond. The backfill beside agents' lookups always shares
	// their token.
	BackfillLeakPerSecond float64
	// Seed makes the generated store and the lookup order repeatable.
	Seed int64
	// Out receives the table; nil discards it.
	Out io.Writer
	// Progress receives a line as each mode starts, and the backfill's
	// progress every ten seconds; nil discards them.
	Progress io.Writer
	// Logger receives the stack's logs; nil discards them.
	Logger *slog.Logger
}

func (o *Options) defaults() {
	if o.Customers <= 0 {
		o.Customers = DefaultCustomers
	}
	if o.Heavy < 0 {
		o.Heavy = 0
	} else if o.Heavy == 0 {
		o.Heavy = DefaultHeavy
	}
	if o.HeavySubscriptions <= 0 {
		o.HeavySubscriptions = DefaultHeavySubscriptions
	}
	if o.WarmCustomers <= 0 {
		o.WarmCustomers = DefaultWarmCustomers
	}
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.ColdConcurrency <= 0 {
		o.ColdConcurrency = DefaultColdConcurrency
	}
	if o.Duration <= 0 {
		o.Duration = DefaultDuration
	}
	if o.Latency <= 0 {
		o.Latency = DefaultLatency
	}
	if o.Burst == 0 {
		o.Burst = DefaultBurst
	}
	if o.BucketSize <= 0 {
		o.BucketSize = recharge.DefaultBucketSize
	}
	if !(o.LeakPerSecond > 0) || math.IsInf(o.LeakPerSecond, 0) {
		o.LeakPerSecond = recharge.DefaultLeakRate
	}
	if o.Deadline <= 0 {
		o.Deadline = gladly.DefaultDeadline
	}
	o.Deadline = min(o.Deadline, gladly.MaxDeadline)
	if o.TTL <= 0 {
		o.TTL = cards.DefaultCardTTL
	}
	if o.ReconcileInterval <= 0 {
		o.ReconcileInterval = DefaultReconcileInterval
	}
	if o.Changes <= 0 {
		o.Changes = DefaultChanges
	}
	if !(o.BackfillLeakPerSecond > o.LeakPerSecond) || math.IsInf(o.BackfillLeakPerSecond, 0) {
		o.BackfillLeakPerSecond = 0
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Latency summarises a set of durations.
type Latency struct {
	P50, P95, P99, Max time.Duration
}

// Row is one mode's measurements.
type Row struct {
	Mode        string
	Concurrency int  // lookups in flight (a burst: all of them)
	Burst       bool // all lookups were sent at once
	Elapsed     time.Duration

	Lookups int // lookups sent
	OK      int // answered with the card (fresh or stale)
	Stale   int // of OK, answered with a stale card
	Failed  int // answered with an error (503 when Recharge could not serve and no card was cached)
	Empty   int // answered with no result (the customer was not found); should be 0

	PerSecond float64 // OK answers per second
	Server    Latency // time in the Lookup Adaptor, every answer
	Client    Latency // time seen by the caller, every answer

	RechargeCalls  int     // requests Recharge answered, 429s excluded
	CallsPerAnswer float64 // RechargeCalls / OK
	RateLimited    int     // 429s Recharge answered (all retried or turned into 503s: none reaches a desk)
}

// AllAnsweredWithin reports whether every lookup got an answer with the
// card within d.
func (r *Row) AllAnsweredWithin(d time.Duration) bool {
	return r.OK == r.Lookups && r.Client.Max <= d
}

// Report is the outcome of Run.
type Report struct {
	Options    Options // as run, defaults applied (Out, Progress, Logger, Cache, Limiter and MirrorStore cleared)
	GOMAXPROCS int
	Store      StoreInfo
	Rows       []Row
	Mirror     *MirrorReport // nil when the mirror's modes were skipped
	Elapsed    time.Duration
}

// StoreInfo describes the generated store.
type StoreInfo struct {
	Customers     int // all customers
	Subscriptions int // all subscriptions
	Heavy         int // customers with Options.HeavySubscriptions subscriptions
	Warm          int // customers the warm mode looks up
	Cold          int // never-seen customers available to the cold mode
	WarmUpCalls   int // Recharge calls made to fill the cache before measuring
}

// signingKey signs the lookups; the handler checks them as in production.
const signingKey = "bench-signing-key"

// benchToken is the token whose budget the measured stack spends; the
// cache is filled through other tokens so that its budget starts full.
const benchToken = "bench-token"

// Run measures the modes described in the package documentation and prints
// the table to opts.Out. It returns early with ctx's error when ctx ends.
func Run(ctx context.Context, opts Options) (*Report, error) {
	opts.defaults()
	start := time.Now()
	r := &runner{opts: opts, rng: rand.New(rand.NewPCG(uint64(opts.Seed), 0x5eed))}
	defer r.close()
	if err := r.setup(ctx); err != nil {
		return nil, err
	}
	rep := &Report{Options: opts, GOMAXPROCS: runtime.GOMAXPROCS(0), Store: r.store}
	rep.Options.Out, rep.Options.Progress, rep.Options.Logger, rep.Options.Cache, rep.Options.Limiter, rep.Options.MirrorStore = nil, nil, nil, nil, nil, nil

	// With the mirror, the cold mode runs twice, for different customers:
	// alone, then beside a backfill.
	cold, coldBeside := r.cold, []int64(nil)
	if !opts.NoMirror {
		cold, coldBeside = r.cold[:(len(r.cold)+1)/2], r.cold[(len(r.cold)+1)/2:]
	}
	modes := []mode{
		{name: "rechargekit warm", workers: opts.Concurrency, duration: opts.Duration, pick: r.cycle(r.warm)},
		{name: "naive", naive: true, workers: opts.ColdConcurrency, duration: opts.Duration, pick: r.cycle(r.naive)},
		{name: "rechargekit cold", workers: opts.ColdConcurrency, duration: opts.Duration, pick: r.once(cold)},
	}
	if len(r.burstCold) > 0 {
		modes = append(modes,
			mode{name: "burst, cold", burst: r.burstCold},
			mode{name: "burst, expired cards", burst: r.burstStale})
	}
	if !opts.NoMirror {
		rep.Mirror = &MirrorReport{Database: r.mdb}
	}
	for _, m := range modes {
		row, err := r.measure(ctx, m)
		if err != nil {
			return nil, err
		}
		rep.Rows = append(rep.Rows, *row)
		if m.name == "rechargekit cold" && rep.Mirror != nil {
			row, err := r.coldWithBackfill(ctx, coldBeside, rep.Mirror)
			if err != nil {
				return nil, err
			}
			rep.Rows = append(rep.Rows, *row)
		}
	}
	if rep.Mirror != nil {
		m, err := r.backfill(ctx, rep.Mirror)
		if err != nil {
			return nil, err
		}
		rows, err := r.mirrorModes(ctx, m, rep.Mirror)
		if err != nil {
			return nil, err
		}
		rep.Rows = append(rep.Rows, rows...)
	}
	rep.Elapsed = time.Since(start)
	rep.Print(opts.Out)
	return rep, nil
}

// runner holds one Run's simulator, stack and customer sets.
type runner struct {
	opts  Options
	rng   *rand.Rand
	sim   *rechargetest.Simulator
	simTS *httptest.Server
	front *httptest.Server
	cache rechargekit.CardCache
	http  *http.Client
	glad  *gladly.Client

	handler atomic.Pointer[http.Handler] // the current mode's stack
	record  atomic.Pointer[recorder]     // the current mode's server-side times

	warm, naive, cold, burstCold, burstStale []int64
	all                                      []int64 // every customer
	store                                    StoreInfo

	// The mirror's: its store and the store's name in the report, the
	// receiver of the simulator's webhooks and the mirror they are applied
	// to (none: ignored), and the card cache the mirror's changes drop
	// cards from.
	mstore  rechargekit.MirrorStore
	mdb     string
	hooks   *httptest.Server
	applyTo atomic.Pointer[mirror.Mirror]
	current atomic.Pointer[cards.Cached]
	closers []func()
}

func (r *runner) close() {
	if r.front != nil {
		r.front.Close()
	}
	if r.simTS != nil {
		r.simTS.Close()
	}
	if r.sim != nil {
		_ = r.sim.Close()
	}
	if r.hooks != nil {
		r.hooks.Close()
	}
	if r.http != nil {
		r.http.CloseIdleConnections()
	}
	for _, c := range slices.Backward(r.closers) {
		c()
	}
}

// transport returns an HTTP client that keeps enough connections open for
// the load, so that the run measures lookups, not TCP handshakes.
func transport(conns int) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = conns
	t.MaxIdleConnsPerHost = conns
	return &http.Client{Transport: t, Timeout: 2 * GladlyLimit}
}

func (r *runner) setup(ctx context.Context) error {
	o := r.opts
	// Split the store: customers for the warm mode, the cold mode and the
	// two bursts never overlap.
	burst := max(o.Burst, 0)
	burst = min(burst, o.Customers/3)
	warmN := min(o.WarmCustomers, max(1, (o.Customers-2*burst)/2))
	cardsPerToken := max(1, (o.BucketSize-2)/3)
	warmUpCards := warmN + burst + (o.Heavy+1)/2
	tokens := []string{benchToken}
	for i := range (warmUpCards + cardsPerToken - 1) / cardsPerToken {
		tokens = append(tokens, "bench-warm-up-"+strconv.Itoa(i))
	}
	cfg := rechargetest.Config{
		Tokens:        tokens,
		Latency:       o.Latency,
		BucketSize:    o.BucketSize,
		LeakPerSecond: o.LeakPerSecond,
	}
	if !o.NoMirror {
		// The simulator's webhooks reach the mirror; only the mirror's
		// modes change anything.
		if err := r.openMirrorStore(ctx); err != nil {
			return err
		}
		r.serveWebhooks()
		cfg.Tokens = append(slices.Clone(tokens), backfillToken, adminToken)
		cfg.WebhookURL, cfg.WebhookSecret = r.hooks.URL, webhookSecret
		if o.BackfillLeakPerSecond > 0 {
			cfg.TokenLeakPerSecond = map[string]float64{backfillToken: o.BackfillLeakPerSecond}
		}
	}
	r.sim = rechargetest.New(cfg)
	r.simTS = httptest.NewServer(r.sim)
	r.sim.Load(rechargetest.GenerateSeed(o.Customers, o.Seed))
	var heavy []int64
	for i := range o.Heavy {
		id := r.sim.AddCustomer(rechargetest.SeedCustomer{
			Email: fmt.Sprintf("heavy.%d@bench.example.org", i+1), FirstName: "Heavy", LastName: strconv.Itoa(i + 1),
		})
		r.sim.AddSubscriptions(id, o.HeavySubscriptions)
		heavy = append(heavy, id)
	}
	all := r.sim.Customers(0)
	var generated []int64
	for _, c := range all {
		r.all = append(r.all, c.ID)
		r.store.Subscriptions += c.SubscriptionsTotal
		if !slices.Contains(heavy, c.ID) {
			generated = append(generated, c.ID)
		}
	}
	r.rng.Shuffle(len(generated), func(i, j int) { generated[i], generated[j] = generated[j], generated[i] })
	take := func(n int) []int64 {
		n = min(n, len(generated))
		out := slices.Clone(generated[:n])
		generated = generated[n:]
		return out
	}
	r.warm = append(take(warmN), heavy[:(len(heavy)+1)/2]...)
	r.burstStale = take(burst)
	r.burstCold = take(burst)
	r.cold = append(slices.Clone(heavy[(len(heavy)+1)/2:]), generated...)
	r.rng.Shuffle(len(r.cold), func(i, j int) { r.cold[i], r.cold[j] = r.cold[j], r.cold[i] })
	r.naive = slices.Concat(r.warm, r.burstStale) // no cache: any customer is as cold as another
	r.store.Customers, r.store.Heavy, r.store.Warm, r.store.Cold = len(all), len(heavy), len(r.warm), len(r.cold)

	r.cache = o.Cache
	if r.cache == nil {
		r.cache = cards.NewMemoryCache(max(cards.DefaultMemoryCacheEntries, len(all)+1))
	}
	r.http = transport(max(o.Concurrency, burst, 64) + 16)
	if err := r.warmUp(ctx, tokens[1:], cardsPerToken); err != nil {
		return err
	}

	r.front = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		h := *r.handler.Load()
		t0 := time.Now()
		h.ServeHTTP(w, req)
		r.record.Load().add(time.Since(t0))
	}))
	r.glad = &gladly.Client{URL: r.front.URL + gladly.DefaultPath, SigningKey: signingKey, HTTPClient: r.http}
	return nil
}

// warmUp fills the cache before anything is measured: the warm customers'
// cards fresh, the expired burst's cards older than the TTL. It reads
// through tokens other than the measured one, each within its own bucket.
func (r *runner) warmUp(ctx context.Context, tokens []string, perToken int) error {
	type job struct {
		id      int64
		expired bool
	}
	var jobs []job
	for _, id := range r.warm {
		jobs = append(jobs, job{id, false})
	}
	for _, id := range r.burstStale {
		jobs = append(jobs, job{id, true})
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	for i, tok := range tokens {
		lo := i * perToken
		if lo >= len(jobs) {
			break
		}
		batch := jobs[lo:min(lo+perToken, len(jobs))]
		wg.Go(func() {
			client := recharge.NewClient(tok, recharge.WithBaseURL(r.simTS.URL), recharge.WithHTTPClient(r.http),
				recharge.WithRateLimit(r.opts.BucketSize, r.opts.LeakPerSecond))
			svc := cards.New(&recharge.Source{Client: client})
			svc.Logger = r.opts.Logger
			for _, j := range batch {
				card, err := svc.Card(ctx, j.id)
				if err == nil {
					at := time.Now()
					if j.expired {
						at = at.Add(-r.opts.TTL - time.Second)
					}
					err = r.cache.Set(ctx, card, at, 0)
				}
				if err != nil {
					mu.Lock()
					if first == nil {
						first = fmt.Errorf("bench: warm up the cache with customer %d: %w", j.id, err)
					}
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	r.store.WarmUpCalls = r.sim.Stats().Requests
	return first
}

// cycle picks customers from ids round robin, starting at a random place.
func (r *runner) cycle(ids []int64) func(i int) (int64, bool) {
	off := r.rng.IntN(max(len(ids), 1))
	return func(i int) (int64, bool) {
		if len(ids) == 0 {
			return 0, false
		}
		return ids[(off+i)%len(ids)], true
	}
}

// once picks each customer of ids at most once.
func (r *runner) once(ids []int64) func(i int) (int64, bool) {
	return func(i int) (int64, bool) {
		if i >= len(ids) {
			return 0, false
		}
		return ids[i], true
	}
}

// mode is one row of the table.
type mode struct {
	name     string
	naive    bool
	workers  int
	duration time.Duration
	pick     func(i int) (int64, bool)
	burst    []int64 // when set: one lookup for each, all at once

	// source, when set, reads the cards (the mirror's) instead of a live
	// recharge.Source with a client of its own.
	source func() rechargekit.RechargeSource
	// cache is the card cache in front of the source (the run's when
	// nil); uncached leaves the cache out.
	cache    rechargekit.CardCache
	uncached bool
	// before runs after the simulator's statistics are reset, before the
	// first lookup; during runs beside the lookups, its context ending with
	// them; background counts requests during sends, which are not the
	// lookups' calls.
	before     func()
	during     func(ctx context.Context)
	background *countingTransport
}

// stack builds the measured service as serve wires it, with a client of
// its own (a full budget, no client-side state from the previous mode).
// The counter returned counts the lookups answered with a stale card.
func (r *runner) stack(md mode) (http.Handler, *staleAnswers, *cards.Cached, error) {
	o := r.opts
	// Metrics as serve records them, so their cost is in the figures.
	m := metrics.New(recharge.CardTopics)
	var svc rechargekit.CardService
	var cached *cards.Cached
	switch {
	case md.source != nil && md.uncached:
		s := cards.New(md.source())
		s.Logger = o.Logger
		svc = s
	case md.source != nil:
		cache := md.cache
		if cache == nil {
			cache = r.cache
		}
		cached = cards.NewCachedService(md.source(), cache, cards.CachedOptions{TTL: o.TTL, Logger: o.Logger, Metrics: m})
		svc = cached
	case md.naive:
		client := recharge.NewClient(benchToken, recharge.WithBaseURL(r.simTS.URL), recharge.WithHTTPClient(r.http),
			recharge.WithLimiter(unpaced{}), recharge.WithLogger(o.Logger))
		svc = &Naive{Client: client}
	default:
		// One request of headroom, as the redis limiter keeps: requests
		// admitted together can reach Recharge in another order than they
		// left, and a bucket paced to the last unit then overflows.
		copts := []recharge.Option{recharge.WithBaseURL(r.simTS.URL), recharge.WithHTTPClient(r.http),
			recharge.WithRateLimit(max(o.BucketSize-1, 1), o.LeakPerSecond), recharge.WithLogger(o.Logger),
			recharge.WithMetrics(m)}
		if o.Limiter != nil {
			copts = append(copts, recharge.WithLimiter(o.Limiter))
		}
		client := recharge.NewClient(benchToken, copts...)
		cached = cards.NewCachedService(&recharge.Source{Client: client, Logger: o.Logger}, r.cache,
			cards.CachedOptions{TTL: o.TTL, Logger: o.Logger, Metrics: m})
		svc = cached
	}
	count := &staleAnswers{Metrics: m}
	h, err := gladly.NewHandler(gladly.Config{Service: svc, SigningKey: signingKey, Deadline: o.Deadline, Logger: o.Logger, Metrics: count})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("bench: configure the lookup adaptor: %w", err)
	}
	return h, count, cached, nil
}

// staleAnswers records the lookup adaptor's metrics and counts the
// lookups it answered with a stale card (from a cache when Recharge
// failed, or from a mirror that is behind).
type staleAnswers struct {
	rechargekit.Metrics
	stale atomic.Int64
}

// Lookup implements rechargekit.Metrics.
func (c *staleAnswers) Lookup(desk, level, outcome string, took time.Duration) {
	if outcome == rechargekit.OutcomeStale {
		c.stale.Add(1)
	}
	c.Metrics.Lookup(desk, level, outcome, took)
}

// outcome is one lookup's result as the caller saw it.
type outcome struct {
	client time.Duration
	ok     bool
	empty  bool
}

func (r *runner) measure(ctx context.Context, m mode) (*Row, error) {
	fmt.Fprintf(r.opts.Progress, "bench: %s\n", m.name)
	h, count, cached, err := r.stack(m)
	if err != nil {
		return nil, err
	}
	r.handler.Store(&h)
	r.current.Store(cached)
	defer r.current.Store(nil)
	rec := &recorder{}
	r.record.Store(rec)
	r.sim.Reset() // statistics from zero, Recharge's bucket empty
	if m.before != nil {
		m.before()
	}
	duringCtx, stopDuring := context.WithCancel(ctx)
	defer stopDuring()
	during := make(chan struct{})
	if m.during != nil {
		go func() {
			defer close(during)
			m.during(duringCtx)
		}()
	} else {
		close(during)
	}

	var (
		mu       sync.Mutex
		outcomes []outcome
	)
	lookup := func(id int64) {
		t0 := time.Now()
		// The load generator shares the machine with the server it
		// measures, so it does not decode the answer: the adaptor writes
		// {"results":[]} for no customer and {"results":[{...}]} for one.
		var body []byte
		req, err := gladly.DetailedRequest(strconv.FormatInt(id, 10), rechargekit.Profile{ID: "bench"})
		if err == nil {
			body, err = r.glad.SendRaw(ctx, req)
		}
		o := outcome{client: time.Since(t0)}
		switch {
		case err != nil:
		case bytes.HasPrefix(body, []byte(`{"results":[{`)):
			o.ok = true
		default:
			o.empty = true
		}
		mu.Lock()
		outcomes = append(outcomes, o)
		mu.Unlock()
	}

	t0 := time.Now()
	var wg sync.WaitGroup
	workers := m.workers
	if m.burst != nil {
		workers = len(m.burst)
		start := make(chan struct{})
		for _, id := range m.burst {
			wg.Go(func() {
				<-start
				lookup(id)
			})
		}
		close(start)
	} else {
		var next atomic.Int64
		stop := t0.Add(m.duration)
		for range m.workers {
			wg.Go(func() {
				for ctx.Err() == nil && time.Now().Before(stop) {
					id, ok := m.pick(int(next.Add(1) - 1))
					if !ok {
						return
					}
					lookup(id)
				}
			})
		}
	}
	wg.Wait()
	elapsed := time.Since(t0)
	stopDuring()
	<-during
	if cached != nil {
		_ = cached.Close() // let fetches nobody waits for end before the next mode
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	st := r.sim.Stats()
	row := &Row{Mode: m.name, Concurrency: workers, Burst: m.burst != nil, Elapsed: elapsed, Lookups: len(outcomes)}
	var client []time.Duration
	for _, o := range outcomes {
		client = append(client, o.client)
		switch {
		case o.ok:
			row.OK++
		case o.empty:
			row.Empty++
		default:
			row.Failed++
		}
	}
	row.Stale = int(count.stale.Load())
	row.Client = summarize(client)
	row.Server = summarize(rec.all())
	if elapsed > 0 {
		row.PerSecond = float64(row.OK) / elapsed.Seconds()
	}
	row.RateLimited = st.ByStatus["429"]
	row.RechargeCalls = st.Requests - row.RateLimited
	if b := m.background; b != nil {
		// The lookups' calls only.
		row.RateLimited -= int(b.limited.Load())
		row.RechargeCalls -= int(b.requests.Load() - b.limited.Load())
	}
	if row.OK > 0 {
		row.CallsPerAnswer = float64(row.RechargeCalls) / float64(row.OK)
	}
	return row, nil
}

// recorder collects server-side durations.
type recorder struct {
	mu sync.Mutex
	d  []time.Duration
}

func (r *recorder) add(d time.Duration) {
	r.mu.Lock()
	r.d = append(r.d, d)
	r.mu.Unlock()
}

func (r *recorder) all() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.d)
}

// summarize returns the percentiles of ds (nearest rank).
func summarize(ds []time.Duration) Latency {
	if len(ds) == 0 {
		return Latency{}
	}
	slices.Sort(ds)
	rank := func(q float64) time.Duration {
		i := int(math.Ceil(q*float64(len(ds)))) - 1
		return ds[min(max(i, 0), len(ds)-1)]
	}
	return Latency{P50: rank(0.50), P95: rank(0.95), P99: rank(0.99), Max: ds[len(ds)-1]}
}

// Print writes the report as one table with a few lines of explanation.
func (rep *Report) Print(w io.Writer) {
	o := rep.Options
	fmt.Fprintf(w, "rechargekit bench: %d customers, %d subscriptions (%d customers with %d each); Recharge simulator %v per request, bucket %d draining %g/s; lookup deadline %v; card TTL %v; GOMAXPROCS %d\n\n",
		rep.Store.Customers, rep.Store.Subscriptions, rep.Store.Heavy, o.HeavySubscriptions, o.Latency, o.BucketSize, o.LeakPerSecond,
		o.Deadline, o.TTL, rep.GOMAXPROCS)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "mode\tin flight\tlookups\tanswered\tstale\t503s\tanswers/s\tserver p50\tp95\tp99\tclient p50\tp95\tp99\tmax\tRecharge calls/answer\t429s from Recharge\t")
	for _, r := range rep.Rows {
		flight := strconv.Itoa(r.Concurrency)
		if r.Burst {
			flight += " at once"
		}
		failed := strconv.Itoa(r.Failed)
		if r.Empty > 0 {
			failed += fmt.Sprintf(" (+%d empty)", r.Empty)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\t%.1f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.2f\t%d\t\n",
			r.Mode, flight, r.Lookups, r.OK, r.Stale, failed, r.PerSecond,
			ms(r.Server.P50), ms(r.Server.P95), ms(r.Server.P99),
			ms(r.Client.P50), ms(r.Client.P95), ms(r.Client.P99), ms(r.Client.Max),
			r.CallsPerAnswer, r.RateLimited)
	}
	_ = tw.Flush()
	fmt.Fprintln(w)
	for _, r := range rep.Rows {
		if !r.Burst {
			continue
		}
		verdict := "every lookup answered with its card (fresh or stale)"
		if !r.AllAnsweredWithin(GladlyLimit) {
			verdict = fmt.Sprintf("%d of %d answered with the card (%d stale); %d answered 503 because neither the budget nor the cache could serve them",
				r.OK, r.Lookups, r.Stale, r.Failed)
		}
		fmt.Fprintf(w, "%s: %s; slowest answer %v (Gladly waits %v); 429s reaching a desk: 0 (%d seen from Recharge, retried).\n",
			r.Mode, verdict, r.Client.Max.Round(time.Millisecond), GladlyLimit, r.RateLimited)
	}
	rep.printMirror(w)
	fmt.Fprintf(w, "server: time inside the Lookup Adaptor; client: as Gladly would see it over loopback. Calls per answer count every Recharge request but 429s, divided by the lookups answered with a card. The cache was filled with %d calls through other tokens before measuring. Run took %v.\n",
		rep.Store.WarmUpCalls, rep.Elapsed.Round(100*time.Millisecond))
}

// ms formats a duration in milliseconds, with more precision below 10 ms.
func ms(d time.Duration) string {
	switch v := float64(d) / float64(time.Millisecond); {
	case v < 10:
		return strconv.FormatFloat(v, 'f', 2, 64) + "ms"
	default:
		return strconv.FormatFloat(v, 'f', 0, 64) + "ms"
	}
}

// unpaced lets every request through: a simple integration does not pace.
type unpaced struct{}

func (unpaced) Wait(ctx context.Context) error { return ctx.Err() }

// Naive is the card service a simple integration would write: no cache, no
// pacing, one call after another: the customer, its subscriptions page by
// page (50 a page, the default), then each subscription's newest charge for
// its image and SKU. Only Card is implemented.
type Naive struct {
	Client *recharge.Client
}

var _ rechargekit.CardService = (*Naive)(nil)

// Card reads the customer's card with sequential calls.
// Errors: ENOTFOUND, EUPSTREAM.
func (n *Naive) Card(ctx context.Context, id int64) (*rechargekit.Card, error) {
	c, _, err := n.Client.Customers.Get(ctx, id, nil)
	if err != nil {
		if recharge.IsNotFound(err) {
			return nil, rechargekit.WrapError(rechargekit.ENOTFOUND, "Recharge customer not found", err)
		}
		return nil, rechargekit.WrapError(rechargekit.EUPSTREAM, "could not read the Recharge customer", err)
	}
	var subs []*recharge.Subscription
	opts := &recharge.SubscriptionListOptions{CustomerID: id}
	for {
		page, resp, err := n.Client.Subscriptions.List(ctx, opts)
		if err != nil {
			return nil, rechargekit.WrapError(rechargekit.EUPSTREAM, "could not read the Recharge subscriptions", err)
		}
		subs = append(subs, page...)
		if resp.NextCursor == "" {
			break
		}
		opts = &recharge.SubscriptionListOptions{Cursor: resp.NextCursor}
	}
	var charges []*recharge.Charge
	for _, s := range subs {
		ch, _, err := n.Client.Charges.List(ctx, &recharge.ChargeListOptions{PurchaseItemID: int64(s.ID), Limit: 1})
		if err != nil {
			return nil, rechargekit.WrapError(rechargekit.EUPSTREAM, "could not read the Recharge charges", err)
		}
		charges = append(charges, ch...)
	}
	out := recharge.DomainSubscriptions(subs, charges)
	rechargekit.SortSubscriptions(out)
	return &rechargekit.Card{Customer: *recharge.DomainCustomer(c), Subscriptions: out, FetchedAt: time.Now()}, nil
}

// FindCustomers is not part of the benchmark.
// Errors: EINTERNAL.
func (n *Naive) FindCustomers(ctx context.Context, q rechargekit.CustomerSearch) ([]*rechargekit.Match, error) {
	return nil, errors.New("bench: the naive service does not search")
}
