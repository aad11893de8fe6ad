package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/sqlite"
)

func TestParseFrameAncestors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, ancestors, xfo string
		crossSite, err     bool
	}{
		{in: "", ancestors: "'none'", xfo: "DENY"},
		{in: "  ", ancestors: "'none'", xfo: "DENY"},
		{in: "'none'", ancestors: "'none'", xfo: "DENY"},
		{in: "'self'", ancestors: "'self'", xfo: "SAMEORIGIN"},
		{in: "'SELF'", ancestors: "'SELF'", xfo: "SAMEORIGIN"},
		{in: "https://desk.example.com", ancestors: "https://desk.example.com", crossSite: true},
		{in: "https:", ancestors: "https:", crossSite: true},
		{in: "*", ancestors: "*", crossSite: true},
		{in: "'self'\thttps://*.gladly.com:443/", ancestors: "'self' https://*.gladly.com:443/", crossSite: true},
		{in: "desk.example.com", ancestors: "desk.example.com", crossSite: true},
		{in: "https://desk.example.com; script-src *", ancestors: "'none'", xfo: "DENY", err: true},
		{in: "https://desk.example.com,https://b.example", ancestors: "'none'", xfo: "DENY", err: true},
		{in: "'unsafe-inline'", ancestors: "'none'", xfo: "DENY", err: true},
		{in: "'none' 'self'", ancestors: "'none'", xfo: "DENY", err: true},
		{in: "https://desk.example.com\nX-Evil: 1", ancestors: "'none'", xfo: "DENY", err: true},
		{in: "https://desk.example.com/'", ancestors: "'none'", xfo: "DENY", err: true},
	} {
		f, err := parseFrameAncestors(tc.in)
		if (err != nil) != tc.err || f.ancestors != tc.ancestors || f.xfo != tc.xfo || f.crossSite != tc.crossSite {
			t.Errorf("parseFrameAncestors(%q) = %+v, %v; want %q %q crossSite=%v err=%v",
				tc.in, f, err, tc.ancestors, tc.xfo, tc.crossSite, tc.err)
		}
	}
}

func TestCleanTextCutsLongText(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("A", 100<<10)
	got := cleanText(long)
	if n := utf8.RuneCountInString(got); n != maxShownRunes+1 || !strings.HasSuffix(got, "…") {
		t.Errorf("cleanText(100 KB) has %d characters, ends %q; want %d and an ellipsis", n, got[len(got)-6:], maxShownRunes+1)
	}
	exact := strings.Repeat("é", maxShownRunes)
	if cleanText(exact) != exact {
		t.Error("a text of exactly the limit was cut")
	}
	// The cut never leaves a space before the ellipsis.
	spaced := strings.Repeat("a", maxShownRunes-1) + "   b c"
	if got := cleanText(spaced); got != strings.Repeat("a", maxShownRunes-1)+"…" {
		t.Errorf("cleanText(spaced) ends %q", got[len(got)-8:])
	}
	if got := cleanText(strings.Repeat("x\x00", 2000)); utf8.RuneCountInString(got) != maxShownRunes+1 {
		t.Errorf("dropped characters count towards the limit: %d", utf8.RuneCountInString(got))
	}
}

var loginCSRFRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// signInFrom signs in through the form from the peer addr (with an
// X-Forwarded-For header when xff is set) and returns the status.
func signInFrom(t *testing.T, h http.Handler, addr, xff, email, pw string) int {
	t.Helper()
	return signInResponse(t, h, addr, xff, email, pw).Code
}

// signInResponse is signInFrom's whole answer.
func signInResponse(t *testing.T, h http.Handler, addr, xff, email, pw string) *httptest.ResponseRecorder {
	t.Helper()
	get := httptest.NewRequest(http.MethodGet, "/login", nil)
	get.RemoteAddr = addr + ":40000"
	form := httptest.NewRecorder()
	h.ServeHTTP(form, get)
	m := loginCSRFRE.FindStringSubmatch(form.Body.String())
	cookies := form.Result().Cookies()
	if m == nil || len(cookies) == 0 {
		t.Fatalf("no sign-in form: %d", form.Code)
	}
	body := url.Values{"email": {email}, "password": {pw}, "csrf": {m[1]}}.Encode()
	post := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(body))
	post.RemoteAddr = addr + ":40001"
	post.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if xff != "" {
		post.Header.Set("X-Forwarded-For", xff)
	}
	post.AddCookie(cookies[0])
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, post)
	session := false
	for _, ck := range rec.Result().Cookies() {
		session = session || (ck.Name == sessionCookie && ck.Value != "")
	}
	if session != (rec.Code == http.StatusSeeOther) {
		t.Errorf("sign-in of %s from %s (%s) = %d with session cookie %v", email, addr, xff, rec.Code, session)
	}
	return rec
}

// mustConsole returns a console over a fresh SQLite store with the users
// (email -> password, all agents), on clk.
func mustConsole(t *testing.T, clk *Clock, users map[string]string, configure func(*Config)) (*console, *http.ServeMux) {
	t.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "rk.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	for email, pw := range users {
		hash, err := HashPassword(pw)
		if err != nil {
			t.Fatal(err)
		}
		if err := store.CreateUser(ctx, &rechargekit.User{Email: email, Role: rechargekit.RoleAgent, PasswordHash: hash}, "test"); err != nil {
			t.Fatal(err)
		}
	}
	cfg := Config{Store: store, Logger: slog.New(slog.DiscardHandler), Now: clk.Now, SessionTTL: time.Hour, FrameAncestors: "'none'"}
	if configure != nil {
		configure(&cfg)
	}
	c := newConsole(cfg)
	// Password checks wait their turn however slow the machine: only the
	// tests of the gate itself (signin_internal_test.go) make it refuse.
	c.hashes = newHashGate(0, time.Minute)
	mux := http.NewServeMux()
	c.register(mux)
	return c, mux
}

// TestSignInRateLimitPerAccountAndAddress drives the real sign-in handler
// with small limits (3 failures per address and account, 5 per address, 7
// per account) and client addresses of the test's choosing: past each
// limit even the right password gets 429 and no session; the limits are
// per address-and-account, per address over every account, and per
// account over every address; and they lift when the window has passed on
// the server's clock (Config.Now). The production limits are 10, 50 and
// 100 failures per 15 minutes (TestLoginRateLimit drives the first over
// HTTP). Each replica counts on its own.
func TestSignInRateLimitPerAccountAndAddress(t *testing.T) {
	t.Parallel()
	users := map[string]string{"agent@example.com": "agent password", "admin@example.com": "admin password"}
	clk := NewClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	c, mux := mustConsole(t, clk, users, nil)
	c.limits = signInLimits{pair: 3, address: 5, account: 7}

	signIn := func(addr, email, pw string) int {
		t.Helper()
		return signInFrom(t, mux, addr, "", email, pw)
	}
	want := func(what string, got, want int) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %d, want %d", what, got, want)
		}
	}
	const agent, admin = "agent@example.com", "admin@example.com"

	// Per address and account.
	for range 3 {
		want("wrong password from A", signIn("192.0.2.1", agent, "wrong"), http.StatusUnauthorized)
	}
	want("right password from A past the limit", signIn("192.0.2.1", agent, users[agent]), http.StatusTooManyRequests)
	want("email case does not dodge the limit", signIn("192.0.2.1", strings.ToUpper(agent), users[agent]), http.StatusTooManyRequests)
	want("another account from A", signIn("192.0.2.1", admin, users[admin]), http.StatusSeeOther)
	want("the account from B", signIn("192.0.2.2", agent, users[agent]), http.StatusSeeOther)

	// Per address, over many accounts.
	for i := range 5 {
		want("guessing from C", signIn("192.0.2.3", "user"+string(rune('a'+i))+"@example.com", "guess"), http.StatusUnauthorized)
	}
	want("a right password from C past the address limit", signIn("192.0.2.3", admin, users[admin]), http.StatusTooManyRequests)
	want("the same account from D", signIn("192.0.2.4", admin, users[admin]), http.StatusSeeOther)

	// Per account, over many addresses: 3 failures from A so far, 4 more.
	for _, addr := range []string{"198.51.100.1", "198.51.100.1", "198.51.100.2", "198.51.100.2"} {
		want("guessing the agent's password from "+addr, signIn(addr, agent, "guess"), http.StatusUnauthorized)
	}
	want("the agent from a fresh address past the account limit", signIn("203.0.113.9", agent, users[agent]), http.StatusTooManyRequests)
	want("another account from that address", signIn("203.0.113.9", admin, users[admin]), http.StatusSeeOther)

	// The window passes on the server's clock.
	clk.Advance(SignInWindow - time.Second)
	want("just before the window ends", signIn("203.0.113.9", agent, users[agent]), http.StatusTooManyRequests)
	clk.Advance(time.Second)
	want("after the window, from A", signIn("192.0.2.1", agent, users[agent]), http.StatusSeeOther)
	want("after the window, from C", signIn("192.0.2.3", admin, users[admin]), http.StatusSeeOther)
	want("after the window, from a fresh address", signIn("203.0.113.9", agent, users[agent]), http.StatusSeeOther)
}

// TestSignInLimitsShared: replicas given one shared counter (Redis in
// production; here an in-memory one, and redis.TestSignInFailuresConformance
// shows the real one counts the same) refuse a client that spread its
// guesses over them, and a right password on one replica frees the user on
// every replica. When the shared counter fails, each replica counts on its
// own and the failure is logged.
func TestSignInLimitsShared(t *testing.T) {
	t.Parallel()
	const agent = "agent@example.com"
	users := map[string]string{agent: "agent password"}
	clk := NewClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	shared := newMemoryFailures(SignInWindow)
	replica := func() *http.ServeMux {
		c, mux := mustConsole(t, clk, users, func(cfg *Config) { cfg.SignInFailures = shared })
		c.limits.pair = 4
		return mux
	}
	a, b := replica(), replica()
	signIn := func(mux *http.ServeMux, addr, pw string) int {
		t.Helper()
		return signInFrom(t, mux, addr, "", agent, pw)
	}
	for _, mux := range []*http.ServeMux{a, b, a, b} {
		if got := signIn(mux, "192.0.2.1", "wrong"); got != http.StatusUnauthorized {
			t.Fatalf("wrong password = %d", got)
		}
	}
	for name, mux := range map[string]*http.ServeMux{"A": a, "B": b} {
		if got := signIn(mux, "192.0.2.1", users[agent]); got != http.StatusTooManyRequests {
			t.Errorf("right password on %s after 2 guesses on each replica = %d, want 429", name, got)
		}
	}

	// Three guesses on A, then the right password on B: A lets the user in
	// too, after another typo.
	for range 3 {
		signIn(a, "192.0.2.2", "wrong")
	}
	if got := signIn(b, "192.0.2.2", users[agent]); got != http.StatusSeeOther {
		t.Fatalf("right password on B = %d, want 303", got)
	}
	signIn(a, "192.0.2.2", "wrong")
	if got := signIn(a, "192.0.2.2", users[agent]); got != http.StatusSeeOther {
		t.Errorf("right password on A after signing in on B = %d, want 303 (a success clears the count everywhere)", got)
	}

	logs := &strings.Builder{} // the sign-ins below run on this goroutine
	c, mux := mustConsole(t, clk, users, func(cfg *Config) {
		cfg.SignInFailures = brokenFailures{}
		cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	})
	c.limits.pair = 2
	for range 2 {
		if got := signIn(mux, "192.0.2.9", "wrong"); got != http.StatusUnauthorized {
			t.Fatalf("wrong password with the shared counter down = %d", got)
		}
	}
	if got := signIn(mux, "192.0.2.9", users[agent]); got != http.StatusTooManyRequests {
		t.Errorf("past the limit with the shared counter down = %d, want 429 (the replica's own count)", got)
	}
	if !strings.Contains(logs.String(), "shared sign-in limits unavailable") {
		t.Errorf("a failing shared counter is not logged:\n%s", logs)
	}
}

// TestParallelGuessesCounted: guesses sent at once are each counted before
// any password is checked, so no more of them are checked than the limit
// allows.
func TestParallelGuessesCounted(t *testing.T) {
	t.Parallel()
	users := map[string]string{"agent@example.com": "agent password"}
	clk := NewClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	c, mux := mustConsole(t, clk, users, nil)
	c.limits.pair = 3
	codes := make(chan int, 20)
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() { codes <- signInFrom(t, mux, "192.0.2.7", "", "agent@example.com", "wrong") })
	}
	wg.Wait()
	close(codes)
	count := map[int]int{}
	for code := range codes {
		count[code]++
	}
	if count[http.StatusUnauthorized] != 3 || count[http.StatusTooManyRequests] != 17 {
		t.Errorf("20 parallel guesses with a limit of 3: %v, want 3 checked (401) and 17 refused (429)", count)
	}
}

// brokenFailures is a shared counter whose store is down.
type brokenFailures struct{}

var errCounterDown = errors.New("connection refused")

func (brokenFailures) Attempt(context.Context, string, int, time.Time) (bool, error) {
	return false, errCounterDown
}
func (brokenFailures) Release(context.Context, string, time.Time) error { return errCounterDown }
func (brokenFailures) Reset(context.Context, string) error              { return errCounterDown }

func TestClientIPBehindTrustedProxies(t *testing.T) {
	t.Parallel()
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	for _, tc := range []struct {
		name, remote, xff, want string
		trusted                 []netip.Prefix
	}{
		{"no proxies configured: the peer", "198.51.100.7:1234", "203.0.113.1", "198.51.100.7", nil},
		{"an untrusted peer's header is ignored", "198.51.100.7:1234", "203.0.113.1", "198.51.100.7", proxies},
		{"a trusted proxy: the client it names", "10.0.0.1:1234", "203.0.113.1", "203.0.113.1", proxies},
		{"a chain of proxies", "10.0.0.1:1234", "203.0.113.1, 10.2.3.4, 10.9.9.9", "203.0.113.1", proxies},
		{"a spoofed left part is not believed", "10.0.0.1:1234", "1.2.3.4, 203.0.113.1", "203.0.113.1", proxies},
		{"several headers", "10.0.0.1:1234", "1.2.3.4|203.0.113.9, 10.1.1.1", "203.0.113.9", proxies},
		{"IPv6 client", "[fd00::1]:1234", "2001:db8::7", "2001:db8::7", proxies},
		{"IPv4-mapped proxy", "[::ffff:10.0.0.1]:1234", "203.0.113.1", "203.0.113.1", proxies},
		{"a client with a port", "10.0.0.1:1234", "203.0.113.1:5555", "203.0.113.1", proxies},
		{"garbage from the proxy: the proxy", "10.0.0.1:1234", "not an address", "10.0.0.1", proxies},
		{"only proxies: the leftmost", "10.0.0.1:1234", "10.0.0.2", "10.0.0.2", proxies},
		{"no header from a proxy: the proxy", "10.0.0.1:1234", "", "10.0.0.1", proxies},
	} {
		c := &console{cfg: Config{TrustedProxies: tc.trusted}}
		r := httptest.NewRequest(http.MethodPost, "/login", nil)
		r.RemoteAddr = tc.remote
		for _, h := range strings.Split(tc.xff, "|") {
			if h != "" {
				r.Header.Add("X-Forwarded-For", h)
			}
		}
		if got := c.clientIP(r); got != tc.want {
			t.Errorf("%s: clientIP = %q, want %q", tc.name, got, tc.want)
		}
	}

	// Behind a load balancer, one client's failures lock only that client.
	users := map[string]string{"agent@example.com": "agent password"}
	clk := NewClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	c, mux := mustConsole(t, clk, users, func(cfg *Config) { cfg.TrustedProxies = proxies })
	c.limits.pair = 2
	for range 2 {
		if got := signInFrom(t, mux, "10.0.0.1", "203.0.113.1", "agent@example.com", "wrong"); got != http.StatusUnauthorized {
			t.Fatalf("wrong password = %d", got)
		}
	}
	if got := signInFrom(t, mux, "10.0.0.1", "203.0.113.1", "agent@example.com", users["agent@example.com"]); got != http.StatusTooManyRequests {
		t.Errorf("the guessing client = %d, want 429", got)
	}
	if got := signInFrom(t, mux, "10.0.0.1", "203.0.113.2", "agent@example.com", users["agent@example.com"]); got != http.StatusSeeOther {
		t.Errorf("another client through the same balancer = %d, want 303", got)
	}
}

// TestSlideSession: a session in use moves its expiry to the idle timeout
// from now, writing the store at most once a minute; one stored with a
// longer timeout (before an upgrade) is brought back within it; one past
// its lifetime ends; and when the store cannot write, the session goes on
// to its current expiry, with a warning.
func TestSlideSession(t *testing.T) {
	t.Parallel()
	clk := NewClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	logs := &strings.Builder{} // slide runs on this goroutine
	var store *touchCounter
	c, _ := mustConsole(t, clk, map[string]string{"agent@example.com": "agent password"}, func(cfg *Config) {
		store = &touchCounter{Store: cfg.Store}
		cfg.Store = store
		cfg.SessionTTL, cfg.SessionIdle = 12*time.Hour, 30*time.Minute
		cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	})
	ctx := t.Context()
	u, err := store.UserByEmail(ctx, "agent@example.com")
	if err != nil {
		t.Fatal(err)
	}
	created := clk.Now()
	sess := &rechargekit.Session{TokenHash: "h-old", UserID: u.ID, CSRFToken: "c", CreatedAt: created, ExpiresAt: created.Add(12 * time.Hour)}
	if err := store.CreateSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	stored := func() time.Time {
		t.Helper()
		got, err := store.Session(ctx, "h-old", clk.Now())
		if err != nil {
			t.Fatalf("session: %v", err)
		}
		return got.ExpiresAt
	}

	if !c.slide(ctx, sess) || !stored().Equal(created.Add(30*time.Minute)) || store.touches != 1 {
		t.Fatalf("a session stored with 12h, first used: expiry %v after %d writes, want %v after 1", stored(), store.touches, created.Add(30*time.Minute))
	}
	clk.Advance(30 * time.Second)
	c.slide(ctx, sess)
	if store.touches != 1 {
		t.Errorf("used again 30 s later: %d writes, want still 1", store.touches)
	}
	clk.Advance(31 * time.Second)
	if !c.slide(ctx, sess) || store.touches != 2 || !stored().Equal(clk.Now().Add(30*time.Minute)) {
		t.Errorf("used 61 s after the first: %d writes, expiry %v; want 2 and %v", store.touches, stored(), clk.Now().Add(30*time.Minute))
	}

	store.fail = true
	before := sess.ExpiresAt
	clk.Advance(5 * time.Minute)
	if !c.slide(ctx, sess) || !sess.ExpiresAt.Equal(before) {
		t.Errorf("with the store failing: expiry %v; want the session kept, to end at %v", sess.ExpiresAt, before)
	}
	if !strings.Contains(logs.String(), "could not move a console session's expiry") {
		t.Errorf("a failing store is not logged:\n%s", logs)
	}
	store.fail = false

	// A session older than the lifetime now configured ends at once.
	old := &rechargekit.Session{TokenHash: "h-ancient", UserID: u.ID, CSRFToken: "c", CreatedAt: clk.Now().Add(-13 * time.Hour), ExpiresAt: clk.Now().Add(time.Hour)}
	if err := store.CreateSession(ctx, old); err != nil {
		t.Fatal(err)
	}
	if c.slide(ctx, old) {
		t.Error("a session past its 12h lifetime was kept")
	}
	if _, err := store.Session(ctx, "h-ancient", clk.Now()); rechargekit.ErrorCode(err) != rechargekit.ENOTFOUND {
		t.Errorf("a session past its lifetime is still stored: %v", err)
	}
}

// touchCounter counts TouchSession calls and can fail them. It is used
// on one goroutine.
type touchCounter struct {
	rechargekit.Store
	touches int
	fail    bool
}

func (s *touchCounter) TouchSession(ctx context.Context, tokenHash string, now, until time.Time) error {
	s.touches++
	if s.fail {
		return errors.New("disk I/O error")
	}
	return s.Store.TouchSession(ctx, tokenHash, now, until)
}
