package recharge_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/internal/testkit"
	"github.com/rechargekit/rechargekit/recharge"
	"github.com/rechargekit/rechargekit/recharge/rechargetest"
)

// lockedBuffer is a log sink safe for the client's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestBreaker drives a client with a breaker (3 failures, 1 s doubling to
// 4 s) through an outage the simulator injects, on a fake clock: it opens
// after the third failed attempt, fails at once without a request while
// open, probes once per interval, grows the interval to its cap, lets one
// probe through at a time, refuses a write before sending it, and closes
// on the first answer.
func TestBreaker(t *testing.T) {
	t.Parallel()
	srv := rechargetest.NewServer(t, rechargetest.Config{})
	srv.Load(rechargetest.DemoSeed())
	clock := testkit.NewClock(time.Now())
	logs := &lockedBuffer{}
	c := srv.Client(recharge.WithClock(clock.Now, clock.Sleep), recharge.WithMaxRetries(4),
		recharge.WithBreaker(3, time.Second, 4*time.Second),
		recharge.WithLogger(slog.New(slog.NewTextHandler(logs, nil))))
	get := func(ctx context.Context) error {
		_, _, err := c.Customers.Get(ctx, rechargetest.DemoAlexRiveraID, nil)
		return err
	}
	requests := func() int { return srv.Stats().Requests }
	// sent runs get and returns how many requests reached Recharge, and
	// its error.
	sent := func() (int, error) {
		before := requests()
		err := get(context.Background())
		return requests() - before, err
	}
	wantRefused := func(step string) {
		t.Helper()
		n, err := sent()
		if n != 0 || !errors.Is(err, recharge.ErrBreakerOpen) {
			t.Fatalf("%s: %d requests, err = %v; want none sent and ErrBreakerOpen", step, n, err)
		}
	}
	wantProbe := func(step string, wantErr bool) {
		t.Helper()
		n, err := sent()
		if n != 1 || (err != nil) != wantErr {
			t.Fatalf("%s: %d requests, err = %v; want one probe (error %v)", step, n, err, wantErr)
		}
	}

	if n, err := sent(); n != 1 || err != nil {
		t.Fatalf("healthy: %d requests, err = %v", n, err)
	}
	if h := c.Health(); h.Breaker != recharge.BreakerClosed {
		t.Fatalf("healthy: breaker %q", h.Breaker)
	}

	// Answers that are not failures never open it: 4xx and 429.
	for _, status := range []int{404, 422, 429} {
		srv.SetFaults(rechargetest.Faults{Status: status, Count: 4})
		_ = get(context.Background())
		if h := c.Health(); h.Breaker != recharge.BreakerClosed {
			t.Fatalf("after %d answers: breaker %q, want closed", status, h.Breaker)
		}
	}
	srv.SetFaults(rechargetest.Faults{})

	// The outage: the call's third failed attempt opens it, and its
	// retries stop there instead of running on to the deadline.
	srv.SetFaults(rechargetest.Faults{Status: 503})
	n, err := sent()
	if n != 3 || !errors.Is(err, recharge.ErrBreakerOpen) || !strings.Contains(err.Error(), "503") {
		t.Fatalf("outage: %d requests, err = %v; want 3 then ErrBreakerOpen with the last 503", n, err)
	}
	opened := clock.Now()
	h := c.Health()
	if h.Breaker != recharge.BreakerOpen || !h.BreakerSince.Equal(opened) || !strings.Contains(h.Message(), "not asking") {
		t.Fatalf("open: health %+v (%s)", h, h.Message())
	}
	wantRefused("open")
	wantRefused("still open")

	// A write is refused before it is sent.
	before := requests()
	_, _, err = c.Subscriptions.Cancel(context.Background(), 1, &recharge.SubscriptionCancelRequest{CancellationReason: "x"})
	if requests() != before || !errors.Is(err, recharge.ErrBreakerOpen) {
		t.Fatalf("write while open: %d requests, err = %v", requests()-before, err)
	}

	// The interval grows 1 s, 2 s, 4 s, 4 s: before its end calls are
	// refused, at its end one probe goes, fails and reopens it.
	for i, interval := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second} {
		clock.Advance(interval - time.Millisecond)
		wantRefused("before the interval ends")
		clock.Advance(time.Millisecond)
		wantProbe("probe "+string(rune('1'+i)), true)
		wantRefused("after a failed probe")
	}
	if h := c.Health(); h.Breaker != recharge.BreakerOpen || !h.BreakerSince.Equal(opened) {
		t.Fatalf("after failed probes: health %+v, want open since %v", h, opened)
	}

	// One probe at a time: while a probe hangs, other calls are refused;
	// a probe whose caller gives up passes its turn on.
	clock.Advance(4 * time.Second)
	srv.SetFaults(rechargetest.Faults{Delay: time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	probeDone := make(chan error, 1)
	go func() { probeDone <- get(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for srv.Stats().InFlight == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the probe never reached the simulator")
		}
		time.Sleep(time.Millisecond) // polling the simulator, bounded by the deadline
	}
	if h := c.Health(); h.Breaker != recharge.BreakerProbing {
		t.Fatalf("during the probe: breaker %q", h.Breaker)
	}
	wantRefused("during the probe")
	cancel()
	if err := <-probeDone; err == nil {
		t.Fatal("cancelled probe: no error")
	}
	// The simulator counts the abandoned request when it ends its delay.
	for srv.Stats().InFlight != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the abandoned probe never ended at the simulator")
		}
		time.Sleep(time.Millisecond) // polling the simulator, bounded by the deadline
	}

	// Recharge is back: the next call probes, gets an answer and closes it.
	srv.SetFaults(rechargetest.Faults{})
	wantProbe("recovery probe", false)
	if h := c.Health(); h.Breaker != recharge.BreakerClosed || h.State != recharge.HealthOK {
		t.Fatalf("recovered: health %+v", h)
	}
	if n, err := sent(); n != 1 || err != nil {
		t.Fatalf("closed: %d requests, err = %v", n, err)
	}
	out := logs.String()
	if strings.Count(out, "breaker open") != 1 || strings.Count(out, "breaker closed") != 1 {
		t.Errorf("want one line when it opened and one when it closed:\n%s", out)
	}
	if strings.Contains(out, rechargetest.DefaultToken) {
		t.Error("the log holds the token")
	}
}

// TestBreakerSourceError checks the answer people see while the breaker
// is open: EUPSTREAM, saying Recharge is failing and not being asked.
func TestBreakerSourceError(t *testing.T) {
	t.Parallel()
	srv := rechargetest.NewServer(t, rechargetest.Config{})
	srv.Load(rechargetest.DemoSeed())
	clock := testkit.NewClock(time.Now())
	c := srv.Client(recharge.WithClock(clock.Now, clock.Sleep), recharge.WithBreaker(1, time.Second, time.Second))
	src := &recharge.Source{Client: c}
	srv.SetFaults(rechargetest.Faults{Status: 502})
	_, _ = src.Customer(context.Background(), rechargetest.DemoAlexRiveraID)
	before := srv.Stats().Requests
	_, err := src.Customer(context.Background(), rechargetest.DemoAlexRiveraID)
	if rechargekit.ErrorCode(err) != rechargekit.EUPSTREAM || !strings.Contains(rechargekit.ErrorMessage(err), "not asking it") ||
		srv.Stats().Requests != before {
		t.Fatalf("err = %v (%s), %d requests; want EUPSTREAM at once", err, rechargekit.ErrorMessage(err), srv.Stats().Requests-before)
	}
}

// TestBreakerProbeIsBounded checks that a probe into a hung Recharge gives
// up after BreakerProbeTimeout rather than the caller's deadline, and
// reopens the breaker.
func TestBreakerProbeIsBounded(t *testing.T) {
	t.Parallel()
	srv := rechargetest.NewServer(t, rechargetest.Config{})
	srv.Load(rechargetest.DemoSeed())
	clock := testkit.NewClock(time.Now())
	c := srv.Client(recharge.WithClock(clock.Now, clock.Sleep), recharge.WithBreaker(1, time.Second, time.Second))
	srv.SetFaults(rechargetest.Faults{Status: 503})
	_, _, _ = c.Customers.Get(context.Background(), rechargetest.DemoAlexRiveraID, nil)
	clock.Advance(time.Second)
	srv.SetFaults(rechargetest.Faults{Delay: time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	_, _, err := c.Customers.Get(ctx, rechargetest.DemoAlexRiveraID, nil)
	// Generous: the point is that the caller's minute was not waited out.
	if took := time.Since(start); err == nil || took > 20*time.Second {
		t.Fatalf("probe into a hung Recharge: %v after %v", err, took)
	}
	if h := c.Health(); h.Breaker != recharge.BreakerOpen || h.State != recharge.HealthTimeout {
		t.Errorf("after the probe: %+v, want open on a timeout", h)
	}
}
