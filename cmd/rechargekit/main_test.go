package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/gladly"
	"github.com/rechargekit/rechargekit/recharge/rechargetest"
	"github.com/rechargekit/rechargekit/server"
)

// syncBuffer collects a command's output; servers write from goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// run runs one command to completion and returns its exit status and output.
func run(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut syncBuffer
	m := &Main{Stdout: &out, Stderr: &errOut, Getenv: func(k string) string { return env[k] }}
	code = m.Run(context.Background(), args)
	return code, out.String(), errOut.String()
}

// startServer runs a long-lived command (demo, serve, simulate) in the
// background until the test ends and returns its base URL and output.
func startServer(t *testing.T, env map[string]string, args ...string) (url string, stdout *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	urls := make(chan string, 1)
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	m := &Main{
		Stdout: stdout, Stderr: stderr,
		Getenv: func(k string) string { return env[k] },
		ready:  func(name, u string) { urls <- u },
	}
	done := make(chan int, 1)
	go func() { done <- m.Run(ctx, args) }()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("%v exited with %d after interrupt; stderr:\n%s", args, code, stderr)
		}
	})
	select {
	case u := <-urls:
		return u, stdout
	case code := <-done:
		t.Fatalf("%v exited early with %d; stderr:\n%s", args, code, stderr)
	case <-time.After(30 * time.Second):
		t.Fatalf("%v did not start listening; stderr:\n%s", args, stderr)
	}
	return "", nil
}

func TestSimulateThenLookup(t *testing.T) {
	t.Parallel()
	simURL, out := startServer(t, nil, "simulate", "--addr", "127.0.0.1:0", "--token", "tok-1")
	if !strings.Contains(out.String(), simURL) {
		t.Errorf("simulate did not print its URL %s:\n%s", simURL, out)
	}
	env := map[string]string{"RECHARGE_API_URL": simURL, "RECHARGE_API_TOKEN": "tok-1"}

	code, stdout, stderr := run(t, env, "lookup", "--email", "alex.rivera@example.com")
	if code != 0 {
		t.Fatalf("lookup exited %d: %s", code, stderr)
	}
	for _, want := range []string{
		"Alex Rivera <alex.rivera@example.com>", "Recharge customer 183940021", "3 total, 2 active",
		"ACTIVE    Dog Dental Chews — Medium dogs / 30 pack",
		"ACTIVE    Dog Lovers T-Shirt — Large / Heather Grey", "DOG-TEE-L", "25.00 USD", "every 1 month", "Next billing",
		"CANCELLED Cat Pajamas — Large", "Too many pajamas (Will come back in winter)", "111-3", "49.50 USD", "every 30 days",
		"https://cdn.example-store.com/",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("lookup output lacks %q:\n%s", want, stdout)
		}
	}

	code, stdout, stderr = run(t, env, "lookup", "--customer-id", "183940021", "--json")
	if code != 0 {
		t.Fatalf("lookup --json exited %d: %s", code, stderr)
	}
	var card struct {
		Customer      map[string]any   `json:"customer"`
		Subscriptions []map[string]any `json:"subscriptions"`
	}
	if err := json.Unmarshal([]byte(stdout), &card); err != nil {
		t.Fatalf("lookup --json is not a card: %v\n%s", err, stdout)
	}
	if card.Customer["rechargeCustomerId"] != "183940021" || card.Customer["subscriptionsTotalCount"] != "3" {
		t.Errorf("customer = %v", card.Customer)
	}
	if len(card.Subscriptions) != 3 {
		t.Fatalf("subscriptions = %d, want 3", len(card.Subscriptions))
	}
	// Active first (the Dog Dental Chews, newest, then the T-Shirt), then
	// the cancelled Cat Pajamas.
	active, cancelled := card.Subscriptions[1], card.Subscriptions[2]
	if active["status"] != "active" || active["nextBillingDate"] == nil || active["canceledAt"] != nil {
		t.Errorf("active subscription = %v", active)
	}
	if cancelled["status"] != "cancelled" || cancelled["nextBillingDate"] != nil ||
		cancelled["canceledAt"] == nil || cancelled["cancellationReason"] != "Too many pajamas" {
		t.Errorf("cancelled subscription = %v", cancelled)
	}
	for _, s := range card.Subscriptions {
		for _, k := range []string{"subscriptionId", "status", "createdAt", "updatedAt", "billingIntervalFrequency",
			"billingIntervalUnit", "price", "currencyCode", "quantity"} {
			if s[k] == nil {
				t.Errorf("subscription %v: %s is null", s["subscriptionId"], k)
			}
		}
		p := s["products"].([]any)[0].(map[string]any)
		for _, k := range []string{"id", "name", "sku", "imageUrl"} {
			if p[k] == nil {
				t.Errorf("subscription %v: product %s is null", s["subscriptionId"], k)
			}
		}
	}

	code, _, stderr = run(t, env, "lookup", "--email", "nobody@example.com")
	if code != 1 || !strings.Contains(stderr, "no Recharge customer has the email") {
		t.Errorf("unknown email: exit %d, stderr %q", code, stderr)
	}
	code, _, stderr = run(t, env, "lookup", "--customer-id", "999")
	if code != 1 || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
		t.Errorf("unknown id: exit %d, stderr %q; want 1 and one line", code, stderr)
	}
}

func TestLookupErrors(t *testing.T) {
	t.Parallel()
	// A port with nothing listening: connection refused at once. It is on
	// an address of the loopback range that no other test listens on, so a
	// parallel test's server cannot be given the port once it is closed.
	ln, err := net.Listen("tcp", "127.0.0.77:0")
	if err != nil {
		t.Fatal(err)
	}
	deadURL := "http://" + ln.Addr().String()
	ln.Close()

	tests := []struct {
		name     string
		env      map[string]string
		args     []string
		wantCode int
		want     string
	}{
		{"no token", map[string]string{"RECHARGE_API_URL": deadURL}, []string{"lookup", "--email", "a@b.c"}, 1, "RECHARGE_API_TOKEN is not set"},
		{"unreachable", map[string]string{"RECHARGE_API_URL": deadURL, "RECHARGE_API_TOKEN": "secret-token-value"},
			[]string{"lookup", "--customer-id", "1", "--timeout", "2s"}, 1, "Recharge is unavailable"},
		{"neither flag", nil, []string{"lookup"}, 2, "exactly one of --email or --customer-id"},
		{"both flags", nil, []string{"lookup", "--email", "a@b.c", "--customer-id", "1"}, 2, "exactly one"},
		{"bad id", map[string]string{"RECHARGE_API_TOKEN": "t"}, []string{"lookup", "--customer-id", "abc"}, 1, "not a Recharge customer id"},
		{"unknown command", nil, []string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{"no command", nil, nil, 2, "usage: rechargekit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, _, stderr := run(t, tt.env, tt.args...)
			if code != tt.wantCode || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr, tt.wantCode, tt.want)
			}
			if strings.Contains(stderr, "secret-token-value") {
				t.Errorf("the token leaked into the output: %q", stderr)
			}
			if strings.Contains(stderr, "goroutine ") || strings.Contains(stderr, "panic") {
				t.Errorf("stack trace in the output: %q", stderr)
			}
		})
	}
}

func TestDemoThenGladlyLookup(t *testing.T) {
	t.Parallel()
	base, out := startServer(t, nil, "demo", "--addr", "127.0.0.1:0", "--signing-key", "demo-key-1")
	for _, want := range []string{base + "/gladly/lookup", "demo-key-1", "gladly-lookup --url " + base + "/gladly/lookup --key demo-key-1 --email alex.rivera@example.com --detailed",
		base + "/login", "admin  admin@example.com  password ", "agent  agent@example.com  password ", base + "/profiles/sam-taylor"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}

	code, stdout, stderr := run(t, nil, "gladly-lookup", "--url", base+"/gladly/lookup", "--key", "demo-key-1",
		"--email", "alex.rivera@example.com", "--detailed")
	if code != 0 {
		t.Fatalf("gladly-lookup exited %d: %s", code, stderr)
	}
	var resp gladly.LookupResponse
	if err := json.Unmarshal([]byte(stdout), &resp); err != nil {
		t.Fatalf("answer is not a lookup response: %v\n%s", err, stdout)
	}
	if len(resp.Results) != 1 || len(resp.Results[0].Transactions) != 3 {
		t.Fatalf("results = %+v", resp.Results)
	}
	// The Dog Dental Chews (newest) share the T-Shirt's next charge date.
	tx := resp.Results[0].Transactions
	if *tx[0].Products[0].Name != "Dog Dental Chews" || *tx[0].Status != "active" || tx[0].NextBillingDate == nil ||
		tx[1].NextBillingDate == nil || *tx[0].NextBillingDate != *tx[1].NextBillingDate {
		t.Errorf("first transaction = %+v", tx[0])
	}
	if *tx[1].Products[0].Name != "Dog Lovers T-Shirt" || *tx[1].Status != "active" {
		t.Errorf("second transaction = %+v", tx[1])
	}
	if *tx[2].Products[0].Name != "Cat Pajamas" || *tx[2].Status != "cancelled" || tx[2].CanceledAt == nil ||
		*tx[2].CancellationReason != "Too many pajamas" {
		t.Errorf("third transaction = %+v", tx[2])
	}
	if !strings.Contains(stderr, "Gladly would auto-link the profile to Recharge customer 183940021") {
		t.Errorf("summary lacks the auto-link verdict: %s", stderr)
	}

	// The console: sign in with the printed agent password and open the
	// profile that links itself.
	var password string
	for _, line := range strings.Split(out.String(), "\n") {
		if f := strings.Fields(line); len(f) == 4 && f[0] == "agent" && f[2] == "password" {
			password = f[3]
		}
	}
	page := consoleGet(t, base, "agent@example.com", password, "/profiles/alex-rivera")
	for _, want := range []string{"Linked automatically", "Dog Lovers T-Shirt", "Cat Pajamas", "Too many pajamas", "183940021"} {
		if !strings.Contains(page, want) {
			t.Errorf("console profile page lacks %q", want)
		}
	}

	// The two Sam Taylor accounts: no auto-link, and no detailed lookup.
	code, _, stderr = run(t, nil, "gladly-lookup", "--url", base+"/gladly/lookup", "--key", "demo-key-1",
		"--email", "sam.taylor@example.com")
	if code != 0 {
		t.Errorf("single-candidate search exited %d: %s", code, stderr)
	}

	// A wrong key is refused with a hint.
	code, _, stderr = run(t, nil, "gladly-lookup", "--url", base+"/gladly/lookup", "--key", "wrong",
		"--customer-id", "183940021", "--detailed")
	if code != 1 || !strings.Contains(stderr, "check --key") {
		t.Errorf("wrong key: exit %d, stderr %q", code, stderr)
	}
}

// consoleGet signs in to the console as a browser would (signIn) and
// returns the body of path.
func consoleGet(t *testing.T, base, email, password, path string) string {
	t.Helper()
	resp, err := signIn(t, base, email, password).Get(base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d:\n%s", path, resp.StatusCode, b)
	}
	return string(b)
}

func TestServe(t *testing.T) {
	t.Parallel()
	sim := rechargetest.NewServer(t, rechargetest.Config{})
	sim.Load(rechargetest.DemoSeed())
	env := map[string]string{
		"RECHARGE_API_URL":   sim.URL,
		"RECHARGE_API_TOKEN": rechargetest.DefaultToken,
		"GLADLY_SIGNING_KEY": "serve-key",
		"LISTEN_ADDR":        "127.0.0.1:0",
		"DATABASE_URL":       filepath.Join(t.TempDir(), "serve.db"),
	}
	base, _ := startServer(t, env, "serve")
	for _, path := range []string{"/healthz", "/readyz", "/login"} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s = %d %s", path, resp.StatusCode, body)
		}
	}
	// Unsigned lookups are refused once a signing key is configured.
	resp, err := http.Post(base+"/gladly/lookup", "application/json",
		strings.NewReader(`{"lookupLevel":"DETAILED","query":{"externalCustomerId":"183940021"}}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("unsigned lookup = %d, want 401", resp.StatusCode)
	}
	c := &gladly.Client{URL: base + "/gladly/lookup", SigningKey: "serve-key"}
	got, err := c.Search(context.Background(), map[string]string{"email": "sam.t@example.org"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Results) != 1 || got.Results[0].ExternalCustomerID != "183940002" {
		t.Errorf("search results = %+v", got.Results)
	}
}

func TestServeRefusesBadToken(t *testing.T) {
	t.Parallel()
	sim := rechargetest.NewServer(t, rechargetest.Config{})
	env := map[string]string{"RECHARGE_API_URL": sim.URL, "RECHARGE_API_TOKEN": "not-a-token", "LISTEN_ADDR": "127.0.0.1:0",
		"DATABASE_URL": filepath.Join(t.TempDir(), "serve.db")}
	code, _, stderr := run(t, env, "serve")
	if code != 1 || !strings.Contains(stderr, "Recharge refused the API token") || strings.Contains(stderr, "not-a-token") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

// TestLookupRefusedToken checks that lookup names a refused token as such,
// not as Recharge being unreachable, though both are upstream failures.
func TestLookupRefusedToken(t *testing.T) {
	t.Parallel()
	sim := rechargetest.NewServer(t, rechargetest.Config{})
	env := map[string]string{"RECHARGE_API_URL": sim.URL, "RECHARGE_API_TOKEN": "not-a-token"}
	code, _, stderr := run(t, env, "lookup", "--email", "alex.rivera@example.com")
	if code != 1 || !strings.Contains(stderr, "Recharge refused the API token (check RECHARGE_API_TOKEN and its scopes)") ||
		strings.Contains(stderr, "unreachable") || strings.Contains(stderr, "not-a-token") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

func TestUserAndTokenAdd(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := map[string]string{"DATABASE_URL": filepath.Join(t.TempDir(), "rk.db")}
	lastLine := func(s string) string {
		lines := strings.Split(strings.TrimSpace(s), "\n")
		return lines[len(lines)-1]
	}

	code, stdout, stderr := run(t, env, "user", "add", "--email", "Boss@example.com", "--role", "admin")
	if code != 0 {
		t.Fatalf("user add exited %d: %s", code, stderr)
	}
	password := lastLine(stdout)
	code, stdout, stderr = run(t, env, "token", "add", "--name", "helpdesk")
	if code != 0 {
		t.Fatalf("token add exited %d: %s", code, stderr)
	}
	token := lastLine(stdout)

	store, err := openStore(ctx, env["DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	u, err := store.UserByEmail(ctx, "boss@example.com")
	if err != nil || u.Role != rechargekit.RoleAdmin || !server.CheckPassword(u.PasswordHash, password) {
		t.Errorf("user = %+v, %v; the printed password must sign in", u, err)
	}
	if tok, err := store.APITokenByHash(ctx, server.HashAPIToken(token)); err != nil || tok.Name != "helpdesk" || tok.Role != rechargekit.RoleAgent {
		t.Errorf("token = %+v, %v; want helpdesk, an agent's by default", tok, err)
	}
	code, stdout, stderr = run(t, env, "token", "add", "--name", "automation", "--role", "admin")
	if code != 0 {
		t.Fatalf("token add --role admin exited %d: %s", code, stderr)
	}
	if tok, err := store.APITokenByHash(ctx, server.HashAPIToken(lastLine(stdout))); err != nil || tok.Name != "automation" || tok.Role != rechargekit.RoleAdmin {
		t.Errorf("token = %+v, %v; want automation, an admin's", tok, err)
	}

	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"user", "add", "--email", "boss@example.com", "--role", "agent"}, 1, "already exists"},
		{[]string{"user", "add", "--email", "x@example.com", "--role", "root"}, 2, "--role must be agent or admin"},
		{[]string{"user", "remove"}, 2, "usage: rechargekit user add"},
		{[]string{"token", "add", "--name", "helpdesk"}, 1, "already exists"},
		{[]string{"token", "add"}, 2, "--name is required"},
		{[]string{"token", "add", "--name", "other", "--role", "gladly"}, 2, "--role must be agent or admin"},
	} {
		code, _, stderr := run(t, env, tt.args...)
		if code != tt.code || !strings.Contains(stderr, tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tt.args, code, stderr, tt.code, tt.want)
		}
	}
	if code, stdout, _ := run(t, env, "migrate"); code != 0 || !strings.Contains(stdout, "up to date") {
		t.Errorf("migrate: %d %q", code, stdout)
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	code, stdout, _ := run(t, nil, "version")
	if code != 0 || !strings.HasPrefix(stdout, "rechargekit ") {
		t.Errorf("version: %d %q", code, stdout)
	}
}
