package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/server"
)

// dbDownSentence is what the SQL stores say of a database that does not
// answer.
const dbDownSentence = "The database is not answering right now."

// hungStore is a store whose database hangs while hang is set: each call
// the console makes to authenticate a request or sign someone in waits
// until its context ends, then fails with EUPSTREAM as the SQL stores do
// (postgres.TestHungDatabase). A call whose context has no deadline waits
// hungFor, standing for the store's own bound, so that a request the
// server did not bound shows in the time it took.
type hungStore struct {
	rechargekit.Store
	hang     atomic.Bool
	sessions atomic.Int64 // Session calls while hung
}

const hungFor = 10 * time.Second

func (s *hungStore) wait(ctx context.Context) error {
	if !s.hang.Load() {
		return nil
	}
	t := time.NewTimer(hungFor)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
	return rechargekit.WrapError(rechargekit.EUPSTREAM, dbDownSentence, context.DeadlineExceeded)
}

func (s *hungStore) Session(ctx context.Context, hash string, now time.Time) (*rechargekit.Session, error) {
	if s.hang.Load() {
		s.sessions.Add(1)
	}
	if err := s.wait(ctx); err != nil {
		return nil, err
	}
	return s.Store.Session(ctx, hash, now)
}

func (s *hungStore) UserByEmail(ctx context.Context, email string) (*rechargekit.User, error) {
	if err := s.wait(ctx); err != nil {
		return nil, err
	}
	return s.Store.UserByEmail(ctx, email)
}

func (s *hungStore) APITokenByHash(ctx context.Context, hash string) (*rechargekit.APIToken, error) {
	if err := s.wait(ctx); err != nil {
		return nil, err
	}
	return s.Store.APITokenByHash(ctx, hash)
}

// TestDatabaseHangs: while the store hangs, a signed-in agent's pages, a
// sign-in and the JSON API each answer within about the lookup deadline
// with a 503 that says the database is not answering: an error page (never
// a redirect to sign-in, never a 500, and the session is asked for once),
// the sign-in form again, and {"error":{"code":"upstream"}}. Pages that
// need no session stay bounded too. Once the store answers, the session
// still holds.
func TestDatabaseHangs(t *testing.T) {
	t.Parallel()
	const deadline = 200 * time.Millisecond
	bound := 10 * deadline // generous for a busy machine, and well under hungFor
	var hs *hungStore
	e := MustEnv(t, envOptions{Config: func(cfg *server.Config) {
		hs = &hungStore{Store: cfg.Store}
		cfg.Store = hs
		cfg.LookupDeadline = deadline
	}})
	agent := e.Browser(t).MustLogin(agentEmail, agentPassword)
	api := apiClient{t: t, base: e.Srv.URL, token: MustAPIToken(t, e.Store, "desk")}
	newcomer := e.Browser(t)
	form := newcomer.Get("/login") // the form needs no database

	hs.hang.Store(true)
	timed := func(what string, f func()) {
		t.Helper()
		start := time.Now()
		f()
		if took := time.Since(start); took > bound {
			t.Errorf("%s took %v while the database hangs; want about the lookup deadline (%v)", what, took, deadline)
		}
	}
	for _, path := range []string{"/profiles/" + profAlex, "/profiles", "/admin/settings"} {
		timed("GET "+path, func() {
			before := hs.sessions.Load()
			p := agent.Get(path)
			if p.Status != http.StatusServiceUnavailable || p.Resp.Header.Get("Location") != "" {
				t.Errorf("GET %s = %d (Location %q), want 503 and no redirect", path, p.Status, p.Resp.Header.Get("Location"))
			}
			mustContain(t, p.Body, dbDownSentence, "Database unavailable")
			if n := hs.sessions.Load() - before; n != 1 {
				t.Errorf("GET %s asked the store for the session %d times, want once", path, n)
			}
		})
	}
	timed("POST /login", func() {
		p := newcomer.Post("/login", map[string][]string{"email": {agentEmail}, "password": {agentPassword}, "csrf": {CSRF(t, form.Body)}})
		if p.Status != http.StatusServiceUnavailable || newcomer.Cookie("rechargekit_session") != nil {
			t.Errorf("sign-in = %d, want 503 and no session", p.Status)
		}
		mustContain(t, p.Body, dbDownSentence, `name="password"`)
	})
	for _, call := range []struct{ method, path, body string }{
		{http.MethodGet, "/api/profiles/" + profAlex + "/card", ""},
		{http.MethodPut, "/api/profiles/" + profAlex, `{"name":"Alex Rivera"}`},
	} {
		timed(call.method+" "+call.path, func() {
			code, body := api.do(call.method, call.path, call.body)
			var r struct{ Error server.ErrorJSON }
			if code != http.StatusServiceUnavailable || json.Unmarshal(body, &r) != nil ||
				r.Error.Code != rechargekit.EUPSTREAM || r.Error.Message != dbDownSentence {
				t.Errorf("%s %s = %d %s, want 503 upstream %q", call.method, call.path, code, body, dbDownSentence)
			}
		})
	}
	timed("a page not found", func() {
		if p := agent.Get("/nowhere"); p.Status != http.StatusNotFound {
			t.Errorf("GET /nowhere = %d, want 404", p.Status)
		}
	})

	hs.hang.Store(false)
	if p := agent.Get("/profiles/" + profAlex); p.Status != http.StatusOK {
		t.Errorf("the profile page once the database answers = %d, want 200: the session holds", p.Status)
	}
}

// failingPagesStore answers sessions but fails the profile pages' own
// reads as a database that stopped answering between the two would.
type failingPagesStore struct {
	rechargekit.Store
}

func (s failingPagesStore) SearchProfileSummaries(context.Context, string, int) ([]*rechargekit.ProfileSummary, error) {
	return nil, rechargekit.WrapError(rechargekit.EUPSTREAM, dbDownSentence, context.DeadlineExceeded)
}

func (s failingPagesStore) Profile(context.Context, string) (*rechargekit.Profile, error) {
	return nil, rechargekit.WrapError(rechargekit.EUPSTREAM, dbDownSentence, context.DeadlineExceeded)
}

// TestDatabaseFailsAfterTheSession: when the session was read but the
// page's own store call finds the database gone, the page is a 503 titled
// for the database, never a 500 or "Profile not found".
func TestDatabaseFailsAfterTheSession(t *testing.T) {
	t.Parallel()
	var fs *failingPagesStore
	e := MustEnv(t, envOptions{Config: func(cfg *server.Config) {
		fs = &failingPagesStore{Store: cfg.Store}
		cfg.Store = fs
	}})
	agent := e.Browser(t).MustLogin(agentEmail, agentPassword)
	for _, path := range []string{"/profiles", "/profiles/" + profAlex + "/unlink"} {
		p := agent.Get(path)
		if p.Status != http.StatusServiceUnavailable || !strings.Contains(p.Body, "Database unavailable") ||
			!strings.Contains(p.Body, dbDownSentence) || strings.Contains(p.Body, "Profile not found") {
			t.Errorf("GET %s = %d, want 503 titled for the database:\n%s", path, p.Status, p.Body)
		}
	}
}
