package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/recharge/rechargetest"
	"github.com/rechargekit/rechargekit/server"
)

// apiClient calls the JSON API with a bearer token.
type apiClient struct {
	t     testing.TB
	base  string
	token string
	ctype string // Content-Type for bodies; default application/json
}

func (a apiClient) do(method, path, body string) (int, []byte) {
	a.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, a.base+path, r)
	if err != nil {
		a.t.Fatal(err)
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	if body != "" {
		ct := a.ctype
		if ct == "" {
			ct = "application/json"
		}
		req.Header.Set("Content-Type", ct)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		a.t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); len(b) > 0 && !strings.HasPrefix(ct, "application/json") {
		a.t.Errorf("%s %s: Content-Type %q", method, path, ct)
	}
	return resp.StatusCode, b
}

// MustAPIToken creates an API token in the store and returns it.
func MustAPIToken(tb testing.TB, store rechargekit.Store, name string) string {
	tb.Helper()
	tok, hash := server.NewAPIToken()
	if err := store.CreateAPIToken(context.Background(), &rechargekit.APIToken{Name: name, Hash: hash}, "test"); err != nil {
		tb.Fatal(err)
	}
	return tok
}

type apiErr struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func decodeErr(tb testing.TB, b []byte) apiErr {
	tb.Helper()
	var e apiErr
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
		tb.Fatalf("not a JSON error: %s (%v)", b, err)
	}
	return e
}

func TestAPIAuth(t *testing.T) {
	t.Parallel()
	e := MustEnv(t)
	tok := MustAPIToken(t, e.Store, "desk")
	for _, tc := range []struct{ name, header string }{
		{"missing", ""},
		{"wrong scheme", "Basic " + tok},
		{"wrong token", "Bearer rk_not-a-real-token"},
		{"empty token", "Bearer "},
		{"hash instead of token", "Bearer " + server.HashAPIToken(tok)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, r := range []struct{ method, path, body string }{
				{"GET", "/api/profiles/" + profAlex + "/card", ""},
				{"PUT", "/api/profiles/new", `{"name":"x"}`},
				{"POST", "/api/profiles/" + profSam + "/link", `{"rechargeCustomerId":"183940001"}`},
				{"DELETE", "/api/profiles/" + profManual + "/link", ""},
			} {
				req, _ := http.NewRequest(r.method, e.Srv.URL+r.path, strings.NewReader(r.body))
				if tc.header != "" {
					req.Header.Set("Authorization", tc.header)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "" {
					t.Errorf("%s %s = %d, want 401 with WWW-Authenticate", r.method, r.path, resp.StatusCode)
				}
				if got := decodeErr(t, b); got.Error.Code != "unauthorized" {
					t.Errorf("code = %q", got.Error.Code)
				}
			}
		})
	}
	// Nothing changed.
	ctx := context.Background()
	if _, err := e.Store.Profile(ctx, "new"); rechargekit.ErrorCode(err) != rechargekit.ENOTFOUND {
		t.Error("an unauthenticated PUT stored a profile")
	}
	if _, err := e.Store.Link(ctx, profAlex); rechargekit.ErrorCode(err) != rechargekit.ENOTFOUND {
		t.Error("an unauthenticated card read auto-linked")
	}
	if _, err := e.Store.Link(ctx, profManual); err != nil {
		t.Error("an unauthenticated DELETE unlinked")
	}
	if strings.Contains(e.Logs.String(), tok) {
		t.Error("the log holds the API token")
	}
}

func TestAPIPutProfile(t *testing.T) {
	t.Parallel()
	e := MustEnv(t)
	api := apiClient{t: t, base: e.Srv.URL, token: MustAPIToken(t, e.Store, "desk")}

	code, body := api.do("PUT", "/api/profiles/zd-42", `{"name":"  Kim Park ","emails":["kim@example.com","KIM@example.com",""],"phones":["+1 555 0142"]}`)
	if code != http.StatusCreated {
		t.Fatalf("create = %d %s", code, body)
	}
	var got server.ProfileJSON
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	want := server.ProfileJSON{ID: "zd-42", Name: "Kim Park", Emails: []string{"kim@example.com"}, Phones: []string{"+1 555 0142"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("created profile (-want +got):\n%s", diff)
	}
	code, body = api.do("PUT", "/api/profiles/zd-42", `{"name":"Kim Park","emails":[]}`)
	if code != http.StatusOK || !strings.Contains(string(body), `"emails":[]`) || !strings.Contains(string(body), `"phones":[]`) {
		t.Errorf("update = %d %s", code, body)
	}
	// An id with a slash and spaces, escaped in the path.
	if code, body := api.do("PUT", "/api/profiles/a%2Fb%20c", `{"name":"Slash"}`); code != http.StatusCreated || !strings.Contains(string(body), `"id":"a/b c"`) {
		t.Errorf("escaped id = %d %s", code, body)
	}

	for _, tc := range []struct {
		name, ctype, body string
		status            int
		code              string
	}{
		{"unknown field", "", `{"name":"x","email":"typo@example.com"}`, 400, "invalid"},
		{"malformed", "", `{"name":`, 400, "invalid"},
		{"wrong type", "", `{"name":42}`, 400, "invalid"},
		{"trailing data", "", `{"name":"x"} {"name":"y"}`, 400, "invalid"},
		{"not an object", "", `["x"]`, 400, "invalid"},
		{"control characters", "", `{"name":"a\u0007b"}`, 400, "invalid"},
		{"too many emails", "", `{"emails":[` + strings.Repeat(`"a@b.c",`, 0) + manyEmails(51) + `]}`, 400, "invalid"},
		{"not JSON", "text/plain", `{"name":"x"}`, 400, "invalid"},
		{"over 1 MiB", "", `{"name":"` + strings.Repeat("a", 1<<20) + `"}`, 413, "too_large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := api
			a.ctype = tc.ctype
			code, body := a.do("PUT", "/api/profiles/bad-"+strings.ReplaceAll(tc.name, " ", "-"), tc.body)
			if code != tc.status {
				t.Errorf("status = %d, want %d: %s", code, tc.status, body)
			}
			if got := decodeErr(t, body); got.Error.Code != tc.code {
				t.Errorf("code = %q, want %q", got.Error.Code, tc.code)
			}
			if _, err := e.Store.Profile(context.Background(), "bad-"+strings.ReplaceAll(tc.name, " ", "-")); err == nil {
				t.Error("a refused profile was stored")
			}
		})
	}
	if code, _ := api.do("PUT", "/api/profiles/empty-body", ""); code != http.StatusBadRequest {
		t.Errorf("empty body = %d", code)
	}
}

func manyEmails(n int) string {
	var parts []string
	for i := range n {
		parts = append(parts, `"u`+strings.Repeat("x", i)+`@example.com"`)
	}
	return strings.Join(parts, ",")
}

// cardAnswer mirrors server.CardResponse loosely, to read what a client reads.
type cardAnswer struct {
	Profile         server.ProfileJSON    `json:"profile"`
	Link            *server.LinkJSON      `json:"link"`
	AutoLinked      bool                  `json:"autoLinked"`
	WasUnlinked     bool                  `json:"wasUnlinked"`
	Card            *rechargekit.CardJSON `json:"card"`
	CardError       *server.ErrorJSON     `json:"cardError"`
	Candidates      []server.CandidateJSON
	CandidatesError *server.ErrorJSON `json:"candidatesError"`
	AutoLinkBlocked *string           `json:"autoLinkBlocked"`
}

func TestAPICard(t *testing.T) {
	t.Parallel()
	e := MustEnv(t)
	api := apiClient{t: t, base: e.Srv.URL, token: MustAPIToken(t, e.Store, "desk")}

	t.Run("auto-links like the console", func(t *testing.T) {
		code, body := api.do("GET", "/api/profiles/"+profAlex+"/card", "")
		if code != http.StatusOK {
			t.Fatalf("status %d %s", code, body)
		}
		// Every documented key is present, null where empty.
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(body, &raw); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"profile", "link", "card", "candidates", "autoLinked", "cardError"} {
			if _, ok := raw[k]; !ok {
				t.Errorf("answer lacks %q: %s", k, body)
			}
		}
		var a cardAnswer
		if err := json.Unmarshal(body, &a); err != nil {
			t.Fatal(err)
		}
		if !a.AutoLinked || a.Link == nil || a.Link.Method != "auto" || a.Link.By != "auto" || a.Link.RechargeCustomerID != "183940021" {
			t.Errorf("link = %+v autoLinked=%v", a.Link, a.AutoLinked)
		}
		if a.Card == nil || a.CardError != nil {
			t.Fatalf("card = %v, error %v", a.Card, a.CardError)
		}
		c := a.Card
		if c.Customer.RechargeCustomerID != "183940021" || *c.Customer.SubscriptionsTotalCount != "3" || *c.Customer.SubscriptionsActiveCount != "2" {
			t.Errorf("customer = %+v", c.Customer)
		}
		if len(c.Subscriptions) != 3 {
			t.Fatalf("subscriptions = %d", len(c.Subscriptions))
		}
		// Active first, newest first (the Dog Dental Chews on the T-Shirt's
		// next charge, then the T-Shirt), then the cancelled Cat Pajamas.
		chews, dog, cat := c.Subscriptions[0], c.Subscriptions[1], c.Subscriptions[2]
		if *chews.Products[0].Name != "Dog Dental Chews" || chews.NextBillingDate == nil || dog.NextBillingDate == nil || *chews.NextBillingDate != *dog.NextBillingDate {
			t.Errorf("first subscription = %s", mustJSON(chews))
		}
		if dog.Type != "SUBSCRIPTION" || *dog.Status != "active" || *dog.Products[0].Name != "Dog Lovers T-Shirt" ||
			*dog.Products[0].SKU != "DOG-TEE-L" || *dog.Price != "25.00" || *dog.CurrencyCode != "USD" ||
			*dog.BillingIntervalFrequency != "1" || *dog.BillingIntervalUnit != "month" || dog.NextBillingDate == nil || dog.CanceledAt != nil {
			t.Errorf("active subscription = %s", mustJSON(dog))
		}
		if *cat.Status != "cancelled" || *cat.CancellationReason != "Too many pajamas" || cat.CanceledAt == nil || cat.NextBillingDate != nil {
			t.Errorf("cancelled subscription = %s", mustJSON(cat))
		}
		// The subscription keys are the SUBSCRIPTION transaction's.
		for _, k := range []string{`"subscriptionId"`, `"billingIntervalFrequency"`, `"canceledAt"`, `"cancellationReason"`, `"imageUrl"`, `"currencyCode"`} {
			if !strings.Contains(string(body), k) {
				t.Errorf("answer lacks key %s", k)
			}
		}
		if string(raw["candidates"]) != "[]" {
			t.Errorf("candidates of a linked profile = %s", raw["candidates"])
		}
	})

	t.Run("two candidates", func(t *testing.T) {
		code, body := api.do("GET", "/api/profiles/"+profSam+"/card", "")
		var a cardAnswer
		if err := json.Unmarshal(body, &a); code != http.StatusOK || err != nil {
			t.Fatalf("status %d %s", code, body)
		}
		if a.Link != nil || a.Card != nil || a.AutoLinked || a.AutoLinkBlocked == nil || *a.AutoLinkBlocked != "more than one Recharge customer matches" {
			t.Errorf("answer = %s", body)
		}
		var got []string
		for _, c := range a.Candidates {
			got = append(got, c.Customer.RechargeCustomerID+" "+c.MatchedBy+" "+c.MatchedValue)
		}
		want := []string{"183940002 email sam.t@example.org", "183940001 email sam.taylor@example.com"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("candidates (-want +got):\n%s", diff)
		}
	})

	t.Run("previously unlinked", func(t *testing.T) {
		_, body := api.do("GET", "/api/profiles/"+profUnlinked+"/card", "")
		var a cardAnswer
		json.Unmarshal(body, &a)
		if !a.WasUnlinked || a.Link != nil || len(a.Candidates) != 1 {
			t.Errorf("answer = %s", body)
		}
	})

	t.Run("customer gone", func(t *testing.T) {
		MustLink(t, e.Store, profNoMatch, 999000111, rechargekit.LinkManual, agentEmail)
		code, body := api.do("GET", "/api/profiles/"+profNoMatch+"/card", "")
		var a cardAnswer
		json.Unmarshal(body, &a)
		if code != http.StatusOK || a.Card != nil || a.CardError == nil || a.CardError.Code != "not_found" {
			t.Errorf("answer = %d %s", code, body)
		}
	})

	t.Run("unknown profile", func(t *testing.T) {
		code, body := api.do("GET", "/api/profiles/nobody/card", "")
		if code != http.StatusNotFound || decodeErr(t, body).Error.Code != "not_found" {
			t.Errorf("answer = %d %s", code, body)
		}
	})

	t.Run("unknown endpoint", func(t *testing.T) {
		code, body := api.do("GET", "/api/nothing", "")
		if code != http.StatusNotFound || decodeErr(t, body).Error.Code != "not_found" {
			t.Errorf("answer = %d %s", code, body)
		}
	})
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

func TestAPILinkAndUnlink(t *testing.T) {
	t.Parallel()
	e := MustEnv(t)
	ctx := context.Background()
	api := apiClient{t: t, base: e.Srv.URL, token: MustAPIToken(t, e.Store, "zendesk")}
	path := "/api/profiles/" + profSam + "/link"

	code, body := api.do("POST", path, `{"rechargeCustomerId":"183940001"}`)
	if code != http.StatusOK {
		t.Fatalf("link = %d %s", code, body)
	}
	var l server.LinkJSON
	if err := json.Unmarshal(body, &l); err != nil {
		t.Fatal(err)
	}
	if l.RechargeCustomerID != "183940001" || l.Method != "manual" || l.By != "api:zendesk" || !strings.HasSuffix(l.At, "Z") {
		t.Errorf("link = %+v", l)
	}
	// Linking again to the same customer is a no-op that succeeds.
	if code, _ := api.do("POST", path, `{"rechargeCustomerId":"183940001"}`); code != http.StatusOK {
		t.Errorf("same link again = %d", code)
	}

	for _, tc := range []struct {
		name, path, body string
		status           int
		code             string
	}{
		{"conflict", path, `{"rechargeCustomerId":"183940002"}`, 409, "conflict"},
		{"no such customer", "/api/profiles/" + profNoMatch + "/link", `{"rechargeCustomerId":"999000111"}`, 404, "not_found"},
		{"no such profile", "/api/profiles/nobody/link", `{"rechargeCustomerId":"183940001"}`, 404, "not_found"},
		{"not a number", "/api/profiles/" + profNoMatch + "/link", `{"rechargeCustomerId":"abc"}`, 400, "invalid"},
		{"negative", "/api/profiles/" + profNoMatch + "/link", `{"rechargeCustomerId":"-5"}`, 400, "invalid"},
		{"a JSON number", "/api/profiles/" + profNoMatch + "/link", `{"rechargeCustomerId":183940001}`, 400, "invalid"},
		{"missing", "/api/profiles/" + profNoMatch + "/link", `{}`, 400, "invalid"},
		{"unknown field", "/api/profiles/" + profNoMatch + "/link", `{"customerId":"183940001"}`, 400, "invalid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := api.do("POST", tc.path, tc.body)
			if code != tc.status || decodeErr(t, body).Error.Code != tc.code {
				t.Errorf("answer = %d %s, want %d %s", code, body, tc.status, tc.code)
			}
		})
	}
	if _, err := e.Store.Link(ctx, profNoMatch); rechargekit.ErrorCode(err) != rechargekit.ENOTFOUND {
		t.Error("a refused link was stored")
	}

	t.Run("Recharge unavailable", func(t *testing.T) {
		e.Sim.SetFaults(rechargetest.Faults{Status: http.StatusServiceUnavailable})
		defer e.Sim.SetFaults(rechargetest.Faults{})
		code, body := api.do("POST", "/api/profiles/"+profNoMatch+"/link", `{"rechargeCustomerId":"183940021"}`)
		if code != http.StatusServiceUnavailable || decodeErr(t, body).Error.Code != "upstream" {
			t.Errorf("answer = %d %s", code, body)
		}
		code, body = api.do("GET", "/api/profiles/"+profManual+"/card", "")
		var a cardAnswer
		json.Unmarshal(body, &a)
		if code != http.StatusOK || a.Card != nil || a.CardError == nil || a.CardError.Code != "upstream" || a.Link == nil {
			t.Errorf("card while Recharge is down = %d %s", code, body)
		}
	})

	if code, body := api.do("DELETE", path, ""); code != http.StatusNoContent || len(body) != 0 {
		t.Errorf("unlink = %d %s", code, body)
	}
	if code, body := api.do("DELETE", path, ""); code != http.StatusNotFound || decodeErr(t, body).Error.Code != "not_found" {
		t.Errorf("unlink again = %d %s", code, body)
	}
	entries, _ := e.Store.Audit(ctx, rechargekit.AuditFilter{ProfileID: profSam})
	var got []string
	for _, en := range entries {
		got = append(got, en.Action+" "+en.Actor)
	}
	want := []string{"unlink api:zendesk", "link_conflict api:zendesk", "link api:zendesk"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("audit (-want +got):\n%s", diff)
	}
}

// failingProfiles is a ProfileService whose every call fails with an
// unexpected (non-domain) error, to check that internal detail stays in the log.
type failingProfiles struct{ err error }

func (f failingProfiles) Open(context.Context, string) (*rechargekit.ProfileView, error) {
	return nil, f.err
}
func (f failingProfiles) Link(context.Context, string, int64, string) (*rechargekit.Link, error) {
	return nil, f.err
}
func (f failingProfiles) Unlink(context.Context, string, string) error { return f.err }
func (f failingProfiles) SaveProfile(context.Context, *rechargekit.Profile) (*rechargekit.Profile, bool, error) {
	return nil, false, f.err
}

func TestAPIErrorTable(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		err    error
		status int
		code   string
		msg    string
	}{
		{"invalid", rechargekit.Errorf(rechargekit.EINVALID, "bad input"), 400, "invalid", "bad input"},
		// Recharge refusing rechargekit's own token is an upstream failure
		// for the desk, mapped so once in the recharge adapter.
		{"recharge refused our token", rechargekit.UpstreamRefused("Recharge refused rechargekit's API token.", nil), 503, "upstream", "Recharge refused rechargekit's API token."},
		{"not found", rechargekit.Errorf(rechargekit.ENOTFOUND, "gone"), 404, "not_found", "gone"},
		{"conflict", rechargekit.Errorf(rechargekit.ECONFLICT, "clash"), 409, "conflict", "clash"},
		{"upstream", rechargekit.Errorf(rechargekit.EUPSTREAM, "Recharge is down"), 503, "upstream", "Recharge is down"},
		{"internal", rechargekit.WrapError(rechargekit.EINTERNAL, "db exploded at row 7", errors.New("secret detail")), 500, "internal", "An internal error occurred."},
		{"plain error", errors.New("pq: connection to 10.0.0.5 refused"), 500, "internal", "An internal error occurred."},
		{"unknown code", &rechargekit.Error{Code: "weird", Message: "leak me"}, 500, "internal", "An internal error occurred."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := MustEnv(t, envOptions{Profiles: failingProfiles{tc.err}})
			api := apiClient{t: t, base: e.Srv.URL, token: MustAPIToken(t, e.Store, "desk")}
			for _, r := range []struct{ method, path, body string }{
				{"GET", "/api/profiles/x/card", ""},
				{"POST", "/api/profiles/x/link", `{"rechargeCustomerId":"1"}`},
				{"DELETE", "/api/profiles/x/link", ""},
				{"PUT", "/api/profiles/x", `{"name":"X"}`},
			} {
				code, body := api.do(r.method, r.path, r.body)
				got := decodeErr(t, body)
				if code != tc.status || got.Error.Code != tc.code || got.Error.Message != tc.msg {
					t.Errorf("%s %s = %d %s, want %d %s %q", r.method, r.path, code, body, tc.status, tc.code, tc.msg)
				}
			}
			if tc.status == 500 && !strings.Contains(e.Logs.String(), "api error") {
				t.Errorf("internal error not logged:\n%s", e.Logs)
			}
			if tc.name == "recharge refused our token" && !strings.Contains(e.Logs.String(), "check RECHARGE_API_TOKEN") {
				t.Errorf("a refused token not logged as a configuration error:\n%s", e.Logs)
			}
		})
	}
}
