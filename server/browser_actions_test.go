package server_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/rechargekit/rechargekit"
)

// subSel is the CSS selector of a subscription's panel on the card.
func subSel(id int64) string {
	return `article[data-subscription-id="` + strconv.FormatInt(id, 10) + `"]`
}

// TestBrowserActionsAgent: in a real Chromium, an agent cancels with one
// of the store's reasons (confirming with the keyboard), skips a charge
// whose preview names the other subscription on it, moves a date with a
// quick pick; a double submit of one form is applied once; an action the
// role may not take has no button, and a forged submit is refused.
func TestBrowserActionsAgent(t *testing.T) {
	t.Parallel()
	chromePath(t)
	e := MustEnv(t, envOptions{Actions: true})
	mustPairCustomer(t, e)
	c := MustChrome(t, e, 120*time.Second)
	c.signIn(agentEmail, agentPassword)

	// Alex's card: the actions an agent may take, and none of the admin's.
	c.do("open Alex Rivera", chromedp.Navigate(c.base+"/profiles/"+profAlex), chromedp.WaitVisible(chromedp.ID("card")))
	tee := e.subID(t, alexCustomer, alexTee)
	teeSel := subSel(tee)
	wantText(t, "the T-shirt's buttons", c.text(teeSel+" .sub__actions"), "Cancel…", "Skip next charge…", "Move date…")
	if c.eval(`!!document.querySelector('[data-action="change_frequency"], [data-action="change_quantity"]')`) {
		t.Error("an agent sees a button for an admin-only action")
	}
	c.imagesLoaded()
	c.shoot("actions-01-card-buttons.png", "")

	// Cancel with a reason from the store's list.
	c.do("open the cancel form",
		chromedp.Click(chromedp.CSS(teeSel+` a[data-action="cancel"]`)),
		chromedp.WaitVisible(chromedp.ID("confirm-form")),
	)
	wantText(t, "cancel preview", c.text("#preview"), "Dog Lovers T-Shirt", "will be cancelled", "keeps 1 other active subscription")
	c.do("fill the cancel form",
		chromedp.SetValue(chromedp.ID("reason"), "Moving abroad"),
		chromedp.SendKeys(chromedp.ID("comments"), "Leaving for Lisbon."),
	)
	c.shoot("actions-02-cancel-form.png", "")
	c.do("confirm with the keyboard",
		chromedp.Focus(chromedp.ID("confirm")),
		chromedp.KeyEvent("\r"),
		chromedp.WaitVisible(chromedp.CSS(".flash--success")),
	)
	wantText(t, "result", c.text(".flash"), "Cancelled.")
	wantText(t, "cancelled card", c.text(teeSel), "CANCELLED", "Moving abroad", "Leaving for Lisbon. (by "+agentEmail+" via rechargekit)")
	wantText(t, "recent actions", c.text("#recent-actions"), "Done", "Cancel", agentEmail)
	wantText(t, "reactivate offered", c.text(teeSel+" .sub__actions"), "Reactivate…")
	c.shoot("actions-03-cancel-result.png", "")

	// Skip: the preview names the tea on the same charge.
	c.do("open Kim Park", chromedp.Navigate(c.base+"/profiles/"+profPair), chromedp.WaitVisible(chromedp.ID("card")))
	c.do("open the skip form",
		chromedp.Click(chromedp.CSS(subSel(pairTee)+` a[data-action="skip"]`)),
		chromedp.WaitVisible(chromedp.ID("confirm-form")),
	)
	wantText(t, "skip preview", c.text("#preview"), "will be skipped for Dog Lovers T-Shirt", "Green Tea Sampler", "is not skipped", "still bills")
	c.shoot("actions-04-skip-preview.png", "")

	// A double submit of this one form: both requests reach the server,
	// one skip reaches Recharge.
	skips := e.Sim.Stats().ByRoute["POST /charges/{id}/skip"]
	statuses, err := chromedp.Run(c.ctx, chromedp.Evaluate[[]int](`(() => {
	  const f = document.getElementById('confirm-form');
	  const send = () => fetch(f.action, {method: 'POST', body: new URLSearchParams(new FormData(f)), redirect: 'manual'});
	  return Promise.all([send(), send()]).then(rs => rs.map(r => r.status));
	})()`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("double submit: %v", err)
	}
	if len(statuses) != 2 {
		t.Errorf("double submit answers = %v", statuses)
	}
	if got := e.Sim.Stats().ByRoute["POST /charges/{id}/skip"] - skips; got != 1 {
		t.Errorf("a double submit sent %d skips to Recharge, want 1", got)
	}
	recs, err := e.Actions.Log.ActionRecords(context.Background(), rechargekit.ActionFilter{Action: rechargekit.ActionSkip})
	if err != nil || len(recs) != 1 || recs[0].Outcome != rechargekit.OutcomeDone {
		t.Errorf("skip attempts audited = %+v, %v", recs, err)
	}
	c.do("submit the same form once more",
		chromedp.Click(chromedp.ID("confirm")),
		chromedp.WaitVisible(chromedp.CSS(".flash--info")),
	)
	wantText(t, "replayed", c.text(".flash"), "already sent", "applied once")
	wantText(t, "unskip offered", c.text(subSel(pairTee)+" .sub__actions"), "Unskip…")
	c.shoot("actions-05-skip-result.png", "")

	// Move the date with a quick pick.
	c.do("open Alex Rivera", chromedp.Navigate(c.base+"/profiles/"+profAlex), chromedp.WaitVisible(chromedp.ID("card")))
	other := e.subID(t, alexCustomer, alexTee) // the same subscription, now cancelled: reactivate it first
	c.do("reactivate",
		chromedp.Click(chromedp.CSS(subSel(other)+` a[data-action="reactivate"]`)),
		chromedp.WaitVisible(chromedp.ID("confirm-form")),
		chromedp.Click(chromedp.ID("confirm")),
		chromedp.WaitVisible(chromedp.CSS(".flash--success")),
	)
	old := e.sub(t, alexCustomer, tee).NextChargeDate
	base, err := time.Parse(time.DateOnly, old)
	if err != nil {
		t.Fatalf("next charge date %q: %v", old, err)
	}
	want := base.AddDate(0, 0, 14).Format(time.DateOnly)
	c.do("open the move form",
		chromedp.Click(chromedp.CSS(teeSel+` a[data-action="set_next_charge_date"]`)),
		chromedp.WaitVisible(chromedp.ID("inputs")),
	)
	c.shoot("actions-06-move-form.png", "")
	c.do("pick +2 weeks",
		chromedp.Click(chromedp.CSS(`.quick__pick[data-date="`+want+`"]`)),
		chromedp.WaitVisible(chromedp.ID("confirm-form")),
	)
	wantText(t, "move preview", c.text("#preview"), "moves from "+old+" to "+want)
	c.shoot("actions-07-move-preview.png", "")
	c.do("confirm the move", chromedp.Click(chromedp.ID("confirm")), chromedp.WaitVisible(chromedp.CSS(".flash--success")))
	wantText(t, "moved", c.text(".flash"), "Next charge moved.")
	if got := e.sub(t, alexCustomer, tee).NextChargeDate; got != want {
		t.Errorf("next charge date = %s, want %s", got, want)
	}
	c.do("narrow screen", chromedp.EmulateViewport(360, 740))
	if !c.eval(`document.documentElement.scrollWidth <= 360`) {
		t.Error("the card with its actions overflows a 360 px screen")
	}
	c.shoot("actions-08-result-phone.png", "")
	c.do("wide screen", chromedp.EmulateViewport(1280, 900))

	// A forged submit of an admin-only action, from the agent's page with
	// its CSRF token: refused, and audited.
	form := actionPath(profAlex, tee, rechargekit.ActionChangeFrequency)
	status, err := chromedp.Run(c.ctx, chromedp.Evaluate[int](fmt.Sprintf(`(() => {
	  const csrf = document.querySelector('input[name="csrf"]').value;
	  const body = new URLSearchParams({csrf, key: '0123456789abcdef0123456789abcdef', unit: 'week', frequency: '2'});
	  return fetch(%q, {method: 'POST', body}).then(r => r.status);
	})()`, form), chromedp.EvalAwaitPromise))
	if err != nil || status != 403 {
		t.Errorf("forged submit = %d, %v; want 403", status, err)
	}
	refused, err := e.Actions.Log.ActionRecords(context.Background(), rechargekit.ActionFilter{Outcome: rechargekit.OutcomeRefusedPolicy})
	if err != nil || len(refused) != 1 || refused[0].ActorName != agentEmail {
		t.Errorf("forged submit audited = %+v, %v", refused, err)
	}
	if n := e.Sim.Stats().ByRoute["PUT /subscriptions/{id}"]; n != 0 {
		t.Errorf("a refused frequency change reached Recharge %d times", n)
	}
	c.checkProblems()
}

// TestBrowserActionsAdmin: the admin allows agents to change quantities
// on the grid, and reads the action audit with its filters.
func TestBrowserActionsAdmin(t *testing.T) {
	t.Parallel()
	chromePath(t)
	e := MustEnv(t, envOptions{Actions: true})
	mustLinkAlex(t, e)
	tee := e.subID(t, alexCustomer, alexTee)
	ctx := context.Background()
	agentActor := rechargekit.Actor{Role: rechargekit.RoleAgent, Name: agentEmail, Via: rechargekit.ViaConsole}
	target := rechargekit.ActionTarget{ProfileID: profAlex}
	// An agent's refused frequency change and a skip, for the audit.
	if _, err := e.Actions.Service.Do(ctx, target, agentActor, &rechargekit.ActionRequest{Action: rechargekit.ActionChangeFrequency,
		SubscriptionID: tee, IntervalUnit: "week", IntervalFrequency: 2}, "k1"); rechargekit.ErrorCode(err) != rechargekit.EFORBIDDEN {
		t.Fatalf("frequency change as an agent: %v", err)
	}
	if _, err := e.Actions.Service.Do(ctx, target, agentActor, &rechargekit.ActionRequest{Action: rechargekit.ActionSkip, SubscriptionID: tee}, "k2"); err != nil {
		t.Fatalf("skip: %v", err)
	}

	c := MustChrome(t, e, 90*time.Second)
	c.signIn(adminEmail, adminPassword)
	c.do("open settings", chromedp.Navigate(c.base+"/admin/settings"), chromedp.WaitVisible(chromedp.ID("policy-grid")))
	if c.eval(`document.getElementById('allow-agent-change_quantity').checked`) || !c.eval(`document.getElementById('allow-agent-cancel').checked`) {
		t.Error("the grid does not show the default policy")
	}
	c.do("allow agents to change quantities",
		chromedp.Click(chromedp.ID("allow-agent-change_quantity")),
		chromedp.Click(chromedp.ID("save-policy")),
		chromedp.WaitVisible(chromedp.CSS(".flash--success")),
	)
	wantText(t, "saved", c.text(".flash"), "Action permissions saved.")
	if !c.eval(`document.getElementById('allow-agent-change_quantity').checked`) {
		t.Error("the saved grid does not show the new permission")
	}
	if p, err := e.Actions.Log.ActionPolicy(ctx); err != nil || !p.Allows(rechargekit.RoleAgent, rechargekit.ActionChangeQuantity) {
		t.Errorf("policy = %v, %v", p, err)
	}
	c.shoot("actions-09-policy-grid.png", "#policy")

	c.do("open the action audit",
		chromedp.Navigate(c.base+"/admin/audit"),
		chromedp.WaitVisible(chromedp.ID("audit")),
		chromedp.Click(chromedp.CSS(`.tabs a[href="/admin/audit/actions"]`)),
		chromedp.WaitVisible(chromedp.ID("action-audit")),
	)
	all := c.text("#action-audit")
	wantText(t, "action audit", all, "Frequency", "Not allowed", "Skip", "Done", agentEmail)
	c.shoot("actions-10-audit.png", "")
	c.do("filter by outcome",
		chromedp.SetValue(chromedp.ID("f-outcome"), rechargekit.OutcomeRefusedPolicy),
		chromedp.Click(chromedp.ID("filter")),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/admin/audit/actions"].btn--ghost`)),
	)
	filtered := c.text("#action-audit")
	wantText(t, "filtered audit", filtered, "Frequency", "Not allowed")
	if strings.Contains(filtered, "Skip") {
		t.Errorf("the outcome filter shows a done skip:\n%s", filtered)
	}
	csvType, err := chromedp.Run(c.ctx, chromedp.Evaluate[string](
		`fetch(document.getElementById('csv').href).then(r => r.headers.get('content-type') + ' ' + r.headers.get('content-disposition'))`,
		chromedp.EvalAwaitPromise))
	if err != nil || !strings.HasPrefix(csvType, "text/csv") || !strings.Contains(csvType, "attachment") {
		t.Errorf("CSV link answers %q, %v", csvType, err)
	}
	c.checkProblems()
}

// mustActionPages readies the action pages of TestBrowserPhoneWidths: it
// links Alex, records an attempt with a long message for the audit, and
// returns the T-shirt's subscription id and a date to move it to.
func mustActionPages(t *testing.T, e *env) (tee int64, moveTo string) {
	t.Helper()
	mustLinkAlex(t, e)
	tee = e.subID(t, alexCustomer, alexTee)
	base, err := time.Parse(time.DateOnly, e.sub(t, alexCustomer, tee).NextChargeDate)
	if err != nil {
		t.Fatal(err)
	}
	rec := &rechargekit.ActionRecord{ActorRole: rechargekit.RoleAgent, ActorName: "gladly-sidebar-production", Via: rechargekit.ViaAPI,
		ProfileID: profAlex, CustomerID: alexCustomer, SubscriptionID: tee, Action: rechargekit.ActionSetNextChargeDate,
		Inputs:  `{"action":"set_next_charge_date","date":"2026-12-24","subscriptionId":1}`,
		Outcome: rechargekit.OutcomePending,
	}
	if _, err := e.Actions.Log.BeginAction(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	if err := e.Actions.Log.CompleteAction(context.Background(), rec.ID, rechargekit.OutcomeRefusedRecharge,
		"Recharge refused it: next_charge_scheduled_at: Date must be in the future and within the subscription's allowed window of rescheduling.", nil); err != nil {
		t.Fatal(err)
	}
	return tee, base.AddDate(0, 0, 14).Format(time.DateOnly)
}
