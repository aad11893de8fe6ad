package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/actions"
	"github.com/rechargekit/rechargekit/actions/actionstest"
	"github.com/rechargekit/rechargekit/cards"
	"github.com/rechargekit/rechargekit/recharge"
	"github.com/rechargekit/rechargekit/recharge/rechargetest"
	"github.com/rechargekit/rechargekit/server"
	"github.com/rechargekit/rechargekit/sqlite"
)

// Fuzz targets of the console's and the API's inputs, through the real
// handler over a SQLite store and the simulator. Their corpora live in
// testdata/fuzz/<FuzzName>; scripts/fuzz runs them for longer.

// fuzzConsole is one console for a whole fuzz run: the handler, an API
// token and a signed-in admin.
type fuzzConsole struct {
	h      http.Handler
	token  string // API bearer token
	cookie string // the admin's session cookie, "name=value"
	csrf   string // the admin session's CSRF token
	peer   atomic.Int64
}

// mustFuzzConsole builds the console with the demo profiles, an admin, an
// API token (an agent's) and the actions over the in-memory ActionStore.
// The simulator's bucket and the client's limiter are too large to slow
// anything down: a 503 would then be a real failure.
func mustFuzzConsole(f *testing.F) *fuzzConsole {
	f.Helper()
	ctx := context.Background()
	sim := rechargetest.NewServer(f, rechargetest.Config{BucketSize: 1 << 30})
	sim.Load(rechargetest.DemoSeed())
	client := sim.Client(recharge.WithMaxRetries(0), recharge.WithRateLimit(1<<30, 1<<30))
	svc := cards.New(&recharge.Source{Client: client})
	svc.Logger = discardLogger()
	store, err := sqlite.Open(ctx, filepath.Join(f.TempDir(), "fuzz.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { store.Close() })
	MustUser(f, store, adminEmail, rechargekit.RoleAdmin, adminPassword)
	seedProfiles(f, store)
	token, hash := server.NewAPIToken()
	if err := store.CreateAPIToken(ctx, &rechargekit.APIToken{Name: "fuzz", Hash: hash}, "test"); err != nil {
		f.Fatal(err)
	}
	// The actions read and invalidate cards through a cache of their own,
	// as cmd wires them.
	cached := cards.NewCachedService(&recharge.Source{Client: client}, nil, cards.CachedOptions{Logger: discardLogger()})
	f.Cleanup(func() { _ = cached.Close() })
	actionLog := actionstest.NewStore(nil)
	c := &fuzzConsole{
		h: server.New(server.Config{
			Store:    store,
			Profiles: &cards.Profiles{Cards: svc, Store: store, Logger: discardLogger()},
			Cards:    svc,
			Actions: &actions.Service{
				Source: &recharge.Actions{Client: client}, Store: actionLog,
				Cards: cached, Links: store, Logger: discardLogger(),
			},
			ActionLog: actionLog,
			Logger:    discardLogger(),
		}),
		token: token,
	}
	// Sign the admin in through the form.
	form := c.serve(httptest.NewRequest(http.MethodGet, "/login", nil))
	loginCookie := cookieOf(form, "")
	post := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(url.Values{
		"email": {adminEmail}, "password": {adminPassword}, "csrf": {CSRF(f, form.Body.String())},
	}.Encode()))
	post.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	post.Header.Set("Cookie", loginCookie)
	signedIn := c.serve(post)
	c.cookie = cookieOf(signedIn, sessionCookie)
	if signedIn.Code != http.StatusSeeOther || c.cookie == "" {
		f.Fatalf("sign-in: %d %s", signedIn.Code, signedIn.Body)
	}
	page := httptest.NewRequest(http.MethodGet, "/profiles", nil)
	page.Header.Set("Cookie", c.cookie)
	c.csrf = CSRF(f, c.serve(page).Body.String())
	return c
}

// serve runs one request from its own peer address, so that the sign-in
// limits (per address) do not end the run early.
func (c *fuzzConsole) serve(r *http.Request) *httptest.ResponseRecorder {
	n := c.peer.Add(1)
	r.RemoteAddr = fmt.Sprintf("10.%d.%d.%d:40000", n>>16&255, n>>8&255, n&255)
	rec := httptest.NewRecorder()
	c.h.ServeHTTP(rec, r)
	return rec
}

// cookieOf returns "name=value" of the named cookie an answer sets (any
// cookie when name is empty), or "".
func cookieOf(rec *httptest.ResponseRecorder, name string) string {
	for _, ck := range rec.Result().Cookies() {
		if (name == "" || ck.Name == name) && ck.Value != "" {
			return ck.Name + "=" + ck.Value
		}
	}
	return ""
}

// isCleanPath reports whether ServeMux serves p as is; it redirects the
// others (dot segments, double slashes) to their clean form.
func isCleanPath(p string) bool {
	return path.Clean(p) == p || path.Clean(p)+"/" == p
}

// API routes of FuzzAPIInputs.
var fuzzAPIRoutes = []struct{ method, suffix string }{
	{http.MethodPut, ""},
	{http.MethodPost, "/link"},
	{http.MethodGet, "/card"},
	{http.MethodDelete, "/link"},
	{http.MethodGet, "/actions"},
	{http.MethodPost, "/actions/preview"},
	{http.MethodPost, "/actions"},
}

// fuzzPlainText in FuzzAPIInputs's route byte sends the body as text/plain.
const fuzzPlainText = 0x80

// FuzzAPIInputs sends any profile id (the {id} path segment) and any body
// to PUT /api/profiles/{id}, POST /api/profiles/{id}/link, GET .../card,
// DELETE .../link, GET .../actions, POST .../actions/preview and POST
// .../actions: the answer is never a 5xx; an error is a 4xx with the
// documented {"error":{"code","message"}} body and the status of its code;
// a success is JSON (a saved profile answers with its id, a preview with
// its token, an action with its audited outcome).
func FuzzAPIInputs(f *testing.F) {
	for _, seed := range []struct {
		route uint8
		id    string
		body  string
	}{
		{0, "gladly-new", `{"name":"Ada","emails":["ada@example.com"],"phones":["+1 555 0100"]}`},
		{0, profAlex, `{"name":"Alex Rivera","emails":["alex.rivera@example.com"]}`},
		{0, "p", `{"name":"x","emails":null,"phones":[]}`},
		{0, "p", `{"name":"x","unknown":1}`},
		{0, "p", `{"name":7}`},
		{0, "p", `{"name":"x"} {"name":"y"}`},
		{0, "p", `[]`},
		{0, "p", ``},
		{0, "a/b", `{"name":"\u0000\u202e<fz>"}`},
		{0, strings.Repeat("x", 300), `{}`},
		{0, " ", `{}`},
		{1, profNoMatch, `{"rechargeCustomerId":"183940005"}`},
		{1, profSam, `{"rechargeCustomerId":"99999999"}`},
		{1, profManual, `{"rechargeCustomerId":"183940005"}`},
		{1, "no-such-profile", `{"rechargeCustomerId":"183940005"}`},
		{1, "p", `{"rechargeCustomerId":183940005}`},
		{1, "p", `{"rechargeCustomerId":"-1"}`},
		{1, "p", `{"rechargeCustomerId":" 0012 "}`},
		{1, "p", `{"rechargeCustomerId":"99999999999999999999"}`},
		{2, profAlex, ``},
		{2, profSam, ``},
		{2, "..", ``},
		{3, profManual, ``},
		{3, "%zz", ``},
		{4, profManual, ``},
		{4, "no-such-profile", ``},
		{5, profManual, `{"action":"reactivate","subscriptionId":"1"}`},
		{5, profManual, `{"action":"change_frequency","subscriptionId":1,"intervalUnit":"week","intervalFrequency":"2"}`},
		{5, profAlex, `{"action":"skip","subscriptionId":"abc"}`},
		{5, "p", `{"action":"cancel","subscriptionId":1.5}`},
		{6, profManual, `{"action":"cancel","subscriptionId":"1","reason":"Other","comments":"\u0000\u202e<fz>","sendEmail":false}`},
		{6, profManual, `{"action":"set_next_charge_date","subscriptionId":"1","date":"2026-02-30"}`},
		{6, profManual, `{"action":"change_quantity","subscriptionId":"1","quantity":"99999999999999999999"}`},
		{6, profManual, `{"action":"skip","subscriptionId":"1","previewToken":"x","extra":1}`},
	} {
		f.Add(seed.route, seed.id, []byte(seed.body))
		f.Add(seed.route|fuzzPlainText, seed.id, []byte(seed.body))
	}
	c := mustFuzzConsole(f)
	f.Fuzz(func(t *testing.T, route uint8, id string, body []byte) {
		rt := fuzzAPIRoutes[int(route&^fuzzPlainText)%len(fuzzAPIRoutes)]
		target := "/api/profiles/" + url.PathEscape(id) + rt.suffix
		r := httptest.NewRequest(rt.method, target, strings.NewReader(string(body)))
		r.Header.Set("Authorization", "Bearer "+c.token)
		if route&fuzzPlainText == 0 {
			r.Header.Set("Content-Type", "application/json")
		} else {
			r.Header.Set("Content-Type", "text/plain")
		}
		rec := c.serve(r)
		got := rec.Code
		switch {
		case got >= 500:
			t.Fatalf("%s %s %q: status %d: %s", rt.method, target, body, got, rec.Body)
		case got >= 300 && got < 400:
			if isCleanPath(r.URL.Path) {
				t.Fatalf("%s %s: redirect %d to %q", rt.method, target, got, rec.Header().Get("Location"))
			}
			return
		case got == http.StatusNoContent:
			if rec.Body.Len() != 0 {
				t.Fatalf("204 with a body %q", rec.Body)
			}
			return
		}
		if mt, _, _ := mime.ParseMediaType(rec.Header().Get("Content-Type")); mt != "application/json" {
			t.Fatalf("%s %s: status %d with Content-Type %q: %s", rt.method, target, got, rec.Header().Get("Content-Type"), rec.Body)
		}
		if got >= 400 {
			var e struct {
				Error *server.ErrorJSON `json:"error"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error == nil || e.Error.Code == "" || e.Error.Message == "" {
				t.Fatalf("%s %s %q: %d with body %s; want {\"error\":{\"code\",\"message\"}}", rt.method, target, body, got, rec.Body)
			}
			want := map[string]int{
				rechargekit.EINVALID: 400, rechargekit.EUNAUTHORIZED: 401, rechargekit.ENOTFOUND: 404,
				rechargekit.ECONFLICT: 409, rechargekit.EFORBIDDEN: 403, rechargekit.EREFUSED: 422, "too_large": 413,
			}[e.Error.Code]
			if got != want {
				t.Fatalf("%s %s: status %d for code %q", rt.method, target, got, e.Error.Code)
			}
			if route&fuzzPlainText != 0 && rt.method != http.MethodGet && rt.method != http.MethodDelete && got != 400 && got != 404 {
				t.Fatalf("%s %s with text/plain: %d, want 400", rt.method, target, got)
			}
			return
		}
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("%s %s: %d with a body that is not JSON: %q", rt.method, target, got, rec.Body)
		}
		switch {
		case rt.method == http.MethodPut:
			var p server.ProfileJSON
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.ID != id {
				t.Fatalf("PUT %s: saved %s (%v); want the profile %q", target, rec.Body, err, id)
			}
		case rt.suffix == "/actions/preview":
			var p server.APIActionPreview
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.PreviewToken == "" {
				t.Fatalf("POST %s: preview %s (%v); want one with its token", target, rec.Body, err)
			}
		case rt.method == http.MethodPost && rt.suffix == "/actions":
			var a server.APIActionResponse
			if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil || a.Outcome == nil || a.Outcome.ID == "" {
				t.Fatalf("POST %s: %s (%v); want the audited outcome", target, rec.Body, err)
			}
		}
	})
}

// Console forms of FuzzConsoleForms.
const (
	formSignIn   = iota // POST /login: email, password
	formLink            // POST /profiles/{id}/link: customer_id
	formSearch          // GET /profiles/{id}?find=&by=
	formAddUser         // POST /admin/users: email, role
	formAddToken        // POST /admin/tokens: name
	formProfiles        // GET /profiles?q=
	formAudit           // GET /admin/audit?profile=
	formCount
)

// FuzzConsoleForms fills the console's forms with anything: the sign-in
// form, the link form, the manual search of an unlinked profile, the
// admin's user and API-token forms, the profile list's and the audit
// log's filters, each with the {id} path segment where there is one, with
// and without the CSRF token: the answer is never a 5xx; an error is a 4xx
// page (HTML), a redirect stays on the site, and a fuzzed "<fz" tag never
// reaches a page unescaped.
func FuzzConsoleForms(f *testing.F) {
	for _, seed := range []struct {
		form     uint8
		id, a, b string
	}{
		{formSignIn, "", adminEmail, "wrong password"},
		{formSignIn, "", "", ""},
		{formSignIn, "", "<fz>@example.com", strings.Repeat("p", 2000)},
		{formSignIn, "", "ADMIN@example.com ", adminPassword},
		{formLink, profNoMatch, "183940005", ""},
		{formLink, profSam, "-5", ""},
		{formLink, profManual, "183940005", ""},
		{formLink, "no-such-profile", "183940005", ""},
		{formLink, "<fz x>", "1e3", ""},
		{formSearch, profSam, "sam.taylor@example.com", ""},
		{formSearch, profNoMatch, "183940005", "recharge"},
		{formSearch, profNoMatch, "shopify:7923224739991", ""},
		{formSearch, profNoMatch, "<fz onmouseover=x>", "email"},
		{formSearch, "nobody", "x", "phone"},
		{formAddUser, "", "new.agent@example.com", rechargekit.RoleAgent},
		{formAddUser, "", adminEmail, rechargekit.RoleAdmin},
		{formAddUser, "", "<fz>", "root"},
		{formAddToken, "", "desk", ""},
		{formAddToken, "", "", ""},
		{formAddToken, "", "<fz>\x00\u202e" + strings.Repeat("n", 300), ""},
		{formProfiles, "", "alex", ""},
		{formProfiles, "", "<fz>%_'\"", ""},
		{formAudit, "", profAlex, ""},
		{formAudit, "", "<fz>", ""},
	} {
		f.Add(seed.form, seed.id, seed.a, seed.b)
		f.Add(seed.form|0x80, seed.id, seed.a, seed.b) // without the CSRF token
	}
	c := mustFuzzConsole(f)
	f.Fuzz(func(t *testing.T, form uint8, id, a, b string) {
		withCSRF := form&0x80 == 0
		var r *http.Request
		post := func(target string, v url.Values) *http.Request {
			if withCSRF {
				v.Set("csrf", c.csrf)
			}
			r := httptest.NewRequest(http.MethodPost, target, strings.NewReader(v.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.Header.Set("Cookie", c.cookie)
			return r
		}
		get := func(target string) *http.Request {
			r := httptest.NewRequest(http.MethodGet, target, nil)
			r.Header.Set("Cookie", c.cookie)
			return r
		}
		profile := "/profiles/" + url.PathEscape(id)
		switch int(form&0x7f) % formCount {
		case formSignIn:
			// A fresh browser: the sign-in page first, for its CSRF cookie.
			page := c.serve(httptest.NewRequest(http.MethodGet, "/login", nil))
			v := url.Values{"email": {a}, "password": {b}, "next": {id}}
			if withCSRF {
				v.Set("csrf", CSRF(t, page.Body.String()))
			}
			r = httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(v.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.Header.Set("Cookie", cookieOf(page, ""))
		case formLink:
			r = post(profile+"/link", url.Values{"customer_id": {a}})
		case formSearch:
			r = get(profile + "?" + url.Values{"find": {a}, "by": {b}}.Encode())
		case formAddUser:
			r = post("/admin/users", url.Values{"email": {a}, "role": {b}})
		case formAddToken:
			r = post("/admin/tokens", url.Values{"name": {a}})
		case formProfiles:
			r = get("/profiles?" + url.Values{"q": {a}}.Encode())
		case formAudit:
			r = get("/admin/audit?" + url.Values{"profile": {a}}.Encode())
		}
		rec := c.serve(r)
		got, body := rec.Code, rec.Body.String()
		switch {
		case got >= 500:
			t.Fatalf("%s %s: status %d: %s", r.Method, r.URL, got, body)
		case got >= 300 && got < 400:
			loc := rec.Header().Get("Location")
			if !strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, "//") || strings.HasPrefix(loc, "/\\") {
				t.Fatalf("%s %s: redirect %d to %q, off the site", r.Method, r.URL, got, loc)
			}
			if !isCleanPath(r.URL.Path) {
				return // ServeMux cleaning the path
			}
			if r.Method == http.MethodPost && !withCSRF {
				t.Fatalf("%s %s without a CSRF token: redirect %d to %q; want 403", r.Method, r.URL, got, loc)
			}
			return
		}
		if mt, _, _ := mime.ParseMediaType(rec.Header().Get("Content-Type")); mt != "text/html" || !strings.Contains(body, "</html>") {
			t.Fatalf("%s %s: status %d without an HTML page (Content-Type %q): %.300s", r.Method, r.URL, got, rec.Header().Get("Content-Type"), body)
		}
		if r.Method == http.MethodPost && !withCSRF && got != http.StatusForbidden && got != http.StatusTooManyRequests {
			t.Fatalf("%s %s without a CSRF token: %d; want 403", r.Method, r.URL, got)
		}
		if strings.Contains(strings.ToLower(body), "<fz") {
			t.Fatalf("%s %s: a fuzzed tag reached the page unescaped:\n%s", r.Method, r.URL, body)
		}
	})
}
