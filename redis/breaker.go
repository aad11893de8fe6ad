package redis

import (
	"sync"
	"time"
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

// breaker decides whether a call may go to Redis. One failed call (Redis
// refused, hung past the call budget, dropped the connection) takes it
// down: every call is then skipped for an interval, after which one call
// probes. A probe that fails doubles the interval, up to a cap, so that a
// long outage costs one failed call per cap and Redis is used again within
// the cap of coming back. A call that answers brings it up.
//
// It is written here rather than taken from github.com/sony/gobreaker/v2
// because gobreaker's open interval is fixed (Settings.Timeout) where this
// one must grow, and it reads time.Now where tests need their own clock.
type breaker struct {
	now      func() time.Time
	first    time.Duration // the first skip interval
	most     time.Duration // the cap of the interval
	onChange func(from, to string, err error, skip time.Duration, downFor time.Duration)

	mu       sync.Mutex
	state    string
	gen      uint64    // moved by every change, so late results of older calls are ignored
	since    time.Time // when the state began (down and probing: when Redis stopped answering)
	until    time.Time // down: when the next call may probe
	interval time.Duration
}

// ticket is a call let through, to report its outcome with.
type ticket struct {
	gen   uint64
	probe bool
}

func newBreaker(now func() time.Time, first, most time.Duration,
	onChange func(from, to string, err error, skip, downFor time.Duration)) *breaker {
	return &breaker{now: now, first: first, most: max(first, most), onChange: onChange, state: StateUp, since: now()}
}

// allow reports whether a call may go to Redis now, and when it may, the
// ticket to report its outcome with.
func (b *breaker) allow() (ticket, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case StateUp:
		return ticket{gen: b.gen}, true
	case StateDown:
		if b.now().Before(b.until) {
			return ticket{}, false
		}
		b.state = StateProbing
		b.gen++
		return ticket{gen: b.gen, probe: true}, true
	default: // probing: one call at a time tries Redis
		return ticket{}, false
	}
}

// succeeded reports that t's call got an answer from Redis.
func (b *breaker) succeeded(t ticket) {
	b.mu.Lock()
	if t.gen != b.gen || b.state == StateUp {
		b.mu.Unlock()
		return
	}
	now := b.now()
	from, downFor := b.state, now.Sub(b.since)
	b.state, b.since, b.interval = StateUp, now, 0
	b.gen++
	b.mu.Unlock()
	b.onChange(from, StateUp, nil, 0, downFor)
}

// failed reports that t's call got no answer from Redis within its budget.
func (b *breaker) failed(t ticket, err error) {
	b.mu.Lock()
	if t.gen != b.gen || b.state == StateDown {
		b.mu.Unlock()
		return
	}
	now := b.now()
	from := b.state
	if from == StateUp {
		b.interval, b.since = b.first, now
	} else {
		b.interval = min(2*b.interval, b.most)
	}
	b.state, b.until = StateDown, now.Add(b.interval)
	b.gen++
	skip, downFor := b.interval, now.Sub(b.since)
	b.mu.Unlock()
	b.onChange(from, StateDown, err, skip, downFor)
}

// abandoned reports that t's call ended without telling whether Redis
// answers (its caller gave up first). A probe's turn passes to the next
// call.
func (b *breaker) abandoned(t ticket) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if t.probe && t.gen == b.gen && b.state == StateProbing {
		b.state, b.until = StateDown, b.now()
		b.gen++
	}
}

// status returns the state and when it began.
func (b *breaker) status() (string, time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state, b.since
}
