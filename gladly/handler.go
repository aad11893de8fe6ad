package gladly

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/search"
)

// DefaultPath is where the service serves the Lookup Adaptor. Gladly imposes
// no path; the admin registers the full URL.
const DefaultPath = "/gladly/lookup"

// Handler defaults and limits.
const (
	// DefaultDeadline is the time a whole answer gets by default: Gladly
	// recommends answering in under 5 s.
	DefaultDeadline = 5 * time.Second
	// MaxDeadline is Gladly's own timeout: an answer after 15 s is lost,
	// so a longer configured deadline is cut to this.
	MaxDeadline = 15 * time.Second
	// DefaultMaxBodyBytes caps a lookup request body (1 MiB).
	DefaultMaxBodyBytes = 1 << 20
)

// Config configures a Handler. Every authentication option that is set must
// pass (spec section 2).
type Config struct {
	// Service finds candidates and builds cards. Required.
	Service rechargekit.CardService

	// SigningKey is the app's Signing Key. When set, every request must carry
	// a valid Gladly-Authorization signature, or it gets 401.
	SigningKey string
	// TimeWindow is how far Gladly-Time may be from Now (DefaultTimeWindow
	// when zero).
	TimeWindow time.Duration

	// BasicUser and BasicPassword, when either is set, require matching
	// HTTP Basic credentials, compared in constant time.
	BasicUser     string
	BasicPassword string

	// StaticHeaderName and StaticHeaderValue, when the name is set, require
	// that header with that value (for example X-API-Key), compared in
	// constant time.
	StaticHeaderName  string
	StaticHeaderValue string

	// Deadline bounds the whole answer (DefaultDeadline when zero, at most
	// MaxDeadline). A lookup still running then is answered with 503.
	Deadline time.Duration

	// MaxBodyBytes caps the request body (DefaultMaxBodyBytes when zero).
	MaxBodyBytes int64

	// Now is the clock the signature time window is checked against
	// (time.Now when nil).
	Now func() time.Time

	// Logger receives one line per request and the errors worth an
	// operator's attention (slog.Default() when nil). Secrets never reach it.
	Logger *slog.Logger

	// Metrics counts each lookup by level and outcome, with its duration
	// (nil counts nothing).
	Metrics rechargekit.Metrics

	// Path is where the handler is mounted (DefaultPath when empty). The
	// action forms are served under it, at <Path>/actions/<action>, and
	// the formUrl and actionUrl it hands Gladly are built from it.
	Path string

	// Actions, when set, offers subscription actions: DETAILED results
	// carry customer-level actions, and their forms and submits are
	// answered (spec section 14). It decides every policy; the handler
	// only renders what it offers.
	Actions rechargekit.ActionService
	// ActionDeadline bounds a form or a submit (DefaultActionDeadline when
	// zero, at most MaxDeadline).
	ActionDeadline time.Duration

	// Transactions is how DETAILED results send subscriptions:
	// TransactionsSubscription (the default when empty) or
	// TransactionsOrder (GLADLY_TRANSACTIONS).
	Transactions string
	// AdminLinks builds the rechargeAdminUrl custom attribute and the ORDER
	// transactions' orderLink (RECHARGE_ADMIN_URL); none without a base.
	AdminLinks rechargekit.AdminLinks
}

// Handler answers Gladly lookups (POST, any path it is mounted on; see
// DefaultPath) and, when Config.Actions is set, the action forms (GET) and
// submits (POST) at <Path>/actions/<action>, verified like lookups. It reads the body once under a size cap, checks the
// configured authentication, verifies the signature over the raw bytes,
// decodes them, and answers inside the deadline, also when the service
// ignores its context. It never lets a panic escape.
type Handler struct {
	svc          rechargekit.CardService
	signingKey   string
	window       time.Duration
	basic        bool
	basicUser    [sha256.Size]byte
	basicPass    [sha256.Size]byte
	staticName   string
	staticValue  [sha256.Size]byte
	deadline     time.Duration
	maxBodyBytes int64
	now          func() time.Time
	log          *slog.Logger
	metrics      rechargekit.Metrics
	memo         answerMemo

	path           string
	actions        rechargekit.ActionService
	actionDeadline time.Duration
	shown          shownPreviews
}

// NewHandler returns a Handler for cfg, with defaults applied.
func NewHandler(cfg Config) (*Handler, error) {
	if cfg.Service == nil {
		return nil, errors.New("gladly: new handler: no card service")
	}
	if err := CheckTransactions(cfg.Transactions); err != nil {
		return nil, fmt.Errorf("gladly: new handler: transactions %w", err)
	}
	h := &Handler{
		svc:          cfg.Service,
		signingKey:   cfg.SigningKey,
		window:       cfg.TimeWindow,
		basic:        cfg.BasicUser != "" || cfg.BasicPassword != "",
		basicUser:    sha256.Sum256([]byte(cfg.BasicUser)),
		basicPass:    sha256.Sum256([]byte(cfg.BasicPassword)),
		staticName:   http.CanonicalHeaderKey(strings.TrimSpace(cfg.StaticHeaderName)),
		staticValue:  sha256.Sum256([]byte(cfg.StaticHeaderValue)),
		deadline:     cfg.Deadline,
		maxBodyBytes: cfg.MaxBodyBytes,
		now:          cfg.Now,
		log:          cfg.Logger,
		metrics:      cfg.Metrics,
		memo:         answerMemo{opts: DetailOptions{Transactions: cfg.Transactions, AdminLinks: cfg.AdminLinks}},

		path:           strings.TrimSuffix(cfg.Path, "/"),
		actions:        cfg.Actions,
		actionDeadline: cfg.ActionDeadline,
	}
	if h.path == "" {
		h.path = DefaultPath
	}
	if h.actionDeadline <= 0 {
		h.actionDeadline = DefaultActionDeadline
	}
	h.actionDeadline = min(h.actionDeadline, MaxDeadline)
	if h.metrics == nil {
		h.metrics = rechargekit.NopMetrics{}
	}
	if h.window <= 0 {
		h.window = DefaultTimeWindow
	}
	if h.deadline <= 0 {
		h.deadline = DefaultDeadline
	}
	h.deadline = min(h.deadline, MaxDeadline)
	if h.maxBodyBytes <= 0 {
		h.maxBodyBytes = DefaultMaxBodyBytes
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	return h, nil
}

// exchange is the state of one request, for the final log line.
type exchange struct {
	w       http.ResponseWriter
	log     *slog.Logger
	status  int
	level   string
	kind    string
	outcome string // for the metrics; derived from status when unset
}

// ServeHTTP answers one lookup, or, under <Path>/actions/, an action's
// form or submit.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if action, ok := actionOfPath(r.URL.Path); ok && h.actions != nil {
		h.serveAction(w, r, action)
		return
	}
	start := time.Now()
	corr := strings.TrimSpace(r.Header.Get(HeaderCorrelationID))
	if corr == "" || len(corr) > 64 {
		corr = NewCorrelationID()
	}
	x := &exchange{w: w, log: h.log.With("correlation_id", corr)}
	defer func() {
		if p := recover(); p != nil {
			x.log.Error("gladly lookup: panic", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			if x.status == 0 {
				x.fail(http.StatusInternalServerError, "", CodeInternal, "internal error")
			}
		}
		level := slog.LevelInfo
		switch {
		case x.status >= 500:
			level = slog.LevelError
		case x.status >= 400:
			level = slog.LevelWarn
		}
		took := time.Since(start)
		x.log.Log(r.Context(), level, "gladly lookup",
			"method", r.Method,
			"lookup_level", x.level,
			"kind", x.kind,
			"status", x.status,
			"duration", took)
		h.metrics.Lookup(rechargekit.DeskGladly, metricLevel(x.level), x.metricOutcome(), took)
	}()

	ctx, cancel := context.WithTimeout(rechargekit.WithCorrelationID(r.Context(), corr), h.deadline)
	defer cancel()
	// Bound the body read by the same deadline; not every ResponseWriter
	// supports it, and then the context still bounds the lookup itself.
	_ = http.NewResponseController(w).SetReadDeadline(start.Add(h.deadline))

	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		x.fail(http.StatusMethodNotAllowed, "", CodeMethodNotAllowed, "use POST")
		return
	}
	body, ok := h.verified(x, r)
	if !ok {
		return
	}
	req, err := ParseRequest(body)
	if err != nil {
		var re *RequestError
		detail := "invalid lookup request"
		if errors.As(err, &re) {
			detail = re.Detail
		}
		x.fail(http.StatusBadRequest, "", CodeInvalidRequest, detail)
		return
	}
	x.level, x.kind = req.Level, req.Kind.String()

	resp, err := h.run(ctx, req)
	if err != nil {
		h.failLookup(x, err)
		return
	}
	switch {
	case resp.stale:
		x.outcome = rechargekit.OutcomeStale
	case resp.encoded == nil && len(resp.Results) == 0:
		x.outcome = rechargekit.OutcomeNotFound
	}
	x.writeJSON(http.StatusOK, resp)
}

// metricLevel is the lookup level label: Gladly's level, or "unknown" for a
// request refused before its level was read.
func metricLevel(level string) string {
	if level == LevelBasic || level == LevelDetailed {
		return level
	}
	return "unknown"
}

// metricOutcome is the exchange's outcome label.
func (x *exchange) metricOutcome() string {
	switch {
	case x.outcome != "":
		return x.outcome
	case x.status >= 200 && x.status < 300:
		return rechargekit.OutcomeOK
	case x.status >= 400 && x.status < 500:
		return rechargekit.OutcomeBadRequest
	default:
		return rechargekit.OutcomeError
	}
}

// verified authenticates r (static header, Basic credentials), reads its
// body once under the cap and verifies its signature over the raw bytes
// (and its query string), answering 401 or 413 itself when one fails. The
// lookups, the forms and the submits all go through it.
func (h *Handler) verified(x *exchange, r *http.Request) ([]byte, bool) {
	if !h.authenticate(x, r) {
		return nil, false
	}
	body, ok := h.readBody(x, r)
	if !ok {
		return nil, false
	}
	if h.signingKey != "" {
		if err := Verify(r, body, h.signingKey, h.now(), h.window); err != nil {
			x.log.Warn("gladly: signature rejected", "reason", signatureReason(err))
			x.fail(http.StatusUnauthorized, HeaderAuthorization, CodeInvalidSignature, signatureReason(err))
			return nil, false
		}
	}
	return body, true
}

// authenticate checks the static header and Basic credentials, and that a
// signature is present before the body is read, so an unauthenticated
// caller cannot make the service read a large body.
func (h *Handler) authenticate(x *exchange, r *http.Request) bool {
	if h.staticName != "" {
		got := sha256.Sum256([]byte(r.Header.Get(h.staticName)))
		if subtle.ConstantTimeCompare(got[:], h.staticValue[:]) != 1 {
			x.fail(http.StatusUnauthorized, h.staticName, CodeInvalidCredentials, "missing or wrong "+h.staticName+" header")
			return false
		}
	}
	if h.basic {
		user, pass, ok := r.BasicAuth()
		u, p := sha256.Sum256([]byte(user)), sha256.Sum256([]byte(pass))
		// Both halves are always compared, so timing does not reveal which failed.
		match := subtle.ConstantTimeCompare(u[:], h.basicUser[:]) & subtle.ConstantTimeCompare(p[:], h.basicPass[:])
		if !ok || match != 1 {
			x.w.Header().Set("WWW-Authenticate", `Basic realm="rechargekit", charset="UTF-8"`)
			x.fail(http.StatusUnauthorized, "Authorization", CodeInvalidCredentials, "missing or wrong Basic credentials")
			return false
		}
	}
	if h.signingKey != "" && strings.TrimSpace(r.Header.Get(HeaderAuthorization)) == "" {
		x.fail(http.StatusUnauthorized, HeaderAuthorization, CodeInvalidSignature, signatureReason(ErrMissingSignature))
		return false
	}
	return true
}

// readBody reads the whole body once, capped at maxBodyBytes.
func (h *Handler) readBody(x *exchange, r *http.Request) ([]byte, bool) {
	tooLarge := func() ([]byte, bool) {
		x.fail(http.StatusRequestEntityTooLarge, "", CodeRequestTooLarge,
			fmt.Sprintf("the body is larger than %d bytes", h.maxBodyBytes))
		return nil, false
	}
	if r.ContentLength > h.maxBodyBytes {
		return tooLarge()
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, h.maxBodyBytes+1))
	if err != nil {
		x.fail(http.StatusBadRequest, "", CodeInvalidRequest, "could not read the body")
		return nil, false
	}
	if int64(len(body)) > h.maxBodyBytes {
		return tooLarge()
	}
	return body, true
}

// signatureReason is the caller-facing detail for a Verify error: fixed
// texts, so nothing the caller sent is reflected and no key can leak.
func signatureReason(err error) string {
	switch {
	case errors.Is(err, ErrMissingSignature):
		return "the Gladly-Authorization header is missing"
	case errors.Is(err, ErrUnsupportedAlgorithm):
		return "the signing algorithm must be hmac-sha256"
	case errors.Is(err, ErrStaleTime):
		return "Gladly-Time is too far from the server clock"
	case errors.Is(err, ErrMalformedSignature):
		return "the Gladly-Authorization header or Gladly-Time is malformed, or gladly-time is not signed"
	default:
		return "the signature does not match the request"
	}
}

// errDeadline marks a lookup that did not finish inside the deadline.
var errDeadline = errors.New("gladly: lookup did not finish within the deadline")

// panicError is a panic recovered in the service call.
type panicError struct {
	value any
	stack []byte
}

func (e *panicError) Error() string { return fmt.Sprintf("gladly: lookup panicked: %v", e.value) }

// run performs the lookup in its own goroutine and waits for it or for the
// deadline, whichever comes first, so that a service that ignores its
// context cannot hold the answer past the deadline. The goroutine's result
// channel is buffered, so a late service call finishes and is collected.
func (h *Handler) run(ctx context.Context, req *Request) (*LookupResponse, error) {
	type outcome struct {
		resp *LookupResponse
		err  error
	}
	done := make(chan outcome, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- outcome{err: &panicError{value: p, stack: debug.Stack()}}
			}
		}()
		resp, err := h.lookup(ctx, req)
		done <- outcome{resp, err}
	}()
	select {
	case o := <-done:
		var pe *panicError
		if o.err != nil && ctx.Err() != nil && !errors.As(o.err, &pe) && rechargekit.ErrorCode(o.err) == rechargekit.EINTERNAL {
			// A bare context error from the service: the deadline ran out.
			return nil, fmt.Errorf("%w: %w", errDeadline, o.err)
		}
		return o.resp, o.err
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %w", errDeadline, context.Cause(ctx))
	}
}

// lookup dispatches on the request kind.
func (h *Handler) lookup(ctx context.Context, req *Request) (*LookupResponse, error) {
	switch req.Kind {
	case KindDetailed:
		return h.detailed(ctx, req)
	case KindAutoLink:
		return h.find(ctx, req.Search, 0, req.Profile.Phones)
	default:
		return h.find(ctx, req.Search, MaxSearchResults, nil)
	}
}

// find answers an auto-link suggestion (limit 0: every distinct match, never
// a chosen one; mobiles: the profile's phones) or a manual search (at most
// limit results).
func (h *Handler) find(ctx context.Context, q rechargekit.CustomerSearch, limit int, mobiles []string) (*LookupResponse, error) {
	resp := &LookupResponse{Results: []Result{}}
	if q.IsZero() {
		return resp, nil
	}
	matches, err := h.svc.FindCustomers(ctx, q)
	if rechargekit.ErrorCode(err) == rechargekit.ENOTFOUND {
		return resp, nil
	}
	if err != nil {
		return nil, err
	}
	seen := make(map[int64]bool, len(matches))
	for _, m := range matches {
		if m == nil || m.Customer == nil || seen[m.Customer.ID] {
			continue
		}
		if limit > 0 && len(resp.Results) == limit {
			break
		}
		seen[m.Customer.ID] = true
		r := BasicResult(m.Customer)
		// Only the customer's own phone, not one on an address (which can
		// be a gift recipient's), is returned as the matching mobile.
		if m.By == rechargekit.MatchPhone && slices.Contains(mobiles, m.Value) && search.SamePhone(m.Customer.Phone, m.Value) {
			r = withMatchedMobile(r, m.Value)
		}
		resp.Results = append(resp.Results, r)
	}
	return resp, nil
}

// withMatchedMobile returns r carrying phone, the profile's own number
// that found the customer exactly, typed MOBILE: Gladly's phones.mobile
// rule links on a returned MOBILE number equal to one of the profile's
// MOBILE numbers, and it links only a single result (spec section 6).
// Any other phone stays OTHER (BasicResult), so that only a number the
// profile has, and that matched, can link.
func withMatchedMobile(r Result, phone string) Result {
	if !IsE164(phone) {
		return r
	}
	phones := []Phone{{Original: phone, Type: PhoneMobile}}
	for _, p := range r.Phones {
		if p.Original != phone {
			phones = append(phones, p)
		}
	}
	r.Phones = phones
	return r
}

// detailed answers a DETAILED lookup: exactly one result for the requested
// id, or none.
func (h *Handler) detailed(ctx context.Context, req *Request) (*LookupResponse, error) {
	resp := &LookupResponse{Results: []Result{}}
	id, ok := parseDecimalID(req.ExternalCustomerID)
	if !ok {
		// Not a Recharge id (for example a profile linked by another
		// integration): no such customer here, and no Recharge call.
		return resp, nil
	}
	card, err := h.svc.Card(ctx, id)
	if rechargekit.ErrorCode(err) == rechargekit.ENOTFOUND {
		return resp, nil
	}
	if err != nil {
		return nil, err
	}
	if card == nil || card.Customer.ID != id {
		return nil, rechargekit.Errorf(rechargekit.EINTERNAL, "card service answered the wrong customer for %d", id)
	}
	// The actions offered are decided from the card: no Recharge call and
	// no database wait beyond the card's own.
	body, err := h.memo.detailedAnswer(card, req.ExternalCustomerID, h.cardActions(ctx, card))
	if err != nil {
		return nil, rechargekit.WrapError(rechargekit.EINTERNAL, "could not encode the answer", err)
	}
	return &LookupResponse{encoded: body, stale: card.Stale}, nil
}

// lookupFailure is how a failed lookup is answered: the status and the
// protocol's error code.
type lookupFailure struct {
	status int
	code   string
}

// lookupFailures is the one table from domain error codes to the answer of
// a failed lookup; any other code is an internal error. ENOTFOUND is not
// here because it is no failure: it is answered with empty results.
var lookupFailures = map[string]lookupFailure{
	rechargekit.EUPSTREAM: {http.StatusServiceUnavailable, CodeUpstreamUnavailable},
	rechargekit.EINVALID:  {http.StatusBadRequest, CodeInvalidRequest},
}

// failLookup maps a lookup error to its answer through lookupFailures. An
// upstream failure is never answered with empty results, which Gladly
// would read as "no such customer".
func (h *Handler) failLookup(x *exchange, err error) {
	var pe *panicError
	x.outcome = rechargekit.OutcomeOf(err)
	f, known := lookupFailures[rechargekit.ErrorCode(err)]
	switch {
	case errors.Is(err, errDeadline):
		x.outcome = rechargekit.OutcomeUnavailable
		x.log.Warn("gladly lookup: deadline exceeded", "deadline", h.deadline, "err", err)
		x.fail(http.StatusServiceUnavailable, "", CodeUpstreamUnavailable,
			"the lookup did not finish within "+h.deadline.String())
	case errors.As(err, &pe):
		x.outcome = rechargekit.OutcomeError
		x.log.Error("gladly lookup: service panicked", "panic", fmt.Sprint(pe.value), "stack", string(pe.stack))
		x.fail(http.StatusInternalServerError, "", CodeInternal, "internal error")
	case !known:
		x.log.Error("gladly lookup: internal error", "err", err)
		x.fail(http.StatusInternalServerError, "", CodeInternal, "internal error")
	case errors.Is(err, rechargekit.ErrUpstreamRefused):
		// For Gladly this is Recharge being unavailable; for whoever runs
		// rechargekit it is a configuration error to fix.
		x.log.Error("gladly lookup: configuration error: Recharge refused the API token", "err", err)
		x.fail(f.status, "", f.code, "Recharge refused the service's credentials")
	case f.code == CodeUpstreamUnavailable:
		x.log.Warn("gladly lookup: Recharge unavailable", "err", err)
		x.fail(f.status, "", f.code, rechargekit.ErrorMessage(err))
	default:
		x.fail(f.status, "", f.code, rechargekit.ErrorMessage(err))
	}
}

// fail writes an error answer.
func (x *exchange) fail(status int, attr, code, detail string) {
	x.writeJSON(status, ErrorResponse{Errors: []ErrorDetail{{Attr: attr, Code: code, Detail: detail}}})
}

// writeJSON writes v as the answer with the given status.
func (x *exchange) writeJSON(status int, v any) {
	if r, ok := v.(*LookupResponse); ok && r.encoded != nil {
		x.writeBody(status, r.encoded)
		return
	}
	body, err := json.Marshal(v)
	if err != nil {
		x.log.Error("gladly lookup: encode answer", "err", err)
		status = http.StatusInternalServerError
		body = []byte(`{"errors":[{"code":"` + CodeInternal + `","detail":"internal error"}]}`)
	}
	x.writeBody(status, body)
}

// writeBody writes an encoded JSON answer.
func (x *exchange) writeBody(status int, body []byte) {
	h := x.w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Cache-Control", "no-store")
	x.status = status
	x.w.WriteHeader(status)
	_, _ = x.w.Write(body)
}
