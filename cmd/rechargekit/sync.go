package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/mirror"
	"github.com/rechargekit/rechargekit/recharge"
	"github.com/rechargekit/rechargekit/redis"
)

// syncCommand fills the mirror from Recharge: rechargekit sync. It reads
// every resource's pages at background priority on the token's budget
// (shared with every serve replica through REDIS_URL), writes each page
// and then its checkpoint, and so resumes where a stopped or killed run
// left off.
type syncCommand struct {
	m        *Main
	pageSize int
	leaseTTL time.Duration
	mirror   mirrorSettings
}

func (c *syncCommand) parseFlags(args []string) error {
	fs := c.m.newFlagSet("sync", "[--page-size N] (Recharge from $RECHARGE_API_TOKEN and $RECHARGE_API_URL, the mirror in $DATABASE_URL)")
	fs.IntVar(&c.pageSize, "page-size", mirror.DefaultPageSize, "records per Recharge page (at most 250, Recharge's limit)")
	fs.DurationVar(&c.leaseTTL, "lease-ttl", mirror.DefaultLeaseTTL, "how long the sync lease outlives this process if it dies (a killed sync's lease is waited for once, up to twice this)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if c.leaseTTL < time.Second || c.leaseTTL > 10*time.Minute {
		return errors.New("--lease-ttl must be between 1s and 10m")
	}
	if c.pageSize < 1 || c.pageSize > recharge.MaxPageSize {
		return fmt.Errorf("--page-size must be between 1 and %d", recharge.MaxPageSize)
	}
	if err := c.m.checkRechargeEnv(); err != nil {
		return err
	}
	if err := c.m.checkEnv("REDIS_URL"); err != nil {
		return err
	}
	var err error
	c.mirror, err = c.m.mirrorSettings(mirror.DefaultReconcileInterval, true)
	return err
}

func (c *syncCommand) run(ctx context.Context) error {
	if !c.mirror.on {
		return errors.New("RECHARGE_MIRROR is off, so serve would not read the mirror: unset it (or set it to on) to sync")
	}
	token, err := c.m.rechargeToken()
	if err != nil {
		return err
	}
	size, perSecond, err := c.m.rateLimit()
	if err != nil {
		return err
	}
	logger := c.m.logger()
	store, dbURL, err := c.m.openAdminStore(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	budget, closeBudget, err := c.m.sharedBudget(ctx, token, size, perSecond, logger)
	if err != nil {
		return err
	}
	defer closeBudget()
	client := mirrorClient(token, c.m.rechargeURL(), budget, logger)
	mir, err := mirror.New(mirror.Options{
		Store:    store,
		Client:   client,
		Live:     &recharge.Source{Client: client, Logger: logger},
		Region:   c.mirror.region,
		PageSize: c.pageSize,
		LeaseTTL: c.leaseTTL,
		Logger:   logger,
	})
	if err != nil {
		return fmt.Errorf("set up the mirror: %w", err)
	}
	w := c.m.Stdout
	fmt.Fprintf(w, "Syncing the mirror in %s from %s, at background priority on the token's budget (%d, %g a second).\n",
		describeDatabase(dbURL), client.BaseURL(), size, perSecond)
	start := time.Now()
	pp := newProgressPrinter(w)
	err = mir.BackfillAsLeader(ctx, pp.update)
	pp.finish()
	// The counts come from the database, not from this run: a resumed
	// run shows what the mirror holds, the earlier runs' records too.
	stats, serr := store.MirrorStats(context.WithoutCancel(ctx))
	held := "the records written so far are kept"
	if serr == nil {
		held = "the " + recordCounts(stats.Records) + " written so far are kept"
	}
	switch {
	case err != nil && ctx.Err() != nil:
		return fmt.Errorf("stopped before the mirror was complete: %s, and 'rechargekit sync' resumes where this run stopped", held)
	case err != nil:
		return fmt.Errorf("the sync failed (%s, and the next run resumes there): %w", held, describe(err))
	}
	if serr != nil {
		return fmt.Errorf("the mirror is complete, but its counts could not be read: %w", describe(serr))
	}
	fmt.Fprintf(w, "The mirror is complete: %s, in %s.\n", recordCounts(stats.Records), time.Since(start).Round(time.Second))
	return nil
}

// sharedBudget returns the token's rate budget: one bucket in Redis that
// every replica and sync shares when REDIS_URL is set, else one of this
// process's own. close releases the Redis connection.
func (m *Main) sharedBudget(ctx context.Context, token string, size int, perSecond float64, logger *slog.Logger) (budget recharge.Limiter, close func() error, err error) {
	redisURL := m.Getenv("REDIS_URL")
	if redisURL == "" {
		return recharge.NewLeakyBucket(size, perSecond, nil, nil), func() error { return nil }, nil
	}
	rc, err := redis.New(redisURL, redis.Options{Logger: logger})
	if err != nil {
		return nil, nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	_ = rc.Ping(ctx) // an unreachable Redis falls back to the process's own bucket
	return redisLimiter(rc, token, size, perSecond, logger, ""), rc.Close, nil
}

// redisLimiter is the token's budget kept in Redis, with a bucket of the
// process's own while Redis is away. prefix "" is the package's default.
func redisLimiter(rc *redis.Client, token string, size int, perSecond float64, logger *slog.Logger, prefix string) recharge.Limiter {
	return redis.NewLimiter(rc, token, redis.LimiterOptions{
		BucketSize: size,
		PerSecond:  perSecond,
		Fallback:   recharge.NewLeakyBucket(size, perSecond, nil, nil),
		Logger:     logger,
		Prefix:     prefix,
	})
}

// recordCounts says what the mirror holds: "3,412 records (1,000
// customers, 1,020 addresses, ...)", resources in the backfill's order.
func recordCounts(records map[string]int64) string {
	var total int64
	var parts []string
	for _, r := range rechargekit.MirrorResources {
		total += records[r]
		parts = append(parts, thousands(records[r])+" "+strings.ReplaceAll(r, "_", " "))
	}
	return fmt.Sprintf("%s records (%s)", thousands(total), strings.Join(parts, ", "))
}

// mirrorCommand inspects or empties the mirror: rechargekit mirror status
// and rechargekit mirror purge. Neither calls Recharge.
type mirrorCommand struct {
	m      *Main
	action string
	force  bool // purge although a process holds the sync lease
}

func (c *mirrorCommand) parseFlags(args []string) error {
	if len(args) == 0 || (args[0] != "status" && args[0] != "purge") {
		return errors.New("usage: rechargekit mirror status|purge (the database comes from $DATABASE_URL)")
	}
	c.action = args[0]
	fs := c.m.newFlagSet("mirror "+c.action, "(the database comes from $DATABASE_URL)")
	if c.action == "purge" {
		fs.BoolVar(&c.force, "force", false, "purge although a replica or a sync holds the sync lease (restart it afterwards)")
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

func (c *mirrorCommand) run(ctx context.Context) error {
	store, dbURL, err := c.m.openAdminStore(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	stats, err := store.MirrorStats(ctx)
	if err != nil {
		return fmt.Errorf("read the mirror: %w", describe(err))
	}
	if c.action == "purge" {
		// A backfill running elsewhere keeps its place in memory and
		// would mark the emptied mirror complete: not while one holds
		// the sync lease.
		if l := stats.Lease; l != nil && l.Expires.After(time.Now()) && !c.force {
			return fmt.Errorf("%s is syncing the mirror (it holds the sync lease until %s): stop it first, or purge with --force and restart it",
				clean(l.Holder), l.Expires.UTC().Format(rechargekit.TimeLayout))
		}
		// The store purges in one statement per table; what it held is
		// counted first, for the line that says what went.
		if err := store.PurgeMirror(ctx); err != nil {
			return fmt.Errorf("purge the mirror: %w", describe(err))
		}
		fmt.Fprintf(c.m.Stdout, "Deleted every mirrored record from %s: %s, and the sync checkpoints. Cards are read from Recharge until the mirror is synced again ('rechargekit sync', or serve in the background).\n",
			describeDatabase(dbURL), recordCounts(stats.Records))
		return nil
	}
	printMirrorStats(c.m.Stdout, describeDatabase(dbURL), stats, time.Now())
	return nil
}

// printMirrorStats writes what `mirror status` shows: per resource the
// records held and where its backfill and sweeps stand, then the lease.
func printMirrorStats(w io.Writer, db string, st *rechargekit.MirrorStats, now time.Time) {
	complete := true
	fmt.Fprintf(w, "The mirror in %s holds %s.\n\n", db, recordCounts(st.Records))
	fmt.Fprintf(w, "  %-16s %10s  %-34s %s\n", "resource", "records", "backfill", "changes swept to")
	for _, r := range rechargekit.MirrorResources {
		cp := st.Checkpoints[r]
		if cp == nil {
			cp = &rechargekit.MirrorCheckpoint{Resource: r}
		}
		var backfill string
		switch {
		case cp.Done:
			backfill = "done (" + thousands(cp.Records) + " read)"
		case cp.StartedAt.IsZero():
			backfill, complete = "not started", false
		default:
			complete = false
			backfill = thousands(cp.Records) + " read"
			if cp.MaxID > 0 {
				backfill = fmt.Sprintf("%.0f%%, %s", clampPercent(float64(cp.LastID)/float64(cp.MaxID)*100), backfill)
			}
			backfill += ", resumes"
		}
		swept := "-"
		if !cp.SweptTo.IsZero() {
			swept = cp.SweptTo.UTC().Format(rechargekit.TimeLayout)
		}
		fmt.Fprintf(w, "  %-16s %10s  %-34s %s\n", strings.ReplaceAll(r, "_", " "), thousands(st.Records[r]), backfill, swept)
	}
	fmt.Fprintln(w)
	if complete {
		fmt.Fprintln(w, "The backfill is complete: cards and searches are answered from the mirror.")
	} else {
		fmt.Fprintln(w, "The backfill is not complete: 'rechargekit sync' (or serve, in the background) finishes it; meanwhile cards are read from Recharge.")
	}
	switch l := st.Lease; {
	case l == nil:
		fmt.Fprintln(w, "Nobody holds the sync lease: no serve replica is keeping the mirror current.")
	case l.Expires.After(now):
		fmt.Fprintf(w, "%s holds the sync lease until %s (renewed while it runs).\n", clean(l.Holder), l.Expires.UTC().Format(rechargekit.TimeLayout))
	default:
		fmt.Fprintf(w, "The sync lease of %s expired at %s: the next replica to start takes it.\n", clean(l.Holder), l.Expires.UTC().Format(rechargekit.TimeLayout))
	}
}
