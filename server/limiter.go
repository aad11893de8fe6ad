package server

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"
)

// SignInFailures counts console sign-in attempts per key, so that guessing
// passwords is slow. A key's window opens at its first attempt and lasts
// SignInWindow; an attempt after that opens a new one.
//
// Each attempt is claimed before its password is checked, in one atomic
// step (Attempt), so that guesses sent in parallel cannot all pass the
// check before any of them is counted; a right password gives its claim
// back (Release) or clears the key (Reset).
//
// The console counts in memory, per replica, unless Config.SignInFailures
// is set: then every replica counts on that shared counter
// (redis.SignInFailures), and on its own only while the shared one fails.
// Keys hold client addresses and emails: a counter that stores them
// elsewhere should store them keyed-hashed.
type SignInFailures interface {
	// Attempt counts one attempt of key in the window open at now, unless
	// key already has max there: then it counts nothing and reports false.
	Attempt(ctx context.Context, key string, max int, now time.Time) (bool, error)
	// Release gives back one attempt of key, if the window open at now
	// still counts one.
	Release(ctx context.Context, key string, now time.Time) error
	// Reset forgets every attempt of key.
	Reset(ctx context.Context, key string) error
}

// SignInWindow is how long the sign-in limits count a key's attempts.
const SignInWindow = 15 * time.Minute

// memoryFailures is the in-memory SignInFailures of one replica.
type memoryFailures struct {
	window time.Duration

	mu      sync.Mutex
	entries map[string]*failureEntry
}

type failureEntry struct {
	start time.Time
	n     int
}

// maxFailureEntries bounds the counter's memory: past it, expired windows
// are swept, and if that frees nothing the oldest window is dropped. Keys
// are at most a few hundred bytes (signInKeys cuts emails).
const maxFailureEntries = 30000

func newMemoryFailures(window time.Duration) *memoryFailures {
	return &memoryFailures{window: window, entries: map[string]*failureEntry{}}
}

func (m *memoryFailures) Attempt(_ context.Context, key string, max int, now time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.entries[key]
	if e == nil || now.Sub(e.start) >= m.window {
		if max < 1 {
			return false, nil
		}
		if e == nil && len(m.entries) >= maxFailureEntries {
			m.sweep(now)
		}
		m.entries[key] = &failureEntry{start: now, n: 1}
		return true, nil
	}
	if e.n >= max {
		return false, nil
	}
	e.n++
	return true, nil
}

func (m *memoryFailures) Release(_ context.Context, key string, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e := m.entries[key]; e != nil && now.Sub(e.start) < m.window && e.n > 0 {
		e.n--
	}
	return nil
}

func (m *memoryFailures) Reset(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.entries, key)
	return nil
}

// sweep drops expired windows, or the oldest one when none has expired.
// The caller holds m.mu.
func (m *memoryFailures) sweep(now time.Time) {
	var oldestKey string
	var oldest time.Time
	for k, e := range m.entries {
		if now.Sub(e.start) >= m.window {
			delete(m.entries, k)
			continue
		}
		if oldestKey == "" || e.start.Before(oldest) {
			oldestKey, oldest = k, e.start
		}
	}
	if len(m.entries) >= maxFailureEntries && oldestKey != "" {
		delete(m.entries, oldestKey)
	}
}

// signInLimits are the attempts allowed per window: per address and
// account; per address alone (so that one address cannot spray guesses
// over many accounts); and per account alone (so that many addresses
// together cannot guess one account's password faster). Right passwords
// give their attempt back, so only failures use them up. The last lets
// anyone who knows an email lock its account for up to one window; it is
// set high enough that a person mistyping never reaches it.
type signInLimits struct {
	pair, address, account int
}

var defaultSignInLimits = signInLimits{pair: 10, address: 50, account: 100}

// signInKey is one limit's key and its allowance.
type signInKey struct {
	key string
	max int
}

// maxEmailBytes is the longest email address there can be (RFC 5321's
// path limit); a longer one is cut in the limit keys, which bounds them.
const maxEmailBytes = 254

// signInKeys returns the keys of an attempt: address and account, address,
// account. The first is cleared by a right password.
func (c *console) signInKeys(ip, account string) []signInKey {
	if len(account) > maxEmailBytes {
		account = account[:maxEmailBytes]
	}
	return []signInKey{
		{"pair:" + ip + "\x00" + account, c.limits.pair},
		{"address:" + ip, c.limits.address},
		{"account:" + account, c.limits.account},
	}
}

// sharedCounterTimeout bounds each call to the shared counter: a Redis
// that hangs must not hold a sign-in.
const sharedCounterTimeout = time.Second

// withCounter runs op on the shared counter, or on this replica's own
// when there is none or the shared one fails. An outage of the shared
// counter is logged once when its calls start failing and once when they
// succeed again (sharedDown), not once per call: a sign-in makes several,
// and while Redis is down every one fails.
func (c *console) withCounter(ctx context.Context, op func(ctx context.Context, f SignInFailures) error) {
	if c.cfg.SignInFailures != nil {
		sctx, cancel := context.WithTimeout(ctx, sharedCounterTimeout)
		err := op(sctx, c.cfg.SignInFailures)
		cancel()
		if err == nil {
			if c.sharedDown.CompareAndSwap(true, false) {
				c.log.InfoContext(ctx, "shared sign-in limits answer again; counting on them")
			}
			return
		}
		if c.sharedDown.CompareAndSwap(false, true) {
			c.log.WarnContext(ctx, "shared sign-in limits unavailable; counting on this replica alone until they answer", "error", err)
		}
	}
	_ = op(ctx, c.localFailures) // in memory: never fails
}

// claimSignIn counts this attempt against every key before the password
// is checked. When a key has used up its allowance it gives back the
// claims already made and reports false: the attempt is refused and
// counts nowhere.
func (c *console) claimSignIn(ctx context.Context, keys []signInKey, now time.Time) bool {
	for i, k := range keys {
		var ok bool
		c.withCounter(ctx, func(ctx context.Context, f SignInFailures) error {
			var err error
			ok, err = f.Attempt(ctx, k.key, k.max, now)
			return err
		})
		if !ok {
			c.releaseSignIn(ctx, keys[:i], now)
			return false
		}
	}
	return true
}

// releaseSignIn gives back this attempt's claims on keys.
func (c *console) releaseSignIn(ctx context.Context, keys []signInKey, now time.Time) {
	for _, k := range keys {
		c.withCounter(ctx, func(ctx context.Context, f SignInFailures) error { return f.Release(ctx, k.key, now) })
	}
}

// signInSucceeded clears the failures of this address and account, and
// gives back this attempt's claims on the address and on the account,
// whose other failures stand.
func (c *console) signInSucceeded(ctx context.Context, keys []signInKey, now time.Time) {
	c.withCounter(ctx, func(ctx context.Context, f SignInFailures) error { return f.Reset(ctx, keys[0].key) })
	c.releaseSignIn(ctx, keys[1:], now)
}

// DefaultSignInWait is how long a sign-in waits for a free password check
// when every one is busy (see hashGate) before it is refused: long enough
// to ride out a short burst of agents arriving at once, short enough that
// a person is told to retry rather than left looking at a spinner.
const DefaultSignInWait = 2 * time.Second

// errSignInBusy is returned when a password could not be checked because
// every check was busy for longer than the wait allows.
var errSignInBusy = errors.New("server: every password check is busy")

// hashGate bounds how many passwords are checked at once. Each check runs
// argon2id over 19 MiB (see HashPassword), so a flood of sign-ins, wrong
// or not, would otherwise allocate 19 MiB per request in flight: hundreds
// of megabytes for a few dozen attempts. Checks beyond the bound wait in
// line, up to a short wait, and are then refused. The checks are
// CPU-bound on one lane, so more of them at once than there are processors
// would not finish any sooner, and on a small shared machine even two at
// once finish no sooner than one after the other (see
// defaultPasswordChecks). The bound is per console, that is per process in
// production.
type hashGate struct {
	sem  *semaphore.Weighted
	wait time.Duration
	// queued counts the checks waiting for a slot, so that tests can see
	// a queue form without timing it.
	queued atomic.Int64
}

// defaultPasswordChecks is how many password checks run at once unless a
// test says otherwise: one. Each holds 19 MiB, which the garbage
// collector's headroom about doubles. Measured with 500 concurrent wrong
// sign-ins against rechargekit serve on two cores, one check at a time
// raised the peak RSS by about 100 MiB and checked as many passwords
// within the wait as two at a time did, which raised it by 135 to 155 MiB
// (and without the gate, by over 5 GiB). A check takes some 30 ms, so one
// at a time still signs in dozens of agents a second, and the bound does
// not grow with the machine.
const defaultPasswordChecks = 1

// newHashGate returns a gate that lets n checks run at once
// (defaultPasswordChecks when n < 1) and makes the others wait up to wait
// (DefaultSignInWait when wait <= 0).
func newHashGate(n int, wait time.Duration) *hashGate {
	if n < 1 {
		n = defaultPasswordChecks
	}
	if wait <= 0 {
		wait = DefaultSignInWait
	}
	return &hashGate{sem: semaphore.NewWeighted(int64(n)), wait: wait}
}

// run runs check once a slot is free and returns its result. It returns
// errSignInBusy when no slot came free within the gate's wait, and the
// context's error when ctx ended first; check has not run then.
func (g *hashGate) run(ctx context.Context, check func() bool) (bool, error) {
	wctx, cancel := context.WithTimeout(ctx, g.wait)
	defer cancel()
	g.queued.Add(1)
	err := g.sem.Acquire(wctx, 1)
	g.queued.Add(-1)
	if err != nil {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		return false, errSignInBusy
	}
	defer g.sem.Release(1)
	return check(), nil
}
