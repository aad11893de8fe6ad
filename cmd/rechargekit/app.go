package main

import (
	"context"
	"errors"
	"fmt"
	"github.com/rechargekit/rechargekit/actions"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/cards"
	"github.com/rechargekit/rechargekit/gladly"
	"github.com/rechargekit/rechargekit/metrics"
	"github.com/rechargekit/rechargekit/mirror"
	"github.com/rechargekit/rechargekit/recharge"
	"github.com/rechargekit/rechargekit/redis"
	"github.com/rechargekit/rechargekit/server"
)

// appConfig is what demo and serve have in common.
type appConfig struct {
	token         string            // Recharge API token
	baseURL       string            // Recharge API base URL
	bucketSize    int               // the token's Recharge bucket: 0 means Recharge's default 40
	perSecond     float64           // and its leak rate: 0 means 2 a second
	clientOptions []recharge.Option // extra client options (tests: a fake clock)
	logger        *slog.Logger

	store rechargekit.Store // nil: no console or JSON API

	redisURL      string        // "": in-memory cache, per-replica rate budget
	redisOptions  redis.Options // the call budget (0: redis.DefaultCallTimeout); tests: skip intervals, the clock of the client and its near copy
	redisPrefix   string        // "": redis.KeyPrefix; tests: keys of their own in a shared Redis
	cardTTL       time.Duration // 0: cards.DefaultCardTTL
	staleFor      time.Duration // 0: cards.DefaultStaleFor
	webhookSecret string        // "": /webhooks/recharge refuses every delivery

	// cardClock ages the cached cards against cardTTL: nil is time.Now;
	// tests pass a test clock to pass the TTL without waiting for it.
	cardClock func() time.Time

	secureCookies  bool
	frameAncestors string
	trustedProxies []netip.Prefix // proxies whose X-Forwarded-For names the client
	imageAllow     []string       // host:port the image proxy may fetch from although private, over http too
	gladlyPath     string
	gladly         gladly.Config
	metricsToken   string        // "": GET /metrics is open
	lookupDeadline time.Duration // the console's and JSON API's; 0: server.DefaultLookupDeadline
	sessionIdle    time.Duration // 0: server.DefaultSessionIdle
	sessionTTL     time.Duration // 0: server.DefaultSessionTTL

	// adminLinks builds the "Open in Recharge" links (RECHARGE_ADMIN_URL)
	// of the console, the JSON API and Gladly; none without a base.
	adminLinks rechargekit.AdminLinks

	// mirror says whether and how the local mirror runs; it needs store.
	mirror mirrorSettings
	// webhookURL is where Recharge posts this service's webhooks, when
	// known: the mirror then checks the registrations and re-creates one
	// Recharge deleted. serve does not know its public address and leaves
	// it empty.
	webhookURL string
}

// app is the wired service: the HTTP handler and what must be closed.
type app struct {
	handler http.Handler
	client  *recharge.Client
	cards   *cards.Cached
	metrics *metrics.Registry
	closers []func() error

	// mirror is the local mirror; nil when it is off. runMirror runs it in
	// the background.
	mirror *mirror.Mirror
}

// Close stops background work and releases connections.
func (a *app) Close() error {
	var errs []error
	for i := len(a.closers) - 1; i >= 0; i-- {
		errs = append(errs, a.closers[i]())
	}
	return errors.Join(errs...)
}

// newApp wires the Recharge client (paced by a Redis-shared budget when
// REDIS_URL is set), the card cache, the card service, the Lookup Adaptor,
// the webhook receiver, the console and the HTTP server. A Redis that does
// not answer does not stop it: see redis.Client.
func newApp(ctx context.Context, cfg appConfig) (_ *app, err error) {
	a := &app{}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	if cfg.bucketSize == 0 {
		cfg.bucketSize, cfg.perSecond = recharge.DefaultBucketSize, recharge.DefaultLeakRate
	}
	a.metrics = metrics.New(recharge.CardTopics)
	opts := []recharge.Option{recharge.WithBaseURL(cfg.baseURL), recharge.WithLogger(cfg.logger),
		recharge.WithRateLimit(cfg.bucketSize, cfg.perSecond), recharge.WithMetrics(a.metrics),
		// A failing Recharge is skipped for a growing while, so that lookups
		// answer from the cache at once instead of waiting out retries.
		recharge.WithBreaker(recharge.DefaultBreakerFailures, recharge.DefaultBreakerFirst, recharge.DefaultBreakerMax)}
	var cache rechargekit.CardCache
	var rc *redis.Client
	var signIns server.SignInFailures // nil: each replica counts sign-in failures alone
	if cfg.redisURL != "" {
		ropts := cfg.redisOptions
		ropts.Logger = cfg.logger
		if rc, err = redis.New(cfg.redisURL, ropts); err != nil {
			return nil, fmt.Errorf("REDIS_URL: %w", err)
		}
		a.closers = append(a.closers, rc.Close)
		// Redis is an accelerator: when it does not answer, the replica
		// starts without it (the client logs that in one line, and
		// /readyz reports it) and uses it from its first answer on.
		_ = rc.Ping(ctx)
		if err := a.metrics.Register(metrics.StateGauge("rechargekit_redis_state",
			"What rechargekit's calls to Redis show: 1 for the current state (up; down: Redis is skipped after a call failed; probing: one call is trying it again), 0 for the others.",
			redis.States, func() string { return rc.Status().State })); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
		prefix := func(kind string) string {
			if cfg.redisPrefix == "" {
				return "" // the package's default
			}
			return cfg.redisPrefix + kind
		}
		cache = redis.NewCardCache(rc, redis.CardCacheOptions{StaleFor: cfg.staleFor, Now: ropts.Now, Prefix: prefix("card:")})
		// One budget per token for every replica; while Redis is away each
		// replica falls back to its own bucket.
		opts = append(opts, recharge.WithLimiter(redisLimiter(rc, cfg.token, cfg.bucketSize, cfg.perSecond, cfg.logger, prefix("ratelimit:"))))
		// Keys hashed under a secret every replica has (the API token).
		signIns = redis.NewSignInFailures(rc, redis.SignInOptions{
			Window: server.SignInWindow,
			Secret: []byte("rechargekit sign-in limits\x00" + cfg.token),
			Prefix: prefix("signin:"),
		})
	}
	a.client = recharge.NewClient(cfg.token, append(opts, cfg.clientOptions...)...)
	live := &recharge.Source{Client: a.client, Logger: cfg.logger}
	svc := cards.New(live)
	svc.Now, svc.Logger = cfg.cardClock, cfg.logger
	if cfg.mirror.on && cfg.store != nil {
		// The mirror's reads share the live client's budget (its limiter:
		// the Redis-shared one with REDIS_URL) at background priority.
		bg := mirrorClient(cfg.token, cfg.baseURL, a.client.Limiter(), cfg.logger,
			append([]recharge.Option{recharge.WithMetrics(backgroundMetrics{a.metrics})}, cfg.clientOptions...)...)
		a.mirror, err = mirror.New(mirror.Options{
			Store:             cfg.store,
			Client:            bg,
			Live:              live,
			Region:            cfg.mirror.region,
			ReconcileInterval: cfg.mirror.reconcile,
			LeaseTTL:          cfg.mirror.leaseTTL,
			Holder:            cfg.mirror.holder,
			WebhookURL:        cfg.webhookURL,
			// A change in the mirror drops the customer's card from the
			// cache in front (a.cards, set below before Run starts): the
			// shared Redis cache for every replica at once. Another
			// replica's own memory (its near copy, or everything while
			// Redis is down or absent) drops it when its entry ages out.
			OnChange: func(ctx context.Context, customerID int64) {
				if err := a.cards.Invalidate(ctx, customerID); err != nil {
					cfg.logger.WarnContext(ctx, "mirror: could not drop a changed customer's card from the cache", "customer_id", customerID, "error", err)
				}
			},
			Logger:  cfg.logger,
			Metrics: a.metrics,
		})
		if err != nil {
			return nil, fmt.Errorf("set up the mirror: %w", err)
		}
		svc.Source, svc.Index, svc.Region = a.mirror.Source(), a.mirror, cfg.mirror.region
	}
	if cache == nil {
		cache = cards.NewMemoryCache(cards.DefaultMemoryCacheEntries)
	}
	a.cards = cards.NewCached(svc, cache,
		cards.CachedOptions{TTL: cfg.cardTTL, StaleFor: cfg.staleFor, Now: cfg.cardClock, Logger: cfg.logger, Metrics: a.metrics})
	a.closers = append(a.closers, a.cards.Close)
	var watch *mirrorWatch // nil: off
	if a.mirror != nil {
		watch = newMirrorWatch(a.mirror.Status)
	}
	if err := a.metrics.Register(metrics.MirrorGauges(watch.view)); err != nil {
		return nil, fmt.Errorf("register metrics: %w", err)
	}
	if err := a.metrics.Register(metrics.StateGauge("rechargekit_recharge_state",
		"What rechargekit's latest request to Recharge showed: 1 for the current state (ok, unknown, rate_limited, unavailable, timeout, refused), 0 for the others.",
		recharge.HealthStates, func() string { return a.client.Health().State })); err != nil {
		return nil, fmt.Errorf("register metrics: %w", err)
	}
	if err := a.metrics.Register(metrics.StateGauge("rechargekit_recharge_breaker_state",
		"rechargekit's breaker for Recharge: 1 for the current state (closed: calls go to Recharge; open: Recharge failed and is not called for a while; probing: one call is trying it again), 0 for the others.",
		recharge.BreakerStates, func() string { return a.client.Health().Breaker })); err != nil {
		return nil, fmt.Errorf("register metrics: %w", err)
	}

	var profiles rechargekit.ProfileService
	var acts rechargekit.ActionService // nil without a database: actions are audited there
	if cfg.store != nil {
		profiles = &cards.Profiles{Cards: a.cards, Store: cfg.store, Logger: cfg.logger, Region: cfg.mirror.region}
		acts = &actions.Service{
			Source: &recharge.Actions{Client: a.client},
			Store:  cfg.store,
			Cards:  a.cards,
			Links:  cfg.store,
			Logger: cfg.logger,
		}
	}
	gcfg := cfg.gladly
	gcfg.Service = a.cards
	gcfg.Actions = acts
	gcfg.Path = cfg.gladlyPath
	gcfg.Logger = cfg.logger
	gcfg.Metrics = a.metrics
	gcfg.AdminLinks = cfg.adminLinks
	onEvent := recharge.InvalidateOnEvent(a.cards.Invalidate)
	var mirrorPanel func(context.Context) *server.MirrorStatus
	if a.mirror != nil {
		onEvent = mirrorOnEvent(a.mirror, a.cards.Invalidate, cfg.logger)
		mirrorPanel = watch.adminStatus
	}
	gh, err := gladly.NewHandler(gcfg)
	if err != nil {
		return nil, fmt.Errorf("configure the lookup adaptor: %w", err)
	}
	a.handler = server.New(server.Config{
		Gladly:     gh,
		GladlyPath: cfg.gladlyPath,
		Webhooks: &recharge.WebhookHandler{
			Verifier: recharge.WebhookVerifier{Secret: cfg.webhookSecret},
			OnEvent:  onEvent,
			Logger:   cfg.logger,
			Metrics:  a.metrics,
		},
		Store:          cfg.store,
		Profiles:       profiles,
		Cards:          a.cards,
		Actions:        acts,
		ActionLog:      cfg.store,
		SecureCookies:  cfg.secureCookies,
		FrameAncestors: cfg.frameAncestors,
		TrustedProxies: cfg.trustedProxies,
		SignInFailures: signIns,
		Logger:         cfg.logger,
		Ready:          newReadiness(cfg.store, rc, a.client, watch).checks,
		Mirror:         mirrorPanel,
		Metrics:        a.metrics,
		MetricsHandler: a.metrics.Handler(),
		MetricsToken:   cfg.metricsToken,
		LookupDeadline: cfg.lookupDeadline,
		AdminLinks:     cfg.adminLinks,
		SessionIdle:    cfg.sessionIdle,
		SessionTTL:     cfg.sessionTTL,

		ImageProxyAllowHosts: cfg.imageAllow,
	})
	return a, nil
}

// runMirror runs the mirror in the background until ctx ends or the app
// closes (Run takes the sync lease, backfills when the mirror is empty or
// behind, reconciles, and releases the lease when it returns); nothing
// when the mirror is off. Close waits for it, so a clean stop hands the
// lease over at once instead of after its TTL.
func (a *app) runMirror(ctx context.Context, logger *slog.Logger) {
	if a.mirror == nil {
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := a.mirror.Run(ctx); err != nil {
			logger.Error("mirror: stopped", "error", err)
		}
	}()
	a.closers = append(a.closers, func() error {
		cancel()
		<-done
		return nil
	})
}
