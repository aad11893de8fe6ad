package main

import (
	"context"
	"fmt"
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

// checkTimeout bounds each readiness check on its own. The checks run at
// once, so /readyz (and the console's Service status) answers within it
// whatever one dependency does, and a dependency that hangs is reported
// alone rather than using up a budget the others share.
const checkTimeout = 2 * time.Second

// readiness checks the dependencies for /readyz.
type readiness struct {
	store   rechargekit.SettingsStore // nil: no console, no database
	redis   *redis.Client             // nil: no Redis
	client  *recharge.Client
	mirror  *mirrorWatch // nil: the mirror is off
	now     func() time.Time
	timeout time.Duration // checkTimeout; tests shorten it

	mu        sync.Mutex
	lastProbe time.Time
}

func newReadiness(store rechargekit.SettingsStore, rc *redis.Client, client *recharge.Client, mw *mirrorWatch) *readiness {
	return &readiness{store: store, redis: rc, client: client, mirror: mw, now: time.Now, timeout: checkTimeout}
}

// dependency is one readiness check: run reports the state, and late is
// what to report when run has not answered within the check's bound.
type dependency struct {
	run  func(ctx context.Context) server.Check
	late func() server.Check
}

// checks implements server.Config.Ready. No dependency is critical: the
// database, Redis and Recharge are shared by every replica, so when one
// fails it fails for all, and taking them all out of rotation would stop
// what still works (Gladly lookups need no database; cards are served
// stale without Recharge; each replica caches and paces itself without
// Redis). They are reported, and /readyz says "degraded". Only a shutdown
// drain (see shutdown.go) answers 503. Each check runs on its own
// goroutine, bounded by its own timeout.
func (r *readiness) checks(ctx context.Context) []server.Check {
	var deps []dependency
	if r.store != nil {
		deps = append(deps, dependency{run: r.database, late: func() server.Check {
			return server.Check{Name: "database", State: "timeout",
				Message: fmt.Sprintf("the database did not answer within %s: sign-ins, profiles and links fail; Gladly lookups still answer", r.timeout)}
		}})
	}
	if r.redis != nil {
		deps = append(deps, dependency{run: r.redisCheck, late: func() server.Check {
			return server.Check{Name: "redis", State: "timeout", Message: redisDownMessage}
		}})
	}
	deps = append(deps, dependency{run: r.rechargeCheck, late: func() server.Check {
		return rechargeCheck(r.client.Health())
	}})
	// The mirror is always reported, "off" included, so that an operator
	// sees which way cards are read.
	deps = append(deps, dependency{run: r.mirror.check, late: func() server.Check {
		return server.Check{Name: "mirror", State: "timeout",
			Message: fmt.Sprintf("the mirror's status did not answer within %s: its database is slow; cards are read from Recharge when the mirror cannot answer", r.timeout)}
	}})

	results := make([]chan server.Check, len(deps))
	for i, d := range deps {
		results[i] = make(chan server.Check, 1) // the check may end after nobody waits
		cctx, cancel := context.WithTimeout(ctx, r.timeout)
		go func() {
			defer cancel()
			results[i] <- d.run(cctx)
		}()
	}
	timer := time.NewTimer(r.timeout)
	defer timer.Stop()
	out := make([]server.Check, len(deps))
	wait := true // until the bound has passed (or the caller left)
	for i, d := range deps {
		if wait {
			select {
			case out[i] = <-results[i]:
				continue
			case <-timer.C:
			case <-ctx.Done():
			}
			wait = false
		}
		select {
		case out[i] = <-results[i]:
		default:
			out[i] = d.late()
		}
	}
	return out
}

// database reads the settings, the cheapest query the console makes.
func (r *readiness) database(ctx context.Context) server.Check {
	c := server.Check{Name: "database", OK: true, State: "ok"}
	if _, err := r.store.Settings(ctx); err != nil {
		c.OK, c.State, c.Message = false, "unavailable", "the database does not answer: sign-ins, profiles and links fail; Gladly lookups still answer"
	}
	return c
}

// redisDownMessage says what a Redis outage means to an operator.
const redisDownMessage = "Redis does not answer: each replica keeps cards in its own memory, paces Recharge with its own budget and counts sign-ins alone"

// redisCheck pings Redis. While the client skips Redis after a failure the
// ping fails at once; once the skip interval has ended, it is the call
// that tries Redis again.
func (r *readiness) redisCheck(ctx context.Context) server.Check {
	c := server.Check{Name: "redis", OK: true, State: "ok"}
	if err := r.redis.Ping(ctx); err != nil {
		c.OK, c.State, c.Message = false, "unavailable", redisDownMessage
		if st := r.redis.Status(); st.State != redis.StateUp {
			c.Since = st.Since
		}
	}
	return c
}

// rechargeCheck reports the client's view of Recharge.
func (r *readiness) rechargeCheck(ctx context.Context) server.Check {
	return rechargeCheck(r.recharge(ctx))
}

func rechargeCheck(h recharge.Health) server.Check {
	c := server.Check{Name: "recharge", OK: h.State == recharge.HealthOK, State: h.State, Since: h.Since}
	if h.Breaker == recharge.BreakerOpen || h.Breaker == recharge.BreakerProbing {
		// While the breaker is open the state to act on is that Recharge
		// is not being called, since when it first opened.
		c.OK, c.State, c.Since = false, h.Breaker, h.BreakerSince
	}
	if !c.OK {
		c.Message = h.Message()
	}
	return c
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
