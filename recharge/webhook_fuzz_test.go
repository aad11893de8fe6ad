package recharge_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rechargekit/rechargekit/recharge"
)

// Delivery modes of FuzzWebhookHandler.
const (
	hookLegacy      = iota // X-Recharge-Hmac-Sha256 over the body
	hookTimestamped        // X-Recharge-Webhook-Signature over the body, now
	hookUnsigned           // no signature
	hookWrongBody          // a legacy signature over another body
	hookStale              // a timestamped signature 72 hours old
	hookWrongSecret        // a timestamped signature with another secret
	hookGet                // GET instead of POST
	hookModes
)

// FuzzWebhookHandler delivers bodies of any shape and topic to
// WebhookHandler, signed in either form, unsigned, or wrongly signed: the
// answer is 200 for a signed body that ParseWebhook accepts, 400 for one it
// refuses, 401 without a valid signature (and nothing is invalidated), 405
// for another method, and 500 only when the invalidation itself failed;
// the customer invalidated is the event's; the body is always JSON.
func FuzzWebhookHandler(f *testing.F) {
	for i, seed := range []struct{ topic, body string }{
		{"subscription/updated", `{"subscription":{"id":1,"customer_id":2}}`},
		{"address/updated", `{"address":{"id":1,"customer_id":"2"}}`},
		{"charge/paid", `{"charge":{"id":1,"customer":{"id":2}}}`},
		{"", `{"customer":{"id":3}}`},
		{"order/created", `[]`},
		{"customer/updated", `{"customer":null}`},
		{"CUSTOMER/Deleted ", `{"customer":{"id":"44","email":"x@y"}}`},
		{"subscription/cancelled", `{"subscription":{"id":5,"customer_id":6,"cancelled_at":"2025-02-01T10:30:00+01:00"}}`},
		{"charge/created", `{"charge":{"id":1,"customer_id":0}}`},
		{"plan/updated", `{"plan":{"id":1}}`},
	} {
		for mode := range hookModes {
			f.Add(seed.topic, []byte(seed.body), uint8(mode+i*hookModes))
		}
	}
	f.Add("subscription/updated", []byte(`{"subscription":{"id":1,"customer_id":2}}`), uint8(128+hookLegacy))
	f.Add("order/created", []byte(`{"order":{"id":1,"customer_id":2}}`), uint8(128+hookTimestamped))
	now := time.Unix(1741082400, 0)
	f.Fuzz(func(t *testing.T, topic string, body []byte, mode uint8) {
		invalidateFails := mode >= 128
		var (
			mu          sync.Mutex
			invalidated []int64
		)
		h := &recharge.WebhookHandler{
			Verifier: recharge.WebhookVerifier{Secret: hookSecret, Now: func() time.Time { return now }},
			OnEvent: recharge.InvalidateOnEvent(func(_ context.Context, id int64) error {
				mu.Lock()
				defer mu.Unlock()
				invalidated = append(invalidated, id)
				if invalidateFails {
					return errors.New("cache unavailable")
				}
				return nil
			}),
		}
		method := http.MethodPost
		if int(mode)%hookModes == hookGet {
			method = http.MethodGet
		}
		req := httptest.NewRequest(method, "/webhooks/recharge", bytes.NewReader(body))
		// A header cannot carry control characters; strip them as a client would have to.
		topic = strings.Map(func(r rune) rune {
			if r < 0x20 || r == 0x7f {
				return -1
			}
			return r
		}, topic)
		req.Header.Set(recharge.HeaderTopic, topic)
		switch int(mode) % hookModes {
		case hookLegacy, hookGet:
			legacy(hookSecret)(req.Header, body)
		case hookTimestamped:
			timestamped(hookSecret, now)(req.Header, body)
		case hookWrongBody:
			legacy(hookSecret)(req.Header, append(bytes.Clone(body), '\n'))
		case hookStale:
			timestamped(hookSecret, now.Add(-72*time.Hour))(req.Header, body)
		case hookWrongSecret:
			timestamped(hookSecret+"x", now)(req.Header, body)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)

		mu.Lock()
		got := append([]int64(nil), invalidated...)
		mu.Unlock()
		ev, parseErr := recharge.ParseWebhook(topic, body)
		var want int
		var wantIDs []int64
		switch int(mode) % hookModes {
		case hookGet:
			want = http.StatusMethodNotAllowed
		case hookUnsigned, hookWrongBody, hookStale, hookWrongSecret:
			want = http.StatusUnauthorized
		default:
			switch {
			case len(body) > recharge.MaxWebhookBodyBytes:
				want = http.StatusRequestEntityTooLarge
			case parseErr != nil:
				want = http.StatusBadRequest
			case recharge.IsCardTopic(ev.Resource) && ev.CustomerID() > 0:
				wantIDs = []int64{ev.CustomerID()}
				want = http.StatusOK
				if invalidateFails {
					want = http.StatusInternalServerError
				}
			default:
				want = http.StatusOK
			}
		}
		if rec.Code != want {
			t.Fatalf("mode %d, topic %q, body %q: status %d, want %d; answer %s", mode, topic, body, rec.Code, want, rec.Body)
		}
		if len(got) != len(wantIDs) || (len(got) == 1 && got[0] != wantIDs[0]) {
			t.Fatalf("mode %d, topic %q, body %q: invalidated %v, want %v", mode, topic, body, got, wantIDs)
		}
		var answer map[string]string
		if err := json.Unmarshal(rec.Body.Bytes(), &answer); err != nil || len(answer) != 1 || (answer["error"] == "" && answer["status"] == "") {
			t.Fatalf("answer %q: %v; want {\"error\"|\"status\": text}", rec.Body, err)
		}
		if strings.Contains(rec.Body.String(), hookSecret) {
			t.Fatalf("the answer holds the secret: %s", rec.Body)
		}
	})
}
