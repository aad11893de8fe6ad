package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/rechargekit/rechargekit/recharge/rechargetest"
)

// TestAPIRefusesBadProfileInput sends the JSON API what a careless or
// hostile desk might: a profile id with NUL or another control character
// (PostgreSQL refuses NUL, and its own error text used to reach the
// caller), a profile without a name, and emails and phones that are not
// ones. Every such request answers 400 with a full sentence that names the
// field, stores nothing, and shows no database's own words. It runs on
// SQLite, and on PostgreSQL too when RECHARGEKIT_TEST_POSTGRES is set.
func TestAPIRefusesBadProfileInput(t *testing.T) {
	t.Parallel()
	dbs := map[string]func(t *testing.T) string{
		"sqlite": func(t *testing.T) string { return filepath.Join(t.TempDir(), "api.db") },
	}
	if dsn := os.Getenv("RECHARGEKIT_TEST_POSTGRES"); dsn != "" {
		dbs["postgres"] = func(t *testing.T) string { return mustReplicaSchema(t, dsn) }
	} else {
		t.Log("RECHARGEKIT_TEST_POSTGRES is not set: checking SQLite only")
	}
	for name, newDB := range dbs {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dbURL := newDB(t)
			token := mustAPIToken(t, dbURL, "desk")
			sim := rechargetest.NewServer(t, rechargetest.Config{})
			sim.Load(rechargetest.DemoSeed())
			base, _ := startServer(t, map[string]string{
				"RECHARGE_API_URL":   sim.URL,
				"RECHARGE_API_TOKEN": rechargetest.DefaultToken,
				"LISTEN_ADDR":        "127.0.0.1:0",
				"DATABASE_URL":       dbURL,
			}, "serve")
			call := func(method, path, body string) (int, string, string) {
				t.Helper()
				req, err := http.NewRequest(method, base+path, strings.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("Content-Type", "application/json")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				var e struct {
					Error struct{ Code, Message string }
				}
				_ = json.Unmarshal(b, &e)
				return resp.StatusCode, e.Error.Message, string(b)
			}

			const ok = `{"name":"Ada Lovelace","emails":["ada@example.com"],"phones":["+1 555 0100"]}`
			for _, tt := range []struct {
				name, method, path, body, field string
			}{
				{"NUL in the id of a PUT", "PUT", "/api/profiles/a%00b", ok, "profile id"},
				{"NUL in the id of a card", "GET", "/api/profiles/a%00b/card", "", "profile id"},
				{"NUL in the id of a link", "POST", "/api/profiles/a%00b/link", `{"rechargeCustomerId":"183940021"}`, "profile id"},
				{"NUL in the id of an unlink", "DELETE", "/api/profiles/a%00b/link", "", "profile id"},
				{"escape in the id", "PUT", "/api/profiles/a%1Bb", ok, "profile id"},
				{"DEL in the id", "PUT", "/api/profiles/a%7Fb", ok, "profile id"},
				{"invalid UTF-8 in the id", "PUT", "/api/profiles/a%FFb", ok, "profile id"},
				{"no name", "PUT", "/api/profiles/p-new", `{}`, "name"},
				{"blank name", "PUT", "/api/profiles/p-new", `{"name":"  ","emails":["ada@example.com"]}`, "name"},
				{"not an email", "PUT", "/api/profiles/p-new", `{"name":"Ada","emails":["not-an-email"]}`, "email"},
				{"an email with a display name", "PUT", "/api/profiles/p-new", `{"name":"Ada","emails":["Ada <ada@example.com>"]}`, "email"},
				{"a phone without digits", "PUT", "/api/profiles/p-new", `{"name":"Ada","phones":["call me"]}`, "phone"},
			} {
				status, msg, body := call(tt.method, tt.path, tt.body)
				if status != http.StatusBadRequest {
					t.Errorf("%s: %s %s = %d %s, want 400", tt.name, tt.method, tt.path, status, body)
					continue
				}
				r, _ := utf8.DecodeRuneInString(msg)
				if !unicode.IsUpper(r) || !strings.HasSuffix(msg, ".") || !strings.Contains(strings.ToLower(msg), tt.field) {
					t.Errorf("%s: message %q is not a sentence naming the %s", tt.name, msg, tt.field)
				}
				for _, db := range []string{"UTF8", "0x00", "byte sequence", "SQLSTATE", "sqlite", "postgres"} {
					if strings.Contains(body, db) {
						t.Errorf("%s: the answer shows the database's words (%q): %s", tt.name, db, body)
					}
				}
			}
			// Nothing was stored, and a valid profile still is.
			if status, _, body := call("GET", "/api/profiles/p-new/card", ""); status != http.StatusNotFound {
				t.Errorf("a refused profile was stored: card = %d %s", status, body)
			}
			if status, _, body := call("PUT", "/api/profiles/p-new", ok); status != http.StatusCreated {
				t.Errorf("valid PUT = %d %s, want 201", status, body)
			}
		})
	}
}
