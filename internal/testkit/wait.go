package testkit

import (
	"testing"
	"time"
)

const (
	// WaitTimeout is how long WaitFor polls before it fails the test: far
	// longer than anything it waits for takes on a loaded machine, so
	// that only a real hang fails.
	WaitTimeout = 10 * time.Second

	// pollInterval is the time between two checks of WaitFor's condition:
	// short enough to add no noticeable delay to a test, long enough not
	// to take a core from the code under test.
	pollInterval = 2 * time.Millisecond
)

// WaitFor calls cond until it reports true, and fails the test (tb.Fatalf,
// naming what it waited for) when that has not happened within WaitTimeout.
// It is for a state another goroutine or process reaches in its own time;
// a test never sleeps for it instead.
//
// cond runs on the caller's goroutine, so it may itself fail the test with
// tb.Fatal when it sees a state that can never turn into the awaited one.
func WaitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	waitFor(tb, what, cond, WaitTimeout, pollInterval)
}

// waitFor is WaitFor with the timeout and poll interval given, so that
// testkit's own tests can see it time out without waiting WaitTimeout.
func waitFor(tb testing.TB, what string, cond func() bool, timeout, interval time.Duration) {
	tb.Helper()
	if cond() {
		return
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			if cond() {
				return
			}
		case <-deadline.C:
			// One last look: the condition may have come true after the
			// previous tick.
			if cond() {
				return
			}
			tb.Fatalf("timed out after %s waiting for %s", timeout, what)
			return
		}
	}
}
