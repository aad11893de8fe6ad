package server_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/server"
)

// The browser tests drive the console in a real headless Chromium: the one
// at $RECHARGEKIT_TEST_CHROME (scripts/test sets it after installing
// Debian's chromium). They save screenshots to $RECHARGEKIT_ARTIFACTS_DIR,
// default <module root>/artifacts/screenshots.

// chromePath returns the browser to drive, or skips (fails under CI).
func chromePath(t *testing.T) string {
	t.Helper()
	p := os.Getenv("RECHARGEKIT_TEST_CHROME")
	if p == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("RECHARGEKIT_TEST_CHROME is not set under CI=true: the browser tests must run (scripts/test installs chromium)")
		}
		t.Skip("RECHARGEKIT_TEST_CHROME not set: skipping browser tests")
	}
	return p
}

// artifactsDir is where screenshots go.
func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("RECHARGEKIT_ARTIFACTS_DIR")
	if dir == "" {
		root, err := moduleRoot()
		if err != nil {
			t.Fatal(err)
		}
		dir = filepath.Join(root, "artifacts", "screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// chrome is one headless Chromium tab.
type chrome struct {
	t    *testing.T
	ctx  context.Context
	base string
	dir  string

	mu       sync.Mutex
	problems []string // CSP violations, script errors
}

// MustChrome starts Chromium for the test, bounded by timeout. Product
// images come through the console's image proxy from the simulator's own
// pictures; anything off this machine fails fast.
func MustChrome(t *testing.T, e *env, timeout time.Duration) *chrome {
	t.Helper()
	exec := chromePath(t)
	parent, cancelParent := context.WithTimeout(context.Background(), timeout)
	alloc, cancelAlloc := chromedp.NewExecAllocator(parent,
		chromedp.ExecPath(exec),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("mute-audio", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
		cancelParent()
	})
	c := &chrome{t: t, ctx: ctx, base: e.Srv.URL, dir: artifactsDir(t)}

	// Start the browser and the tab, then watch the page's log for CSP
	// violations and its uncaught exceptions.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium at %s: %v", exec, err)
	}
	if err := chromedp.Listen(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *cdplog.EventEntryAdded:
			// CSP violations, and any failure to load our own assets. (A
			// 403 page that a test opens on purpose is logged as an error
			// too, and is not a problem.)
			if strings.Contains(ev.Entry.Text, "Content Security Policy") || strings.Contains(ev.Entry.Text, "Refused to") ||
				(ev.Entry.Level == cdplog.EntryLevelError && strings.Contains(ev.Entry.URL, "/static/")) {
				c.problem("log: " + ev.Entry.Text + " " + ev.Entry.URL)
			}
		case *runtime.EventExceptionThrown:
			c.problem("exception: " + ev.ExceptionDetails.Text)
		case *cdppage.EventJavascriptDialogOpening:
			// No page of the console opens a dialog by itself: one is
			// injected script, or a confirm() no test should meet.
			c.problem("dialog: " + ev.Message)
			go chromedp.Call(ctx, cdppage.HandleJavaScriptDialog, cdppage.HandleJavaScriptDialogParams{Accept: false})
		}
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, cdplog.Enable, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, runtime.Enable, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *chrome) problem(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.problems = append(c.problems, s)
}

// checkProblems fails the test on any CSP violation or script error seen.
func (c *chrome) checkProblems() {
	c.t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.problems {
		c.t.Errorf("browser: %s", p)
	}
	c.problems = nil
}

// do runs steps, failing the test on error.
func (c *chrome) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	c.t.Helper()
	if err := chromedp.Do(c.ctx, steps...); err != nil {
		c.t.Fatalf("%s: %v", what, err)
	}
}

// text returns the visible text of the element matched by the CSS selector.
func (c *chrome) text(sel string) string {
	c.t.Helper()
	// The DevTools protocol can hand back a node id that the page's own
	// parsing replaces a moment later ("No node with given id found"):
	// ask again for the node that is there now, a few times.
	var err error
	for range 5 {
		var s string
		if s, err = chromedp.Run(c.ctx, chromedp.Text(chromedp.CSS(sel), chromedp.NodeVisible)); err == nil {
			return s
		}
		if !strings.Contains(err.Error(), "No node with given id") && !strings.Contains(err.Error(), "Cannot find context") {
			break
		}
	}
	c.t.Fatalf("text of %s: %v", sel, err)
	return ""
}

func (c *chrome) eval(expr string) bool {
	c.t.Helper()
	v, err := chromedp.Run(c.ctx, chromedp.Evaluate[bool](expr))
	if err != nil {
		c.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// imagesLoaded waits until every image on the page finished loading or failing.
func (c *chrome) imagesLoaded() {
	c.t.Helper()
	// Product images load lazily, so one below the fold of a narrow
	// screen would never complete: load them all, as a screenshot of the
	// whole page needs anyway.
	if _, err := chromedp.Run(c.ctx, chromedp.Poll[bool](`Array.from(document.images).every(i => { if (i.loading === 'lazy') i.loading = 'eager'; return i.complete })`,
		chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		c.t.Fatalf("images did not load: %v", err)
	}
}

// shoot saves a full-page PNG screenshot, or one of an element when sel is set.
func (c *chrome) shoot(name, sel string) {
	c.t.Helper()
	var buf []byte
	var err error
	if sel == "" {
		buf, err = chromedp.Run(c.ctx, chromedp.FullScreenshot(100))
	} else {
		buf, err = chromedp.Run(c.ctx, chromedp.Screenshot(chromedp.CSS(sel), chromedp.NodeVisible))
	}
	if err != nil {
		c.t.Fatalf("screenshot %s: %v", name, err)
	}
	if !bytes.HasPrefix(buf, []byte("\x89PNG")) {
		c.t.Fatalf("screenshot %s is not a PNG", name)
	}
	path := filepath.Join(c.dir, name)
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		c.t.Fatal(err)
	}
	c.t.Logf("screenshot: %s", path)
}

// signIn fills the sign-in form and waits for the profile list.
func (c *chrome) signIn(email, password string) {
	c.t.Helper()
	c.do("sign in as "+email,
		chromedp.Navigate(c.base+"/login"),
		chromedp.WaitVisible(chromedp.ID("login-form")),
		chromedp.SendKeys(chromedp.ID("email"), email),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Click(chromedp.ID("sign-in")),
		chromedp.WaitVisible(chromedp.ID("profiles")),
	)
	if got := c.text("#whoami"); got != email {
		c.t.Fatalf("signed in as %q, want %q", got, email)
	}
}

func wantText(t *testing.T, what, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("%s lacks %q; it reads:\n%s", what, w, got)
		}
	}
}

func TestBrowserAgent(t *testing.T) {
	t.Parallel()
	chromePath(t)
	e := MustEnv(t)
	c := MustChrome(t, e, 90*time.Second)

	c.do("open the sign-in page", chromedp.Navigate(c.base+"/profiles/"+profAlex), chromedp.WaitVisible(chromedp.ID("login-form")))
	c.shoot("01-sign-in.png", "")
	c.signIn(agentEmail, agentPassword)
	if c.eval(`!!document.querySelector('a[href="/admin/settings"]')`) {
		t.Error("an agent sees the admin navigation")
	}
	c.shoot("02-profiles.png", "")

	// Search the list. The step waits for what only the result page has:
	// the search box rendered with the query in its value attribute (typing
	// sets only the box's value property). Sam's link would not do, since
	// the unfiltered list shows it too, and the test would read the old page
	// and then cut the search's navigation short with the next one.
	c.do("search profiles",
		chromedp.SendKeys(chromedp.ID("q"), "sam.t@example.org"),
		chromedp.Submit(chromedp.ID("q")),
		chromedp.WaitVisible(chromedp.CSS(`#q[value="sam.t@example.org"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#profiles a[href="/profiles/gladly-sam"]`)),
	)
	list := c.text("#profiles")
	wantText(t, "search result", list, "Sam Taylor", "Not linked")
	if strings.Contains(list, "Alex Rivera") {
		t.Errorf("search for Sam shows Alex:\n%s", list)
	}

	// Alex Rivera's profile auto-links and shows the card.
	c.do("open Alex Rivera",
		chromedp.Navigate(c.base+"/profiles/"+profAlex),
		chromedp.WaitVisible(chromedp.ID("card")),
	)
	wantText(t, "auto-link notice", c.text("#auto-linked"), "Linked automatically:", "exactly one Recharge customer has this email")
	wantText(t, "customer summary", c.text("#customer"), "Alex Rivera", "183940021", "SUBSCRIPTIONS\n3", "ACTIVE\n2")
	// The T-Shirt's panel (the newer Dog Dental Chews, on the same charge,
	// come first).
	wantText(t, "shared-charge subscription", c.text(`.sub--active[data-subscription-id="585062000"]`), "Dog Dental Chews", "in 5 days")
	active := c.text(`.sub--active[data-subscription-id="585062092"]`)
	wantText(t, "active subscription", active, "Dog Lovers T-Shirt", "Large / Heather Grey", "DOG-TEE-L", "7469727514801",
		"ACTIVE", "25.00 USD", "× 1", "every 1 month", "NEXT BILLING DATE", "in 5 days", "CREATED", "UPDATED")
	cancelled := c.text(".sub--cancelled")
	wantText(t, "cancelled subscription", cancelled, "Cat Pajamas", "111-3", "CANCELLED", "49.50 USD", "every 30 days",
		"CANCELLATION REASON", "Too many pajamas", "Will come back in winter", "20 days ago")
	if strings.Contains(cancelled, "NEXT BILLING DATE") {
		t.Error("the cancelled subscription shows a next billing date")
	}
	wantText(t, "fetched time", c.text("#fetched"), "Fetched just now")
	// The stylesheet applied under the CSP: the cancelled badge is red, the
	// active one green, the cancelled panel muted.
	if !c.eval(`getComputedStyle(document.querySelector('.badge--cancelled')).color === 'rgb(185, 28, 28)'`) ||
		!c.eval(`getComputedStyle(document.querySelector('.badge--active')).color === 'rgb(21, 128, 61)'`) ||
		!c.eval(`getComputedStyle(document.querySelector('.sub--cancelled .sub__media')).filter.includes('grayscale')`) {
		t.Error("the stylesheet did not apply: badges or the muted cancelled panel look wrong")
	}
	c.imagesLoaded()
	if !c.eval(`document.querySelector('.sub--active .sub__img').naturalWidth > 0`) {
		t.Error("the product image did not load")
	}
	c.shoot("03-card-alex.png", "")
	c.shoot("04-subscription-active.png", ".sub--active")
	c.shoot("05-subscription-cancelled.png", ".sub--cancelled")
	c.do("narrow screen", chromedp.EmulateViewport(390, 844))
	if !c.eval(`document.documentElement.scrollWidth <= 390`) {
		t.Error("the card overflows a 390px-wide screen")
	}
	c.shoot("03b-card-alex-phone.png", "")
	// Back to the window's own size: EmulateReset leaves this Chromium at
	// the emulated width, and the later screenshots were taken at 390 px.
	c.do("wide screen", chromedp.EmulateViewport(1280, 900))
	if !c.eval(`window.innerWidth === 1280`) {
		t.Error("the screen did not go back to 1280 px")
	}

	// Sam Taylor: two candidates; link one by hand.
	c.do("open Sam Taylor",
		chromedp.Navigate(c.base+"/profiles/"+profSam),
		chromedp.WaitVisible(chromedp.ID("candidates")),
	)
	wantText(t, "candidates", c.text("#candidates"),
		"Not linked automatically: more than one Recharge customer matches.",
		"email sam.taylor@example.com matches", "email sam.t@example.org matches")
	c.shoot("06-candidates-sam.png", "")
	c.do("link Sam to sam.t@example.org",
		chromedp.Click(chromedp.CSS(`li.match[data-customer-id="183940002"] button`)),
		chromedp.WaitVisible(chromedp.ID("card")),
	)
	wantText(t, "link state", c.text("#link-state"), "Linked by hand", "by agent@example.com", "183940002")
	wantText(t, "flash", c.text(".flash"), "Linked.")
	// The notice came from the session, not the URL, and shows once.
	if !c.eval(`location.pathname === '/profiles/` + profSam + `' && location.search === ''`) {
		t.Error("the page after linking is not the profile's clean URL")
	}
	c.do("reload after linking", chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("card")))
	if !c.eval(`document.querySelector('.flash') === null`) {
		t.Error("a reload after linking shows the notice again")
	}
	if l, err := e.Store.Link(context.Background(), profSam); err != nil || l.CustomerID != 183940002 || l.Method != rechargekit.LinkManual {
		t.Errorf("stored link = %+v, %v", l, err)
	}
	c.shoot("07-linked-sam.png", "")

	// Unlink through the confirmation page.
	c.do("ask to unlink",
		chromedp.Click(chromedp.ID("unlink")),
		chromedp.WaitVisible(chromedp.ID("confirm-unlink")),
	)
	wantText(t, "confirmation", c.text("#confirm-unlink"), "Unlink Sam Taylor?", "183940002", "never linked automatically again")
	c.shoot("08-unlink-confirm.png", "")
	c.do("confirm",
		chromedp.Click(chromedp.ID("confirm")),
		chromedp.WaitVisible(chromedp.ID("was-unlinked")),
	)
	wantText(t, "after unlink", c.text("#link-state"), "Not linked", "Unlinked before: only linked by hand.")
	if _, err := e.Store.Link(context.Background(), profSam); rechargekit.ErrorCode(err) != rechargekit.ENOTFOUND {
		t.Errorf("still linked: %v", err)
	}

	// Manual search on the profile with no match.
	c.do("manual search",
		chromedp.Navigate(c.base+"/profiles/"+profNoMatch),
		chromedp.WaitVisible(chromedp.ID("search")),
		chromedp.SendKeys(chromedp.ID("find"), "shopify:7923224739991"),
		chromedp.Submit(chromedp.ID("find")),
		chromedp.WaitVisible(chromedp.ID("find-results")),
	)
	wantText(t, "search results", c.text("#find-results"), "Alex Rivera", "Shopify customer id 7923224739991 matches")

	// An agent cannot reach admin pages.
	c.do("agent opens settings",
		chromedp.Navigate(c.base+"/admin/settings"),
		chromedp.WaitVisible(chromedp.CSS(".error-page")),
	)
	wantText(t, "admin page for an agent", c.text(".error-page"), "403", "Admins only")
	c.shoot("09-agent-forbidden.png", "")
	c.checkProblems()
}

func TestBrowserAdmin(t *testing.T) {
	t.Parallel()
	chromePath(t)
	e := MustEnv(t, envOptions{Config: func(c *server.Config) {
		// The status panel on Settings, as when Recharge answers 429s.
		since := time.Now().Add(-4 * time.Minute)
		c.Ready = func(context.Context) []server.Check {
			return []server.Check{
				{Name: "database", OK: true, State: "ok", Critical: true},
				{Name: "recharge", State: "rate_limited", Message: "Recharge is answering 429: the API token's rate budget is spent", Since: since},
			}
		}
	}})
	MustHostileProfile(t, e)
	c := MustChrome(t, e, 60*time.Second)
	c.signIn(adminEmail, adminPassword)

	// Hostile Recharge data and overlong words: inert and laid out.
	c.do("open the hostile profile",
		chromedp.Navigate(c.base+"/profiles/mallory"),
		chromedp.WaitVisible(chromedp.ID("card")),
	)
	c.imagesLoaded()
	wantText(t, "hostile card", c.text("#card"), "Tee <script>alert(1)</script>", "Reason <script>alert(1)</script>")
	if !c.eval(`document.scripts.length === 1 && document.scripts[0].src.includes('/static/app.js')`) ||
		!c.eval(`document.querySelectorAll('[onerror], img[src^="javascript"], img[src^="data"]').length === 0`) ||
		!c.eval(`document.querySelectorAll('.sub__img').length === 0 && document.querySelectorAll('.sub__placeholder').length === 2`) {
		t.Error("hostile Recharge data made live markup")
	}
	if !c.eval(`document.documentElement.scrollWidth <= window.innerWidth`) {
		t.Error("overlong words make the page scroll sideways")
	}
	c.shoot("11-hostile-data.png", "")
	c.checkProblems()
	c.do("open settings",
		chromedp.Click(chromedp.CSS(`a[href="/admin/settings"]`)),
		chromedp.WaitVisible(chromedp.ID("settings-form")),
	)
	wantText(t, "settings", c.text("#auto-link-state"), "Auto-linking is on.")
	wantText(t, "status panel", c.text("#status-recharge"), "RATE_LIMITED", "rate budget is spent", "4 minutes ago")
	c.do("switch auto-linking off",
		chromedp.Click(chromedp.CSS(".switch__track")),
		chromedp.Click(chromedp.ID("save-settings")),
		chromedp.WaitVisible(chromedp.CSS(".flash--success")),
	)
	wantText(t, "settings after saving", c.text("#auto-link-state"), "Auto-linking is off.")
	if s, err := e.Store.Settings(context.Background()); err != nil || s.AutoLink {
		t.Errorf("settings = %+v, %v: want auto-linking off", s, err)
	}
	c.shoot("10-admin-settings.png", "")

	// With auto-linking off, Alex's profile shows the candidate instead.
	c.do("open Alex Rivera",
		chromedp.Navigate(c.base+"/profiles/"+profAlex),
		chromedp.WaitVisible(chromedp.ID("candidates")),
	)
	wantText(t, "candidates with auto-linking off", c.text("#candidates"), "auto-linking is off", "email alex.rivera@example.com matches")

	// The other admin pages render (screenshots for a look).
	c.do("open users", chromedp.Click(chromedp.CSS(`a[href="/admin/users"]`)), chromedp.WaitVisible(chromedp.ID("users")))
	wantText(t, "users", c.text("#users"), adminEmail, agentEmail)
	c.shoot("12-admin-users.png", "")
	c.do("open the audit log", chromedp.Click(chromedp.CSS(`a[href="/admin/audit"]`)), chromedp.WaitVisible(chromedp.ID("audit")))
	wantText(t, "audit", c.text("#audit"), "setting", "auto_link", "link", "mallory")
	c.shoot("13-admin-audit.png", "")

	c.do("sign out",
		chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)),
		chromedp.WaitVisible(chromedp.ID("login-form")),
	)
	c.checkProblems()
}

// outsideJS lists, for the page in the browser, every element and every
// piece of text that reaches past its card (the nearest .panel, .sub,
// .match, .stat, .secret, .flash, .alert, .notice or .why-not; the
// viewport when there is none) by more than half a pixel, as
// "element: what" lines. Text is measured through a Range, since text that
// overflows a fixed box does not widen the box. Only the outermost thing
// that reaches out is listed, not everything inside it. Hidden things (no
// box, clipped away like .visually-hidden, an invisible checkbox) do not
// count.
const outsideJS = `(() => {
  const cards = '.panel, .sub, .match, .stat, .secret, .flash, .alert, .notice, .why-not';
  const vw = document.documentElement.clientWidth;
  const out = [];
  const seen = new Set(); // elements already listed: their contents are not listed again
  const name = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
    (typeof el.className === 'string' && el.className ? '.' + el.className.trim().split(/\s+/).join('.') : '');
  const check = (el, r, what) => {
    if (el.parentElement && seen.has(el.parentElement)) { seen.add(el); return; }
    if (r.width === 0 && r.height === 0) return;
    const card = el.closest(cards);
    const c = card ? card.getBoundingClientRect() : {left: 0, right: vw};
    if (r.left < c.left - 0.5 || r.right > c.right + 0.5) {
      seen.add(el);
      out.push(what + ' reaches ' + Math.round(r.left) + '..' + Math.round(r.right) +
        ' outside ' + (card ? name(card) : 'the viewport') + ' ' + Math.round(c.left) + '..' + Math.round(c.right));
    }
  };
  // Hidden for the eye but kept for screen readers, as .visually-hidden does.
  const clipped = el => { for (let a = el; a; a = a.parentElement) if (getComputedStyle(a).clipPath === 'inset(50%)') return true; return false; };
  for (const el of document.body.querySelectorAll('*')) {
    if (el.closest('script, style') || clipped(el) || (el.matches('input') && getComputedStyle(el).opacity === '0')) continue;
    check(el, el.getBoundingClientRect(), name(el));
  }
  const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walk.nextNode(); n; n = walk.nextNode()) {
    if (!n.textContent.trim() || n.parentElement.closest('script, style') || clipped(n.parentElement)) continue;
    if (seen.has(n.parentElement)) continue;
    const range = document.createRange();
    range.selectNodeContents(n);
    check(n.parentElement, range.getBoundingClientRect(), 'text "' + n.textContent.trim().slice(0, 30) + '" in ' + name(n.parentElement));
  }
  return out;
})()`

// TestBrowserPhoneWidths: the console lives in desk sidebars, so every page
// (sign-in, the profile list, a card, candidates, search results, the
// unlink confirmation, each admin page, an error page) must fit 320, 360
// and 390 px: the page never scrolls sideways, and nothing reaches past
// its card (a table too wide for its panel would be cut off). Screenshots
// of each page at each width go with the others.
func TestBrowserPhoneWidths(t *testing.T) {
	t.Parallel()
	chromePath(t)
	e := MustEnv(t, envOptions{Actions: true})
	MustAPIToken(t, e.Store, "gladly-sidebar-production")
	tee, moveTo := mustActionPages(t, e)
	c := MustChrome(t, e, 180*time.Second)

	pages := []struct {
		name, path string
		marker     chromedp.CSS // what only this page shows
	}{
		{"sign-in", "/login", "#login-form"},
		{"profiles", "/profiles", "#profiles"},
		{"card", "/profiles/" + profAlex, "#card"},
		{"candidates", "/profiles/" + profSam, `#candidates .match`},
		{"search", "/profiles/" + profNoMatch + "?find=shopify%3A7923224739991", `#find-results .match`},
		{"unlink", "/profiles/" + profManual + "/unlink", "#confirm-unlink"},
		{"settings", "/admin/settings", "#settings-form"},
		{"users", "/admin/users", "#users"},
		{"tokens", "/admin/tokens", "#tokens"},
		{"audit", "/admin/audit", "#audit"},
		{"action-cancel", actionPath(profAlex, tee, rechargekit.ActionCancel), "#confirm-form"},
		{"action-move", actionPath(profAlex, tee, rechargekit.ActionSetNextChargeDate) + "?date=" + moveTo, "#confirm-form"},
		{"action-frequency", actionPath(profAlex, tee, rechargekit.ActionChangeFrequency), "#inputs"},
		{"action-audit", "/admin/audit/actions", "#action-audit"},
		{"not-found", "/no-such-page", ".error-page"},
	}
	c.signIn(adminEmail, adminPassword)
	for _, width := range []int64{320, 360, 390} {
		c.do(fmt.Sprintf("a %d px screen", width), chromedp.EmulateViewport(width, 740))
		for _, p := range pages {
			where := fmt.Sprintf("%s at %d px", p.name, width)
			c.do("open "+where, chromedp.Navigate(c.base+p.path), chromedp.WaitVisible(p.marker))
			c.imagesLoaded()
			if !c.eval(`document.documentElement.scrollWidth <= window.innerWidth`) {
				t.Errorf("%s scrolls sideways", where)
			}
			outside, err := chromedp.Run(c.ctx, chromedp.Evaluate[[]string](outsideJS))
			if err != nil {
				t.Fatalf("measure %s: %v", where, err)
			}
			for _, o := range outside {
				t.Errorf("%s: %s", where, o)
			}
			c.shoot(fmt.Sprintf("phone-%d-%s.png", width, p.name), "")
		}
	}
	c.checkProblems()
}
