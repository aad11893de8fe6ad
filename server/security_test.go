package server_test

// The security pass of issue 6: each point has a test here named after it
// (sign-in, session and CSRF basics also live in auth_test.go and
// console_test.go; the README's security table names them all). Routes
// are read from the console's own registration (server.ConsoleRoutes), so
// a route added later is covered without editing a list.

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/gladly"
	"github.com/rechargekit/rechargekit/recharge/rechargetest"
	"github.com/rechargekit/rechargekit/server"
)

// strictCSP is the Content-Security-Policy of every answer when framing is
// not configured.
const strictCSP = "default-src 'self'; img-src 'self' data:; script-src 'self'; style-src 'self'; " +
	"frame-ancestors 'none'; form-action 'self'; base-uri 'none'"

// checkSecurityHeaders fails unless h carries the headers every answer
// must carry, with framing refused.
func checkSecurityHeaders(tb testing.TB, what string, h http.Header) {
	tb.Helper()
	csp := h.Get("Content-Security-Policy")
	if csp != strictCSP {
		tb.Errorf("%s: Content-Security-Policy = %q, want %q", what, csp, strictCSP)
	}
	for _, bad := range []string{"unsafe-inline", "unsafe-eval", "unsafe-hashes", "*;"} {
		if strings.Contains(csp, bad) {
			tb.Errorf("%s: the CSP allows %s", what, bad)
		}
	}
	for name, want := range map[string]string{
		"X-Frame-Options":        "DENY",
		"X-Content-Type-Options": "nosniff",
		"Referrer-Policy":        "same-origin",
	} {
		if got := h.Get(name); got != want {
			tb.Errorf("%s: %s = %q, want %q", what, name, got, want)
		}
	}
}

// TestSecurityHeadersOnEveryAnswer: every kind of answer the service gives
// (console page, redirect, static file, error pages, JSON API, Lookup
// Adaptor, webhooks, metrics, health, and the mux's own 404 and 405 when
// there is no console) carries the CSP without inline script, X-Frame-Options,
// nosniff and Referrer-Policy.
func TestSecurityHeadersOnEveryAnswer(t *testing.T) {
	t.Parallel()
	lookup := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"results":[]}`)
	})
	webhooks := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "bad signature", http.StatusUnauthorized)
	})
	metrics := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "rechargekit_up 1\n") })
	e := MustEnv(t, envOptions{Config: func(c *server.Config) {
		c.Gladly, c.Webhooks, c.MetricsHandler, c.MetricsToken = lookup, webhooks, metrics, "scrape-token"
	}})
	broken := MustEnv(t, envOptions{Profiles: failingProfiles{err: errors.New("boom")}})
	bare := httptest.NewServer(server.New(server.Config{Logger: discardLogger(), Gladly: lookup}))
	t.Cleanup(bare.Close)

	anon := e.Browser(t)
	admin := e.Browser(t).MustLogin(adminEmail, adminPassword)
	desk := e.Browser(t)
	desk.Header.Set("Authorization", "Bearer "+MustAPIToken(t, e.Store, "desk"))
	asset := regexp.MustCompile(`/static/app\.js\?v=[0-9a-f]+`).FindString(anon.Get("/login").Body)
	if asset == "" {
		t.Fatal("the sign-in page links no versioned script")
	}
	raw := func(method, url string) page {
		req, err := http.NewRequest(method, url, strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return page{Status: resp.StatusCode, Body: string(b), Resp: resp}
	}
	for _, tc := range []struct {
		kind   string
		get    func() page
		status int
	}{
		{"console page", func() page { return admin.Get("/profiles") }, 200},
		{"sign-in page", func() page { return anon.Get("/login") }, 200},
		{"redirect to sign-in", func() page { return anon.Get("/profiles") }, 303},
		{"static file", func() page { return anon.Get(asset) }, 200},
		{"console 404 page", func() page { return anon.Get("/no-such-page") }, 404},
		{"console 403 page", func() page { return admin.Post("/profiles/"+profSam+"/link", nil) }, 403},
		{"console 500 page", func() page {
			return broken.Browser(t).MustLogin(agentEmail, agentPassword).Get("/profiles/" + profAlex)
		}, 500},
		{"JSON API answer", func() page { return desk.Get("/api/profiles/" + profManual + "/card") }, 200},
		{"JSON API 401", func() page { return anon.Get("/api/profiles/" + profManual + "/card") }, 401},
		{"JSON API 404", func() page { return desk.Get("/api/nothing") }, 404},
		{"Lookup Adaptor answer", func() page { return raw(http.MethodPost, e.Srv.URL+"/gladly/lookup") }, 200},
		{"webhook refusal", func() page { return raw(http.MethodPost, e.Srv.URL+"/webhooks/recharge") }, 401},
		{"metrics", func() page {
			b := e.Browser(t)
			b.Header.Set("Authorization", "Bearer scrape-token")
			return b.Get("/metrics")
		}, 200},
		{"metrics refusal", func() page { return anon.Get("/metrics") }, 401},
		{"healthz", func() page { return anon.Get("/healthz") }, 200},
		{"readyz", func() page { return anon.Get("/readyz") }, 200},
		{"mux 404 without a console", func() page { return raw(http.MethodGet, bare.URL+"/login") }, 404},
		{"mux 405 without a console", func() page { return raw(http.MethodPost, bare.URL+"/healthz") }, 405},
		{"Lookup Adaptor without a console", func() page { return raw(http.MethodPost, bare.URL+"/gladly/lookup") }, 200},
	} {
		p := tc.get()
		if p.Status != tc.status {
			t.Errorf("%s: status %d, want %d", tc.kind, p.Status, tc.status)
		}
		checkSecurityHeaders(t, tc.kind, p.Resp.Header)
		if v := p.Resp.Header.Get("Strict-Transport-Security"); v != "" {
			t.Errorf("%s: Strict-Transport-Security %q over plain HTTP", tc.kind, v)
		}
	}
	// Over HTTPS (here: behind a TLS-terminating proxy), browsers are told
	// to come back over HTTPS only.
	tls := e.Browser(t)
	tls.Header.Set("X-Forwarded-Proto", "https")
	for _, path := range []string{"/login", "/healthz", asset} {
		if v := tls.Get(path).Resp.Header.Get("Strict-Transport-Security"); v != "max-age=31536000" {
			t.Errorf("%s over HTTPS: Strict-Transport-Security %q, want max-age=31536000", path, v)
		}
	}
}

// TestFrameAncestorsConfigurable: Config.FrameAncestors sets the CSP's
// frame-ancestors, X-Frame-Options agrees with it (DENY, SAMEORIGIN, or
// absent when another site may frame the console), a value that could
// smuggle in another directive is refused (no framing, and an error in the
// log), and a console framed by another site gets SameSite=None, Secure,
// Partitioned cookies, without which a browser would not sign it in.
func TestFrameAncestorsConfigurable(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, config, ancestors, xfo string
		crossSite, refused           bool
	}{
		{name: "default", config: "", ancestors: "'none'", xfo: "DENY"},
		{name: "none", config: "'none'", ancestors: "'none'", xfo: "DENY"},
		{name: "self", config: "'self'", ancestors: "'self'", xfo: "SAMEORIGIN"},
		{name: "a desk", config: "https://desk.example.com", ancestors: "https://desk.example.com", crossSite: true},
		{name: "self and desks", config: " 'self'   https://*.gladly.com https://desk.example.com:8443 ",
			ancestors: "'self' https://*.gladly.com https://desk.example.com:8443", crossSite: true},
		{name: "another directive smuggled in", config: "https://desk.example.com; script-src 'unsafe-inline'",
			ancestors: "'none'", xfo: "DENY", refused: true},
		{name: "a comma", config: "https://a.example, https://b.example", ancestors: "'none'", xfo: "DENY", refused: true},
		{name: "none with others", config: "'none' https://desk.example.com", ancestors: "'none'", xfo: "DENY", refused: true},
		{name: "a header break", config: "https://desk.example.com\r\nSet-Cookie: x=1", ancestors: "'none'", xfo: "DENY", refused: true},
		{name: "unsafe keyword", config: "'unsafe-inline'", ancestors: "'none'", xfo: "DENY", refused: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := MustEnv(t, envOptions{Config: func(c *server.Config) { c.FrameAncestors = tc.config }})
			b := e.Browser(t)
			p := b.Get("/login")
			h := p.Resp.Header
			want := strings.Replace(strictCSP, "frame-ancestors 'none'", "frame-ancestors "+tc.ancestors, 1)
			if got := h.Get("Content-Security-Policy"); got != want {
				t.Errorf("CSP = %q, want %q", got, want)
			}
			if got := h.Get("X-Frame-Options"); got != tc.xfo {
				t.Errorf("X-Frame-Options = %q, want %q", got, tc.xfo)
			}
			if logged := strings.Contains(e.Logs.String(), "ignoring the configured frame-ancestors"); logged != tc.refused {
				t.Errorf("refusal logged = %v, want %v:\n%s", logged, tc.refused, e.Logs)
			}
			// Sign in by hand (a cookie jar would not send Secure cookies
			// over plain http) and look at the cookies as set.
			login := setCookie(p, "rechargekit_login")
			if login == nil {
				t.Fatal("no login cookie")
			}
			b.Header.Set("Cookie", login.Name+"="+login.Value)
			signed := b.Post("/login", url.Values{"email": {agentEmail}, "password": {agentPassword}, "csrf": {CSRF(t, p.Body)}})
			sess := setCookie(signed, sessionCookie)
			if signed.Status != http.StatusSeeOther || sess == nil {
				t.Fatalf("sign-in = %d, session cookie %v", signed.Status, sess)
			}
			for _, ck := range []*http.Cookie{login, sess} {
				if !ck.HttpOnly || ck.Path != "/" {
					t.Errorf("%s: %+v, want HttpOnly on /", ck.Name, ck)
				}
				if tc.crossSite {
					if ck.SameSite != http.SameSiteNoneMode || !ck.Secure || !ck.Partitioned {
						t.Errorf("%s in a cross-site frame: %+v, want SameSite=None, Secure, Partitioned", ck.Name, ck)
					}
				} else if ck.SameSite != http.SameSiteLaxMode || ck.Secure || ck.Partitioned {
					t.Errorf("%s: %+v, want SameSite=Lax, not Secure over http, not Partitioned", ck.Name, ck)
				}
			}
		})
	}
}

// TestSessionCookieSecureWhenConfigured: with Config.SecureCookies the
// session cookie is Secure even on a plain-http hop (TLS ends at a proxy
// that does not say so), besides HttpOnly and SameSite=Lax, and it lasts
// no longer than the session.
func TestSessionCookieSecureWhenConfigured(t *testing.T) {
	t.Parallel()
	e := MustEnv(t, envOptions{Config: func(c *server.Config) { c.SecureCookies, c.SessionTTL = true, 2*time.Hour }})
	b := e.Browser(t)
	p := b.Get("/login")
	login := setCookie(p, "rechargekit_login")
	b.Header.Set("Cookie", login.Name+"="+login.Value)
	signed := b.Post("/login", url.Values{"email": {agentEmail}, "password": {agentPassword}, "csrf": {CSRF(t, p.Body)}})
	for _, ck := range []*http.Cookie{login, setCookie(signed, sessionCookie)} {
		if ck == nil || !ck.Secure || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode {
			t.Errorf("cookie %+v, want Secure, HttpOnly, SameSite=Lax", ck)
		}
	}
	if ck := setCookie(signed, sessionCookie); ck != nil && (ck.MaxAge <= 0 || ck.MaxAge > int((2*time.Hour).Seconds())) {
		t.Errorf("session cookie Max-Age %d, want at most the 2h session", ck.MaxAge)
	}
}

// htmlElement is one element of a parsed page.
type htmlElement struct {
	Tag   string
	Attrs map[string]string
}

// parsePage reads a page the lenient way encoding/xml reads HTML and
// returns its elements and its text, failing on what a browser would also
// choke on.
func parsePage(tb testing.TB, what, body string) (elems []htmlElement, texts []string) {
	tb.Helper()
	d := xml.NewDecoder(strings.NewReader(body))
	d.Strict = false
	d.AutoClose = xml.HTMLAutoClose
	d.Entity = xml.HTMLEntity
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return elems, texts
		}
		if err != nil {
			tb.Fatalf("%s: the page does not parse: %v", what, err)
			return elems, texts
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			el := htmlElement{Tag: strings.ToLower(tok.Name.Local), Attrs: map[string]string{}}
			for _, a := range tok.Attr {
				name := strings.ToLower(a.Name.Local)
				if a.Name.Space != "" {
					name = strings.ToLower(a.Name.Space) + ":" + name
				}
				el.Attrs[name] = a.Value
			}
			elems = append(elems, el)
		case xml.CharData:
			if s := strings.TrimSpace(string(tok)); s != "" {
				texts = append(texts, s)
			}
		}
	}
}

// urlAttrs are the attributes a browser follows or loads.
var urlAttrs = []string{"href", "src", "action", "formaction", "poster", "background", "cite", "data", "srcset", "xlink:href", "ping", "manifest"}

// checkInertPage fails when a page holds anything that could run or load
// script, or text a person could be fooled by: an element that runs or
// embeds content (script other than the console's own file, style, frames,
// objects, SVG, base, meta refresh), an event-handler or style attribute,
// a javascript:, data: or vbscript: URL, an image from anywhere but the
// web or the console, control or bidirectional-override characters, or a
// text over the console's display limit.
func checkInertPage(tb testing.TB, what, body string) {
	tb.Helper()
	elems, texts := parsePage(tb, what, body)
	scripts := 0
	for _, el := range elems {
		switch el.Tag {
		case "script":
			scripts++
			if src := el.Attrs["src"]; !strings.HasPrefix(src, "/static/") || len(el.Attrs) > 2 {
				tb.Errorf("%s: a script other than the console's own file: %v", what, el.Attrs)
			}
		case "style", "iframe", "frame", "frameset", "object", "embed", "applet", "svg", "math", "base", "template", "portal", "textarea":
			tb.Errorf("%s: a <%s> element %v", what, el.Tag, el.Attrs)
		case "meta":
			if _, ok := el.Attrs["http-equiv"]; ok {
				tb.Errorf("%s: a meta http-equiv %v", what, el.Attrs)
			}
		case "img":
			// Product images come through the console's image proxy only:
			// never a URL from Recharge's data, which the browser would fetch.
			if src := el.Attrs["src"]; !strings.HasPrefix(src, "/img?u=") && !strings.HasPrefix(src, "/static/") {
				tb.Errorf("%s: an image from %q", what, src)
			}
		}
		for name, v := range el.Attrs {
			if strings.HasPrefix(name, "on") || name == "style" || name == "srcdoc" {
				tb.Errorf("%s: <%s %s=%q>", what, el.Tag, name, v)
			}
			if slices.Contains(urlAttrs, name) {
				u := strings.ToLower(strings.Map(func(r rune) rune {
					if unicode.IsSpace(r) || unicode.IsControl(r) {
						return -1 // browsers ignore these inside a scheme
					}
					return r
				}, v))
				for _, scheme := range []string{"javascript:", "data:", "vbscript:"} {
					if strings.HasPrefix(u, scheme) {
						tb.Errorf("%s: <%s %s=%q>", what, el.Tag, name, v)
					}
				}
			}
			checkShownText(tb, what, "attribute "+name, v)
		}
	}
	if scripts > 1 {
		tb.Errorf("%s: %d script elements, want the console's one", what, scripts)
	}
	for _, s := range texts {
		checkShownText(tb, what, "text", s)
	}
}

// checkShownText fails on text a page must not show: control characters
// (other than the layout's own whitespace), bidirectional overrides, and
// more than the display limit (1,000 characters and an ellipsis).
func checkShownText(tb testing.TB, what, where, s string) {
	tb.Helper()
	if i := strings.IndexFunc(s, func(r rune) bool {
		return (unicode.IsControl(r) && r != '\n' && r != '\t' && r != '\r') ||
			(r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069) || r == 0x200E || r == 0x200F || r == 0x061C
	}); i >= 0 {
		tb.Errorf("%s: %s holds the control character %U", what, where, []rune(s[i:])[0])
	}
	if n := utf8.RuneCountInString(s); n > 1001 {
		tb.Errorf("%s: %s is %d characters long, over the display limit", what, where, n)
	}
}

// routeRequest turns a registered pattern into a request against the demo
// env: each wildcard gets an id whose change would show (a linkable
// profile for link, a linked one for unlink, the agent for user deletion,
// a live token for revocation). A route without a method is tried with
// POST. It fails the test for a wildcard it does not know, so that a new
// route gets a value here rather than being skipped.
func routeRequest(tb testing.TB, e *env, pattern string, tokenID int64) (method, path string) {
	tb.Helper()
	method, path, ok := strings.Cut(pattern, " ")
	if !ok {
		method, path = http.MethodPost, pattern
	}
	path = strings.TrimSuffix(path, "{$}")
	profile := profManual
	if strings.HasSuffix(path, "/link") && method == http.MethodPost {
		profile = profSam
	}
	path = strings.NewReplacer(
		"{id}", profile,
		"{uid}", strconv.FormatInt(e.AgentID, 10),
		"{tid}", strconv.FormatInt(tokenID, 10),
		"{sub}", "585062093",
		"{action}", rechargekit.ActionSkip,
	).Replace(path)
	if strings.ContainsAny(path, "{}") {
		tb.Fatalf("route %q has a wildcard this test does not know: give it a value in routeRequest", pattern)
	}
	if strings.HasSuffix(path, "/") && path != "/" && !strings.HasPrefix(path, "/admin/") && !strings.HasPrefix(path, "/static/") {
		path += "nothing-here" // a subtree pattern such as /api/
	}
	return method, path
}

// stateChangingForm is a form that would change something on any console
// route that accepts it with a valid CSRF token.
func stateChangingForm() url.Values {
	return url.Values{
		"customer_id":   {strconv.FormatInt(rechargetest.DemoSamTaylorID, 10)},
		"email":         {"new-user@example.com"},
		"role":          {rechargekit.RoleAdmin},
		"name":          {"new-token"},
		"has_auto_link": {"1"}, // and no auto_link: switches auto-linking off
		"password":      {adminPassword},
	}
}

// mustState describes everything a console request could change: links,
// settings, users, API tokens and the audit trail.
func mustState(tb testing.TB, e *env) string {
	tb.Helper()
	ctx := context.Background()
	var b strings.Builder
	profiles, err := e.Store.SearchProfiles(ctx, "", 1000)
	if err != nil {
		tb.Fatal(err)
	}
	for _, p := range profiles {
		l, err := e.Store.Link(ctx, p.ID)
		switch rechargekit.ErrorCode(err) {
		case "":
			fmt.Fprintf(&b, "link %s -> %d %s\n", p.ID, l.CustomerID, l.Method)
		case rechargekit.ENOTFOUND:
			fmt.Fprintf(&b, "unlinked %s\n", p.ID)
		default:
			tb.Fatal(err)
		}
	}
	s, err := e.Store.Settings(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	fmt.Fprintf(&b, "settings %+v\n", *s)
	users, err := e.Store.Users(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	for _, u := range users {
		fmt.Fprintf(&b, "user %d %s %s\n", u.ID, u.Email, u.Role)
	}
	toks, err := e.Store.APITokens(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	for _, tok := range toks {
		fmt.Fprintf(&b, "token %d %s\n", tok.ID, tok.Name)
	}
	audit, err := e.Store.Audit(ctx, rechargekit.AuditFilter{Limit: 1000})
	if err != nil {
		tb.Fatal(err)
	}
	fmt.Fprintf(&b, "audit entries %d\n", len(audit))
	return b.String()
}

// mustTokenID creates an API token and returns its id.
func mustTokenID(tb testing.TB, e *env, name string) int64 {
	tb.Helper()
	MustAPIToken(tb, e.Store, name)
	toks, err := e.Store.APITokens(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	for _, tok := range toks {
		if tok.Name == name {
			return tok.ID
		}
	}
	tb.Fatalf("token %s not stored", name)
	return 0
}

// TestCSRFOnEveryStateChangingRoute: every console route that accepts a
// state-changing method, read from the registration, refuses a request
// without the session's CSRF token, with a wrong one, with another
// session's, and with the right one from another site: 403 (404 for the
// catch-all, which changes nothing either), and the store is unchanged.
// The sign-in form has its own token. The JSON API ignores cookies, so a
// browser cannot be made to call it. A control run with the right token
// shows each refusal was the token's doing.
func TestCSRFOnEveryStateChangingRoute(t *testing.T) {
	t.Parallel()
	e := MustEnv(t)
	tokenID := mustTokenID(t, e, "desk")
	admin := e.Browser(t).MustLogin(adminEmail, adminPassword)
	good := CSRF(t, admin.Get("/profiles").Body)
	otherSession := CSRF(t, e.Browser(t).MustLogin(agentEmail, agentPassword).Get("/profiles").Body)
	before := mustState(t, e)

	var console, api []string
	for _, pattern := range server.ConsoleRoutes() {
		method, path := routeRequest(t, e, pattern, tokenID)
		if method == http.MethodGet || method == http.MethodHead {
			continue
		}
		if strings.HasPrefix(path, "/api/") {
			api = append(api, pattern)
		} else {
			console = append(console, pattern)
		}
	}
	if len(console) < 8 || len(api) < 3 {
		t.Fatalf("found %d console and %d API state-changing routes; the registration was not read", len(console), len(api))
	}
	// Sign-out last: if a refusal failed there, it would end the session
	// the other routes are tried with.
	slices.SortStableFunc(console, func(a, b string) int {
		return cmpBool(strings.HasSuffix(a, "/logout"), strings.HasSuffix(b, "/logout"))
	})

	for _, tc := range []struct {
		name, csrf, origin string
	}{
		{"no token", "", ""},
		{"wrong token", "not-the-token", ""},
		{"another session's token", otherSession, ""},
		{"right token from another site", good, "https://evil.example"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, pattern := range console {
				method, path := routeRequest(t, e, pattern, tokenID)
				form := stateChangingForm()
				if tc.csrf != "" {
					form.Set("csrf", tc.csrf)
				}
				b := admin
				if path == "/login" {
					b = e.Browser(t) // a fresh browser with no login cookie
					b.Get("/login")
				}
				b.Header.Del("Origin")
				if tc.origin != "" {
					b.Header.Set("Origin", tc.origin)
				}
				p := b.do(method, path, strings.NewReader(form.Encode()), "application/x-www-form-urlencoded")
				b.Header.Del("Origin")
				want, why := http.StatusForbidden, "This form had expired or did not come from this site."
				switch {
				case !strings.Contains(pattern, " "):
					want, why = http.StatusNotFound, "There is nothing at this address." // the catch-all page
				case path == "/login":
					why = "The sign-in form had expired."
				}
				if p.Status != want || !strings.Contains(p.Body, why) {
					t.Errorf("%s %s (%s) = %d, want %d %q", method, path, pattern, p.Status, want, why)
				}
				if setCookie(p, sessionCookie) != nil && p.Status != http.StatusSeeOther {
					t.Errorf("%s %s set a session cookie", method, path)
				}
			}
			if after := mustState(t, e); after != before {
				t.Errorf("refused requests changed the store:\nbefore:\n%s\nafter:\n%s", before, after)
			}
			if p := admin.Get("/profiles"); p.Status != http.StatusOK {
				t.Errorf("the admin's session ended: %d", p.Status)
			}
		})
	}

	t.Run("API ignores cookies", func(t *testing.T) {
		for _, pattern := range api {
			method, path := routeRequest(t, e, pattern, tokenID)
			p := admin.do(method, path, strings.NewReader(`{"rechargeCustomerId":"183940001","name":"x"}`), "application/json")
			if p.Status != http.StatusUnauthorized && p.Status != http.StatusNotFound {
				t.Errorf("%s %s with the admin's session cookie and no bearer token = %d, want 401", method, path, p.Status)
			}
		}
		if after := mustState(t, e); after != before {
			t.Errorf("cookie-only API calls changed the store:\n%s", after)
		}
	})

	t.Run("control: the right token passes", func(t *testing.T) {
		for _, pattern := range console {
			method, path := routeRequest(t, e, pattern, tokenID)
			if !strings.Contains(pattern, " ") {
				continue
			}
			form := stateChangingForm()
			b := admin
			if path == "/login" {
				b = e.Browser(t)
				form.Set("email", adminEmail)
				form.Set("csrf", CSRF(t, b.Get("/login").Body))
			} else {
				form.Set("csrf", CSRF(t, admin.Get("/profiles").Body))
			}
			if p := b.do(method, path, strings.NewReader(form.Encode()), "application/x-www-form-urlencoded"); p.Status == http.StatusForbidden {
				t.Errorf("%s %s with the right token = 403:\n%s", method, path, p.Body)
			}
		}
		if mustState(t, e) == before {
			t.Error("the control run changed nothing: the form does not exercise the routes")
		}
	})
}

// errorRecorder is a testing.TB that records the failures of a checker
// under test.
type errorRecorder struct {
	testing.TB
	errors []string
}

func (r *errorRecorder) Helper() {}
func (r *errorRecorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}
func (r *errorRecorder) Fatalf(format string, args ...any) { r.Errorf(format, args...) }

// TestCheckInertPageCatchesInjection: the page checker the hostile-data
// and template tests rely on finds each kind of live markup.
func TestCheckInertPageCatchesInjection(t *testing.T) {
	t.Parallel()
	const head = `<!doctype html><html><head><script src="/static/app.js?v=1" defer></script></head><body>`
	if r := (&errorRecorder{TB: t}); true {
		checkInertPage(r, "clean", head+`<p>&lt;script&gt;alert(1)&lt;/script&gt;</p><img src="/img?u=https%3A%2F%2Fcdn.example.com%2Fa.png&amp;s=sig" alt=""><a href="/profiles">x</a></body></html>`)
		if len(r.errors) != 0 {
			t.Errorf("a clean page fails: %q", r.errors)
		}
	}
	for name, body := range map[string]string{
		"inline script":       `<p>hi</p><script>alert(1)</script>`,
		"foreign script":      `<script src="https://evil.example/x.js"></script>`,
		"event handler":       `<img src="https://cdn.example.com/a.png" onerror="alert(2)">`,
		"javascript link":     `<a href=" JaVaScRiPt:alert(1)">x</a>`,
		"data image":          `<img src="data:image/svg+xml,x">`,
		"relative image":      `<img src="//evil.example/x.png">`,
		"image from the web":  `<img src="https://cdn.example.com/a.png">`,
		"svg":                 `<svg onload="alert(3)"></svg>`,
		"style attribute":     `<p style="background:url(x)">x</p>`,
		"iframe":              `<iframe src="/profiles"></iframe>`,
		"control character":   "<p>a[31mb</p>",
		"bidi override":       "<p>a‮b</p>",
		"overlong text":       "<p>" + strings.Repeat("A", 1002) + "</p>",
		"overlong attribute":  `<p title="` + strings.Repeat("A", 1002) + `">x</p>`,
		"meta refresh":        `<meta http-equiv="refresh" content="0;url=https://evil.example">`,
		"form to javascript:": `<form action="javascript:alert(1)"></form>`,
	} {
		r := &errorRecorder{TB: t}
		checkInertPage(r, name, head+body+`</body></html>`)
		if len(r.errors) == 0 {
			t.Errorf("%s: not caught", name)
		}
	}
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// TestAgentCannotCallAdminRoutes: every /admin/ route, read from the
// registration, answers an agent 403 "Admins only" for GET and for a POST
// with a valid CSRF token, and changes nothing. The JSON API has no admin
// routes at all: its routes are exactly the desk's four and the three of
// the actions (whose policy checks the token's role), and a session
// cookie (an agent's or an admin's) opens none of them.
func TestAgentCannotCallAdminRoutes(t *testing.T) {
	t.Parallel()
	e := MustEnv(t)
	tokenID := mustTokenID(t, e, "desk")
	agent := e.Browser(t).MustLogin(agentEmail, agentPassword)
	csrf := CSRF(t, agent.Get("/profiles").Body)
	before := mustState(t, e)

	var adminRoutes, apiRoutes []string
	for _, pattern := range server.ConsoleRoutes() {
		_, path, _ := strings.Cut(pattern, " ")
		switch {
		case strings.HasPrefix(path, "/admin/"):
			adminRoutes = append(adminRoutes, pattern)
		case strings.HasPrefix(path, "/api/") || strings.HasPrefix(pattern, "/api/"):
			apiRoutes = append(apiRoutes, pattern)
		}
	}
	if len(adminRoutes) < 9 {
		t.Fatalf("found %d admin routes: %v", len(adminRoutes), adminRoutes)
	}
	for _, pattern := range adminRoutes {
		method, path := routeRequest(t, e, pattern, tokenID)
		form := stateChangingForm()
		form.Set("csrf", csrf)
		p := agent.do(method, path, strings.NewReader(form.Encode()), "application/x-www-form-urlencoded")
		if p.Status != http.StatusForbidden || !strings.Contains(p.Body, "Admins only") {
			t.Errorf("agent %s %s = %d, want 403 Admins only", method, path, p.Status)
		}
	}
	if after := mustState(t, e); after != before {
		t.Errorf("an agent changed the store:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	// The agent's own pages still work: the refusals above are about role.
	if p := agent.Get("/profiles/" + profManual); p.Status != http.StatusOK {
		t.Errorf("agent profile page = %d", p.Status)
	}

	wantAPI := []string{
		"PUT /api/profiles/{id}",
		"GET /api/profiles/{id}/card",
		"POST /api/profiles/{id}/link",
		"DELETE /api/profiles/{id}/link",
		"GET /api/profiles/{id}/actions",
		"POST /api/profiles/{id}/actions/preview",
		"POST /api/profiles/{id}/actions",
		"GET /api/search", // a read, like a card: every token's role may search
		"/api/",
	}
	if !slices.Equal(apiRoutes, wantAPI) {
		t.Errorf("API routes = %q, want %q: a new API route must decide who may call it (an API token's role, agent by default, is checked by the action policy) and be added here", apiRoutes, wantAPI)
	}
	for _, pattern := range apiRoutes {
		method, path := routeRequest(t, e, pattern, tokenID)
		if p := agent.do(method, path, strings.NewReader(`{}`), "application/json"); p.Status != http.StatusUnauthorized && p.Status != http.StatusNotFound {
			t.Errorf("agent %s %s with a session cookie = %d, want 401", method, path, p.Status)
		}
	}
}

// TestSecretsStoredHashed: an API token and a user's password made through
// the admin pages, and a session token, appear nowhere in the database
// files; the token is stored as its SHA-256, which does not work as a
// token; the password as argon2id at OWASP's parameters (19 MiB, t=2, p=1)
// with a 16-byte salt and a 32-byte key.
func TestSecretsStoredHashed(t *testing.T) {
	t.Parallel()
	e := MustEnv(t)
	admin := e.Browser(t).MustLogin(adminEmail, adminPassword)

	p := admin.PostWithCSRF("/admin/tokens", "/admin/tokens", url.Values{"name": {"helpdesk"}})
	token := regexp.MustCompile(`rk_[A-Za-z0-9_-]{43}`).FindString(p.Body)
	if p.Status != http.StatusOK || token == "" {
		t.Fatalf("create token = %d, no token shown:\n%s", p.Status, p.Body)
	}
	p = admin.PostWithCSRF("/admin/users", "/admin/users", url.Values{"email": {"new-agent@example.com"}, "role": {"agent"}})
	m := regexp.MustCompile(`<code id="new-password">([^<]+)</code>`).FindStringSubmatch(p.Body)
	if p.Status != http.StatusOK || m == nil {
		t.Fatalf("create user = %d, no password shown:\n%s", p.Status, p.Body)
	}
	password := m[1]
	newAgent := e.Browser(t).MustLogin("new-agent@example.com", password)
	session := newAgent.Cookie(sessionCookie).Value

	ctx := context.Background()
	toks, err := e.Store.APITokens(ctx)
	if err != nil || len(toks) != 1 {
		t.Fatalf("tokens = %v, %v", toks, err)
	}
	if toks[0].Hash != server.HashAPIToken(token) || strings.Contains(toks[0].Hash, token) {
		t.Errorf("stored token hash %q is not the SHA-256 of the token", toks[0].Hash)
	}
	u, err := e.Store.UserByEmail(ctx, "new-agent@example.com")
	if err != nil {
		t.Fatal(err)
	}
	argon := regexp.MustCompile(`^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$([A-Za-z0-9+/]{22})\$([A-Za-z0-9+/]{43})$`)
	pm := argon.FindStringSubmatch(u.PasswordHash)
	if pm == nil {
		t.Fatalf("stored password hash %q is not argon2id with a 16-byte salt and a 32-byte key", u.PasswordHash)
	}
	if mem, _ := strconv.Atoi(pm[1]); mem < 19456 {
		t.Errorf("argon2id memory %d KiB, below OWASP's 19 MiB", mem)
	}
	if tm, _ := strconv.Atoi(pm[2]); tm < 2 {
		t.Errorf("argon2id time %d, below OWASP's 2", tm)
	}
	if !server.CheckPassword(u.PasswordHash, password) || server.CheckPassword(u.PasswordHash, password+"x") {
		t.Error("the stored hash does not check the password")
	}

	// The raw database files (and the write-ahead log) hold none of them.
	files, _ := filepath.Glob(e.DBPath + "*")
	if len(files) == 0 {
		t.Fatalf("no database files at %s", e.DBPath)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
		for name, secret := range map[string]string{"API token": token, "password": password, "session token": session} {
			if bytes.Contains(data, []byte(secret)) {
				t.Errorf("%s holds the %s in clear", filepath.Base(f), name)
			}
		}
	}

	// What a database thief gets does not work as credentials.
	thief := apiClient{t: t, base: e.Srv.URL, token: toks[0].Hash}
	if code, _ := thief.do(http.MethodGet, "/api/profiles/"+profManual+"/card", ""); code != http.StatusUnauthorized {
		t.Errorf("the stored token hash used as a token = %d, want 401", code)
	}
	if code, _ := (apiClient{t: t, base: e.Srv.URL, token: token}).do(http.MethodGet, "/api/profiles/"+profManual+"/card", ""); code != http.StatusOK {
		t.Errorf("the token itself = %d, want 200", code)
	}
	if e.Browser(t).Login("new-agent@example.com", u.PasswordHash).Status != http.StatusUnauthorized {
		t.Error("the stored password hash signs in as a password")
	}
}

// Hostile Recharge data: markup, javascript: and data: URLs, control and
// bidirectional characters, and 100 KB strings.
const (
	xssScript   = `<script>alert(1)</script>`
	xssAttr     = `"><img src=x onerror=alert(2)>`
	xssSVG      = `</textarea><svg onload=alert(3)>`
	controlRuns = "\x00\x07\x1b[31m\u202e\u2066"
)

// hostileProfileName is the desk profile's name.
const hostileProfileName = "Mallory " + xssScript + " \u202e" + xssAttr

var (
	hugeWord  = strings.Repeat("A", 100<<10)                     // 100 KB without a break
	hugeWords = strings.Repeat("lorem ipsum dolor ", 100<<10/18) // 100 KB of words
)

// hostileImages are the image URLs of the hostile customer's subscriptions,
// in order; only the last one may be shown.
var hostileImages = []string{
	"javascript:alert(1)",
	"JaVaScRiPt:alert(1)",
	"data:image/svg+xml,<svg onload=alert(1)>",
	"//evil.example/x.png",
	" javascript:alert(1)",
	"https://cdn.example.com/fine.png",
}

// MustHostileCustomer adds a Recharge customer whose every text is hostile
// and a desk profile "hostile" with its email, and returns the customer as
// Recharge sends it.
func MustHostileCustomer(tb testing.TB, e *env) rechargetest.SeedCustomer {
	tb.Helper()
	c := rechargetest.SeedCustomer{
		FirstName:  xssScript + controlRuns,
		LastName:   xssAttr + " " + hugeWord,
		Email:      "hostile@example.com",
		Phone:      "+1 555\u202e0100\x07",
		ExternalID: "ext-" + xssScript,
	}
	for i, img := range hostileImages {
		s := rechargetest.SeedSubscription{
			ProductID: strconv.Itoa(100 + i), ProductTitle: fmt.Sprintf("Product %d %s", i, xssAttr),
			VariantTitle: xssSVG, SKU: "SKU" + controlRuns + xssScript, Price: "9.00",
			Image: img, Interval: 1, Unit: "month", PastCharges: 1,
		}
		switch i {
		case 0:
			s.ProductTitle += " " + hugeWords
		case 1:
			s.Status = "cancelled"
			s.CancellationReason = xssScript + controlRuns + " " + hugeWord
			s.CancellationComments = "javascript:alert(1) " + xssAttr
		}
		c.Subscriptions = append(c.Subscriptions, s)
	}
	c.ID = e.Sim.AddCustomer(c)
	if _, err := e.Store.UpsertProfile(context.Background(), &rechargekit.Profile{
		// Desk profiles are checked where they enter (no control
		// characters, at most 1,000 bytes); markup and a bidi override pass.
		ID: "hostile", Name: hostileProfileName,
		Emails: []string{"hostile@example.com"}}); err != nil {
		tb.Fatal(err)
	}
	return c
}

// cardJSON is the part of a Card's JSON (API and Gladly DETAILED alike)
// this test reads.
type cardJSON struct {
	Name         string `json:"name"`
	Transactions []struct {
		Status             string  `json:"status"`
		CancellationReason *string `json:"cancellationReason"`
		Comments           *string `json:"cancellationReasonComments"`
		Products           []struct {
			Name        *string `json:"name"`
			VariantName *string `json:"variantName"`
			SKU         *string `json:"sku"`
			ImageURL    *string `json:"imageUrl"`
		} `json:"products"`
	} `json:"transactions"`
}

// checkPlainData fails unless a JSON answer carries the hostile texts as
// Recharge sent them, escaped so that no raw markup appears in the bytes,
// and no image URL but the web one.
func checkPlainData(tb testing.TB, what string, raw []byte, c rechargetest.SeedCustomer, got cardJSON) {
	tb.Helper()
	if bytes.ContainsAny(raw, "<>") {
		tb.Errorf("%s: raw < or > in the JSON bytes", what)
	}
	if want := c.FirstName + " " + c.LastName; got.Name != want {
		tb.Errorf("%s: name is %d bytes, not what Recharge sent (%d bytes)", what, len(got.Name), len(want))
	}
	if len(got.Transactions) != len(c.Subscriptions) {
		tb.Fatalf("%s: %d transactions, want %d", what, len(got.Transactions), len(c.Subscriptions))
	}
	for _, tr := range got.Transactions {
		p := tr.Products[0]
		if p.Name == nil {
			tb.Errorf("%s: a product without its name", what)
			continue
		}
		i, err := strconv.Atoi(strings.Fields(strings.TrimPrefix(*p.Name, "Product "))[0])
		if err != nil || i >= len(c.Subscriptions) {
			tb.Fatalf("%s: unknown product %.40q", what, *p.Name)
		}
		s := c.Subscriptions[i]
		if *p.Name != s.ProductTitle || p.VariantName == nil || *p.VariantName != s.VariantTitle || p.SKU == nil || *p.SKU != s.SKU {
			tb.Errorf("%s: product %d texts differ from what Recharge sent", what, i)
		}
		if s.Status == "cancelled" && (tr.CancellationReason == nil || *tr.CancellationReason != s.CancellationReason ||
			tr.Comments == nil || *tr.Comments != s.CancellationComments) {
			tb.Errorf("%s: the cancellation reason or comments differ from what Recharge sent", what)
		}
		switch img := hostileImages[i]; {
		case strings.HasPrefix(img, "https://"):
			if p.ImageURL == nil || !strings.HasPrefix(*p.ImageURL, "https://cdn.example.com/") {
				tb.Errorf("%s: the web image %q was dropped: %v", what, img, p.ImageURL)
			}
		case p.ImageURL != nil:
			tb.Errorf("%s: the image URL %q came through as %q", what, img, *p.ImageURL)
		}
	}
}

// TestHostileRechargeDataInert: a customer whose name, product titles,
// variant names, SKUs, cancellation reason and comments carry markup,
// control and bidirectional characters and 100 KB strings, and whose
// images are javascript:, data: and protocol-relative URLs, renders inert
// in the console (parsed: no element or attribute from the data, no
// script URL, every image from the web, every text cleaned and cut to the
// display limit), while the JSON API and the Gladly DETAILED answer carry
// every text exactly as Recharge sent it, as JSON strings, with the
// non-web image URLs dropped.
func TestHostileRechargeDataInert(t *testing.T) {
	t.Parallel()
	const key = "hostile-test-signing-key"
	e := MustEnv(t, envOptions{Config: func(c *server.Config) {
		gh, err := gladly.NewHandler(gladly.Config{Service: c.Cards, SigningKey: key, Logger: discardLogger()})
		if err != nil {
			t.Fatal(err)
		}
		c.Gladly = gh
	}})
	c := MustHostileCustomer(t, e)
	agent := e.Browser(t).MustLogin(agentEmail, agentPassword)

	p := agent.Get("/profiles/hostile")
	if p.Status != http.StatusOK || !strings.Contains(p.Body, strconv.FormatInt(c.ID, 10)) {
		t.Fatalf("profile page = %d, not linked to the hostile customer", p.Status)
	}
	checkInertPage(t, "profile page", p.Body)
	elems, texts := parsePage(t, "profile page", p.Body)
	shown := strings.Join(texts, "\n")
	for _, want := range []string{xssScript, xssAttr, "Product 0", "Product 5", "Mallory " + xssScript} {
		if !strings.Contains(shown, want) {
			t.Errorf("the page does not show %q as text", want)
		}
	}
	if !strings.Contains(shown, strings.Repeat("A", 100)+"…") {
		t.Error("no 100 KB text is shown cut with an ellipsis")
	}
	var images []string
	for _, el := range elems {
		if el.Tag == "img" && !strings.HasPrefix(el.Attrs["src"], "/static/") {
			images = append(images, el.Attrs["src"])
		}
	}
	// The one web image may show more than once (on its subscription and
	// on the next shipment's line), always through the image proxy.
	webOnly := len(images) > 0
	for _, src := range images {
		webOnly = webOnly && strings.HasPrefix(src, "/img?u="+url.QueryEscape("https://cdn.example.com/fine_medium.png"))
	}
	if !webOnly {
		t.Errorf("product images shown: %q, want only the web one, through the image proxy", images)
	}
	if len(p.Body) > 200<<10 {
		t.Errorf("the page is %d KB: long texts are not cut", len(p.Body)>>10)
	}
	for _, path := range []string{"/profiles", "/profiles?q=hostile", "/profiles/hostile/unlink"} {
		checkInertPage(t, path, agent.Get(path).Body)
	}

	// The JSON API: the card as Recharge sent it.
	code, raw := apiClient{t: t, base: e.Srv.URL, token: MustAPIToken(t, e.Store, "desk")}.do(http.MethodGet, "/api/profiles/hostile/card", "")
	if code != http.StatusOK {
		t.Fatalf("API card = %d %.300s", code, raw)
	}
	var api struct {
		Profile struct {
			Name string `json:"name"`
		} `json:"profile"`
		Card *struct {
			Customer struct {
				Name string `json:"name"`
			} `json:"customer"`
			Subscriptions json.RawMessage `json:"subscriptions"`
		} `json:"card"`
	}
	if err := json.Unmarshal(raw, &api); err != nil || api.Card == nil {
		t.Fatalf("API card: %v %.300s", err, raw)
	}
	got := cardJSON{Name: api.Card.Customer.Name}
	if err := json.Unmarshal(api.Card.Subscriptions, &got.Transactions); err != nil {
		t.Fatal(err)
	}
	checkPlainData(t, "JSON API", raw, c, got)
	if api.Profile.Name != hostileProfileName {
		t.Errorf("the API profile name is not what the desk sent")
	}

	// The Gladly DETAILED answer.
	body, _ := json.Marshal(map[string]any{
		"lookupLevel": "DETAILED",
		"query":       map[string]any{"externalCustomerId": strconv.FormatInt(c.ID, 10), "id": "hostile", "emails": []string{c.Email}},
	})
	req, err := http.NewRequest(http.MethodPost, e.Srv.URL+"/gladly/lookup", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if err := gladly.Sign(req, body, key, time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ = io.ReadAll(resp.Body)
	var detailed struct {
		Results []cardJSON `json:"results"`
	}
	if err := json.Unmarshal(raw, &detailed); err != nil || resp.StatusCode != http.StatusOK || len(detailed.Results) != 1 {
		t.Fatalf("DETAILED = %d %v %.300s", resp.StatusCode, err, raw)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("DETAILED Content-Type %q", ct)
	}
	checkPlainData(t, "Gladly DETAILED", raw, c, detailed.Results[0])
}

// TestNoInlineScriptOnAnyPage: no template has an inline script, style or
// event handler, and every page the console serves, reached through every
// GET route of the registration (as admin, as agent and signed out) and
// through the forms' answers, parses clean under checkInertPage, so the
// CSP without 'unsafe-inline' breaks nothing.
func TestNoInlineScriptOnAnyPage(t *testing.T) {
	t.Parallel()
	templates, err := filepath.Glob(filepath.Join("templates", "*.html"))
	if err != nil || len(templates) < 9 {
		t.Fatalf("templates: %v %v", templates, err)
	}
	for _, name := range templates {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, tag := range regexp.MustCompile(`(?i)<script[^>]*>`).FindAllString(string(b), -1) {
			if !strings.Contains(tag, `src="{{asset `) {
				t.Errorf("%s: inline script %s", name, tag)
			}
		}
		if m := regexp.MustCompile(`(?i)\sstyle\s*=|<style|\son[a-z]+\s*=|javascript:`).FindString(string(b)); m != "" {
			t.Errorf("%s: %q", name, m)
		}
	}

	e := MustEnv(t)
	tokenID := mustTokenID(t, e, "desk")
	admin := e.Browser(t).MustLogin(adminEmail, adminPassword)
	agent := e.Browser(t).MustLogin(agentEmail, agentPassword)
	anon := e.Browser(t)
	seen := 0
	visit := func(who string, b *browser, path string) {
		t.Helper()
		p := b.Get(path)
		for hops := 0; p.Status == http.StatusSeeOther && hops < 3; hops++ {
			p = b.Get(p.Resp.Header.Get("Location"))
		}
		if !strings.HasPrefix(p.Resp.Header.Get("Content-Type"), "text/html") {
			t.Errorf("%s GET %s: Content-Type %q", who, path, p.Resp.Header.Get("Content-Type"))
			return
		}
		checkInertPage(t, who+" "+path, p.Body)
		seen++
	}
	for _, pattern := range server.ConsoleRoutes() {
		method, path := routeRequest(t, e, pattern, tokenID)
		if method != http.MethodGet || strings.HasPrefix(path, "/static/") || strings.HasPrefix(path, "/api/") || path == "/img" {
			continue
		}
		visit("admin", admin, path)
		visit("agent", agent, path)
		visit("signed out", anon, path)
		if pattern == "GET /profiles/{id}" {
			// The profile page in each of its states, and its search box.
			for _, id := range []string{profAlex, profSam, profNoMatch, profUnlinked, profNoEmail, "no-such-profile"} {
				visit("agent", agent, "/profiles/"+id)
			}
			visit("agent", agent, "/profiles/"+profNoMatch+"?find=sam.taylor@example.com")
			visit("agent", agent, "/profiles/"+profNoMatch+"?find=%00bad&by=email")
		}
	}
	visit("signed out", anon, "/no-such-page")
	// The answers of the admin forms, which show new secrets once.
	for _, form := range []struct {
		path string
		data url.Values
	}{
		{"/admin/users", url.Values{"email": {"x@example.com"}, "role": {"agent"}}},
		{"/admin/users", url.Values{"email": {"not an email"}, "role": {"agent"}}},
		{"/admin/tokens", url.Values{"name": {"desk-2"}}},
		{"/admin/tokens", url.Values{"name": {""}}},
	} {
		p := admin.PostWithCSRF(form.path, form.path, form.data)
		checkInertPage(t, "POST "+form.path, p.Body)
		seen++
	}
	p := anon.Login(agentEmail, "wrong password")
	checkInertPage(t, "failed sign-in", p.Body)
	if seen < 35 {
		t.Errorf("only %d pages checked", seen)
	}
}
