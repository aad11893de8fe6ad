package main

import (
	"context"
	"sync"
	"time"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/recharge"
	"github.com/rechargekit/rechargekit/redis"
	"github.com/rechargekit/rechargekit/server"
)

// Readiness probing of Recharge: the client's own traffic says how
// Recharge is doing; only when it has been quiet for probeQuiet is one
// token_information call made, at most once per probeEvery, so that
// probes never spend the rate budget agents need.
const (
	probeQuiet   = time.Minute
	probeEvery   = 30 * time.Second
	probeTimeout = 3 * time.Second
)

// readiness checks the dependencies for /readyz.
type readiness struct {
	store  rechargekit.SettingsStore // nil: no console, no database
	redis  *redis.Client             // nil: no Redis
	client *recharge.Client
	now    func() time.Time

	mu        sync.Mutex
	lastProbe time.Time
}

func newReadiness(store rechargekit.SettingsStore, rc *redis.Client, client *recharge.Client) *readiness {
	return &readiness{store: store, redis: rc, client: client, now: time.Now}
}

// checks implements server.Config.Ready. No dependency is critical: the
// database, Redis and Recharge are shared by every replica, so when one
// fails it fails for all, and taking them all out of rotation would stop
// what still works (Gladly lookups need no database; cards are served
// stale without Recharge; each replica paces itself without Redis). They
// are reported, and /readyz says "degraded". Only a shutdown drain (see
// shutdown.go) answers 503.
func (r *readiness) checks(ctx context.Context) []server.Check {
	var out []server.Check
	if r.store != nil {
		c := server.Check{Name: "database", OK: true, State: "ok"}
		if _, err := r.store.Settings(ctx); err != nil {
			c.OK, c.State, c.Message = false, "unavailable", "the database does not answer: sign-ins, profiles and links fail; Gladly lookups still answer"
		}
		out = append(out, c)
	}
	if r.redis != nil {
		c := server.Check{Name: "redis", OK: true, State: "ok"}
		if err := r.redis.Ping(ctx); err != nil {
			c.OK, c.State, c.Message = false, "unavailable", "Redis does not answer: cards are fetched from Recharge and each replica paces itself"
		}
		out = append(out, c)
	}
	h := r.recharge(ctx)
	c := server.Check{Name: "recharge", OK: h.State == recharge.HealthOK, State: h.State, Since: h.Since}
	if !c.OK {
		c.Message = h.Message()
	}
	return append(out, c)
}

// recharge returns the client's view of Recharge. When the client has made
// no request for probeQuiet, it first probes (at most once per probeEvery)
// and waits for the probe while ctx allows; a probe the caller stops
// waiting for still finishes and lands in the client's health.
func (r *readiness) recharge(ctx context.Context) recharge.Health {
	h := r.client.Health()
	now := r.now()
	if h.State != recharge.HealthUnknown && now.Sub(h.LastSeen) < probeQuiet {
		return h
	}
	r.mu.Lock()
	if now.Sub(r.lastProbe) < probeEvery {
		r.mu.Unlock()
		return h
	}
	r.lastProbe = now
	r.mu.Unlock()
	done := make(chan struct{})
	go func() {
		defer close(done)
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), probeTimeout)
		defer cancel()
		_, _, _ = r.client.TokenInformation(pctx) // its result lands in Health
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
	return r.client.Health()
}
