// Package server is rechargekit's HTTP front: it mounts the Lookup Adaptor,
// health and readiness endpoints, the agent console (sign-in, profiles with
// the Subscription card, linking, admin pages) and the JSON API for other
// desks on one handler with request logging.
package server

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rechargekit/rechargekit"
)

// DefaultLookupDeadline is the console's and the JSON API's deadline for
// opening a profile: as long as a Gladly lookup's default.
const DefaultLookupDeadline = 5 * time.Second

// Config says what the server mounts.
type Config struct {
	// Gladly is the Lookup Adaptor, mounted at GladlyPath.
	Gladly     http.Handler
	GladlyPath string // default "/gladly/lookup"

	// Webhooks receives Recharge webhooks (recharge.WebhookHandler),
	// mounted at POST /webhooks/recharge; nil: not mounted.
	Webhooks http.Handler

	// Ready checks the service's dependencies for GET /readyz. It is
	// called on every probe, so each check must be cheap (a database
	// round trip, a Redis PING, the Recharge client's last known state);
	// nil means nothing to check. /readyz answers 503 when a Critical
	// check fails (the replica should lose its traffic), 200 "degraded"
	// when only others do (it should keep it: cmd/rechargekit marks no
	// shared dependency critical, since it would fail for every replica
	// alike), and 200 "ready" otherwise.
	Ready func(ctx context.Context) []Check

	// Mirror, when set, tells the admin's Settings page where the local
	// mirror of the store's Recharge data stands (cmd/rechargekit reads
	// the mirror package's Status); nil: the page has no mirror panel.
	// It must answer quickly: the page waits for it.
	Mirror func(ctx context.Context) *MirrorStatus

	// Metrics receives the console's and the JSON API's card lookups
	// (nil counts nothing).
	Metrics rechargekit.Metrics
	// MetricsHandler, when set, is served at GET /metrics (the metrics
	// package's Registry.Handler); MetricsToken, when set, is the bearer
	// token a scraper must send.
	MetricsHandler http.Handler
	MetricsToken   string

	// Store keeps profiles, links, users, sessions, API tokens and
	// settings. When it is nil the console and the JSON API are not
	// mounted: a Gladly-only deployment needs neither.
	Store rechargekit.Store
	// Profiles opens profiles with the auto-link policy and links and
	// unlinks them (cards.Profiles); required with Store.
	Profiles rechargekit.ProfileService
	// Cards finds Recharge customers for the console's manual search;
	// required with Store. When it also has Invalidate(ctx, customerID)
	// error (cards.Cached does), the card's refresh button invalidates the
	// customer's cached card so that the page reads Recharge again.
	Cards rechargekit.CardService
	// AdminLinks makes the card's "Open in Recharge" links into the
	// merchant admin (RECHARGE_ADMIN_URL); empty: no links.
	AdminLinks rechargekit.AdminLinks
	// Actions lets agents act on the subscriptions of a linked profile,
	// in the console and the JSON API (actions.Service). Nil: no actions
	// are offered anywhere.
	Actions rechargekit.ActionService
	// ActionLog is the action audit and the per-role action policy that
	// admins read and edit in the console; required with Actions.
	ActionLog rechargekit.ActionStore

	// SecureCookies sets the Secure flag on the console's cookies. It is
	// also set for a request that arrived over TLS or whose
	// X-Forwarded-Proto is https (behind a TLS-terminating proxy).
	SecureCookies bool
	// TrustedProxies are the load balancers and reverse proxies in front
	// of the service. When a request comes from one of them, the client's
	// address (which the sign-in limits count by) is the rightmost
	// X-Forwarded-For address that is not itself a trusted proxy; from
	// anywhere else X-Forwarded-For is ignored. Empty: the peer address.
	TrustedProxies []netip.Prefix
	// FrameAncestors is the CSP frame-ancestors source list, for desks
	// that embed the console in a frame (e.g. "https://desk.example.com");
	// default "'none'": no framing.
	FrameAncestors string
	// ImageProxyAllowHosts lists host:port addresses (e.g.
	// "127.0.0.1:4010") the console's image proxy may fetch product images
	// from although they are not public, and over plain http: for the
	// demo's simulator, which serves its own images. Empty (the default):
	// only https from public addresses. Check it with
	// CheckImageProxyAllowHosts; an invalid list is logged and ignored.
	ImageProxyAllowHosts []string
	// LookupDeadline bounds opening a profile in the console or the JSON
	// API, Recharge calls included: past it a cached card is served stale,
	// or the card shows as unavailable. Default DefaultLookupDeadline.
	LookupDeadline time.Duration

	// SignInFailures, when set, shares the console's sign-in limits
	// between replicas (redis.SignInFailures). Each replica counts on its
	// own when it is nil, and while it fails.
	SignInFailures SignInFailures

	// SessionTTL is how long a console sign-in lasts at most, however
	// busy; default DefaultSessionTTL.
	SessionTTL time.Duration
	// SessionIdle ends a console session that has made no request for
	// this long; default DefaultSessionIdle, and never more than
	// SessionTTL.
	SessionIdle time.Duration

	Logger *slog.Logger
	// Now is the server's clock (request timing, sessions, "fetched 2
	// minutes ago"); default time.Now.
	Now func() time.Time
}

// New returns the server's handler. It panics when Store is set without
// Profiles or Cards, a wiring mistake to catch at start-up.
func New(cfg Config) http.Handler {
	if cfg.GladlyPath == "" {
		cfg.GladlyPath = "/gladly/lookup"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Metrics == nil {
		cfg.Metrics = rechargekit.NopMetrics{}
	}
	if cfg.LookupDeadline <= 0 {
		cfg.LookupDeadline = DefaultLookupDeadline
	}
	if strings.TrimSpace(cfg.FrameAncestors) == "" {
		cfg.FrameAncestors = "'none'"
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.Handle("GET /readyz", &readiness{check: cfg.Ready, log: cfg.Logger})
	if cfg.MetricsHandler != nil {
		mux.Handle("GET /metrics", metricsHandler(cfg.MetricsHandler, cfg.MetricsToken))
	}
	if cfg.Webhooks != nil {
		mux.Handle("POST /webhooks/recharge", cfg.Webhooks)
	}
	if cfg.Gladly != nil {
		mux.Handle(cfg.GladlyPath, cfg.Gladly)
		// The action forms live under the adaptor's path
		// (<path>/actions/<action>), where either reading of a relative
		// formUrl lands.
		if sub := strings.TrimSuffix(cfg.GladlyPath, "/") + "/"; sub != "/" && sub != cfg.GladlyPath {
			mux.Handle(sub, cfg.Gladly)
		}
	}
	if cfg.Store != nil {
		if cfg.Profiles == nil || cfg.Cards == nil {
			// A wiring mistake in cmd, like a bad ServeMux pattern: fail at
			// start-up rather than on the first request.
			panic("server: Config.Store is set but Config.Profiles or Config.Cards is nil")
		}
		newConsole(cfg).register(mux)
	}
	return logRequests(cfg.Logger, cfg.Now, securityHeaders(cfg.FrameAncestors, cfg.Logger, mux))
}

// Check is the state of one dependency, for GET /readyz.
type Check struct {
	Name string // "database", "redis", "recharge"
	// OK is false when the dependency is failing.
	OK bool
	// State is a short fixed word: "ok", or what is wrong
	// ("unavailable", "rate_limited", "timeout", "refused").
	State string
	// Message says what is wrong for an operator, in fixed words: never
	// an upstream error's text, which could carry anything.
	Message string
	// Since is when the dependency entered State, when known.
	Since time.Time
	// Critical makes a failing check take the replica out of rotation
	// (503). A failing non-critical check only marks it degraded.
	Critical bool
	// Percent, when set, says how far a check that is under way has come
	// (the mirror while it syncs), 0 to 100; /readyz shows it as
	// "percent".
	Percent *float64
}

// MirrorStatus is where the local mirror of the store's Recharge data
// stands, for the admin's Settings page.
type MirrorStatus struct {
	State   string           // rechargekit.MirrorOff, MirrorSyncing, MirrorReady, MirrorBehind
	Percent float64          // how far the backfill is, 0..100
	Records map[string]int64 // held, by resource (rechargekit.MirrorResources)

	LastReconcile time.Time // when the last reconciliation sweep completed; zero: none yet
	Holder        string    // the replica that syncs ("" when none)
	Leader        bool      // this replica is the one that syncs
	Drift         string    // the daily count check's finding; "" when none
	// WebhooksRecreated are the webhook topics Recharge had deleted and
	// the mirror re-created since the replica started.
	WebhooksRecreated []string
	Err               string // the last sync error, in fixed words; "" when none
}

// readiness serves GET /readyz.
type readiness struct {
	check func(context.Context) []Check
	log   *slog.Logger
}

type checkJSON struct {
	State   string   `json:"state"`
	Percent *float64 `json:"percent,omitempty"`
	Message string   `json:"message,omitempty"`
	Since   string   `json:"since,omitempty"`
}

// drainingKey marks a request's context as served during a shutdown drain.
type drainingKey struct{}

// Draining returns ctx marked as served while the process shuts down. The
// process's drain wrapper marks every request once draining has begun;
// GET /readyz then answers 503 with a failing critical "shutdown" check, so
// that load balancers move traffic to another replica while the requests
// in flight finish.
func Draining(ctx context.Context) context.Context {
	return context.WithValue(ctx, drainingKey{}, true)
}

func isDraining(ctx context.Context) bool {
	d, _ := ctx.Value(drainingKey{}).(bool)
	return d
}

func (h *readiness) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	status, code := "ready", http.StatusOK
	checks := map[string]checkJSON{}
	if isDraining(r.Context()) {
		// The dependencies are not checked: the answer is 503 whatever
		// they say, and a slow one must not hold a drain.
		checks["shutdown"] = checkJSON{State: "draining", Message: "shutting down: send requests to another replica"}
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "checks": checks})
		return
	}
	if h.check != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		for _, c := range h.check(ctx) {
			cj := checkJSON{State: c.State, Message: c.Message, Percent: c.Percent}
			if !c.Since.IsZero() {
				cj.Since = c.Since.UTC().Format(time.RFC3339)
			}
			checks[c.Name] = cj
			if c.OK {
				continue
			}
			h.log.WarnContext(r.Context(), "readiness check failing", "check", c.Name, "state", c.State, "message", c.Message)
			if c.Critical {
				status, code = "unavailable", http.StatusServiceUnavailable
			} else if status == "ready" {
				status = "degraded"
			}
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, code, map[string]any{"status": status, "checks": checks})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// logRequests logs one line per request: method, path (never the query,
// which may carry secrets), status, duration and the desk's correlation id.
func logRequests(logger *slog.Logger, now func() time.Time, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		level := slog.LevelInfo
		if rec.status >= 500 {
			level = slog.LevelError
		}
		if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" {
			level = slog.LevelDebug
		}
		logger.Log(r.Context(), level, "request",
			"method", r.Method, "path", r.URL.Path, "status", rec.status,
			"duration_ms", float64(now().Sub(start).Microseconds())/1000,
			"correlation_id", correlationID(r))
	})
}

// maxCorrelationID caps the desk's correlation id in the request log: it
// is the caller's text, and Gladly's are 36 characters.
const maxCorrelationID = 64

// correlationID is the request's Gladly-Correlation-Id for the log, cut to
// maxCorrelationID bytes at a character boundary.
func correlationID(r *http.Request) string {
	id := r.Header.Get("Gladly-Correlation-Id")
	if len(id) <= maxCorrelationID {
		return id
	}
	id = id[:maxCorrelationID]
	for len(id) > 0 && !utf8.ValidString(id) {
		id = id[:len(id)-1]
	}
	return id + "…"
}
