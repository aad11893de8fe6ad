package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/actions"
	"github.com/rechargekit/rechargekit/actions/actionstest"
	"github.com/rechargekit/rechargekit/cards"
	"github.com/rechargekit/rechargekit/gladly"
	"github.com/rechargekit/rechargekit/recharge"
	"github.com/rechargekit/rechargekit/recharge/rechargetest"
	"github.com/rechargekit/rechargekit/server"
)

// unlinked is a LinkStore's Link for the Gladly-only wiring: Gladly names
// the customer itself.
type unlinked struct{}

func (unlinked) Link(ctx context.Context, profileID string) (*rechargekit.Link, error) {
	return nil, rechargekit.Errorf(rechargekit.ENOTFOUND, "not linked")
}

// actionAdaptor serves a Lookup Adaptor with actions over the simulator,
// as server.New mounts it, and returns its lookup URL and the audit.
func actionAdaptor(t *testing.T, key string) (string, *actionstest.Store, *rechargetest.Simulator) {
	t.Helper()
	sim := rechargetest.New(rechargetest.Config{BucketSize: 1000, LeakPerSecond: 1000})
	sim.Load(rechargetest.Seed{Customers: []rechargetest.SeedCustomer{
		{ID: 1001, Email: "alex@example.com", FirstName: "Alex", Subscriptions: []rechargetest.SeedSubscription{
			{ID: 5001, ProductID: "p1", ProductTitle: "Dog Lovers T-Shirt", VariantTitle: "Large", Price: "25.00", PastCharges: 1, NextChargeInDays: 10},
			{ID: 5002, ProductID: "p2", ProductTitle: "Cat Treats", Price: "12.50", PastCharges: 1, NextChargeInDays: 10},
		}},
	}})
	rsrv := httptest.NewServer(sim)
	t.Cleanup(func() { rsrv.Close(); _ = sim.Close() })
	rc := recharge.NewClient(rechargetest.DefaultToken, recharge.WithBaseURL(rsrv.URL))
	cs := cards.NewCachedService(&recharge.Source{Client: rc}, nil, cards.CachedOptions{TTL: time.Hour})
	t.Cleanup(func() { _ = cs.Close() })
	store := actionstest.NewStore(nil)
	svc := &actions.Service{Source: &recharge.Actions{Client: rc}, Store: store, Cards: cs, Links: unlinked{}}
	logger := slog.New(slog.DiscardHandler)
	gh, err := gladly.NewHandler(gladly.Config{Service: cs, Actions: svc, SigningKey: key, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(server.New(server.Config{Gladly: gh, Logger: logger}))
	t.Cleanup(srv.Close)
	return srv.URL + gladly.DefaultPath, store, sim
}

// An admin tries an action with gladly-lookup: the DETAILED lookup lists
// the actions, --form prints one's form, and --submit applies it; a
// refused submit fails the command with the errors Gladly would show.
func TestGladlyLookupFormAndSubmit(t *testing.T) {
	t.Parallel()
	const key = "cli-key-1"
	lookupURL, store, _ := actionAdaptor(t, key)

	code, stdout, stderr := run(t, nil, "gladly-lookup", "--url", lookupURL, "--key", key, "--customer-id", "1001", "--detailed")
	if code != 0 {
		t.Fatalf("detailed exited %d: %s", code, stderr)
	}
	var resp gladly.LookupResponse
	if err := json.Unmarshal([]byte(stdout), &resp); err != nil || len(resp.Results) != 1 {
		t.Fatalf("detailed answer: %v\n%s", err, stdout)
	}
	var skipURL string
	for _, a := range resp.Results[0].Actions {
		if a.Name == "Skip a charge" {
			skipURL = a.FormURL
		}
	}
	if skipURL == "" {
		t.Fatalf("no skip action in %+v", resp.Results[0].Actions)
	}

	code, stdout, stderr = run(t, nil, "gladly-lookup", "--url", lookupURL, "--key", key, "--form", skipURL)
	if code != 0 {
		t.Fatalf("--form exited %d: %s", code, stderr)
	}
	var form gladly.Form
	if err := json.Unmarshal([]byte(stdout), &form); err != nil || form.Title != "Skip a charge" {
		t.Fatalf("form: %v\n%s", err, stdout)
	}
	if !strings.Contains(stderr, `form "Skip a charge": submit to `+form.ActionURL+" with the fields subscriptionId") {
		t.Errorf("form summary: %s", stderr)
	}
	var first string
	for _, s := range form.Sections {
		if s.Attr == gladly.FieldSubscriptionID {
			first, _ = s.DefaultValue.(string)
		}
	}

	code, stdout, stderr = run(t, nil, "gladly-lookup", "--url", lookupURL, "--key", key,
		"--submit", form.ActionURL, "--field", "subscriptionId="+first)
	if code != 0 {
		t.Fatalf("--submit exited %d: %s\n%s", code, stderr, stdout)
	}
	var done gladly.ActionResponse
	if err := json.Unmarshal([]byte(stdout), &done); err != nil || !strings.HasPrefix(done.Message, "Skipped the next charge of") {
		t.Errorf("submit answer: %v\n%s", err, stdout)
	}
	recs, _ := store.ActionRecords(context.Background(), rechargekit.ActionFilter{})
	if len(recs) != 1 || recs[0].Outcome != rechargekit.OutcomeDone || recs[0].Via != rechargekit.ViaGladly {
		t.Errorf("audit = %+v", recs)
	}

	// Gladly may not change a frequency: refused, the form would close.
	code, stdout, stderr = run(t, nil, "gladly-lookup", "--url", lookupURL, "--key", key,
		"--submit", "/gladly/lookup/actions/change_frequency?customer=1001",
		"--field", "subscriptionId=5001", "--field", "intervalUnit=week", "--field", "intervalFrequency=2")
	if code != 1 || !strings.Contains(stderr, "Gladly would close the form") || !strings.Contains(stdout, "may not change frequencies") {
		t.Errorf("refused submit: exit %d\n%s\n%s", code, stderr, stdout)
	}

	// A wrong key is refused with the hint.
	code, _, stderr = run(t, nil, "gladly-lookup", "--url", lookupURL, "--key", "wrong", "--form", skipURL)
	if code != 1 || !strings.Contains(stderr, "check --key") {
		t.Errorf("wrong key: exit %d, %s", code, stderr)
	}
}

func TestGladlyLookupActionFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--form", "/f", "--email", "a@example.com"}, "give exactly one of --email or --phone (or both: one profile), --customer-id, --form or --submit"},
		{[]string{"--phone", "555-123-4567", "--customer-id", "1"}, "give exactly one of --email or --phone"},
		{[]string{"--phone", "call me"}, `--phone "call me" is not a phone number`},
		{[]string{"--customer-id", "1", "--field", "a=b"}, "--field goes with --submit"},
		{[]string{"--submit", "/s", "--field", "novalue"}, "want attr=value"},
		{[]string{"--form", "/f", "--detailed"}, "--detailed goes with --email, --phone or --customer-id"},
	} {
		code, _, stderr := run(t, nil, append([]string{"gladly-lookup", "--url", "http://127.0.0.1:1/gladly/lookup"}, tc.args...)...)
		if code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, %q; want 2 and %q", tc.args, code, stderr, tc.want)
		}
	}
}
