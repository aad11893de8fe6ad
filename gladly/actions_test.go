package gladly_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/actions"
	"github.com/rechargekit/rechargekit/actions/actionstest"
	"github.com/rechargekit/rechargekit/cards"
	"github.com/rechargekit/rechargekit/gladly"
	"github.com/rechargekit/rechargekit/internal/testkit"
	"github.com/rechargekit/rechargekit/recharge"
	"github.com/rechargekit/rechargekit/recharge/rechargetest"
)

// The seeded store of the action tests: Alex (customer 1001) has a T-shirt
// and cat treats on one address and one date, so both are on one queued
// charge, a hoodie on another date, and cancelled pajamas.
const (
	alex                           = int64(1001)
	shirt, treats, hoodie, pajamas = int64(5001), int64(5002), int64(5003), int64(5004)
)

var actionsNow = time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)

func actionSeed() rechargetest.Seed {
	return rechargetest.Seed{Customers: []rechargetest.SeedCustomer{
		{ID: alex, Email: "alex@example.com", FirstName: "Alex", LastName: "Rivera", Subscriptions: []rechargetest.SeedSubscription{
			{ID: shirt, ProductID: "p1", ProductTitle: "Dog Lovers T-Shirt", VariantTitle: "Large", Price: "25.00", PastCharges: 2, NextChargeInDays: 10},
			{ID: treats, ProductID: "p2", ProductTitle: "Cat Treats", Price: "12.50", Quantity: 2, PastCharges: 1, NextChargeInDays: 10},
			{ID: hoodie, ProductID: "p3", ProductTitle: "Hoodie", Price: "40.00", Interval: 2, Unit: "week", PastCharges: 1, NextChargeInDays: 20},
			{ID: pajamas, ProductID: "p4", ProductTitle: "Cat Pajamas", Price: "49.50", Status: "cancelled", PastCharges: 2, CancellationReason: "Too expensive"},
		}},
	}}
}

// actionRig is the Lookup Adaptor with actions, over HTTP, wired as cmd
// wires it: the simulator behind the Recharge client, the cached card
// service, actions.Service with the in-memory ActionStore, and the handler
// mounted at its path and under it (as server.New mounts it).
type actionRig struct {
	t       *testing.T
	clock   *testkit.Clock
	sim     *rechargetest.Simulator
	store   *actionstest.Store
	svc     *actions.Service
	rc      *recharge.Client
	url     string // the lookup URL
	base    string // the server's root
	client  *gladly.Client
	reasons []string
}

func newActionRig(t *testing.T, wrap func(rechargekit.ActionService) rechargekit.ActionService, configure ...func(*gladly.Config)) *actionRig {
	t.Helper()
	clock := testkit.NewClock(actionsNow)
	r := &actionRig{t: t, clock: clock, reasons: []string{"Too expensive", "Moving abroad", "Other"}}
	r.sim = rechargetest.New(rechargetest.Config{Now: clock.Now, BucketSize: 1000, LeakPerSecond: 1000})
	r.sim.Load(actionSeed())
	// The simulator has no retention strategies yet: this front serves them.
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path != "/retention_strategies" {
			r.sim.ServeHTTP(w, req)
			return
		}
		var list []map[string]any
		for i, reason := range r.reasons {
			list = append(list, map[string]any{"id": i + 1, "reason": reason})
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"next_cursor": nil, "retention_strategies": list})
	}))
	t.Cleanup(func() { front.Close(); _ = r.sim.Close() })
	r.rc = recharge.NewClient(rechargetest.DefaultToken, recharge.WithBaseURL(front.URL), recharge.WithClock(clock.Now, clock.Sleep))
	cs := cards.NewCachedService(&recharge.Source{Client: r.rc, Now: clock.Now}, nil, cards.CachedOptions{
		TTL: time.Hour, RefreshAfter: 2 * time.Hour, Now: clock.Now,
	})
	t.Cleanup(func() { _ = cs.Close() })
	r.store = actionstest.NewStore(clock.Now)
	r.svc = &actions.Service{Source: &recharge.Actions{Client: r.rc}, Store: r.store, Cards: cs, Links: noLinks{}, Now: clock.Now}
	var as rechargekit.ActionService = r.svc
	if wrap != nil {
		as = wrap(as)
	}
	cfg := gladly.Config{Service: cs, Actions: as, SigningKey: testKey, Now: clock.Now, Logger: slog.New(slog.DiscardHandler)}
	for _, c := range configure {
		c(&cfg)
	}
	h, err := gladly.NewHandler(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(gladly.DefaultPath, h)
	mux.Handle(gladly.DefaultPath+"/", h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	r.base, r.url = srv.URL, srv.URL+gladly.DefaultPath
	r.client = &gladly.Client{URL: r.url, SigningKey: testKey, Now: clock.Now}
	return r
}

// noLinks: Gladly names the customer itself; no profile is ever linked.
type noLinks struct{}

func (noLinks) Link(ctx context.Context, profileID string) (*rechargekit.Link, error) {
	return nil, rechargekit.Errorf(rechargekit.ENOTFOUND, "not linked")
}

func (r *actionRig) allowGladly(actions ...string) {
	r.t.Helper()
	p := rechargekit.DefaultActionPolicy()
	for _, a := range actions {
		p[rechargekit.RoleGladly][a] = true
	}
	if err := r.store.UpdateActionPolicy(context.Background(), p, "admin@brand.com"); err != nil {
		r.t.Fatal(err)
	}
}

// corr is a Gladly-style correlation id (22 characters of URL-safe
// base64) named by s.
func corr(s string) string {
	sum := sha256.Sum256([]byte(s))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

// withCorr is a context carrying a correlation id, as Gladly's requests do.
func withCorr(corr string) context.Context {
	return rechargekit.WithCorrelationID(context.Background(), corr)
}

func (r *actionRig) detailed() gladly.Result {
	r.t.Helper()
	resp, err := r.client.Detailed(withCorr(gladly.NewCorrelationID()), "1001", rechargekit.Profile{ID: "g-1"})
	if err != nil {
		r.t.Fatal(err)
	}
	if len(resp.Results) != 1 {
		r.t.Fatalf("%d results, want 1", len(resp.Results))
	}
	return resp.Results[0]
}

func (r *actionRig) form(action string) *gladly.Form {
	r.t.Helper()
	f, err := r.client.Form(withCorr(gladly.NewCorrelationID()), "/gladly/lookup/actions/"+action+"?customer=1001")
	if err != nil {
		r.t.Fatalf("form %s: %v", action, err)
	}
	return f
}

// submit posts fields to the action URL with the correlation id and
// returns the status and the body.
func (r *actionRig) submit(corr, actionURL string, fields map[string]string) (int, []byte) {
	r.t.Helper()
	a, err := r.client.Submit(withCorr(corr), actionURL, fields)
	var re *gladly.ResponseError
	switch {
	case err == nil:
		b, _ := json.Marshal(a)
		return http.StatusOK, b
	case errors.As(err, &re):
		b, _ := json.Marshal(gladly.ErrorResponse{Errors: re.Errors})
		return re.StatusCode, b
	}
	r.t.Fatalf("submit: %v", err)
	return 0, nil
}

func (r *actionRig) writes() int {
	n := 0
	for route, c := range r.sim.Stats().ByRoute {
		if strings.HasPrefix(route, "POST ") || strings.HasPrefix(route, "PUT ") {
			n += c
		}
	}
	return n
}

func (r *actionRig) records() []*rechargekit.ActionRecord {
	r.t.Helper()
	rs, err := r.store.ActionRecords(context.Background(), rechargekit.ActionFilter{})
	if err != nil {
		r.t.Fatal(err)
	}
	return rs
}

func (r *actionRig) subscription(id int64) *rechargekit.ActionSubscription {
	r.t.Helper()
	s, err := (&recharge.Actions{Client: r.rc}).ActionSubscription(context.Background(), id)
	if err != nil {
		r.t.Fatal(err)
	}
	return s
}

func section(f *gladly.Form, attr string) *gladly.FormSection {
	for i := range f.Sections {
		if f.Sections[i].Attr == attr {
			return &f.Sections[i]
		}
	}
	return nil
}

func formText(f *gladly.Form) string {
	var b strings.Builder
	for _, s := range f.Sections {
		if s.Type == "text" {
			b.WriteString(s.Text + "\n")
		}
	}
	return b.String()
}

func errorsOf(t *testing.T, body []byte) []gladly.ErrorDetail {
	t.Helper()
	var er gladly.ErrorResponse
	if err := json.Unmarshal(body, &er); err != nil || len(er.Errors) == 0 {
		t.Fatalf("not an error body: %s", body)
	}
	return er.Errors
}

func markedAttr(errs []gladly.ErrorDetail) string {
	for _, e := range errs {
		if e.Attr != "" {
			return e.Attr
		}
	}
	return ""
}

// A DETAILED result offers, at customer level, each action the gladly role
// may take on at least one subscription, with its form under the lookup
// path; frequency and quantity are admin-only by default. Unskip is
// offered while any subscription is active, because the card cannot show
// a skipped charge: its form then says that none has one.
func TestActionsOfferedInDetailed(t *testing.T) {
	t.Parallel()
	r := newActionRig(t, nil)
	got := r.detailed().Actions
	want := []gladly.Action{
		{Name: "Cancel a subscription", FormURL: "/gladly/lookup/actions/cancel?customer=1001"},
		{Name: "Reactivate a subscription", FormURL: "/gladly/lookup/actions/reactivate?customer=1001"},
		{Name: "Skip a charge", FormURL: "/gladly/lookup/actions/skip?customer=1001"},
		{Name: "Unskip a charge", FormURL: "/gladly/lookup/actions/unskip?customer=1001"},
		{Name: "Move the next charge", FormURL: "/gladly/lookup/actions/set_next_charge_date?customer=1001"},
	}
	if len(got) != len(want) {
		t.Fatalf("actions = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("action %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	unskip := r.form(rechargekit.ActionUnskip)
	if !strings.Contains(formText(unskip), "No subscription of this customer can be changed this way now.") ||
		section(unskip, gladly.FieldSubscriptionID) != nil {
		t.Errorf("unskip form without a skipped charge = %+v, want it to say none can be unskipped, with no select", unskip)
	}
}

// countRoutes returns the simulator's requests by route since before.
func countRoutes(sim *rechargetest.Simulator, before map[string]int) map[string]int {
	out := map[string]int{}
	for route, n := range sim.Stats().ByRoute {
		if d := n - before[route]; d != 0 {
			out[route] = d
		}
	}
	return out
}

// The actions of a DETAILED result cost no Recharge call: a cold lookup
// makes exactly the calls of the same lookup without actions (the card's
// own), and a warm one none.
func TestDetailedActionsCostNoRechargeCalls(t *testing.T) {
	t.Parallel()
	plain := newActionRig(t, nil, func(c *gladly.Config) { c.Actions = nil })
	if a := plain.detailed().Actions; len(a) != 0 {
		t.Fatalf("a lookup without an ActionService offers %+v", a)
	}
	cardCalls := countRoutes(plain.sim, nil)

	r := newActionRig(t, nil)
	if a := r.detailed().Actions; len(a) == 0 {
		t.Fatal("a cold lookup offers no actions")
	}
	cold := countRoutes(r.sim, nil)
	if diff := cmp.Diff(cardCalls, cold); diff != "" {
		t.Errorf("Recharge calls of a cold lookup with actions differ from the card's own (-card +with actions):\n%s", diff)
	}
	if len(cold) == 0 {
		t.Fatal("a cold lookup made no Recharge call")
	}

	// Warm, also once the policy is due to be read again: no call.
	before := r.sim.Stats().ByRoute
	r.clock.Advance(actions.DefaultPolicyTTL)
	for range 3 {
		if a := r.detailed().Actions; len(a) == 0 {
			t.Fatal("a warm lookup offers no actions")
		}
	}
	if warm := countRoutes(r.sim, before); len(warm) != 0 {
		t.Errorf("warm lookups made Recharge calls: %v", warm)
	}
}

// hungPolicy is an ActionStore whose ActionPolicy never answers until the
// test ends, ignoring its context, as a hung database might.
type hungPolicy struct {
	rechargekit.ActionStore
	release chan struct{}
	calls   atomic.Int32
}

func (h *hungPolicy) ActionPolicy(ctx context.Context) (rechargekit.ActionPolicy, error) {
	h.calls.Add(1)
	<-h.release
	return nil, errors.New("hung policy: released")
}

// A hung action store does not hold DETAILED lookups: they answer, with
// the card and the default policy's actions, while the policy read is
// still blocked, and only one read waits on the store however many
// lookups come.
func TestHungActionStoreDoesNotSlowLookups(t *testing.T) {
	t.Parallel()
	r := newActionRig(t, nil, func(c *gladly.Config) { c.Deadline = 2 * time.Second })
	hung := &hungPolicy{ActionStore: r.store, release: make(chan struct{})}
	t.Cleanup(func() { close(hung.release) })
	r.svc.Store = hung // before any request reaches the service

	for i := range 5 {
		start := time.Now()
		res := r.detailed()
		if len(res.Transactions) != 4 {
			t.Errorf("lookup %d: %d transactions, want 4", i, len(res.Transactions))
		}
		if len(res.Actions) != 5 {
			t.Errorf("lookup %d: actions %+v, want the default policy's five", i, res.Actions)
		}
		if d := time.Since(start); d >= time.Second {
			t.Errorf("lookup %d took %v with a hung action store", i, d)
		}
	}
	if n := hung.calls.Load(); n != 1 {
		t.Errorf("%d policy reads waited on the hung store, want 1", n)
	}
}

// Each form lists the eligible subscriptions by product, variant, price
// and interval, previews the first, and has the inputs the action needs.
func TestActionForms(t *testing.T) {
	t.Parallel()
	r := newActionRig(t, nil)
	r.allowGladly(rechargekit.ActionChangeFrequency, rechargekit.ActionChangeQuantity)

	cancel := r.form(rechargekit.ActionCancel)
	if cancel.Title != "Cancel a subscription" || cancel.SubmitButton != "Cancel subscription" || cancel.CloseButton != "Keep it" {
		t.Errorf("cancel form head = %q %q %q", cancel.Title, cancel.SubmitButton, cancel.CloseButton)
	}
	if !strings.HasPrefix(cancel.ActionURL, "/gladly/lookup/actions/cancel?customer=1001&") || !strings.Contains(cancel.ActionURL, "token=") {
		t.Errorf("cancel actionUrl = %q, want the form's path with the previewed subscription and token", cancel.ActionURL)
	}
	sub := section(cancel, gladly.FieldSubscriptionID)
	if sub == nil || sub.Input.Type != "select" || len(sub.Input.Options) != 3 {
		t.Fatalf("subscription select = %+v, want the 3 active subscriptions", sub)
	}
	if opt := sub.Input.Options[0]; sub.DefaultValue != opt.Value || !strings.Contains(opt.Text, ", ") || !strings.Contains(opt.Text, "every") {
		t.Errorf("first option %+v (default %v), want product, price and interval, preselected", opt, sub.DefaultValue)
	}
	var shirtOpt string
	for _, o := range sub.Input.Options {
		if o.Value == "5001" {
			shirtOpt = o.Text
		}
	}
	if shirtOpt != "Dog Lovers T-Shirt (Large), 25.00 USD every month" {
		t.Errorf("T-shirt option = %q", shirtOpt)
	}
	if reason := section(cancel, gladly.FieldReason); reason == nil || reason.Input.Type != "select" || len(reason.Input.Options) != 3 ||
		reason.Input.Options[1] != (gladly.FormOption{Text: "Moving abroad", Value: "Moving abroad"}) {
		t.Errorf("reason = %+v, want the store's reasons verbatim", reason)
	}
	if email := section(cancel, gladly.FieldSendEmail); email == nil || email.Input.Type != "checkbox" || email.DefaultValue != true {
		t.Errorf("sendEmail = %+v, want a checkbox, default true", email)
	}
	if c := section(cancel, gladly.FieldComments); c == nil || c.Input.Type != "text" || !c.Input.Optional {
		t.Errorf("comments = %+v, want an optional text", c)
	}
	if txt := formText(cancel); !strings.Contains(txt, "will be cancelled") {
		t.Errorf("cancel form text does not preview:\n%s", txt)
	}

	skip := r.form(rechargekit.ActionSkip)
	if txt := formText(skip); !strings.Contains(txt, "will be skipped") {
		t.Errorf("skip form text does not preview:\n%s", txt)
	}
	// The T-shirt is not the one previewed: its submit answers its preview,
	// which names what else is on its charge.
	status, body := r.submit(corr("skip-shirt"), skip.ActionURL, map[string]string{gladly.FieldSubscriptionID: "5001"})
	if errs := errorsOf(t, body); status != http.StatusBadRequest || !strings.Contains(errs[0].Detail, "Cat Treats is on that same charge and is not skipped") {
		t.Errorf("skip preview of the T-shirt: %d %s", status, body)
	}

	reactivate := r.form(rechargekit.ActionReactivate)
	if s := section(reactivate, gladly.FieldSubscriptionID); s == nil || len(s.Input.Options) != 1 || s.Input.Options[0].Value != "5004" {
		t.Errorf("reactivate offers %+v, want only the cancelled pajamas", s)
	}

	date := r.form(rechargekit.ActionSetNextChargeDate)
	if d := section(date, gladly.FieldDate); d == nil || d.Input.Type != "text" || !strings.Contains(d.Hint, "YYYY-MM-DD") {
		t.Errorf("date input = %+v, want a text with a YYYY-MM-DD hint", d)
	}
	if strings.Contains(date.ActionURL, "token=") {
		t.Errorf("date actionUrl %q carries a token: its preview needs the date", date.ActionURL)
	}

	freq := r.form(rechargekit.ActionChangeFrequency)
	if u := section(freq, gladly.FieldIntervalUnit); u == nil || u.Input.Type != "select" || len(u.Input.Options) != 3 {
		t.Errorf("unit = %+v, want a select of day, week, month", u)
	}
	if n := section(freq, gladly.FieldIntervalFrequency); n == nil || n.Input.Type != "text" {
		t.Errorf("frequency = %+v, want a text", n)
	}
	qty := r.form(rechargekit.ActionChangeQuantity)
	if q := section(qty, gladly.FieldQuantity); q == nil || q.Input.Type != "text" {
		t.Errorf("quantity = %+v, want a text", q)
	}

	unskip := r.form(rechargekit.ActionUnskip)
	if section(unskip, gladly.FieldSubscriptionID) != nil || !strings.Contains(formText(unskip), "no skipped charge") {
		t.Errorf("unskip form with nothing skipped = %+v, want only the reasons", unskip)
	}
}

// Both readings of a relative formUrl reach the form: resolved against the
// adaptor's URL, or appended to it.
func TestActionFormBothURLReadings(t *testing.T) {
	t.Parallel()
	r := newActionRig(t, nil)
	for _, u := range []string{
		r.base + "/gladly/lookup/actions/reactivate?customer=1001",
		r.base + "/gladly/lookup/gladly/lookup/actions/reactivate?customer=1001",
	} {
		f, err := r.client.Form(context.Background(), u)
		if err != nil || f.Title != "Reactivate a subscription" {
			t.Errorf("GET %s: %+v, %v", u, f, err)
		}
	}
}

// The form's own preview is confirmed by the submit: 200, applied once,
// audited as Gladly with the correlation id; Gladly's retry of the same
// submit (same correlation id and fields) is answered the same and sends
// nothing again; the card is already fresh for Gladly's next lookup.
func TestActionSubmitCancelOnce(t *testing.T) {
	t.Parallel()
	r := newActionRig(t, nil)
	form := r.form(rechargekit.ActionCancel)
	first := section(form, gladly.FieldSubscriptionID).DefaultValue.(string)
	fields := map[string]string{gladly.FieldSubscriptionID: first, gladly.FieldReason: "Moving abroad",
		gladly.FieldComments: "Asked by phone.", gladly.FieldSendEmail: "false"}
	writes := r.writes()
	status, body := r.submit(corr("corr-cancel-1"), form.ActionURL, fields)
	if status != http.StatusOK {
		t.Fatalf("submit: %d %s", status, body)
	}
	var a gladly.ActionResponse
	_ = json.Unmarshal(body, &a)
	if !strings.HasPrefix(a.Message, "Cancelled ") || !strings.Contains(a.Detail, "Status: cancelled.") || !strings.Contains(a.Detail, "Reason: Moving abroad.") {
		t.Errorf("answer = %+v", a)
	}
	if n := r.writes() - writes; n != 1 {
		t.Errorf("%d Recharge writes, want 1", n)
	}
	recs := r.records()
	if len(recs) != 1 || recs[0].Via != rechargekit.ViaGladly || recs[0].ActorName != "Gladly" || recs[0].CorrelationID != corr("corr-cancel-1") ||
		recs[0].Outcome != rechargekit.OutcomeDone || recs[0].CustomerID != alex {
		t.Fatalf("audit = %+v", recs)
	}

	status, body = r.submit(corr("corr-cancel-1"), form.ActionURL, fields)
	if status != http.StatusOK || !strings.Contains(string(body), "already been applied") {
		t.Errorf("retried submit: %d %s, want 200 replayed", status, body)
	}
	if n := r.writes() - writes; n != 1 {
		t.Errorf("after the retry %d Recharge writes, want 1", n)
	}
	seen := false
	for _, tx := range r.detailed().Transactions {
		if tx.SubscriptionID == first {
			seen = true
			if tx.Status == nil || *tx.Status != rechargekit.StatusCancelled {
				t.Errorf("the next DETAILED lookup shows %s as %v, want cancelled", first, tx.Status)
			}
		}
	}
	if !seen {
		t.Errorf("the next DETAILED lookup lacks subscription %s", first)
	}
}

// Bad input keeps the form open with the field marked; a subscription the
// form did not preview (or a date) is answered with its preview first, and
// the next submit of the same fields confirms it.
func TestActionSubmitBadInputAndPreviewFirst(t *testing.T) {
	t.Parallel()
	r := newActionRig(t, nil)
	cancel := r.form(rechargekit.ActionCancel)
	status, body := r.submit(corr("c-1"), cancel.ActionURL, map[string]string{gladly.FieldSubscriptionID: "5001"})
	if errs := errorsOf(t, body); status != http.StatusBadRequest || markedAttr(errs) != gladly.FieldReason {
		t.Errorf("cancel without reason: %d %s, want 400 marking reason", status, body)
	}
	status, body = r.submit(corr("c-2"), cancel.ActionURL, map[string]string{gladly.FieldSubscriptionID: "5001", gladly.FieldReason: "Bored"})
	if errs := errorsOf(t, body); status != http.StatusBadRequest || markedAttr(errs) != gladly.FieldReason || !strings.Contains(errs[0].Detail, "Moving abroad") {
		t.Errorf("reason not the store's: %d %s, want 400 marking reason", status, body)
	}
	status, body = r.submit(corr("c-3"), cancel.ActionURL, map[string]string{gladly.FieldSubscriptionID: "9999", gladly.FieldReason: "Other"})
	if errs := errorsOf(t, body); status != http.StatusBadRequest || markedAttr(errs) != gladly.FieldSubscriptionID {
		t.Errorf("another customer's subscription: %d %s, want 400 marking subscriptionId", status, body)
	}

	date := r.form(rechargekit.ActionSetNextChargeDate)
	status, body = r.submit(corr("d-1"), date.ActionURL, map[string]string{gladly.FieldSubscriptionID: "5003", gladly.FieldDate: "24/12/2026"})
	if errs := errorsOf(t, body); status != http.StatusBadRequest || markedAttr(errs) != gladly.FieldDate {
		t.Errorf("bad date: %d %s, want 400 marking date", status, body)
	}
	status, body = r.submit(corr("d-2"), date.ActionURL, map[string]string{gladly.FieldSubscriptionID: "5003", gladly.FieldDate: "2026-12-01"})
	if errs := errorsOf(t, body); status != http.StatusBadRequest || markedAttr(errs) != gladly.FieldDate {
		t.Errorf("past date: %d %s, want 400 marking date", status, body)
	}
	fields := map[string]string{gladly.FieldSubscriptionID: "5003", gladly.FieldDate: "2026-12-24"}
	writes := r.writes()
	status, body = r.submit(corr("d-3"), date.ActionURL, fields)
	errs := errorsOf(t, body)
	if status != http.StatusBadRequest || errs[1].Code != gladly.CodeConfirmPreview || !strings.Contains(errs[0].Detail, "moves from 2026-12-25 to 2026-12-24") {
		t.Fatalf("first date submit: %d %s, want 400 with the preview", status, body)
	}
	if r.writes() != writes || len(r.records()) != 0 {
		t.Fatalf("the preview wrote to Recharge or the audit")
	}
	status, body = r.submit(corr("d-4"), date.ActionURL, fields)
	if status != http.StatusOK || !strings.Contains(string(body), "Next charge: 2026-12-24.") {
		t.Fatalf("confirming submit: %d %s, want 200", status, body)
	}
	if got := r.subscription(hoodie).NextChargeDate; got != "2026-12-24" {
		t.Errorf("next charge = %s, want 2026-12-24", got)
	}
}

// A change between the form and the submit is not applied: 400 with the
// new preview; the next submit confirms the new preview.
func TestActionSubmitChangedSincePreview(t *testing.T) {
	t.Parallel()
	r := newActionRig(t, nil)
	form := r.form(rechargekit.ActionSkip)
	first := section(form, gladly.FieldSubscriptionID).DefaultValue.(string)
	var id int64
	_ = json.Unmarshal([]byte(first), &id)
	// Elsewhere (Recharge's own admin), the next charge moves.
	if _, err := (&recharge.Actions{Client: r.rc}).SetNextChargeDate(context.Background(), id, "2026-12-28"); err != nil {
		t.Fatal(err)
	}
	writes := r.writes()
	fields := map[string]string{gladly.FieldSubscriptionID: first}
	status, body := r.submit(corr("s-1"), form.ActionURL, fields)
	errs := errorsOf(t, body)
	if status != http.StatusBadRequest || markedAttr(errs) != gladly.FieldSubscriptionID || errs[1].Code != gladly.CodeChanged ||
		!strings.Contains(errs[0].Detail, "2026-12-28") {
		t.Fatalf("changed since preview: %d %s, want 400 with the new preview", status, body)
	}
	if r.writes() != writes {
		t.Fatalf("a stale decision was sent to Recharge")
	}
	status, body = r.submit(corr("s-2"), form.ActionURL, fields)
	if status != http.StatusOK {
		t.Fatalf("confirming the new preview: %d %s", status, body)
	}
	if n := r.writes() - writes; n != 1 {
		t.Errorf("%d writes, want 1", n)
	}
}

// Refusals close the form (406): the gladly role may not change a
// frequency (audited, nothing sent), nor reactivate an active
// subscription.
func TestActionSubmitRefused(t *testing.T) {
	t.Parallel()
	r := newActionRig(t, nil)
	writes := r.writes()
	status, body := r.submit(corr("f-1"), "/gladly/lookup/actions/change_frequency?customer=1001",
		map[string]string{gladly.FieldSubscriptionID: "5001", gladly.FieldIntervalUnit: "week", gladly.FieldIntervalFrequency: "2"})
	errs := errorsOf(t, body)
	if status != http.StatusNotAcceptable || errs[0].Code != "forbidden" || !strings.Contains(errs[0].Detail, "Gladly desk may not change frequencies") {
		t.Fatalf("frequency by Gladly: %d %s, want 406 forbidden", status, body)
	}
	recs := r.records()
	if len(recs) != 1 || recs[0].Outcome != rechargekit.OutcomeRefusedPolicy || recs[0].Via != rechargekit.ViaGladly || recs[0].CorrelationID != corr("f-1") {
		t.Errorf("audit = %+v, want the policy refusal", recs)
	}
	status, body = r.submit(corr("r-1"), "/gladly/lookup/actions/reactivate?customer=1001", map[string]string{gladly.FieldSubscriptionID: "5001"})
	if errs := errorsOf(t, body); status != http.StatusNotAcceptable || errs[0].Code != "conflict" {
		t.Errorf("reactivate an active subscription: %d %s, want 406 conflict", status, body)
	}
	if r.writes() != writes {
		t.Errorf("a refused submit wrote to Recharge")
	}
}

// A Recharge refusal closes the form with Recharge's message.
func TestActionSubmitRechargeRefusal(t *testing.T) {
	t.Parallel()
	r := newActionRig(t, func(s rechargekit.ActionService) rechargekit.ActionService {
		return refusingDo{s}
	})
	form := r.form(rechargekit.ActionReactivate)
	status, body := r.submit(corr("x-1"), form.ActionURL, map[string]string{gladly.FieldSubscriptionID: "5004"})
	if errs := errorsOf(t, body); status != http.StatusNotAcceptable || errs[0].Code != "refused" || errs[0].Detail != "item already set to active" {
		t.Errorf("Recharge refusal: %d %s, want 406 with its message", status, body)
	}
}

// refusingDo answers every Do as Recharge's refusal.
type refusingDo struct{ rechargekit.ActionService }

func (refusingDo) Do(ctx context.Context, t rechargekit.ActionTarget, a rechargekit.Actor, req *rechargekit.ActionRequest, key string) (*rechargekit.ActionResult, error) {
	return &rechargekit.ActionResult{Record: &rechargekit.ActionRecord{Outcome: rechargekit.OutcomeRefusedRecharge}},
		rechargekit.Errorf(rechargekit.EREFUSED, "item already set to active")
}

// Forms and submits are verified like lookups: unsigned, badly signed, or
// signed for another query string, they get 401 and reach no service.
func TestActionRequestsVerified(t *testing.T) {
	t.Parallel()
	r := newActionRig(t, nil)
	writes := r.writes()
	unsigned := &gladly.Client{URL: r.url, Now: r.clock.Now}
	wrongKey := &gladly.Client{URL: r.url, SigningKey: "another-key", Now: r.clock.Now}
	for name, c := range map[string]*gladly.Client{"unsigned": unsigned, "wrong key": wrongKey} {
		_, err := c.Form(context.Background(), "/gladly/lookup/actions/cancel?customer=1001")
		var re *gladly.ResponseError
		if !errors.As(err, &re) || re.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s form: %v, want 401", name, err)
		}
		_, err = c.Submit(context.Background(), "/gladly/lookup/actions/reactivate?customer=1001", map[string]string{gladly.FieldSubscriptionID: "5004"})
		if !errors.As(err, &re) || re.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s submit: %v, want 401", name, err)
		}
	}

	// A signature for one customer does not open another's form.
	req, _ := http.NewRequest(http.MethodGet, r.url+"/actions/cancel?customer=1001", nil)
	req.Header.Set("Accept", "application/json")
	if err := gladly.Sign(req, nil, testKey, r.clock.Now()); err != nil {
		t.Fatal(err)
	}
	req.URL.RawQuery = "customer=1002"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("query changed after signing: %d, want 401", resp.StatusCode)
	}
	if r.writes() != writes || len(r.records()) != 0 {
		t.Errorf("a refused request reached the service")
	}
}

// Concurrent retries of one submit are applied once.
func TestActionSubmitConcurrentRetries(t *testing.T) {
	t.Parallel()
	r := newActionRig(t, nil)
	form := r.form(rechargekit.ActionReactivate)
	writes := r.writes()
	var wg sync.WaitGroup
	statuses := make([]int, 4)
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i], _ = r.submit(corr("same-corr"), form.ActionURL, map[string]string{gladly.FieldSubscriptionID: "5004"})
		}()
	}
	wg.Wait()
	if n := r.writes() - writes; n != 1 {
		t.Errorf("%d Recharge writes for one submit retried, want 1 (statuses %v)", n, statuses)
	}
	ok := 0
	for _, s := range statuses {
		if s == http.StatusOK {
			ok++
		}
	}
	if ok == 0 {
		t.Errorf("no retry answered 200: %v", statuses)
	}
}

// A submit whose body is not an object of fields is 400, marked.
func TestActionSubmitMalformed(t *testing.T) {
	t.Parallel()
	r := newActionRig(t, nil)
	for _, body := range []string{``, `[]`, `{"subscriptionId":{"x":1}}`, `{"subscriptionId":"5004"} {}`} {
		req, _ := http.NewRequest(http.MethodPost, r.url+"/actions/reactivate?customer=1001", bytes.NewReader([]byte(body)))
		req.Header.Set("Content-Type", "application/json")
		if err := gladly.Sign(req, []byte(body), testKey, r.clock.Now()); err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || markedAttr(errorsOf(t, got)) == "" {
			t.Errorf("body %q: %d %s, want 400 with a field marked", body, resp.StatusCode, got)
		}
	}
}

// conflictingPreview answers every Preview as "not possible in this state",
// as when the subscription changed between the offers and the preview.
type conflictingPreview struct{ rechargekit.ActionService }

func (conflictingPreview) Preview(ctx context.Context, t rechargekit.ActionTarget, a rechargekit.Actor, req *rechargekit.ActionRequest) (*rechargekit.ActionPreview, error) {
	return nil, rechargekit.Errorf(rechargekit.ECONFLICT, "This subscription is already cancelled.")
}

// A form whose preview became impossible still opens, says why, and
// carries no token to confirm.
func TestActionFormPreviewConflict(t *testing.T) {
	t.Parallel()
	r := newActionRig(t, func(s rechargekit.ActionService) rechargekit.ActionService { return conflictingPreview{s} })
	f := r.form(rechargekit.ActionCancel)
	if !strings.Contains(formText(f), "already cancelled") || strings.Contains(f.ActionURL, "token=") || section(f, gladly.FieldSubscriptionID) == nil {
		t.Errorf("form = %+v, want the reason, the select, and no token", f)
	}
}

// After a change made through Gladly, its follow-up DETAILED lookup offers
// what the subscriptions allow now, not the offers reused from before.
func TestActionOffersAfterSubmit(t *testing.T) {
	t.Parallel()
	r := newActionRig(t, nil)
	has := func(res gladly.Result, name string) bool {
		for _, a := range res.Actions {
			if a.Name == name {
				return true
			}
		}
		return false
	}
	if !has(r.detailed(), "Reactivate a subscription") {
		t.Fatal("no reactivate offered for the cancelled pajamas")
	}
	form := r.form(rechargekit.ActionReactivate)
	if status, body := r.submit(corr("re-1"), form.ActionURL, map[string]string{gladly.FieldSubscriptionID: "5004"}); status != http.StatusOK {
		t.Fatalf("reactivate: %d %s", status, body)
	}
	if res := r.detailed(); has(res, "Reactivate a subscription") {
		t.Errorf("reactivate still offered after the only cancelled subscription was reactivated: %+v", res.Actions)
	}
}

// panickingCardOffers is an ActionService whose CardOffers panics.
type panickingCardOffers struct{ rechargekit.ActionService }

func (panickingCardOffers) CardOffers(ctx context.Context, card *rechargekit.Card, a rechargekit.Actor) []string {
	panic("card offers broke")
}

// A panic in the card offers costs the answer its actions, not the card.
func TestActionsLeftOutWhenCardOffersPanic(t *testing.T) {
	t.Parallel()
	r := newActionRig(t, func(s rechargekit.ActionService) rechargekit.ActionService { return panickingCardOffers{s} })
	res := r.detailed()
	if len(res.Actions) != 0 {
		t.Errorf("actions = %+v, want none", res.Actions)
	}
	if len(res.Transactions) != 4 {
		t.Errorf("%d transactions, want 4", len(res.Transactions))
	}
}
