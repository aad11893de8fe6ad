package gladly_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/gladly"
	"github.com/rechargekit/rechargekit/internal/testkit"
)

const adminBase = "https://shop-sp.admin.rechargeapps.com"

// wholeCard is a customer with an active subscription on the next shipment
// (at the address 195741005 of testkit.Details), a cancelled one and the
// card's details; failing adds a declined charge.
func wholeCard(failing bool) *rechargekit.Card {
	cancelled := time.Date(2026, 10, 3, 8, 0, 0, 0, time.UTC)
	return &rechargekit.Card{
		Customer: rechargekit.Customer{ID: 183940021, Email: "alex.rivera@example.com", FirstName: "Alex", LastName: "Rivera",
			SubscriptionsTotal: ptr(2), SubscriptionsActive: ptr(1)},
		Subscriptions: []*rechargekit.Subscription{
			{
				ID: 589553679, CustomerID: 183940021, AddressID: 195741005, Status: "active",
				CreatedAt: time.Date(2025, 1, 26, 15, 20, 33, 0, time.UTC), UpdatedAt: time.Date(2026, 11, 5, 9, 30, 0, 0, time.UTC),
				ChargeIntervalFrequency: 1, OrderIntervalFrequency: 1, IntervalUnit: "month", NextChargeDate: "2026-12-15",
				Price: "49.50", Currency: "USD", Quantity: 2,
				Product: rechargekit.Product{ID: "7451895464087", VariantID: "43510687465623", Name: "Cat Pajamas", VariantName: "Large",
					SKU: "111-3", ImageURL: "https://cdn.example.com/cat-pajamas_medium.png"},
			},
			{
				ID: 589553600, CustomerID: 183940021, Status: "cancelled",
				CreatedAt: time.Date(2024, 11, 2, 9, 0, 0, 0, time.UTC), UpdatedAt: cancelled, CancelledAt: &cancelled,
				ChargeIntervalFrequency: 30, OrderIntervalFrequency: 30, IntervalUnit: "day", NextChargeDate: "2026-11-01",
				CancellationReason: "Too expensive", CancellationReasonComments: "Asked by chat.\nWill come back.",
				Price: "25.00", Currency: "EUR", Quantity: 1,
				Product: rechargekit.Product{ID: "8143925215383", Name: "Dog Lovers T-Shirt"},
			},
		},
		FetchedAt: time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC),
		Details:   testkit.Details(failing),
	}
}

func ptr[T any](v T) *T { return &v }

// detailAttrs are the custom attributes the details add.
var detailAttrs = []string{gladly.AttrNextChargeDate, gladly.AttrNextChargeTotal, gladly.AttrPaymentStatus, gladly.AttrRechargeAdminURL}

func pick(attrs map[string]string) map[string]string {
	out := map[string]string{}
	for _, k := range detailAttrs {
		if v, ok := attrs[k]; ok {
			out[k] = v
		}
	}
	return out
}

func TestDetailedAttributes(t *testing.T) {
	t.Parallel()
	withBase := gladly.DetailOptions{AdminLinks: rechargekit.AdminLinks{Base: adminBase}}
	tests := []struct {
		name string
		opts gladly.DetailOptions
		card func() *rechargekit.Card
		want map[string]string
	}{
		{"healthy", withBase, func() *rechargekit.Card { return wholeCard(false) }, map[string]string{
			"nextChargeDate": "2026-12-15", "nextChargeTotal": "54.85 USD", "paymentStatus": "OK",
			"rechargeAdminUrl": adminBase + "/merchant/customers/183940021",
		}},
		{"failing: the retry is the next charge", withBase, func() *rechargekit.Card { return wholeCard(true) }, map[string]string{
			"nextChargeDate": "2026-12-08", "nextChargeTotal": "23.90 USD",
			"paymentStatus":    "Failing: the card was declined, retry 2026-12-08",
			"rechargeAdminUrl": adminBase + "/merchant/customers/183940021",
		}},
		{"no admin base: no link", gladly.DetailOptions{}, func() *rechargekit.Card { return wholeCard(false) }, map[string]string{
			"nextChargeDate": "2026-12-15", "nextChargeTotal": "54.85 USD", "paymentStatus": "OK",
		}},
		{"retries run out: no retry date, not the next charge", gladly.DetailOptions{}, func() *rechargekit.Card {
			c := wholeCard(true)
			c.Details.Payment.Failing[0].RetriesExhausted = true
			c.Details.Payment.Failing[0].ErrorType = "CLOSED_MAX_RETRIES_REACHED"
			return c
		}, map[string]string{
			"nextChargeDate": "2026-12-15", "nextChargeTotal": "54.85 USD",
			"paymentStatus": "Failing: Recharge gave up after the last retry, no more retries",
		}},
		{"in dunning without a failing charge", gladly.DetailOptions{}, func() *rechargekit.Card {
			c := wholeCard(false)
			c.Details.Payment.InDunning = true
			return c
		}, map[string]string{"nextChargeDate": "2026-12-15", "nextChargeTotal": "54.85 USD", "paymentStatus": "Failing: the payment method is in dunning"}},
		{"expired card, shipping not quoted", gladly.DetailOptions{}, func() *rechargekit.Card {
			c := wholeCard(false)
			c.Details.Payment.Default.ExpYear, c.Details.Payment.Default.ExpMonth = 2026, 11
			c.Details.NextCharges[0].Shipping[0].Pending = true
			return c
		}, map[string]string{"nextChargeDate": "2026-12-15", "nextChargeTotal": "54.85 USD (not final)", "paymentStatus": "At risk: the default card expired (2026-11)"}},
		{"no next charge clears the date and total", gladly.DetailOptions{}, func() *rechargekit.Card {
			c := wholeCard(false)
			c.Details.NextCharges = nil
			return c
		}, map[string]string{"nextChargeDate": "", "nextChargeTotal": "", "paymentStatus": "OK"}},
		{"sections not read keep Gladly's values, payment says why", gladly.DetailOptions{}, func() *rechargekit.Card {
			c := wholeCard(true)
			c.Details.Payment = nil
			c.Details.Unavailable[rechargekit.SectionNextCharges] = "Recharge did not answer."
			c.Details.Unavailable[rechargekit.SectionPayment] = "The Recharge token may not\nread payment methods."
			return c
		}, map[string]string{"paymentStatus": "Unknown. The Recharge token may not read payment methods."}},
		{"payment method not read, no failing charge", gladly.DetailOptions{}, func() *rechargekit.Card {
			c := wholeCard(false)
			c.Details.Payment.Default = nil
			c.Details.NextCharges[0].ScheduledAt = "2026-12-15T00:00:00"
			c.Details.Unavailable[rechargekit.SectionPayment] = "The Recharge token may not read payment methods."
			return c
		}, map[string]string{"nextChargeDate": "2026-12-15", "nextChargeTotal": "54.85 USD",
			"paymentStatus": "No failing charge. The Recharge token may not read payment methods."}},
		{"no details: no detail attributes", gladly.DetailOptions{}, func() *rechargekit.Card {
			c := wholeCard(true)
			c.Details = nil
			return c
		}, map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := tt.opts.Result(tt.card())
			if diff := cmp.Diff(tt.want, pick(r.CustomAttributes)); diff != "" {
				t.Errorf("attributes (-want +got):\n%s", diff)
			}
			for k, v := range r.CustomAttributes {
				if strings.ContainsAny(v, "\r\n") {
					t.Errorf("attribute %s is not one line: %q", k, v)
				}
			}
		})
	}
}

// gladlyReadsOrders is a Go model of what Gladly reads out of a DETAILED
// answer's ORDER transactions: the response transformation of Gladly's
// own orders lookup adaptor (GOLA), whose input and output are the
// fixtures under data/pull/detailed_orders_lookup. It is checked against
// those fixtures first (TestGladlyOrderModel), then reads our answers.
func gladlyReadsOrders(tb testing.TB, body []byte) []map[string]any {
	tb.Helper()
	var raw struct {
		Results []struct {
			ExternalCustomerID any              `json:"externalCustomerId"`
			Transactions       []map[string]any `json:"transactions"`
		} `json:"results"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		tb.Fatal(err)
	}
	str := func(v any) any {
		if s, ok := v.(string); ok && s != "" {
			return s
		}
		return ""
	}
	num := func(v any) any {
		if f, ok := v.(float64); ok {
			return f
		}
		return nil
	}
	stamp := func(v any) any {
		s, ok := v.(string)
		if !ok || s == "" {
			return nil
		}
		if _, err := time.Parse(time.RFC3339, s); err != nil {
			return nil
		}
		return s
	}
	total := regexp.MustCompile(`[0-9]+(?:\.[0-9]+)?|\.[0-9]+`)
	address := func(v any) any {
		a, ok := v.(map[string]any)
		if !ok || len(a) == 0 {
			return nil
		}
		out := map[string]any{}
		for _, k := range []string{"name", "phone", "street1", "street2", "city", "state", "country", "zip"} {
			out[k] = str(a[k])
		}
		return out
	}
	var out []map[string]any
	for _, r := range raw.Results {
		for _, t := range r.Transactions {
			if t["type"] != "ORDER" {
				continue
			}
			o := map[string]any{
				"externalCustomerId": r.ExternalCustomerID,
				"id":                 t["orderNumber"],
				"createdAt":          stamp(t["createdAt"]),
				"status":             str(t["orderStatus"]),
				"adminOrderUrl":      str(t["orderLink"]),
				"totalAmount":        nil,
				"currencyCode":       "USD",
				"itemCount":          num(t["itemCount"]),
				"customerOrderUrl":   str(t["customerOrderUrl"]),
				"note":               str(t["note"]),
			}
			if s, ok := t["orderTotal"].(string); ok && s != "" {
				if m := total.FindString(s); m != "" {
					if strings.HasPrefix(m, ".") {
						m = "0" + m
					}
					var f float64
					fmt.Sscan(m, &f)
					o["totalAmount"] = f
				}
			}
			if c, ok := t["currencyCode"].(string); ok && c != "" {
				o["currencyCode"] = c
			}
			products := []any{}
			ps, _ := t["products"].([]any)
			for _, p := range ps {
				pm, _ := p.(map[string]any)
				products = append(products, map[string]any{
					"id": str(pm["id"]), "name": str(pm["name"]), "status": str(pm["status"]), "sku": str(pm["sku"]),
					"imageUrl": str(pm["imageUrl"]), "quantity": num(pm["quantity"]),
				})
			}
			o["products"] = products
			fulfillments := []any{}
			fs, _ := t["fulfillments"].([]any)
			for _, f := range fs {
				fm, _ := f.(map[string]any)
				ids := fm["productIds"]
				if l, ok := ids.([]any); !ok || len(l) == 0 {
					ids = []any{}
				}
				fulfillments = append(fulfillments, map[string]any{
					"estimatedDeliveryDate": stamp(fm["estimatedDeliveryDate"]), "trackingUrl": str(fm["trackingUrl"]),
					"trackingNumber": str(fm["trackingNumber"]), "productIds": ids, "status": str(fm["status"]),
					"carrier": str(fm["carrier"]), "shippingSpeed": str(fm["shippingSpeed"]), "shippingAddress": address(fm["shippingAddress"]),
				})
			}
			o["fulfillments"] = fulfillments
			o["billingAddress"] = address(t["billingAddress"])
			out = append(out, o)
		}
	}
	return out
}

// TestGladlyOrderModel checks gladlyReadsOrders against Gladly's own
// input and output fixtures.
func TestGladlyOrderModel(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(gladly.FixturesDir(t), "data", "pull", "detailed_orders_lookup")
	for _, c := range []struct{ raw, want string }{
		{"rawData.json", "success/expected_response_transformation.json"},
		{"with_externalId/rawData.json", "with_externalId/expected_response_transformation.json"},
	} {
		got := gladlyReadsOrders(t, gladly.MustReadFile(t, filepath.Join(dir, c.raw)))
		var want []map[string]any
		if err := json.Unmarshal(gladly.MustReadFile(t, filepath.Join(dir, c.want)), &want); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: the model reads (-Gladly +model):\n%s", c.raw, diff)
		}
	}
}

// TestOrderTransactions checks, field by field, what Gladly reads out of
// the ORDER transactions of a DETAILED answer with
// GLADLY_TRANSACTIONS=order, served by the handler, and that the keys
// sent are those of Gladly's documented ORDER example.
func TestOrderTransactions(t *testing.T) {
	t.Parallel()
	svc := &fakeService{card: func(context.Context, int64) (*rechargekit.Card, error) { return wholeCard(true), nil }}
	h := MustServer(t, svc, func(c *gladly.Config) {
		c.Transactions = gladly.TransactionsOrder
		c.AdminLinks = rechargekit.AdminLinks{Base: adminBase}
	})
	a := h.post(t, []byte(`{"lookupLevel":"DETAILED","query":{"externalCustomerId":"183940021"},"uniqueMatchRequired":true}`))
	res := a.results(t)
	if len(res) != 1 || len(res[0].Orders) != 2 || len(res[0].Transactions) != 0 {
		t.Fatalf("answer %s: want 2 ORDER transactions and nothing else", a.body)
	}
	if got := pick(res[0].CustomAttributes); got[gladly.AttrPaymentStatus] != "Failing: the card was declined, retry 2026-12-08" ||
		got[gladly.AttrRechargeAdminURL] == "" {
		t.Errorf("custom attributes = %v", res[0].CustomAttributes)
	}

	want := []map[string]any{
		{
			"externalCustomerId": "183940021", "id": "589553679", "createdAt": "2025-01-26T15:20:33Z",
			"status":        "Subscription active, next charge 2026-12-15",
			"adminOrderUrl": adminBase + "/merchant/subscriptions/589553679/details",
			"totalAmount":   99.0, "currencyCode": "USD", "itemCount": 2.0, "customerOrderUrl": "",
			"note": "Billed every 1 month.",
			"products": []any{map[string]any{
				"id": "7451895464087", "name": "Cat Pajamas (Large)", "status": "active", "sku": "111-3",
				"imageUrl": "https://cdn.example.com/cat-pajamas_medium.png", "quantity": 2.0,
			}},
			"fulfillments": []any{map[string]any{
				"estimatedDeliveryDate": nil, "trackingUrl": "", "trackingNumber": "", "productIds": []any{"7451895464087"},
				"status": "", "carrier": "", "shippingSpeed": "",
				"shippingAddress": map[string]any{"name": "Alex Rivera", "phone": "+15551234567", "street1": "1 Main St",
					"street2": "Apt 2", "city": "Springfield", "state": "Oregon", "country": "United States", "zip": "97477"},
			}},
			"billingAddress": nil,
		},
		{
			"externalCustomerId": "183940021", "id": "589553600", "createdAt": "2024-11-02T09:00:00Z",
			"status":        "Subscription cancelled 2026-10-03: Too expensive",
			"adminOrderUrl": adminBase + "/merchant/subscriptions/589553600/details",
			"totalAmount":   25.0, "currencyCode": "EUR", "itemCount": 1.0, "customerOrderUrl": "",
			"note": "Billed every 30 days. Cancellation comments: Asked by chat. Will come back.",
			"products": []any{map[string]any{
				"id": "8143925215383", "name": "Dog Lovers T-Shirt", "status": "cancelled", "sku": "",
				"imageUrl": "", "quantity": 1.0,
			}},
			"fulfillments":   []any{},
			"billingAddress": nil,
		},
	}
	got := gladlyReadsOrders(t, a.body)
	if len(got) != len(want) {
		t.Fatalf("Gladly reads %d orders, want %d", len(got), len(want))
	}
	for i := range want {
		for k, w := range want[i] {
			if diff := cmp.Diff(w, got[i][k]); diff != "" {
				t.Errorf("order %d %s (-want +got):\n%s", i, k, diff)
			}
		}
	}

	// Every key sent is one of Gladly's ORDER example (spec section 15),
	// and the counts are numbers. Two keys are not in the example:
	// currencyCode, which Gladly's transformation reads (defaulting to
	// USD), and products' unitPrice, which spec section 15 lists.
	example := map[string]bool{"currencyCode": true, "products.unitPrice": true}
	var fixture struct {
		Results []struct {
			Transactions []map[string]any `json:"transactions"`
		} `json:"results"`
	}
	if err := json.Unmarshal(gladly.MustReadFile(t, filepath.Join(gladly.FixturesDir(t), "data", "pull", "detailed_orders_lookup", "rawData.json")), &fixture); err != nil {
		t.Fatal(err)
	}
	var collect func(prefix string, v any)
	collect = func(prefix string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				example[prefix+k] = true
				collect(prefix+k+".", e)
			}
		case []any:
			for _, e := range v {
				collect(prefix, e)
			}
		}
	}
	for _, tx := range fixture.Results[0].Transactions {
		if tx["type"] == "ORDER" {
			collect("", tx)
		}
	}
	var sent struct {
		Results []struct {
			Transactions []map[string]any `json:"transactions"`
		} `json:"results"`
	}
	if err := json.Unmarshal(a.body, &sent); err != nil {
		t.Fatal(err)
	}
	for _, tx := range sent.Results[0].Transactions {
		var check func(prefix string, v any)
		check = func(prefix string, v any) {
			switch v := v.(type) {
			case map[string]any:
				for k, e := range v {
					if !example[prefix+k] {
						t.Errorf("key %s%s is not in Gladly's ORDER example", prefix, k)
					}
					check(prefix+k+".", e)
				}
			case []any:
				for _, e := range v {
					check(prefix, e)
				}
			}
		}
		check("", tx)
		if _, ok := tx["itemCount"].(float64); !ok {
			t.Errorf("itemCount = %#v, want a number", tx["itemCount"])
		}
	}
}

// TestOrderTotal checks the ORDER total: price times quantity, exactly, in
// the price's decimals; left out without a currency or a plain price.
func TestOrderTotal(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		price, currency string
		qty             int
		want            string
	}{
		{"49.50", "USD", 2, "99.00"},
		{"0.05", "USD", 3, "0.15"},
		{"0.01", "USD", 1, "0.01"},
		{"1000", "JPY", 3, "3000"},
		{"19.999", "KWD", 7, "139.993"},
		{"98.00", "", 1, ""},
		{"1,234.50", "USD", 1, ""},
		{"", "USD", 1, ""},
		{"12.00", "USD", 0, ""},
	} {
		s := &rechargekit.Subscription{ID: 1, Status: "active", Price: tt.price, Currency: tt.currency, Quantity: tt.qty}
		o := gladly.DetailOptions{}.Order(s, nil)
		if o.OrderTotal != tt.want || (tt.want == "") != (o.CurrencyCode == "") {
			t.Errorf("%s %s x %d: total %q %q, want %q", tt.price, tt.currency, tt.qty, o.OrderTotal, o.CurrencyCode, tt.want)
		}
	}
}

func TestTransactionsSetting(t *testing.T) {
	t.Parallel()
	for v, ok := range map[string]bool{"": true, "subscription": true, "order": true, "ORDER": false, "orders": false, "generic": false} {
		if err := gladly.CheckTransactions(v); (err == nil) != ok {
			t.Errorf("CheckTransactions(%q) = %v", v, err)
		}
		_, err := gladly.NewHandler(gladly.Config{Service: &fakeService{}, Transactions: v})
		if (err == nil) != ok {
			t.Errorf("NewHandler with Transactions %q: %v", v, err)
		}
	}
}

// TestDetailedAnswerHasNoToken checks both kinds of DETAILED answer for
// the captured payment methods' processor tokens.
func TestDetailedAnswerHasNoToken(t *testing.T) {
	t.Parallel()
	tokens := append(testkit.ProcessorTokens(t), "processor", "Token")
	for _, mode := range []string{gladly.TransactionsSubscription, gladly.TransactionsOrder} {
		svc := &fakeService{card: func(context.Context, int64) (*rechargekit.Card, error) { return wholeCard(true), nil }}
		h := MustServer(t, svc, func(c *gladly.Config) { c.Transactions = mode })
		a := h.post(t, []byte(`{"lookupLevel":"DETAILED","query":{"externalCustomerId":"183940021"}}`))
		if len(a.results(t)) != 1 {
			t.Fatalf("%s: %s", mode, a.body)
		}
		for _, tok := range tokens {
			if strings.Contains(string(a.body), tok) {
				t.Errorf("%s answer holds %q", mode, tok)
			}
		}
	}
}
