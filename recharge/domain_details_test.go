package recharge

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rechargekit/rechargekit"
)

// ownDetailsData decodes our hand-made details payloads: a customer with
// its addresses and payment methods included, its charges and its events.
func ownDetailsData(t *testing.T) DetailsData {
	t.Helper()
	dir := filepath.Join("testdata", "payloads")
	var env struct{ Customer *Customer }
	mustDecodeFile(t, filepath.Join(dir, "Customers", "get-customer_200_include-payment-methods.json"), &env)
	return DetailsData{
		Customer: env.Customer,
		Charges:  decodeList[Charge](t, filepath.Join(dir, "Charges", "list-charges_200_details.json"), "charges"),
		Events:   decodeList[Event](t, filepath.Join(dir, "Events", "list-events_200.json"), "events"),
	}
}

func chargeIDs(cs []*rechargekit.Charge) []int64 {
	var ids []int64
	for _, c := range cs {
		ids = append(ids, c.ID)
	}
	return ids
}

// TestDomainDetailsSections maps each section of our hand-made payloads.
func TestDomainDetailsSections(t *testing.T) {
	t.Parallel()
	d := DomainDetails(ownDetailsData(t))

	t.Run("next charges", func(t *testing.T) {
		// Queued and retrying, earliest first; the charge whose retries
		// ran out is not a next charge.
		if diff := cmp.Diff([]int64{5100003, 5100004}, chargeIDs(d.NextCharges)); diff != "" {
			t.Fatalf("next charges (-want +got):\n%s", diff)
		}
		q := d.NextCharges[1]
		want := &rechargekit.Charge{
			ID: 5100004, AddressID: 810001, Status: "queued", Type: "recurring", ScheduledAt: "2026-12-10", Currency: "USD",
			Lines: []rechargekit.ChargeLine{
				{SubscriptionID: 710001, Title: "Coffee Beans", VariantTitle: "1 kg", SKU: "BEANS-1KG",
					ImageURL: "https://cdn.example.com/beans-medium.png", Quantity: 2, UnitPrice: "20.00", TotalPrice: "40.00"},
				{SubscriptionID: 720001, OneTime: true, Title: "Mug", SKU: "MUG",
					ImageURL: "https://cdn.example.com/mug-small.png", Quantity: 1, UnitPrice: "9.00", TotalPrice: "9.00"},
			},
			Discounts:     []rechargekit.Discount{{Code: "SAVE10", Value: "10.00", ValueType: "percentage"}},
			Shipping:      []rechargekit.ShippingLine{{Title: "Pending", Code: "pending", Price: "0.00", Pending: true}},
			SubtotalPrice: "49.00", TotalDiscounts: "4.90", TotalTax: "0.00", TotalPrice: "44.10",
			ShipTo: &rechargekit.Address{ID: 810001, FirstName: "Grace", LastName: "Hopper", Address1: "2 Harbour St", Address2: "Apt 3",
				City: "Arlington", Province: "Virginia", Zip: "22201", Country: "US", Phone: "+15550100", PaymentMethodID: 400101},
		}
		if diff := cmp.Diff(want, q); diff != "" {
			t.Errorf("queued charge (-want +got):\n%s", diff)
		}
		if q.TotalFinal() {
			t.Error("a charge with Recharge's pending shipping line has a final total")
		}
	})

	t.Run("payment", func(t *testing.T) {
		p := d.Payment
		if p == nil || !p.InDunning {
			t.Fatalf("payment = %+v, want the dunning flag set", p)
		}
		if diff := cmp.Diff([]int64{5100003, 5100001}, chargeIDs(p.Failing)); diff != "" {
			t.Fatalf("failing (-want +got):\n%s", diff)
		}
		f := p.Failing[0]
		if f.ErrorType != "CARD_DECLINED" || f.Error != "Your card was declined." || f.Attempts != 2 ||
			!f.LastAttemptAt.Equal(utcTime(t, "2026-12-01T04:00:00Z")) || f.RetryAt == nil ||
			!f.RetryAt.Equal(utcTime(t, "2026-12-08T04:00:00Z")) || f.RetriesExhausted {
			t.Errorf("declined charge = %+v", f)
		}
		if f.ShipTo == nil || f.ShipTo.ID != 810002 || f.ShipTo.Company != "Navy Labs" {
			t.Errorf("declined charge ships to %+v, want address 810002", f.ShipTo)
		}
		// The retry log keeps its last line; no retry comes after the last.
		x := p.Failing[1]
		if !x.RetriesExhausted || x.RetryAt != nil || x.Attempts != 6 || x.Error != "Retry 2: declined" {
			t.Errorf("exhausted charge = %+v", x)
		}
		want := &rechargekit.PaymentMethod{ID: 400101, Default: true, Type: "CREDIT_CARD", Brand: "visa", Last4: "4242",
			ExpMonth: 12, ExpYear: 2026, Status: "valid"}
		if diff := cmp.Diff(want, p.Default); diff != "" {
			t.Errorf("default method (-want +got):\n%s", diff)
		}
	})

	t.Run("recent orders", func(t *testing.T) {
		if diff := cmp.Diff([]int64{5100003, 5100002, 5100001}, chargeIDs(d.RecentOrders)); diff != "" {
			t.Fatalf("recent orders (-want +got):\n%s", diff)
		}
		o := d.RecentOrders[1]
		if o.OrderName != "#1016" || o.Status != "partially_refunded" || o.ProcessedAt == nil || o.TotalPrice != "40.00" {
			t.Errorf("order = %+v", o)
		}
		if o.Discounts[0].ValueType != DiscountShipping {
			t.Errorf("discount = %+v", o.Discounts)
		}
	})

	t.Run("addresses", func(t *testing.T) {
		var ids []int64
		for _, a := range d.Addresses {
			ids = append(ids, a.ID)
		}
		if diff := cmp.Diff([]int64{810001, 810002}, ids); diff != "" {
			t.Errorf("addresses (-want +got):\n%s", diff)
		}
		if n := d.Addresses[0].Name(); n != "Grace Hopper" {
			t.Errorf("name = %q", n)
		}
	})

	t.Run("events", func(t *testing.T) {
		var got [][2]string
		for _, e := range d.Events {
			got = append(got, [2]string{e.Verb, e.Who})
		}
		want := [][2]string{{"failed", "Recharge"}, {"skipped", "the customer"}, {"updated", "ops@store.example"}, {"cancelled", "rechargekit"}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("events (-want +got):\n%s", diff)
		}
		if e := d.Events[1]; e.ObjectType != "subscription" || e.ObjectID != 710001 || !e.At.Equal(utcTime(t, "2026-11-28T15:41:02Z")) || e.Origin != "portal" {
			t.Errorf("event = %+v", e)
		}
	})
}

// TestDomainDetailsLimits keeps the last RecentOrdersMax orders and the
// last EventsMax events, newest first.
func TestDomainDetailsLimits(t *testing.T) {
	t.Parallel()
	var data DetailsData
	for i := range 30 {
		day := 1 + i%28
		data.Charges = append(data.Charges, &Charge{ID: Int64(1000 + i), Status: "success",
			ProcessedAt: Time{utcTime(t, "2026-01-01T00:00:00Z").AddDate(0, i, day)}})
		data.Events = append(data.Events, &Event{ID: Int64(2000 + i), CreatedAt: Time{utcTime(t, "2026-01-01T00:00:00Z").AddDate(0, 0, i)}})
	}
	d := DomainDetails(data)
	if diff := cmp.Diff([]int64{1029, 1028, 1027, 1026, 1025}, chargeIDs(d.RecentOrders)); diff != "" {
		t.Errorf("recent orders (-want +got):\n%s", diff)
	}
	if len(d.Events) != rechargekit.EventsMax || d.Events[0].ID != 2029 || d.Events[len(d.Events)-1].ID != 2010 {
		t.Errorf("events: %d, first %d", len(d.Events), d.Events[0].ID)
	}
	if d.Payment != nil {
		t.Error("payment built without a customer")
	}
}

// TestNoProcessorTokens decodes every payload that holds processor tokens
// (captured and our own) and checks that no token reaches a decoded or a
// mapped value.
func TestNoProcessorTokens(t *testing.T) {
	t.Parallel()
	var paths []string
	for _, root := range []string{filepath.Join("testdata", "payloads"), sharedFixtures(t)} {
		err := filepath.WalkDir(root, func(path string, de os.DirEntry, err error) error {
			if err != nil || de.IsDir() || !strings.HasSuffix(path, ".json") {
				return err
			}
			if b, err := os.ReadFile(path); err == nil && strings.Contains(string(b), "processor_payment_method_token") {
				paths = append(paths, path)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(paths) < 3 {
		t.Fatalf("found only %d payloads with processor tokens", len(paths))
	}
	for _, path := range paths {
		var env struct {
			PaymentMethods []*PaymentMethod `json:"payment_methods"`
			PaymentMethod  *PaymentMethod   `json:"payment_method"`
			Customer       *Customer        `json:"customer"`
		}
		mustDecodeFile(t, path, &env)
		pms := env.PaymentMethods
		if env.PaymentMethod != nil {
			pms = append(pms, env.PaymentMethod)
		}
		if env.Customer != nil && env.Customer.Include != nil {
			pms = append(pms, env.Customer.Include.PaymentMethods...)
		}
		var mapped []*rechargekit.PaymentMethod
		for _, m := range pms {
			mapped = append(mapped, DomainPaymentMethod(m))
		}
		details := DomainDetails(DetailsData{Customer: env.Customer, PaymentMethods: pms})
		for _, v := range []any{env, mapped, details} {
			b, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			for _, bad := range []string{"processor_customer_token", "processor_payment_method_token", "cus_", "pm_", "SECRET"} {
				if strings.Contains(string(b), bad) {
					t.Errorf("%s: %q in %s", path, bad, b)
				}
			}
		}
	}
}

// TestDomainDetailsCapturedCharges maps the captured charges page: the
// queued charge is the next one, ships to the charge's own address (no
// addresses were read) and bills 54.40 USD; the processed one is the only
// recent order.
func TestDomainDetailsCapturedCharges(t *testing.T) {
	t.Parallel()
	root := filepath.Join(sharedFixtures(t), "gladly-app-platform")
	charges := decodeList[Charge](t, filepath.Join(root, "data/pull/charges/success/rawData.json"), "charges")
	d := DomainDetails(DetailsData{Charges: charges})
	if diff := cmp.Diff([]int64{1302050269}, chargeIDs(d.NextCharges)); diff != "" {
		t.Fatalf("next charges (-want +got):\n%s", diff)
	}
	n := d.NextCharges[0]
	if n.TotalPrice != "54.40" || n.Currency != "USD" || n.ScheduledAt != "2025-03-05" || !n.TotalFinal() ||
		len(n.Lines) != 1 || n.Lines[0].Title != "Cat Pajamas" || n.Lines[0].ImageURL == "" ||
		n.ShipTo == nil || n.ShipTo.City != "Auburn" || n.ShipTo.ID != 195741005 {
		t.Errorf("next charge = %+v (ship to %+v)", n, n.ShipTo)
	}
	if diff := cmp.Diff([]int64{1302050276}, chargeIDs(d.RecentOrders)); diff != "" {
		t.Errorf("recent orders (-want +got):\n%s", diff)
	}
	if o := d.RecentOrders[0]; o.Status != rechargekit.ChargeSuccess || o.ProcessedAt == nil || len(o.Shipping) != 2 {
		t.Errorf("order = %+v", o)
	}
}

// TestNextChargesSkippedLines: the lines a customer skipped on a shipment
// (split off by Recharge into a skipped charge of the same address and
// date) show on that shipment, marked skipped; a skipped charge with no
// shipment on its address and date is not a next charge; and the charges
// given are not changed.
func TestNextChargesSkippedLines(t *testing.T) {
	t.Parallel()
	queued := &rechargekit.Charge{ID: 1, AddressID: 10, Status: rechargekit.ChargeQueued, ScheduledAt: "2026-12-11",
		Lines: []rechargekit.ChargeLine{{SubscriptionID: 100, Title: "Coffee"}, {SubscriptionID: 101, OneTime: true, Title: "Razor"}}}
	skipped := &rechargekit.Charge{ID: 2, AddressID: 10, Status: rechargekit.ChargeSkipped, ScheduledAt: "2026-12-11",
		Lines: []rechargekit.ChargeLine{{SubscriptionID: 102, Title: "Socks"}}}
	otherAddress := &rechargekit.Charge{ID: 3, AddressID: 11, Status: rechargekit.ChargeSkipped, ScheduledAt: "2026-12-11",
		Lines: []rechargekit.ChargeLine{{SubscriptionID: 103, Title: "Tea"}}}
	otherDate := &rechargekit.Charge{ID: 4, AddressID: 10, Status: rechargekit.ChargeSkipped, ScheduledAt: "2026-11-11",
		Lines: []rechargekit.ChargeLine{{SubscriptionID: 100, Title: "Coffee"}}}
	later := &rechargekit.Charge{ID: 5, AddressID: 10, Status: rechargekit.ChargeQueued, ScheduledAt: "2027-02-11",
		Lines: []rechargekit.ChargeLine{{SubscriptionID: 102, Title: "Socks"}}}

	got := NextCharges([]*rechargekit.Charge{later, skipped, otherAddress, queued, otherDate})
	if diff := cmp.Diff([]int64{1, 5}, chargeIDs(got)); diff != "" {
		t.Fatalf("next charges (-want +got):\n%s", diff)
	}
	want := []rechargekit.ChargeLine{{SubscriptionID: 100, Title: "Coffee"}, {SubscriptionID: 101, OneTime: true, Title: "Razor"},
		{SubscriptionID: 102, Title: "Socks", Skipped: true}}
	if diff := cmp.Diff(want, got[0].Lines); diff != "" {
		t.Errorf("shipment of 2026-12-11 (-want +got):\n%s", diff)
	}
	if l := got[0].Line(102); l == nil || !l.Skipped {
		t.Errorf("Line(102) = %+v, want the skipped Socks", l)
	}
	if len(queued.Lines) != 2 || skipped.Lines[0].Skipped {
		t.Errorf("the charges given were changed: %+v, %+v", queued.Lines, skipped.Lines)
	}
	if diff := cmp.Diff(later, got[1]); diff != "" {
		t.Errorf("later shipment (-want +got):\n%s", diff)
	}
}

// TestFailingIgnoresPaidHistory: a failure of an address that a later
// charge of that address paid is history, not the customer's payment
// problem; a failure after the last payment, or on another address, is.
func TestFailingIgnoresPaidHistory(t *testing.T) {
	t.Parallel()
	at := func(s string) *time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return &v
	}
	old := &rechargekit.Charge{ID: 1, AddressID: 10, Status: rechargekit.ChargeError, ScheduledAt: "2026-06-01",
		LastAttemptAt: at("2026-06-13T10:00:00Z"), RetriesExhausted: true}
	paid := &rechargekit.Charge{ID: 2, AddressID: 10, Status: rechargekit.ChargeSuccess, ScheduledAt: "2026-07-01",
		ProcessedAt: at("2026-07-01T10:00:00Z")}
	recent := &rechargekit.Charge{ID: 3, AddressID: 10, Status: rechargekit.ChargeError, ScheduledAt: "2026-08-01",
		LastAttemptAt: at("2026-08-01T10:00:00Z")}
	other := &rechargekit.Charge{ID: 4, AddressID: 20, Status: rechargekit.ChargeError, ScheduledAt: "2026-05-01",
		LastAttemptAt: at("2026-05-01T10:00:00Z"), RetriesExhausted: true}
	var ids []int64
	for _, c := range Failing([]*rechargekit.Charge{old, paid, recent, other}) {
		ids = append(ids, c.ID)
	}
	if !slices.Equal(ids, []int64{3, 4}) {
		t.Errorf("failing charges = %v, want [3 4]: the paid-over failure 1 is history", ids)
	}
}
