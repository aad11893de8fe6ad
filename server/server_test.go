package server_test

import (
	"bytes"
	"context"
	"errors"
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
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	checks := 0
	failing := errors.New("recharge: token refused")
	var readyErr error
	logs := &syncBuffer{}
	h := server.New(server.Config{
		Ready: func(context.Context) error {
			mu.Lock()
			defer mu.Unlock()
			checks++
			return readyErr
		},
		ReadyTTL: time.Minute,
		Now:      func() time.Time { mu.Lock(); defer mu.Unlock(); return now },
		Logger:   slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	srv := httptest.NewServer(h)
	defer srv.Close()

	if code, body := get(t, srv.URL+"/healthz"); code != 200 || !strings.Contains(body, `"ok"`) {
		t.Errorf("healthz = %d %s", code, body)
	}
	if code, body := get(t, srv.URL+"/readyz"); code != 200 || !strings.Contains(body, `"ready"`) {
		t.Errorf("readyz = %d %s", code, body)
	}
	// Within the TTL the cached answer is served, even though the check would now fail.
	mu.Lock()
	readyErr = failing
	mu.Unlock()
	if code, _ := get(t, srv.URL+"/readyz"); code != 200 {
		t.Errorf("cached readyz = %d, want 200", code)
	}
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	if code, body := get(t, srv.URL+"/readyz"); code != 503 || !strings.Contains(body, "token refused") {
		t.Errorf("readyz after expiry = %d %s, want 503 with the reason", code, body)
	}
	mu.Lock()
	if checks != 2 {
		t.Errorf("checks = %d, want 2", checks)
	}
	mu.Unlock()
	if code, _ := get(t, srv.URL+"/nope?token=secret-value"); code != 404 {
		t.Errorf("unknown path = %d", code)
	}
	if strings.Contains(logs.String(), "secret-value") {
		t.Errorf("request log contains the query string:\n%s", logs)
	}
	if !strings.Contains(logs.String(), "path=/nope") || !strings.Contains(logs.String(), "status=404") {
		t.Errorf("request log lacks path or status:\n%s", logs)
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
