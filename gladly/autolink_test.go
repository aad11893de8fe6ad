package gladly

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/rechargekit/rechargekit"
)

var stopErrors = []error{ErrAutoLinkOff, ErrNoResults, ErrMultipleResults, ErrNoMatchingField}

// checkDecision compares a decision with the expected external id, or with
// Gladly's expected stop message.
func checkDecision(t *testing.T, profile Profile, resp LookupResponse, fields []string, wantID, wantStop string) {
	t.Helper()
	id, err := AutoLinkDecision(profile, resp.Results, fields)
	gotID, ok := WouldAutoLink(profile, resp.Results, fields)
	if gotID != id || ok != (err == nil) {
		t.Errorf("WouldAutoLink = %q, %v; AutoLinkDecision = %q, %v", gotID, ok, id, err)
	}
	if wantID != "" {
		if err != nil || id != wantID {
			t.Errorf("decision = %q, %v; want a link to %q", id, err, wantID)
		}
		return
	}
	if err == nil || err.Error() != wantStop {
		t.Errorf("decision = %q, %v; want stop %q", id, err, wantStop)
	}
	if !isStop(err) {
		t.Errorf("error %v is not one of the sentinel stop errors", err)
	}
}

func isStop(err error) bool {
	for _, s := range stopErrors {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

func TestAutoLinkDecisionTestdata(t *testing.T) {
	t.Parallel()
	var cases []struct {
		Name           string         `json:"name"`
		Profile        Profile        `json:"profile"`
		Fields         []string       `json:"fields"`
		Response       LookupResponse `json:"response"`
		WantExternalID string         `json:"wantExternalId"`
		WantStop       string         `json:"wantStop"`
	}
	if err := json.Unmarshal(MustReadFile(t, filepath.Join("testdata", "autolink_cases.json")), &cases); err != nil {
		t.Fatal(err)
	}
	covered := map[string]bool{}
	for _, tc := range cases {
		covered[tc.Name] = true
		t.Run(tc.Name, func(t *testing.T) {
			t.Parallel()
			checkDecision(t, tc.Profile, tc.Response, tc.Fields, tc.WantExternalID, tc.WantStop)
		})
	}
	// Our own data covers every dataset of Gladly's.
	for _, name := range []string{"auto_link_emails", "auto_link_mobile_phones", "multiple_results", "no_matching_email",
		"no_matching_mobile_phone", "empty_results", "null_results", "no_auto_link"} {
		if !covered[name] {
			t.Errorf("testdata/autolink_cases.json has no case %q", name)
		}
	}
}

// TestAutoLinkDecisionFixtures runs the decision on Gladly's own basic_lookup
// datasets. A dataset folder overrides the files of its parent folder, as in
// Gladly's test runner.
func TestAutoLinkDecisionFixtures(t *testing.T) {
	t.Parallel()
	base := filepath.Join(FixturesDir(t), "data", "pull", "basic_lookup")
	entries, err := os.ReadDir(base)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		n++
		dataset := e.Name()
		t.Run(dataset, func(t *testing.T) {
			t.Parallel()
			file := func(name string) ([]byte, bool) {
				for _, dir := range []string{filepath.Join(base, dataset), base} {
					if b, err := os.ReadFile(filepath.Join(dir, name)); err == nil {
						return b, true
					}
				}
				return nil, false
			}
			must := func(name string, v any) {
				b, ok := file(name)
				if !ok {
					t.Fatalf("%s: no %s", dataset, name)
				}
				if err := json.Unmarshal(b, v); err != nil {
					t.Fatalf("%s: %s: %v", dataset, name, err)
				}
			}
			var profile Profile
			must("customer.json", &profile)
			var integration struct {
				Configuration struct {
					AutoLinkFields []string `json:"autoLinkFields"`
				} `json:"configuration"`
			}
			must("integration.json", &integration)
			var resp LookupResponse
			must("rawData.json", &resp)

			var wantID, wantStop string
			if b, ok := file("expected_external_id.txt"); ok {
				wantID = strings.TrimSpace(string(b))
			} else if b, ok := file("expected_request_url.txt"); ok && json.Unmarshal(b, &wantStop) == nil {
				// A quoted message instead of a URL: Gladly stops before asking.
			} else {
				must("expected_response_transformation.json", &wantStop)
			}
			checkDecision(t, profile, resp, integration.Configuration.AutoLinkFields, wantID, wantStop)
		})
	}
	if n < 8 {
		t.Errorf("found %d datasets, want at least 8", n)
	}
}

// TestAutoLinkOurResults checks the property the service relies on: a result
// built by BasicResult auto-links by email, never by phone.
func TestAutoLinkOurResults(t *testing.T) {
	t.Parallel()
	c := &rechargekit.Customer{ID: 42, Email: "Pat@Example.com", Phone: "+15550001111"}
	results := []Result{BasicResult(c)}
	profile := Profile{EmailAddresses: []string{"pat@example.com"}, PhoneNumbers: []PhoneNumber{{Number: "+15550001111", Type: PhoneMobile}}}

	if id, ok := WouldAutoLink(profile, results, []string{AutoLinkEmails}); !ok || id != "42" {
		t.Errorf("by email: %q, %v; want 42, true", id, ok)
	}
	if id, ok := WouldAutoLink(profile, results, []string{AutoLinkMobilePhones}); ok {
		t.Errorf("by phone: linked to %q; our phones are OTHER and must never link", id)
	}
}

func TestProfileConversions(t *testing.T) {
	t.Parallel()
	gp := Profile{ID: "c1", Name: "N", PrimaryEmailAddress: "p@x", EmailAddresses: []string{"s@x", "p@x"},
		PhoneNumbers: []PhoneNumber{{Number: "+15550001111", Type: PhoneMobile}}}
	want := rechargekit.Profile{ID: "c1", Name: "N", Emails: []string{"p@x", "s@x"}, Phones: []string{"+15550001111"}}
	if diff := cmp.Diff(want, gp.Domain()); diff != "" {
		t.Errorf("Domain (-want +got):\n%s", diff)
	}
	back := NewProfile(want, PhoneMobile)
	wantBack := Profile{ID: "c1", Name: "N", PrimaryEmailAddress: "p@x", EmailAddresses: []string{"p@x", "s@x"},
		PhoneNumbers: []PhoneNumber{{Number: "+15550001111", Type: PhoneMobile}}}
	if diff := cmp.Diff(wantBack, back); diff != "" {
		t.Errorf("NewProfile (-want +got):\n%s", diff)
	}
}
