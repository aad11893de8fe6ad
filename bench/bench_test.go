package bench_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/bench"
	"github.com/rechargekit/rechargekit/cards"
)

// A tiny run: the report must be complete and consistent. Timing is not
// checked; the numbers depend on the machine.
func TestRunSmall(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rep, err := bench.Run(ctx, bench.Options{
		Customers:          40,
		Heavy:              2,
		HeavySubscriptions: 60,
		Concurrency:        8,
		ColdConcurrency:    2,
		Duration:           300 * time.Millisecond,
		Latency:            2 * time.Millisecond,
		Burst:              10,
		Deadline:           2 * time.Second,
		ReconcileInterval:  300 * time.Millisecond,
		Changes:            1,
		Seed:               1,
		Out:                &out,
	})
	if err != nil {
		t.Fatal(err)
	}
	wantModes := []string{"rechargekit warm", "naive", "rechargekit cold", bench.ModeColdBackfill, "burst, cold", "burst, expired cards",
		bench.ModeMirrorBurst, bench.ModeMirrorUncached, bench.ModeMirrorOutage}
	if len(rep.Rows) != len(wantModes) {
		t.Fatalf("%d rows, want %d: %+v", len(rep.Rows), len(wantModes), rep.Rows)
	}
	rows := map[string]bench.Row{}
	for i, r := range rep.Rows {
		if r.Mode != wantModes[i] {
			t.Errorf("row %d is %q, want %q", i, r.Mode, wantModes[i])
		}
		if r.Lookups == 0 || r.OK+r.Failed+r.Empty != r.Lookups || r.Stale > r.OK {
			t.Errorf("%s: inconsistent counts %+v", r.Mode, r)
		}
		if r.Empty != 0 {
			t.Errorf("%s: %d lookups found no customer; every customer looked up exists", r.Mode, r.Empty)
		}
		if r.Client.P50 > r.Client.P99 || r.Client.P99 > r.Client.Max {
			t.Errorf("%s: percentiles out of order: %+v", r.Mode, r.Client)
		}
		if !strings.Contains(out.String(), r.Mode) {
			t.Errorf("the table has no %q row", r.Mode)
		}
		rows[r.Mode] = r
	}
	if w := rows["rechargekit warm"]; w.OK == 0 || w.RechargeCalls != 0 || w.Failed != 0 {
		t.Errorf("warm: %+v, want answers from the cache alone", w)
	}
	if c := rows["rechargekit cold"]; c.OK == 0 || c.RechargeCalls == 0 {
		t.Errorf("cold: %+v, want cards read from Recharge", c)
	}
	if b := rows["burst, cold"]; b.Lookups != 10 || !b.Burst {
		t.Errorf("burst: %+v, want 10 lookups at once", b)
	}
	if rep.Store.Heavy != 2 || rep.Store.Customers != 42 || rep.Store.WarmUpCalls == 0 {
		t.Errorf("store = %+v", rep.Store)
	}
	for _, want := range []string{"answers/s", "server p50", "Recharge calls/answer", "429s reaching a desk: 0"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the printed report lacks %q:\n%s", want, out.String())
		}
	}
	checkMirror(t, rep, rows, out.String())
}

// checkMirror checks the mirror's part of a report: every customer
// mirrored, every mirror lookup answered with its card and no Recharge
// call, and the changes made in Recharge shown on the card.
func checkMirror(t *testing.T, rep *bench.Report, rows map[string]bench.Row, out string) {
	t.Helper()
	mr := rep.Mirror
	if mr == nil {
		t.Fatal("no mirror report")
	}
	if got := mr.Records[rechargekit.MirrorCustomers]; got != int64(rep.Store.Customers) {
		t.Errorf("the mirror holds %d customers, want %d", got, rep.Store.Customers)
	}
	if got := mr.Records[rechargekit.MirrorSubscriptions]; got != int64(rep.Store.Subscriptions) {
		t.Errorf("the mirror holds %d subscriptions, want %d", got, rep.Store.Subscriptions)
	}
	if mr.BackfillRecords <= 0 || mr.BackfillRecords > mr.RecordsTotal || mr.BackfillRequests <= 0 || mr.Backfill <= 0 ||
		mr.CeilingPerSecond != float64(mr.PageSize)*mr.BackfillLeakPerSecond || mr.Projected != 0 {
		t.Errorf("backfill: %+v", mr)
	}
	if mr.DiskBytes <= 0 || mr.DiskPer1000 <= 0 {
		t.Errorf("disk: %d bytes, %g per 1,000 customers; want the SQLite file's size", mr.DiskBytes, mr.DiskPer1000)
	}
	if b := rows[bench.ModeColdBackfill]; b.OK == 0 || b.RechargeCalls == 0 || mr.UnderLoad <= 0 {
		t.Errorf("cold beside a backfill: %+v, backfill %d records in %v; want cards read from Recharge beside it", b, mr.UnderLoadRecords, mr.UnderLoad)
	}
	for _, name := range []string{bench.ModeMirrorBurst, bench.ModeMirrorUncached} {
		if r := rows[name]; r.OK != r.Lookups || r.Lookups == 0 || r.RechargeCalls != 0 || r.RateLimited != 0 {
			t.Errorf("%s: %+v; want every lookup answered with the card and no Recharge call", name, r)
		}
	}
	if r := rows[bench.ModeMirrorBurst]; r.Stale != 0 || !r.Burst || r.Lookups != 10 {
		t.Errorf("%s: %+v; want 10 fresh cards at once", bench.ModeMirrorBurst, r)
	}
	// Recharge down: the mirror, behind after its reconciliation failed,
	// answers alone without asking Recharge; every card is marked stale.
	if r := rows[bench.ModeMirrorOutage]; r.Lookups != 10 || r.OK != r.Lookups || r.Stale != r.OK || r.RechargeCalls != 0 {
		t.Errorf("%s: %+v; want all 10 answered with the card, marked stale, and no Recharge call", bench.ModeMirrorOutage, r)
	}
	for name, p := range map[string]bench.Propagation{"webhook": mr.Webhook, "reconciliation": mr.Reconcile} {
		if p.Changes != 1 || p.Missed() != 0 {
			t.Errorf("%s: %d changes, %d not shown within %v; want 1 shown", name, p.Changes, p.Missed(), p.Limit)
		}
	}
	if mr.Webhook.Lost != 0 || mr.Reconcile.Lost == 0 {
		t.Errorf("webhook deliveries lost: %d with webhooks, %d without; want none, then the change's", mr.Webhook.Lost, mr.Reconcile.Lost)
	}
	for _, want := range []string{"records/s", "budget's ceiling", "per 1,000 customers", "webhooks delivered", "webhooks lost, reconciliation every 300ms",
		"Recharge calls during the burst: 0", "marked stale"} {
		if !strings.Contains(out, want) {
			t.Errorf("the printed report lacks %q:\n%s", want, out)
		}
	}
}

// Without the mirror, the run has today's rows only.
func TestRunNoMirror(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	rep, err := bench.Run(t.Context(), bench.Options{Customers: 20, Heavy: -1, Concurrency: 4, Duration: 100 * time.Millisecond,
		Latency: time.Millisecond, Burst: 5, NoMirror: true, Seed: 1, Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Rows) != 5 || rep.Mirror != nil || strings.Contains(out.String(), "mirror") {
		t.Errorf("rows %+v, mirror %+v; want today's 5 rows and no mirror:\n%s", rep.Rows, rep.Mirror, out.String())
	}
}

// cancelOnGet is a card cache that cancels a context at its first Get: the
// first lookup measured, since the warm-up only stores cards.
type cancelOnGet struct {
	rechargekit.CardCache
	cancel context.CancelFunc
	gets   atomic.Int64
}

func (c *cancelOnGet) Get(ctx context.Context, customerID int64) (*rechargekit.CacheEntry, error) {
	if c.gets.Add(1) == 1 {
		c.cancel()
	}
	return c.CardCache.Get(ctx, customerID)
}

func TestRunStopsWithTheContext(t *testing.T) {
	t.Parallel()
	t.Run("cancelled before it starts", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		var out bytes.Buffer
		rep, err := bench.Run(ctx, bench.Options{Customers: 10, Heavy: -1, Burst: -1, Duration: time.Second, Latency: time.Millisecond, Out: &out})
		if !errors.Is(err, context.Canceled) || rep != nil || out.Len() != 0 {
			t.Errorf("Run = %+v, %v, printing %q; want context.Canceled, no report and nothing printed", rep, err, out.String())
		}
	})
	t.Run("cancelled while measuring", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		cache := &cancelOnGet{CardCache: cards.NewMemoryCache(100), cancel: cancel}
		var out bytes.Buffer
		type result struct {
			rep *bench.Report
			err error
		}
		done := make(chan result, 1)
		go func() {
			// An hour per mode: only the cancellation can end this run in time.
			rep, err := bench.Run(ctx, bench.Options{Customers: 10, Heavy: -1, Burst: -1, Duration: time.Hour,
				Latency: time.Millisecond, Cache: cache, Out: &out})
			done <- result{rep, err}
		}()
		select {
		case r := <-done:
			if !errors.Is(r.err, context.Canceled) || r.rep != nil || out.Len() != 0 {
				t.Errorf("Run = %+v, %v, printing %q; want context.Canceled, no report and nothing printed", r.rep, r.err, out.String())
			}
			if cache.gets.Load() == 0 {
				t.Error("no lookup was measured: the context ended some other way")
			}
		case <-time.After(time.Minute):
			t.Fatal("Run still measuring a minute after its context was cancelled")
		}
	})
}
