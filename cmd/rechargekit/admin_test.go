package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDemoPrintsAPITokenAndDatabase checks that the demo hands a new user
// what the JSON API needs: a token that works on this very demo, in a
// ready curl line, and the DATABASE_URL with which `token add` (and the
// other admin commands) reach the running demo's database.
func TestDemoPrintsAPITokenAndDatabase(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	base, out := startServer(t, nil, "demo", "--addr", "127.0.0.1:0", "--data-dir", dataDir)
	printed := out.String()
	get := func(token, path string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	curl := regexp.MustCompile(`curl -H 'Authorization: Bearer (\S+)' (\S+)`).FindStringSubmatch(printed)
	if curl == nil {
		t.Fatalf("demo output has no curl line for the JSON API:\n%s", printed)
	}
	if want := base + "/api/profiles/" + demoProfileAutoLink + "/card"; curl[2] != want {
		t.Errorf("curl URL = %s, want %s", curl[2], want)
	}
	if status, body := get(curl[1], strings.TrimPrefix(curl[2], base)); status != http.StatusOK || !strings.Contains(body, "Dog Lovers T-Shirt") {
		t.Errorf("the printed curl line = %d %s, want 200 and Alex Rivera's card", status, body)
	}

	dbPath := filepath.Join(dataDir, "rechargekit.db")
	if !strings.Contains(printed, "DATABASE_URL="+dbPath+" ") {
		t.Fatalf("demo output lacks DATABASE_URL=%s:\n%s", dbPath, printed)
	}
	if !strings.Contains(printed, "DATABASE_URL="+dbPath+" rechargekit token add --name ") {
		t.Errorf("demo output lacks a ready token add line:\n%s", printed)
	}
	code, stdout, stderr := run(t, map[string]string{"DATABASE_URL": dbPath}, "token", "add", "--name", "my-desk")
	if code != 0 {
		t.Fatalf("token add on the demo's database = %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "to SQLite "+dbPath+".") {
		t.Errorf("token add does not say which database it wrote to:\n%s", stdout)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if status, body := get(lines[len(lines)-1], "/api/profiles/"+demoProfileTwoMatches+"/card"); status != http.StatusOK {
		t.Errorf("a token added with the printed DATABASE_URL = %d %s, want 200", status, body)
	}
}

// TestAdminCommandsNameTheDatabase checks that migrate, user add and token
// add refuse to run without DATABASE_URL, in one line naming it and with
// no stray ./rechargekit.db left behind, and that with it each says which
// database it wrote to.
func TestAdminCommandsNameTheDatabase(t *testing.T) {
	t.Parallel()
	commands := [][]string{
		{"migrate"},
		{"user", "add", "--email", "boss@example.com", "--role", "admin"},
		{"token", "add", "--name", "helpdesk"},
	}
	for _, args := range commands {
		code, stdout, stderr := run(t, nil, args...)
		if code != 1 || !strings.Contains(stderr, "DATABASE_URL is not set") || strings.Count(strings.TrimSpace(stderr), "\n") != 0 || stdout != "" {
			t.Errorf("%v without DATABASE_URL: exit %d, stdout %q, stderr %q; want 1 and one line naming DATABASE_URL", args, code, stdout, stderr)
		}
	}
	if _, err := os.Stat(defaultDatabase); err == nil {
		t.Errorf("an admin command without DATABASE_URL created ./%s", defaultDatabase)
	}

	dbPath := filepath.Join(t.TempDir(), "admin.db")
	for _, args := range commands {
		code, stdout, stderr := run(t, map[string]string{"DATABASE_URL": dbPath}, args...)
		first, _, _ := strings.Cut(stdout, "\n")
		if code != 0 || !strings.Contains(first, "SQLite "+dbPath) {
			t.Errorf("%v: exit %d, first line %q (stderr %q); want 0 and the database named", args, code, first, stderr)
		}
	}
	if got := describeDatabase("postgres://rk:s3cret@db.internal:5432/rechargekit?sslmode=require"); got != "PostgreSQL database rechargekit on db.internal:5432" {
		t.Errorf("describeDatabase(postgres URL) = %q", got)
	}
}
