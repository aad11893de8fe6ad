package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rechargekit/rechargekit/internal/testkit"
	"github.com/rechargekit/rechargekit/server"
)

// TestServeDrainDelay: during the shutdown delay /readyz answers 503 while
// other requests, on new connections too, are still served and asked to
// close their connections; once the delay ends no connection is taken,
// and the request in flight all along gets its answer.
func TestServeDrainDelay(t *testing.T) {
	t.Parallel()
	entered, release := make(chan struct{}), make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		io.WriteString(w, "slow done")
	})
	mux.Handle("/readyz", server.New(server.Config{Logger: slog.New(slog.DiscardHandler)})) // the real /readyz
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	delayEnd := make(chan time.Time)
	base, cancel, done := startDrainServer(t, mux, drainOptions{delay: time.Hour, timeout: time.Minute,
		after: func(time.Duration) <-chan time.Time { return delayEnd }})

	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	if status, body := get(t, hc, base+"/readyz"); status != http.StatusOK || !strings.Contains(body, `"status":"ready"`) {
		t.Fatalf("/readyz before the signal = %d %q, want 200", status, body)
	}
	slow := make(chan string, 1)
	go func() {
		_, body := get(t, hc, base+"/slow")
		slow <- body
	}()
	<-entered
	cancel() // the signal

	testkit.WaitFor(t, "/readyz to answer 503 draining", func() bool {
		status, body := get(t, hc, base+"/readyz")
		var ready struct {
			Status string
			Checks map[string]struct{ State string }
		}
		if status == http.StatusServiceUnavailable && json.Unmarshal([]byte(body), &ready) == nil &&
			ready.Status == "unavailable" && ready.Checks["shutdown"].State == "draining" {
			return true
		}
		if status != http.StatusOK {
			t.Fatalf("/readyz while draining = %d %q, want 503 draining", status, body)
		}
		return false
	})
	resp, err := hc.Get(base + "/other")
	if err != nil {
		t.Fatalf("a new request during the delay: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "ok" || !resp.Close {
		t.Errorf("a new request during the delay = %d %q (close %v), want 200 ok and Connection: close", resp.StatusCode, body, resp.Close)
	}

	delayEnd <- time.Now()
	addr := strings.TrimPrefix(base, "http://")
	testkit.WaitFor(t, "the server to stop taking connections after the delay", func() bool {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return true
		}
		c.Close()
		return false
	})
	close(release)
	if got := <-slow; got != "slow done" {
		t.Errorf("the request in flight all along got %q, want its answer", got)
	}
	if err := <-done; err != nil {
		t.Errorf("serveDrain = %v, want nil after every request was answered", err)
	}
}

// TestServeDrainTimeout: a request that outlives the shutdown timeout has
// its connection closed (its context ends), and the server reports it.
func TestServeDrainTimeout(t *testing.T) {
	t.Parallel()
	entered, ended := make(chan struct{}), make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-r.Context().Done() // never finishes on its own
		close(ended)
	})
	base, cancel, done := startDrainServer(t, h, drainOptions{timeout: 50 * time.Millisecond})
	failed := make(chan error, 1)
	go func() {
		resp, err := http.Get(base + "/stuck")
		if err == nil {
			resp.Body.Close()
		}
		failed <- err
	}()
	<-entered
	cancel()
	err := <-done
	if err == nil || !strings.Contains(err.Error(), "requests still in flight after 50ms: 1") {
		t.Errorf("serveDrain = %v, want the request still running reported", err)
	}
	<-ended
	if err := <-failed; err == nil {
		t.Error("the stuck request got an answer; want its connection closed")
	}
}

// startDrainServer runs h under serveDrain on a local port; cancel is the
// shutdown signal, and done receives serveDrain's result.
func startDrainServer(t *testing.T, h http.Handler, opts drainOptions) (base string, cancel func(), done <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	errc := make(chan error, 1)
	m := &Main{Stdout: io.Discard, Stderr: io.Discard}
	go func() {
		errc <- m.serveDrain(ctx, "test", ln, h, opts, slog.New(slog.DiscardHandler))
	}()
	return "http://" + ln.Addr().String(), cancel, errc
}

func get(t *testing.T, hc *http.Client, u string) (int, string) {
	t.Helper()
	resp, err := hc.Get(u)
	if err != nil {
		t.Errorf("GET %s: %v", u, err)
		return 0, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestServeSettings: the drain and session settings come from flags or
// the environment; a drain shorter than a lookup's deadline, or a session
// idle timeout under a minute or past the session's lifetime, is refused.
func TestServeSettings(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"timeout below the lookup deadline", nil, []string{"--shutdown-timeout", "3s"}, "--shutdown-timeout at least --lookup-deadline (5s)"},
		{"timeout below a longer deadline", map[string]string{"SHUTDOWN_TIMEOUT": "12s"}, []string{"--lookup-deadline", "15s"}, "--shutdown-timeout at least --lookup-deadline (15s)"},
		{"negative delay", map[string]string{"SHUTDOWN_DELAY": "-1s"}, nil, "--shutdown-delay must not be negative"},
		{"not a duration", map[string]string{"SHUTDOWN_DELAY": "soon"}, nil, `SHUTDOWN_DELAY must be a duration such as 90s, 5m or 1h30m, not "soon"`},
		{"idle timeout too short", map[string]string{"SESSION_IDLE_TIMEOUT": "10s"}, nil, "--session-idle-timeout must be at least 1m"},
		{"lifetime shorter than the idle timeout", nil, []string{"--session-idle-timeout", "2h", "--session-lifetime", "1h"}, "--session-lifetime at least as long"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"RECHARGE_API_TOKEN": "t"}
			maps.Copy(env, tc.env)
			code, _, errOut := run(t, env, append([]string{"serve"}, tc.args...)...)
			if code != 2 || !strings.Contains(errOut, tc.want) {
				t.Errorf("serve %v with %v = %d %q, want 2 and %q", tc.args, tc.env, code, errOut, tc.want)
			}
		})
	}
	c := &serveCommand{m: &Main{Stderr: io.Discard, Getenv: func(k string) string {
		return map[string]string{"SHUTDOWN_DELAY": "5s", "SHUTDOWN_TIMEOUT": "40s"}[k]
	}}}
	if err := c.parseFlags(nil); err != nil || c.drain.delay != 5*time.Second || c.drain.timeout != 40*time.Second {
		t.Errorf("from the environment: %v, %+v; want a 5s delay and a 40s timeout", err, c.drain)
	}
	c = &serveCommand{m: &Main{Stderr: io.Discard, Getenv: func(string) string { return "" }}}
	if err := c.parseFlags(nil); err != nil || c.drain.delay != 0 || c.drain.timeout != defaultShutdownTimeout {
		t.Errorf("defaults: %v, %+v; want no delay and a %s timeout", err, c.drain, defaultShutdownTimeout)
	}
	if c.sessionIdle != server.DefaultSessionIdle || c.sessionTTL != server.DefaultSessionTTL {
		t.Errorf("session defaults: idle %s, lifetime %s; want %s and %s", c.sessionIdle, c.sessionTTL, server.DefaultSessionIdle, server.DefaultSessionTTL)
	}
	c = &serveCommand{m: &Main{Stderr: io.Discard, Getenv: func(k string) string {
		return map[string]string{"SESSION_IDLE_TIMEOUT": "15m", "SESSION_LIFETIME": "8h"}[k]
	}}}
	if err := c.parseFlags(nil); err != nil || c.sessionIdle != 15*time.Minute || c.sessionTTL != 8*time.Hour {
		t.Errorf("sessions from the environment: %v, idle %s, lifetime %s; want 15m and 8h", err, c.sessionIdle, c.sessionTTL)
	}
}
