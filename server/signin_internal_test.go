package server

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// eventually polls cond until it holds, failing the test after a generous
// deadline; it never decides anything by how long something took.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// TestSignInHashesBounded: however many sign-ins arrive at once, wrong
// passwords and unknown emails alike, no more password checks run at once
// than the hashGate allows; the others wait in line and are checked in
// turn. The checks are counted through the console's checkPassword hook,
// which holds each one until the test lets them go.
func TestSignInHashesBounded(t *testing.T) {
	t.Parallel()
	const k, n = 3, 12
	users := map[string]string{"agent@example.com": "agent password"}
	clk := NewClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	c, mux := mustConsole(t, clk, users, nil)
	c.hashes = newHashGate(k, time.Hour) // the test, not the wait, ends the queue
	var active, peak, checked atomic.Int64
	release := make(chan struct{})
	c.checkPassword = func(hash, pw string) bool {
		now := active.Add(1)
		for p := peak.Load(); now > p && !peak.CompareAndSwap(p, now); p = peak.Load() {
		}
		<-release
		checked.Add(1)
		active.Add(-1)
		return false
	}

	codes := make(chan int, n)
	var wg sync.WaitGroup
	for i := range n {
		email := "agent@example.com"
		if i%2 == 1 {
			email = fmt.Sprintf("nobody%d@example.com", i) // the dummy check waits in the same line
		}
		addr := fmt.Sprintf("192.0.2.%d", i+1)
		wg.Go(func() { codes <- signInFrom(t, mux, addr, "", email, "wrong") })
	}
	eventually(t, fmt.Sprintf("%d checks running and %d waiting", k, n-k), func() bool {
		return active.Load() == k && c.hashes.queued.Load() == n-k
	})
	if got := peak.Load(); got != k {
		t.Errorf("%d sign-ins at once ran %d password checks at once, want %d", n, got, k)
	}
	close(release)
	wg.Wait()
	close(codes)
	for code := range codes {
		if code != http.StatusUnauthorized {
			t.Errorf("a sign-in that waited its turn = %d, want 401", code)
		}
	}
	if got, p := checked.Load(), peak.Load(); got != n || p > k {
		t.Errorf("%d checks ran, at most %d at once; want %d, at most %d", got, p, n, k)
	}
}

// TestSignInBusyRefused: while every password check is taken, a sign-in
// waits the gate's (here short) wait and then gets the sign-in page again
// with 503, Retry-After and a message saying to retry, without a session;
// for a right password, a wrong one and an unknown email alike. Refused
// attempts never had their password checked, so they use up none of the
// sign-in limits: once a check is free, the right password signs in.
func TestSignInBusyRefused(t *testing.T) {
	t.Parallel()
	const agent, pw = "agent@example.com", "agent password"
	clk := NewClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	c, mux := mustConsole(t, clk, map[string]string{agent: pw}, nil)
	c.limits.pair = 2
	c.hashes = newHashGate(1, time.Millisecond)
	entered, release := make(chan struct{}), make(chan struct{})
	c.checkPassword = func(hash, got string) bool {
		if got == "hold" {
			close(entered)
			<-release
		}
		return CheckPassword(hash, got)
	}

	holder := make(chan int, 1)
	go func() { holder <- signInFrom(t, mux, "198.51.100.1", "", agent, "hold") }()
	<-entered

	for _, tc := range []struct{ name, email, pw string }{
		{"the right password", agent, pw},
		{"a wrong password", agent, "wrong"},
		{"the right password again", agent, pw},
		{"an unknown email", "nobody@example.com", "guess"},
		{"the right password a third time", agent, pw},
	} {
		rec := signInResponse(t, mux, "192.0.2.1", "", tc.email, tc.pw)
		if rec.Code != http.StatusServiceUnavailable {
			t.Errorf("%s while every check is busy = %d, want 503", tc.name, rec.Code)
			continue
		}
		if got := rec.Header().Get("Retry-After"); got == "" {
			t.Errorf("%s while busy: no Retry-After", tc.name)
		}
		body := rec.Body.String()
		for _, want := range []string{"Too many sign-ins are being checked right now. Wait a few seconds and try again.", `name="password"`} {
			if !strings.Contains(body, want) {
				t.Errorf("%s while busy: the page lacks %q", tc.name, want)
			}
		}
	}

	close(release)
	if got := <-holder; got != http.StatusUnauthorized {
		t.Errorf("the held wrong password = %d, want 401", got)
	}
	if got := signInFrom(t, mux, "192.0.2.1", "", agent, pw); got != http.StatusSeeOther {
		t.Errorf("the right password once a check is free, after 5 refusals with a limit of 2 = %d, want 303", got)
	}
}
