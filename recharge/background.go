package recharge

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/rechargekit/rechargekit"
)

// BackgroundWaiter is implemented by limiters that can admit background
// work (the mirror's backfill and reconciliation) behind the requests
// agents wait for: WaitBackground never reserves a slot ahead; it admits
// the request only when taking a slot leaves at least reserve slots of the
// bucket free, and otherwise waits for the bucket to drain and looks
// again, until ctx ends. LeakyBucket and the redis package's shared
// Limiter implement it.
type BackgroundWaiter interface {
	WaitBackground(ctx context.Context, reserve int) error
}

// Background returns a Limiter for background work that shares l's bucket
// (and so the token's budget) with the live requests paced by l, at a
// lower priority: a background request waits until the bucket has more
// than reserve free slots, then takes one. While agents' lookups keep the
// bucket fuller, background requests wait (looking again as the bucket
// drains, bounded by their context); live requests never queue behind
// them, since a background request holds no reservation while it waits.
// When nothing competes, background requests run at the bucket's full
// drain rate.
//
// l must be the very limiter the live client uses, for example
// live.Limiter() of a Client built without WithLimiter:
//
//	live := recharge.NewClient(token, opts...)
//	bg := recharge.NewClient(token, append(opts, recharge.WithLimiter(recharge.Background(live.Limiter(), 10)))...)
//
// A limiter that does not implement BackgroundWaiter is called with a
// context marked by rechargekit.WithBackground, which it may honour.
func Background(l Limiter, reserve int) Limiter {
	return &backgroundLimiter{l: l, reserve: max(reserve, 0)}
}

type backgroundLimiter struct {
	l       Limiter
	reserve int
}

// Wait implements Limiter.
func (b *backgroundLimiter) Wait(ctx context.Context) error {
	ctx = rechargekit.WithBackground(ctx)
	if w, ok := b.l.(BackgroundWaiter); ok {
		return w.WaitBackground(ctx, b.reserve)
	}
	return b.l.Wait(ctx)
}

// Observe implements LimitObserver: what Recharge reports about the bucket
// goes to the shared limiter, which the live requests read too.
func (b *backgroundLimiter) Observe(used, size int) {
	if o, ok := b.l.(LimitObserver); ok {
		o.Observe(used, size)
	}
}

// Unwrap returns the shared limiter.
func (b *backgroundLimiter) Unwrap() Limiter { return b.l }

// WaitBackground implements BackgroundWaiter: it takes a slot only when at
// least reserve slots stay free after it (at most size-1 are kept free, so
// that background work can always proceed in an idle bucket), and
// otherwise sleeps until the bucket would have drained that far, then
// looks again, since live requests may have filled it meanwhile.
func (b *LeakyBucket) WaitBackground(ctx context.Context, reserve int) error {
	limit := max(1, b.size-float64(max(reserve, 0)))
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		b.mu.Lock()
		now := b.now()
		b.leak(now)
		over := b.level + 1 - limit
		if over <= 1e-9 {
			b.level++
			b.mu.Unlock()
			return nil
		}
		b.mu.Unlock()
		wait := time.Duration(math.Ceil(over / b.rate * float64(time.Second)))
		if dl, ok := ctx.Deadline(); ok && now.Add(wait+MinRequestTime).After(dl) {
			return fmt.Errorf("recharge: rate limit: background work: a %v wait would pass the context deadline: %w", wait.Round(time.Millisecond), context.DeadlineExceeded)
		}
		if err := b.sleep(ctx, wait); err != nil {
			return err
		}
	}
}
