package redis

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/rechargekit/rechargekit"
)

// Limiter defaults: Recharge's documented bucket (spec section 10).
const (
	DefaultBucketSize      = 40
	DefaultLeakRate        = 2.0
	DefaultHeadroom        = 1.0
	DefaultBackgroundShare = 0.5
	DefaultMaxWait         = time.Minute
)

// ErrBudgetExhausted is wrapped, together with context.DeadlineExceeded, by
// the error Wait returns when the shared budget has no room before the
// caller's deadline. The recharge client gives up on the call at once, and
// its Source reports it as EUPSTREAM, so the card cache answers stale.
var ErrBudgetExhausted = errors.New("redis: the shared Recharge rate budget has no room before the deadline")

// Pacer is the method set of recharge.Limiter, repeated here so that this
// package need not import the recharge package.
type Pacer interface {
	// Wait blocks until a request may be sent, or returns an error.
	Wait(ctx context.Context) error
}

// LimiterOptions configures a Limiter. Zero values take the defaults.
type LimiterOptions struct {
	// BucketSize and PerSecond are Recharge's bucket for the token
	// (DefaultBucketSize requests, draining DefaultLeakRate per second);
	// higher-limit tokens drain faster.
	BucketSize int
	PerSecond  float64
	// Headroom is how many requests' room is kept free in the bucket
	// (DefaultHeadroom), so that network jitter, which can bunch requests
	// up on their way to Recharge, does not overflow Recharge's own copy.
	Headroom float64
	// BackgroundShare is the fraction of the bucket (DefaultBackgroundShare)
	// that background work (rechargekit.WithBackground) may fill: it
	// proceeds only while the bucket is below that level, so lookups agents
	// wait for go first.
	BackgroundShare float64
	// MaxWait bounds a wait when the context has no deadline
	// (DefaultMaxWait).
	MaxWait time.Duration
	// Prefix starts the key; default "rechargekit:ratelimit:". The rest is
	// the SHA-256 of the token, never the token.
	Prefix string
	// Fallback paces requests while Redis cannot be reached, for example
	// recharge.NewLeakyBucket(40, 2, nil, nil) for a per-replica budget.
	// When nil, requests go through unpaced (Recharge's own 429s and the
	// client's retries then protect it).
	Fallback Pacer
	// Logger receives failures of the limiter's scripts other than Redis
	// not answering (which the Client logs), at most one line per 10
	// seconds (slog.Default() when nil).
	Logger *slog.Logger
}

// Limiter is a leaky bucket kept in Redis, one per Recharge token and
// shared by every replica that uses the token. It implements
// recharge.Limiter and recharge.LimitObserver; plug it into the client
// with recharge.WithLimiter. Each Wait runs one script that drains the
// bucket to the Redis server's clock and either admits the request,
// reserves a slot and says how long to wait for it, or refuses because the
// wait would pass the caller's deadline. Create it with NewLimiter; it is
// safe for concurrent use.
type Limiter struct {
	rdb      *goredis.Client
	key      string
	size     float64
	rate     float64
	fgLimit  float64 // level a foreground request may bring the bucket to
	bgLimit  float64 // level background work may bring it to
	maxWait  time.Duration
	ttl      time.Duration
	fallback Pacer
	log      *slog.Logger

	logMu   sync.Mutex
	lastLog time.Time
}

// NewLimiter returns the shared limiter of token on c. The token only
// names the bucket, through its SHA-256.
func NewLimiter(c *Client, token string, opts LimiterOptions) *Limiter {
	size := float64(opts.BucketSize)
	if size < 1 {
		size = DefaultBucketSize
	}
	rate := opts.PerSecond
	if !(rate > 0) || math.IsInf(rate, 0) {
		rate = DefaultLeakRate
	}
	headroom := opts.Headroom
	if headroom <= 0 {
		headroom = DefaultHeadroom
	}
	share := opts.BackgroundShare
	if !(share > 0 && share <= 1) {
		share = DefaultBackgroundShare
	}
	prefix := opts.Prefix
	if prefix == "" {
		prefix = KeyPrefix + "ratelimit:"
	}
	sum := sha256.Sum256([]byte(token))
	l := &Limiter{
		rdb:      c.rdb,
		key:      prefix + hex.EncodeToString(sum[:]),
		size:     size,
		rate:     rate,
		fgLimit:  max(1, size-headroom),
		bgLimit:  max(1, math.Floor(size*share)),
		maxWait:  opts.MaxWait,
		fallback: opts.Fallback,
		log:      opts.Logger,
	}
	if l.maxWait <= 0 {
		l.maxWait = DefaultMaxWait
	}
	// An idle bucket is empty after size/rate seconds; keep the key a
	// little longer, then let Redis drop it.
	l.ttl = time.Duration(size/rate*float64(time.Second)) + time.Minute
	if l.log == nil {
		l.log = slog.Default()
	}
	return l
}

// takeScript drains the bucket to now (the Redis server's clock) and adds
// one request when the level stays within the limit. Otherwise, when the
// wait for room is at most ARGV[4] ms, it reserves the slot (adds the
// request now, so later callers queue behind) and returns the wait;
// when it is longer, it returns minus the wait and changes nothing.
//
// KEYS[1] the bucket hash {level, ts}; ARGV[1] the limit, ARGV[2] the rate
// per second, ARGV[3] the key's TTL in ms, ARGV[4] the longest wait to
// reserve in ms (negative: never reserve).
var takeScript = goredis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local st = redis.call('HMGET', KEYS[1], 'level', 'ts')
local level = tonumber(st[1]) or 0
local ts = tonumber(st[2]) or now
local rate = tonumber(ARGV[2])
if now > ts then
  level = math.max(0, level - (now - ts) / 1000000 * rate)
  ts = now
end
local limit = tonumber(ARGV[1])
local wait = 0
if level + 1 > limit + 1e-9 then
  wait = math.ceil((level + 1 - limit) / rate * 1000)
  if wait < 1 then wait = 1 end
  local most = tonumber(ARGV[4])
  if most < 0 or wait > most then
    return -wait
  end
end
redis.call('HSET', KEYS[1], 'level', tostring(level + 1), 'ts', tostring(ts))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return wait
`)

// adjustScript drains the bucket and then either gives a reservation back
// (ARGV[1] = "release") or raises the level to at least ARGV[3] ("raise").
//
// KEYS[1] the bucket hash; ARGV[2] the rate per second, ARGV[3] the level,
// ARGV[4] the key's TTL in ms.
var adjustScript = goredis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local st = redis.call('HMGET', KEYS[1], 'level', 'ts')
local level = tonumber(st[1]) or 0
local ts = tonumber(st[2]) or now
if now > ts then
  level = math.max(0, level - (now - ts) / 1000000 * tonumber(ARGV[2]))
  ts = now
end
if ARGV[1] == 'release' then
  level = math.max(0, level - 1)
else
  level = math.max(level, tonumber(ARGV[3]))
end
redis.call('HSET', KEYS[1], 'level', tostring(level), 'ts', tostring(ts))
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
`)

// minRequestTime is the time a request needs after its wait (the value of
// recharge.MinRequestTime; adapters do not import each other).
const minRequestTime = 250 * time.Millisecond

// Wait implements recharge.Limiter. A lookup (foreground) reserves its
// slot and sleeps until it, or, when that would pass ctx's deadline (or
// MaxWait), returns at once an error wrapping ErrBudgetExhausted and
// context.DeadlineExceeded. Background work (rechargekit.IsBackground)
// never reserves: it proceeds only while the bucket is below its share,
// checking again as the bucket drains, until its deadline.
func (l *Limiter) Wait(ctx context.Context) error {
	return l.wait(ctx, rechargekit.IsBackground(ctx), l.bgLimit)
}

// WaitBackground implements recharge.BackgroundWaiter: it is Wait for
// background work, which proceeds only while taking a slot leaves at least
// reserve slots of the shared bucket free (at most size-1; and never above
// the level lookups may fill), whatever BackgroundShare says.
func (l *Limiter) WaitBackground(ctx context.Context, reserve int) error {
	return l.wait(ctx, true, min(l.fgLimit, max(1, l.size-float64(max(reserve, 0)))))
}

// wait is Wait, for background work (bg) up to the level bgLimit.
func (l *Limiter) wait(ctx context.Context, bg bool, bgLimit float64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	for {
		limit, most := l.fgLimit, l.maxWait
		if dl, ok := ctx.Deadline(); ok {
			// Leave the request time to run after its wait, or the slot
			// is spent on a request cancelled on its way.
			most = max(0, min(most, time.Until(dl)-minRequestTime))
		}
		reserve := most.Milliseconds()
		if bg {
			limit, reserve = bgLimit, -1
		}
		res, err := takeScript.Run(ctx, l.rdb, []string{l.key},
			strconv.FormatFloat(limit, 'f', -1, 64), strconv.FormatFloat(l.rate, 'f', -1, 64),
			l.ttl.Milliseconds(), reserve).Int64()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return l.redisDown(ctx, err, bg, bgLimit)
		}
		wait := time.Duration(abs(res)) * time.Millisecond
		switch {
		case res == 0:
			return nil
		case res > 0: // reserved: sleep until the slot
			if err := sleep(ctx, wait); err != nil {
				l.release()
				return err
			}
			return nil
		case !bg:
			return fmt.Errorf("%w: a %v wait would pass the context deadline: %w",
				ErrBudgetExhausted, wait.Round(time.Millisecond), context.DeadlineExceeded)
		}
		// Background: wait for the bucket to drain below the share, then
		// try again (agents may have filled it meanwhile).
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return fmt.Errorf("%w: background work: a %v wait would pass the context deadline: %w",
				ErrBudgetExhausted, wait.Round(time.Millisecond), context.DeadlineExceeded)
		}
		if err := sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// release gives back a reservation whose caller stopped waiting.
func (l *Limiter) release() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err := adjustScript.Run(ctx, l.rdb, []string{l.key}, "release",
		strconv.FormatFloat(l.rate, 'f', -1, 64), "0", l.ttl.Milliseconds()).Err()
	if err != nil {
		l.logOutage("redis: rate limiter: give back a reservation", err)
	}
}

// Observe implements recharge.LimitObserver: when Recharge reports its
// bucket fuller than half (other clients of the token, outside these
// replicas, are busy; or a 429 reported as 1/1), the shared level rises to
// match, scaled to the bucket's size. Below half nothing is sent to Redis:
// it would rarely change anything.
func (l *Limiter) Observe(used, size int) {
	if size <= 0 || used < 0 || 2*used < size {
		return
	}
	theirs := float64(used) / float64(size) * l.size
	ctx, cancel := context.WithTimeout(context.Background(), 250*time.Millisecond)
	defer cancel()
	err := adjustScript.Run(ctx, l.rdb, []string{l.key}, "raise",
		strconv.FormatFloat(l.rate, 'f', -1, 64), strconv.FormatFloat(theirs, 'f', -1, 64), l.ttl.Milliseconds()).Err()
	if err != nil {
		l.logOutage("redis: rate limiter: record Recharge's bucket level", err)
	}
}

// Level returns the shared bucket's level now (reservations included), for
// metrics and tests.
func (l *Limiter) Level(ctx context.Context) (float64, error) {
	vals, err := l.rdb.HMGet(ctx, l.key, "level", "ts").Result()
	if err != nil {
		return 0, fmt.Errorf("redis: read the rate limit bucket: %w", err)
	}
	level, _ := strconv.ParseFloat(str(vals[0]), 64)
	ts, _ := strconv.ParseFloat(str(vals[1]), 64)
	if ts == 0 {
		return 0, nil
	}
	now, err := l.rdb.Time(ctx).Result()
	if err != nil {
		return 0, fmt.Errorf("redis: read the server time: %w", err)
	}
	el := float64(now.UnixMicro())/1e6 - ts/1e6
	return math.Max(0, level-max(0, el)*l.rate), nil
}

// redisDown handles a Wait whose script failed: the fallback paces the
// request (background work behind lookups, up to bgLimit, when the
// fallback can tell them apart), or it goes through. That takes no longer
// than the caller's context allows, and while Redis is skipped no time at
// all.
func (l *Limiter) redisDown(ctx context.Context, err error, bg bool, bgLimit float64) error {
	l.logOutage("redis: rate limiter unavailable; pacing this replica alone", err)
	if l.fallback != nil {
		if w, ok := l.fallback.(interface {
			WaitBackground(context.Context, int) error
		}); ok && bg {
			return w.WaitBackground(ctx, int(l.size-bgLimit))
		}
		return l.fallback.Wait(ctx)
	}
	return nil
}

// logOutage logs a failure of the script, at most one line per 10
// seconds. Redis not answering (ErrUnavailable) is not logged here: the
// Client logs when it stops answering and when it answers again.
func (l *Limiter) logOutage(msg string, err error) {
	if errors.Is(err, ErrUnavailable) {
		return
	}
	l.logMu.Lock()
	now := time.Now()
	if now.Sub(l.lastLog) < 10*time.Second {
		l.logMu.Unlock()
		return
	}
	l.lastLog = now
	l.logMu.Unlock()
	l.log.Warn(msg, "error", err)
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
