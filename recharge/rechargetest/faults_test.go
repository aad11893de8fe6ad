package rechargetest

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func statuses(h *harness, n int, method, path, body string) []int {
	h.t.Helper()
	out := make([]int, 0, n)
	for range n {
		out = append(out, h.do(method, path, body).status)
	}
	return out
}

func TestFaultStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		faults Faults
		method string
		path   string
		want   []int
	}{
		{"503 for the next two", Faults{Status: 503, Count: 2}, "GET", "/customers", []int{503, 503, 200, 200}},
		{"every other request", Faults{Status: 500, Rate: 0.5}, "GET", "/customers", []int{500, 200, 500, 200, 500, 200}},
		{"one in four", Faults{Status: 502, Rate: 0.25}, "GET", "/customers", []int{502, 200, 200, 200, 502, 200, 200, 200}},
		{"429 burst", Faults{Status: 429, Count: 3}, "GET", "/subscriptions", []int{429, 429, 429, 200}},
		{"route prefix matches", Faults{Status: 503, Route: "/charges"}, "GET", "/charges/1", []int{503, 503}},
		{"route prefix does not match", Faults{Status: 503, Route: "/charges"}, "GET", "/customers", []int{200, 200}},
		{"route pattern", Faults{Status: 503, Route: "GET /customers/{id}"}, "GET", "/customers/183940021", []int{503}},
		{"route pattern without method", Faults{Status: 503, Route: "/customers/{id}"}, "GET", "/customers/183940021", []int{503}},
		{"route pattern, other route", Faults{Status: 503, Route: "GET /customers/{id}"}, "GET", "/customers", []int{200}},
		{"409 route lock for writes only", Faults{Status: 409, Route: "PUT /subscriptions"}, "GET", "/subscriptions/585062092", []int{200}},
		{"409 route lock on a write", Faults{Status: 409, Route: "PUT /subscriptions", Count: 1}, "PUT", "/subscriptions/585062092", []int{409, 200}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, Config{}, DemoSeed())
			h.sim.SetFaults(tt.faults)
			body := ""
			if tt.method == "PUT" {
				body = `{"quantity":2}`
			}
			if diff := cmp.Diff(tt.want, statuses(h, len(tt.want), tt.method, tt.path, body)); diff != "" {
				t.Errorf("statuses (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFaultBodiesAndEffects(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{}, DemoSeed())
	h.sim.SetFaults(Faults{Status: 429, Count: 1})
	assertBody(t, h.get("/customers"), 429, `{"errors":"Too many requests"}`)
	h.sim.SetFaults(Faults{Status: 503, Count: 1})
	assertBody(t, h.get("/customers"), 503, `{"errors":"Service Unavailable"}`)
	// An injected status does not apply the request.
	h.sim.SetFaults(Faults{Status: 409, Count: 1})
	if r := h.do("POST", "/subscriptions/585062092/cancel", `{"cancellation_reason":"x"}`); r.status != 409 {
		t.Fatalf("status %d, want 409", r.status)
	}
	sub := mustDecode(t, h.mustGet("/subscriptions/585062092").body)["subscription"].(obj)
	if sub["status"] != "active" {
		t.Errorf("a 409 applied the cancel")
	}
	st := h.sim.Stats()
	if st.FaultsInjected != 3 || st.RateLimited != 0 || st.ByStatus["409"] != 1 {
		t.Errorf("stats = %+v", st)
	}
}

func TestFaultTruncate(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{}, DemoSeed())
	h.sim.SetFaults(Faults{Truncate: true, Count: 1})
	req, _ := http.NewRequest("GET", h.url+"/subscriptions?customer_id=183940005", nil)
	req.Header.Set("X-Recharge-Access-Token", DefaultToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("status %d, read error %v; want 200 and unexpected EOF", resp.StatusCode, err)
	}
	if resp.ContentLength <= int64(len(b)) || len(b) == 0 {
		t.Errorf("Content-Length %d, read %d bytes", resp.ContentLength, len(b))
	}
	var v any
	if json.Unmarshal(b, &v) == nil {
		t.Error("the truncated body decodes")
	}
	// The next request is whole again.
	h.mustGet("/subscriptions?customer_id=183940005")
	// Truncation only cuts 200 bodies; an error stays whole.
	h.sim.SetFaults(Faults{Truncate: true})
	assertBody(t, h.get("/customers/1"), 404, `{"errors":"Not Found"}`)
}

func TestFaultDelay(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{}, DemoSeed())
	// A delay longer than the client's deadline: the client gives up. No
	// timing is asserted, only the outcome.
	h.sim.SetFaults(Faults{Delay: time.Hour, Route: "/subscriptions"})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", h.url+"/subscriptions", nil)
	req.Header.Set("X-Recharge-Access-Token", DefaultToken)
	if _, err := http.DefaultClient.Do(req); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
	// Other routes are not delayed.
	h.mustGet("/customers")
}

func TestLatencyConfig(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{Latency: time.Hour}, DemoSeed())
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", h.url+"/customers", nil)
	req.Header.Set("X-Recharge-Access-Token", DefaultToken)
	if _, err := http.DefaultClient.Do(req); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
	// The control surface has no latency.
	resp, err := http.Get(h.url + "/__sim/stats")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("stats: %v %v", resp, err)
	}
	resp.Body.Close()
}

func TestFaultsJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want Faults
		err  bool
	}{
		{"duration string", `{"status":503,"delay":"250ms","count":2,"route":"/charges"}`, Faults{Status: 503, Delay: 250 * time.Millisecond, Count: 2, Route: "/charges"}, false},
		{"nanoseconds", `{"delay":1000000,"truncate":true,"rate":0.5}`, Faults{Delay: time.Millisecond, Truncate: true, Rate: 0.5}, false},
		{"empty clears", `{}`, Faults{}, false},
		{"bad duration", `{"delay":"soon"}`, Faults{}, true},
		{"bad type", `{"status":"503"}`, Faults{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f Faults
			err := json.Unmarshal([]byte(tt.in), &f)
			if (err != nil) != tt.err {
				t.Fatalf("err = %v, want error %v", err, tt.err)
			}
			if err != nil {
				return
			}
			if diff := cmp.Diff(tt.want, f); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			b, _ := json.Marshal(f)
			var back Faults
			if err := json.Unmarshal(b, &back); err != nil || back != f {
				t.Errorf("round trip %s -> %+v, %v", b, back, err)
			}
		})
	}
}

func TestControlSurface(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{BucketSize: 1}, DemoSeed())
	simReq := func(method, path, body string) *result {
		t.Helper()
		req, _ := http.NewRequest(method, h.url+path, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return &result{status: resp.StatusCode, header: resp.Header, body: b}
	}
	h.mustGet("/customers")
	h.get("/customers/183940021") // 429: the bucket holds one
	h.get("/nope")
	// No token, no rate limit, not counted.
	for range 3 {
		if r := simReq("GET", "/__sim/stats", ""); r.status != 200 {
			t.Fatalf("stats: %d", r.status)
		}
	}
	var st Stats
	if err := json.Unmarshal(simReq("GET", "/__sim/stats", "").body, &st); err != nil {
		t.Fatal(err)
	}
	want := Stats{
		Requests:    3,
		ByRoute:     map[string]int{"GET /customers": 1, "GET /customers/{id}": 1, "unmatched": 1},
		ByStatus:    map[string]int{"200": 1, "429": 2},
		RateLimited: 2, MaxInFlight: 1,
		Pages: map[string]int{"GET /customers": 1}, RepeatedPages: map[string]int{},
	}
	if diff := cmp.Diff(want, st); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}

	r := simReq("POST", "/__sim/faults", `{"status":502,"count":1,"route":"/customers"}`)
	assertBody(t, r, 200, `{"status":502,"count":1,"route":"/customers"}`)
	assertBody(t, simReq("GET", "/__sim/faults", ""), 200, `{"status":502,"count":1,"route":"/customers"}`)
	if r := simReq("POST", "/__sim/faults", `{"rate":2}`); r.status != 400 {
		t.Errorf("rate 2 accepted: %d", r.status)
	}
	if r := simReq("POST", "/__sim/faults", `{"delay":"x"}`); r.status != 400 {
		t.Errorf("bad delay accepted: %d", r.status)
	}
	if r := simReq("POST", "/__sim/reset", ""); r.status != 204 {
		t.Fatalf("reset: %d", r.status)
	}
	if got := h.sim.Stats(); got.Requests != 0 || len(got.ByRoute) != 0 {
		t.Errorf("stats after reset = %+v", got)
	}
	// Reset cleared the faults and the bucket.
	h.mustGet("/customers")
	if r := simReq("GET", "/__sim/reset", ""); r.status != 405 {
		t.Errorf("GET reset: %d", r.status)
	}
	if r := simReq("GET", "/__sim/unknown", ""); r.status != 404 {
		t.Errorf("unknown control path: %d", r.status)
	}
	var cs struct {
		Customers []CustomerSummary `json:"customers"`
	}
	if err := json.Unmarshal(simReq("GET", "/__sim/customers?limit=3", "").body, &cs); err != nil {
		t.Fatal(err)
	}
	if len(cs.Customers) != 3 || cs.Customers[0].ID != DemoSamTaylorID || cs.Customers[0].Email != "sam.taylor@example.com" {
		t.Errorf("customers = %+v", cs.Customers)
	}
}
