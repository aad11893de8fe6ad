package metrics_test

import (
	"io"
	"net/http/httptest"
	"strings"
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
