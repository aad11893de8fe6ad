package recharge

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/internal/testkit"
)

// TestMappingFixtures maps the captured subscriptions page and charges page
// (spec/gladly-lookup.md section 12's golden inputs). The two captures come
// from different customers: no line item belongs to these subscriptions, so
// images stay empty and nothing falls back.
func TestMappingFixtures(t *testing.T) {
	t.Parallel()
	root := filepath.Join(sharedFixtures(t), "gladly-app-platform")
	subs := decodeList[Subscription](t, filepath.Join(root, "data/pull/subscriptions/success/rawData.json"), "subscriptions")
	charges := decodeList[Charge](t, filepath.Join(root, "data/pull/charges/success/rawData.json"), "charges")
	got := DomainSubscriptions(subs, charges)
	mk := func(id int64, created, price, productID, variantID, name, variantName, sku string) *rechargekit.Subscription {
		return &rechargekit.Subscription{
			ID: id, CustomerID: 176728490, AddressID: 193759360, Status: "active",
			CreatedAt: utcTime(t, created), UpdatedAt: utcTime(t, created),
			ChargeIntervalFrequency: 30, OrderIntervalFrequency: 30, IntervalUnit: "day", NextChargeDate: "2025-02-25",
			Price: price, Currency: "USD", Quantity: 1,
			Product: rechargekit.Product{ID: productID, VariantID: variantID, Name: name, VariantName: variantName, SKU: sku},
		}
	}
	want := []*rechargekit.Subscription{
		mk(585061940, "2025-01-26T15:20:33Z", "98.00", "8143925215383", "43510687465623", "Men's Wool Runner", "8", "WOOL100"),
		mk(585061918, "2025-01-26T15:20:31Z", "29.99", "7469727514775", "41845356494999", "t-shirt (short):  dog lovers", "Small", "300832"),
		mk(585061901, "2025-01-26T15:20:28Z", "49.50", "7451895464087", "41799856586903", "Cat Pajamas", "Small", "111-1"),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("mapping (-want +got):\n%s", diff)
	}

	// The cancelled capture.
	var env struct{ Subscription *Subscription }
	mustDecodeFile(t, filepath.Join(root, "actions/cancel_subscription/success_reason_provided/rawData.json"), &env)
	c := DomainSubscriptions([]*Subscription{env.Subscription}, nil)[0]
	wantC := mk(585061940, "2025-01-26T15:20:33Z", "98.00", "8143925215383", "43510687465623", "Men's Wool Runner", "8", "WOOL100")
	wantC.Status, wantC.NextChargeDate = "cancelled", ""
	wantC.UpdatedAt = utcTime(t, "2025-01-29T12:20:28Z")
	wantC.CancelledAt = utcPtr(t, "2025-01-29T12:20:42Z")
	wantC.CancellationReason = "Cancellation reason provided for the test. Lorem Ipsum is simply dummy text of the printing and typesetting industry."
	if diff := cmp.Diff(wantC, c); diff != "" {
		t.Errorf("cancelled mapping (-want +got):\n%s", diff)
	}

	// The captured charges do belong to subscription 589553679 (Cat
	// Pajamas, Large): a subscription with that id and neither SKU nor
	// currency takes the image, SKU and currency from the newest charge.
	s := *subs[2]
	s.ID, s.ExternalVariantID, s.SKU, s.PresentmentCurrency = 589553679, NewExternalID("41799856652439"), "", ""
	m := DomainSubscriptions([]*Subscription{&s}, charges)[0]
	wantImage := "https://cdn.shopify.com/s/files/1/0475/5433/0775/products/catpajamapants_medium.png?v=1646088502"
	if m.Product.ImageURL != wantImage || m.Product.SKU != "111-3" || m.Currency != "USD" {
		t.Errorf("fallbacks from the captured charges: image %q, sku %q, currency %q", m.Product.ImageURL, m.Product.SKU, m.Currency)
	}
}

// ownMappingWant is the hand-computed mapping of our testdata pages
// (Subscriptions/list-subscriptions_200.json with Charges/list-charges_200.json).
func ownMappingWant(t *testing.T) []*rechargekit.Subscription {
	return []*rechargekit.Subscription{
		{
			ID: 700004, CustomerID: 900001, AddressID: 800001, Status: "expired",
			CreatedAt: utcTime(t, "2023-01-01T00:00:00Z"), UpdatedAt: utcTime(t, "2023-04-01T00:00:00Z"),
			ChargeIntervalFrequency: 1, OrderIntervalFrequency: 1, IntervalUnit: "month",
			Price: "10.00", Currency: "GBP", Quantity: 1,
			Product: rechargekit.Product{Name: "Gift box"},
		},
		{
			// Newest charge first: 5000003 (medium empty, so small), its SKU
			// and its currency; the older 5000001 is not used.
			ID: 700003, CustomerID: 900001, AddressID: 800001, Status: "active",
			CreatedAt: utcTime(t, "2024-05-01T08:00:00Z"), UpdatedAt: utcTime(t, "2024-07-01T10:00:00.5Z"),
			ChargeIntervalFrequency: 2, OrderIntervalFrequency: 1, IntervalUnit: "week", NextChargeDate: "2024-08-01",
			Price: "12.00", Currency: "USD", Quantity: 2,
			Product: rechargekit.Product{ID: "P-3", VariantID: "V-3", Name: "Tea", VariantName: "Loose", SKU: "SKU-3",
				ImageURL: "https://cdn.example.com/new-3-small.png"},
		},
		{
			ID: 700002, CustomerID: 900001, AddressID: 800001, Status: "cancelled",
			CreatedAt: utcTime(t, "2024-02-01T10:00:00Z"), UpdatedAt: utcTime(t, "2024-06-02T08:09:09Z"),
			ChargeIntervalFrequency: 30, OrderIntervalFrequency: 30, IntervalUnit: "day",
			CancelledAt: utcPtr(t, "2024-06-02T08:09:10.123456Z"), CancellationReason: "too expensive", CancellationReasonComments: "will be back",
			Price: "30.50", Currency: "EUR", Quantity: 1,
			Product: rechargekit.Product{ID: "P-2", VariantID: "V-2", Name: "Coffee", VariantName: "Beans", SKU: "SKU-2",
				ImageURL: "https://cdn.example.com/two-small.png"},
		},
		{
			// The one-time line with the same id is ignored; the old variant's
			// line of the same product gives the image.
			ID: 700001, CustomerID: 900001, AddressID: 800001, Status: "active",
			CreatedAt: utcTime(t, "2022-03-09T02:31:39Z"), UpdatedAt: utcTime(t, "2022-03-10T12:13:28Z"),
			ChargeIntervalFrequency: 30, OrderIntervalFrequency: 30, IntervalUnit: "day", NextChargeDate: "2024-07-20",
			Price: "49.50", Currency: "USD", Quantity: 1,
			Product: rechargekit.Product{ID: "P-1", VariantID: "V-1b", Name: "Pyjamas", VariantName: "Large", SKU: "SKU-1b",
				ImageURL: "https://cdn.example.com/one-old-variant.png"},
		},
	}
}

func TestMappingOwnTestdata(t *testing.T) {
	t.Parallel()
	subs := decodeList[Subscription](t, filepath.Join("testdata", "payloads", "Subscriptions", "list-subscriptions_200.json"), "subscriptions")
	charges := decodeList[Charge](t, filepath.Join("testdata", "payloads", "Charges", "list-charges_200.json"), "charges")
	got := DomainSubscriptions(subs, charges)
	if diff := cmp.Diff(ownMappingWant(t), got); diff != "" {
		t.Errorf("mapping (-want +got):\n%s", diff)
	}

	// The same card in its JSON form, kept as a golden file.
	var txs []rechargekit.SubscriptionTransaction
	for _, s := range got {
		txs = append(txs, s.Transaction())
	}
	b, err := json.MarshalIndent(txs, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	testkit.Golden(t, "mapping.golden", append(b, '\n'))

	// Without charges (a token without read_orders) nothing falls back.
	bare := DomainSubscriptions(subs, nil)
	if bare[1].Product.ImageURL != "" || bare[1].Product.SKU != "" || bare[1].Currency != "" {
		t.Errorf("fallbacks without charges: %+v", bare[1].Product)
	}
}

func TestDomainCustomer(t *testing.T) {
	t.Parallel()
	cs := decodeList[Customer](t, filepath.Join("testdata", "payloads", "Customers", "list-customers_200.json"), "customers")
	got := []*rechargekit.Customer{DomainCustomer(cs[0]), DomainCustomer(cs[1])}
	want := []*rechargekit.Customer{
		{
			ID: 900001, ExternalID: "6000000000001", Email: "Ada@Example.com", FirstName: "Ada", LastName: "Lovelace",
			Phone: "+4520000000", SubscriptionsTotal: Ptr(4), SubscriptionsActive: Ptr(2),
			CreatedAt: utcTime(t, "2024-01-01T09:00:00Z"), UpdatedAt: utcTime(t, "2024-07-01T12:00:00Z"),
		},
		{
			ID: 900000, Email: "old@example.com", FirstName: "Old", LastName: "Shape",
			CreatedAt: utcTime(t, "2022-03-09T02:31:39Z"), UpdatedAt: utcTime(t, "2022-03-09T02:36:35Z"),
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("DomainCustomer (-want +got):\n%s", diff)
	}
	if DomainCustomer(nil) != nil {
		t.Error("DomainCustomer(nil) is not nil")
	}
}
