package mirror

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/internal/testkit"
	"github.com/rechargekit/rechargekit/recharge"
)

// TestRecordsHoldNoProcessorTokens encodes captured payment methods,
// customers and charges that carry processor tokens and checks that no
// token reaches a record.
func TestRecordsHoldNoProcessorTokens(t *testing.T) {
	t.Parallel()
	tokens := testkit.ProcessorTokens(t)
	if len(tokens) == 0 {
		t.Skip("no shared fixtures with processor tokens in this clone")
	}
	root := filepath.Join("..", "..", "shared", "fixtures", "recharge")
	var docs int
	_ = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".json") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil || !strings.Contains(string(b), "token") {
			return nil
		}
		var env struct {
			PaymentMethods []*recharge.PaymentMethod `json:"payment_methods"`
			PaymentMethod  *recharge.PaymentMethod   `json:"payment_method"`
			Customer       *recharge.Customer        `json:"customer"`
			Customers      []*recharge.Customer      `json:"customers"`
			Charge         *recharge.Charge          `json:"charge"`
			Charges        []*recharge.Charge        `json:"charges"`
		}
		if json.Unmarshal(b, &env) != nil {
			return nil
		}
		var objs []any
		for _, o := range env.PaymentMethods {
			objs = append(objs, o)
		}
		for _, o := range env.Customers {
			objs = append(objs, o)
		}
		for _, o := range env.Charges {
			objs = append(objs, o)
		}
		for _, o := range []any{env.PaymentMethod, env.Customer, env.Charge} {
			switch v := o.(type) {
			case *recharge.PaymentMethod:
				if v != nil {
					objs = append(objs, v)
				}
			case *recharge.Customer:
				if v != nil {
					objs = append(objs, v)
				}
			case *recharge.Charge:
				if v != nil {
					objs = append(objs, v)
				}
			}
		}
		for _, o := range objs {
			rec, err := record(o, "", time.Now())
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if rec == nil {
				continue
			}
			docs++
			for _, tok := range tokens {
				if strings.Contains(string(rec.Doc), tok) {
					t.Errorf("%s: the %s record holds a processor token", path, rec.Resource)
				}
			}
		}
		return nil
	})
	if docs == 0 {
		t.Fatal("no fixture payment method, customer or charge was encoded")
	}
}

// TestRecordKeys checks what a customer's and an address's records are
// found by, and that an event is ordered by its created_at.
func TestRecordKeys(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c := &recharge.Customer{ID: 7, Email: "Zoë@Example.com", FirstName: "Zoë", LastName: "Ng", Phone: "555-123-4567", UpdatedAt: recharge.Time{Time: at},
		Include: &recharge.CustomerInclude{Addresses: []*recharge.Address{{ID: 9}}}}
	rec, err := record(c, "US", at)
	if err != nil {
		t.Fatal(err)
	}
	want := map[rechargekit.SearchKey]bool{
		{Kind: rechargekit.KeyEmail, Value: "zoë@example.com"}: true, {Kind: rechargekit.KeyPhone, Value: "+15551234567"}: true,
		{Kind: rechargekit.KeyName, Value: "zoe"}: true, {Kind: rechargekit.KeyName, Value: "ng"}: true, {Kind: rechargekit.KeyName, Value: "zoe ng"}: true,
		{Kind: rechargekit.KeyCustomerID, Value: "7"}: true,
	}
	for _, k := range rec.Keys {
		if !want[k] {
			t.Errorf("unexpected key %+v", k)
		}
		delete(want, k)
	}
	if len(want) > 0 {
		t.Errorf("missing keys %v", want)
	}
	if rec.CustomerID != 7 || !rec.UpdatedAt.Equal(at) || strings.Contains(string(rec.Doc), "include") {
		t.Errorf("customer record %+v, doc %s", rec, rec.Doc)
	}
	a, err := record(&recharge.Address{ID: 9, CustomerID: 7, Zip: "k1a 0b1", FirstName: "Zoë"}, "US", at)
	if err != nil || a == nil || a.CustomerID != 7 || len(a.Keys) != 2 {
		t.Errorf("address record %+v, %v", a, err)
	}
	ev, err := record(&recharge.Event{ID: 3, CustomerID: 7, CreatedAt: recharge.Time{Time: at}}, "US", at)
	if err != nil || ev == nil || !ev.UpdatedAt.Equal(at) {
		t.Errorf("event record %+v, %v", ev, err)
	}
	if store, err := record(&recharge.Event{ID: 4}, "US", at); err != nil || store != nil {
		t.Errorf("a store-level event became a record: %+v, %v", store, err)
	}
}
