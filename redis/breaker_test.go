package redis

import (
	"errors"
	"fmt"
	"github.com/rechargekit/rechargekit/internal/testkit"
	"slices"
	"testing"
	"time"
)

// newTestClock is a clock the test moves by hand, at a fixed start.
func newTestClock() *testkit.Clock {
	return testkit.NewClock(time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC))
}

// TestBreaker: one failure skips Redis for the first interval; then one
// call at a time probes; each failed probe doubles the interval up to the
// cap; an answer brings Redis back. Outcomes of calls let through before a
// change are ignored, and a probe whose caller gave up passes its turn on.
func TestBreaker(t *testing.T) {
	t.Parallel()
	clock := newTestClock()
	var changes []string
	b := newBreaker(clock.Now, time.Second, 4*time.Second, func(from, to string, err error, skip, downFor time.Duration) {
		changes = append(changes, fmt.Sprintf("%s->%s skip=%v down=%v", from, to, skip, downFor))
	})
	boom := errors.New("connection refused")

	early, ok := b.allow()
	if !ok {
		t.Fatal("a new breaker skips Redis")
	}
	first, _ := b.allow()
	b.failed(first, boom)
	if st, _ := b.status(); st != StateDown {
		t.Fatalf("after a failure, state = %s, want down", st)
	}
	b.succeeded(early) // let through before the failure: says nothing now
	if st, _ := b.status(); st != StateDown {
		t.Fatal("an answer to a call made before the failure brought Redis back")
	}
	clock.Advance(999 * time.Millisecond)
	if _, ok := b.allow(); ok {
		t.Fatal("a call went to Redis inside the skip interval")
	}

	// Each probe fails: 1s, 2s, 4s, then 4s (the cap).
	for i, wait := range []time.Duration{time.Millisecond, 2 * time.Second, 4 * time.Second, 4 * time.Second} {
		clock.Advance(wait - time.Millisecond)
		if _, ok := b.allow(); ok {
			t.Fatalf("probe %d: a call went to Redis %v before the interval ended", i+1, time.Millisecond)
		}
		clock.Advance(time.Millisecond)
		probe, ok := b.allow()
		if !ok || !probe.probe {
			t.Fatalf("probe %d: no probe once the interval ended", i+1)
		}
		if _, ok := b.allow(); ok {
			t.Fatalf("probe %d: a second call went to Redis while one probes", i+1)
		}
		b.failed(probe, boom)
	}

	// A probe whose caller gave up: the next call probes at once.
	clock.Advance(4 * time.Second)
	probe, _ := b.allow()
	b.abandoned(probe)
	probe, ok = b.allow()
	if !ok || !probe.probe {
		t.Fatal("after an abandoned probe, the next call does not probe")
	}
	b.succeeded(probe)
	if st, since := b.status(); st != StateUp || !since.Equal(clock.Now()) {
		t.Fatalf("after an answer, status = %s since %v, want up since now", st, since)
	}
	if _, ok := b.allow(); !ok {
		t.Fatal("Redis is skipped after it answered")
	}

	// Down again: the interval starts from the first one.
	c, _ := b.allow()
	b.failed(c, boom)
	clock.Advance(time.Second)
	if _, ok := b.allow(); !ok {
		t.Fatal("after a new outage, no probe after the first interval")
	}

	want := []string{
		"up->down skip=1s down=0s",
		"probing->down skip=2s down=1s",
		"probing->down skip=4s down=3s",
		"probing->down skip=4s down=7s",
		"probing->down skip=4s down=11s",
		"probing->up skip=0s down=15s",
		"up->down skip=1s down=0s",
	}
	if !slices.Equal(changes, want) {
		t.Errorf("changes:\n%q\nwant\n%q", changes, want)
	}
}
