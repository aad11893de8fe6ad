package main

import (
	"context"
	"fmt"
	"time"

	"github.com/rechargekit/rechargekit/bench"
)

// benchCommand measures lookups against the simulator with realistic
// latency, every mode side by side in one run: naive, cold, warm and bursts.
type benchCommand struct {
	m    *Main
	opts bench.Options
}

func (c *benchCommand) parseFlags(args []string) error {
	fs := c.m.newFlagSet("bench", "[--customers N] [--concurrency N] [--duration D] [--latency D] [--burst N]")
	fs.IntVar(&c.opts.Customers, "customers", bench.DefaultCustomers, "generated customers in the simulated store")
	fs.IntVar(&c.opts.Concurrency, "concurrency", bench.DefaultConcurrency, "lookups in flight in the warm mode")
	fs.IntVar(&c.opts.ColdConcurrency, "cold-concurrency", bench.DefaultColdConcurrency, "lookups in flight in the naive and cold modes (Recharge's budget bounds them)")
	fs.DurationVar(&c.opts.Duration, "duration", bench.DefaultDuration, "how long each of the naive, cold and warm modes runs")
	fs.DurationVar(&c.opts.Latency, "latency", bench.DefaultLatency, "simulated Recharge latency per request")
	fs.IntVar(&c.opts.Burst, "burst", bench.DefaultBurst, "lookups for different customers sent at once in the burst modes (negative: skip)")
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
	return nil
}

func (c *benchCommand) run(ctx context.Context) error {
	c.opts.Out = c.m.Stdout
	start := time.Now()
	fmt.Fprintf(c.m.Stderr, "rechargekit bench: running (about %s)...\n", (4*c.opts.Duration + 15*time.Second).Round(time.Second))
	if _, err := bench.Run(ctx, c.opts); err != nil {
		return err
	}
	fmt.Fprintf(c.m.Stderr, "done in %s\n", time.Since(start).Round(100*time.Millisecond))
	return nil
}
