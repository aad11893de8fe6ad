package redis

import (
	"bytes"
	"context"
	"errors"
	"github.com/rechargekit/rechargekit/internal/testkit"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rechargekit/rechargekit/cards/cachetest"
	"github.com/rechargekit/rechargekit/internal/faultnet"
)

// logBuffer collects log lines; safe for concurrent use.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.b.String(), s)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// faultCallTimeout is the call budget of the fault tests: larger than the
// default, so that a machine busy with parallel tests does not make a
// healthy Redis look down, and still far below a lookup's deadline.
const faultCallTimeout = 250 * time.Millisecond

// within is how long any call may take while Redis refuses or hangs:
// generous against faultCallTimeout (timing is not what fails these
// tests), and below the old client's 1 s read timeout with its retries.
const within = time.Second

// proxied is a Client on the test Redis through a faultnet proxy, with a
// clock of the test's own and its log lines.
type proxied struct {
	c      *Client
	proxy  *faultnet.Proxy
	prefix string
	clock  *testkit.Clock
	logs   *logBuffer
}

func mustProxiedRedis(t *testing.T) *proxied {
	t.Helper()
	_, prefix := MustRedis(t) // skips without Redis; deletes prefix's keys at the end
	u, err := url.Parse(os.Getenv(testRedisEnv))
	if err != nil {
		t.Fatal(err)
	}
	p := &proxied{proxy: faultnet.New(t, u.Host), prefix: prefix, clock: newTestClock(), logs: &logBuffer{}}
	u.Host = p.proxy.Addr()
	p.c, err = New(u.String(), Options{CallTimeout: faultCallTimeout, Now: p.clock.Now,
		Logger: slog.New(slog.NewJSONHandler(p.logs, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.c.Close() })
	if err := p.c.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
	return p
}

// bounded runs f and fails the test when it takes longer than within.
func bounded(t *testing.T, what string, f func()) {
	t.Helper()
	start := time.Now()
	f()
	if d := time.Since(start); d > within {
		t.Errorf("%s took %v while Redis was failing, want well under %v", what, d, within)
	}
}

// countingPacer is a Limiter fallback that counts its calls.
type countingPacer struct{ n atomic.Int64 }

func (p *countingPacer) Wait(context.Context) error { p.n.Add(1); return nil }

// TestEveryUseFallsBackAtOnceWhileRedisFails: with Redis refusing or hung,
// the first call fails within its budget, after which the card cache, the
// limiter and the sign-in counts skip Redis and fall back at once: warm and
// new cards are answered from memory, the limiter paces with its fallback,
// the counts fail fast (the console then counts alone). One line says Redis
// is down, one that it is back, and once it answers it is used again.
func TestEveryUseFallsBackAtOnceWhileRedisFails(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		mode faultnet.Mode
	}{{"refusing", faultnet.Refuse}, {"hung", faultnet.Hang}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := mustProxiedRedis(t)
			ctx := t.Context()
			cc := NewCardCache(p.c, CardCacheOptions{Prefix: p.prefix + "card:", NearFor: -1, Now: p.clock.Now})
			fallback := &countingPacer{}
			lim := NewLimiter(p.c, "token "+p.prefix, LimiterOptions{Prefix: p.prefix + "rate:", Fallback: fallback})
			signIns := NewSignInFailures(p.c, SignInOptions{Window: time.Minute, Secret: []byte("s"), Prefix: p.prefix + "signin:"})
			at := p.clock.Now().Truncate(time.Microsecond)
			cachetest.MustSet(t, cc, cachetest.Card(1, at), at, 0)
			if e := cachetest.MustGet(t, cc, 1); e == nil || e.Card == nil {
				t.Fatalf("warm card = %+v", e)
			}

			p.proxy.SetMode(tc.mode)
			bounded(t, "the first Get", func() {
				if e, err := cc.Get(ctx, 1); err != nil || e == nil || e.Card == nil || e.Invalid {
					t.Errorf("Get of the warm card = %+v, %v; want it from memory", e, err)
				}
			})
			bounded(t, "the calls after it", func() {
				for range 20 {
					if e, err := cc.Get(ctx, 1); err != nil || e == nil || e.Card == nil {
						t.Fatalf("Get of the warm card = %+v, %v; want it from memory", e, err)
					}
				}
				if e, err := cc.Get(ctx, 2); err != nil || e != nil {
					t.Errorf("Get of a card never seen = %+v, %v; want a miss", e, err)
				}
				if err := cc.Set(ctx, cachetest.Card(2, at), at, 0); err != nil {
					t.Errorf("Set during the outage: %v", err)
				}
				if e, err := cc.Get(ctx, 2); err != nil || e == nil || e.Card == nil || e.Invalid {
					t.Errorf("Get of a card fetched during the outage = %+v, %v; want it from memory", e, err)
				}
				if err := cc.Invalidate(ctx, 1); !errors.Is(err, ErrUnavailable) {
					t.Errorf("Invalidate = %v, want ErrUnavailable (the webhook must come again)", err)
				}
				if e, _ := cc.Get(ctx, 1); e == nil || !e.Invalid {
					t.Errorf("after Invalidate, Get = %+v; want the card marked invalid", e)
				}
				for range 5 {
					if err := lim.Wait(ctx); err != nil {
						t.Errorf("limiter Wait: %v", err)
					}
				}
				if _, err := signIns.Attempt(ctx, "k", 3, time.Now()); !errors.Is(err, ErrUnavailable) {
					t.Errorf("sign-in Attempt = %v, want ErrUnavailable", err)
				}
			})
			if n := fallback.n.Load(); n != 5 {
				t.Errorf("the limiter's fallback paced %d of 5 requests", n)
			}
			if st := p.c.Status(); st.State != StateDown {
				t.Errorf("status = %+v, want down", st)
			}

			// Back: the first call after the interval probes and Redis is
			// used again.
			p.proxy.SetMode(faultnet.Pass)
			p.clock.Advance(DefaultSkipFor)
			if err := p.c.Ping(ctx); err != nil {
				t.Fatalf("Ping once Redis is back: %v", err)
			}
			if st := p.c.Status(); st.State != StateUp {
				t.Errorf("status = %+v, want up", st)
			}
			if e := cachetest.MustGet(t, cc, 2); e != nil {
				t.Errorf("Get of the card kept only in memory = %+v; want Redis's answer (none) once Redis is back", e)
			}
			if n := p.logs.count("redis does not answer"); n != 1 {
				t.Errorf("%d lines say Redis is down, want 1:\n%s", n, p.logs)
			}
			if n := p.logs.count("redis answers again"); n != 1 {
				t.Errorf("%d lines say Redis is back, want 1:\n%s", n, p.logs)
			}
		})
	}
}

// TestCardCacheKeepsAnOlderWriteForAnOutage: a replica whose card lost to
// a newer one in Redis still holds its own for an outage, marked invalid
// (it may predate a change): served stale, or fetched again.
func TestCardCacheKeepsAnOlderWriteForAnOutage(t *testing.T) {
	t.Parallel()
	p := mustProxiedRedis(t)
	opts := CardCacheOptions{Prefix: p.prefix + "card:", NearFor: -1, Now: p.clock.Now}
	a, b := NewCardCache(p.c, opts), NewCardCache(p.c, opts)
	at := p.clock.Now().Truncate(time.Microsecond)
	cachetest.MustSet(t, a, cachetest.Card(3, at.Add(time.Second)), at.Add(time.Second), 0)
	cachetest.MustSet(t, b, cachetest.Card(3, at), at, 0) // older: Redis keeps a's
	p.proxy.SetMode(faultnet.Refuse)
	e, err := b.Get(t.Context(), 3)
	if err != nil || e == nil || e.Card == nil || !e.Invalid || !e.StoredAt.Equal(at) {
		t.Errorf("b's Get during the outage = %+v, %v; want its own card, invalid", e, err)
	}
}

// TestRedisLibraryLogsThroughSlog: what go-redis itself prints (here, a
// pool that failed to dial) goes to the Client's slog logger, as a JSON
// line like every other, and nothing reaches stderr. go-redis's logger
// belongs to the process, so this runs in a child process of its own.
func TestRedisLibraryLogsThroughSlog(t *testing.T) {
	t.Parallel()
	if os.Getenv("RECHARGEKIT_REDIS_LOG_CHILD") == "1" {
		logger := slog.New(slog.NewJSONHandler(os.Stdout, nil))
		// Port 1 on loopback refuses connections at once.
		c, err := New("redis://127.0.0.1:1/0", Options{Logger: logger})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.Ping(context.Background())
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestRedisLibraryLogsThroughSlog$", "-test.count=1")
	cmd.Env = append(os.Environ(), "RECHARGEKIT_REDIS_LOG_CHILD=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("child: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	if stderr.Len() > 0 {
		t.Errorf("go-redis wrote to stderr:\n%s", stderr.String())
	}
	if !strings.Contains(stdout.String(), `"msg":"redis client","detail":"redis: connection pool: failed to dial`) {
		t.Errorf("the pool's dial failure is not a JSON log line:\n%s", stdout.String())
	}
}
