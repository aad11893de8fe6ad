package rechargetest

import (
	"encoding/json"
	"net/http"
	"regexp"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// assertBody compares a response body with the JSON want (both decoded).
func assertBody(tb testing.TB, r *result, status int, want string) {
	tb.Helper()
	if r.status != status {
		tb.Errorf("status = %d, want %d (body %s)", r.status, status, r.body)
	}
	var got, exp any
	if err := json.Unmarshal(r.body, &got); err != nil {
		tb.Fatalf("body %q is not JSON: %v", r.body, err)
	}
	if err := json.Unmarshal([]byte(want), &exp); err != nil {
		tb.Fatalf("want %q is not JSON: %v", want, err)
	}
	if diff := cmp.Diff(exp, got); diff != "" {
		tb.Errorf("body mismatch (-want +got):\n%s", diff)
	}
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{Tokens: []string{"tok-a", "tok-b"}}, DemoSeed())
	tests := []struct {
		name  string
		token string
		want  int
	}{
		{"missing token", "", http.StatusUnauthorized},
		{"unknown token", "not-a-token", http.StatusUnauthorized},
		{"bearer prefix is not accepted", "Bearer tok-a", http.StatusUnauthorized},
		{"first token", "tok-a", http.StatusOK},
		{"second token", "tok-b", http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.do(http.MethodGet, "/customers", "", "X-Recharge-Access-Token", tt.token)
			if r.status != tt.want {
				t.Fatalf("status = %d, want %d", r.status, tt.want)
			}
			if tt.want == http.StatusUnauthorized {
				assertBody(t, r, http.StatusUnauthorized, `{"error":"bad authentication"}`)
			}
		})
	}
}

func TestVersionHeader(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	tests := []struct {
		name    string
		version string
		want    int
	}{
		{"missing means 2021-11", "", http.StatusOK},
		{"2021-11", "2021-11", http.StatusOK},
		{"2021-01 is not implemented", "2021-01", http.StatusUpgradeRequired},
		{"garbage", "latest", http.StatusUpgradeRequired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.do(http.MethodGet, "/customers", "", "X-Recharge-Version", tt.version)
			if r.status != tt.want {
				t.Fatalf("status = %d, want %d: %s", r.status, tt.want, r.body)
			}
			if tt.want == http.StatusUpgradeRequired {
				if _, ok := mustDecode(t, r.body)["errors"].(string); !ok {
					t.Errorf("426 body %s has no errors string", r.body)
				}
			}
		})
	}
}

func TestScopes(t *testing.T) {
	t.Parallel()
	// Gladly's setup asks for customers, subscriptions and products read.
	h := newHarness(t, Config{Scopes: []string{"read_customers", "read_subscriptions", "read_products"}}, DemoSeed())
	tests := []struct {
		method, path, body string
		want               int
	}{
		{"GET", "/customers", "", 200},
		{"GET", "/subscriptions?customer_id=183940021", "", 200},
		{"GET", "/addresses", "", 200},
		{"GET", "/plans", "", 200},
		{"GET", "/token_information", "", 200},
		{"GET", "/charges?customer_id=183940021", "", 403},
		{"GET", "/charges/1", "", 403},
		{"GET", "/store", "", 403},
		{"POST", "/customers", `{"email":"new@example.com"}`, 403},
		{"POST", "/subscriptions/585062092/cancel", `{"cancellation_reason":"x"}`, 403},
		{"POST", "/webhooks", `{"address":"https://example.com/hook","topic":"charge/created"}`, 403},
		{"POST", "/webhooks", `{"address":"https://example.com/hook","topic":"subscription/updated"}`, 201},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			r := h.do(tt.method, tt.path, tt.body)
			if r.status != tt.want {
				t.Fatalf("status = %d, want %d: %s", r.status, tt.want, r.body)
			}
			if tt.want == 403 {
				if _, ok := mustDecode(t, r.body)["errors"].(string); !ok {
					t.Errorf("403 body %s has no errors string", r.body)
				}
			}
		})
	}
	// The token information lists exactly the configured scopes.
	ti := mustDecode(t, h.mustGet("/token_information").body)["token_information"].(obj)
	if diff := cmp.Diff([]any{"read_customers", "read_products", "read_subscriptions"}, ti["scopes"]); diff != "" {
		t.Errorf("scopes (-want +got):\n%s", diff)
	}
}

func TestRoutingErrors(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{}, DemoSeed())
	notFound := `{"errors":"Not Found"}`
	tests := []struct {
		name, method, path, body string
		status                   int
		want                     string
	}{
		{"unknown route", "GET", "/orders_v3", "", 404, notFound},
		{"unknown nested route", "GET", "/customers/183940021/wishlist", "", 404, notFound},
		{"non-numeric id", "GET", "/customers/abc", "", 404, notFound},
		{"missing customer", "GET", "/customers/999", "", 404, notFound},
		{"missing subscription", "GET", "/subscriptions/5848500122", "", 404, notFound},
		{"cancel missing subscription", "POST", "/subscriptions/5848500122/cancel", `{"cancellation_reason":"x"}`, 404, notFound},
		{"activate missing subscription", "POST", "/subscriptions/5850619400/activate", `{}`, 404, notFound},
		{"skip missing charge", "POST", "/charges/1302050268/skip", `{"purchase_item_ids":[589553679]}`, 404, notFound},
		{"unskip missing charge", "POST", "/charges/1302050261/unskip", `{"purchase_item_ids":[589553679]}`, 404, notFound},
		{"missing address", "DELETE", "/addresses/1", "", 404, notFound},
		{"wrong method", "DELETE", "/charges", "", 405, `{"errors":"Method Not Allowed"}`},
		{"wrong method on action", "GET", "/subscriptions/585062092/cancel", "", 405, `{"errors":"Method Not Allowed"}`},
		{"array body", "POST", "/customers", `[{"email":"a@example.com"}]`, 415, `{"errors":"The request body must be a JSON object"}`},
		{"invalid JSON body", "PUT", "/customers/183940021", `{"first_name":`, 415, `{"errors":"The request body must be a JSON object"}`},
		{"null body", "POST", "/customers", `null`, 415, `{"errors":"The request body must be a JSON object"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assertBody(t, h.do(tt.method, tt.path, tt.body), tt.status, tt.want)
		})
	}
	r := h.do("DELETE", "/charges", "")
	if got := r.header.Get("Allow"); got != "GET" {
		t.Errorf("Allow = %q, want GET", got)
	}
	// Requests with no route are counted under "unmatched".
	if got := h.sim.Stats().ByRoute["unmatched"]; got < 2 {
		t.Errorf("ByRoute[unmatched] = %d, want >= 2", got)
	}
}

func TestHeadersOnEveryResponse(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{BucketSize: 40}, DemoSeed())
	limitRE := regexp.MustCompile(`^\d+/40$`)
	seen := map[string]bool{}
	requests := []struct{ method, path, body, token string }{
		{"GET", "/customers", "", DefaultToken},
		{"GET", "/customers/183940021", "", DefaultToken},
		{"GET", "/nope", "", DefaultToken},
		{"GET", "/customers", "", "bad"},
		{"POST", "/customers", `{}`, DefaultToken},
		{"DELETE", "/subscriptions/585062093", "", DefaultToken},
		{"GET", "/products", "", DefaultToken},
	}
	for _, rq := range requests {
		r := h.do(rq.method, rq.path, rq.body, "X-Recharge-Access-Token", rq.token)
		if got := r.header.Get("X-Recharge-Limit"); !limitRE.MatchString(got) {
			t.Errorf("%s %s: X-Recharge-Limit = %q", rq.method, rq.path, got)
		}
		id := r.header.Get("X-Request-Id")
		if id == "" || seen[id] {
			t.Errorf("%s %s: X-Request-Id = %q (empty or repeated)", rq.method, rq.path, id)
		}
		seen[id] = true
		if r.status == http.StatusNoContent {
			if len(r.body) != 0 {
				t.Errorf("204 with body %q", r.body)
			}
			continue
		}
		if ct := r.header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
			t.Errorf("%s %s: Content-Type = %q", rq.method, rq.path, ct)
		}
		if r.header.Get("Retry-After") != "" {
			t.Errorf("%s %s: unexpected Retry-After", rq.method, rq.path)
		}
	}
}

func TestTokenInformationAndStore(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	ti := h.mustGet("/token_information")
	if diff := cmp.Diff([]string{"token_information"}, keyOrder(t, ti.body)); diff != "" {
		t.Errorf("envelope (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"client", "contact_email", "name", "scopes"}, keyOrder(t, rawField(t, ti.body, "token_information"))); diff != "" {
		t.Errorf("token_information keys (-want +got):\n%s", diff)
	}
	st := mustDecode(t, h.mustGet("/store").body)["store"].(obj)
	tz := st["timezone"].(obj)
	if tz["iana_name"] != "Etc/UTC" || st["external_platform"] != "shopify" || st["currency"] != "USD" {
		t.Errorf("store = %v", st)
	}
}
