package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/internal/testkit"
	"github.com/rechargekit/rechargekit/mirror"
	"github.com/rechargekit/rechargekit/recharge"
	"github.com/rechargekit/rechargekit/recharge/rechargetest"
	"github.com/rechargekit/rechargekit/redis"
	"github.com/rechargekit/rechargekit/server"
)

// settingsStore is a SettingsStore whose Settings fails on demand; readiness
// calls nothing else.
type settingsStore struct {
	rechargekit.SettingsStore
	mu   sync.Mutex
	down bool
}

func (s *settingsStore) Settings(context.Context) (*rechargekit.Settings, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return nil, errors.New("dial tcp 10.0.0.5:5432: connect: connection refused")
	}
	return &rechargekit.Settings{}, nil
}

// TestReadiness checks the checks behind /readyz: each dependency's
// failure is reported in fixed words and none is critical (shared
// dependencies fail for every replica alike); Recharge's state comes from
// the client's own requests, and a quiet client is probed at most once per
// probeEvery.
func TestReadiness(t *testing.T) {
	t.Parallel()
	sim := rechargetest.NewServer(t, rechargetest.Config{})
	sim.Load(rechargetest.DemoSeed())
	// One clock for the client (its health's times) and the readiness.
	clock := testkit.NewClock(time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC))
	advance := clock.Advance
	client := sim.Client(recharge.WithMaxRetries(0), recharge.WithClock(clock.Now, clock.Sleep))
	store := &settingsStore{}
	r := newReadiness(store, nil, client, nil)
	r.now = clock.Now
	byName := func() map[string]server.Check {
		out := map[string]server.Check{}
		for _, c := range r.checks(context.Background()) {
			out[c.Name] = c
		}
		return out
	}

	// No request yet: one probe, and the database is fine.
	cs := byName()
	if db := cs["database"]; !db.OK || db.Critical {
		t.Errorf("database = %+v, want ok, not critical", db)
	}
	if _, ok := cs["redis"]; ok {
		t.Error("a redis check without Redis")
	}
	if rc := cs["recharge"]; !rc.OK || rc.State != recharge.HealthOK || rc.Critical {
		t.Errorf("recharge = %+v, want ok, not critical", rc)
	}
	if n := sim.Stats().ByRoute["GET /token_information"]; n != 1 {
		t.Errorf("token_information calls = %d, want 1 probe", n)
	}

	// The client's own traffic is recent: no probe, its state is reported.
	sim.SetFaults(rechargetest.Faults{Status: 503})
	if _, _, err := client.Customers.Get(context.Background(), rechargetest.DemoAlexRiveraID, nil); err == nil {
		t.Fatal("no error under a 503 fault")
	}
	cs = byName()
	if rc := cs["recharge"]; rc.OK || rc.State != recharge.HealthUnavailable || rc.Message == "" || rc.Since.IsZero() {
		t.Errorf("recharge = %+v, want unavailable with a message and since", rc)
	}
	if n := sim.Stats().ByRoute["GET /token_information"]; n != 1 {
		t.Errorf("token_information calls = %d, want no new probe", n)
	}

	// Quiet for longer than probeQuiet: one probe sees Recharge back.
	sim.SetFaults(rechargetest.Faults{})
	advance(probeQuiet + time.Second)
	if rc := byName()["recharge"]; rc.State != recharge.HealthOK {
		t.Errorf("after a probe, recharge = %+v, want ok", rc)
	}
	advance(probeQuiet + time.Second)
	sim.SetFaults(rechargetest.Faults{Status: 401})
	byName()
	advance(probeEvery / 2)
	if rc := byName()["recharge"]; rc.State != recharge.HealthRefused {
		t.Errorf("after a probe under 401, recharge = %+v, want refused", rc)
	}
	if n := sim.Stats().ByRoute["GET /token_information"]; n != 3 {
		t.Errorf("token_information calls = %d, want 3 (one per quiet period)", n)
	}
	// Quiet again, and two probes of /readyz at once: one call.
	advance(probeQuiet + time.Second)
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() { byName() })
	}
	wg.Wait()
	if n := sim.Stats().ByRoute["GET /token_information"]; n != 4 {
		t.Errorf("token_information calls = %d, want 4 (one per probeEvery)", n)
	}

	// The database down: reported in fixed words, not its error's text.
	store.mu.Lock()
	store.down = true
	store.mu.Unlock()
	db := byName()["database"]
	if db.OK || db.Critical || db.State != "unavailable" || !strings.HasPrefix(db.Message, "the database does not answer") || strings.Contains(db.Message, "10.0.0.5") {
		t.Errorf("database down = %+v", db)
	}
}

// hungStore is a SettingsStore whose Settings hangs, as a PostgreSQL that
// accepts connections and answers nothing does: until the context ends
// (a driver that honours it), or, with ignoreContext, until the test ends.
type hungStore struct {
	rechargekit.SettingsStore
	ignoreContext bool
	release       chan struct{}
}

func (s *hungStore) Settings(ctx context.Context) (*rechargekit.Settings, error) {
	if s.ignoreContext {
		<-s.release
		return nil, errors.New("released")
	}
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestReadinessChecksAreBoundedApart: while the database hangs, /readyz's
// checks still answer within one check's bound and each names only its own
// state: the database fails, a healthy Redis and Recharge are ok (they used
// to share one budget the database check used up, so Redis was blamed).
func TestReadinessChecksAreBoundedApart(t *testing.T) {
	t.Parallel()
	var rcURL string
	if rcURL = os.Getenv("RECHARGEKIT_TEST_REDIS"); rcURL == "" {
		t.Log("RECHARGEKIT_TEST_REDIS not set: checking the database beside Recharge only")
	}
	for _, ignore := range []bool{false, true} {
		t.Run(fmt.Sprintf("ignoreContext=%v", ignore), func(t *testing.T) {
			t.Parallel()
			sim := rechargetest.NewServer(t, rechargetest.Config{})
			client := sim.Client(recharge.WithMaxRetries(0))
			store := &hungStore{ignoreContext: ignore, release: make(chan struct{})}
			t.Cleanup(func() { close(store.release) })
			var rc *redis.Client
			if rcURL != "" {
				var err error
				// A generous call budget: a busy machine must not make
				// this healthy Redis look down.
				if rc, err = redis.New(rcURL, redis.Options{CallTimeout: time.Second}); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { rc.Close() })
			}
			r := newReadiness(store, rc, client, nil)

			// As server's /readyz handler calls it: one context for all.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			done := make(chan []server.Check, 1)
			start := time.Now()
			go func() { done <- r.checks(ctx) }()
			var checks []server.Check
			select {
			case checks = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("the checks did not answer while the database hangs")
			}
			if d := time.Since(start); d > checkTimeout+time.Second {
				t.Errorf("the checks took %v, want about one check's bound (%v)", d, checkTimeout)
			}
			byName := map[string]server.Check{}
			for _, c := range checks {
				byName[c.Name] = c
			}
			if db := byName["database"]; db.OK || db.State == "ok" || !strings.HasPrefix(db.Message, "the database d") {
				t.Errorf("database = %+v, want failing", db)
			}
			if rc != nil {
				if c := byName["redis"]; !c.OK || c.State != "ok" {
					t.Errorf("redis = %+v, want ok: Redis is healthy", c)
				}
			}
			if c := byName["recharge"]; !c.OK || c.State != recharge.HealthOK {
				t.Errorf("recharge = %+v, want ok: Recharge is healthy", c)
			}
		})
	}
}

// TestMirrorReadiness checks the mirror's readiness check and its status
// cache: off and ready are ok; syncing is ok with its percent (cards are
// read from Recharge meanwhile); behind fails the check, making /readyz
// degraded, never unavailable; the status is read at most once per
// statusEvery however often /readyz, /metrics and the Settings page ask;
// and a status that does not answer within the check's bound is reported
// as a timeout.
func TestMirrorReadiness(t *testing.T) {
	t.Parallel()
	clock := testkit.NewClock(time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC))
	var mu sync.Mutex
	reads := 0
	st := mirror.Status{State: rechargekit.MirrorSyncing, Percent: 37.5}
	w := newMirrorWatch(func(context.Context) mirror.Status {
		mu.Lock()
		defer mu.Unlock()
		reads++
		return st
	})
	w.now = clock.Now
	set := func(s mirror.Status) {
		mu.Lock()
		defer mu.Unlock()
		st = s
	}

	c := w.check(context.Background())
	if !c.OK || c.State != rechargekit.MirrorSyncing || c.Percent == nil || *c.Percent != 37.5 || c.Critical {
		t.Errorf("syncing: %+v", c)
	}
	if v := w.view(); v.State != rechargekit.MirrorSyncing || v.Percent != 37.5 {
		t.Errorf("metrics view: %+v", v)
	}
	set(mirror.Status{State: rechargekit.MirrorReady, Percent: 100})
	if c := w.check(context.Background()); c.State != rechargekit.MirrorSyncing || reads != 1 {
		t.Errorf("within statusEvery: %+v after %d reads; want the cached syncing after 1", c, reads)
	}
	clock.Advance(statusEvery)
	if c := w.check(context.Background()); !c.OK || c.State != rechargekit.MirrorReady || c.Percent != nil || c.Message != "" {
		t.Errorf("ready: %+v", c)
	}

	last := clock.Now().Add(-20 * time.Minute)
	set(mirror.Status{State: rechargekit.MirrorBehind, Percent: 100, LastReconcile: last, Holder: "rk-1:42", WebhooksMissing: []string{"subscription/updated"}})
	clock.Advance(statusEvery)
	if c := w.check(context.Background()); c.OK || c.Critical || c.State != rechargekit.MirrorBehind || !c.Since.Equal(last) ||
		!strings.Contains(c.Message, "marked as possibly out of date") {
		t.Errorf("behind: %+v", c)
	}
	if p := w.adminStatus(context.Background()); p.State != rechargekit.MirrorBehind || p.Holder != "rk-1:42" ||
		len(p.WebhooksRecreated) != 1 || !p.LastReconcile.Equal(last) {
		t.Errorf("admin status: %+v", p)
	}

	var off *mirrorWatch
	if c := off.check(context.Background()); !c.OK || c.State != rechargekit.MirrorOff {
		t.Errorf("off: %+v", c)
	}
	if v := off.view(); v.State != rechargekit.MirrorOff {
		t.Errorf("off view: %+v", v)
	}

	// A status that hangs: readiness reports the mirror late, alone.
	release := make(chan struct{})
	defer close(release)
	hung := newMirrorWatch(func(ctx context.Context) mirror.Status {
		<-release
		return mirror.Status{State: rechargekit.MirrorReady}
	})
	r := newReadiness(&settingsStore{}, nil, rechargetest.NewServer(t, rechargetest.Config{}).Client(), hung)
	r.timeout = 50 * time.Millisecond
	byName := map[string]server.Check{}
	for _, c := range r.checks(context.Background()) {
		byName[c.Name] = c
	}
	if c := byName["mirror"]; c.OK || c.State != "timeout" || !strings.Contains(c.Message, "the mirror's status did not answer") {
		t.Errorf("hung mirror: %+v", c)
	}
	if c := byName["database"]; !c.OK {
		t.Errorf("database with a hung mirror: %+v", c)
	}
}
