package recharge

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rechargekit/rechargekit/internal/testkit"
)

// bucketServer plays Recharge's side of the rate limit: a 40-request bucket
// draining at 2 per second on the shared fake clock, answering 429 on
// overflow and reporting its level in X-Recharge-Limit.
type bucketServer struct {
	clock *testkit.Clock
	size  float64
	rate  float64

	mu       sync.Mutex
	level    float64
	last     time.Time
	maxLevel float64
	limited  int
	calls    int
}

func (s *bucketServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	now := s.clock.Now()
	if !s.last.IsZero() {
		s.level = math.Max(0, s.level-now.Sub(s.last).Seconds()*s.rate)
	}
	s.last = now
	s.calls++
	if s.level+1 > s.size+1e-9 {
		s.limited++
		s.mu.Unlock()
		w.WriteHeader(http.StatusTooManyRequests)
		fmt.Fprint(w, `{"errors":"Too many requests"}`)
		return
	}
	s.level++
	s.maxLevel = math.Max(s.maxLevel, s.level)
	used := int(math.Ceil(s.level))
	s.mu.Unlock()
	w.Header().Set(HeaderLimit, fmt.Sprintf("%d/%d", used, int(s.size)))
	fmt.Fprint(w, `{"customer":{"id":1}}`)
}

func TestLimiterKeepsTwoHundredCallsInsideTheBucket(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	bs := &bucketServer{clock: clock, size: 40, rate: 2}
	srv := MustServer(t, bs)
	c := MustClient(t, srv, clock, WithMaxRetries(0))
	start := clock.Now()
	for i := 0; i < 200; i++ {
		if _, _, err := c.Customers.Get(context.Background(), 1, nil); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if bs.limited != 0 || bs.maxLevel > 40 {
		t.Errorf("server saw %d 429s and a level of %.2f", bs.limited, bs.maxLevel)
	}
	// 40 at once, then 160 at 2 per second.
	if el := clock.Now().Sub(start); el < 80*time.Second {
		t.Errorf("200 calls took %v of fake time, want at least 80 s", el)
	}
}

func TestLeakyBucketQueuesConcurrentWaiters(t *testing.T) {
	t.Parallel()
	// A frozen clock: every waiter reserves its slot at the same instant, so
	// the waits must be 0 for the first 40 and then 0.5 s apart.
	now := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	var waits []time.Duration
	b := NewLeakyBucket(40, 2, func() time.Time { return now }, func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		defer mu.Unlock()
		waits = append(waits, d)
		return nil
	})
	var wg sync.WaitGroup
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := b.Wait(context.Background()); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	slices.Sort(waits)
	if len(waits) != 160 {
		t.Fatalf("%d waiters slept, want 160", len(waits))
	}
	for i, d := range waits {
		want := time.Duration(i+1) * 500 * time.Millisecond
		if d < want-time.Millisecond || d > want+time.Millisecond {
			t.Fatalf("waiter %d slept %v, want %v", i, d, want)
		}
	}
}

func TestLeakyBucketObserve(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		used      int
		size      int
		wantSleep []time.Duration
	}{
		{"server nearly full", 39, 40, []time.Duration{0, 500 * time.Millisecond}},
		{"server full", 40, 40, []time.Duration{500 * time.Millisecond, 500 * time.Millisecond}},
		{"scaled from a larger bucket", 78, 80, []time.Duration{0, 500 * time.Millisecond}},
		{"server emptier than us is ignored", 0, 40, []time.Duration{0, 0}},
		{"nonsense ignored", 5, 0, []time.Duration{0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock()
			b := NewLeakyBucket(40, 2, clock.Now, clock.Sleep)
			b.Observe(tt.used, tt.size)
			var got []time.Duration
			for range 2 {
				before := len(clock.Sleeps())
				if err := b.Wait(context.Background()); err != nil {
					t.Fatal(err)
				}
				var d time.Duration
				if s := clock.Sleeps(); len(s) > before {
					d = s[len(s)-1]
				}
				got = append(got, d)
			}
			// The fake sleep advances the clock, so each wait is counted
			// from the end of the previous one.
			for i := range got {
				if math.Abs(float64(got[i]-tt.wantSleep[i])) > float64(time.Millisecond) {
					t.Errorf("waits = %v, want %v", got, tt.wantSleep)
					break
				}
			}
		})
	}
}

func TestLeakyBucketDeadlineAndCancel(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	b := NewLeakyBucket(1, 1, clock.Now, clock.Sleep)
	if err := b.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithDeadline(context.Background(), clock.Now().Add(100*time.Millisecond))
	defer cancel()
	err := b.Wait(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait = %v, want a deadline error", err)
	}
	if len(clock.Sleeps()) != 0 {
		t.Errorf("slept %v although the wait could not fit", clock.Sleeps())
	}
	if lvl := b.Level(); lvl > 1+1e-9 {
		t.Errorf("a refused wait kept its reservation: level %.2f", lvl)
	}

	// A sleep interrupted by cancellation gives the slot back.
	cctx, ccancel := context.WithCancel(context.Background())
	b2 := NewLeakyBucket(1, 1, clock.Now, func(ctx context.Context, d time.Duration) error { ccancel(); return ctx.Err() })
	_ = b2.Wait(context.Background())
	if err := b2.Wait(cctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait = %v, want context.Canceled", err)
	}
	if lvl := b2.Level(); lvl > 1+1e-9 {
		t.Errorf("a cancelled wait kept its reservation: level %.2f", lvl)
	}
	if err := b2.Wait(cctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait on a done context = %v", err)
	}

	// Defaults for nonsense sizes.
	d := NewLeakyBucket(0, -1, nil, nil)
	if d.size != DefaultBucketSize || d.rate != DefaultLeakRate {
		t.Errorf("defaults = %v/%v", d.size, d.rate)
	}
}

// countingLimiter records calls and feedback; it stands for a shared
// (Redis) limiter plugged in with WithLimiter.
type countingLimiter struct {
	waits    atomic.Int32
	mu       sync.Mutex
	observed []RateLimit
}

func (l *countingLimiter) Wait(ctx context.Context) error { l.waits.Add(1); return ctx.Err() }

func (l *countingLimiter) Observe(used, size int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.observed = append(l.observed, RateLimit{used, size})
}

func TestClientUsesItsLimiter(t *testing.T) {
	t.Parallel()
	rec := &recorder{answers: []answer{
		{status: 429},
		{status: 503},
		{body: `{"customer":{"id":1}}`, header: map[string]string{HeaderLimit: "12/40"}},
	}}
	srv := MustServer(t, rec)
	l := &countingLimiter{}
	c := MustClient(t, srv, nil, WithLimiter(l))
	if _, _, err := c.Customers.Get(context.Background(), 1, nil); err != nil {
		t.Fatal(err)
	}
	if n := l.waits.Load(); n != 3 {
		t.Errorf("limiter waited %d times, want once per attempt (3)", n)
	}
	// A 429 without the header reports a full bucket; a 503 without it
	// reports nothing.
	if diff := cmp.Diff([]RateLimit{{1, 1}, {12, 40}}, l.observed); diff != "" {
		t.Errorf("observations (-want +got):\n%s", diff)
	}
	if c.Limiter() != Limiter(l) {
		t.Error("Limiter() is not the one given")
	}

	// WithRateLimit sizes the default bucket.
	c = MustClient(t, srv, nil, WithRateLimit(80, 4))
	b, ok := c.Limiter().(*LeakyBucket)
	if !ok || b.size != 80 || b.rate != 4 {
		t.Errorf("limiter = %#v, want an 80/4 bucket", c.Limiter())
	}
}

// TestLimitHeaderSlowsTheClient shows the feedback end to end: another
// client has filled the token's bucket, and this one waits instead of
// collecting 429s.
func TestLimitHeaderSlowsTheClient(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	bs := &bucketServer{clock: clock, size: 40, rate: 2}
	bs.level, bs.last = 38, clock.Now() // someone else used 38
	srv := MustServer(t, bs)
	c := MustClient(t, srv, clock, WithMaxRetries(0))
	for i := 0; i < 30; i++ {
		if _, _, err := c.Customers.Get(context.Background(), 1, nil); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if bs.limited != 0 {
		t.Errorf("server answered %d 429s", bs.limited)
	}
	if len(clock.Sleeps()) < 25 {
		t.Errorf("the client slept %d times; it should have paced itself", len(clock.Sleeps()))
	}
}
