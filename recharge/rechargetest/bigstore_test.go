package rechargetest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"sync"
	"testing"
)

// bigStore is a simulator with 100,000 generated customers, loaded once
// for the benchmarks of this file.
var bigStore = sync.OnceValue(func() *Simulator {
	sim := New(Config{Now: newClock().Now, BucketSize: 1 << 30, LeakPerSecond: 1 << 20})
	sim.Load(GenerateSeed(100_000, 1))
	return sim
})

// pageThrough reads one page of path on sim (through its handler, no
// network) and returns the next cursor.
func pageThrough(tb testing.TB, sim *Simulator, path string) string {
	tb.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.Header.Set("X-Recharge-Access-Token", DefaultToken)
	rec := httptest.NewRecorder()
	sim.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		tb.Fatalf("GET %s = %d %s", path, rec.Code, rec.Body.Bytes())
	}
	var p struct {
		Next *string `json:"next_cursor"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		tb.Fatal(err)
	}
	if p.Next == nil {
		return ""
	}
	return *p.Next
}

// BenchmarkListPage100k is one page of 250 in the middle of a backfill's
// walk (sort_by=id-asc) of a 100,000-customer store, per resource.
func BenchmarkListPage100k(b *testing.B) {
	sim := bigStore()
	for _, res := range []string{"customers", "addresses", "subscriptions", "charges", "payment_methods"} {
		b.Run(res, func(b *testing.B) {
			first := "/" + res + "?sort_by=id-asc&limit=250"
			cur := pageThrough(b, sim, first)
			for range 10 { // into the list
				cur = pageThrough(b, sim, "/"+res+"?limit=250&cursor="+url.QueryEscape(cur))
			}
			path := "/" + res + "?limit=250&cursor=" + url.QueryEscape(cur)
			b.ResetTimer()
			for b.Loop() {
				pageThrough(b, sim, path)
			}
		})
	}
}

// BenchmarkGenerate100k loads a 100,000-customer store.
func BenchmarkGenerate100k(b *testing.B) {
	for b.Loop() {
		sim := New(Config{Now: newClock().Now})
		sim.Load(GenerateSeed(100_000, 1))
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "heap-MiB")
	}
}

// BenchmarkListPage100kByUpdate is one page of 250 of a reconciliation's
// walk (sort_by=updated_at-asc from an updated_at_min) of a
// 100,000-customer store: not a walk of an id order but one pass over the
// candidates that keeps only the page.
func BenchmarkListPage100kByUpdate(b *testing.B) {
	sim := bigStore()
	for _, res := range []string{"customers", "subscriptions", "charges"} {
		b.Run(res, func(b *testing.B) {
			cur := pageThrough(b, sim, "/"+res+"?sort_by=updated_at-asc&limit=250&updated_at_min=2024-01-01")
			path := "/" + res + "?limit=250&cursor=" + url.QueryEscape(cur)
			b.ResetTimer()
			for b.Loop() {
				pageThrough(b, sim, path)
			}
		})
	}
}
