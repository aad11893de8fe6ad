package recharge

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestTimeUnmarshal(t *testing.T) {
	t.Parallel()
	utc := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		name string
		in   string
		want time.Time // compared with Equal
		err  bool
	}{
		{"offset", `"2025-01-26T15:20:33+00:00"`, utc("2025-01-26T15:20:33Z"), false},
		{"microseconds", `"2022-03-11T10:19:18.637636+00:00"`, utc("2022-03-11T10:19:18.637636Z"), false},
		{"no offset is UTC", `"2022-03-09T02:31:39"`, utc("2022-03-09T02:31:39Z"), false},
		{"no offset with fraction", `"2022-03-09T02:31:39.5"`, utc("2022-03-09T02:31:39.5Z"), false},
		{"z", `"2025-01-26T15:20:33Z"`, utc("2025-01-26T15:20:33Z"), false},
		{"other offset", `"2025-01-26T10:20:33-05:00"`, utc("2025-01-26T15:20:33Z"), false},
		{"compact offset", `"2025-01-26T10:20:33-0500"`, utc("2025-01-26T15:20:33Z"), false},
		{"space separator", `"2025-01-26 15:20:33"`, utc("2025-01-26T15:20:33Z"), false},
		{"date only", `"2025-02-25"`, utc("2025-02-25T00:00:00Z"), false},
		{"null", `null`, time.Time{}, false},
		{"empty", `""`, time.Time{}, false},
		{"blank", `"  "`, time.Time{}, false},
		{"garbage", `"yesterday"`, time.Time{}, true},
		{"number", `1700000000`, time.Time{}, true},
		{"object", `{}`, time.Time{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got Time
			err := json.Unmarshal([]byte(tt.in), &got)
			if (err != nil) != tt.err {
				t.Fatalf("Unmarshal(%s) error = %v, want error %v", tt.in, err, tt.err)
			}
			if !got.Equal(tt.want) {
				t.Errorf("Unmarshal(%s) = %v, want %v", tt.in, got.Time, tt.want)
			}
		})
	}
}

func TestTimeMarshalRoundTrip(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		`"2025-01-26T15:20:33+00:00"`,
		`"2022-03-11T10:19:18.637636+00:00"`,
		`"2025-01-26T10:20:33-05:00"`,
		`null`,
	} {
		var v Time
		if err := json.Unmarshal([]byte(in), &v); err != nil {
			t.Fatal(err)
		}
		out, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if string(out) != in {
			t.Errorf("round trip of %s = %s", in, out)
		}
	}
	// The offset-less form comes back in Recharge's 2021-11 form.
	var v Time
	if err := json.Unmarshal([]byte(`"2022-03-09T02:31:39"`), &v); err != nil {
		t.Fatal(err)
	}
	if out, _ := json.Marshal(v); string(out) != `"2022-03-09T02:31:39+00:00"` {
		t.Errorf("offset-less time marshals to %s", out)
	}
	if v.UTCPtr() == nil || v.UTCPtr().Location() != time.UTC {
		t.Errorf("UTCPtr() = %v, want a UTC time", v.UTCPtr())
	}
	if (Time{}).UTCPtr() != nil {
		t.Error("zero Time.UTCPtr() is not nil")
	}
}

func TestDateUnmarshal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want string
		err  bool
	}{
		{"date", `"2025-02-25"`, "2025-02-25", false},
		{"timestamp keeps its calendar day", `"2025-03-05T23:30:00-05:00"`, "2025-03-05", false},
		{"offset-less timestamp", `"2022-03-09T02:31:39"`, "2022-03-09", false},
		{"microseconds", `"2022-03-11T10:19:18.637636+00:00"`, "2022-03-11", false},
		{"null", `null`, "", false},
		{"empty", `""`, "", false},
		{"bad month", `"2025-13-01"`, "", true},
		{"garbage", `"soon"`, "", true},
		{"number", `20250225`, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got Date
			err := json.Unmarshal([]byte(tt.in), &got)
			if (err != nil) != tt.err {
				t.Fatalf("Unmarshal(%s) error = %v, want error %v", tt.in, err, tt.err)
			}
			if got.String() != tt.want {
				t.Errorf("Unmarshal(%s) = %q, want %q", tt.in, got.String(), tt.want)
			}
			if !tt.err {
				out, _ := json.Marshal(got)
				want := `"` + tt.want + `"`
				if tt.want == "" {
					want = "null"
				}
				if string(out) != want {
					t.Errorf("Marshal = %s, want %s", out, want)
				}
			}
		})
	}
	d := Date{2025, time.February, 25}
	if got := d.In(time.UTC); !got.Equal(time.Date(2025, 2, 25, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("In = %v", got)
	}
}

func TestExternalIDUnmarshal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want string
		null bool
		err  bool
	}{
		{"object", `{"ecommerce":"7923224739991"}`, "7923224739991", false, false},
		{"object null", `{"ecommerce":null}`, "", true, false},
		{"object number", `{"ecommerce":7923224739991}`, "7923224739991", false, false},
		{"empty object", `{}`, "", true, false},
		{"bare string", `"8143925215383"`, "8143925215383", false, false},
		{"bare number", `8143925215383`, "8143925215383", false, false},
		{"null", `null`, "", true, false},
		{"array", `["1"]`, "", true, true},
		{"object of object", `{"ecommerce":{"x":1}}`, "", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got ExternalID
			err := json.Unmarshal([]byte(tt.in), &got)
			if (err != nil) != tt.err {
				t.Fatalf("error = %v, want error %v", err, tt.err)
			}
			if tt.err {
				return
			}
			if got.String() != tt.want || (got.Ecommerce == nil) != tt.null {
				t.Errorf("got %q (nil=%v), want %q (nil=%v)", got.String(), got.Ecommerce == nil, tt.want, tt.null)
			}
		})
	}
	if out, _ := json.Marshal(NewExternalID("")); string(out) != `{"ecommerce":null}` {
		t.Errorf("null id marshals to %s", out)
	}
	if out, _ := json.Marshal(NewExternalID("42")); string(out) != `{"ecommerce":"42"}` {
		t.Errorf("id marshals to %s", out)
	}
}

// lenientCase is one input of a lenient type's table: what it decodes to,
// or that it fails.
type lenientCase[T any] struct {
	name string
	in   string
	want T
	err  bool
}

// runLenient decodes each case into a fresh T and, for those that decode,
// checks that the encoding is want's and decodes back to want.
func runLenient[T comparable](t *testing.T, cases []lenientCase[T]) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got T
			err := json.Unmarshal([]byte(tt.in), &got)
			if (err != nil) != tt.err {
				t.Fatalf("Unmarshal(%s) error = %v, want error %v", tt.in, err, tt.err)
			}
			if tt.err {
				return
			}
			if got != tt.want {
				t.Errorf("Unmarshal(%s) = %#v, want %#v", tt.in, got, tt.want)
			}
			enc, err := json.Marshal(got)
			if err != nil {
				t.Fatal(err)
			}
			var back T
			if err := json.Unmarshal(enc, &back); err != nil || back != got {
				t.Errorf("round trip of %s: %#v, %v", enc, back, err)
			}
		})
	}
}

func TestInt64Unmarshal(t *testing.T) {
	t.Parallel()
	runLenient(t, []lenientCase[Int64]{
		{"number", `123`, 123, false},
		{"negative", `-7`, -7, false},
		{"string", `"123"`, 123, false},
		{"string with spaces", `" 123 "`, 123, false},
		{"integral float", `176728490.0`, 176728490, false},
		{"integral float string", `"30.0"`, 30, false},
		{"exponent", `1e2`, 100, false},
		{"large id", `9007199254740993`, 9007199254740993, false},
		{"null", `null`, 0, false},
		{"empty string", `""`, 0, false},
		{"fraction", `1.5`, 0, true},
		{"fraction string", `"1.5"`, 0, true},
		{"word", `"abc"`, 0, true},
		{"boolean", `true`, 0, true},
		{"overflow", `"99999999999999999999"`, 0, true},
		{"object", `{"id":1}`, 0, true},
		{"array", `[1]`, 0, true},
	})
	var n Int64 = 42
	if b, _ := json.Marshal(n); string(b) != `42` {
		t.Errorf("Int64 encodes as %s, want a JSON number", b)
	}
}

func TestIntUnmarshal(t *testing.T) {
	t.Parallel()
	runLenient(t, []lenientCase[Int]{
		{"number", `30`, 30, false},
		{"string", `"30"`, 30, false},
		{"integral float", `2.0`, 2, false},
		{"null", `null`, 0, false},
		{"empty string", `""`, 0, false},
		{"fraction", `2.5`, 0, true},
		{"word", `"two"`, 0, true},
		{"boolean", `false`, 0, true},
		{"object", `{}`, 0, true},
	})
	// A pointer to Int tells null from a value.
	var v struct {
		Count *Int `json:"count"`
	}
	if err := json.Unmarshal([]byte(`{"count":null}`), &v); err != nil || v.Count != nil {
		t.Errorf("null count = %v, %v; want nil", v.Count, err)
	}
	if err := json.Unmarshal([]byte(`{"count":"4"}`), &v); err != nil || v.Count == nil || *v.Count != 4 {
		t.Errorf(`"4" count = %v, %v; want 4`, v.Count, err)
	}
}

func TestMoneyUnmarshal(t *testing.T) {
	t.Parallel()
	runLenient(t, []lenientCase[Money]{
		{"decimal string", `"25.00"`, "25.00", false},
		{"number keeps its text", `25.0`, "25.0", false},
		{"trailing zeros kept", `98.00`, "98.00", false},
		{"integer", `25`, "25", false},
		{"negative", `-1.50`, "-1.50", false},
		{"many digits not rounded", `0.1000000000000000055511151231257827`, "0.1000000000000000055511151231257827", false},
		{"null", `null`, "", false},
		{"empty", `""`, "", false},
		{"object", `{"amount":1}`, "", true},
		{"array", `["1.00"]`, "", true},
	})
	if b, _ := json.Marshal(Money("25.0")); string(b) != `"25.0"` {
		t.Errorf("Money encodes as %s, want a JSON string", b)
	}
}

func TestStringUnmarshal(t *testing.T) {
	t.Parallel()
	runLenient(t, []lenientCase[String]{
		{"string", `"SKU-1"`, "SKU-1", false},
		{"number", `4520000000`, "4520000000", false},
		{"boolean", `true`, "true", false},
		{"null", `null`, "", false},
		{"unicode escape", `"caf\u00e9"`, "caf\u00e9", false},
		{"object", `{}`, "", true},
		{"array", `[]`, "", true},
	})
}

func TestTextUnmarshal(t *testing.T) {
	t.Parallel()
	runLenient(t, []lenientCase[Text]{
		{"string", `"card declined"`, "card declined", false},
		{"number", `5`, "5", false},
		{"null", `null`, "", false},
		{"object kept compact", `{"code": "x", "n": [1, 2]}`, `{"code":"x","n":[1,2]}`, false},
		{"array kept compact", `[ 1, "a" ]`, `[1,"a"]`, false},
	})
}

func TestBoolUnmarshal(t *testing.T) {
	t.Parallel()
	runLenient(t, []lenientCase[Bool]{
		{"true", `true`, true, false},
		{"false", `false`, false, false},
		{"one", `1`, true, false},
		{"zero", `0`, false, false},
		{"string one", `"1"`, true, false},
		{"string zero", `"0"`, false, false},
		{"string true", `"true"`, true, false},
		{"string false", `"false"`, false, false},
		{"string in capitals", `"TRUE"`, true, false},
		{"string with spaces", `" 1 "`, true, false},
		{"empty string", `""`, false, false},
		{"null", `null`, false, false},
		{"two", `2`, false, true},
		{"minus one", `-1`, false, true},
		{"one as float", `1.0`, false, true},
		{"string two", `"2"`, false, true},
		{"string yes", `"yes"`, false, true},
		{"string null", `"null"`, false, true},
		{"object", `{}`, false, true},
		{"array", `[true]`, false, true},
	})
	if b, _ := json.Marshal(Bool(true)); string(b) != `true` {
		t.Errorf("Bool encodes as %s, want a JSON boolean", b)
	}
}

// TestBooleansAsNumbers decodes resources whose flags come as 1 and 0, as
// some webhook payloads send them: before Bool, one such flag failed the
// whole object, and with it a whole page.
func TestBooleansAsNumbers(t *testing.T) {
	t.Parallel()
	var sub Subscription
	in := `{"id":1,"is_prepaid":1,"is_skippable":"1","is_swappable":0,"has_queued_charges":"false","sku_override":null}`
	if err := json.Unmarshal([]byte(in), &sub); err != nil {
		t.Fatal(err)
	}
	if !sub.IsPrepaid || !sub.IsSkippable || sub.IsSwappable || sub.HasQueuedCharges || sub.SKUOverride {
		t.Errorf("flags decoded to %+v", sub)
	}
	var page struct{ Charges []*Charge }
	if err := json.Unmarshal([]byte(`{"charges":[{"id":1,"taxable":1,"line_items":[{"taxable":0,"unit_price_includes_tax":1}]},{"id":2}]}`), &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Charges) != 2 || !page.Charges[0].Taxable || page.Charges[0].LineItems[0].Taxable || !page.Charges[0].LineItems[0].UnitPriceIncludesTax {
		t.Errorf("charges page decoded to %+v", page.Charges)
	}
	ev, err := ParseWebhook("customer/updated", []byte(`{"customer":{"id":7,"tax_exempt":1,"has_valid_payment_method":"0"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if ev.Customer == nil || !ev.Customer.TaxExempt || ev.Customer.HasValidPaymentMethod || ev.CustomerID() != 7 {
		t.Errorf("webhook customer decoded to %+v", ev.Customer)
	}
}

// TestLenientShapes decodes a 2021-01-flavoured subscription: string
// frequencies and ids, a numeric price, uppercase status. The 2021-11
// client must still read what matters.
func TestLenientShapes(t *testing.T) {
	t.Parallel()
	in := `{"id":"585061940","customer_id":176728490.0,"address_id":null,"charge_interval_frequency":"30",
	"order_interval_frequency":" 30 ","price":98.00,"status":"ACTIVE","quantity":"2","sku":null,
	"expire_after_specific_number_of_charges":"3","order_day_of_month":null,
	"external_product_id":8143925215383,"external_variant_id":"43510687465623",
	"properties":[{"name":"n","value":5},{"name":"o","value":{"a":[1,2]}},{"name":"p","value":null}],
	"next_charge_scheduled_at":"2018-10-09T00:00:00","unknown_field":{"nested":[1,2,3]}}`
	var got Subscription
	if err := json.Unmarshal([]byte(in), &got); err != nil {
		t.Fatal(err)
	}
	want := Subscription{
		ID: 585061940, CustomerID: 176728490, ChargeIntervalFrequency: 30, OrderIntervalFrequency: 30,
		Price: "98.00", Status: "ACTIVE", Quantity: 2, ExpireAfterSpecificNumberOfCharges: Ptr[Int](3),
		ExternalProductID: NewExternalID("8143925215383"), ExternalVariantID: NewExternalID("43510687465623"),
		Properties:            []Property{{"n", "5"}, {"o", `{"a":[1,2]}`}, {"p", ""}},
		NextChargeScheduledAt: Date{2018, time.October, 9},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("lenient subscription (-want +got):\n%s", diff)
	}
	if !got.IsActive() || got.IsCancelled() {
		t.Errorf("status compare is not case-insensitive")
	}

	for _, bad := range []string{
		`{"id":"abc"}`,
		`{"id":1.5}`,
		`{"quantity":true}`,
		`{"charge_interval_frequency":"99999999999999999999"}`,
		`{"price":{"amount":1}}`,
	} {
		var s Subscription
		if err := json.Unmarshal([]byte(bad), &s); err == nil {
			t.Errorf("Unmarshal(%s) = nil error, want one", bad)
		}
	}
}

func TestImagesBest(t *testing.T) {
	t.Parallel()
	const cdn = "https://cdn.example.com/"
	tests := []struct {
		name string
		in   Images
		want string
	}{
		{"medium first", Images{Small: cdn + "s", Medium: cdn + "m", Large: cdn + "l", Original: cdn + "o"}, cdn + "m"},
		{"then small", Images{Small: cdn + "s", Large: cdn + "l", Original: cdn + "o"}, cdn + "s"},
		{"then original", Images{Large: cdn + "l", Original: cdn + "o"}, cdn + "o"},
		{"then large", Images{Large: cdn + "l"}, cdn + "l"},
		{"blank skipped", Images{Medium: "  ", Large: cdn + "l"}, cdn + "l"},
		{"not a web URL skipped", Images{Medium: "javascript:alert(1)", Small: "/relative.png", Large: cdn + "l"}, cdn + "l"},
		{"none", Images{}, ""},
	}
	for _, tt := range tests {
		if got := tt.in.Best(); got != tt.want {
			t.Errorf("%s: Best() = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestProductImageURL(t *testing.T) {
	t.Parallel()
	var p Product
	in := `{"external_product_id":"p1","title":"T","images":[
		{"medium":"https://cdn.example.com/second.png","sort_order":2},{"small":"https://cdn.example.com/first.png","sort_order":"1"},{"sort_order":0}],
		"variants":[{"external_variant_id":"v1","sku":"S1","image":{"large":"https://cdn.example.com/variant.png"},"prices":{"unit_price":9.5,"compare_at_price":"10.00"}},
		{"external_variant_id":"v2"}]}`
	if err := json.Unmarshal([]byte(in), &p); err != nil {
		t.Fatal(err)
	}
	if got := p.ImageURL("v1"); got != "https://cdn.example.com/variant.png" {
		t.Errorf("ImageURL(v1) = %q", got)
	}
	if got := p.ImageURL("v2"); got != "https://cdn.example.com/first.png" {
		t.Errorf("ImageURL(v2) = %q, want the lowest sort order with an image", got)
	}
	if got := p.ImageURL(""); got != "https://cdn.example.com/first.png" {
		t.Errorf("ImageURL(\"\") = %q", got)
	}
	if p.Variants[0].Prices.UnitPrice != "9.5" {
		t.Errorf("numeric unit price = %q, want its text", p.Variants[0].Prices.UnitPrice)
	}
	if p.ExternalProductID.String() != "p1" {
		t.Errorf("bare string product id = %q", p.ExternalProductID.String())
	}
}

func TestStoreTimezoneForms(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		`{"id":1,"timezone":{"iana_name":"Europe/Copenhagen","name":"(GMT+01:00) Copenhagen"}}`,
		`{"id":"1","timezone":"Europe/Copenhagen"}`,
	} {
		var s Store
		if err := json.Unmarshal([]byte(in), &s); err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if s.ID != 1 || s.Timezone.IANAName != "Europe/Copenhagen" {
			t.Errorf("%s decoded to %+v", in, s)
		}
	}
}

func FuzzParseTime(f *testing.F) {
	for _, s := range []string{
		"2025-01-26T15:20:33+00:00", "2022-03-11T10:19:18.637636+00:00", "2022-03-09T02:31:39",
		"2025-02-25", "", "null", "2025-01-26 15:20:33", "9999-12-31T23:59:59.999999999-23:59",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tm, err := ParseTime(s)
		if err != nil {
			if !tm.IsZero() {
				t.Errorf("ParseTime(%q) returned a time with an error", s)
			}
			return
		}
		// Whatever parses must survive a marshal/unmarshal round trip.
		b, err := json.Marshal(Time{tm})
		if err != nil {
			return // years outside 0-9999 cannot be marshalled
		}
		var back Time
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("re-parse of %s (from %q): %v", b, s, err)
		}
		if !back.Equal(tm.Truncate(time.Microsecond)) && !back.Equal(tm) {
			t.Errorf("round trip of %q: %v != %v", s, back.Time, tm)
		}
	})
}

func FuzzDateUnmarshal(f *testing.F) {
	for _, s := range []string{`"2025-02-25"`, `null`, `""`, `"2025-03-05T23:30:00-05:00"`, `"2022-03-09T02:31:39"`, `7`, `"2025-02-30"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var d Date
		if err := json.Unmarshal([]byte(s), &d); err != nil {
			return
		}
		if d.IsZero() {
			return
		}
		b, err := json.Marshal(d)
		if err != nil {
			t.Fatalf("marshal %+v: %v", d, err)
		}
		var back Date
		if err := json.Unmarshal(b, &back); err != nil {
			// Dates outside 0000-9999 print with more digits and a sign.
			if d.Year < 0 || d.Year > 9999 {
				return
			}
			t.Fatalf("re-parse %s: %v", b, err)
		}
		if back != d {
			t.Errorf("round trip of %s: %+v != %+v", s, back, d)
		}
	})
}
