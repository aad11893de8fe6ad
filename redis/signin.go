package redis

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// SignInFailures shares the console's sign-in attempt counts between
// replicas (a server.SignInFailures), so that N replicas allow no more
// password guesses than one. Keys name client addresses and emails; they
// are stored only as an HMAC-SHA256 under a secret the replicas share, so
// that a dump of Redis does not give them back.
//
// A window is measured on the clock of the replica that opened it;
// replicas whose clocks differ by δ can end one up to δ early.
type SignInFailures struct {
	rdb    *goredis.Client
	prefix string
	window time.Duration
	secret []byte
}

// SignInOptions configure SignInFailures.
type SignInOptions struct {
	// Window is how long a key's attempts count from its first
	// (server.SignInWindow).
	Window time.Duration
	// Secret keys the hash of every key; every replica must have the same.
	Secret []byte
	// Prefix starts every key; "" means KeyPrefix + "signin:".
	Prefix string
}

// NewSignInFailures returns the shared counter on c.
func NewSignInFailures(c *Client, opts SignInOptions) *SignInFailures {
	if opts.Prefix == "" {
		opts.Prefix = KeyPrefix + "signin:"
	}
	return &SignInFailures{rdb: c.rdb, prefix: opts.Prefix, window: opts.Window, secret: opts.Secret}
}

func (s *SignInFailures) key(k string) string {
	mac := hmac.New(sha256.New, s.secret)
	mac.Write([]byte(k))
	return s.prefix + hex.EncodeToString(mac.Sum(nil))
}

// attemptScript counts one attempt unless the key is at its max, opening
// a new window when there is none or the one there has ended by the
// caller's clock. A caller whose clock is behind the window's start counts
// inside it: a lagging replica must not reopen a window. The key expires
// with its window on Redis's own clock too, so nothing is left behind.
//
// KEYS[1] the counter's hash; ARGV[1] now (ms), ARGV[2] the window (ms),
// ARGV[3] max. Returns 1 when counted, 0 when refused.
var attemptScript = goredis.NewScript(`
local v = redis.call('HMGET', KEYS[1], 'start', 'n')
local start, n = tonumber(v[1]), tonumber(v[2]) or 0
local now, window, max = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
if start == nil or now - start >= window then
  if max < 1 then return 0 end
  redis.call('HSET', KEYS[1], 'start', ARGV[1], 'n', 1)
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if n >= max then return 0 end
redis.call('HINCRBY', KEYS[1], 'n', 1)
return 1
`)

// releaseScript gives back one attempt if the window open at now counts
// one.
//
// KEYS[1] the counter's hash; ARGV[1] now (ms), ARGV[2] the window (ms).
var releaseScript = goredis.NewScript(`
local v = redis.call('HMGET', KEYS[1], 'start', 'n')
local start, n = tonumber(v[1]), tonumber(v[2])
if start == nil or n == nil or n <= 0 or tonumber(ARGV[1]) - start >= tonumber(ARGV[2]) then return 0 end
redis.call('HINCRBY', KEYS[1], 'n', -1)
return 1
`)

// Attempt implements server.SignInFailures.
func (s *SignInFailures) Attempt(ctx context.Context, key string, max int, now time.Time) (bool, error) {
	n, err := attemptScript.Run(ctx, s.rdb, []string{s.key(key)}, now.UnixMilli(), s.window.Milliseconds(), max).Int()
	if err != nil {
		return false, fmt.Errorf("redis: count a sign-in attempt: %w", err)
	}
	return n == 1, nil
}

// Release implements server.SignInFailures.
func (s *SignInFailures) Release(ctx context.Context, key string, now time.Time) error {
	if err := releaseScript.Run(ctx, s.rdb, []string{s.key(key)}, now.UnixMilli(), s.window.Milliseconds()).Err(); err != nil {
		return fmt.Errorf("redis: give back a sign-in attempt: %w", err)
	}
	return nil
}

// Reset implements server.SignInFailures.
func (s *SignInFailures) Reset(ctx context.Context, key string) error {
	if err := s.rdb.Del(ctx, s.key(key)).Err(); err != nil {
		return fmt.Errorf("redis: reset sign-in attempts: %w", err)
	}
	return nil
}
