package metrics_test

import (
	"io"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/metrics"
)

func scrape(t *testing.T, m *metrics.Registry) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("scrape = %d", rec.Code)
	}
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

// TestRegistry checks that every event lands in its series, with the label
// values the README's Operating section names, and that a webhook topic
// outside the known set cannot grow the label set.
func TestRegistry(t *testing.T) {
	t.Parallel()
	m := metrics.New([]string{"subscription/updated"})
	m.Lookup(rechargekit.DeskGladly, "DETAILED", rechargekit.OutcomeStale, 3*time.Millisecond)
	m.Lookup(rechargekit.DeskConsole, rechargekit.LevelCard, rechargekit.OutcomeOK, time.Millisecond)
	m.RechargeCall("GET /customers/{id}", 429, 80*time.Millisecond)
	m.RechargeCall("GET /customers/{id}", 0, 5*time.Second)
	m.RateLimitWait(0)
	m.RateLimitWait(1500 * time.Millisecond)
	m.CardCache(rechargekit.CacheHit)
	m.CardCache(rechargekit.CacheStale)
	m.Webhook("subscription/updated", rechargekit.WebhookAccepted)
	m.Webhook("<script>made/up", rechargekit.WebhookAccepted)
	m.Webhook("unknown", rechargekit.WebhookBadSignature)
	m.SignIn(rechargekit.SignInWrong)
	m.SignIn(rechargekit.SignInWrong)
	if err := m.Register(metrics.StateGauge("rechargekit_test_state", "test", []string{"ok", "refused"}, func() string { return "refused" })); err != nil {
		t.Fatal(err)
	}
	body := scrape(t, m)
	for _, want := range []string{
		`rechargekit_lookups_total{desk="gladly",level="DETAILED",outcome="stale"} 1`,
		`rechargekit_lookups_total{desk="console",level="card",outcome="ok"} 1`,
		`rechargekit_lookup_duration_seconds_bucket{desk="gladly",level="DETAILED",le="0.005"} 1`,
		`rechargekit_recharge_requests_total{route="GET /customers/{id}",status="429"} 1`,
		`rechargekit_recharge_requests_total{route="GET /customers/{id}",status="0"} 1`,
		`rechargekit_recharge_request_duration_seconds_count{route="GET /customers/{id}"} 2`,
		`rechargekit_recharge_rate_limit_wait_seconds_count 2`,
		`rechargekit_recharge_rate_limit_delays_total 1`,
		`rechargekit_card_cache_total{result="hit"} 1`,
		`rechargekit_card_cache_total{result="stale"} 1`,
		`rechargekit_webhooks_total{outcome="accepted",topic="subscription/updated"} 1`,
		`rechargekit_webhooks_total{outcome="accepted",topic="other"} 1`,
		`rechargekit_webhooks_total{outcome="bad_signature",topic="unknown"} 1`,
		`rechargekit_console_sign_ins_total{outcome="wrong"} 2`,
		`rechargekit_console_sign_ins_total{outcome="limited"} 0`,
		`rechargekit_test_state{state="refused"} 1`,
		`rechargekit_test_state{state="ok"} 0`,
		`go_goroutines `,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("scrape lacks %s", want)
		}
	}
	if strings.Contains(body, "made/up") {
		t.Error("an unknown webhook topic reached the labels")
	}
}

// TestMirrorMetrics checks the mirror's series: the counters of what it
// wrote, applied and re-created (label values from fixed sets only), and
// the gauges read from its status at each scrape, none of the per-record
// ones while the mirror is off.
func TestMirrorMetrics(t *testing.T) {
	t.Parallel()
	m := metrics.New([]string{"subscription/updated"})
	m.MirrorRecords(rechargekit.MirrorCustomers, 250)
	m.MirrorRecords(rechargekit.MirrorCustomers, 50)
	m.MirrorRecords("made-up", 1)
	m.MirrorWebhookApplied("applied")
	m.MirrorWebhookApplied("ignored_older")
	m.MirrorWebhookApplied("<b>")
	m.MirrorWebhookRecreated("subscription/updated")
	m.MirrorWebhookRecreated("made/up")
	view := metrics.MirrorView{State: rechargekit.MirrorSyncing, Percent: 42.5, Records: map[string]int64{rechargekit.MirrorCustomers: 300}}
	var mu sync.Mutex
	if err := m.Register(metrics.MirrorGauges(func() metrics.MirrorView {
		mu.Lock()
		defer mu.Unlock()
		return view
	})); err != nil {
		t.Fatal(err)
	}
	body := scrape(t, m)
	for _, want := range []string{
		`rechargekit_mirror_records_written_total{resource="customers"} 300`,
		`rechargekit_mirror_records_written_total{resource="other"} 1`,
		`rechargekit_mirror_webhooks_applied_total{outcome="applied"} 1`,
		`rechargekit_mirror_webhooks_applied_total{outcome="ignored_older"} 1`,
		`rechargekit_mirror_webhooks_applied_total{outcome="other"} 1`,
		`rechargekit_mirror_webhooks_recreated_total{topic="subscription/updated"} 1`,
		`rechargekit_mirror_webhooks_recreated_total{topic="other"} 1`,
		`rechargekit_mirror_state{state="syncing"} 1`,
		`rechargekit_mirror_state{state="ready"} 0`,
		`rechargekit_mirror_records{resource="customers"} 300`,
		`rechargekit_mirror_records{resource="events"} 0`,
		`rechargekit_mirror_backfill_percent 42.5`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("scrape lacks %s", want)
		}
	}
	if strings.Contains(body, "made") || strings.Contains(body, "<b>") {
		t.Error("a label value outside the fixed sets reached the labels")
	}

	mu.Lock()
	view = metrics.MirrorView{State: rechargekit.MirrorOff}
	mu.Unlock()
	body = scrape(t, m)
	if !strings.Contains(body, `rechargekit_mirror_state{state="off"} 1`) {
		t.Error("the state gauge does not say off")
	}
	if strings.Contains(body, "rechargekit_mirror_records{") || strings.Contains(body, "rechargekit_mirror_backfill_percent ") {
		t.Error("the mirror's gauges are reported while it is off")
	}
}
