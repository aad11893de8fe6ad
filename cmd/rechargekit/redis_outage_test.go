package main

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/rechargekit/rechargekit/internal/testkit"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/gladly"
	"github.com/rechargekit/rechargekit/internal/faultnet"
	"github.com/rechargekit/rechargekit/recharge/rechargetest"
	"github.com/rechargekit/rechargekit/redis"
)

// proxiedRedisURL starts a faultnet proxy in front of the test Redis and
// returns it with the REDIS_URL that goes through it. Without
// RECHARGEKIT_TEST_REDIS the test is skipped (failed on CI).
func proxiedRedisURL(t *testing.T) (*faultnet.Proxy, string) {
	t.Helper()
	env := requireServices(t, "the Redis fault tests", "RECHARGEKIT_TEST_REDIS")
	u, err := url.Parse(env["RECHARGEKIT_TEST_REDIS"])
	if err != nil || u.Host == "" {
		t.Fatalf("RECHARGEKIT_TEST_REDIS must be a redis://host:port/db URL")
	}
	p := faultnet.New(t, u.Host)
	u.Host = p.Addr()
	return p, u.String()
}

// redisStack is the whole service (newApp) with REDIS_URL through a
// faultnet proxy, a demo-seeded simulator (and 30 generated customers), a
// SQLite store where profile "alex" is linked to Alex Rivera, an agent
// and a JSON API token, and a signed Gladly desk.
type redisStack struct {
	sim      *rechargetest.Server
	app      *app
	base     string
	desk     *gladly.Client
	api      *http.Client
	token    string
	password string // of agent@example.com
	logs     *syncBuffer
}

// newRedisStack starts the stack; configure, when not nil, changes its
// configuration first.
func newRedisStack(t *testing.T, redisURL string, configure func(*appConfig)) (*redisStack, error) {
	t.Helper()
	ctx := context.Background()
	// A roomy Recharge budget: these tests are about Redis, not pacing.
	sim := rechargetest.NewServer(t, rechargetest.Config{BucketSize: 1000, LeakPerSecond: 1000})
	sim.Load(rechargetest.DemoSeed())
	sim.Load(rechargetest.GenerateSeed(30, 1))
	store, password, token := mustDesk(t, filepath.Join(t.TempDir(), "redis.db"))
	logs := &syncBuffer{}
	cfg := appConfig{
		token:       rechargetest.DefaultToken,
		baseURL:     sim.URL,
		bucketSize:  1000,
		perSecond:   1000,
		logger:      slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
		store:       store,
		redisURL:    redisURL,
		redisPrefix: testRedisPrefix(t),
		gladlyPath:  gladly.DefaultPath,
		gladly:      gladly.Config{SigningKey: stackKey, Deadline: gladly.DefaultDeadline},
	}
	if configure != nil {
		configure(&cfg)
	}
	a, err := newApp(ctx, cfg)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { a.Close() })
	srv := httptest.NewServer(a.handler)
	t.Cleanup(srv.Close)
	return &redisStack{sim: sim, app: a, base: srv.URL, logs: logs, token: token, password: password,
		api:  &http.Client{Timeout: 3 * gladly.DefaultDeadline},
		desk: &gladly.Client{URL: srv.URL + gladly.DefaultPath, SigningKey: stackKey}}, nil
}

// testRedisPrefix returns a key prefix of the test's own in the shared test
// Redis (so that tests running at once do not share cards), and deletes its
// keys when the test ends.
func testRedisPrefix(t *testing.T) string {
	t.Helper()
	prefix := "rechargekit-test:" + randomHex(6) + ":"
	t.Cleanup(func() {
		opts, err := goredis.ParseURL(os.Getenv("RECHARGEKIT_TEST_REDIS"))
		if err != nil {
			return
		}
		c := goredis.NewClient(opts)
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var keys []string
		for it := c.Scan(ctx, 0, prefix+"*", 100).Iterator(); it.Next(ctx); {
			keys = append(keys, it.Val())
		}
		if len(keys) > 0 {
			c.Del(ctx, keys...)
		}
	})
	return prefix
}

// get sends a GET with the API token and returns the status, the body and
// how long the answer took.
func (s *redisStack) get(t *testing.T, path string) (int, string, time.Duration) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.base+path, nil)
	req.Header.Set("Authorization", "Bearer "+s.token)
	start := time.Now()
	resp, err := s.api.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), time.Since(start)
}

// readyRedis returns /readyz's status and its redis check's state.
func (s *redisStack) readyRedis(t *testing.T) (status, redisState string) {
	t.Helper()
	code, body, _ := s.get(t, "/readyz")
	var r struct {
		Status string `json:"status"`
		Checks map[string]struct {
			State string `json:"state"`
		} `json:"checks"`
	}
	if err := json.Unmarshal([]byte(body), &r); err != nil || code != http.StatusOK {
		t.Fatalf("/readyz = %d %s", code, body)
	}
	return r.Status, r.Checks["redis"].State
}

// waitRedisBack polls /readyz until its redis check is ok, for at most
// 30 s: the longest a replica may take to use Redis again.
func (s *redisStack) waitRedisBack(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		status, state := s.readyRedis(t)
		if state == "ok" {
			if status != "ready" {
				t.Errorf("/readyz status = %s with Redis back, want ready", status)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Redis not used again within 30 s of coming back: /readyz redis = %s", state)
		}
		time.Sleep(20 * time.Millisecond) // the poll's pace, not a wait for an event
	}
}

// metric returns the metrics page's line that starts with prefix.
func (s *redisStack) metric(t *testing.T, prefix string) string {
	t.Helper()
	_, body, _ := s.get(t, "/metrics")
	for line := range strings.Lines(body) {
		if strings.HasPrefix(line, prefix) {
			return strings.TrimSpace(line)
		}
	}
	return ""
}

// detailed sends a signed DETAILED lookup of a customer and returns how
// long it took and whether it answered with the card.
func (s *redisStack) detailed(ctx context.Context, customerID int64) (time.Duration, error) {
	start := time.Now()
	resp, err := s.desk.Detailed(ctx, strconv.FormatInt(customerID, 10), rechargekit.Profile{Name: "Someone"})
	d := time.Since(start)
	if err == nil && len(resp.Results) == 0 {
		err = fmt.Errorf("no result")
	}
	return d, err
}

// TestMeasureRedisFaults measures, for the note, a warm card's
// signed Gladly DETAILED lookup with Redis healthy, refusing and hung. It
// is a measurement, not a check: it runs only with RECHARGEKIT_MEASURE=1
// and prints p50 and max per mode (200 lookups, or as many as fit in 40 s).
// Lookups go round 30 warm customers, one every 50 ms, so each customer
// comes back after its 1 s near copy is gone, as agents' lookups do.
func TestMeasureRedisFaults(t *testing.T) {
	if os.Getenv("RECHARGEKIT_MEASURE") != "1" {
		t.Skip("RECHARGEKIT_MEASURE=1 not set: skipping the Redis fault measurement")
	}
	proxy, redisURL := proxiedRedisURL(t)
	s, err := newRedisStack(t, redisURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var ids []int64
	for _, c := range s.sim.Customers(0) {
		ids = append(ids, c.ID)
	}
	ids = ids[:30]
	for _, id := range ids { // warm the cards
		if _, err := s.detailed(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for _, m := range []struct {
		name string
		mode faultnet.Mode
	}{{"healthy", faultnet.Pass}, {"refusing", faultnet.Refuse}, {"hung", faultnet.Hang}, {"back", faultnet.Pass}} {
		proxy.SetMode(m.mode)
		var ds []time.Duration
		failed := 0
		end := time.Now().Add(40 * time.Second)
		for len(ds) < 200 && time.Now().Before(end) {
			<-tick.C
			d, err := s.detailed(ctx, ids[len(ds)%len(ids)])
			if err != nil {
				failed++
			}
			ds = append(ds, d)
		}
		slices.Sort(ds)
		t.Logf("redis %-8s lookups=%d failed=%d p50=%v max=%v", m.name, len(ds), failed,
			ds[len(ds)/2].Round(10*time.Microsecond), ds[len(ds)-1].Round(10*time.Microsecond))
	}
}

// alexProfile is the profile Gladly sends with Alex Rivera's lookups.
var alexProfile = rechargekit.Profile{Name: "Alex Rivera", Emails: []string{"alex.rivera@example.com"}}

// lookupBound is how long a lookup may take while Redis fails: well under
// the lookup deadline (5 s), where a Redis outage used to take it.
const lookupBound = time.Second

// freshCard reports whether a JSON API card answer holds the card, fresh,
// and no card error (such as "upstream", blaming Recharge).
func freshCard(code int, body string) bool {
	var r struct {
		Card *struct {
			Stale bool `json:"stale"`
		} `json:"card"`
		CardError *struct {
			Code string `json:"code"`
		} `json:"cardError"`
	}
	return code == http.StatusOK && json.Unmarshal([]byte(body), &r) == nil && r.Card != nil && !r.Card.Stale && r.CardError == nil
}

// TestServeStartsWithoutRedis: with Redis refusing at start, the service
// starts anyway, says so in one log line and in /readyz (200 "degraded",
// redis "unavailable"), answers lookups from Recharge, and uses Redis again
// once it answers.
func TestServeStartsWithoutRedis(t *testing.T) {
	t.Parallel()
	proxy, redisURL := proxiedRedisURL(t)
	proxy.SetMode(faultnet.Refuse)
	s, err := newRedisStack(t, redisURL, nil)
	if err != nil {
		t.Fatalf("the service did not start while Redis refuses: %v", err)
	}
	if n := strings.Count(s.logs.String(), "redis does not answer"); n != 1 {
		t.Errorf("%d log lines say Redis does not answer, want 1:\n%s", n, s.logs)
	}
	if d, err := s.detailed(context.Background(), rechargetest.DemoAlexRiveraID); err != nil || d > lookupBound {
		t.Errorf("lookup without Redis: %v after %v", err, d)
	}
	if status, state := s.readyRedis(t); status != "degraded" || state != "unavailable" {
		t.Errorf("/readyz = %s, redis %s; want degraded, unavailable", status, state)
	}
	if m := s.metric(t, `rechargekit_redis_state{state="up"}`); m != `rechargekit_redis_state{state="up"} 0` {
		t.Errorf("metric = %q, want up 0", m)
	}

	proxy.SetMode(faultnet.Pass)
	s.waitRedisBack(t)
	if m := s.metric(t, `rechargekit_redis_state{state="up"}`); m != `rechargekit_redis_state{state="up"} 1` {
		t.Errorf("metric = %q, want up 1", m)
	}
	if n := strings.Count(s.logs.String(), "redis answers again"); n != 1 {
		t.Errorf("%d log lines say Redis answers again, want 1:\n%s", n, s.logs)
	}
	if strings.Contains(s.logs.String(), `"level":"ERROR"`) {
		t.Errorf("errors logged:\n%s", s.logs)
	}
}

// TestRedisOutageWhileRunning: Redis refuses or hangs while the service
// runs. A warm card is still answered at once on Gladly and the JSON API
// (never blamed on Recharge), an agent signs in, /readyz names Redis, and
// Redis is used again once it answers. The Redis client's clock is the
// test's: the near copy of the warm card has aged past NearFor, so lookups
// do go to Redis.
func TestRedisOutageWhileRunning(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		mode faultnet.Mode
	}{{"refusing", faultnet.Refuse}, {"hung", faultnet.Hang}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			proxy, redisURL := proxiedRedisURL(t)
			clock := testkit.NewClock(time.Now())
			advance := clock.Advance
			s, err := newRedisStack(t, redisURL, func(cfg *appConfig) {
				cfg.redisOptions.Now = clock.Now
				// Roomier than the 50 ms default, so that a machine busy
				// with the rest of the suite does not make the healthy
				// Redis look down before the outage; a hung call still
				// costs a lookup well under lookupBound.
				cfg.redisOptions.CallTimeout = 250 * time.Millisecond
			})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if _, err := s.detailed(ctx, rechargetest.DemoAlexRiveraID); err != nil { // warm the card
				t.Fatal(err)
			}
			advance(redis.DefaultNearFor)
			if code, body, _ := s.get(t, "/api/profiles/alex/card"); !freshCard(code, body) {
				t.Fatalf("JSON API card with Redis up = %d %s", code, body)
			}
			calls := s.sim.Stats().Requests

			logsBefore := len(s.logs.String())
			proxy.SetMode(tc.mode)
			for i := range 20 {
				if d, err := s.detailed(ctx, rechargetest.DemoAlexRiveraID); err != nil || d > lookupBound {
					t.Fatalf("Gladly lookup %d of the warm card: %v after %v", i+1, err, d)
				}
				code, body, d := s.get(t, "/api/profiles/alex/card")
				if !freshCard(code, body) || d > lookupBound {
					t.Fatalf("JSON API card %d = %d after %v: %s", i+1, code, d, body)
				}
			}
			if n := s.sim.Stats().Requests; n != calls {
				t.Errorf("%d calls to Recharge for a warm card during the outage, want 0", n-calls)
			}
			start := time.Now()
			signIn(t, s.base, "agent@example.com", s.password)
			if d := time.Since(start); d > 3*lookupBound {
				t.Errorf("sign-in took %v during the outage", d)
			}
			if status, state := s.readyRedis(t); status != "degraded" || state != "unavailable" {
				t.Errorf("/readyz = %s, redis %s; want degraded, unavailable", status, state)
			}

			proxy.SetMode(faultnet.Pass)
			advance(redis.DefaultSkipFor)
			if status, state := s.readyRedis(t); status != "ready" || state != "ok" {
				t.Errorf("/readyz = %s, redis %s once Redis is back; want ready, ok", status, state)
			}
			if n := strings.Count(s.logs.String()[logsBefore:], "redis does not answer"); n != 1 {
				t.Errorf("%d log lines say Redis does not answer during the outage, want 1:\n%s", n, s.logs)
			}
		})
	}
}

// TestRedisUsedAgainAfterALongOutage: however long Redis was down, the
// skip interval stops growing at redis.DefaultSkipMax, so the service uses
// it again within that long (under 30 s) of its coming back.
func TestRedisUsedAgainAfterALongOutage(t *testing.T) {
	t.Parallel()
	proxy, redisURL := proxiedRedisURL(t)
	clock := testkit.NewClock(time.Now())
	advance := clock.Advance
	s, err := newRedisStack(t, redisURL, func(cfg *appConfig) { cfg.redisOptions.Now = clock.Now })
	if err != nil {
		t.Fatal(err)
	}
	proxy.SetMode(faultnet.Refuse)
	// An hour of outage, /readyz polled every 10 s: each poll due probes.
	for range 360 {
		if _, state := s.readyRedis(t); state != "unavailable" {
			t.Fatalf("redis = %s while it refuses", state)
		}
		advance(10 * time.Second)
	}
	proxy.SetMode(faultnet.Pass)
	// A probe is due at most DefaultSkipMax after Redis came back. Under a
	// loaded machine one probe can miss its 50 ms call budget and count
	// as one more failure, so a few due probes are allowed: what matters
	// is that the skip stays at DefaultSkipMax instead of growing.
	state := ""
	for range 5 {
		advance(redis.DefaultSkipMax)
		if _, state = s.readyRedis(t); state == "ok" {
			break
		}
	}
	if state != "ok" {
		t.Errorf("redis = %s after five probes %v apart once it came back, want ok", state, redis.DefaultSkipMax)
	}
	if redis.DefaultSkipMax >= 30*time.Second {
		t.Errorf("redis.DefaultSkipMax = %v, want under 30 s", redis.DefaultSkipMax)
	}
}

// TestServeRedisTimeout: REDIS_TIMEOUT (or --redis-timeout) sets the Redis
// call budget, redis.DefaultCallTimeout by default; one that is not
// positive or not shorter than the lookup deadline is refused.
func TestServeRedisTimeout(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		env  map[string]string
		args []string
	}{
		{map[string]string{"REDIS_TIMEOUT": "0s"}, nil},
		{map[string]string{"REDIS_TIMEOUT": "5s"}, nil},
		{nil, []string{"--redis-timeout", "-1ms"}},
	} {
		env := map[string]string{"RECHARGE_API_TOKEN": "t"}
		maps.Copy(env, tc.env)
		code, _, errOut := run(t, env, append([]string{"serve"}, tc.args...)...)
		if want := "--redis-timeout ($REDIS_TIMEOUT) must be positive and shorter than --lookup-deadline (5s)"; code != 2 || !strings.Contains(errOut, want) {
			t.Errorf("serve %v with %v = %d %q, want 2 and %q", tc.args, tc.env, code, errOut, want)
		}
	}
	for env, want := range map[string]time.Duration{"": redis.DefaultCallTimeout, "200ms": 200 * time.Millisecond} {
		c := &serveCommand{m: &Main{Stderr: io.Discard, Getenv: func(k string) string {
			return map[string]string{"REDIS_TIMEOUT": env}[k]
		}}}
		if err := c.parseFlags(nil); err != nil || c.redisTimeout != want {
			t.Errorf("REDIS_TIMEOUT=%q: %v, %v; want %v", env, err, c.redisTimeout, want)
		}
	}
}
