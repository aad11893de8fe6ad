package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/cards"
	"github.com/rechargekit/rechargekit/mirror"
	"github.com/rechargekit/rechargekit/recharge"
	"github.com/rechargekit/rechargekit/recharge/rechargetest"
	"github.com/rechargekit/rechargekit/sqlite"
)

// Defaults of the mirror's Options.
const (
	// DefaultReconcileInterval is short so that the lost-webhook mode
	// takes seconds; serve's default is mirror.DefaultReconcileInterval.
	DefaultReconcileInterval = 2 * time.Second
	DefaultChanges           = 3
)

// BackgroundReserve is how many requests of the token's bucket the
// mirror's backfill and reconciliation leave free for agents' lookups
// (recharge.Background).
const BackgroundReserve = 10

// Tokens of the mirror modes, besides benchToken.
const (
	backfillToken = "bench-backfill" // the complete backfill's, when it runs on a faster budget
	adminToken    = "bench-admin"    // changes subscriptions in the propagation modes
	webhookSecret = "bench-webhook-secret"
)

// Names of the mirror's rows in the table.
const (
	ModeColdBackfill   = "rechargekit cold, backfill running"
	ModeMirrorBurst    = "mirror, burst cold"
	ModeMirrorUncached = "mirror, uncached"
	ModeMirrorOutage   = "mirror, burst, Recharge down"
)

// MirrorReport is what the mirror modes measured besides their rows.
type MirrorReport struct {
	Database string // where the mirror was kept

	// Records is what the complete mirror holds, by resource.
	Records      map[string]int64
	RecordsTotal int64

	// Backfill is the time to mirror the whole store from empty with no
	// agent traffic; BackfillRecords the records it wrote (RecordsPerSecond
	// of them a second), in BackfillRequests Recharge requests (429s
	// excluded; BackfillRateLimited of those).
	Backfill            time.Duration
	BackfillRecords     int64
	BackfillRequests    int
	BackfillRateLimited int
	RecordsPerSecond    float64
	// BackfillLeakPerSecond is the drain rate of the budget the backfill
	// ran on; CeilingPerSecond the records a second that budget allows at
	// most (a page of PageSize records per request).
	BackfillLeakPerSecond float64
	PageSize              int
	CeilingPerSecond      float64
	// Projected is the time the backfill's requests take at
	// Options.LeakPerSecond, set when the backfill ran on a faster budget.
	Projected time.Duration

	// UnderLoadRecords are the records a backfill wrote in UnderLoad while
	// the ModeColdBackfill row's lookups shared its token.
	UnderLoadRecords int64
	UnderLoad        time.Duration

	// DiskBytes is the mirror's database on disk once complete (0 when the
	// store cannot tell), DiskPer1000 the same per 1,000 customers.
	DiskBytes   int64
	DiskPer1000 float64

	// Webhook times changes made in Recharge until the card shows them
	// with webhooks delivered; Reconcile the same with each change's
	// webhooks lost, healed by reconciliation every ReconcileInterval.
	ReconcileInterval time.Duration
	Webhook           Propagation
	Reconcile         Propagation
}

// Propagation times changes made in Recharge until the card shows them.
type Propagation struct {
	Changes int             // changes made
	Shown   []time.Duration // for each change shown, the time it took
	Limit   time.Duration   // how long a change was waited for
	Lost    int             // webhook deliveries the simulator lost meanwhile
}

// Missed is the number of changes not shown within Limit.
func (p Propagation) Missed() int { return p.Changes - len(p.Shown) }

// Latency summarises the times of the changes shown.
func (p Propagation) Latency() Latency { return summarize(slices.Clone(p.Shown)) }

// sizer is a store that knows its size on disk (sqlite.Store,
// postgres.Store).
type sizer interface {
	Size(ctx context.Context) (int64, error)
}

// openMirrorStore returns the store the mirror is kept in: the caller's,
// or a SQLite database in a temporary directory.
func (r *runner) openMirrorStore(ctx context.Context) error {
	if r.opts.MirrorStore != nil {
		r.mstore = r.opts.MirrorStore
		r.mdb = r.opts.MirrorDatabase
		if r.mdb == "" {
			r.mdb = "the given database"
		}
		return nil
	}
	dir, err := os.MkdirTemp("", "rechargekit-bench-")
	if err != nil {
		return fmt.Errorf("bench: create the mirror's directory: %w", err)
	}
	s, err := sqlite.Open(ctx, filepath.Join(dir, "mirror.db"))
	if err != nil {
		_ = os.RemoveAll(dir)
		return fmt.Errorf("bench: open the mirror's database: %w", err)
	}
	r.mstore, r.mdb = s, "SQLite, a temporary file"
	r.closers = append(r.closers, func() {
		_ = s.Close()
		_ = os.RemoveAll(dir)
	})
	return nil
}

// serveWebhooks starts the receiver of the simulator's webhook deliveries:
// each is applied to the mirror of the current mode.
func (r *runner) serveWebhooks() {
	r.hooks = httptest.NewServer(&recharge.WebhookHandler{
		Verifier: recharge.WebhookVerifier{Secret: webhookSecret},
		Logger:   r.opts.Logger,
		OnEvent: func(ctx context.Context, ev *recharge.WebhookEvent) error {
			if m := r.applyTo.Load(); m != nil {
				return m.Apply(ctx, ev)
			}
			return nil
		},
	})
}

// invalidate is the mirror's OnChange: the current mode's card cache drops
// the customer's card.
func (r *runner) invalidate(ctx context.Context, customerID int64) {
	if c := r.current.Load(); c != nil {
		_ = c.Invalidate(ctx, customerID)
	}
}

// newMirror returns a mirror whose live reads and background reads share
// one bucket of token's budget draining leak requests a second, the live
// ones first, and the live ones behind serve's breaker, as serve wires
// them. Its background requests are counted in
// bg. Its cards are marked stale when its last reconciliation is more
// than two reconcile intervals old: serve's default interval, unless
// interval is set. more configures its background client further.
func (r *runner) newMirror(token string, leak float64, bg *countingTransport, interval time.Duration, more ...recharge.Option) (*mirror.Mirror, error) {
	o := r.opts
	shared := recharge.NewLeakyBucket(max(o.BucketSize-1, 1), leak, nil, nil)
	live := recharge.NewClient(token, recharge.WithBaseURL(r.simTS.URL), recharge.WithHTTPClient(r.http),
		recharge.WithLogger(o.Logger), recharge.WithLimiter(shared),
		recharge.WithBreaker(recharge.DefaultBreakerFailures, recharge.DefaultBreakerFirst, recharge.DefaultBreakerMax))
	back := recharge.NewClient(token, append([]recharge.Option{recharge.WithBaseURL(r.simTS.URL), recharge.WithHTTPClient(bg.client(r.http)),
		recharge.WithLogger(o.Logger), recharge.WithLimiter(recharge.Background(shared, BackgroundReserve))}, more...)...)
	m, err := mirror.New(mirror.Options{
		Store:             r.mstore,
		Client:            back,
		Live:              &recharge.Source{Client: live, Logger: o.Logger},
		ReconcileInterval: interval,
		Holder:            "bench",
		OnChange:          r.invalidate,
		Logger:            o.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("bench: configure the mirror: %w", err)
	}
	return m, nil
}

// coldWithBackfill measures cold lookups, as the "rechargekit cold" row
// does, while a backfill into the empty mirror shares their token's
// budget at background priority; the lookups read through the mirror,
// which answers them live and writes them through, as serve does while it
// syncs. The backfill stops with the lookups and the mirror is emptied
// again.
func (r *runner) coldWithBackfill(ctx context.Context, ids []int64, mr *MirrorReport) (*Row, error) {
	if err := r.mstore.PurgeMirror(ctx); err != nil {
		return nil, fmt.Errorf("bench: empty the mirror: %w", err)
	}
	bg := &countingTransport{}
	m, err := r.newMirror(benchToken, r.opts.LeakPerSecond, bg, 0)
	if err != nil {
		return nil, err
	}
	var records atomic.Int64
	row, err := r.measure(ctx, mode{
		name: ModeColdBackfill, workers: r.opts.ColdConcurrency, duration: r.opts.Duration, pick: r.once(ids),
		source: func() rechargekit.RechargeSource { return m.Source() }, cache: r.freshCache(),
		during: func(ctx context.Context) {
			t0 := time.Now()
			_ = m.Backfill(ctx, func(p mirror.Progress) { records.Store(p.Records) })
			mr.UnderLoad = time.Since(t0)
		},
		background: bg,
	})
	if err != nil {
		return nil, err
	}
	mr.UnderLoadRecords = records.Load()
	if err := m.Purge(ctx); err != nil {
		return nil, fmt.Errorf("bench: empty the mirror: %w", err)
	}
	return row, nil
}

// backfill mirrors the whole store from empty with no agent traffic and
// returns the complete mirror the next modes read.
func (r *runner) backfill(ctx context.Context, mr *MirrorReport) (*mirror.Mirror, error) {
	o := r.opts
	token, leak := r.backfillBudget()
	if err := r.mstore.PurgeMirror(ctx); err != nil {
		return nil, fmt.Errorf("bench: empty the mirror: %w", err)
	}
	m, err := r.newMirror(token, leak, &countingTransport{}, 0)
	if err != nil {
		return nil, err
	}
	r.sim.Reset()
	var last mirror.Progress
	t0 := time.Now()
	fmt.Fprintf(o.Progress, "bench: backfill of the whole store at %g requests/s\n", leak)
	next := t0.Add(10 * time.Second)
	if err := m.Backfill(ctx, func(p mirror.Progress) {
		last = p
		if now := time.Now(); now.After(next) {
			next = now.Add(10 * time.Second)
			fmt.Fprintf(o.Progress, "bench: backfill %.0f%%, %d records, %.0f records/s, %v left\n", p.Percent, p.Records, p.Rate, p.Left.Round(time.Second))
		}
	}); err != nil {
		return nil, fmt.Errorf("bench: backfill the mirror: %w", err)
	}
	mr.Backfill = time.Since(t0)
	st := r.sim.Stats()
	mr.BackfillRecords = last.Records
	mr.BackfillRateLimited = st.ByStatus["429"]
	mr.BackfillRequests = st.Requests - mr.BackfillRateLimited
	mr.BackfillLeakPerSecond, mr.PageSize = leak, mirror.DefaultPageSize
	mr.CeilingPerSecond = float64(mirror.DefaultPageSize) * leak
	if mr.Backfill > 0 {
		mr.RecordsPerSecond = float64(mr.BackfillRecords) / mr.Backfill.Seconds()
	}
	if leak != o.LeakPerSecond {
		mr.Projected = time.Duration(float64(mr.BackfillRequests) / o.LeakPerSecond * float64(time.Second))
	}

	stats, err := r.mstore.MirrorStats(ctx)
	if err != nil {
		return nil, fmt.Errorf("bench: read the mirror's counts: %w", err)
	}
	mr.Records = stats.Records
	for _, n := range stats.Records {
		mr.RecordsTotal += n
	}
	if s, ok := r.mstore.(sizer); ok {
		if mr.DiskBytes, err = s.Size(ctx); err != nil {
			return nil, fmt.Errorf("bench: measure the mirror's database: %w", err)
		}
		mr.DiskPer1000 = float64(mr.DiskBytes) / float64(max(r.store.Customers, 1)) * 1000
	}
	return m, nil
}

// backfillBudget returns the token and drain rate the complete mirror
// reads with: the agents' own, or a faster one of its own when
// Options.BackfillLeakPerSecond asks.
func (r *runner) backfillBudget() (token string, leak float64) {
	if o := r.opts; o.BackfillLeakPerSecond > o.LeakPerSecond {
		return backfillToken, o.BackfillLeakPerSecond
	}
	return benchToken, r.opts.LeakPerSecond
}

// mirrorModes runs the modes that read the complete mirror m.
func (r *runner) mirrorModes(ctx context.Context, m *mirror.Mirror, mr *MirrorReport) ([]Row, error) {
	o := r.opts
	src := func() rechargekit.RechargeSource { return m.Source() }
	var modes []mode
	if len(r.burstCold) > 0 {
		modes = append(modes, mode{name: ModeMirrorBurst, burst: r.burstCold, source: src, cache: r.freshCache()})
	}
	// As many lookups in flight as serve's card cache lets read the mirror
	// at once (cards.DefaultMaxFetches): what one lookup costs, not a queue.
	modes = append(modes, mode{name: ModeMirrorUncached, workers: min(o.Concurrency, cards.DefaultMaxFetches), duration: o.Duration,
		pick: r.cycle(r.all), source: src, uncached: true})
	var rows []Row
	for _, md := range modes {
		row, err := r.measure(ctx, md)
		if err != nil {
			return nil, err
		}
		rows = append(rows, *row)
	}

	// Changes in Recharge, first with their webhooks delivered, then lost
	// while reconciliation runs on its interval.
	r.applyTo.Store(m)
	defer r.applyTo.Store(nil)
	changed := r.changeable(2 * o.Changes)
	var err error
	mr.ReconcileInterval = o.ReconcileInterval
	fmt.Fprintf(o.Progress, "bench: changes in Recharge, webhooks delivered, then lost\n")
	if mr.Webhook, err = r.propagate(ctx, m, changed[:len(changed)/2], false, 10*time.Second); err != nil {
		return nil, err
	}
	// Serve's loop with a short interval (a mirror of its own, so that the
	// others' cards are not marked stale for a reconciliation more than
	// two short intervals old).
	token, leak := r.backfillBudget()
	short, err := r.newMirror(token, leak, &countingTransport{}, o.ReconcileInterval)
	if err != nil {
		return nil, err
	}
	runCtx, stop := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() { ran <- short.Run(runCtx) }()
	// Its first reconciliation also checks every customer's count (a
	// daily check): the changes wait for the steady state after it.
	err = r.firstReconcile(ctx, short)
	if err == nil {
		mr.Reconcile, err = r.propagate(ctx, short, changed[len(changed)/2:], true, 3*o.ReconcileInterval+10*time.Second)
	}
	stop()
	if runErr := <-ran; err == nil && runErr != nil && ctx.Err() == nil {
		err = fmt.Errorf("bench: run the mirror: %w", runErr)
	}
	if err != nil {
		return nil, err
	}

	// Recharge down: every request answers 503, and a reconciliation
	// failed, so the mirror knows it is behind. (Its client does not
	// retry, so that it learns it in a second rather than after every
	// request's backoff: what it learns is the same.)
	if len(r.burstStale) > 0 {
		down, err := r.newMirror(token, leak, &countingTransport{}, 0, recharge.WithMaxRetries(0))
		if err != nil {
			return nil, err
		}
		row, err := r.measure(ctx, mode{name: ModeMirrorOutage, burst: r.burstStale, cache: r.freshCache(),
			source: func() rechargekit.RechargeSource { return down.Source() },
			before: func() {
				fail := rechargetest.Faults{Status: http.StatusServiceUnavailable}
				r.sim.SetFaults(fail)
				_ = down.Reconcile(ctx) // fails: Recharge is down
				r.sim.Reset()           // the lookups' statistics from zero
				r.sim.SetFaults(fail)
			}})
		r.sim.SetFaults(rechargetest.Faults{})
		if err != nil {
			return nil, err
		}
		rows = append(rows, *row)
	}
	return rows, nil
}

// freshCache returns an empty card cache, for a mode whose cards the
// others' must not be in (nor be dropped from the run's cache by the
// mirror's changes).
func (r *runner) freshCache() rechargekit.CardCache {
	return cards.NewMemoryCache(max(cards.DefaultMemoryCacheEntries, len(r.all)+1))
}

// firstReconcile waits until m's Run has completed its first
// reconciliation, or a minute.
func (r *runner) firstReconcile(ctx context.Context, m *mirror.Mirror) error {
	deadline := time.Now().Add(time.Minute)
	for m.Status(ctx).LastReconcile.IsZero() {
		if time.Now().After(deadline) {
			return fmt.Errorf("bench: the mirror's first reconciliation did not end within a minute: %s", m.Status(ctx).Err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// changeable returns up to n customers for the propagation modes, from
// those no mode looked up.
func (r *runner) changeable(n int) []int64 {
	ids := r.cold[max(len(r.cold)-n, 0):]
	if len(ids) < n {
		ids = append(slices.Clone(ids), r.warm[:min(n-len(ids), len(r.warm))]...)
	}
	return ids
}

// propagate changes one subscription of each customer in Recharge (its
// quantity) and times until the card, read as serve reads it (the mirror
// behind a card cache whose card the mirror's changes drop), shows the
// change; lose has the simulator lose the changes' webhooks.
func (r *runner) propagate(ctx context.Context, m *mirror.Mirror, ids []int64, lose bool, limit time.Duration) (p Propagation, err error) {
	o := r.opts
	p.Limit = limit
	svc := cards.NewCachedService(m.Source(), cards.NewMemoryCache(len(ids)+1),
		cards.CachedOptions{TTL: o.TTL, Logger: o.Logger})
	r.current.Store(svc)
	defer func() {
		r.current.Store(nil)
		_ = svc.Close()
	}()
	if lose {
		r.sim.LoseWebhooks(rechargetest.WebhookLoss{Topics: recharge.CardTopics})
		defer r.sim.LoseWebhooks(rechargetest.WebhookLoss{})
	}
	lost0 := r.sim.Stats().WebhooksLost
	defer func() { p.Lost = r.sim.Stats().WebhooksLost - lost0 }()
	admin := recharge.NewClient(adminToken, recharge.WithBaseURL(r.simTS.URL), recharge.WithHTTPClient(r.http),
		recharge.WithRateLimit(max(o.BucketSize-1, 1), o.LeakPerSecond), recharge.WithLogger(o.Logger))
	for _, id := range ids {
		card, err := svc.Card(ctx, id) // now in the cache
		if err != nil {
			return p, fmt.Errorf("bench: read customer %d's card: %w", id, err)
		}
		if len(card.Subscriptions) == 0 {
			continue
		}
		sub := card.Subscriptions[0]
		want := sub.Quantity + 1
		if _, _, err := admin.Subscriptions.Update(ctx, sub.ID, &recharge.SubscriptionUpdateRequest{Quantity: &want}); err != nil {
			return p, fmt.Errorf("bench: change subscription %d in Recharge: %w", sub.ID, err)
		}
		p.Changes++
		t0 := time.Now()
		for {
			card, err := svc.Card(ctx, id)
			if err == nil && quantity(card, sub.ID) == want {
				p.Shown = append(p.Shown, time.Since(t0))
				break
			}
			if time.Since(t0) > limit {
				break
			}
			select {
			case <-ctx.Done():
				return p, ctx.Err()
			case <-time.After(5 * time.Millisecond):
			}
		}
	}
	return p, nil
}

// quantity is the quantity of the card's subscription id, -1 when the card
// has no such subscription.
func quantity(card *rechargekit.Card, id int64) int {
	for _, s := range card.Subscriptions {
		if s.ID == id {
			return s.Quantity
		}
	}
	return -1
}

// countingTransport counts the requests a client sends and the 429s it
// gets back, so that a row can tell the backfill's requests from its
// lookups'.
type countingTransport struct {
	base     http.RoundTripper
	requests atomic.Int64
	limited  atomic.Int64
}

// client returns an HTTP client like hc whose requests are counted.
func (t *countingTransport) client(hc *http.Client) *http.Client {
	t.base = hc.Transport
	c := *hc
	c.Transport = t
	return &c
}

// RoundTrip implements http.RoundTripper.
func (t *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.requests.Add(1)
	resp, err := t.base.RoundTrip(req)
	if err == nil && resp.StatusCode == http.StatusTooManyRequests {
		t.limited.Add(1)
	}
	return resp, err
}

// row returns the row of the mode named name.
func (rep *Report) row(name string) (Row, bool) {
	for _, r := range rep.Rows {
		if r.Mode == name {
			return r, true
		}
	}
	return Row{}, false
}

// printMirror writes what the mirror's modes measured besides their rows.
func (rep *Report) printMirror(w io.Writer) {
	mr := rep.Mirror
	if mr == nil {
		return
	}
	o := rep.Options
	fmt.Fprintf(w, "mirror (%s), %d customers:\n", mr.Database, rep.Store.Customers)
	fmt.Fprintf(w, "  complete: %d records (%s)\n", mr.RecordsTotal, byResource(mr.Records))
	pct := 0.0
	if mr.CeilingPerSecond > 0 {
		pct = 100 * mr.RecordsPerSecond / mr.CeilingPerSecond
	}
	fmt.Fprintf(w, "  backfill, no agent traffic: %d records in %v = %.0f records/s, %.0f%% of the budget's ceiling of %.0f records/s (%d a page x %g requests/s; the bucket starts empty, so its first requests do not wait); %d Recharge requests, %d 429s\n",
		mr.BackfillRecords, mr.Backfill.Round(100*time.Millisecond), mr.RecordsPerSecond, pct, mr.CeilingPerSecond,
		mr.PageSize, mr.BackfillLeakPerSecond, mr.BackfillRequests, mr.BackfillRateLimited)
	if mr.Projected > 0 {
		fmt.Fprintf(w, "  the backfill ran on a faster simulated budget (%g requests/s); PROJECTED at Recharge's %g requests/s: %v (%d requests / %g a second)\n",
			mr.BackfillLeakPerSecond, o.LeakPerSecond, mr.Projected.Round(time.Second), mr.BackfillRequests, o.LeakPerSecond)
	}
	cold, okCold := rep.row("rechargekit cold")
	busy, okBusy := rep.row(ModeColdBackfill)
	if okCold && okBusy && busy.Lookups > 0 {
		rate := 0.0
		if mr.UnderLoad > 0 {
			rate = float64(mr.UnderLoadRecords) / mr.UnderLoad.Seconds()
		}
		fmt.Fprintf(w, "  agents' cold lookups, p99 server / client: %s / %s without a backfill, %s / %s with one running at background priority (%d records in %v, %.0f records/s, beside them)\n",
			ms(cold.Server.P99), ms(cold.Client.P99), ms(busy.Server.P99), ms(busy.Client.P99),
			mr.UnderLoadRecords, mr.UnderLoad.Round(100*time.Millisecond), rate)
	}
	if mr.DiskBytes > 0 {
		fmt.Fprintf(w, "  disk: %s for %d customers = %s per 1,000 customers\n",
			bytesString(float64(mr.DiskBytes)), rep.Store.Customers, bytesString(mr.DiskPer1000))
	}
	if r, ok := rep.row(ModeMirrorBurst); ok {
		fmt.Fprintf(w, "  %s: %d of %d answered with the card; server p50 %s, p99 %s (target under 20 ms); client p50 %s, p99 %s; Recharge calls during the burst: %d\n",
			r.Mode, r.OK, r.Lookups, ms(r.Server.P50), ms(r.Server.P99), ms(r.Client.P50), ms(r.Client.P99), r.RechargeCalls)
	}
	if r, ok := rep.row(ModeMirrorUncached); ok {
		fmt.Fprintf(w, "  %s: every lookup read from the mirror's database, %d in flight: server p99 %s, client p99 %s; Recharge calls: %d\n",
			r.Mode, r.Concurrency, ms(r.Server.P99), ms(r.Client.P99), r.RechargeCalls)
	}
	fmt.Fprintf(w, "  a change in Recharge on the card, webhooks delivered: %s (target under 2 s)\n", mr.Webhook.summary())
	fmt.Fprintf(w, "  a change in Recharge on the card, webhooks lost, reconciliation every %v (short for the benchmark; serve's default is %v): %s (target: within one interval)\n",
		mr.ReconcileInterval, mirror.DefaultReconcileInterval, mr.Reconcile.summary())
	if r, ok := rep.row(ModeMirrorOutage); ok {
		fmt.Fprintf(w, "  %s (every Recharge request answered 503): %d of %d answered with the card, %d marked stale; client p99 %s, max %s (target under 100 ms); Recharge calls: %d (a behind mirror whose reconciliation failed does not ask Recharge)\n",
			r.Mode, r.OK, r.Lookups, r.Stale, ms(r.Client.P99), ms(r.Client.Max), r.RechargeCalls)
	}
	fmt.Fprintln(w)
}

// summary says how many changes showed and how fast.
func (p Propagation) summary() string {
	if p.Changes == 0 {
		return "no change made"
	}
	s := fmt.Sprintf("%d of %d changes shown", len(p.Shown), p.Changes)
	if len(p.Shown) > 0 {
		l := p.Latency()
		s += fmt.Sprintf(", p50 %s, max %s", ms(l.P50), ms(l.Max))
	}
	if p.Missed() > 0 {
		s += fmt.Sprintf(" (%d not within %v)", p.Missed(), p.Limit)
	}
	if p.Lost > 0 {
		s += fmt.Sprintf("; %d webhook deliveries lost", p.Lost)
	}
	return s
}

// byResource lists counts in rechargekit.MirrorResources order.
func byResource(n map[string]int64) string {
	var parts []string
	for _, r := range rechargekit.MirrorResources {
		parts = append(parts, fmt.Sprintf("%s %d", r, n[r]))
	}
	return strings.Join(parts, ", ")
}

// bytesString formats a size in kB or MB (1,000-based, as disks are sold).
func bytesString(b float64) string {
	switch {
	case b >= 1e6:
		return strconv.FormatFloat(b/1e6, 'f', 1, 64) + " MB"
	default:
		return strconv.FormatFloat(b/1e3, 'f', 1, 64) + " kB"
	}
}
