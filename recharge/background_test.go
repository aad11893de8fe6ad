package recharge

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/internal/testkit"
)

func TestBackgroundAloneRunsAtTheDrainRate(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	bucket := NewLeakyBucket(40, 2, clock.Now, clock.Sleep)
	bg := Background(bucket, 10)
	start := clock.Now()
	for i := range 130 {
		if err := bg.Wait(context.Background()); err != nil {
			t.Fatalf("background request %d: %v", i, err)
		}
		if lv := bucket.Level(); lv > 30+1e-6 {
			t.Fatalf("after background request %d the bucket holds %.3f, want at most 30 (10 kept free)", i, lv)
		}
	}
	// 30 at once (the bucket up to its 10 reserved slots), then 100 at
	// the drain rate of 2 a second: 50 s.
	if el := clock.Now().Sub(start); math.Abs(el.Seconds()-50) > 0.01 {
		t.Errorf("130 background requests took %v of fake time, want 50 s (the full drain rate)", el)
	}
}

// priorityRun plays live requests (arrivals, at fixed times) against a
// backfill on one fake clock, in one goroutine so that the interleaving is
// deterministic: whenever the backfill sleeps, the live requests that
// arrive during its sleep are served first, at their own times.
type priorityRun struct {
	clock    *testkit.Clock
	bucket   *LeakyBucket
	arrivals []time.Time
	inLive   bool
	// liveWaits is how long each live request waited for the bucket.
	liveWaits []time.Duration
	maxLevel  float64
}

func newPriorityRun(arrivals []time.Time, clock *testkit.Clock) *priorityRun {
	r := &priorityRun{clock: clock, arrivals: arrivals}
	r.bucket = NewLeakyBucket(40, 2, clock.Now, r.sleep)
	return r
}

func (r *priorityRun) sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if r.inLive {
		r.clock.Advance(d)
		return nil
	}
	end := r.clock.Now().Add(d)
	r.serveLive(ctx, end)
	if r.clock.Now().Before(end) {
		r.clock.Set(end)
	}
	return nil
}

// serveLive sends the live requests arriving up to until.
func (r *priorityRun) serveLive(ctx context.Context, until time.Time) {
	for len(r.arrivals) > 0 && !r.arrivals[0].After(until) {
		if r.clock.Now().Before(r.arrivals[0]) {
			r.clock.Set(r.arrivals[0])
		}
		r.arrivals = r.arrivals[1:]
		start := r.clock.Now()
		r.inLive = true
		_ = r.bucket.Wait(ctx)
		r.inLive = false
		r.liveWaits = append(r.liveWaits, r.clock.Now().Sub(start))
		r.maxLevel = max(r.maxLevel, r.bucket.Level())
	}
}

// backfill sends requests through lim until the fake clock reaches end and
// returns how many it sent.
func (r *priorityRun) backfill(t *testing.T, lim Limiter, end time.Time) int {
	t.Helper()
	ctx := context.Background()
	n := 0
	for r.clock.Now().Before(end) {
		r.serveLive(ctx, r.clock.Now())
		if err := lim.Wait(ctx); err != nil {
			t.Fatalf("backfill request %d: %v", n, err)
		}
		n++
		r.maxLevel = max(r.maxLevel, r.bucket.Level())
		// Each request takes 100 ms on its way to Recharge and back.
		if err := r.sleep(ctx, 100*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	return n
}

// liveTraffic is 2 lookups (6 requests) every 5 s for 300 s: 1.2 requests
// a second, below the drain rate of 2.
func liveTraffic(start time.Time) []time.Time {
	var at []time.Time
	for s := 1; s < 300; s += 5 {
		for range 6 {
			at = append(at, start.Add(time.Duration(s)*time.Second))
		}
	}
	return at
}

func TestBackgroundNeverDelaysLiveRequests(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	start := clock.Now()
	r := newPriorityRun(liveTraffic(start), clock)
	sent := r.backfill(t, Background(r.bucket, 10), start.Add(300*time.Second))

	if len(r.liveWaits) != 360 {
		t.Fatalf("%d live requests were served, want 360", len(r.liveWaits))
	}
	for i, w := range r.liveWaits {
		if w != 0 {
			t.Fatalf("live request %d waited %v behind the backfill, want 0", i, w)
		}
	}
	if r.maxLevel > 40+1e-6 {
		t.Errorf("the bucket reached %.2f, above its 40: Recharge would answer 429", r.maxLevel)
	}
	// The backfill has what the live traffic leaves: 30 at once, then
	// (2 - 1.2) a second for 300 s = 270.
	if want := 270; sent < want*9/10 || sent > want*11/10 {
		t.Errorf("the backfill sent %d requests in 300 s beside the live traffic, want about %d", sent, want)
	}

	// The same backfill through the live limiter itself delays the live
	// requests: the test can tell.
	clock2 := newFakeClock()
	r2 := newPriorityRun(liveTraffic(clock2.Now()), clock2)
	r2.backfill(t, r2.bucket, clock2.Now().Add(300*time.Second))
	// (A backfill holds one reservation at a time: each live request
	// behind it waits up to one slot's drain, 500 ms.)
	if w := maxDuration(r2.liveWaits); w < 400*time.Millisecond {
		t.Errorf("with the backfill at live priority the longest live wait was %v, want about 500 ms", w)
	}
}

func maxDuration(ds []time.Duration) time.Duration {
	var m time.Duration
	for _, d := range ds {
		m = max(m, d)
	}
	return m
}

func TestBackgroundStopsWithItsContext(t *testing.T) {
	t.Parallel()
	full := func(clock *testkit.Clock, sleep func(context.Context, time.Duration) error) *LeakyBucket {
		b := NewLeakyBucket(40, 2, clock.Now, sleep)
		for range 35 {
			if err := b.Wait(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		return b
	}

	t.Run("cancelled", func(t *testing.T) {
		clock := newFakeClock()
		b := full(clock, clock.Sleep)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := Background(b, 10).Wait(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("Wait with a cancelled context: %v, want context.Canceled", err)
		}
		if lv := b.Level(); lv != 35 {
			t.Errorf("level %.2f after a cancelled background Wait, want 35 (no slot taken)", lv)
		}
	})
	t.Run("deadline too near", func(t *testing.T) {
		clock := newFakeClock()
		b := full(clock, clock.Sleep)
		// The bucket needs 3 s to drain to 29; the deadline is 1 s away.
		ctx, cancel := context.WithDeadline(context.Background(), clock.Now().Add(time.Second))
		defer cancel()
		if err := Background(b, 10).Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Wait past the deadline: %v, want context.DeadlineExceeded", err)
		}
		if s := clock.Sleeps(); len(s) != 0 || b.Level() != 35 {
			t.Errorf("slept %v and left the level at %.2f, want no sleep and 35", s, b.Level())
		}
	})
	t.Run("cancelled while waiting", func(t *testing.T) {
		clock := newFakeClock()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var slept []time.Duration
		b := full(clock, func(ctx context.Context, d time.Duration) error {
			slept = append(slept, d)
			cancel()
			return ctx.Err()
		})
		if err := Background(b, 10).Wait(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("Wait cancelled in its sleep: %v, want context.Canceled", err)
		}
		// It slept once, for the bucket to drain from 35 to 29: 3 s.
		if len(slept) != 1 || slept[0] != 3*time.Second || b.Level() != 35 {
			t.Errorf("slept %v, level %.2f; want one 3 s sleep and 35", slept, b.Level())
		}
	})
}

// markLimiter records whether its callers' contexts were marked as
// background work.
type markLimiter struct{ background []bool }

func (m *markLimiter) Wait(ctx context.Context) error {
	m.background = append(m.background, rechargekit.IsBackground(ctx))
	return nil
}

func TestBackgroundMarksTheContextForOtherLimiters(t *testing.T) {
	t.Parallel()
	m := &markLimiter{}
	if err := Background(m, 10).Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := m.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(m.background) != 2 || !m.background[0] || m.background[1] {
		t.Errorf("background marks %v, want [true false]", m.background)
	}
}

func TestBackgroundClientSharesTheLiveClientsBucket(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	bs := &bucketServer{clock: clock, size: 40, rate: 2}
	srv := MustServer(t, bs)
	live := MustClient(t, srv, clock, WithMaxRetries(0))
	bg := MustClient(t, srv, clock, WithMaxRetries(0), WithLimiter(Background(live.Limiter(), 10)))
	ctx := context.Background()
	for i := range 30 {
		if _, _, err := bg.Customers.Get(ctx, 1, nil); err != nil {
			t.Fatalf("background call %d: %v", i, err)
		}
	}
	if lv := live.Limiter().(*LeakyBucket).Level(); math.Abs(lv-30) > 1e-6 {
		t.Fatalf("the live client's bucket holds %.2f after 30 background calls, want 30: the clients do not share it", lv)
	}
	before := clock.Now()
	for i := range 10 {
		if _, _, err := live.Customers.Get(ctx, 1, nil); err != nil {
			t.Fatalf("live call %d: %v", i, err)
		}
	}
	if el := clock.Now().Sub(before); el != 0 {
		t.Errorf("10 live calls after the backfill waited %v, want 0 (the 10 reserved slots)", el)
	}
	if _, _, err := bg.Customers.Get(ctx, 1, nil); err != nil {
		t.Fatal(err)
	}
	// The background call waited for the bucket to drain from 40 to 29.
	if el := clock.Now().Sub(before); math.Abs(el.Seconds()-5.5) > 0.01 {
		t.Errorf("the next background call came %v after the live ones, want 5.5 s", el)
	}
	if bs.limited != 0 {
		t.Errorf("Recharge answered %d 429s", bs.limited)
	}
}
