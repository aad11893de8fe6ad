package main

import (
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/rechargekit/rechargekit/gladly"
	"github.com/rechargekit/rechargekit/mirror"
	"github.com/rechargekit/rechargekit/search"
)

// Configuration is checked when a command starts, before it opens a
// database or a connection: a mistyped setting is refused in one line that
// names the variable, instead of surfacing later as a warning or as a
// dependency that seems "unreachable". Each command lists the variables it
// reads (checkEnv); flags that take the same setting are checked with the
// same functions. DATABASE_URL is checked where it is opened (openStore),
// the first thing a command that needs it does.

// envChecks holds the check of every environment variable whose value has
// a syntax. Each returns nil for a good value, else what is wrong, phrased
// to follow the variable's name.
var envChecks = map[string]func(v string) error{
	"RECHARGE_API_URL": checkRechargeURL,
	"REDIS_URL":        checkRedisURL,
	"LISTEN_ADDR":      checkListenAddr,
	"COOKIE_SECURE":    checkBool,
	"LOG_LEVEL":        checkLogLevel,
	// RECHARGE_ADMIN_URL is the merchant admin the "Open in Recharge"
	// links point into, and GLADLY_TRANSACTIONS how DETAILED lookups send
	// subscriptions.
	"RECHARGE_ADMIN_URL":  checkAdminURL,
	"GLADLY_TRANSACTIONS": gladly.CheckTransactions,
	// The local mirror of the store's Recharge data (see mirrorSettings).
	"RECHARGE_MIRROR":      checkMirrorSwitch,
	"PHONE_DEFAULT_REGION": checkRegion,
}

// checkEnv checks the named environment variables that are set and returns
// the first problem, naming the variable.
func (m *Main) checkEnv(names ...string) error {
	for _, name := range names {
		v := m.Getenv(name)
		check := envChecks[name]
		if v == "" || check == nil {
			continue
		}
		if err := check(v); err != nil {
			return fmt.Errorf("%s %w", name, err)
		}
	}
	return nil
}

// shown quotes a setting's value for an error message, or returns "" when
// the value may hold a password (user info in a URL) or is too long to help.
func shown(v string) string {
	if strings.Contains(v, "@") || len(v) > 200 {
		return ""
	}
	return fmt.Sprintf(", not %q", v)
}

// checkRechargeURL accepts an http or https URL for Recharge's API.
func checkRechargeURL(v string) error {
	if err := checkHTTPURL(v); err != nil {
		return fmt.Errorf("%w (Recharge's own is https://api.rechargeapps.com)", err)
	}
	return nil
}

// checkHTTPURL accepts an absolute http or https URL with a host.
func checkHTTPURL(v string) error {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
		return fmt.Errorf("must be an http or https URL with a host%s", shown(v))
	}
	if _, err := strconv.Atoi(u.Port()); u.Port() != "" && err != nil {
		return fmt.Errorf("has a port that is not a number%s", shown(v))
	}
	return nil
}

// checkAdminURL accepts the https base URL of the store's Recharge
// merchant admin, with no path beyond "/", query, fragment or user info:
// the links built from it go to agents, so a wrong one is refused at start
// rather than shown.
func checkAdminURL(v string) error {
	u, err := url.Parse(v)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.Opaque != "" || u.User != nil ||
		u.RawQuery != "" || u.Fragment != "" || strings.Trim(u.Path, "/") != "" || strings.ContainsAny(v, " \t\r\n") {
		return fmt.Errorf("must be the https base URL of the store's Recharge merchant admin, e.g. https://example-store-sp.admin.rechargeapps.com%s", shown(v))
	}
	if _, err := strconv.Atoi(u.Port()); u.Port() != "" && err != nil {
		return fmt.Errorf("has a port that is not a number%s", shown(v))
	}
	return nil
}

// checkRedisURL accepts what the Redis client accepts (redis://, rediss://,
// unix://). The parser's own error is not shown: it may repeat the URL,
// password included.
func checkRedisURL(v string) error {
	if _, err := goredis.ParseURL(v); err != nil {
		return fmt.Errorf("must be a Redis URL such as redis://host:6379/0, rediss://... or unix:///path")
	}
	return nil
}

// checkListenAddr accepts HOST:PORT, with an empty host for every interface
// and port 0 for any free port.
func checkListenAddr(v string) error {
	_, port, err := net.SplitHostPort(v)
	if n, perr := strconv.Atoi(port); err != nil || perr != nil || n < 0 || n > 65535 {
		return fmt.Errorf("must be HOST:PORT, e.g. 127.0.0.1:8080 or 0.0.0.0:8080%s", shown(v))
	}
	return nil
}

// checkBool accepts true or false (and strconv.ParseBool's other spellings).
func checkBool(v string) error {
	if _, err := strconv.ParseBool(v); err != nil {
		return fmt.Errorf("must be true or false%s", shown(v))
	}
	return nil
}

// checkLogLevel accepts slog's level names.
func checkLogLevel(v string) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(v)); err != nil {
		return fmt.Errorf("must be debug, info, warn or error%s", shown(v))
	}
	return nil
}

// checkMirrorSwitch accepts RECHARGE_MIRROR's two words.
func checkMirrorSwitch(v string) error {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "on", "off":
		return nil
	}
	return fmt.Errorf("must be on or off (unset: on when DATABASE_URL is set)%s", shown(v))
}

// checkRegion accepts a two-letter region libphonenumber knows.
func checkRegion(v string) error {
	if len(strings.TrimSpace(v)) != 2 || !search.ValidRegion(strings.TrimSpace(v)) {
		return fmt.Errorf("must be a two-letter region such as US, GB or DE%s", shown(v))
	}
	return nil
}

// minReconcileInterval is the shortest MIRROR_RECONCILE_INTERVAL: a
// reconciliation sweep reads every resource's changes, and more often
// would spend the token's budget on sweeps that find nothing.
const minReconcileInterval = 30 * time.Second

// mirrorSettings is how the local mirror runs: RECHARGE_MIRROR,
// MIRROR_RECONCILE_INTERVAL and PHONE_DEFAULT_REGION.
type mirrorSettings struct {
	on        bool
	reconcile time.Duration // how often a sweep picks up what a lost webhook missed
	region    string        // the region of a phone number without a country code

	// leaseTTL is how long the sync lease lasts without a renewal (0:
	// mirror.DefaultLeaseTTL); tests shorten it.
	leaseTTL time.Duration
	// holder names this replica's lease ("": host and pid); tests name it.
	holder string
}

// mirrorSettings reads the mirror's settings: off with
// RECHARGE_MIRROR=off, on with RECHARGE_MIRROR=on, else defaultOn (serve:
// when DATABASE_URL is set, the database the mirror lives in; demo and
// sync: always). reconcile is the value of --mirror-reconcile-interval,
// or the environment's.
func (m *Main) mirrorSettings(reconcile time.Duration, defaultOn bool) (mirrorSettings, error) {
	if err := m.checkEnv("RECHARGE_MIRROR", "PHONE_DEFAULT_REGION"); err != nil {
		return mirrorSettings{}, err
	}
	ms := mirrorSettings{reconcile: reconcile, region: strings.ToUpper(strings.TrimSpace(m.envOr("PHONE_DEFAULT_REGION", search.DefaultRegion)))}
	switch strings.ToLower(strings.TrimSpace(m.Getenv("RECHARGE_MIRROR"))) {
	case "on":
		ms.on = true
	case "off":
	default:
		ms.on = defaultOn
	}
	if ms.reconcile < minReconcileInterval {
		return mirrorSettings{}, fmt.Errorf("--mirror-reconcile-interval ($MIRROR_RECONCILE_INTERVAL) must be at least %s, not %s", minReconcileInterval, ms.reconcile)
	}
	return ms, nil
}

// reconcileFlag defines --mirror-reconcile-interval, whose default comes
// from MIRROR_RECONCILE_INTERVAL.
func (m *Main) reconcileFlag(fs *flag.FlagSet, p *time.Duration) error {
	return m.durationFlag(fs, p, "mirror-reconcile-interval", "MIRROR_RECONCILE_INTERVAL", mirror.DefaultReconcileInterval,
		"how often the mirror sweeps Recharge for changes a lost webhook missed (at least 30s)")
}
