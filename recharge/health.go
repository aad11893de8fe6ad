package recharge

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Health states: what the client's latest answered (or unanswered) request
// says about Recharge.
const (
	HealthUnknown     = "unknown"      // no request yet
	HealthOK          = "ok"           // Recharge answered (2xx, or a 4xx about the request itself)
	HealthRateLimited = "rate_limited" // Recharge answered 429: the token's bucket is full
	HealthUnavailable = "unavailable"  // 5xx, no connection, or a truncated or garbled answer
	HealthTimeout     = "timeout"      // no answer before the caller's deadline
	HealthRefused     = "refused"      // 401 or 403: the token was revoked or lacks a scope
)

// Health is what the client last learned about Recharge from its own
// requests, for readiness checks and metrics: it costs no request of its
// own.
type Health struct {
	State  string    // one of the Health constants
	Since  time.Time // when the client entered State (zero for HealthUnknown)
	Status int       // the HTTP status that put it there, 0 when none arrived
	LastOK time.Time // when Recharge last answered well; zero if never
	// LastSeen is when the latest request's outcome was recorded, good or
	// bad: how recent the state is.
	LastSeen time.Time
	// Breaker is the client's breaker state (BreakerClosed when it has
	// none), and BreakerSince when it left BreakerClosed or last entered it.
	Breaker      string
	BreakerSince time.Time
}

// Message describes the state for an operator, in fixed words (never
// upstream text, which could carry anything).
func (h Health) Message() string {
	if h.Breaker == BreakerOpen || h.Breaker == BreakerProbing {
		return h.stateMessage() + "; rechargekit is not asking it for a few seconds (breaker " + h.Breaker + ")"
	}
	return h.stateMessage()
}

func (h Health) stateMessage() string {
	switch h.State {
	case HealthOK:
		return "Recharge is answering"
	case HealthRateLimited:
		return "Recharge is answering 429: the API token's rate budget is spent"
	case HealthUnavailable:
		if h.Status != 0 {
			return "Recharge is failing: it answered " + strconv.Itoa(h.Status)
		}
		return "Recharge is failing: no connection, or a truncated answer"
	case HealthTimeout:
		return "Recharge is not answering before the deadline"
	case HealthRefused:
		return "Recharge refuses the API token (" + strconv.Itoa(h.Status) + "): it was revoked or lacks a scope"
	default:
		return "no request to Recharge yet"
	}
}

// healthTracker records the state of the latest request.
type healthTracker struct {
	mu sync.Mutex
	h  Health
}

// observe records one attempt's result: resp is nil when no answer
// arrived. A request the caller cancelled says nothing about Recharge.
func (t *healthTracker) observe(now time.Time, resp *http.Response, err error) {
	state, status := healthOf(resp, err)
	if state == "" {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.h.LastSeen = now
	if state == HealthOK {
		t.h.LastOK = now
	}
	if t.h.State != state || t.h.Status != status {
		t.h.State, t.h.Status, t.h.Since = state, status, now
	}
}

func (t *healthTracker) get() Health {
	t.mu.Lock()
	defer t.mu.Unlock()
	h := t.h
	if h.State == "" {
		h.State = HealthUnknown
	}
	return h
}

// healthOf classifies one attempt; "" means it says nothing about Recharge.
func healthOf(resp *http.Response, err error) (state string, status int) {
	if resp != nil {
		switch code := resp.StatusCode; {
		case code == http.StatusTooManyRequests:
			return HealthRateLimited, code
		case code == http.StatusUnauthorized || code == http.StatusForbidden:
			return HealthRefused, code
		case code >= 500:
			return HealthUnavailable, code
		}
	}
	switch {
	case err == nil:
		return HealthOK, 0
	case errors.Is(err, context.Canceled):
		return "", 0
	case errors.Is(err, context.DeadlineExceeded):
		return HealthTimeout, 0
	}
	if _, ok := asErrorResponse(err); ok {
		return HealthOK, 0 // a 4xx about the request: Recharge is fine
	}
	var de *decodeError
	if errors.As(err, &de) && !de.truncated() {
		return HealthOK, 0 // an answer we could not use, but an answer
	}
	return HealthUnavailable, 0
}

// Health returns what the client's requests last showed about Recharge.
func (c *Client) Health() Health {
	h := c.health.get()
	h.Breaker, h.BreakerSince = c.breakerStatus()
	return h
}

// routeOf names a request path for metrics: the API path without the base
// URL's prefix, ids replaced by {id}, so that the set of names stays small.
func routeOf(method, basePath, path string) string {
	path = strings.TrimPrefix(path, basePath)
	var b strings.Builder
	b.Grow(len(method) + 1 + len(path))
	b.WriteString(method)
	b.WriteByte(' ')
	if path == "" || path == "/" {
		b.WriteByte('/')
		return b.String()
	}
	for seg := range strings.SplitSeq(strings.TrimPrefix(path, "/"), "/") {
		b.WriteByte('/')
		if isID(seg) {
			b.WriteString("{id}")
		} else {
			b.WriteString(seg)
		}
	}
	return b.String()
}

func isID(seg string) bool {
	if seg == "" {
		return false
	}
	for i := 0; i < len(seg); i++ {
		if seg[i] < '0' || seg[i] > '9' {
			return false
		}
	}
	return true
}

// HealthStates lists every Health state, for metrics.
var HealthStates = []string{HealthUnknown, HealthOK, HealthRateLimited, HealthUnavailable, HealthTimeout, HealthRefused}
