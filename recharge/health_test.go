package recharge_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rechargekit/rechargekit/internal/testkit"
	"github.com/rechargekit/rechargekit/metrics/metricstest"
	"github.com/rechargekit/rechargekit/recharge"
	"github.com/rechargekit/rechargekit/recharge/rechargetest"
)

// TestHealthAndMetrics drives the client through each fault the simulator
// injects and checks what it reports: every attempt counted by route and
// status (0 when no whole answer came), every rate-limit wait, and the
// health state readiness shows.
func TestHealthAndMetrics(t *testing.T) {
	t.Parallel()
	srv := rechargetest.NewServer(t, rechargetest.Config{})
	srv.Load(rechargetest.DemoSeed())
	rec := &metricstest.Recorder{}
	noSleep := func(ctx context.Context, d time.Duration) error { return ctx.Err() }
	c := srv.Client(recharge.WithMetrics(rec), recharge.WithClock(nil, noSleep), recharge.WithMaxRetries(1))
	get := func(ctx context.Context) error {
		_, _, err := c.Customers.Get(ctx, rechargetest.DemoAlexRiveraID, nil)
		return err
	}
	if h := c.Health(); h.State != recharge.HealthUnknown || h.Message() == "" {
		t.Fatalf("new client health = %+v", h)
	}

	steps := []struct {
		name      string
		faults    rechargetest.Faults
		timeout   time.Duration
		wantErr   bool
		wantState string
		wantCalls map[string]int // counted by this step
	}{
		{name: "answers", wantState: recharge.HealthOK,
			wantCalls: map[string]int{"call GET /customers/{id} 200": 1}},
		{name: "one 503, retried", faults: rechargetest.Faults{Status: 503, Count: 1}, wantState: recharge.HealthOK,
			wantCalls: map[string]int{"call GET /customers/{id} 503": 1, "call GET /customers/{id} 200": 1}},
		{name: "502 twice: gives up", faults: rechargetest.Faults{Status: 502}, wantErr: true, wantState: recharge.HealthUnavailable,
			wantCalls: map[string]int{"call GET /customers/{id} 502": 2}},
		{name: "429 burst", faults: rechargetest.Faults{Status: 429}, wantErr: true, wantState: recharge.HealthRateLimited,
			wantCalls: map[string]int{"call GET /customers/{id} 429": 2}},
		{name: "truncated bodies", faults: rechargetest.Faults{Truncate: true}, wantErr: true, wantState: recharge.HealthUnavailable,
			wantCalls: map[string]int{"call GET /customers/{id} 0": 2}},
		{name: "token revoked", faults: rechargetest.Faults{Status: 401}, wantErr: true, wantState: recharge.HealthRefused,
			wantCalls: map[string]int{"call GET /customers/{id} 401": 1}},
		{name: "slow past the deadline", faults: rechargetest.Faults{Delay: time.Minute}, timeout: 50 * time.Millisecond,
			wantErr: true, wantState: recharge.HealthTimeout, wantCalls: map[string]int{"call GET /customers/{id} 0": 1}},
		{name: "recovers", wantState: recharge.HealthOK, wantCalls: map[string]int{"call GET /customers/{id} 200": 1}},
	}
	for _, st := range steps {
		srv.SetFaults(st.faults)
		before := rec.Counts()
		ctx, cancel := context.WithCancel(context.Background())
		if st.timeout > 0 {
			ctx, cancel = context.WithTimeout(context.Background(), st.timeout)
		}
		err := get(ctx)
		cancel()
		if (err != nil) != st.wantErr {
			t.Errorf("%s: err = %v, want error %v", st.name, err, st.wantErr)
		}
		h := c.Health()
		if h.State != st.wantState {
			t.Errorf("%s: health = %+v, want %s", st.name, h, st.wantState)
		}
		if h.State != recharge.HealthOK && (h.Since.IsZero() || h.Message() == "") {
			t.Errorf("%s: failing health without since or message: %+v", st.name, h)
		}
		after := rec.Counts()
		calls := 0
		for k, n := range after {
			if d := n - before[k]; d != 0 && len(k) > 5 && k[:5] == "call " {
				calls += d
				if st.wantCalls[k] != d {
					t.Errorf("%s: %q counted %d times, want %d (all: %v)", st.name, k, d, st.wantCalls[k], st.wantCalls)
				}
			}
		}
		for k, n := range st.wantCalls {
			if after[k]-before[k] != n {
				t.Errorf("%s: %q counted %d times, want %d", st.name, k, after[k]-before[k], n)
			}
		}
		if got := after["wait"] - before["wait"]; got != calls {
			t.Errorf("%s: %d rate-limit waits for %d calls", st.name, got, calls)
		}
	}
	srv.SetFaults(rechargetest.Faults{})
	if h := c.Health(); h.LastOK.IsZero() {
		t.Errorf("LastOK not set: %+v", h)
	}

	// A 404 is Recharge answering about the request: healthy.
	if _, _, err := c.Customers.Get(context.Background(), 999999999, nil); err == nil {
		t.Fatal("unknown customer: no error")
	}
	if h := c.Health(); h.State != recharge.HealthOK || rec.Count("call GET /customers/{id} 404") != 1 {
		t.Errorf("after a 404: health %+v, counts %v", h, rec.Counts())
	}
	// A caller that gives up while its request is at Recharge says nothing
	// about Recharge.
	srv.SetFaults(rechargetest.Faults{Delay: time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- get(ctx) }()
	testkit.WaitFor(t, "the delayed request to reach the simulator", func() bool { return srv.Stats().InFlight > 0 })
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled call: %v, want context.Canceled", err)
	}
	if h := c.Health(); h.State != recharge.HealthOK {
		t.Errorf("after a cancelled call: health %+v", h)
	}
	// It was a request all the same: counted, without an answer (status 0).
	if got := rec.Count("call GET /customers/{id} 0"); got != 4 {
		t.Errorf("calls without an answer = %d, want 4 (2 truncated, 1 slow, 1 cancelled)", got)
	}
}
