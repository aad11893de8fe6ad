package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/recharge"
	"github.com/rechargekit/rechargekit/recharge/rechargetest"
)

// demoPrinted returns what the demo printed that a test needs: the
// agent's password and the simulator's URL.
func demoPrinted(t *testing.T, out string) (agentPassword, simURL string) {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 4 && f[0] == "agent" && f[2] == "password":
			agentPassword = f[3]
		case len(f) >= 3 && f[0] == "Recharge" && f[1] == "(sim)":
			simURL = f[2]
		}
	}
	if agentPassword == "" || simURL == "" {
		t.Fatalf("the demo did not print the agent's password and the simulator's URL:\n%s", out)
	}
	return agentPassword, simURL
}

// shipment returns the console page's next shipment of the charge: its
// <article> element.
func shipment(t *testing.T, page string, chargeID int64) string {
	t.Helper()
	_, rest, ok := strings.Cut(page, `<article class="shipment `)
	for ok {
		var block string
		block, _, _ = strings.Cut(rest, "</article>")
		if strings.Contains(block, `data-charge-id="`+strconv.FormatInt(chargeID, 10)+`"`) {
			return block
		}
		_, rest, ok = strings.Cut(rest, `<article class="shipment `)
	}
	t.Fatalf("the page shows no next shipment of charge %d", chargeID)
	return ""
}

// TestDemoWholePicture checks the demo's profiles for issue 12's cases: the
// printed list names them, Riley Brooks' page shows the failing payment
// with its retry date, and Jamie Park's shows the next shipment with its
// discount, its one-time product and the line skipped on it. What the page
// must show is read from the demo's own simulator, as Recharge has it.
func TestDemoWholePicture(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	base, out := startServer(t, nil, "demo", "--addr", "127.0.0.1:0")
	for _, want := range []string{
		base + "/profiles/riley-brooks   links itself on open: a payment failing (card declined twice), its retry date, in dunning",
		base + "/profiles/jamie-park     linked by hand: a next shipment with a discount, a one-time product and a skipped line",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	password, simURL := demoPrinted(t, out.String())
	rc := recharge.NewClient(rechargetest.DefaultToken, recharge.WithBaseURL(simURL))
	charges := func(t *testing.T, customerID int64, status string) []*recharge.Charge {
		t.Helper()
		cs, _, err := rc.Charges.List(ctx, &recharge.ChargeListOptions{CustomerID: customerID, Status: status})
		if err != nil {
			t.Fatal(err)
		}
		return cs
	}

	t.Run("riley-brooks", func(t *testing.T) {
		t.Parallel()
		failing := charges(t, rechargetest.DemoFailingPaymentID, rechargekit.ChargeError)
		if len(failing) != 1 || failing[0].RetryDate.UTCPtr() == nil {
			t.Fatalf("Riley Brooks has %d charges in error, want 1 with a retry date", len(failing))
		}
		f := failing[0]
		retry := f.RetryDate.UTCPtr().UTC()
		page := consoleGet(t, base, demoAgentEmail, password, "/profiles/riley-brooks")
		for _, want := range []string{
			"Linked automatically", strconv.FormatInt(rechargetest.DemoFailingPaymentID, 10),
			`id="dunning"`, "1 charge has failed.", "The card was declined.", "CARD_DECLINED",
			"<dt>Attempts</dt><dd>" + strconv.Itoa(int(*f.ChargeAttempts)) + "</dd>",
			`<dt>Next retry</dt><dd><time datetime="` + retry.Format(time.RFC3339) + `"`,
			retry.Format("Jan 2, 2006") + "</time>",
		} {
			if !strings.Contains(page, want) {
				t.Errorf("Riley Brooks' page lacks %q", want)
			}
		}
		// The failed charge is also the shipment waiting for its retry.
		if s := shipment(t, page, int64(f.ID)); !strings.Contains(s, `Next retry <time datetime="`+retry.Format(time.RFC3339)+`"`) ||
			!strings.Contains(s, "Vitamin D3 Gummies") {
			t.Errorf("the failed shipment does not show its retry date and line:\n%s", s)
		}
	})

	t.Run("jamie-park", func(t *testing.T) {
		t.Parallel()
		queued := charges(t, rechargetest.DemoNextShipmentID, rechargekit.ChargeQueued)
		skipped := charges(t, rechargetest.DemoNextShipmentID, rechargekit.ChargeSkipped)
		if len(queued) == 0 || len(skipped) != 1 {
			t.Fatalf("Jamie Park has %d queued and %d skipped charges, want some and 1", len(queued), len(skipped))
		}
		var next *recharge.Charge
		for _, c := range queued {
			if c.ScheduledAt.String() == skipped[0].ScheduledAt.String() && c.AddressID == skipped[0].AddressID {
				next = c
			}
		}
		if next == nil {
			t.Fatalf("no queued charge beside the skipped one of %s", skipped[0].ScheduledAt)
		}
		page := consoleGet(t, base, demoAgentEmail, password, "/profiles/jamie-park")
		s := shipment(t, page, int64(next.ID))
		for _, want := range []string{
			`datetime="` + next.ScheduledAt.String() + `"`,
			"Organic Coffee Beans", "Green Tea Sampler",
			`Razor Blade Refills <span class="tag">One-time</span>`,
			`<li class="line line--skipped"`, `Merino Wool Socks 3-Pack <span class="tag tag--skipped">Skipped</span>`,
			"<dt>Discount</dt><dd>WELCOME10 (10.00% off)",
			"<dt>Total</dt><dd>" + string(next.TotalPrice) + " USD</dd>",
			"640 Pine Street",
		} {
			if !strings.Contains(s, want) {
				t.Errorf("Jamie Park's next shipment lacks %q:\n%s", want, s)
			}
		}
		if !strings.Contains(page, "Skipped in the next shipment") {
			t.Error("the skipped subscription does not say it is skipped in the next shipment")
		}
		if !strings.Contains(page, "Expires soon") {
			t.Error("the card expiring next month is not flagged")
		}
	})
}

// TestDemoAdminLinks: the demo reads RECHARGE_ADMIN_URL as serve does, so
// its cards carry "Open in Recharge" links to the admin named (none
// without it), and refuses a value serve would refuse.
func TestDemoAdminLinks(t *testing.T) {
	t.Parallel()
	const admin = "https://example-store-sp.admin.rechargeapps.com"
	base, out := startServer(t, map[string]string{"RECHARGE_ADMIN_URL": admin}, "demo", "--addr", "127.0.0.1:0")
	password, _ := demoPrinted(t, out.String())
	page := consoleGet(t, base, demoAgentEmail, password, "/profiles/riley-brooks")
	if !strings.Contains(page, `href="`+admin+`/`) || !strings.Contains(page, "Open in Recharge") {
		t.Errorf("Riley Brooks' page has no Open in Recharge link to %s", admin)
	}

	code, _, stderr := run(t, map[string]string{"RECHARGE_ADMIN_URL": "http://example-store-sp.admin.rechargeapps.com"}, "demo", "--addr", "127.0.0.1:0")
	if code != 2 || !strings.Contains(stderr, "RECHARGE_ADMIN_URL must be the https base URL") {
		t.Errorf("an http admin URL: exit %d, stderr %q; want 2 and the setting named", code, stderr)
	}
}

// demoLine returns the demo's printed line that contains want, trimmed.
func demoLine(t *testing.T, out, want string) string {
	t.Helper()
	for line := range strings.Lines(out) {
		if strings.Contains(line, want) {
			return strings.TrimSpace(line)
		}
	}
	t.Fatalf("the demo printed no line with %q:\n%s", want, out)
	return ""
}

// simStats reads the demo's simulator's request counts by route.
func simStats(t *testing.T, simURL string) map[string]int {
	t.Helper()
	resp, err := http.Get(simURL + "/__sim/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st rechargetest.Stats
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st.ByRoute
}

// TestDemoMirrorSearches checks issue 13's demo: it starts with the demo
// store mirrored (one line says so, with its record count), and what it
// prints to try finds Alex Rivera by 555-123-4567, by "rivera" and by his
// Shopify id in the console's search and the JSON API, and by that phone
// in a Gladly auto-link suggestion; the pasted detailed lookup reads his
// card from the mirror, with no Recharge call.
func TestDemoMirrorSearches(t *testing.T) {
	t.Parallel()
	base, stdout := startServer(t, nil, "demo", "--addr", "127.0.0.1:0", "--signing-key", "demo-mirror-key")
	out := stdout.String()
	password, simURL := demoPrinted(t, out)
	alex := strconv.FormatInt(rechargetest.DemoAlexRiveraID, 10)
	if line := demoLine(t, out, "Mirror  "); !strings.HasPrefix(line, "Mirror           ready: ") || !strings.Contains(line, " customers, ") {
		t.Errorf("the demo's mirror line: %q", line)
	}

	shopify := demoShopifyID(rechargetest.DemoAlexRiveraID)
	if shopify == "" {
		t.Fatal("Alex Rivera has no Shopify id in the demo store")
	}
	for _, q := range []string{"555-123-4567", "rivera", shopify} {
		t.Run("console "+q, func(t *testing.T) {
			t.Parallel()
			line := demoLine(t, out, "?find="+url.QueryEscape(q)+"#search")
			page := consoleGet(t, base, demoAgentEmail, password, strings.TrimPrefix(line, base))
			_, results, ok := strings.Cut(page, `id="find-results"`)
			if !ok || !strings.Contains(results, alex) || !strings.Contains(results, "Alex") {
				t.Errorf("searching %q finds no Alex Rivera (%s)", q, alex)
			}
		})
	}

	t.Run("api", func(t *testing.T) {
		t.Parallel()
		line := demoLine(t, out, "/api/search?q=")
		f := strings.Fields(line) // curl -H 'Authorization: Bearer TOKEN' 'URL'
		if len(f) != 6 {
			t.Fatalf("not a curl line: %q", line)
		}
		req, _ := http.NewRequest(http.MethodGet, strings.Trim(f[5], "'"), nil)
		req.Header.Set("Authorization", "Bearer "+strings.TrimSuffix(f[4], "'"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), alex) {
			t.Errorf("GET /api/search = %d: %s", resp.StatusCode, body)
		}
	})

	t.Run("gladly", func(t *testing.T) {
		t.Parallel()
		line := demoLine(t, out, "--phone 555-123-4567")
		args := strings.Fields(line)[1:] // without the program's name
		code, _, stderr := run(t, nil, args...)
		if code != 0 || !strings.Contains(stderr, "Gladly would auto-link the profile to Recharge customer "+alex) {
			t.Errorf("gladly-lookup --phone: exit %d:\n%s", code, stderr)
		}
	})

	t.Run("detailed from the mirror", func(t *testing.T) {
		t.Parallel()
		line := demoLine(t, out, "--email alex.rivera@example.com --detailed")
		before := simStats(t, simURL)["GET /customers/{id}"]
		code, stdout, stderr := run(t, nil, strings.Fields(line)[1:]...)
		if code != 0 || !strings.Contains(stdout, "Dog Lovers T-Shirt") {
			t.Fatalf("the pasted gladly-lookup: exit %d:\n%s", code, stderr)
		}
		if after := simStats(t, simURL)["GET /customers/{id}"]; after != before {
			t.Errorf("Alex's detailed card read Recharge's customer %d times: it should come from the mirror", after-before)
		}
	})
}

// TestDemoMirrorOff checks that RECHARGE_MIRROR=off runs the demo as
// before the mirror: it says so, mirrors nothing and offers no searches
// that need the mirror.
func TestDemoMirrorOff(t *testing.T) {
	t.Parallel()
	base, stdout := startServer(t, map[string]string{"RECHARGE_MIRROR": "off"}, "demo", "--addr", "127.0.0.1:0")
	out := stdout.String()
	if line := demoLine(t, out, "Mirror  "); line != "Mirror           off (RECHARGE_MIRROR=off): every card is read from the simulated Recharge" {
		t.Errorf("the demo's mirror line: %q", line)
	}
	if strings.Contains(out, "?find=") || strings.Contains(out, "--phone") {
		t.Errorf("the demo offers searches that need the mirror:\n%s", out)
	}
	if status, m := readyzChecks(t, base); status != "ready" || m["state"] != rechargekit.MirrorOff {
		t.Errorf("/readyz: %s, mirror %v", status, m)
	}
}
