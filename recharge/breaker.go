package recharge

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// Breaker states, as Health.Breaker reports them and the
// rechargekit_recharge_breaker_state metric exports them.
const (
	// BreakerClosed: calls go to Recharge (also when no breaker is set).
	BreakerClosed = "closed"
	// BreakerOpen: Recharge failed several times in a row; calls fail at
	// once with ErrBreakerOpen until the open interval ends.
	BreakerOpen = "open"
	// BreakerProbing: the open interval ended and one call is trying
	// Recharge; the others still fail at once until it answers.
	BreakerProbing = "probing"
)

// BreakerStates lists every breaker state, for metrics.
var BreakerStates = []string{BreakerClosed, BreakerOpen, BreakerProbing}

// Defaults of WithBreaker's rule.
const (
	DefaultBreakerFailures = 3
	DefaultBreakerFirst    = time.Second
	DefaultBreakerMax      = 30 * time.Second
	// BreakerProbeTimeout bounds a probe: the call that tries Recharge
	// when the open interval ends waits at most this long for it, so that
	// a hung Recharge costs one lookup a second per interval rather than
	// its whole deadline.
	BreakerProbeTimeout = time.Second
)

// ErrBreakerOpen is returned (wrapped) by a call the client did not send
// because Recharge has been failing: its breaker is open. Nothing reached
// Recharge, so a write refused with it was not applied.
var ErrBreakerOpen = errors.New("recharge: not called: Recharge is failing and the client's breaker is open")

// WithBreaker makes the client stop calling Recharge for a while once it
// is failing: after failures consecutive failed attempts (5xx, no answer
// before the deadline, no connection, a truncated body; never a 4xx or a
// 429, which are answers), every call fails at once with ErrBreakerOpen
// for first, then one call probes (its attempt bounded by
// BreakerProbeTimeout); a probe that fails doubles the
// interval, up to most; an attempt that gets an answer closes it. Retries
// stop too while it is open, so that a lookup never waits out its
// deadline on a failing Recharge. failures <= 0 disables it (the default).
// The interval is measured with the client's clock (WithClock).
func WithBreaker(failures int, first, most time.Duration) Option {
	return func(c *Client) {
		c.breakerFailures, c.breakerFirst, c.breakerMost = failures, first, most
	}
}

// breaker decides whether a call may go to Recharge. It follows the Redis
// adapter's breaker (redis/breaker.go): a growing skip interval, one probe
// at a time, generations so that a late result of an older call cannot
// undo a newer state. It differs in one rule: Recharge is opened after a
// run of failed attempts rather than one, because one 5xx from Recharge
// is common and retried, where one failed Redis call means Redis is gone.
// It is not shared with the Redis adapter because adapters do not import
// each other; the two are small enough to keep apart. It is written here
// rather than taken from github.com/sony/gobreaker/v2 because gobreaker's
// open interval is fixed where this one grows, and it reads time.Now where
// tests need their own clock.
type breaker struct {
	now      func() time.Time
	failures int           // consecutive failed attempts that open it
	first    time.Duration // the first open interval
	most     time.Duration // the cap of the interval
	onChange func(from, to string, err error, open, downFor time.Duration)

	mu       sync.Mutex
	state    string
	gen      uint64 // moved by every change, so late results of older calls are ignored
	failed   int    // consecutive failed attempts while closed
	since    time.Time
	until    time.Time // open: when the next call may probe
	interval time.Duration
}

// ticket is a call let through, to report its outcome with.
type ticket struct {
	gen   uint64
	probe bool
}

func newBreaker(now func() time.Time, failures int, first, most time.Duration,
	onChange func(from, to string, err error, open, downFor time.Duration)) *breaker {
	if first <= 0 {
		first = DefaultBreakerFirst
	}
	return &breaker{now: now, failures: failures, first: first, most: max(first, most),
		onChange: onChange, state: BreakerClosed, since: now()}
}

// allow reports whether an attempt may go to Recharge now, and when it
// may, the ticket to report its outcome with. A nil breaker allows all.
// A retry is let through only while the breaker is closed: a call that
// saw it open stops there, and a probe is always a call's first attempt,
// so that no caller waits on a probe's backoff.
func (b *breaker) allow(retry bool) (ticket, bool) {
	if b == nil {
		return ticket{}, true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if retry && b.state != BreakerClosed {
		return ticket{}, false
	}
	switch b.state {
	case BreakerClosed:
		return ticket{gen: b.gen}, true
	case BreakerOpen:
		if b.now().Before(b.until) {
			return ticket{}, false
		}
		b.state = BreakerProbing
		b.gen++
		return ticket{gen: b.gen, probe: true}, true
	default: // probing: one call at a time tries Recharge
		return ticket{}, false
	}
}

// record reports the outcome of t's attempt: resp and err as the attempt
// returned them.
func (b *breaker) record(t ticket, resp *http.Response, err error) {
	if b == nil {
		return
	}
	switch state, _ := healthOf(resp, err); state {
	case HealthUnavailable, HealthTimeout:
		b.fail(t, err)
	case "": // cancelled by the caller: says nothing about Recharge
		b.abandon(t)
	default: // an answer, even a 4xx or a 429
		b.succeed(t)
	}
}

func (b *breaker) succeed(t ticket) {
	b.mu.Lock()
	if t.gen != b.gen {
		b.mu.Unlock()
		return
	}
	if b.state == BreakerClosed {
		b.failed = 0
		b.mu.Unlock()
		return
	}
	now := b.now()
	from, downFor := b.state, now.Sub(b.since)
	b.state, b.since, b.interval, b.failed = BreakerClosed, now, 0, 0
	b.gen++
	b.mu.Unlock()
	b.onChange(from, BreakerClosed, nil, 0, downFor)
}

func (b *breaker) fail(t ticket, err error) {
	b.mu.Lock()
	if t.gen != b.gen || b.state == BreakerOpen {
		b.mu.Unlock()
		return
	}
	now := b.now()
	from := b.state
	if from == BreakerClosed {
		b.failed++
		if b.failed < b.failures {
			b.mu.Unlock()
			return
		}
		b.interval, b.since = b.first, now
	} else {
		b.interval = min(2*b.interval, b.most)
	}
	b.state, b.until, b.failed = BreakerOpen, now.Add(b.interval), 0
	b.gen++
	open, downFor := b.interval, now.Sub(b.since)
	b.mu.Unlock()
	b.onChange(from, BreakerOpen, err, open, downFor)
}

// abandon passes a probe's turn to the next call when its caller gave up
// before learning anything.
func (b *breaker) abandon(t ticket) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if t.probe && t.gen == b.gen && b.state == BreakerProbing {
		b.state, b.until = BreakerOpen, b.now()
		b.gen++
	}
}

// isOpen reports whether the breaker refuses retries now (open or
// probing). A nil breaker never does.
func (b *breaker) isOpen() bool {
	if b == nil {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state != BreakerClosed
}

// status returns the state and when it began (for open and probing: when
// the breaker first opened).
func (b *breaker) status() (string, time.Time) {
	if b == nil {
		return BreakerClosed, time.Time{}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state, b.since
}

// logBreaker writes one line when the breaker opens (a warning) and one
// when it closes; a failed probe that only lengthens the interval is not
// a change worth a line.
func (c *Client) logBreaker(from, to string, err error, open, downFor time.Duration) {
	switch {
	case to == BreakerOpen && from == BreakerClosed:
		a := []slog.Attr{slog.Duration("skip", open)}
		if err != nil {
			a = append(a, slog.String("error", redactToken(err.Error(), c.token)))
		}
		c.logger.LogAttrs(context.Background(), slog.LevelWarn,
			"recharge: failing; calls stop for a while (breaker open)", a...)
	case to == BreakerClosed:
		c.logger.LogAttrs(context.Background(), slog.LevelInfo,
			"recharge: answering again (breaker closed)", slog.Duration("down_for", downFor))
	}
}
