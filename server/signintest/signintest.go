// Package signintest checks that a server.SignInFailures counts as the
// console expects. The in-memory counter (package server) and the shared
// one (package redis) both run Run.
package signintest

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"
)

// Counter is server.SignInFailures, restated so that this package does
// not import server (server's own tests import this package).
type Counter interface {
	Failures(ctx context.Context, key string, now time.Time) (int, error)
	Fail(ctx context.Context, key string, now time.Time) error
	Reset(ctx context.Context, key string) error
}

// Run checks a counter made by newCounter with the given window; each
// check gets a fresh counter.
func Run(t *testing.T, newCounter func(t *testing.T, window time.Duration) Counter) {
	const window = 15 * time.Minute
	start := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	ctx := context.Background()
	must := func(t *testing.T, what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	count := func(t *testing.T, c Counter, key string, now time.Time) int {
		t.Helper()
		n, err := c.Failures(ctx, key, now)
		must(t, "Failures", err)
		return n
	}

	t.Run("per key", func(t *testing.T) {
		c := newCounter(t, window)
		if n := count(t, c, "k", start); n != 0 {
			t.Errorf("an unknown key has %d failures, want 0", n)
		}
		for range 3 {
			must(t, "Fail", c.Fail(ctx, "k", start))
		}
		must(t, "Fail", c.Fail(ctx, "other", start))
		if n := count(t, c, "k", start.Add(time.Minute)); n != 3 {
			t.Errorf("k = %d, want 3", n)
		}
		if n := count(t, c, "other", start); n != 1 {
			t.Errorf("other = %d, want 1", n)
		}
	})

	t.Run("the window opens at the first failure", func(t *testing.T) {
		c := newCounter(t, window)
		must(t, "Fail", c.Fail(ctx, "k", start))
		must(t, "Fail", c.Fail(ctx, "k", start.Add(window/2)))
		if n := count(t, c, "k", start.Add(window-time.Millisecond)); n != 2 {
			t.Errorf("just inside the window = %d, want 2", n)
		}
		if n := count(t, c, "k", start.Add(window)); n != 0 {
			t.Errorf("when the window ends = %d, want 0 (the window does not slide)", n)
		}
		must(t, "Fail", c.Fail(ctx, "k", start.Add(window+time.Minute)))
		if n := count(t, c, "k", start.Add(window+time.Minute)); n != 1 {
			t.Errorf("a failure after the window = %d, want a new window with 1", n)
		}
	})

	t.Run("a clock behind the window's start counts inside it", func(t *testing.T) {
		// Replicas' clocks differ a little; a lagging one must not reopen
		// the window.
		c := newCounter(t, window)
		must(t, "Fail", c.Fail(ctx, "k", start))
		must(t, "Fail", c.Fail(ctx, "k", start.Add(-2*time.Second)))
		if n := count(t, c, "k", start.Add(-time.Second)); n != 2 {
			t.Errorf("read by a lagging clock = %d, want 2", n)
		}
	})

	t.Run("reset", func(t *testing.T) {
		c := newCounter(t, window)
		must(t, "Fail", c.Fail(ctx, "k", start))
		must(t, "Reset", c.Reset(ctx, "k"))
		if n := count(t, c, "k", start); n != 0 {
			t.Errorf("after Reset = %d, want 0", n)
		}
		must(t, "Reset of an unknown key", c.Reset(ctx, "never"))
	})

	t.Run("any key", func(t *testing.T) {
		c := newCounter(t, window)
		keys := []string{"pair:192.0.2.1\x00agent@example.com", "account:ÄGENT@例え.jp", strings.Repeat("x", 4000), "", "a:b:c*?[]"}
		for i, k := range keys {
			for range i + 1 {
				must(t, "Fail", c.Fail(ctx, k, start))
			}
		}
		for i, k := range keys {
			if n := count(t, c, k, start); n != i+1 {
				t.Errorf("key %.20q = %d, want %d", k, n, i+1)
			}
		}
	})

	t.Run("concurrent failures all count", func(t *testing.T) {
		c := newCounter(t, window)
		var wg sync.WaitGroup
		for range 40 {
			wg.Go(func() {
				if err := c.Fail(ctx, "k", start); err != nil {
					t.Errorf("Fail: %v", err)
				}
			})
		}
		wg.Wait()
		if n := count(t, c, "k", start); n != 40 {
			t.Errorf("after 40 concurrent failures = %d, want 40", n)
		}
	})
}
