package rechargekit_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/internal/testkit"
)

// detailedCard is demoCard with every section of the details filled and a
// failing payment.
func detailedCard() *rechargekit.Card {
	c := demoCard()
	c.Details = testkit.Details(true)
	c.Details.Unavailable[rechargekit.SectionEvents] = "The Recharge token may not read events."
	return c
}

func TestCardJSONDetailsGolden(t *testing.T) {
	t.Parallel()
	got, err := json.MarshalIndent(detailedCard().JSONWithLinks(rechargekit.AdminLinks{Base: "https://shop-sp.admin.rechargeapps.com"}), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	testkit.Golden(t, "card_details.golden", append(got, '\n'))
}

// TestCardJSONWithoutDetails checks that a card whose details were not read
// has none of their keys, and that without an admin base there are no links.
func TestCardJSONWithoutDetails(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal(demoCard())
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"nextCharges", "payment", "recentOrders", "addresses", "events", "unavailable", "adminLinks"} {
		if _, ok := m[k]; ok {
			t.Errorf("key %q present in a card without details: %s", k, b)
		}
	}
}

// TestCardJSONSections checks each section's shape: every key present
// (empty lists as [], not null), money as strings with the currency, the
// failure in plain words, the expired flag against the card's read time.
func TestCardJSONSections(t *testing.T) {
	t.Parallel()
	c := detailedCard()
	// The card was read on 2025-03-12: a card valid through 2026-02 had
	// not expired then.
	c.Details.Payment.Default.ExpYear = 2026
	c.Details.Payment.Default.ExpMonth = 2
	j := c.JSON()
	if j.CardDetailsJSON == nil {
		t.Fatal("details missing")
	}
	if len(j.NextCharges) != 2 || j.NextCharges[0].Failure == nil || j.NextCharges[1].Failure != nil {
		t.Fatalf("nextCharges = %+v", j.NextCharges)
	}
	f := j.NextCharges[0].Failure
	if f.Reason != "The card was declined" || *f.ErrorType != "CARD_DECLINED" || *f.Attempts != "2" ||
		*f.RetryAt != "2026-12-08T04:00:00Z" || f.RetriesExhausted {
		t.Errorf("failure = %+v", f)
	}
	n := j.NextCharges[1]
	if *n.TotalPrice != "54.85" || *n.CurrencyCode != "USD" || !n.TotalFinal || n.ShipTo == nil || *n.ShipTo.Zip != "97477" ||
		len(n.Discounts) != 1 || *n.Discounts[0].Code != "SAVE10" || len(n.Lines) != 3 || !n.Lines[2].Skipped || !n.Lines[1].OneTime ||
		*n.Lines[1].Quantity != "2" || n.AdminURL != nil {
		t.Errorf("next charge = %+v", n)
	}
	if p := j.Payment; p == nil || p.Healthy || !p.InDunning || len(p.Failing) != 1 || p.Default == nil ||
		*p.Default.Expiry != "2026-02" || p.Default.Expired || *p.Default.Last4 != "0001" {
		t.Errorf("payment = %+v", j.Payment)
	}
	if len(j.RecentOrders) != 2 || *j.RecentOrders[1].OrderName != "#1016" || len(j.Addresses) != 2 || len(j.Events) != 2 ||
		*j.Events[0].Who != "the customer" || j.Unavailable[rechargekit.SectionEvents] == "" {
		t.Errorf("orders, addresses, events or unavailable wrong: %+v", j.CardDetailsJSON)
	}

	// A section that could not be read is null (payment) or [] and named.
	c.Details = &rechargekit.CardDetails{Unavailable: map[string]string{rechargekit.SectionPayment: "Payment methods could not be read."}}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"nextCharges":[]`, `"payment":null`, `"recentOrders":[]`, `"addresses":[]`, `"events":[]`,
		`"unavailable":{"payment":"Payment methods could not be read."}`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("%s missing from %s", want, b)
		}
	}
}

func TestPaymentMethodJSONExpired(t *testing.T) {
	t.Parallel()
	m := &rechargekit.PaymentMethod{ID: 1, ExpMonth: 3, ExpYear: 2023}
	for _, tt := range []struct {
		now  string
		want bool
	}{
		{"2023-03-31T23:59:59Z", false},
		{"2023-04-01T00:00:00Z", true},
		{"2025-01-01T00:00:00Z", true},
	} {
		now, err := time.Parse(time.RFC3339, tt.now)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.JSON(now).Expired; got != tt.want {
			t.Errorf("expired at %s = %v, want %v", tt.now, got, tt.want)
		}
	}
}

// TestCardJSONHasNoTokenField checks that no JSON type of the card has a
// field that could carry a processor's or a customer's token.
func TestCardJSONHasNoTokenField(t *testing.T) {
	t.Parallel()
	seen := map[reflect.Type]bool{}
	var walk func(reflect.Type)
	walk = func(ty reflect.Type) {
		for ty.Kind() == reflect.Pointer || ty.Kind() == reflect.Slice || ty.Kind() == reflect.Map {
			ty = ty.Elem()
		}
		if ty.Kind() != reflect.Struct || seen[ty] {
			return
		}
		seen[ty] = true
		for i := range ty.NumField() {
			f := ty.Field(i)
			name := strings.ToLower(f.Name + " " + f.Tag.Get("json"))
			if strings.Contains(name, "token") || strings.Contains(name, "processor") {
				t.Errorf("%s.%s may carry a token", ty.Name(), f.Name)
			}
			walk(f.Type)
		}
	}
	walk(reflect.TypeOf(rechargekit.CardJSON{}))
	if !seen[reflect.TypeOf(rechargekit.PaymentMethodJSON{})] {
		t.Error("the walk did not reach PaymentMethodJSON")
	}
}
