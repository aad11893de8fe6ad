package recharge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/internal/breaker"
)

// DefaultBaseURL is Recharge's API endpoint.
const DefaultBaseURL = "https://api.rechargeapps.com"

// APIVersion is the Recharge API version this client speaks. It is sent on
// every request: without it the store's default applies, which can be
// 2021-01 with different shapes.
const APIVersion = "2021-11"

// Header names the client sends or reads.
const (
	HeaderAccessToken = "X-Recharge-Access-Token"
	HeaderVersion     = "X-Recharge-Version"
	HeaderLimit       = "X-Recharge-Limit"
	HeaderRequestID   = "X-Request-Id"
)

// Client talks to the Recharge 2021-11 API. Create it with NewClient; it is
// safe for concurrent use. Each API area is a service field, as in
// go-github: client.Customers.Get(ctx, id, nil).
type Client struct {
	Customers     *CustomersService
	Subscriptions *SubscriptionsService
	Charges       *ChargesService
	Addresses     *AddressesService
	Products      *ProductsService
	Webhooks      *WebhooksService
	// PaymentMethods, Orders and Events feed the card's payment, order
	// and timeline sections.
	PaymentMethods *PaymentMethodsService
	Orders         *OrdersService
	Events         *EventsService
	// RetentionStrategies lists the store's cancellation reasons.
	RetentionStrategies *RetentionStrategiesService

	baseURL    *url.URL
	baseURLErr error
	token      string
	hc         *http.Client
	limiter    Limiter
	logger     *slog.Logger
	now        func() time.Time
	sleep      func(ctx context.Context, d time.Duration) error
	jitter     func(n int64) int64
	maxRetries int
	userAgent  string
	metrics    rechargekit.Metrics
	health     healthTracker
	breaker    *breaker.Breaker // nil: no breaker

	// Set by options and resolved in NewClient.
	rawBaseURL  string
	bucketSize  int
	bucketRate  float64
	limiterSet  bool
	userAgentAd string

	breakerFailures           int
	breakerFirst, breakerMost time.Duration
}

// Option configures a Client.
type Option func(*Client)

// WithBaseURL points the client at another endpoint: the simulator's URL in
// tests and demos. A path prefix is kept ("http://host/recharge").
func WithBaseURL(u string) Option { return func(c *Client) { c.rawBaseURL = u } }

// WithHTTPClient sets the HTTP client. Its Timeout, if any, bounds each
// attempt; the caller's context bounds the whole call, retries included.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) {
		if hc != nil {
			c.hc = hc
		}
	}
}

// WithLimiter replaces the client's own leaky bucket, for example with one
// shared by several replicas that use the same token.
func WithLimiter(l Limiter) Option {
	return func(c *Client) {
		if l != nil {
			c.limiter, c.limiterSet = l, true
		}
	}
}

// WithRateLimit sizes the client's own leaky bucket: bucketSize requests,
// draining at perSecond. The default, 40 and 2, is Recharge's standard
// token; higher-limit tokens have a faster leak.
func WithRateLimit(bucketSize int, perSecond float64) Option {
	return func(c *Client) { c.bucketSize, c.bucketRate = bucketSize, perSecond }
}

// WithLogger sets the logger for retries and request summaries. By default
// nothing is logged. The token is never logged.
func WithLogger(l *slog.Logger) Option {
	return func(c *Client) {
		if l != nil {
			c.logger = l
		}
	}
}

// WithClock replaces the clock and the sleep used by backoff and by the
// default limiter, so that tests never wait. sleep must return ctx.Err()
// when ctx is done. Either may be nil to keep the real one.
func WithClock(now func() time.Time, sleep func(ctx context.Context, d time.Duration) error) Option {
	return func(c *Client) {
		if now != nil {
			c.now = now
		}
		if sleep != nil {
			c.sleep = sleep
		}
	}
}

// WithMaxRetries sets how many times a failed attempt may be repeated
// (default 4; 0 disables retries).
func WithMaxRetries(n int) Option {
	return func(c *Client) { c.maxRetries = max(n, 0) }
}

// WithUserAgent appends a product token to the User-Agent, e.g.
// "rechargekit/1.2.0 bench/1".
func WithUserAgent(product string) Option {
	return func(c *Client) { c.userAgentAd = strings.TrimSpace(product) }
}

// WithMetrics reports every request (route and status) and every wait for
// the rate budget to m.
func WithMetrics(m rechargekit.Metrics) Option {
	return func(c *Client) {
		if m != nil {
			c.metrics = m
		}
	}
}

// withJitter makes backoff deterministic in tests.
func withJitter(f func(n int64) int64) Option { return func(c *Client) { c.jitter = f } }

// NewClient returns a client that authenticates with token (a Recharge API
// token, sent as X-Recharge-Access-Token).
func NewClient(token string, opts ...Option) *Client {
	c := &Client{
		token:      token,
		hc:         &http.Client{Timeout: 30 * time.Second},
		logger:     slog.New(slog.DiscardHandler),
		now:        time.Now,
		sleep:      sleepContext,
		jitter:     defaultJitter,
		maxRetries: DefaultMaxRetries,
		metrics:    rechargekit.NopMetrics{},
		rawBaseURL: DefaultBaseURL,
		bucketSize: DefaultBucketSize,
		bucketRate: DefaultLeakRate,
	}
	for _, o := range opts {
		o(c)
	}
	c.baseURL, c.baseURLErr = parseBaseURL(c.rawBaseURL)
	if !c.limiterSet {
		c.limiter = NewLeakyBucket(c.bucketSize, c.bucketRate, c.now, c.sleep)
	}
	c.breaker = c.newBreaker()
	c.userAgent = "rechargekit/" + moduleVersion()
	if c.userAgentAd != "" {
		c.userAgent += " " + c.userAgentAd
	}
	c.Customers = &CustomersService{c}
	c.Subscriptions = &SubscriptionsService{c}
	c.Charges = &ChargesService{c}
	c.Addresses = &AddressesService{c}
	c.Products = &ProductsService{c}
	c.Webhooks = &WebhooksService{c}
	c.PaymentMethods = &PaymentMethodsService{c}
	c.Orders = &OrdersService{c}
	c.Events = &EventsService{c}
	c.RetentionStrategies = &RetentionStrategiesService{c}
	return c
}

// BaseURL returns the endpoint the client calls.
func (c *Client) BaseURL() string {
	if c.baseURL == nil {
		return ""
	}
	return c.baseURL.String()
}

// Limiter returns the client's limiter, for metrics.
func (c *Client) Limiter() Limiter { return c.limiter }

func parseBaseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return nil, fmt.Errorf("recharge: invalid base url: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("recharge: invalid base url %q: want http(s)://host", raw)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath, u.RawQuery, u.Fragment, u.User = "", "", "", nil
	return u, nil
}

// moduleVersion is the rechargekit module version when the binary was built
// from a tagged module, "dev" otherwise.
func moduleVersion() string {
	const module = "github.com/rechargekit/rechargekit"
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Path == module && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			return bi.Main.Version
		}
		for _, d := range bi.Deps {
			if d.Path == module && d.Version != "" {
				return d.Version
			}
		}
	}
	return "dev"
}

// Response wraps the HTTP response with what Recharge reports about paging
// and rate limits. Its body has already been read and closed.
type Response struct {
	*http.Response

	RequestID      string // X-Request-Id
	NextCursor     string // list calls: the cursor of the next page, "" on the last
	PreviousCursor string // list calls: the cursor of the previous page, "" on the first
	Limit          RateLimit
}

// RateLimit is the X-Recharge-Limit header: how full the token's bucket is.
// Both are 0 when the header is absent.
type RateLimit struct {
	Used int
	Size int
}

// ParseRateLimit parses an X-Recharge-Limit value such as "39/40".
func ParseRateLimit(v string) (RateLimit, bool) {
	used, size, ok := strings.Cut(strings.TrimSpace(v), "/")
	if !ok {
		return RateLimit{}, false
	}
	u, err1 := strconv.Atoi(strings.TrimSpace(used))
	s, err2 := strconv.Atoi(strings.TrimSpace(size))
	if err1 != nil || err2 != nil || u < 0 || s <= 0 {
		return RateLimit{}, false
	}
	return RateLimit{Used: u, Size: s}, true
}

func newResponse(r *http.Response) *Response {
	resp := &Response{Response: r, RequestID: requestID(r.Header)}
	resp.Limit, _ = ParseRateLimit(r.Header.Get(HeaderLimit))
	return resp
}

// NewRequest builds a request for path (e.g. "/customers/1", relative to
// the base URL) with the query and, when body is not nil, its JSON
// encoding. It sets the authentication, version and content headers.
func (c *Client) NewRequest(method, path string, query url.Values, body any) (*http.Request, error) {
	if c.baseURLErr != nil {
		return nil, c.baseURLErr
	}
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	// path is already escaped by the services (url.PathEscape on string ids).
	u, err := url.Parse(c.baseURL.String() + path)
	if err != nil {
		return nil, fmt.Errorf("recharge: build %s %s: %w", method, path, err)
	}
	if len(query) > 0 {
		u.RawQuery = query.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("recharge: encode %s %s body: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, u.String(), rd)
	if err != nil {
		return nil, fmt.Errorf("recharge: build %s %s: %w", method, path, err)
	}
	req.Header.Set(HeaderAccessToken, c.token)
	req.Header.Set(HeaderVersion, APIVersion)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

// Do sends req, retrying as shouldRetry allows while ctx permits, and
// decodes a 2xx JSON body into v (when v is not nil). A non-2xx answer is
// an *ErrorResponse. When a retry's wait would pass ctx's deadline, Do
// gives up at once and returns the last error, wrapped. The returned
// Response, when not nil, belongs to the last attempt. With a breaker
// (WithBreaker) that is open, Do sends nothing and returns an error
// wrapping ErrBreakerOpen, also in place of a read's further retries.
func (c *Client) Do(ctx context.Context, req *http.Request, v any) (*Response, error) {
	path := req.URL.Path
	var basePath string
	if c.baseURL != nil {
		basePath = c.baseURL.Path
	}
	route := routeOf(req.Method, basePath, path)
	var (
		lastResp *Response
		lastErr  error
	)
	idempotent := req.Method == http.MethodGet || req.Method == http.MethodHead
	for attempt := 0; ; attempt++ {
		// The breaker is asked before every attempt of a read, so that a
		// read stops retrying once Recharge is known to be failing, and
		// before the first attempt of a write only, so that a write is
		// refused before it sends anything and is otherwise retried as
		// without a breaker.
		var tk breaker.Ticket
		if attempt == 0 || idempotent {
			var ok bool
			if tk, ok = c.allowAttempt(attempt > 0); !ok {
				if lastErr != nil {
					return lastResp, fmt.Errorf("recharge: gave up after %d attempts: %w (%w)", attempt, lastErr, ErrBreakerOpen)
				}
				return nil, fmt.Errorf("recharge: %s %s: %w", req.Method, path, ErrBreakerOpen)
			}
		}
		waitStart := c.now()
		err := c.limiter.Wait(ctx)
		sent := c.now()
		c.metrics.RateLimitWait(sent.Sub(waitStart))
		if err != nil {
			c.breaker.Abandon(tk)
			if lastErr != nil {
				// Keep both: the caller tests the last answer (IsRateLimited)
				// and the context error (errors.Is).
				return lastResp, fmt.Errorf("%w (while waiting to retry: %w)", lastErr, err)
			}
			return nil, fmt.Errorf("recharge: %s %s: %w", req.Method, path, err)
		}
		actx := ctx
		if tk.Probe() {
			var cancel context.CancelFunc
			actx, cancel = context.WithTimeout(ctx, BreakerProbeTimeout)
			defer cancel()
		}
		resp, err := c.attempt(actx, req, v)
		lastResp, lastErr = resp, err
		var hr *http.Response
		if resp != nil {
			hr = resp.Response
		}
		c.observe(route, sent, hr, err)
		if attempt == 0 || idempotent {
			c.recordAttempt(tk, hr, err)
		}
		retry, reason := shouldRetry(req.Method, hr, err)
		c.logAttempt(req.Method, path, resp, attempt, err)
		if !retry {
			return resp, err
		}
		if attempt >= c.maxRetries {
			if c.maxRetries == 0 {
				return resp, err
			}
			return resp, fmt.Errorf("recharge: gave up after %d attempts (%s): %w", attempt+1, reason, err)
		}
		if idempotent && c.breakerOpen() {
			// The breaker opened: no retry will be let through, so the
			// backoff is not waited for.
			return resp, fmt.Errorf("recharge: gave up after %d attempts: %w (%w)", attempt+1, err, ErrBreakerOpen)
		}
		// Retries log at debug: the call's final failure is returned, and
		// its caller reports it once (seven warnings for one failed lookup
		// told a person nothing the final error did not).
		wait := c.backoff(attempt, hr)
		if dl, ok := ctx.Deadline(); ok && c.now().Add(wait).After(dl) {
			c.logger.LogAttrs(ctx, slog.LevelDebug, "recharge: giving up before the deadline",
				c.attrs(req.Method, path, resp, attempt, reason, wait)...)
			return resp, fmt.Errorf("recharge: gave up after %d attempts (%s): next wait %v would pass the deadline: %w",
				attempt+1, reason, wait.Round(time.Millisecond), err)
		}
		c.logger.LogAttrs(ctx, slog.LevelDebug, "recharge: retrying",
			c.attrs(req.Method, path, resp, attempt, reason, wait)...)
		if serr := c.sleep(ctx, wait); serr != nil {
			return resp, fmt.Errorf("%w (while waiting to retry: %w)", err, serr)
		}
	}
}

// observe reports one attempt to the metrics and the health tracker.
func (c *Client) observe(route string, sent time.Time, hr *http.Response, err error) {
	now := c.now()
	status := 0
	if hr != nil {
		status = hr.StatusCode
		var de *decodeError
		if errors.As(err, &de) && de.truncated() {
			status = 0 // the answer did not arrive whole
		}
	}
	c.metrics.RechargeCall(route, status, now.Sub(sent))
	c.health.observe(now, hr, err)
}

// attempt sends one copy of req and reads its answer.
func (c *Client) attempt(ctx context.Context, req *http.Request, v any) (*Response, error) {
	r := req.Clone(ctx)
	if req.GetBody != nil {
		body, err := req.GetBody()
		if err != nil {
			return nil, fmt.Errorf("recharge: %s %s: rewind body: %w", req.Method, req.URL.Path, err)
		}
		r.Body = body
	}
	hr, err := c.hc.Do(r)
	if err != nil {
		// *url.Error repeats the whole URL, query included (an email is
		// personal data); the path is enough to place the failure.
		var ue *url.Error
		if errors.As(err, &ue) && ue.Err != nil {
			err = ue.Err
		}
		if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
			err = fmt.Errorf("%w: %w", ctxErr, err)
		}
		return nil, fmt.Errorf("recharge: %s %s: %w", req.Method, req.URL.Path, redactURLError(err, c.token))
	}
	defer hr.Body.Close()
	resp := newResponse(hr)
	if o, ok := c.limiter.(LimitObserver); ok {
		switch {
		case resp.Limit.Size > 0:
			o.Observe(resp.Limit.Used, resp.Limit.Size)
		case hr.StatusCode == http.StatusTooManyRequests:
			o.Observe(1, 1) // the bucket is full, whatever its size
		}
	}
	if err := CheckResponse(hr); err != nil {
		if e, ok := err.(*ErrorResponse); ok {
			redactError(e, c.token)
		}
		return resp, err
	}
	if v == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(hr.Body, maxBodyBytes))
		return resp, nil
	}
	body, err := io.ReadAll(io.LimitReader(hr.Body, maxBodyBytes+1))
	if err != nil {
		return resp, &decodeError{req.Method, req.URL.Path, fmt.Errorf("%w: %w", errReadBody, err)}
	}
	if len(body) > maxBodyBytes {
		return resp, &decodeError{req.Method, req.URL.Path, errBodyTooLarge}
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if hr.StatusCode == http.StatusNoContent {
			return resp, nil
		}
		return resp, &decodeError{req.Method, req.URL.Path, io.ErrUnexpectedEOF}
	}
	if err := json.Unmarshal(body, v); err != nil {
		return resp, c.decodeFailure(req.Method, req.URL.Path, err)
	}
	return resp, nil
}

// redactURLError strips the token from a transport error's text, in case a
// misconfigured base URL carried it.
func redactURLError(err error, token string) error {
	text := redactToken(err.Error(), token)
	if text == err.Error() {
		return err
	}
	return errors.New(text)
}

func (c *Client) attrs(method, path string, resp *Response, attempt int, reason string, wait time.Duration) []slog.Attr {
	a := []slog.Attr{
		slog.String("method", method),
		slog.String("path", path),
		slog.Int("attempt", attempt+1),
		slog.String("reason", reason),
		slog.Duration("wait", wait),
	}
	if resp != nil {
		a = append(a, slog.Int("status", resp.StatusCode), slog.String("request_id", resp.RequestID))
	}
	return a
}

func (c *Client) logAttempt(method, path string, resp *Response, attempt int, err error) {
	if !c.logger.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	a := []slog.Attr{slog.String("method", method), slog.String("path", path), slog.Int("attempt", attempt+1)}
	if resp != nil {
		a = append(a, slog.Int("status", resp.StatusCode), slog.String("request_id", resp.RequestID))
		if resp.Limit.Size > 0 {
			a = append(a, slog.String("limit", strconv.Itoa(resp.Limit.Used)+"/"+strconv.Itoa(resp.Limit.Size)))
		}
	}
	if err != nil {
		a = append(a, slog.String("error", err.Error()))
	}
	c.logger.LogAttrs(context.Background(), slog.LevelDebug, "recharge: request", a...)
}

// get, post, put and del are the building blocks of the services.
func (c *Client) call(ctx context.Context, method, path string, query url.Values, body, v any) (*Response, error) {
	req, err := c.NewRequest(method, path, query, body)
	if err != nil {
		return nil, err
	}
	return c.Do(ctx, req, v)
}

// TokenInformation returns what Recharge knows about the client's token:
// its name and scopes. It is the cheapest way to check a token.
func (c *Client) TokenInformation(ctx context.Context) (*TokenInformation, *Response, error) {
	var env struct {
		TokenInformation *TokenInformation `json:"token_information"`
	}
	resp, err := c.call(ctx, http.MethodGet, "/token_information", nil, nil, &env)
	if err != nil {
		return nil, resp, err
	}
	if env.TokenInformation == nil {
		return nil, resp, missingKey(http.MethodGet, "/token_information", "token_information")
	}
	return env.TokenInformation, resp, nil
}

// Store returns the store's settings, notably its time zone. It needs the
// store_info scope.
func (c *Client) Store(ctx context.Context) (*Store, *Response, error) {
	var env struct {
		Store *Store `json:"store"`
		Shop  *Store `json:"shop"` // 2021-01 name
	}
	resp, err := c.call(ctx, http.MethodGet, "/store", nil, nil, &env)
	if err != nil {
		return nil, resp, err
	}
	if env.Store == nil {
		env.Store = env.Shop
	}
	if env.Store == nil {
		return nil, resp, missingKey(http.MethodGet, "/store", "store")
	}
	return env.Store, resp, nil
}

// missingKey reports a 2xx body without its envelope key: the wrong API
// version answered, or a proxy. It is not retried.
func missingKey(method, path, key string) error {
	return &decodeError{method, path, fmt.Errorf("no %q key in the response", key)}
}

// Ptr returns a pointer to v, for the optional fields of requests and
// options: &SubscriptionCancelRequest{SendEmail: recharge.Ptr(false)}.
func Ptr[T any](v T) *T { return &v }
