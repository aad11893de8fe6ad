package recharge

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"
)

// Limiter paces requests. The Client calls Wait before every attempt,
// retries included. The default is a LeakyBucket per Client; several
// replicas sharing one token plug in a shared limiter instead (WithLimiter).
type Limiter interface {
	// Wait blocks until a request may be sent. It returns an error,
	// without waiting, when ctx is done or when the wait would outlast
	// ctx's deadline.
	Wait(ctx context.Context) error
}

// LimitObserver is implemented by limiters that learn from the
// X-Recharge-Limit header ("<used>/<size>"): the Client calls Observe after
// every response that carries it, so that the limiter slows down when other
// clients of the same token have filled Recharge's bucket.
type LimitObserver interface {
	Observe(used, size int)
}

// Recharge's documented bucket: 40 requests, draining at 2 per second.
const (
	DefaultBucketSize = 40
	DefaultLeakRate   = 2.0
)

// MinRequestTime is the time a request needs after its wait for the bucket:
// a limiter does not reserve a slot whose wait would leave less than this
// before the context's deadline, since the request would be cancelled on
// its way and the slot, in a budget shared by every lookup, wasted.
const MinRequestTime = 250 * time.Millisecond

// LeakyBucket is a client-side copy of Recharge's leaky bucket: each
// request adds one unit, the bucket drains at Rate units per second, and a
// request that would overflow it waits until there is room. Waiters reserve
// their slot before sleeping, so concurrent callers queue in order instead
// of waking together. It is safe for concurrent use.
type LeakyBucket struct {
	size  float64
	rate  float64 // units per second
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error

	mu    sync.Mutex
	level float64   // units in the bucket at time last, reservations included
	last  time.Time // when level was computed
}

// NewLeakyBucket returns a bucket of size units draining at perSecond units
// per second. now and sleep replace the clock in tests; nil means the real
// clock. A size below 1 or a rate of 0 or less falls back to Recharge's
// defaults.
func NewLeakyBucket(size int, perSecond float64, now func() time.Time, sleep func(ctx context.Context, d time.Duration) error) *LeakyBucket {
	if size < 1 {
		size = DefaultBucketSize
	}
	if !(perSecond > 0) || math.IsInf(perSecond, 0) {
		perSecond = DefaultLeakRate
	}
	if now == nil {
		now = time.Now
	}
	if sleep == nil {
		sleep = sleepContext
	}
	return &LeakyBucket{size: float64(size), rate: perSecond, now: now, sleep: sleep}
}

// leak drains the bucket up to now. The caller holds mu.
func (b *LeakyBucket) leak(now time.Time) {
	if !b.last.IsZero() {
		if el := now.Sub(b.last).Seconds(); el > 0 {
			b.level = math.Max(0, b.level-el*b.rate)
		}
	}
	if b.last.IsZero() || now.After(b.last) {
		b.last = now
	}
}

// Wait implements Limiter.
func (b *LeakyBucket) Wait(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	now := b.now()
	b.leak(now)
	over := b.level + 1 - b.size
	if over <= 0 {
		b.level++
		b.mu.Unlock()
		return nil
	}
	wait := time.Duration(over / b.rate * float64(time.Second))
	if dl, ok := ctx.Deadline(); ok && now.Add(wait+MinRequestTime).After(dl) {
		b.mu.Unlock()
		return fmt.Errorf("recharge: rate limit: a %v wait would pass the context deadline: %w", wait.Round(time.Millisecond), context.DeadlineExceeded)
	}
	b.level++ // reserve the slot now so that later callers queue behind us
	b.mu.Unlock()

	if err := b.sleep(ctx, wait); err != nil {
		b.mu.Lock()
		b.leak(b.now())
		b.level = math.Max(0, b.level-1) // give the reservation back
		b.mu.Unlock()
		return err
	}
	return nil
}

// Observe implements LimitObserver. When Recharge reports a fuller bucket
// than ours (other processes use the same token), our level rises to match,
// scaled to our size, so that the next requests wait for the real bucket
// to drain.
func (b *LeakyBucket) Observe(used, size int) {
	if size <= 0 || used < 0 {
		return
	}
	theirs := float64(used) / float64(size) * b.size
	b.mu.Lock()
	defer b.mu.Unlock()
	b.leak(b.now())
	if theirs > b.level {
		b.level = theirs
	}
}

// Level returns the bucket's current level (reservations included), for
// metrics and tests.
func (b *LeakyBucket) Level() float64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.leak(b.now())
	return b.level
}

// sleepContext sleeps for d or until ctx is done.
func sleepContext(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
