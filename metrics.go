package rechargekit

import (
	"errors"
	"time"
)

// Metrics receives the events an operator counts. The adapters report to it
// (the recharge client its calls and rate-limit waits, the cards cache its
// hits, the gladly handler and the server their lookups and webhook
// deliveries); the metrics package exports them to Prometheus at /metrics.
// Implementations must be safe for concurrent use and fast: they are called
// on every request. Labels are drawn from small fixed sets, never from
// customer data or secrets.
type Metrics interface {
	// Lookup records one card lookup answered to a desk. desk is
	// DeskGladly, DeskConsole or DeskAPI; level is the Gladly lookup level
	// ("BASIC", "DETAILED") or LevelCard for the console and the JSON API;
	// outcome is one of the Outcome constants.
	Lookup(desk, level, outcome string, took time.Duration)

	// RechargeCall records one HTTP request to Recharge (each attempt,
	// retries included). route is the method and path with ids replaced,
	// e.g. "GET /customers/{id}"; status is the HTTP status, or 0 when no
	// complete answer arrived (network error, timeout, truncated body).
	RechargeCall(route string, status int, took time.Duration)

	// RateLimitWait records how long one request waited for Recharge's
	// rate budget before it was sent (0 when it did not wait).
	RateLimitWait(took time.Duration)

	// CardCache records how a card was served: one of the Cache constants.
	CardCache(result string)

	// Webhook records one Recharge webhook delivery: its topic (or
	// "unknown") and one of the Webhook constants.
	Webhook(topic, outcome string)

	// SignIn records one console sign-in attempt: one of the SignIn
	// constants.
	SignIn(outcome string)
}

// Desks for Metrics.Lookup.
const (
	DeskGladly  = "gladly"
	DeskConsole = "console"
	DeskAPI     = "api"

	// LevelCard is the lookup level of the console and the JSON API, which
	// always show the whole card.
	LevelCard = "card"
)

// Lookup outcomes for Metrics.Lookup.
const (
	OutcomeOK          = "ok"          // answered with a fresh card (or results)
	OutcomeStale       = "stale"       // answered with a cached card past its TTL because Recharge failed
	OutcomeNotFound    = "not_found"   // Recharge has no such customer (deleted, or no match)
	OutcomeUnavailable = "unavailable" // Recharge failed or was too slow and no card was cached
	OutcomeRefused     = "refused"     // Recharge refused rechargekit's token
	OutcomeBadRequest  = "bad_request" // the desk's request was malformed or unauthenticated
	OutcomeError       = "error"       // a bug or an unexpected failure
)

// Card cache results for Metrics.CardCache.
const (
	CacheHit     = "hit"     // served from the cache within its TTL
	CacheMiss    = "miss"    // fetched from Recharge
	CacheShared  = "shared"  // joined a fetch another lookup had started
	CacheStale   = "stale"   // served past its TTL because Recharge failed
	CacheRefresh = "refresh" // refreshed in the background ahead of expiry
)

// Webhook delivery outcomes for Metrics.Webhook. A delivery refused for a
// bad signature counts under the topic "unknown": its topic header is
// untrusted.
const (
	WebhookAccepted     = "accepted"      // verified and handled (the customer's card invalidated, if any)
	WebhookBadSignature = "bad_signature" // refused: missing or wrong signature
	WebhookBadRequest   = "bad_request"   // refused: not a webhook we can read
	WebhookFailed       = "failed"        // verified, but invalidating the card failed
)

// Console sign-in outcomes for Metrics.SignIn. A rise in wrong or limited
// is password guessing.
const (
	SignInOK      = "ok"      // signed in
	SignInWrong   = "wrong"   // the email and password did not match
	SignInLimited = "limited" // refused: too many failures from that address or for that account
)

// NopMetrics discards every event: the default where no metrics are wanted.
type NopMetrics struct{}

func (NopMetrics) Lookup(desk, level, outcome string, took time.Duration)    {}
func (NopMetrics) RechargeCall(route string, status int, took time.Duration) {}
func (NopMetrics) RateLimitWait(took time.Duration)                          {}
func (NopMetrics) CardCache(result string)                                   {}
func (NopMetrics) Webhook(topic, outcome string)                             {}
func (NopMetrics) SignIn(outcome string)                                     {}

// OutcomeOf maps a lookup's error to its Metrics outcome: OutcomeOK for nil,
// and by error code otherwise, except that an EUPSTREAM caused by
// ErrUpstreamRefused is OutcomeRefused. A stale answer is not an error; callers
// that served one report OutcomeStale themselves.
func OutcomeOf(err error) string {
	switch ErrorCode(err) {
	case "":
		return OutcomeOK
	case ENOTFOUND:
		return OutcomeNotFound
	case EUPSTREAM:
		if errors.Is(err, ErrUpstreamRefused) {
			return OutcomeRefused
		}
		return OutcomeUnavailable
	case EINVALID, EUNAUTHORIZED:
		return OutcomeBadRequest
	default:
		return OutcomeError
	}
}
