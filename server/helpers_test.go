package server_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/cards"
	"github.com/rechargekit/rechargekit/recharge"
	"github.com/rechargekit/rechargekit/recharge/rechargetest"
	"github.com/rechargekit/rechargekit/search/searchtest"
	"github.com/rechargekit/rechargekit/server"
	"github.com/rechargekit/rechargekit/sqlite"
)

// Demo users' credentials. The passwords are hashed with HashPassword, as
// `rechargekit user add` does.
const (
	adminEmail    = "admin@example.com"
	adminPassword = "correct horse battery staple"
	agentEmail    = "agent@example.com"
	agentPassword = "agent password 1234"
)

// Demo profile ids: one per case the console must show.
const (
	profAlex     = "gladly-alex"     // auto-links on open: one customer has alex.rivera@example.com
	profSam      = "gladly-sam"      // two candidates: sam.taylor@example.com and sam.t@example.org
	profNoMatch  = "gladly-nomatch"  // no Recharge customer has its email
	profManual   = "gladly-priya"    // linked by hand by the agent
	profUnlinked = "gladly-dana"     // unlinked before: one candidate, never auto-linked
	profNoEmail  = "gladly-no-email" // nothing to match on
)

// env is a running console over a real SQLite store and a seeded Recharge
// simulator.
type env struct {
	t        testing.TB
	Sim      *rechargetest.Server
	Store    *sqlite.Store
	DBPath   string // the SQLite file; its -wal and -shm files sit beside it
	Profiles *cards.Profiles
	Clock    *server.Clock
	Srv      *httptest.Server
	Logs     *syncBuffer
	Config   server.Config // what server.New was given
	AdminID  int64
	AgentID  int64
	// Actions is the subscription actions' wiring, when envOptions.Actions
	// asked for it (see wireActions).
	Actions *actionsEnv
	// Index is the customer index of envOptions.Index; nil without.
	Index *searchtest.Index
}

// demoIndex holds some of the simulator's demo customers as the mirror
// would, Alex Rivera's address zip among his keys.
func demoIndex(tb testing.TB, src rechargekit.RechargeSource) *searchtest.Index {
	tb.Helper()
	var custs []*rechargekit.Customer
	for _, id := range []int64{rechargetest.DemoAlexRiveraID, rechargetest.DemoSamTaylorID, rechargetest.DemoSamTOrgID,
		rechargetest.DemoNoSubscriptionsID, rechargetest.DemoMixedCaseEmailID} {
		c, err := src.Customer(context.Background(), id)
		if err != nil {
			tb.Fatal(err)
		}
		custs = append(custs, c)
	}
	ix := searchtest.New("US", custs...)
	ix.AddKeys(rechargetest.DemoAlexRiveraID, rechargekit.SearchKey{Kind: rechargekit.KeyZip, Value: "90026"})
	return ix
}

// envOptions changes how MustEnv builds the server.
type envOptions struct {
	Config   func(*server.Config) // edits the server config before New
	Profiles rechargekit.ProfileService
	Actions  bool // wire the subscription actions (wireActions)
	// Scopes are the simulator token's scopes; nil means all of them.
	Scopes []string
	// Index puts a ready customer index (demoIndex) in front of the
	// card service's searches, as a complete mirror does.
	Index bool
}

// MustEnv starts a console with the demo profiles and users.
func MustEnv(tb testing.TB, opts ...envOptions) *env {
	tb.Helper()
	var o envOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	ctx := context.Background()
	simCfg := rechargetest.Config{}
	if o.Actions {
		// The actions read Recharge fresh on every page: a bucket that
		// does not run dry in a test.
		simCfg.BucketSize, simCfg.LeakPerSecond = 1000, 1000
	}
	simCfg.Scopes = o.Scopes
	sim := rechargetest.NewServer(tb, simCfg)
	// The products' images are the simulator's own, which the console's
	// image proxy may fetch (see ImageProxyAllowHosts below).
	sim.Load(rechargetest.DemoSeedWithImages(sim.URL))
	// No retries: a fault test must see Recharge's failure at once.
	client := sim.Client(recharge.WithMaxRetries(0))
	svc := cards.New(&recharge.Source{Client: client})
	svc.Logger = discardLogger()
	var index *searchtest.Index
	if o.Index {
		index = demoIndex(tb, svc.Source)
		svc.Index = index
	}

	dbPath := filepath.Join(tb.TempDir(), "rechargekit.db")
	store, err := sqlite.Open(ctx, dbPath)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { store.Close() })

	e := &env{t: tb, Sim: sim, Store: store, DBPath: dbPath, Clock: server.NewClock(time.Now().UTC()), Logs: &syncBuffer{}, Index: index}
	e.Profiles = &cards.Profiles{Cards: svc, Store: store, Logger: discardLogger()}
	e.AdminID = MustUser(tb, store, adminEmail, rechargekit.RoleAdmin, adminPassword)
	e.AgentID = MustUser(tb, store, agentEmail, rechargekit.RoleAgent, agentPassword)
	seedProfiles(tb, store)

	cfg := server.Config{
		Store:    store,
		Profiles: e.Profiles,
		Cards:    svc,
		Logger:   slog.New(slog.NewTextHandler(e.Logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:      e.Clock.Now,
		// The simulator, on loopback over http, serves the demo's images.
		ImageProxyAllowHosts: []string{strings.TrimPrefix(sim.URL, "http://")},
	}
	if o.Profiles != nil {
		cfg.Profiles = o.Profiles
	}
	if o.Actions {
		wireActions(tb, e, &cfg)
	}
	if o.Config != nil {
		o.Config(&cfg)
	}
	e.Config = cfg
	e.Srv = httptest.NewServer(server.New(cfg))
	tb.Cleanup(e.Srv.Close)
	return e
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// MustUser creates a user with a real password hash and returns its id.
func MustUser(tb testing.TB, store rechargekit.Store, email, role, password string) int64 {
	tb.Helper()
	hash, err := server.HashPassword(password)
	if err != nil {
		tb.Fatal(err)
	}
	u := &rechargekit.User{Email: email, Role: role, PasswordHash: hash}
	if err := store.CreateUser(context.Background(), u, "test"); err != nil {
		tb.Fatal(err)
	}
	return u.ID
}

// seedProfiles stores the demo desk profiles, in the states the demo shows.
func seedProfiles(tb testing.TB, store rechargekit.Store) {
	tb.Helper()
	ctx := context.Background()
	for _, p := range []*rechargekit.Profile{
		{ID: profAlex, Name: "Alex Rivera", Emails: []string{"alex.rivera@example.com"}, Phones: []string{"+1 (555) 123-4567"}},
		{ID: profSam, Name: "Sam Taylor", Emails: []string{"sam.taylor@example.com", "sam.t@example.org"}, Phones: []string{"+1 555 014 2201"}},
		{ID: profNoMatch, Name: "Riley Quinn", Emails: []string{"riley.quinn@example.net"}},
		{ID: profManual, Name: "Priya Patel", Emails: []string{"priya.p@work.example"}, Phones: []string{"+1 555 014 2204"}},
		{ID: profUnlinked, Name: "Dana Whitfield", Emails: []string{"dana.whitfield@example.com"}},
		{ID: profNoEmail, Name: "Walk-in Customer", Phones: []string{"+1 555 000 0000"}},
	} {
		if _, err := store.UpsertProfile(ctx, p); err != nil {
			tb.Fatal(err)
		}
	}
	MustLink(tb, store, profManual, rechargetest.DemoOnlyExpiredID, rechargekit.LinkManual, agentEmail)
	MustLink(tb, store, profUnlinked, rechargetest.DemoMixedCaseEmailID, rechargekit.LinkManual, agentEmail)
	if err := store.DeleteLink(ctx, profUnlinked, agentEmail); err != nil {
		tb.Fatal(err)
	}
}

// MustLink links a profile straight in the store.
func MustLink(tb testing.TB, store rechargekit.Store, profileID string, customerID int64, method, by string) {
	tb.Helper()
	l := &rechargekit.Link{ProfileID: profileID, CustomerID: customerID, Method: method, By: by}
	if err := store.CreateLink(context.Background(), l); err != nil {
		tb.Fatal(err)
	}
}

// browser is an HTTP client with a cookie jar that does not follow
// redirects, so tests see each answer.
type browser struct {
	t    testing.TB
	base string
	hc   *http.Client
	// Header is added to every request.
	Header http.Header
}

// Browser returns a new browser (no cookies) that reports to tb.
func (e *env) Browser(tb testing.TB) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: tb, base: e.Srv.URL, Header: http.Header{}, hc: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       30 * time.Second,
	}}
}

// page is one answer.
type page struct {
	Status int
	Body   string
	Resp   *http.Response
}

func (b *browser) do(method, path string, body io.Reader, contentType string) page {
	b.t.Helper()
	req, err := http.NewRequest(method, b.base+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	for k, v := range b.Header {
		req.Header[k] = v
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := b.hc.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return page{Status: resp.StatusCode, Body: string(data), Resp: resp}
}

func (b *browser) Get(path string) page { b.t.Helper(); return b.do(http.MethodGet, path, nil, "") }

// Post submits a form as is (the test decides about the CSRF field).
func (b *browser) Post(path string, form url.Values) page {
	b.t.Helper()
	return b.do(http.MethodPost, path, strings.NewReader(form.Encode()), "application/x-www-form-urlencoded")
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// CSRF returns the CSRF token of the forms on a page.
func CSRF(tb testing.TB, body string) string {
	tb.Helper()
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		tb.Fatalf("no CSRF field on the page:\n%s", body)
	}
	return m[1]
}

// PostWithCSRF reads the CSRF token from the page at from, then posts.
func (b *browser) PostWithCSRF(from, path string, form url.Values) page {
	b.t.Helper()
	p := b.Get(from)
	if p.Status != http.StatusOK {
		b.t.Fatalf("GET %s = %d, want 200", from, p.Status)
	}
	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf", CSRF(b.t, p.Body))
	return b.Post(path, form)
}

// Login signs in through the form and returns the answer to the POST.
func (b *browser) Login(email, password string) page {
	b.t.Helper()
	p := b.Get("/login")
	if p.Status != http.StatusOK {
		b.t.Fatalf("GET /login = %d", p.Status)
	}
	return b.Post("/login", url.Values{"email": {email}, "password": {password}, "csrf": {CSRF(b.t, p.Body)}})
}

// MustLogin signs in and fails the test unless it worked.
func (b *browser) MustLogin(email, password string) *browser {
	b.t.Helper()
	p := b.Login(email, password)
	if p.Status != http.StatusSeeOther || p.Resp.Header.Get("Location") != "/profiles" {
		b.t.Fatalf("sign-in as %s = %d %q, want 303 to /profiles\n%s", email, p.Status, p.Resp.Header.Get("Location"), p.Body)
	}
	return b
}

// Cookie returns the named cookie the last answers set, or nil.
func (b *browser) Cookie(name string) *http.Cookie {
	u, _ := url.Parse(b.base)
	for _, c := range b.hc.Jar.Cookies(u) {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// setCookie finds a Set-Cookie of the answer by name.
func setCookie(p page, name string) *http.Cookie {
	for _, c := range p.Resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func mustContain(tb testing.TB, body string, wants ...string) {
	tb.Helper()
	for _, w := range wants {
		if !strings.Contains(body, w) {
			tb.Errorf("page lacks %q", w)
		}
	}
	if tb.Failed() {
		tb.Logf("page:\n%s", body)
	}
}

func mustNotContain(tb testing.TB, body string, bad ...string) {
	tb.Helper()
	for _, b := range bad {
		if strings.Contains(body, b) {
			tb.Errorf("page contains %q", b)
		}
	}
}
