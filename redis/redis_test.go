package redis

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/cards/cachetest"
	"github.com/rechargekit/rechargekit/internal/testkit"
	"github.com/rechargekit/rechargekit/recharge"
	"github.com/rechargekit/rechargekit/recharge/rechargetest"
	"github.com/rechargekit/rechargekit/server/signintest"
)

// testRedisEnv names the Redis the tests use, e.g. redis://127.0.0.1:6379/0.
const testRedisEnv = "RECHARGEKIT_TEST_REDIS"

// MustRedis connects to the test Redis and returns a key prefix unique to
// the test; every key under it is deleted when the test ends. Without
// RECHARGEKIT_TEST_REDIS the test is skipped, except on CI, where it fails.
func MustRedis(tb testing.TB) (*Client, string) {
	tb.Helper()
	url := os.Getenv(testRedisEnv)
	if url == "" {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("%s is not set: CI must run the Redis tests", testRedisEnv)
		}
		tb.Skipf("%s not set: skipping the tests that need a real Redis", testRedisEnv)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// These tests check what the cache, the limiter and the counters do
	// with Redis, not the call budget: a generous one, so that a machine
	// busy with parallel tests does not make Redis look down.
	c, err := New(url, Options{CallTimeout: 2 * time.Second})
	if err == nil {
		err = c.Ping(ctx)
	}
	if err != nil {
		tb.Fatalf("open the test Redis: %v", err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	prefix := "rechargekit-test:" + hex.EncodeToString(b[:]) + ":"
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		iter := c.rdb.Scan(ctx, 0, prefix+"*", 100).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if len(keys) > 0 {
			c.rdb.Del(ctx, keys...)
		}
		_ = c.Close()
	})
	return c, prefix
}

func TestOpenRefusesBadURLsWithoutEchoingThem(t *testing.T) {
	t.Parallel()
	const secret = "s3cret-password"
	for _, u := range []string{"", "http://example.com", "redis://user:" + secret + "@[::1:6379/0", "redis://127.0.0.1:6379/notadb?password=" + secret} {
		_, err := Open(context.Background(), u)
		if err == nil {
			t.Errorf("Open(%q) succeeded", u)
			continue
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("Open's error repeats the password: %v", err)
		}
	}
}

func TestOpenUnreachable(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	// Port 1 on loopback refuses connections at once.
	_, err := Open(ctx, "redis://:hunter2@127.0.0.1:1/0")
	if err == nil {
		t.Fatal("Open of a closed port succeeded")
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error repeats the password: %v", err)
	}
}

func TestCardCacheConformance(t *testing.T) {
	t.Parallel()
	c, prefix := MustRedis(t)
	var mu sync.Mutex
	n := 0
	cachetest.Run(t, func(t *testing.T) rechargekit.CardCache {
		mu.Lock()
		n++
		p := prefix + "card" + string(rune('a'+n)) + ":"
		mu.Unlock()
		return NewCardCache(c, CardCacheOptions{Prefix: p})
	})
}

func TestCardCacheExpiresAfterTheStaleWindow(t *testing.T) {
	t.Parallel()
	c, prefix := MustRedis(t)
	cc := NewCardCache(c, CardCacheOptions{Prefix: prefix + "card:", StaleFor: time.Hour})
	at := time.Now().UTC().Truncate(time.Microsecond)
	cachetest.MustSet(t, cc, cachetest.Card(7, at), at, 0)
	ttl, err := c.rdb.PTTL(context.Background(), prefix+"card:7").Result()
	if err != nil {
		t.Fatal(err)
	}
	if ttl <= 59*time.Minute || ttl > time.Hour {
		t.Errorf("key TTL = %v, want the stale window (1h)", ttl)
	}
}

func TestCardCacheIgnoresRecordsItCannotRead(t *testing.T) {
	t.Parallel()
	c, prefix := MustRedis(t)
	cc := NewCardCache(c, CardCacheOptions{Prefix: prefix + "card:"})
	ctx := context.Background()
	for name, card := range map[string]string{
		"another version": `{"v":99,"customer":{"ID":8}}`,
		"garbage":         `{"v":1,`,
	} {
		c.rdb.HSet(ctx, prefix+"card:8", "card", card, "stored", "1700000000000000", "gen", "3", "invalid", "0")
		e := cachetest.MustGet(t, cc, 8)
		if e == nil || e.Card != nil || e.Gen != 3 {
			t.Errorf("%s: entry = %+v, want no card and generation 3", name, e)
		}
	}
}

// Two replicas share the cache; each keeps what it read for NearFor.
func TestCardCacheNearCopy(t *testing.T) {
	t.Parallel()
	c, prefix := MustRedis(t)
	clock := testkit.NewClock(time.Date(2025, 3, 12, 9, 0, 0, 0, time.UTC))
	opts := CardCacheOptions{Prefix: prefix + "card:", NearFor: time.Second, Now: clock.Now}
	a, b := NewCardCache(c, opts), NewCardCache(c, opts)
	at := clock.Now().Truncate(time.Microsecond)
	cachetest.MustSet(t, a, cachetest.Card(9, at), at, 0)
	if e := cachetest.MustGet(t, b, 9); e == nil || e.Invalid {
		t.Fatalf("b read %+v, want the valid card", e)
	}
	cachetest.MustInvalidate(t, a, 9) // the webhook reached replica a
	if e := cachetest.MustGet(t, a, 9); !e.Invalid {
		t.Fatal("a does not see its own invalidation at once")
	}
	if e := cachetest.MustGet(t, b, 9); e.Invalid {
		t.Fatal("b saw the invalidation before NearFor passed: is the near copy used?")
	}
	clock.Advance(time.Second)
	if e := cachetest.MustGet(t, b, 9); !e.Invalid {
		t.Fatal("b still serves its near copy after NearFor")
	}
	cachetest.MustSet(t, b, cachetest.Card(9, at.Add(time.Second)), at.Add(time.Second), cachetest.MustGet(t, b, 9).Gen)
	if e := cachetest.MustGet(t, b, 9); e.Invalid || !e.StoredAt.Equal(at.Add(time.Second)) {
		t.Fatalf("b does not see its own write at once: %+v", e)
	}
}

func TestLimiterKeyHidesTheToken(t *testing.T) {
	t.Parallel()
	c, prefix := MustRedis(t)
	const token = "sk_live_very_secret_token"
	l := NewLimiter(c, token, LimiterOptions{Prefix: prefix + "rl:"})
	if err := l.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	keys, err := c.rdb.Keys(context.Background(), prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 {
		t.Fatalf("keys = %v, want one bucket", keys)
	}
	if strings.Contains(keys[0], token) || !strings.HasPrefix(keys[0], prefix+"rl:") || len(keys[0]) != len(prefix+"rl:")+64 {
		t.Errorf("bucket key %q: want the prefix and a SHA-256 in hex, never the token", keys[0])
	}
}

func TestLimiterGivesUpWhenTheWaitPassesTheDeadline(t *testing.T) {
	t.Parallel()
	c, prefix := MustRedis(t)
	l := NewLimiter(c, "tok", LimiterOptions{Prefix: prefix, BucketSize: 5, PerSecond: 1, Headroom: 1})
	ctx := context.Background()
	for i := range 4 { // 5 minus the headroom: admitted at once
		if err := l.Wait(ctx); err != nil {
			t.Fatalf("request %d: %v", i+1, err)
		}
	}
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	err := l.Wait(short) // the next slot is about a second away
	if !errors.Is(err, ErrBudgetExhausted) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want ErrBudgetExhausted and context.DeadlineExceeded", err)
	}
	if short.Err() != nil {
		t.Error("Wait waited for the deadline instead of giving up at once")
	}
	// Giving up reserved nothing.
	level, err := l.Level(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if level > 4.01 {
		t.Errorf("level = %.2f after a refused wait, want at most 4", level)
	}
}

func TestLimiterLetsLookupsGoBeforeBackgroundWork(t *testing.T) {
	t.Parallel()
	c, prefix := MustRedis(t)
	l := NewLimiter(c, "tok", LimiterOptions{Prefix: prefix, BucketSize: 10, PerSecond: 2, BackgroundShare: 0.5})
	ctx := context.Background()
	for range 6 { // above the background share (5)
		if err := l.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	bg, cancel := context.WithTimeout(rechargekit.WithBackground(ctx), 100*time.Millisecond)
	defer cancel()
	if err := l.Wait(bg); !errors.Is(err, ErrBudgetExhausted) {
		t.Fatalf("background Wait with the bucket above its share: %v, want ErrBudgetExhausted", err)
	}
	fg, cancel2 := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel2()
	if err := l.Wait(fg); err != nil {
		t.Fatalf("a lookup's Wait with room in the bucket: %v, want admitted", err)
	}
}

func TestLimiterWaitBackgroundKeepsTheReserveFree(t *testing.T) {
	t.Parallel()
	c, prefix := MustRedis(t)
	l := NewLimiter(c, "tok", LimiterOptions{Prefix: prefix, BucketSize: 10, PerSecond: 2})
	ctx := context.Background()
	short := func(parent context.Context) (context.Context, context.CancelFunc) {
		return context.WithTimeout(parent, 100*time.Millisecond)
	}
	for i := range 6 { // 10 slots, 4 kept free
		bg, cancel := short(ctx)
		err := l.WaitBackground(bg, 4)
		cancel()
		if err != nil {
			t.Fatalf("background request %d in a bucket with room: %v", i, err)
		}
	}
	bg, cancel := short(ctx)
	defer cancel()
	if err := l.WaitBackground(bg, 4); !errors.Is(err, ErrBudgetExhausted) {
		t.Fatalf("background request into the 4 reserved slots: %v, want ErrBudgetExhausted", err)
	}
	fg, cancel2 := short(ctx)
	defer cancel2()
	if err := l.Wait(fg); err != nil {
		t.Fatalf("a lookup's Wait with the reserved slots free: %v, want admitted", err)
	}
}

func TestLimiterReleasesACancelledReservation(t *testing.T) {
	t.Parallel()
	c, prefix := MustRedis(t)
	l := NewLimiter(c, "tok", LimiterOptions{Prefix: prefix, BucketSize: 3, PerSecond: 0.5, Headroom: 1})
	ctx := context.Background()
	for range 2 {
		if err := l.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- l.Wait(cctx) }() // reserves a slot two seconds away
	testkit.WaitFor(t, "the waiter to reserve its slot", func() bool {
		level, err := l.Level(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return level > 2.5
	})
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	level, err := l.Level(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if level > 2.01 {
		t.Errorf("level = %.2f after the waiter left, want its reservation given back (at most 2)", level)
	}
}

func TestLimiterObserveFillsTheSharedBucket(t *testing.T) {
	t.Parallel()
	c, prefix := MustRedis(t)
	l := NewLimiter(c, "tok", LimiterOptions{Prefix: prefix, BucketSize: 40, PerSecond: 2})
	ctx := context.Background()
	l.Observe(5, 40) // below half: ignored
	if level, _ := l.Level(ctx); level != 0 {
		t.Errorf("level = %.2f after a low report, want 0", level)
	}
	l.Observe(1, 1) // a 429: full
	level, err := l.Level(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if level < 39 {
		t.Errorf("level = %.2f after a 429, want about 40", level)
	}
}

// Three replicas, each with its own Redis connection and Recharge client,
// share one token's budget against one simulator whose bucket matches: no
// request may see a 429.
func TestLimiterKeepsReplicasInsideOneBudget(t *testing.T) {
	t.Parallel()
	_, prefix := MustRedis(t)
	const (
		size     = 10
		rate     = 20.0
		replicas = 3
		perRep   = 15
	)
	sim := rechargetest.NewServer(t, rechargetest.Config{BucketSize: size, LeakPerSecond: rate})
	id := sim.AddCustomer(rechargetest.SeedCustomer{Email: "budget@example.com"})

	var wg sync.WaitGroup
	errs := make(chan error, replicas*perRep)
	for range replicas {
		rc, _ := MustRedis(t) // a connection of its own, as another process would have
		lim := NewLimiter(rc, rechargetest.DefaultToken, LimiterOptions{Prefix: prefix, BucketSize: size, PerSecond: rate})
		client := sim.Client(recharge.WithLimiter(lim), recharge.WithMaxRetries(0))
		for range 5 {
			wg.Go(func() {
				for range perRep / 5 {
					ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
					_, _, err := client.Customers.Get(ctx, id, nil)
					cancel()
					if err != nil {
						errs <- err
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("request failed: %v", err)
	}
	st := sim.Stats()
	if st.RateLimited != 0 || st.ByStatus["429"] != 0 {
		t.Errorf("the simulator answered %d 429s, want 0: the replicas overran the shared budget", st.RateLimited)
	}
	if want := replicas * perRep; st.ByStatus["200"] != want {
		t.Errorf("%d requests answered 200, want %d (%v)", st.ByStatus["200"], want, st.ByStatus)
	}
}

func TestSignInFailuresConformance(t *testing.T) {
	t.Parallel()
	signintest.Run(t, func(t *testing.T, window time.Duration) signintest.Counter {
		c, prefix := MustRedis(t)
		return NewSignInFailures(c, SignInOptions{Window: window, Secret: []byte("replicas' secret"), Prefix: prefix})
	})
}

// TestSignInFailuresAreShared: two replicas' counters on one Redis count
// together, and the keys hold neither the address nor the email, nor their
// plain hash: only a hash keyed with the replicas' secret.
func TestSignInFailuresAreShared(t *testing.T) {
	t.Parallel()
	c, prefix := MustRedis(t)
	opts := SignInOptions{Window: time.Minute, Secret: []byte("replicas' secret"), Prefix: prefix}
	a, b := NewSignInFailures(c, opts), NewSignInFailures(c, opts)
	ctx, now := t.Context(), time.Now()
	const key = "pair:192.0.2.1\x00agent@example.com"
	for i, r := range []*SignInFailures{a, b, a} {
		if ok, err := r.Attempt(ctx, key, 3, now); err != nil || !ok {
			t.Fatalf("attempt %d = %v, %v; want counted", i+1, ok, err)
		}
	}
	if ok, err := b.Attempt(ctx, key, 3, now); err != nil || ok {
		t.Errorf("a fourth attempt on the other replica with max 3 = %v, %v; want refused", ok, err)
	}
	keys, err := c.rdb.Keys(ctx, prefix+"*").Result()
	if err != nil || len(keys) != 1 {
		t.Fatalf("keys = %v, %v; want one", keys, err)
	}
	plain := sha256.Sum256([]byte(key))
	if strings.Contains(keys[0], "192.0.2.1") || strings.Contains(keys[0], "agent") || strings.Contains(keys[0], hex.EncodeToString(plain[:])) {
		t.Errorf("key %q names the address or the email, or their plain hash", keys[0])
	}
	other := NewSignInFailures(c, SignInOptions{Window: time.Minute, Secret: []byte("another secret"), Prefix: prefix})
	if ok, err := other.Attempt(ctx, key, 3, now); err != nil || !ok {
		t.Errorf("a counter with another secret = %v, %v; want its own count", ok, err)
	}
	if ttl, err := c.rdb.PTTL(ctx, keys[0]).Result(); err != nil || ttl <= 0 || ttl > time.Minute {
		t.Errorf("key TTL = %v, %v; want at most the window", ttl, err)
	}
}
