package server_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/rechargekit/rechargekit/recharge/rechargetest"
	"github.com/rechargekit/rechargekit/server"
)

// readOnlyScopes are a Recharge token that may read what the card needs
// and change nothing.
var readOnlyScopes = []string{"read_customers", "read_subscriptions", "read_orders", "read_products"}

// TestSettingsSayWhatTheTokenCannotDo: beside the permission grid, the
// admin's Settings page lists the actions rechargekit's Recharge token may
// not take, grouped by the scope it lacks.
func TestSettingsSayWhatTheTokenCannotDo(t *testing.T) {
	t.Parallel()
	e := MustEnv(t, envOptions{Actions: true, Scopes: readOnlyScopes})
	admin := e.Browser(t).MustLogin(adminEmail, adminPassword)
	p := admin.Get("/admin/settings")
	wantStatus(t, "settings", p, http.StatusOK)
	mustContain(t, p.Body, `id="policy-grid"`, `id="token-limits"`,
		"<p>rechargekit's Recharge token cannot:</p>",
		"<strong>Cancel the subscription, reactivate the subscription, move the next charge, change the frequency, change the quantity</strong>. The Recharge token lacks the write_subscriptions scope, which the store&#39;s admin can grant in Recharge.",
		"<strong>Skip the next charge, unskip the skipped charge</strong>. The Recharge token lacks the write_orders scope, which the store&#39;s admin can grant in Recharge.")
	mustNotContain(t, p.Body, `id="token-limits-none"`, `id="token-limits-unknown"`)
}

// TestSettingsTokenAllowsEverything: a token with every scope rules out
// nothing, and the page says so in one line.
func TestSettingsTokenAllowsEverything(t *testing.T) {
	t.Parallel()
	e := MustEnv(t, envOptions{Actions: true})
	admin := e.Browser(t).MustLogin(adminEmail, adminPassword)
	p := admin.Get("/admin/settings")
	mustContain(t, p.Body, `<p class="muted" id="token-limits-none">The Recharge token allows every action.</p>`)
	mustNotContain(t, p.Body, "Recharge token cannot:", `id="token-limits-unknown"`)
}

// TestSettingsWhenRechargeCannotTell: when Recharge fails or hangs on the
// token's scopes, the Settings page still opens, within about the lookup
// deadline, with the grid and a line saying the token could not be
// checked.
func TestSettingsWhenRechargeCannotTell(t *testing.T) {
	t.Parallel()
	const deadline = 200 * time.Millisecond
	for _, tc := range []struct {
		name  string
		fault rechargetest.Faults
	}{
		{"down", rechargetest.Faults{Status: http.StatusServiceUnavailable, Route: "GET /token_information"}},
		{"hung", rechargetest.Faults{Delay: time.Hour, Route: "GET /token_information"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := MustEnv(t, envOptions{Actions: true, Config: func(cfg *server.Config) { cfg.LookupDeadline = deadline }})
			admin := e.Browser(t).MustLogin(adminEmail, adminPassword)
			e.Sim.SetFaults(tc.fault)
			start := time.Now()
			p := admin.Get("/admin/settings")
			if took := time.Since(start); took > 10*deadline {
				t.Errorf("settings took %v while Recharge is %s; want about the lookup deadline (%v)", took, tc.name, deadline)
			}
			wantStatus(t, "settings", p, http.StatusOK)
			mustContain(t, p.Body, `id="policy-grid"`,
				`<p class="muted" id="token-limits-unknown">Could not check the Recharge token's permissions right now.</p>`)
			mustNotContain(t, p.Body, "Recharge token cannot:", `id="token-limits-none"`)
		})
	}
}

// TestBrowserTokenLimitsFitPhones: the list of what a read-only token
// cannot do, its longest text, fits the Settings page at phone widths.
func TestBrowserTokenLimitsFitPhones(t *testing.T) {
	t.Parallel()
	chromePath(t)
	e := MustEnv(t, envOptions{Actions: true, Scopes: readOnlyScopes})
	c := MustChrome(t, e, 120*time.Second)
	c.signIn(adminEmail, adminPassword)
	for _, width := range []int64{320, 360} {
		where := fmt.Sprintf("settings at %d px", width)
		c.do(fmt.Sprintf("a %d px screen", width), chromedp.EmulateViewport(width, 740))
		c.do("open "+where, chromedp.Navigate(c.base+"/admin/settings"), chromedp.WaitVisible(chromedp.CSS(".token-limits__list")))
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
		c.shoot(fmt.Sprintf("phone-%d-settings-token-limits.png", width), "#policy")
	}
	c.checkProblems()
}
