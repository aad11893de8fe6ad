package server_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestActionSubmitFlashOutlivesRequest: an action may take longer than
// the session check's deadline, which bounds the request's context, so
// that context may have ended by the time the action succeeds. The notice
// that says what was done is still left for the next page, not lost with
// the request. The request's context is cancelled while the action runs,
// which ends it as its passed deadline would.
func TestActionSubmitFlashOutlivesRequest(t *testing.T) {
	t.Parallel()
	h := newHangUpSubmit(t)
	e, agent, req := h.e, h.agent, h.req
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
