package breaker_test

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rechargekit/rechargekit/internal/breaker"
	"github.com/rechargekit/rechargekit/internal/testkit"
)

var (
	start = time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	boom  = errors.New("connection refused")
)

// recorder records a breaker's changes as short lines.
type recorder struct {
	mu      sync.Mutex
	changes []string
}

func (r *recorder) onChange(c breaker.Change) {
	r.mu.Lock()
	defer r.mu.Unlock()
	line := fmt.Sprintf("%s->%s interval=%v down=%v", c.From, c.To, c.Interval, c.Down)
	if c.Err != nil {
		line += " err=" + c.Err.Error()
	}
	r.changes = append(r.changes, line)
}

// check fails the test when the changes recorded are not want.
func (r *recorder) check(tb testing.TB, want ...string) {
	tb.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if diff := cmp.Diff(want, r.changes); diff != "" {
		tb.Errorf("changes (-want +got):\n%s", diff)
	}
}

// newRecorded returns a breaker with settings s on a clock of the test's
// own, and the recorder of its changes.
func newRecorded(s breaker.Settings) (*breaker.Breaker, *testkit.Clock, *recorder) {
	clock, rec := testkit.NewClock(start), &recorder{}
	s.Now, s.OnChange = clock.Now, rec.onChange
	return breaker.New(s), clock, rec
}

// mustAllow asks b for a call and fails the test when it is refused, or
// when it is (or is not) the probe against want.
func mustAllow(tb testing.TB, b *breaker.Breaker, wantProbe bool, step string) breaker.Ticket {
	tb.Helper()
	t, ok := b.Allow()
	if !ok {
		tb.Fatalf("%s: call refused", step)
	}
	if t.Probe() != wantProbe {
		tb.Fatalf("%s: probe = %v, want %v", step, t.Probe(), wantProbe)
	}
	return t
}

// mustRefuse fails the test when b lets a call through.
func mustRefuse(tb testing.TB, b *breaker.Breaker, step string) {
	tb.Helper()
	if _, ok := b.Allow(); ok {
		tb.Fatalf("%s: a call was let through", step)
	}
}

// mustState fails the test when b is not in state want.
func mustState(tb testing.TB, b *breaker.Breaker, want breaker.State, step string) time.Time {
	tb.Helper()
	st, since := b.State()
	if st != want {
		tb.Fatalf("%s: state %s, want %s", step, st, want)
	}
	return since
}

// TestBreaker: one failure (the threshold of one) opens it for the first
// interval; then one call at a time probes; each failed probe doubles the
// interval up to the cap; an answer closes it. Outcomes of calls let
// through before a change are ignored, and a probe whose caller gave up
// passes its turn on without a change.
func TestBreaker(t *testing.T) {
	t.Parallel()
	b, clock, rec := newRecorded(breaker.Settings{First: time.Second, Max: 4 * time.Second})

	if since := mustState(t, b, breaker.Closed, "new"); !since.Equal(start) {
		t.Fatalf("new: closed since %v, want %v", since, start)
	}
	early := mustAllow(t, b, false, "new")
	first := mustAllow(t, b, false, "new")
	b.Failure(first, boom)
	mustState(t, b, breaker.Open, "after a failure")
	b.Success(early) // let through before the failure: says nothing now
	mustState(t, b, breaker.Open, "after an answer to a call made before the failure")
	clock.Advance(999 * time.Millisecond)
	mustRefuse(t, b, "inside the open interval")

	// Each probe fails: 1s, 2s, 4s, then 4s (the cap).
	for i, wait := range []time.Duration{time.Millisecond, 2 * time.Second, 4 * time.Second, 4 * time.Second} {
		step := fmt.Sprintf("probe %d", i+1)
		clock.Advance(wait - time.Millisecond)
		mustRefuse(t, b, step+": 1ms before the interval ends")
		clock.Advance(time.Millisecond)
		probe := mustAllow(t, b, true, step)
		mustState(t, b, breaker.Probing, step)
		mustRefuse(t, b, step+": a second call while one probes")
		b.Failure(probe, boom)
	}

	// A probe whose caller gave up: the next call probes at once.
	clock.Advance(4 * time.Second)
	probe := mustAllow(t, b, true, "probe 5")
	b.Abandon(probe)
	mustState(t, b, breaker.Open, "after an abandoned probe")
	b.Abandon(probe) // twice: still nothing more
	probe = mustAllow(t, b, true, "after an abandoned probe")
	b.Success(probe)
	if since := mustState(t, b, breaker.Closed, "after an answer"); !since.Equal(clock.Now()) {
		t.Fatalf("after an answer: closed since %v, want now", since)
	}
	b.Failure(probe, boom) // the probe's outcome again: already counted
	mustState(t, b, breaker.Closed, "after a stale failure")
	mustAllow(t, b, false, "closed again")

	// Open again: the interval starts from the first one.
	b.Failure(mustAllow(t, b, false, "closed"), boom)
	clock.Advance(time.Second)
	mustAllow(t, b, true, "after a new outage's first interval")

	rec.check(t,
		"closed->open interval=1s down=0s err=connection refused",
		"probing->open interval=2s down=1s err=connection refused",
		"probing->open interval=4s down=3s err=connection refused",
		"probing->open interval=4s down=7s err=connection refused",
		"probing->open interval=4s down=11s err=connection refused",
		"probing->closed interval=0s down=15s",
		"closed->open interval=1s down=0s err=connection refused",
	)
}

// TestBreakerThreshold: with a threshold of three, only three failures in
// a row open it; an answer in between starts the run again; failures of
// calls let through before it opened count no more, and its state keeps
// the time it first opened through failed probes.
func TestBreakerThreshold(t *testing.T) {
	t.Parallel()
	b, clock, rec := newRecorded(breaker.Settings{Failures: 3, First: time.Second, Max: 30 * time.Second})

	calls := make([]breaker.Ticket, 6)
	for i := range calls {
		calls[i] = mustAllow(t, b, false, "closed")
	}
	b.Failure(calls[0], boom)
	b.Failure(calls[1], boom)
	b.Success(calls[2])
	b.Failure(calls[3], boom)
	b.Failure(calls[4], boom)
	mustState(t, b, breaker.Closed, "after two failures since an answer")
	clock.Advance(time.Minute)
	b.Failure(calls[5], boom)
	opened := mustState(t, b, breaker.Open, "after three failures in a row")
	if !opened.Equal(clock.Now()) {
		t.Fatalf("opened since %v, want %v", opened, clock.Now())
	}

	// A failed probe opens it again at once: the threshold is for closed.
	clock.Advance(time.Second)
	b.Failure(mustAllow(t, b, true, "probe"), boom)
	if since := mustState(t, b, breaker.Open, "after a failed probe"); !since.Equal(opened) {
		t.Fatalf("after a failed probe: open since %v, want %v (first opened)", since, opened)
	}

	// After it closes, a run starts from zero again.
	clock.Advance(2 * time.Second)
	b.Success(mustAllow(t, b, true, "probe"))
	b.Failure(mustAllow(t, b, false, "closed"), boom)
	b.Failure(mustAllow(t, b, false, "closed"), boom)
	mustState(t, b, breaker.Closed, "two failures after closing")

	rec.check(t,
		"closed->open interval=1s down=0s err=connection refused",
		"probing->open interval=2s down=1s err=connection refused",
		"probing->closed interval=0s down=3s",
	)
}

// TestBreakerAllowClosed: a call that must not probe is let through only
// while closed, and never takes the probe's turn.
func TestBreakerAllowClosed(t *testing.T) {
	t.Parallel()
	clock := testkit.NewClock(start)
	b := breaker.New(breaker.Settings{First: time.Second, Now: clock.Now})

	tk, ok := b.AllowClosed()
	if !ok || tk.Probe() {
		t.Fatalf("closed: AllowClosed = %v, %v; want a call that is not a probe", tk.Probe(), ok)
	}
	b.Failure(tk, boom)
	clock.Advance(time.Second)
	if _, ok := b.AllowClosed(); ok {
		t.Fatal("open with its interval over: AllowClosed let a call through")
	}
	mustState(t, b, breaker.Open, "after AllowClosed was refused")
	probe := mustAllow(t, b, true, "the interval over")
	if _, ok := b.AllowClosed(); ok {
		t.Fatal("probing: AllowClosed let a call through")
	}
	b.Success(probe)
	if _, ok := b.AllowClosed(); !ok {
		t.Fatal("closed again: AllowClosed refused")
	}
}

// TestBreakerDefaults: settings that are not positive take their
// defaults: one failure opens it for one second, and the cap is never
// below the first interval.
func TestBreakerDefaults(t *testing.T) {
	t.Parallel()
	b, clock, rec := newRecorded(breaker.Settings{Max: time.Millisecond})
	b.Failure(mustAllow(t, b, false, "new"), boom)
	clock.Advance(time.Second - time.Nanosecond)
	mustRefuse(t, b, "before one second")
	clock.Advance(time.Nanosecond)
	b.Failure(mustAllow(t, b, true, "after one second"), boom)
	rec.check(t,
		"closed->open interval=1s down=0s err=connection refused",
		"probing->open interval=1s down=1s err=connection refused",
	)

	// Without a clock or a callback it runs on time.Now.
	b = breaker.New(breaker.Settings{})
	b.Failure(mustAllow(t, b, false, "time.Now"), boom)
	mustState(t, b, breaker.Open, "time.Now")
}

// TestBreakerNil: a nil breaker lets everything through and stays closed.
func TestBreakerNil(t *testing.T) {
	t.Parallel()
	var b *breaker.Breaker
	for range 3 {
		tk := mustAllow(t, b, false, "nil")
		b.Failure(tk, boom)
		b.Abandon(tk)
	}
	if _, ok := b.AllowClosed(); !ok {
		t.Fatal("nil: AllowClosed refused")
	}
	b.Success(breaker.Ticket{})
	if st, since := b.State(); st != breaker.Closed || !since.IsZero() {
		t.Fatalf("nil: State = %s since %v, want closed since the zero time", st, since)
	}
}

// TestBreakerOneProbe lets many goroutines ask an open breaker whose
// interval is over at once: exactly one of them probes. Run it with -race.
func TestBreakerOneProbe(t *testing.T) {
	t.Parallel()
	clock := testkit.NewClock(start)
	var (
		changes atomic.Int32
		b       *breaker.Breaker
	)
	b = breaker.New(breaker.Settings{First: time.Second, Now: clock.Now, OnChange: func(c breaker.Change) {
		changes.Add(1)
		// The callback runs without the lock held, so it may read the
		// state (holding the lock, this would deadlock).
		if st, _ := b.State(); st != c.To {
			t.Errorf("in OnChange to %s: state %s", c.To, st)
		}
	}})
	b.Failure(mustAllow(t, b, false, "new"), boom)
	clock.Advance(time.Second)

	var (
		wg     sync.WaitGroup
		probes atomic.Int32
		probe  atomic.Pointer[breaker.Ticket]
	)
	for range 16 {
		wg.Go(func() {
			if tk, ok := b.Allow(); ok {
				probes.Add(1)
				probe.Store(&tk)
			}
		})
	}
	wg.Wait()
	if n := probes.Load(); n != 1 {
		t.Fatalf("%d calls let through, want one probe", n)
	}
	b.Success(*probe.Load())
	mustState(t, b, breaker.Closed, "after the probe answered")
	if n := changes.Load(); n != 2 {
		t.Errorf("%d changes, want 2 (opened, closed)", n)
	}
}

// TestStateString names every state, for logs and metric labels.
func TestStateString(t *testing.T) {
	t.Parallel()
	for st, want := range map[breaker.State]string{
		breaker.Closed: "closed", breaker.Open: "open", breaker.Probing: "probing", breaker.State(9): "unknown",
	} {
		if got := st.String(); got != want {
			t.Errorf("State(%d).String() = %q, want %q", st, got, want)
		}
	}
}
