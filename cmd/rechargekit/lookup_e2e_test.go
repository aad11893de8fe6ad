package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/gladly"
	"github.com/rechargekit/rechargekit/internal/testkit"
	"github.com/rechargekit/rechargekit/recharge"
	"github.com/rechargekit/rechargekit/recharge/rechargetest"
)

// lookupStack is the whole lookup path as serve wires it, over HTTP: the
// Gladly handler, the card service, the Recharge client and the simulator.
type lookupStack struct {
	sim    *rechargetest.Server
	gladly *gladly.Client
}

const stackKey = "e2e-signing-key"

// newLookupStack serves the app against a demo-seeded simulator, with the
// Recharge client on a testkit.Clock: a sleep returns at once and moves the
// clock on by its duration, so retry backoff and rate limit waits take no
// wall-clock time yet stay consistent with each other.
func newLookupStack(t *testing.T, deadline time.Duration, clientToken string) *lookupStack {
	t.Helper()
	sim := rechargetest.NewServer(t, rechargetest.Config{})
	sim.Load(rechargetest.DemoSeed())
	clock := testkit.NewClock(time.Now())
	if clientToken == "" {
		clientToken = rechargetest.DefaultToken
	}
	a, err := newApp(context.Background(), appConfig{
		token:         clientToken,
		baseURL:       sim.URL,
		clientOptions: []recharge.Option{recharge.WithClock(clock.Now, clock.Sleep)},
		logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
		gladlyPath:    gladly.DefaultPath,
		gladly:        gladly.Config{SigningKey: stackKey, Deadline: deadline},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	srv := httptest.NewServer(a.handler)
	t.Cleanup(srv.Close)
	return &lookupStack{sim: sim, gladly: &gladly.Client{URL: srv.URL + gladly.DefaultPath, SigningKey: stackKey}}
}

func statusOf(err error) int {
	var re *gladly.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode
	}
	return 0
}

func TestLookupShapesEndToEnd(t *testing.T) {
	t.Parallel()
	st := newLookupStack(t, 0, "")
	ctx := context.Background()
	alex := strconv.FormatInt(rechargetest.DemoAlexRiveraID, 10)

	tests := []struct {
		name string
		do   func() (*gladly.LookupResponse, error)
		want []string // external ids, in order
	}{
		{"auto-link, one match", func() (*gladly.LookupResponse, error) {
			return st.gladly.AutoLink(ctx, rechargekit.Profile{ID: "p1", Emails: []string{"ALEX.RIVERA@example.com", "alex.rivera@example.com"}})
		}, []string{alex}},
		{"auto-link, two accounts", func() (*gladly.LookupResponse, error) {
			return st.gladly.AutoLink(ctx, rechargekit.Profile{ID: "p2", Emails: []string{"sam.taylor@example.com", "sam.t@example.org"}})
		}, []string{strconv.FormatInt(rechargetest.DemoSamTOrgID, 10), strconv.FormatInt(rechargetest.DemoSamTaylorID, 10)}},
		{"auto-link, no match", func() (*gladly.LookupResponse, error) {
			return st.gladly.AutoLink(ctx, rechargekit.Profile{ID: "p3", Emails: []string{"nobody@example.net"}, Phones: []string{"+15550000000"}})
		}, nil},
		{"search by email", func() (*gladly.LookupResponse, error) {
			return st.gladly.Search(ctx, map[string]string{"email": "alex.rivera@example.com"})
		}, []string{alex}},
		{"search by recharge id", func() (*gladly.LookupResponse, error) {
			return st.gladly.Search(ctx, map[string]string{"rechargeCustomerId": alex})
		}, []string{alex}},
		{"search by shopify id", func() (*gladly.LookupResponse, error) {
			return st.gladly.Search(ctx, map[string]string{"shopifyCustomerId": "7923224739991"})
		}, []string{alex}},
		{"detailed", func() (*gladly.LookupResponse, error) {
			return st.gladly.Detailed(ctx, alex, rechargekit.Profile{ID: "p1"})
		}, []string{alex}},
		{"detailed, unknown customer", func() (*gladly.LookupResponse, error) {
			return st.gladly.Detailed(ctx, "999", rechargekit.Profile{ID: "p1"})
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := tt.do()
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range resp.Results {
				got = append(got, r.ExternalCustomerID)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("results = %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("results = %v, want %v", got, tt.want)
				}
			}
		})
	}
}

func TestDetailedLookupFollowsPages(t *testing.T) {
	t.Parallel()
	st := newLookupStack(t, 0, "")
	id := st.sim.AddCustomer(rechargetest.SeedCustomer{Email: "many@example.com", FirstName: "Many"})
	st.sim.AddSubscriptions(id, 300)
	st.sim.Reset()

	resp, err := st.gladly.Detailed(context.Background(), strconv.FormatInt(id, 10), rechargekit.Profile{ID: "p"})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Results) != 1 || len(resp.Results[0].Transactions) != 300 {
		t.Fatalf("got %d results / %d transactions, want 1 / 300", len(resp.Results), len(resp.Results[0].Transactions))
	}
	if got := resp.Results[0].CustomAttributes["subscriptionsTotalCount"]; got != "300" {
		t.Errorf("subscriptionsTotalCount = %q, want 300", got)
	}
	seen := map[string]bool{}
	for _, tx := range resp.Results[0].Transactions {
		seen[tx.SubscriptionID] = true
	}
	if len(seen) != 300 {
		t.Errorf("%d distinct subscriptions, want 300", len(seen))
	}
	// The customer (with its addresses and payment methods included), two
	// pages of 250 subscriptions, one charges call and one events call
	// (issue 12's details, see TestColdDetailedLookupCalls).
	if got := st.sim.Stats().Requests; got != 5 {
		t.Errorf("Recharge calls = %d, want 5 (%v)", got, st.sim.Stats().ByRoute)
	}
}

// TestColdDetailedLookupCalls counts the Recharge calls of a cold card
// with issue 12's details: 4 calls in parallel, the first cold card and
// every one after it alike: the customer with its addresses and payment
// methods included, the subscriptions, the charges (shared by the product
// images, the next charges, the failed payments and the recent orders) and
// the events. A warm card makes none.
func TestColdDetailedLookupCalls(t *testing.T) {
	t.Parallel()
	st := newLookupStack(t, 0, "")
	want := map[string]int{"GET /customers/{id}": 1, "GET /subscriptions": 1, "GET /charges": 1, "GET /events": 1}
	for i, id := range []int64{rechargetest.DemoAlexRiveraID, rechargetest.DemoSamTaylorID} {
		st.sim.Reset()
		if _, err := st.gladly.Detailed(context.Background(), strconv.FormatInt(id, 10), rechargekit.Profile{ID: "p"}); err != nil {
			t.Fatal(err)
		}
		stats := st.sim.Stats()
		if diff := cmp.Diff(want, stats.ByRoute); diff != "" || stats.Requests != 4 {
			t.Errorf("cold DETAILED lookup %d made %d Recharge calls, want 4 (-want +got):\n%s", i+1, stats.Requests, diff)
		}
	}
	st.sim.Reset()
	if _, err := st.gladly.Detailed(context.Background(), strconv.FormatInt(rechargetest.DemoAlexRiveraID, 10), rechargekit.Profile{ID: "p"}); err != nil {
		t.Fatal(err)
	}
	if n := st.sim.Stats().Requests; n != 0 {
		t.Errorf("a warm DETAILED lookup made %d Recharge calls, want 0", n)
	}
}

func TestLookupUnderRechargeFaults(t *testing.T) {
	t.Parallel()
	alex := strconv.FormatInt(rechargetest.DemoAlexRiveraID, 10)
	tests := []struct {
		name       string
		faults     rechargetest.Faults
		token      string
		wantStatus int           // 0: a full answer
		deadline   time.Duration // 0: Gladly's 15 s, room for the fake clock's waits
	}{
		{"two 503s are retried", rechargetest.Faults{Status: 503, Count: 2}, "", 0, 0},
		{"a 429 burst is retried", rechargetest.Faults{Status: 429, Count: 3}, "", 0, 0},
		{"a truncated body is retried", rechargetest.Faults{Truncate: true, Count: 1, Route: "GET /subscriptions"}, "", 0, 0},
		{"charges failing only costs images", rechargetest.Faults{Status: 500, Route: "/charges"}, "", 0, 0},
		{"Recharge down", rechargetest.Faults{Status: 502}, "", http.StatusServiceUnavailable, 0},
		{"Recharge too slow", rechargetest.Faults{Delay: 10 * time.Second}, "", http.StatusServiceUnavailable, 300 * time.Millisecond},
		{"token revoked", rechargetest.Faults{}, "revoked-token", http.StatusServiceUnavailable, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.deadline == 0 {
				tt.deadline = gladly.MaxDeadline
			}
			st := newLookupStack(t, tt.deadline, tt.token)
			st.sim.SetFaults(tt.faults)
			resp, err := st.gladly.Detailed(context.Background(), alex, rechargekit.Profile{ID: "p"})
			if tt.wantStatus != 0 {
				if got := statusOf(err); got != tt.wantStatus {
					t.Fatalf("status = %d (%v), want %d; never an empty result for an upstream failure", got, err, tt.wantStatus)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(resp.Results) != 1 || len(resp.Results[0].Transactions) != 3 {
				t.Fatalf("results = %+v", resp.Results)
			}
			if tt.faults.Route == "/charges" {
				if img := resp.Results[0].Transactions[0].Products[0].ImageURL; img != nil {
					t.Errorf("image = %q without charges", *img)
				}
			}
		})
	}
}
