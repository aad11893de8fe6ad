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
	"strings"
	"sync"
	"time"

	"github.com/rechargekit/rechargekit"
)

// Config says what the server mounts.
type Config struct {
	// Gladly is the Lookup Adaptor, mounted at GladlyPath.
	Gladly     http.Handler
	GladlyPath string // default "/gladly/lookup"

	// Webhooks receives Recharge webhooks (recharge.WebhookHandler),
	// mounted at POST /webhooks/recharge; nil: not mounted.
	Webhooks http.Handler

	// Ready reports whether the service can answer: nil when Recharge
	// accepts the token and is reachable. Its result is cached for
	// ReadyTTL so that probes do not spend the Recharge rate budget.
	Ready    func(ctx context.Context) error
	ReadyTTL time.Duration // default 30s

	// Store keeps profiles, links, users, sessions, API tokens and
	// settings. When it is nil the console and the JSON API are not
	// mounted: a Gladly-only deployment needs neither.
	Store rechargekit.LinkStore
	// Profiles opens profiles with the auto-link policy and links and
	// unlinks them (cards.Profiles); required with Store.
	Profiles rechargekit.ProfileService
	// Cards finds Recharge customers for the console's manual search;
	// required with Store.
	Cards rechargekit.CardService

	// SecureCookies sets the Secure flag on the console's cookies. It is
	// also set for a request that arrived over TLS or whose
	// X-Forwarded-Proto is https (behind a TLS-terminating proxy).
	SecureCookies bool
	// FrameAncestors is the CSP frame-ancestors source list, for desks
	// that embed the console in a frame (e.g. "https://desk.example.com");
	// default "'none'": no framing.
	FrameAncestors string
	// SessionTTL is how long a console sign-in lasts; default 12h.
	SessionTTL time.Duration

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
	if cfg.ReadyTTL == 0 {
		cfg.ReadyTTL = 30 * time.Second
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	if strings.TrimSpace(cfg.FrameAncestors) == "" {
		cfg.FrameAncestors = "'none'"
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	rc := &readyCache{check: cfg.Ready, ttl: cfg.ReadyTTL, now: cfg.Now}
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := rc.get(r.Context()); err != nil {
			cfg.Logger.WarnContext(r.Context(), "not ready", "error", err)
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	if cfg.Webhooks != nil {
		mux.Handle("POST /webhooks/recharge", cfg.Webhooks)
	}
	if cfg.Gladly != nil {
		mux.Handle(cfg.GladlyPath, cfg.Gladly)
	}
	if cfg.Store != nil {
		if cfg.Profiles == nil || cfg.Cards == nil {
			// A wiring mistake in cmd, like a bad ServeMux pattern: fail at
			// start-up rather than on the first request.
			panic("server: Config.Store is set but Config.Profiles or Config.Cards is nil")
		}
		newConsole(cfg).register(mux)
	}
	return logRequests(cfg.Logger, cfg.Now, mux)
}

// readyCache runs the readiness check at most once per ttl, and one at a time.
type readyCache struct {
	check func(context.Context) error
	ttl   time.Duration
	now   func() time.Time

	mu      sync.Mutex
	checked time.Time
	err     error
}

func (c *readyCache) get(ctx context.Context) error {
	if c.check == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.checked.IsZero() && c.now().Sub(c.checked) < c.ttl {
		return c.err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c.err = c.check(ctx)
	c.checked = c.now()
	return c.err
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
			"correlation_id", r.Header.Get("Gladly-Correlation-Id"))
	})
}
