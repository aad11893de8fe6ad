package rechargetest

import (
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/rechargekit/rechargekit/internal/testkit"
)

func TestLoseWebhooks(t *testing.T) {
	t.Parallel()
	hookURL, hooks := receiver(t, 0)
	h := newHarness(t, Config{WebhookURL: hookURL, WebhookSecret: testSecret}, DemoSeed())

	// The next delivery is lost: the change is made, its webhook never sent.
	h.mustDo(200, "POST", "/__sim/webhooks/lose", `{"next":1}`)
	h.clock.Advance(time.Minute)
	h.mustDo(200, "PUT", fmt.Sprintf("/subscriptions/%d", DemoAlexDogTeeID), `{"quantity":3}`)
	// Deleting a subscription announces itself, and is delivered.
	h.mustDo(204, "DELETE", fmt.Sprintf("/subscriptions/%d", DemoAlexChewsID), "")
	for d := next(t, hooks); d.topic != "subscription/deleted"; d = next(t, hooks) {
		if d.topic == "subscription/updated" {
			t.Fatal("the lost subscription/updated was delivered")
		}
	}
	// A reconciliation sweep (updated_at_min) still finds the update.
	since := url.QueryEscape(refTime.Add(30 * time.Second).Format(time.RFC3339))
	got := h.collect("/subscriptions?limit=250&updated_at_min="+since, "subscriptions")
	found := false
	for _, s := range got {
		found = found || idOf(t, s["id"]) == DemoAlexDogTeeID && fmt.Sprint(s["quantity"]) == "3"
	}
	if !found {
		t.Errorf("updated_at_min sweep did not return the changed subscription: %v", got)
	}

	// Every delivery of a topic is lost until the loss is cleared.
	h.sim.LoseWebhooks(WebhookLoss{Topics: []string{"customer/updated"}})
	h.mustDo(200, "PUT", fmt.Sprintf("/customers/%d", DemoAlexRiveraID), `{"first_name":"Al"}`)
	h.mustDo(200, "PUT", fmt.Sprintf("/customers/%d", DemoAlexRiveraID), `{"first_name":"Alex"}`)
	if l := mustDecode(t, h.mustGet("/__sim/webhooks/lose").body); fmt.Sprint(l["topics"]) != "[customer/updated]" {
		t.Errorf("GET /__sim/webhooks/lose = %v", l)
	}
	h.mustDo(200, "POST", "/__sim/webhooks/lose", `{}`)
	h.mustDo(200, "PUT", fmt.Sprintf("/customers/%d", DemoAlexRiveraID), `{"first_name":"Alexander"}`)
	for {
		d := next(t, hooks)
		if d.topic == "customer/updated" {
			if m := mustDecode(t, d.body)["customer"].(obj); m["first_name"] != "Alexander" {
				t.Fatalf("delivered customer/updated with first_name %v, want only the last change's", m["first_name"])
			}
			break
		}
	}
	if st := h.sim.Stats(); st.WebhooksLost != 3 {
		t.Errorf("WebhooksLost = %d, want 3", st.WebhooksLost)
	}
	h.mustDo(400, "POST", "/__sim/webhooks/lose", `{"next":-1}`)
}

func TestWebhookRegistrationDeletedAfterFailedDeliveries(t *testing.T) {
	t.Parallel()
	down, hooks := receiver(t, 1<<30)
	up, upHooks := receiver(t, 0)
	h := newHarness(t, Config{WebhookSecret: testSecret, WebhookBackoff: time.Millisecond, WebhookMaxAttempts: 3, WebhookDeleteAfter: 5}, DemoSeed())
	h.mustDo(201, "POST", "/webhooks", fmt.Sprintf(`{"address":%q,"topic":"customer/updated"}`, down))
	h.mustDo(201, "POST", "/webhooks", fmt.Sprintf(`{"address":%q,"topic":"customer/updated"}`, up))
	// Two changes: 3 failed attempts each, the fifth in a row deletes the
	// registration, and the sixth is never made.
	h.mustDo(200, "PUT", fmt.Sprintf("/customers/%d", DemoAlexRiveraID), `{"first_name":"Al"}`)
	h.mustDo(200, "PUT", fmt.Sprintf("/customers/%d", DemoAlexRiveraID), `{"first_name":"Alex"}`)
	for range 5 {
		next(t, hooks)
	}
	for range 2 {
		next(t, upHooks)
	}
	testkit.WaitFor(t, "the failing webhook's deletion", func() bool { return h.sim.Stats().WebhooksDeleted == 1 })
	list := mustPage(t, h.mustGet("/webhooks"), "webhooks").items
	if len(list) != 1 || list[0]["address"] != up {
		t.Fatalf("webhooks after the deletion: %v, want only %s", list, up)
	}
	testkit.WaitFor(t, "the last delivery's end", func() bool {
		st := h.sim.Stats()
		return st.WebhookAttempts == 7 && st.WebhooksDropped == 2
	})
	select {
	case d := <-hooks:
		t.Fatalf("a delivery to the deleted webhook: %s", d.topic)
	default:
	}
	// Re-created, it receives again.
	h.mustDo(201, "POST", "/webhooks", fmt.Sprintf(`{"address":%q,"topic":"customer/updated"}`, up))
	h.mustDo(200, "PUT", fmt.Sprintf("/customers/%d", DemoAlexRiveraID), `{"first_name":"Alexander"}`)
	next(t, upHooks)
	next(t, upHooks)
}

func TestStatsCountPagesAndRepeatedCursors(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{}, GenerateSeed(120, 3))
	p1 := mustPage(t, h.mustGet("/customers?sort_by=id-asc&limit=50"), "customers")
	p2 := mustPage(t, h.mustGet("/customers?limit=50&cursor="+url.QueryEscape(*p1.next)), "customers")
	// A resume from the checkpoint p2.next reads no finished page again...
	p3 := mustPage(t, h.mustGet("/customers?limit=50&cursor="+url.QueryEscape(*p2.next)), "customers")
	if p3.next != nil {
		t.Fatalf("a fourth page of 120 customers")
	}
	st := h.sim.Stats()
	if st.Pages["GET /customers"] != 3 || len(st.RepeatedPages) != 0 {
		t.Fatalf("pages %v, repeated %v; want 3 customer pages, none repeated", st.Pages, st.RepeatedPages)
	}
	// ...a restart from scratch does, and so does the in-flight page.
	h.mustGet("/customers?sort_by=id-asc&limit=50")
	h.mustGet("/customers?limit=50&cursor=" + url.QueryEscape(*p2.next))
	h.mustGet("/subscriptions?limit=250")
	h.mustGet(fmt.Sprintf("/customers/%d", idOf(t, p3.items[0]["id"]))) // not a list
	st = h.sim.Stats()
	if st.Pages["GET /customers"] != 5 || st.RepeatedPages["GET /customers"] != 2 || st.Pages["GET /subscriptions"] != 1 || st.RepeatedPages["GET /subscriptions"] != 0 {
		t.Errorf("pages %v, repeated %v; want 5 and 2 for customers, 1 and 0 for subscriptions", st.Pages, st.RepeatedPages)
	}
	if js := mustDecode(t, h.mustGet("/__sim/stats").body); fmt.Sprint(js["repeated_pages"]) != "map[GET /customers:2]" {
		t.Errorf("/__sim/stats repeated_pages = %v", js["repeated_pages"])
	}
	h.sim.Reset()
	h.mustGet("/customers?sort_by=id-asc&limit=50")
	if st := h.sim.Stats(); st.Pages["GET /customers"] != 1 || len(st.RepeatedPages) != 0 {
		t.Errorf("after Reset: pages %v, repeated %v", st.Pages, st.RepeatedPages)
	}
}
