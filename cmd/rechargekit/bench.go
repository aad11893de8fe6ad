package main

import (
	"context"
	"fmt"
	"time"

	"github.com/rechargekit/rechargekit/bench"
)

// benchCommand measures lookups against the simulator with realistic
// latency, every mode side by side in one run: naive, cold, warm, bursts
// and the mirror's.
type benchCommand struct {
	m    *Main
	opts bench.Options

	mirrorDatabase string
}

func (c *benchCommand) parseFlags(args []string) error {
	fs := c.m.newFlagSet("bench", "[--customers N] [--concurrency N] [--duration D] [--latency D] [--burst N] [--no-mirror] [--mirror-database URL] [--reconcile-interval D] [--backfill-rate N]")
	fs.IntVar(&c.opts.Customers, "customers", bench.DefaultCustomers, "generated customers in the simulated store (100000 shows that mirror lookups do not slow down with the store; add --backfill-rate)")
	fs.IntVar(&c.opts.Concurrency, "concurrency", bench.DefaultConcurrency, "lookups in flight in the warm mode (the mirror, uncached mode takes at most 16)")
	fs.IntVar(&c.opts.ColdConcurrency, "cold-concurrency", bench.DefaultColdConcurrency, "lookups in flight in the naive and cold modes (Recharge's budget bounds them)")
	fs.DurationVar(&c.opts.Duration, "duration", bench.DefaultDuration, "how long each of the naive, cold, warm and mirror, uncached modes runs")
	fs.DurationVar(&c.opts.Latency, "latency", bench.DefaultLatency, "simulated Recharge latency per request")
	fs.IntVar(&c.opts.Burst, "burst", bench.DefaultBurst, "lookups for different customers sent at once in the burst modes (negative: skip)")
	fs.BoolVar(&c.opts.NoMirror, "no-mirror", false, "skip the mirror's modes (backfill, mirror lookups, webhooks, outage)")
	fs.StringVar(&c.mirrorDatabase, "mirror-database", "", "keep the mirror in this database (a postgres:// URL or a SQLite path) instead of a temporary SQLite file; its mirror is emptied and refilled")
	fs.DurationVar(&c.opts.ReconcileInterval, "reconcile-interval", bench.DefaultReconcileInterval, "the mirror's reconciliation interval while a lost webhook waits for it")
	fs.Float64Var(&c.opts.BackfillLeakPerSecond, "backfill-rate", 0, "run the complete backfill on a simulated budget draining this many requests a second instead of Recharge's 2 (for a large store; the time at Recharge's budget is then projected)")
	fs.Int64Var(&c.opts.Seed, "seed", 1, "seed of the generated store and the lookup order")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if c.opts.Customers < 1 || c.opts.Concurrency < 1 || c.opts.ColdConcurrency < 1 || c.opts.Duration <= 0 || c.opts.Latency < 0 {
		return fmt.Errorf("--customers, --concurrency and --cold-concurrency must be positive, --duration positive and --latency not negative")
	}
	if c.opts.ReconcileInterval <= 0 || c.opts.BackfillLeakPerSecond < 0 {
		return fmt.Errorf("--reconcile-interval must be positive and --backfill-rate not negative")
	}
	if c.opts.NoMirror && c.mirrorDatabase != "" {
		return fmt.Errorf("--mirror-database has no use with --no-mirror")
	}
	return nil
}

func (c *benchCommand) run(ctx context.Context) error {
	c.opts.Out, c.opts.Progress = c.m.Stdout, c.m.Stderr
	if c.mirrorDatabase != "" {
		store, err := openStore(ctx, c.mirrorDatabase)
		if err != nil {
			return err
		}
		defer store.Close()
		c.opts.MirrorStore, c.opts.MirrorDatabase = store, describeDatabase(c.mirrorDatabase)
	}
	start := time.Now()
	about := 4*c.opts.Duration + 15*time.Second
	if !c.opts.NoMirror {
		about += 2*c.opts.Duration + mirrorEstimate(c.opts)
	}
	fmt.Fprintf(c.m.Stderr, "rechargekit bench: running (about %s)...\n", about.Round(time.Second))
	if _, err := bench.Run(ctx, c.opts); err != nil {
		return err
	}
	fmt.Fprintf(c.m.Stderr, "done in %s\n", time.Since(start).Round(100*time.Millisecond))
	return nil
}

// mirrorEstimate guesses the mirror's modes' time besides their rows: the
// backfill (about 21 records a customer, 250 a request, at the
// backfill's rate) and the changes waiting for webhooks and reconciliation.
func mirrorEstimate(o bench.Options) time.Duration {
	rate := o.BackfillLeakPerSecond
	if rate <= 0 {
		rate = 2
	}
	backfill := time.Duration(float64(o.Customers) * 21 / 250 / rate * float64(time.Second))
	return backfill + time.Duration(bench.DefaultChanges)*(o.ReconcileInterval+time.Second)
}
