package gladly

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rechargekit/rechargekit"
)

func TestParseRequestTestdata(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file string
		want Request
	}{
		{"auto_link.json", Request{
			Kind: KindAutoLink, Level: LevelBasic,
			Profile: rechargekit.Profile{ID: "gp-7Hq2xK", Name: "Ana Ruiz",
				Emails: []string{"ana.ruiz@example.com", "ANA.RUIZ@example.com", "ana@work.example"},
				Phones: []string{"+34911234567"}},
			Search: rechargekit.CustomerSearch{Emails: []string{"ana.ruiz@example.com", "ana@work.example"}, Phones: []string{"+34911234567"}},
		}},
		{"auto_link_nested_attributes.json", Request{
			Kind: KindAutoLink, Level: LevelBasic,
			Profile: rechargekit.Profile{ID: "gp-9Zt41", Name: "Ben Okafor", Emails: []string{"ben.okafor@example.net"}},
			Search:  rechargekit.CustomerSearch{Emails: []string{"ben.okafor@example.net"}},
		}},
		{"auto_link_phones_only.json", Request{
			Kind: KindAutoLink, Level: LevelBasic,
			Profile: rechargekit.Profile{ID: "gp-1aa", Name: "Phone Only", Phones: []string{"+442071234567"}},
			Search:  rechargekit.CustomerSearch{Phones: []string{"+442071234567"}},
		}},
		{"search_email.json", Request{
			Kind: KindSearch, Level: LevelBasic,
			Search: rechargekit.CustomerSearch{Emails: []string{"ana.ruiz@example.com"}},
		}},
		{"search_emails_string.json", Request{
			Kind: KindSearch, Level: LevelBasic,
			Search: rechargekit.CustomerSearch{Emails: []string{"Ben.Okafor@example.net"}, Phones: []string{"+442071234567"}, Name: "Ben"},
		}},
		{"search_recharge_id.json", Request{
			Kind: KindSearch, Level: LevelBasic,
			Search: rechargekit.CustomerSearch{CustomerID: 176728490},
		}},
		{"search_shopify_id.json", Request{
			Kind: KindSearch, Level: LevelBasic,
			Search: rechargekit.CustomerSearch{ExternalID: "6520380932247"},
		}},
		{"search_no_keys.json", Request{Kind: KindSearch, Level: LevelBasic,
			Search: rechargekit.CustomerSearch{Phones: []string{"+34911234567"}, Name: "Ana Ruiz"}}},
		{"detailed_nested_attributes.json", Request{
			Kind: KindDetailed, Level: LevelDetailed, UniqueMatchRequired: true,
			ExternalCustomerID: "176728490",
			Profile: rechargekit.Profile{ID: "gp-7Hq2xK", Name: "Ana Ruiz",
				Emails: []string{"ana.ruiz@example.com"}, Phones: []string{"+34911234567"}},
		}},
		{"detailed_flattened_attributes.json", Request{
			Kind: KindDetailed, Level: LevelDetailed, UniqueMatchRequired: true,
			ExternalCustomerID: "176728490",
			Profile: rechargekit.Profile{ID: "gp-7Hq2xK", Name: "Ana Ruiz",
				Emails: []string{"ana.ruiz@example.com"}, Phones: []string{"+34911234567"}},
		}},
		{"detailed_not_numeric.json", Request{
			Kind: KindDetailed, Level: LevelDetailed, UniqueMatchRequired: true,
			ExternalCustomerID: "cust-abc",
			Profile:            rechargekit.Profile{ID: "gp-3", Emails: []string{"x@example.com"}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			got, err := ParseRequest(MustReadFile(t, filepath.Join("testdata", "requests", tt.file)))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, *got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseRequestFixtures(t *testing.T) {
	t.Parallel()
	dir := FixturesDir(t)
	profile := rechargekit.Profile{ID: "customer1", Name: "First Last",
		Emails: []string{"primary@email.com", "secondary@email.com"}, Phones: []string{"+15551234567"}}
	tests := []struct {
		path string
		want Request
	}{
		{"data/pull/basic_lookup/auto_link_emails/expected_request_body.json", Request{
			Kind: KindAutoLink, Level: LevelBasic, Profile: profile,
			Search: rechargekit.CustomerSearch{Emails: []string{"primary@email.com", "secondary@email.com"}, Phones: []string{"+15551234567"}},
		}},
		{"data/pull/basic_lookup/auto_link_mobile_phones/expected_request_body.json", Request{
			Kind: KindAutoLink, Level: LevelBasic, Profile: profile,
			Search: rechargekit.CustomerSearch{Emails: []string{"primary@email.com", "secondary@email.com"}, Phones: []string{"+15551234567"}},
		}},
		{"data/pull/detailed_orders_lookup/success/expected_request_body.json", Request{
			Kind: KindDetailed, Level: LevelDetailed, UniqueMatchRequired: true,
			ExternalCustomerID: "12345", Profile: profile,
		}},
		{"data/pull/detailed_orders_lookup/with_externalId/expected_request_body.json", Request{
			Kind: KindDetailed, Level: LevelDetailed, UniqueMatchRequired: true,
			ExternalCustomerID: "externalId1", Profile: profile,
		}},
		{"authentication/request_signing/request-body.json", Request{
			Kind: KindDetailed, Level: LevelDetailed, UniqueMatchRequired: true,
			ExternalCustomerID: "abc",
			Profile: rechargekit.Profile{ID: "o2sg-TMTSD2rTwMuxzewbA", Name: "Martha Williams",
				Emails: []string{"martha.williams@gmail.com"}, Phones: []string{"+15013299800"}},
		}},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(filepath.Dir(tt.path)), func(t *testing.T) {
			t.Parallel()
			got, err := ParseRequest(MustReadFile(t, filepath.Join(dir, tt.path)))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, *got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseRequestShapes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
		want *Request // nil: a *RequestError is expected
	}{
		{name: "lowercase level", body: `{"lookupLevel":"basic","query":{"email":"a@b.example"}}`,
			want: &Request{Kind: KindSearch, Level: LevelBasic, Search: rechargekit.CustomerSearch{Emails: []string{"a@b.example"}}}},
		{name: "profile id alone makes an auto-link", body: `{"lookupLevel":"BASIC","query":{"id":"p1","emails":"a@b.example"}}`,
			want: &Request{Kind: KindAutoLink, Level: LevelBasic, Profile: rechargekit.Profile{ID: "p1", Emails: []string{"a@b.example"}},
				Search: rechargekit.CustomerSearch{Emails: []string{"a@b.example"}}}},
		{name: "phones array makes an auto-link", body: `{"lookupLevel":"BASIC","query":{"phones":["+15550001111"]}}`,
			want: &Request{Kind: KindAutoLink, Level: LevelBasic, Profile: rechargekit.Profile{Phones: []string{"+15550001111"}},
				Search: rechargekit.CustomerSearch{Phones: []string{"+15550001111"}}}},
		{name: "a search by phone, name and zip", body: `{"lookupLevel":"BASIC","query":{"phone":" 555-123-4567 ","name":" Alex Rivera ","zip":97477}}`,
			want: &Request{Kind: KindSearch, Level: LevelBasic,
				Search: rechargekit.CustomerSearch{Phones: []string{"555-123-4567"}, Name: "Alex Rivera", Zip: "97477"}}},
		{name: "a search keeps one phone", body: `{"lookupLevel":"BASIC","query":{"phone":"+15551234567","phones":"+15550001111"}}`,
			want: &Request{Kind: KindSearch, Level: LevelBasic, Search: rechargekit.CustomerSearch{Phones: []string{"+15551234567"}}}},
		{name: "an auto-link keeps five distinct phones", body: `{"lookupLevel":"BASIC","query":{"phones":["+1","+1"," +2","+3","+4","+5","+6"]}}`,
			want: &Request{Kind: KindAutoLink, Level: LevelBasic, Profile: rechargekit.Profile{Phones: []string{"+1", "+1", "+2", "+3", "+4", "+5", "+6"}},
				Search: rechargekit.CustomerSearch{Phones: []string{"+1", "+2", "+3", "+4", "+5"}}}},
		{name: "auto-link keeps at most five distinct emails", body: `{"lookupLevel":"BASIC","query":{"emails":["a@x","A@X"," b@x ","c@x","","d@x",null,"e@x","f@x"]}}`,
			want: &Request{Kind: KindAutoLink, Level: LevelBasic,
				Profile: rechargekit.Profile{Emails: []string{"a@x", "A@X", "b@x", "c@x", "d@x", "e@x", "f@x"}},
				Search:  rechargekit.CustomerSearch{Emails: []string{"a@x", "b@x", "c@x", "d@x", "e@x"}}}},
		{name: "search by every key", body: `{"lookupLevel":"BASIC","query":{"email":" a@b.example ","rechargeCustomerId":42,"shopifyCustomerId":" 77 "}}`,
			want: &Request{Kind: KindSearch, Level: LevelBasic, Search: rechargekit.CustomerSearch{
				Emails: []string{"a@b.example"}, CustomerID: 42, ExternalID: "77"}}},
		{name: "search with a non-numeric recharge id drops it", body: `{"lookupLevel":"BASIC","query":{"rechargeCustomerId":"abc"}}`,
			want: &Request{Kind: KindSearch, Level: LevelBasic}},
		{name: "search email and emails: email wins", body: `{"lookupLevel":"BASIC","query":{"email":"one@x","emails":"two@x"}}`,
			want: &Request{Kind: KindSearch, Level: LevelBasic, Search: rechargekit.CustomerSearch{Emails: []string{"one@x"}}}},
		{name: "uniqueMatchRequired of a strange type is ignored", body: `{"lookupLevel":"BASIC","query":{},"uniqueMatchRequired":"yes"}`,
			want: &Request{Kind: KindSearch, Level: LevelBasic}},
		{name: "detailed with a bad profile field still works", body: `{"lookupLevel":"DETAILED","query":{"externalCustomerId":" 5 ","emails":7}}`,
			want: &Request{Kind: KindDetailed, Level: LevelDetailed, ExternalCustomerID: "5"}},
		{name: "malformed JSON", body: `{"lookupLevel":"BASIC",`},
		{name: "trailing garbage", body: `{"lookupLevel":"BASIC","query":{}} x`},
		{name: "empty body", body: ``},
		{name: "not an object", body: `["BASIC"]`},
		{name: "null body", body: `null`},
		{name: "missing level", body: `{"query":{}}`},
		{name: "level not a string", body: `{"lookupLevel":1,"query":{}}`},
		{name: "unknown level", body: `{"lookupLevel":"FULL","query":{}}`},
		{name: "missing query", body: `{"lookupLevel":"BASIC"}`},
		{name: "null query", body: `{"lookupLevel":"BASIC","query":null}`},
		{name: "query not an object", body: `{"lookupLevel":"BASIC","query":["a"]}`},
		{name: "detailed without externalCustomerId", body: `{"lookupLevel":"DETAILED","query":{"id":"p"}}`},
		{name: "detailed with empty externalCustomerId", body: `{"lookupLevel":"DETAILED","query":{"externalCustomerId":"  "}}`},
		{name: "detailed with numeric externalCustomerId", body: `{"lookupLevel":"DETAILED","query":{"externalCustomerId":12345}}`},
		{name: "emails of the wrong type", body: `{"lookupLevel":"BASIC","query":{"emails":{"a":1}}}`},
		{name: "emails array of numbers", body: `{"lookupLevel":"BASIC","query":{"emails":[1,2]}}`},
		{name: "phones of the wrong type", body: `{"lookupLevel":"BASIC","query":{"phones":5}}`},
		{name: "email of the wrong type", body: `{"lookupLevel":"BASIC","query":{"email":true}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseRequest([]byte(tt.body))
			if tt.want == nil {
				var re *RequestError
				if !errors.Is(err, ErrInvalidRequest) || !errors.As(err, &re) || re.Detail == "" {
					t.Fatalf("ParseRequest = %+v, %v; want a *RequestError", got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func intp(n int) *int { return &n }

func TestBasicResult(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   rechargekit.Customer
		want string
	}{
		{name: "full",
			in: rechargekit.Customer{ID: 176728490, FirstName: " Hannah ", LastName: "Schmidt", Email: "Hannah@Example.com",
				Phone: "+13456705104", SubscriptionsTotal: intp(9), SubscriptionsActive: intp(8)},
			want: `{"externalCustomerId":"176728490","name":"Hannah Schmidt","emails":[{"original":"Hannah@Example.com"}],` +
				`"phones":[{"original":"+13456705104","type":"OTHER"}],` +
				`"customAttributes":{"rechargeCustomerId":"176728490","subscriptionsActiveCount":"8","subscriptionsTotalCount":"9"}}`},
		{name: "empty name, free-text phone and null counts are omitted",
			in:   rechargekit.Customer{ID: 7, Email: "x@example.com", Phone: "(555) 123-4567"},
			want: `{"externalCustomerId":"7","emails":[{"original":"x@example.com"}],"customAttributes":{"rechargeCustomerId":"7"}}`},
		{name: "no email, zero counts kept",
			in:   rechargekit.Customer{ID: 8, LastName: "Solo", SubscriptionsTotal: intp(0), SubscriptionsActive: intp(0)},
			want: `{"externalCustomerId":"8","name":"Solo","customAttributes":{"rechargeCustomerId":"8","subscriptionsActiveCount":"0","subscriptionsTotalCount":"0"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := json.Marshal(BasicResult(&tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestDetailedResultNoSubscriptions(t *testing.T) {
	t.Parallel()
	card := &rechargekit.Card{Customer: rechargekit.Customer{ID: 3}, FetchedAt: time.Date(2026, 3, 4, 10, 0, 0, 5e8, time.FixedZone("", 3600))}
	got, err := json.Marshal(DetailedResult(card))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"externalCustomerId":"3","customAttributes":{"rechargeCustomerId":"3","rechargeDataAsOf":"2026-03-04T09:00:00Z"},"transactions":[]}`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestIsE164(t *testing.T) {
	t.Parallel()
	tests := map[string]bool{
		"+15551234567":      true,
		"+1234567":          true,  // shortest: 7 digits after +
		"+123456789012345":  true,  // longest: 15 digits
		"+123456":           false, // too short
		"+1234567890123456": false, // too long
		"+05551234567":      false, // leading zero
		"15551234567":       false, // no plus
		"+1 555 123 4567":   false,
		"(555) 123-4567":    false,
		"":                  false,
		"+":                 false,
		"+1555123456a":      false,
	}
	for in, want := range tests {
		if got := IsE164(in); got != want {
			t.Errorf("IsE164(%q) = %v, want %v", in, got, want)
		}
	}
}
