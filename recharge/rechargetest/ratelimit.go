package rechargetest

import (
	"math"
	"time"
)

// bucket is Recharge's per-token leaky bucket (spec section 10): each
// request adds one unit, the bucket drains LeakPerSecond units a second, and
// a request that would overflow it is refused with a 429. Time comes from
// Config.Now, so tests drive it with a fake clock.
type bucket struct {
	level float64
	last  time.Time
}

func (b *bucket) drain(now time.Time, leak float64) {
	if dt := now.Sub(b.last).Seconds(); dt > 0 {
		b.level = math.Max(0, b.level-dt*leak)
	}
	if now.After(b.last) {
		b.last = now
	}
}

// used reports the bucket's level as X-Recharge-Limit shows it: whole
// requests, rounded up.
func (b *bucket) used(now time.Time, leak float64) int {
	b.drain(now, leak)
	return int(math.Ceil(b.level - 1e-9))
}

// takeToken adds one request to the token's bucket, or reports false when
// the bucket is full.
func (s *Simulator) takeToken(token string) bool {
	now := s.now()
	s.ctl.Lock()
	defer s.ctl.Unlock()
	b := s.buckets[token]
	if b == nil {
		b = &bucket{last: now}
		s.buckets[token] = b
	}
	b.drain(now, s.leakRate(token))
	if b.level+1 > float64(s.cfg.BucketSize)+1e-9 {
		return false
	}
	b.level++
	return true
}

// leakRate is the drain rate of token's bucket: its TokenLeakPerSecond,
// else LeakPerSecond.
func (s *Simulator) leakRate(token string) float64 {
	if r, ok := s.cfg.TokenLeakPerSecond[token]; ok && r > 0 {
		return r
	}
	return s.cfg.LeakPerSecond
}
