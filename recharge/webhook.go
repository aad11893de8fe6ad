package recharge

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Webhook headers Recharge sets on every delivery.
const (
	HeaderTopic              = "X-Recharge-Topic"
	HeaderHmacSha256         = "X-Recharge-Hmac-Sha256"       // legacy: hex(SHA-256(secret || body))
	HeaderWebhookTimestamp   = "X-Recharge-Webhook-Timestamp" // unix seconds
	HeaderWebhookSignature   = "X-Recharge-Webhook-Signature" // "t=<unix>,v1=<hex hmac>"
	webhookSignatureVersion1 = "v1"
)

// MaxWebhookBodyBytes caps a webhook body. A payload is one object as a GET
// returns it; a charge with many line items stays far below 1 MiB.
const MaxWebhookBodyBytes = 1 << 20

// DefaultWebhookTolerance is how far a timestamped signature's time may be
// from now: Recharge retries deliveries for 48 hours.
const DefaultWebhookTolerance = 48 * time.Hour

// Webhook verification errors. Callers answer 401 to all three; logs tell
// them apart.
var (
	ErrNoSignature      = errors.New("recharge: webhook has no signature")
	ErrInvalidSignature = errors.New("recharge: webhook signature is invalid")
	ErrSignatureExpired = errors.New("recharge: webhook signature time is outside the tolerance")
	ErrWebhookTooLarge  = errors.New("recharge: webhook body is too large")
)

// SignWebhook returns the legacy X-Recharge-Hmac-Sha256 value for body.
// Despite the header's name this is not an HMAC: it is the lowercase hex
// SHA-256 of the API client secret's bytes followed by the raw body.
func SignWebhook(clientSecret string, body []byte) string {
	h := sha256.New()
	h.Write([]byte(clientSecret))
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// SignWebhookTimestamped returns the X-Recharge-Webhook-Signature value for
// body sent at t: "t=<unix>,v1=<hex(HMAC-SHA256(secret, "<unix>." + body))>".
// The matching X-Recharge-Webhook-Timestamp header carries the same unix time.
func SignWebhookTimestamped(clientSecret string, body []byte, t time.Time) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + "," + webhookSignatureVersion1 + "=" + timestampedMAC(clientSecret, ts, body)
}

func timestampedMAC(clientSecret, ts string, body []byte) string {
	m := hmac.New(sha256.New, []byte(clientSecret))
	m.Write([]byte(ts))
	m.Write([]byte("."))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// ValidateWebhook checks a delivery's signature against the API client
// secret (not the access token), with the default tolerance. See
// WebhookVerifier.Verify.
func ValidateWebhook(h http.Header, body []byte, clientSecret string, now time.Time) error {
	v := WebhookVerifier{Secret: clientSecret, Now: func() time.Time { return now }}
	return v.Verify(h, body)
}

// WebhookVerifier checks webhook signatures. The zero Tolerance means
// DefaultWebhookTolerance and a nil Now means time.Now.
type WebhookVerifier struct {
	Secret    string // the token's API client secret
	Tolerance time.Duration
	Now       func() time.Time
}

// Verify checks h and body. Recharge signs a delivery in two forms, and the
// timestamped one is preferred whenever it comes:
//
//   - The timestamped form (X-Recharge-Webhook-Signature "t=<unix>,v1=<hex>"
//     with X-Recharge-Webhook-Timestamp) signs the time with the body, and a
//     time further than Tolerance from now is refused, so a captured
//     delivery cannot be posted again after that window. When either of its
//     headers is present it decides alone: a failure there (forged,
//     malformed, stale, or a timestamp without its signature) is final and
//     never retried against the legacy header, which anyone replaying an
//     old delivery could supply.
//   - Otherwise the legacy X-Recharge-Hmac-Sha256 is checked.
//
// A delivery that carries only the legacy form can be replayed: that form
// signs the body alone, with no time, so anyone who captured one delivery
// (from a log or a proxy, say) can post it again at any later time and it
// verifies, and so can a delivery whose timestamped headers were stripped.
// The body cannot be changed, so a replay can only repeat an old event.
// Consumers must therefore treat every event as possibly old and repeated,
// as they must for Recharge's own at-least-once retries anyway: invalidating
// a cached card (InvalidateOnEvent) only costs one fresh Recharge read; code
// that acts on an event's content must compare its updated_at with what it
// holds instead of trusting it to be new.
//
// Comparisons are constant time. Errors: ErrNoSignature,
// ErrInvalidSignature, ErrSignatureExpired (the signature is authentic but
// stale), ErrWebhookTooLarge.
func (v WebhookVerifier) Verify(h http.Header, body []byte) error {
	if len(body) > MaxWebhookBodyBytes {
		return ErrWebhookTooLarge
	}
	if v.Secret == "" {
		// Fail closed: an unset secret must not make every body valid.
		return fmt.Errorf("%w: no client secret configured", ErrInvalidSignature)
	}
	// The timestamped form is there as soon as one of its headers is, even
	// blank: a sender that signs with a time sends both, so a blank or
	// missing half means the delivery was altered on the way.
	if hasHeader(h, HeaderWebhookSignature) || hasHeader(h, HeaderWebhookTimestamp) {
		sig := strings.TrimSpace(h.Get(HeaderWebhookSignature))
		if sig == "" {
			return fmt.Errorf("%w: %s missing or blank", ErrInvalidSignature, HeaderWebhookSignature)
		}
		return v.verifyTimestamped(sig, strings.TrimSpace(h.Get(HeaderWebhookTimestamp)), body)
	}
	got := strings.ToLower(strings.TrimSpace(h.Get(HeaderHmacSha256)))
	if got == "" {
		return ErrNoSignature
	}
	want := SignWebhook(v.Secret, body)
	if !hmac.Equal([]byte(got), []byte(want)) {
		return ErrInvalidSignature
	}
	return nil
}

// hasHeader reports whether h carries the header at all, blank or not.
func hasHeader(h http.Header, key string) bool {
	return len(h.Values(key)) > 0
}

func (v WebhookVerifier) verifyTimestamped(sig, tsHeader string, body []byte) error {
	var ts string
	var macs []string
	for _, part := range strings.Split(sig, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "t":
			if ts != "" {
				return fmt.Errorf("%w: several timestamps", ErrInvalidSignature)
			}
			ts = strings.TrimSpace(val)
		case webhookSignatureVersion1:
			macs = append(macs, strings.ToLower(strings.TrimSpace(val)))
		}
	}
	switch {
	case ts == "":
		ts = tsHeader
	case tsHeader != "" && tsHeader != ts:
		return fmt.Errorf("%w: timestamp header and signature disagree", ErrInvalidSignature)
	}
	if ts == "" || len(macs) == 0 {
		return fmt.Errorf("%w: malformed %s", ErrInvalidSignature, HeaderWebhookSignature)
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: malformed timestamp", ErrInvalidSignature)
	}
	want := []byte(timestampedMAC(v.Secret, ts, body))
	ok := false
	for _, m := range macs {
		// Check every candidate so the time does not depend on which matched.
		if hmac.Equal([]byte(m), want) {
			ok = true
		}
	}
	if !ok {
		return ErrInvalidSignature
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	tol := v.Tolerance
	if tol <= 0 {
		tol = DefaultWebhookTolerance
	}
	// Compare in float seconds: a hostile timestamp must not overflow.
	if math.Abs(float64(now().Unix())-float64(unix)) > tol.Seconds() {
		return ErrSignatureExpired
	}
	return nil
}

// VerifyRequest reads r's body (at most MaxWebhookBodyBytes) and verifies
// it. It returns the raw body for ParseWebhook.
func (v WebhookVerifier) VerifyRequest(r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxWebhookBodyBytes+1))
	if err != nil {
		return nil, fmt.Errorf("recharge: read webhook body: %w", err)
	}
	if len(body) > MaxWebhookBodyBytes {
		return nil, ErrWebhookTooLarge
	}
	if err := v.Verify(r.Header, body); err != nil {
		return nil, err
	}
	return body, nil
}

// WebhookEvent is a decoded webhook delivery. The payload is the object as a
// GET returns it ({"subscription": {...}}); the field matching Resource is
// set for the resources the service reacts to, and Object holds the raw
// object for every topic.
type WebhookEvent struct {
	Topic    string // e.g. "subscription/updated", lowercase
	Resource string // the part before "/": subscription, customer, charge, address, order, ...

	Subscription *Subscription
	Customer     *Customer
	Charge       *Charge
	Address      *Address

	Object json.RawMessage // the raw object under the resource key; nil when absent
}

// ParseWebhook decodes a webhook body for topic (the X-Recharge-Topic
// header). An empty topic (a delivery without the header) leaves Topic
// empty and takes the Resource from the body's top-level key: the one key
// of the body, or else its only card resource key (subscription, customer,
// charge, address), so that such a delivery is still dispatched. The body
// must be a JSON object of at most MaxWebhookBodyBytes; for subscription,
// customer, charge and address topics it must hold that object.
func ParseWebhook(topic string, body []byte) (*WebhookEvent, error) {
	if len(body) > MaxWebhookBodyBytes {
		return nil, ErrWebhookTooLarge
	}
	topic = strings.ToLower(strings.TrimSpace(topic))
	var env map[string]json.RawMessage
	if err := json.Unmarshal(body, &env); err != nil || env == nil {
		if err == nil {
			err = errors.New("not an object")
		}
		return nil, fmt.Errorf("recharge: webhook %q: invalid body: %w", abbreviate(topic), err)
	}
	ev := &WebhookEvent{Topic: topic}
	ev.Resource, _, _ = strings.Cut(topic, "/")
	if ev.Resource == "" {
		res, err := resourceOf(env)
		if err != nil {
			return nil, err
		}
		ev.Resource = res
	}
	raw, ok := env[ev.Resource]
	if ok && string(raw) != "null" {
		ev.Object = raw
	}
	var target any
	switch ev.Resource {
	case "subscription":
		ev.Subscription = new(Subscription)
		target = ev.Subscription
	case "customer":
		ev.Customer = new(Customer)
		target = ev.Customer
	case "charge":
		ev.Charge = new(Charge)
		target = ev.Charge
	case "address":
		ev.Address = new(Address)
		target = ev.Address
	default:
		return ev, nil
	}
	if ev.Object == nil {
		return nil, fmt.Errorf("recharge: webhook %q: body has no %q object", abbreviate(topic), ev.Resource)
	}
	if b := bytes.TrimSpace(ev.Object); len(b) == 0 || b[0] != '{' {
		return nil, fmt.Errorf("recharge: webhook %q: %q is not an object", abbreviate(topic), ev.Resource)
	}
	if err := json.Unmarshal(ev.Object, target); err != nil {
		return nil, fmt.Errorf("recharge: webhook %q: decode %s: %w", abbreviate(topic), ev.Resource, err)
	}
	return ev, nil
}

// resourceOf names the resource of a body delivered without a topic: its
// single top-level key, or its only card resource key when it has several
// (a payload may carry metadata beside the object). A body with no such
// key, or more than one, is refused: guessing would apply the wrong object.
func resourceOf(env map[string]json.RawMessage) (string, error) {
	if len(env) == 1 {
		for k := range env {
			return strings.ToLower(k), nil
		}
	}
	var found []string
	for _, k := range []string{"subscription", "customer", "charge", "address"} {
		if _, ok := env[k]; ok {
			found = append(found, k)
		}
	}
	if len(found) != 1 {
		return "", errors.New("recharge: webhook without a topic: cannot tell the resource from the body's keys")
	}
	return found[0], nil
}

// CustomerID returns the Recharge customer the event concerns, or 0 when
// the payload does not say (cache invalidation keys on it).
func (e *WebhookEvent) CustomerID() int64 {
	switch {
	case e.Subscription != nil:
		return int64(e.Subscription.CustomerID)
	case e.Customer != nil:
		return int64(e.Customer.ID)
	case e.Charge != nil:
		return int64(e.Charge.CustomerID)
	case e.Address != nil:
		return int64(e.Address.CustomerID)
	}
	return 0
}

// ObjectID returns the id of the object the event carries, or 0.
func (e *WebhookEvent) ObjectID() int64 {
	switch {
	case e.Subscription != nil:
		return int64(e.Subscription.ID)
	case e.Customer != nil:
		return int64(e.Customer.ID)
	case e.Charge != nil:
		return int64(e.Charge.ID)
	case e.Address != nil:
		return int64(e.Address.ID)
	}
	return 0
}

// UpdatedAt returns the object's updated_at, or the zero time. With the
// topic and ObjectID it de-duplicates deliveries: Recharge documents no
// delivery id.
func (e *WebhookEvent) UpdatedAt() time.Time {
	switch {
	case e.Subscription != nil:
		return e.Subscription.UpdatedAt.Time
	case e.Customer != nil:
		return e.Customer.UpdatedAt.Time
	case e.Charge != nil:
		return e.Charge.UpdatedAt.Time
	case e.Address != nil:
		return e.Address.UpdatedAt.Time
	}
	return time.Time{}
}

// WebhooksService manages webhook registrations (spec section 13).
type WebhooksService struct{ client *Client }

// WebhookListOptions pages GET /webhooks.
type WebhookListOptions struct {
	Limit  int
	Cursor string
}

// List returns one page of webhooks.
func (s *WebhooksService) List(ctx context.Context, opts *WebhookListOptions) ([]*Webhook, *Response, error) {
	q := query{}
	if opts != nil {
		q.page(opts.Limit, opts.Cursor)
	}
	return listPage[Webhook](ctx, s.client, "/webhooks", url.Values(q), "webhooks")
}

// Get returns one webhook.
func (s *WebhooksService) Get(ctx context.Context, id int64) (*Webhook, *Response, error) {
	return getOne[Webhook](ctx, s.client, http.MethodGet, webhookPath(id), nil, nil, "webhook")
}

// WebhookCreateRequest is the body of POST /webhooks: one topic per webhook.
type WebhookCreateRequest struct {
	Address         string   `json:"address"` // the https URL Recharge posts to
	Topic           string   `json:"topic"`   // e.g. "subscription/updated"
	IncludedObjects []string `json:"included_objects,omitempty"`
	Version         *string  `json:"version,omitempty"`
}

// Create registers a webhook.
func (s *WebhooksService) Create(ctx context.Context, req *WebhookCreateRequest) (*Webhook, *Response, error) {
	return getOne[Webhook](ctx, s.client, http.MethodPost, "/webhooks", nil, bodyOrEmpty(req), "webhook")
}

// WebhookUpdateRequest is the body of PUT /webhooks/{id}; nil fields are
// left unchanged.
type WebhookUpdateRequest struct {
	Address         *string   `json:"address,omitempty"`
	IncludedObjects *[]string `json:"included_objects,omitempty"`
	Version         *string   `json:"version,omitempty"`
}

// Update changes a webhook.
func (s *WebhooksService) Update(ctx context.Context, id int64, req *WebhookUpdateRequest) (*Webhook, *Response, error) {
	return getOne[Webhook](ctx, s.client, http.MethodPut, webhookPath(id), nil, bodyOrEmpty(req), "webhook")
}

// Delete removes a webhook (204).
func (s *WebhooksService) Delete(ctx context.Context, id int64) (*Response, error) {
	return s.client.call(ctx, http.MethodDelete, webhookPath(id), nil, nil, nil)
}

func webhookPath(id int64) string { return "/webhooks/" + strconv.FormatInt(id, 10) }
