package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/server"
)

// hangUpActions is an ActionService that, when Do is called, first runs
// hangUp (the agent's browser going away mid-submit) and then records
// whether the context Do was given is still live, before doing the action.
type hangUpActions struct {
	rechargekit.ActionService
	hangUp func()

	mu       sync.Mutex
	calls    int
	ctxErr   error
	deadline time.Duration // how long Do's context had left when it was called
}

func (h *hangUpActions) Do(ctx context.Context, t rechargekit.ActionTarget, actor rechargekit.Actor, req *rechargekit.ActionRequest, key string) (*rechargekit.ActionResult, error) {
	start := time.Now()
	h.hangUp()
	h.mu.Lock()
	h.calls++
	h.ctxErr = ctx.Err()
	if dl, ok := ctx.Deadline(); ok {
		h.deadline = dl.Sub(start)
	}
	h.mu.Unlock()
	return h.ActionService.Do(ctx, t, actor, req, key)
}

// hangUpSubmit is a console skip submit served in-process, so that the
// request's context is the test's: hang.hangUp cancels it when the action
// starts, which is exactly what the server sees when the browser goes
// away (or when the session check's deadline passes). The lookup deadline
// is far shorter than an action's.
type hangUpSubmit struct {
	e    *env
	hang *hangUpActions
	req  *http.Request
	// agent is the signed-in browser that rendered the form.
	agent *browser
}

func newHangUpSubmit(t *testing.T) *hangUpSubmit {
	t.Helper()
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
	t.Cleanup(cancel)
	hang.hangUp = cancel
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, e.Srv.URL+form, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", e.Srv.URL)
	base, _ := url.Parse(e.Srv.URL)
	for _, c := range agent.hc.Jar.Cookies(base) {
		req.AddCookie(c)
	}
	return &hangUpSubmit{e: e, hang: hang, req: req, agent: agent}
}

// TestActionSubmitSurvivesHangUp: once a console submit reaches the
// action, the agent's browser going away (a closed tab, a navigation) does
// not cancel the Recharge write half-way, and the write has the action's
// own deadline rather than a lookup's, as on the JSON API: the action is
// applied once and recorded done, not cut off and recorded as failed
// ("may or may not have applied").
func TestActionSubmitSurvivesHangUp(t *testing.T) {
	t.Parallel()
	h := newHangUpSubmit(t)
	e, hang, req := h.e, h.hang, h.req
	writes := e.writes()
	e.Srv.Config.Handler.ServeHTTP(httptest.NewRecorder(), req)

	hang.mu.Lock()
	calls, ctxErr, left := hang.calls, hang.ctxErr, hang.deadline
	hang.mu.Unlock()
	if calls != 1 {
		t.Fatalf("Do called %d times, want 1", calls)
	}
	if ctxErr != nil {
		t.Errorf("the action's context ended with the browser's request: %v", ctxErr)
	}
	if left <= e.Config.LookupDeadline {
		t.Errorf("the action had %s left, no more than a lookup's deadline (%s)", left, e.Config.LookupDeadline)
	}
	if got := e.writes() - writes; got != 1 {
		t.Errorf("Recharge writes = %d, want 1", got)
	}
	recs, err := e.Actions.Log.ActionRecords(context.Background(), rechargekit.ActionFilter{})
	if err != nil || len(recs) != 1 {
		t.Fatalf("audit = %v, %v", recs, err)
	}
	if recs[0].Outcome != rechargekit.OutcomeDone {
		t.Errorf("outcome = %s (%s), want done", recs[0].Outcome, recs[0].Message)
	}
}
