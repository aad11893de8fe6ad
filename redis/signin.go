package redis

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// SignInFailures shares the console's failed sign-in counts between
// replicas (a server.SignInFailures), so that N replicas allow no more
// password guesses than one. Keys name client addresses and emails; they
// are stored only as a SHA-256 hash.
type SignInFailures struct {
	rdb    *goredis.Client
	prefix string
	window time.Duration
}

// NewSignInFailures returns the shared counter on c. window is how long a
// key's failures count from its first (server.SignInWindow); prefix ""
// means KeyPrefix + "signin:".
func NewSignInFailures(c *Client, window time.Duration, prefix string) *SignInFailures {
	if prefix == "" {
		prefix = KeyPrefix + "signin:"
	}
	return &SignInFailures{rdb: c.rdb, prefix: prefix, window: window}
}

func (s *SignInFailures) key(k string) string {
	sum := sha256.Sum256([]byte(k))
	return s.prefix + hex.EncodeToString(sum[:])
}

// failScript counts one failure, opening a new window when there is none
// or the one there has ended by the caller's clock. A caller whose clock is
// behind the window's start counts inside it: replicas' clocks differ a
// little, and a lagging one must not reopen a window. The key expires with
// its window on Redis's own clock too, so nothing is left behind.
//
// KEYS[1] the counter's hash; ARGV[1] now (ms), ARGV[2] the window (ms).
var failScript = goredis.NewScript(`
local start = tonumber(redis.call('HGET', KEYS[1], 'start'))
local now, window = tonumber(ARGV[1]), tonumber(ARGV[2])
if start == nil or now - start >= window then
  redis.call('HSET', KEYS[1], 'start', ARGV[1], 'n', 1)
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return redis.call('HINCRBY', KEYS[1], 'n', 1)
`)

// Failures implements server.SignInFailures.
func (s *SignInFailures) Failures(ctx context.Context, key string, now time.Time) (int, error) {
	v, err := s.rdb.HMGet(ctx, s.key(key), "start", "n").Result()
	if err != nil {
		return 0, fmt.Errorf("redis: read sign-in failures: %w", err)
	}
	start, err1 := strconv.ParseInt(str(v[0]), 10, 64)
	n, err2 := strconv.Atoi(str(v[1]))
	if err1 != nil || err2 != nil || now.UnixMilli()-start >= s.window.Milliseconds() {
		return 0, nil // none, unreadable, or the window has ended
	}
	return n, nil
}

// Fail implements server.SignInFailures.
func (s *SignInFailures) Fail(ctx context.Context, key string, now time.Time) error {
	if err := failScript.Run(ctx, s.rdb, []string{s.key(key)}, now.UnixMilli(), s.window.Milliseconds()).Err(); err != nil {
		return fmt.Errorf("redis: count a sign-in failure: %w", err)
	}
	return nil
}

// Reset implements server.SignInFailures.
func (s *SignInFailures) Reset(ctx context.Context, key string) error {
	if err := s.rdb.Del(ctx, s.key(key)).Err(); err != nil && !errors.Is(err, goredis.Nil) {
		return fmt.Errorf("redis: reset sign-in failures: %w", err)
	}
	return nil
}
