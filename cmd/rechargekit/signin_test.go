package main

import (
	"context"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/gladly"
	"github.com/rechargekit/rechargekit/recharge/rechargetest"
	"github.com/rechargekit/rechargekit/redis"
)

// TestSignInLimitsSharedThroughRedis: with REDIS_URL, two replicas count
// one client's failed sign-ins together, so guessing on one and then the
// other gets no more tries than on one. The client comes through a trusted
// proxy from an address of the test's own, and the account is new, so the
// counts in the shared Redis are this test's alone.
func TestSignInLimitsSharedThroughRedis(t *testing.T) {
	t.Parallel()
	redisURL := requireServices(t, "the shared sign-in limit test", "RECHARGEKIT_TEST_REDIS")["RECHARGEKIT_TEST_REDIS"]
	ctx := context.Background()
	sim := rechargetest.NewServer(t, rechargetest.Config{})
	email := "guess-" + randomHex(6) + "@example.com"
	client := fmt.Sprintf("198.18.%d.%d", mrand.IntN(256), mrand.IntN(256))

	replica := func(name string) (base, password string) {
		store, err := openStore(ctx, filepath.Join(t.TempDir(), name+".db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { store.Close() })
		if password, err = addUser(ctx, store, email, rechargekit.RoleAgent); err != nil {
			t.Fatal(err)
		}
		a, err := newApp(ctx, appConfig{
			token:          rechargetest.DefaultToken,
			baseURL:        sim.URL,
			logger:         slog.New(slog.DiscardHandler),
			store:          store,
			redisURL:       redisURL,
			redisOptions:   redis.Options{CallTimeout: time.Second}, // a busy machine must not make Redis look down
			gladlyPath:     gladly.DefaultPath,
			trustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("::1/128")},
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { a.Close() })
		srv := httptest.NewServer(a.handler)
		t.Cleanup(srv.Close)
		return srv.URL, password
	}
	baseA, _ := replica("a")
	baseB, passwordB := replica("b")

	// No cookie jar, no redirects: each attempt is a fresh browser, and
	// its status is the sign-in's own.
	c := &http.Client{Timeout: 10 * gladly.DefaultDeadline, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	attempt := func(base, password string) int {
		t.Helper()
		return postSignIn(t, c, base, email, password, client)
	}

	// The limit per address and account is 10: 5 wrong guesses on each.
	for i := range 10 {
		base := baseA
		if i%2 == 1 {
			base = baseB
		}
		if got := attempt(base, "wrong guess"); got != http.StatusUnauthorized {
			t.Fatalf("guess %d = %d, want 401", i+1, got)
		}
	}
	if got := attempt(baseB, passwordB); got != http.StatusTooManyRequests {
		t.Errorf("the right password on B after 5 wrong guesses on each replica = %d, want 429 (the replicas count apart)", got)
	}
}
