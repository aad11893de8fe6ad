package server_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/cards"
	"github.com/rechargekit/rechargekit/recharge/rechargetest"
	"github.com/rechargekit/rechargekit/server"
	"github.com/rechargekit/rechargekit/sqlite"
)

// mustFlashOnce checks that an action's answer p redirected to the clean
// URL to (no ?msg= or any other query), that the page there shows the
// notice want, and that a reload shows no notice any more.
func mustFlashOnce(tb testing.TB, b *browser, what string, p page, to, want string) {
	tb.Helper()
	if p.Status != http.StatusSeeOther || p.Resp.Header.Get("Location") != to {
		tb.Fatalf("%s = %d to %q, want 303 to %q\n%s", what, p.Status, p.Resp.Header.Get("Location"), to, p.Body)
	}
	first := b.Get(to)
	if first.Status != http.StatusOK || !strings.Contains(first.Body, `class="flash`) || !strings.Contains(first.Body, want) {
		tb.Errorf("%s: the page after the redirect = %d without the notice %q:\n%s", what, first.Status, want, first.Body)
	}
	if again := b.Get(to); strings.Contains(again.Body, `class="flash`) {
		tb.Errorf("%s: a reload shows the notice again:\n%s", what, again.Body)
	}
}

// At returns a browser that shares b's cookies but talks to the server at
// base: a browser whose requests a load balancer sends to another replica.
// Cookies do not depend on the port, so the session goes along.
func (b *browser) At(base string) *browser {
	return &browser{t: b.t, base: base, hc: b.hc, Header: b.Header}
}

// Replica starts a second console on the env's database, through a store
// of its own, as another replica (or process) behind the same load
// balancer has.
func (e *env) Replica(tb testing.TB) *httptest.Server {
	tb.Helper()
	store, err := sqlite.Open(context.Background(), e.DBPath)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { store.Close() })
	cfg := e.Config
	cfg.Store = store
	cfg.Profiles = &cards.Profiles{Cards: e.Profiles.Cards, Store: store, Logger: discardLogger()}
	srv := httptest.NewServer(server.New(cfg))
	tb.Cleanup(srv.Close)
	return srv
}

// TestFlashFromURLIsIgnored is the finding of issue 10 (item 10): a link
// with ?msg= made a page claim what did not happen ("Linked." on a
// profile that is not linked), and a reload repeated it. Notices come
// from the session only.
func TestFlashFromURLIsIgnored(t *testing.T) {
	t.Parallel()
	e := MustEnv(t)
	b := e.Browser(t).MustLogin(adminEmail, adminPassword)
	for _, path := range []string{
		"/profiles/" + profNoMatch + "?msg=linked",
		"/profiles/" + profManual + "?msg=unlinked",
		"/profiles?msg=linked",
		"/admin/settings?msg=settings_saved",
		"/admin/users?msg=user_deleted",
		"/admin/tokens?msg=token_revoked",
	} {
		p := b.Get(path)
		if p.Status != http.StatusOK {
			t.Errorf("GET %s = %d, want 200", path, p.Status)
		}
		mustNotContain(t, p.Body, `class="flash`, "Linked.", "Unlinked.", "Settings saved.", "User deleted.", "API token revoked.")
	}
}

// TestFlashOnceAcrossReplicas: a notice left by the replica that linked is
// shown by the replica that serves the page after the redirect, once; a
// reload on either replica shows it no more.
func TestFlashOnceAcrossReplicas(t *testing.T) {
	t.Parallel()
	e := MustEnv(t)
	other := e.Replica(t)
	a := e.Browser(t).MustLogin(agentEmail, agentPassword)
	b := a.At(other.URL)
	samURL := "/profiles/" + profSam

	p := a.PostWithCSRF(samURL, samURL+"/link", url.Values{"customer_id": {fmt.Sprint(rechargetest.DemoSamTOrgID)}})
	if p.Status != http.StatusSeeOther || p.Resp.Header.Get("Location") != samURL {
		t.Fatalf("link = %d to %q, want 303 to %q", p.Status, p.Resp.Header.Get("Location"), samURL)
	}
	mustContain(t, b.Get(samURL).Body, "Linked. The Subscription card is below.", "Linked by hand")
	for name, br := range map[string]*browser{"the replica that showed it": b, "the replica that linked": a} {
		if p := br.Get(samURL); strings.Contains(p.Body, `class="flash`) {
			t.Errorf("a reload on %s shows the notice again:\n%s", name, p.Body)
		}
	}
	// The notice belongs to the session that acted: another agent's
	// session, on either replica, never sees it.
	c := e.Browser(t).MustLogin(agentEmail, agentPassword)
	p = a.PostWithCSRF(samURL+"/unlink", samURL+"/unlink", nil)
	if p.Status != http.StatusSeeOther {
		t.Fatalf("unlink = %d", p.Status)
	}
	mustNotContain(t, c.Get(samURL).Body, `class="flash`)
	mustNotContain(t, c.At(other.URL).Get(samURL).Body, `class="flash`)
	mustContain(t, b.Get(samURL).Body, "Unlinked. From now on this profile is only linked by hand.")
}

// flashFailingStore is a store whose flash writes fail, as a database that
// stops answering between an action and its notice does.
type flashFailingStore struct {
	rechargekit.Store
}

func (flashFailingStore) SetSessionFlash(context.Context, string, string, time.Time) error {
	return rechargekit.WrapError(rechargekit.EUPSTREAM, "The database is not answering right now.", errors.New("flash: timeout"))
}

// TestFlashWriteFailureKeepsTheAction: the link is made and the browser
// goes to the profile; only the notice is missing, and the log says why.
func TestFlashWriteFailureKeepsTheAction(t *testing.T) {
	t.Parallel()
	e := MustEnv(t, envOptions{Config: func(c *server.Config) { c.Store = flashFailingStore{c.Store} }})
	b := e.Browser(t).MustLogin(agentEmail, agentPassword)
	samURL := "/profiles/" + profSam
	p := b.PostWithCSRF(samURL, samURL+"/link", url.Values{"customer_id": {fmt.Sprint(rechargetest.DemoSamTOrgID)}})
	if p.Status != http.StatusSeeOther || p.Resp.Header.Get("Location") != samURL {
		t.Fatalf("link with a failing flash write = %d to %q, want 303 to %q\n%s", p.Status, p.Resp.Header.Get("Location"), samURL, p.Body)
	}
	if l, err := e.Store.Link(context.Background(), profSam); err != nil || l.CustomerID != rechargetest.DemoSamTOrgID {
		t.Errorf("stored link = %+v, %v; want the link made", l, err)
	}
	page := b.Get(samURL)
	mustContain(t, page.Body, "Linked by hand")
	mustNotContain(t, page.Body, `class="flash`)
	if logs := e.Logs.String(); !strings.Contains(logs, "could not leave a notice for the next page") {
		t.Errorf("the failing flash write is not logged:\n%s", logs)
	}
}
