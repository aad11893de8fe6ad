package recharge_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rechargekit/rechargekit/internal/testkit"
	"github.com/rechargekit/rechargekit/recharge"
	"github.com/rechargekit/rechargekit/recharge/rechargetest"
)

const hookSecret = "whsec_handler_tests"

// eventLog records the events a WebhookHandler passes on.
type eventLog struct {
	mu     sync.Mutex
	events []*recharge.WebhookEvent
	err    error
}

func (l *eventLog) OnEvent(ctx context.Context, ev *recharge.WebhookEvent) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, ev)
	return l.err
}

func (l *eventLog) topics() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, ev := range l.events {
		out = append(out, ev.Topic)
	}
	return out
}

func legacy(secret string) func(http.Header, []byte) {
	return func(h http.Header, body []byte) { h.Set(recharge.HeaderHmacSha256, recharge.SignWebhook(secret, body)) }
}

func timestamped(secret string, at time.Time) func(http.Header, []byte) {
	return func(h http.Header, body []byte) {
		h.Set(recharge.HeaderWebhookTimestamp, strconv.FormatInt(at.Unix(), 10))
		h.Set(recharge.HeaderWebhookSignature, recharge.SignWebhookTimestamped(secret, body, at))
	}
}

// deliver sends one delivery to h and returns the answer.
func deliver(t *testing.T, h http.Handler, method, topic string, body []byte, sign func(http.Header, []byte)) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, "/webhooks/recharge", bytes.NewReader(body))
	if topic != "" {
		req.Header.Set(recharge.HeaderTopic, topic)
	}
	if sign != nil {
		sign(req.Header, body)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestWebhookHandler(t *testing.T) {
	t.Parallel()
	now := time.Now()
	sub := []byte(`{"subscription":{"id":585061940,"customer_id":183940021,"status":"cancelled","updated_at":"2025-03-12T09:00:00+00:00"}}`)
	huge := append(append([]byte(`{"subscription":{"id":1,"customer_id":2,"x":"`), bytes.Repeat([]byte("a"), recharge.MaxWebhookBodyBytes)...), `"}}`...)
	tests := []struct {
		name       string
		method     string
		secret     string // the handler's; default hookSecret
		topic      string
		body       []byte
		sign       func(http.Header, []byte)
		onEventErr error
		wantStatus int
		wantTopics []string
	}{
		{name: "legacy signature", topic: "subscription/cancelled", body: sub, sign: legacy(hookSecret),
			wantStatus: 200, wantTopics: []string{"subscription/cancelled"}},
		{name: "timestamped signature", topic: "subscription/cancelled", body: sub, sign: timestamped(hookSecret, now),
			wantStatus: 200, wantTopics: []string{"subscription/cancelled"}},
		{name: "no signature", topic: "subscription/cancelled", body: sub, wantStatus: 401},
		{name: "wrong secret", topic: "subscription/cancelled", body: sub, sign: legacy("guess"), wantStatus: 401},
		{name: "wrong timestamped signature beside a right legacy one", topic: "subscription/cancelled", body: sub,
			sign: func(h http.Header, b []byte) {
				legacy(hookSecret)(h, b)
				timestamped("guess", now)(h, b)
			}, wantStatus: 401},
		{name: "replayed three days later", topic: "subscription/cancelled", body: sub,
			sign: timestamped(hookSecret, now.Add(-72*time.Hour)), wantStatus: 401},
		{name: "replayed three days later with its still valid legacy signature", topic: "subscription/cancelled", body: sub,
			sign: func(h http.Header, b []byte) {
				legacy(hookSecret)(h, b)
				timestamped(hookSecret, now.Add(-72*time.Hour))(h, b)
			}, wantStatus: 401},
		{name: "replayed with the timestamped signature stripped, its timestamp left", topic: "subscription/cancelled", body: sub,
			sign: func(h http.Header, b []byte) {
				legacy(hookSecret)(h, b)
				timestamped(hookSecret, now.Add(-72*time.Hour))(h, b)
				h.Del(recharge.HeaderWebhookSignature)
			}, wantStatus: 401},
		{name: "body signed, then changed", topic: "subscription/cancelled", body: sub,
			sign: func(h http.Header, b []byte) { legacy(hookSecret)(h, append(slices.Clone(b), ' ')) }, wantStatus: 401},
		{name: "no secret configured", secret: "-", topic: "subscription/cancelled", body: sub, sign: legacy(""), wantStatus: 401},
		{name: "too large", topic: "subscription/updated", body: huge, sign: legacy(hookSecret), wantStatus: 413},
		{name: "not a POST", method: http.MethodGet, topic: "subscription/updated", wantStatus: 405},
		{name: "signed but not JSON", topic: "subscription/updated", body: []byte(`{"subscription":`), sign: legacy(hookSecret), wantStatus: 400},
		{name: "signed, wrong object", topic: "subscription/updated", body: []byte(`{"customer":{"id":1}}`), sign: legacy(hookSecret), wantStatus: 400},
		{name: "a topic the card ignores is still passed on", topic: "order/created", body: []byte(`{"order":{"id":1}}`),
			sign: legacy(hookSecret), wantStatus: 200, wantTopics: []string{"order/created"}},
		{name: "handling fails: Recharge should deliver again", topic: "customer/updated", body: []byte(`{"customer":{"id":9}}`),
			sign: legacy(hookSecret), onEventErr: errors.New("redis down"), wantStatus: 500, wantTopics: []string{"customer/updated"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			log := &eventLog{err: tt.onEventErr}
			secret := hookSecret
			if tt.secret == "-" {
				secret = ""
			}
			h := &recharge.WebhookHandler{Verifier: recharge.WebhookVerifier{Secret: secret}, OnEvent: log.OnEvent}
			method := tt.method
			if method == "" {
				method = http.MethodPost
			}
			rec := deliver(t, h, method, tt.topic, tt.body, tt.sign)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d (%s), want %d", rec.Code, rec.Body, tt.wantStatus)
			}
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type = %q, want JSON", ct)
			}
			var answer map[string]string
			if err := json.Unmarshal(rec.Body.Bytes(), &answer); err != nil {
				t.Errorf("answer is not a JSON object: %q", rec.Body)
			}
			if strings.Contains(rec.Body.String(), hookSecret) {
				t.Error("the answer repeats the secret")
			}
			if diff := cmp.Diff(tt.wantTopics, log.topics()); diff != "" {
				t.Errorf("events passed on (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWebhookHandlerAnswersBeforeSlowWorkEnds(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	finished := make(chan error, 1)
	h := &recharge.WebhookHandler{
		Verifier:      recharge.WebhookVerifier{Secret: hookSecret},
		AnswerTimeout: 50 * time.Millisecond,
		OnEvent: func(ctx context.Context, ev *recharge.WebhookEvent) error {
			<-release
			finished <- ctx.Err() // still alive after the answer
			return nil
		},
	}
	body := []byte(`{"customer":{"id":9}}`)
	if rec := deliver(t, h, http.MethodPost, "customer/updated", body, legacy(hookSecret)); rec.Code != http.StatusAccepted {
		t.Fatalf("status = %d, want 202 while the work goes on", rec.Code)
	}
	close(release)
	if err := <-finished; err != nil {
		t.Errorf("the work's context ended with the answer: %v", err)
	}
}

func TestWebhookHandlerRecoversFromAPanickingHandler(t *testing.T) {
	t.Parallel()
	h := &recharge.WebhookHandler{
		Verifier: recharge.WebhookVerifier{Secret: hookSecret},
		OnEvent:  func(context.Context, *recharge.WebhookEvent) error { panic("bug") },
	}
	body := []byte(`{"customer":{"id":9}}`)
	if rec := deliver(t, h, http.MethodPost, "customer/updated", body, legacy(hookSecret)); rec.Code != http.StatusInternalServerError {
		t.Fatalf("status = %d, want 500", rec.Code)
	}
}

func TestInvalidateOnEvent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		topic string
		body  string
		want  []int64 // customers invalidated
	}{
		{"subscription", "subscription/updated", `{"subscription":{"id":5,"customer_id":42}}`, []int64{42}},
		{"customer", "customer/deleted", `{"customer":{"id":43}}`, []int64{43}},
		{"charge with a flat customer_id", "charge/paid", `{"charge":{"id":6,"customer_id":44}}`, []int64{44}},
		{"charge with a customer object", "charge/updated", `{"charge":{"id":6,"customer":{"id":45,"email":"a@example.com"}}}`, []int64{45}},
		{"address: the customer from the address", "address/updated", `{"address":{"id":7,"customer_id":46}}`, []int64{46}},
		{"order: not on the card", "order/created", `{"order":{"id":8,"customer_id":47}}`, nil},
		{"no customer named", "charge/deleted", `{"charge":{"id":9}}`, nil},
		// Deliveries without an X-Recharge-Topic header are dispatched by
		// the payload's top-level key.
		{"no topic: subscription", "", `{"subscription":{"id":5,"customer_id":48}}`, []int64{48}},
		{"no topic: customer", "", `{"customer":{"id":49}}`, []int64{49}},
		{"no topic: address", "", `{"address":{"id":7,"customer_id":50}}`, []int64{50}},
		{"no topic: charge beside metadata", "", `{"charge":{"id":6,"customer_id":51},"webhook_id":3}`, []int64{51}},
		{"no topic: order", "", `{"order":{"id":8,"customer_id":52}}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got []int64
			h := &recharge.WebhookHandler{
				Verifier: recharge.WebhookVerifier{Secret: hookSecret},
				OnEvent: recharge.InvalidateOnEvent(func(ctx context.Context, id int64) error {
					got = append(got, id)
					return nil
				}),
			}
			// Twice: a duplicate delivery is harmless.
			for range 2 {
				if rec := deliver(t, h, http.MethodPost, tt.topic, []byte(tt.body), legacy(hookSecret)); rec.Code != 200 {
					t.Fatalf("status = %d (%s), want 200", rec.Code, rec.Body)
				}
			}
			var want []int64
			for _, id := range tt.want {
				want = append(want, id, id)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("invalidated (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("an invalidation failure is reported", func(t *testing.T) {
		t.Parallel()
		fail := recharge.InvalidateOnEvent(func(context.Context, int64) error { return errors.New("redis down") })
		ev, err := recharge.ParseWebhook("customer/updated", []byte(`{"customer":{"id":9}}`))
		if err != nil {
			t.Fatal(err)
		}
		if err := fail(context.Background(), ev); err == nil || !strings.Contains(err.Error(), "customer 9") {
			t.Errorf("err = %v, want the failure with the customer", err)
		}
	})
}

func TestCardTopicsAreCardTopics(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, topic := range recharge.CardTopics {
		if !recharge.IsCardTopic(topic) || seen[topic] {
			t.Errorf("CardTopics: %q is repeated or not a card topic", topic)
		}
		seen[topic] = true
	}
	for _, topic := range []string{"order/created", "plan/updated", "store/updated", "recharge/uninstalled", ""} {
		if recharge.IsCardTopic(topic) {
			t.Errorf("IsCardTopic(%q) = true", topic)
		}
	}
}

func TestInstallAndUninstallWebhooks(t *testing.T) {
	t.Parallel()
	// Recharge delivers registered webhooks signed with the client secret.
	log := &eventLog{}
	receiver := httptest.NewServer(&recharge.WebhookHandler{Verifier: recharge.WebhookVerifier{Secret: hookSecret}, OnEvent: log.OnEvent})
	t.Cleanup(receiver.Close)
	// A roomy bucket: the test makes about 60 calls and must not wait.
	sim := rechargetest.NewServer(t, rechargetest.Config{WebhookSecret: hookSecret, BucketSize: 1000, LeakPerSecond: 1000})
	sim.Load(rechargetest.DemoSeed())
	client := sim.Client(recharge.WithRateLimit(1000, 1000))
	ctx := context.Background()
	address := receiver.URL + "/webhooks/recharge"

	other, _, err := client.Webhooks.Create(ctx, &recharge.WebhookCreateRequest{Address: "http://127.0.0.1:1/other-hook", Topic: "subscription/updated"})
	if err != nil {
		t.Fatal(err)
	}
	// One of the topics is already there: it is not registered twice.
	if _, _, err := client.Webhooks.Create(ctx, &recharge.WebhookCreateRequest{Address: address, Topic: "customer/updated"}); err != nil {
		t.Fatal(err)
	}

	created, err := recharge.InstallWebhooks(ctx, client, address, recharge.CardTopics)
	if err != nil {
		t.Fatal(err)
	}
	var topics []string
	for _, w := range created {
		if w.Address != address || w.ID == 0 {
			t.Errorf("created %+v, want address %s and an id", w, address)
		}
		topics = append(topics, w.Topic)
	}
	want := slices.DeleteFunc(slices.Clone(recharge.CardTopics), func(s string) bool { return s == "customer/updated" })
	if diff := cmp.Diff(want, topics); diff != "" {
		t.Errorf("registered topics (-want +got):\n%s", diff)
	}
	again, err := recharge.InstallWebhooks(ctx, client, address, recharge.CardTopics)
	if err != nil || len(again) != 0 {
		t.Fatalf("a second install created %d webhooks (%v), want none", len(again), err)
	}
	listed, err := recharge.ListWebhooks(ctx, client, address)
	if err != nil || len(listed) != len(recharge.CardTopics) {
		t.Fatalf("ListWebhooks = %d webhooks (%v), want %d", len(listed), err, len(recharge.CardTopics))
	}

	// A change reaches the receiver through the registered webhook.
	subs, _, err := client.Subscriptions.List(ctx, &recharge.SubscriptionListOptions{CustomerID: rechargetest.DemoAlexRiveraID, Status: "active"})
	if err != nil || len(subs) == 0 {
		t.Fatalf("the demo customer's active subscriptions: %v, %v", subs, err)
	}
	if _, _, err := client.Subscriptions.Cancel(ctx, int64(subs[0].ID), &recharge.SubscriptionCancelRequest{CancellationReason: "Other"}); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, "a subscription/cancelled delivery", func() bool {
		return slices.Contains(log.topics(), "subscription/cancelled")
	})

	removed, err := recharge.UninstallWebhooks(ctx, client, address)
	if err != nil || len(removed) != len(recharge.CardTopics) {
		t.Fatalf("UninstallWebhooks removed %d (%v), want %d", len(removed), err, len(recharge.CardTopics))
	}
	all, err := recharge.ListWebhooks(ctx, client, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1 || all[0].ID != other.ID {
		t.Errorf("after uninstall: %+v, want only the other address's webhook", all)
	}
	before := sim.Stats().Requests
	if created, err := recharge.InstallWebhooks(ctx, client, " ", recharge.CardTopics); err == nil || created != nil || sim.Stats().Requests != before {
		t.Errorf("InstallWebhooks with no address = %v, %v after %d requests; want an error before any request", created, err, sim.Stats().Requests-before)
	}
}

func TestInstallWebhooksReportsRefusals(t *testing.T) {
	t.Parallel()
	// A token without read_orders may not subscribe to charge topics.
	sim := rechargetest.NewServer(t, rechargetest.Config{Scopes: []string{"read_customers", "read_subscriptions"}})
	created, err := recharge.InstallWebhooks(context.Background(), sim.Client(), "https://example.com/hook", recharge.CardTopics)
	if !recharge.IsForbidden(err) {
		t.Fatalf("err = %v, want the 403", err)
	}
	if len(created) == 0 || !strings.Contains(err.Error(), "charge/") {
		t.Errorf("created %d before failing (%v); want the subscription and customer topics, then the charge refusal", len(created), err)
	}
}
