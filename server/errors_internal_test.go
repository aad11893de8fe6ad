package server

import (
	"bytes"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rechargekit/rechargekit"
)

// newLoggedConsole returns a console without a store (no request in these
// tests carries a session) whose log lands in the returned buffer.
func newLoggedConsole(t *testing.T) (*console, *bytes.Buffer) {
	t.Helper()
	var logs bytes.Buffer
	return newConsole(Config{Logger: slog.New(slog.NewJSONHandler(&logs, nil)), FrameAncestors: "'none'"}), &logs
}

// TestRenderError checks the console's one error renderer: the status
// from the code table, the domain message for known codes, a generic
// sentence for internal errors (whose detail is logged, never shown), and
// a refused Recharge token logged as a configuration error.
func TestRenderError(t *testing.T) {
	t.Parallel()
	const generic = "Something went wrong on our side. Try again; if it keeps happening, tell an admin."
	for _, tc := range []struct {
		name       string
		title      string
		err        error
		status     int
		wantTitle  string
		wantShown  string
		wantLogged string // "" for no error line
	}{
		{"invalid", "", rechargekit.Errorf(rechargekit.EINVALID, "That is not a valid id."), 400, "Not a valid request", "That is not a valid id.", ""},
		{"not found with the page's title", "Profile not found", noSuchProfile(rechargekit.Errorf(rechargekit.ENOTFOUND, "No profile has the id \"x\".")), 404,
			"Profile not found", "There is no desk profile with this id. It may not have been sent to rechargekit yet.", ""},
		{"an invalid id names no profile", "Profile not found", noSuchProfile(rechargekit.Errorf(rechargekit.EINVALID, "The profile id is too long.")), 404,
			"Profile not found", "There is no desk profile with this id.", ""},
		{"conflict", "", rechargekit.Errorf(rechargekit.ECONFLICT, "This profile is already linked."), 409, "Conflict", "This profile is already linked.", ""},
		{"upstream through a wrap", "", fmt.Errorf("server: open: %w", rechargekit.Errorf(rechargekit.EUPSTREAM, "Recharge is unavailable.")), 503,
			"Recharge is unavailable", "Recharge is unavailable.", ""},
		{"refused token", "", rechargekit.UpstreamRefused("Recharge refused rechargekit's API token.", errors.New("recharge: 401")), 503,
			"Recharge is unavailable", "Recharge refused rechargekit's API token.", "check RECHARGE_API_TOKEN"},
		{"internal", "", rechargekit.WrapError(rechargekit.EINTERNAL, "db row 7 exploded", errors.New("secret detail")), 500,
			"Something went wrong", generic, "secret detail"},
		{"plain error", "", errors.New("pq: connection to 10.0.0.5 refused"), 500, "Something went wrong", generic, "10.0.0.5"},
		{"unknown code", "Ignored", &rechargekit.Error{Code: "weird", Message: "leak me"}, 500, "Something went wrong", generic, "leak me"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, logs := newLoggedConsole(t)
			rec := httptest.NewRecorder()
			c.renderError(rec, httptest.NewRequest(http.MethodGet, "/profiles/x", nil), nil, tc.title, tc.err)
			body := html.UnescapeString(rec.Body.String())
			if rec.Code != tc.status {
				t.Errorf("status %d, want %d", rec.Code, tc.status)
			}
			if !strings.Contains(body, "<h1>"+tc.wantTitle+"</h1>") || !strings.Contains(body, tc.wantShown) {
				t.Errorf("page lacks title %q or message %q:\n%s", tc.wantTitle, tc.wantShown, body)
			}
			for _, hidden := range []string{"secret detail", "10.0.0.5", "leak me", "db row 7"} {
				if strings.Contains(body, hidden) {
					t.Errorf("page shows internal detail %q", hidden)
				}
			}
			if tc.wantLogged == "" && strings.Contains(logs.String(), `"level":"ERROR"`) {
				t.Errorf("logged an error for a %s:\n%s", tc.name, logs)
			}
			if tc.wantLogged != "" && !strings.Contains(logs.String(), tc.wantLogged) {
				t.Errorf("log lacks %q:\n%s", tc.wantLogged, logs)
			}
		})
	}
}

// TestRedirectAfter checks that an action's outcomes named in its flash
// table leave that notice in the session and redirect to the clean URL,
// and any other error is rendered and leaves none.
func TestRedirectAfter(t *testing.T) {
	t.Parallel()
	fl := flashKeys{"": "user_deleted", rechargekit.ENOTFOUND: "user_missing"}
	for _, tc := range []struct {
		name     string
		err      error
		status   int
		location string
		flash    string
	}{
		{"success", nil, http.StatusSeeOther, "/admin/users", "user_deleted"},
		{"named code through a wrap", fmt.Errorf("delete: %w", rechargekit.Errorf(rechargekit.ENOTFOUND, "No user has the id 4.")), http.StatusSeeOther, "/admin/users", "user_missing"},
		{"other code", rechargekit.Errorf(rechargekit.EINVALID, "That is not valid."), http.StatusBadRequest, "", ""},
		{"internal", errors.New("boom"), http.StatusInternalServerError, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, s := mustFlashConsole(t)
			rec := httptest.NewRecorder()
			c.redirectAfter(rec, httptest.NewRequest(http.MethodPost, "/admin/users/4/delete", nil), s, "/admin/users", tc.err, fl)
			if rec.Code != tc.status || rec.Header().Get("Location") != tc.location {
				t.Errorf("%d to %q, want %d to %q", rec.Code, rec.Header().Get("Location"), tc.status, tc.location)
			}
			if got := storedFlash(t, c, s); got != tc.flash {
				t.Errorf("the session's notice = %q, want %q", got, tc.flash)
			}
		})
	}
}

// TestFormProblem checks which errors a form shows beside itself.
func TestFormProblem(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		err      error
		conflict string
		status   int
		msg      string
		ok       bool
	}{
		{"invalid shows the domain message", rechargekit.Errorf(rechargekit.EINVALID, "The email is required."), "Taken.", 400, "The email is required.", true},
		{"conflict in the form's words", rechargekit.Errorf(rechargekit.ECONFLICT, "a user with email \"x\" already exists"), "There is already a user with this email.", 409, "There is already a user with this email.", true},
		{"conflict in the store's words", rechargekit.Errorf(rechargekit.ECONFLICT, "That name is taken."), "", 409, "That name is taken.", true},
		{"not the form's problem", rechargekit.Errorf(rechargekit.ENOTFOUND, "Gone."), "", 0, "", false},
		{"internal", errors.New("boom"), "", 0, "", false},
	} {
		status, msg, ok := formProblem(tc.err, tc.conflict)
		if status != tc.status || msg != tc.msg || ok != tc.ok {
			t.Errorf("%s: formProblem = %d %q %v, want %d %q %v", tc.name, status, msg, ok, tc.status, tc.msg, tc.ok)
		}
	}
}

// TestAdminPagesCleanNames checks that names an admin typed are shown
// cleaned like other untrusted text: a right-to-left override or other
// bidirectional control in a token name or a user's email (stored before
// such names were refused, or by another tool) never reaches the page.
func TestAdminPagesCleanNames(t *testing.T) {
	t.Parallel()
	const evil = "desk\u202egnp.exe\u2066x\u2069\u200f"
	c, _ := newLoggedConsole(t)
	admin := &rechargekit.User{ID: 1, Email: "admin@example.com", Role: rechargekit.RoleAdmin}
	for _, tc := range []struct {
		page string
		data any
	}{
		{"tokens", tokensData{Tokens: []*rechargekit.APIToken{{ID: 7, Name: evil}}, Created: &rechargekit.APIToken{ID: 7, Name: evil}, Token: "rk_x"}},
		{"users", usersData{Users: []*rechargekit.User{admin, {ID: 2, Email: "a" + evil + "@example.com", Role: rechargekit.RoleAgent}},
			Self: 1, Created: &rechargekit.User{ID: 2, Email: "a" + evil + "@example.com", Role: rechargekit.RoleAgent}}},
	} {
		rec := httptest.NewRecorder()
		c.render(rec, httptest.NewRequest(http.MethodGet, "/admin/"+tc.page, nil), http.StatusOK, tc.page,
			&pageData{Title: tc.page, User: admin, CSRF: "csrf", Data: tc.data})
		body := rec.Body.String()
		if rec.Code != http.StatusOK || !strings.Contains(body, "deskgnp.exex") {
			t.Errorf("%s page: %d, the cleaned name is missing:\n%s", tc.page, rec.Code, body)
		}
		for _, r := range []rune{'\u202e', '\u2066', '\u2069', '\u200f'} {
			if strings.ContainsRune(body, r) {
				t.Errorf("%s page shows %U raw", tc.page, r)
			}
		}
	}
}
