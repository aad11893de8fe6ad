package main

// Helpers for tests that run `rechargekit serve` as real processes
// (TestReplicas, TestCrashRestart, TestGracefulDrain): the test binary
// stands in for the rechargekit binary, and apiClient speaks the JSON API.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/gladly"
	"github.com/rechargekit/rechargekit/server"
	"github.com/rechargekit/rechargekit/storetest"
)

const (
	replicaStartTimeout = 60 * time.Second
	replicaStopTimeout  = 20 * time.Second
	requestTimeout      = 15 * time.Second
)

// replicaMainEnv makes the test binary run Main instead of the tests.
const replicaMainEnv = "RECHARGEKIT_TEST_MAIN"

// TestMain lets the test binary stand in for the rechargekit binary: with
// RECHARGEKIT_TEST_MAIN=1 it runs the command line after "--" exactly as
// main does (the same signal handling), so tests can start real serve
// processes without building anything.
func TestMain(m *testing.M) {
	if os.Getenv(replicaMainEnv) == "1" {
		os.Exit(replicaMain(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// replicaMain runs the rechargekit command line that follows "--" in args.
func replicaMain(args []string) int {
	i := slices.Index(args, "--")
	if i < 0 {
		fmt.Fprintf(os.Stderr, "%s=1 but no \"--\" before the rechargekit arguments\n", replicaMainEnv)
		return 2
	}
	ctx, stop := interruptContext()
	defer stop()
	// The test holds the other end of stdin. Should it die without
	// stopping the replica (a test timeout, say), EOF stops the replica
	// too, instead of leaving it running.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	m := &Main{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv, Prog: "rechargekit", stopSignals: stop}
	return m.Run(ctx, args[i+1:])
}

// requireServices returns the values of the environment variables that
// name the services a test needs. Without them it skips, except in CI,
// where a skipped test would hide a broken deployment story.
func requireServices(t *testing.T, test string, names ...string) map[string]string {
	t.Helper()
	env := map[string]string{}
	var missing []string
	for _, name := range names {
		if env[name] = os.Getenv(name); env[name] == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not set: CI must run %s", strings.Join(missing, " and "), test)
		}
		t.Skipf("%s not set: skipping %s", strings.Join(missing, " and "), test)
	}
	return env
}

// mustReplicaSchema creates a schema of the test's own, dropped when the
// test ends, and returns dsn with search_path set to it, the DATABASE_URL
// every replica is given.
func mustReplicaSchema(t *testing.T, dsn string) string {
	t.Helper()
	if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		t.Fatalf("RECHARGEKIT_TEST_POSTGRES must be a postgres:// URL (DATABASE_URL takes only that form)")
	}
	return storetest.MustPostgresSchema(t, dsn)
}

// mustAPIToken adds a JSON API token with `rechargekit token add` on the
// database (creating and migrating it when new) and returns the token.
func mustAPIToken(t *testing.T, databaseURL, name string) string {
	t.Helper()
	code, out, errOut := run(t, map[string]string{"DATABASE_URL": databaseURL}, "token", "add", "--name", name)
	if code != 0 {
		t.Fatalf("token add = %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return lines[len(lines)-1]
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// fire runs f(0..n-1) in goroutines released together, and waits for them.
func fire(n int, f func(k int)) {
	start := make(chan struct{})
	var wg sync.WaitGroup
	for k := range n {
		wg.Go(func() {
			<-start
			f(k)
		})
	}
	close(start)
	wg.Wait()
}

// replica is one `rechargekit serve` process.
type replica struct {
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser // held open while the test runs: see replicaMain
	logs   *lineLog       // stderr: JSON log lines
	stdout *syncBuffer
	url    string
	gladly *gladly.Client

	done     chan struct{} // closed when the process has exited
	waitErr  error
	stopOnce sync.Once // SIGTERM or SIGKILL, once
	waited   bool      // the exit was checked; only the test's goroutine uses it
}

// startReplica starts `serve` in a new process of the test binary; the
// process is stopped (and its exit checked) when the test ends.
func startReplica(t *testing.T, name string, env map[string]string) *replica {
	t.Helper()
	return startProcess(t, name, env, "serve")
}

// startProcess starts the rechargekit command line args in a new process
// of the test binary; the process is stopped (and its exit checked) when
// the test ends, unless the test stopped or killed it.
func startProcess(t *testing.T, name string, env map[string]string, args ...string) *replica {
	t.Helper()
	r := &replica{name: name, logs: newLineLog(), stdout: &syncBuffer{}, done: make(chan struct{})}
	r.cmd = exec.Command(os.Args[0], append([]string{"-test.run=^$", "--"}, args...)...)
	r.cmd.Env = append(os.Environ(), replicaMainEnv+"=1")
	for k, v := range env {
		r.cmd.Env = append(r.cmd.Env, k+"="+v)
	}
	r.cmd.Stdout = r.stdout
	r.cmd.Stderr = r.logs
	var err error
	if r.stdin, err = r.cmd.StdinPipe(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		r.waitErr = r.cmd.Wait()
		close(r.done)
	}()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// waitServing waits for the "rechargekit serving" log line and takes the
// replica's URL from it.
func (r *replica) waitServing(t *testing.T) {
	t.Helper()
	select {
	case r.url = <-r.logs.serving:
	case <-r.done:
		t.Fatalf("%s exited before serving (%v); stderr:\n%s", r.name, r.waitErr, r.logs.tail(40))
	case <-time.After(replicaStartTimeout):
		t.Fatalf("%s did not log that it serves within %s; stderr:\n%s", r.name, replicaStartTimeout, r.logs.tail(40))
	}
}

// waitReady polls /readyz until it answers 200 and returns how many times
// it asked (each asks Recharge for the token's information).
func (r *replica) waitReady(t *testing.T) int {
	t.Helper()
	deadline := time.NewTimer(replicaStartTimeout)
	defer deadline.Stop()
	poll := time.NewTicker(50 * time.Millisecond)
	defer poll.Stop()
	for n := 1; ; n++ {
		resp, err := http.Get(r.url + "/readyz")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return n
			}
			err = fmt.Errorf("status %d: %s", resp.StatusCode, body)
		}
		select {
		case <-poll.C:
		case <-r.done:
			t.Fatalf("%s exited while starting (%v); stderr:\n%s", r.name, r.waitErr, r.logs.tail(40))
		case <-deadline.C:
			t.Fatalf("%s not ready within %s: %v", r.name, replicaStartTimeout, err)
		}
	}
}

// stop sends SIGTERM, unless the test already stopped or killed the
// replica, and waits for a graceful exit with status 0; a replica that
// does not exit in time is killed and the test fails.
func (r *replica) stop(t *testing.T) {
	t.Helper()
	r.terminate(t)
	r.waitExit(t)
}

// terminate sends SIGTERM once, without waiting: the replica drains and
// exits. It is an error for the replica to have exited before.
func (r *replica) terminate(t *testing.T) {
	t.Helper()
	r.stopOnce.Do(func() {
		select {
		case <-r.done:
			r.waited = true
			t.Errorf("%s exited before it was stopped (%v); stderr:\n%s", r.name, r.waitErr, r.logs.tail(40))
			return
		default:
		}
		if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Errorf("send SIGTERM to %s: %v", r.name, err)
		}
	})
}

// waitExit waits, after terminate, for the replica to exit with status 0.
func (r *replica) waitExit(t *testing.T) {
	t.Helper()
	if r.waited {
		return
	}
	r.waited = true
	select {
	case <-r.done:
	case <-time.After(replicaStopTimeout):
		r.cmd.Process.Kill()
		<-r.done
		t.Errorf("%s did not exit within %s of SIGTERM: killed; stderr:\n%s", r.name, replicaStopTimeout, r.logs.tail(40))
		return
	}
	if r.waitErr != nil {
		t.Errorf("%s exited with %v after SIGTERM, want status 0; stderr:\n%s", r.name, r.waitErr, r.logs.tail(40))
	}
}

// kill sends SIGKILL, as a crash or an out-of-memory killer would, and
// waits until the process is gone.
func (r *replica) kill(t *testing.T) {
	t.Helper()
	r.stopOnce.Do(func() {
		r.waited = true
		if err := r.cmd.Process.Kill(); err != nil {
			t.Errorf("send SIGKILL to %s: %v", r.name, err)
		}
		<-r.done
		var exit *exec.ExitError
		if !errors.As(r.waitErr, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Errorf("%s ended with %v, want killed by SIGKILL; stderr:\n%s", r.name, r.waitErr, r.logs.tail(40))
		}
	})
}

// checkLogs fails the test for an error logged by the replica, or for a
// secret in its output.
func (r *replica) checkLogs(t *testing.T, secrets map[string]string) {
	t.Helper()
	all := r.logs.String() + r.stdout.String()
	for what, s := range secrets {
		if strings.Contains(all, s) {
			t.Errorf("%s wrote the %s to its output", r.name, what)
		}
	}
	var errs []string
	for line := range strings.Lines(r.logs.String()) {
		var rec struct {
			Level string `json:"level"`
		}
		if json.Unmarshal([]byte(line), &rec) != nil {
			errs = append(errs, "not a JSON log line: "+strings.TrimSpace(line))
		} else if rec.Level == "ERROR" {
			errs = append(errs, strings.TrimSpace(line))
		}
	}
	if len(errs) > 0 {
		t.Errorf("%s logged %d errors:\n%s", r.name, len(errs), strings.Join(errs[:min(len(errs), 20)], "\n"))
	}
}

// lineLog collects a replica's stderr and reports the address from its
// "rechargekit serving" line.
type lineLog struct {
	mu      sync.Mutex
	all     bytes.Buffer
	partial []byte
	sent    bool
	serving chan string
}

func newLineLog() *lineLog { return &lineLog{serving: make(chan string, 1)} }

func (l *lineLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.all.Write(p)
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		line := l.partial[:i]
		if !l.sent && bytes.Contains(line, []byte(`"msg":"rechargekit serving"`)) {
			var rec struct {
				Addr string `json:"addr"`
			}
			if json.Unmarshal(line, &rec) == nil && strings.HasPrefix(rec.Addr, "http://") {
				l.sent = true
				l.serving <- rec.Addr
			}
		}
		l.partial = l.partial[i+1:]
	}
	return len(p), nil
}

func (l *lineLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.all.String()
}

// tail returns the last n lines, for failure messages.
func (l *lineLog) tail(n int) string {
	lines := strings.Split(strings.TrimRight(l.String(), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// customerPool is the set of customers lookups pick from; it grows as cold
// apiClient calls the JSON API with a bearer token.
type apiClient struct {
	hc    *http.Client
	token string
}

// call sends a request and returns the status and body.
func (c *apiClient) call(ctx context.Context, method, u string, body any) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: read answer: %w", method, u, err)
	}
	return resp.StatusCode, b, nil
}

func (c *apiClient) putProfile(ctx context.Context, r *replica, id, name string, wantStatus int) error {
	u := r.url + "/api/profiles/" + id
	status, body, err := c.call(ctx, http.MethodPut, u, server.ProfileRequest{Name: name, Phones: []string{"+1 555 0100"}})
	if err != nil {
		return err
	}
	var p server.ProfileJSON
	if status != wantStatus || json.Unmarshal(body, &p) != nil || p.ID != id || p.Name != name {
		return fmt.Errorf("%s: PUT %s = %d %s, want %d and the profile", r.name, u, status, body, wantStatus)
	}
	return nil
}

// linkAnswer is what the API said to a link or an unlink.
type linkAnswer struct {
	status   int
	customer int64  // the link in a 200 answer
	code     string // the error code of a 4xx answer
	err      error  // no usable answer
	raw      string
}

func (c *apiClient) link(ctx context.Context, r *replica, profile string, customer int64, actor string) linkAnswer {
	u := r.url + "/api/profiles/" + profile + "/link"
	status, body, err := c.call(ctx, http.MethodPost, u,
		server.LinkRequest{RechargeCustomerID: strconv.FormatInt(customer, 10)})
	a := decodeAnswer(r, http.MethodPost, u, status, body, err)
	if a.err == nil && status == http.StatusOK {
		var l server.LinkJSON
		if err := json.Unmarshal(body, &l); err != nil {
			a.err = fmt.Errorf("%s: POST %s = 200 %s: %v", r.name, u, body, err)
		} else if a.customer, err = strconv.ParseInt(l.RechargeCustomerID, 10, 64); err != nil ||
			l.Method != rechargekit.LinkManual || l.By != actor {
			a.err = fmt.Errorf("%s: POST %s = 200 %s: want a manual link by %s", r.name, u, body, actor)
		}
	}
	return a
}

func (c *apiClient) unlink(ctx context.Context, r *replica, profile string) linkAnswer {
	u := r.url + "/api/profiles/" + profile + "/link"
	status, body, err := c.call(ctx, http.MethodDelete, u, nil)
	return decodeAnswer(r, http.MethodDelete, u, status, body, err)
}

func decodeAnswer(r *replica, method, u string, status int, body []byte, err error) linkAnswer {
	a := linkAnswer{status: status, err: err, raw: fmt.Sprintf("%s: %s %s = %d %s", r.name, method, u, status, body)}
	if err != nil || status < 400 {
		return a
	}
	var e struct {
		Error server.ErrorJSON `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil || e.Error.Code == "" {
		a.err = fmt.Errorf("%s: not an API error", a.raw)
	}
	a.code = e.Error.Code
	return a
}

// card reads GET /api/profiles/{id}/card.
func (c *apiClient) card(ctx context.Context, r *replica, profile string) (*server.CardResponse, error) {
	u := r.url + "/api/profiles/" + profile + "/card"
	status, body, err := c.call(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	var cr server.CardResponse
	if status != http.StatusOK {
		return nil, fmt.Errorf("%s: GET %s = %d %s", r.name, u, status, body)
	}
	if err := json.Unmarshal(body, &cr); err != nil {
		return nil, fmt.Errorf("%s: GET %s: %v", r.name, u, err)
	}
	return &cr, nil
}
