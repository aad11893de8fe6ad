package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"
	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/recharge/rechargetest"
	"github.com/rechargekit/rechargekit/server"
)

// TestManualSearchWithMirror: with a complete mirror, the one search box
// finds customers by phone, name and zip too, and each result says what
// matched; no hint about the mirror is shown.
func TestManualSearchWithMirror(t *testing.T) {
	t.Parallel()
	e := MustEnv(t, envOptions{Index: true})
	b := e.Browser(t).MustLogin(agentEmail, agentPassword)
	base := "/profiles/" + profNoMatch
	before := e.Sim.Stats()
	cases := 0
	for _, tc := range []struct {
		name, find string
		want       []string
	}{
		{"phone with dashes", "555-123-4567", []string{"Alex Rivera", "phone &#43;15551234567 matches", `value="183940021"`}},
		{"phone formatted", "+1 (555) 123-4567", []string{"Alex Rivera", "phone &#43;15551234567 matches"}},
		{"last name", "rivera", []string{"Alex Rivera", "name rivera matches"}},
		{"full name in capitals", "SAM TAYLOR", []string{`value="183940001"`, `value="183940002"`, "name sam taylor matches"}},
		{"zip", "90026", []string{"Alex Rivera", "zip 90026 matches"}},
		{"Shopify id", "7923224739991", []string{"Alex Rivera", "Shopify customer id 7923224739991 matches"}},
		{"Recharge id", "183940021", []string{"Alex Rivera", "Recharge customer id 183940021 matches"}},
		{"email", "Dana.Whitfield@example.com", []string{"Dana Whitfield", "email Dana.Whitfield@example.com matches"}},
		{"nothing", "zebra", []string{"No Recharge customer matches “zebra”."}},
	} {
		cases++
		t.Run(tc.name, func(t *testing.T) {
			p := b.Get(base + "?" + url.Values{"find": {tc.find}}.Encode())
			if p.Status != http.StatusOK {
				t.Fatalf("status %d", p.Status)
			}
			checkStrictPage(t, tc.name, p.Body)
			mustContain(t, p.Body, tc.want...)
			mustNotContain(t, p.Body, `id="find-hint"`, `id="find-by"`)
		})
	}
	// The searches are answered by the mirror. The profile's own email,
	// which the mirror holds no customer for, is looked up in Recharge on
	// each view (a customer created since the mirror last heard would be
	// found): at most one GET /customers per page, nothing else.
	after := e.Sim.Stats()
	for route, n := range after.ByRoute {
		n -= before.ByRoute[route]
		switch {
		case n == 0:
		case route == "GET /customers" && n <= cases:
		default:
			t.Errorf("%d requests to %s during %d searches; the mirror answers them", n, route, cases)
		}
	}
}

// TestProfileAutoLinksByPhone: a desk profile with only a phone is linked
// to the one customer with that number; a phone shared by nobody finds
// nothing and says so.
func TestProfileAutoLinksByPhone(t *testing.T) {
	t.Parallel()
	e := MustEnv(t, envOptions{Index: true})
	if _, err := e.Store.UpsertProfile(context.Background(), &rechargekit.Profile{ID: "caller-1", Name: "Caller", Phones: []string{"555-123-4567"}}); err != nil {
		t.Fatal(err)
	}
	b := e.Browser(t).MustLogin(agentEmail, agentPassword)
	p := b.Get("/profiles/caller-1")
	mustContain(t, p.Body, "Alex Rivera")
	l, err := e.Store.Link(context.Background(), "caller-1")
	if err != nil || l.CustomerID != rechargetest.DemoAlexRiveraID || l.Method != rechargekit.LinkAuto {
		t.Errorf("link = %+v, %v; want an auto link to Alex Rivera", l, err)
	}

	p = b.Get("/profiles/" + profNoEmail)
	mustContain(t, p.Body, `id="no-candidates"`, "No Recharge customer has this profile&#39;s phone.")
	mustNotContain(t, p.Body, `id="candidates-hint"`)
}

// TestProfilePhonesWithoutMirror: without a mirror the profile's phones
// are not searched, and the page says why.
func TestProfilePhonesWithoutMirror(t *testing.T) {
	t.Parallel()
	e := MustEnv(t)
	b := e.Browser(t).MustLogin(agentEmail, agentPassword)
	p := b.Get("/profiles/" + profNoEmail)
	mustContain(t, p.Body, `id="candidates-hint"`, "Phone search works once the mirror is complete")
}

// searchAnswer is GET /api/search's answer as a client decodes it.
type searchAnswer struct {
	Candidates []server.CandidateJSON `json:"candidates"`
	Unsearched []string               `json:"unsearched"`
	Hint       string                 `json:"hint"`
}

func TestAPISearch(t *testing.T) {
	t.Parallel()
	withIndex := MustEnv(t, envOptions{Index: true})
	without := MustEnv(t)
	tests := []struct {
		name       string
		e          *env
		q          string
		want       [][2]string // customer id, matchedBy
		value      string      // the first candidate's matchedValue
		unsearched []string
	}{
		{"phone", withIndex, "555-123-4567", [][2]string{{"183940021", "phone"}}, "+15551234567", []string{}},
		{"name", withIndex, "Rivera", [][2]string{{"183940021", "name"}}, "rivera", []string{}},
		{"zip", withIndex, "90026", [][2]string{{"183940021", "zip"}}, "90026", []string{}},
		{"Shopify id", withIndex, "shopify:7923224739991", [][2]string{{"183940021", "shopify_customer_id"}}, "7923224739991", []string{}},
		{"email", withIndex, "sam.taylor@example.com", [][2]string{{"183940001", "email"}}, "sam.taylor@example.com", []string{}},
		{"nobody", withIndex, "zebra", [][2]string{}, "", []string{}},
		{"email without the mirror", without, "alex.rivera@example.com", [][2]string{{"183940021", "email"}}, "alex.rivera@example.com", []string{}},
		{"id without the mirror", without, "183940021", [][2]string{{"183940021", "recharge_customer_id"}}, "183940021", []string{"zip"}},
		{"phone without the mirror", without, "555-123-4567", [][2]string{}, "", []string{"phone", "zip"}},
	}
	tokens := map[*env]string{withIndex: MustAPIToken(t, withIndex.Store, "desk"), without: MustAPIToken(t, without.Store, "desk")}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := apiClient{t: t, base: tt.e.Srv.URL, token: tokens[tt.e]}
			status, body := a.do(http.MethodGet, "/api/search?"+url.Values{"q": {tt.q}}.Encode(), "")
			if status != http.StatusOK {
				t.Fatalf("status %d: %s", status, body)
			}
			var got searchAnswer
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
			ids := [][2]string{}
			for _, c := range got.Candidates {
				ids = append(ids, [2]string{c.Customer.RechargeCustomerID, c.MatchedBy})
			}
			if diff := cmp.Diff(tt.want, ids); diff != "" {
				t.Errorf("candidates (-want +got):\n%s", diff)
			}
			if len(got.Candidates) > 0 && got.Candidates[0].MatchedValue != tt.value {
				t.Errorf("matchedValue = %q, want %q", got.Candidates[0].MatchedValue, tt.value)
			}
			if diff := cmp.Diff(tt.unsearched, got.Unsearched); diff != "" {
				t.Errorf("unsearched (-want +got):\n%s", diff)
			}
			if (got.Hint != "") != (len(tt.unsearched) > 0) {
				t.Errorf("hint %q with unsearched %v", got.Hint, tt.unsearched)
			}
			// The same keys as every other answer: null-free arrays.
			for _, key := range []string{`"candidates":[`, `"unsearched":[`, `"hint":`} {
				if !strings.Contains(string(body), key) {
					t.Errorf("answer %s lacks %s", body, key)
				}
			}
		})
	}
}

// TestAPISearchShape: the candidates of a search are the candidates of a
// profile's card, key for key.
func TestAPISearchShape(t *testing.T) {
	t.Parallel()
	e := MustEnv(t)
	a := apiClient{t: t, base: e.Srv.URL, token: MustAPIToken(t, e.Store, "desk")}
	_, cardBody := a.do(http.MethodGet, "/api/profiles/"+profSam+"/card", "")
	_, searchBody := a.do(http.MethodGet, "/api/search?q=sam.taylor%40example.com", "")
	var card, found struct {
		Candidates []map[string]any `json:"candidates"`
	}
	if err := json.Unmarshal(cardBody, &card); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(searchBody, &found); err != nil {
		t.Fatal(err)
	}
	if len(found.Candidates) != 1 || len(card.Candidates) == 0 {
		t.Fatalf("search %s; card %s", searchBody, cardBody)
	}
	var fromCard map[string]any
	for _, c := range card.Candidates {
		if c["matchedValue"] == "sam.taylor@example.com" {
			fromCard = c
		}
	}
	if diff := cmp.Diff(fromCard, found.Candidates[0]); diff != "" {
		t.Errorf("search candidate vs card candidate (-card +search):\n%s", diff)
	}
}

func TestAPISearchErrors(t *testing.T) {
	t.Parallel()
	e := MustEnv(t)
	a := apiClient{t: t, base: e.Srv.URL, token: MustAPIToken(t, e.Store, "desk")}
	for _, tc := range []struct {
		name, path string
		status     int
		code, msg  string
	}{
		{"no q", "/api/search", http.StatusBadRequest, "invalid", "Send what to search for in q"},
		{"empty q", "/api/search?q=%20%20", http.StatusBadRequest, "invalid", "Send what to search for in q"},
		{"too long", "/api/search?q=" + strings.Repeat("a", 321), http.StatusBadRequest, "invalid", "longer than 320 bytes"},
		{"control character", "/api/search?q=a%00b", http.StatusBadRequest, "invalid", "cannot be searched"},
		{"empty Shopify id", "/api/search?q=shopify%3A", http.StatusBadRequest, "invalid", "A Shopify customer id is a number"},
		{"POST", "/api/search?q=x", http.StatusNotFound, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			method := http.MethodGet
			if tc.name == "POST" {
				method = http.MethodPost
			}
			status, body := a.do(method, tc.path, "")
			if status != tc.status && !(tc.name == "POST" && status == http.StatusMethodNotAllowed) {
				t.Fatalf("status %d, want %d: %s", status, tc.status, body)
			}
			if tc.code == "" {
				return
			}
			got := decodeErr(t, body)
			if got.Error.Code != tc.code || !strings.Contains(got.Error.Message, tc.msg) || !strings.HasSuffix(got.Error.Message, ".") {
				t.Errorf("error %+v, want %s with %q in a sentence", got, tc.code, tc.msg)
			}
		})
	}

	// Auth like every API route: no token, a wrong one.
	for _, token := range []string{"", "rk_wrong"} {
		status, _ := apiClient{t: t, base: e.Srv.URL, token: token}.do(http.MethodGet, "/api/search?q=rivera", "")
		if status != http.StatusUnauthorized {
			t.Errorf("token %q: status %d, want 401", token, status)
		}
	}

	// Recharge down: 503 with the domain's sentence, not an empty list.
	e.Sim.SetFaults(rechargetest.Faults{Status: http.StatusServiceUnavailable})
	status, body := a.do(http.MethodGet, "/api/search?q=alex.rivera%40example.com", "")
	if got := decodeErr(t, body); status != http.StatusServiceUnavailable || got.Error.Code != rechargekit.EUPSTREAM {
		t.Errorf("Recharge down: %d %s, want 503 upstream", status, body)
	}
}

// TestBrowserSearchByPhone types a phone into the one search box of a
// profile in a real browser, with a complete mirror behind the console.
func TestBrowserSearchByPhone(t *testing.T) {
	t.Parallel()
	chromePath(t)
	e := MustEnv(t, envOptions{Index: true})
	c := MustChrome(t, e, 90*time.Second)
	c.do("open the sign-in page", chromedp.Navigate(c.base+"/profiles/"+profNoMatch), chromedp.WaitVisible(chromedp.ID("login-form")))
	c.signIn(agentEmail, agentPassword)
	c.do("open the profile", chromedp.Navigate(c.base+"/profiles/"+profNoMatch), chromedp.WaitVisible(chromedp.ID("search")))
	if c.eval(`!!document.querySelector('#search select')`) {
		t.Error("the search still has a kind selector; it is one box")
	}
	if !c.eval(`document.querySelector('label[for="find"]') !== null && document.getElementById('find').getAttribute('aria-describedby') === 'find-help'`) {
		t.Error("the search box lacks its label or its description")
	}
	c.do("search by phone",
		chromedp.SendKeys(chromedp.ID("find"), "555-123-4567"),
		chromedp.Submit(chromedp.ID("find")),
		chromedp.WaitVisible(chromedp.ID("find-results")),
	)
	wantText(t, "search results", c.text("#find-results"), "Alex Rivera", "phone +15551234567 matches")
	c.shoot("search-by-phone.png", "#search")
}

// FuzzAPISearch sends any text as GET /api/search's q: the answer is the
// candidates (arrays, never null) or a 400 with a sentence; never a server
// error, whatever the text.
func FuzzAPISearch(f *testing.F) {
	for _, q := range []string{"555-123-4567", "+1 (555) 123-4567", "rivera", "Zoë", "90026", "183940021", "shopify:7923224739991",
		"shopify:", "alex.rivera@example.com", "a@b@c", "", " ", "\x00", "99999999999999999999", strings.Repeat("9", 321)} {
		f.Add(q)
	}
	c := mustFuzzConsole(f)
	f.Fuzz(func(t *testing.T, q string) {
		r := httptest.NewRequest(http.MethodGet, "/api/search?q="+url.QueryEscape(q), nil)
		r.Header.Set("Authorization", "Bearer "+c.token)
		rec := c.serve(r)
		switch rec.Code {
		case http.StatusOK:
			var got searchAnswer
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || got.Candidates == nil || got.Unsearched == nil {
				t.Fatalf("q %q: answer %s (%v)", q, rec.Body, err)
			}
			for _, cand := range got.Candidates {
				if cand.MatchedBy == "" || cand.Customer.RechargeCustomerID == "" {
					t.Fatalf("q %q: candidate %+v says nothing of what matched", q, cand)
				}
			}
		case http.StatusBadRequest:
			var e apiErr
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error.Code != rechargekit.EINVALID || !strings.HasSuffix(e.Error.Message, ".") {
				t.Fatalf("q %q: 400 %s", q, rec.Body)
			}
		default:
			t.Fatalf("q %q: status %d: %s", q, rec.Code, rec.Body)
		}
	})
}
