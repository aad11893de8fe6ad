package rechargetest

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestDemoSeedAlexRivera(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{}, DemoSeed())
	cust := mustPage(t, h.mustGet("/customers?email=alex.rivera%40example.com"), "customers").items
	if len(cust) != 1 {
		t.Fatalf("%d customers for Alex's email", len(cust))
	}
	c := cust[0]
	if idOf(t, c["id"]) != DemoAlexRiveraID || c["first_name"] != "Alex" || c["last_name"] != "Rivera" || c["phone"] != "+15551234567" ||
		c["external_customer_id"].(obj)["ecommerce"] != "7923224739991" || c["subscriptions_total_count"] != json.Number("3") ||
		c["subscriptions_active_count"] != json.Number("2") {
		t.Errorf("Alex = %v", c)
	}
	subs := mustPage(t, h.mustGet("/subscriptions?customer_id=183940021"), "subscriptions").items
	if len(subs) != 3 {
		t.Fatalf("Alex has %d subscriptions", len(subs))
	}
	byTitle := map[string]obj{}
	for _, s := range subs {
		byTitle[s["product_title"].(string)] = s
	}
	tee, pj, chews := byTitle["Dog Lovers T-Shirt"], byTitle["Cat Pajamas"], byTitle["Dog Dental Chews"]
	if tee == nil || pj == nil || chews == nil {
		t.Fatalf("subscriptions = %v", subs)
	}
	wantTee := obj{"status": "active", "variant_title": "Large / Heather Grey", "sku": "DOG-TEE-L", "price": "25.00", "presentment_currency": "USD",
		"order_interval_unit": "month", "order_interval_frequency": json.Number("1"), "charge_interval_frequency": json.Number("1"),
		"next_charge_scheduled_at": "2025-03-06", "cancelled_at": nil}
	wantPJ := obj{"status": "cancelled", "variant_title": "Large", "sku": "111-3", "price": "49.50", "presentment_currency": "USD",
		"order_interval_unit": "day", "order_interval_frequency": json.Number("30"), "next_charge_scheduled_at": nil,
		"cancellation_reason": "Too many pajamas", "cancellation_reason_comments": "Will come back in winter"}
	// The Chews were added to the T-Shirt's next order: same date, one charge.
	wantChews := obj{"status": "active", "variant_title": "Medium dogs / 30 pack", "price": "22.00", "next_charge_scheduled_at": "2025-03-06",
		"order_interval_unit": "month", "order_interval_frequency": json.Number("1"), "address_id": tee["address_id"]}
	if idOf(t, tee["id"]) != DemoAlexDogTeeID || idOf(t, pj["id"]) != DemoAlexCatPajamasID || idOf(t, chews["id"]) != DemoAlexChewsID {
		t.Errorf("ids = %v %v %v", tee["id"], pj["id"], chews["id"])
	}
	for name, pair := range map[string][2]obj{"tee": {wantTee, tee}, "pajamas": {wantPJ, pj}, "chews": {wantChews, chews}} {
		for k, v := range pair[0] {
			if pair[1][k] != v {
				t.Errorf("%s %s = %v, want %v", name, k, pair[1][k], v)
			}
		}
	}
	if !microRE.MatchString(pj["cancelled_at"].(string)) || pj["cancelled_at"].(string) >= "2025-03-01" {
		t.Errorf("cancelled_at = %v", pj["cancelled_at"])
	}
	// Both products have images on their charge lines.
	images := map[int64]string{}
	for _, ch := range h.collect("/charges?customer_id=183940021", "charges") {
		for _, li := range ch["line_items"].([]any) {
			l := li.(obj)
			images[idOf(t, l["purchase_item_id"])] = l["images"].(obj)["original"].(string)
		}
	}
	for _, s := range []obj{tee, pj, chews} {
		if img := images[idOf(t, s["id"])]; !strings.HasPrefix(img, "https://cdn.example-store.com/") {
			t.Errorf("%s image %q", s["product_title"], img)
		}
	}
}

func TestDemoSeedNotableCustomers(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{}, DemoSeed())
	customer := func(id int64) obj {
		return mustDecode(t, h.mustGet(fmt.Sprintf("/customers/%d", id)).body)["customer"].(obj)
	}
	count := func(c obj, k string) string { return string(c[k].(json.Number)) }

	sam1, sam2 := customer(DemoSamTaylorID), customer(DemoSamTOrgID)
	if sam1["email"] != "sam.taylor@example.com" || sam2["email"] != "sam.t@example.org" ||
		sam1["first_name"] != "Sam" || sam2["first_name"] != "Sam" || sam1["last_name"] != "Taylor" || sam2["last_name"] != "Taylor" {
		t.Errorf("Sam Taylors = %v / %v", sam1, sam2)
	}
	if c := customer(DemoNoSubscriptionsID); count(c, "subscriptions_total_count") != "0" {
		t.Errorf("Jordan Lee has %s subscriptions", count(c, "subscriptions_total_count"))
	}
	only := mustPage(t, h.mustGet(fmt.Sprintf("/subscriptions?customer_id=%d", DemoOnlyExpiredID)), "subscriptions").items
	if len(only) != 1 || only[0]["status"] != "expired" || only[0]["next_charge_scheduled_at"] != nil {
		t.Errorf("Priya's subscriptions = %v", only)
	}
	many := customer(DemoManySubscriptionsID)
	if count(many, "subscriptions_total_count") != "60" || count(many, "subscriptions_active_count") != "48" {
		t.Errorf("Morgan's counts %s/%s", count(many, "subscriptions_total_count"), count(many, "subscriptions_active_count"))
	}
	if c := customer(DemoFreeTextPhoneID); strings.HasPrefix(c["phone"].(string), "+") {
		t.Errorf("free-text phone = %v", c["phone"])
	}
	if c := customer(DemoMixedCaseEmailID); c["email"] != "Dana.Whitfield@Example.com" {
		t.Errorf("mixed-case email = %v", c["email"])
	}
	if c := customer(DemoNoPhoneID); c["phone"] != nil || c["external_customer_id"].(obj)["ecommerce"] != nil {
		t.Errorf("no-phone customer = %v", c)
	}

	// The whole store: 32 customers at example.com/.org, intervals of every
	// unit, the three statuses, queued and processed charges, https images.
	all := h.collect("/customers?limit=250", "customers")
	if len(all) != 32 {
		t.Errorf("%d customers, want 32", len(all))
	}
	for _, c := range all {
		e := strings.ToLower(c["email"].(string))
		if !strings.HasSuffix(e, "@example.com") && !strings.HasSuffix(e, "@example.org") {
			t.Errorf("email %s", e)
		}
	}
	seen := map[string]bool{}
	for _, s := range h.collect("/subscriptions?limit=250", "subscriptions") {
		seen[s["status"].(string)] = true
		seen[fmt.Sprintf("%v %v", s["order_interval_frequency"], s["order_interval_unit"])] = true
		// The failing payment's subscription stays on the date of its
		// failed charge, in the past, as on Recharge.
		if next, ok := s["next_charge_scheduled_at"].(string); ok && next <= "2025-03-01" && idOf(t, s["customer_id"]) != DemoFailingPaymentID {
			t.Errorf("subscription %v charges next on %s, not in the future", s["id"], next)
		}
	}
	for _, k := range []string{"active", "cancelled", "expired", "7 day", "14 day", "30 day", "1 week", "2 week", "1 month", "2 month", "3 month"} {
		if !seen[k] {
			t.Errorf("no subscription with %q", k)
		}
	}
	for _, st := range []string{"queued", "success"} {
		if len(mustPage(t, h.mustGet("/charges?limit=1&status="+st), "charges").items) == 0 {
			t.Errorf("no %s charge", st)
		}
	}
	for _, p := range DemoSeed().Products {
		if !strings.HasPrefix(p.Image, "https://") || p.Variants[0].SKU == "" {
			t.Errorf("product %s: image %q, SKU %q", p.Title, p.Image, p.Variants[0].SKU)
		}
	}
}

// TestDemoSeedFollowsTheClock loads the demo at two dates: next charges are
// ahead of each.
func TestDemoSeedFollowsTheClock(t *testing.T) {
	t.Parallel()
	for _, start := range []time.Time{refTime, time.Date(2031, 12, 30, 23, 59, 0, 0, time.UTC)} {
		sim := New(Config{Now: func() time.Time { return start }})
		sim.Load(DemoSeed())
		sim.mu.Lock()
		for _, s := range sim.st.subs {
			if s.NextChargeScheduledAt == nil || s.CustomerID == DemoFailingPaymentID && s.AddressID != sim.st.custAddrs[s.CustomerID][0] {
				continue
			}
			if d, _ := parseDate(*s.NextChargeScheduledAt); !d.After(today(start)) {
				t.Errorf("at %v: subscription %d next charge %s", start, s.ID, *s.NextChargeScheduledAt)
			}
		}
		for _, ch := range sim.st.charges {
			if ch.ProcessedAt != nil && !ch.ProcessedAt.Before(start) {
				t.Errorf("at %v: charge %d processed in the future", start, ch.ID)
			}
		}
		sim.mu.Unlock()
	}
}

func TestGenerateSeed(t *testing.T) {
	t.Parallel()
	a, b := GenerateSeed(300, 7), GenerateSeed(300, 7)
	if diff := cmp.Diff(a, b); diff != "" {
		t.Fatalf("same seed, different data (-a +b):\n%s", diff)
	}
	if cmp.Equal(a, GenerateSeed(300, 8)) {
		t.Fatal("different seeds, same data")
	}
	emails := map[string]bool{}
	for _, c := range a.Customers {
		if emails[c.Email] || !strings.HasSuffix(c.Email, "@example.net") {
			t.Fatalf("email %q repeated or outside example.net", c.Email)
		}
		emails[c.Email] = true
		if n := len(c.Subscriptions); n < 1 || n > 5 {
			t.Fatalf("%d subscriptions", n)
		}
	}
	// Loaded twice at the same clock, the answers are identical, and the
	// generated store sits beside the demo store.
	h1 := newHarness(t, Config{}, DemoSeed(), a)
	h2 := newHarness(t, Config{}, DemoSeed(), b)
	for _, p := range []string{"/customers?limit=5&sort_by=id-desc", "/subscriptions?limit=5", "/charges?limit=3"} {
		if string(h1.mustGet(p).body) != string(h2.mustGet(p).body) {
			t.Errorf("%s differs between two loads of the same seed", p)
		}
	}
	if n := len(h1.sim.Customers(0)); n != 332 {
		t.Errorf("%d customers, want 332", n)
	}
	first := a.Customers[0].Email
	if got := mustPage(t, h1.mustGet("/customers?email="+url.QueryEscape(first)), "customers").items; len(got) != 1 {
		t.Errorf("generated customer %s found %d times", first, len(got))
	}
}

func TestGenerateSeedTenThousand(t *testing.T) {
	if testing.Short() {
		t.Skip("loads 10,000 customers")
	}
	t.Parallel()
	seed := GenerateSeed(10000, 1)
	sim := New(Config{Now: newClock().Now})
	sim.Load(seed)
	if n := len(sim.Customers(0)); n != 10000 {
		t.Fatalf("%d customers, want 10000", n)
	}
	st := sim.Stats()
	if st.Requests != 0 {
		t.Errorf("loading counted requests: %+v", st)
	}
}

func TestAddCustomerIDs(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{}, DemoSeed())
	a := h.sim.AddCustomer(SeedCustomer{Email: "a@example.com"})
	b := h.sim.AddCustomer(SeedCustomer{Email: "b@example.com"})
	if a != 183940033 || b != 183940034 {
		t.Errorf("ids %d, %d; want 183940033, 183940034 (ascending after the demo)", a, b)
	}
	// A seed id is kept, and later ids stay above it.
	c := h.sim.AddCustomer(SeedCustomer{ID: 190000000, Email: "c@example.com"})
	d := h.sim.AddCustomer(SeedCustomer{Email: "d@example.com"})
	if c != 190000000 || d != 190000001 {
		t.Errorf("ids %d, %d", c, d)
	}
	if ids := h.sim.AddSubscriptions(999, 3); ids != nil {
		t.Errorf("subscriptions for a missing customer: %v", ids)
	}
	ids := h.sim.AddSubscriptions(a, 3)
	if len(ids) != 3 || ids[0] >= ids[1] || ids[1] >= ids[2] {
		t.Errorf("ids %v not ascending", ids)
	}
	// Charge ids of a loaded customer follow their creation time.
	chs := h.collect(fmt.Sprintf("/charges?customer_id=%d&sort_by=id-asc", DemoAlexRiveraID), "charges")
	for i := 1; i < len(chs); i++ {
		if chs[i]["created_at"].(string) < chs[i-1]["created_at"].(string) {
			t.Errorf("charge %v created before %v but has a higher id", chs[i]["id"], chs[i-1]["id"])
		}
	}
}

func TestGenerateSeedCarriesWhatTheMirrorSearches(t *testing.T) {
	t.Parallel()
	seed := GenerateSeed(3000, 1)
	var accented, formats, failed, skipped, cancelled, twoAddrs, addrPhones, paypal int
	zips := map[string]bool{}
	for _, c := range seed.Customers {
		if strings.ContainsAny(c.FirstName+c.LastName, "ëéèøöñçłåüễ") {
			accented++
		}
		if strings.ContainsAny(c.Phone, "()-. ") {
			formats++
		}
		if len(c.Addresses) == 2 {
			twoAddrs++
		}
		for _, a := range c.Addresses {
			zips[a.Zip] = true
			if a.Phone != "" {
				addrPhones++
			}
		}
		if c.Card != nil && c.Card.PaymentType == "PAYPAL" {
			paypal++
		}
		for _, s := range c.Subscriptions {
			switch {
			case s.FailedAttempts > 0 && s.ErrorType != "":
				failed++
			case s.SkipNext:
				skipped++
			case s.Status == "cancelled":
				cancelled++
			}
		}
	}
	for name, n := range map[string]int{"accented names": accented, "punctuated phones": formats, "failed charges": failed,
		"skipped charges": skipped, "cancelled subscriptions": cancelled, "second addresses": twoAddrs,
		"address phones": addrPhones, "PayPal payment methods": paypal} {
		if n < 30 {
			t.Errorf("%d %s among 3,000 customers, want a share of them", n, name)
		}
	}
	if len(zips) < 1000 {
		t.Errorf("%d distinct zips among 3,000 customers, want most of them distinct", len(zips))
	}

	// Loaded, the store has what the card and the search read.
	h := newHarness(t, Config{}, seed)
	errs := h.collect("/charges?status=error&limit=250", "charges")
	if len(errs) < 30 || errs[0]["error_type"] == nil {
		t.Errorf("%d error charges, the first with error_type %v", len(errs), errs[0]["error_type"])
	}
	pms := h.collect("/payment_methods?limit=250", "payment_methods")
	if len(pms) != 3000 {
		t.Errorf("%d payment methods, want 3000", len(pms))
	}
	if ev := mustPage(t, h.mustGet("/events?limit=5"), "events").items; len(ev) == 0 {
		t.Error("no events")
	}
	zoe := h.collect("/customers?limit=250&sort_by=id-asc", "customers")
	found := false
	for _, c := range zoe {
		found = found || c["first_name"] == "Zoë" || c["first_name"] == "José"
	}
	if !found {
		t.Error("no Zoë or José among the customers")
	}
}
