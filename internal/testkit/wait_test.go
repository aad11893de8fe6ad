package testkit

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestWaitFor(t *testing.T) {
	t.Parallel()
	t.Run("a condition that holds is checked once", func(t *testing.T) {
		t.Parallel()
		calls := 0
		r := runTB(func(tb testing.TB) { WaitFor(tb, "nothing", func() bool { calls++; return true }) })
		if r.fatal != "" || calls != 1 {
			t.Errorf("fatal %q after %d calls; want no failure after 1", r.fatal, calls)
		}
	})
	t.Run("polls until the condition holds", func(t *testing.T) {
		t.Parallel()
		calls := 0
		r := runTB(func(tb testing.TB) { WaitFor(tb, "the third call", func() bool { calls++; return calls == 3 }) })
		if r.fatal != "" || calls != 3 {
			t.Errorf("fatal %q after %d calls; want no failure after 3", r.fatal, calls)
		}
	})
	t.Run("sees what another goroutine does", func(t *testing.T) {
		t.Parallel()
		var done atomic.Bool
		release := make(chan struct{})
		go func() {
			<-release
			done.Store(true)
		}()
		first := true
		r := runTB(func(tb testing.TB) {
			WaitFor(tb, "the other goroutine", func() bool {
				if first {
					first = false
					close(release)
				}
				return done.Load()
			})
		})
		if r.fatal != "" || !done.Load() {
			t.Errorf("fatal %q, done %v; want the other goroutine's store seen", r.fatal, done.Load())
		}
	})
	t.Run("fails the test at the deadline, naming what it waited for", func(t *testing.T) {
		t.Parallel()
		calls := 0
		after := false
		start := time.Now()
		r := runTB(func(tb testing.TB) {
			waitFor(tb, "the impossible", func() bool { calls++; return false }, 20*time.Millisecond, time.Millisecond)
			after = true
		})
		if !strings.Contains(r.fatal, "timed out after 20ms waiting for the impossible") || after {
			t.Errorf("fatal %q, returned %v; want a fatal timeout naming what", r.fatal, after)
		}
		if elapsed := time.Since(start); elapsed < 20*time.Millisecond || calls < 2 {
			t.Errorf("gave up after %s and %d calls; want at least the timeout and more than one call", elapsed, calls)
		}
	})
	t.Run("the condition may fail the test itself", func(t *testing.T) {
		t.Parallel()
		calls := 0
		r := runTB(func(tb testing.TB) {
			WaitFor(tb, "a state", func() bool {
				calls++
				if calls == 2 {
					tb.Fatal("a state that cannot turn into the awaited one")
				}
				return false
			})
		})
		if r.fatal != "a state that cannot turn into the awaited one" || calls != 2 {
			t.Errorf("fatal %q after %d calls; want the condition's own failure after 2", r.fatal, calls)
		}
	})
}
