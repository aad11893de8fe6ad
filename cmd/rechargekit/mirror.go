package main

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/metrics"
	"github.com/rechargekit/rechargekit/mirror"
	"github.com/rechargekit/rechargekit/recharge"
	"github.com/rechargekit/rechargekit/server"
)

// backgroundReserve is how many of the token's bucket slots the mirror's
// backfill and reconciliation leave free for agents' lookups (10 of
// Recharge's 40): a cold card costs about 4 calls, so two arrive at once
// without waiting behind the mirror, which meanwhile still reads at the
// bucket's full drain rate when no agent competes.
const backgroundReserve = 10

// mirrorClient returns the Recharge client of the mirror's backfill and
// reconciliation: paced at background priority on budget, the very
// limiter every live request of the token uses (the live client's own, or
// the Redis-shared one), so that agents' lookups go first and the two
// together never exceed the token's bucket.
func mirrorClient(token, baseURL string, budget recharge.Limiter, logger *slog.Logger, opts ...recharge.Option) *recharge.Client {
	return recharge.NewClient(token, append([]recharge.Option{recharge.WithBaseURL(baseURL), recharge.WithLogger(logger),
		recharge.WithLimiter(recharge.Background(budget, backgroundReserve))}, opts...)...)
}

// backgroundMetrics reports the mirror client's Recharge calls, but not
// its waits for the budget: those are by design (it yields to agents'
// lookups), and the rate-limit wait and delay metrics say whether agents
// waited.
type backgroundMetrics struct{ rechargekit.Metrics }

// RateLimitWait implements rechargekit.Metrics: not counted.
func (backgroundMetrics) RateLimitWait(time.Duration) {}

// Metrics' implementation of the mirror's events.
var _ mirror.Metrics = (*metrics.Registry)(nil)

// mirrorOnEvent returns the webhook receiver's OnEvent with the mirror on:
// the payload goes into the mirror, whose OnChange drops the customer's
// card from the cache when something changed (so the card is not dropped
// twice, nor for a duplicate or a late delivery the mirror ignored). A
// card topic of a resource the mirror does not hold, should one appear,
// only drops the card, as without the mirror. A payload the mirror cannot
// file is logged and acknowledged after dropping the card: Recharge would
// deliver it again only to fail again, and deletes a webhook after 20
// failures.
func mirrorOnEvent(m *mirror.Mirror, invalidate func(ctx context.Context, customerID int64) error, logger *slog.Logger) func(context.Context, *recharge.WebhookEvent) error {
	drop := recharge.InvalidateOnEvent(invalidate)
	return func(ctx context.Context, ev *recharge.WebhookEvent) error {
		if ev == nil {
			return nil
		}
		err := m.Apply(ctx, ev)
		switch {
		case err == nil && mirroredResource(ev.Resource):
			return nil
		case err == nil:
			return drop(ctx, ev)
		case rechargekit.ErrorCode(err) == rechargekit.EINVALID:
			logger.WarnContext(ctx, "recharge webhook: the mirror cannot file this payload; the card is dropped from the cache instead",
				"topic", ev.Topic, "resource", ev.Resource, "customer_id", ev.CustomerID(), "error", err)
			return drop(ctx, ev)
		}
		// The database failed: drop the card now, and fail the delivery so
		// that Recharge delivers it again, into the mirror.
		return errors.Join(err, drop(ctx, ev))
	}
}

// mirroredResource reports whether the mirror holds a webhook resource's
// objects ("subscription", "payment_method", ...).
func mirroredResource(resource string) bool {
	return rechargekit.IsMirrorResource(resource + "s")
}

// mirrorWatch keeps the mirror's status for /readyz, /metrics and the
// Settings page, read at most once per statusEvery: Status counts the
// records in the database, and probes and scrapes come often. A nil
// status means the mirror is off.
type mirrorWatch struct {
	status  func(ctx context.Context) mirror.Status // nil: off
	every   time.Duration
	timeout time.Duration
	now     func() time.Time

	mu   sync.Mutex
	last mirror.Status
	at   time.Time
}

// statusEvery is how long one reading of the mirror's status serves.
const statusEvery = 2 * time.Second

func newMirrorWatch(status func(ctx context.Context) mirror.Status) *mirrorWatch {
	return &mirrorWatch{status: status, every: statusEvery, timeout: checkTimeout, now: time.Now}
}

// get returns the mirror's status, read again when the last reading is
// older than every; the read is bounded by timeout. Callers wait for one
// reading at a time.
func (w *mirrorWatch) get(ctx context.Context) mirror.Status {
	if w == nil || w.status == nil {
		return mirror.Status{State: rechargekit.MirrorOff}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if now := w.now(); w.at.IsZero() || now.Sub(w.at) >= w.every {
		ctx, cancel := context.WithTimeout(ctx, w.timeout)
		w.last = w.status(ctx)
		cancel()
		w.at = now
	}
	return w.last
}

// check is the mirror's readiness check. It never takes the replica out
// of rotation: while the mirror syncs, cards are read from Recharge as
// without it (ok, with the percent); behind (the last reconciliation
// overdue or failed) is a failing check, which makes /readyz "degraded":
// cards are then read from Recharge again, and from the mirror, marked
// as possibly out of date, only when Recharge fails. Every replica
// shares the mirror, so taking one out would help nothing.
func (w *mirrorWatch) check(ctx context.Context) server.Check {
	st := w.get(ctx)
	c := server.Check{Name: "mirror", OK: true, State: st.State}
	switch st.State {
	case rechargekit.MirrorSyncing:
		pct := st.Percent
		c.Percent = &pct
	case rechargekit.MirrorBehind:
		c.OK = false
		c.Message = "the mirror's last reconciliation is overdue or failed: cards are read from Recharge, and from the mirror, marked as possibly out of date, only when Recharge fails"
		c.Since = st.LastReconcile
	}
	return c
}

// view is what the mirror's gauges show at a scrape.
func (w *mirrorWatch) view() metrics.MirrorView {
	st := w.get(context.Background())
	return metrics.MirrorView{State: st.State, Percent: st.Percent, Records: st.Records}
}

// adminStatus is the Settings page's mirror panel.
func (w *mirrorWatch) adminStatus(ctx context.Context) *server.MirrorStatus {
	st := w.get(ctx)
	return &server.MirrorStatus{
		State: st.State, Percent: st.Percent, Records: st.Records, LastReconcile: st.LastReconcile,
		Holder: st.Holder, Leader: st.Leader, Drift: st.Drift, WebhooksRecreated: st.WebhooksMissing, Err: st.Err,
	}
}
