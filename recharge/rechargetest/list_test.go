package rechargetest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestListDefaultOrderAndSort(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{}, DemoSeed())
	tests := []struct {
		name, path, plural, field string
		desc                      bool
	}{
		{"default is id desc", "/subscriptions?customer_id=183940011", "subscriptions", "id", true},
		{"id-asc", "/subscriptions?customer_id=183940011&sort_by=id-asc", "subscriptions", "id", false},
		{"created_at-asc", "/subscriptions?customer_id=183940011&sort_by=created_at-asc", "subscriptions", "created_at", false},
		{"created_at-desc", "/subscriptions?customer_id=183940011&sort_by=created_at-desc", "subscriptions", "created_at", true},
		{"updated_at-desc", "/subscriptions?customer_id=183940011&sort_by=updated_at-desc", "subscriptions", "updated_at", true},
		{"customers by created_at", "/customers?sort_by=created_at-asc&limit=250", "customers", "created_at", false},
		{"customers default", "/customers?limit=250", "customers", "id", true},
		{"charges by scheduled_at", "/charges?customer_id=183940021&sort_by=scheduled_at-asc", "charges", "scheduled_at", false},
		{"charges by scheduled_at desc", "/charges?customer_id=183940005&sort_by=scheduled_at-desc&limit=250", "charges", "scheduled_at", true},
		{"addresses default", "/addresses?limit=250", "addresses", "id", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustPage(t, h.mustGet(tt.path), tt.plural)
			if len(p.items) < 2 {
				t.Fatalf("only %d items; the test needs at least 2", len(p.items))
			}
			key := func(it obj) string {
				if tt.field == "id" {
					return fmt.Sprintf("%020d", idOf(t, it["id"]))
				}
				return it[tt.field].(string) + fmt.Sprintf("|%020d", idOf(t, it["id"]))
			}
			for i := 1; i < len(p.items); i++ {
				a, b := key(p.items[i-1]), key(p.items[i])
				if (tt.desc && a < b) || (!tt.desc && a > b) {
					t.Fatalf("items %d and %d out of order: %s then %s", i-1, i, a, b)
				}
			}
		})
	}
	assertBody(t, h.get("/subscriptions?sort_by=price-asc"), 422,
		`{"errors":{"sort_by":["Must be one of: id-asc, id-desc, created_at-asc, created_at-desc, updated_at-asc, updated_at-desc."]}}`)
}

// TestFilters checks every list filter against the same predicate applied,
// in the test, to the unfiltered list: the simulator must return exactly the
// matching objects.
func TestFilters(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{}, DemoSeed())
	// Something updated "later" than the rest, for updated_at ranges.
	h.clock.Advance(time.Hour)
	h.mustDo(200, "PUT", "/customers/183940010", `{"first_name":"Noah J."}`)
	h.mustDo(200, "POST", "/subscriptions/585062092/cancel", `{"cancellation_reason":"testing filters"}`)
	later := refTime.Add(30 * time.Minute).Format(time.RFC3339)

	num := func(v any) int64 { return idOf(t, v) }
	str := func(v any) string { s, _ := v.(string); return s }
	ecomOf := func(v any) string { m, _ := v.(obj); return str(m["ecommerce"]) }
	all := map[string][]obj{
		"customers":     h.collect("/customers?limit=250", "customers"),
		"subscriptions": h.collect("/subscriptions?limit=250", "subscriptions"),
		"charges":       h.collect("/charges?limit=250", "charges"),
		"addresses":     h.collect("/addresses?limit=250", "addresses"),
	}
	// A processed charge, so that it has an external order id.
	var someCharge obj
	for _, ch := range all["charges"] {
		if ch["status"] == "success" {
			someCharge = ch
			break
		}
	}
	tests := []struct {
		name   string
		plural string
		query  string
		match  func(o obj) bool
	}{
		{"email exact", "customers", "email=alex.rivera%40example.com", func(o obj) bool { return o["email"] == "alex.rivera@example.com" }},
		{"email is case-insensitive", "customers", "email=DANA.WHITFIELD%40example.COM", func(o obj) bool { return strings.EqualFold(str(o["email"]), "dana.whitfield@example.com") }},
		{"email without match", "customers", "email=nobody%40example.com", func(o obj) bool { return false }},
		{"external_customer_id", "customers", "external_customer_id=7923224739991", func(o obj) bool { return ecomOf(o["external_customer_id"]) == "7923224739991" }},
		{"customer ids", "customers", "ids=183940001,183940021,999", func(o obj) bool { n := num(o["id"]); return n == 183940001 || n == 183940021 }},
		{"customers updated after", "customers", "updated_at_min=" + url.QueryEscape(later), func(o obj) bool { return str(o["updated_at"]) >= "2025-03-01T12:30:00+00:00" }},
		{"customers created before", "customers", "created_at_max=2024-12-01", func(o obj) bool { return str(o["created_at"]) <= "2024-12-01T00:00:00+00:00" }},
		{"subscriptions of a customer", "subscriptions", "customer_id=183940011", func(o obj) bool { return num(o["customer_id"]) == 183940011 }},
		{"subscriptions of an address", "subscriptions", "address_id=193760020", func(o obj) bool { return num(o["address_id"]) == 193760020 }},
		{"subscriptions of addresses", "subscriptions", "address_ids=193760019,193760020", func(o obj) bool { n := num(o["address_id"]); return n == 193760019 || n == 193760020 }},
		{"subscription ids", "subscriptions", "ids=585062092,585062093,5848500122", func(o obj) bool { n := num(o["id"]); return n == 585062092 || n == 585062093 }},
		{"status active", "subscriptions", "status=active", func(o obj) bool { return o["status"] == "active" }},
		{"status is case-insensitive", "subscriptions", "status=CANCELLED", func(o obj) bool { return o["status"] == "cancelled" }},
		{"status expired", "subscriptions", "status=expired", func(o obj) bool { return o["status"] == "expired" }},
		{"external_variant_id", "subscriptions", "external_variant_id=41845356495003", func(o obj) bool { return ecomOf(o["external_variant_id"]) == "41845356495003" }},
		{"subscriptions updated after", "subscriptions", "updated_at_min=" + url.QueryEscape(later), func(o obj) bool { return str(o["updated_at"]) >= "2025-03-01T12:30:00+00:00" }},
		{"subscriptions created in a range", "subscriptions", "created_at_min=2025-01-01T00:00:00Z&created_at_max=2025-02-01T00:00:00", func(o obj) bool {
			c := str(o["created_at"])
			return c >= "2025-01-01T00:00:00+00:00" && c <= "2025-02-01T00:00:00+00:00"
		}},
		{"charges of a customer", "charges", "customer_id=183940021", func(o obj) bool { return num(o["customer"].(obj)["id"]) == 183940021 }},
		{"charges of an address", "charges", "address_id=193760021", func(o obj) bool { return num(o["address_id"]) == 193760021 }},
		{"charge ids", "charges", "ids=" + fmt.Sprint(num(someCharge["id"])), func(o obj) bool { return num(o["id"]) == num(someCharge["id"]) }},
		{"queued charges", "charges", "status=queued", func(o obj) bool { return o["status"] == "queued" }},
		{"success charges", "charges", "status=SUCCESS", func(o obj) bool { return o["status"] == "success" }},
		{"charges by purchase item", "charges", "purchase_item_id=585062092", func(o obj) bool {
			for _, li := range o["line_items"].([]any) {
				if num(li.(obj)["purchase_item_id"]) == 585062092 {
					return true
				}
			}
			return false
		}},
		{"charges scheduled in a window", "charges", "scheduled_at_min=2025-03-02&scheduled_at_max=2025-03-10", func(o obj) bool {
			s := str(o["scheduled_at"])
			return s >= "2025-03-02" && s <= "2025-03-10"
		}},
		{"charges scheduled on a day", "charges", "scheduled_at=2025-03-06", func(o obj) bool { return o["scheduled_at"] == "2025-03-06" }},
		{"charges processed since", "charges", "processed_at_min=2025-02-01T00:00:00%2B00:00", func(o obj) bool {
			p, ok := o["processed_at"].(string)
			return ok && p >= "2025-02-01T00:00:00+00:00"
		}},
		{"charges by external order id", "charges", "external_order_id=" + ecomOf(someCharge["external_order_id"]), func(o obj) bool {
			return ecomOf(o["external_order_id"]) == ecomOf(someCharge["external_order_id"])
		}},
		{"charges with a discount code", "charges", "discount_code=SAVE10", func(o obj) bool { return false }},
		{"addresses of a customer", "addresses", "customer_id=183940019", func(o obj) bool { return num(o["customer_id"]) == 183940019 }},
		{"address ids", "addresses", "ids=193760019,193760021", func(o obj) bool { n := num(o["id"]); return n == 193760019 || n == 193760021 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var want []int64
			for _, o := range all[tt.plural] {
				if tt.match(o) {
					want = append(want, num(o["id"]))
				}
			}
			got := h.collect("/"+tt.plural+"?limit=250&"+tt.query, tt.plural)
			var gotIDs []int64
			for _, o := range got {
				gotIDs = append(gotIDs, num(o["id"]))
			}
			if diff := cmp.Diff(want, gotIDs); diff != "" {
				t.Errorf("ids (-want +got):\n%s", diff)
			}
			// Only the two "no match" rows may select nothing.
			if len(want) == 0 && tt.name != "email without match" && tt.name != "charges with a discount code" {
				t.Errorf("no %s match; the row tests nothing", tt.plural)
			}
		})
	}
	// The sanity of the table itself: the selective filters found something.
	if len(h.collect("/subscriptions?status=expired", "subscriptions")) == 0 ||
		len(h.collect("/customers?updated_at_min="+url.QueryEscape(later), "customers")) != 2 {
		t.Error("the demo seed lost the objects the filter table relies on")
	}
}

func TestFilterValidation(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{}, DemoSeed())
	tests := []struct {
		path string
		want string
	}{
		{"/addresses?updated_at_max=test", `{"errors":{"updated_at_max":["Invalid date: test. Must be a valid ISO-8601 datetime string"]}}`},
		{"/customers?created_at_min=yesterday", `{"errors":{"created_at_min":["Invalid date: yesterday. Must be a valid ISO-8601 datetime string"]}}`},
		{"/charges?scheduled_at_max=2025-13-45", `{"errors":{"scheduled_at_max":["Invalid date: 2025-13-45. Must be a valid ISO-8601 datetime string"]}}`},
		{"/subscriptions?customer_id=alex", `{"errors":{"customer_id":["Not a valid integer."]}}`},
		{"/subscriptions?ids=1,two", `{"errors":{"ids":["Not a valid integer."]}}`},
		{"/subscriptions?status=paused", `{"errors":{"status":["Must be one of: active, cancelled, expired."]}}`},
		{"/addresses?is_active=maybe", `{"errors":{"is_active":["Not a valid boolean."]}}`},
		{"/customers?limit=abc", `{"errors":{"limit":["Not a valid integer."]}}`},
		{"/customers?limit=0", `{"errors":{"limit":["Must be greater than or equal to 1."]}}`},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) { assertBody(t, h.get(tt.path), 422, tt.want) })
	}
}

func TestLimit(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{}, DemoSeed())
	id := h.sim.AddCustomer(SeedCustomer{Email: "bulk@example.com", FirstName: "Bulk", LastName: "Buyer"})
	h.sim.AddSubscriptions(id, 300)
	tests := []struct {
		name  string
		query string
		want  int
	}{
		{"default 50", "", 50},
		{"explicit 10", "&limit=10", 10},
		{"max 250", "&limit=250", 250},
		{"above the max is clamped", "&limit=1000", 250},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustPage(t, h.mustGet(fmt.Sprintf("/subscriptions?customer_id=%d%s", id, tt.query)), "subscriptions")
			if len(p.items) != tt.want || p.next == nil || p.prev != nil {
				t.Errorf("got %d items, next %v, prev %v; want %d, a next cursor, no previous", len(p.items), p.next != nil, p.prev != nil, tt.want)
			}
		})
	}
	// The 60-subscription demo customer needs a second page at the default.
	p := mustPage(t, h.mustGet("/subscriptions?customer_id=183940005"), "subscriptions")
	if len(p.items) != 50 || p.next == nil {
		t.Fatalf("first page: %d items, next %v", len(p.items), p.next)
	}
	p2 := mustPage(t, h.mustGet("/subscriptions?cursor="+*p.next), "subscriptions")
	if len(p2.items) != 10 || p2.next != nil || p2.prev == nil {
		t.Errorf("second page: %d items, next %v, prev %v; want 10, null, a cursor", len(p2.items), p2.next, p2.prev != nil)
	}
}

func TestCursorRoundTrip600(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{}, DemoSeed())
	id := h.sim.AddCustomer(SeedCustomer{Email: "six.hundred@example.com", FirstName: "Six", LastName: "Hundred"})
	want := h.sim.AddSubscriptions(id, 600)
	if len(want) != 600 {
		t.Fatalf("AddSubscriptions returned %d ids", len(want))
	}
	cust := mustDecode(t, h.mustGet(fmt.Sprintf("/customers/%d", id)).body)["customer"].(obj)
	if cust["subscriptions_total_count"] != json.Number("600") || cust["subscriptions_active_count"] != json.Number("600") {
		t.Fatalf("counts = %v/%v, want 600/600", cust["subscriptions_total_count"], cust["subscriptions_active_count"])
	}
	for _, limit := range []int{50, 250, 7} {
		t.Run(fmt.Sprint("limit ", limit), func(t *testing.T) {
			seen := map[int64]int{}
			var pages []page
			p := mustPage(t, h.mustGet(fmt.Sprintf("/subscriptions?customer_id=%d&limit=%d", id, limit)), "subscriptions")
			if p.prev != nil {
				t.Fatal("first page has a previous_cursor")
			}
			for {
				pages = append(pages, p)
				for _, sid := range p.ids(t) {
					seen[sid]++
				}
				if p.next == nil {
					break
				}
				p = mustPage(t, h.mustGet(fmt.Sprintf("/subscriptions?limit=%d&cursor=%s", limit, *p.next)), "subscriptions")
				if p.prev == nil {
					t.Fatal("a later page has no previous_cursor")
				}
			}
			if len(seen) != 600 {
				t.Fatalf("saw %d distinct subscriptions, want 600", len(seen))
			}
			for _, sid := range want {
				if seen[sid] != 1 {
					t.Fatalf("subscription %d seen %d times", sid, seen[sid])
				}
			}
			if wantPages := (600 + limit - 1) / limit; len(pages) != wantPages {
				t.Errorf("%d pages, want %d", len(pages), wantPages)
			}
			// Walking back with previous_cursor gives the same pages.
			for i := len(pages) - 1; i > 0; i-- {
				back := mustPage(t, h.mustGet(fmt.Sprintf("/subscriptions?limit=%d&cursor=%s", limit, *pages[i].prev)), "subscriptions")
				if diff := cmp.Diff(pages[i-1].ids(t), back.ids(t)); diff != "" {
					t.Fatalf("page %d walking back (-want +got):\n%s", i-1, diff)
				}
				if (i-1 == 0) != (back.prev == nil) {
					t.Fatalf("page %d walking back: previous_cursor %v", i-1, back.prev)
				}
			}
		})
	}
}

func decodeCursorJSON(tb testing.TB, c string) []byte {
	tb.Helper()
	if strings.ContainsAny(c, "=+/") {
		tb.Errorf("cursor %q is not unpadded base64url", c)
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		tb.Fatalf("cursor %q: %v", c, err)
	}
	return b
}

func TestCursorCarriesFiltersAndSort(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{}, DemoSeed())
	p := mustPage(t, h.mustGet("/subscriptions?customer_id=183940005&status=active&limit=5"), "subscriptions")
	raw := decodeCursorJSON(t, *p.next)
	wantKeys := []string{"customer_id", "status", "starting_before_id", "last_value", "sort_by", "cursor_dir"}
	if diff := cmp.Diff(wantKeys, keyOrder(t, raw)); diff != "" {
		t.Errorf("cursor keys (-want +got):\n%s", diff)
	}
	m := mustDecode(t, raw)
	last := p.ids(t)[4]
	if m["customer_id"] != json.Number("183940005") || m["status"] != "active" || idOf(t, m["starting_before_id"]) != last ||
		idOf(t, m["last_value"]) != last || m["sort_by"] != "id-desc" || m["cursor_dir"] != "next" {
		t.Errorf("cursor = %s", raw)
	}
	// The real cursor of the captured subscriptions page has the same form.
	fixture := `{"customer_id":176728490,"starting_before_id":585061901,"last_value":585061901,"sort_by":"id-desc","cursor_dir":"next"}`
	if diff := cmp.Diff(keyOrder(t, []byte(fixture)), keyOrder(t, decodeCursorJSON(t,
		"eyJjdXN0b21lcl9pZCI6MTgzOTQwMDA1LCJzdGFydGluZ19iZWZvcmVfaWQiOjU4NTA2MjA2MywibGFzdF92YWx1ZSI6NTg1MDYyMDYzLCJzb3J0X2J5IjoiaWQtZGVzYyIsImN1cnNvcl9kaXIiOiJuZXh0In0"))); diff != "" {
		t.Errorf("(-fixture +simulator):\n%s", diff)
	}

	// A request with a cursor ignores other filters: the next page is still
	// Morgan's active subscriptions, even when another customer is asked.
	p2 := mustPage(t, h.mustGet("/subscriptions?limit=5&customer_id=183940021&status=cancelled&cursor="+*p.next), "subscriptions")
	for _, it := range p2.items {
		if idOf(t, it["customer_id"]) != 183940005 || it["status"] != "active" {
			t.Fatalf("page 2 item %v from the wrong filter", it["id"])
		}
	}
	// A non-id sort puts the sort value in last_value.
	p3 := mustPage(t, h.mustGet("/charges?customer_id=183940005&sort_by=scheduled_at-asc&limit=3"), "charges")
	m3 := mustDecode(t, decodeCursorJSON(t, *p3.next))
	if m3["sort_by"] != "scheduled_at-asc" || m3["last_value"] != p3.items[2]["scheduled_at"] || m3["starting_after_id"] == nil {
		t.Errorf("charges cursor = %v", m3)
	}
	all := h.collect("/charges?customer_id=183940005&sort_by=scheduled_at-asc&limit=3", "charges")
	var prev string
	for i, it := range all {
		s := it["scheduled_at"].(string)
		if s < prev {
			t.Fatalf("charge %d scheduled %s after %s", i, s, prev)
		}
		prev = s
	}
	if n := len(h.collect("/charges?customer_id=183940005&limit=250", "charges")); n != len(all) {
		t.Errorf("sorted walk saw %d charges, want %d", len(all), n)
	}
}

func TestInvalidCursor(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{}, DemoSeed())
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	custCursor := *mustPage(t, h.mustGet("/customers?limit=1"), "customers").next
	tests := []struct{ name, path string }{
		{"garbage", "/customers?cursor=not-a-cursor!"},
		{"not JSON", "/customers?cursor=" + enc("hello")},
		{"JSON array", "/customers?cursor=" + enc("[1,2]")},
		{"unknown sort", "/customers?cursor=" + enc(`{"starting_before_id":5,"last_value":5,"sort_by":"email-desc","cursor_dir":"next"}`)},
		{"bad direction", "/customers?cursor=" + enc(`{"starting_before_id":5,"last_value":5,"sort_by":"id-desc","cursor_dir":"sideways"}`)},
		{"position key does not fit the sort", "/customers?cursor=" + enc(`{"starting_after_id":5,"last_value":5,"sort_by":"id-desc","cursor_dir":"next"}`)},
		{"filter of another list", "/customers?cursor=" + enc(`{"customer_id":1,"starting_before_id":5,"last_value":5,"sort_by":"id-desc","cursor_dir":"next"}`)},
		{"customers cursor on subscriptions", "/subscriptions?cursor=" + url.QueryEscape(enc(`{"email":"a@b.c","starting_before_id":5,"last_value":5,"sort_by":"id-desc","cursor_dir":"next"}`))},
		{"bad date in cursor", "/customers?cursor=" + enc(`{"created_at_min":"test","starting_before_id":5,"last_value":5,"sort_by":"id-desc","cursor_dir":"next"}`)},
		{"truncated", "/customers?cursor=" + custCursor[:len(custCursor)-6]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assertBody(t, h.get(tt.path), 422, `{"errors":{"cursor":["Invalid value"]}}`)
		})
	}
	// The customers cursor itself works, also padded.
	h.mustGet("/customers?cursor=" + custCursor)
	padded := custCursor + strings.Repeat("=", (4-len(custCursor)%4)%4)
	h.mustGet("/customers?cursor=" + url.QueryEscape(padded))
}

func TestListEnvelopes(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{}, DemoSeed())
	for _, plural := range []string{"customers", "subscriptions", "charges", "addresses", "plans", "webhooks"} {
		r := h.mustGet("/" + plural + "?limit=1")
		if diff := cmp.Diff([]string{"next_cursor", "previous_cursor", plural}, keyOrder(t, r.body)); diff != "" {
			t.Errorf("%s envelope (-want +got):\n%s", plural, diff)
		}
	}
	// No match is an empty list, never a 404 (spec section 4).
	assertBody(t, h.get("/subscriptions?ids=5848500122"), 200, `{"next_cursor":null,"previous_cursor":null,"subscriptions":[]}`)
	assertBody(t, h.get("/customers?email=nobody%40example.com"), 200, `{"next_cursor":null,"previous_cursor":null,"customers":[]}`)
	if slices.Contains(keyOrder(t, h.mustGet("/customers/183940021").body), "include") {
		t.Error("include present without ?include=")
	}
}

func TestCustomerInclude(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{}, DemoSeed())
	r := h.mustGet("/customers/183940019?include=addresses,subscriptions")
	cust := mustDecode(t, r.body)["customer"].(obj)
	inc, ok := cust["include"].(obj)
	if !ok {
		t.Fatalf("no customer.include in %s", r.body)
	}
	if n := len(inc["addresses"].([]any)); n != 2 {
		t.Errorf("%d included addresses, want 2", n)
	}
	if n := len(inc["subscriptions"].([]any)); n != 2 {
		t.Errorf("%d included subscriptions, want 2", n)
	}
	only := mustDecode(t, h.mustGet("/customers/183940003?include=subscriptions").body)["customer"].(obj)["include"].(obj)
	if diff := cmp.Diff(obj{"subscriptions": []any{}}, only); diff != "" {
		t.Errorf("include for a customer without subscriptions (-want +got):\n%s", diff)
	}
	assertBody(t, h.get("/customers/183940019?include=orders"), 422, `{"errors":{"include":["Must be one of: addresses, payment_methods, subscriptions."]}}`)
}
