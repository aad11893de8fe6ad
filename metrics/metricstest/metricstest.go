// Package metricstest records rechargekit.Metrics events in memory, for
// tests that check what an adapter reports.
package metricstest

import (
	"fmt"
	"maps"
	"sync"
	"time"
)

// Recorder is a rechargekit.Metrics that counts every event by its labels.
// The zero value is ready to use; it is safe for concurrent use.
type Recorder struct {
	mu     sync.Mutex
	counts map[string]int
	waits  []time.Duration
}

func (r *Recorder) add(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.counts == nil {
		r.counts = map[string]int{}
	}
	r.counts[key]++
}

// Lookup implements rechargekit.Metrics: counted as "lookup desk level outcome".
func (r *Recorder) Lookup(desk, level, outcome string, took time.Duration) {
	r.add(fmt.Sprintf("lookup %s %s %s", desk, level, outcome))
}

// RechargeCall implements rechargekit.Metrics: counted as "call ROUTE STATUS",
// e.g. "call GET /customers/{id} 200".
func (r *Recorder) RechargeCall(route string, status int, took time.Duration) {
	r.add(fmt.Sprintf("call %s %d", route, status))
}

// RateLimitWait implements rechargekit.Metrics: counted as "wait", and kept.
func (r *Recorder) RateLimitWait(took time.Duration) {
	r.add("wait")
	r.mu.Lock()
	defer r.mu.Unlock()
	r.waits = append(r.waits, took)
}

// CardCache implements rechargekit.Metrics: counted as "cache RESULT".
func (r *Recorder) CardCache(result string) { r.add("cache " + result) }

// Webhook implements rechargekit.Metrics: counted as "webhook TOPIC OUTCOME".
func (r *Recorder) Webhook(topic, outcome string) {
	r.add(fmt.Sprintf("webhook %s %s", topic, outcome))
}

// SignIn implements rechargekit.Metrics: counted as "signin OUTCOME".
func (r *Recorder) SignIn(outcome string) { r.add("signin " + outcome) }

// Count returns how many events had the key (see each method for its form).
func (r *Recorder) Count(key string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.counts[key]
}

// Counts returns a copy of every count so far.
func (r *Recorder) Counts() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.counts)
}

// Waits returns every rate-limit wait so far.
func (r *Recorder) Waits() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Duration(nil), r.waits...)
}
