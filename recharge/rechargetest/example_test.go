package rechargetest_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/rechargekit/rechargekit/recharge/rechargetest"
)

// The simulator is an http.Handler: serve it, seed it, and call it like
// api.rechargeapps.com. (In tests, rechargetest.NewServer does the wiring
// and returns a recharge client.)
func Example() {
	sim := rechargetest.New(rechargetest.Config{})
	defer sim.Close()
	sim.Load(rechargetest.DemoSeed())
	srv := httptest.NewServer(sim)
	defer srv.Close()

	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/customers?email=alex.rivera%40example.com", nil)
	req.Header.Set("X-Recharge-Access-Token", rechargetest.DefaultToken)
	req.Header.Set("X-Recharge-Version", "2021-11")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, resp.Header.Get("X-Recharge-Limit"))
	fmt.Println(strings.Contains(string(body), `"id":183940021`))
	// Output:
	// 200 1/40
	// true
}
