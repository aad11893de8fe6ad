package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rechargekit/rechargekit/recharge"
	"github.com/rechargekit/rechargekit/recharge/rechargetest"
)

func TestWebhooksInstall(t *testing.T) {
	t.Parallel()
	// A higher-limit token (RECHARGE_RATE_LIMIT) so that the 50 calls
	// below do not wait for Recharge's default 2 a second.
	sim := rechargetest.NewServer(t, rechargetest.Config{BucketSize: 100, LeakPerSecond: 100})
	env := map[string]string{"RECHARGE_API_URL": sim.URL, "RECHARGE_API_TOKEN": rechargetest.DefaultToken,
		"RECHARGE_RATE_LIMIT": "100/100"}
	hook := "https://rk.example.com/webhooks/recharge"

	code, stdout, stderr := run(t, env, "webhooks", "install", "--url", hook)
	if code != 0 {
		t.Fatalf("install exited %d: %s", code, stderr)
	}
	if got := strings.Count(stdout, "added "); got != len(recharge.CardTopics) {
		t.Errorf("added %d webhooks, want %d:\n%s", got, len(recharge.CardTopics), stdout)
	}
	for _, topic := range []string{"subscription/updated", "customer/updated", "charge/created", "address/updated"} {
		if !strings.Contains(stdout, topic) {
			t.Errorf("install output lacks %s", topic)
		}
	}
	// Installing again adds nothing.
	code, stdout, _ = run(t, env, "webhooks", "install", "--url", hook)
	if code != 0 || strings.Contains(stdout, "added ") || !strings.Contains(stdout, "0 webhook(s) added") {
		t.Errorf("second install: %d\n%s", code, stdout)
	}
	code, stdout, _ = run(t, env, "webhooks", "install", "--url", hook, "--uninstall")
	if code != 0 || strings.Count(stdout, "removed ") != len(recharge.CardTopics) {
		t.Errorf("uninstall: %d\n%s", code, stdout)
	}

	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"webhooks"}, "usage: rechargekit webhooks install"},
		{[]string{"webhooks", "install"}, "--url must be an absolute http(s) URL"},
		{[]string{"webhooks", "install", "--url", "/webhooks/recharge"}, "--url must be an absolute"},
	} {
		if code, _, stderr := run(t, env, tt.args...); code != 2 || !strings.Contains(stderr, tt.want) {
			t.Errorf("%v: exit %d, stderr %q", tt.args, code, stderr)
		}
	}
}

func TestBenchSmoke(t *testing.T) {
	t.Parallel()
	code, stdout, stderr := run(t, nil, "bench", "--customers", "30", "--concurrency", "4", "--duration", "200ms",
		"--latency", "1ms", "--burst", "10", "--reconcile-interval", "300ms")
	if code != 0 {
		t.Fatalf("bench exited %d: %s", code, stderr)
	}
	for _, want := range []string{"naive", "rechargekit cold", "rechargekit warm", "burst", "p99", "Recharge calls",
		"rechargekit cold, backfill running", "mirror, burst cold", "mirror, uncached", "mirror, burst, Recharge down",
		"mirror (SQLite, a temporary file)", "budget's ceiling", "per 1,000 customers", "Recharge calls during the burst: 0",
		"reconciliation every 300ms"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("bench table lacks %q:\n%s", want, stdout)
		}
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--concurrency", "0"}, "must be positive"},
		{[]string{"--reconcile-interval", "0s"}, "--reconcile-interval must be positive"},
		{[]string{"--backfill-rate", "-1"}, "--backfill-rate not negative"},
		{[]string{"--no-mirror", "--mirror-database", "x.db"}, "no use with --no-mirror"},
	} {
		if code, _, stderr := run(t, nil, append([]string{"bench"}, tt.args...)...); code != 2 || !strings.Contains(stderr, tt.want) {
			t.Errorf("%v: exit %d, %q; want 2 and %q", tt.args, code, stderr, tt.want)
		}
	}
}

// The mirror can be kept in a database of the caller's (PostgreSQL here),
// and left out.
func TestBenchMirrorDatabase(t *testing.T) {
	t.Parallel()
	small := []string{"bench", "--customers", "20", "--concurrency", "4", "--duration", "100ms", "--latency", "1ms", "--burst", "5",
		"--reconcile-interval", "300ms"}
	if dsn := os.Getenv("RECHARGEKIT_TEST_POSTGRES"); dsn != "" {
		code, stdout, stderr := run(t, nil, append(small, "--mirror-database", mustReplicaSchema(t, dsn))...)
		if code != 0 || !strings.Contains(stdout, "mirror (PostgreSQL") || !strings.Contains(stdout, "per 1,000 customers") {
			t.Errorf("bench on PostgreSQL exited %d: %s\n%s", code, stderr, stdout)
		}
	} else {
		t.Log("RECHARGEKIT_TEST_POSTGRES is not set: the mirror on PostgreSQL is not checked")
	}
	if code, stdout, stderr := run(t, nil, append(small, "--no-mirror")...); code != 0 || strings.Contains(stdout, "mirror") {
		t.Errorf("bench --no-mirror exited %d, printing the mirror's figures: %s\n%s", code, stderr, stdout)
	}
}

func TestRateLimitSetting(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		v        string
		size     int
		rate     float64
		wantFail bool
	}{
		{"", 40, 2, false},
		{"40/4", 40, 4, false},
		{" 80 / 2.5 ", 80, 2.5, false},
		{"40", 0, 0, true},
		{"0/2", 0, 0, true},
		{"40/0", 0, 0, true},
		{"40/x", 0, 0, true},
	} {
		m := &Main{Getenv: func(string) string { return tt.v }}
		size, rate, err := m.rateLimit()
		if (err != nil) != tt.wantFail || size != tt.size || rate != tt.rate {
			t.Errorf("RECHARGE_RATE_LIMIT=%q: %d, %v, %v", tt.v, size, rate, err)
		}
	}
}

// TestDatabasePathWithSpace: a SQLite file path with a space in it (a
// macOS "Application Support" directory, or a demo --data-dir) is a file
// path, opened as one; the demo prints such a DATABASE_URL quoted.
func TestDatabasePathWithSpace(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "Application Support", "rk.db")
	store, err := openStore(t.Context(), path)
	if err != nil {
		t.Fatalf("openStore(%q): %v", path, err)
	}
	defer store.Close()
	if _, err := os.Stat(path); err != nil {
		t.Errorf("no database at %q: %v", path, err)
	}
}

func TestDatabaseURLRefused(t *testing.T) {
	t.Parallel()
	for _, url := range []string{"host=db user=u password=s3cret dbname=x", "mysql://u:s3cret@db/x"} {
		code, _, stderr := run(t, map[string]string{"DATABASE_URL": url}, "migrate")
		if code != 1 || !strings.Contains(stderr, "DATABASE_URL must be a postgres:// URL or a SQLite file path") || strings.Contains(stderr, "s3cret") {
			t.Errorf("DATABASE_URL=%q: exit %d, stderr %q", url, code, stderr)
		}
		if _, err := os.Stat(url); err == nil { // a SQLite file named after the DSN
			os.Remove(url)
			t.Errorf("DATABASE_URL=%q created a file of that name", url)
		}
	}
	if !isPostgres("POSTGRES://db/x") {
		t.Error("the postgres scheme is case-insensitive")
	}
}
