package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/cards"
	"github.com/rechargekit/rechargekit/gladly"
	"github.com/rechargekit/rechargekit/mirror"
	"github.com/rechargekit/rechargekit/recharge"
	"github.com/rechargekit/rechargekit/redis"
	"github.com/rechargekit/rechargekit/server"
)

// serveCommand runs the production server against a real Recharge store.
type serveCommand struct {
	m          *Main
	addr       string
	gladlyPath string
	deadline   time.Duration
	timeWindow time.Duration

	secureCookies  bool
	frameAncestors string
	trustedProxies []netip.Prefix
	imageAllow     []string
	cardTTL        time.Duration
	staleFor       time.Duration
	drain          drainOptions
	sessionIdle    time.Duration
	sessionTTL     time.Duration
	redisTimeout   time.Duration
	reconcile      time.Duration
	leaseTTL       time.Duration
	mirror         mirrorSettings
}

func (c *serveCommand) parseFlags(args []string) error {
	fs := c.m.newFlagSet("serve", "[--addr HOST:PORT] (configuration from the environment: see README)")
	if err := c.m.checkEnv("RECHARGE_API_URL", "REDIS_URL", "LISTEN_ADDR", "COOKIE_SECURE", "LOG_LEVEL", "RECHARGE_ADMIN_URL", "GLADLY_TRANSACTIONS"); err != nil {
		return err
	}
	if _, _, err := c.m.rateLimit(); err != nil {
		return err
	}
	secure, _ := strconv.ParseBool(c.m.Getenv("COOKIE_SECURE")) // checked above; unset is false
	fs.StringVar(&c.addr, "addr", c.m.envOr("LISTEN_ADDR", "127.0.0.1:8080"), "listen address ($LISTEN_ADDR)")
	fs.StringVar(&c.gladlyPath, "gladly-path", gladly.DefaultPath, "path of the Lookup Adaptor")
	fs.DurationVar(&c.deadline, "lookup-deadline", gladly.DefaultDeadline, "answer every lookup within this time (at most 15s, Gladly's limit)")
	fs.DurationVar(&c.timeWindow, "signature-window", gladly.DefaultTimeWindow, "how far Gladly-Time may be from the server clock")
	fs.BoolVar(&c.secureCookies, "secure-cookies", secure, "mark console cookies Secure even without TLS in front ($COOKIE_SECURE=true)")
	fs.StringVar(&c.frameAncestors, "frame-ancestors", c.m.Getenv("FRAME_ANCESTORS"), "origins allowed to embed the console in a frame, e.g. https://desk.example.com ($FRAME_ANCESTORS; default none)")
	proxies := fs.String("trusted-proxies", c.m.Getenv("TRUSTED_PROXIES"), "comma-separated addresses or CIDR ranges of the load balancers in front, whose X-Forwarded-For names the client for the sign-in limits ($TRUSTED_PROXIES; default none)")
	imageAllow := fs.String("image-proxy-allow-hosts", c.m.Getenv("IMAGE_PROXY_ALLOW_HOSTS"), "comma-separated host:port addresses the console's image proxy may fetch product images from although private, over http too ($IMAGE_PROXY_ALLOW_HOSTS; default none: public https only)")
	if err := c.m.durationFlag(fs, &c.cardTTL, "card-ttl", "CARD_TTL", cards.DefaultCardTTL, "how long a card is served from the cache before Recharge is asked again"); err != nil {
		return err
	}
	if err := c.m.durationFlag(fs, &c.staleFor, "stale-for", "CARD_STALE_FOR", cards.DefaultStaleFor, "how old a cached card may be and still be served, marked stale, when Recharge fails"); err != nil {
		return err
	}
	if err := c.m.durationFlag(fs, &c.sessionIdle, "session-idle-timeout", "SESSION_IDLE_TIMEOUT", server.DefaultSessionIdle, "sign a console user out after this long without a request"); err != nil {
		return err
	}
	if err := c.m.durationFlag(fs, &c.sessionTTL, "session-lifetime", "SESSION_LIFETIME", server.DefaultSessionTTL, "sign a console user out this long after signing in, however busy"); err != nil {
		return err
	}
	if err := c.m.durationFlag(fs, &c.drain.delay, "shutdown-delay", "SHUTDOWN_DELAY", 0, "after SIGTERM, keep serving this long with /readyz answering 503, so a load balancer stops sending traffic first"); err != nil {
		return err
	}
	if err := c.m.durationFlag(fs, &c.drain.timeout, "shutdown-timeout", "SHUTDOWN_TIMEOUT", defaultShutdownTimeout, "then wait this long for the requests in flight before closing their connections"); err != nil {
		return err
	}
	if err := c.m.durationFlag(fs, &c.redisTimeout, "redis-timeout", "REDIS_TIMEOUT", redis.DefaultCallTimeout, "bound every call to Redis; one that takes longer finds Redis down, which is then skipped for a while"); err != nil {
		return err
	}
	if err := c.m.reconcileFlag(fs, &c.reconcile); err != nil {
		return err
	}
	fs.DurationVar(&c.leaseTTL, "mirror-lease-ttl", mirror.DefaultLeaseTTL, "how long the replica that syncs the mirror keeps the sync lease without renewing it: another replica takes over this long after it dies (a clean stop hands it over at once)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var err error
	if c.mirror, err = c.m.mirrorSettings(c.reconcile, strings.TrimSpace(c.m.Getenv("DATABASE_URL")) != ""); err != nil {
		return err
	}
	if c.leaseTTL < time.Second || c.leaseTTL > 10*time.Minute {
		return fmt.Errorf("--mirror-lease-ttl must be between 1s and 10m")
	}
	c.mirror.leaseTTL = c.leaseTTL
	if err := checkListenAddr(c.addr); err != nil {
		return fmt.Errorf("--addr ($LISTEN_ADDR) %w", err)
	}
	for _, p := range strings.FieldsFunc(*proxies, func(r rune) bool { return r == ',' || r == ' ' }) {
		prefix, err := netip.ParsePrefix(p)
		if err != nil {
			addr, err2 := netip.ParseAddr(p)
			if err2 != nil {
				return fmt.Errorf("--trusted-proxies ($TRUSTED_PROXIES): %q is not an address or a CIDR range", p)
			}
			prefix = netip.PrefixFrom(addr, addr.BitLen())
		}
		c.trustedProxies = append(c.trustedProxies, prefix.Masked())
	}
	if c.drain.delay < 0 || c.drain.timeout < c.deadline {
		// A shorter drain would cut lookups that are still inside their deadline.
		return fmt.Errorf("--shutdown-delay must not be negative and --shutdown-timeout at least --lookup-deadline (%s)", c.deadline)
	}
	if c.deadline <= 0 || c.deadline > gladly.MaxDeadline {
		return fmt.Errorf("--lookup-deadline must be between 0 and %s", gladly.MaxDeadline)
	}
	if c.redisTimeout <= 0 || c.redisTimeout >= c.deadline {
		return fmt.Errorf("--redis-timeout ($REDIS_TIMEOUT) must be positive and shorter than --lookup-deadline (%s)", c.deadline)
	}
	if c.cardTTL <= 0 || c.staleFor < c.cardTTL {
		return fmt.Errorf("--card-ttl must be positive and --stale-for at least as long")
	}
	if c.sessionIdle < time.Minute || c.sessionTTL < c.sessionIdle {
		return fmt.Errorf("--session-idle-timeout must be at least 1m and --session-lifetime at least as long")
	}
	c.imageAllow = strings.FieldsFunc(*imageAllow, func(r rune) bool { return r == ',' || r == ' ' })
	if err := server.CheckImageProxyAllowHosts(c.imageAllow); err != nil {
		return fmt.Errorf("--image-proxy-allow-hosts ($IMAGE_PROXY_ALLOW_HOSTS): %w", err)
	}
	if err := server.CheckFrameAncestors(c.frameAncestors); err != nil {
		return fmt.Errorf("--frame-ancestors ($FRAME_ANCESTORS): %w", err)
	}
	if !strings.HasPrefix(c.gladlyPath, "/") {
		return fmt.Errorf("--gladly-path must start with /")
	}
	return nil
}

func (c *serveCommand) run(ctx context.Context) error {
	logger := c.m.jsonLogger()
	token, err := c.m.rechargeToken()
	if err != nil {
		return err
	}
	bucketSize, perSecond, err := c.m.rateLimit()
	if err != nil {
		return err
	}
	dbURL := c.m.Getenv("DATABASE_URL")
	store, err := openStore(ctx, dbURL)
	if err != nil {
		return err
	}
	defer store.Close()
	key := c.m.Getenv("GLADLY_SIGNING_KEY")
	if key == "" {
		logger.Warn("GLADLY_SIGNING_KEY is not set: lookups are accepted unsigned; set it to the Gladly app's signing key in production")
	}
	webhookSecret := c.m.Getenv("RECHARGE_WEBHOOK_SECRET")
	switch {
	case webhookSecret == "" && c.mirror.on:
		logger.Warn("RECHARGE_WEBHOOK_SECRET is not set: Recharge webhooks are refused, so the mirror learns of changes only from its reconciliation, every " + c.mirror.reconcile.String())
	case webhookSecret == "":
		logger.Warn("RECHARGE_WEBHOOK_SECRET is not set: Recharge webhooks are refused, so cards refresh only when their TTL runs out")
	}
	redisURL := c.m.Getenv("REDIS_URL")
	a, err := newApp(ctx, appConfig{
		token:          token,
		baseURL:        c.m.rechargeURL(),
		bucketSize:     bucketSize,
		perSecond:      perSecond,
		logger:         logger,
		store:          store,
		redisURL:       redisURL,
		redisOptions:   redis.Options{CallTimeout: c.redisTimeout},
		cardTTL:        c.cardTTL,
		staleFor:       c.staleFor,
		webhookSecret:  webhookSecret,
		secureCookies:  c.secureCookies,
		frameAncestors: c.frameAncestors,
		trustedProxies: c.trustedProxies,
		imageAllow:     c.imageAllow,
		gladlyPath:     c.gladlyPath,
		metricsToken:   c.m.Getenv("METRICS_TOKEN"),
		lookupDeadline: c.deadline,
		sessionIdle:    c.sessionIdle,
		sessionTTL:     c.sessionTTL,
		adminLinks:     rechargekit.AdminLinks{Base: c.m.Getenv("RECHARGE_ADMIN_URL")}, // checked in parseFlags
		mirror:         c.mirror,
		gladly: gladly.Config{
			SigningKey:    key,
			TimeWindow:    c.timeWindow,
			BasicUser:     c.m.Getenv("GLADLY_BASIC_USER"),
			BasicPassword: c.m.Getenv("GLADLY_BASIC_PASSWORD"),
			Deadline:      c.deadline,
			Transactions:  c.m.Getenv("GLADLY_TRANSACTIONS"), // checked in parseFlags
		},
	})
	if err != nil {
		return err
	}
	defer a.Close()
	if err := checkToken(ctx, a.client, logger); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", c.addr, err)
	}
	// The mirror syncs in the background (on the replica holding the
	// lease) while the server answers: cards it does not hold yet are read
	// from Recharge meanwhile. It stops, releasing the lease, when the
	// drain begins.
	a.runMirror(ctx, logger)
	logger.Info("rechargekit serving", "addr", "http://"+ln.Addr().String(), "lookup_path", c.gladlyPath,
		"signed_lookups", key != "", "database", describeDatabase(dbURL), "shared_cache", redisURL != "",
		"card_ttl", c.cardTTL.String(), "mirror", c.mirror.on, "version", version())
	return c.m.serveDrain(ctx, "serve", ln, a.handler, c.drain, logger)
}

// checkToken asks Recharge who the token belongs to and logs its scopes, so
// a missing scope shows at start-up rather than as blank images later. A
// refused token stops the server; an unreachable Recharge does not (it may
// come back, and /readyz reports it meanwhile).
func checkToken(ctx context.Context, client *recharge.Client, logger *slog.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	info, _, err := client.TokenInformation(ctx)
	switch {
	case recharge.IsUnauthorized(err) || recharge.IsForbidden(err):
		return fmt.Errorf("Recharge refused the API token (check RECHARGE_API_TOKEN): %w", err)
	case err != nil:
		logger.Warn("could not check the Recharge token at start-up; /readyz reports until Recharge answers", "error", err)
		return nil
	}
	logger.Info("recharge token", "name", info.Name, "scopes", info.Scopes)
	for _, scope := range []string{"read_customers", "read_subscriptions"} {
		if !info.HasScope(scope) {
			return fmt.Errorf("the Recharge API token lacks the %s scope, which lookups need", scope)
		}
	}
	if !info.HasScope("read_orders") {
		logger.Warn("the Recharge API token lacks read_orders: cards will show no product images")
	}
	return nil
}
