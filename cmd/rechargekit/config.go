package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"

	goredis "github.com/redis/go-redis/v9"

	"github.com/rechargekit/rechargekit/gladly"
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
