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
	"log/slog"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/rechargekit/rechargekit/internal/breaker"
)

// KeyPrefix starts every key this package writes by default.
const KeyPrefix = "rechargekit:"

// Defaults of Options.
const (
	// DefaultCallTimeout bounds every call to Redis. Redis answers in well
	// under a millisecond; a call that takes this long finds it down or
	// hung, and the card cache, the limiter and the sign-in counts fall
	// back to this replica's own at once instead of spending the lookup's
	// deadline on it.
	DefaultCallTimeout = 50 * time.Millisecond
	// DefaultDialTimeout bounds one connection attempt. Connections are
	// made in the background: a call waits for one only within its own
	// budget, and a connection that comes later serves the next call.
	DefaultDialTimeout = time.Second
	// DefaultSkipFor is how long Redis is skipped after a call fails.
	DefaultSkipFor = time.Second
	// DefaultSkipMax caps the interval, which doubles after every probe
	// that fails: Redis is used again within this long of coming back.
	DefaultSkipMax = 15 * time.Second
)

// ErrUnavailable is wrapped by the error of every call that did not reach
// Redis: it refused, hung past the call budget or dropped the connection,
// or it is being skipped after such a failure. Callers fall back to what
// the replica has of its own.
var ErrUnavailable = errors.New("redis: unavailable")

// Options configures a Client. Zero values take the defaults.
type Options struct {
	// CallTimeout bounds every call (DefaultCallTimeout): a call that has
	// no answer by then fails with ErrUnavailable, and go-redis's own
	// retries are off, so that no call takes longer.
	CallTimeout time.Duration
	// DialTimeout bounds one connection attempt (DefaultDialTimeout).
	DialTimeout time.Duration
	// SkipFor and SkipMax are the skip interval after a failure and its
	// cap (DefaultSkipFor, DefaultSkipMax).
	SkipFor, SkipMax time.Duration
	// Logger receives one line when Redis stops answering and one when it
	// answers again (slog.Default() when nil). go-redis's own messages,
	// which it would print to stderr, go to the Logger of the Client
	// created last: go-redis has one logger per process.
	Logger *slog.Logger
	// Now is the clock of the skip intervals (time.Now when nil).
	Now func() time.Time
}

// Client is a connection pool to one Redis server, shared by the card
// cache, the limiter and the sign-in counts. Every call through it is
// bounded by Options.CallTimeout, and after a call fails Redis is skipped
// for a while (see ErrUnavailable): one breaker for all of them, so that
// a Redis that is down costs one failed call, not one per lookup and per
// use. Create it with New or Open; it is safe for concurrent use.
type Client struct {
	rdb         *goredis.Client
	addr        string
	callTimeout time.Duration
	br          *breaker.Breaker
	log         *slog.Logger
}

// New returns a client of the Redis server at rawURL (redis://[user:password@]host:port/db,
// rediss:// for TLS, or unix://path) without connecting: a Redis that does
// not answer yet is skipped until it does. Neither the URL nor its
// password appears in an error.
func New(rawURL string, opts Options) (*Client, error) {
	opt, err := goredis.ParseURL(rawURL)
	if err != nil {
		// The parse error may repeat the URL, password included.
		return nil, errors.New("redis: invalid URL: want redis://host:port/db, rediss://... or unix://path")
	}
	if opts.CallTimeout <= 0 {
		opts.CallTimeout = DefaultCallTimeout
	}
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = DefaultDialTimeout
	}
	if opts.SkipFor <= 0 {
		opts.SkipFor = DefaultSkipFor
	}
	if opts.SkipMax <= 0 {
		opts.SkipMax = DefaultSkipMax
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	// Every call carries the budget as its context deadline, which the
	// client honours; the socket timeouts only back it up. A retry could
	// only fail again inside the same budget, and dial attempts are one.
	opt.ContextTimeoutEnabled = true
	opt.DialTimeout = opts.DialTimeout
	opt.DialerRetries = 1
	opt.ReadTimeout = opts.CallTimeout
	opt.WriteTimeout = opts.CallTimeout
	opt.PoolTimeout = opts.CallTimeout
	opt.MaxRetries = -1
	opt.PoolSize = 100
	setLibraryLogger(opts.Logger)
	c := &Client{rdb: goredis.NewClient(opt), addr: opt.Addr, callTimeout: opts.CallTimeout, log: opts.Logger}
	c.br = newBreaker(opts.Now, opts.SkipFor, opts.SkipMax, c.changed)
	c.rdb.AddHook(guardHook{c})
	return c, nil
}

// Open is New, then a Ping: it fails when Redis does not answer.
func Open(ctx context.Context, rawURL string) (*Client, error) {
	c, err := New(rawURL, Options{})
	if err != nil {
		return nil, err
	}
	if err := c.Ping(ctx); err != nil {
		_ = c.rdb.Close()
		return nil, err
	}
	return c, nil
}

// Ping checks that Redis answers, for readiness checks. While Redis is
// skipped it fails at once, except when the skip interval has ended: then
// it is the call that tries Redis again.
func (c *Client) Ping(ctx context.Context) error {
	if err := c.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis: ping %s: %w", c.addr, err)
	}
	return nil
}

// Status is the client's view of Redis.
type Status struct {
	// State is StateUp, StateDown or StateProbing.
	State string
	// Since is when Redis came back up or, down or probing, when it
	// stopped answering.
	Since time.Time
}

// Status returns the client's view of Redis, from its latest calls.
func (c *Client) Status() Status {
	st, since := c.br.State()
	return Status{State: stateName(st), Since: since}
}

// Close closes the connections.
func (c *Client) Close() error { return c.rdb.Close() }

// changed logs the breaker's changes: one line when Redis stops
// answering, one when it answers again; failed probes in between only at
// debug level.
func (c *Client) changed(ch breaker.Change) {
	switch {
	case ch.To == breaker.Closed:
		c.log.Info("redis answers again: the card cache, the Recharge rate budget and the sign-in limits are shared again",
			"addr", c.addr, "down_for", ch.Down.Round(time.Millisecond).String())
	case ch.From == breaker.Closed:
		c.log.Warn("redis does not answer: this replica uses its own card cache, Recharge rate budget and sign-in limits until it does",
			"addr", c.addr, "error", ch.Err, "retry_in", ch.Interval.String())
	default:
		c.log.Debug("redis still does not answer", "addr", c.addr, "error", ch.Err,
			"down_for", ch.Down.Round(time.Millisecond).String(), "retry_in", ch.Interval.String())
	}
}

// guardedKey marks a context inside a guarded call, so that the commands
// go-redis sends on its own within it (the handshake of a new connection)
// are part of that call rather than calls of their own.
type guardedKey struct{}

// guard runs one call to Redis: skipped while the breaker says so,
// bounded by the call budget, and its outcome reported to the breaker.
// The error it returns (and sets on the commands through setErr) wraps
// ErrUnavailable when Redis did not answer.
func (c *Client) guard(ctx context.Context, call func(context.Context) error, setErr func(error)) error {
	if ctx.Value(guardedKey{}) != nil {
		return call(ctx)
	}
	t, ok := c.br.Allow()
	if !ok {
		err := fmt.Errorf("%w: skipped since a call failed", ErrUnavailable)
		setErr(err)
		return err
	}
	cctx, cancel := context.WithTimeout(context.WithValue(ctx, guardedKey{}, true), c.callTimeout)
	err := call(cctx)
	cancel()
	switch {
	case err == nil || isReply(err):
		c.br.Success(t)
		return err
	case ctx.Err() != nil:
		// The caller gave up (or its deadline came first): that says
		// nothing about Redis.
		c.br.Abandon(t)
		return err
	}
	c.br.Failure(t, err)
	err = fmt.Errorf("%w: %w", ErrUnavailable, err)
	setErr(err)
	return err
}

// isReply reports whether err is an answer of the server (redis.Nil, an
// error reply such as NOSCRIPT or WRONGTYPE): Redis is there.
func isReply(err error) bool {
	var re goredis.Error
	return errors.As(err, &re)
}

// guardHook puts every command and pipeline of the client through guard.
type guardHook struct{ c *Client }

func (h guardHook) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (h guardHook) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		return h.c.guard(ctx, func(ctx context.Context) error { return next(ctx, cmd) }, cmd.SetErr)
	}
}

func (h guardHook) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		return h.c.guard(ctx, func(ctx context.Context) error { return next(ctx, cmds) }, func(err error) {
			for _, cmd := range cmds {
				cmd.SetErr(err)
			}
		})
	}
}
