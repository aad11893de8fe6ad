package rechargetest

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rechargekit/rechargekit/recharge"
)

const testSecret = "whsec-client-secret"

// hook is one webhook delivery as a receiver saw it.
type hook struct {
	topic  string
	header http.Header
	body   []byte
}

// receiver is an httptest server that records deliveries on a channel and
// answers the first fail requests with a 500.
func receiver(tb testing.TB, fail int) (string, <-chan hook) {
	tb.Helper()
	ch := make(chan hook, 64)
	var mu sync.Mutex
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		n++
		failing := n <= fail
		mu.Unlock()
		ch <- hook{topic: r.Header.Get(recharge.HeaderTopic), header: r.Header.Clone(), body: b}
		if failing {
			http.Error(w, "receiver down", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	tb.Cleanup(srv.Close)
	return srv.URL, ch
}

// next waits for the next delivery, with a generous deadline so that a
// missing delivery fails the test instead of hanging it.
func next(tb testing.TB, ch <-chan hook) hook {
	tb.Helper()
	select {
	case h := <-ch:
		return h
	case <-time.After(10 * time.Second):
		tb.Fatal("no webhook delivery")
		return hook{}
	}
}

// verify checks both signatures with the client's own signing functions.
func verify(tb testing.TB, h hook) {
	tb.Helper()
	if got, want := h.header.Get(recharge.HeaderHmacSha256), recharge.SignWebhook(testSecret, h.body); got != want {
		tb.Errorf("%s: legacy signature %q, want %q", h.topic, got, want)
	}
	ts, err := strconv.ParseInt(h.header.Get(recharge.HeaderWebhookTimestamp), 10, 64)
	if err != nil {
		tb.Fatalf("%s: timestamp header: %v", h.topic, err)
	}
	if got, want := h.header.Get(recharge.HeaderWebhookSignature), recharge.SignWebhookTimestamped(testSecret, h.body, time.Unix(ts, 0)); got != want {
		tb.Errorf("%s: timestamped signature %q, want %q", h.topic, got, want)
	}
	if h.header.Get("Content-Type") != "application/json" {
		tb.Errorf("%s: Content-Type %q", h.topic, h.header.Get("Content-Type"))
	}
}

func TestWebhookDeliveryAndRetry(t *testing.T) {
	t.Parallel()
	url, hooks := receiver(t, 1)
	h := newHarness(t, Config{WebhookURL: url, WebhookSecret: testSecret, WebhookBackoff: time.Millisecond}, DemoSeed())
	counted := make(chan bool, 16)
	h.sim.hooks.observe = func(_ *delivery, ok bool) { counted <- ok }

	h.mustDo(200, "POST", "/subscriptions/585062092/cancel", `{"cancellation_reason":"Too many shirts"}`)
	// The cancellation is announced, then the regenerated charge: the
	// T-Shirt's queued charge, shared with the Chews, is replaced by one
	// holding the Chews alone.
	// The retry of the failed first attempt may come before or after the
	// charge's delivery.
	var cancels []hook
	var others []string
	for len(cancels) < 2 || len(others) < 2 {
		d := next(t, hooks)
		verify(t, d)
		if d.topic == "subscription/cancelled" {
			cancels = append(cancels, d)
		} else {
			others = append(others, d.topic)
		}
	}
	if fmt.Sprint(others) != "[charge/deleted charge/created]" {
		t.Fatalf("other topics after cancel = %v, want [charge/deleted charge/created]", others)
	}
	first, second := cancels[0], cancels[1] // the first was answered 500
	if string(first.body) != string(second.body) {
		t.Error("the retry sent another body")
	}
	if first.header.Get(recharge.HeaderWebhookTimestamp) != strconv.FormatInt(refTime.Unix(), 10) {
		t.Errorf("timestamp %q, want the simulator clock", first.header.Get(recharge.HeaderWebhookTimestamp))
	}
	// The body is exactly what GET returns.
	if got := h.mustGet("/subscriptions/585062092").body; string(got) != string(second.body) {
		t.Errorf("webhook body\n%s\nGET body\n%s", second.body, got)
	}

	// Every change announces itself, in order.
	h.mustDo(200, "POST", "/subscriptions/585062092/activate", `{}`)
	h.mustDo(200, "PUT", "/customers/183940021", `{"last_name":"Rivera-Lopez"}`)
	h.mustDo(201, "POST", "/addresses", `{"customer_id":183940021,"address1":"9 Pier","city":"Santa Monica","country_code":"US","province":"California","first_name":"Alex","last_name":"Rivera"}`)
	r := h.mustDo(201, "POST", "/customers", `{"email":"hooked@example.com"}`)
	newID := idOf(t, mustDecode(t, r.body)["customer"].(obj)["id"])
	h.mustDo(204, "DELETE", fmt.Sprintf("/customers/%d", newID), "")
	for _, want := range []string{"subscription/activated", "charge/deleted", "charge/created", "customer/updated", "address/created", "customer/created", "customer/deleted"} {
		d := next(t, hooks)
		if d.topic != want {
			t.Fatalf("topic %q, want %q", d.topic, want)
		}
		verify(t, d)
		key := strings.SplitN(want, "/", 2)[0]
		if keys := keyOrder(t, d.body); len(keys) != 1 || keys[0] != key {
			t.Errorf("%s body keys %v, want [%s]", want, keys, key)
		}
	}
	// Wait until the simulator has counted all eleven attempts.
	for range 11 {
		select {
		case <-counted:
		case <-time.After(10 * time.Second):
			t.Fatal("attempts not counted")
		}
	}
	st := h.sim.Stats()
	if st.WebhooksQueued != 10 || st.WebhookAttempts != 11 || st.WebhooksDelivered != 10 || st.WebhookFailures != 1 || st.WebhooksDropped != 0 {
		t.Errorf("webhook stats = %+v", st)
	}
}

func TestWebhookGivesUp(t *testing.T) {
	t.Parallel()
	url, hooks := receiver(t, 1000)
	h := newHarness(t, Config{WebhookURL: url, WebhookSecret: testSecret, WebhookBackoff: time.Millisecond, WebhookMaxAttempts: 3}, DemoSeed())
	attempts := make(chan int, 8)
	h.sim.hooks.observe = func(dl *delivery, ok bool) { attempts <- dl.attempt }
	h.mustDo(200, "PUT", "/customers/183940021", `{"first_name":"Alexander"}`)
	for i := 1; i <= 3; i++ {
		verify(t, next(t, hooks))
		select {
		case n := <-attempts:
			if n != i {
				t.Fatalf("attempt %d counted as %d", i, n)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("attempt not counted")
		}
	}
	if st := h.sim.Stats(); st.WebhooksDropped != 1 || st.WebhookAttempts != 3 || st.WebhookFailures != 3 || st.WebhooksDelivered != 0 {
		t.Fatalf("stats = %+v, want one dropped delivery after 3 failed attempts", st)
	}
	h.sim.Close() // no timer can deliver a fourth attempt after this
	select {
	case d := <-hooks:
		t.Fatalf("a fourth attempt: %v", d.topic)
	default:
	}
}

func TestRegisteredWebhooks(t *testing.T) {
	t.Parallel()
	url, hooks := receiver(t, 0)
	// No Config.WebhookURL: only the registered webhook receives.
	h := newHarness(t, Config{WebhookSecret: testSecret}, DemoSeed())
	h.mustDo(201, "POST", "/webhooks", fmt.Sprintf(`{"address":%q,"topic":"subscription/cancelled"}`, url))
	h.mustDo(200, "PUT", "/customers/183940021", `{"first_name":"Al"}`) // not subscribed
	h.mustDo(200, "POST", "/subscriptions/585062092/cancel", `{"cancellation_reason":"x"}`)
	d := next(t, hooks)
	if d.topic != "subscription/cancelled" {
		t.Fatalf("topic %q", d.topic)
	}
	verify(t, d)
	if st := h.sim.Stats(); st.WebhooksQueued != 1 {
		t.Errorf("queued %d deliveries, want 1", st.WebhooksQueued)
	}
}

func TestWebhookClose(t *testing.T) {
	t.Parallel()
	url, hooks := receiver(t, 0)
	h := newHarness(t, Config{WebhookURL: url, WebhookSecret: testSecret}, DemoSeed())
	h.mustDo(200, "PUT", "/customers/183940021", `{"first_name":"Al"}`)
	verify(t, next(t, hooks))
	if err := h.sim.Close(); err != nil {
		t.Fatal(err)
	}
	if err := h.sim.Close(); err != nil { // idempotent
		t.Fatal(err)
	}
	// The API still answers, but nothing more is delivered.
	h.mustDo(200, "PUT", "/customers/183940021", `{"first_name":"Alex"}`)
	if st := h.sim.Stats(); st.WebhooksQueued != 1 {
		t.Errorf("queued %d deliveries after Close, want 1", st.WebhooksQueued)
	}
	select {
	case d := <-hooks:
		t.Fatalf("delivery after Close: %s", d.topic)
	default:
	}
}

func TestNoWebhooksWithoutSecret(t *testing.T) {
	t.Parallel()
	url, _ := receiver(t, 0)
	h := newHarness(t, Config{WebhookURL: url}, DemoSeed())
	h.mustDo(200, "PUT", "/customers/183940021", `{"first_name":"Al"}`)
	if st := h.sim.Stats(); st.WebhooksQueued != 0 {
		t.Errorf("queued %d deliveries without a secret", st.WebhooksQueued)
	}
}
