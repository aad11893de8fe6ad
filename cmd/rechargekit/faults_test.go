package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/gladly"
	"github.com/rechargekit/rechargekit/internal/testkit"
	"github.com/rechargekit/rechargekit/recharge"
	"github.com/rechargekit/rechargekit/recharge/rechargetest"
	"github.com/rechargekit/rechargekit/server"
)

// faultDeadline is the lookup deadline of the fault suite, for Gladly, the
// console and the JSON API alike: short, so that "slow past the deadline"
// stays quick.
const faultDeadline = time.Second

// faultStack is the whole service (newApp) on a SQLite store and a
// demo-seeded simulator, with a signed Gladly desk, an agent signed in to
// the console, and a JSON API token. Profile "alex" is linked to Alex
// Rivera.
type faultStack struct {
	sim     *rechargetest.Server
	app     *app
	base    string
	desk    *gladly.Client
	console *http.Client
	api     *http.Client // for the JSON API: fails a request after three deadlines
	token   string
	logs    *syncBuffer
}

func newFaultStack(t *testing.T) *faultStack {
	t.Helper()
	ctx := context.Background()
	sim := rechargetest.NewServer(t, rechargetest.Config{})
	sim.Load(rechargetest.DemoSeed())
	store, password, token := mustDesk(t, filepath.Join(t.TempDir(), "faults.db"))
	clock := testkit.NewClock(time.Now())
	logs := &syncBuffer{}
	a, err := newApp(ctx, appConfig{
		token:          rechargetest.DefaultToken,
		baseURL:        sim.URL,
		clientOptions:  []recharge.Option{recharge.WithClock(clock.Now, clock.Sleep)},
		logger:         slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		store:          store,
		gladlyPath:     gladly.DefaultPath,
		gladly:         gladly.Config{SigningKey: stackKey, Deadline: faultDeadline},
		lookupDeadline: faultDeadline,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	srv := httptest.NewServer(a.handler)
	t.Cleanup(srv.Close)
	return &faultStack{
		sim:     sim,
		app:     a,
		base:    srv.URL,
		desk:    &gladly.Client{URL: srv.URL + gladly.DefaultPath, SigningKey: stackKey},
		console: signIn(t, srv.URL, "agent@example.com", password),
		api:     &http.Client{Timeout: 3 * faultDeadline},
		token:   token,
		logs:    logs,
	}
}

// signIn signs in to the console as a browser does (CSRF token from the
// form, cookie jar) and returns the signed-in client. Every request it
// makes fails after three lookup deadlines, so a hanging answer fails the
// test instead of stalling it.
func signIn(t *testing.T, base, email, password string) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Jar: jar, Timeout: 3 * max(faultDeadline, gladly.DefaultDeadline)}
	if status := postSignIn(t, c, base, email, password, ""); status != http.StatusOK {
		t.Fatalf("sign-in as %s = %d", email, status)
	}
	return c
}

// postSignIn fills in the sign-in form as a browser does (its CSRF token
// and cookie) and returns the answer's status: c's jar, if any, keeps the
// session. forwardedFor, when set, is sent as X-Forwarded-For (the client
// a trusted proxy names).
func postSignIn(t *testing.T, c *http.Client, base, email, password, forwardedFor string) int {
	t.Helper()
	resp, err := c.Get(base + "/login")
	if err != nil {
		t.Fatal(err)
	}
	login, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(login)
	if m == nil {
		t.Fatalf("no CSRF token on the sign-in page:\n%s", login)
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/login", strings.NewReader(url.Values{
		"email": {email}, "password": {password}, "csrf": {string(m[1])},
	}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", base)
	if forwardedFor != "" {
		req.Header.Set("X-Forwarded-For", forwardedFor)
	}
	if c.Jar == nil {
		for _, ck := range resp.Cookies() {
			req.AddCookie(ck)
		}
	}
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// do sends one request with c: with the bearer token when one is given,
// and a JSON body when body is not empty. It returns the status and body.
func (s *faultStack) do(t *testing.T, c *http.Client, method, path, bearer, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, s.base+path, strings.NewReader(body))
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (s *faultStack) get(t *testing.T, c *http.Client, path, bearer string) (int, string) {
	t.Helper()
	return s.do(t, c, http.MethodGet, path, bearer, "")
}

// faultCase is one Recharge failure and what each desk must show.
type faultCase struct {
	name   string
	faults rechargetest.Faults
	cached bool // a card was cached before the fault (now past its TTL)
	// deleted: Alex Rivera is deleted in Recharge instead of a fault.
	deleted bool

	gladlyStatus int    // 200 or 503
	gladly       string // in the 200 answer: "stale" (rechargeDataAsOf) or "none" (no result)
	consoleID    string // the id of the element the profile page shows
	apiStale     bool   // the JSON API's card is marked stale
	apiError     string // else the cardError code
	outcome      string // rechargekit_lookups_total outcome for each desk
	readyState   string // /readyz's recharge state
	// breaker: the failures open the client's breaker, so /readyz's
	// recharge state is "open" and its message names readyState's fault.
	breaker    bool
	callStatus string // a rechargekit_recharge_requests_total status seen
}

// TestFaultSuite injects each Recharge failure of the issue and checks, for
// the Gladly lookup, the console and the JSON API: an answer inside the
// deadline with a clear state (a stale card with its age, "Recharge
// unavailable", "no longer exists in Recharge"), no panic and no 500,
// /readyz naming the problem, and the metrics counting it.
func TestFaultSuite(t *testing.T) {
	t.Parallel()
	var cases []faultCase
	for _, f := range []struct {
		name       string
		faults     rechargetest.Faults
		state      string
		callStatus string
	}{
		{"429 burst", rechargetest.Faults{Status: http.StatusTooManyRequests}, recharge.HealthRateLimited, "429"},
		{"500", rechargetest.Faults{Status: http.StatusInternalServerError}, recharge.HealthUnavailable, "500"},
		{"502", rechargetest.Faults{Status: http.StatusBadGateway}, recharge.HealthUnavailable, "502"},
		{"503", rechargetest.Faults{Status: http.StatusServiceUnavailable}, recharge.HealthUnavailable, "503"},
		{"slow past the deadline", rechargetest.Faults{Delay: time.Minute}, recharge.HealthTimeout, "0"},
		{"truncated bodies", rechargetest.Faults{Truncate: true}, recharge.HealthUnavailable, "0"},
	} {
		// Every failure but the 429 (an answer) opens the breaker.
		breaker := f.state != recharge.HealthRateLimited
		cases = append(cases,
			faultCase{name: f.name + ", card cached", faults: f.faults, cached: true,
				gladlyStatus: 200, gladly: "stale", consoleID: `id="stale"`, apiStale: true,
				outcome: rechargekit.OutcomeStale, readyState: f.state, callStatus: f.callStatus, breaker: breaker},
			faultCase{name: f.name + ", nothing cached", faults: f.faults,
				gladlyStatus: 503, consoleID: `id="card-upstream"`, apiError: rechargekit.EUPSTREAM,
				outcome: rechargekit.OutcomeUnavailable, readyState: f.state, callStatus: f.callStatus, breaker: breaker})
	}
	cases = append(cases,
		faultCase{name: "401 token revoked, card cached", faults: rechargetest.Faults{Status: http.StatusUnauthorized}, cached: true,
			gladlyStatus: 200, gladly: "stale", consoleID: `id="stale"`, apiStale: true,
			outcome: rechargekit.OutcomeStale, readyState: recharge.HealthRefused, callStatus: "401"},
		faultCase{name: "401 token revoked, nothing cached", faults: rechargetest.Faults{Status: http.StatusUnauthorized},
			gladlyStatus: 503, consoleID: `id="card-refused"`, apiError: rechargekit.EUPSTREAM,
			outcome: rechargekit.OutcomeRefused, readyState: recharge.HealthRefused, callStatus: "401"},
		faultCase{name: "404 linked customer deleted", deleted: true, cached: true,
			gladlyStatus: 200, gladly: "none", consoleID: `id="card-missing"`, apiError: rechargekit.ENOTFOUND,
			outcome: rechargekit.OutcomeNotFound, readyState: recharge.HealthOK, callStatus: "404"},
	)
	alex := strconv.FormatInt(rechargetest.DemoAlexRiveraID, 10)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s := newFaultStack(t)
			if tc.cached {
				if _, err := s.desk.Detailed(ctx, alex, rechargekit.Profile{ID: "alex"}); err != nil {
					t.Fatalf("warming lookup: %v", err)
				}
				// Past its TTL: the next lookup asks Recharge first.
				if err := s.app.cards.Invalidate(ctx, rechargetest.DemoAlexRiveraID); err != nil {
					t.Fatal(err)
				}
			}
			if tc.deleted {
				if _, err := s.sim.Client().Customers.Delete(ctx, rechargetest.DemoAlexRiveraID); err != nil {
					t.Fatal(err)
				}
			}
			s.sim.SetFaults(tc.faults)

			// Gladly.
			req, err := gladly.DetailedRequest(alex, rechargekit.Profile{ID: "alex"})
			if err != nil {
				t.Fatal(err)
			}
			body, err := s.desk.SendRaw(ctx, req)
			switch {
			case tc.gladlyStatus == 200 && err != nil:
				t.Errorf("gladly: %v, want 200", err)
			case tc.gladlyStatus != 200 && statusOf(err) != tc.gladlyStatus:
				t.Errorf("gladly: %v, want %d", err, tc.gladlyStatus)
			case tc.gladly == "stale":
				var resp gladly.LookupResponse
				if err := json.Unmarshal(body, &resp); err != nil || len(resp.Results) != 1 {
					t.Fatalf("gladly stale answer: %v %s", err, body)
				}
				if asOf := resp.Results[0].CustomAttributes[gladly.AttrDataAsOf]; asOf == "" {
					t.Errorf("gladly stale answer lacks %s: %s", gladly.AttrDataAsOf, body)
				}
			case tc.gladly == "none" && strings.TrimSpace(string(body)) != `{"results":[]}`:
				t.Errorf("gladly answer for a deleted customer = %s, want no result", body)
			}

			// Console.
			code, page := s.get(t, s.console, "/profiles/alex", "")
			if code != http.StatusOK || !strings.Contains(page, tc.consoleID) {
				t.Errorf("console: %d, want 200 with %s:\n%s", code, tc.consoleID, page)
			}
			if tc.apiStale && !strings.Contains(page, "saved") {
				t.Errorf("console stale note does not give the card's age")
			}

			// JSON API.
			code, raw := s.get(t, s.api, "/api/profiles/alex/card", s.token)
			var card server.CardResponse
			if err := json.Unmarshal([]byte(raw), &card); code != http.StatusOK || err != nil {
				t.Fatalf("api: %d %v %s", code, err, raw)
			}
			switch {
			case tc.apiStale && (card.Card == nil || !card.Card.Stale || card.Card.FetchedAt == ""):
				t.Errorf("api: want a stale card with its fetch time: %s", raw)
			case !tc.apiStale && (card.Card != nil || card.CardError == nil || card.CardError.Code != tc.apiError):
				t.Errorf("api: want cardError %s: %s", tc.apiError, raw)
			}
			if card.Link == nil {
				t.Errorf("api: the link was lost: %s", raw)
			}

			// Readiness: degraded (still in rotation) and naming the state.
			code, ready := s.get(t, http.DefaultClient, "/readyz", "")
			var rz struct {
				Status string
				Checks map[string]struct{ State, Message string }
			}
			if err := json.Unmarshal([]byte(ready), &rz); err != nil || code != http.StatusOK {
				t.Fatalf("readyz: %d %v %s", code, err, ready)
			}
			wantStatus := "degraded"
			if tc.readyState == recharge.HealthOK {
				wantStatus = "ready"
			}
			wantState, wantMessage := tc.readyState, ""
			if tc.breaker {
				wantState, wantMessage = recharge.BreakerOpen, recharge.Health{State: tc.readyState}.Message()
				if tc.readyState == recharge.HealthUnavailable && tc.callStatus != "0" {
					wantMessage = "answered " + tc.callStatus
				}
			}
			if rz.Status != wantStatus || rz.Checks["recharge"].State != wantState || rz.Checks["database"].State != "ok" ||
				!strings.Contains(rz.Checks["recharge"].Message, wantMessage) {
				t.Errorf("readyz = %s, want %s with recharge %s (%q)", ready, wantStatus, wantState, wantMessage)
			}

			// Metrics.
			code, metrics := s.get(t, http.DefaultClient, "/metrics", "")
			if code != http.StatusOK {
				t.Fatalf("metrics: %d", code)
			}
			want := []string{
				`rechargekit_recharge_requests_total{route="GET /customers/{id}",status="` + tc.callStatus + `"}`,
				`rechargekit_recharge_state{state="` + tc.readyState + `"} 1`,
			}
			if tc.breaker {
				want = append(want, `rechargekit_recharge_breaker_state{state="open"} 1`)
			} else {
				want = append(want, `rechargekit_recharge_breaker_state{state="closed"} 1`)
			}
			for _, d := range []struct{ desk, level string }{{"gladly", "DETAILED"}, {"console", "card"}, {"api", "card"}} {
				want = append(want, `rechargekit_lookups_total{desk="`+d.desk+`",level="`+d.level+`",outcome="`+tc.outcome+`"} 1`)
			}
			if tc.outcome == rechargekit.OutcomeStale {
				want = append(want, `rechargekit_card_cache_total{result="stale"} 3`)
			}
			for _, w := range want {
				if !strings.Contains(metrics, w) {
					t.Errorf("metrics lack %s", w)
				}
			}
			if strings.Contains(metrics, `outcome="error"`) {
				t.Errorf("a lookup counted as an internal error:\n%s", grepLines(metrics, "rechargekit_lookups_total"))
			}

			// No panic, and no request of ours answered 500 (Recharge's own
			// 500s are in the client's lines, not the request lines).
			logs := s.logs.String()
			if strings.Contains(logs, "panic") || answered500.MatchString(logs) {
				t.Errorf("a panic or a 500:\n%s", grepLines(logs, "panic", "msg=request"))
			}
		})
	}
}

// answered500 finds a request log line (server.logRequests) with status 500.
var answered500 = regexp.MustCompile(`(?m)msg=request .*status=500`)

// grepLines returns the lines of s that contain any of subs.
func grepLines(s string, subs ...string) string {
	var out []string
	for line := range strings.Lines(s) {
		for _, sub := range subs {
			if strings.Contains(line, sub) {
				out = append(out, strings.TrimRight(line, "\n"))
				break
			}
		}
	}
	return strings.Join(out, "\n")
}

// TestSlowRechargeSearchAndLink: with Recharge slower than the deadline,
// the console's manual search and a link by hand (console and JSON API)
// also answer in time, with a clear "unavailable", and link nothing.
func TestSlowRechargeSearchAndLink(t *testing.T) {
	t.Parallel()
	s := newFaultStack(t)
	// A profile with no email, so opening it asks Recharge nothing, and
	// only the search does.
	code, _ := s.put(t, "/api/profiles/walk-in", `{"name":"Walk-in"}`)
	if code != http.StatusCreated {
		t.Fatalf("create profile: %d", code)
	}
	s.sim.SetFaults(rechargetest.Faults{Delay: time.Minute})

	code, page := s.get(t, s.console, "/profiles/walk-in?find=alex.rivera%40example.com&by=email", "")
	if code != http.StatusOK || !strings.Contains(page, `id="find-error"`) || !strings.Contains(page, "Recharge is unavailable right now") {
		t.Errorf("manual search under a slow Recharge: %d, want 200 with the unavailable message:\n%s", code, page)
	}
	code, body := s.post(t, "/api/profiles/walk-in/link", `{"rechargeCustomerId":"183940021"}`)
	if code != http.StatusServiceUnavailable || !strings.Contains(body, `"upstream"`) {
		t.Errorf("API link under a slow Recharge: %d %s, want 503 upstream", code, body)
	}
	code, raw := s.get(t, s.api, "/api/profiles/walk-in/card", s.token)
	if code != http.StatusOK || !strings.Contains(raw, `"link":null`) {
		t.Errorf("after the failed link: %d %s, want the profile unlinked", code, raw)
	}
}

func (s *faultStack) put(t *testing.T, path, body string) (int, string) {
	t.Helper()
	return s.do(t, s.api, http.MethodPut, path, s.token, body)
}

func (s *faultStack) post(t *testing.T, path, body string) (int, string) {
	t.Helper()
	return s.do(t, s.api, http.MethodPost, path, s.token, body)
}

// mustDesk opens the store at where (closed when the test ends) with what
// the fault tests act as: profile "alex" linked by hand to the demo's Alex
// Rivera, an agent (agent@example.com, whose password it returns) and a
// JSON API token named desk (which it returns).
func mustDesk(t *testing.T, where string) (store rechargekit.Store, password, token string) {
	t.Helper()
	ctx := context.Background()
	store, err := openStore(ctx, where)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if _, err := store.UpsertProfile(ctx, &rechargekit.Profile{ID: "alex", Name: "Alex Rivera", Emails: []string{"alex.rivera@example.com"}}); err != nil {
		t.Fatal(err)
	}
	if err := store.CreateLink(ctx, &rechargekit.Link{ProfileID: "alex", CustomerID: rechargetest.DemoAlexRiveraID, Method: rechargekit.LinkManual, By: "agent@example.com"}); err != nil {
		t.Fatal(err)
	}
	if password, err = addUser(ctx, store, "agent@example.com", rechargekit.RoleAgent); err != nil {
		t.Fatal(err)
	}
	token, hash := server.NewAPIToken()
	if err := store.CreateAPIToken(ctx, &rechargekit.APIToken{Name: "desk", Hash: hash}, "test"); err != nil {
		t.Fatal(err)
	}
	return store, password, token
}
