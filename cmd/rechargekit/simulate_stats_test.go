package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/rechargekit/rechargekit/internal/testkit"
	"github.com/rechargekit/rechargekit/recharge/rechargetest"
)

func TestSimulatePrintsThePagesServed(t *testing.T) {
	t.Parallel()
	simURL, out := startServer(t, nil, "simulate", "--addr", "127.0.0.1:0", "--customers", "300", "--stats-every", "20ms")
	get := func(path string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, simURL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Recharge-Access-Token", rechargetest.DefaultToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s = %d", path, resp.StatusCode)
		}
	}
	get("/customers?sort_by=id-asc&limit=250")
	get("/customers?sort_by=id-asc&limit=250") // read again
	get("/subscriptions?limit=250")
	testkit.WaitFor(t, "the pages line", func() bool {
		return strings.Contains(out.String(), "Pages served: GET /customers 2 (1 again), GET /subscriptions 1 (0 again)")
	})
}
