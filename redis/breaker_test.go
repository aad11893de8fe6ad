package redis

import (
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rechargekit/rechargekit/internal/breaker"
	"github.com/rechargekit/rechargekit/internal/testkit"
)

// newTestClock is a clock the test moves by hand, at a fixed start.
func newTestClock() *testkit.Clock {
	return testkit.NewClock(time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC))
}

// TestBreakerRule checks the rule the Client gives internal/breaker (whose
// own tests cover the state machine), against a Redis that refuses every
// connection, so it needs no server: one failed call takes Redis down for
// DefaultSkipFor, calls inside the interval are skipped without a
// connection attempt, each failed probe doubles the interval up to
// DefaultSkipMax, and the lines say so: one warning when Redis stops
// answering, a debug line per failed probe. The integration tests
// (outage_test.go) bring it up again through a real Redis.
func TestBreakerRule(t *testing.T) {
	t.Parallel()
	clock := newTestClock()
	logs := &logBuffer{}
	// Port 1 on loopback refuses connections at once.
	c, err := New("redis://127.0.0.1:1/0", Options{Now: clock.Now,
		Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if st := c.Status(); st.State != StateUp || !st.Since.Equal(clock.Now()) {
		t.Fatalf("new client: status %+v, want up since now", st)
	}

	if err := c.Ping(t.Context()); !errors.Is(err, ErrUnavailable) || strings.Contains(err.Error(), "skipped") {
		t.Fatalf("first Ping = %v, want ErrUnavailable from a refused connection", err)
	}
	down := clock.Now()
	skipped := func(step string) {
		t.Helper()
		if err := c.Ping(t.Context()); !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "skipped") {
			t.Fatalf("%s: Ping = %v, want it skipped", step, err)
		}
	}
	skipped("right after the failure")
	for _, interval := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 15 * time.Second} {
		clock.Advance(interval - time.Millisecond)
		skipped("1ms before the interval ends")
		clock.Advance(time.Millisecond)
		if err := c.Ping(t.Context()); !errors.Is(err, ErrUnavailable) || strings.Contains(err.Error(), "skipped") {
			t.Fatalf("probe after %v = %v, want it to try Redis and fail", interval, err)
		}
		if st := c.Status(); st.State != StateDown || !st.Since.Equal(down) {
			t.Fatalf("after a failed probe: status %+v, want down since %v", st, down)
		}
	}

	type line struct {
		Level, Msg, Addr string
		RetryIn          string `json:"retry_in"`
		DownFor          string `json:"down_for"`
	}
	var got []line
	for _, raw := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var l line
		if err := json.Unmarshal([]byte(raw), &l); err != nil {
			t.Fatalf("log line %q: %v", raw, err)
		}
		if strings.HasPrefix(l.Msg, "redis does not answer") || l.Msg == "redis still does not answer" {
			got = append(got, l)
		}
	}
	const warn = "redis does not answer: this replica uses its own card cache, Recharge rate budget and sign-in limits until it does"
	want := []line{
		{Level: "WARN", Msg: warn, Addr: "127.0.0.1:1", RetryIn: "1s"},
		{Level: "DEBUG", Msg: "redis still does not answer", Addr: "127.0.0.1:1", RetryIn: "2s", DownFor: "1s"},
		{Level: "DEBUG", Msg: "redis still does not answer", Addr: "127.0.0.1:1", RetryIn: "4s", DownFor: "3s"},
		{Level: "DEBUG", Msg: "redis still does not answer", Addr: "127.0.0.1:1", RetryIn: "8s", DownFor: "7s"},
		{Level: "DEBUG", Msg: "redis still does not answer", Addr: "127.0.0.1:1", RetryIn: "15s", DownFor: "15s"},
		{Level: "DEBUG", Msg: "redis still does not answer", Addr: "127.0.0.1:1", RetryIn: "15s", DownFor: "30s"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("breaker log lines (-want +got):\n%s", diff)
	}
}

// TestStateName maps every breaker state to the name Status reports and
// the metric exports.
func TestStateName(t *testing.T) {
	t.Parallel()
	for st, want := range map[breaker.State]string{
		breaker.Closed: StateUp, breaker.Open: StateDown, breaker.Probing: StateProbing,
	} {
		if got := stateName(st); got != want {
			t.Errorf("stateName(%s) = %q, want %q", st, got, want)
		}
	}
}
