package gladly_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/cards"
	"github.com/rechargekit/rechargekit/gladly"
	"github.com/rechargekit/rechargekit/search/searchtest"
)

// liveSource is the Recharge behind the index: it finds nobody and
// records what it was asked, so a test sees whether Recharge was called.
type liveSource struct {
	mu    sync.Mutex
	calls []string
}

func (s *liveSource) record(call string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, call)
}

func (s *liveSource) asked() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

func (s *liveSource) Customer(ctx context.Context, id int64) (*rechargekit.Customer, error) {
	s.record("customer")
	return nil, rechargekit.Errorf(rechargekit.ENOTFOUND, "No such customer.")
}

func (s *liveSource) FindCustomers(ctx context.Context, email, externalID string) ([]*rechargekit.Customer, error) {
	s.record("find:" + email + externalID)
	return nil, nil
}

func (s *liveSource) Subscriptions(ctx context.Context, customerID int64) ([]*rechargekit.Subscription, error) {
	s.record("subscriptions")
	return nil, nil
}

var (
	// alexRivera holds the fixture's number in a local spelling, as a
	// store may: the mirror finds it in E.164.
	alexRivera = &rechargekit.Customer{ID: 12345, ExternalID: "7923224739991", Email: "another.name@test.com",
		FirstName: "Alex", LastName: "Rivera", Phone: "(555) 123-4567"}
	samTaylor = &rechargekit.Customer{ID: 12300, Email: "sam@example.com", FirstName: "Sam", LastName: "Taylor", Phone: "+15550002222"}
	// housemate shares Alex's number through an address.
	housemate = &rechargekit.Customer{ID: 12399, Email: "house@example.com", FirstName: "Robin", LastName: "Rivera"}
)

// indexedServer serves the adaptor over a card service whose searches
// the index answers first.
func indexedServer(t *testing.T, ix *searchtest.Index) (*harness, *liveSource) {
	t.Helper()
	live := &liveSource{}
	svc := cards.New(live)
	svc.Index = ix
	h := MustServer(t, &fakeService{}, func(c *gladly.Config) { c.Service = svc })
	return h, live
}

// autoLinkCase is Gladly's auto_link_mobile_phones dataset: the request it
// sends, the profile and the app's Auto-Linking Fields. It reads Gladly's
// fixtures when ../shared/fixtures is there, and our copy of the request
// with the same profile otherwise.
func autoLinkCase(t *testing.T) (body []byte, profile gladly.Profile, fields []string) {
	t.Helper()
	base := filepath.Join("testdata", "requests")
	profile = gladly.Profile{ID: "customer1", Name: "First Last", PrimaryEmailAddress: "primary@email.com",
		EmailAddresses: []string{"primary@email.com", "secondary@email.com"},
		PhoneNumbers:   []gladly.PhoneNumber{{Number: "+15551234567", Type: gladly.PhoneMobile}}}
	fields = []string{gladly.AutoLinkMobilePhones}
	body = gladly.MustReadFile(t, filepath.Join(base, "auto_link_mobile_phones.json"))
	dir, ok := gladly.FindFixtures()
	if !ok {
		return body, profile, fields
	}
	dataset := filepath.Join(dir, "data", "pull", "basic_lookup")
	body = gladly.MustReadFile(t, filepath.Join(dataset, "auto_link_mobile_phones", "expected_request_body.json"))
	profile = gladly.Profile{}
	if err := json.Unmarshal(gladly.MustReadFile(t, filepath.Join(dataset, "customer.json")), &profile); err != nil {
		t.Fatal(err)
	}
	var integration struct {
		Configuration struct {
			AutoLinkFields []string `json:"autoLinkFields"`
		} `json:"configuration"`
	}
	if err := json.Unmarshal(gladly.MustReadFile(t, filepath.Join(dataset, "auto_link_mobile_phones", "integration.json")), &integration); err != nil {
		t.Fatal(err)
	}
	return body, profile, integration.Configuration.AutoLinkFields
}

// TestAutoLinkByMobilePhone is the case: Gladly's phone auto-link
// request finds the customer by phone in the mirror, and Gladly, applying
// its own rule to the answer, links the profile to that customer.
func TestAutoLinkByMobilePhone(t *testing.T) {
	t.Parallel()
	body, profile, fields := autoLinkCase(t)
	h, live := indexedServer(t, searchtest.New("US", alexRivera, samTaylor))

	got := h.post(t, body).results(t)
	want := []gladly.Result{{
		ExternalCustomerID: "12345", Name: "Alex Rivera",
		Emails: []gladly.Email{{Original: "another.name@test.com"}},
		// The profile's own number, which matched, is MOBILE; the stored
		// spelling is not E.164 and is not sent.
		Phones:           []gladly.Phone{{Original: "+15551234567", Type: gladly.PhoneMobile}},
		CustomAttributes: map[string]string{gladly.AttrRechargeCustomerID: "12345"},
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}
	if id, err := gladly.AutoLinkDecision(profile, got, fields); err != nil || id != "12345" {
		t.Errorf("Gladly's decision = %q, %v; want a link to 12345", id, err)
	}
	if calls := live.asked(); len(calls) != 0 {
		t.Errorf("Recharge calls %v; the mirror answers alone", calls)
	}
}

func TestAutoLinkByPhoneStrict(t *testing.T) {
	t.Parallel()
	body, profile, fields := autoLinkCase(t)

	t.Run("two customers share the number", func(t *testing.T) {
		t.Parallel()
		ix := searchtest.New("US", alexRivera, housemate)
		ix.AddKeys(housemate.ID, rechargekit.SearchKey{Kind: rechargekit.KeyPhone, Value: "+15551234567"})
		h, _ := indexedServer(t, ix)
		got := h.post(t, body).results(t)
		if len(got) != 2 {
			t.Fatalf("%d results, want both customers", len(got))
		}
		if _, err := gladly.AutoLinkDecision(profile, got, fields); !errors.Is(err, gladly.ErrMultipleResults) {
			t.Errorf("Gladly's decision: %v; want no link, more than one customer", err)
		}
	})

	t.Run("the number is on an address, not the customer's own", func(t *testing.T) {
		t.Parallel()
		// Robin's own phone is another; the profile's number is on one of
		// Robin's shipping addresses (a gift's recipient, say).
		ix := searchtest.New("US", housemate)
		ix.AddKeys(housemate.ID, rechargekit.SearchKey{Kind: rechargekit.KeyPhone, Value: "+15551234567"})
		h, _ := indexedServer(t, ix)
		got := h.post(t, body).results(t)
		if len(got) != 1 || slices.ContainsFunc(got[0].Phones, func(p gladly.Phone) bool { return p.Type == gladly.PhoneMobile }) {
			t.Fatalf("results %+v; want Robin, with no MOBILE phone", got)
		}
		if id, err := gladly.AutoLinkDecision(profile, got, fields); err == nil {
			t.Errorf("Gladly would link to %s by a number on an address", id)
		}
	})

	t.Run("the mirror is syncing", func(t *testing.T) {
		t.Parallel()
		ix := searchtest.New("US", alexRivera)
		ix.SetReady(false)
		h, live := indexedServer(t, ix)
		got := h.post(t, body).results(t)
		if len(got) != 0 {
			t.Errorf("%d results; a phone finds nothing without the mirror", len(got))
		}
		if diff := cmp.Diff([]string{"find:primary@email.com", "find:secondary@email.com"}, slices.Sorted(slices.Values(live.asked()))); diff != "" {
			t.Errorf("Recharge calls (-want +got):\n%s", diff)
		}
	})

	t.Run("found by email, its phone stays OTHER", func(t *testing.T) {
		t.Parallel()
		// The profile's email, and no phone among its keys.
		h, _ := indexedServer(t, searchtest.New("US", &rechargekit.Customer{ID: 12300, Email: "primary@email.com"}))
		got := h.post(t, body).results(t)
		if len(got) != 1 || len(got[0].Phones) != 0 {
			t.Fatalf("results %+v; want one, without phones", got)
		}
		if _, err := gladly.AutoLinkDecision(profile, got, fields); !errors.Is(err, gladly.ErrNoMatchingField) {
			t.Errorf("Gladly's decision with phones.mobile: %v; want no matching field", err)
		}
	})
}

// TestManualSearchThroughIndex: whatever search attributes Gladly sends
// are searched, phones and names in the mirror; a manual search's phones
// are never MOBILE (no auto-link follows an agent's pick).
func TestManualSearchThroughIndex(t *testing.T) {
	t.Parallel()
	ix := searchtest.New("US", alexRivera, samTaylor)
	ix.AddKeys(alexRivera.ID, rechargekit.SearchKey{Kind: rechargekit.KeyZip, Value: "97477"})
	h, live := indexedServer(t, ix)
	for _, tt := range []struct {
		query map[string]string
		want  []string
	}{
		{map[string]string{"phone": "555-123-4567"}, []string{"12345"}},
		{map[string]string{"phones": "+1 (555) 123-4567"}, []string{"12345"}},
		{map[string]string{"name": "rivera"}, []string{"12345"}},
		{map[string]string{"name": "Sam Tay"}, []string{"12300"}},
		{map[string]string{"zip": "97477"}, []string{"12345"}},
		{map[string]string{"shopifyCustomerId": "7923224739991"}, []string{"12345"}},
		{map[string]string{"rechargeCustomerId": "12300"}, []string{"12300"}},
		{map[string]string{"email": "SAM@example.com", "name": "alex"}, []string{"12345", "12300"}},
		{map[string]string{"name": "nobody"}, []string{}},
	} {
		resp, err := h.client.Search(context.Background(), tt.query)
		if err != nil {
			t.Fatal(err)
		}
		ids := []string{}
		for _, r := range resp.Results {
			ids = append(ids, r.ExternalCustomerID)
			for _, p := range r.Phones {
				if p.Type != gladly.PhoneOther {
					t.Errorf("%v: result %s has a %s phone", tt.query, r.ExternalCustomerID, p.Type)
				}
			}
		}
		if diff := cmp.Diff(tt.want, ids); diff != "" {
			t.Errorf("%v: result ids (-want +got):\n%s", tt.query, diff)
		}
	}
	if calls := live.asked(); len(calls) != 0 {
		t.Errorf("Recharge calls %v; the mirror answers alone", calls)
	}
}
