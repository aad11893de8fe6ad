package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/gladly"
	"github.com/rechargekit/rechargekit/recharge"
	"github.com/rechargekit/rechargekit/recharge/rechargetest"
	"github.com/rechargekit/rechargekit/storetest"
)

// secretSet is every secret the service is given or makes, by name.
type secretSet map[string]string

// leaks returns, for each secret found in s, its name and where. A secret
// counts as found whole, and also by its random part's first 12
// characters, so that a printed prefix ("tok-3f9a2c…") is caught too.
func (ss secretSet) leaks(where, s string) []string {
	var out []string
	for name, secret := range ss {
		probes := []string{secret}
		if _, random, ok := strings.Cut(secret, "-"); ok && len(random) >= 12 {
			probes = append(probes, random[:12])
		}
		for _, p := range probes {
			if i := strings.Index(s, p); i >= 0 {
				line := s[max(0, strings.LastIndexByte(s[:i], '\n')+1):]
				if j := strings.IndexByte(line, '\n'); j >= 0 {
					line = line[:j]
				}
				out = append(out, fmt.Sprintf("%s holds the %s: %.300s", where, name, line))
				break
			}
		}
	}
	return out
}

// recorder keeps every answer a test client received: status line,
// headers and body.
type recorder struct {
	mu      sync.Mutex
	answers []string
	// skipCookies names Set-Cookie cookies not to record: the session a
	// sign-in hands out is its answer's purpose, and is checked in the logs.
	skipCookies map[string]bool
}

func (rec *recorder) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s -> %d\n", r.Method, r.URL.Path, resp.StatusCode)
	for name, values := range resp.Header {
		for _, v := range values {
			if name == "Set-Cookie" && rec.skipCookies[strings.SplitN(v, "=", 2)[0]] {
				continue
			}
			fmt.Fprintf(&b, "%s: %s\n", name, v)
		}
	}
	b.Write(body)
	rec.mu.Lock()
	rec.answers = append(rec.answers, b.String())
	rec.mu.Unlock()
	return resp, nil
}

func (rec *recorder) all() string {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return strings.Join(rec.answers, "\n----\n")
}

// startServe runs `rechargekit serve` in-process until the test ends and
// returns its base URL and its log (stderr).
func startServe(t *testing.T, env map[string]string, args ...string) (string, *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	urls := make(chan string, 1)
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	m := &Main{Stdout: stdout, Stderr: stderr, Getenv: func(k string) string { return env[k] },
		ready: func(name, u string) { urls <- u }}
	done := make(chan int, 1)
	go func() { done <- m.Run(ctx, append([]string{"serve"}, args...)) }()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("serve exited with %d after interrupt; stderr:\n%s", code, stderr)
		}
	})
	select {
	case u := <-urls:
		return u, stderr
	case code := <-done:
		t.Fatalf("serve exited early with %d; stderr:\n%s", code, stderr)
	case <-time.After(60 * time.Second):
		t.Fatalf("serve did not start listening; stderr:\n%s", stderr)
	}
	return "", nil
}

// TestSecretsNeverLeak runs the whole app (`rechargekit serve`, logging at
// debug level, on PostgreSQL when RECHARGEKIT_TEST_POSTGRES is set, else
// SQLite) with a Recharge token, a Gladly signing key and Basic password,
// a webhook secret, a metrics token, a DATABASE_URL with a password and
// console users, and exercises sign-in (right and wrong), the console, the
// JSON API (right and wrong token), Gladly lookups (signed, badly signed,
// wrong Basic password), webhooks (good and bad signatures), Recharge
// answering 401 and 5xx, /readyz and /metrics, and the CLI's failures
// (Recharge refusing the token, Recharge failing, an unreachable or
// malformed DATABASE_URL, a lookup the adaptor refuses). No secret may
// appear in any log line, answer (status, headers, body, except the
// session cookie a sign-in sets) or printed error.
func TestSecretsNeverLeak(t *testing.T) {
	t.Parallel()
	secrets := secretSet{
		"Recharge API token":      "rtok-" + randomHex(16),
		"wrong Recharge token":    "wtok-" + randomHex(16),
		"webhook secret":          "whsec-" + randomHex(16),
		"Gladly signing key":      "gkey-" + randomHex(16),
		"Gladly Basic password":   "gbasic-" + randomHex(16),
		"metrics token":           "mtok-" + randomHex(16),
		"database password":       "dbpw-" + randomHex(16),
		"wrong database password": "dbpw2-" + randomHex(16),
	}
	basic := base64.StdEncoding.EncodeToString([]byte("gladly:" + secrets["Gladly Basic password"]))
	secrets["Gladly Basic credentials"] = "b64-" + basic // the random part is the encoded pair

	sim := rechargetest.NewServer(t, rechargetest.Config{Tokens: []string{secrets["Recharge API token"]}})
	sim.Load(rechargetest.DemoSeed())

	var dbURL string
	if pg := os.Getenv("RECHARGEKIT_TEST_POSTGRES"); pg != "" {
		u, err := url.Parse(storetest.MustPostgresSchema(t, pg))
		if err != nil {
			t.Fatal(err)
		}
		u.User = url.UserPassword(u.User.Username(), secrets["database password"])
		dbURL = u.String()
	} else {
		if os.Getenv("CI") == "true" {
			t.Fatal("RECHARGEKIT_TEST_POSTGRES is not set: in CI this test runs on PostgreSQL, with a password in DATABASE_URL")
		}
		t.Log("RECHARGEKIT_TEST_POSTGRES is not set: running on SQLite, so DATABASE_URL holds no password")
		dbURL = filepath.Join(t.TempDir(), "secrets.db")
	}
	env := map[string]string{
		"RECHARGE_API_URL":        sim.URL,
		"RECHARGE_API_TOKEN":      secrets["Recharge API token"],
		"RECHARGE_WEBHOOK_SECRET": secrets["webhook secret"],
		"GLADLY_SIGNING_KEY":      secrets["Gladly signing key"],
		"GLADLY_BASIC_USER":       "gladly",
		"GLADLY_BASIC_PASSWORD":   secrets["Gladly Basic password"],
		"METRICS_TOKEN":           secrets["metrics token"],
		"DATABASE_URL":            dbURL,
		"LISTEN_ADDR":             "127.0.0.1:0",
		"LOG_LEVEL":               "debug",
	}
	var printed []string // every CLI output that must hold no secret
	cli := func(env map[string]string, args ...string) (int, string, string) {
		t.Helper()
		code, stdout, stderr := run(t, env, args...)
		printed = append(printed, fmt.Sprintf("rechargekit %s: stdout:\n%s\nstderr:\n%s", strings.Join(args, " "), stdout, stderr))
		return code, stdout, stderr
	}
	// Users and a token are made by the CLI, which shows each secret once
	// on stdout: that output is its purpose and is not checked; its stderr is.
	lastLine := func(s string) string { l := strings.Split(strings.TrimSpace(s), "\n"); return l[len(l)-1] }
	add := func(args ...string) string {
		t.Helper()
		code, stdout, stderr := run(t, env, args...)
		printed = append(printed, "rechargekit "+strings.Join(args, " ")+": stderr:\n"+stderr)
		if code != 0 {
			t.Fatalf("%v = %d: %s", args, code, stderr)
		}
		return lastLine(stdout)
	}
	secrets["admin password"] = add("user", "add", "--email", "admin@example.com", "--role", "admin")
	secrets["agent password"] = add("user", "add", "--email", "agent@example.com", "--role", "agent")
	secrets["API token"] = add("token", "add", "--name", "desk")

	base, logs := startServe(t, env, "--lookup-deadline", "2s")
	rec := &recorder{skipCookies: map[string]bool{"rechargekit_session": true}}
	client := &http.Client{Transport: rec, Timeout: 30 * time.Second}
	do := func(c *http.Client, method, path, body string, header ...string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	want := func(what string, got, want int) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %d, want %d", what, got, want)
		}
	}
	bearer := "Bearer " + secrets["API token"]
	alex := strconv.FormatInt(rechargetest.DemoAlexRiveraID, 10)

	// The JSON API: profiles put, a card read, wrong and missing tokens.
	status, _ := do(client, http.MethodPut, "/api/profiles/alex", `{"name":"Alex Rivera","emails":["alex.rivera@example.com"]}`,
		"Authorization", bearer, "Content-Type", "application/json")
	want("API put profile", status, http.StatusCreated)
	do(client, http.MethodPut, "/api/profiles/sam", `{"name":"Sam Taylor","emails":["sam.taylor@example.com"]}`,
		"Authorization", bearer, "Content-Type", "application/json")
	status, _ = do(client, http.MethodGet, "/api/profiles/alex/card", "", "Authorization", bearer)
	want("API card", status, http.StatusOK)
	status, _ = do(client, http.MethodGet, "/api/profiles/alex/card", "", "Authorization", bearer+"x")
	want("API card with a wrong token", status, http.StatusUnauthorized)
	status, _ = do(client, http.MethodGet, "/api/profiles/alex/card", "", "Authorization", "Bearer "+secrets["Recharge API token"])
	want("API card with the Recharge token", status, http.StatusUnauthorized)

	// The console: wrong passwords, then right ones, pages, sign-out.
	console := func(email, password string) (*http.Client, int) {
		t.Helper()
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Transport: rec, Jar: jar, Timeout: 30 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		_, page := do(c, http.MethodGet, "/login", "")
		m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(page)
		if m == nil {
			t.Fatalf("no sign-in form:\n%s", page)
		}
		status, _ := do(c, http.MethodPost, "/login", url.Values{"email": {email}, "password": {password}, "csrf": {m[1]}}.Encode(),
			"Content-Type", "application/x-www-form-urlencoded", "Origin", base)
		u, _ := url.Parse(base)
		for _, ck := range jar.Cookies(u) {
			if ck.Name == "rechargekit_session" {
				secrets["session token of "+email+" "+strconv.Itoa(len(secrets))] = "sess-" + ck.Value
			}
		}
		return c, status
	}
	_, status = console("admin@example.com", secrets["agent password"])
	want("sign-in with another user's password", status, http.StatusUnauthorized)
	_, status = console("nobody@example.com", secrets["admin password"])
	want("sign-in as nobody", status, http.StatusUnauthorized)
	admin, status := console("admin@example.com", secrets["admin password"])
	want("admin sign-in", status, http.StatusSeeOther)
	agent, status := console("agent@example.com", secrets["agent password"])
	want("agent sign-in", status, http.StatusSeeOther)
	for _, path := range []string{"/profiles", "/profiles/alex", "/profiles/sam", "/profiles/sam?find=" + alex, "/admin/settings", "/admin/users", "/admin/tokens", "/admin/audit"} {
		status, _ := do(admin, http.MethodGet, path, "")
		want("admin GET "+path, status, http.StatusOK)
	}
	status, _ = do(agent, http.MethodGet, "/admin/tokens", "")
	want("agent GET /admin/tokens", status, http.StatusForbidden)

	// Gladly lookups: signed with Basic, then each credential wrong.
	lookup := func(key, basicPassword string) error {
		c := &gladly.Client{URL: base + gladly.DefaultPath, SigningKey: key, BasicUser: "gladly", BasicPassword: basicPassword,
			HTTPClient: &http.Client{Transport: rec, Timeout: 30 * time.Second}}
		_, err := c.Detailed(context.Background(), alex, rechargekit.Profile{ID: "alex"})
		return err
	}
	if err := lookup(secrets["Gladly signing key"], secrets["Gladly Basic password"]); err != nil {
		t.Errorf("signed lookup: %v", err)
	}
	for name, err := range map[string]error{
		"wrong key":            lookup(secrets["Gladly signing key"]+"x", secrets["Gladly Basic password"]),
		"the Recharge token":   lookup(secrets["Recharge API token"], secrets["Gladly Basic password"]),
		"wrong Basic password": lookup(secrets["Gladly signing key"], secrets["Gladly Basic password"]+"x"),
		"unsigned":             lookup("", secrets["Gladly Basic password"]),
	} {
		if statusOf(err) != http.StatusUnauthorized {
			t.Errorf("lookup with %s: %v, want 401", name, err)
		}
		if err != nil {
			printed = append(printed, "gladly client error ("+name+"): "+err.Error())
		}
	}

	// Webhooks: a good signature, a bad one, none.
	hook := []byte(fmt.Sprintf(`{"customer":{"id":%s,"email":"alex.rivera@example.com"}}`, alex))
	for _, tc := range []struct {
		name, signature string
		status          int
	}{
		{"good signature", recharge.SignWebhook(secrets["webhook secret"], hook), http.StatusOK},
		{"signed with the Recharge token", recharge.SignWebhook(secrets["Recharge API token"], hook), http.StatusUnauthorized},
		{"no signature", "", http.StatusUnauthorized},
	} {
		status, _ := do(client, http.MethodPost, "/webhooks/recharge", string(hook), "Content-Type", "application/json",
			recharge.HeaderTopic, "customer/updated", recharge.HeaderHmacSha256, tc.signature)
		want("webhook with "+tc.name, status, tc.status)
	}

	// Recharge failing: the token refused (401), then 5xx, for each desk.
	for _, f := range []rechargetest.Faults{{Status: http.StatusUnauthorized}, {Status: http.StatusServiceUnavailable}, {Status: http.StatusInternalServerError}} {
		sim.SetFaults(f)
		do(client, http.MethodGet, "/api/profiles/sam/card", "", "Authorization", bearer)
		do(admin, http.MethodGet, "/profiles/sam?find=sam.taylor@example.com", "")
		if err := lookup(secrets["Gladly signing key"], secrets["Gladly Basic password"]); err != nil {
			printed = append(printed, "gladly client error (Recharge "+strconv.Itoa(f.Status)+"): "+err.Error())
		}
		c := &gladly.Client{URL: base + gladly.DefaultPath, SigningKey: secrets["Gladly signing key"], BasicUser: "gladly",
			BasicPassword: secrets["Gladly Basic password"], HTTPClient: &http.Client{Transport: rec, Timeout: 30 * time.Second}}
		if _, err := c.Search(context.Background(), map[string]string{"email": "sam.taylor@example.com"}); err != nil {
			printed = append(printed, "gladly client error (search, Recharge "+strconv.Itoa(f.Status)+"): "+err.Error())
		}
		do(client, http.MethodGet, "/readyz", "")
	}
	sim.SetFaults(rechargetest.Faults{})

	// /metrics with its token, and refused without it.
	status, metricsBody := do(client, http.MethodGet, "/metrics", "", "Authorization", "Bearer "+secrets["metrics token"])
	want("metrics with the token", status, http.StatusOK)
	if !strings.Contains(metricsBody, "rechargekit_") {
		t.Errorf("/metrics holds no rechargekit metrics:\n%.500s", metricsBody)
	}
	status, _ = do(client, http.MethodGet, "/metrics", "", "Authorization", "Bearer "+secrets["metrics token"]+"x")
	want("metrics with a wrong token", status, http.StatusUnauthorized)

	status, _ = do(admin, http.MethodGet, "/profiles", "")
	want("admin still signed in", status, http.StatusOK)

	// The CLI's failures.
	with := func(changes ...string) map[string]string {
		e := map[string]string{}
		for k, v := range env {
			e[k] = v
		}
		for i := 0; i+1 < len(changes); i += 2 {
			e[changes[i]] = changes[i+1]
		}
		return e
	}
	if code, _, _ := cli(with("RECHARGE_API_TOKEN", secrets["wrong Recharge token"]), "lookup", "--email", "alex.rivera@example.com"); code == 0 {
		t.Error("lookup with a refused token succeeded")
	}
	if code, _, _ := cli(with("RECHARGE_API_TOKEN", secrets["wrong Recharge token"]), "serve", "--addr", "127.0.0.1:0"); code == 0 {
		t.Error("serve with a refused token succeeded")
	}
	if code, _, _ := cli(with("RECHARGE_API_TOKEN", secrets["wrong Recharge token"]), "webhooks", "install", "--url", base+"/webhooks/recharge"); code == 0 {
		t.Error("webhooks install with a refused token succeeded")
	}
	sim.SetFaults(rechargetest.Faults{Status: http.StatusBadGateway})
	if code, _, _ := cli(env, "lookup", "--customer-id", alex, "--timeout", "2s"); code == 0 {
		t.Error("lookup while Recharge fails succeeded")
	}
	sim.SetFaults(rechargetest.Faults{})
	for _, bad := range []string{
		"postgres://rechargekit:" + secrets["wrong database password"] + "@127.0.0.1:1/rechargekit?connect_timeout=2",
		"postgres://rechargekit:" + secrets["wrong database password"] + "@[::1/rechargekit",
		"mysql://rechargekit:" + secrets["wrong database password"] + "@db.example/rechargekit",
		"host=db.example password=" + secrets["wrong database password"],
	} {
		if code, _, _ := cli(with("DATABASE_URL", bad), "migrate"); code == 0 {
			t.Errorf("migrate with a bad DATABASE_URL succeeded")
		}
		if code, _, _ := cli(with("DATABASE_URL", bad), "serve", "--addr", "127.0.0.1:0"); code == 0 {
			t.Errorf("serve with a bad DATABASE_URL succeeded")
		}
	}
	if code, _, _ := cli(with("GLADLY_SIGNING_KEY", secrets["Gladly signing key"]+"x"), "gladly-lookup", "--url", base+gladly.DefaultPath,
		"--email", "alex.rivera@example.com", "--basic-user", "gladly"); code == 0 {
		t.Error("gladly-lookup with a wrong key succeeded")
	}
	if code, _, _ := cli(env, "gladly-lookup", "--url", base+gladly.DefaultPath, "--email", "alex.rivera@example.com", "--basic-user", "gladly"); code != 0 {
		t.Error("gladly-lookup with the right key failed")
	}

	// Now look: every log line, every answer, every printed output.
	logText := logs.String()
	if n := strings.Count(logText, `"level":"DEBUG"`); n == 0 {
		t.Errorf("no debug lines in the log: LOG_LEVEL=debug did not take")
	}
	for _, want := range []string{"signature rejected", "sign-in failed", "Recharge refused"} {
		if !strings.Contains(logText, want) {
			t.Errorf("the log lacks %q: the failure paths were not exercised", want)
		}
	}
	var problems []string
	for i, line := range strings.Split(logText, "\n") {
		problems = append(problems, secrets.leaks(fmt.Sprintf("log line %d", i+1), line)...)
	}
	problems = append(problems, secrets.leaks("the answers", rec.all())...)
	problems = append(problems, secrets.leaks("/metrics", metricsBody)...)
	for _, p := range printed {
		problems = append(problems, secrets.leaks("printed output of "+strings.SplitN(p, ":", 2)[0], p)...)
	}
	for _, p := range problems {
		t.Error(p)
	}
	if t.Failed() {
		t.Logf("log:\n%s", logText)
	}
}

// TestTrustedProxiesSetting: serve reads the load balancers whose
// X-Forwarded-For names the client (for the sign-in limits) from
// --trusted-proxies or $TRUSTED_PROXIES, as addresses or CIDR ranges, and
// refuses anything else.
func TestTrustedProxiesSetting(t *testing.T) {
	t.Parallel()
	parse := func(env map[string]string, args ...string) (*serveCommand, error) {
		c := &serveCommand{m: &Main{Stdout: io.Discard, Stderr: io.Discard, Getenv: func(k string) string { return env[k] }}}
		return c, c.parseFlags(args)
	}
	c, err := parse(nil, "--trusted-proxies", "10.0.0.0/8, 192.0.2.1 fd00::/8,10.1.2.3/8")
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.1/32"),
		netip.MustParsePrefix("fd00::/8"), netip.MustParsePrefix("10.0.0.0/8")}
	if !slices.Equal(c.trustedProxies, want) {
		t.Errorf("trusted proxies = %v, want %v", c.trustedProxies, want)
	}
	c, err = parse(map[string]string{"TRUSTED_PROXIES": "172.16.0.0/12"})
	if err != nil || len(c.trustedProxies) != 1 || c.trustedProxies[0] != netip.MustParsePrefix("172.16.0.0/12") {
		t.Errorf("from $TRUSTED_PROXIES: %v, %v", c.trustedProxies, err)
	}
	if c, err := parse(nil); err != nil || c.trustedProxies != nil {
		t.Errorf("default: %v, %v; want none", c.trustedProxies, err)
	}
	if _, err := parse(nil, "--trusted-proxies", "10.0.0.0/8,load-balancer"); err == nil || !strings.Contains(err.Error(), "load-balancer") {
		t.Errorf("a host name: %v, want an error naming it", err)
	}
}

// TestFrameAncestorsSetting: serve refuses, at start-up, a frame-ancestors
// value that is not a CSP source list (one that could smuggle another
// directive into the policy), instead of silently refusing all framing.
func TestFrameAncestorsSetting(t *testing.T) {
	t.Parallel()
	parse := func(env map[string]string, args ...string) error {
		c := &serveCommand{m: &Main{Stdout: io.Discard, Stderr: io.Discard, Getenv: func(k string) string { return env[k] }}}
		return c.parseFlags(args)
	}
	for _, ok := range []string{"", "'none'", "'self'", "https://desk.example.com", "'self' https://*.gladly.com"} {
		if err := parse(map[string]string{"FRAME_ANCESTORS": ok}); err != nil {
			t.Errorf("FRAME_ANCESTORS=%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"https://desk.example.com; script-src 'unsafe-inline'", "'unsafe-inline'", "'none' https://x.example"} {
		err := parse(nil, "--frame-ancestors", bad)
		if err == nil || !strings.Contains(err.Error(), "frame-ancestors") {
			t.Errorf("--frame-ancestors %q: %v, want a clear error", bad, err)
		}
	}
}
