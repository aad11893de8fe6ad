package rechargetest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rechargekit/rechargekit/recharge"
)

// decodeInto decodes a body into v (a recharge client type), failing the
// test on error.
func decodeInto(tb testing.TB, b []byte, v any) {
	tb.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		tb.Fatalf("decode %s: %v", b, err)
	}
}

func (h *harness) charges(query string) []*recharge.Charge {
	h.t.Helper()
	var out struct {
		Charges []*recharge.Charge `json:"charges"`
	}
	decodeInto(h.t, h.mustGet("/charges?"+query).body, &out)
	return out.Charges
}

func (h *harness) process(id int64, body string) *result {
	h.t.Helper()
	return h.do(http.MethodPost, fmt.Sprintf("/__sim/charges/%d/process", id), body)
}

func (h *harness) mustProcess(id int64, body string) *recharge.Charge {
	h.t.Helper()
	r := h.process(id, body)
	if r.status != http.StatusOK {
		h.t.Fatalf("process %d %s = %d %s", id, body, r.status, r.body)
	}
	var out struct{ Charge *recharge.Charge }
	decodeInto(h.t, r.body, &out)
	return out.Charge
}

func (h *harness) customerFlags(id int64) obj {
	h.t.Helper()
	return mustDecode(h.t, h.mustGet(fmt.Sprintf("/customers/%d", id)).body)["customer"].(obj)
}

// testEvent is an event as the tests read it (the client has no event type
// yet).
type testEvent struct {
	ID          int64  `json:"id"`
	CustomerID  int64  `json:"customer_id"`
	ObjectID    int64  `json:"object_id"`
	ObjectType  string `json:"object_type"`
	Verb        string `json:"verb"`
	Description string `json:"description"`
	CreatedAt   string `json:"created_at"`
	Source      struct {
		Origin       string  `json:"origin"`
		APITokenName *string `json:"api_token_name"`
		AccountEmail *string `json:"account_email"`
		UserType     *string `json:"user_type"`
	} `json:"source"`
}

func (h *harness) events(customer int64) []testEvent {
	h.t.Helper()
	var out struct {
		NextCursor *string     `json:"next_cursor"`
		Events     []testEvent `json:"events"`
	}
	decodeInto(h.t, h.mustGet(fmt.Sprintf("/events?customer_id=%d&limit=250", customer)).body, &out)
	return out.Events
}

func TestProcessChargeSuccess(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{}, DemoSeed())
	queued := h.charges(fmt.Sprintf("customer_id=%d&status=queued&sort_by=scheduled_at-asc", DemoNextShipmentID))
	if len(queued) == 0 {
		t.Fatal("no queued charge")
	}
	ch := queued[0]
	subsBefore := map[int64]string{}
	for _, li := range ch.LineItems {
		if li.PurchaseItemType == "subscription" {
			s := mustDecode(t, h.mustGet(fmt.Sprintf("/subscriptions/%d", li.PurchaseItemID)).body)["subscription"].(obj)
			subsBefore[int64(li.PurchaseItemID)] = s["next_charge_scheduled_at"].(string)
		}
	}
	got := h.mustProcess(int64(ch.ID), `{"outcome":"success"}`)
	if got.Status != "success" || got.ProcessedAt.IsZero() || got.ExternalOrderID.String() == "" || got.ErrorType != "" {
		t.Errorf("processed charge: status %q processed %v order %q error %q", got.Status, got.ProcessedAt, got.ExternalOrderID, got.ErrorType)
	}
	if got.TotalPrice != ch.TotalPrice || got.TotalDiscounts != ch.TotalDiscounts {
		t.Errorf("totals changed: %v/%v, was %v/%v", got.TotalPrice, got.TotalDiscounts, ch.TotalPrice, ch.TotalDiscounts)
	}
	// Each subscription moved one interval (all are monthly) and has a new
	// queued charge on that date.
	for id, before := range subsBefore {
		s := mustDecode(t, h.mustGet(fmt.Sprintf("/subscriptions/%d", id)).body)["subscription"].(obj)
		b, _ := time.Parse(dateLayout, before)
		want := b.AddDate(0, 1, 0).Format(dateLayout)
		if s["next_charge_scheduled_at"] != want {
			t.Errorf("subscription %d next %v, want %s", id, s["next_charge_scheduled_at"], want)
		}
		next := h.charges(fmt.Sprintf("purchase_item_id=%d&status=queued", id))
		if len(next) != 1 || next[0].ScheduledAt.String() != want {
			t.Errorf("subscription %d queued charges %v, want one on %s", id, next, want)
		}
	}
	// The order: one per processed charge, with the store's order name.
	var orders struct {
		Orders []struct {
			ID                int64 `json:"id"`
			CustomerID        int64 `json:"customer_id"`
			ExternalOrderName struct {
				Ecommerce string `json:"ecommerce"`
			} `json:"external_order_name"`
			Charge struct {
				ID     int64  `json:"id"`
				Status string `json:"status"`
			} `json:"charge"`
			ScheduledAt string               `json:"scheduled_at"`
			Status      string               `json:"status"`
			TotalPrice  string               `json:"total_price"`
			LineItems   []*recharge.LineItem `json:"line_items"`
		} `json:"orders"`
	}
	decodeInto(t, h.mustGet(fmt.Sprintf("/orders?customer_id=%d&charge_id=%d", DemoNextShipmentID, ch.ID)).body, &orders)
	if len(orders.Orders) != 1 {
		t.Fatalf("%d orders of the charge, want 1", len(orders.Orders))
	}
	o := orders.Orders[0]
	if o.Charge.Status != "success" || o.Status != "success" || o.TotalPrice != string(ch.TotalPrice) || !strings.HasPrefix(o.ExternalOrderName.Ecommerce, "#") ||
		len(o.LineItems) != len(ch.LineItems) || !strings.HasSuffix(o.ScheduledAt, "+00:00") {
		t.Errorf("order %+v", o)
	}
	one := mustDecode(t, h.mustGet(fmt.Sprintf("/orders/%d", o.ID)).body)["order"].(obj)
	if idOf(t, one["id"]) != o.ID {
		t.Errorf("GET /orders/%d = %v", o.ID, one["id"])
	}
	if r := h.get("/orders/1"); r.status != http.StatusNotFound {
		t.Errorf("GET /orders/1 = %d", r.status)
	}
	// Recharge's own processing is on the timeline.
	evs := h.events(DemoNextShipmentID)
	if evs[0].Verb != "updated" || !slices.ContainsFunc(evs, func(e testEvent) bool {
		return e.Verb == "paid" && e.ObjectID == int64(ch.ID) && e.Source.Origin == OriginRecharge
	}) {
		t.Errorf("events after success: %+v", evs[:3])
	}
	// A processed charge cannot be processed again.
	if r := h.process(int64(ch.ID), `{"outcome":"success"}`); r.status != http.StatusUnprocessableEntity {
		t.Errorf("processing a success charge = %d %s", r.status, r.body)
	}
}

func TestProcessChargeErrorAndDunning(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{}, DemoSeed())
	ch := h.charges(fmt.Sprintf("customer_id=%d&status=queued&sort_by=scheduled_at-asc", DemoAlexRiveraID))[0]
	if h.customerFlags(DemoAlexRiveraID)["has_payment_method_in_dunning"] != false {
		t.Fatal("in dunning before any failure")
	}
	got := h.mustProcess(int64(ch.ID), `{"outcome":"error","error_type":"CARD_DECLINED"}`)
	if got.Status != "error" || got.ErrorType != "CARD_DECLINED" || got.Error != "Your card was declined." {
		t.Errorf("failed charge: %q %q %q", got.Status, got.ErrorType, got.Error)
	}
	raw := mustDecode(t, h.mustGet(fmt.Sprintf("/charges/%d", ch.ID)).body)["charge"].(obj)
	// Day 1 of the fake clock is 2025-03-01; the retry comes three days on,
	// first as a date, then as a timestamp.
	if idOf(t, raw["charge_attempts"]) != 1 || raw["retry_date"] != "2025-03-04" || raw["last_charge_attempt"] != "2025-03-01T12:00:00+00:00" {
		t.Errorf("first failure: attempts %v retry %v last %v", raw["charge_attempts"], raw["retry_date"], raw["last_charge_attempt"])
	}
	if h.customerFlags(DemoAlexRiveraID)["has_payment_method_in_dunning"] != true {
		t.Error("not in dunning after a failure")
	}
	got = h.mustProcess(int64(ch.ID), `{"outcome":"error","error_type":"INSUFFICIENT_FUNDS","error":"Insufficient funds (51)"}`)
	raw = mustDecode(t, h.mustGet(fmt.Sprintf("/charges/%d", ch.ID)).body)["charge"].(obj)
	if idOf(t, raw["charge_attempts"]) != 2 || raw["retry_date"] != "2025-03-04T04:00:00+00:00" || got.Error != "Insufficient funds (51)" ||
		!got.RetryDate.Equal(time.Date(2025, 3, 4, 4, 0, 0, 0, time.UTC)) {
		t.Errorf("second failure: attempts %v retry %v (decoded %v) error %q", raw["charge_attempts"], raw["retry_date"], got.RetryDate, got.Error)
	}
	for range MaxChargeAttempts - 2 {
		got = h.mustProcess(int64(ch.ID), `{"outcome":"error"}`)
	}
	if got.ErrorType != errMaxRetries || !got.RetryDate.IsZero() {
		t.Errorf("after %d attempts: %q retry %v", MaxChargeAttempts, got.ErrorType, got.RetryDate)
	}
	if h.customerFlags(DemoAlexRiveraID)["has_payment_method_in_dunning"] != false {
		t.Error("still in dunning after the last retry")
	}
	for _, li := range got.LineItems {
		s := mustDecode(t, h.mustGet(fmt.Sprintf("/subscriptions/%d", li.PurchaseItemID)).body)["subscription"].(obj)
		if s["max_retries_reached"] != true {
			t.Errorf("subscription %d: max_retries_reached %v", li.PurchaseItemID, s["max_retries_reached"])
		}
	}
	// Processing a charge past its retries (a Pro feature) can still
	// succeed, and clears the error.
	got = h.mustProcess(int64(ch.ID), `{"outcome":"success"}`)
	if got.Status != "success" || got.ErrorType != "" || !got.RetryDate.IsZero() {
		t.Errorf("after success: %q %q %v", got.Status, got.ErrorType, got.RetryDate)
	}
}

func TestProcessChargeControlErrors(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{}, DemoSeed())
	ch := h.charges(fmt.Sprintf("customer_id=%d&status=queued", DemoAlexRiveraID))[0]
	tests := []struct {
		name   string
		method string
		path   string
		body   string
		want   int
	}{
		{"unknown charge", http.MethodPost, "/__sim/charges/999/process", `{"outcome":"success"}`, http.StatusNotFound},
		{"not a number", http.MethodPost, "/__sim/charges/abc/process", `{"outcome":"success"}`, http.StatusNotFound},
		{"other action", http.MethodPost, fmt.Sprintf("/__sim/charges/%d/refund", ch.ID), `{}`, http.StatusNotFound},
		{"GET", http.MethodGet, fmt.Sprintf("/__sim/charges/%d/process", ch.ID), "", http.StatusMethodNotAllowed},
		{"no outcome", http.MethodPost, fmt.Sprintf("/__sim/charges/%d/process", ch.ID), `{}`, http.StatusUnprocessableEntity},
		{"bad outcome", http.MethodPost, fmt.Sprintf("/__sim/charges/%d/process", ch.ID), `{"outcome":"maybe"}`, http.StatusUnprocessableEntity},
		{"bad error type", http.MethodPost, fmt.Sprintf("/__sim/charges/%d/process", ch.ID), `{"outcome":"error","error_type":"declined"}`, http.StatusUnprocessableEntity},
		{"max retries is not a cause", http.MethodPost, fmt.Sprintf("/__sim/charges/%d/process", ch.ID), `{"outcome":"error","error_type":"CLOSED_MAX_RETRIES_REACHED"}`, http.StatusUnprocessableEntity},
		{"not JSON", http.MethodPost, fmt.Sprintf("/__sim/charges/%d/process", ch.ID), `outcome=success`, http.StatusBadRequest},
	}
	before := h.sim.Stats().Requests
	for _, tc := range tests {
		if r := h.do(tc.method, tc.path, tc.body); r.status != tc.want {
			t.Errorf("%s: %s %s = %d %s, want %d", tc.name, tc.method, tc.path, r.status, r.body, tc.want)
		}
	}
	if st := h.sim.Stats(); st.Requests != before {
		t.Errorf("control calls counted as API requests: %+v", st)
	}
	if again := h.charges(fmt.Sprintf("ids=%d", ch.ID)); again[0].Status != "queued" {
		t.Errorf("refused calls changed the charge: %q", again[0].Status)
	}
}

func TestProcessChargeWebhooks(t *testing.T) {
	t.Parallel()
	url, hooks := receiver(t, 0)
	h := newHarness(t, Config{WebhookURL: url, WebhookSecret: testSecret}, DemoSeed())
	ch := h.charges(fmt.Sprintf("customer_id=%d&status=queued&sort_by=scheduled_at-asc", DemoAlexRiveraID))[0]

	h.mustProcess(int64(ch.ID), `{"outcome":"error","error_type":"CARD_DECLINED"}`)
	failed := next(t, hooks)
	verify(t, failed)
	var body struct{ Charge *recharge.Charge }
	decodeInto(t, failed.body, &body)
	if failed.topic != "charge/failed" || body.Charge.ID != ch.ID || body.Charge.ErrorType != "CARD_DECLINED" || body.Charge.RetryDate.IsZero() {
		t.Errorf("first webhook %s: %+v", failed.topic, body.Charge)
	}
	if cu := next(t, hooks); cu.topic != "customer/updated" || !strings.Contains(string(cu.body), `"has_payment_method_in_dunning":true`) {
		t.Errorf("second webhook %s %s", cu.topic, cu.body)
	}

	h.mustProcess(int64(ch.ID), `{"outcome":"success"}`)
	var topics []string
	for len(topics) < 4 {
		hk := next(t, hooks)
		verify(t, hk)
		topics = append(topics, hk.topic)
		if hk.topic == "order/created" {
			var o struct {
				Order struct {
					Charge struct {
						ID int64 `json:"id"`
					} `json:"charge"`
				} `json:"order"`
			}
			decodeInto(t, hk.body, &o)
			if o.Order.Charge.ID != int64(ch.ID) {
				t.Errorf("order/created for charge %d, want %d", o.Order.Charge.ID, ch.ID)
			}
		}
	}
	want := []string{"charge/paid", "order/created", "charge/created", "subscription/updated"}
	if !slices.Equal(topics, want) {
		t.Errorf("topics after success %v, want %v", topics, want)
	}
}

func TestPaymentMethods(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{}, DemoSeed())
	r := h.mustGet(fmt.Sprintf("/payment_methods?customer_id=%d", DemoNextShipmentID))
	var list struct {
		NextCursor     *string                   `json:"next_cursor"`
		PaymentMethods []*recharge.PaymentMethod `json:"payment_methods"`
	}
	decodeInto(t, r.body, &list)
	if len(list.PaymentMethods) != 1 {
		t.Fatalf("%d payment methods, want 1", len(list.PaymentMethods))
	}
	pm := list.PaymentMethods[0]
	exp := refTime.AddDate(0, 1, 0)
	if !bool(pm.Default) || pm.PaymentType != "CREDIT_CARD" || pm.ProcessorName != "stripe" || pm.PaymentDetails == nil ||
		pm.PaymentDetails.Brand != "visa" || pm.PaymentDetails.Last4 != "4242" ||
		int(pm.PaymentDetails.ExpMonth) != int(exp.Month()) || int(pm.PaymentDetails.ExpYear) != exp.Year() {
		t.Errorf("Jamie's card: %+v %+v", pm, pm.PaymentDetails)
	}
	// Recharge's shape carries the processor tokens: the client must drop
	// them, so the simulator sends them.
	raw := mustDecode(t, r.body)["payment_methods"].([]any)[0].(obj)
	for _, k := range []string{"processor_customer_token", "processor_payment_method_token"} {
		if v, _ := raw[k].(string); !strings.Contains(v, "_simtok") {
			t.Errorf("%s = %v", k, raw[k])
		}
	}
	// The addresses point to the method, and include=payment_methods
	// embeds it.
	addr := mustDecode(t, h.mustGet(fmt.Sprintf("/addresses?customer_id=%d", DemoNextShipmentID)).body)["addresses"].([]any)[0].(obj)
	if idOf(t, addr["payment_method_id"]) != int64(pm.ID) {
		t.Errorf("address payment_method_id %v, want %d", addr["payment_method_id"], pm.ID)
	}
	var cust struct{ Customer *recharge.Customer }
	decodeInto(t, h.mustGet(fmt.Sprintf("/customers/%d?include=addresses,payment_methods", DemoNextShipmentID)).body, &cust)
	if cust.Customer.Include == nil || len(cust.Customer.Include.PaymentMethods) != 1 || cust.Customer.Include.PaymentMethods[0].ID != pm.ID || len(cust.Customer.Include.Addresses) != 1 {
		t.Errorf("include: %+v", cust.Customer.Include)
	}
	one := h.mustGet(fmt.Sprintf("/payment_methods/%d", pm.ID))
	if idOf(t, mustDecode(t, one.body)["payment_method"].(obj)["id"]) != int64(pm.ID) {
		t.Errorf("GET /payment_methods/%d = %s", pm.ID, one.body)
	}

	// POST /payment_methods adds a default method; the old one stops being
	// the default.
	body := fmt.Sprintf(`{"customer_id":%d,"default":true,"payment_type":"CREDIT_CARD","processor_name":"stripe",
		"processor_customer_token":"cus_new","processor_payment_method_token":"pm_new",
		"payment_details":{"brand":"amex","exp_month":9,"exp_year":2029,"last4":"0005"}}`, DemoNextShipmentID)
	var created struct {
		PaymentMethod *recharge.PaymentMethod `json:"payment_method"`
	}
	decodeInto(t, h.mustDo(http.StatusCreated, http.MethodPost, "/payment_methods", body).body, &created)
	if !bool(created.PaymentMethod.Default) || created.PaymentMethod.PaymentDetails.Brand != "amex" {
		t.Errorf("created %+v", created.PaymentMethod)
	}
	decodeInto(t, h.mustGet(fmt.Sprintf("/payment_methods?customer_id=%d", DemoNextShipmentID)).body, &list)
	defaults := 0
	for _, m := range list.PaymentMethods {
		if m.Default {
			defaults++
		}
	}
	if len(list.PaymentMethods) != 2 || defaults != 1 || list.PaymentMethods[0].ID != created.PaymentMethod.ID {
		t.Errorf("after POST: %d methods, %d defaults", len(list.PaymentMethods), defaults)
	}
	evs := h.events(DemoNextShipmentID)
	if evs[0].Verb != "payment_method_updated" || evs[0].Source.Origin != OriginAPI || evs[0].Source.APITokenName == nil || *evs[0].Source.APITokenName != TokenName {
		t.Errorf("event of POST /payment_methods: %+v", evs[0])
	}

	for _, tc := range []struct{ body, field string }{
		{`{}`, "customer_id"},
		{`{"customer_id":183940032,"payment_type":"CHEQUE","processor_name":"stripe","processor_customer_token":"c","processor_payment_method_token":"p"}`, "payment_type"},
		{`{"customer_id":183940032,"payment_type":"PAYPAL","processor_name":"acme","processor_customer_token":"c","processor_payment_method_token":"p"}`, "processor_name"},
		{`{"customer_id":183940032,"payment_type":"PAYPAL","processor_name":"stripe","processor_customer_token":" ","processor_payment_method_token":"p"}`, "processor_customer_token"},
		{`{"customer_id":99,"payment_type":"PAYPAL","processor_name":"stripe","processor_customer_token":"c","processor_payment_method_token":"p"}`, "customer_id"},
	} {
		r := h.mustDo(http.StatusUnprocessableEntity, http.MethodPost, "/payment_methods", tc.body)
		if _, ok := mustDecode(t, r.body)["errors"].(obj)[tc.field]; !ok {
			t.Errorf("POST %s: errors %s, want %s", tc.body, r.body, tc.field)
		}
	}

	// Without the scopes, 403.
	ro := newHarness(t, Config{Scopes: []string{"read_customers"}}, DemoSeed())
	if r := ro.get("/payment_methods?customer_id=183940032"); r.status != http.StatusForbidden {
		t.Errorf("GET without read_payment_methods = %d", r.status)
	}
	if r := ro.do(http.MethodPost, "/payment_methods", body); r.status != http.StatusForbidden {
		t.Errorf("POST without write_payment_methods = %d", r.status)
	}
	if r := ro.get("/events?customer_id=183940032"); r.status != http.StatusForbidden {
		t.Errorf("GET /events without read_events = %d", r.status)
	}
}

func TestEventsOfActions(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{}, DemoSeed())
	before := h.events(DemoAlexRiveraID)
	h.mustDo(http.StatusOK, http.MethodPost, fmt.Sprintf("/subscriptions/%d/cancel", DemoAlexDogTeeID), `{"cancellation_reason":"Too expensive"}`)
	ch := h.charges(fmt.Sprintf("purchase_item_id=%d&status=queued", DemoAlexChewsID))[0]
	h.mustDo(http.StatusOK, http.MethodPost, fmt.Sprintf("/charges/%d/skip", ch.ID), fmt.Sprintf(`{"purchase_item_ids":[%d]}`, DemoAlexChewsID))
	evs := h.events(DemoAlexRiveraID)
	added := evs[:len(evs)-len(before)]
	var got []string
	for _, e := range added {
		got = append(got, e.ObjectType+"/"+e.Verb)
		if e.Source.Origin != OriginAPI || e.Source.APITokenName == nil || *e.Source.APITokenName != TokenName || e.CustomerID != DemoAlexRiveraID {
			t.Errorf("event %+v", e)
		}
	}
	// Newest first; regenerated charges are not on the timeline.
	want := []string{"subscription/skipped", "subscription/cancelled"}
	if !slices.Equal(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}
	if added[len(added)-1].ObjectID != DemoAlexDogTeeID || !strings.HasPrefix(added[len(added)-1].Description, "Cancelled subscription #") {
		t.Errorf("cancel event %+v", added[len(added)-1])
	}
	for i := 1; i < len(evs); i++ {
		if evs[i].ID >= evs[i-1].ID {
			t.Fatalf("events not newest first: %d after %d", evs[i].ID, evs[i-1].ID)
		}
	}
	// Filters.
	var only struct{ Events []testEvent }
	decodeInto(t, h.mustGet(fmt.Sprintf("/events?customer_id=%d&object_type=subscription&object_id=%d", DemoAlexRiveraID, DemoAlexDogTeeID)).body, &only)
	for _, e := range only.Events {
		if e.ObjectID != DemoAlexDogTeeID || e.ObjectType != "subscription" {
			t.Errorf("filtered event %+v", e)
		}
	}
	if len(only.Events) < 2 {
		t.Errorf("%d events of the subscription, want its creation and cancellation", len(only.Events))
	}
	if r := h.get("/events?sort_by=created_at-asc"); r.status != http.StatusUnprocessableEntity {
		t.Errorf("sort_by on events = %d, want 422 (no sort_by on events)", r.status)
	}
}

func TestDemoWholePicture(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{}, DemoSeed())

	// Riley Brooks: a failing payment with a retry date, in dunning.
	failing := h.charges(fmt.Sprintf("customer_id=%d&status=error", DemoFailingPaymentID))
	if len(failing) != 1 {
		t.Fatalf("%d error charges for Riley, want 1", len(failing))
	}
	f := failing[0]
	raw := mustDecode(t, h.mustGet(fmt.Sprintf("/charges/%d", f.ID)).body)["charge"].(obj)
	if f.ErrorType != "CARD_DECLINED" || f.Error == "" || idOf(t, raw["charge_attempts"]) != 2 || f.RetryDate.IsZero() ||
		f.RetryDate.String() <= refTime.Format(dateLayout) || f.ScheduledAt.String() >= refTime.Format(dateLayout) {
		t.Errorf("Riley's failing charge: %q %q attempts %v retry %v scheduled %v", f.ErrorType, f.Error, raw["charge_attempts"], f.RetryDate, f.ScheduledAt)
	}
	if h.customerFlags(DemoFailingPaymentID)["has_payment_method_in_dunning"] != true {
		t.Error("Riley is not in dunning")
	}
	if q := h.charges(fmt.Sprintf("customer_id=%d&status=queued", DemoFailingPaymentID)); len(q) != 1 || q[0].AddressID == f.AddressID {
		t.Errorf("Riley's healthy charge: %v", q)
	}
	riley := h.events(DemoFailingPaymentID)
	if riley[0].Verb != "failed" || riley[0].Source.Origin != OriginRecharge {
		t.Errorf("Riley's latest event %+v", riley[0])
	}

	// Jamie Park: a multi-line next shipment with a discount and a one-time
	// product, and a line skipped on the same date.
	next := h.charges(fmt.Sprintf("customer_id=%d&status=queued&sort_by=scheduled_at-asc", DemoNextShipmentID))[0]
	var kinds []string
	for _, li := range next.LineItems {
		kinds = append(kinds, li.PurchaseItemType)
	}
	slices.Sort(kinds)
	if !slices.Equal(kinds, []string{"onetime", "subscription", "subscription"}) {
		t.Errorf("Jamie's next shipment lines %v", kinds)
	}
	nd := mustDecode(t, h.mustGet(fmt.Sprintf("/charges/%d", next.ID)).body)["charge"].(obj)
	ds := nd["discounts"].([]any)
	if len(ds) != 1 || ds[0].(obj)["code"] != "WELCOME10" || ds[0].(obj)["value_type"] != "percentage" {
		t.Errorf("discounts %v", ds)
	}
	// 16.99 + 2 x 12.50 + 14.00 = 55.99; 10 % = 5.60; free shipping from 50.
	if next.SubtotalPrice != "55.99" || next.TotalDiscounts != "5.60" || next.TotalPrice != "50.39" {
		t.Errorf("totals: subtotal %v discounts %v total %v", next.SubtotalPrice, next.TotalDiscounts, next.TotalPrice)
	}
	skipped := h.charges(fmt.Sprintf("customer_id=%d&status=skipped", DemoNextShipmentID))
	if len(skipped) != 1 || skipped[0].ScheduledAt != next.ScheduledAt || len(skipped[0].LineItems) != 1 || skipped[0].LineItems[0].Title != "Merino Wool Socks 3-Pack" {
		t.Errorf("Jamie's skipped line: %+v", skipped)
	}
	jamie := h.events(DemoNextShipmentID)
	origins := map[string]bool{}
	for _, e := range jamie {
		origins[e.Source.Origin+" "+e.Verb] = true
	}
	for _, k := range []string{"portal skipped", "merchant updated", "portal created", "recharge paid"} {
		if !origins[k] {
			t.Errorf("Jamie's timeline has no %q event: %v", k, origins)
		}
	}

	// Timelines and orders page with cursors like every list.
	if paged := h.collect(fmt.Sprintf("/events?customer_id=%d&limit=2", DemoNextShipmentID), "events"); len(paged) != len(jamie) {
		t.Errorf("%d events in pages of 2, want %d", len(paged), len(jamie))
	}
	orders := h.collect(fmt.Sprintf("/orders?customer_id=%d&limit=2", DemoNextShipmentID), "orders")
	if success := h.charges(fmt.Sprintf("customer_id=%d&status=success&limit=250", DemoNextShipmentID)); len(orders) != len(success) || len(orders) == 0 {
		t.Errorf("%d orders in pages of 2, want one per processed charge (%d)", len(orders), len(success))
	}

	// Every seeded customer has a default card that has not expired.
	var pms struct {
		PaymentMethods []*recharge.PaymentMethod `json:"payment_methods"`
	}
	decodeInto(t, h.mustGet("/payment_methods?limit=250").body, &pms)
	if len(pms.PaymentMethods) != 32 {
		t.Errorf("%d payment methods, want one per demo customer", len(pms.PaymentMethods))
	}
	for _, pm := range pms.PaymentMethods {
		d := pm.PaymentDetails
		if !bool(pm.Default) || d == nil || int(d.ExpYear)*12+int(d.ExpMonth) < refTime.Year()*12+int(refTime.Month()) {
			t.Errorf("payment method %d: %+v", pm.ID, d)
		}
	}
	// Alex keeps his cases: no error, no discount, no skipped charge.
	for _, st := range []string{"error", "skipped"} {
		if got := h.charges(fmt.Sprintf("customer_id=%d&status=%s", DemoAlexRiveraID, st)); len(got) != 0 {
			t.Errorf("Alex has %d %s charges", len(got), st)
		}
	}
}

func TestDiscountCents(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		ds        []discountJSON
		sub, ship int64
		want      int64
	}{
		{"none", nil, 5000, 490, 0},
		{"percentage rounds half up", []discountJSON{{Value: "10.00", ValueType: "percentage"}}, 5599, 0, 560},
		{"fixed amount", []discountJSON{{Value: "5.00", ValueType: "fixed_amount"}}, 2000, 490, 500},
		{"fixed amount at most the subtotal", []discountJSON{{Value: "50.00", ValueType: "fixed_amount"}}, 2000, 490, 2000},
		{"free shipping", []discountJSON{{Value: "100", ValueType: "shipping"}}, 2000, 490, 490},
		{"bad value", []discountJSON{{Value: "ten", ValueType: "percentage"}}, 2000, 490, 0},
	}
	for _, tc := range tests {
		if got := discountCents(tc.ds, tc.sub, tc.ship); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestChargeDiscounts(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{}, DemoSeed())
	ch := h.charges(fmt.Sprintf("purchase_item_id=%d&status=queued", DemoAlexDogTeeID))[0]
	if ch.TotalDiscounts != "0.00" {
		t.Fatalf("Alex's charge starts with discounts %v", ch.TotalDiscounts)
	}
	path := func(action string) string { return fmt.Sprintf("/charges/%d/%s", ch.ID, action) }
	var got struct{ Charge *recharge.Charge }
	decodeInto(t, h.mustDo(http.StatusOK, http.MethodPost, path("apply_discount"), `{"discount_code":"save10"}`).body, &got)
	sub, _ := parseCents(string(ch.SubtotalPrice))
	total, _ := parseCents(string(ch.TotalPrice))
	disc := (sub*1000 + 5000) / 10000
	if string(got.Charge.TotalDiscounts) != formatCents(disc) || string(got.Charge.TotalPrice) != formatCents(total-disc) {
		t.Errorf("after SAVE10: discounts %v total %v, want %s and %s", got.Charge.TotalDiscounts, got.Charge.TotalPrice, formatCents(disc), formatCents(total-disc))
	}
	if r := mustDecode(t, h.mustGet(fmt.Sprintf("/charges?discount_code=SAVE10&customer_id=%d", DemoAlexRiveraID)).body)["charges"].([]any); len(r) != 1 {
		t.Errorf("discount_code filter found %d charges", len(r))
	}
	for _, body := range []string{`{"discount_code":"SAVE10"}`, `{"discount_code":"NOPE"}`, `{}`} {
		h.mustDo(http.StatusUnprocessableEntity, http.MethodPost, path("apply_discount"), body)
	}
	ev := h.events(DemoAlexRiveraID)[0]
	if ev.Verb != "discount_applied" || ev.ObjectID != int64(ch.ID) || ev.Source.Origin != OriginAPI {
		t.Errorf("event %+v", ev)
	}
	decodeInto(t, h.mustDo(http.StatusOK, http.MethodPost, path("remove_discount"), `{}`).body, &got)
	if got.Charge.TotalPrice != ch.TotalPrice || got.Charge.TotalDiscounts != "0.00" {
		t.Errorf("after remove: total %v discounts %v", got.Charge.TotalPrice, got.Charge.TotalDiscounts)
	}
	h.mustDo(http.StatusUnprocessableEntity, http.MethodPost, path("remove_discount"), `{}`)

	// A charge discount is lost when the charge regenerates.
	h.mustDo(http.StatusOK, http.MethodPost, path("apply_discount"), `{"discount_code":"FREESHIP"}`)
	date := refTime.AddDate(0, 0, 20).Format(dateLayout)
	h.mustDo(http.StatusOK, http.MethodPost, fmt.Sprintf("/subscriptions/%d/set_next_charge_date", DemoAlexDogTeeID), `{"date":"`+date+`"}`)
	moved := h.charges(fmt.Sprintf("purchase_item_id=%d&status=queued", DemoAlexDogTeeID))[0]
	if moved.ID == ch.ID || moved.TotalDiscounts != "0.00" {
		t.Errorf("regenerated charge %d keeps discounts %v", moved.ID, moved.TotalDiscounts)
	}

	// The address discount of Jamie's shipment refuses another one.
	jamie := h.charges(fmt.Sprintf("customer_id=%d&status=queued&sort_by=scheduled_at-asc", DemoNextShipmentID))[0]
	h.mustDo(http.StatusUnprocessableEntity, http.MethodPost, fmt.Sprintf("/charges/%d/apply_discount", jamie.ID), `{"discount_code":"SAVE10"}`)
	if r := mustDecode(t, h.mustGet(fmt.Sprintf("/addresses?discount_code=welcome10&customer_id=%d", DemoNextShipmentID)).body)["addresses"].([]any); len(r) != 1 {
		t.Errorf("address discount_code filter found %d addresses", len(r))
	}
}

func TestDeletedCustomerLosesPaymentMethods(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{}, DemoSeed())
	h.mustDo(http.StatusNoContent, http.MethodDelete, fmt.Sprintf("/customers/%d", DemoNextShipmentID), "")
	if got := mustDecode(t, h.mustGet(fmt.Sprintf("/payment_methods?customer_id=%d", DemoNextShipmentID)).body)["payment_methods"].([]any); len(got) != 0 {
		t.Errorf("%d payment methods left", len(got))
	}
	if evs := h.events(DemoNextShipmentID); evs[0].Verb != "deleted" || evs[0].ObjectType != "customer" {
		t.Errorf("latest event %+v", evs[0])
	}
	// Loading a customer again replaces its card and timeline.
	h.sim.Load(DemoSeed())
	if got := mustDecode(t, h.mustGet(fmt.Sprintf("/payment_methods?customer_id=%d", DemoAlexRiveraID)).body)["payment_methods"].([]any); len(got) != 1 {
		t.Errorf("%d payment methods for Alex after a second load, want 1", len(got))
	}
	if evs := h.events(DemoNextShipmentID); evs[0].Verb == "deleted" {
		t.Errorf("timeline kept across a reload: %+v", evs[0])
	}
}
