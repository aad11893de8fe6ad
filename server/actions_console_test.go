package server_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/actions"
	"github.com/rechargekit/rechargekit/actions/actionstest"
	"github.com/rechargekit/rechargekit/recharge"
	"github.com/rechargekit/rechargekit/recharge/rechargetest"
	"github.com/rechargekit/rechargekit/server"
)

// actionsEnv is the subscription actions of a test console: the service
// over the simulator (through a front that serves the store's cancellation
// reasons, which the simulator does not have yet) and the in-memory audit.
type actionsEnv struct {
	Log     *actionstest.Store
	Service *actions.Service

	mu      sync.Mutex
	reasons []string
}

// setReasons sets the store's cancellation reasons; none means free text.
func (a *actionsEnv) setReasons(r ...string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.reasons = r
}

// uncachedCards adapts the tests' card service, which keeps no cache, to
// what the actions need: there is nothing to invalidate.
type uncachedCards struct{ rechargekit.CardService }

func (uncachedCards) Invalidate(context.Context, int64) error { return nil }

// wireActions sets cfg's Actions and ActionLog as cmd wires them, over e's
// simulator and store.
func wireActions(tb testing.TB, e *env, cfg *server.Config) {
	tb.Helper()
	a := &actionsEnv{reasons: []string{"Too expensive", "Moving abroad", "Other"}}
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/retention_strategies" {
			e.Sim.ServeHTTP(w, r)
			return
		}
		a.mu.Lock()
		var list []map[string]any
		for i, reason := range a.reasons {
			list = append(list, map[string]any{"id": i + 1, "reason": reason, "incentive_type": "discount"})
		}
		a.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"next_cursor": nil, "previous_cursor": nil, "retention_strategies": list})
	}))
	tb.Cleanup(front.Close)
	client := recharge.NewClient(rechargetest.DefaultToken, recharge.WithBaseURL(front.URL), recharge.WithMaxRetries(0))
	a.Log = actionstest.NewStore(e.Clock.Now)
	a.Service = &actions.Service{
		Source: &recharge.Actions{Client: client},
		Store:  a.Log,
		Cards:  uncachedCards{cfg.Cards},
		Links:  e.Store,
		Now:    e.Clock.Now,
	}
	cfg.Actions, cfg.ActionLog = a.Service, a.Log
	e.Actions = a
}

// A customer with two subscriptions on one address and one date, so that
// both are on one queued charge: skipping one leaves the other billed.
const (
	profPair             = "gladly-kim"
	pairCustomer         = int64(183940099)
	pairTee, pairTea     = int64(889900001), int64(889900002)
	alexTee              = "Dog Lovers T-Shirt"
	alexCustomer         = rechargetest.DemoAlexRiveraID
	samSubscriptionOwner = rechargetest.DemoSamTaylorID
)

func mustPairCustomer(tb testing.TB, e *env) {
	tb.Helper()
	e.Sim.AddCustomer(rechargetest.SeedCustomer{ID: pairCustomer, Email: "kim.park@example.com", FirstName: "Kim", LastName: "Park",
		Subscriptions: []rechargetest.SeedSubscription{
			{ID: pairTee, VariantID: "41845356495003", PastCharges: 2, NextChargeInDays: 7},
			{ID: pairTea, VariantID: "43510687465501", PastCharges: 1, NextChargeInDays: 7},
		}})
	if _, err := e.Store.UpsertProfile(context.Background(), &rechargekit.Profile{ID: profPair, Name: "Kim Park", Emails: []string{"kim.park@example.com"}}); err != nil {
		tb.Fatal(err)
	}
	MustLink(tb, e.Store, profPair, pairCustomer, rechargekit.LinkManual, agentEmail)
}

// mustLinkAlex links Alex Rivera's profile by hand, as opening it would.
func mustLinkAlex(tb testing.TB, e *env) {
	tb.Helper()
	MustLink(tb, e.Store, profAlex, alexCustomer, rechargekit.LinkManual, agentEmail)
}

// subID returns the id of the customer's subscription to the product.
func (e *env) subID(tb testing.TB, customerID int64, product string) int64 {
	tb.Helper()
	card, err := e.Profiles.Cards.Card(context.Background(), customerID)
	if err != nil {
		tb.Fatal(err)
	}
	for _, s := range card.Subscriptions {
		if s.Product.Name == product {
			return s.ID
		}
	}
	tb.Fatalf("customer %d has no %q subscription", customerID, product)
	return 0
}

// sub returns the subscription as Recharge has it now.
func (e *env) sub(tb testing.TB, customerID, id int64) *rechargekit.Subscription {
	tb.Helper()
	card, err := e.Profiles.Cards.Card(context.Background(), customerID)
	if err != nil {
		tb.Fatal(err)
	}
	for _, s := range card.Subscriptions {
		if s.ID == id {
			return s
		}
	}
	tb.Fatalf("customer %d has no subscription %d", customerID, id)
	return nil
}

// writes counts the simulator's POST and PUT requests: Recharge writes.
func (e *env) writes() int {
	n := 0
	for route, c := range e.Sim.Stats().ByRoute {
		if strings.HasPrefix(route, "POST ") || strings.HasPrefix(route, "PUT ") {
			n += c
		}
	}
	return n
}

func actionPath(profile string, sub int64, action string) string {
	return "/profiles/" + profile + "/subscriptions/" + strconv.FormatInt(sub, 10) + "/actions/" + action
}

var (
	hiddenRE = regexp.MustCompile(`<input type="hidden" name="([a-z_]+)" value="([^"]*)">`)
	flashRE  = regexp.MustCompile(`class="flash flash--[a-z]+" role="status">([^<]*)<`)
)

// confirmForm reads the hidden fields of an action page's confirm form.
func confirmForm(tb testing.TB, body string) url.Values {
	tb.Helper()
	i := strings.Index(body, `id="confirm-form"`)
	if i < 0 {
		tb.Fatalf("no confirm form on the page:\n%s", body)
	}
	v := url.Values{}
	for _, m := range hiddenRE.FindAllStringSubmatch(body[i:], -1) {
		v.Set(m[1], htmlUnescape(m[2]))
	}
	if v.Get("key") == "" || v.Get("preview_token") == "" || v.Get("csrf") == "" {
		tb.Fatalf("the confirm form lacks its key, preview token or CSRF token: %v", v)
	}
	return v
}

func htmlUnescape(s string) string {
	return strings.NewReplacer("&#43;", "+", "&#34;", `"`, "&#39;", "'", "&amp;", "&", "&lt;", "<", "&gt;", ">").Replace(s)
}

// follow opens the redirect of a submit and returns the page and its flash.
func (b *browser) follow(tb testing.TB, p page) (page, string) {
	tb.Helper()
	if p.Status != http.StatusSeeOther {
		tb.Fatalf("submit = %d, want 303:\n%s", p.Status, p.Body)
	}
	next := b.Get(p.Resp.Header.Get("Location"))
	m := flashRE.FindStringSubmatch(next.Body)
	if m == nil {
		tb.Fatalf("no flash after the redirect to %s:\n%s", p.Resp.Header.Get("Location"), next.Body)
	}
	return next, m[1]
}

func wantStatus(tb testing.TB, what string, p page, status int) {
	tb.Helper()
	if p.Status != status {
		tb.Fatalf("%s = %d, want %d:\n%s", what, p.Status, status, p.Body)
	}
}

// TestActionCancelWithReason: an agent opens the cancel form from the
// card's button, picks one of the store's reasons, and confirms; Recharge
// gets one cancel with that reason and the agent's name in the comments,
// the profile shows the result and the cancelled card, the recent actions
// and the audit name the agent.
func TestActionCancelWithReason(t *testing.T) {
	t.Parallel()
	e := MustEnv(t, envOptions{Actions: true})
	agent := e.Browser(t).MustLogin(agentEmail, agentPassword)
	prof := agent.Get("/profiles/" + profAlex)
	wantStatus(t, "profile", prof, http.StatusOK)
	tee := e.subID(t, alexCustomer, alexTee)
	form := actionPath(profAlex, tee, rechargekit.ActionCancel)
	mustContain(t, prof.Body, `href="`+form+`"`, `id="recent-actions"`, "No actions yet")
	// An agent may not change frequencies or quantities: no such button.
	mustNotContain(t, prof.Body, `data-action="change_frequency"`, `data-action="change_quantity"`)

	p := agent.Get(form)
	wantStatus(t, "cancel form", p, http.StatusOK)
	mustContain(t, p.Body, "Cancel the subscription", alexTee, `<option value="Moving abroad">Moving abroad</option>`,
		"will be cancelled", "The customer keeps 1 other active subscription.", `name="notify" id="notify" checked`)
	v := confirmForm(t, p.Body)
	v.Set("reason", "Moving abroad")
	v.Set("comments", "Leaving for Lisbon.")
	v.Set("notify", "on")
	writes := e.writes()
	next, msg := agent.follow(t, agent.Post(form, v))
	if !strings.HasPrefix(msg, "Cancelled.") {
		t.Errorf("flash = %q", msg)
	}
	if got := e.writes() - writes; got != 1 {
		t.Errorf("Recharge writes = %d, want 1", got)
	}
	sub := e.sub(t, alexCustomer, tee)
	if sub.Status != rechargekit.StatusCancelled || sub.CancellationReason != "Moving abroad" ||
		sub.CancellationReasonComments != "Leaving for Lisbon. (by "+agentEmail+" via rechargekit)" {
		t.Errorf("subscription after = %s %q %q", sub.Status, sub.CancellationReason, sub.CancellationReasonComments)
	}
	mustContain(t, next.Body, `data-subscription-id="`+strconv.FormatInt(tee, 10)+`"`, "Moving abroad", `class="outcome outcome--done"`, agentEmail)
	recs, err := e.Actions.Log.ActionRecords(context.Background(), rechargekit.ActionFilter{})
	if err != nil || len(recs) != 1 {
		t.Fatalf("audit = %v, %v", recs, err)
	}
	if r := recs[0]; r.Outcome != rechargekit.OutcomeDone || r.ActorName != agentEmail || r.Via != rechargekit.ViaConsole ||
		r.ProfileID != profAlex || r.SubscriptionID != tee || r.After == nil || r.After.Status != rechargekit.StatusCancelled {
		t.Errorf("audit record = %+v", r)
	}
}

// TestActionDoubleSubmitAppliedOnce: the same form sent twice (a double
// click) is applied once: one Recharge write, and the second answer says
// it was already done.
func TestActionDoubleSubmitAppliedOnce(t *testing.T) {
	t.Parallel()
	e := MustEnv(t, envOptions{Actions: true})
	mustPairCustomer(t, e)
	agent := e.Browser(t).MustLogin(agentEmail, agentPassword)
	form := actionPath(profPair, pairTee, rechargekit.ActionSkip)
	v := confirmForm(t, agent.Get(form).Body)
	writes := e.writes()
	_, first := agent.follow(t, agent.Post(form, v))
	_, second := agent.follow(t, agent.Post(form, v))
	if !strings.HasPrefix(first, "Skipped.") || !strings.Contains(second, "already sent") {
		t.Errorf("flashes = %q, %q", first, second)
	}
	if got := e.writes() - writes; got != 1 {
		t.Errorf("Recharge writes = %d, want 1", got)
	}
	if n := e.Sim.Stats().ByRoute["POST /charges/{id}/skip"]; n != 1 {
		t.Errorf("skips sent = %d, want 1", n)
	}
	// A new rendering of the form has a new key.
	if again := confirmForm(t, agent.Get(actionPath(profPair, pairTea, rechargekit.ActionSkip)).Body); again.Get("key") == v.Get("key") {
		t.Error("two renderings of a form share their key")
	}
}

// TestActionSkipPreviewNamesTheOtherLine: the skip preview says what else
// is on the charge, which is not skipped and still bills.
func TestActionSkipPreviewNamesTheOtherLine(t *testing.T) {
	t.Parallel()
	e := MustEnv(t, envOptions{Actions: true})
	mustPairCustomer(t, e)
	agent := e.Browser(t).MustLogin(agentEmail, agentPassword)
	p := agent.Get(actionPath(profPair, pairTee, rechargekit.ActionSkip))
	wantStatus(t, "skip form", p, http.StatusOK)
	mustContain(t, p.Body, "Skip the next charge", "will be skipped for Dog Lovers T-Shirt",
		"Green Tea Sampler", "on that same charge and is not skipped", "still bills 12.50 USD", "Skip this charge")
}

// TestActionMoveDate: the form offers quick picks from the current date;
// a pick previews the move, and the confirm moves it.
func TestActionMoveDate(t *testing.T) {
	t.Parallel()
	e := MustEnv(t, envOptions{Actions: true})
	mustLinkAlex(t, e)
	agent := e.Browser(t).MustLogin(agentEmail, agentPassword)
	tee := e.subID(t, alexCustomer, alexTee)
	form := actionPath(profAlex, tee, rechargekit.ActionSetNextChargeDate)
	old := e.sub(t, alexCustomer, tee).NextChargeDate
	base, err := time.Parse(time.DateOnly, old)
	if err != nil {
		t.Fatal(err)
	}
	twoWeeks := base.AddDate(0, 0, 14).Format(time.DateOnly)

	p := agent.Get(form)
	wantStatus(t, "move form", p, http.StatusOK)
	mustContain(t, p.Body, `type="date" name="date"`, "&#43;1 week", "&#43;2 weeks", "&#43;4 weeks", `href="`+form+`?date=`+twoWeeks+`"`)
	mustNotContain(t, p.Body, `id="confirm-form"`)

	p = agent.Get(form + "?date=" + twoWeeks)
	wantStatus(t, "move preview", p, http.StatusOK)
	mustContain(t, p.Body, "moves from "+old+" to "+twoWeeks)
	v := confirmForm(t, p.Body)
	if v.Get("date") != twoWeeks {
		t.Errorf("confirm form date = %q", v.Get("date"))
	}
	_, msg := agent.follow(t, agent.Post(form, v))
	if !strings.HasPrefix(msg, "Next charge moved.") {
		t.Errorf("flash = %q", msg)
	}
	if got := e.sub(t, alexCustomer, tee).NextChargeDate; got != twoWeeks {
		t.Errorf("next charge date = %s, want %s", got, twoWeeks)
	}

	// A date in the past is the form's problem, said on the form.
	p = agent.Get(form + "?date=2001-01-01")
	wantStatus(t, "past date", p, http.StatusBadRequest)
	mustContain(t, p.Body, `id="action-problem"`, "must be after today")
}

// TestActionChangedSincePreview: a confirm after the subscription changed
// elsewhere applies nothing and shows the new preview with a new token.
func TestActionChangedSincePreview(t *testing.T) {
	t.Parallel()
	e := MustEnv(t, envOptions{Actions: true})
	mustLinkAlex(t, e)
	tee := e.subID(t, alexCustomer, alexTee)
	form := actionPath(profAlex, tee, rechargekit.ActionChangeQuantity)
	admin := e.Browser(t).MustLogin(adminEmail, adminPassword)
	v := confirmForm(t, admin.Get(form+"?quantity=3").Body)

	// Meanwhile the date moves (as in Recharge's own admin).
	next := time.Now().UTC().AddDate(0, 0, 40).Format(time.DateOnly)
	if _, _, err := e.Sim.Client().Subscriptions.SetNextChargeDate(context.Background(), tee, next); err != nil {
		t.Fatal(err)
	}
	writes := e.writes()
	p := admin.Post(form, v)
	wantStatus(t, "stale confirm", p, http.StatusConflict)
	mustContain(t, p.Body, "changed since the preview", "The new preview", "changes from 1 to 3")
	if got := e.writes() - writes; got != 0 {
		t.Errorf("Recharge writes = %d, want 0", got)
	}
	if nv := confirmForm(t, p.Body); nv.Get("preview_token") == v.Get("preview_token") || nv.Get("quantity") != "3" {
		t.Errorf("the new form = %v", nv)
	}
}

// TestActionForbiddenForRole: an agent has no button for an admin-only
// action; its form is a 403 page, and a forged POST is refused with 403,
// sends nothing to Recharge and is audited.
func TestActionForbiddenForRole(t *testing.T) {
	t.Parallel()
	e := MustEnv(t, envOptions{Actions: true})
	agent := e.Browser(t).MustLogin(agentEmail, agentPassword)
	prof := agent.Get("/profiles/" + profAlex)
	tee := e.subID(t, alexCustomer, alexTee)
	form := actionPath(profAlex, tee, rechargekit.ActionChangeFrequency)
	mustNotContain(t, prof.Body, form)

	p := agent.Get(form)
	wantStatus(t, "forbidden form", p, http.StatusForbidden)
	mustContain(t, p.Body, "Not allowed", "may not change frequencies")

	writes := e.writes()
	for _, key := range []string{"0123456789abcdef0123456789abcdef", ""} {
		p = agent.PostWithCSRF("/profiles/"+profAlex, form, url.Values{"key": {key}, "unit": {"week"}, "frequency": {"2"}})
		wantStatus(t, "forged submit (key "+key+")", p, http.StatusForbidden)
		mustContain(t, p.Body, "may not change frequencies")
	}
	if got := e.writes() - writes; got != 0 {
		t.Errorf("Recharge writes = %d, want 0", got)
	}
	admin := e.Browser(t).MustLogin(adminEmail, adminPassword)
	mustContain(t, admin.Get("/admin/audit/actions?outcome=refused_policy").Body,
		"Not allowed", "intervalFrequency: 2; intervalUnit: week", agentEmail)
	recs, err := e.Actions.Log.ActionRecords(context.Background(), rechargekit.ActionFilter{Outcome: rechargekit.OutcomeRefusedPolicy})
	if err != nil || len(recs) != 2 || recs[0].ActorName != agentEmail || recs[0].Action != rechargekit.ActionChangeFrequency {
		t.Errorf("policy refusals audited = %+v, %v", recs, err)
	}
}

// TestActionOtherCustomersSubscription: a subscription that is not the
// profile's customer's is 404, and nothing reaches Recharge's writes.
func TestActionOtherCustomersSubscription(t *testing.T) {
	t.Parallel()
	e := MustEnv(t, envOptions{Actions: true})
	agent := e.Browser(t).MustLogin(agentEmail, agentPassword)
	agent.Get("/profiles/" + profAlex) // auto-links Alex
	sams := e.subID(t, samSubscriptionOwner, "Organic Coffee Beans")
	form := actionPath(profAlex, sams, rechargekit.ActionSkip)
	writes := e.writes()
	wantStatus(t, "form", agent.Get(form), http.StatusNotFound)
	p := agent.PostWithCSRF("/profiles/"+profAlex, form, url.Values{"key": {"0123456789abcdef0123456789abcdef"}})
	wantStatus(t, "submit", p, http.StatusNotFound)
	for _, path := range []string{actionPath(profAlex, 1, "explode"), "/profiles/" + profAlex + "/subscriptions/x/actions/skip"} {
		wantStatus(t, path, agent.Get(path), http.StatusNotFound)
	}
	if got := e.writes() - writes; got != 0 {
		t.Errorf("Recharge writes = %d, want 0", got)
	}
}

// TestActionRefusedByRecharge: Recharge's refusal is shown on the page
// (422) with its message, and the attempt is in the audit.
func TestActionRefusedByRecharge(t *testing.T) {
	t.Parallel()
	e := MustEnv(t, envOptions{Actions: true})
	mustLinkAlex(t, e)
	agent := e.Browser(t).MustLogin(agentEmail, agentPassword)
	tee := e.subID(t, alexCustomer, alexTee)
	form := actionPath(profAlex, tee, rechargekit.ActionSkip)
	v := confirmForm(t, agent.Get(form).Body)
	e.Sim.SetFaults(rechargetest.Faults{Status: http.StatusUnprocessableEntity, Route: "POST /charges/{id}/skip"})
	p := agent.Post(form, v)
	wantStatus(t, "refused", p, http.StatusUnprocessableEntity)
	mustContain(t, p.Body, `id="action-problem"`, "in the audit log", `id="back"`)
	mustNotContain(t, p.Body, `id="confirm-form"`)
}

// TestActionPolicyGrid: the admin's grid shows the policy; saving it
// replaces the policy, which the card's buttons follow at once; a value
// that is not the grid's is refused.
func TestActionPolicyGrid(t *testing.T) {
	t.Parallel()
	e := MustEnv(t, envOptions{Actions: true})
	admin := e.Browser(t).MustLogin(adminEmail, adminPassword)
	p := admin.Get("/admin/settings")
	mustContain(t, p.Body, `id="policy-grid"`,
		`value="admin:change_quantity" id="allow-admin-change_quantity" checked`,
		`value="agent:cancel" id="allow-agent-cancel" checked`)
	mustNotContain(t, p.Body, `value="agent:change_quantity" id="allow-agent-change_quantity" checked`)

	allow := url.Values{"has_policy": {"1"}}
	for _, a := range rechargekit.AllActions() {
		allow.Add("allow", "admin:"+a)
	}
	allow.Add("allow", "agent:change_quantity")
	allow.Add("allow", "gladly:skip")
	_, msg := admin.follow(t, admin.PostWithCSRF("/admin/settings", "/admin/settings/actions", allow))
	if msg != "Action permissions saved." {
		t.Errorf("flash = %q", msg)
	}
	pol, err := e.Actions.Log.ActionPolicy(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !pol.Allows(rechargekit.RoleAgent, rechargekit.ActionChangeQuantity) || pol.Allows(rechargekit.RoleAgent, rechargekit.ActionCancel) ||
		!pol.Allows(rechargekit.RoleGladly, rechargekit.ActionSkip) || pol.Allows(rechargekit.RoleGladly, rechargekit.ActionCancel) {
		t.Errorf("policy = %v", pol)
	}
	changes, err := e.Actions.Log.Audit(context.Background(), rechargekit.AuditFilter{})
	if err != nil || len(changes) == 0 || changes[0].Actor != adminEmail {
		t.Errorf("policy changes audited = %+v, %v", changes, err)
	}

	agent := e.Browser(t).MustLogin(agentEmail, agentPassword)
	prof := agent.Get("/profiles/" + profAlex)
	mustContain(t, prof.Body, `data-action="change_quantity"`)
	mustNotContain(t, prof.Body, `data-action="cancel"`)

	bad := url.Values{"has_policy": {"1"}, "allow": {"root:cancel"}}
	wantStatus(t, "unknown permission", admin.PostWithCSRF("/admin/settings", "/admin/settings/actions", bad), http.StatusBadRequest)
}

// TestActionAuditFiltersAndCSV: the admin's action audit filters by
// action, agent, customer and outcome, and exports the filtered rows as
// CSV, quoted, with formula-like cells defused.
func TestActionAuditFiltersAndCSV(t *testing.T) {
	t.Parallel()
	e := MustEnv(t, envOptions{Actions: true})
	ctx := context.Background()
	add := func(action, actor, outcome, message string, customer int64) {
		t.Helper()
		rec := &rechargekit.ActionRecord{ActorRole: rechargekit.RoleAgent, ActorName: actor, Via: rechargekit.ViaAPI,
			CustomerID: customer, SubscriptionID: 42, Action: action, Inputs: `{"action":"` + action + `","subscriptionId":42}`,
			Outcome: outcome, Message: message}
		if _, err := e.Actions.Log.BeginAction(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	add(rechargekit.ActionCancel, "ana@brand.com", rechargekit.OutcomeRefusedPolicy, `The agent role may not cancel, "really".`, 1001)
	add(rechargekit.ActionSkip, "=HYPERLINK(\"http://evil.example\")", rechargekit.OutcomeRefusedPolicy, "-2+3", 1002)
	add(rechargekit.ActionSkip, "bo@brand.com", rechargekit.OutcomeRefusedPolicy, "@SUM(A1)", 1001)

	admin := e.Browser(t).MustLogin(adminEmail, adminPassword)
	rows := func(query string) int {
		t.Helper()
		p := admin.Get("/admin/audit/actions" + query)
		wantStatus(t, "audit "+query, p, http.StatusOK)
		return strings.Count(p.Body, "<tr data-action-id=")
	}
	for q, want := range map[string]int{
		"":                           3,
		"?action=skip":               2,
		"?agent=bo%40brand.com":      1,
		"?customer=1001":             2,
		"?customer=1001&action=skip": 1,
		"?outcome=refused_policy":    3,
		"?outcome=done":              0,
	} {
		if got := rows(q); got != want {
			t.Errorf("audit%s shows %d rows, want %d", q, got, want)
		}
	}
	wantStatus(t, "bad customer", admin.Get("/admin/audit/actions?customer=abc"), http.StatusBadRequest)
	wantStatus(t, "bad action", admin.Get("/admin/audit/actions?action=explode"), http.StatusBadRequest)

	p := admin.Get("/admin/audit/actions?action=skip&format=csv")
	wantStatus(t, "csv", p, http.StatusOK)
	if ct := p.Resp.Header.Get("Content-Type"); ct != "text/csv; charset=utf-8" ||
		!strings.HasPrefix(p.Resp.Header.Get("Content-Disposition"), `attachment; filename="rechargekit-actions-`) {
		t.Errorf("csv headers: %q %q", ct, p.Resp.Header.Get("Content-Disposition"))
	}
	recs, err := csv.NewReader(strings.NewReader(p.Body)).ReadAll()
	if err != nil {
		t.Fatalf("csv: %v\n%s", err, p.Body)
	}
	if len(recs) != 3 || recs[0][0] != "id" || recs[0][6] != "actor" {
		t.Fatalf("csv rows:\n%q", recs)
	}
	for _, r := range recs[1:] {
		for _, cell := range r {
			if cell != "" && strings.ContainsRune("=+-@", rune(cell[0])) {
				t.Errorf("csv cell %q can run as a formula", cell)
			}
		}
	}
	if recs[2][6] != `'=HYPERLINK("http://evil.example")` || recs[2][4] != "'-2+3" || recs[1][4] != "'@SUM(A1)" {
		t.Errorf("csv cells not defused: %q", recs[1:])
	}
	all := admin.Get("/admin/audit/actions?format=csv")
	if !strings.Contains(all.Body, `"The agent role may not cancel, ""really""."`) {
		t.Errorf("csv does not quote a message with a comma and quotes:\n%s", all.Body)
	}
}

// TestActionOffersUnavailable: when Recharge cannot say which actions a
// subscription allows, the card is still shown, without buttons and with
// a sentence that says why.
func TestActionOffersUnavailable(t *testing.T) {
	t.Parallel()
	e := MustEnv(t, envOptions{Actions: true})
	mustLinkAlex(t, e)
	agent := e.Browser(t).MustLogin(agentEmail, agentPassword)
	e.Sim.SetFaults(rechargetest.Faults{Status: http.StatusServiceUnavailable, Route: "GET /charges"})
	p := agent.Get("/profiles/" + profAlex)
	wantStatus(t, "profile", p, http.StatusOK)
	mustContain(t, p.Body, `id="card"`, `id="actions-error"`, "Recharge is not answering")
	mustNotContain(t, p.Body, `data-action="cancel"`)
}

// TestActionSubmitNeedsItsPreview: a console submit without the preview
// token it was rendered with (a forged or stripped form) is not applied:
// the form comes back with the preview to confirm, and Recharge gets
// nothing.
func TestActionSubmitNeedsItsPreview(t *testing.T) {
	t.Parallel()
	e := MustEnv(t, envOptions{Actions: true})
	agent := e.Browser(t).MustLogin(agentEmail, agentPassword)
	wantStatus(t, "profile", agent.Get("/profiles/"+profAlex), http.StatusOK) // links it
	tee := e.subID(t, alexCustomer, alexTee)
	form := actionPath(profAlex, tee, rechargekit.ActionCancel)
	p := agent.Get(form)
	wantStatus(t, "cancel form", p, http.StatusOK)
	v := confirmForm(t, p.Body)
	v.Del("preview_token")
	v.Set("reason", "Moving abroad")
	writes := e.writes()
	p = agent.Post(form, v)
	wantStatus(t, "submit without its preview", p, http.StatusBadRequest)
	mustContain(t, p.Body, "missing its preview", `id="confirm-form"`)
	if got := e.writes() - writes; got != 0 {
		t.Errorf("Recharge writes = %d, want 0", got)
	}
}
