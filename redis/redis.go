// Package redis lets several rechargekit replicas share state through
// Redis: the card cache (CardCache, a rechargekit.CardCache), one Recharge
// rate budget per API token (Limiter, a recharge.Limiter), so that N
// replicas together stay inside Recharge's 40-request bucket draining at 2
// per second, and the console's failed sign-in counts (SignInFailures, a
// server.SignInFailures), so that N replicas allow no more guesses than one.
//
// All are optional: a single replica keeps cards in memory and paces
// itself with the recharge client's own leaky bucket. Wiring, with REDIS_URL
// set:
//
//	rc, err := redis.Open(ctx, os.Getenv("REDIS_URL"))
//	...
//	defer rc.Close()
//	client := recharge.NewClient(token, recharge.WithLimiter(redis.NewLimiter(rc, token, redis.LimiterOptions{})))
//	cached := cards.NewCachedService(&recharge.Source{Client: client}, redis.NewCardCache(rc, redis.CardCacheOptions{}), cards.CachedOptions{})
//	signIns := redis.NewSignInFailures(rc, redis.SignInOptions{Window: server.SignInWindow, Secret: sharedSecret})
//	handler := server.New(server.Config{SignInFailures: signIns, ...})
//
// Every multi-step update runs as one Lua script (sent with EVALSHA, and
// EVAL when Redis does not know the script yet), so concurrent replicas
// never interleave inside one. Each script touches one key, so the keys may
// live on different nodes of a cluster. Keys start with "rechargekit:";
// tokens appear in keys only as a SHA-256 hash, client addresses and
// emails only as an HMAC-SHA256 under a secret the replicas share.
package redis

import (
	"context"
	"errors"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// KeyPrefix starts every key this package writes by default.
const KeyPrefix = "rechargekit:"

// Client is a connection pool to one Redis server, shared by the card
// cache and the limiter. Create it with Open; it is safe for concurrent use.
type Client struct {
	rdb  *goredis.Client
	addr string
}

// Open connects to the Redis server at rawURL (redis://[user:password@]host:port/db,
// rediss:// for TLS, or unix://path) and checks that it answers. Neither
// the URL nor its password appears in an error.
func Open(ctx context.Context, rawURL string) (*Client, error) {
	opt, err := goredis.ParseURL(rawURL)
	if err != nil {
		// The parse error may repeat the URL, password included.
		return nil, errors.New("redis: invalid URL: want redis://host:port/db, rediss://... or unix://path")
	}
	// Lookups have seconds to answer; a Redis that takes longer than this
	// is treated as down (the cache misses, the limiter falls back).
	opt.DialTimeout = 2 * time.Second
	opt.ReadTimeout = time.Second
	opt.WriteTimeout = time.Second
	opt.ContextTimeoutEnabled = true
	opt.PoolSize = 100
	c := &Client{rdb: goredis.NewClient(opt), addr: opt.Addr}
	if err := c.Ping(ctx); err != nil {
		_ = c.rdb.Close()
		return nil, err
	}
	return c, nil
}

// Ping checks that Redis answers, for readiness checks.
func (c *Client) Ping(ctx context.Context) error {
	if err := c.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis: ping %s: %w", c.addr, err)
	}
	return nil
}

// Close closes the connections.
func (c *Client) Close() error { return c.rdb.Close() }
