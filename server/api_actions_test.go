package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/actions"
	"github.com/rechargekit/rechargekit/actions/actionstest"
	"github.com/rechargekit/rechargekit/cards"
	"github.com/rechargekit/rechargekit/internal/testkit"
	"github.com/rechargekit/rechargekit/recharge"
	"github.com/rechargekit/rechargekit/recharge/rechargetest"
	"github.com/rechargekit/rechargekit/server"
	"github.com/rechargekit/rechargekit/sqlite"
)

// The store the action API tests act on: Alex (customer 2001, profile
// "act-alex") has a T-shirt and cat treats on one address and one date
// (so one queued charge carries both), a hoodie on another date and
// cancelled pajamas; Blake (2002, "act-blake") has one subscription;
// "act-unlinked" is linked to no one.
const (
	actAlex, actBlake                      = int64(2001), int64(2002)
	actShirt, actTreats, actHoodie         = int64(6001), int64(6002), int64(6003)
	actPajamas, actBlakes                  = int64(6004), int64(6005)
	actProfAlex, actProfBlake, actUnlinked = "act-alex", "act-blake", "act-unlinked"
)

// actT0 is the tests' clock: the simulator's, the actions', the server's.
var actT0 = time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)

func actDay(days int) string { return actT0.AddDate(0, 0, days).Format("2006-01-02") }

func actSeed() rechargetest.Seed {
	return rechargetest.Seed{Customers: []rechargetest.SeedCustomer{
		{ID: actAlex, Email: "alex@example.com", FirstName: "Alex", LastName: "Rivera", Subscriptions: []rechargetest.SeedSubscription{
			{ID: actShirt, ProductID: "p1", ProductTitle: "Dog Lovers T-Shirt", VariantTitle: "Large", Price: "25.00", PastCharges: 2, NextChargeInDays: 10},
			{ID: actTreats, ProductID: "p2", ProductTitle: "Cat Treats", Price: "12.50", Quantity: 2, PastCharges: 1, NextChargeInDays: 10},
			{ID: actHoodie, ProductID: "p3", ProductTitle: "Hoodie", Price: "40.00", Interval: 2, Unit: "week", PastCharges: 1, NextChargeInDays: 20},
			{ID: actPajamas, ProductID: "p4", ProductTitle: "Cat Pajamas", Price: "49.50", Status: "cancelled", PastCharges: 2, CancellationReason: "Too expensive"},
		}},
		{ID: actBlake, Email: "blake@example.com", FirstName: "Blake", Subscriptions: []rechargetest.SeedSubscription{
			{ID: actBlakes, ProductID: "p1", ProductTitle: "Dog Lovers T-Shirt", Price: "25.00", PastCharges: 1, NextChargeInDays: 5},
		}},
	}}
}

// mustRoleToken adds an API token with a role and returns it.
func mustRoleToken(tb testing.TB, store rechargekit.Store, name, role string) string {
	tb.Helper()
	tok, hash := server.NewAPIToken()
	if err := store.CreateAPIToken(context.Background(), &rechargekit.APIToken{Name: name, Role: role, Hash: hash}, "test"); err != nil {
		tb.Fatal(err)
	}
	return tok
}

// actionAPI is the console's JSON API with actions, as cmd wires it, over
// a SQLite store, the in-memory ActionStore and the simulator. In front of
// the simulator a handler can answer chosen routes with Recharge's own
// refusals.
type actionAPI struct {
	t       *testing.T
	sim     *rechargetest.Simulator
	simURL  string // the front handler's URL
	client  *recharge.Client
	log     *actionstest.Store
	srv     *httptest.Server
	agent   apiClient // token "desk", no role: an agent
	admin   apiClient // token "desk-admin", role admin
	mu      sync.Mutex
	refuse  map[string]actRefusal // by "METHOD /path" prefix
	refused int                   // requests the front handler answered
}

type actRefusal struct {
	status int
	body   string
}

func mustActionAPI(t *testing.T) *actionAPI {
	t.Helper()
	ctx := context.Background()
	clock := testkit.NewClock(actT0)
	a := &actionAPI{t: t}
	a.sim = rechargetest.New(rechargetest.Config{Now: clock.Now, BucketSize: 1000, LeakPerSecond: 1000})
	a.sim.Load(actSeed())
	front := httptest.NewServer(http.HandlerFunc(a.front))
	t.Cleanup(func() { front.Close(); _ = a.sim.Close() })
	a.simURL = front.URL
	a.client = recharge.NewClient(rechargetest.DefaultToken, recharge.WithBaseURL(front.URL), recharge.WithClock(clock.Now, clock.Sleep))
	cached := cards.NewCachedService(&recharge.Source{Client: a.client, Now: clock.Now}, nil, cards.CachedOptions{
		TTL: time.Hour, RefreshAfter: 2 * time.Hour, Now: clock.Now,
	})
	t.Cleanup(func() { _ = cached.Close() })

	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "rechargekit.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	for _, p := range []*rechargekit.Profile{
		{ID: actProfAlex, Name: "Alex Rivera", Emails: []string{"alex@example.com"}},
		{ID: actProfBlake, Name: "Blake", Emails: []string{"blake@example.com"}},
		{ID: actUnlinked, Name: "Nobody", Emails: []string{"nobody@example.com"}},
	} {
		if _, err := store.UpsertProfile(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	MustLink(t, store, actProfAlex, actAlex, rechargekit.LinkManual, agentEmail)
	MustLink(t, store, actProfBlake, actBlake, rechargekit.LinkManual, agentEmail)

	a.log = actionstest.NewStore(clock.Now)
	svc := &actions.Service{
		Source: &recharge.Actions{Client: a.client}, Store: a.log, Cards: cached, Links: store,
		Now: clock.Now, Logger: discardLogger(),
	}
	a.srv = httptest.NewServer(server.New(server.Config{
		Store:     store,
		Profiles:  &cards.Profiles{Cards: cached, Store: store, Now: clock.Now, Logger: discardLogger()},
		Cards:     cached,
		Actions:   svc,
		ActionLog: a.log,
		Logger:    discardLogger(),
		Now:       clock.Now,
	}))
	t.Cleanup(a.srv.Close)
	a.agent = apiClient{t: t, base: a.srv.URL, token: MustAPIToken(t, store, "desk")}
	a.admin = apiClient{t: t, base: a.srv.URL, token: mustRoleToken(t, store, "desk-admin", rechargekit.RoleAdmin)}
	return a
}

func (a *actionAPI) front(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	var refused *actRefusal
	for prefix, rf := range a.refuse {
		if strings.HasPrefix(r.Method+" "+r.URL.Path, prefix) {
			refused = &rf
			a.refused++
		}
	}
	a.mu.Unlock()
	if refused == nil {
		a.sim.ServeHTTP(w, r)
		return
	}
	_, _ = io.Copy(io.Discard, r.Body)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(refused.status)
	_, _ = io.WriteString(w, refused.body)
}

// setRefusal makes Recharge requests whose "METHOD /path" starts with
// prefix answer status with body.
func (a *actionAPI) setRefusal(prefix string, status int, body string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.refuse = map[string]actRefusal{prefix: {status, body}}
}

// stats reads the simulator's counters through its control endpoint.
func (a *actionAPI) stats() rechargetest.Stats {
	a.t.Helper()
	resp, err := http.Get(a.simURL + "/__sim/stats")
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	var st rechargetest.Stats
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		a.t.Fatal(err)
	}
	return st
}

// writes counts the simulator's POST and PUT requests: its writes.
func (a *actionAPI) writes() int {
	n := 0
	for route, c := range a.stats().ByRoute {
		if strings.HasPrefix(route, "POST ") || strings.HasPrefix(route, "PUT ") {
			n += c
		}
	}
	return n
}

// requests counts every Recharge request, the refused ones included.
func (a *actionAPI) requests() int {
	n := a.stats().Requests
	a.mu.Lock()
	defer a.mu.Unlock()
	return n + a.refused
}

// actAnswer is any answer of the action endpoints, decoded strictly.
type actAnswer struct {
	Error   *server.ErrorJSON               `json:"error"`
	Outcome *server.APIActionOutcome        `json:"outcome"`
	Card    *rechargekit.CardJSON           `json:"card"`
	Preview *server.APIActionPreview        `json:"preview"`
	Subs    []server.APISubscriptionActions `json:"subscriptions"`

	status int
	header http.Header
}

// call sends one request with a token and optional headers and decodes
// the answer.
func (a *actionAPI) call(api apiClient, method, path, body string, header ...string) actAnswer {
	a.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, api.base+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+api.token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		a.t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		a.t.Fatalf("%s %s: Content-Type %q: %s", method, path, ct, b)
	}
	var out actAnswer
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if strings.HasSuffix(path, "/actions/preview") && resp.StatusCode == http.StatusOK {
		var p server.APIActionPreview
		if err := dec.Decode(&p); err != nil {
			a.t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
		out.Preview = &p
	} else if err := dec.Decode(&out); err != nil {
		a.t.Fatalf("%s %s: %v: %s", method, path, err, b)
	}
	out.status, out.header = resp.StatusCode, resp.Header
	return out
}

// wantError checks an error answer's status and code.
func (r actAnswer) wantError(t *testing.T, status int, code string) {
	t.Helper()
	if r.status != status || r.Error == nil || r.Error.Code != code || r.Error.Message == "" {
		t.Fatalf("answer %d %+v, want %d with code %q", r.status, r.Error, status, code)
	}
	if strings.ContainsAny(r.Error.Message, "\r\n") {
		t.Errorf("message on several lines: %q", r.Error.Message)
	}
}

const (
	actPath     = "/api/profiles/" + actProfAlex + "/actions"
	previewPath = actPath + "/preview"
)

// subOn returns the card's subscription with the id, or fails.
func subOn(t *testing.T, c *rechargekit.CardJSON, id int64) rechargekit.SubscriptionTransaction {
	t.Helper()
	if c == nil {
		t.Fatal("no card in the answer")
	}
	for _, s := range c.Subscriptions {
		if s.SubscriptionID == strconv.FormatInt(id, 10) {
			return s
		}
	}
	t.Fatalf("card lacks subscription %d", id)
	return rechargekit.SubscriptionTransaction{}
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

// TestAPIActionOffers: GET …/actions lists every subscription with every
// action, offered or not with why, by the subscription's state and the
// token's role.
func TestAPIActionOffers(t *testing.T) {
	t.Parallel()
	a := mustActionAPI(t)
	offers := func(api apiClient) map[string]map[string]server.APIActionOffer {
		t.Helper()
		r := a.call(api, "GET", actPath, "")
		if r.status != http.StatusOK {
			t.Fatalf("offers = %d %+v", r.status, r.Error)
		}
		out := map[string]map[string]server.APIActionOffer{}
		for _, s := range r.Subs {
			if s.SubscriptionID != s.Subscription.SubscriptionID || len(s.Actions) != len(rechargekit.AllActions()) {
				t.Fatalf("subscription %+v", s)
			}
			out[s.SubscriptionID] = map[string]server.APIActionOffer{}
			for i, o := range s.Actions {
				if o.Action != rechargekit.AllActions()[i] || o.Offered == (o.Why != "") {
					t.Fatalf("subscription %s, offer %d: %+v", s.SubscriptionID, i, o)
				}
				out[s.SubscriptionID][o.Action] = o
			}
		}
		if len(out) != 4 {
			t.Fatalf("%d subscriptions, want Alex's 4", len(out))
		}
		return out
	}
	shirt, pajamas := strconv.FormatInt(actShirt, 10), strconv.FormatInt(actPajamas, 10)
	agent := offers(a.agent)
	for action, offered := range map[string]bool{
		rechargekit.ActionCancel: true, rechargekit.ActionReactivate: false, rechargekit.ActionSkip: true,
		rechargekit.ActionUnskip: false, rechargekit.ActionSetNextChargeDate: true,
		rechargekit.ActionChangeFrequency: false, rechargekit.ActionChangeQuantity: false,
	} {
		if agent[shirt][action].Offered != offered {
			t.Errorf("agent, shirt, %s: %+v, want offered %v", action, agent[shirt][action], offered)
		}
	}
	if why := agent[shirt][rechargekit.ActionChangeFrequency].Why; !strings.Contains(why, "agent role may not change frequencies") {
		t.Errorf("why not change_frequency for an agent: %q", why)
	}
	if why := agent[shirt][rechargekit.ActionReactivate].Why; why != "This subscription is already active." {
		t.Errorf("why not reactivate: %q", why)
	}
	if !agent[pajamas][rechargekit.ActionReactivate].Offered || agent[pajamas][rechargekit.ActionCancel].Offered {
		t.Errorf("cancelled pajamas: %+v", agent[pajamas])
	}
	admin := offers(a.admin)
	if !admin[shirt][rechargekit.ActionChangeFrequency].Offered || !admin[shirt][rechargekit.ActionChangeQuantity].Offered {
		t.Errorf("admin, shirt: %+v", admin[shirt])
	}

	a.call(a.agent, "GET", "/api/profiles/no-such-profile/actions", "").wantError(t, 404, rechargekit.ENOTFOUND)
	r := a.call(a.agent, "GET", "/api/profiles/"+actUnlinked+"/actions", "")
	r.wantError(t, 404, rechargekit.ENOTFOUND)
	if !strings.Contains(r.Error.Message, "not linked") {
		t.Errorf("unlinked profile: %q", r.Error.Message)
	}
}

// TestAPIActionPreviewThenConfirm: the skip preview names the other
// subscription on the charge; confirming with its token skips once and
// answers the outcome and the fresh card; a cancel then shows on the card
// with its reason and the token's name in Recharge's comments.
func TestAPIActionPreviewThenConfirm(t *testing.T) {
	t.Parallel()
	a := mustActionAPI(t)
	body := `{"action":"skip","subscriptionId":"` + strconv.FormatInt(actShirt, 10) + `"}`
	p := a.call(a.agent, "POST", previewPath, body)
	if p.status != http.StatusOK || p.Preview == nil {
		t.Fatalf("preview = %d %+v", p.status, p.Error)
	}
	pv := p.Preview
	if pv.Action != "skip" || pv.SubscriptionID != "6001" || pv.Subscription == nil || pv.PreviewToken == "" ||
		deref(pv.Before.NextChargeDate) != actDay(10) || pv.Before.Status != "active" {
		t.Errorf("preview %+v", pv)
	}
	if s := strings.Join(pv.Summary, " "); !strings.Contains(s, "Cat Treats is on that same charge and is not skipped") {
		t.Errorf("skip preview does not name what else is on the charge: %q", s)
	}
	if a.writes() != 0 {
		t.Fatalf("a preview wrote to Recharge")
	}

	r := a.call(a.agent, "POST", actPath, `{"action":"skip","subscriptionId":6001,"previewToken":"`+pv.PreviewToken+`"}`)
	if r.status != http.StatusOK || r.Outcome == nil || r.Error != nil {
		t.Fatalf("skip = %d %+v %+v", r.status, r.Error, r.Outcome)
	}
	o := r.Outcome
	if o.Outcome != rechargekit.OutcomeDone || o.Replayed || o.ID == "" || o.Action != "skip" || o.SubscriptionID != "6001" ||
		o.RechargeCustomerID != "2001" || o.By != "desk" || o.Role != rechargekit.RoleAgent || o.Via != rechargekit.ViaAPI ||
		o.Before == nil || o.After == nil || o.CompletedAt == nil || o.Message != "" {
		t.Errorf("outcome %+v", o)
	}
	if r.Card == nil || r.Card.Customer.RechargeCustomerID != "2001" {
		t.Fatalf("card %+v", r.Card)
	}
	if n := a.stats().ByRoute["POST /charges/{id}/skip"]; n != 1 {
		t.Errorf("%d skips sent, want 1", n)
	}

	r = a.call(a.agent, "POST", actPath, `{"action":"cancel","subscriptionId":"6003","reason":"Moving abroad","comments":"Asked by chat.","sendEmail":false}`)
	if r.status != http.StatusOK || r.Outcome.Outcome != rechargekit.OutcomeDone || r.Outcome.After == nil || r.Outcome.After.Status != "cancelled" {
		t.Fatalf("cancel = %d %+v %+v", r.status, r.Error, r.Outcome)
	}
	hoodie := subOn(t, r.Card, actHoodie)
	if deref(hoodie.Status) != "cancelled" || deref(hoodie.CancellationReason) != "Moving abroad" ||
		deref(hoodie.CancellationReasonComments) != "Asked by chat. (by desk via rechargekit)" {
		t.Errorf("card after cancel: status %s, reason %s, comments %s", deref(hoodie.Status), deref(hoodie.CancellationReason), deref(hoodie.CancellationReasonComments))
	}
	// The card the API then serves is the fresh one too.
	code, b := a.agent.do("GET", "/api/profiles/"+actProfAlex+"/card", "")
	var cr server.CardResponse
	if err := json.Unmarshal(b, &cr); err != nil || code != http.StatusOK {
		t.Fatalf("card = %d %v", code, err)
	}
	if s := subOn(t, cr.Card, actHoodie); deref(s.Status) != "cancelled" {
		t.Errorf("GET …/card after the cancel: %s", deref(s.Status))
	}
	rs, err := a.log.ActionRecords(context.Background(), rechargekit.ActionFilter{})
	if err != nil || len(rs) != 2 || rs[0].ActorName != "desk" || rs[0].Via != rechargekit.ViaAPI || rs[0].IdempotencyKey != "" {
		t.Errorf("audit %+v %v", rs, err)
	}
}

// TestAPIActionIdempotencyKey: the same Idempotency-Key again returns the
// first outcome, says replayed and sends nothing to Recharge; the key with
// another body is 409; without a key nothing is de-duplicated.
func TestAPIActionIdempotencyKey(t *testing.T) {
	t.Parallel()
	a := mustActionAPI(t)
	body := `{"action":"set_next_charge_date","subscriptionId":"6001","date":"` + actDay(15) + `"}`
	first := a.call(a.agent, "POST", actPath, body, "Idempotency-Key", "move-1")
	if first.status != http.StatusOK || first.Outcome.Outcome != rechargekit.OutcomeDone || first.Outcome.Replayed {
		t.Fatalf("first = %d %+v %+v", first.status, first.Error, first.Outcome)
	}
	if deref(subOn(t, first.Card, actShirt).NextBillingDate) != actDay(15) {
		t.Errorf("card after the move: %s", deref(subOn(t, first.Card, actShirt).NextBillingDate))
	}
	writes := a.writes()
	again := a.call(a.agent, "POST", actPath, body, "Idempotency-Key", "move-1")
	if again.status != http.StatusOK || !again.Outcome.Replayed || again.Outcome.ID != first.Outcome.ID ||
		again.Outcome.Outcome != rechargekit.OutcomeDone || again.header.Get("Idempotent-Replayed") != "true" || again.Card == nil {
		t.Errorf("replay = %d %+v header %q", again.status, again.Outcome, again.header.Get("Idempotent-Replayed"))
	}
	if first.header.Get("Idempotent-Replayed") != "" {
		t.Error("the first answer says replayed")
	}
	other := a.call(a.agent, "POST", actPath, `{"action":"set_next_charge_date","subscriptionId":"6001","date":"`+actDay(16)+`"}`, "Idempotency-Key", "move-1")
	other.wantError(t, 409, rechargekit.ECONFLICT)
	if other.Outcome != nil || other.header.Get("Idempotent-Replayed") != "" {
		t.Errorf("a key reused for another request shows the first one: %+v", other.Outcome)
	}
	if n := a.writes(); n != writes {
		t.Errorf("%d Recharge writes after the replay and the reuse, want %d", n, writes)
	}
	if n := a.stats().ByRoute["POST /subscriptions/{id}/set_next_charge_date"]; n != 1 {
		t.Errorf("%d moves sent, want 1", n)
	}
	// Without a key the same body is applied again.
	if r := a.call(a.agent, "POST", actPath, `{"action":"set_next_charge_date","subscriptionId":"6001","date":"`+actDay(17)+`"}`); r.status != 200 || r.Outcome.Replayed {
		t.Errorf("keyless = %d %+v", r.status, r.Outcome)
	}
	// A key is its token's: another token's same key is another request.
	r := a.call(a.admin, "POST", actPath, `{"action":"set_next_charge_date","subscriptionId":"6003","date":"`+actDay(25)+`"}`, "Idempotency-Key", "move-1")
	if r.status != http.StatusOK || r.Outcome.Replayed || r.Outcome.Outcome != rechargekit.OutcomeDone {
		t.Errorf("another token's key move-1 = %d %+v %+v", r.status, r.Error, r.Outcome)
	}
	rs, err := a.log.ActionRecords(context.Background(), rechargekit.ActionFilter{})
	if err != nil || len(rs) != 3 || rs[2].IdempotencyKey == rs[0].IdempotencyKey || !strings.HasSuffix(rs[2].IdempotencyKey, ":move-1") {
		t.Errorf("audit keys %+v %v", rs, err)
	}
	for _, bad := range [][]string{
		{"Idempotency-Key", "  "},
		{"Idempotency-Key", "k\u00e9y"},
		{"Idempotency-Key", strings.Repeat("k", 256)},
		{"Idempotency-Key", "a", "Idempotency-Key", "b"},
	} {
		a.call(a.agent, "POST", actPath, body, bad...).wantError(t, 400, rechargekit.EINVALID)
	}
}

// TestAPIActionChangedSincePreview: a confirm after the subscription
// changed in Recharge is 409 with the new preview, and sends nothing.
func TestAPIActionChangedSincePreview(t *testing.T) {
	t.Parallel()
	a := mustActionAPI(t)
	body := `{"action":"set_next_charge_date","subscriptionId":"6001","date":"` + actDay(15) + `"`
	p := a.call(a.agent, "POST", previewPath, body+`}`)
	if p.status != http.StatusOK {
		t.Fatalf("preview = %d %+v", p.status, p.Error)
	}
	// Someone moves the date in Recharge.
	if _, _, err := a.client.Subscriptions.SetNextChargeDate(context.Background(), actShirt, actDay(12)); err != nil {
		t.Fatal(err)
	}
	writes := a.writes()
	r := a.call(a.agent, "POST", actPath, body+`,"previewToken":"`+p.Preview.PreviewToken+`"}`, "Idempotency-Key", "k-changed")
	r.wantError(t, 409, rechargekit.ECONFLICT)
	if r.Preview == nil || r.Preview.PreviewToken == "" || r.Preview.PreviewToken == p.Preview.PreviewToken ||
		deref(r.Preview.Before.NextChargeDate) != actDay(12) || deref(r.Preview.After.NextChargeDate) != actDay(15) || len(r.Preview.Summary) == 0 {
		t.Errorf("new preview %+v", r.Preview)
	}
	if !strings.Contains(r.Error.Message, "changed since the preview") || r.Outcome != nil {
		t.Errorf("error %+v, outcome %+v", r.Error, r.Outcome)
	}
	if a.writes() != writes {
		t.Error("a stale confirm wrote to Recharge")
	}
	// Confirming the new preview applies it.
	r = a.call(a.agent, "POST", actPath, body+`,"previewToken":"`+r.Preview.PreviewToken+`"}`, "Idempotency-Key", "k-changed-2")
	if r.status != http.StatusOK || r.Outcome.Outcome != rechargekit.OutcomeDone {
		t.Errorf("confirm of the new preview = %d %+v", r.status, r.Error)
	}
}

// TestAPIActionOtherCustomersSubscription: a subscription that is not the
// profile's customer's is 404, and nothing reaches Recharge.
func TestAPIActionOtherCustomersSubscription(t *testing.T) {
	t.Parallel()
	a := mustActionAPI(t)
	// The agent looked at the card first, as a desk does.
	if code, b := a.agent.do("GET", "/api/profiles/"+actProfAlex+"/card", ""); code != http.StatusOK {
		t.Fatalf("card = %d %s", code, b)
	}
	before := a.requests()
	body := `{"action":"cancel","subscriptionId":"` + strconv.FormatInt(actBlakes, 10) + `","reason":"Other"}`
	for _, path := range []string{previewPath, actPath} {
		r := a.call(a.agent, "POST", path, body, "Idempotency-Key", "k-"+path)
		r.wantError(t, 404, rechargekit.ENOTFOUND)
		if r.Outcome != nil {
			t.Errorf("%s: outcome %+v", path, r.Outcome)
		}
	}
	if n := a.requests(); n != before {
		t.Errorf("%d Recharge requests for another customer's subscription, want none", n-before)
	}
	if rs, _ := a.log.ActionRecords(context.Background(), rechargekit.ActionFilter{}); len(rs) != 0 {
		t.Errorf("audit %+v", rs)
	}
	// Blake's own profile may.
	r := a.call(a.agent, "POST", "/api/profiles/"+actProfBlake+"/actions", body)
	if r.status != http.StatusOK || r.Outcome.Outcome != rechargekit.OutcomeDone {
		t.Errorf("Blake's own = %d %+v", r.status, r.Error)
	}
}

// TestAPIActionRoles: an agent token is refused a frequency change (403,
// audited, nothing sent); an admin token may make it.
func TestAPIActionRoles(t *testing.T) {
	t.Parallel()
	a := mustActionAPI(t)
	body := `{"action":"change_frequency","subscriptionId":"6001","intervalUnit":"week","intervalFrequency":"2"}`
	a.call(a.agent, "POST", previewPath, body).wantError(t, 403, rechargekit.EFORBIDDEN)
	r := a.call(a.agent, "POST", actPath, body, "Idempotency-Key", "freq")
	r.wantError(t, 403, rechargekit.EFORBIDDEN)
	if r.Outcome == nil || r.Outcome.Outcome != rechargekit.OutcomeRefusedPolicy || r.Outcome.Role != rechargekit.RoleAgent || r.Outcome.By != "desk" {
		t.Errorf("refusal outcome %+v", r.Outcome)
	}
	if a.writes() != 0 {
		t.Error("a refused action wrote to Recharge")
	}
	rs, err := a.log.ActionRecords(context.Background(), rechargekit.ActionFilter{Outcome: rechargekit.OutcomeRefusedPolicy})
	if err != nil || len(rs) != 1 || rs[0].ActorName != "desk" || rs[0].ActorRole != rechargekit.RoleAgent || rs[0].Via != rechargekit.ViaAPI {
		t.Errorf("audit of the refusal %+v %v", rs, err)
	}

	p := a.call(a.admin, "POST", previewPath, body)
	if p.status != http.StatusOK || deref(p.Preview.After.IntervalUnit) != "week" || deref(p.Preview.After.IntervalFrequency) != "2" {
		t.Fatalf("admin preview = %d %+v %+v", p.status, p.Error, p.Preview)
	}
	// The same key works for the admin: a policy refusal keeps no key.
	r = a.call(a.admin, "POST", actPath, `{"action":"change_frequency","subscriptionId":6001,"intervalUnit":"week","intervalFrequency":2,"previewToken":"`+p.Preview.PreviewToken+`"}`, "Idempotency-Key", "freq")
	if r.status != http.StatusOK || r.Outcome.Outcome != rechargekit.OutcomeDone || r.Outcome.Role != rechargekit.RoleAdmin || r.Outcome.By != "desk-admin" {
		t.Fatalf("admin = %d %+v %+v", r.status, r.Error, r.Outcome)
	}
	if s := subOn(t, r.Card, actShirt); deref(s.BillingIntervalUnit) != "week" || deref(s.BillingIntervalFrequency) != "2" {
		t.Errorf("card after the change: every %s %s", deref(s.BillingIntervalFrequency), deref(s.BillingIntervalUnit))
	}
}

// TestAPIActionErrors: every error status with its exact code, and the
// audited attempt beside Recharge's refusal and failure.
func TestAPIActionErrors(t *testing.T) {
	t.Parallel()
	a := mustActionAPI(t)
	for _, tc := range []struct {
		name   string
		api    apiClient
		path   string
		body   string
		status int
		code   string
		msg    string // a part of the message
	}{
		{"malformed JSON", a.agent, actPath, `{"action":`, 400, rechargekit.EINVALID, "not valid"},
		{"unknown field", a.agent, actPath, `{"action":"skip","subscription":"6001"}`, 400, rechargekit.EINVALID, "unknown field"},
		{"unknown action", a.agent, actPath, `{"action":"refund","subscriptionId":"6001"}`, 400, rechargekit.EINVALID, "refund"},
		{"id not a number", a.agent, actPath, `{"action":"skip","subscriptionId":"abc"}`, 400, rechargekit.EINVALID, "subscriptionId must be a whole number"},
		{"id a fraction", a.agent, previewPath, `{"action":"skip","subscriptionId":6001.5}`, 400, rechargekit.EINVALID, "subscriptionId must be a whole number"},
		{"id missing", a.agent, actPath, `{"action":"skip"}`, 400, rechargekit.EINVALID, "subscription id"},
		{"id an object", a.agent, actPath, `{"action":"skip","subscriptionId":{}}`, 400, rechargekit.EINVALID, "subscriptionId"},
		{"cancel without reason", a.agent, actPath, `{"action":"cancel","subscriptionId":"6001"}`, 400, rechargekit.EINVALID, "reason is required"},
		{"quantity missing", a.admin, actPath, `{"action":"change_quantity","subscriptionId":"6001"}`, 400, rechargekit.EINVALID, "quantity"},
		{"quantity too big", a.admin, actPath, `{"action":"change_quantity","subscriptionId":"6001","quantity":"99999999999"}`, 400, rechargekit.EINVALID, "quantity must be a whole number"},
		{"date in the past", a.agent, actPath, `{"action":"set_next_charge_date","subscriptionId":"6001","date":"` + actDay(-1) + `"}`, 400, rechargekit.EINVALID, "after today"},
		{"sendEmail a string", a.agent, actPath, `{"action":"cancel","subscriptionId":"6001","reason":"x","sendEmail":"yes"}`, 400, rechargekit.EINVALID, "sendEmail"},
		{"agent frequency", a.agent, actPath, `{"action":"change_frequency","subscriptionId":"6001","intervalUnit":"week","intervalFrequency":"2"}`, 403, rechargekit.EFORBIDDEN, "may not change frequencies"},
		{"unknown profile", a.agent, "/api/profiles/nobody/actions", `{"action":"skip","subscriptionId":"6001"}`, 404, rechargekit.ENOTFOUND, "no desk profile"},
		{"unlinked profile", a.agent, "/api/profiles/" + actUnlinked + "/actions/preview", `{"action":"skip","subscriptionId":"6001"}`, 404, rechargekit.ENOTFOUND, "not linked"},
		{"unknown subscription", a.agent, actPath, `{"action":"skip","subscriptionId":"999"}`, 404, rechargekit.ENOTFOUND, "not one of this customer's"},
		{"reactivate an active one", a.agent, actPath, `{"action":"reactivate","subscriptionId":"6001"}`, 409, rechargekit.ECONFLICT, "already active"},
		{"unskip with nothing skipped", a.agent, previewPath, `{"action":"unskip","subscriptionId":"6001"}`, 409, rechargekit.ECONFLICT, "no skipped charge"},
	} {
		r := a.call(tc.api, "POST", tc.path, tc.body)
		if r.status != tc.status || r.Error == nil || r.Error.Code != tc.code || !strings.Contains(r.Error.Message, tc.msg) {
			t.Errorf("%s: %d %+v, want %d %s with %q", tc.name, r.status, r.Error, tc.status, tc.code, tc.msg)
		}
	}
	if a.writes() != 0 {
		t.Errorf("refused requests wrote %d times to Recharge", a.writes())
	}

	// 422: Recharge refuses; its message, on one line, and the audited
	// attempt.
	a.setRefusal("POST /subscriptions/", 422, `{"errors":{"date":["date is not far enough in the future"]}}`)
	r := a.call(a.agent, "POST", actPath, `{"action":"set_next_charge_date","subscriptionId":"6001","date":"`+actDay(1)+`"}`, "Idempotency-Key", "k422")
	r.wantError(t, 422, rechargekit.EREFUSED)
	if !strings.Contains(r.Error.Message, "date is not far enough in the future") || r.Outcome == nil ||
		r.Outcome.Outcome != rechargekit.OutcomeRefusedRecharge || r.Outcome.Message != r.Error.Message {
		t.Errorf("422: %+v %+v", r.Error, r.Outcome)
	}
	// 503: Recharge fails on the write; it may have applied it, so the
	// card is read again and shown.
	a.setRefusal("POST /subscriptions/", 500, `{"errors":"Internal Server Error"}`)
	r = a.call(a.agent, "POST", actPath, `{"action":"cancel","subscriptionId":"6001","reason":"Other"}`, "Idempotency-Key", "k503")
	r.wantError(t, 503, rechargekit.EUPSTREAM)
	if r.Outcome == nil || r.Outcome.Outcome != rechargekit.OutcomeFailed || r.Card == nil {
		t.Errorf("503: %+v %+v card %v", r.Error, r.Outcome, r.Card != nil)
	}
	// Recharge refusing rechargekit's own token is Recharge unavailable for
	// the caller (whose token is fine), not a 401.
	a.setRefusal("POST /subscriptions/", 401, `{"error":"bad authentication"}`)
	r = a.call(a.agent, "POST", actPath, `{"action":"reactivate","subscriptionId":"6004"}`)
	r.wantError(t, 503, rechargekit.EUPSTREAM)
	if r.Outcome == nil || r.Outcome.Outcome != rechargekit.OutcomeRefusedRecharge {
		t.Errorf("401 from Recharge: %+v", r.Outcome)
	}
	// Reading fails: 503 on the offers.
	a.setRefusal("GET /subscriptions", 503, `{"errors":"Service Unavailable"}`)
	a.call(a.agent, "GET", actPath, "").wantError(t, 503, rechargekit.EUPSTREAM)
	a.setRefusal("none", 0, "")

	// Without a token, none of the routes opens.
	for _, rt := range []struct{ method, path string }{{"GET", actPath}, {"POST", actPath}, {"POST", previewPath}} {
		code, b := apiClient{t: t, base: a.srv.URL}.do(rt.method, rt.path, `{}`)
		if code != http.StatusUnauthorized || decodeErr(t, b).Error.Code != rechargekit.EUNAUTHORIZED {
			t.Errorf("%s %s without a token = %d", rt.method, rt.path, code)
		}
	}
}

// TestAPIActionNumbersAsStringsOrNumbers: ids and numbers are read from
// strings and from JSON numbers alike.
func TestAPIActionNumbersAsStringsOrNumbers(t *testing.T) {
	t.Parallel()
	a := mustActionAPI(t)
	var tokens []string
	for _, body := range []string{
		`{"action":"change_quantity","subscriptionId":"6002","quantity":"3"}`,
		`{"action":"change_quantity","subscriptionId":6002,"quantity":3}`,
		`{"action":"change_quantity","subscriptionId":" 6002 ","quantity":" 3"}`,
	} {
		p := a.call(a.admin, "POST", previewPath, body)
		if p.status != http.StatusOK || deref(p.Preview.After.Quantity) != "3" || deref(p.Preview.Before.Quantity) != "2" {
			t.Fatalf("%s: %d %+v %+v", body, p.status, p.Error, p.Preview)
		}
		tokens = append(tokens, p.Preview.PreviewToken)
	}
	if tokens[0] != tokens[1] || tokens[1] != tokens[2] {
		t.Errorf("the same request previewed with different tokens: %q", tokens)
	}
}

// TestAPIActionsDisabled: without an ActionService the routes exist and
// answer 404 saying actions are off.
func TestAPIActionsDisabled(t *testing.T) {
	t.Parallel()
	e := MustEnv(t)
	api := apiClient{t: t, base: e.Srv.URL, token: MustAPIToken(t, e.Store, "desk")}
	for _, rt := range []struct{ method, path, body string }{
		{"GET", "/api/profiles/" + profManual + "/actions", ""},
		{"POST", "/api/profiles/" + profManual + "/actions/preview", `{"action":"skip","subscriptionId":"1"}`},
		{"POST", "/api/profiles/" + profManual + "/actions", `{"action":"skip","subscriptionId":"1"}`},
	} {
		code, b := api.do(rt.method, rt.path, rt.body)
		if e := decodeErr(t, b); code != http.StatusNotFound || e.Error.Code != rechargekit.ENOTFOUND || !strings.Contains(e.Error.Message, "not enabled") {
			t.Errorf("%s %s = %d %+v", rt.method, rt.path, code, e)
		}
	}
}
