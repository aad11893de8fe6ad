package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/gladly"
	"github.com/rechargekit/rechargekit/internal/testkit"
	"github.com/rechargekit/rechargekit/recharge/rechargetest"
)

// simProcessorTokens reads every payment method the simulator holds
// through its own API (GET /payment_methods, as Recharge answers it, with
// the processor tokens) and returns their processor tokens, and those of
// customer alone in mine.
func simProcessorTokens(t *testing.T, sim *rechargetest.Server, customer int64) (all, mine []string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, sim.URL+"/payment_methods?limit=250", nil)
	req.Header.Set("X-Recharge-Access-Token", rechargetest.DefaultToken)
	req.Header.Set("X-Recharge-Version", "2021-11")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var page struct {
		PaymentMethods []struct {
			CustomerID                  int64  `json:"customer_id"`
			ProcessorCustomerToken      string `json:"processor_customer_token"`
			ProcessorPaymentMethodToken string `json:"processor_payment_method_token"`
		} `json:"payment_methods"`
		NextCursor *string `json:"next_cursor"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /payment_methods = %d, %v", resp.StatusCode, err)
	}
	if page.NextCursor != nil && *page.NextCursor != "" {
		t.Fatal("the simulator holds more than one page of payment methods: read them all")
	}
	for _, pm := range page.PaymentMethods {
		for _, tok := range []string{pm.ProcessorCustomerToken, pm.ProcessorPaymentMethodToken} {
			if !strings.Contains(tok, "_simtok") {
				t.Fatalf("payment method of customer %d holds %q, not a simulator processor token", pm.CustomerID, tok)
			}
			all = append(all, tok)
			if pm.CustomerID == customer {
				mine = append(mine, tok)
			}
		}
	}
	return all, mine
}

// TestProcessorTokensNeverLeak runs the whole app in-process against the
// demo-seeded simulator, logging at debug level with webhooks on, and
// drives every surface that shows the card's payment section: Gladly
// DETAILED lookups in both GLADLY_TRANSACTIONS modes, the JSON API card,
// the console profile page of a signed-in agent, an action previewed and
// applied through the JSON API, and a charge the simulator processes to an
// error (so charge webhooks and events flow, and the card shows the failed
// payment). No processor token the simulator holds (read through its GET
// /payment_methods) may appear in any answer, page or log line.
func TestProcessorTokensNeverLeak(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const secret = "whsec-tokens"

	// The app's URL must exist before the simulator that posts to it.
	var handler atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handler.Load().(http.Handler).ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	sim := rechargetest.NewServer(t, rechargetest.Config{
		WebhookURL: srv.URL + "/webhooks/recharge", WebhookSecret: secret, WebhookBackoff: time.Millisecond,
	})
	sim.Load(rechargetest.DemoSeed())
	all, alexTokens := simProcessorTokens(t, sim, rechargetest.DemoAlexRiveraID)
	if len(alexTokens) == 0 {
		t.Fatal("Alex Rivera has no payment method in the simulator: the card would have nothing to leak")
	}

	store, password, token := mustDesk(t, filepath.Join(t.TempDir(), "tokens.db"))
	logs := &syncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	links := rechargekit.AdminLinks{Base: "https://shop.admin.rechargeapps.com"}
	newStack := func(transactions string, st rechargekit.Store, webhookSecret string) *app {
		t.Helper()
		a, err := newApp(ctx, appConfig{
			token: rechargetest.DefaultToken, baseURL: sim.URL, logger: logger, store: st,
			webhookSecret: webhookSecret, gladlyPath: gladly.DefaultPath, adminLinks: links,
			gladly: gladly.Config{SigningKey: stackKey, Transactions: transactions},
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { a.Close() })
		return a
	}
	a := newStack(gladly.TransactionsSubscription, store, secret)
	handler.Store(a.handler)
	// A second replica answers Gladly with ORDER transactions.
	orders := httptest.NewServer(newStack(gladly.TransactionsOrder, nil, "").handler)
	t.Cleanup(orders.Close)

	rec := &recorder{skipCookies: map[string]bool{"rechargekit_session": true}}
	client := &http.Client{Transport: rec, Timeout: 30 * time.Second}
	jar, _ := cookiejar.New(nil)
	agent := &http.Client{Transport: rec, Jar: jar, Timeout: 30 * time.Second}
	if status := postSignIn(t, agent, srv.URL, "agent@example.com", password, ""); status != http.StatusOK {
		t.Fatalf("sign-in = %d", status)
	}
	do := func(c *http.Client, method, path, body string, header ...string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	alex := strconv.FormatInt(rechargetest.DemoAlexRiveraID, 10)
	lookup := func(base string) gladly.Result {
		t.Helper()
		desk := &gladly.Client{URL: base + gladly.DefaultPath, SigningKey: stackKey, HTTPClient: client}
		resp, err := desk.Detailed(ctx, alex, rechargekit.Profile{ID: "alex"})
		if err != nil || len(resp.Results) != 1 {
			t.Fatalf("DETAILED lookup at %s: %+v, %v", base, resp, err)
		}
		return resp.Results[0]
	}
	type apiCard struct {
		Card struct {
			Payment *struct {
				Healthy              bool `json:"healthy"`
				DefaultPaymentMethod *struct {
					Last4 *string `json:"last4"`
				} `json:"defaultPaymentMethod"`
			} `json:"payment"`
			Unavailable map[string]string `json:"unavailable"`
		} `json:"card"`
	}
	card := func() apiCard {
		t.Helper()
		status, body := do(client, http.MethodGet, "/api/profiles/alex/card", "")
		var c apiCard
		if err := json.Unmarshal([]byte(body), &c); status != http.StatusOK || err != nil {
			t.Fatalf("API card = %d, %v:\n%s", status, err, body)
		}
		return c
	}
	every := func(when string) {
		t.Helper()
		lookup(srv.URL)
		lookup(orders.URL)
		c := card()
		if c.Card.Payment == nil || c.Card.Payment.DefaultPaymentMethod == nil {
			t.Errorf("%s: the API card has no default payment method (unavailable: %v): no payment method was read", when, c.Card.Unavailable)
		}
		status, page := do(agent, http.MethodGet, "/profiles/alex", "")
		if status != http.StatusOK {
			t.Fatalf("%s: console profile page = %d", when, status)
		}
		if c.Card.Payment != nil && c.Card.Payment.DefaultPaymentMethod != nil && c.Card.Payment.DefaultPaymentMethod.Last4 != nil &&
			!strings.Contains(page, *c.Card.Payment.DefaultPaymentMethod.Last4) {
			t.Errorf("%s: the console page does not show the payment method's last 4 digits %s", when, *c.Card.Payment.DefaultPaymentMethod.Last4)
		}
	}
	every("first read")

	// An action through the JSON API: preview, then apply with its token.
	action := fmt.Sprintf(`{"action":"skip","subscriptionId":"%d"`, rechargetest.DemoAlexDogTeeID)
	status, body := do(client, http.MethodPost, "/api/profiles/alex/actions/preview", action+"}")
	var preview struct {
		PreviewToken string `json:"previewToken"`
	}
	if err := json.Unmarshal([]byte(body), &preview); status != http.StatusOK || err != nil || preview.PreviewToken == "" {
		t.Fatalf("preview = %d, %v:\n%s", status, err, body)
	}
	status, body = do(client, http.MethodPost, "/api/profiles/alex/actions",
		action+`,"previewToken":"`+preview.PreviewToken+`"}`, "Idempotency-Key", "tokens-skip")
	if status != http.StatusOK || !strings.Contains(body, `"outcome":"done"`) {
		t.Fatalf("apply = %d:\n%s", status, body)
	}

	// A charge processed to an error through the simulator's control call:
	// its webhooks reach the app and the card shows the failed payment.
	// Recharge keeps the processor's message as the charge's error, and
	// Stripe's name the token it could not use ("No such PaymentMethod:
	// 'pm_…'"), so the failure carries one.
	var pmToken string
	for _, tok := range alexTokens {
		if strings.HasPrefix(tok, "pm_") {
			pmToken = tok
		}
	}
	charge := firstQueuedCharge(t, sim, rechargetest.DemoAlexRiveraID)
	failure, _ := json.Marshal(map[string]string{"outcome": "error", "error_type": "CARD_DECLINED",
		"error": "No such PaymentMethod: '" + pmToken + "'; It's possible this PaymentMethod exists on one of your connected accounts."})
	req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("%s/__sim/charges/%d/process", sim.URL, charge), bytes.NewReader(failure))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("process charge %d = %d", charge, resp.StatusCode)
	}
	testkit.WaitFor(t, "the failed payment on the card", func() bool {
		c := card()
		return c.Card.Payment != nil && !c.Card.Payment.Healthy
	})
	every("after the failed charge")
	if _, body := do(client, http.MethodGet, "/api/profiles/alex/card", ""); !strings.Contains(body, "No such PaymentMethod") {
		t.Errorf("the API card does not show the processor's message of the failed charge:\n%s", body)
	}
	if r := lookup(srv.URL); !strings.HasPrefix(fmt.Sprint(r.CustomAttributes["paymentStatus"]), "Failing") {
		t.Errorf("Gladly's paymentStatus = %v, want Failing", r.CustomAttributes["paymentStatus"])
	}
	if sim.Stats().WebhooksDelivered == 0 {
		t.Error("no webhook reached the app")
	}

	// Now grep every answer, page and log line for every processor token.
	logText := logs.String()
	if !strings.Contains(logText, `"level":"DEBUG"`) {
		t.Error("no debug lines in the log: the test did not log at debug level")
	}
	answers := rec.all()
	for _, tok := range all {
		if strings.Contains(answers, tok) {
			i := strings.Index(answers, tok)
			t.Errorf("an answer holds the processor token %s: …%s…", tok, answers[max(0, i-200):min(len(answers), i+100)])
		}
		for n, line := range strings.Split(logText, "\n") {
			if strings.Contains(line, tok) {
				t.Errorf("log line %d holds the processor token %s: %.400s", n+1, tok, line)
			}
		}
	}
}

// firstQueuedCharge returns the id of a customer's earliest queued charge,
// read from the simulator.
func firstQueuedCharge(t *testing.T, sim *rechargetest.Server, customer int64) int64 {
	t.Helper()
	ctx := context.Background()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet,
		fmt.Sprintf("%s/charges?customer_id=%d&status=queued&sort_by=scheduled_at-asc", sim.URL, customer), nil)
	req.Header.Set("X-Recharge-Access-Token", rechargetest.DefaultToken)
	req.Header.Set("X-Recharge-Version", "2021-11")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var page struct {
		Charges []struct {
			ID int64 `json:"id"`
		} `json:"charges"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil || len(page.Charges) == 0 {
		t.Fatalf("queued charges of %d: %v, %+v", customer, err, page)
	}
	return page.Charges[0].ID
}
