package rechargetest

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// captureCase loads a response body with LoadJSON and asks the simulator
// for the same objects: the answer must be the loaded body, byte for byte
// once both are compacted (or its list, when the captured page had cursors
// that a simulator holding one page cannot reproduce).
type captureCase struct {
	name     string
	file     string
	path     string
	listOnly string // compare only this list, not the envelope
}

func compact(tb testing.TB, b []byte) string {
	tb.Helper()
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		tb.Fatalf("compact: %v", err)
	}
	return out.String()
}

func runCaptureCases(t *testing.T, dir string, cases []captureCase) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, Config{}, DemoSeed())
			body := readFile(t, filepath.Join(dir, tc.file))
			if err := h.sim.LoadJSON(body); err != nil {
				t.Fatalf("LoadJSON: %v", err)
			}
			got := h.mustGet(tc.path).body
			want := body
			if tc.listOnly != "" {
				want, got = rawField(t, want, tc.listOnly), rawField(t, got, tc.listOnly)
			}
			if diff := cmp.Diff(compact(t, want), compact(t, got)); diff != "" {
				t.Errorf("(-loaded +answered):\n%s", diff)
			}
		})
	}
}

func TestLoadCapturedFixtures(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(fixturesDir(t), "gladly-app-platform")
	runCaptureCases(t, dir, []captureCase{
		{"customer by email", "data/pull/customer/success/rawData.json", "/customers?email=primary%40email.com", ""},
		{"subscriptions of a customer", "data/pull/subscriptions/success/rawData.json", "/subscriptions?customer_id=176728490", "subscriptions"},
		{"charges of a customer", "data/pull/charges/success/rawData.json", "/charges?customer_id=178507880", ""},
		{"addresses of a customer", "data/pull/addresses/success/rawData.json", "/addresses?customer_id=86876670", ""},
		{"subscription by ids", "actions/get_subscription_by_id/success/rawData.json", "/subscriptions?ids=584850012", ""},
		{"cancelled subscription", "actions/cancel_subscription/success_reason_provided/rawData.json", "/subscriptions/585061940", ""},
		{"reactivated subscription", "actions/reactivate_subscription/success/rawData.json", "/subscriptions/585061940", ""},
		{"skipped charge", "actions/skip_next_subscription/success/rawData.json", "/charges/1302050269", ""},
		{"unskipped charge", "actions/unskip_next_subscription/success/rawData.json", "/charges/1302050269", ""},
	})
}

func TestLoadOwnTestdata(t *testing.T) {
	t.Parallel()
	runCaptureCases(t, filepath.Join("testdata", "shapes"), []captureCase{
		{"customer by email", "customer.json", "/customers?email=someone%40example.com", ""},
		{"subscriptions of a customer", "subscription.json", "/subscriptions?customer_id=100200300", "subscriptions"},
		{"cancelled subscription", "subscription_cancelled.json", "/subscriptions/500600701", ""},
		{"charges of a customer", "charges.json", "/charges?customer_id=100200300", ""},
		{"addresses of a customer", "address.json", "/addresses?customer_id=100200300", ""},
	})
}

// TestLoadOlderCaptures loads every 2022 customer, address and subscription
// answer: the simulator models each of their fields (LoadJSON refuses
// unknown ones), including timestamps without an offset.
func TestLoadOlderCaptures(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(fixturesDir(t), "rechargesharp")
	var files []string
	for _, sub := range []string{"Customers", "Addresses", "Subscriptions"} {
		m, _ := filepath.Glob(filepath.Join(dir, sub, "*_20[01]*.json"))
		files = append(files, m...)
	}
	if len(files) < 10 {
		t.Fatalf("found only %d captures", len(files))
	}
	for _, f := range files {
		if strings.Contains(f, "delivery-schedule") {
			continue // not a resource object
		}
		t.Run(filepath.Base(f), func(t *testing.T) {
			sim := New(Config{Now: newClock().Now})
			if err := sim.LoadJSON(readFile(t, f)); err != nil {
				t.Fatalf("LoadJSON: %v", err)
			}
		})
	}
}

// TestLoadedObjectsChange checks that loaded objects take part in the
// actions like seeded ones: cancelling the captured active subscription
// gives the captured cancellation's shape.
func TestLoadedObjectsChange(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	own := readFile(t, filepath.Join("testdata", "shapes", "subscription.json"))
	if err := h.sim.LoadJSON(own); err != nil {
		t.Fatal(err)
	}
	r := h.mustDo(200, "POST", "/subscriptions/500600700/cancel", `{"cancellation_reason":"Cancellation reason was not specified","send_email":true}`)
	sub := mustDecode(t, r.body)["subscription"].(obj)
	if sub["status"] != "cancelled" || sub["next_charge_scheduled_at"] != nil || sub["has_queued_charges"] != false ||
		sub["cancellation_reason"] != "Cancellation reason was not specified" {
		t.Errorf("cancelled = %s", r.body)
	}
	sameShape(t, "cancelled", rawField(t, readFile(t, filepath.Join("testdata", "shapes", "subscription_cancelled.json")), "subscription"), rawField(t, r.body, "subscription"), false)
	for _, bad := range []string{`{"customers":[{"id":1,"favourite_colour":"red"}]}`, `{"subscription":{"address_id":1}}`, `not json`, `{"charges":{"id":1}}`} {
		if err := h.sim.LoadJSON([]byte(bad)); err == nil {
			t.Errorf("LoadJSON(%s) = nil, want an error", bad)
		}
	}
}

// TestLoadedChargeWithoutParents skips one line of a loaded two-line charge
// whose customer and address were never loaded.
func TestLoadedChargeWithoutParents(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	var doc map[string][]map[string]any
	if err := json.Unmarshal(readFile(t, filepath.Join("testdata", "shapes", "charges.json")), &doc); err != nil {
		t.Fatal(err)
	}
	queued := doc["charges"][1]
	line := queued["line_items"].([]any)[0].(map[string]any)
	second := map[string]any{}
	for k, v := range line {
		second[k] = v
	}
	second["purchase_item_id"] = 500600799
	queued["line_items"] = []any{line, second}
	body, _ := json.Marshal(map[string]any{"charge": queued})
	if err := h.sim.LoadJSON(body); err != nil {
		t.Fatal(err)
	}
	r := h.mustDo(200, "POST", "/charges/1302000001/skip", `{"purchase_item_ids":[500600799]}`)
	ch := mustDecode(t, r.body)["charge"].(obj)
	if ch["status"] != "skipped" || idOf(t, ch["id"]) == 1302000001 || idOf(t, ch["customer"].(obj)["id"]) != 100200300 {
		t.Errorf("skipped part = %s", r.body)
	}
	rest := mustDecode(t, h.mustGet("/charges/1302000001").body)["charge"].(obj)
	if rest["status"] != "queued" || len(rest["line_items"].([]any)) != 1 {
		t.Errorf("rest = %v", rest)
	}
}

// TestLoadedSubscriptionWithoutCustomer activates and moves a loaded
// subscription whose address is known but whose customer is not.
func TestLoadedSubscriptionWithoutCustomer(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	for _, f := range []string{"address.json", "subscription_cancelled.json"} {
		if err := h.sim.LoadJSON(readFile(t, filepath.Join("testdata", "shapes", f))); err != nil {
			t.Fatal(err)
		}
	}
	r := h.mustDo(200, "POST", "/subscriptions/500600701/activate", `{}`)
	if sub := mustDecode(t, r.body)["subscription"].(obj); sub["has_queued_charges"] != true {
		t.Errorf("activated = %s", r.body)
	}
	h.mustDo(200, "POST", "/subscriptions/500600701/set_next_charge_date", `{"date":"2025-05-01"}`)
	q := mustPage(t, h.mustGet("/charges?customer_id=100200300&status=queued"), "charges")
	if len(q.items) != 1 || q.items[0]["scheduled_at"] != "2025-05-01" {
		t.Errorf("queued = %v", q.items)
	}
}
