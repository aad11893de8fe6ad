package rechargetest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzAPI sends arbitrary requests to a seeded simulator: it must never
// panic or answer 5xx on its own, and every answer is JSON (or an empty
// 204) with the Recharge headers.
func FuzzAPI(f *testing.F) {
	seeds := []struct{ method, target, body string }{
		{"GET", "/customers?email=alex.rivera%40example.com", ""},
		{"GET", "/subscriptions?customer_id=183940005&limit=7&sort_by=created_at-asc", ""},
		{"GET", "/charges?scheduled_at_min=2025-03-01&status=queued", ""},
		{"POST", "/subscriptions/585062092/cancel", `{"cancellation_reason":"x"}`},
		{"POST", "/subscriptions/585062092/activate", `{}`},
		{"PUT", "/subscriptions/585062092", `{"price":25,"quantity":"3","order_interval_unit":"weeks","charge_interval_frequency":2,"order_interval_frequency":2}`},
		{"POST", "/subscriptions", `{"address_id":193760021,"charge_interval_frequency":1,"order_interval_frequency":1,"order_interval_unit":"month","next_charge_scheduled_at":"2030-01-01","quantity":1,"external_variant_id":"41845356495003"}`},
		{"POST", "/charges/731050001/skip", `{"purchase_item_ids":[585062001]}`},
		{"POST", "/customers", `{"email":"x@y.z","external_customer_id":12}`},
		{"PUT", "/addresses/193760021", `{"country_code":null,"order_attributes":[{"name":"a","value":"b"}]}`},
		{"DELETE", "/customers/183940003", ""},
		{"GET", "/customers/183940021/delivery_schedule", ""},
		{"POST", "/webhooks", `{"address":"https://e.com/h","topic":"customer/updated","included_objects":["customer"]}`},
		{"GET", "/subscriptions?cursor=eyJzdGFydGluZ19iZWZvcmVfaWQiOjEsImxhc3RfdmFsdWUiOjEsInNvcnRfYnkiOiJpZC1kZXNjIiwiY3Vyc29yX2RpciI6Im5leHQifQ", ""},
		{"PATCH", "/customers/1", `[]`},
	}
	for _, s := range seeds {
		f.Add(s.method, s.target, s.body)
	}
	sim := New(Config{Now: newClock().Now, BucketSize: 1 << 30, Platform: PlatformCustom})
	sim.Load(DemoSeed())
	f.Cleanup(func() { sim.Close() })
	f.Fuzz(func(t *testing.T, method, target, body string) {
		if !strings.HasPrefix(target, "/") || strings.HasPrefix(target, "/__sim") {
			return
		}
		req, err := http.NewRequest(method, "http://sim"+target, strings.NewReader(body))
		if err != nil {
			return
		}
		req.Header.Set("X-Recharge-Access-Token", DefaultToken)
		rec := httptest.NewRecorder()
		sim.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s %q: status %d: %s", method, target, body, rec.Code, rec.Body)
		}
		if rec.Header().Get("X-Request-Id") == "" || rec.Header().Get("X-Recharge-Limit") == "" {
			t.Fatalf("%s %s: missing headers", method, target)
		}
		if rec.Code == http.StatusNoContent {
			if rec.Body.Len() != 0 {
				t.Fatalf("204 with a body")
			}
			return
		}
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("%s %s %q: invalid JSON %q", method, target, body, rec.Body)
		}
	})
}
