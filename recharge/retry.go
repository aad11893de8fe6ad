package recharge

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Retry tuning. Recharge's guidance, as third parties summarise it, is to
// wait at least a second or two after a 429; other failures start faster.
const (
	DefaultMaxRetries = 4

	backoffBase      = 250 * time.Millisecond // first wait after a 5xx or network error
	backoffBase429   = time.Second            // first wait after a 429 without Retry-After
	backoffCap       = 8 * time.Second        // no computed wait is longer
	maxRetryAfter    = 2 * time.Minute        // a longer Retry-After is clamped
	maxBodyBytes     = 64 << 20               // success bodies: 250 charges fit many times over
	retryReasonLimit = "rate limited"
)

// shouldRetry is the one place that decides whether an attempt is worth
// repeating, and says why (for the logs). resp is nil when no response
// arrived. Reads (GET, HEAD) are retried on 429, 409, 5xx (except 501),
// network errors and truncated or garbled bodies. Writes are retried only
// on 429 and 409, the two answers that say the request was not applied: a
// 5xx or a lost connection may have come after the write took effect.
func shouldRetry(method string, resp *http.Response, err error) (bool, string) {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false, "context done"
	}
	idempotent := method == http.MethodGet || method == http.MethodHead || method == ""
	if resp != nil {
		switch code := resp.StatusCode; {
		case code == http.StatusTooManyRequests:
			return true, retryReasonLimit
		case code == http.StatusConflict:
			return true, "conflict: not applied"
		case code == http.StatusNotImplemented:
			return false, ""
		case code >= 500:
			if idempotent {
				return true, "server error " + strconv.Itoa(code)
			}
			return false, "server error on a write: may have been applied"
		}
	}
	if err == nil {
		return false, ""
	}
	var de *decodeError
	if errors.As(err, &de) {
		if idempotent && de.truncated() {
			return true, "truncated or invalid body"
		}
		return false, ""
	}
	if _, ok := asErrorResponse(err); ok {
		return false, "" // other 4xx: repeating will not help
	}
	if idempotent {
		return true, "network error"
	}
	return false, "network error on a write: may have been applied"
}

// backoff returns how long to wait before retry number attempt (0 for the
// first retry). A Retry-After header wins; otherwise the wait doubles from
// a base, capped, with jitter in [d, 2d) so that many clients that failed
// together do not retry together.
func (c *Client) backoff(attempt int, resp *http.Response) time.Duration {
	if resp != nil {
		if d, ok := retryAfter(resp.Header.Get("Retry-After"), c.now()); ok {
			return d
		}
	}
	base := backoffBase
	if resp != nil && resp.StatusCode == http.StatusTooManyRequests {
		base = backoffBase429
	}
	d := base
	for i := 0; i < attempt && d < backoffCap; i++ {
		d *= 2
	}
	d = min(d, backoffCap)
	return d + time.Duration(c.jitter(int64(d)))
}

// retryAfter parses a Retry-After value: delta seconds or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	var d time.Duration
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs < 0 || secs != secs {
			return 0, false
		}
		if secs > maxRetryAfter.Seconds() {
			return maxRetryAfter, true
		}
		d = time.Duration(secs * float64(time.Second))
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
		if d < 0 {
			d = 0
		}
	} else {
		return 0, false
	}
	return min(d, maxRetryAfter), true
}

// defaultJitter returns a random duration in [0, n).
func defaultJitter(n int64) int64 {
	if n <= 0 {
		return 0
	}
	return rand.Int64N(n)
}
