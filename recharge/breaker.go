package recharge

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/rechargekit/rechargekit/internal/breaker"
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

// newBreaker returns the client's breaker (internal/breaker, shared with
// the Redis adapter) for WithBreaker's rule, or nil (no breaker, every
// call goes to Recharge) when failures <= 0. Recharge's opens after a run
// of failed attempts rather than one, as Redis's does, because one 5xx
// from Recharge is common and retried, where one failed Redis call means
// Redis is gone.
func (c *Client) newBreaker() *breaker.Breaker {
	if c.breakerFailures <= 0 {
		return nil
	}
	first := c.breakerFirst
	if first <= 0 {
		first = DefaultBreakerFirst
	}
	return breaker.New(breaker.Settings{Failures: c.breakerFailures, First: first, Max: c.breakerMost,
		Now: c.now, OnChange: c.logBreaker})
}

// allowAttempt reports whether an attempt may go to Recharge now, and when
// it may, the ticket to report its outcome with. A retry is let through
// only while the breaker is closed: a call that saw it open stops there,
// and a probe is always a call's first attempt, so that no caller waits on
// a probe's backoff.
func (c *Client) allowAttempt(retry bool) (breaker.Ticket, bool) {
	if retry {
		return c.breaker.AllowClosed()
	}
	return c.breaker.Allow()
}

// recordAttempt reports the outcome of t's attempt to the breaker: resp
// and err as the attempt returned them.
func (c *Client) recordAttempt(t breaker.Ticket, resp *http.Response, err error) {
	if c.breaker == nil {
		return
	}
	switch state, _ := healthOf(resp, err); state {
	case HealthUnavailable, HealthTimeout:
		c.breaker.Failure(t, err)
	case "": // cancelled by the caller: says nothing about Recharge
		c.breaker.Abandon(t)
	default: // an answer, even a 4xx or a 429
		c.breaker.Success(t)
	}
}

// breakerOpen reports whether the breaker refuses retries now (open or
// probing). Without a breaker it never does.
func (c *Client) breakerOpen() bool {
	st, _ := c.breaker.State()
	return st != breaker.Closed
}

// breakerStatus returns the breaker's state in this package's terms and
// when it began (for open and probing: when the breaker first opened);
// without a breaker, BreakerClosed and the zero time.
func (c *Client) breakerStatus() (string, time.Time) {
	st, since := c.breaker.State()
	switch st {
	case breaker.Open:
		return BreakerOpen, since
	case breaker.Probing:
		return BreakerProbing, since
	}
	return BreakerClosed, since
}

// logBreaker writes one line when the breaker opens (a warning) and one
// when it closes; a failed probe that only lengthens the interval is not
// a change worth a line.
func (c *Client) logBreaker(ch breaker.Change) {
	switch {
	case ch.To == breaker.Open && ch.From == breaker.Closed:
		a := []slog.Attr{slog.Duration("skip", ch.Interval)}
		if ch.Err != nil {
			a = append(a, slog.String("error", redactToken(ch.Err.Error(), c.token)))
		}
		c.logger.LogAttrs(context.Background(), slog.LevelWarn,
			"recharge: failing; calls stop for a while (breaker open)", a...)
	case ch.To == breaker.Closed:
		c.logger.LogAttrs(context.Background(), slog.LevelInfo,
			"recharge: answering again (breaker closed)", slog.Duration("down_for", ch.Down))
	}
}
