package server

import (
	"sync"
	"time"
)

// loginLimiter counts failed sign-ins per key in a fixed window, so that
// guessing a password from one address is slow: after max failures the
// key is refused until its window ends. It lives in memory: each replica
// counts on its own, which bounds guessing per replica and costs nothing
// to run.
type loginLimiter struct {
	max    int
	window time.Duration

	mu      sync.Mutex
	entries map[string]*loginEntry
}

type loginEntry struct {
	start    time.Time
	failures int
}

// maxLimiterEntries bounds the limiter's memory: past it, expired windows
// are swept, and if that frees nothing the oldest window is dropped.
const maxLimiterEntries = 10000

func newLoginLimiter(max int, window time.Duration) *loginLimiter {
	return &loginLimiter{max: max, window: window, entries: map[string]*loginEntry{}}
}

// blocked reports whether key has used up its failures at now.
func (l *loginLimiter) blocked(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.entries[key]
	if e == nil {
		return false
	}
	if now.Sub(e.start) >= l.window {
		delete(l.entries, key)
		return false
	}
	return e.failures >= l.max
}

// fail records one failed attempt for key at now.
func (l *loginLimiter) fail(key string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.entries[key]
	if e == nil || now.Sub(e.start) >= l.window {
		if len(l.entries) >= maxLimiterEntries {
			l.sweep(now)
		}
		e = &loginEntry{start: now}
		l.entries[key] = e
	}
	e.failures++
}

// reset forgets key's failures (after a successful sign-in).
func (l *loginLimiter) reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.entries, key)
}

// sweep drops expired windows, or the oldest one when none has expired.
// The caller holds l.mu.
func (l *loginLimiter) sweep(now time.Time) {
	var oldestKey string
	var oldest time.Time
	for k, e := range l.entries {
		if now.Sub(e.start) >= l.window {
			delete(l.entries, k)
			continue
		}
		if oldestKey == "" || e.start.Before(oldest) {
			oldestKey, oldest = k, e.start
		}
	}
	if len(l.entries) >= maxLimiterEntries && oldestKey != "" {
		delete(l.entries, oldestKey)
	}
}
