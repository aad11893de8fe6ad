package rechargetest

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// route is one Recharge API route. The pattern ("GET /subscriptions/{id}")
// names it in Stats and in fault routes; segments in braces are parameters.
type route struct {
	pattern  string
	method   string
	segments []string
	scope    string // the scope a token needs; "" for none
	handler  func(*call) response
}

func (s *Simulator) buildRoutes() []*route {
	type def struct {
		pattern string
		scope   string
		h       func(*call) response
	}
	defs := []def{
		{"GET /customers", "read_customers", (*call).listCustomers},
		{"POST /customers", "write_customers", (*call).createCustomer},
		{"GET /customers/{id}", "read_customers", (*call).getCustomer},
		{"PUT /customers/{id}", "write_customers", (*call).updateCustomer},
		{"DELETE /customers/{id}", "write_customers", (*call).deleteCustomer},
		{"GET /customers/{id}/delivery_schedule", "read_customers", (*call).deliverySchedule},

		{"GET /addresses", "read_customers", (*call).listAddresses},
		{"POST /addresses", "write_customers", (*call).createAddress},
		{"GET /addresses/{id}", "read_customers", (*call).getAddress},
		{"PUT /addresses/{id}", "write_customers", (*call).updateAddress},
		{"DELETE /addresses/{id}", "write_customers", (*call).deleteAddress},

		{"GET /subscriptions", "read_subscriptions", (*call).listSubscriptions},
		{"POST /subscriptions", "write_subscriptions", (*call).createSubscription},
		{"GET /subscriptions/{id}", "read_subscriptions", (*call).getSubscription},
		{"PUT /subscriptions/{id}", "write_subscriptions", (*call).updateSubscription},
		{"DELETE /subscriptions/{id}", "write_subscriptions", (*call).deleteSubscription},
		{"POST /subscriptions/{id}/cancel", "write_subscriptions", (*call).cancelSubscription},
		{"POST /subscriptions/{id}/activate", "write_subscriptions", (*call).activateSubscription},
		{"POST /subscriptions/{id}/set_next_charge_date", "write_subscriptions", (*call).setNextChargeDate},
		{"POST /subscriptions/{id}/change_address", "write_subscriptions", (*call).changeAddress},

		{"GET /retention_strategies", "read_subscriptions", (*call).listRetentionStrategies},

		{"GET /charges", "read_orders", (*call).listCharges},
		{"GET /charges/{id}", "read_orders", (*call).getCharge},
		{"POST /charges/{id}/skip", "write_orders", (*call).skipCharge},
		{"POST /charges/{id}/unskip", "write_orders", (*call).unskipCharge},
		{"POST /charges/{id}/apply_discount", "write_orders", (*call).applyDiscount},
		{"POST /charges/{id}/remove_discount", "write_orders", (*call).removeDiscount},

		{"GET /orders", "read_orders", (*call).listOrders},
		{"GET /orders/{id}", "read_orders", (*call).getOrder},

		{"GET /payment_methods", "read_payment_methods", (*call).listPaymentMethods},
		{"POST /payment_methods", "write_payment_methods", (*call).createPaymentMethod},
		{"GET /payment_methods/{id}", "read_payment_methods", (*call).getPaymentMethod},

		{"GET /events", "read_events", (*call).listEvents},

		{"GET /products", "read_products", (*call).listProducts},
		{"GET /products/{external_product_id}", "read_products", (*call).getProduct},
		{"GET /plans", "read_products", (*call).listPlans},
		{"GET /plans/{id}", "read_products", (*call).getPlan},

		{"GET /token_information", "", (*call).tokenInformation},
		{"GET /store", "store_info", (*call).storeInfo},

		{"GET /webhooks", "", (*call).listWebhooks},
		{"POST /webhooks", "", (*call).createWebhook},
		{"GET /webhooks/{id}", "", (*call).getWebhook},
		{"PUT /webhooks/{id}", "", (*call).updateWebhook},
		{"DELETE /webhooks/{id}", "", (*call).deleteWebhook},
	}
	routes := make([]*route, 0, len(defs))
	for _, d := range defs {
		method, path, _ := strings.Cut(d.pattern, " ")
		routes = append(routes, &route{
			pattern:  d.pattern,
			method:   method,
			segments: strings.Split(strings.Trim(path, "/"), "/"),
			scope:    d.scope,
			handler:  d.h,
		})
	}
	return routes
}

// match finds the route for method and path. When the path exists under
// other methods only, it returns a nil route and those methods (for 405).
func (s *Simulator) match(method, path string) (*route, []string, []string) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	var allowed []string
	for _, rt := range s.routes {
		params, ok := rt.matchPath(segs)
		if !ok {
			continue
		}
		if rt.method == method {
			return rt, params, nil
		}
		allowed = append(allowed, rt.method)
	}
	return nil, nil, allowed
}

func (rt *route) matchPath(segs []string) ([]string, bool) {
	if len(segs) != len(rt.segments) {
		return nil, false
	}
	var params []string
	for i, want := range rt.segments {
		if strings.HasPrefix(want, "{") {
			if segs[i] == "" {
				return nil, false
			}
			params = append(params, segs[i])
			continue
		}
		if segs[i] != want {
			return nil, false
		}
	}
	return params, true
}

// id returns the route's integer path parameter; ok is false when it is not
// a positive integer (Recharge answers such paths with a 404).
func (c *call) id() (int64, bool) {
	if len(c.params) == 0 {
		return 0, false
	}
	n, err := strconv.ParseInt(c.params[0], 10, 64)
	return n, err == nil && n > 0
}

var errBodyTooLarge = errors.New("request body too large")

func readAllLimited(r *http.Request, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, errBodyTooLarge
	}
	return b, nil
}
