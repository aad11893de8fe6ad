package recharge_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/metrics/metricstest"
	"github.com/rechargekit/rechargekit/recharge"
)

// TestWebhookHandlerMetrics checks that every delivery is counted once, by
// topic and outcome, and that a refused delivery's untrusted topic header
// never becomes a label.
func TestWebhookHandlerMetrics(t *testing.T) {
	t.Parallel()
	sub := []byte(`{"subscription":{"id":585061940,"customer_id":183940021,"status":"cancelled"}}`)
	rec := &metricstest.Recorder{}
	fail := false
	h := &recharge.WebhookHandler{
		Verifier: recharge.WebhookVerifier{Secret: hookSecret, Now: time.Now},
		OnEvent: func(context.Context, *recharge.WebhookEvent) error {
			if fail {
				return errors.New("cache down")
			}
			return nil
		},
		Metrics: rec,
	}
	steps := []struct {
		method, topic string
		body          []byte
		sign          func(http.Header, []byte)
		fail          bool
		status        int
		want          string
	}{
		{"POST", "subscription/cancelled", sub, legacy(hookSecret), false, 200, "webhook subscription/cancelled " + rechargekit.WebhookAccepted},
		{"POST", "subscription/cancelled", sub, timestamped(hookSecret, time.Now()), true, 500, "webhook subscription/cancelled " + rechargekit.WebhookFailed},
		{"POST", "<script>/x", sub, legacy("not-the-secret"), false, 401, "webhook unknown " + rechargekit.WebhookBadSignature},
		{"POST", "subscription/cancelled", []byte(`{"subscription":`), legacy(hookSecret), false, 400, "webhook subscription/cancelled " + rechargekit.WebhookBadRequest},
		{"GET", "subscription/cancelled", nil, nil, false, 405, "webhook unknown " + rechargekit.WebhookBadRequest},
	}
	for i, st := range steps {
		fail = st.fail
		before := rec.Count(st.want)
		if got := deliver(t, h, st.method, st.topic, st.body, st.sign); got.Code != st.status {
			t.Errorf("step %d: status %d, want %d", i, got.Code, st.status)
		}
		if rec.Count(st.want)-before != 1 {
			t.Errorf("step %d: %q not counted once: %v", i, st.want, rec.Counts())
		}
	}
	total := 0
	for k, n := range rec.Counts() {
		total += n
		if k == "webhook <script>/x "+rechargekit.WebhookBadSignature {
			t.Errorf("an unverified topic became a label: %q", k)
		}
	}
	if total != len(steps) {
		t.Errorf("%d deliveries counted %d times: %v", len(steps), total, rec.Counts())
	}
}
