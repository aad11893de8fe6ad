package server

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/server/signintest"
)

func TestCleanText(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"Alex Rivera", "Alex Rivera"},
		{"  two\n\nlines\t here ", "two lines here"},
		{"bell\x07 nul\x00 esc\x1b[31m", "bell nul esc[31m"},
		{"evil\u202egnp.exe", "evilgnp.exe"},
		{"\u2066isolate\u2069", "isolate"},
		{"<script>", "<script>"}, // escaping is html/template's job
		{"Hernández 日本", "Hernández 日本"},
	} {
		if got := cleanText(tc.in); got != tc.want {
			t.Errorf("cleanText(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestParseFind(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, text, by string
		want           rechargekit.CustomerSearch
		wantErr        bool
	}{
		{"email", " sam@example.com ", "", rechargekit.CustomerSearch{Emails: []string{"sam@example.com"}}, false},
		{"digits are both ids and a query", "183940021", "", rechargekit.CustomerSearch{CustomerID: 183940021, ExternalID: "183940021", Query: "183940021"}, false},
		{"huge digits are a Shopify id only", "99999999999999999999", "", rechargekit.CustomerSearch{ExternalID: "99999999999999999999", Query: "99999999999999999999"}, false},
		{"a phone is a query", " 555-123-4567 ", "", rechargekit.CustomerSearch{Query: "555-123-4567"}, false},
		{"a name is a query", "Zoë Núñez", "", rechargekit.CustomerSearch{Query: "Zoë Núñez"}, false},
		{"shopify prefix", "shopify:7923224739991", "", rechargekit.CustomerSearch{ExternalID: "7923224739991"}, false},
		{"SHOPIFY prefix with space", "SHOPIFY: 7923224739991", "", rechargekit.CustomerSearch{ExternalID: "7923224739991"}, false},
		{"shopify chosen", "7923224739991", "shopify", rechargekit.CustomerSearch{ExternalID: "7923224739991"}, false},
		{"shopify chosen with prefix", "shopify:42", "shopify", rechargekit.CustomerSearch{ExternalID: "42"}, false},
		{"recharge chosen", "42", "recharge", rechargekit.CustomerSearch{CustomerID: 42}, false},
		{"email chosen", "a@b", "email", rechargekit.CustomerSearch{Emails: []string{"a@b"}}, false},
		{"empty", "  ", "", rechargekit.CustomerSearch{}, true},
		{"words", "sam taylor", "", rechargekit.CustomerSearch{Query: "sam taylor"}, false},
		{"recharge not a number", "abc", "recharge", rechargekit.CustomerSearch{}, true},
		{"recharge zero", "0", "recharge", rechargekit.CustomerSearch{}, true},
		{"email without at", "sam", "email", rechargekit.CustomerSearch{}, true},
		{"email with space", "s am@x.com", "email", rechargekit.CustomerSearch{}, true},
		{"shopify empty", "shopify:", "", rechargekit.CustomerSearch{}, true},
		{"unknown kind", "x", "phone", rechargekit.CustomerSearch{}, true},
		{"control character", "a\x00@b", "", rechargekit.CustomerSearch{}, true},
		{"too long", strings.Repeat("a", 400) + "@b", "", rechargekit.CustomerSearch{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseFind(tc.text, tc.by)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if err != nil {
				if rechargekit.ErrorCode(err) != rechargekit.EINVALID || rechargekit.ErrorMessage(err) == "" {
					t.Errorf("error %v is not an EINVALID with a message", err)
				}
				return
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestSafeNext(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"":                      "/profiles",
		"/profiles/abc?q=1":     "/profiles/abc?q=1",
		"/admin/users":          "/admin/users",
		"//evil.example":        "/profiles",
		"/\\evil.example":       "/profiles",
		"https://evil.example":  "/profiles",
		"javascript:alert(1)":   "/profiles",
		"/login?next=/x":        "/profiles",
		"/logout":               "/profiles",
		"/ok\r\nSet-Cookie: x":  "/profiles",
		"profiles":              "/profiles",
		"/%2F%2Fevil.example/x": "/%2F%2Fevil.example/x", // a path on this site
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRelativeTimeAndDates(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{10 * time.Second, "just now"},
		{time.Minute, "1 minute ago"},
		{2 * time.Minute, "2 minutes ago"},
		{time.Hour, "1 hour ago"},
		{5 * time.Hour, "5 hours ago"},
		{30 * time.Hour, "1 day ago"},
		{20 * 24 * time.Hour, "20 days ago"},
		{-5 * 24 * time.Hour, "in 5 days"},
	} {
		if got := relativeTime(now.Add(-tc.d), now); got != tc.want {
			t.Errorf("relativeTime(-%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
	for _, tc := range []struct{ in, text, ago string }{
		{"2026-03-09", "Mon, Mar 9, 2026", "in 5 days"},
		{"2026-03-04", "Wed, Mar 4, 2026", "today"},
		{"2026-03-05", "Thu, Mar 5, 2026", "tomorrow"},
		{"2026-03-01", "Sun, Mar 1, 2026", "3 days ago"},
		{"2026-03-09T00:00:00Z", "Mon, Mar 9, 2026", "in 5 days"},
		{"soon\x07", "soon", ""},
	} {
		got := newDateView(tc.in, now)
		if got.Text != tc.text || got.Ago != tc.ago {
			t.Errorf("newDateView(%q) = %+v, want %q %q", tc.in, got, tc.text, tc.ago)
		}
	}
	if v := newTimeView(time.Time{}, now); !v.IsZero() {
		t.Errorf("zero time = %+v", v)
	}
	for _, tc := range []struct {
		n    int
		unit string
		want string
	}{{1, "month", "every 1 month"}, {30, "day", "every 30 days"}, {2, "weeks", "every 2 weeks"}, {0, "day", ""}, {3, "", ""}} {
		if got := interval(tc.n, tc.unit); got != tc.want {
			t.Errorf("interval(%d, %q) = %q, want %q", tc.n, tc.unit, got, tc.want)
		}
	}
}

func TestMemoryFailures(t *testing.T) {
	t.Parallel()
	signintest.Run(t, func(_ *testing.T, w time.Duration) signintest.Counter { return newMemoryFailures(w) })

	// Memory stays bounded.
	m := newMemoryFailures(time.Minute)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range maxFailureEntries + 10 {
		_, _ = m.Attempt(context.Background(), strings.Repeat("x", i%50)+string(rune('a'+i%26))+time.Duration(i).String(), 1, now)
	}
	if n := len(m.entries); n > maxFailureEntries {
		t.Errorf("%d entries, want at most %d", n, maxFailureEntries)
	}
}
