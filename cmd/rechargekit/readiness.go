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
	store  rechargekit.LinkStore // nil: no console, no database
	redis  *redis.Client         // nil: no Redis
	client *recharge.Client
	now    func() time.Time

	mu        sync.Mutex
	lastProbe time.Time
}

func newReadiness(store rechargekit.LinkStore, rc *redis.Client, client *recharge.Client) *readiness {
	return &readiness{store: store, redis: rc, client: client, now: time.Now}
}

// checks implements server.Config.Ready. The database is critical (no
// links, sign-ins or audit without it); Redis is not (cards then come from
// Recharge and each replica paces itself); nor is Recharge (cards are served
// stale and links still work).
func (r *readiness) checks(ctx context.Context) []server.Check {
	var out []server.Check
	if r.store != nil {
		c := server.Check{Name: "database", OK: true, State: "ok", Critical: true}
		if _, err := r.store.Settings(ctx); err != nil {
			c.OK, c.State, c.Message = false, "unavailable", "the database does not answer"
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

// recharge returns the client's view of Recharge, probing first when the
// client has been quiet.
func (r *readiness) recharge(ctx context.Context) recharge.Health {
	h := r.client.Health()
	now := r.now()
	last := h.Since
	if h.LastOK.After(last) {
		last = h.LastOK
	}
	if h.State != recharge.HealthUnknown && now.Sub(last) < probeQuiet {
		return h
	}
	r.mu.Lock()
	if now.Sub(r.lastProbe) < probeEvery {
		r.mu.Unlock()
		return h
	}
	r.lastProbe = now
	r.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	_, _, _ = r.client.TokenInformation(ctx) // its result lands in Health
	return r.client.Health()
}
