package recharge_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/rechargekit/rechargekit/internal/testkit"
	"github.com/rechargekit/rechargekit/recharge"
	"github.com/rechargekit/rechargekit/recharge/rechargetest"
)

// TestInstalledWebhooksCoverPaymentMethodChanges: the card shows the
// customer's default payment method (brand, last 4, expiry), so the
// webhooks `rechargekit webhooks install` registers (CardTopics) must
// include the topic Recharge sends when that method changes
// (customer/payment_method_updated); else a customer who replaces an
// expired card keeps seeing it flagged on the card until its TTL.
func TestInstalledWebhooksCoverPaymentMethodChanges(t *testing.T) {
	t.Parallel()
	log := &eventLog{}
	receiver := httptest.NewServer(&recharge.WebhookHandler{Verifier: recharge.WebhookVerifier{Secret: hookSecret}, OnEvent: log.OnEvent})
	t.Cleanup(receiver.Close)
	sim := rechargetest.NewServer(t, rechargetest.Config{WebhookSecret: hookSecret, BucketSize: 1000, LeakPerSecond: 1000})
	sim.Load(rechargetest.DemoSeed())
	client := sim.Client(recharge.WithRateLimit(1000, 1000))
	ctx := context.Background()
	if _, err := recharge.InstallWebhooks(ctx, client, receiver.URL+"/webhooks/recharge", recharge.CardTopics); err != nil {
		t.Fatal(err)
	}

	// The customer adds a new default card in the portal.
	body := fmt.Sprintf(`{"customer_id":%d,"default":true,"payment_type":"CREDIT_CARD","processor_name":"stripe",`+
		`"processor_customer_token":"cus_simtoknew","processor_payment_method_token":"pm_simtoknew"}`, rechargetest.DemoAlexRiveraID)
	req, _ := http.NewRequest(http.MethodPost, sim.URL+"/payment_methods", strings.NewReader(body))
	req.Header.Set("X-Recharge-Access-Token", rechargetest.DefaultToken)
	req.Header.Set("X-Recharge-Version", "2021-11")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /payment_methods = %d", resp.StatusCode)
	}
	testkit.WaitFor(t, "a customer/payment_method_updated delivery", func() bool {
		return slices.Contains(log.topics(), "customer/payment_method_updated")
	})
	log.mu.Lock()
	defer log.mu.Unlock()
	for _, ev := range log.events {
		if ev.Topic == "customer/payment_method_updated" && ev.CustomerID() != rechargetest.DemoAlexRiveraID {
			t.Errorf("customer/payment_method_updated names customer %d, want %d (the card to invalidate)", ev.CustomerID(), rechargetest.DemoAlexRiveraID)
		}
	}
}
