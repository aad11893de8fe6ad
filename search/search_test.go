package search_test

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/search"
)

func TestPhone(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, raw, region, want string
	}{
		{"E.164", "+15551234567", "", "+15551234567"},
		{"formatted with country code", "+1 (555) 123-4567", "", "+15551234567"},
		{"dashes without country code", "555-123-4567", "", "+15551234567"},
		{"dots", "555.123.4567", "", "+15551234567"},
		{"parentheses", "(555) 123-4567", "US", "+15551234567"},
		{"region in lowercase", "555 123 4567", "us", "+15551234567"},
		{"surrounding spaces", "  +15551234567  ", "", "+15551234567"},
		{"extension dropped", "555-123-4567 x12", "", "+15551234567"},
		{"UK mobile with region GB", "07700 900123", "GB", "+447700900123"},
		{"UK landline with region GB", "020 7946 0958", "GB", "+442079460958"},
		{"UK number with its code, region US", "+44 7700 900123", "US", "+447700900123"},
		{"a US-looking number in region GB is British", "(555) 123-4567", "GB", "+445551234567"},
		{"UK number without code, region US", "07700 900123", "US", ""},
		{"German with region DE", "030 123456", "DE", "+4930123456"},
		{"empty", "", "", ""},
		{"too few digits", "12345", "", ""},
		{"too many digits", "+1 555 123 4567 8901 2345", "", ""},
		{"letters", "call me", "", ""},
		{"an email", "sam@example.com", "", ""},
		{"a name with digits", "Alex 5551234567", "", ""},
		{"a 9-digit id is no US number", "183940021", "", ""},
		{"too long", strings.Repeat("5", 65), "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := search.Phone(tt.raw, tt.region); got != tt.want {
				t.Errorf("Phone(%q, %q) = %q, want %q", tt.raw, tt.region, got, tt.want)
			}
		})
	}
}

// TestPhoneOneNumber is the example: three spellings, one key.
func TestPhoneOneNumber(t *testing.T) {
	t.Parallel()
	for _, raw := range []string{"+1 (555) 123-4567", "555-123-4567", "+15551234567"} {
		if got := search.Phone(raw, search.DefaultRegion); got != "+15551234567" {
			t.Errorf("Phone(%q) = %q, want +15551234567", raw, got)
		}
		keys := search.Query(raw, "")
		if !slices.Contains(keys, rechargekit.SearchKey{Kind: rechargekit.KeyPhone, Value: "+15551234567"}) {
			t.Errorf("Query(%q) = %v, want the phone +15551234567 among them", raw, keys)
		}
	}
}

func TestValidRegion(t *testing.T) {
	t.Parallel()
	for region, want := range map[string]bool{"US": true, "gb": true, "DE": true, "": false, "XX": false, "USA": false} {
		if got := search.ValidRegion(region); got != want {
			t.Errorf("ValidRegion(%q) = %v, want %v", region, got, want)
		}
	}
}

func TestEmail(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]string{
		" Sam@Example.COM ": "sam@example.com",
		"sam@example.com":   "sam@example.com",
		"sam example.com":   "",
		"sam @example.com":  "",
		"":                  "",
	} {
		if got := search.Email(raw); got != want {
			t.Errorf("Email(%q) = %q, want %q", raw, got, want)
		}
	}
}

func TestName(t *testing.T) {
	t.Parallel()
	tests := []struct{ raw, want string }{
		{"Alex Rivera", "alex rivera"},
		{"  ALEX   RIVERA ", "alex rivera"},
		{"Zoë", "zoe"},
		{"Élodie Françoise", "elodie francoise"},
		{"José Núñez", "jose nunez"},
		{"O'Brien-Smith", "o'brien-smith"},
		{"Rivera, Alex", "rivera alex"},
		{"İlkay", "ilkay"},
		{"Müller", "muller"},
		{"", ""},
		{"...", ""},
	}
	for _, tt := range tests {
		if got := search.Name(tt.raw); got != tt.want {
			t.Errorf("Name(%q) = %q, want %q", tt.raw, got, tt.want)
		}
		if got := search.Name(tt.want); got != tt.want {
			t.Errorf("Name(%q) = %q: a folded name must fold to itself", tt.want, got)
		}
	}
}

func TestZip(t *testing.T) {
	t.Parallel()
	tests := []struct{ raw, want string }{
		{"97477", "97477"},
		{" 97477-1234 ", "974771234"},
		{"sw1a 1aa", "SW1A1AA"},
		{"SW1A 1AA", "SW1A1AA"},
		{"01234", "01234"},
		{"12", ""},
		{"12345678901", ""},
		{"rivera", ""}, // no digit: a word, not a postal code
		{"97477!", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := search.Zip(tt.raw); got != tt.want {
			t.Errorf("Zip(%q) = %q, want %q", tt.raw, got, tt.want)
		}
	}
}

func key(kind, value string) rechargekit.SearchKey {
	return rechargekit.SearchKey{Kind: kind, Value: value}
}

func TestQuery(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, q, region string
		want            []rechargekit.SearchKey
	}{
		{"email only", " Alex@Example.com ", "", []rechargekit.SearchKey{key(rechargekit.KeyEmail, "alex@example.com")}},
		{"formatted phone", "+1 (555) 123-4567", "", []rechargekit.SearchKey{key(rechargekit.KeyPhone, "+15551234567")}},
		{"dashed digits: a phone and a zip", "555-123-4567", "", []rechargekit.SearchKey{
			key(rechargekit.KeyPhone, "+15551234567"), key(rechargekit.KeyZip, "5551234567")}},
		{"ten digits: a phone, a zip and both ids", "5551234567", "", []rechargekit.SearchKey{
			key(rechargekit.KeyPhone, "+15551234567"), key(rechargekit.KeyZip, "5551234567"),
			key(rechargekit.KeyCustomerID, "5551234567"), key(rechargekit.KeyExternalID, "5551234567")}},
		{"a Recharge id: a zip and both ids", "183940021", "", []rechargekit.SearchKey{
			key(rechargekit.KeyZip, "183940021"), key(rechargekit.KeyCustomerID, "183940021"), key(rechargekit.KeyExternalID, "183940021")}},
		{"a Shopify id: too long for a zip", "7923224739991", "", []rechargekit.SearchKey{
			key(rechargekit.KeyCustomerID, "7923224739991"), key(rechargekit.KeyExternalID, "7923224739991")}},
		{"a five-digit zip", "97477", "", []rechargekit.SearchKey{
			key(rechargekit.KeyZip, "97477"), key(rechargekit.KeyCustomerID, "97477"), key(rechargekit.KeyExternalID, "97477")}},
		{"a British postcode is a zip and a name", "SW1A 1AA", "GB", []rechargekit.SearchKey{
			key(rechargekit.KeyZip, "SW1A1AA"), key(rechargekit.KeyName, "sw1a 1aa")}},
		{"a last name", "Rivera", "", []rechargekit.SearchKey{key(rechargekit.KeyName, "rivera")}},
		{"a full name with accents", "Zoë  Núñez", "", []rechargekit.SearchKey{key(rechargekit.KeyName, "zoe nunez")}},
		{"a UK mobile in region GB", "07700 900123", "GB", []rechargekit.SearchKey{key(rechargekit.KeyPhone, "+447700900123")}},
		{"a plus sign is no id", "+15551234567", "", []rechargekit.SearchKey{key(rechargekit.KeyPhone, "+15551234567")}},
		{"zero is no id", "0", "", nil},
		{"one letter is too short a name", "r", "", nil},
		{"two letters are a name prefix", "Ri", "", []rechargekit.SearchKey{key(rechargekit.KeyName, "ri")}},
		{"punctuation", "!!!", "", nil},
		{"empty", "   ", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := search.Query(tt.q, tt.region)
			if diff := cmp.Diff(tt.want, []rechargekit.SearchKey(got)); diff != "" {
				t.Errorf("Query(%q, %q) (-want +got):\n%s", tt.q, tt.region, diff)
			}
		})
	}
}

func TestCustomerKeys(t *testing.T) {
	t.Parallel()
	c := &rechargekit.Customer{ID: 183940021, ExternalID: "7923224739991", Email: "Alex.Rivera@Example.com",
		FirstName: "Álex", LastName: "Rivera", Phone: "(555) 123-4567"}
	want := []rechargekit.SearchKey{
		key(rechargekit.KeyEmail, "alex.rivera@example.com"),
		key(rechargekit.KeyPhone, "+15551234567"),
		key(rechargekit.KeyName, "alex"),
		key(rechargekit.KeyName, "rivera"),
		key(rechargekit.KeyName, "alex rivera"),
		key(rechargekit.KeyCustomerID, "183940021"),
		key(rechargekit.KeyExternalID, "7923224739991"),
	}
	if diff := cmp.Diff(want, search.CustomerKeys(c, "")); diff != "" {
		t.Errorf("CustomerKeys (-want +got):\n%s", diff)
	}
	// Nothing but the id: no empty keys.
	if diff := cmp.Diff([]rechargekit.SearchKey{key(rechargekit.KeyCustomerID, "5")},
		search.CustomerKeys(&rechargekit.Customer{ID: 5, Phone: "n/a"}, "")); diff != "" {
		t.Errorf("CustomerKeys of a bare customer (-want +got):\n%s", diff)
	}
}

func TestAddressKeys(t *testing.T) {
	t.Parallel()
	a := &rechargekit.Address{Zip: "sw1a 1aa", Phone: "07700 900123", FirstName: "Olu", LastName: "Bello"}
	want := []rechargekit.SearchKey{
		key(rechargekit.KeyZip, "SW1A1AA"),
		key(rechargekit.KeyPhone, "+447700900123"),
		key(rechargekit.KeyName, "olu"),
		key(rechargekit.KeyName, "bello"),
		key(rechargekit.KeyName, "olu bello"),
	}
	if diff := cmp.Diff(want, search.AddressKeys(a, "GB")); diff != "" {
		t.Errorf("AddressKeys (-want +got):\n%s", diff)
	}
}

// TestStoredAndSearchedAgree is the point of one normalisation: what a
// customer is stored under is what an agent's spelling of it searches.
func TestStoredAndSearchedAgree(t *testing.T) {
	t.Parallel()
	c := &rechargekit.Customer{ID: 42, Email: "Zoe@Example.com", FirstName: "Zoë", LastName: "Núñez", Phone: "+15551234567"}
	stored := search.CustomerKeys(c, "")
	for _, q := range []string{"zoe@EXAMPLE.com", "555-123-4567", "+1 (555) 123-4567", "ZOE NUNEZ", "nunez", "42"} {
		found := false
		for _, k := range search.Query(q, "") {
			for _, s := range stored {
				if k.Kind == s.Kind && (k.Value == s.Value || (k.Kind == rechargekit.KeyName && strings.HasPrefix(s.Value, k.Value))) {
					found = true
				}
			}
		}
		if !found {
			t.Errorf("Query(%q) finds none of the stored keys %v", q, stored)
		}
	}
}

func TestMatchKind(t *testing.T) {
	t.Parallel()
	for kind, want := range map[string]string{
		rechargekit.KeyEmail:      rechargekit.MatchEmail,
		rechargekit.KeyPhone:      rechargekit.MatchPhone,
		rechargekit.KeyName:       rechargekit.MatchName,
		rechargekit.KeyZip:        rechargekit.MatchZip,
		rechargekit.KeyCustomerID: rechargekit.MatchCustomerID,
		rechargekit.KeyExternalID: rechargekit.MatchExternalID,
		"other":                   "other",
	} {
		if got := search.MatchKind(kind); got != want {
			t.Errorf("MatchKind(%q) = %q, want %q", kind, got, want)
		}
	}
}

// checkE164 fails unless p is "" or "+" and 2 to 17 digits.
func checkE164(t *testing.T, what, p string) {
	t.Helper()
	if p == "" {
		return
	}
	if len(p) < 3 || len(p) > 18 || p[0] != '+' || strings.IndexFunc(p[1:], func(r rune) bool { return r < '0' || r > '9' }) >= 0 {
		t.Errorf("%s = %q: not E.164", what, p)
	}
}

func FuzzPhone(f *testing.F) {
	for _, s := range []string{"+1 (555) 123-4567", "555-123-4567", "+15551234567", "07700 900123", "+44 7700 900123",
		"555-123-4567 x12", "183940021", "+", "++1", "1-800-FLOWERS", "0", ""} {
		f.Add(s, "US")
		f.Add(s, "GB")
	}
	f.Add("030 123456", "de")
	f.Add("12345678", "")
	f.Fuzz(func(t *testing.T, raw, region string) {
		p := search.Phone(raw, region)
		checkE164(t, "Phone", p)
		if p == "" {
			return
		}
		// A normalised number normalises to itself, in any region: the
		// mirror stores and searches the same string.
		for _, r := range []string{region, "US", "GB"} {
			if again := search.Phone(p, r); again != p {
				t.Errorf("Phone(%q, %q) = %q; Phone(%q) = %q", raw, region, p, p, again)
			}
		}
	})
}

func FuzzQuery(f *testing.F) {
	for _, s := range []string{"alex@example.com", "+1 (555) 123-4567", "555-123-4567", "5551234567", "183940021",
		"7923224739991", "97477", "SW1A 1AA", "Rivera", "Zoë Núñez", "İlkay", "0", "-1", "a@b", " ", "shopify:123"} {
		f.Add(s, "US")
	}
	f.Add("07700 900123", "GB")
	f.Fuzz(func(t *testing.T, q, region string) {
		keys := search.Query(q, region)
		seen := map[rechargekit.SearchKey]bool{}
		for _, k := range keys {
			if seen[k] {
				t.Errorf("Query(%q) repeats %v", q, k)
			}
			seen[k] = true
			if k.Value == "" || len(k.Value) > 200 || !utf8.ValidString(k.Value) && k.Kind != rechargekit.KeyEmail {
				t.Errorf("Query(%q): key %v has a bad value", q, k)
			}
			// Every value is already normalised: stored keys, normalised
			// the same way, compare equal.
			var again string
			switch k.Kind {
			case rechargekit.KeyEmail:
				again = search.Email(k.Value)
				if len(keys) != 1 {
					t.Errorf("Query(%q) = %v: an email is searched as nothing else", q, keys)
				}
			case rechargekit.KeyPhone:
				checkE164(t, "phone key", k.Value)
				again = search.Phone(k.Value, region)
			case rechargekit.KeyName:
				again = search.Name(k.Value)
			case rechargekit.KeyZip:
				again = search.Zip(k.Value)
			case rechargekit.KeyCustomerID, rechargekit.KeyExternalID:
				again = k.Value
				if strings.IndexFunc(k.Value, func(r rune) bool { return r < '0' || r > '9' }) >= 0 || k.Value[0] == '0' && k.Kind == rechargekit.KeyCustomerID {
					t.Errorf("Query(%q): id key %v is not a positive decimal", q, k)
				}
			default:
				t.Errorf("Query(%q): unknown kind %q", q, k.Kind)
			}
			if again != k.Value {
				t.Errorf("Query(%q): %s key %q normalises again to %q", q, k.Kind, k.Value, again)
			}
		}
	})
}

// TestNameConcurrent folds names from many goroutines at once, as
// searches and mirror writes do (run with -race).
func TestNameConcurrent(t *testing.T) {
	t.Parallel()
	done := make(chan string, 8)
	for range 8 {
		go func() {
			got := ""
			for range 200 {
				got = search.Name("Zoë Núñez")
			}
			done <- got
		}()
	}
	for range 8 {
		if got := <-done; got != "zoe nunez" {
			t.Errorf("Name = %q, want zoe nunez", got)
		}
	}
}

func TestSamePhone(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		raw, e164 string
		want      bool
	}{
		{"(555) 123-4567", "+15551234567", true},
		{"+1 555 123 4567", "+15551234567", true},
		{"07700 900123", "+447700900123", true}, // read in the number's own region, GB
		{"555-123-4568", "+15551234567", false},
		{"", "+15551234567", false},
		{"555-123-4567", "", false},
	} {
		if got := search.SamePhone(tc.raw, tc.e164); got != tc.want {
			t.Errorf("SamePhone(%q, %q) = %v, want %v", tc.raw, tc.e164, got, tc.want)
		}
	}
}
