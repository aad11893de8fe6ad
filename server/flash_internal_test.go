package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rechargekit/rechargekit"
)

// mustFlashConsole returns a console over a fresh SQLite store and a
// signed-in session of one agent in it.
func mustFlashConsole(t *testing.T) (*console, *auth) {
	t.Helper()
	clk := NewClock(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC))
	c, _ := mustConsole(t, clk, map[string]string{"agent@example.com": "agent password 1234"}, nil)
	ctx := context.Background()
	u, err := c.cfg.Store.UserByEmail(ctx, "agent@example.com")
	if err != nil {
		t.Fatal(err)
	}
	sess := &rechargekit.Session{TokenHash: hashToken("token"), UserID: u.ID, CSRFToken: "csrf", CreatedAt: clk.Now(), ExpiresAt: clk.Now().Add(time.Hour)}
	if err := c.cfg.Store.CreateSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	return c, &auth{User: u, Session: sess}
}

// storedFlash returns the notice the store keeps for the session.
func storedFlash(t *testing.T, c *console, s *auth) string {
	t.Helper()
	sess, err := c.cfg.Store.Session(context.Background(), s.Session.TokenHash, c.cfg.Now())
	if err != nil {
		t.Fatal(err)
	}
	return sess.Flash
}

// TestFlashOnlyKnownKeys: a key that names no notice is neither stored nor
// shown, and one already stored (by an older version, say) is taken
// without putting its text on the page.
func TestFlashOnlyKnownKeys(t *testing.T) {
	t.Parallel()
	c, s := mustFlashConsole(t)
	ctx := context.Background()
	r := httptest.NewRequest(http.MethodGet, "/profiles", nil)

	c.setFlash(r, s, "<b>gone</b>")
	if got := storedFlash(t, c, s); got != "" {
		t.Errorf("an unknown key was stored: %q", got)
	}

	if err := c.cfg.Store.SetSessionFlash(ctx, s.Session.TokenHash, "retired_key", c.cfg.Now()); err != nil {
		t.Fatal(err)
	}
	s.Session.Flash = "retired_key" // as Session read it
	rec := httptest.NewRecorder()
	c.render(rec, r, http.StatusOK, "error", withAuth(&pageData{Title: "Page", Data: errorData{Status: 200, Message: "m"}}, s))
	if strings.Contains(rec.Body.String(), `class="flash`) || strings.Contains(rec.Body.String(), "retired_key") {
		t.Errorf("a stored unknown key shows:\n%s", rec.Body)
	}
	if got := storedFlash(t, c, s); got != "" {
		t.Errorf("a stored unknown key was not taken: %q", got)
	}
}

// TestFlashTakenByGETNotHEAD: a page rendered for a GET takes the waiting
// notice; one rendered for a HEAD, which shows nothing, leaves it.
func TestFlashTakenByGETNotHEAD(t *testing.T) {
	t.Parallel()
	c, s := mustFlashConsole(t)
	c.setFlash(httptest.NewRequest(http.MethodPost, "/admin/settings", nil), s, "settings_saved")
	s.Session.Flash = storedFlash(t, c, s)
	page := func(method string) string {
		rec := httptest.NewRecorder()
		c.render(rec, httptest.NewRequest(method, "/profiles", nil), http.StatusOK, "error",
			withAuth(&pageData{Title: "Page", Data: errorData{Status: 200, Message: "m"}}, s))
		return rec.Body.String()
	}
	if body := page(http.MethodHead); strings.Contains(body, "Settings saved.") || storedFlash(t, c, s) != "settings_saved" {
		t.Errorf("a HEAD took the notice (stored now %q)", storedFlash(t, c, s))
	}
	if body := page(http.MethodGet); !strings.Contains(body, "Settings saved.") {
		t.Errorf("the GET after it lacks the notice:\n%s", body)
	}
	if got := storedFlash(t, c, s); got != "" {
		t.Errorf("the notice is still stored after the GET showed it: %q", got)
	}
}
