package rechargetest

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

// TestConcurrentUse hammers one simulator from many goroutines (reads,
// writes, stats, faults, loads) for the race detector, then checks the
// counts add up.
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{}, DemoSeed())
	const workers, rounds = 8, 15
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := h.sim.AddCustomer(SeedCustomer{Email: fmt.Sprintf("worker%d@example.com", w)})
			subs := h.sim.AddSubscriptions(id, 3)
			for i := range rounds {
				sub := subs[i%len(subs)]
				h.do("POST", fmt.Sprintf("/subscriptions/%d/cancel", sub), `{"cancellation_reason":"race"}`)
				h.do("POST", fmt.Sprintf("/subscriptions/%d/activate", sub), `{}`)
				h.get(fmt.Sprintf("/subscriptions?customer_id=%d", id))
				h.get("/charges?limit=5")
				_ = h.sim.Stats()
				if i == rounds/2 {
					h.sim.SetFaults(Faults{})
				}
			}
		}()
	}
	wg.Wait()
	st := h.sim.Stats()
	if st.Requests != workers*rounds*4 {
		t.Errorf("requests = %d, want %d", st.Requests, workers*rounds*4)
	}
	if st.InFlight != 0 || st.MaxInFlight < 1 {
		t.Errorf("in flight %d, max %d", st.InFlight, st.MaxInFlight)
	}
	for _, c := range h.sim.Customers(0) {
		if c.SubscriptionsActive > c.SubscriptionsTotal {
			t.Errorf("customer %d: %d active of %d", c.ID, c.SubscriptionsActive, c.SubscriptionsTotal)
		}
		if strings.HasPrefix(c.Email, "worker") && (c.SubscriptionsTotal != 3 || c.SubscriptionsActive != 3) {
			t.Errorf("worker customer %d: %d/%d, want 3/3", c.ID, c.SubscriptionsTotal, c.SubscriptionsActive)
		}
	}
}

// recorder is a testing.TB that records failures instead of failing, to
// test the test helpers.
type recorder struct {
	testing.TB
	failed bool
}

func (r *recorder) Helper()                   {}
func (r *recorder) Errorf(string, ...any)     { r.failed = true }
func (r *recorder) Fatalf(f string, a ...any) { r.failed = true; r.TB.Fatalf(f, a...) }

func TestSameShapeDetectsDifferences(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		want, got  string
		subset     bool
		shouldFail bool
	}{
		{"same", `{"id":1,"a":"x","b":{"c":true}}`, `{"id":2,"a":"y","b":{"c":false}}`, false, false},
		{"other order", `{"id":1,"a":"x","b":2}`, `{"id":1,"b":2,"a":"x"}`, false, true},
		{"missing key", `{"id":1,"a":"x"}`, `{"id":1}`, false, true},
		{"extra key", `{"id":1}`, `{"id":1,"a":"x"}`, false, true},
		{"extra key allowed in subset mode", `{"id":1,"b":1}`, `{"id":1,"a":"x","b":2}`, true, false},
		{"string id", `{"id":1}`, `{"id":"1"}`, false, true},
		{"number price", `{"price":"1.00"}`, `{"price":1}`, false, true},
		{"null is any type", `{"sku":null}`, `{"sku":"X"}`, false, false},
		{"nested order", `{"l":[{"a":1,"b":2}]}`, `{"l":[{"b":2,"a":1}]}`, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &recorder{TB: t}
			sameShape(r, "x", []byte(tt.want), []byte(tt.got), tt.subset)
			if r.failed != tt.shouldFail {
				t.Errorf("failed = %v, want %v", r.failed, tt.shouldFail)
			}
		})
	}
}
