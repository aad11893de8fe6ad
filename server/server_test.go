package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rechargekit/rechargekit/server"
)

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestHealthAndReadiness(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var checks []server.Check
	set := func(cs ...server.Check) { mu.Lock(); defer mu.Unlock(); checks = cs }
	logs := &syncBuffer{}
	h := server.New(server.Config{
		Ready: func(context.Context) []server.Check {
			mu.Lock()
			defer mu.Unlock()
			return checks
		},
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	srv := httptest.NewServer(h)
	defer srv.Close()

	if code, body := get(t, srv.URL+"/healthz"); code != 200 || !strings.Contains(body, `"ok"`) {
		t.Errorf("healthz = %d %s", code, body)
	}
	dbOK := server.Check{Name: "database", OK: true, State: "ok", Critical: true}
	since := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		checks []server.Check
		code   int
		want   []string
	}{
		{"nothing to check", nil, 200, []string{`"status":"ready"`}},
		{"all ok", []server.Check{dbOK, {Name: "recharge", OK: true, State: "ok"}}, 200,
			[]string{`"status":"ready"`, `"database":{"state":"ok"}`}},
		{"recharge failing: degraded, still in rotation",
			[]server.Check{dbOK, {Name: "recharge", State: "refused", Message: "Recharge refuses the API token (401)", Since: since}}, 200,
			[]string{`"status":"degraded"`, `"recharge":{"state":"refused","message":"Recharge refuses the API token (401)","since":"2026-01-01T10:00:00Z"}`}},
		{"database failing: out of rotation",
			[]server.Check{{Name: "database", State: "unavailable", Message: "the database does not answer", Critical: true}, {Name: "recharge", OK: true, State: "ok"}}, 503,
			[]string{`"status":"unavailable"`, `"database":{"state":"unavailable"`}},
	} {
		set(tc.checks...)
		code, body := get(t, srv.URL+"/readyz")
		if code != tc.code {
			t.Errorf("%s: readyz = %d %s, want %d", tc.name, code, body, tc.code)
		}
		for _, w := range tc.want {
			if !strings.Contains(body, w) {
				t.Errorf("%s: readyz body %s lacks %s", tc.name, body, w)
			}
		}
	}
	if !strings.Contains(logs.String(), "readiness check failing") {
		t.Errorf("a failing check is not logged:\n%s", logs)
	}
	if code, _ := get(t, srv.URL+"/nope?token=secret-value"); code != 404 {
		t.Errorf("unknown path = %d", code)
	}
	if strings.Contains(logs.String(), "secret-value") {
		t.Errorf("request log contains the query string:\n%s", logs)
	}
	if !strings.Contains(logs.String(), "path=/nope") || !strings.Contains(logs.String(), "status=404") {
		t.Errorf("request log lacks path or status:\n%s", logs)
	}
	// The desk's correlation id is logged, cut to 64 bytes.
	req, _ := http.NewRequest("GET", srv.URL+"/healthz", nil)
	req.Header.Set("Gladly-Correlation-Id", strings.Repeat("c", 70000))
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}
	if strings.Contains(logs.String(), strings.Repeat("c", 65)) || !strings.Contains(logs.String(), strings.Repeat("c", 64)+"…") {
		t.Errorf("a long correlation id is not cut in the log")
	}
}

// TestReadinessWhileDraining: a request that serve's drain wrapper marks
// gets 503 with the failing critical "shutdown" check, without running the
// dependency checks (a slow one must not hold the drain), and the answer
// carries the security headers and a request log line like any other.
func TestReadinessWhileDraining(t *testing.T) {
	t.Parallel()
	logs := &syncBuffer{}
	h := server.New(server.Config{
		Ready: func(context.Context) []server.Check {
			t.Error("dependency checks run while draining")
			return nil
		},
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	req := httptest.NewRequest("GET", "/readyz", nil)
	req = req.WithContext(server.Draining(req.Context()))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var got struct {
		Status string
		Checks map[string]struct{ State, Message string }
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatalf("readyz body %q: %v", rec.Body, err)
	}
	if rec.Code != 503 || got.Status != "unavailable" || got.Checks["shutdown"].State != "draining" || got.Checks["shutdown"].Message == "" {
		t.Errorf("readyz while draining = %d %s, want 503 unavailable with shutdown draining", rec.Code, rec.Body)
	}
	for _, hdr := range []string{"Content-Security-Policy", "X-Content-Type-Options", "Cache-Control"} {
		if rec.Header().Get(hdr) == "" {
			t.Errorf("readyz while draining lacks %s", hdr)
		}
	}
	if !strings.Contains(logs.String(), "path=/readyz") || !strings.Contains(logs.String(), "status=503") {
		t.Errorf("no request log line for the draining readyz:\n%s", logs)
	}
}

func TestMetricsEndpoint(t *testing.T) {
	t.Parallel()
	metrics := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "rechargekit_up 1\n") })
	for _, tc := range []struct {
		name, token, auth string
		code              int
	}{
		{"open when no token is set", "", "", 200},
		{"right token", "scrape-secret", "Bearer scrape-secret", 200},
		{"no token", "scrape-secret", "", 401},
		{"wrong token", "scrape-secret", "Bearer nope", 401},
		{"not a bearer", "scrape-secret", "Basic scrape-secret", 401},
	} {
		h := server.New(server.Config{MetricsHandler: metrics, MetricsToken: tc.token, Logger: slog.New(slog.DiscardHandler)})
		req := httptest.NewRequest("GET", "/metrics", nil)
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tc.code {
			t.Errorf("%s: /metrics = %d, want %d", tc.name, rec.Code, tc.code)
		}
		if tc.code == 401 && strings.Contains(rec.Body.String(), "scrape-secret") {
			t.Errorf("%s: the refusal echoes the token", tc.name)
		}
	}
	// Not mounted without a handler.
	rec := httptest.NewRecorder()
	server.New(server.Config{Logger: slog.New(slog.DiscardHandler)}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 404 {
		t.Errorf("/metrics without a handler = %d, want 404", rec.Code)
	}
}

func TestGladlyMounted(t *testing.T) {
	t.Parallel()
	h := server.New(server.Config{
		Gladly: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `{"results":[]}`) }),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/gladly/lookup", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(b) != `{"results":[]}` {
		t.Errorf("lookup = %d %s", resp.StatusCode, b)
	}
}

// The action forms under the adaptor's path reach the Gladly handler too.
func TestGladlyActionFormsMounted(t *testing.T) {
	t.Parallel()
	h := server.New(server.Config{
		Gladly: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.Method+" "+r.URL.Path) }),
		Logger: slog.New(slog.DiscardHandler),
	})
	for _, path := range []string{"/gladly/lookup/actions/cancel", "/gladly/lookup/gladly/lookup/actions/skip"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path+"?customer=1", nil))
		if rec.Code != 200 || rec.Body.String() != "GET "+path {
			t.Errorf("GET %s = %d %s, want the Gladly handler", path, rec.Code, rec.Body)
		}
	}
}
