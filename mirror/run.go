package mirror

import (
	"context"
	"log/slog"
	"time"

	"github.com/rechargekit/rechargekit"
)

// This file runs the mirror in serve: one replica at a time (the holder
// of a lease in the database) backfills and reconciles; the others only
// read.

// retryBackfill bounds the wait before a failed backfill is tried again.
const (
	retryFirst = 5 * time.Second
	retryMax   = 5 * time.Minute
)

// Lead takes the sync lease for Options.Holder, or renews it, until
// LeaseTTL from now. It reports whether this replica holds it.
// Errors: those of the store.
func (m *Mirror) Lead(ctx context.Context) (bool, error) {
	ok, cur, err := m.store.AcquireMirrorLease(ctx, m.opts.Holder, m.now(), m.opts.LeaseTTL)
	if err != nil {
		ok = false
	}
	m.mu.Lock()
	was := m.leader
	m.leader = ok
	m.mu.Unlock()
	switch {
	case ok && !was:
		m.log.LogAttrs(ctx, slog.LevelInfo, "mirror: this replica syncs the mirror", slog.String("holder", m.opts.Holder))
	case !ok && was:
		attrs := []slog.Attr{slog.String("holder", m.opts.Holder)}
		if cur != nil {
			attrs = append(attrs, slog.String("now_held_by", cur.Holder))
		}
		m.log.LogAttrs(ctx, slog.LevelWarn, "mirror: this replica lost the sync lease", attrs...)
	}
	return ok, err
}

// Run serves the mirror until ctx ends: every LeaseTTL/3 it takes or
// renews the lease; while it holds it, it backfills when the mirror is
// not complete and then reconciles every ReconcileInterval (and checks
// the webhook registrations at the start); losing the lease stops that
// work. When ctx ends it stops, releases the lease and returns nil.
func (m *Mirror) Run(ctx context.Context) error {
	var w *worker
	defer func() {
		w.stop()
		// ctx has ended: the release gets its own short deadline.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := m.store.ReleaseMirrorLease(rctx, m.opts.Holder); err != nil {
			m.log.LogAttrs(rctx, slog.LevelWarn, "mirror: the sync lease could not be released; it expires by itself", slog.String("error", err.Error()))
		}
		m.mu.Lock()
		m.leader = false
		m.mu.Unlock()
	}()
	for {
		leader, err := m.Lead(ctx)
		if err != nil && ctx.Err() == nil {
			m.log.LogAttrs(ctx, slog.LevelWarn, "mirror: the sync lease could not be taken", slog.String("error", err.Error()))
		}
		switch {
		case leader && w == nil:
			w = m.startWork(ctx)
		case !leader:
			w.stop()
			w = nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-m.after(m.opts.LeaseTTL / 3):
		}
	}
}

// worker is the leader's work running in its own goroutine.
type worker struct {
	cancel context.CancelFunc
	done   chan struct{}
}

func (m *Mirror) startWork(ctx context.Context) *worker {
	ctx, cancel := context.WithCancel(ctx)
	w := &worker{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		m.work(ctx)
	}()
	return w
}

// stop ends the work and waits for it; a nil worker is none.
func (w *worker) stop() {
	if w != nil {
		w.cancel()
		<-w.done
	}
}

// work is the leader's job until ctx ends: backfill while the mirror is
// not complete (again after a purge), retrying with a growing wait; once
// complete, reconcile at once (the backfill may have taken long) and then
// every ReconcileInterval.
func (m *Mirror) work(ctx context.Context) {
	if m.opts.WebhookURL != "" {
		if err := m.checkWebhooks(ctx); err != nil && ctx.Err() == nil {
			m.log.LogAttrs(ctx, slog.LevelWarn, "mirror: webhook registrations not checked", slog.String("error", err.Error()))
		}
	}
	retry := retryFirst
	for {
		next := m.opts.ReconcileInterval
		cps, err := m.checkpoints(ctx, true)
		if err == nil && complete(cps) {
			_ = m.Reconcile(ctx) // logged, and shown by Status
			retry = retryFirst
		} else {
			if err == nil {
				err = m.Backfill(ctx, nil)
			}
			if err == nil {
				continue // complete: reconcile at once
			}
			next, retry = retry, min(2*retry, retryMax)
		}
		select {
		case <-ctx.Done():
			return
		case <-m.after(next):
		}
	}
}

// Progress returns where the last backfill stands.
func (m *Mirror) Progress() Progress {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.progress
}

var _ rechargekit.CustomerIndex = (*Mirror)(nil)

// BackfillAsLeader is Backfill run under the sync lease, as `rechargekit
// sync` runs it beside serve's replicas: it takes the lease (ECONFLICT,
// naming the holder, when another process holds it), renews it every
// LeaseTTL/3 while the backfill runs, stops the backfill if the lease is
// lost, and releases it at the end. So two processes never fill the
// mirror at once, each overwriting the other's checkpoints.
func (m *Mirror) BackfillAsLeader(ctx context.Context, progress func(Progress)) error {
	ok, cur, err := m.store.AcquireMirrorLease(ctx, m.opts.Holder, m.now(), m.opts.LeaseTTL)
	if wait := leaseWait(cur, m.now(), m.opts.LeaseTTL); err == nil && !ok && wait > 0 {
		// A holder that died (a killed sync) keeps the lease until it
		// expires: wait for that once. A live holder renews it meanwhile,
		// and is refused below.
		m.log.LogAttrs(ctx, slog.LevelInfo, "mirror: waiting for the sync lease to expire", slog.String("holder", cur.Holder),
			slog.Time("expires", cur.Expires))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-m.after(wait):
		}
		ok, cur, err = m.store.AcquireMirrorLease(ctx, m.opts.Holder, m.now(), m.opts.LeaseTTL)
	}
	switch {
	case err != nil:
		return err
	case !ok:
		holder := "another process"
		if cur != nil {
			holder = cur.Holder
		}
		return rechargekit.Errorf(rechargekit.ECONFLICT, "%s is syncing the mirror (it holds the sync lease); nothing was read.", holder)
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := m.store.ReleaseMirrorLease(rctx, m.opts.Holder); err != nil {
			m.log.LogAttrs(rctx, slog.LevelWarn, "mirror: the sync lease could not be released; it expires by itself", slog.String("error", err.Error()))
		}
	}()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		for {
			select {
			case <-ctx.Done():
				return
			case <-m.after(m.opts.LeaseTTL / 3):
			}
			ok, _, err := m.store.AcquireMirrorLease(ctx, m.opts.Holder, m.now(), m.opts.LeaseTTL)
			if ctx.Err() != nil {
				return
			}
			if err == nil && !ok {
				cancel(rechargekit.Errorf(rechargekit.ECONFLICT, "The sync lease was taken by another process; this backfill stopped, and its checkpoints are kept."))
				return
			}
		}
	}()
	err = m.Backfill(ctx, progress)
	cancel(nil)
	<-renewed
	if cause := context.Cause(ctx); err != nil && cause != nil && rechargekit.ErrorCode(cause) == rechargekit.ECONFLICT {
		return cause
	}
	return err
}

// leaseWait is how long BackfillAsLeader waits for a lease held by cur to
// expire: until a little after its expiry when that is within two of
// this process's lease lives (a lease a dead sync or replica left
// behind), else 0: refused at once.
func leaseWait(cur *rechargekit.MirrorLease, now time.Time, ttl time.Duration) time.Duration {
	if cur == nil {
		return 0
	}
	wait := cur.Expires.Sub(now) + 100*time.Millisecond
	if wait <= 0 || wait > 2*ttl {
		return 0
	}
	return wait
}
