package cards_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/cards"
	"github.com/rechargekit/rechargekit/search/searchtest"
)

var (
	alex  = &rechargekit.Customer{ID: 183940021, ExternalID: "7923224739991", Email: "Alex.Rivera@example.com", FirstName: "Alex", LastName: "Rivera", Phone: "(555) 123-4567"}
	zoe   = &rechargekit.Customer{ID: 183940030, Email: "zoe@example.com", FirstName: "Zoë", LastName: "Núñez"}
	olu   = &rechargekit.Customer{ID: 183940040, Email: "olu@example.co.uk", FirstName: "Olu", LastName: "Bello", Phone: "07700 900123"}
	twinA = &rechargekit.Customer{ID: 183940050, Email: "home@example.com", FirstName: "Kim", LastName: "Lee"}
	twinB = &rechargekit.Customer{ID: 183940051, Email: "work@example.com", FirstName: "Kim", LastName: "Lee"}
)

// mirrorIndex is the test store: Alex's phone also on his address, Zoë's
// zip, and two customers sharing a household phone.
func mirrorIndex() *searchtest.Index {
	ix := searchtest.New("", alex, zoe, twinA, twinB)
	ix.AddKeys(zoe.ID, rechargekit.SearchKey{Kind: rechargekit.KeyZip, Value: "97477"})
	ix.AddKeys(twinA.ID, rechargekit.SearchKey{Kind: rechargekit.KeyPhone, Value: "+15550009999"})
	ix.AddKeys(twinB.ID, rechargekit.SearchKey{Kind: rechargekit.KeyPhone, Value: "+15550009999"})
	return ix
}

type found struct {
	ID        int64
	By, Value string
}

func foundOf(ms []*rechargekit.Match) []found {
	out := []found{}
	for _, m := range ms {
		out = append(out, found{m.Customer.ID, m.By, m.Value})
	}
	return out
}

func TestSearchWithIndex(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		q    rechargekit.CustomerSearch
		want []found
	}{
		{"a profile phone in the profile's spelling", rechargekit.CustomerSearch{Phones: []string{"555-123-4567"}},
			[]found{{alex.ID, rechargekit.MatchPhone, "555-123-4567"}}},
		{"the same number formatted", rechargekit.CustomerSearch{Phones: []string{"+1 (555) 123-4567"}},
			[]found{{alex.ID, rechargekit.MatchPhone, "+1 (555) 123-4567"}}},
		{"an email in another case", rechargekit.CustomerSearch{Emails: []string{"ALEX.RIVERA@example.com"}},
			[]found{{alex.ID, rechargekit.MatchEmail, "ALEX.RIVERA@example.com"}}},
		{"a typed phone", rechargekit.CustomerSearch{Query: "555-123-4567"},
			[]found{{alex.ID, rechargekit.MatchPhone, "+15551234567"}}},
		{"a last name", rechargekit.CustomerSearch{Query: "rivera"},
			[]found{{alex.ID, rechargekit.MatchName, "rivera"}}},
		{"a name prefix without its accent", rechargekit.CustomerSearch{Query: "ZOE nu"},
			[]found{{zoe.ID, rechargekit.MatchName, "zoe nunez"}}},
		{"a zip", rechargekit.CustomerSearch{Query: "97477"},
			[]found{{zoe.ID, rechargekit.MatchZip, "97477"}}},
		{"a Shopify id typed", rechargekit.CustomerSearch{Query: "7923224739991"},
			[]found{{alex.ID, rechargekit.MatchExternalID, "7923224739991"}}},
		{"a Recharge id typed", rechargekit.CustomerSearch{Query: "183940021"},
			[]found{{alex.ID, rechargekit.MatchCustomerID, "183940021"}}},
		{"a name field", rechargekit.CustomerSearch{Name: "Kim Lee"},
			[]found{{twinB.ID, rechargekit.MatchName, "Kim Lee"}, {twinA.ID, rechargekit.MatchName, "Kim Lee"}}},
		{"a zip field", rechargekit.CustomerSearch{Zip: " 97477 "},
			[]found{{zoe.ID, rechargekit.MatchZip, "97477"}}},
		{"a household phone finds both", rechargekit.CustomerSearch{Phones: []string{"+15550009999"}},
			[]found{{twinB.ID, rechargekit.MatchPhone, "+15550009999"}, {twinA.ID, rechargekit.MatchPhone, "+15550009999"}}},
		{"nothing matches", rechargekit.CustomerSearch{Phones: []string{"+15550000000"}, Query: "nobody"}, []found{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src := newFake()
			svc := cards.New(src)
			svc.Index = mirrorIndex()
			res, err := svc.SearchCustomers(context.Background(), tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, foundOf(res.Matches)); diff != "" {
				t.Errorf("matches (-want +got):\n%s", diff)
			}
			if len(res.Unsearched) != 0 {
				t.Errorf("Unsearched = %v with a ready index", res.Unsearched)
			}
			if len(src.calls) != 0 {
				t.Errorf("Recharge calls %v; a ready index answers alone", src.calls)
			}
			// FindCustomers is the same search.
			ms, err := svc.FindCustomers(context.Background(), tt.q)
			if err != nil || !cmp.Equal(tt.want, foundOf(ms)) {
				t.Errorf("FindCustomers = %v, %v", foundOf(ms), err)
			}
		})
	}
}

// TestSearchKeys checks what the index is asked: every key the search has,
// normalised, each once.
func TestSearchKeys(t *testing.T) {
	t.Parallel()
	ix := mirrorIndex()
	svc := cards.New(newFake())
	svc.Index = ix
	_, err := svc.SearchCustomers(context.Background(), rechargekit.CustomerSearch{
		Emails:     []string{"A@x.example", "a@X.example", "b@x.example"},
		Phones:     []string{"555-123-4567", "+15551234567", " "},
		CustomerID: 42, ExternalID: " 777 ", Query: "555-123-4567",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []rechargekit.SearchKey{
		{Kind: rechargekit.KeyEmail, Value: "a@x.example"},
		{Kind: rechargekit.KeyEmail, Value: "b@x.example"},
		{Kind: rechargekit.KeyPhone, Value: "+15551234567"},
		{Kind: rechargekit.KeyCustomerID, Value: "42"},
		{Kind: rechargekit.KeyExternalID, Value: "777"},
		{Kind: rechargekit.KeyZip, Value: "5551234567"},
	}
	asked := ix.Asked()
	if diff := cmp.Diff(want, asked[len(asked)-1]); diff != "" {
		t.Errorf("keys (-want +got):\n%s", diff)
	}
}

// TestSearchRegion reads numbers without a country code in the store's
// region (PHONE_DEFAULT_REGION).
func TestSearchRegion(t *testing.T) {
	t.Parallel()
	svc := cards.New(newFake())
	svc.Region = "GB"
	svc.Index = searchtest.New("GB", olu)
	ms, err := svc.FindCustomers(context.Background(), rechargekit.CustomerSearch{Phones: []string{"+44 7700 900123"}})
	if err != nil || !cmp.Equal([]found{{olu.ID, rechargekit.MatchPhone, "+44 7700 900123"}}, foundOf(ms)) {
		t.Errorf("by +44 number: %v, %v", foundOf(ms), err)
	}
	ms, err = svc.FindCustomers(context.Background(), rechargekit.CustomerSearch{Query: "07700 900123"})
	if err != nil || !cmp.Equal([]found{{olu.ID, rechargekit.MatchPhone, "+447700900123"}}, foundOf(ms)) {
		t.Errorf("by national number: %v, %v", foundOf(ms), err)
	}
}

// TestSearchIndexNotReady: a mirror that is off or syncing (ok false)
// leaves the emails and ids to Recharge, and says that the phones, names
// and zips were not searched.
func TestSearchIndexNotReady(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		q          rechargekit.CustomerSearch
		want       []found
		calls      []string
		unsearched []string
	}{
		{"an email and a phone", rechargekit.CustomerSearch{Emails: []string{"sam@example.com"}, Phones: []string{"555-123-4567"}},
			[]found{{300, rechargekit.MatchEmail, "sam@example.com"}}, []string{"email:sam@example.com"}, []string{rechargekit.MatchPhone}},
		{"a phone alone asks nobody", rechargekit.CustomerSearch{Phones: []string{"555-123-4567"}},
			[]found{}, nil, []string{rechargekit.MatchPhone}},
		{"a typed email", rechargekit.CustomerSearch{Query: " Sam@Example.com "},
			[]found{{300, rechargekit.MatchEmail, "Sam@Example.com"}}, []string{"email:Sam@Example.com"}, nil},
		{"a typed number: both ids, and the zip unsearched", rechargekit.CustomerSearch{Query: "777"},
			[]found{{200, rechargekit.MatchExternalID, "777"}}, []string{"customer", "external:777"}, []string{rechargekit.MatchZip}},
		{"a typed name asks nobody", rechargekit.CustomerSearch{Query: "Rivera"},
			[]found{}, nil, []string{rechargekit.MatchName}},
		{"a name and a zip field", rechargekit.CustomerSearch{Name: "Sam", Zip: "97477", CustomerID: 100},
			[]found{{100, rechargekit.MatchCustomerID, "100"}}, []string{"customer"}, []string{rechargekit.MatchName, rechargekit.MatchZip}},
	}
	for _, tt := range tests {
		for _, index := range []string{"syncing", "none"} {
			t.Run(tt.name+"/"+index, func(t *testing.T) {
				t.Parallel()
				src := newFake()
				svc := cards.New(src)
				if index == "syncing" {
					ix := mirrorIndex()
					ix.SetReady(false)
					svc.Index = ix
				}
				res, err := svc.SearchCustomers(context.Background(), tt.q)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(tt.want, foundOf(res.Matches)); diff != "" {
					t.Errorf("matches (-want +got):\n%s", diff)
				}
				slices.Sort(src.calls)
				if diff := cmp.Diff(tt.calls, src.calls); diff != "" {
					t.Errorf("Recharge calls (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(tt.unsearched, res.Unsearched); diff != "" {
					t.Errorf("Unsearched (-want +got):\n%s", diff)
				}
			})
		}
	}
}

// TestSearchIndexFails: an index that fails fails the search, with no
// Recharge call: a list without the phones' matches could auto-link the
// wrong account.
func TestSearchIndexFails(t *testing.T) {
	t.Parallel()
	src := newFake()
	svc := cards.New(src)
	ix := mirrorIndex()
	ix.SetErr(rechargekit.Errorf(rechargekit.EUPSTREAM, "The mirror's database did not answer."))
	svc.Index = ix
	ms, err := svc.FindCustomers(context.Background(), rechargekit.CustomerSearch{Emails: []string{"sam@example.com"}, Phones: []string{"555-123-4567"}})
	if rechargekit.ErrorCode(err) != rechargekit.EUPSTREAM || ms != nil {
		t.Errorf("FindCustomers = %v, %v; want EUPSTREAM", ms, err)
	}
	if len(src.calls) != 0 {
		t.Errorf("Recharge calls %v after the index failed", src.calls)
	}
}

// TestCachedSearchPassesThrough: the card cache in front keeps searches
// uncached and what they could not search.
func TestCachedSearchPassesThrough(t *testing.T) {
	t.Parallel()
	svc := cards.New(newFake())
	ix := mirrorIndex()
	svc.Index = ix
	cached := cards.NewCached(svc, cards.NewMemoryCache(10), cards.CachedOptions{})
	t.Cleanup(func() { cached.Close() })

	res, err := rechargekit.SearchCustomers(context.Background(), cached, rechargekit.CustomerSearch{Query: "rivera"})
	if err != nil || !cmp.Equal([]found{{alex.ID, rechargekit.MatchName, "rivera"}}, foundOf(res.Matches)) {
		t.Errorf("ready: %v, %v", res, err)
	}
	ix.SetReady(false)
	res, err = rechargekit.SearchCustomers(context.Background(), cached, rechargekit.CustomerSearch{Query: "rivera"})
	if err != nil || len(res.Matches) != 0 || !cmp.Equal([]string{rechargekit.MatchName}, res.Unsearched) {
		t.Errorf("syncing: %+v, %v; want nothing found and the name unsearched", res, err)
	}
}

// TestSearchCustomersWithoutSearcher: a CardService that only finds
// reports nothing unsearched.
func TestSearchCustomersWithoutSearcher(t *testing.T) {
	t.Parallel()
	svc := fixedMatches{ms: []*rechargekit.Match{{Customer: alex, By: rechargekit.MatchEmail, Value: "a@x"}}}
	res, err := rechargekit.SearchCustomers(context.Background(), svc, rechargekit.CustomerSearch{Emails: []string{"a@x"}})
	if err != nil || len(res.Matches) != 1 || res.Unsearched != nil {
		t.Errorf("SearchCustomers = %+v, %v", res, err)
	}
	svc.err = errors.New("boom")
	if _, err := rechargekit.SearchCustomers(context.Background(), svc, rechargekit.CustomerSearch{Emails: []string{"a@x"}}); err == nil {
		t.Error("the service's error was lost")
	}
}

// fixedMatches is a CardService whose searches find ms: the auto-link
// rule's input made to order.
type fixedMatches struct {
	rechargekit.CardService
	ms  []*rechargekit.Match
	err error
}

func (f fixedMatches) FindCustomers(ctx context.Context, q rechargekit.CustomerSearch) ([]*rechargekit.Match, error) {
	return f.ms, f.err
}

// newIndexedProfiles returns Profiles whose card service searches ix
// first, over a fresh SQLite store holding the profiles.
func newIndexedProfiles(t *testing.T, ix *searchtest.Index, profiles ...*rechargekit.Profile) (*cards.Profiles, *fakeSource) {
	t.Helper()
	p, src, _ := newProfiles(t, profiles...)
	svc := cards.New(src)
	svc.Index = ix
	for _, c := range ix.Customers() {
		src.customers[c.ID] = c
	}
	p.Cards = svc
	return p, src
}

func TestOpenAutoLinksByPhone(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, src := newIndexedProfiles(t, mirrorIndex(), &rechargekit.Profile{ID: "call", Name: "Caller", Phones: []string{"+1 555 123 4567"}})
	v, err := svc.Open(ctx, "call")
	if err != nil {
		t.Fatal(err)
	}
	if !v.AutoLinked || v.Link == nil || v.Link.CustomerID != alex.ID || v.AutoLinkBlocked != "" {
		t.Fatalf("view = %+v; want an auto link to %d", v, alex.ID)
	}
	if diff := cmp.Diff([]found{{alex.ID, rechargekit.MatchPhone, "+1 555 123 4567"}}, foundOf(v.Candidates)); diff != "" {
		t.Errorf("candidates (-want +got):\n%s", diff)
	}
	for _, call := range src.calls {
		if strings.HasPrefix(call, "email:") || strings.HasPrefix(call, "external:") {
			t.Errorf("Recharge searched (%s) although the index answered", call)
		}
	}
}

func TestOpenDoesNotAutoLinkByPhone(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		profile     *rechargekit.Profile
		ready       bool
		cards       func(*cards.Service) rechargekit.CardService // nil: the service itself
		want        []found
		wantBlocked string
		unsearched  []string
	}{
		{"two customers share the phone", &rechargekit.Profile{ID: "p", Name: "Caller", Phones: []string{"+15550009999"}}, true, nil,
			[]found{{twinB.ID, rechargekit.MatchPhone, "+15550009999"}, {twinA.ID, rechargekit.MatchPhone, "+15550009999"}},
			"more than one Recharge customer matches", nil},
		{"the phone finds one, the email another", &rechargekit.Profile{ID: "p", Name: "Zoe", Emails: []string{"zoe@example.com"}, Phones: []string{"555-123-4567"}}, true, nil,
			[]found{{zoe.ID, rechargekit.MatchEmail, "zoe@example.com"}, {alex.ID, rechargekit.MatchPhone, "555-123-4567"}},
			"more than one Recharge customer matches", nil},
		{"the mirror is syncing: phones find nothing", &rechargekit.Profile{ID: "p", Name: "Caller", Phones: []string{"555-123-4567"}}, false, nil,
			[]found{}, "", []string{rechargekit.MatchPhone}},
		{"a name match never links", &rechargekit.Profile{ID: "p", Name: "Alex Rivera", Phones: []string{"+15550000000"}}, true,
			func(*cards.Service) rechargekit.CardService {
				return fixedMatches{ms: []*rechargekit.Match{{Customer: alex, By: rechargekit.MatchName, Value: "alex rivera"}}}
			},
			[]found{{alex.ID, rechargekit.MatchName, "alex rivera"}},
			"only an email or a phone links automatically, and this customer matched by name", nil},
		{"a zip match never links", &rechargekit.Profile{ID: "p", Name: "Caller", Phones: []string{"+15550000000"}}, true,
			func(*cards.Service) rechargekit.CardService {
				return fixedMatches{ms: []*rechargekit.Match{{Customer: zoe, By: rechargekit.MatchZip, Value: "97477"}}}
			},
			[]found{{zoe.ID, rechargekit.MatchZip, "97477"}},
			"only an email or a phone links automatically, and this customer matched by zip", nil},
		{"a phone on an address, not the customer's own", &rechargekit.Profile{ID: "p", Name: "Gift recipient", Phones: []string{"+15550101010"}}, true,
			func(*cards.Service) rechargekit.CardService {
				// The mirror finds Alex by the phone on one of his shipping
				// addresses: someone else's number.
				return fixedMatches{ms: []*rechargekit.Match{{Customer: alex, By: rechargekit.MatchPhone, Value: "+15550101010"}}}
			},
			[]found{{alex.ID, rechargekit.MatchPhone, "+15550101010"}},
			"the matching phone is on one of the customer's addresses, not the customer's own", nil},
		{"a phone that is not the profile's", &rechargekit.Profile{ID: "p", Name: "Caller", Phones: []string{"+15550000000"}}, true,
			func(*cards.Service) rechargekit.CardService {
				return fixedMatches{ms: []*rechargekit.Match{{Customer: alex, By: rechargekit.MatchPhone, Value: "+15551234567"}}}
			},
			[]found{{alex.ID, rechargekit.MatchPhone, "+15551234567"}},
			"the matching phone is not one of the profile's", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ix := mirrorIndex()
			ix.SetReady(tt.ready)
			p, _ := newIndexedProfiles(t, ix, tt.profile)
			if tt.cards != nil {
				p.Cards = tt.cards(p.Cards.(*cards.Service))
			}
			v, err := p.Open(context.Background(), "p")
			if err != nil {
				t.Fatal(err)
			}
			if v.Link != nil || v.AutoLinked {
				t.Errorf("linked: %+v", v.Link)
			}
			if diff := cmp.Diff(tt.want, foundOf(v.Candidates)); diff != "" {
				t.Errorf("candidates (-want +got):\n%s", diff)
			}
			if v.AutoLinkBlocked != tt.wantBlocked {
				t.Errorf("AutoLinkBlocked = %q, want %q", v.AutoLinkBlocked, tt.wantBlocked)
			}
			if diff := cmp.Diff(tt.unsearched, v.CandidatesUnsearched); diff != "" {
				t.Errorf("CandidatesUnsearched (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSearchAsksRechargeWhenTheIndexFindsNoOne: a customer created since
// the mirror last heard (customer 300 here, which the index does not
// hold) is still found by its email in Recharge; a search the index
// answers costs no call.
func TestSearchAsksRechargeWhenTheIndexFindsNoOne(t *testing.T) {
	t.Parallel()
	src := newFake()
	svc := cards.New(src)
	svc.Index = mirrorIndex()
	res, err := svc.SearchCustomers(context.Background(), rechargekit.CustomerSearch{Emails: []string{"sam@example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]found{{300, rechargekit.MatchEmail, "sam@example.com"}}, foundOf(res.Matches)); diff != "" {
		t.Errorf("matches (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"email:sam@example.com"}, src.calls); diff != "" {
		t.Errorf("Recharge calls (-want +got):\n%s", diff)
	}
}
