// Package signintest checks that a server.SignInFailures counts as the
// console expects. The in-memory counter (package server) and the shared
// one (package redis) both run Run.
package signintest

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Counter is server.SignInFailures, restated so that this package does
// not import server (server's own tests import this package).
type Counter interface {
	Attempt(ctx context.Context, key string, max int, now time.Time) (bool, error)
	Release(ctx context.Context, key string, now time.Time) error
	Reset(ctx context.Context, key string) error
}

// Run checks a counter made by newCounter with the given window; each
// check gets a fresh counter.
func Run(t *testing.T, newCounter func(t *testing.T, window time.Duration) Counter) {
	const window = 15 * time.Minute
	start := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	ctx := context.Background()
	// attempts makes n attempts of key at now and reports how many were
	// counted.
	attempts := func(t *testing.T, c Counter, key string, max, n int, now time.Time) int {
		t.Helper()
		got := 0
		for range n {
			ok, err := c.Attempt(ctx, key, max, now)
			if err != nil {
				t.Fatalf("Attempt: %v", err)
			}
			if ok {
				got++
			}
		}
		return got
	}
	must := func(t *testing.T, what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}

	t.Run("up to max per key", func(t *testing.T) {
		c := newCounter(t, window)
		if got := attempts(t, c, "k", 3, 5, start); got != 3 {
			t.Errorf("5 attempts with max 3: %d counted, want 3", got)
		}
		if got := attempts(t, c, "other", 3, 1, start.Add(time.Minute)); got != 1 {
			t.Errorf("another key after k's limit: %d counted, want 1", got)
		}
		if got := attempts(t, c, "zero", 0, 1, start); got != 0 {
			t.Errorf("max 0: %d counted, want 0", got)
		}
	})

	t.Run("the window opens at the first attempt", func(t *testing.T) {
		c := newCounter(t, window)
		attempts(t, c, "k", 2, 1, start)
		attempts(t, c, "k", 2, 1, start.Add(window/2))
		if got := attempts(t, c, "k", 2, 1, start.Add(window-time.Millisecond)); got != 0 {
			t.Errorf("just inside the window, at the limit: %d counted, want 0", got)
		}
		if got := attempts(t, c, "k", 2, 3, start.Add(window)); got != 2 {
			t.Errorf("when the window ends (it does not slide): %d of 3 counted, want 2 in a new window", got)
		}
	})

	t.Run("a clock behind the window's start counts inside it", func(t *testing.T) {
		// Replicas' clocks differ a little; a lagging one must not reopen
		// the window.
		c := newCounter(t, window)
		attempts(t, c, "k", 2, 1, start)
		if got := attempts(t, c, "k", 2, 2, start.Add(-2*time.Second)); got != 1 {
			t.Errorf("a lagging clock: %d of 2 counted, want 1 (the window's last)", got)
		}
	})

	t.Run("release gives one back, never below zero", func(t *testing.T) {
		c := newCounter(t, window)
		attempts(t, c, "k", 2, 2, start)
		must(t, "Release", c.Release(ctx, "k", start))
		if got := attempts(t, c, "k", 2, 2, start); got != 1 {
			t.Errorf("after one release: %d of 2 counted, want 1", got)
		}
		c2 := newCounter(t, window)
		attempts(t, c2, "k", 2, 1, start)
		for range 3 {
			must(t, "Release", c2.Release(ctx, "k", start))
		}
		if got := attempts(t, c2, "k", 2, 3, start); got != 2 {
			t.Errorf("after releasing more than was counted: %d of 3 counted, want 2", got)
		}
		must(t, "Release of an unknown key", c2.Release(ctx, "never", start))
		// A release after the window does not reach into the next one.
		c3 := newCounter(t, window)
		attempts(t, c3, "k", 1, 1, start)
		must(t, "Release", c3.Release(ctx, "k", start.Add(window)))
		if got := attempts(t, c3, "k", 1, 2, start.Add(window)); got != 1 {
			t.Errorf("after a release past the window: %d of 2 counted, want 1", got)
		}
	})

	t.Run("reset", func(t *testing.T) {
		c := newCounter(t, window)
		attempts(t, c, "k", 2, 2, start)
		must(t, "Reset", c.Reset(ctx, "k"))
		if got := attempts(t, c, "k", 2, 3, start); got != 2 {
			t.Errorf("after Reset: %d of 3 counted, want 2", got)
		}
		must(t, "Reset of an unknown key", c.Reset(ctx, "never"))
	})

	t.Run("any key", func(t *testing.T) {
		c := newCounter(t, window)
		keys := []string{"pair:192.0.2.1\x00agent@example.com", "account:ÄGENT@例え.jp", strings.Repeat("x", 4000), "", "a:b:c*?[]"}
		for i, k := range keys {
			attempts(t, c, k, len(keys), i+1, start)
		}
		for i, k := range keys {
			if got := attempts(t, c, k, len(keys), len(keys), start); got != len(keys)-(i+1) {
				t.Errorf("key %.20q: %d more counted, want %d", k, got, len(keys)-(i+1))
			}
		}
	})

	t.Run("parallel attempts stop exactly at max", func(t *testing.T) {
		c := newCounter(t, window)
		var counted atomic.Int32
		var wg sync.WaitGroup
		for range 40 {
			wg.Go(func() {
				ok, err := c.Attempt(ctx, "k", 25, start)
				if err != nil {
					t.Errorf("Attempt: %v", err)
				}
				if ok {
					counted.Add(1)
				}
			})
		}
		wg.Wait()
		if n := counted.Load(); n != 25 {
			t.Errorf("40 parallel attempts with max 25: %d counted, want 25", n)
		}
	})
}
