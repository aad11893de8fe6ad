package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/gladly"
	"github.com/rechargekit/rechargekit/recharge/rechargetest"
)

// TestConfigAdminURLAccepted checks the merchant-admin base URLs that
// RECHARGE_ADMIN_URL accepts.
func TestConfigAdminURLAccepted(t *testing.T) {
	t.Parallel()
	for _, v := range []string{
		"https://example-store-sp.admin.rechargeapps.com",
		"https://example-store-sp.admin.rechargeapps.com/",
		"https://admin.example.com:8443",
	} {
		if err := checkAdminURL(v); err != nil {
			t.Errorf("checkAdminURL(%q) = %v", v, err)
		}
	}
}

// TestServeGladlySettings checks that serve passes GLADLY_TRANSACTIONS and
// RECHARGE_ADMIN_URL to the Lookup Adaptor: a DETAILED lookup answers ORDER
// transactions, one per subscription, and the customer's admin link.
func TestServeGladlySettings(t *testing.T) {
	t.Parallel()
	sim := rechargetest.NewServer(t, rechargetest.Config{})
	sim.Load(rechargetest.DemoSeed())
	base, _ := startServer(t, map[string]string{
		"RECHARGE_API_URL":    sim.URL,
		"RECHARGE_API_TOKEN":  rechargetest.DefaultToken,
		"GLADLY_SIGNING_KEY":  "serve-key",
		"LISTEN_ADDR":         "127.0.0.1:0",
		"DATABASE_URL":        filepath.Join(t.TempDir(), "serve.db"),
		"GLADLY_TRANSACTIONS": "order",
		"RECHARGE_ADMIN_URL":  "https://demo-sp.admin.rechargeapps.com/",
	}, "serve")
	c := &gladly.Client{URL: base + "/gladly/lookup", SigningKey: "serve-key"}
	got, err := c.Detailed(context.Background(), "183940021", rechargekit.Profile{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Results) != 1 {
		t.Fatalf("results = %+v", got.Results)
	}
	r := got.Results[0]
	if len(r.Orders) != 3 || len(r.Transactions) != 0 {
		t.Fatalf("%d ORDER and %d SUBSCRIPTION transactions, want 3 and 0", len(r.Orders), len(r.Transactions))
	}
	for _, o := range r.Orders {
		if o.Type != "ORDER" || o.OrderNumber == "" || !strings.HasPrefix(o.OrderStatus, "Subscription ") || len(o.Products) != 1 ||
			o.Products[0].Name == "" || o.ItemCount == nil || !strings.HasPrefix(o.OrderLink, "https://demo-sp.admin.rechargeapps.com/merchant/subscriptions/") {
			t.Errorf("order = %+v", o)
		}
	}
	if u := r.CustomAttributes[gladly.AttrRechargeAdminURL]; u != "https://demo-sp.admin.rechargeapps.com/merchant/customers/183940021" {
		t.Errorf("rechargeAdminUrl = %q", u)
	}
}

// TestDemoGladlyOrders checks the demo with GLADLY_TRANSACTIONS=order: the
// gladly-lookup command it prints shows the customer's subscriptions as
// ORDER transactions.
func TestDemoGladlyOrders(t *testing.T) {
	t.Parallel()
	base, _ := startServer(t, map[string]string{"GLADLY_TRANSACTIONS": "order"}, "demo", "--addr", "127.0.0.1:0", "--signing-key", "demo-key-2")
	code, stdout, stderr := run(t, nil, "gladly-lookup", "--url", base+"/gladly/lookup", "--key", "demo-key-2",
		"--email", "alex.rivera@example.com", "--detailed")
	if code != 0 {
		t.Fatalf("gladly-lookup exited %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "3 ORDER transaction(s), one per subscription") {
		t.Errorf("summary = %s", stderr)
	}
	var raw struct {
		Results []struct {
			Transactions []map[string]any `json:"transactions"`
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(stdout), &raw); err != nil || len(raw.Results) != 1 || len(raw.Results[0].Transactions) != 3 {
		t.Fatalf("answer %v: %s", err, stdout)
	}
	for _, tx := range raw.Results[0].Transactions {
		if tx["type"] != "ORDER" {
			t.Errorf("transaction = %v", tx)
		}
	}
}
