package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/server"
)

// TestActionSubmitFlashOutlivesRequest: an action may take longer than
// the session check's deadline, which bounds the request's context, so
// that context may have ended by the time the action succeeds. The notice
// that says what was done is still left for the next page, not lost with
// the request. The request's context is cancelled while the action runs,
// which ends it as its passed deadline would.
func TestActionSubmitFlashOutlivesRequest(t *testing.T) {
	t.Parallel()
	hang := &hangUpActions{}
	e := MustEnv(t, envOptions{Actions: true, Config: func(cfg *server.Config) {
		hang.ActionService = cfg.Actions
		cfg.Actions = hang
		cfg.LookupDeadline = 2 * time.Second
	}})
	mustPairCustomer(t, e)
	agent := e.Browser(t).MustLogin(agentEmail, agentPassword)
	form := actionPath(profPair, pairTee, rechargekit.ActionSkip)
	v := confirmForm(t, agent.Get(form).Body)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hang.hangUp = cancel
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, e.Srv.URL+form, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", e.Srv.URL)
	base, _ := url.Parse(e.Srv.URL)
	for _, c := range agent.hc.Jar.Cookies(base) {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	e.Srv.Config.Handler.ServeHTTP(rec, req)

	to := "/profiles/" + profPair
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != to {
		t.Fatalf("submit = %d to %q, want 303 to %q\n%s", rec.Code, rec.Header().Get("Location"), to, rec.Body)
	}
	p := agent.Get(to)
	mustContain(t, p.Body, `class="flash`, "Skipped. The card below shows the next charge date.")
	if logs := e.Logs.String(); strings.Contains(logs, "could not leave a notice for the next page") {
		t.Errorf("the notice's write failed:\n%s", logs)
	}
}
