package recharge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestShouldRetry(t *testing.T) {
	t.Parallel()
	resp := func(code int) *http.Response { return &http.Response{StatusCode: code} }
	errResp := func(code int) error { return &ErrorResponse{StatusCode: code} }
	truncated := &decodeError{"GET", "/x", fmt.Errorf("%w", io.ErrUnexpectedEOF)}
	syntax := &decodeError{"GET", "/x", errors.New("x")}
	var se error
	{
		var v any
		se = json.Unmarshal([]byte(`{"a":`), &v)
	}
	tests := []struct {
		name   string
		method string
		resp   *http.Response
		err    error
		want   bool
	}{
		{"get 429", "GET", resp(429), errResp(429), true},
		{"post 429", "POST", resp(429), errResp(429), true},
		{"put 409", "PUT", resp(409), errResp(409), true},
		{"delete 409", "DELETE", resp(409), errResp(409), true},
		{"get 500", "GET", resp(500), errResp(500), true},
		{"get 503", "GET", resp(503), errResp(503), true},
		{"get 501", "GET", resp(501), errResp(501), false},
		{"post 500", "POST", resp(500), errResp(500), false},
		{"post 503", "POST", resp(503), errResp(503), false},
		{"get 404", "GET", resp(404), errResp(404), false},
		{"get 422", "GET", resp(422), errResp(422), false},
		{"get 401", "GET", resp(401), errResp(401), false},
		{"get 403", "GET", resp(403), errResp(403), false},
		{"get network", "GET", nil, errors.New("connection reset"), true},
		{"post network", "POST", nil, errors.New("connection reset"), false},
		{"get truncated", "GET", resp(200), truncated, true},
		{"get syntax error", "GET", resp(200), &decodeError{"GET", "/x", se}, true},
		{"get wrong shape", "GET", resp(200), syntax, false},
		{"post truncated", "POST", resp(200), truncated, false},
		{"get canceled", "GET", nil, fmt.Errorf("x: %w", context.Canceled), false},
		{"get deadline", "GET", nil, fmt.Errorf("x: %w", context.DeadlineExceeded), false},
		{"get ok", "GET", resp(200), nil, false},
	}
	for _, tt := range tests {
		got, reason := shouldRetry(tt.method, tt.resp, tt.err)
		if got != tt.want {
			t.Errorf("%s: shouldRetry = %v (%q), want %v", tt.name, got, reason, tt.want)
		}
		if got && reason == "" {
			t.Errorf("%s: a retry without a reason", tt.name)
		}
	}
}

func TestRetryAfterParsing(t *testing.T) {
	t.Parallel()
	now := time.Date(2024, 7, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"3", 3 * time.Second, true},
		{"0.5", 500 * time.Millisecond, true},
		{"0", 0, true},
		{"86400", maxRetryAfter, true},
		{now.Add(10 * time.Second).Format(http.TimeFormat), 10 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{"-1", 0, false},
		{"soon", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		got, ok := retryAfter(tt.in, now)
		if got != tt.want || ok != tt.ok {
			t.Errorf("retryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestBackoffGrowsAndIsCapped(t *testing.T) {
	t.Parallel()
	c := NewClient(testToken, withJitter(func(n int64) int64 { return n - 1 })) // the largest jitter
	var prev time.Duration
	for attempt := 0; attempt < 12; attempt++ {
		d := c.backoff(attempt, &http.Response{StatusCode: 503, Header: http.Header{}})
		if d < prev {
			t.Errorf("attempt %d: %v shorter than %v", attempt, d, prev)
		}
		if d >= 2*backoffCap {
			t.Errorf("attempt %d: %v not capped", attempt, d)
		}
		prev = d
	}
	c = NewClient(testToken, withJitter(func(int64) int64 { return 0 }))
	if d := c.backoff(0, &http.Response{StatusCode: 429, Header: http.Header{}}); d != time.Second {
		t.Errorf("first 429 wait = %v, want 1s (1-2 s with jitter)", d)
	}
	if d := c.backoff(0, &http.Response{StatusCode: 500, Header: http.Header{}}); d != backoffBase {
		t.Errorf("first 5xx wait = %v, want %v", d, backoffBase)
	}
	// Real jitter stays in [d, 2d).
	c = NewClient(testToken)
	for i := 0; i < 100; i++ {
		if d := c.backoff(0, &http.Response{StatusCode: 429, Header: http.Header{}}); d < time.Second || d >= 2*time.Second {
			t.Fatalf("429 wait %v outside [1s, 2s)", d)
		}
	}
}

func TestRetries(t *testing.T) {
	t.Parallel()
	ok := answer{body: `{"customer":{"id":1}}`}
	limited := answer{status: 429, body: `{"errors":"Too many requests"}`}
	unavailable := answer{status: 503, body: `{"errors":"upstream timeout"}`}
	tests := []struct {
		name      string
		answers   []answer
		handler   func(w http.ResponseWriter, r *http.Request, n int)
		post      bool
		wantCalls int
		wantSleep []time.Duration
		wantErr   func(error) bool
	}{
		{name: "429 then 200", answers: []answer{limited, ok}, wantCalls: 2, wantSleep: []time.Duration{time.Second}},
		{name: "503 twice then 200", answers: []answer{unavailable, unavailable, ok}, wantCalls: 3,
			wantSleep: []time.Duration{250 * time.Millisecond, 500 * time.Millisecond}},
		{name: "truncated body then 200", answers: []answer{{body: `{"customer":{"id":1,"email":"a@`}, ok}, wantCalls: 2,
			wantSleep: []time.Duration{backoffBase}},
		{name: "empty 200 then 200", answers: []answer{{body: ""}, ok}, wantCalls: 2, wantSleep: []time.Duration{backoffBase}},
		{name: "content length mismatch then 200", wantCalls: 2, wantSleep: []time.Duration{backoffBase},
			handler: func(w http.ResponseWriter, r *http.Request, n int) {
				if n == 0 {
					w.Header().Set("Content-Length", "200")
					_, _ = io.WriteString(w, `{"customer":{"id":1}`)
					return
				}
				_, _ = io.WriteString(w, ok.body)
			}},
		{name: "retry-after seconds honoured", answers: []answer{{status: 429, header: map[string]string{"Retry-After": "3"}}, ok},
			wantCalls: 2, wantSleep: []time.Duration{3 * time.Second}},
		{name: "404 is final", answers: []answer{{status: 404, body: `{"errors":"Not Found"}`}}, wantCalls: 1, wantErr: IsNotFound},
		{name: "401 is final", answers: []answer{{status: 401, body: `{"error":"bad authentication"}`}}, wantCalls: 1, wantErr: IsUnauthorized},
		{name: "max retries then the 429", answers: []answer{limited}, wantCalls: 5,
			wantSleep: []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}, wantErr: IsRateLimited},
		{name: "post not retried on 500", post: true, answers: []answer{{status: 500}, ok}, wantCalls: 1,
			wantErr: func(err error) bool { e, ok := asErrorResponse(err); return ok && e.StatusCode == 500 }},
		{name: "post retried on 429", post: true, answers: []answer{limited, ok}, wantCalls: 2, wantSleep: []time.Duration{time.Second}},
		{name: "post retried on 409", post: true, answers: []answer{{status: 409, body: `{"errors":"route locked"}`}, ok}, wantCalls: 2,
			wantSleep: []time.Duration{backoffBase}},
		{name: "post not retried on a truncated body", post: true, answers: []answer{{body: `{"customer":`}, ok}, wantCalls: 1,
			wantErr: func(err error) bool { return err != nil && strings.Contains(err.Error(), "decode response") }},
		{name: "post not retried on a dropped connection", post: true, wantCalls: 1,
			handler: func(w http.ResponseWriter, r *http.Request, n int) { dropConnection(w) },
			wantErr: func(err error) bool { _, isResp := asErrorResponse(err); return err != nil && !isResp }},
		{name: "get retried on a dropped connection", wantCalls: 2, wantSleep: []time.Duration{backoffBase},
			handler: func(w http.ResponseWriter, r *http.Request, n int) {
				if n == 0 {
					dropConnection(w)
					return
				}
				_, _ = io.WriteString(w, ok.body)
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := &recorder{answers: tt.answers, handler: tt.handler}
			srv := MustServer(t, rec)
			clock := newFakeClock()
			c := MustClient(t, srv, clock)
			var err error
			if tt.post {
				_, _, err = c.Customers.Create(context.Background(), &CustomerCreateRequest{Email: "a@b.c"})
			} else {
				_, _, err = c.Customers.Get(context.Background(), 1, nil)
			}
			if tt.wantErr == nil && err != nil {
				t.Fatalf("error: %v", err)
			}
			if tt.wantErr != nil && !tt.wantErr(err) {
				t.Fatalf("error %v not as expected", err)
			}
			reqs := rec.requests()
			// The transport may itself resend a GET on a reused connection;
			// count what the server saw at least.
			if len(reqs) != tt.wantCalls && !(tt.handler != nil && !tt.post && len(reqs) >= tt.wantCalls) {
				t.Errorf("%d requests, want %d", len(reqs), tt.wantCalls)
			}
			if tt.post {
				for _, r := range reqs {
					if string(r.Body) != `{"email":"a@b.c"}` {
						t.Errorf("retried POST body = %q: the body must be replayed", r.Body)
					}
				}
			}
			if diff := cmp.Diff(tt.wantSleep, clock.Sleeps()); diff != "" {
				t.Errorf("sleeps (-want +got):\n%s", diff)
			}
		})
	}
}

// dropConnection closes the connection without an answer.
func dropConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(err)
	}
	_ = conn.Close()
}

func TestRetryGivesUpAtTheDeadline(t *testing.T) {
	t.Parallel()
	t.Run("backoff would pass the deadline", func(t *testing.T) {
		t.Parallel()
		rec := &recorder{answers: []answer{{status: 503, body: `{"errors":"upstream timeout"}`, header: map[string]string{HeaderRequestID: "r-503"}}}}
		srv := MustServer(t, rec)
		clock := newFakeClock()
		c := MustClient(t, srv, clock, WithMaxRetries(20))
		ctx, cancel := context.WithDeadline(context.Background(), clock.Now().Add(10*time.Second))
		defer cancel()
		_, _, err := c.Customers.Get(ctx, 1, nil)
		e, ok := asErrorResponse(err)
		if !ok || e.StatusCode != 503 || !strings.Contains(err.Error(), "would pass the deadline") {
			t.Fatalf("error = %v, want the last 503, wrapped", err)
		}
		// 250ms, 500ms, 1s, 2s, 4s fit in 10 s (7.75 s); the next 8 s would not.
		want := []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second}
		if diff := cmp.Diff(want, clock.Sleeps()); diff != "" {
			t.Errorf("sleeps (-want +got):\n%s", diff)
		}
		if n := len(rec.requests()); n != 6 {
			t.Errorf("%d requests, want 6", n)
		}
	})
	t.Run("retry-after beyond the deadline", func(t *testing.T) {
		t.Parallel()
		rec := &recorder{answers: []answer{{status: 429, body: `{"errors":"Too many requests"}`, header: map[string]string{"Retry-After": "60"}}}}
		srv := MustServer(t, rec)
		clock := newFakeClock()
		c := MustClient(t, srv, clock)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _, err := c.Customers.Get(ctx, 1, nil)
		if !IsRateLimited(err) {
			t.Fatalf("error = %v, want a 429", err)
		}
		if len(clock.Sleeps()) != 0 || len(rec.requests()) != 1 {
			t.Errorf("slept %v over %d requests; want an immediate give-up", clock.Sleeps(), len(rec.requests()))
		}
	})
	t.Run("rate limiter wait beyond the deadline", func(t *testing.T) {
		t.Parallel()
		rec := &recorder{answers: []answer{{body: `{"customer":{"id":1}}`, header: map[string]string{HeaderLimit: "40/40"}}}}
		srv := MustServer(t, rec)
		clock := newFakeClock()
		c := MustClient(t, srv, clock)
		ctx, cancel := context.WithDeadline(context.Background(), clock.Now().Add(100*time.Millisecond))
		defer cancel()
		if _, _, err := c.Customers.Get(ctx, 1, nil); err != nil {
			t.Fatal(err)
		}
		// The server says its bucket is full: the next call would wait 0.5 s.
		_, _, err := c.Customers.Get(ctx, 1, nil)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("error = %v, want a deadline error", err)
		}
		if len(clock.Sleeps()) != 0 || len(rec.requests()) != 1 {
			t.Errorf("slept %v over %d requests", clock.Sleeps(), len(rec.requests()))
		}
	})
	t.Run("context cancelled while waiting", func(t *testing.T) {
		t.Parallel()
		rec := &recorder{answers: []answer{{status: 503}}}
		srv := MustServer(t, rec)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		sleep := func(ctx context.Context, d time.Duration) error { cancel(); return ctx.Err() }
		c := MustClient(t, srv, nil, WithClock(nil, sleep))
		_, _, err := c.Customers.Get(ctx, 1, nil)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("error = %v, want context.Canceled", err)
		}
		if e, ok := asErrorResponse(err); !ok || e.StatusCode != 503 {
			t.Errorf("error = %v, want the last 503 kept", err)
		}
	})
}

func TestRetryLogsAndNoToken(t *testing.T) {
	t.Parallel()
	logger, logs := MustLogger(t)
	// Every failing answer echoes the token, as a broken proxy might.
	rec := &recorder{handler: func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set(HeaderRequestID, "req-"+fmt.Sprint(n))
		switch r.URL.Path {
		case "/customers/1":
			w.WriteHeader(429)
			fmt.Fprintf(w, `{"errors":"slow down %s"}`, r.Header.Get(HeaderAccessToken))
		case "/customers/2":
			w.WriteHeader(401)
			fmt.Fprintf(w, `{"error":{"token %s":"bad authentication %s"}}`, r.Header.Get(HeaderAccessToken), r.Header.Get(HeaderAccessToken))
		case "/customers/3":
			w.WriteHeader(502)
			fmt.Fprintf(w, `<html>%s</html>`, r.Header.Get(HeaderAccessToken))
		default:
			dropConnection(w)
		}
	}}
	srv := MustServer(t, rec)
	c := MustClient(t, srv, nil, WithLogger(logger), WithMaxRetries(1))
	var errs []error
	for id := int64(1); id <= 4; id++ {
		_, _, err := c.Customers.Get(context.Background(), id, nil)
		if err == nil {
			t.Fatalf("customer %d: no error", id)
		}
		errs = append(errs, err)
		assertNoToken(t, "error", err.Error())
		assertNoToken(t, "error detail", fmt.Sprintf("%+v %#v", err, err))
	}
	// A network error names the path, not the query with its email.
	_, _, err := c.Customers.List(context.Background(), &CustomerListOptions{Email: "private.person@example.com"})
	if err == nil || strings.Contains(err.Error(), "private.person") || !strings.Contains(err.Error(), "GET /customers") {
		t.Errorf("network error = %v", err)
	}
	out := logs.String()
	assertNoToken(t, "logs", out)
	if strings.Contains(out, "private.person") {
		t.Errorf("logs contain the searched email:\n%s", out)
	}
	for _, want := range []string{"recharge: retrying", "method=GET", "path=/customers/1", "status=429", "request_id=req-0", "attempt=1", `reason="rate limited"`} {
		if !strings.Contains(out, want) {
			t.Errorf("logs lack %q:\n%s", want, out)
		}
	}
	if !IsRateLimited(errs[0]) || !IsUnauthorized(errs[1]) {
		t.Errorf("errors lost their type: %v", errs)
	}
}
