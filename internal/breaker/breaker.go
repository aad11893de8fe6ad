// Package breaker is the circuit breaker the adapters put in front of a
// dependency that may fail (Redis, Recharge): after a run of failed calls
// it refuses calls for an interval that doubles, up to a cap, while the
// dependency keeps failing; at the end of each interval it lets one call
// through, the probe, and the first call that gets an answer closes it.
//
// It lives here rather than in each adapter because adapters do not import
// each other, and it is written rather than taken from
// github.com/sony/gobreaker/v2 because gobreaker's open interval is fixed
// (Settings.Timeout) where this one grows, and gobreaker reads time.Now
// where tests move their own clock.
//
// The breaker knows nothing of what a failure is: the caller asks Allow
// before a call and reports its outcome with the Ticket it got (Success,
// Failure, or Abandon when the call ended without telling). Every change
// of state moves a generation, so that the late outcome of a call let
// through before the change cannot undo it.
package breaker

import (
	"sync"
	"time"
)

// State is a breaker's state.
type State uint8

// The states of a breaker.
const (
	// Closed: every call is let through.
	Closed State = iota
	// Open: calls failed; every call is refused until the open interval
	// ends.
	Open
	// Probing: the open interval ended and one call, the probe, is let
	// through; the others are refused until its outcome is reported.
	Probing
)

// String returns "closed", "open" or "probing".
func (s State) String() string {
	switch s {
	case Closed:
		return "closed"
	case Open:
		return "open"
	case Probing:
		return "probing"
	}
	return "unknown"
}

// Change is one change of a breaker's state, as Settings.OnChange gets it.
type Change struct {
	From, To State
	// Err is the failure that opened the breaker (To is Open), as the
	// caller reported it.
	Err error
	// Interval is how long calls are refused from now (To is Open).
	Interval time.Duration
	// Down is how long the breaker has been out of Closed: since it
	// opened first in this outage.
	Down time.Duration
}

// Settings configure a Breaker.
type Settings struct {
	// Failures is how many failures in a row open the breaker; one when
	// not positive.
	Failures int
	// First is the first open interval; one second when not positive.
	First time.Duration
	// Max caps the open interval, which doubles with every failed probe;
	// First when smaller.
	Max time.Duration
	// Now is the clock of the intervals; time.Now when nil.
	Now func() time.Time
	// OnChange, when not nil, is called after every change between
	// states (for logs and metrics) except an abandoned probe's, which
	// says nothing about the dependency. It is called without the
	// breaker's lock held, so it may ask the breaker for its State.
	OnChange func(Change)
}

// Breaker decides whether a call may go to a dependency. Create it with
// New; it is safe for concurrent use. A nil *Breaker lets every call
// through and stays Closed, so that a client without one needs no checks.
type Breaker struct {
	now      func() time.Time
	failures int
	first    time.Duration
	most     time.Duration
	onChange func(Change)

	mu       sync.Mutex
	state    State
	gen      uint64    // moved by every change, so late outcomes of older calls are ignored
	failed   int       // failures in a row while closed
	since    time.Time // when the state began (open and probing: when the breaker first opened)
	until    time.Time // open: when the next call may probe
	interval time.Duration
}

// Ticket is a call let through, to report its outcome with. The zero
// Ticket is valid for a nil Breaker only.
type Ticket struct {
	gen   uint64
	probe bool
}

// Probe reports whether the call is the breaker's probe: the one call let
// through after the open interval ended.
func (t Ticket) Probe() bool { return t.probe }

// New returns a closed Breaker with settings s.
func New(s Settings) *Breaker {
	if s.Failures <= 0 {
		s.Failures = 1
	}
	if s.First <= 0 {
		s.First = time.Second
	}
	if s.Now == nil {
		s.Now = time.Now
	}
	return &Breaker{now: s.Now, failures: s.Failures, first: s.First, most: max(s.First, s.Max),
		onChange: s.OnChange, state: Closed, since: s.Now()}
}

// Allow reports whether a call may go to the dependency now, and when it
// may, the ticket to report its outcome with: always while closed; while
// open, only once the open interval has ended, and then to one call, the
// probe.
func (b *Breaker) Allow() (Ticket, bool) {
	return b.allow(false)
}

// AllowClosed is Allow for a call that must not be the probe: it lets the
// call through only while the breaker is closed. A client asks it before a
// retry, so that the probe is always a call's first attempt and no caller
// waits on a probe's backoff.
func (b *Breaker) AllowClosed() (Ticket, bool) {
	return b.allow(true)
}

func (b *Breaker) allow(closedOnly bool) (Ticket, bool) {
	if b == nil {
		return Ticket{}, true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.state == Closed:
		return Ticket{gen: b.gen}, true
	case closedOnly:
		return Ticket{}, false
	case b.state == Open && !b.now().Before(b.until):
		b.state = Probing
		b.gen++
		return Ticket{gen: b.gen, probe: true}, true
	default: // open inside the interval, or probing: one call at a time
		return Ticket{}, false
	}
}

// Success reports that t's call got an answer: it closes the breaker, or
// while closed ends the run of failures.
func (b *Breaker) Success(t Ticket) {
	if b == nil {
		return
	}
	b.mu.Lock()
	if t.gen != b.gen {
		b.mu.Unlock()
		return
	}
	if b.state == Closed {
		b.failed = 0
		b.mu.Unlock()
		return
	}
	now := b.now()
	c := Change{From: b.state, To: Closed, Down: now.Sub(b.since)}
	b.state, b.since, b.interval, b.failed = Closed, now, 0, 0
	b.gen++
	b.mu.Unlock()
	b.changed(c)
}

// Failure reports that t's call failed with err: the failure that
// completes a run of Settings.Failures opens the breaker for the first
// interval, and a failed probe opens it again for twice the last interval,
// up to Settings.Max.
func (b *Breaker) Failure(t Ticket, err error) {
	if b == nil {
		return
	}
	b.mu.Lock()
	if t.gen != b.gen || b.state == Open {
		b.mu.Unlock()
		return
	}
	now := b.now()
	from := b.state
	if from == Closed {
		b.failed++
		if b.failed < b.failures {
			b.mu.Unlock()
			return
		}
		b.interval, b.since = b.first, now
	} else {
		b.interval = min(2*b.interval, b.most)
	}
	b.state, b.until, b.failed = Open, now.Add(b.interval), 0
	b.gen++
	c := Change{From: from, To: Open, Err: err, Interval: b.interval, Down: now.Sub(b.since)}
	b.mu.Unlock()
	b.changed(c)
}

// Abandon reports that t's call ended without telling whether the
// dependency answers (its caller gave up first). A probe's turn passes to
// the next call, without a Change; any other call's is ignored.
func (b *Breaker) Abandon(t Ticket) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if t.probe && t.gen == b.gen && b.state == Probing {
		b.state, b.until = Open, b.now()
		b.gen++
	}
}

// State returns the breaker's state and when it began; for Open and
// Probing, when the breaker first opened in this outage. A nil Breaker is
// Closed since the zero time.
func (b *Breaker) State() (State, time.Time) {
	if b == nil {
		return Closed, time.Time{}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state, b.since
}

func (b *Breaker) changed(c Change) {
	if b.onChange != nil {
		b.onChange(c)
	}
}
