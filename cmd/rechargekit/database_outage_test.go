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
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/gladly"
	"github.com/rechargekit/rechargekit/internal/faultnet"
	"github.com/rechargekit/rechargekit/recharge/rechargetest"
	"github.com/rechargekit/rechargekit/server"
	"github.com/rechargekit/rechargekit/storetest"
)

// dbDeadline is the lookup deadline of the database fault tests: short, so
// that an answer bounded by it is told apart from one bounded only by the
// store's own bound (connect + statement timeout + 2 s, 12 s by default).
const dbDeadline = time.Second

// dbAnswerBound is how long a console or JSON API request may take while
// the database hangs or refuses: generous against a busy machine, and well
// under the store's own bound, which is what bounded these requests before.
const dbAnswerBound = 4 * dbDeadline

// dbDownSentence is what the store says of a database that does not answer.
const dbDownSentence = "The database is not answering right now."

// dbStack is the whole service (newApp) on PostgreSQL, in a schema of the
// test's own, reached through a faultnet proxy; a demo-seeded simulator;
// profile "alex" linked to Alex Rivera; an agent signed in to the console;
// a JSON API token; and a signed Gladly desk. The store keeps its default
// bounds: the test shows that the request's deadline ends a request first.
type dbStack struct {
	proxy    *faultnet.Proxy
	base     string
	desk     *gladly.Client
	console  *http.Client // the agent's session; follows no redirect
	api      *http.Client
	token    string
	password string // of agent@example.com
	logs     *syncBuffer
}

func newDBStack(t *testing.T) *dbStack {
	t.Helper()
	env := requireServices(t, "the database fault tests", "RECHARGEKIT_TEST_POSTGRES")
	u, err := url.Parse(storetest.MustPostgresSchema(t, env["RECHARGEKIT_TEST_POSTGRES"]))
	if err != nil || !isPostgres(u.String()) || u.Host == "" {
		t.Fatalf("RECHARGEKIT_TEST_POSTGRES must be a postgres://host:port/db URL")
	}
	proxy := faultnet.New(t, u.Host)
	u.Host = proxy.Addr()

	ctx := context.Background()
	sim := rechargetest.NewServer(t, rechargetest.Config{})
	sim.Load(rechargetest.DemoSeed())
	store, password, token := mustDesk(t, u.String())
	logs := &syncBuffer{}
	a, err := newApp(ctx, appConfig{
		token:          rechargetest.DefaultToken,
		baseURL:        sim.URL,
		logger:         slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
		store:          store,
		gladlyPath:     gladly.DefaultPath,
		gladly:         gladly.Config{SigningKey: stackKey, Deadline: gladly.DefaultDeadline},
		lookupDeadline: dbDeadline,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	srv := httptest.NewServer(a.handler)
	t.Cleanup(srv.Close)
	console := signIn(t, srv.URL, "agent@example.com", password)
	console.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &dbStack{
		proxy:    proxy,
		base:     srv.URL,
		desk:     &gladly.Client{URL: srv.URL + gladly.DefaultPath, SigningKey: stackKey},
		console:  console,
		api:      &http.Client{Timeout: 3 * gladly.DefaultDeadline},
		token:    token,
		password: password,
		logs:     logs,
	}
}

// answer is one request's outcome on a surface.
type answer struct {
	status   int
	body     string
	location string // of a redirect
	took     time.Duration
}

// send sends req with c and times the answer.
func send(t *testing.T, c *http.Client, req *http.Request) answer {
	t.Helper()
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, body: string(b), location: resp.Header.Get("Location"), took: time.Since(start)}
}

// page gets a console page with the agent's session.
func (s *dbStack) page(t *testing.T, path string) answer {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.base+path, nil)
	return send(t, s.console, req)
}

// apiCall sends a JSON API request with the token.
func (s *dbStack) apiCall(t *testing.T, method, path, body string) answer {
	t.Helper()
	req, _ := http.NewRequest(method, s.base+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+s.token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	return send(t, s.api, req)
}

// signInAnswer signs the agent in from a new browser: the form (which
// needs no database) first, then the timed POST /login.
func (s *dbStack) signInAnswer(t *testing.T) answer {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 3 * gladly.DefaultDeadline,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(s.base + "/login")
	if err != nil {
		t.Fatal(err)
	}
	form, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(form)
	if m == nil {
		t.Fatalf("GET /login = %d without a CSRF token:\n%s", resp.StatusCode, form)
	}
	req, _ := http.NewRequest(http.MethodPost, s.base+"/login", strings.NewReader(url.Values{
		"email": {"agent@example.com"}, "password": {s.password}, "csrf": {string(m[1])},
	}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", s.base)
	return send(t, c, req)
}

// gladlyDetailed sends a signed DETAILED lookup of Alex Rivera's card;
// the status is 200 when it answered with the card.
func (s *dbStack) gladlyDetailed(t *testing.T) answer {
	t.Helper()
	start := time.Now()
	resp, err := s.desk.Detailed(context.Background(), strconv.FormatInt(rechargetest.DemoAlexRiveraID, 10), alexProfile)
	a := answer{status: http.StatusOK, took: time.Since(start)}
	if err != nil || len(resp.Results) == 0 {
		a.status, a.body = http.StatusServiceUnavailable, "no card"
		if err != nil {
			a.body = err.Error()
		}
	}
	return a
}

// dbSurface is one surface an agent or a desk uses, with what it must
// answer while the database fails.
type dbSurface struct {
	name string
	kind string // "page" (console HTML), "api" (JSON) or "gladly" (needs no database)
	do   func(t *testing.T, s *dbStack) answer
	// ok reports whether an answer with the database healthy is right.
	ok func(a answer) bool
}

var dbSurfaces = []dbSurface{
	{"console profile page", "page", func(t *testing.T, s *dbStack) answer { return s.page(t, "/profiles/alex") },
		func(a answer) bool { return a.status == http.StatusOK && strings.Contains(a.body, "Alex Rivera") }},
	{"console profile list", "page", func(t *testing.T, s *dbStack) answer { return s.page(t, "/profiles") },
		func(a answer) bool { return a.status == http.StatusOK && strings.Contains(a.body, "Alex Rivera") }},
	{"sign-in", "page", func(t *testing.T, s *dbStack) answer { return s.signInAnswer(t) },
		func(a answer) bool { return a.status == http.StatusSeeOther && a.location == "/profiles" }},
	{"API card", "api", func(t *testing.T, s *dbStack) answer {
		return s.apiCall(t, http.MethodGet, "/api/profiles/alex/card", "")
	}, func(a answer) bool { return freshCard(a.status, a.body) }},
	{"API PUT profile", "api", func(t *testing.T, s *dbStack) answer {
		return s.apiCall(t, http.MethodPut, "/api/profiles/alex", `{"name":"Alex Rivera","emails":["alex.rivera@example.com"]}`)
	}, func(a answer) bool { return a.status == http.StatusOK }},
	{"Gladly DETAILED (warm card)", "gladly", func(t *testing.T, s *dbStack) answer { return s.gladlyDetailed(t) },
		func(a answer) bool { return a.status == http.StatusOK }},
}

// checkDown checks one surface's answer while the database fails: a clear
// 503 within dbAnswerBound (never a redirect to sign-in, never a 500), and
// the Gladly lookup of a warm card answered at once.
func checkDown(t *testing.T, sf dbSurface, a answer) {
	t.Helper()
	switch sf.kind {
	case "gladly":
		if a.status != http.StatusOK || a.took > lookupBound {
			t.Errorf("%s = %d (%s) after %v; want the card well under %v: it needs no database", sf.name, a.status, a.body, a.took, lookupBound)
		}
		return
	case "page":
		if a.status != http.StatusServiceUnavailable || !strings.Contains(a.body, dbDownSentence) {
			t.Errorf("%s = %d (Location %q); want 503 with a page saying %q:\n%.400s", sf.name, a.status, a.location, dbDownSentence, a.body)
		}
	case "api":
		var e struct {
			Error server.ErrorJSON `json:"error"`
		}
		if a.status != http.StatusServiceUnavailable || json.Unmarshal([]byte(a.body), &e) != nil ||
			e.Error.Code != rechargekit.EUPSTREAM || e.Error.Message != dbDownSentence {
			t.Errorf("%s = %d %s; want 503 {\"error\":{\"code\":\"upstream\",\"message\":%q}}", sf.name, a.status, a.body, dbDownSentence)
		}
	}
	if a.took > dbAnswerBound {
		t.Errorf("%s took %v; want well under %v (the lookup deadline is %v)", sf.name, a.took, dbAnswerBound, dbDeadline)
	}
}

// TestDatabaseOutage: with PostgreSQL hung (connections accepted, nothing
// answered) or refusing connections, every console and JSON API surface
// answers a clear 503 within the lookup deadline (the console an error
// page, never a redirect to sign-in), the request log says 503 and never
// 500, /readyz names the database alone, and Gladly lookups of a warm card
// stay fast; once the database answers again everything works without a
// restart.
func TestDatabaseOutage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		mode faultnet.Mode
	}{{"hung", faultnet.Hang}, {"refusing", faultnet.Refuse}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newDBStack(t)
			for _, sf := range dbSurfaces { // healthy, and the card warm
				if a := sf.do(t, s); !sf.ok(a) {
					t.Fatalf("%s with the database up = %d %.300s", sf.name, a.status, a.body)
				}
			}

			s.proxy.SetMode(tc.mode)
			for _, sf := range dbSurfaces {
				checkDown(t, sf, sf.do(t, s))
			}
			s.checkReadyz(t)
			if strings.Contains(s.logs.String(), `"status":500`) {
				t.Errorf("a request was logged as a 500 while the database failed:\n%s", s.logs)
			}
			if n := strings.Count(s.logs.String(), `"status":503`); n < 5 {
				t.Errorf("%d requests logged as 503, want every console and API request:\n%s", n, s.logs)
			}

			s.proxy.SetMode(faultnet.Pass)
			s.waitDatabaseBack(t)
			for _, sf := range dbSurfaces {
				if a := sf.do(t, s); !sf.ok(a) {
					t.Errorf("%s once the database answers again = %d %.300s", sf.name, a.status, a.body)
				}
			}
			if status, states := s.readyz(t); status != "ready" {
				t.Errorf("/readyz once the database answers again = %s %v, want ready", status, states)
			}
		})
	}
}

// readyz returns /readyz's status and its checks' states.
func (s *dbStack) readyz(t *testing.T) (status string, states map[string]string) {
	t.Helper()
	a := s.apiCall(t, http.MethodGet, "/readyz", "")
	var r struct {
		Status string `json:"status"`
		Checks map[string]struct {
			State string `json:"state"`
		} `json:"checks"`
	}
	if err := json.Unmarshal([]byte(a.body), &r); err != nil || a.status != http.StatusOK {
		t.Fatalf("/readyz = %d %s", a.status, a.body)
	}
	states = map[string]string{}
	for name, c := range r.Checks {
		states[name] = c.State
	}
	return r.Status, states
}

// checkReadyz checks that /readyz, while the database fails, says
// "degraded" with the database unavailable (or timed out) and Recharge ok.
func (s *dbStack) checkReadyz(t *testing.T) {
	t.Helper()
	status, states := s.readyz(t)
	if db := states["database"]; status != "degraded" || (db != "unavailable" && db != "timeout") || states["recharge"] != "ok" {
		t.Errorf("/readyz = %s %v; want degraded, the database unavailable or timeout and Recharge ok", status, states)
	}
}

// waitDatabaseBack polls the profile page until it answers 200, for at most
// 30 s: pooled connections cut by the fault are dropped as they fail.
func (s *dbStack) waitDatabaseBack(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		a := s.page(t, "/profiles/alex")
		if a.status == http.StatusOK {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the profile page still answers %d 30 s after the database came back:\n%.400s", a.status, a.body)
		}
		time.Sleep(20 * time.Millisecond) // the poll's pace, not a wait for an event
	}
}

// TestMeasureDatabaseFaults measures, for the note, each surface's
// latency (p50, max) while PostgreSQL hangs and while it refuses
// connections. It is a measurement, not a check: it runs only with
// RECHARGEKIT_MEASURE=1 and prints, per mode and surface, the statuses
// seen and the latencies of RECHARGEKIT_MEASURE_N requests (default 5;
// 10 times as many for the Gladly lookup).
func TestMeasureDatabaseFaults(t *testing.T) {
	if os.Getenv("RECHARGEKIT_MEASURE") != "1" {
		t.Skip("RECHARGEKIT_MEASURE=1 not set: skipping the database fault measurement")
	}
	n := 5
	if v, err := strconv.Atoi(os.Getenv("RECHARGEKIT_MEASURE_N")); err == nil && v > 0 {
		n = v
	}
	s := newDBStack(t)
	for _, sf := range dbSurfaces { // warm the card
		sf.do(t, s)
	}
	for _, m := range []struct {
		name string
		mode faultnet.Mode
	}{{"healthy", faultnet.Pass}, {"hung", faultnet.Hang}, {"refusing", faultnet.Refuse}} {
		s.proxy.SetMode(m.mode)
		for _, sf := range dbSurfaces {
			count := n
			if sf.kind == "gladly" {
				count = 10 * n
			}
			var ds []time.Duration
			statuses := map[int]int{}
			for range count {
				a := sf.do(t, s)
				ds = append(ds, a.took)
				statuses[a.status]++
			}
			slices.Sort(ds)
			t.Logf("database %-8s %-28s n=%d statuses=%v p50=%v max=%v", m.name, sf.name, count, statuses,
				ds[len(ds)/2].Round(100*time.Microsecond), ds[len(ds)-1].Round(100*time.Microsecond))
		}
		if m.mode != faultnet.Pass {
			s.proxy.SetMode(faultnet.Pass)
			s.waitDatabaseBack(t)
		}
	}
}
