package testkit

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rechargekit/rechargekit"
)

// Details returns hand-made card details with every section filled, from
// the values of the captured fixtures where there are some (the queued
// charge 1302050269 of shared/fixtures/recharge/2021-11/gladly-app-platform
// and the payment method of rechargesharp's list-payment-methods): a next
// shipment of two lines (one skipped) with a discount, a charge failing
// with CARD_DECLINED and a retry date, a default Visa card, two orders, two
// addresses and two events. failing adds the failed charge and the dunning
// flag; without it, payments are healthy. Each call returns new values.
func Details(failing bool) *rechargekit.CardDetails {
	home := &rechargekit.Address{
		ID: 195741005, FirstName: "Alex", LastName: "Rivera", Address1: "1 Main St", Address2: "Apt 2",
		City: "Springfield", Province: "Oregon", Zip: "97477", Country: "United States", Phone: "+15551234567",
		PaymentMethodID: 324534534,
	}
	office := &rechargekit.Address{ID: 195741006, FirstName: "Alex", LastName: "Rivera", Company: "Acme",
		Address1: "9 Harbour Rd", City: "København", Zip: "1000", Country: "Denmark"}
	processed := time.Date(2026, 11, 5, 9, 30, 0, 0, time.UTC)
	next := &rechargekit.Charge{
		ID: 1302050269, AddressID: home.ID, Status: rechargekit.ChargeQueued, Type: "recurring",
		ScheduledAt: "2026-12-15", Currency: "USD",
		Lines: []rechargekit.ChargeLine{
			{SubscriptionID: 589553679, Title: "Cat Pajamas", VariantTitle: "Large", SKU: "111-3",
				ImageURL: "https://cdn.example.com/cat-pajamas_small.png", Quantity: 1, UnitPrice: "49.50", TotalPrice: "49.50"},
			{SubscriptionID: 589553680, OneTime: true, Title: "Catnip Mouse", Quantity: 2, UnitPrice: "3.00", TotalPrice: "6.00"},
			{SubscriptionID: 589553681, Skipped: true, Title: "Cat Treats", Quantity: 1, UnitPrice: "25.00", TotalPrice: "25.00"},
		},
		Discounts:     []rechargekit.Discount{{Code: "SAVE10", Value: "10", ValueType: "percentage", Amount: "5.55"}},
		Shipping:      []rechargekit.ShippingLine{{Title: "Standard", Code: "Standard", Price: "4.90"}},
		SubtotalPrice: "55.50", TotalDiscounts: "5.55", TotalTax: "0.00", TotalPrice: "54.85",
		ShipTo: home,
	}
	d := &rechargekit.CardDetails{
		NextCharges: []*rechargekit.Charge{next},
		Payment: &rechargekit.Payment{Default: &rechargekit.PaymentMethod{
			ID: 324534534, Default: true, Type: "CREDIT_CARD", Brand: "visa", Last4: "0001", ExpMonth: 3, ExpYear: 2028,
		}},
		RecentOrders: []*rechargekit.Charge{{
			ID: 1302050100, AddressID: home.ID, Status: rechargekit.ChargeSuccess, Type: "recurring",
			ScheduledAt: "2026-11-05", ProcessedAt: &processed, Currency: "USD", OrderName: "#1016",
			Lines:         []rechargekit.ChargeLine{{SubscriptionID: 589553679, Title: "Cat Pajamas", VariantTitle: "Large", Quantity: 1, UnitPrice: "49.50", TotalPrice: "49.50"}},
			Shipping:      []rechargekit.ShippingLine{{Title: "Standard", Code: "Standard", Price: "4.90"}},
			SubtotalPrice: "49.50", TotalDiscounts: "0.00", TotalTax: "0.00", TotalPrice: "54.40",
		}},
		Addresses: []*rechargekit.Address{home, office},
		Events: []*rechargekit.Event{
			{ID: 3, At: time.Date(2026, 12, 4, 15, 41, 2, 0, time.UTC), ObjectType: "charge", ObjectID: 1302050269,
				Verb: "skipped", Description: "Skipped Cat Treats on charge #1302050269", Origin: "portal", Who: "the customer"},
			{ID: 2, At: time.Date(2026, 11, 5, 9, 30, 0, 0, time.UTC), ObjectType: "charge", ObjectID: 1302050100,
				Verb: "succeeded", Description: "Charge #1302050100 processed", Origin: "api", Who: "rechargekit"},
		},
		Unavailable: map[string]string{},
	}
	if failing {
		attempt := time.Date(2026, 12, 1, 4, 0, 0, 0, time.UTC)
		retry := time.Date(2026, 12, 8, 4, 0, 0, 0, time.UTC)
		failed := &rechargekit.Charge{
			ID: 1302050270, AddressID: office.ID, Status: rechargekit.ChargeError, Type: "recurring",
			ScheduledAt: "2026-12-01", Currency: "USD",
			Lines:         []rechargekit.ChargeLine{{SubscriptionID: 589553690, Title: "Dog Dental Chews", Quantity: 1, UnitPrice: "19.00", TotalPrice: "19.00"}},
			Shipping:      []rechargekit.ShippingLine{{Title: "Standard", Code: "Standard", Price: "4.90"}},
			SubtotalPrice: "19.00", TotalDiscounts: "0.00", TotalTax: "0.00", TotalPrice: "23.90",
			ShipTo:    office,
			ErrorType: "CARD_DECLINED", Error: "Your card was declined.", Attempts: 2,
			LastAttemptAt: &attempt, RetryAt: &retry,
		}
		d.NextCharges = append([]*rechargekit.Charge{failed}, d.NextCharges...)
		d.Payment.InDunning = true
		d.Payment.Failing = []*rechargekit.Charge{failed}
		d.RecentOrders = append([]*rechargekit.Charge{failed}, d.RecentOrders...)
	}
	return d
}

// processorToken finds a processor's token in a captured payment method.
var processorToken = regexp.MustCompile(`"processor_[a-z_]*token"\s*:\s*"([^"]+)"`)

// ProcessorTokens returns the processor and customer tokens of the
// captured payment methods under <module root>/../shared/fixtures/recharge
// (none when a clone has no shared fixtures), so that a test can check
// that none of them reaches an answer.
func ProcessorTokens(tb testing.TB) []string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatal("testkit: no go.mod above the working directory")
		}
		dir = parent
	}
	root := filepath.Join(dir, "..", "shared", "fixtures", "recharge")
	seen := map[string]bool{}
	var out []string
	_ = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".json") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil
		}
		for _, m := range processorToken.FindAllSubmatch(b, -1) {
			if t := string(m[1]); !seen[t] {
				seen[t] = true
				out = append(out, t)
			}
		}
		return nil
	})
	return out
}
