package server

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// switchableFailures is a shared counter that fails while down is set,
// as Redis does during an outage, and counts in memory otherwise.
type switchableFailures struct {
	*memoryFailures
	down atomic.Bool
}

func (f *switchableFailures) Attempt(ctx context.Context, key string, max int, now time.Time) (bool, error) {
	if f.down.Load() {
		return false, errCounterDown
	}
	return f.memoryFailures.Attempt(ctx, key, max, now)
}

func (f *switchableFailures) Release(ctx context.Context, key string, now time.Time) error {
	if f.down.Load() {
		return errCounterDown
	}
	return f.memoryFailures.Release(ctx, key, now)
}

func (f *switchableFailures) Reset(ctx context.Context, key string) error {
	if f.down.Load() {
		return errCounterDown
	}
	return f.memoryFailures.Reset(ctx, key)
}

// TestSharedCounterOutageLoggedOnce: while the shared sign-in counter
// fails, sign-ins (each making several counter calls) log one warning for
// the outage, not one per call; one line says when it answers again, and
// the next outage is logged again.
func TestSharedCounterOutageLoggedOnce(t *testing.T) {
	t.Parallel()
	const agent = "agent@example.com"
	users := map[string]string{agent: "agent password"}
	clk := NewClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	shared := &switchableFailures{memoryFailures: newMemoryFailures(SignInWindow)}
	logs := &strings.Builder{} // the sign-ins below run on this goroutine
	_, mux := mustConsole(t, clk, users, func(cfg *Config) {
		cfg.SignInFailures = shared
		cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	})
	signIn := func(pw string, want int) {
		t.Helper()
		if got := signInFrom(t, mux, "192.0.2.1", "", agent, pw); got != want {
			t.Fatalf("sign-in = %d, want %d", got, want)
		}
	}
	const down, back = "shared sign-in limits unavailable", "shared sign-in limits answer again"
	count := func(what string, want int) {
		t.Helper()
		if n := strings.Count(logs.String(), what); n != want {
			t.Errorf("%d lines say %q, want %d:\n%s", n, what, want, logs)
		}
	}

	signIn("wrong", http.StatusUnauthorized)
	count(down, 0)
	shared.down.Store(true)
	for range 3 {
		signIn("wrong", http.StatusUnauthorized)
	}
	signIn(users[agent], http.StatusSeeOther)
	count(down, 1)
	count(back, 0)

	shared.down.Store(false)
	signIn("wrong", http.StatusUnauthorized)
	signIn(users[agent], http.StatusSeeOther)
	count(down, 1)
	count(back, 1)

	shared.down.Store(true)
	signIn("wrong", http.StatusUnauthorized)
	count(down, 2)
}
