package rechargetest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestLeakyBucket(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{BucketSize: 40, LeakPerSecond: 2, Tokens: []string{"tok-a", "tok-b"}})
	for i := 1; i <= 40; i++ {
		r := h.get("/customers")
		if r.status != http.StatusOK {
			t.Fatalf("request %d: status %d", i, r.status)
		}
		if got, want := r.header.Get("X-Recharge-Limit"), fmt.Sprintf("%d/40", i); got != want {
			t.Fatalf("request %d: X-Recharge-Limit = %q, want %q", i, got, want)
		}
	}
	r := h.get("/customers")
	assertBody(t, r, http.StatusTooManyRequests, `{"errors":"Too many requests"}`)
	if r.header.Get("X-Recharge-Limit") != "40/40" || r.header.Get("Retry-After") != "" {
		t.Errorf("429 headers: limit %q, Retry-After %q", r.header.Get("X-Recharge-Limit"), r.header.Get("Retry-After"))
	}
	// Another token has its own bucket.
	if r := h.do("GET", "/customers", "", "X-Recharge-Access-Token", "tok-b"); r.status != 200 || r.header.Get("X-Recharge-Limit") != "1/40" {
		t.Errorf("second token: %d %q", r.status, r.header.Get("X-Recharge-Limit"))
	}
	// One second drains two requests.
	h.clock.Advance(time.Second)
	for i := range 2 {
		if r := h.get("/customers"); r.status != 200 {
			t.Fatalf("after 1s, request %d: %d", i, r.status)
		}
	}
	if r := h.get("/customers"); r.status != http.StatusTooManyRequests {
		t.Fatalf("third request after 1s: %d, want 429", r.status)
	}
	// Half a second drains one.
	h.clock.Advance(500 * time.Millisecond)
	if r := h.get("/customers"); r.status != 200 {
		t.Fatalf("after 0.5s: %d", r.status)
	}
	// Twenty seconds empty the bucket.
	h.clock.Advance(20 * time.Second)
	if r := h.get("/customers"); r.status != 200 || r.header.Get("X-Recharge-Limit") != "1/40" {
		t.Fatalf("after 20s: %d %q", r.status, r.header.Get("X-Recharge-Limit"))
	}
	st := h.sim.Stats()
	if st.RateLimited != 2 || st.ByStatus["429"] != 2 {
		t.Errorf("stats: RateLimited %d, 429s %d; want 2, 2", st.RateLimited, st.ByStatus["429"])
	}
	// Reset empties the buckets.
	for range 40 {
		h.get("/customers")
	}
	h.sim.Reset()
	if r := h.get("/customers"); r.status != 200 || r.header.Get("X-Recharge-Limit") != "1/40" {
		t.Errorf("after Reset: %d %q", r.status, r.header.Get("X-Recharge-Limit"))
	}
}

// A token with its own drain rate leaks at that rate; the others keep
// LeakPerSecond.
func TestTokenLeakRate(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{BucketSize: 40, LeakPerSecond: 2, Tokens: []string{"tok-a", "fast"},
		TokenLeakPerSecond: map[string]float64{"fast": 40}})
	for _, tok := range []string{"tok-a", "fast"} {
		for i := range 40 {
			if r := h.do("GET", "/customers", "", "X-Recharge-Access-Token", tok); r.status != 200 {
				t.Fatalf("%s: request %d: %d", tok, i+1, r.status)
			}
		}
	}
	// Half a second drains one request of tok-a's bucket, twenty of fast's.
	h.clock.Advance(500 * time.Millisecond)
	for _, tt := range []struct {
		token string
		room  int
	}{{"tok-a", 1}, {"fast", 20}} {
		for i := range tt.room {
			if r := h.do("GET", "/customers", "", "X-Recharge-Access-Token", tt.token); r.status != 200 {
				t.Fatalf("%s after 0.5s: request %d: %d", tt.token, i+1, r.status)
			}
		}
		r := h.do("GET", "/customers", "", "X-Recharge-Access-Token", tt.token)
		if r.status != http.StatusTooManyRequests || r.header.Get("X-Recharge-Limit") != "40/40" {
			t.Errorf("%s after 0.5s: request %d: %d %q, want 429 40/40", tt.token, tt.room+1, r.status, r.header.Get("X-Recharge-Limit"))
		}
	}
}

var microRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$`)

func TestCreateCancelActivate(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{}, DemoSeed())

	// Customers: email required and unique (case-insensitively), counts 0.
	assertBody(t, h.do("POST", "/customers", `{"first_name":"No","last_name":"Email"}`), 422, `{"errors":{"email":["Missing data for required field."]}}`)
	assertBody(t, h.do("POST", "/customers", `{"email":"Alex.Rivera@example.com"}`), 422, `{"errors":{"email":"email already exists on store"}}`)
	r := h.mustDo(201, "POST", "/customers", `{"email":"new.customer@example.com","first_name":"New","last_name":"Customer","phone":"+15550000001","external_customer_id":{"ecommerce":"999000111"}}`)
	cust := mustDecode(t, r.body)["customer"].(obj)
	custID := idOf(t, cust["id"])
	if custID <= 183940030 || cust["subscriptions_total_count"] != json.Number("0") || cust["subscriptions_active_count"] != json.Number("0") ||
		cust["external_customer_id"].(obj)["ecommerce"] != "999000111" || cust["created_at"] != "2025-03-01T12:00:00+00:00" {
		t.Fatalf("created customer = %s", r.body)
	}

	// Addresses: the _schema message lists the missing fields.
	assertBody(t, h.do("POST", "/addresses", `{}`), 422,
		`{"errors":{"_schema":["city, country_code, first_name, province, last_name, customer_id, address1 are required fields."]}}`)
	assertBody(t, h.do("POST", "/addresses", fmt.Sprintf(`{"customer_id":%d,"address1":"1 Main St","city":"Springfield","first_name":"New","last_name":"Customer"}`, custID)), 422,
		`{"errors":{"_schema":["country_code, province are required fields."]}}`)
	r = h.mustDo(201, "POST", "/addresses", fmt.Sprintf(`{"customer_id":%d,"address1":"1 Main St","city":"Springfield","country_code":"US","province":"Illinois","zip":"62701","first_name":"New","last_name":"Customer"}`, custID))
	addrID := idOf(t, mustDecode(t, r.body)["address"].(obj)["id"])

	// Subscriptions: required fields, no date in the past.
	assertBody(t, h.do("POST", "/subscriptions", fmt.Sprintf(`{"address_id":%d}`, addrID)), 422, `{"errors":{
		"charge_interval_frequency":["Missing data for required field."],"order_interval_frequency":["Missing data for required field."],
		"order_interval_unit":["Missing data for required field."],"next_charge_scheduled_at":["Missing data for required field."],
		"quantity":["Missing data for required field."],"external_variant_id":["Missing data for required field."]}}`)
	subBody := func(date string) string {
		return fmt.Sprintf(`{"address_id":%d,"charge_interval_frequency":1,"order_interval_frequency":1,"order_interval_unit":"month","next_charge_scheduled_at":%q,"quantity":2,"external_variant_id":{"ecommerce":"41845356495003"}}`, addrID, date)
	}
	assertBody(t, h.do("POST", "/subscriptions", subBody("2025-02-28")), 422, `{"errors":{"next_charge_scheduled_at":"Cannot be in the past"}}`)
	r = h.mustDo(201, "POST", "/subscriptions", subBody("2025-03-15"))
	sub := mustDecode(t, r.body)["subscription"].(obj)
	subID := idOf(t, sub["id"])
	want := obj{"status": "active", "product_title": "Dog Lovers T-Shirt", "variant_title": "Large / Heather Grey", "sku": "DOG-TEE-L",
		"price": "25.00", "next_charge_scheduled_at": "2025-03-15", "has_queued_charges": true, "presentment_currency": "USD", "quantity": json.Number("2")}
	for k, v := range want {
		if sub[k] != v {
			t.Errorf("created subscription %s = %v, want %v", k, sub[k], v)
		}
	}
	counts := func(total, active int) {
		t.Helper()
		c := mustDecode(t, h.mustGet(fmt.Sprintf("/customers/%d", custID)).body)["customer"].(obj)
		if c["subscriptions_total_count"] != json.Number(fmt.Sprint(total)) || c["subscriptions_active_count"] != json.Number(fmt.Sprint(active)) {
			t.Fatalf("counts = %v/%v, want %d/%d", c["subscriptions_total_count"], c["subscriptions_active_count"], total, active)
		}
	}
	counts(1, 1)

	// The new subscription has a queued charge whose line carries the
	// product image and SKU.
	queued := mustPage(t, h.mustGet(fmt.Sprintf("/charges?customer_id=%d&status=queued", custID)), "charges")
	if len(queued.items) != 1 {
		t.Fatalf("%d queued charges, want 1", len(queued.items))
	}
	li := queued.items[0]["line_items"].([]any)[0].(obj)
	if idOf(t, li["purchase_item_id"]) != subID || li["sku"] != "DOG-TEE-L" || li["purchase_item_type"] != "subscription" ||
		li["images"].(obj)["small"] != "https://cdn.example-store.com/products/dog-lovers-tee_small.png?v=1718035200" ||
		li["total_price"] != "50.00" || queued.items[0]["scheduled_at"] != "2025-03-15" || queued.items[0]["total_price"] != "50.00" {
		t.Errorf("queued charge = %v", queued.items[0])
	}

	// Cancel: a reason is required.
	h.clock.Advance(90*time.Minute + 123456*time.Microsecond)
	assertBody(t, h.do("POST", fmt.Sprintf("/subscriptions/%d/cancel", subID), `{"send_email":false}`), 422,
		`{"errors":{"cancellation_reason":["Missing data for required field."]}}`)
	r = h.mustDo(200, "POST", fmt.Sprintf("/subscriptions/%d/cancel", subID), `{"cancellation_reason":"Too many shirts","cancellation_reason_comments":"maybe later","send_email":true}`)
	sub = mustDecode(t, r.body)["subscription"].(obj)
	if sub["status"] != "cancelled" || sub["next_charge_scheduled_at"] != nil || sub["has_queued_charges"] != false ||
		sub["cancellation_reason"] != "Too many shirts" || sub["cancellation_reason_comments"] != "maybe later" ||
		sub["cancelled_at"] != "2025-03-01T13:30:00.123456+00:00" || !microRE.MatchString(sub["cancelled_at"].(string)) ||
		sub["updated_at"] != "2025-03-01T13:30:00+00:00" {
		t.Errorf("cancelled subscription = %s", r.body)
	}
	counts(1, 0)
	if n := len(mustPage(t, h.mustGet(fmt.Sprintf("/charges?customer_id=%d&status=queued", custID)), "charges").items); n != 0 {
		t.Errorf("%d queued charges after cancel, want 0", n)
	}
	c := mustDecode(t, h.mustGet(fmt.Sprintf("/customers/%d", custID)).body)["customer"].(obj)
	if c["updated_at"] != "2025-03-01T13:30:00+00:00" {
		t.Errorf("customer updated_at = %v, want the cancellation time", c["updated_at"])
	}
	assertBody(t, h.do("POST", fmt.Sprintf("/subscriptions/%d/cancel", subID), `{"cancellation_reason":"again"}`), 422,
		`{"errors":{"subscription":["item already set to cancelled"]}}`)

	// Activate reverses it; the next charge date comes back.
	h.clock.Advance(time.Hour)
	r = h.mustDo(200, "POST", fmt.Sprintf("/subscriptions/%d/activate", subID), `{}`)
	sub = mustDecode(t, r.body)["subscription"].(obj)
	if sub["status"] != "active" || sub["cancelled_at"] != nil || sub["cancellation_reason"] != nil || sub["cancellation_reason_comments"] != nil ||
		sub["next_charge_scheduled_at"] != "2025-03-15" || sub["has_queued_charges"] != true {
		t.Errorf("activated subscription = %s", r.body)
	}
	counts(1, 1)
	assertBody(t, h.do("POST", fmt.Sprintf("/subscriptions/%d/activate", subID), ``), 422,
		`{"errors":{"subscription":["item already set to active"]}}`)

	// Set the next charge date: not today or earlier; updated_at stays.
	before := sub["updated_at"]
	assertBody(t, h.do("POST", fmt.Sprintf("/subscriptions/%d/set_next_charge_date", subID), `{"date":"2025-03-01"}`), 422,
		`{"errors":{"date":["date is not far enough in the future"]}}`)
	r = h.mustDo(200, "POST", fmt.Sprintf("/subscriptions/%d/set_next_charge_date", subID), `{"date":"2025-04-02"}`)
	sub = mustDecode(t, r.body)["subscription"].(obj)
	if sub["next_charge_scheduled_at"] != "2025-04-02" || sub["updated_at"] != before {
		t.Errorf("after set_next_charge_date: next %v, updated_at %v (was %v)", sub["next_charge_scheduled_at"], sub["updated_at"], before)
	}
	queued = mustPage(t, h.mustGet(fmt.Sprintf("/charges?customer_id=%d&status=queued", custID)), "charges")
	if len(queued.items) != 1 || queued.items[0]["scheduled_at"] != "2025-04-02" {
		t.Errorf("queued charges after moving the date: %v", queued.items)
	}

	// Update: the interval rule, then a price change that reaches the
	// queued charge and bumps updated_at.
	assertBody(t, h.do("PUT", fmt.Sprintf("/subscriptions/%d", subID), `{"order_interval_unit":"week"}`), 422,
		`{"errors":{"charge_interval_unit_type":"when passing order_interval_unit provide charge_interval_frequency and order_interval_frequency to update the interval information"}}`)
	h.clock.Advance(time.Minute)
	r = h.mustDo(200, "PUT", fmt.Sprintf("/subscriptions/%d", subID), `{"price":"22.50","quantity":1}`)
	sub = mustDecode(t, r.body)["subscription"].(obj)
	if sub["price"] != "22.50" || sub["updated_at"] == before {
		t.Errorf("updated subscription = %s", r.body)
	}
	queued = mustPage(t, h.mustGet(fmt.Sprintf("/charges?customer_id=%d&status=queued", custID)), "charges")
	if queued.items[0]["subtotal_price"] != "22.50" || queued.items[0]["total_price"] != "27.40" {
		t.Errorf("queued charge after price change: subtotal %v total %v", queued.items[0]["subtotal_price"], queued.items[0]["total_price"])
	}

	// An address with an active subscription cannot be deleted.
	assertBody(t, h.do("DELETE", fmt.Sprintf("/addresses/%d", addrID), ""), 422, `{"errors":{"subscriptions":["Address has active subscriptions"]}}`)

	// Delete the subscription: 204, empty, counts follow, then the address goes.
	r = h.mustDo(204, "DELETE", fmt.Sprintf("/subscriptions/%d", subID), "")
	if len(r.body) != 0 {
		t.Errorf("204 body %q", r.body)
	}
	counts(0, 0)
	assertBody(t, h.get(fmt.Sprintf("/subscriptions/%d", subID)), 404, `{"errors":"Not Found"}`)
	h.mustDo(204, "DELETE", fmt.Sprintf("/addresses/%d", addrID), "")

	// Customer updates: names may not be empty; email stays unique.
	assertBody(t, h.do("PUT", fmt.Sprintf("/customers/%d", custID), `{"first_name":"","last_name":""}`), 422,
		`{"errors":{"first_name":["Shorter than minimum length 1."],"last_name":["Shorter than minimum length 1."]}}`)
	assertBody(t, h.do("PUT", fmt.Sprintf("/customers/%d", custID), `{"email":"sam.t@example.org"}`), 422, `{"errors":{"email":"email already exists on store"}}`)
	r = h.mustDo(200, "PUT", fmt.Sprintf("/customers/%d", custID), `{"email":"renamed@example.com","phone":null}`)
	c = mustDecode(t, r.body)["customer"].(obj)
	if c["email"] != "renamed@example.com" || c["phone"] != nil {
		t.Errorf("updated customer = %s", r.body)
	}
	if n := len(mustPage(t, h.mustGet("/customers?email=renamed%40example.com"), "customers").items); n != 1 {
		t.Errorf("search by the new email found %d", n)
	}
	h.mustDo(204, "DELETE", fmt.Sprintf("/customers/%d", custID), "")
	assertBody(t, h.get(fmt.Sprintf("/customers/%d", custID)), 404, `{"errors":"Not Found"}`)
}

func TestUpdateAddress(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{}, DemoSeed())
	assertBody(t, h.do("PUT", "/addresses/193760021", `{"address1":null}`), 422, `{"errors":{"address1":["Field may not be null."]}}`)
	h.clock.Advance(time.Minute)
	r := h.mustDo(200, "PUT", "/addresses/193760021", `{"address1":"200 Washington Street","zip":"90404"}`)
	a := mustDecode(t, r.body)["address"].(obj)
	if a["address1"] != "200 Washington Street" || a["updated_at"] != "2025-03-01T12:01:00+00:00" {
		t.Errorf("updated address = %s", r.body)
	}
	// The queued charge ships to the new address; processed ones do not change.
	for _, ch := range h.collect("/charges?customer_id=183940021", "charges") {
		got := ch["shipping_address"].(obj)["address1"]
		if ch["status"] == "queued" && got != "200 Washington Street" {
			t.Errorf("queued charge ships to %v", got)
		}
		if ch["status"] == "success" && got != "1456 Sunset Boulevard" {
			t.Errorf("processed charge ships to %v", got)
		}
	}
}

// alexQueued returns Alex Rivera's queued charge and its dog-tee line id.
func alexQueued(tb testing.TB, h *harness) (chargeID, subID int64) {
	tb.Helper()
	q := mustPage(tb, h.mustGet("/charges?customer_id=183940021&status=queued"), "charges")
	if len(q.items) != 1 {
		tb.Fatalf("Alex has %d queued charges, want 1", len(q.items))
	}
	// The T-Shirt shares the charge with the Dog Dental Chews.
	if got := lineIDs(tb, q.items[0]); !slices.Equal(got, []int64{DemoAlexDogTeeID, DemoAlexChewsID}) {
		tb.Fatalf("Alex's queued charge has lines %v, want the T-Shirt and the Chews", got)
	}
	return idOf(tb, q.items[0]["id"]), DemoAlexDogTeeID
}

func TestSkipUnskip(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{}, DemoSeed())
	chargeID, subID := alexQueued(t, h)
	skip := fmt.Sprintf("/charges/%d/skip", chargeID)
	unskip := fmt.Sprintf("/charges/%d/unskip", chargeID)
	body := fmt.Sprintf(`{"purchase_item_ids":[%d]}`, subID)

	assertBody(t, h.do("POST", unskip, body), 422, `{"errors":{"status":["Only charges with status skipped can be un-skipped"]}}`)
	assertBody(t, h.do("POST", skip, `{}`), 422, `{"errors":{"purchase_item_ids":["Missing data for required field."]}}`)
	assertBody(t, h.do("POST", skip, `{"purchase_item_ids":[585061940]}`), 422, `{"errors":{"purchase_item_ids":["Purchase item 585061940 is not part of this charge"]}}`)

	// The T-Shirt shares its charge with the Chews: skipping it alone
	// splits it onto a skipped charge of its own and the Chews stay queued.
	r := h.mustDo(200, "POST", skip, body)
	ch := mustDecode(t, r.body)["charge"].(obj)
	skippedID := idOf(t, ch["id"])
	if ch["status"] != "skipped" || skippedID == chargeID || ch["scheduled_at"] != "2025-03-06" || !slices.Equal(lineIDs(t, ch), []int64{subID}) {
		t.Fatalf("skipped charge = %v %v %v", ch["status"], ch["id"], ch["scheduled_at"])
	}
	skip = fmt.Sprintf("/charges/%d/skip", skippedID)
	unskip = fmt.Sprintf("/charges/%d/unskip", skippedID)
	sub := mustDecode(t, h.mustGet(fmt.Sprintf("/subscriptions/%d", subID)).body)["subscription"].(obj)
	if sub["next_charge_scheduled_at"] != "2025-04-06" || sub["has_queued_charges"] != true {
		t.Errorf("after skip: next %v, queued %v", sub["next_charge_scheduled_at"], sub["has_queued_charges"])
	}
	q := mustPage(t, h.mustGet("/charges?customer_id=183940021&status=queued&sort_by=scheduled_at-asc"), "charges")
	if len(q.items) != 2 || q.items[0]["scheduled_at"] != "2025-03-06" || !slices.Equal(lineIDs(t, q.items[0]), []int64{DemoAlexChewsID}) ||
		q.items[1]["scheduled_at"] != "2025-04-06" || !slices.Equal(lineIDs(t, q.items[1]), []int64{subID}) {
		t.Errorf("queued after skip: %v", q.items)
	}
	assertBody(t, h.do("POST", skip, body), 422, `{"errors":{"status":["Only charges with status queued and error can be skipped"]}}`)

	// Unskipped, the T-Shirt joins the Chews again on one charge, which
	// keeps the unskipped charge's id.
	r = h.mustDo(200, "POST", unskip, body)
	ch = mustDecode(t, r.body)["charge"].(obj)
	if ch["status"] != "queued" || idOf(t, ch["id"]) != skippedID || !slices.Equal(lineIDs(t, ch), []int64{subID, DemoAlexChewsID}) {
		t.Fatalf("unskipped charge = %v %v %v", ch["status"], ch["id"], lineIDs(t, ch))
	}
	sub = mustDecode(t, h.mustGet(fmt.Sprintf("/subscriptions/%d", subID)).body)["subscription"].(obj)
	if sub["next_charge_scheduled_at"] != "2025-03-06" {
		t.Errorf("after unskip: next %v", sub["next_charge_scheduled_at"])
	}
	q = mustPage(t, h.mustGet("/charges?customer_id=183940021&status=queued"), "charges")
	if len(q.items) != 1 || idOf(t, q.items[0]["id"]) != skippedID {
		t.Errorf("queued after unskip: %v", q.ids(t))
	}
	// A processed charge cannot be skipped.
	done := mustPage(t, h.mustGet("/charges?customer_id=183940021&status=success&limit=1"), "charges").items[0]
	assertBody(t, h.do("POST", fmt.Sprintf("/charges/%d/skip", idOf(t, done["id"])), body), 422,
		`{"errors":{"status":["Only charges with status queued and error can be skipped"]}}`)
}

func TestSkipOneOfMergedLines(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{}, DemoSeed())
	id := h.sim.AddCustomer(SeedCustomer{Email: "merged@example.com", FirstName: "Mer", LastName: "Ged",
		Subscriptions: []SeedSubscription{
			{VariantID: vTea, NextChargeInDays: 3},
			{VariantID: vRazor, NextChargeInDays: 3},
		}})
	q := mustPage(t, h.mustGet(fmt.Sprintf("/charges?customer_id=%d&status=queued", id)), "charges")
	if len(q.items) != 1 || len(q.items[0]["line_items"].([]any)) != 2 {
		t.Fatalf("want one queued charge with both lines, got %v", q.items)
	}
	merged := idOf(t, q.items[0]["id"])
	first := idOf(t, q.items[0]["line_items"].([]any)[0].(obj)["purchase_item_id"])
	r := h.mustDo(200, "POST", fmt.Sprintf("/charges/%d/skip", merged), fmt.Sprintf(`{"purchase_item_ids":[%d]}`, first))
	skipped := mustDecode(t, r.body)["charge"].(obj)
	if idOf(t, skipped["id"]) == merged || skipped["status"] != "skipped" || len(skipped["line_items"].([]any)) != 1 {
		t.Errorf("partial skip returned %v", skipped)
	}
	rest := mustDecode(t, h.mustGet(fmt.Sprintf("/charges/%d", merged)).body)["charge"].(obj)
	if rest["status"] != "queued" || len(rest["line_items"].([]any)) != 1 || rest["subtotal_price"] != "14.00" {
		t.Errorf("remaining charge = status %v, %d lines, subtotal %v", rest["status"], len(rest["line_items"].([]any)), rest["subtotal_price"])
	}
}

func TestProducts(t *testing.T) {
	t.Parallel()
	t.Run("shopify", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, Config{}, DemoSeed())
		platform := `{"errors":{"platform":["This API is not compatible with your platform"]}}`
		assertBody(t, h.get("/products"), 422, platform)
		assertBody(t, h.get("/products/7469727514801"), 422, platform)
		// Plans replace products on Shopify stores.
		plans := mustPage(t, h.mustGet("/plans?external_product_id=7469727514801"), "plans")
		if len(plans.items) != 1 || plans.items[0]["type"] != "subscription" {
			t.Errorf("plans = %v", plans.items)
		}
		if _, ok := plans.items[0]["images"]; ok {
			t.Error("plans carry no images")
		}
		pl := h.mustGet(fmt.Sprintf("/plans/%d", idOf(t, plans.items[0]["id"])))
		if keyOrder(t, pl.body)[0] != "plan" {
			t.Errorf("plan envelope %s", pl.body)
		}
	})
	t.Run("custom", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, Config{Platform: PlatformCustom}, DemoSeed())
		all := h.collect("/products?limit=5", "products")
		if len(all) != 13 {
			t.Fatalf("%d products, want 13", len(all))
		}
		r := h.mustGet("/products/7469727514801")
		p := mustDecode(t, r.body)["product"].(obj)
		if p["title"] != "Dog Lovers T-Shirt" || p["images"].([]any)[0].(obj)["original"] != "https://cdn.example-store.com/products/dog-lovers-tee.png?v=1718035200" {
			t.Errorf("product = %s", r.body)
		}
		var large obj
		for _, v := range p["variants"].([]any) {
			if v.(obj)["external_variant_id"] == "41845356495003" {
				large = v.(obj)
			}
		}
		if large == nil || large["sku"] != "DOG-TEE-L" || large["title"] != "Large / Heather Grey" ||
			large["prices"].(obj)["unit_price"] != "25.00" || large["image"].(obj)["small"] == nil {
			t.Errorf("variant = %v", large)
		}
		wantKeys := []string{"external_product_id", "brand", "description", "external_created_at", "external_updated_at", "images",
			"options", "published_at", "requires_shipping", "title", "variants", "vendor"}
		if diff := cmp.Diff(wantKeys, keyOrder(t, rawField(t, r.body, "product"))); diff != "" {
			t.Errorf("product keys (-want +got):\n%s", diff)
		}
		two := mustPage(t, h.mustGet("/products?external_product_ids=7469727514801,7451895464101"), "products")
		if len(two.items) != 2 {
			t.Errorf("filter by external_product_ids found %d", len(two.items))
		}
		assertBody(t, h.get("/products/0000"), 404, `{"errors":"Not Found"}`)
	})
	t.Run("seed sets the platform", func(t *testing.T) {
		t.Parallel()
		seed := DemoSeed()
		seed.Platform = PlatformCustom
		h := newHarness(t, Config{}, seed)
		h.mustGet("/products")
	})
}

func TestWebhookCRUD(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	r := h.do("POST", "/webhooks", `{"address":"https://example.com/hooks","topic":"subscription/exploded"}`)
	if r.status != 422 || mustDecode(t, r.body)["errors"].(obj)["topic"] == nil {
		t.Errorf("bad topic: %d %s", r.status, r.body)
	}
	assertBody(t, h.do("POST", "/webhooks", `{"topic":"subscription/updated"}`), 422, `{"errors":{"address":["Missing data for required field."]}}`)
	assertBody(t, h.do("POST", "/webhooks", `{"address":"ftp://example.com","topic":"subscription/updated"}`), 422, `{"errors":{"address":["Not a valid URL."]}}`)
	r = h.mustDo(201, "POST", "/webhooks", `{"address":"https://example.com/hooks","topic":"subscription/updated","included_objects":["customer"]}`)
	if diff := cmp.Diff([]string{"id", "address", "included_objects", "topic", "version"}, keyOrder(t, rawField(t, r.body, "webhook"))); diff != "" {
		t.Errorf("webhook keys (-want +got):\n%s", diff)
	}
	id := idOf(t, mustDecode(t, r.body)["webhook"].(obj)["id"])
	path := fmt.Sprintf("/webhooks/%d", id)
	assertBody(t, h.mustGet(path), 200, fmt.Sprintf(`{"webhook":{"id":%d,"address":"https://example.com/hooks","included_objects":["customer"],"topic":"subscription/updated","version":"2021-11"}}`, id))
	h.mustDo(200, "PUT", path, `{"topic":"customer/updated"}`)
	if got := mustPage(t, h.mustGet("/webhooks?topic=customer%2Fupdated"), "webhooks").ids(t); len(got) != 1 || got[0] != id {
		t.Errorf("webhooks for customer/updated = %v", got)
	}
	h.mustDo(204, "DELETE", path, "")
	assertBody(t, h.get(path), 404, `{"errors":"Not Found"}`)
}

func TestDeliverySchedule(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{}, DemoSeed())
	r := h.mustGet("/customers/183940021/delivery_schedule")
	if diff := cmp.Diff([]string{"customer", "deliveries"}, keyOrder(t, r.body)); diff != "" {
		t.Errorf("keys (-want +got):\n%s", diff)
	}
	ds := mustDecode(t, r.body)
	deliveries := ds["deliveries"].([]any)
	// Alex's monthly tee: 2025-03-06, 04-06 and 05-06 within 90 days.
	var dates []string
	for _, d := range deliveries {
		dates = append(dates, d.(obj)["date"].(string))
	}
	if diff := cmp.Diff([]string{"2025-03-06", "2025-04-06", "2025-05-06"}, dates); diff != "" {
		t.Errorf("dates (-want +got):\n%s", diff)
	}
	first := deliveries[0].(obj)["orders"].([]any)[0].(obj)
	chargeID, subID := alexQueued(t, h)
	if idOf(t, first["charge_id"]) != chargeID || first["id"] != nil {
		t.Errorf("first order = %v", first)
	}
	lines := first["line_items"].([]any)
	i := slices.IndexFunc(lines, func(l any) bool { return idOf(t, l.(obj)["subscription_id"]) == subID })
	if len(lines) != 2 || i < 0 {
		t.Fatalf("first order lines = %v, want the T-Shirt and the Chews", lines)
	}
	if li := lines[i].(obj); li["product_title"] != "Dog Lovers T-Shirt" || li["subtotal_price"] != "25.00" {
		t.Errorf("line = %v", li)
	}
	if second := deliveries[1].(obj)["orders"].([]any)[0].(obj); second["charge_id"] != nil {
		t.Errorf("projected order has charge %v", second["charge_id"])
	}
	if fx := fixturesDirOrEmpty(t); fx != "" {
		want := readFile(t, fx+"/rechargesharp/Customers/get-customer-delivery-schedules_200_customer-has-a-schedule.json")
		sameShape(t, "delivery_schedule", want, r.body, true) // a 2022 capture
	}
	assertBody(t, h.mustGet("/customers/183940003/delivery_schedule"), 200,
		`{"customer":{"id":183940003,"email":"jordan.lee@example.com","first_name":"Jordan","last_name":"Lee"},"deliveries":[]}`)
	assertBody(t, h.get("/customers/1/delivery_schedule"), 404, `{"errors":"Not Found"}`)
}

func TestSubscriptionBounds(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{}, DemoSeed())
	tests := []struct{ body, want string }{
		{`{"quantity":0}`, `{"errors":{"quantity":["Must be greater than or equal to 1 and less than or equal to 100000."]}}`},
		{`{"quantity":1000000000000}`, `{"errors":{"quantity":["Must be greater than or equal to 1 and less than or equal to 100000."]}}`},
		{`{"quantity":"two"}`, `{"errors":{"quantity":["Not a valid integer."]}}`},
		{`{"price":"-1.00"}`, `{"errors":{"price":["Not a valid number."]}}`},
		{`{"price":"1.999"}`, `{"errors":{"price":["Not a valid number."]}}`},
		{`{"order_interval_unit":"fortnight","charge_interval_frequency":1,"order_interval_frequency":1}`, `{"errors":{"order_interval_unit":["Must be one of: day, week, month."]}}`},
		{`{"order_interval_unit":"day","charge_interval_frequency":5000,"order_interval_frequency":1}`, `{"errors":{"charge_interval_frequency":["Must be greater than or equal to 1 and less than or equal to 1000."]}}`},
		{`{"address_id":193760001}`, `{"errors":{"address_id":["Address not found."]}}`},
		{`{"next_charge_scheduled_at":"2020-01-01"}`, `{"errors":{"next_charge_scheduled_at":"Cannot be in the past"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			assertBody(t, h.do("PUT", "/subscriptions/585062092", tt.body), 422, tt.want)
		})
	}
	// Accepted forms: a numeric price, a quantity as a string, a plural unit.
	r := h.mustDo(200, "PUT", "/subscriptions/585062092", `{"price":30,"quantity":"2","order_interval_unit":"Weeks","charge_interval_frequency":2,"order_interval_frequency":2}`)
	sub := mustDecode(t, r.body)["subscription"].(obj)
	if sub["price"] != "30.00" || sub["quantity"] != json.Number("2") || sub["order_interval_unit"] != "week" {
		t.Errorf("updated = %s", r.body)
	}
}
