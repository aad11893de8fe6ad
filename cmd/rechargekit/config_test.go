package main

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rechargekit/rechargekit/mirror"
	"github.com/rechargekit/rechargekit/recharge/rechargetest"
)

// TestBadConfigurationRefusedAtStart checks that every setting with a
// syntax is checked when a command starts: a bad value is refused in one
// line that names the variable (or flag), before any database, listener or
// connection is opened, and a value that may hold a password is not shown.
func TestBadConfigurationRefusedAtStart(t *testing.T) {
	t.Parallel()
	dbPath := filepath.Join(t.TempDir(), "never.db")
	serveEnv := func(kv ...string) map[string]string {
		env := map[string]string{"RECHARGE_API_TOKEN": "tok", "DATABASE_URL": dbPath, "LISTEN_ADDR": "127.0.0.1:0"}
		for i := 0; i < len(kv); i += 2 {
			env[kv[i]] = kv[i+1]
		}
		return env
	}
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"API URL without a scheme", serveEnv("RECHARGE_API_URL", "127.0.0.1:4010"), []string{"serve"}, `RECHARGE_API_URL must be an http or https URL with a host, not "127.0.0.1:4010"`},
		{"API URL of another scheme", serveEnv("RECHARGE_API_URL", "ftp://api.example.com"), []string{"serve"}, "RECHARGE_API_URL must be an http or https URL"},
		{"API URL with a bad port", serveEnv("RECHARGE_API_URL", "http://127.0.0.1:40x0"), []string{"serve"}, "RECHARGE_API_URL"},
		{"Redis URL without a scheme", serveEnv("REDIS_URL", "localhost:6379"), []string{"serve"}, "REDIS_URL must be a Redis URL"},
		{"Redis URL with a bad port", serveEnv("REDIS_URL", "redis://:s3cret@cache:port/0"), []string{"serve"}, "REDIS_URL must be a Redis URL"},
		{"Redis URL with a bad database", serveEnv("REDIS_URL", "redis://cache:6379/zero"), []string{"serve"}, "REDIS_URL must be a Redis URL"},
		{"listen address without a port", serveEnv("LISTEN_ADDR", "8080"), []string{"serve"}, `LISTEN_ADDR must be HOST:PORT`},
		{"listen flag out of range", serveEnv(), []string{"serve", "--addr", "127.0.0.1:99999"}, "--addr ($LISTEN_ADDR) must be HOST:PORT"},
		{"cookie switch", serveEnv("COOKIE_SECURE", "yes"), []string{"serve"}, `COOKIE_SECURE must be true or false, not "yes"`},
		{"log level", serveEnv("LOG_LEVEL", "verbose"), []string{"serve"}, `LOG_LEVEL must be debug, info, warn or error, not "verbose"`},
		{"rate limit", serveEnv("RECHARGE_RATE_LIMIT", "40"), []string{"serve"}, "RECHARGE_RATE_LIMIT must be"},
		{"card TTL without a unit", serveEnv("CARD_TTL", "5"), []string{"serve"}, `CARD_TTL must be a duration such as 90s, 5m or 1h30m, not "5"`},
		{"session lifetime", serveEnv("SESSION_LIFETIME", "forever"), []string{"serve"}, "SESSION_LIFETIME must be a duration"},
		{"shutdown delay", serveEnv("SHUTDOWN_DELAY", "-5s"), []string{"serve"}, "--shutdown-delay must not be negative"},
		{"trusted proxies", serveEnv("TRUSTED_PROXIES", "lb.internal"), []string{"serve"}, "$TRUSTED_PROXIES"},
		{"frame ancestors", serveEnv("FRAME_ANCESTORS", "'unsafe-inline'"), []string{"serve"}, "$FRAME_ANCESTORS"},
		{"admin URL over http", serveEnv("RECHARGE_ADMIN_URL", "http://shop-sp.admin.rechargeapps.com"), []string{"serve"}, `RECHARGE_ADMIN_URL must be the https base URL of the store's Recharge merchant admin, e.g. https://example-store-sp.admin.rechargeapps.com, not "http://shop-sp.admin.rechargeapps.com"`},
		{"admin URL without a scheme", serveEnv("RECHARGE_ADMIN_URL", "shop-sp.admin.rechargeapps.com"), []string{"serve"}, "RECHARGE_ADMIN_URL must be the https base URL"},
		{"admin URL with a path", serveEnv("RECHARGE_ADMIN_URL", "https://shop-sp.admin.rechargeapps.com/merchant/customers"), []string{"serve"}, "RECHARGE_ADMIN_URL must be the https base URL"},
		{"admin URL with a password", serveEnv("RECHARGE_ADMIN_URL", "https://me:s3cret@shop-sp.admin.rechargeapps.com"), []string{"serve"}, "RECHARGE_ADMIN_URL must be the https base URL"},
		{"Gladly transactions", serveEnv("GLADLY_TRANSACTIONS", "orders"), []string{"serve"}, `GLADLY_TRANSACTIONS must be subscription or order, not "orders"`},
		{"mirror switch", serveEnv("RECHARGE_MIRROR", "yes"), []string{"serve"}, `RECHARGE_MIRROR must be on or off (unset: on when DATABASE_URL is set), not "yes"`},
		{"reconcile interval too short", serveEnv("MIRROR_RECONCILE_INTERVAL", "10s"), []string{"serve"}, "--mirror-reconcile-interval ($MIRROR_RECONCILE_INTERVAL) must be at least 30s, not 10s"},
		{"reconcile interval without a unit", serveEnv("MIRROR_RECONCILE_INTERVAL", "5"), []string{"serve"}, `MIRROR_RECONCILE_INTERVAL must be a duration such as 90s, 5m or 1h30m, not "5"`},
		{"reconcile flag too short", serveEnv(), []string{"serve", "--mirror-reconcile-interval", "1s"}, "must be at least 30s"},
		{"lease TTL", serveEnv(), []string{"serve", "--mirror-lease-ttl", "0s"}, "--mirror-lease-ttl must be between 1s and 10m"},
		{"phone region unknown", serveEnv("PHONE_DEFAULT_REGION", "XX"), []string{"serve"}, `PHONE_DEFAULT_REGION must be a two-letter region such as US, GB or DE, not "XX"`},
		{"phone region a name", serveEnv("PHONE_DEFAULT_REGION", "United States"), []string{"serve"}, "PHONE_DEFAULT_REGION must be a two-letter region"},
		{"demo: Gladly transactions", map[string]string{"GLADLY_TRANSACTIONS": "ORDER"}, []string{"demo", "--addr", "127.0.0.1:0"}, `GLADLY_TRANSACTIONS must be subscription or order, not "ORDER"`},
		{"lookup: API URL without a scheme", map[string]string{"RECHARGE_API_TOKEN": "tok", "RECHARGE_API_URL": "127.0.0.1:4010"},
			[]string{"lookup", "--email", "a@example.com"}, "RECHARGE_API_URL must be an http or https URL"},
		{"lookup: log level", map[string]string{"RECHARGE_API_TOKEN": "tok", "LOG_LEVEL": "loud"},
			[]string{"lookup", "--email", "a@example.com"}, "LOG_LEVEL must be"},
		{"lookup: rate limit", map[string]string{"RECHARGE_API_TOKEN": "tok", "RECHARGE_RATE_LIMIT": "fast"},
			[]string{"lookup", "--email", "a@example.com"}, "RECHARGE_RATE_LIMIT must be"},
		{"lookup: timeout", map[string]string{"RECHARGE_API_TOKEN": "tok"}, []string{"lookup", "--email", "a@example.com", "--timeout", "0s"}, "--timeout must be positive"},
		{"webhooks: API URL", map[string]string{"RECHARGE_API_TOKEN": "tok", "RECHARGE_API_URL": "api.rechargeapps.com"},
			[]string{"webhooks", "install", "--url", "https://rk.example.com/webhooks/recharge"}, "RECHARGE_API_URL must be"},
		{"simulate: webhook URL", nil, []string{"simulate", "--addr", "127.0.0.1:0", "--webhook-url", "localhost:8080/webhooks/recharge", "--webhook-secret", "s"}, "--webhook-url must be an http or https URL"},
		{"simulate: latency", nil, []string{"simulate", "--addr", "127.0.0.1:0", "--latency", "-1s"}, "--latency must not be negative"},
		{"simulate: address", nil, []string{"simulate", "--addr", "4010"}, "--addr must be HOST:PORT"},
		{"simulate: log level", map[string]string{"LOG_LEVEL": "chatty"}, []string{"simulate", "--addr", "127.0.0.1:0"}, "LOG_LEVEL must be"},
		{"demo: latency", nil, []string{"demo", "--addr", "127.0.0.1:0", "--latency", "-80ms"}, "--latency must not be negative"},
		{"demo: address", nil, []string{"demo", "--addr", "localhost"}, "--addr must be HOST:PORT"},
		{"demo: log level", map[string]string{"LOG_LEVEL": "chatty"}, []string{"demo", "--addr", "127.0.0.1:0"}, "LOG_LEVEL must be"},
		{"gladly-lookup: URL", nil, []string{"gladly-lookup", "--url", "127.0.0.1:8080/gladly/lookup", "--email", "a@example.com"}, "--url must be an http or https URL"},
		{"gladly-lookup: timeout", nil, []string{"gladly-lookup", "--url", "http://127.0.0.1:8080/gladly/lookup", "--email", "a@example.com", "--timeout", "-1s"}, "--timeout must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr := runBounded(t, tt.env, tt.args...)
			if code != 2 || !strings.Contains(stderr, tt.want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
				t.Errorf("exit %d, stderr %q; want 2 and one line with %q", code, stderr, tt.want)
			}
			if stdout != "" {
				t.Errorf("started anyway: %q", stdout)
			}
			if strings.Contains(stderr, "s3cret") {
				t.Errorf("the error shows a password: %q", stderr)
			}
		})
	}
	if _, err := os.Stat(dbPath); err == nil {
		t.Error("serve opened its database before refusing its configuration")
	}
}

// TestMirrorSettings checks how the mirror's settings are read: on by
// default when DATABASE_URL is set, off without it or with
// RECHARGE_MIRROR=off, the reconcile interval and the phone region with
// their defaults.
func TestMirrorSettings(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		env    map[string]string
		want   mirrorSettings
		reconc time.Duration
	}{
		{"database set", map[string]string{"DATABASE_URL": "x.db"}, mirrorSettings{on: true, region: "US"}, 0},
		{"no database", nil, mirrorSettings{region: "US"}, 0},
		{"off", map[string]string{"DATABASE_URL": "x.db", "RECHARGE_MIRROR": "off"}, mirrorSettings{region: "US"}, 0},
		{"OFF", map[string]string{"DATABASE_URL": "x.db", "RECHARGE_MIRROR": "OFF"}, mirrorSettings{region: "US"}, 0},
		{"on without database", map[string]string{"RECHARGE_MIRROR": "on"}, mirrorSettings{on: true, region: "US"}, 0},
		{"region", map[string]string{"DATABASE_URL": "x.db", "PHONE_DEFAULT_REGION": "gb"}, mirrorSettings{on: true, region: "GB"}, 0},
		{"interval", map[string]string{"DATABASE_URL": "x.db", "MIRROR_RECONCILE_INTERVAL": "2m"}, mirrorSettings{on: true, region: "US"}, 2 * time.Minute},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := &Main{Getenv: func(k string) string { return tt.env[k] }}
			c := &serveCommand{m: m}
			if err := c.parseFlags(nil); err != nil {
				t.Fatal(err)
			}
			want := tt.want
			want.leaseTTL = mirror.DefaultLeaseTTL
			want.reconcile = tt.reconc
			if want.reconcile == 0 {
				want.reconcile = mirror.DefaultReconcileInterval
			}
			if c.mirror != want {
				t.Errorf("settings = %+v, want %+v", c.mirror, want)
			}
		})
	}
}

// runBounded runs a command like run, but interrupts it after 30 seconds:
// a server that starts although it should have refused its configuration
// then ends the test instead of hanging it.
func runBounded(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out, errOut syncBuffer
	m := &Main{Stdout: &out, Stderr: &errOut, Getenv: func(k string) string { return env[k] }}
	code = m.Run(ctx, args)
	return code, out.String(), errOut.String()
}

// TestLookupFailsInOneLine checks that a failing lookup prints one clear
// line: no retry warnings before it, and no cause repeated within it.
func TestLookupFailsInOneLine(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadURL := "http://" + ln.Addr().String()
	ln.Close()
	sim := rechargetest.NewServer(t, rechargetest.Config{})
	sim.Load(rechargetest.DemoSeed())

	for _, tt := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"unreachable", map[string]string{"RECHARGE_API_URL": deadURL, "RECHARGE_API_TOKEN": "tok"},
			[]string{"lookup", "--email", "alex.rivera@example.com", "--timeout", "2s"}, "Recharge is unavailable, so rechargekit could not search Recharge customers: "},
		{"wrong token, by email", map[string]string{"RECHARGE_API_URL": sim.URL, "RECHARGE_API_TOKEN": "wrong-token"},
			[]string{"lookup", "--email", "alex.rivera@example.com"}, "Recharge refused the API token (check RECHARGE_API_TOKEN and its scopes): "},
		{"wrong token, by id", map[string]string{"RECHARGE_API_URL": sim.URL, "RECHARGE_API_TOKEN": "wrong-token"},
			[]string{"lookup", "--customer-id", "183940021"}, "Recharge refused the API token (check RECHARGE_API_TOKEN and its scopes): "},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, _, stderr := run(t, tt.env, tt.args...)
			line := strings.TrimSpace(stderr)
			if code != 1 || strings.Contains(line, "\n") || !strings.HasPrefix(line, "rechargekit lookup: "+tt.want) {
				t.Errorf("exit %d, stderr:\n%s\nwant 1 and one line starting %q", code, stderr, tt.want)
			}
			for _, twice := range []string{"unavailable", "refused", "unauthorized"} {
				if strings.Count(line, twice) > 1 {
					t.Errorf("%q appears more than once: %s", twice, line)
				}
			}
			if strings.Contains(line, "rechargekit: upstream") || strings.Contains(line, "rechargekit: unauthorized") {
				t.Errorf("the line repeats the domain error's own text: %s", line)
			}
		})
	}
}
