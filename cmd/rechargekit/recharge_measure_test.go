package main

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/gladly"
	"github.com/rechargekit/rechargekit/recharge"
	"github.com/rechargekit/rechargekit/recharge/rechargetest"
)

// TestMeasureRechargeOutage measures, for the report rather than as an
// assertion, the latency of a signed Gladly DETAILED lookup of a
// warm-but-expired card while Recharge fails (503s, or hangs), with the
// client's breaker off (the behaviour before it) and on, on the real
// clock with the default deadlines. It runs only with
// RECHARGEKIT_MEASURE=1: it waits out real retries and deadlines.
func TestMeasureRechargeOutage(t *testing.T) {
	if os.Getenv("RECHARGEKIT_MEASURE") != "1" {
		t.Skip("set RECHARGEKIT_MEASURE=1 to measure lookups during a Recharge outage")
	}
	alex := strconv.FormatInt(rechargetest.DemoAlexRiveraID, 10)
	for _, fault := range []struct {
		name   string
		faults rechargetest.Faults
	}{
		{"503s", rechargetest.Faults{Status: 503}},
		{"hung", rechargetest.Faults{Delay: time.Minute}},
	} {
		for _, mode := range []struct {
			name    string
			opt     recharge.Option
			lookups int // fewer before: each waits out its deadline
		}{
			{"before (no breaker)", recharge.WithBreaker(0, 0, 0), 6},
			{"after (breaker)", nil, 12},
		} {
			ctx := context.Background()
			sim := rechargetest.NewServer(t, rechargetest.Config{})
			sim.Load(rechargetest.DemoSeed())
			store, _, _ := mustDesk(t, filepath.Join(t.TempDir(), "measure.db"))
			var opts []recharge.Option
			if mode.opt != nil {
				opts = append(opts, mode.opt)
			}
			a, err := newApp(ctx, appConfig{
				token: rechargetest.DefaultToken, baseURL: sim.URL, clientOptions: opts,
				logger: slog.New(slog.DiscardHandler), store: store,
				gladlyPath: gladly.DefaultPath, gladly: gladly.Config{SigningKey: stackKey},
			})
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(a.handler)
			desk := &gladly.Client{URL: srv.URL + gladly.DefaultPath, SigningKey: stackKey}
			if _, err := desk.Detailed(ctx, alex, rechargekit.Profile{ID: "alex"}); err != nil {
				t.Fatalf("warming lookup: %v", err)
			}
			sim.SetFaults(fault.faults)
			var took []time.Duration
			stale := 0
			for range mode.lookups {
				// Past its TTL, as a card expires: each lookup asks Recharge first.
				if err := a.cards.Invalidate(ctx, rechargetest.DemoAlexRiveraID); err != nil {
					t.Fatal(err)
				}
				start := time.Now()
				_, err := desk.Detailed(ctx, alex, rechargekit.Profile{ID: "alex"})
				took = append(took, time.Since(start))
				if err == nil {
					stale++
				}
			}
			srv.Close()
			a.Close()
			slices.Sort(took)
			t.Logf("Recharge %s, %s: %d lookups, %d answered (stale), p50 %v, max %v",
				fault.name, mode.name, mode.lookups, stale, took[len(took)/2].Round(time.Millisecond), took[len(took)-1].Round(time.Millisecond))
		}
	}
}
