package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/gladly"
	"github.com/rechargekit/rechargekit/internal/faultnet"
	"github.com/rechargekit/rechargekit/recharge/rechargetest"
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
// faultnet proxy, a demo-seeded simulator and a signed Gladly desk.
type redisStack struct {
	sim   *rechargetest.Server
	proxy *faultnet.Proxy
	app   *app
	base  string
	desk  *gladly.Client
	logs  *syncBuffer
}

func newRedisStack(t *testing.T, proxy *faultnet.Proxy, redisURL string) (*redisStack, error) {
	t.Helper()
	// A roomy Recharge budget: these tests are about Redis, not pacing.
	sim := rechargetest.NewServer(t, rechargetest.Config{BucketSize: 1000, LeakPerSecond: 1000})
	sim.Load(rechargetest.DemoSeed())
	sim.Load(rechargetest.GenerateSeed(30, 1))
	logs := &syncBuffer{}
	a, err := newApp(context.Background(), appConfig{
		token:      rechargetest.DefaultToken,
		baseURL:    sim.URL,
		bucketSize: 1000,
		perSecond:  1000,
		logger:     slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
		redisURL:   redisURL,
		gladlyPath: gladly.DefaultPath,
		gladly:     gladly.Config{SigningKey: stackKey, Deadline: gladly.DefaultDeadline},
	})
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { a.Close() })
	srv := httptest.NewServer(a.handler)
	t.Cleanup(srv.Close)
	return &redisStack{sim: sim, proxy: proxy, app: a, base: srv.URL, logs: logs,
		desk: &gladly.Client{URL: srv.URL + gladly.DefaultPath, SigningKey: stackKey}}, nil
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
	s, err := newRedisStack(t, proxy, redisURL)
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
