package rechargetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultToken is the access token a simulator accepts when Config.Tokens is
// empty.
const DefaultToken = "sim-token"

// APIVersion is the only Recharge API version the simulator implements.
const APIVersion = "2021-11"

// Platforms a simulated store can run on. They decide what /products does.
const (
	PlatformShopify = "shopify" // /products answers the 2021-11 platform error (422)
	PlatformCustom  = "custom"  // /products is the store's catalog
)

// AllScopes are the scopes a token has when Config.Scopes is empty: every
// read and write scope of the resources the simulator serves, and store_info.
var AllScopes = []string{
	"read_customers", "write_customers",
	"read_subscriptions", "write_subscriptions",
	"read_orders", "write_orders",
	"read_products", "write_products",
	"read_payment_methods", "write_payment_methods",
	"read_payments", "write_payments",
	"read_discounts", "write_discounts",
	"store_info", "read_events", "read_accounts",
}

// Config configures a Simulator. The zero value is a Shopify store with one
// all-scopes token (DefaultToken), Recharge's default bucket (40 requests,
// leaking 2 per second), no latency and no webhooks.
type Config struct {
	// Tokens are the accepted access tokens; default []string{DefaultToken}.
	// Each token has its own leaky bucket, as on Recharge.
	Tokens []string
	// Scopes are the scopes of those tokens; nil means AllScopes (an empty,
	// non-nil slice means none). A route outside them answers 403.
	Scopes []string
	// Platform is PlatformShopify (default: /products answers 422) or
	// PlatformCustom (/products serves the catalog).
	Platform string
	// Latency is added to every Recharge API request (not to /__sim/).
	Latency time.Duration
	// BucketSize is the leaky bucket's size; default 40.
	BucketSize int
	// LeakPerSecond is the bucket's drain rate; default 2.
	LeakPerSecond float64
	// TokenLeakPerSecond gives some tokens another drain rate than
	// LeakPerSecond (a benchmark runs a large backfill on a faster budget
	// than the agents' token while keeping theirs Recharge's).
	TokenLeakPerSecond map[string]float64
	// Now is the simulator's clock; default time.Now. It drives the bucket,
	// every timestamp, the dates of loaded seeds and webhook signatures.
	Now func() time.Time
	// WebhookURL, when set together with WebhookSecret, receives every
	// event (all topics) after every change, signed with WebhookSecret.
	WebhookURL string
	// WebhookSecret is the API client secret that signs webhook bodies
	// (both the legacy and the timestamped signature; the timestamp follows
	// Now). Webhooks registered through POST /webhooks are delivered whether
	// or not it is set, and signed with it.
	WebhookSecret string
	// WebhookMaxAttempts bounds the deliveries of one event; default 5.
	WebhookMaxAttempts int
	// WebhookBackoff is the wait before the first retry, doubled for each
	// further retry and capped at one minute; default 1s.
	WebhookBackoff time.Duration
	// WebhookTimeout bounds one delivery attempt; default 5s, Recharge's own.
	WebhookTimeout time.Duration
	// WebhookDeleteAfter is how many failed deliveries in a row (retries
	// included) make Recharge delete a registered webhook; default 20
	// (spec section 13: "Recharge retries 20 times over 48 hours and then
	// deletes the webhook"). Config.WebhookURL is never deleted.
	WebhookDeleteAfter int
	// RecalculateNextChargeDate is the store setting "Automatically
	// recalculate next charge date when the subscription charge frequency is
	// changed" (CL-RECALC; on for stores that existed at its launch, off by
	// default for newer ones). When it is on, a frequency change through
	// PUT /subscriptions/{id} sets the next charge date to one new interval
	// after the last processed charge, rolled forward past today; when it
	// is off the date stays. Either way the skips already made on that
	// subscription are dropped.
	RecalculateNextChargeDate bool
	// Logger receives one debug line per request; default: discard.
	Logger *slog.Logger
}

// Simulator is an in-process Recharge 2021-11 API. It implements
// http.Handler; it is safe for concurrent use.
type Simulator struct {
	cfg    Config
	log    *slog.Logger
	tokens map[string]bool
	scopes map[string]bool
	routes []*route

	reqSeq atomic.Uint64 // X-Request-Id counter

	mu sync.Mutex // guards the store
	st *store

	ctl       sync.Mutex // guards everything below
	buckets   map[string]*bucket
	faults    Faults
	faultSeen int
	stats     Stats
	inFlight  int
	// pagesSeen holds the list pages served (route and cursor, or route
	// and query for a first page), to count the pages read again.
	pagesSeen map[string]bool
	// loss is what webhook deliveries to lose (LoseWebhooks).
	loss WebhookLoss
	// hookFailures counts each registration's failed deliveries in a row.
	hookFailures map[int64]int

	hooks *deliverer
}

// New returns a simulator with no data. Load a seed (DemoSeed,
// GenerateSeed) or use AddCustomer to fill it. Call Close when webhooks are
// configured, to stop the delivery goroutine.
func New(cfg Config) *Simulator {
	if len(cfg.Tokens) == 0 {
		cfg.Tokens = []string{DefaultToken}
	}
	if cfg.Scopes == nil {
		cfg.Scopes = AllScopes
	}
	if cfg.Platform == "" {
		cfg.Platform = PlatformShopify
	}
	if cfg.BucketSize <= 0 {
		cfg.BucketSize = 40
	}
	if cfg.LeakPerSecond <= 0 {
		cfg.LeakPerSecond = 2
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.WebhookMaxAttempts <= 0 {
		cfg.WebhookMaxAttempts = 5
	}
	if cfg.WebhookBackoff <= 0 {
		cfg.WebhookBackoff = time.Second
	}
	if cfg.WebhookTimeout <= 0 {
		cfg.WebhookTimeout = 5 * time.Second
	}
	if cfg.WebhookDeleteAfter <= 0 {
		cfg.WebhookDeleteAfter = 20
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Simulator{
		cfg:     cfg,
		log:     log,
		tokens:  make(map[string]bool),
		scopes:  make(map[string]bool),
		st:      newStore(cfg.Platform),
		buckets: make(map[string]*bucket),
	}
	for _, t := range cfg.Tokens {
		s.tokens[t] = true
	}
	for _, sc := range cfg.Scopes {
		s.scopes[sc] = true
	}
	s.stats = newStats()
	s.pagesSeen = map[string]bool{}
	s.hookFailures = map[int64]int{}
	s.routes = s.buildRoutes()
	s.hooks = newDeliverer(s)
	return s
}

// Close stops the webhook delivery goroutine; deliveries still queued or
// waiting for a retry are dropped. The simulator keeps answering requests
// but emits no more webhooks. Close is idempotent.
func (s *Simulator) Close() error {
	s.hooks.close()
	return nil
}

func (s *Simulator) now() time.Time { return s.cfg.Now().UTC() }

// Stats are the simulator's counters since New or the last Reset.
type Stats struct {
	// Requests counts Recharge API requests (everything outside /__sim/),
	// whatever their outcome.
	Requests int `json:"requests"`
	// ByRoute counts requests by route pattern, e.g. "GET /subscriptions".
	// Requests that match no route count under "unmatched".
	ByRoute map[string]int `json:"by_route"`
	// ByStatus counts responses by HTTP status code, e.g. "200", "429";
	// "499" counts requests the client abandoned during a delay.
	ByStatus map[string]int `json:"by_status"`
	// RateLimited counts 429s from the leaky bucket (not injected ones).
	RateLimited int `json:"rate_limited"`
	// FaultsInjected counts requests that a fault (SetFaults) affected.
	FaultsInjected int `json:"faults_injected"`
	// InFlight and MaxInFlight measure concurrency: requests being served
	// now, and the most ever served at once.
	InFlight    int `json:"in_flight"`
	MaxInFlight int `json:"max_in_flight"`
	// WebhooksQueued counts deliveries enqueued (one per event and target).
	WebhooksQueued int `json:"webhooks_queued"`
	// WebhookAttempts counts POSTs made to receivers, retries included.
	WebhookAttempts int `json:"webhook_attempts"`
	// WebhooksDelivered counts deliveries a receiver accepted with a 2xx.
	WebhooksDelivered int `json:"webhooks_delivered"`
	// WebhookFailures counts failed attempts (non-2xx, timeout, refused).
	WebhookFailures int `json:"webhook_failures"`
	// WebhooksDropped counts deliveries given up after the last attempt,
	// or because their registration was deleted meanwhile.
	WebhooksDropped int `json:"webhooks_dropped"`
	// WebhooksLost counts deliveries lost on purpose (LoseWebhooks): the
	// change was made, its webhook never sent.
	WebhooksLost int `json:"webhooks_lost"`
	// WebhooksDeleted counts registrations deleted after
	// Config.WebhookDeleteAfter failed deliveries in a row.
	WebhooksDeleted int `json:"webhooks_deleted"`
	// Pages counts list pages answered with a 200, by route (e.g.
	// "GET /customers"): a backfill's progress as Recharge sees it.
	Pages map[string]int `json:"pages"`
	// RepeatedPages counts, by route, list pages served again: the same
	// cursor as a page served before (for a first page, the same query).
	// A resumed backfill that re-reads no finished page leaves it at most
	// at the page that was in flight.
	RepeatedPages map[string]int `json:"repeated_pages"`
}

func newStats() Stats {
	return Stats{ByRoute: map[string]int{}, ByStatus: map[string]int{}, Pages: map[string]int{}, RepeatedPages: map[string]int{}}
}

// Stats returns a copy of the counters.
func (s *Simulator) Stats() Stats {
	s.ctl.Lock()
	defer s.ctl.Unlock()
	st := s.stats
	st.ByRoute = maps.Clone(s.stats.ByRoute)
	st.ByStatus = maps.Clone(s.stats.ByStatus)
	st.Pages = maps.Clone(s.stats.Pages)
	st.RepeatedPages = maps.Clone(s.stats.RepeatedPages)
	st.InFlight = s.inFlight
	return st
}

// Reset clears the statistics (and the pages seen), the faults, the
// webhook losses and the rate-limit buckets. The data (customers,
// subscriptions, ...) and the webhook registrations stay.
func (s *Simulator) Reset() {
	s.ctl.Lock()
	defer s.ctl.Unlock()
	s.stats = newStats()
	s.pagesSeen = map[string]bool{}
	s.loss = WebhookLoss{}
	s.faults = Faults{}
	s.faultSeen = 0
	clear(s.buckets)
}

func (s *Simulator) addStat(fn func(st *Stats)) {
	s.ctl.Lock()
	fn(&s.stats)
	s.ctl.Unlock()
}

// response is what a handler produces; ServeHTTP writes it.
type response struct {
	status int
	body   []byte // nil for 204
	header http.Header
}

func jsonResponse(status int, v any) response {
	return response{status: status, body: encodeJSON(v)}
}

// errorsBody is Recharge's {"errors": ...} body; the value is a string or a
// field map (spec section 11).
func errorsBody(status int, v any) response {
	return jsonResponse(status, map[string]any{"errors": v})
}

func notFound() response { return errorsBody(http.StatusNotFound, "Not Found") }

// fieldError is a 422 whose errors map one field to a list of messages.
func fieldError(field string, msgs ...string) response {
	return errorsBody(http.StatusUnprocessableEntity, map[string]any{field: msgs})
}

// ServeHTTP answers one request, either to the Recharge API or, under
// /__sim/, to the test-control surface.
func (s *Simulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/__sim" || strings.HasPrefix(r.URL.Path, "/__sim/") {
		s.serveControl(w, r)
		return
	}
	start := time.Now()
	reqID := fmt.Sprintf("sim-%08x-%06d", uint32(start.UnixNano()), s.reqSeq.Add(1))
	rt, params, allowed := s.match(r.Method, r.URL.Path)
	pattern := "unmatched"
	if rt != nil {
		pattern = rt.pattern
	}

	s.ctl.Lock()
	s.inFlight++
	if s.inFlight > s.stats.MaxInFlight {
		s.stats.MaxInFlight = s.inFlight
	}
	s.ctl.Unlock()

	if s.cfg.Latency > 0 && !sleepCtx(r.Context(), s.cfg.Latency) {
		s.finish(w, r, reqID, pattern, "", response{status: 499}, false, start)
		return
	}

	token := r.Header.Get("X-Recharge-Access-Token")
	resp, truncate := s.handle(r, rt, params, allowed, token)
	s.finish(w, r, reqID, pattern, token, resp, truncate, start)
}

// handle runs the checks in Recharge's order (authentication, version,
// rate limit, route, scope), then faults, then the route's handler.
func (s *Simulator) handle(r *http.Request, rt *route, params []string, allowed []string, token string) (response, bool) {
	if token == "" || !s.tokens[token] {
		return response{status: http.StatusUnauthorized, body: encodeJSON(map[string]string{"error": "bad authentication"})}, false
	}
	if v := r.Header.Get("X-Recharge-Version"); v != "" && v != APIVersion {
		return errorsBody(http.StatusUpgradeRequired, "Invalid API version: "+v+". Supported version: "+APIVersion), false
	}
	if !s.takeToken(token) {
		s.addStat(func(st *Stats) { st.RateLimited++ })
		return errorsBody(http.StatusTooManyRequests, "Too many requests"), false
	}
	if rt == nil {
		if len(allowed) > 0 {
			resp := errorsBody(http.StatusMethodNotAllowed, "Method Not Allowed")
			resp.header = http.Header{"Allow": {strings.Join(allowed, ", ")}}
			return resp, false
		}
		return notFound(), false
	}
	if rt.scope != "" && !s.scopes[rt.scope] {
		return forbidden(rt.scope), false
	}
	f, hit := s.takeFault(r.Method, rt.pattern, r.URL.Path)
	if hit {
		s.addStat(func(st *Stats) { st.FaultsInjected++ })
		if f.Delay > 0 && !sleepCtx(r.Context(), f.Delay) {
			return response{status: 499}, false
		}
		if f.Status != 0 {
			return faultResponse(f.Status), false
		}
	}
	c, resp, ok := s.newCall(r, params)
	if !ok {
		return resp, false
	}
	s.mu.Lock()
	resp = rt.handler(c)
	deliveries := s.deliveriesOf(c)
	s.mu.Unlock()
	s.hooks.enqueue(deliveries)
	return resp, hit && f.Truncate && resp.status == http.StatusOK
}

func forbidden(scope string) response {
	return errorsBody(http.StatusForbidden, "Token does not have the required scope: "+scope)
}

// faultResponse is the Recharge-shaped body of an injected status.
func faultResponse(status int) response {
	switch status {
	case http.StatusTooManyRequests:
		return errorsBody(status, "Too many requests")
	case http.StatusConflict:
		return errorsBody(status, "A request to this route is already being processed (route locked while charges regenerate); retry shortly")
	case http.StatusUnauthorized:
		return response{status: status, body: encodeJSON(map[string]string{"error": "bad authentication"})}
	case http.StatusNotFound:
		return notFound()
	}
	text := http.StatusText(status)
	if text == "" {
		text = "Error " + strconv.Itoa(status)
	}
	return errorsBody(status, text)
}

// finish writes the response with the headers Recharge puts on every
// answer, and counts it.
// The request stops counting as in flight when it is counted, before its
// answer is written: a client that has read the answer then always sees it
// counted and no longer in flight.
func (s *Simulator) finish(w http.ResponseWriter, r *http.Request, reqID, pattern, token string, resp response, truncate bool, start time.Time) {
	s.ctl.Lock()
	s.inFlight--
	s.stats.Requests++
	s.stats.ByRoute[pattern]++
	s.stats.ByStatus[strconv.Itoa(resp.status)]++
	if page, ok := listPage(r, pattern, resp); ok {
		s.stats.Pages[pattern]++
		if s.pagesSeen[page] {
			s.stats.RepeatedPages[pattern]++
		}
		s.pagesSeen[page] = true
	}
	used := 0
	if b := s.buckets[token]; b != nil && s.tokens[token] {
		used = b.used(s.now(), s.leakRate(token))
	}
	s.ctl.Unlock()

	s.log.Debug("recharge simulator request", "method", r.Method, "path", r.URL.Path, "route", pattern,
		"status", resp.status, "request_id", reqID, "duration", time.Since(start))
	if resp.status == 499 { // the client went away; nothing to write to
		return
	}
	h := w.Header()
	maps.Copy(h, resp.header)
	h.Set("X-Request-Id", reqID)
	h.Set("X-Recharge-Limit", strconv.Itoa(used)+"/"+strconv.Itoa(s.cfg.BucketSize))
	if resp.body == nil {
		w.WriteHeader(resp.status)
		return
	}
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(resp.body)))
	w.WriteHeader(resp.status)
	if truncate {
		// Declare the full length but send half: the client's reader sees
		// an unexpected EOF (or a JSON syntax error if it does not check).
		_, _ = w.Write(resp.body[:len(resp.body)/2])
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		return
	}
	_, _ = w.Write(resp.body)
}

// sleepCtx waits d or until ctx is done; it reports whether d elapsed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// maxBody caps request bodies; Recharge's own bodies are small.
const maxBody = 1 << 20

// call is one API request as a handler sees it. Handlers run with s.mu held.
type call struct {
	s      *Simulator
	r      *http.Request
	now    time.Time
	params []string
	body   map[string]json.RawMessage
	events []event
	// origin and tokenID say who makes the change, for the timeline: an
	// API token (OriginAPI) or, for control calls, Recharge itself.
	origin  string
	tokenID int64
}

func (s *Simulator) newCall(r *http.Request, params []string) (*call, response, bool) {
	c := &call{s: s, r: r, now: s.now(), params: params, origin: OriginAPI, tokenID: tokenID(r.Header.Get("X-Recharge-Access-Token"))}
	if r.Method != http.MethodPost && r.Method != http.MethodPut {
		return c, response{}, true
	}
	var raw []byte
	if r.Body != nil {
		b, err := readAllLimited(r, maxBody)
		if errors.Is(err, errBodyTooLarge) {
			return nil, errorsBody(http.StatusRequestEntityTooLarge, "Request body too large"), false
		}
		if err != nil {
			return nil, errorsBody(http.StatusBadRequest, "The request body could not be read"), false
		}
		raw = b
	}
	if len(strings.TrimSpace(string(raw))) == 0 {
		c.body = map[string]json.RawMessage{}
		return c, response{}, true
	}
	if err := json.Unmarshal(raw, &c.body); err != nil || c.body == nil {
		return nil, errorsBody(http.StatusUnsupportedMediaType, "The request body must be a JSON object"), false
	}
	return c, response{}, true
}

// emit records a webhook event; it is delivered after the handler returns.
func (c *call) emit(topic, key string, obj any) {
	c.events = append(c.events, event{topic: topic, body: encodeJSON(map[string]any{key: obj}), at: c.now})
	if timelineTopic(topic) {
		cust, id := ownerOf(obj)
		objectType, verb, _ := strings.Cut(topic, "/")
		c.s.st.addEvent(cust, objectType, id, verb, sourceOf(c.origin, c.tokenID), c.now)
	}
}
