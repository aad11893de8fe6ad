package server_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/recharge/rechargetest"
	"github.com/rechargekit/rechargekit/server"
)

func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	e := MustEnv(t)
	b := e.Browser(t)
	for _, path := range []string{"/login", "/profiles", "/nope"} {
		p := b.Get(path)
		h := p.Resp.Header
		want := "default-src 'self'; img-src 'self' data:; script-src 'self'; style-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
		if got := h.Get("Content-Security-Policy"); got != want {
			t.Errorf("%s: CSP = %q", path, got)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "same-origin" || h.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: headers = %v", path, h)
		}
	}
	if p := b.Get("/nope"); p.Status != http.StatusNotFound {
		t.Errorf("/nope = %d", p.Status)
	}

	framed := MustEnv(t, envOptions{Config: func(c *server.Config) { c.FrameAncestors = "https://desk.example.com" }})
	p := framed.Browser(t).Get("/login")
	if csp := p.Resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors https://desk.example.com;") {
		t.Errorf("CSP with FrameAncestors = %q", csp)
	}
	if p.Resp.Header.Get("X-Frame-Options") != "" {
		t.Error("X-Frame-Options set although framing is allowed")
	}
}

func TestStaticAssets(t *testing.T) {
	t.Parallel()
	e := MustEnv(t)
	b := e.Browser(t)
	login := b.Get("/login")
	for _, tc := range []struct{ file, ctype string }{
		{"app.css", "text/css"},
		{"app.js", "text/javascript"},
		{"favicon.svg", "image/svg+xml"},
	} {
		m := regexp.MustCompile(`/static/` + regexp.QuoteMeta(tc.file) + `\?v=[0-9a-f]+`).FindString(login.Body)
		if m == "" {
			t.Errorf("the page does not link %s with a version", tc.file)
			continue
		}
		p := b.Get(m)
		if p.Status != http.StatusOK || !strings.HasPrefix(p.Resp.Header.Get("Content-Type"), tc.ctype) ||
			!strings.Contains(p.Resp.Header.Get("Cache-Control"), "immutable") {
			t.Errorf("%s = %d %q %q", m, p.Status, p.Resp.Header.Get("Content-Type"), p.Resp.Header.Get("Cache-Control"))
		}
	}
	if p := b.Get("/static/nope.js"); p.Status != http.StatusNotFound {
		t.Errorf("unknown asset = %d", p.Status)
	}
	if p := b.Get("/static/"); p.Status != http.StatusNotFound {
		t.Errorf("asset directory listing = %d", p.Status)
	}
}

func TestNotMountedWithoutStore(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(server.New(server.Config{Logger: discardLogger()}))
	defer srv.Close()
	for _, path := range []string{"/login", "/profiles", "/api/profiles/x/card", "/static/app.css"} {
		if code, _ := get(t, srv.URL+path); code != http.StatusNotFound {
			t.Errorf("%s without a store = %d, want 404", path, code)
		}
	}
	if code, _ := get(t, srv.URL+"/healthz"); code != http.StatusOK {
		t.Errorf("healthz = %d", code)
	}
}

// inlineRE finds what a strict CSP would block: inline scripts, inline
// style attributes or elements, and event handler attributes.
var (
	scriptTagRE = regexp.MustCompile(`<script[^>]*>`)
	inlineRE    = regexp.MustCompile(`(?i)\sstyle\s*=|<style|\son[a-z]+\s*=\s*["']|javascript:`)
)

// checkStrictPage fails when a page would break under the CSP or holds
// something it must not.
func checkStrictPage(tb testing.TB, path, body string) {
	tb.Helper()
	for _, tag := range scriptTagRE.FindAllString(body, -1) {
		if !strings.Contains(tag, `src="/static/`) {
			tb.Errorf("%s: inline or foreign script %s", path, tag)
		}
	}
	if m := inlineRE.FindString(body); m != "" {
		tb.Errorf("%s: %q would be blocked by the CSP or is unsafe", path, m)
	}
}

func TestProfileList(t *testing.T) {
	t.Parallel()
	e := MustEnv(t)
	b := e.Browser(t).MustLogin(agentEmail, agentPassword)
	if p := b.Get("/"); p.Status != http.StatusSeeOther || p.Resp.Header.Get("Location") != "/profiles" {
		t.Errorf("/ = %d %q", p.Status, p.Resp.Header.Get("Location"))
	}
	all := b.Get("/profiles")
	checkStrictPage(t, "/profiles", all.Body)
	mustContain(t, all.Body, "Alex Rivera", "Sam Taylor", "Riley Quinn", "Walk-in Customer",
		"Linked by hand", "Unlinked", "Not linked", `href="/profiles/gladly-alex"`)
	mustNotContain(t, all.Body, "/admin/settings") // no admin navigation for agents

	for _, tc := range []struct {
		name, q string
		want    []string
		notWant []string
	}{
		{"name", "rivera", []string{"Alex Rivera"}, []string{"Sam Taylor"}},
		{"email", "sam.t@example.org", []string{"Sam Taylor"}, []string{"Alex Rivera"}},
		{"phone digits", "555 123 4567", []string{"Alex Rivera"}, []string{"Sam Taylor"}},
		{"nothing", "zzzz-nobody", []string{"No profiles match"}, []string{"Alex Rivera"}},
		{"markup in the query is escaped", "<b>x</b>", []string{"&lt;b&gt;x&lt;/b&gt;"}, []string{"<b>x</b>"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := b.Get("/profiles?q=" + url.QueryEscape(tc.q))
			if p.Status != http.StatusOK {
				t.Fatalf("status %d", p.Status)
			}
			mustContain(t, p.Body, tc.want...)
			mustNotContain(t, p.Body, tc.notWant...)
		})
	}
}

func TestProfilePages(t *testing.T) {
	t.Parallel()
	e := MustEnv(t)
	b := e.Browser(t).MustLogin(agentEmail, agentPassword)

	for _, tc := range []struct {
		name    string
		id      string
		want    []string
		notWant []string
	}{
		{"auto-links on a unique email", profAlex, []string{
			"Linked automatically:</strong> exactly one Recharge customer has this email.",
			"Linked automatically", "to Recharge customer <strong class=\"mono\">183940021</strong>",
			// customer summary
			`id="customer-id">183940021</dd>`, `id="count-total">3</dd>`, `id="count-active">2</dd>`,
			"alex.rivera@example.com", "Shopify customer <span class=\"mono\">7923224739991</span>",
			// the active subscriptions: the Dog Dental Chews share the
			// T-Shirt's next charge
			"Dog Dental Chews", "Medium dogs / 30 pack", "22.00 USD",
			"Dog Lovers T-Shirt", "Large / Heather Grey", "DOG-TEE-L", "7469727514801",
			`badge--active">Active</span>`, "25.00 USD", "× 1", "every 1 month", "Next billing date", "in 5 days",
			// the cancelled one
			"Cat Pajamas", "111-3", `badge--cancelled">Cancelled</span>`, "49.50 USD", "every 30 days",
			"Cancellation reason", "Too many pajamas", "Will come back in winter", "20 days ago",
			"Created", "Updated", "Fetched <time", "data-relative>just now</time>",
			`href="/profiles/gladly-alex/unlink"`,
		}, []string{"Search Recharge"}},
		{"two candidates", profSam, []string{
			"Not linked", "Not linked automatically: more than one Recharge customer matches.",
			"2 Recharge customers match this profile.",
			"email sam.taylor@example.com matches", "email sam.t@example.org matches",
			`name="customer_id" value="183940001"`, `name="customer_id" value="183940002"`,
			"Search Recharge",
		}, []string{"Subscriptions</h2>", "auto-linked"}},
		{"no match", profNoMatch, []string{
			"Not linked", "No Recharge customer has this profile&#39;s email.", "Search Recharge",
		}, []string{"Not linked automatically"}},
		{"no email", profNoEmail, []string{"This profile has no email", "Search Recharge"}, nil},
		{"linked by hand", profManual, []string{
			"Linked by hand", `by <span class="link-state__by">agent@example.com</span>`, "to Recharge customer <strong class=\"mono\">183940004</strong>",
			"Vitamin D3 Gummies", `badge--expired">Expired</span>`, `id="count-active">0</dd>`,
		}, []string{"Linked automatically:", "Search Recharge"}},
		{"unlinked before", profUnlinked, []string{
			"Not linked", "Unlinked before: only linked by hand.",
			"Not linked automatically: this profile was unlinked before, so it is only linked by hand.",
			"email dana.whitfield@example.com matches", `name="customer_id" value="183940007"`,
		}, []string{"Subscriptions</h2>"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := b.Get("/profiles/" + tc.id)
			if p.Status != http.StatusOK {
				t.Fatalf("status %d\n%s", p.Status, p.Body)
			}
			checkStrictPage(t, tc.id, p.Body)
			mustContain(t, p.Body, tc.want...)
			mustNotContain(t, p.Body, tc.notWant...)
		})
	}

	t.Run("card order and cancelled look", func(t *testing.T) {
		p := b.Get("/profiles/" + profAlex)
		dog, cat := strings.Index(p.Body, "Dog Lovers T-Shirt"), strings.Index(p.Body, "Cat Pajamas")
		if dog < 0 || cat < 0 || dog > cat {
			t.Errorf("active subscription must come first (dog at %d, cat at %d)", dog, cat)
		}
		// The cancelled panel has the cancelled date and reason in place of
		// a next billing date; the active one the reverse.
		panels := strings.Split(p.Body, `<article class="sub`)
		if len(panels) != 4 {
			t.Fatalf("want 3 subscription panels, got %d", len(panels)-1)
		}
		active, cancelled := panels[2], panels[3] // the T-Shirt, after the newer Dog Dental Chews
		if !strings.Contains(active, "sub--active") || strings.Contains(active, "Cancellation reason") || !strings.Contains(active, "Next billing date") {
			t.Errorf("active panel:\n%s", active)
		}
		if !strings.Contains(cancelled, "sub--inactive sub--cancelled") || strings.Contains(cancelled, "Next billing date") ||
			!strings.Contains(cancelled, "<dt>Cancelled</dt>") {
			t.Errorf("cancelled panel:\n%s", cancelled)
		}
		// The image comes through the console's proxy, never straight from
		// the URL Recharge supplies.
		if !strings.Contains(active, `src="/img?u=`+url.QueryEscape(e.Sim.URL+rechargetest.ImagesPath+"dog-lovers-tee")) {
			t.Errorf("active panel has no proxied product image:\n%s", active)
		}
	})

	t.Run("unknown profile", func(t *testing.T) {
		p := b.Get("/profiles/nobody-here")
		if p.Status != http.StatusNotFound {
			t.Errorf("status %d", p.Status)
		}
		mustContain(t, p.Body, "Profile not found", agentEmail)
	})

	t.Run("fetched time", func(t *testing.T) {
		// The card was fetched at the real time; the page's clock is two
		// minutes later. (Sessions last 12 hours, so this one survives.)
		e.Clock.Advance(2 * time.Minute)
		p := b.Get("/profiles/" + profManual)
		if !regexp.MustCompile(`Fetched <time datetime="[0-9T:-]+Z" title="[0-9-]+ [0-9:]+ UTC" data-relative>2 minutes ago</time>`).MatchString(p.Body) {
			t.Errorf("no \"fetched 2 minutes ago\" with the exact UTC time:\n%s", p.Body)
		}
	})

	t.Run("auto-link is audited and shown once", func(t *testing.T) {
		entries, err := e.Store.Audit(context.Background(), rechargekit.AuditFilter{ProfileID: profAlex})
		if err != nil || len(entries) != 1 || entries[0].Action != rechargekit.AuditLink || entries[0].Actor != "auto" {
			t.Fatalf("audit of the auto link = %+v, %v", entries, err)
		}
		p := b.Get("/profiles/" + profAlex)
		mustNotContain(t, p.Body, "exactly one Recharge customer has this email")
		mustContain(t, p.Body, "Linked automatically", "on a unique email match")
	})
}

func TestAutoLinkOff(t *testing.T) {
	t.Parallel()
	e := MustEnv(t)
	if err := e.Store.UpdateSettings(context.Background(), &rechargekit.Settings{AutoLink: false}, "test"); err != nil {
		t.Fatal(err)
	}
	b := e.Browser(t).MustLogin(agentEmail, agentPassword)
	p := b.Get("/profiles/" + profAlex)
	mustContain(t, p.Body, "Not linked automatically: auto-linking is off.", "email alex.rivera@example.com matches")
	mustNotContain(t, p.Body, "Dog Lovers T-Shirt")
}

func TestLinkAndUnlink(t *testing.T) {
	t.Parallel()
	e := MustEnv(t)
	ctx := context.Background()
	b := e.Browser(t).MustLogin(agentEmail, agentPassword)
	samURL := "/profiles/" + profSam

	p := b.PostWithCSRF(samURL, samURL+"/link", url.Values{"customer_id": {fmt.Sprint(rechargetest.DemoSamTOrgID)}})
	mustFlashOnce(t, b, "link", p, samURL, "Linked. The Subscription card is below.")
	l, err := e.Store.Link(ctx, profSam)
	if err != nil || l.CustomerID != rechargetest.DemoSamTOrgID || l.Method != rechargekit.LinkManual || l.By != agentEmail {
		t.Fatalf("stored link = %+v, %v", l, err)
	}
	page := b.Get(samURL)
	mustContain(t, page.Body, "Linked by hand", "agent@example.com",
		`id="customer-id">183940002</dd>`, "Vanilla Protein Powder")

	// Linking it to the other account now is a conflict, shown, not stored.
	p = b.PostWithCSRF(samURL, samURL+"/link", url.Values{"customer_id": {fmt.Sprint(rechargetest.DemoSamTaylorID)}})
	mustFlashOnce(t, b, "conflicting link", p, samURL, "already linked to another Recharge customer")

	// Unlink: a confirmation page first; its form does it.
	confirm := b.Get(samURL + "/unlink")
	if confirm.Status != http.StatusOK {
		t.Fatalf("confirmation = %d", confirm.Status)
	}
	checkStrictPage(t, "unlink", confirm.Body)
	mustContain(t, confirm.Body, "Unlink Sam Taylor?", "183940002", "never linked automatically again",
		`action="/profiles/gladly-sam/unlink"`)
	if _, err := e.Store.Link(ctx, profSam); err != nil {
		t.Fatal("the confirmation page unlinked already")
	}
	p = b.Post(samURL+"/unlink", url.Values{"csrf": {CSRF(t, confirm.Body)}})
	mustFlashOnce(t, b, "unlink", p, samURL, "Unlinked. From now on this profile is only linked by hand.")
	if _, err := e.Store.Link(ctx, profSam); rechargekit.ErrorCode(err) != rechargekit.ENOTFOUND {
		t.Errorf("still linked after unlink: %v", err)
	}
	mustContain(t, b.Get(samURL).Body, "Unlinked before: only linked by hand.")
	// Unlinking an unlinked profile says so.
	mustFlashOnce(t, b, "confirmation of an unlinked profile", b.Get(samURL+"/unlink"), samURL, "This profile is not linked.")

	entries, err := e.Store.Audit(ctx, rechargekit.AuditFilter{ProfileID: profSam})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, en := range entries {
		got = append(got, en.Action+" by "+en.Actor)
	}
	want := "unlink by agent@example.com,link_conflict by agent@example.com,link by agent@example.com"
	if strings.Join(got, ",") != want {
		t.Errorf("audit = %s, want %s", strings.Join(got, ","), want)
	}

	t.Run("bad customer ids", func(t *testing.T) {
		for _, tc := range []struct{ id, flash string }{
			{"abc", "That is not a valid Recharge customer id."},
			{"-4", "That is not a valid Recharge customer id."},
			{"999999999", "That Recharge customer does not exist (any more)."},
		} {
			p := b.PostWithCSRF("/profiles/"+profNoMatch, "/profiles/"+profNoMatch+"/link", url.Values{"customer_id": {tc.id}})
			mustFlashOnce(t, b, "link to "+tc.id, p, "/profiles/"+profNoMatch, tc.flash)
		}
		if _, err := e.Store.Link(ctx, profNoMatch); rechargekit.ErrorCode(err) != rechargekit.ENOTFOUND {
			t.Errorf("a bad link was stored: %v", err)
		}
		p := b.PostWithCSRF("/profiles", "/profiles/no-such-profile/link", url.Values{"customer_id": {"183940021"}})
		if p.Status != http.StatusNotFound {
			t.Errorf("link of an unknown profile = %d", p.Status)
		}
	})
}

func TestCSRF(t *testing.T) {
	t.Parallel()
	e := MustEnv(t)
	ctx := context.Background()
	b := e.Browser(t).MustLogin(adminEmail, adminPassword)
	good := CSRF(t, b.Get("/profiles").Body)
	samLink := "/profiles/" + profSam + "/link"

	for _, tc := range []struct {
		name   string
		csrf   string
		origin string
	}{
		{"missing", "", ""},
		{"wrong", "not-the-token", ""},
		{"another session's", CSRF(t, e.Browser(t).MustLogin(agentEmail, agentPassword).Get("/profiles").Body), ""},
		{"right token, other site", good, "https://evil.example"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			form := url.Values{"customer_id": {"183940001"}}
			if tc.csrf != "" {
				form.Set("csrf", tc.csrf)
			}
			b.Header.Del("Origin")
			if tc.origin != "" {
				b.Header.Set("Origin", tc.origin)
			}
			defer b.Header.Del("Origin")
			for _, path := range []string{samLink, "/admin/settings", "/profiles/" + profManual + "/unlink", "/admin/users"} {
				f := url.Values{}
				for k, v := range form {
					f[k] = v
				}
				f.Set("email", "new@example.com")
				f.Set("has_auto_link", "1") // would switch auto-linking off
				if p := b.Post(path, f); p.Status != http.StatusForbidden {
					t.Errorf("POST %s = %d, want 403", path, p.Status)
				}
			}
			if _, err := e.Store.Link(ctx, profSam); rechargekit.ErrorCode(err) != rechargekit.ENOTFOUND {
				t.Error("a refused link was stored")
			}
			if _, err := e.Store.Link(ctx, profManual); err != nil {
				t.Error("a refused unlink happened")
			}
			if s, _ := e.Store.Settings(ctx); !s.AutoLink {
				t.Error("a refused settings change happened")
			}
			if _, err := e.Store.UserByEmail(ctx, "new@example.com"); err == nil {
				t.Error("a refused user add happened")
			}
		})
	}

	t.Run("same-site Origin passes", func(t *testing.T) {
		b.Header.Set("Origin", e.Srv.URL)
		defer b.Header.Del("Origin")
		p := b.Post(samLink, url.Values{"customer_id": {"183940001"}, "csrf": {good}})
		if p.Status != http.StatusSeeOther {
			t.Errorf("POST with the right token and Origin = %d", p.Status)
		}
	})
}

func TestAgentCannotReachAdmin(t *testing.T) {
	t.Parallel()
	e := MustEnv(t)
	b := e.Browser(t).MustLogin(agentEmail, agentPassword)
	for _, path := range []string{"/admin/settings", "/admin/users", "/admin/tokens", "/admin/audit", "/admin/"} {
		p := b.Get(path)
		if p.Status != http.StatusForbidden {
			t.Errorf("agent GET %s = %d, want 403", path, p.Status)
		}
		mustContain(t, p.Body, "Admins only", "Back to profiles")
	}
	csrf := CSRF(t, b.Get("/profiles").Body)
	if p := b.Post("/admin/settings", url.Values{"csrf": {csrf}, "has_auto_link": {"1"}}); p.Status != http.StatusForbidden {
		t.Errorf("agent POST settings = %d", p.Status)
	}
	if s, _ := e.Store.Settings(context.Background()); !s.AutoLink {
		t.Error("an agent switched auto-linking off")
	}
	if p := b.Post("/admin/tokens", url.Values{"csrf": {csrf}, "name": {"sneaky"}}); p.Status != http.StatusForbidden {
		t.Errorf("agent POST tokens = %d", p.Status)
	}
	if toks, _ := e.Store.APITokens(context.Background()); len(toks) != 0 {
		t.Error("an agent created an API token")
	}
}

func TestManualSearch(t *testing.T) {
	t.Parallel()
	e := MustEnv(t)
	b := e.Browser(t).MustLogin(agentEmail, agentPassword)
	base := "/profiles/" + profNoMatch
	for _, tc := range []struct {
		name, find, by string
		want           []string
	}{
		{"email", "alex.rivera@example.com", "", []string{"Alex Rivera", "email alex.rivera@example.com matches", `value="183940021"`}},
		{"email, case-insensitive", "DANA.WHITFIELD@example.com", "email", []string{"Dana Whitfield", `value="183940007"`}},
		{"Recharge id", "183940021", "", []string{"Recharge customer id 183940021 matches", `value="183940021"`}},
		{"Recharge id chosen", "183940001", "recharge", []string{"Recharge customer id 183940001 matches"}},
		{"Shopify id by prefix", "shopify:7923224739991", "", []string{"Shopify customer id 7923224739991 matches", `value="183940021"`}},
		{"Shopify id chosen", "7923224739991", "shopify", []string{"Shopify customer id 7923224739991 matches"}},
		{"digits try both ids", "7923224739991", "", []string{"Shopify customer id 7923224739991 matches"}},
		{"no match", "nobody@example.org", "", []string{"No Recharge customer matches “nobody@example.org”."}},
		{"a name without the mirror", "hello there", "", []string{"No Recharge customer matches “hello there”.",
			`id="find-hint"`, "Name search works once the mirror is complete"}},
		{"a phone without the mirror", "555-123-4567", "", []string{"No Recharge customer matches “555-123-4567”.",
			"Phone and zip search works once the mirror is complete"}},
		{"bad Recharge id", "abc", "recharge", []string{"A Recharge customer id is a number"}},
		{"markup is escaped", "<script>alert(1)</script>@x", "", []string{"&lt;script&gt;alert(1)&lt;/script&gt;@x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := b.Get(base + "?" + url.Values{"find": {tc.find}, "by": {tc.by}}.Encode())
			if p.Status != http.StatusOK {
				t.Fatalf("status %d", p.Status)
			}
			checkStrictPage(t, tc.name, p.Body)
			mustContain(t, p.Body, tc.want...)
		})
	}
	// A search result's Link button links.
	p := b.PostWithCSRF(base+"?find=jordan.lee%40example.com", base+"/link", url.Values{"customer_id": {"183940003"}})
	mustFlashOnce(t, b, "link from search", p, base, "Linked.")
	mustContain(t, b.Get(base).Body, "No subscriptions", "Jordan Lee")
}

func TestCardProblems(t *testing.T) {
	t.Parallel()
	e := MustEnv(t)
	b := e.Browser(t).MustLogin(agentEmail, agentPassword)

	t.Run("customer gone", func(t *testing.T) {
		MustLink(t, e.Store, profNoMatch, 999000111, rechargekit.LinkManual, agentEmail)
		p := b.Get("/profiles/" + profNoMatch)
		if p.Status != http.StatusOK {
			t.Fatalf("status %d", p.Status)
		}
		mustContain(t, p.Body, "This customer no longer exists in Recharge", `href="/profiles/gladly-nomatch/unlink"`)
	})

	t.Run("token refused", func(t *testing.T) {
		e.Sim.SetFaults(rechargetest.Faults{Status: http.StatusUnauthorized})
		defer e.Sim.SetFaults(rechargetest.Faults{})
		p := b.Get("/profiles/" + profManual)
		if p.Status != http.StatusOK {
			t.Fatalf("status %d", p.Status)
		}
		mustContain(t, p.Body, "Recharge refused rechargekit's API token", "Linked by hand")
		// Linking by hand then says Recharge is unavailable, and the log
		// names the refusal, which an admin must fix.
		p = b.PostWithCSRF("/profiles", "/profiles/"+profSam+"/link", url.Values{"customer_id": {"183940001"}})
		mustFlashOnce(t, b, "link while the token is refused", p, "/profiles/"+profSam, "Recharge is unavailable right now")
		if logs := e.Logs.String(); !strings.Contains(logs, "during=link") || !strings.Contains(logs, "recharge refused the token") {
			t.Errorf("the refused token met while linking was not logged as such:\n%s", logs)
		}
	})

	t.Run("Recharge unavailable", func(t *testing.T) {
		e.Sim.SetFaults(rechargetest.Faults{Status: http.StatusServiceUnavailable})
		defer e.Sim.SetFaults(rechargetest.Faults{})
		p := b.Get("/profiles/" + profManual)
		if p.Status != http.StatusOK {
			t.Fatalf("status %d", p.Status)
		}
		mustContain(t, p.Body, "Recharge is unavailable right now; try again shortly", "Linked by hand")
		// Candidates and manual search say the same, and linking does not store anything.
		p = b.Get("/profiles/" + profSam + "?find=sam%40example.com")
		mustContain(t, p.Body, "Recharge is unavailable right now; try again shortly.")
		p = b.PostWithCSRF("/profiles", "/profiles/"+profSam+"/link", url.Values{"customer_id": {"183940001"}})
		mustFlashOnce(t, b, "link while Recharge is down", p, "/profiles/"+profSam, "Recharge is unavailable right now")
	})
}

// hostile is the markup the hostile customer's texts carry.
const hostile = `<script>alert(1)</script>`

// longWord is an unbroken string longer than any screen is wide.
var longWord = strings.Repeat("Supercalifragilistic", 12)

// MustHostileProfile adds to the simulator a customer whose every text is
// markup (and whose images are javascript: and data: URLs), and a desk
// profile "mallory" with its email, also with markup and overlong words.
func MustHostileProfile(tb testing.TB, e *env) int64 {
	tb.Helper()
	id := e.Sim.AddCustomer(rechargetest.SeedCustomer{
		FirstName: hostile, LastName: `"><img src=x onerror=alert(2)>`, Email: "mallory@example.com",
		Phone: "+1 555\u202e0100\x07", ExternalID: "ext-" + hostile,
		Subscriptions: []rechargetest.SeedSubscription{
			{ProductID: "1", ProductTitle: "Tee " + hostile, VariantTitle: "Size " + hostile, SKU: "SKU" + hostile, Price: "9.00",
				Image: "javascript:alert(3)", Interval: 1, Unit: "month", PastCharges: 1},
			{ProductID: "2", ProductTitle: "Mug", Price: "5.00", Image: "data:text/html,<script>alert(4)</script>",
				Interval: 1, Unit: "month", PastCharges: 1, Status: "cancelled",
				CancellationReason: "Reason " + hostile, CancellationComments: "Comment " + hostile + "\x00\x1b[31m " + longWord},
		},
	})
	if _, err := e.Store.UpsertProfile(context.Background(), &rechargekit.Profile{
		ID: "mallory", Name: "Mallory " + hostile + " " + longWord,
		Emails: []string{"mallory@example.com", longWord + "@example.com"}}); err != nil {
		tb.Fatal(err)
	}
	return id
}

func TestHostileRechargeData(t *testing.T) {
	t.Parallel()
	e := MustEnv(t)
	id := MustHostileProfile(t, e)
	evil := hostile
	b := e.Browser(t).MustLogin(agentEmail, agentPassword)
	p := b.Get("/profiles/mallory")
	if p.Status != http.StatusOK {
		t.Fatalf("status %d", p.Status)
	}
	// The hostile image URLs are dropped where they enter, when the card is
	// read from Recharge (recharge.Images.Best), so no answer carries them;
	// the console filters again as it renders (rechargekit.SafeURL).
	v, err := e.Profiles.Open(context.Background(), "mallory")
	if err != nil || v.Card == nil || len(v.Card.Subscriptions) != 2 {
		t.Fatalf("open = %+v, %v", v, err)
	}
	for _, s := range v.Card.Subscriptions {
		if s.Product.ImageURL != "" {
			t.Errorf("image URL %q came through from Recharge", s.Product.ImageURL)
		}
	}
	if !strings.Contains(p.Body, fmt.Sprint(id)) {
		t.Fatalf("the hostile customer was not linked:\n%s", p.Body)
	}
	checkStrictPage(t, "mallory", p.Body)
	mustNotContain(t, p.Body, evil, "<img src=x", "\u202e", "\x07", "\x00", "\x1b", "javascript:", "data:text/html")
	esc := "&lt;script&gt;alert(1)&lt;/script&gt;"
	mustContain(t, p.Body, "Mallory "+esc, "Tee "+esc, "Size "+esc, "Reason "+esc, "Comment "+esc,
		"&#34;&gt;&lt;img src=x onerror=alert(2)&gt;")
	// Neither subscription may load its image: both show the placeholder.
	if n := strings.Count(p.Body, `class="sub__img"`); n != 0 {
		t.Errorf("%d images loaded from unsafe URLs", n)
	}
	if n := strings.Count(p.Body, `<div class="sub__placeholder" aria-hidden="true">`); n != 2 {
		t.Errorf("%d placeholders, want 2", n)
	}
	// The list and the candidates escape it too.
	list := b.Get("/profiles?q=mallory")
	checkStrictPage(t, "list", list.Body)
	mustNotContain(t, list.Body, evil)
}

func TestAdminPages(t *testing.T) {
	t.Parallel()
	e := MustEnv(t)
	ctx := context.Background()
	b := e.Browser(t).MustLogin(adminEmail, adminPassword)

	t.Run("navigation", func(t *testing.T) {
		p := b.Get("/profiles")
		mustContain(t, p.Body, `href="/admin/settings"`, `href="/admin/users"`, `href="/admin/tokens"`, `href="/admin/audit"`)
		for _, path := range []string{"/admin/settings", "/admin/users", "/admin/tokens", "/admin/audit"} {
			p := b.Get(path)
			if p.Status != http.StatusOK {
				t.Errorf("%s = %d", path, p.Status)
			}
			checkStrictPage(t, path, p.Body)
		}
	})

	t.Run("settings", func(t *testing.T) {
		mustContain(t, b.Get("/admin/settings").Body, "Auto-linking is <strong>on</strong>", `id="auto_link" checked`)
		p := b.PostWithCSRF("/admin/settings", "/admin/settings", url.Values{"has_auto_link": {"1"}})
		if p.Status != http.StatusSeeOther {
			t.Fatalf("save = %d", p.Status)
		}
		if s, _ := e.Store.Settings(ctx); s.AutoLink {
			t.Error("auto-linking still on")
		}
		mustFlashOnce(t, b, "save settings", p, "/admin/settings", "Settings saved.")
		mustContain(t, b.Get("/admin/settings").Body, "Auto-linking is <strong>off</strong>")
		b.PostWithCSRF("/admin/settings", "/admin/settings", url.Values{"has_auto_link": {"1"}, "auto_link": {"on"}})
		if s, _ := e.Store.Settings(ctx); !s.AutoLink {
			t.Error("auto-linking not back on")
		}
		entries, _ := e.Store.Audit(ctx, rechargekit.AuditFilter{})
		if len(entries) < 2 || entries[0].Action != rechargekit.AuditSettingChange || entries[0].Actor != adminEmail {
			t.Errorf("newest audit entry = %+v", entries[0])
		}
	})

	t.Run("users", func(t *testing.T) {
		p := b.PostWithCSRF("/admin/users", "/admin/users", url.Values{"email": {"new.agent@example.com"}, "role": {"agent"}})
		if p.Status != http.StatusOK {
			t.Fatalf("add = %d\n%s", p.Status, p.Body)
		}
		m := regexp.MustCompile(`<code id="new-password">([^<]+)</code>`).FindStringSubmatch(p.Body)
		if m == nil {
			t.Fatalf("no password shown:\n%s", p.Body)
		}
		if strings.Contains(b.Get("/admin/users").Body, m[1]) {
			t.Error("the password is shown again")
		}
		nb := e.Browser(t).MustLogin("new.agent@example.com", m[1])
		if p := nb.Get("/admin/users"); p.Status != http.StatusForbidden {
			t.Errorf("the new agent reaches admin pages: %d", p.Status)
		}
		// Duplicate and invalid.
		if p := b.PostWithCSRF("/admin/users", "/admin/users", url.Values{"email": {"NEW.agent@example.com"}, "role": {"agent"}}); p.Status != http.StatusConflict {
			t.Errorf("duplicate user = %d", p.Status)
		}
		if p := b.PostWithCSRF("/admin/users", "/admin/users", url.Values{"email": {"x@example.com"}, "role": {"root"}}); p.Status != http.StatusBadRequest {
			t.Errorf("bad role = %d", p.Status)
		}
		u, err := e.Store.UserByEmail(ctx, "new.agent@example.com")
		if err != nil {
			t.Fatal(err)
		}
		p = b.PostWithCSRF("/admin/users", fmt.Sprintf("/admin/users/%d/delete", u.ID), nil)
		mustFlashOnce(t, b, "delete", p, "/admin/users", "User deleted.")
		if p := nb.Get("/profiles"); p.Status != http.StatusSeeOther {
			t.Errorf("a deleted user's session still works: %d", p.Status)
		}
		p = b.PostWithCSRF("/admin/users", fmt.Sprintf("/admin/users/%d/delete", e.AdminID), nil)
		mustFlashOnce(t, b, "self delete", p, "/admin/users", "You cannot delete your own account")
	})

	t.Run("tokens", func(t *testing.T) {
		p := b.PostWithCSRF("/admin/tokens", "/admin/tokens", url.Values{"name": {"zendesk"}})
		m := regexp.MustCompile(`<code id="new-token-value">(rk_[^<]+)</code>`).FindStringSubmatch(p.Body)
		if p.Status != http.StatusOK || m == nil {
			t.Fatalf("create = %d\n%s", p.Status, p.Body)
		}
		api := apiClient{t: t, base: e.Srv.URL, token: m[1]}
		if code, _ := api.do("GET", "/api/profiles/"+profManual+"/card", ""); code != http.StatusOK {
			t.Errorf("the new token does not work: %d", code)
		}
		// Each token's row shows its role: a console-made one is an agent's.
		if err := e.Store.CreateAPIToken(ctx, &rechargekit.APIToken{Name: "automation", Role: rechargekit.RoleAdmin, Hash: "sha256:automation"}, "cli"); err != nil {
			t.Fatal(err)
		}
		list := b.Get("/admin/tokens")
		mustContain(t, list.Body, "zendesk")
		mustNotContain(t, list.Body, m[1])
		for name, role := range map[string]string{"zendesk": "agent", "automation": "admin"} {
			row := regexp.MustCompile(`(?s)<td class="wrap mono">` + name + `</td>\s*<td><span class="role-badge role-badge--(\w+)">`).FindStringSubmatch(list.Body)
			if row == nil || row[1] != role {
				t.Errorf("token %s's row shows role %v, want %s", name, row, role)
			}
		}
		toks, _ := e.Store.APITokens(ctx)
		i := slices.IndexFunc(toks, func(tok *rechargekit.APIToken) bool { return tok.Name == "zendesk" })
		p = b.PostWithCSRF("/admin/tokens", fmt.Sprintf("/admin/tokens/%d/revoke", toks[i].ID), nil)
		mustFlashOnce(t, b, "revoke", p, "/admin/tokens", "API token revoked.")
		if code, _ := api.do("GET", "/api/profiles/"+profManual+"/card", ""); code != http.StatusUnauthorized {
			t.Errorf("a revoked token works: %d", code)
		}

		// A right-to-left override would make the name read otherwise
		// than it is stored ("desk" + U+202E + "gnp.exe" shows as
		// "deskexe.png"): refused, with the reason, and nothing stored.
		before, _ := e.Store.APITokens(ctx)
		p = b.PostWithCSRF("/admin/tokens", "/admin/tokens", url.Values{"name": {"desk\u202egnp.exe"}})
		if p.Status != http.StatusBadRequest {
			t.Errorf("create with a right-to-left override = %d, want 400", p.Status)
		}
		mustContain(t, p.Body, "The API token name contains an invisible formatting character, such as a right-to-left override.")
		if after, _ := e.Store.APITokens(ctx); len(after) != len(before) {
			t.Errorf("a token named with a right-to-left override was stored: %d tokens, had %d", len(after), len(before))
		}
	})

	t.Run("audit", func(t *testing.T) {
		e.Browser(t).MustLogin(agentEmail, agentPassword).Get("/profiles/" + profAlex) // auto-links
		p := b.Get("/admin/audit")
		mustContain(t, p.Body, "link", "auto", "183940021", "setting", "token")
		filtered := b.Get("/admin/audit?profile=" + profUnlinked)
		mustContain(t, filtered.Body, "unlink", "183940007", agentEmail)
		mustNotContain(t, filtered.Body, "183940021")
		// Newest first: the unlink before the link it undid.
		if strings.Index(filtered.Body, `action--unlink`) > strings.Index(filtered.Body, `action--link"`) {
			t.Error("audit is not newest first")
		}
	})
}
