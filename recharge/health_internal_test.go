package recharge

import "testing"

func TestRouteOf(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ method, base, path, want string }{
		{"GET", "", "/customers/183940021", "GET /customers/{id}"},
		{"GET", "", "/subscriptions", "GET /subscriptions"},
		{"POST", "", "/subscriptions/585062092/cancel", "POST /subscriptions/{id}/cancel"},
		{"GET", "/recharge", "/recharge/charges/12", "GET /charges/{id}"},
		{"GET", "", "", "GET /"},
		{"GET", "", "/", "GET /"},
		{"DELETE", "", "/webhooks/7/", "DELETE /webhooks/{id}/"},
	} {
		if got := routeOf(tc.method, tc.base, tc.path); got != tc.want {
			t.Errorf("routeOf(%q, %q, %q) = %q, want %q", tc.method, tc.base, tc.path, got, tc.want)
		}
	}
}
