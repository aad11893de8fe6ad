package server

import (
	"context"
	"sync"
	"time"
)

// SignInFailures counts failed console sign-ins per key, so that guessing
// passwords is slow. A key's window opens at its first failure and lasts
// SignInWindow; a failure after that opens a new one.
//
// The console always counts in memory, per replica. Config.SignInFailures
// adds a counter shared by every replica (redis.SignInFailures), so that N
// replicas do not allow N times the guesses; when it fails, the replica's
// own count still applies. Keys hold client addresses and emails: a counter
// that stores them elsewhere should store them hashed.
type SignInFailures interface {
	// Failures returns key's failures in the window open at now.
	Failures(ctx context.Context, key string, now time.Time) (int, error)
	// Fail records one failure of key at now.
	Fail(ctx context.Context, key string, now time.Time) error
	// Reset forgets key's failures (after a successful sign-in).
	Reset(ctx context.Context, key string) error
}

// SignInWindow is how long the sign-in limits count a key's failures.
const SignInWindow = 15 * time.Minute

// memoryFailures is the in-memory SignInFailures of one replica.
type memoryFailures struct {
	window time.Duration

	mu      sync.Mutex
	entries map[string]*failureEntry
}

type failureEntry struct {
	start    time.Time
	failures int
}

// maxFailureEntries bounds the counter's memory: past it, expired windows
// are swept, and if that frees nothing the oldest window is dropped.
const maxFailureEntries = 30000

func newMemoryFailures(window time.Duration) *memoryFailures {
	return &memoryFailures{window: window, entries: map[string]*failureEntry{}}
}

func (m *memoryFailures) Failures(_ context.Context, key string, now time.Time) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.entries[key]
	if e == nil {
		return 0, nil
	}
	if now.Sub(e.start) >= m.window {
		delete(m.entries, key)
		return 0, nil
	}
	return e.failures, nil
}

func (m *memoryFailures) Fail(_ context.Context, key string, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.entries[key]
	if e == nil || now.Sub(e.start) >= m.window {
		if len(m.entries) >= maxFailureEntries {
			m.sweep(now)
		}
		e = &failureEntry{start: now}
		m.entries[key] = e
	}
	e.failures++
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

// signInLimits are the failures allowed per window: per address and
// account; per address alone (so that one address cannot spray guesses
// over many accounts); and per account alone (so that many addresses
// together cannot guess one account's password faster). The last lets
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

func (c *console) signInKeys(ip, account string) []signInKey {
	return []signInKey{
		{"pair:" + ip + "\x00" + account, c.limits.pair},
		{"address:" + ip, c.limits.address},
		{"account:" + account, c.limits.account},
	}
}

// signInBlocked reports whether any of keys has used up its failures, by
// the replica's own count or the shared one.
func (c *console) signInBlocked(ctx context.Context, keys []signInKey, now time.Time) bool {
	var sharedErr error
	blocked := false
	for _, k := range keys {
		n, _ := c.localFailures.Failures(ctx, k.key, now)
		if c.cfg.SignInFailures != nil && sharedErr == nil {
			shared, err := c.cfg.SignInFailures.Failures(ctx, k.key, now)
			sharedErr = err
			n = max(n, shared)
		}
		if n >= k.max {
			blocked = true
			break
		}
	}
	c.sharedFailuresDown(ctx, sharedErr)
	return blocked
}

// signInFailed counts one failure against every key, in both counters.
func (c *console) signInFailed(ctx context.Context, keys []signInKey, now time.Time) {
	var sharedErr error
	for _, k := range keys {
		_ = c.localFailures.Fail(ctx, k.key, now)
		if c.cfg.SignInFailures != nil && sharedErr == nil {
			sharedErr = c.cfg.SignInFailures.Fail(ctx, k.key, now)
		}
	}
	c.sharedFailuresDown(ctx, sharedErr)
}

// signInSucceeded forgets the failures of this address and account; the
// address's and the account's own counts stand.
func (c *console) signInSucceeded(ctx context.Context, keys []signInKey) {
	_ = c.localFailures.Reset(ctx, keys[0].key)
	if c.cfg.SignInFailures != nil {
		c.sharedFailuresDown(ctx, c.cfg.SignInFailures.Reset(ctx, keys[0].key))
	}
}

// sharedFailuresDown logs a failure of the shared counter, once per
// sign-in step; the replica's own count applies meanwhile.
func (c *console) sharedFailuresDown(ctx context.Context, err error) {
	if err != nil {
		c.log.WarnContext(ctx, "shared sign-in limits unavailable; counting on this replica alone", "error", err)
	}
}
