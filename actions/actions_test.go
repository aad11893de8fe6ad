package actions_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/actions"
	"github.com/rechargekit/rechargekit/recharge/rechargetest"
)

// offered maps subscription id -> action -> why ("" when offered).
func offered(t *testing.T, got []*rechargekit.SubscriptionActions) map[int64]map[string]string {
	t.Helper()
	out := map[int64]map[string]string{}
	for _, sa := range got {
		if len(sa.Offers) != len(rechargekit.AllActions()) {
			t.Fatalf("subscription %d: %d offers, want one per action", sa.Subscription.ID, len(sa.Offers))
		}
		out[sa.Subscription.ID] = map[string]string{}
		for i, o := range sa.Offers {
			if o.Action != rechargekit.AllActions()[i] {
				t.Fatalf("offer %d is %q, want AllActions order", i, o.Action)
			}
			if o.Offered == (o.Why != "") {
				t.Fatalf("subscription %d, %s: offered %v with why %q", sa.Subscription.ID, o.Action, o.Offered, o.Why)
			}
			out[sa.Subscription.ID][o.Action] = o.Why
		}
	}
	return out
}

func TestOffersFollowStateRoleAndToken(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	got, err := h.svc.Offers(ctx, target, agent)
	if err != nil {
		t.Fatal(err)
	}
	var order []int64
	for _, sa := range got {
		order = append(order, sa.Subscription.ID)
	}
	if len(order) != 4 || order[len(order)-1] != pajamas {
		t.Errorf("subscriptions in order %v: want Alex's four, active first, the cancelled pajamas last", order)
	}
	o := offered(t, got)
	want := map[string]string{
		rechargekit.ActionCancel:            "",
		rechargekit.ActionReactivate:        "This subscription is already active.",
		rechargekit.ActionSkip:              "",
		rechargekit.ActionUnskip:            "This subscription has no skipped charge to unskip.",
		rechargekit.ActionSetNextChargeDate: "",
		rechargekit.ActionChangeFrequency:   "The agent role may not change frequencies; an admin can allow it in Settings.",
		rechargekit.ActionChangeQuantity:    "The agent role may not change quantities; an admin can allow it in Settings.",
	}
	if diff := cmp.Diff(want, o[shirt]); diff != "" {
		t.Errorf("agent's offers on the active shirt (-want +got):\n%s", diff)
	}
	for action, why := range map[string]string{
		rechargekit.ActionCancel:            "This subscription is already cancelled.",
		rechargekit.ActionReactivate:        "",
		rechargekit.ActionSkip:              "Only an active subscription has a charge to skip.",
		rechargekit.ActionSetNextChargeDate: "Only an active subscription has a next charge date to move.",
	} {
		if o[pajamas][action] != why {
			t.Errorf("cancelled pajamas, %s: why %q, want %q", action, o[pajamas][action], why)
		}
	}

	adminOffers, err := h.svc.Offers(ctx, target, admin)
	if err != nil {
		t.Fatal(err)
	}
	if why := offered(t, adminOffers)[shirt][rechargekit.ActionChangeFrequency]; why != "" {
		t.Errorf("admin may change the frequency, got why %q", why)
	}
	gladlyOffers, err := h.svc.Offers(ctx, target, gladly)
	if err != nil {
		t.Fatal(err)
	}
	if why := offered(t, gladlyOffers)[shirt][rechargekit.ActionChangeQuantity]; why != "The Gladly desk may not change quantities; an admin can allow it in Settings." {
		t.Errorf("Gladly's quantity why: %q", why)
	}

	// After a skip, unskip is offered and skip is not (no queued charge
	// carries the shirt on that date any more, but the next one does).
	h.do(agent, &rechargekit.ActionRequest{Action: rechargekit.ActionSkip, SubscriptionID: hoodie}, "")
	after, err := h.svc.Offers(ctx, target, agent)
	if err != nil {
		t.Fatal(err)
	}
	if why := offered(t, after)[hoodie][rechargekit.ActionUnskip]; why != "" {
		t.Errorf("unskip after a skip: why %q", why)
	}

	// An unlinked profile has no offers.
	_, err = h.svc.Offers(ctx, rechargekit.ActionTarget{ProfileID: "p-nobody"}, agent)
	wantCode(t, err, rechargekit.ENOTFOUND)
}

func TestOffersHideWhatTheTokenMayNotDo(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withScopes("read_customers", "read_subscriptions", "read_orders", "write_subscriptions"))
	got, err := h.svc.Offers(context.Background(), target, admin)
	if err != nil {
		t.Fatal(err)
	}
	o := offered(t, got)
	if why := o[shirt][rechargekit.ActionSkip]; !strings.HasPrefix(why, "rechargekit's Recharge token may not do this") || !strings.Contains(why, "write_orders") {
		t.Errorf("skip with a token without write_orders: why %q", why)
	}
	if o[shirt][rechargekit.ActionCancel] != "" {
		t.Errorf("cancel should stay offered: %q", o[shirt][rechargekit.ActionCancel])
	}
	// The scopes are remembered: a second look does not ask again.
	before := h.sim.Stats().ByRoute["GET /token_information"]
	if _, err := h.svc.Offers(context.Background(), target, admin); err != nil {
		t.Fatal(err)
	}
	if n := h.sim.Stats().ByRoute["GET /token_information"]; n != before || n != 1 {
		t.Errorf("token_information asked %d times over two looks, want 1", n)
	}
	// They are asked again once DefaultScopesTTL has passed.
	h.clock.Advance(actions.DefaultScopesTTL)
	if _, err := h.svc.Offers(context.Background(), target, admin); err != nil {
		t.Fatal(err)
	}
	if n := h.sim.Stats().ByRoute["GET /token_information"]; n != 2 {
		t.Errorf("token_information asked %d times after the TTL, want 2", n)
	}
	// Recharge's own 403, when the action is tried anyway, reads the same.
	_, err = h.svc.Do(context.Background(), target, admin, &rechargekit.ActionRequest{Action: rechargekit.ActionSkip, SubscriptionID: shirt}, "k")
	wantCode(t, err, rechargekit.EREFUSED)
	if !strings.HasPrefix(rechargekit.ErrorMessage(err), "rechargekit's Recharge token may not do this") {
		t.Errorf("403 message %q", rechargekit.ErrorMessage(err))
	}
	rs := h.records(rechargekit.ActionFilter{})
	if len(rs) != 1 || rs[0].Outcome != rechargekit.OutcomeRefusedRecharge {
		t.Errorf("audit after Recharge's 403: %+v", rs)
	}
}

func TestPrepaidFrequencyIsRefused(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.prepaid = true
	got, err := h.svc.Offers(context.Background(), target, admin)
	if err != nil {
		t.Fatal(err)
	}
	why := offered(t, got)[shirt][rechargekit.ActionChangeFrequency]
	if !strings.HasPrefix(why, "This is a prepaid subscription") {
		t.Errorf("frequency on a prepaid subscription: why %q", why)
	}
	before := h.writes()
	_, err = h.svc.Do(context.Background(), target, admin, &rechargekit.ActionRequest{Action: rechargekit.ActionChangeFrequency,
		SubscriptionID: shirt, IntervalUnit: "week", IntervalFrequency: 2}, "")
	wantCode(t, err, rechargekit.ECONFLICT)
	if rechargekit.ErrorMessage(err) != why || h.writes() != before {
		t.Errorf("Do: %q with %d writes", rechargekit.ErrorMessage(err), h.writes()-before)
	}
}

func TestSkipPreviewNamesWhatElseIsOnTheCharge(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	p := h.preview(agent, &rechargekit.ActionRequest{Action: rechargekit.ActionSkip, SubscriptionID: shirt})
	want := []string{
		"The charge of " + day(10) + " will be skipped for Dog Lovers T-Shirt (Large).",
		"Cat Treats is on that same charge and is not skipped: the charge of " + day(10) + " still bills 25.00 USD, plus shipping.",
		"The next charge of Dog Lovers T-Shirt (Large) will then be on " + t0.AddDate(0, 1, 10).Format("2006-01-02") + ".",
	}
	if diff := cmp.Diff(want, p.Summary); diff != "" {
		t.Errorf("skip preview (-want +got):\n%s", diff)
	}
	if p.Token == "" || p.Before.NextChargeDate != day(10) {
		t.Errorf("preview token %q, before %+v", p.Token, p.Before)
	}
	// The preview reads Recharge, not the cache: a change made elsewhere
	// shows at once, and gives another token.
	if _, _, err := h.client.Subscriptions.Update(context.Background(), treats, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := h.client.Charges.Skip(context.Background(), chargeOf(t, h, treats), []int64{treats}); err != nil {
		t.Fatal(err)
	}
	p2 := h.preview(agent, &rechargekit.ActionRequest{Action: rechargekit.ActionSkip, SubscriptionID: shirt})
	if !strings.Contains(summary(p2), "Nothing else is on that charge") || p2.Token == p.Token {
		t.Errorf("after the treats were skipped elsewhere: %q (token changed: %v)", summary(p2), p2.Token != p.Token)
	}
}

// chargeOf returns the id of the queued charge carrying the subscription.
func chargeOf(t *testing.T, h *harness, sub int64) int64 {
	t.Helper()
	cs, _, err := h.client.Charges.List(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.Status != "queued" {
			continue
		}
		for _, li := range c.LineItems {
			if int64(li.PurchaseItemID) == sub {
				return int64(c.ID)
			}
		}
	}
	t.Fatalf("no queued charge carries %d", sub)
	return 0
}

// TestEveryAction applies each action through the simulator and checks
// the outcome, the audit and the fresh card; it logs the Recharge calls each
// makes (preview, then Do), for the note.
func TestEveryAction(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		actor rechargekit.Actor
		prep  func(h *harness)
		req   rechargekit.ActionRequest
		check func(t *testing.T, h *harness, res *rechargekit.ActionResult)
	}{
		{name: "cancel", actor: agent, req: rechargekit.ActionRequest{Action: rechargekit.ActionCancel, SubscriptionID: shirt, Reason: "Moving abroad", Comments: "Moving abroad."},
			check: func(t *testing.T, h *harness, res *rechargekit.ActionResult) {
				s := subOf(res.Card, shirt)
				if s.Status != rechargekit.StatusCancelled || s.CancellationReason != "Moving abroad" ||
					s.CancellationReasonComments != "Moving abroad. (by agent@brand.com via rechargekit)" {
					t.Errorf("cancelled subscription on the card: %+v", s)
				}
			}},
		{name: "cancel from Gladly", actor: gladly, req: rechargekit.ActionRequest{Action: rechargekit.ActionCancel, SubscriptionID: hoodie, Reason: "Other", SendEmail: ptr(false)},
			check: func(t *testing.T, h *harness, res *rechargekit.ActionResult) {
				if s := subOf(res.Card, hoodie); s.CancellationReasonComments != "(by Gladly via rechargekit)" {
					t.Errorf("comments %q", s.CancellationReasonComments)
				}
				if r := res.Record; r.ActorName != "Gladly" || r.CorrelationID != "corr-1" || r.Via != rechargekit.ViaGladly {
					t.Errorf("record actor %+v", r)
				}
			}},
		{name: "reactivate", actor: agent, req: rechargekit.ActionRequest{Action: rechargekit.ActionReactivate, SubscriptionID: pajamas},
			check: func(t *testing.T, h *harness, res *rechargekit.ActionResult) {
				if s := subOf(res.Card, pajamas); !s.IsActive() || s.NextChargeDate == "" {
					t.Errorf("reactivated: %+v", s)
				}
			}},
		{name: "skip", actor: agent, req: rechargekit.ActionRequest{Action: rechargekit.ActionSkip, SubscriptionID: shirt},
			check: func(t *testing.T, h *harness, res *rechargekit.ActionResult) {
				if s := subOf(res.Card, shirt); s.NextChargeDate == day(10) {
					t.Errorf("skipped, next charge still %s", s.NextChargeDate)
				}
				if s := subOf(res.Card, treats); s.NextChargeDate != day(10) {
					t.Errorf("the treats moved too: %s", s.NextChargeDate)
				}
			}},
		{name: "unskip", actor: agent,
			prep: func(h *harness) {
				h.do(agent, &rechargekit.ActionRequest{Action: rechargekit.ActionSkip, SubscriptionID: hoodie}, "")
			},
			req: rechargekit.ActionRequest{Action: rechargekit.ActionUnskip, SubscriptionID: hoodie},
			check: func(t *testing.T, h *harness, res *rechargekit.ActionResult) {
				if s := subOf(res.Card, hoodie); s.NextChargeDate != day(20) {
					t.Errorf("unskipped, next charge %s, want %s", s.NextChargeDate, day(20))
				}
			}},
		{name: "set next charge date", actor: agent, req: rechargekit.ActionRequest{Action: rechargekit.ActionSetNextChargeDate, SubscriptionID: shirt, Date: day(24)},
			check: func(t *testing.T, h *harness, res *rechargekit.ActionResult) {
				if s := subOf(res.Card, shirt); s.NextChargeDate != day(24) {
					t.Errorf("next charge %s, want %s", s.NextChargeDate, day(24))
				}
			}},
		{name: "change frequency", actor: admin, req: rechargekit.ActionRequest{Action: rechargekit.ActionChangeFrequency, SubscriptionID: shirt, IntervalUnit: "Weeks", IntervalFrequency: 2},
			check: func(t *testing.T, h *harness, res *rechargekit.ActionResult) {
				if s := subOf(res.Card, shirt); s.IntervalUnit != "week" || s.ChargeIntervalFrequency != 2 || s.OrderIntervalFrequency != 2 {
					t.Errorf("interval %d/%d %s", s.ChargeIntervalFrequency, s.OrderIntervalFrequency, s.IntervalUnit)
				}
			}},
		{name: "change quantity", actor: admin, req: rechargekit.ActionRequest{Action: rechargekit.ActionChangeQuantity, SubscriptionID: treats, Quantity: 3},
			check: func(t *testing.T, h *harness, res *rechargekit.ActionResult) {
				if s := subOf(res.Card, treats); s.Quantity != 3 {
					t.Errorf("quantity %d", s.Quantity)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			if tc.prep != nil {
				tc.prep(h)
			}
			h.card(alex) // the agent has the card open
			h.sim.Reset()
			p := h.preview(tc.actor, &tc.req)
			previewCalls := routes(h.sim.Stats().ByRoute)
			h.sim.Reset()
			req := tc.req
			req.PreviewToken = p.Token
			res := h.do(tc.actor, &req, "key-"+tc.name)
			doCalls := routes(h.sim.Stats().ByRoute)
			t.Logf("%s: preview %s; do %s", tc.name, previewCalls, doCalls)
			if h.writes() != 1 {
				t.Errorf("%d Recharge writes, want 1", h.writes())
			}
			r := res.Record
			if r.Outcome != rechargekit.OutcomeDone || r.Before == nil || r.After == nil || r.CompletedAt == nil || res.Replayed {
				t.Fatalf("record %+v", r)
			}
			if diff := cmp.Diff(p.Before, *r.Before); diff != "" {
				t.Errorf("state before (-preview +record):\n%s", diff)
			}
			stored := h.records(rechargekit.ActionFilter{})[0]
			if stored.ID != r.ID || stored.Outcome != rechargekit.OutcomeDone || stored.ActorName != r.ActorName {
				t.Errorf("stored %+v", stored)
			}
			if res.Card == nil {
				t.Fatal("no card after the change")
			}
			tc.check(t, h, res)
		})
	}
}

// routes lists the requests by route, sorted, for the log.
func routes(by map[string]int) string {
	var out []string
	for r, n := range by {
		out = append(out, fmt.Sprintf("%s x%d", r, n))
	}
	sort.Strings(out)
	return "[" + strings.Join(out, ", ") + "]"
}

func TestCancelReasons(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	p := h.preview(agent, &rechargekit.ActionRequest{Action: rechargekit.ActionCancel, SubscriptionID: shirt})
	if diff := cmp.Diff([]string{"Too expensive", "Moving abroad", "Other"}, p.Reasons); diff != "" {
		t.Errorf("reasons (-want +got):\n%s", diff)
	}
	if s := summary(p); !strings.Contains(s, "The customer keeps 2 other active subscriptions.") ||
		!strings.Contains(s, "It leaves the queued charge of "+day(10)+", which still bills Cat Treats.") {
		t.Errorf("cancel preview:\n%s", s)
	}
	// A reason that is not the store's is refused, naming the field.
	_, err := h.svc.Do(context.Background(), target, agent, &rechargekit.ActionRequest{Action: rechargekit.ActionCancel, SubscriptionID: shirt, Reason: "too pricey"}, "")
	wantCode(t, err, rechargekit.EINVALID)
	if !strings.HasPrefix(rechargekit.ErrorMessage(err), "The reason must be one of the store's cancellation reasons") {
		t.Errorf("message %q", rechargekit.ErrorMessage(err))
	}
	_, err = h.svc.Do(context.Background(), target, agent, &rechargekit.ActionRequest{Action: rechargekit.ActionCancel, SubscriptionID: shirt}, "")
	wantCode(t, err, rechargekit.EINVALID)
	if h.writes() != 0 {
		t.Errorf("%d writes for refused input", h.writes())
	}
	// A store without reasons takes free text.
	h.setReasons()
	res, err := h.svc.Do(context.Background(), rechargekit.ActionTarget{ProfileID: profileBlk}, agent,
		&rechargekit.ActionRequest{Action: rechargekit.ActionCancel, SubscriptionID: blakes, Reason: "The dog grew out of it"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if s := subOf(res.Card, blakes); s.CancellationReason != "The dog grew out of it" {
		t.Errorf("free-text reason %q", s.CancellationReason)
	}
}

func TestPreviewOfTheLastActiveSubscription(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	p, err := h.svc.Preview(context.Background(), rechargekit.ActionTarget{ProfileID: profileBlk}, agent,
		&rechargekit.ActionRequest{Action: rechargekit.ActionCancel, SubscriptionID: blakes})
	if err != nil {
		t.Fatal(err)
	}
	if s := summary(p); !strings.Contains(s, "It is the customer's last active subscription") || !strings.Contains(s, "goes away: nothing else is on it") {
		t.Errorf("preview:\n%s", s)
	}
}

func TestOtherPreviews(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	// Moving the shirt onto the hoodie's date merges the two charges.
	p := h.preview(agent, &rechargekit.ActionRequest{Action: rechargekit.ActionSetNextChargeDate, SubscriptionID: shirt, Date: day(20)})
	if s := summary(p); !strings.Contains(s, "moves from "+day(10)+" to "+day(20)) ||
		!strings.Contains(s, "Another charge of the same address is already due on "+day(20)+" (Hoodie): Recharge will merge them into one charge.") ||
		!strings.Contains(s, "Cat Treats is on the charge of "+day(10)+" and will stay on it.") {
		t.Errorf("move preview:\n%s", s)
	}
	h.do(agent, &rechargekit.ActionRequest{Action: rechargekit.ActionSkip, SubscriptionID: hoodie}, "")
	p = h.preview(admin, &rechargekit.ActionRequest{Action: rechargekit.ActionChangeFrequency, SubscriptionID: hoodie, IntervalUnit: "month", IntervalFrequency: 1})
	if s := summary(p); !strings.Contains(s, "every month instead of every 2 weeks") || !strings.Contains(s, "Recharge may recalculate the next charge date") ||
		!strings.Contains(s, "The skips already made on this subscription ("+day(20)+") will be dropped.") {
		t.Errorf("frequency preview:\n%s", s)
	}
	p = h.preview(admin, &rechargekit.ActionRequest{Action: rechargekit.ActionChangeQuantity, SubscriptionID: treats, Quantity: 3})
	if s := summary(p); s != "The quantity of Cat Treats changes from 2 to 3: each charge will bill 37.50 USD for it instead of 25.00 USD." {
		t.Errorf("quantity preview:\n%s", s)
	}
	if p.After.Quantity != 3 || p.Before.Quantity != 2 {
		t.Errorf("before %+v after %+v", p.Before, p.After)
	}
}

func TestInputIsCheckedNamingTheField(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for _, tc := range []struct {
		req  rechargekit.ActionRequest
		want string
	}{
		{rechargekit.ActionRequest{Action: "refund", SubscriptionID: shirt}, "The action \"refund\" is not one"},
		{rechargekit.ActionRequest{Action: rechargekit.ActionSkip}, "The subscription id must be"},
		{rechargekit.ActionRequest{Action: rechargekit.ActionSetNextChargeDate, SubscriptionID: shirt}, "The date is required"},
		{rechargekit.ActionRequest{Action: rechargekit.ActionSetNextChargeDate, SubscriptionID: shirt, Date: "24/12/2026"}, "The date \"24/12/2026\" is not a day written as YYYY-MM-DD."},
		{rechargekit.ActionRequest{Action: rechargekit.ActionSetNextChargeDate, SubscriptionID: shirt, Date: day(0)}, "The date must be after today"},
		{rechargekit.ActionRequest{Action: rechargekit.ActionChangeFrequency, SubscriptionID: shirt, IntervalUnit: "fortnight", IntervalFrequency: 1}, "The interval unit must be day, week or month."},
		{rechargekit.ActionRequest{Action: rechargekit.ActionChangeFrequency, SubscriptionID: shirt, IntervalUnit: "week"}, "The interval frequency must be"},
		{rechargekit.ActionRequest{Action: rechargekit.ActionChangeQuantity, SubscriptionID: shirt}, "The quantity must be"},
		{rechargekit.ActionRequest{Action: rechargekit.ActionCancel, SubscriptionID: shirt, Reason: "Other", Comments: strings.Repeat("x", 1000)}, "The comments are too long"},
	} {
		_, err := h.svc.Do(context.Background(), target, admin, &tc.req, "")
		if rechargekit.ErrorCode(err) != rechargekit.EINVALID || !strings.HasPrefix(rechargekit.ErrorMessage(err), tc.want) {
			t.Errorf("%+v: %v, want EINVALID %q", tc.req, err, tc.want)
		}
	}
	if h.writes() != 0 || len(h.records(rechargekit.ActionFilter{})) != 0 {
		t.Errorf("bad input wrote %d times and audited %d", h.writes(), len(h.records(rechargekit.ActionFilter{})))
	}
}

func TestDoubleSubmitAppliesOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	req := &rechargekit.ActionRequest{Action: rechargekit.ActionCancel, SubscriptionID: shirt, Reason: "Too expensive"}
	first := h.do(agent, req, "double")
	// The subscription changes in between (reactivated in Recharge): the
	// repeat still answers the first outcome and sends nothing.
	if _, _, err := h.client.Subscriptions.Activate(context.Background(), shirt); err != nil {
		t.Fatal(err)
	}
	writes := h.writes()
	second := h.do(agent, req, "double")
	if !second.Replayed || second.Record.ID != first.Record.ID || second.Record.Outcome != rechargekit.OutcomeDone {
		t.Errorf("second submit: replayed %v, record %+v", second.Replayed, second.Record)
	}
	if h.writes() != writes {
		t.Errorf("the repeat sent %d writes", h.writes()-writes)
	}
	if n := h.sim.Stats().ByRoute["POST /subscriptions/{id}/cancel"]; n != 1 {
		t.Errorf("%d cancels reached Recharge, want 1", n)
	}
	// The same key with another request is a conflict, and sends nothing.
	_, err := h.svc.Do(context.Background(), target, agent, &rechargekit.ActionRequest{Action: rechargekit.ActionCancel, SubscriptionID: shirt, Reason: "Other"}, "double")
	wantCode(t, err, rechargekit.ECONFLICT)
	if h.writes() != writes || len(h.records(rechargekit.ActionFilter{})) != 1 {
		t.Errorf("conflict: %d writes, %d records", h.writes()-writes, len(h.records(rechargekit.ActionFilter{})))
	}
	// After the window the key is new again.
	h.clock.Advance(rechargekit.IdempotencyWindow + time.Second)
	third := h.do(agent, req, "double")
	if third.Replayed || h.sim.Stats().ByRoute["POST /subscriptions/{id}/cancel"] != 2 {
		t.Errorf("after 24 h: replayed %v", third.Replayed)
	}
}

func TestConcurrentDoubleSubmitAppliesOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.card(alex)
	req := &rechargekit.ActionRequest{Action: rechargekit.ActionSkip, SubscriptionID: shirt}
	type out struct {
		res *rechargekit.ActionResult
		err error
	}
	results := make(chan out, 2)
	for range 2 {
		go func() {
			res, err := h.svc.Do(context.Background(), target, agent, req, "click-click")
			results <- out{res, err}
		}()
	}
	var done, other int
	for range 2 {
		o := <-results
		switch {
		case o.err == nil && !o.res.Replayed:
			done++
		default:
			other++ // replayed, or "being applied"
		}
	}
	if done != 1 || other != 1 {
		t.Errorf("%d applied, %d answered from the first", done, other)
	}
	if n := h.sim.Stats().ByRoute["POST /charges/{id}/skip"]; n != 1 {
		t.Errorf("%d skips reached Recharge, want 1", n)
	}
}

func TestChangedSincePreviewIsAConflict(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	req := &rechargekit.ActionRequest{Action: rechargekit.ActionSetNextChargeDate, SubscriptionID: shirt, Date: day(15)}
	p := h.preview(agent, req)
	// Someone moves the date in Recharge (which does not bump updated_at).
	if _, _, err := h.client.Subscriptions.SetNextChargeDate(context.Background(), shirt, day(12)); err != nil {
		t.Fatal(err)
	}
	writes := h.writes()
	req.PreviewToken = p.Token
	_, err := h.svc.Do(context.Background(), target, agent, req, "k1")
	wantCode(t, err, rechargekit.ECONFLICT)
	np := rechargekit.ChangedPreview(err)
	if np == nil || np.Token == p.Token || !strings.Contains(summary(np), "moves from "+day(12)+" to "+day(15)) {
		t.Fatalf("the conflict carries preview %+v", np)
	}
	if h.writes() != writes || len(h.records(rechargekit.ActionFilter{})) != 0 {
		t.Errorf("a stale confirm wrote %d times, audited %d", h.writes()-writes, len(h.records(rechargekit.ActionFilter{})))
	}
	// Confirming the new preview, with the same key, applies it.
	req.PreviewToken = np.Token
	res := h.do(agent, req, "k1")
	if res.Replayed || subOf(res.Card, shirt).NextChargeDate != day(15) {
		t.Errorf("after the new preview: %+v", res.Record)
	}
}

func TestSubscriptionOfAnotherCustomerSendsNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.card(alex) // the agent's card is open: the ownership check needs no call
	before := h.requests()
	for _, a := range []string{rechargekit.ActionCancel, rechargekit.ActionSkip, rechargekit.ActionChangeQuantity} {
		req := &rechargekit.ActionRequest{Action: a, SubscriptionID: blakes, Reason: "Other", Quantity: 2}
		_, err := h.svc.Do(context.Background(), target, admin, req, "")
		wantCode(t, err, rechargekit.ENOTFOUND)
		_, err = h.svc.Preview(context.Background(), target, admin, req)
		wantCode(t, err, rechargekit.ENOTFOUND)
	}
	_, err := h.svc.Do(context.Background(), rechargekit.ActionTarget{ProfileID: "p-unlinked"}, admin, &rechargekit.ActionRequest{Action: rechargekit.ActionSkip, SubscriptionID: shirt}, "")
	wantCode(t, err, rechargekit.ENOTFOUND)
	_, err = h.svc.Do(context.Background(), rechargekit.ActionTarget{ProfileID: profileAlex, CustomerID: blake}, admin, &rechargekit.ActionRequest{Action: rechargekit.ActionSkip, SubscriptionID: blakes}, "")
	wantCode(t, err, rechargekit.ENOTFOUND)
	if n := h.requests() - before; n != 0 {
		t.Errorf("%d Recharge calls for another customer's subscription: %v", n, h.sim.Stats().ByRoute)
	}
	if n := len(h.records(rechargekit.ActionFilter{})); n != 0 {
		t.Errorf("%d records", n)
	}
}

func TestPolicyRefusalIsAudited(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.card(alex)
	before := h.requests()
	req := &rechargekit.ActionRequest{Action: rechargekit.ActionChangeQuantity, SubscriptionID: shirt, Quantity: 5}
	res, err := h.svc.Do(context.Background(), target, agent, req, "forged")
	wantCode(t, err, rechargekit.EFORBIDDEN)
	if rechargekit.ErrorMessage(err) != "The agent role may not change quantities; an admin can allow it in Settings." {
		t.Errorf("message %q", rechargekit.ErrorMessage(err))
	}
	rs := h.records(rechargekit.ActionFilter{Outcome: rechargekit.OutcomeRefusedPolicy})
	if len(rs) != 1 || rs[0].ActorName != "agent@brand.com" || rs[0].SubscriptionID != shirt || rs[0].CustomerID != alex ||
		rs[0].Action != rechargekit.ActionChangeQuantity || res == nil || res.Record.ID != rs[0].ID || !strings.Contains(rs[0].Inputs, `"quantity":5`) {
		t.Fatalf("audit %+v", rs)
	}
	if n := h.requests() - before; n != 0 {
		t.Errorf("%d Recharge calls for a refused action", n)
	}
	_, err = h.svc.Preview(context.Background(), target, agent, req)
	wantCode(t, err, rechargekit.EFORBIDDEN)
	// Once an admin allows it, the same key applies it.
	pol := rechargekit.DefaultActionPolicy()
	pol[rechargekit.RoleAgent][rechargekit.ActionChangeQuantity] = true
	if err := h.store.UpdateActionPolicy(context.Background(), pol, "admin@brand.com"); err != nil {
		t.Fatal(err)
	}
	if res := h.do(agent, req, "forged"); res.Replayed || res.Record.Outcome != rechargekit.OutcomeDone {
		t.Errorf("after the policy change: %+v", res.Record)
	}
}

func TestCrashBetweenWriteAndRecordDoesNotSendAgain(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.store.FailComplete = errors.New("database went away")
	req := &rechargekit.ActionRequest{Action: rechargekit.ActionCancel, SubscriptionID: shirt, Reason: "Other"}
	res, err := h.svc.Do(context.Background(), target, agent, req, "crash")
	wantCode(t, err, rechargekit.EINTERNAL)
	if !strings.HasPrefix(rechargekit.ErrorMessage(err), "Recharge applied the change") || res == nil || res.Card == nil ||
		!subOf(res.Card, shirt).IsCancelled() {
		t.Errorf("first submit: %v, %+v", err, res)
	}
	rs := h.records(rechargekit.ActionFilter{})
	if len(rs) != 1 || rs[0].Outcome != rechargekit.OutcomePending || rs[0].Before == nil || rs[0].Before.Status != rechargekit.StatusActive {
		t.Fatalf("the intent: %+v", rs)
	}
	h.store.FailComplete = nil
	_, err = h.svc.Do(context.Background(), target, agent, req, "crash")
	wantCode(t, err, rechargekit.ECONFLICT)
	if !strings.HasPrefix(rechargekit.ErrorMessage(err), "This action is already being applied") {
		t.Errorf("resubmit: %q", rechargekit.ErrorMessage(err))
	}
	if n := h.sim.Stats().ByRoute["POST /subscriptions/{id}/cancel"]; n != 1 {
		t.Errorf("%d cancels sent, want 1", n)
	}
}

func TestWritesAreNotRetriedOnServerErrors(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.sim.SetFaults(rechargetest.Faults{Status: 500, Route: "POST /subscriptions/{id}/cancel", Count: 1})
	res, err := h.svc.Do(context.Background(), target, agent, &rechargekit.ActionRequest{Action: rechargekit.ActionCancel, SubscriptionID: shirt, Reason: "Other"}, "k")
	wantCode(t, err, rechargekit.EUPSTREAM)
	if !strings.Contains(rechargekit.ErrorMessage(err), "may or may not have applied it") {
		t.Errorf("message %q", rechargekit.ErrorMessage(err))
	}
	if n := h.sim.Stats().ByRoute["POST /subscriptions/{id}/cancel"]; n != 1 {
		t.Errorf("%d cancel attempts on a 500, want 1", n)
	}
	if rs := h.records(rechargekit.ActionFilter{}); len(rs) != 1 || rs[0].Outcome != rechargekit.OutcomeFailed || res.Record.Outcome != rechargekit.OutcomeFailed {
		t.Errorf("audit %+v", rs)
	}
	// The same key answers the failure again without sending: only a new
	// key (after checking the card) tries once more.
	_, err = h.svc.Do(context.Background(), target, agent, &rechargekit.ActionRequest{Action: rechargekit.ActionCancel, SubscriptionID: shirt, Reason: "Other"}, "k")
	wantCode(t, err, rechargekit.EUPSTREAM)
	if n := h.sim.Stats().ByRoute["POST /subscriptions/{id}/cancel"]; n != 1 {
		t.Errorf("%d cancel attempts after the replay, want 1", n)
	}

	// A 409 route lock is retried: Recharge did not apply it.
	h.sim.SetFaults(rechargetest.Faults{Status: 409, Route: "POST /charges/{id}/skip", Count: 1})
	if res := h.do(agent, &rechargekit.ActionRequest{Action: rechargekit.ActionSkip, SubscriptionID: treats}, "k2"); res.Record.Outcome != rechargekit.OutcomeDone {
		t.Errorf("skip after a 409: %+v", res.Record)
	}
	if n := h.sim.Stats().ByRoute["POST /charges/{id}/skip"]; n != 2 {
		t.Errorf("%d skip attempts with one 409, want 2", n)
	}
}

func TestRechargeRefusalsAreKept(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		actor  rechargekit.Actor
		req    rechargekit.ActionRequest
		route  string
		body   string
		prefix string
	}{
		{agent, rechargekit.ActionRequest{Action: rechargekit.ActionCancel, SubscriptionID: shirt, Reason: "Other"}, "POST /subscriptions/",
			`{"errors":{"subscription":["item already set to cancelled"]}}`, "Recharge refused to cancel the subscription: subscription: item already set to cancelled"},
		{agent, rechargekit.ActionRequest{Action: rechargekit.ActionReactivate, SubscriptionID: pajamas}, "POST /subscriptions/",
			`{"errors":{"subscription":["item already set to active"]}}`, "Recharge refused to reactivate the subscription: subscription: item already set to active"},
		{agent, rechargekit.ActionRequest{Action: rechargekit.ActionSkip, SubscriptionID: shirt}, "POST /charges/",
			`{"errors":{"status":["Only charges with status queued and error can be skipped"]}}`, "Recharge refused to skip the charge: status: Only charges with status queued and error can be skipped"},
		{agent, rechargekit.ActionRequest{Action: rechargekit.ActionSetNextChargeDate, SubscriptionID: shirt, Date: day(1)}, "POST /subscriptions/",
			`{"errors":{"date":["date is not far enough in the future"]}}`, "Recharge refused to move the next charge date: date: date is not far enough in the future"},
		{admin, rechargekit.ActionRequest{Action: rechargekit.ActionChangeFrequency, SubscriptionID: shirt, IntervalUnit: "week", IntervalFrequency: 1}, "PUT /subscriptions/",
			`{"errors":{"charge_interval_unit_type":"when passing order_interval_unit provide charge_interval_frequency and order_interval_frequency to update the interval information"}}`,
			"Recharge refused to change the frequency: charge_interval_unit_type: when passing"},
		{admin, rechargekit.ActionRequest{Action: rechargekit.ActionChangeQuantity, SubscriptionID: shirt, Quantity: 2}, "PUT /subscriptions/",
			`{"errors":{"quantity":["Must be greater than or equal to 1."]}}`, "Recharge refused to change the quantity: quantity: Must be"},
	} {
		t.Run(tc.req.Action, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.setRefusal(tc.route, 422, tc.body)
			res, err := h.svc.Do(context.Background(), target, tc.actor, &tc.req, "k")
			wantCode(t, err, rechargekit.EREFUSED)
			if !strings.HasPrefix(rechargekit.ErrorMessage(err), tc.prefix) || strings.Contains(rechargekit.ErrorMessage(err), "\n") {
				t.Errorf("message %q", rechargekit.ErrorMessage(err))
			}
			rs := h.records(rechargekit.ActionFilter{})
			if len(rs) != 1 || rs[0].Outcome != rechargekit.OutcomeRefusedRecharge || rs[0].Message != rechargekit.ErrorMessage(err) || res.Record.ID != rs[0].ID {
				t.Errorf("audit %+v", rs)
			}
			// The same key replays Recharge's refusal.
			_, err2 := h.svc.Do(context.Background(), target, tc.actor, &tc.req, "k")
			if rechargekit.ErrorCode(err2) != rechargekit.EREFUSED || rechargekit.ErrorMessage(err2) != rechargekit.ErrorMessage(err) {
				t.Errorf("replay: %v", err2)
			}
		})
	}
}

// TestUnskipFindsTheSkippedCharge covers unskip's own refusal: with no
// skipped charge nothing is sent.
func TestUnskipWithoutSkippedCharge(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, err := h.svc.Do(context.Background(), target, agent, &rechargekit.ActionRequest{Action: rechargekit.ActionUnskip, SubscriptionID: shirt}, "")
	wantCode(t, err, rechargekit.ECONFLICT)
	if h.writes() != 0 || !slices.Contains([]string{"This subscription has no skipped charge to unskip."}, rechargekit.ErrorMessage(err)) {
		t.Errorf("%q, %d writes", rechargekit.ErrorMessage(err), h.writes())
	}
}

func TestUnauthorizedWriteIsNotApplied(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.setRefusal("POST /subscriptions/", 401, `{"error":"bad authentication"}`)
	res, err := h.svc.Do(context.Background(), target, agent, &rechargekit.ActionRequest{Action: rechargekit.ActionReactivate, SubscriptionID: pajamas}, "")
	wantCode(t, err, rechargekit.EUPSTREAM)
	if !errors.Is(err, rechargekit.ErrUpstreamRefused) {
		t.Errorf("a 401 on the write: %v, want Recharge's refusal of the token as its cause", err)
	}
	if res == nil || res.Record.Outcome != rechargekit.OutcomeRefusedRecharge || strings.Contains(rechargekit.ErrorMessage(err), "may or may not") {
		t.Errorf("a 401 on the write: %v, %+v", err, res)
	}
}

func TestNoOpChangesAreRefused(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for _, tc := range []struct {
		req  rechargekit.ActionRequest
		want string
	}{
		{rechargekit.ActionRequest{Action: rechargekit.ActionSetNextChargeDate, SubscriptionID: shirt, Date: day(10)}, "The next charge of Dog Lovers T-Shirt (Large) is already on " + day(10) + "."},
		{rechargekit.ActionRequest{Action: rechargekit.ActionChangeFrequency, SubscriptionID: hoodie, IntervalUnit: "week", IntervalFrequency: 2}, "Hoodie is already charged and delivered every 2 weeks."},
		{rechargekit.ActionRequest{Action: rechargekit.ActionChangeQuantity, SubscriptionID: treats, Quantity: 2}, "The quantity of Cat Treats is already 2."},
	} {
		_, err := h.svc.Do(context.Background(), target, admin, &tc.req, "")
		if rechargekit.ErrorCode(err) != rechargekit.ECONFLICT || rechargekit.ErrorMessage(err) != tc.want {
			t.Errorf("%s: %v, want ECONFLICT %q", tc.req.Action, err, tc.want)
		}
	}
	if h.writes() != 0 {
		t.Errorf("%d writes for changes that change nothing", h.writes())
	}
}

func TestGladlyTargetsTheCustomer(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	gt := rechargekit.ActionTarget{CustomerID: alex}
	res, err := h.svc.Do(context.Background(), gt, gladly, &rechargekit.ActionRequest{Action: rechargekit.ActionSkip, SubscriptionID: treats}, "corr-1:skip:5002")
	if err != nil {
		t.Fatal(err)
	}
	if r := res.Record; r.ProfileID != "" || r.CustomerID != alex || r.ActorRole != rechargekit.RoleGladly || r.Outcome != rechargekit.OutcomeDone {
		t.Errorf("record %+v", r)
	}
	_, err = h.svc.Do(context.Background(), gt, gladly, &rechargekit.ActionRequest{Action: rechargekit.ActionSkip, SubscriptionID: blakes}, "")
	wantCode(t, err, rechargekit.ENOTFOUND)
	_, err = h.svc.Do(context.Background(), rechargekit.ActionTarget{}, gladly, &rechargekit.ActionRequest{Action: rechargekit.ActionSkip, SubscriptionID: treats}, "")
	wantCode(t, err, rechargekit.ENOTFOUND)
}

func TestReplayTheNextDayIgnoresTodaysDateRule(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	req := &rechargekit.ActionRequest{Action: rechargekit.ActionSetNextChargeDate, SubscriptionID: shirt, Date: day(1)}
	first := h.do(agent, req, "tomorrow")
	h.clock.Advance(23 * time.Hour) // the date is today now, and the key still remembered
	again := h.do(agent, req, "tomorrow")
	if !again.Replayed || again.Record.ID != first.Record.ID {
		t.Errorf("replay the next day: %+v", again)
	}
	if n := h.sim.Stats().ByRoute["POST /subscriptions/{id}/set_next_charge_date"]; n != 1 {
		t.Errorf("%d moves sent, want 1", n)
	}
}
