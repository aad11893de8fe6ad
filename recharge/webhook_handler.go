package recharge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/rechargekit/rechargekit"
)

// CardTopics are the webhook topics that change what a Subscription card
// shows, the ones InstallWebhooks registers for the card cache:
// subscriptions, customers (counts, names, deletion, and the default
// payment method the payment section shows), charges (the images, SKUs and
// currencies the card takes from them, the next charge date, whose change
// does not bump a subscription's updated_at, failed payments and orders)
// and addresses.
var CardTopics = []string{
	"subscription/created", "subscription/updated", "subscription/activated", "subscription/cancelled",
	"subscription/deleted", "subscription/skipped", "subscription/unskipped", "subscription/swapped",
	"subscription/paused",
	"customer/created", "customer/updated", "customer/activated", "customer/deactivated", "customer/deleted",
	"customer/payment_method_updated",
	"charge/created", "charge/updated", "charge/paid", "charge/failed", "charge/max_retries_reached",
	"charge/refunded", "charge/deleted",
	"address/created", "address/updated",
}

// IsCardTopic reports whether a delivery of topic can change a card: any
// subscription/*, customer/*, charge/* or address/* topic, including ones
// not in CardTopics.
func IsCardTopic(topic string) bool {
	res, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(topic)), "/")
	switch res {
	case "subscription", "customer", "charge", "address":
		return true
	}
	return false
}

// Defaults of WebhookHandler.
const (
	// DefaultWebhookAnswerTimeout is how long the handler waits for OnEvent
	// before answering anyway: Recharge counts a delivery not answered
	// within 5 s as failed.
	DefaultWebhookAnswerTimeout = 4 * time.Second
	// DefaultWebhookWorkTimeout bounds OnEvent, which keeps running after
	// the answer when it is slow.
	DefaultWebhookWorkTimeout = 30 * time.Second
)

// WebhookHandler receives Recharge webhook deliveries (an http.Handler for
// POST). For each one it reads the body under MaxWebhookBodyBytes (413
// beyond), verifies the signature with Verifier, both forms (401 when it is
// missing or wrong, and nothing else happens), decodes it with ParseWebhook
// (400 when it cannot), and calls OnEvent:
//
//   - OnEvent returns in time without error: 200;
//   - OnEvent fails: 500, so that Recharge delivers the event again;
//   - OnEvent is still running after AnswerTimeout: 202, and it goes on in
//     the background until WorkTimeout, so the answer never waits past
//     Recharge's 5 s.
//
// Recharge delivers at least once and in no guaranteed order, so OnEvent
// must tolerate repeats and old events: invalidating a cached card (see
// InvalidateOnEvent) does. Errors are answered as {"error": "..."} and
// never echo the secret. Create it as a struct literal; it is safe for
// concurrent use.
type WebhookHandler struct {
	// Verifier checks signatures; its Secret is the token's API client
	// secret (RECHARGE_WEBHOOK_SECRET). Without a secret every delivery
	// gets 401.
	Verifier WebhookVerifier
	// OnEvent handles a verified event; nil accepts events and does nothing.
	OnEvent func(ctx context.Context, ev *WebhookEvent) error
	// AnswerTimeout is how long to wait for OnEvent before answering 202
	// (DefaultWebhookAnswerTimeout when zero).
	AnswerTimeout time.Duration
	// WorkTimeout bounds OnEvent (DefaultWebhookWorkTimeout when zero).
	WorkTimeout time.Duration
	// Logger receives refused deliveries and OnEvent failures (nothing is
	// logged when nil).
	Logger *slog.Logger
	// Metrics counts each delivery by topic and outcome (nil counts
	// nothing). The topic of a delivery refused before its signature was
	// verified is "unknown".
	Metrics rechargekit.Metrics
}

// ServeHTTP implements http.Handler.
func (h *WebhookHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	log := h.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	metrics := h.Metrics
	if metrics == nil {
		metrics = rechargekit.NopMetrics{}
	}
	verifiedTopic, outcome := "unknown", rechargekit.WebhookBadRequest
	defer func() { metrics.Webhook(verifiedTopic, outcome) }()
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeWebhookAnswer(w, http.StatusMethodNotAllowed, "error", "method not allowed: use POST")
		return
	}
	topic := strings.ToLower(strings.TrimSpace(r.Header.Get(HeaderTopic)))
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxWebhookBodyBytes+1))
	switch {
	case err != nil:
		log.WarnContext(r.Context(), "recharge webhook: read body", "topic", abbreviate(topic), "error", err)
		writeWebhookAnswer(w, http.StatusBadRequest, "error", "the body could not be read")
		return
	case len(body) > MaxWebhookBodyBytes:
		log.WarnContext(r.Context(), "recharge webhook: body too large", "topic", abbreviate(topic))
		writeWebhookAnswer(w, http.StatusRequestEntityTooLarge, "error", "the body is too large")
		return
	}
	if err := h.Verifier.Verify(r.Header, body); err != nil {
		outcome = rechargekit.WebhookBadSignature
		log.WarnContext(r.Context(), "recharge webhook: refused", "topic", abbreviate(topic), "reason", err.Error(),
			"remote", r.RemoteAddr)
		writeWebhookAnswer(w, http.StatusUnauthorized, "error", "invalid or missing webhook signature")
		return
	}
	verifiedTopic = topic
	ev, err := ParseWebhook(topic, body)
	if err != nil {
		log.WarnContext(r.Context(), "recharge webhook: undecodable payload", "topic", abbreviate(topic), "error", err)
		writeWebhookAnswer(w, http.StatusBadRequest, "error", "the payload could not be decoded")
		return
	}
	outcome = rechargekit.WebhookAccepted
	if h.OnEvent == nil {
		writeWebhookAnswer(w, http.StatusOK, "status", "ok")
		return
	}

	work := h.WorkTimeout
	if work <= 0 {
		work = DefaultWebhookWorkTimeout
	}
	answer := h.AnswerTimeout
	if answer <= 0 {
		answer = DefaultWebhookAnswerTimeout
	}
	// The work outlives the request when it is slow, so it must not be
	// cancelled with it; it keeps the request's values.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), work)
	done := make(chan error, 1)
	go func() {
		defer cancel()
		defer func() {
			if p := recover(); p != nil {
				done <- fmt.Errorf("recharge webhook: OnEvent panicked: %v", p)
			}
		}()
		done <- h.OnEvent(ctx, ev)
	}()
	t := time.NewTimer(answer)
	defer t.Stop()
	select {
	case err := <-done:
		if err != nil {
			outcome = rechargekit.WebhookFailed
			log.ErrorContext(r.Context(), "recharge webhook: handling failed; Recharge will deliver it again",
				"topic", ev.Topic, "customer_id", ev.CustomerID(), "error", err)
			writeWebhookAnswer(w, http.StatusInternalServerError, "error", "the event could not be handled; deliver it again")
			return
		}
		writeWebhookAnswer(w, http.StatusOK, "status", "ok")
	case <-t.C:
		go func() {
			if err := <-done; err != nil {
				log.Error("recharge webhook: handling failed after the answer", "topic", ev.Topic,
					"customer_id", ev.CustomerID(), "error", err)
			}
		}()
		writeWebhookAnswer(w, http.StatusAccepted, "status", "accepted")
	}
}

func writeWebhookAnswer(w http.ResponseWriter, status int, key, msg string) {
	body, _ := json.Marshal(map[string]string{key: msg})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// InvalidateOnEvent returns an OnEvent for WebhookHandler that calls
// invalidate with the customer of every card topic's event (IsCardTopic
// of its resource, so a delivery without a topic header counts by the
// payload's top-level key; for an address the customer comes from the
// address object). Events of
// other topics, and events that name no customer, are accepted and
// ignored. Wire it to the card cache:
//
//	h := &recharge.WebhookHandler{Verifier: v, OnEvent: recharge.InvalidateOnEvent(cached.Invalidate)}
func InvalidateOnEvent(invalidate func(ctx context.Context, customerID int64) error) func(context.Context, *WebhookEvent) error {
	return func(ctx context.Context, ev *WebhookEvent) error {
		// A delivery without a topic is dispatched by its resource (the
		// payload's top-level key): Resource is set for every event.
		if ev == nil || !IsCardTopic(ev.Resource) {
			return nil
		}
		id := ev.CustomerID()
		if id <= 0 {
			return nil
		}
		if err := invalidate(ctx, id); err != nil {
			return fmt.Errorf("recharge webhook %s: invalidate customer %d: %w", ev.Resource, id, err)
		}
		return nil
	}
}

// ListWebhooks returns the webhooks registered on the store, all pages
// followed; only those posting to address when address is not empty.
func ListWebhooks(ctx context.Context, client *Client, address string) ([]*Webhook, error) {
	address = strings.TrimSpace(address)
	var out []*Webhook
	opts := &WebhookListOptions{Limit: MaxPageSize}
	seen := map[string]bool{}
	for {
		page, resp, err := client.Webhooks.List(ctx, opts)
		if err != nil {
			return nil, fmt.Errorf("recharge: list webhooks: %w", err)
		}
		for _, w := range page {
			if w != nil && (address == "" || w.Address == address) {
				out = append(out, w)
			}
		}
		if resp.NextCursor == "" || seen[resp.NextCursor] {
			return out, nil
		}
		seen[resp.NextCursor] = true
		opts = &WebhookListOptions{Limit: MaxPageSize, Cursor: resp.NextCursor}
	}
}

// InstallWebhooks registers one webhook per topic (CardTopics, usually)
// posting to address, skipping the topics already registered to that
// address, so running it twice registers nothing new. It returns the
// webhooks it created, in topic order. It stops at the first failure and
// returns what it created until then with the error.
func InstallWebhooks(ctx context.Context, client *Client, address string, topics []string) ([]*Webhook, error) {
	address = strings.TrimSpace(address)
	if address == "" {
		return nil, errors.New("recharge: install webhooks: no address")
	}
	existing, err := ListWebhooks(ctx, client, address)
	if err != nil {
		return nil, fmt.Errorf("recharge: install webhooks: %w", err)
	}
	have := map[string]bool{}
	for _, w := range existing {
		have[strings.ToLower(w.Topic)] = true
	}
	var created []*Webhook
	for _, topic := range topics {
		topic = strings.ToLower(strings.TrimSpace(topic))
		if topic == "" || have[topic] {
			continue
		}
		w, _, err := client.Webhooks.Create(ctx, &WebhookCreateRequest{Address: address, Topic: topic})
		if err != nil {
			return created, fmt.Errorf("recharge: install webhook %s: %w", topic, err)
		}
		have[topic] = true
		created = append(created, w)
	}
	return created, nil
}

// UninstallWebhooks removes every webhook posting to address and returns
// the ones it removed. A webhook already gone (404) counts as removed.
func UninstallWebhooks(ctx context.Context, client *Client, address string) ([]*Webhook, error) {
	address = strings.TrimSpace(address)
	if address == "" {
		return nil, errors.New("recharge: uninstall webhooks: no address")
	}
	hooks, err := ListWebhooks(ctx, client, address)
	if err != nil {
		return nil, fmt.Errorf("recharge: uninstall webhooks: %w", err)
	}
	slices.SortFunc(hooks, func(a, b *Webhook) int { return strings.Compare(a.Topic, b.Topic) })
	var removed []*Webhook
	for _, w := range hooks {
		if _, err := client.Webhooks.Delete(ctx, int64(w.ID)); err != nil && !IsNotFound(err) {
			return removed, fmt.Errorf("recharge: uninstall webhook %d (%s): %w", w.ID, w.Topic, err)
		}
		removed = append(removed, w)
	}
	return removed, nil
}
