package recharge

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rechargekit/rechargekit/internal/testkit"
)

// testToken is the access token every test client uses. Tests assert it
// never shows up in errors or logs.
const testToken = "sk_test_Secr3tT0ken_do_not_leak"

// newFakeClock returns an injectable clock whose Sleep advances Now
// instantly and records the duration, so no test waits on a wall clock. It
// starts at the real time so that real context deadlines line up with it.
func newFakeClock() *testkit.Clock { return testkit.NewClock(time.Now()) }

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// MustLogger returns a debug-level logger writing to the returned buffer.
func MustLogger(tb testing.TB) (*slog.Logger, *syncBuffer) {
	tb.Helper()
	buf := &syncBuffer{}
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

// MustServer starts an httptest server closed at the end of the test.
func MustServer(tb testing.TB, h http.Handler) *httptest.Server {
	tb.Helper()
	srv := httptest.NewServer(h)
	tb.Cleanup(srv.Close)
	return srv
}

// MustClient returns a client for srv with a fake clock, no jitter and the
// given extra options.
func MustClient(tb testing.TB, srv *httptest.Server, clock *testkit.Clock, opts ...Option) *Client {
	tb.Helper()
	if clock == nil {
		clock = newFakeClock()
	}
	base := []Option{
		WithBaseURL(srv.URL),
		WithHTTPClient(srv.Client()),
		WithClock(clock.Now, clock.Sleep),
		withJitter(func(int64) int64 { return 0 }),
	}
	return NewClient(testToken, append(base, opts...)...)
}

// recorded is one request as a test server saw it.
type recorded struct {
	Method string
	Path   string
	Query  string
	Header http.Header
	Body   []byte
}

// recorder is an http.Handler that records requests and answers from a
// script of responses (the last one repeats).
type recorder struct {
	mu      sync.Mutex
	reqs    []recorded
	answers []answer
	handler func(w http.ResponseWriter, r *http.Request, n int) // overrides answers when set
}

type answer struct {
	status int
	body   string
	header map[string]string
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rec.mu.Lock()
	n := len(rec.reqs)
	rec.reqs = append(rec.reqs, recorded{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), body})
	var a answer
	if len(rec.answers) > 0 {
		a = rec.answers[min(n, len(rec.answers)-1)]
	}
	h := rec.handler
	rec.mu.Unlock()
	if h != nil {
		h(w, r, n)
		return
	}
	for k, v := range a.header {
		w.Header().Set(k, v)
	}
	if a.status == 0 {
		a.status = http.StatusOK
	}
	if a.body != "" {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(a.status)
	_, _ = io.WriteString(w, a.body)
}

func (rec *recorder) requests() []recorded {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]recorded(nil), rec.reqs...)
}

// moduleRoot finds the directory holding go.mod above the working directory.
func moduleRoot(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatal("go.mod not found above the test directory")
		}
		dir = parent
	}
}

// sharedFixtures returns <module root>/../shared/fixtures/recharge/2021-11,
// or skips the test when a user's clone does not have it.
func sharedFixtures(tb testing.TB) string {
	tb.Helper()
	dir := filepath.Join(moduleRoot(tb), "..", "shared", "fixtures", "recharge", "2021-11")
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		tb.Skipf("shared fixtures not found at %s: skipping captured-payload tests", dir)
	}
	return dir
}

// MustRead reads a file or fails the test.
func MustRead(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// MustJSON decodes JSON into a generic value with json.Number, for
// comparing bodies independently of key order and spacing.
func MustJSON(tb testing.TB, b []byte) any {
	tb.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		tb.Fatalf("invalid JSON %q: %v", abbreviate(string(b)), err)
	}
	return v
}

// assertNoToken fails when s contains the test token.
func assertNoToken(tb testing.TB, what, s string) {
	tb.Helper()
	if strings.Contains(s, testToken[:tokenLeadLen]) {
		tb.Errorf("%s contains the access token, or its start: %s", what, s)
	}
}
