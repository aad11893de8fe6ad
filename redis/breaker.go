package redis

import (
	"time"

	"github.com/rechargekit/rechargekit/internal/breaker"
)

// Breaker states, as Client.Status reports them and the
// rechargekit_redis_state metric exports them.
const (
	// StateUp: Redis answers and every call goes to it.
	StateUp = "up"
	// StateDown: a call failed; Redis is skipped (calls fail at once with
	// ErrUnavailable) until the skip interval ends.
	StateDown = "down"
	// StateProbing: the skip interval ended and one call is trying Redis;
	// the others are still skipped until it answers.
	StateProbing = "probing"
)

// States lists every state, for metrics.
var States = []string{StateUp, StateDown, StateProbing}

// newBreaker returns the breaker that decides whether a call may go to
// Redis (internal/breaker, shared with the Recharge client). One failed
// call (Redis refused, hung past the call budget, dropped the connection)
// opens it, where Recharge's needs a run of failures: a Redis that fails
// one call is gone, and a replica has its own cache and limits to fall
// back to. Every call is then skipped for first, after which one call
// probes; a probe that fails doubles the interval, up to most, so that a
// long outage costs one failed call per most and Redis is used again
// within most of coming back. A call that answers brings it up.
func newBreaker(now func() time.Time, first, most time.Duration, onChange func(breaker.Change)) *breaker.Breaker {
	return breaker.New(breaker.Settings{Failures: 1, First: first, Max: most, Now: now, OnChange: onChange})
}

// stateName is the name of a breaker state in this package's terms.
func stateName(s breaker.State) string {
	switch s {
	case breaker.Open:
		return StateDown
	case breaker.Probing:
		return StateProbing
	}
	return StateUp
}
