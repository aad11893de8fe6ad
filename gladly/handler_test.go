package gladly_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/gladly"
	"github.com/rechargekit/rechargekit/internal/testkit"
)

var testNow = time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)

// Secrets that must never reach a log line.
const (
	testKey           = "s3cr3t-signing-key-never-logged"
	testBasicUser     = "gladly"
	testBasicPassword = "b4sic-pa55word-never-logged"
)

// fakeService is a CardService whose answers each test scripts. It records
// every call.
type fakeService struct {
	find func(ctx context.Context, q rechargekit.CustomerSearch) ([]*rechargekit.Match, error)
	card func(ctx context.Context, id int64) (*rechargekit.Card, error)

	mu       sync.Mutex
	searches []rechargekit.CustomerSearch
	cardIDs  []int64
	corrIDs  []string
	ctxs     []context.Context
}

func (f *fakeService) record(ctx context.Context) {
	f.corrIDs = append(f.corrIDs, rechargekit.CorrelationID(ctx))
	f.ctxs = append(f.ctxs, ctx)
}

func (f *fakeService) FindCustomers(ctx context.Context, q rechargekit.CustomerSearch) ([]*rechargekit.Match, error) {
	f.mu.Lock()
	f.searches = append(f.searches, q)
	f.record(ctx)
	f.mu.Unlock()
	if f.find == nil {
		return []*rechargekit.Match{{Customer: demoCustomer(176728490), By: rechargekit.MatchEmail}}, nil
	}
	return f.find(ctx, q)
}

func (f *fakeService) Card(ctx context.Context, id int64) (*rechargekit.Card, error) {
	f.mu.Lock()
	f.cardIDs = append(f.cardIDs, id)
	f.record(ctx)
	f.mu.Unlock()
	if f.card == nil {
		return demoCard(id), nil
	}
	return f.card(ctx, id)
}

func (f *fakeService) calls() ([]rechargekit.CustomerSearch, []int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.searches), slices.Clone(f.cardIDs)
}

func (f *fakeService) called() bool {
	s, c := f.calls()
	return len(s)+len(c) > 0
}

func intp(n int) *int { return &n }

func demoCustomer(id int64) *rechargekit.Customer {
	return &rechargekit.Customer{
		ID: id, ExternalID: "6520380932247", Email: "Hannah.Schmidt@example.com",
		FirstName: "Hannah", LastName: "Schmidt", Phone: "+13456705104",
		SubscriptionsTotal: intp(9), SubscriptionsActive: intp(8),
		CreatedAt: time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC),
	}
}

// demoCard is a customer with an active subscription and a cancelled one,
// between them setting every field of the SUBSCRIPTION transaction.
func demoCard(id int64) *rechargekit.Card {
	cancelled := time.Date(2025, 2, 1, 10, 30, 0, 0, time.FixedZone("CET", 3600))
	return &rechargekit.Card{
		Customer: *demoCustomer(id),
		Subscriptions: []*rechargekit.Subscription{
			{
				ID: 585061940, CustomerID: id, Status: rechargekit.StatusActive,
				CreatedAt:               time.Date(2025, 1, 26, 15, 20, 33, 0, time.UTC),
				UpdatedAt:               time.Date(2025, 1, 26, 15, 20, 33, 0, time.UTC),
				ChargeIntervalFrequency: 30, OrderIntervalFrequency: 30, IntervalUnit: "day",
				NextChargeDate: "2025-02-25", Price: "98.00", Currency: "USD", Quantity: 1,
				Product: rechargekit.Product{ID: "8143925215383", VariantID: "43510687465623", Name: "Men's Wool Runner",
					VariantName: "8", SKU: "WOOL100", ImageURL: "https://cdn.example.com/wool-runner.jpg"},
			},
			{
				ID: 585061111, CustomerID: id, Status: rechargekit.StatusCancelled,
				CreatedAt:               time.Date(2024, 11, 2, 9, 0, 0, 0, time.UTC),
				UpdatedAt:               time.Date(2025, 2, 1, 9, 30, 0, 0, time.UTC),
				ChargeIntervalFrequency: 1, OrderIntervalFrequency: 1, IntervalUnit: "month",
				CancelledAt: &cancelled, CancellationReason: "Too expensive", CancellationReasonComments: "<b>will be back</b>",
				Price: "45.50", Quantity: 2,
				Product: rechargekit.Product{ID: "8143925215999", Name: "Tree Dasher", VariantName: "10"},
			},
		},
		FetchedAt: testNow,
	}
}

// syncBuffer is a log sink safe for the handler's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// lines returns the JSON log records written so far.
func (b *syncBuffer) lines(tb testing.TB) []map[string]any {
	tb.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(b.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			tb.Fatalf("log line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

type harness struct {
	srv    *httptest.Server
	svc    *fakeService
	logs   *syncBuffer
	client *gladly.Client
	url    string
}

// MustServer serves a Handler for svc at gladly.DefaultPath, with a signing
// key, a fixed clock and a captured JSON log; configure adjusts the config.
func MustServer(tb testing.TB, svc *fakeService, configure func(*gladly.Config)) *harness {
	tb.Helper()
	logs := &syncBuffer{}
	cfg := gladly.Config{
		Service:    svc,
		SigningKey: testKey,
		Now:        func() time.Time { return testNow },
		Logger:     slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if configure != nil {
		configure(&cfg)
	}
	h, err := gladly.NewHandler(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(gladly.DefaultPath, h)
	srv := httptest.NewServer(mux)
	tb.Cleanup(srv.Close)
	url := srv.URL + gladly.DefaultPath
	return &harness{
		srv: srv, svc: svc, logs: logs, url: url,
		client: &gladly.Client{
			URL: url, SigningKey: cfg.SigningKey, BasicUser: cfg.BasicUser, BasicPassword: cfg.BasicPassword,
			HTTPClient: srv.Client(), Now: func() time.Time { return testNow },
		},
	}
}

// answer is one HTTP answer.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// errorBody decodes an error answer.
func (a answer) errorBody(tb testing.TB) gladly.ErrorDetail {
	tb.Helper()
	var er gladly.ErrorResponse
	if err := json.Unmarshal(a.body, &er); err != nil || len(er.Errors) != 1 {
		tb.Fatalf("error body %s: %v; want one error", a.body, err)
	}
	if er.Errors[0].Detail == "" {
		tb.Errorf("error body %s has no detail", a.body)
	}
	return er.Errors[0]
}

// results decodes a 200 answer.
func (a answer) results(tb testing.TB) []gladly.Result {
	tb.Helper()
	if a.status != http.StatusOK {
		tb.Fatalf("status %d, body %s; want 200", a.status, a.body)
	}
	var resp gladly.LookupResponse
	if err := json.Unmarshal(a.body, &resp); err != nil {
		tb.Fatalf("decode %s: %v", a.body, err)
	}
	if resp.Results == nil {
		tb.Fatalf("body %s: results is not a list", a.body)
	}
	return resp.Results
}

// post sends body as Gladly would: its headers, signed with testKey at
// testNow; each change runs after signing, to tamper with the request.
func (h *harness) post(tb testing.TB, body []byte, changes ...func(*http.Request)) answer {
	tb.Helper()
	return h.do(tb, http.MethodPost, body, bytes.NewReader(body), changes...)
}

func (h *harness) do(tb testing.TB, method string, signBody []byte, body io.Reader, changes ...func(*http.Request)) answer {
	tb.Helper()
	r, err := http.NewRequest(method, h.url, body)
	if err != nil {
		tb.Fatal(err)
	}
	corr := gladly.NewCorrelationID()
	trace, _ := gladly.TraceID(corr)
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Accept", "application/json")
	r.Header.Set(gladly.HeaderCorrelationID, corr)
	r.Header.Set(gladly.HeaderTraceID, trace)
	if err := gladly.Sign(r, signBody, testKey, testNow); err != nil {
		tb.Fatal(err)
	}
	for _, change := range changes {
		change(r)
	}
	resp, err := h.srv.Client().Do(r)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		tb.Errorf("Content-Type = %q, want application/json; charset=utf-8", ct)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: data}
}

func TestHandlerRequestShapes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file         string
		wantSearches []rechargekit.CustomerSearch
		wantCards    []int64
		wantResults  int
	}{
		{file: "auto_link.json", wantResults: 1,
			wantSearches: []rechargekit.CustomerSearch{{Emails: []string{"ana.ruiz@example.com", "ana@work.example"}, Phones: []string{"+34911234567"}}}},
		{file: "auto_link_nested_attributes.json", wantResults: 1,
			wantSearches: []rechargekit.CustomerSearch{{Emails: []string{"ben.okafor@example.net"}}}},
		{file: "auto_link_phones_only.json", wantResults: 1,
			wantSearches: []rechargekit.CustomerSearch{{Phones: []string{"+442071234567"}}}},
		{file: "search_email.json", wantResults: 1,
			wantSearches: []rechargekit.CustomerSearch{{Emails: []string{"ana.ruiz@example.com"}}}},
		{file: "search_emails_string.json", wantResults: 1,
			wantSearches: []rechargekit.CustomerSearch{{Emails: []string{"Ben.Okafor@example.net"}, Phones: []string{"+442071234567"}, Name: "Ben"}}},
		{file: "search_recharge_id.json", wantResults: 1,
			wantSearches: []rechargekit.CustomerSearch{{CustomerID: 176728490}}},
		{file: "search_shopify_id.json", wantResults: 1,
			wantSearches: []rechargekit.CustomerSearch{{ExternalID: "6520380932247"}}},
		{file: "search_no_keys.json", wantResults: 1,
			wantSearches: []rechargekit.CustomerSearch{{Phones: []string{"+34911234567"}, Name: "Ana Ruiz"}}},
		{file: "detailed_nested_attributes.json", wantResults: 1, wantCards: []int64{176728490}},
		{file: "detailed_flattened_attributes.json", wantResults: 1, wantCards: []int64{176728490}},
		{file: "detailed_not_numeric.json", wantResults: 0},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			h := MustServer(t, &fakeService{}, nil)
			got := h.post(t, gladly.MustReadFile(t, filepath.Join("testdata", "requests", tt.file))).results(t)
			if len(got) != tt.wantResults {
				t.Errorf("%d results, want %d", len(got), tt.wantResults)
			}
			searches, cards := h.svc.calls()
			if diff := cmp.Diff(tt.wantSearches, searches); diff != "" {
				t.Errorf("searches (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantCards, cards); diff != "" {
				t.Errorf("cards (-want +got):\n%s", diff)
			}
			for _, r := range got {
				if (r.Transactions != nil) != strings.HasPrefix(tt.file, "detailed") {
					t.Errorf("result %s: transactions %v in a %s answer", r.ExternalCustomerID, r.Transactions != nil, tt.file)
				}
			}
		})
	}
}

func TestHandlerFixtureRequests(t *testing.T) {
	t.Parallel()
	dir := gladly.FixturesDir(t)
	tests := []struct {
		path         string
		wantSearches []rechargekit.CustomerSearch
		wantCards    []int64
		wantIDs      []string
	}{
		{path: "data/pull/basic_lookup/auto_link_emails/expected_request_body.json", wantIDs: []string{"176728490"},
			wantSearches: []rechargekit.CustomerSearch{{Emails: []string{"primary@email.com", "secondary@email.com"}, Phones: []string{"+15551234567"}}}},
		{path: "data/pull/detailed_orders_lookup/success/expected_request_body.json",
			wantCards: []int64{12345}, wantIDs: []string{"12345"}},
		{path: "data/pull/detailed_orders_lookup/with_externalId/expected_request_body.json", wantIDs: []string{}},
		{path: "authentication/request_signing/request-body.json", wantIDs: []string{}},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(filepath.Dir(tt.path)), func(t *testing.T) {
			t.Parallel()
			h := MustServer(t, &fakeService{}, nil)
			got := h.post(t, gladly.MustReadFile(t, filepath.Join(dir, tt.path))).results(t)
			ids := []string{}
			for _, r := range got {
				ids = append(ids, r.ExternalCustomerID)
			}
			if diff := cmp.Diff(tt.wantIDs, ids); diff != "" {
				t.Errorf("result ids (-want +got):\n%s", diff)
			}
			searches, cards := h.svc.calls()
			if diff := cmp.Diff(tt.wantSearches, searches); diff != "" {
				t.Errorf("searches (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantCards, cards); diff != "" {
				t.Errorf("cards (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHandlerBadRequests(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, body string }{
		{"malformed JSON", `{"lookupLevel":"BASIC","query":{`},
		{"empty body", ``},
		{"not an object", `"BASIC"`},
		{"missing query", `{"lookupLevel":"BASIC","uniqueMatchRequired":false}`},
		{"null query", `{"lookupLevel":"BASIC","query":null}`},
		{"unknown lookupLevel", `{"lookupLevel":"FULL","query":{"email":"a@b.example"}}`},
		{"missing lookupLevel", `{"query":{"email":"a@b.example"}}`},
		{"DETAILED without externalCustomerId", `{"lookupLevel":"DETAILED","query":{"id":"p1","emails":["a@b.example"]},"uniqueMatchRequired":true}`},
		{"DETAILED with numeric externalCustomerId", `{"lookupLevel":"DETAILED","query":{"externalCustomerId":176728490}}`},
		{"emails of the wrong shape", `{"lookupLevel":"BASIC","query":{"emails":{"primary":"a@b.example"}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := MustServer(t, &fakeService{}, nil)
			a := h.post(t, []byte(tt.body))
			if a.status != http.StatusBadRequest {
				t.Fatalf("status %d, body %s; want 400", a.status, a.body)
			}
			if got := a.errorBody(t); got.Code != gladly.CodeInvalidRequest {
				t.Errorf("code %q, want %q", got.Code, gladly.CodeInvalidRequest)
			}
			if h.svc.called() {
				t.Error("the service was called for a bad request")
			}
		})
	}
}

func TestHandlerAuthentication(t *testing.T) {
	t.Parallel()
	body := gladly.MustReadFile(t, filepath.Join("testdata", "requests", "search_email.json"))
	withBasic := func(c *gladly.Config) { c.BasicUser, c.BasicPassword = testBasicUser, testBasicPassword }
	withStatic := func(c *gladly.Config) { c.StaticHeaderName, c.StaticHeaderValue = "X-Api-Key", "static-value" }
	resign := func(key string, at time.Time) func(*http.Request) {
		return func(r *http.Request) {
			if err := gladly.Sign(r, body, key, at); err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := []struct {
		name      string
		configure func(*gladly.Config)
		change    func(*http.Request)
		send      []byte // body sent instead of the signed one
		wantAttr  string
		wantCode  string
	}{
		{name: "missing signature", change: func(r *http.Request) { r.Header.Del(gladly.HeaderAuthorization) },
			wantAttr: gladly.HeaderAuthorization, wantCode: gladly.CodeInvalidSignature},
		{name: "bad signature: body changed", send: bytes.Replace(body, []byte("ana."), []byte("eve."), 1),
			wantAttr: gladly.HeaderAuthorization, wantCode: gladly.CodeInvalidSignature},
		{name: "bad signature: wrong key", change: resign("not-the-key", testNow),
			wantAttr: gladly.HeaderAuthorization, wantCode: gladly.CodeInvalidSignature},
		{name: "stale Gladly-Time", change: resign(testKey, testNow.Add(-16*time.Minute)),
			wantAttr: gladly.HeaderAuthorization, wantCode: gladly.CodeInvalidSignature},
		{name: "Gladly-Time from the future", change: resign(testKey, testNow.Add(16*time.Minute)),
			wantAttr: gladly.HeaderAuthorization, wantCode: gladly.CodeInvalidSignature},
		{name: "wrong algorithm", change: func(r *http.Request) {
			r.Header.Set(gladly.HeaderAuthorization, strings.Replace(r.Header.Get(gladly.HeaderAuthorization), "hmac-sha256", "hmac-sha512", 1))
		}, wantAttr: gladly.HeaderAuthorization, wantCode: gladly.CodeInvalidSignature},
		{name: "malformed header", change: func(r *http.Request) { r.Header.Set(gladly.HeaderAuthorization, "Signature=abc") },
			wantAttr: gladly.HeaderAuthorization, wantCode: gladly.CodeInvalidSignature},
		{name: "Basic missing", configure: withBasic,
			wantAttr: "Authorization", wantCode: gladly.CodeInvalidCredentials},
		{name: "Basic wrong password", configure: withBasic, change: func(r *http.Request) {
			r.SetBasicAuth(testBasicUser, "wrong")
			resign(testKey, testNow)(r)
		}, wantAttr: "Authorization", wantCode: gladly.CodeInvalidCredentials},
		{name: "Basic wrong user", configure: withBasic, change: func(r *http.Request) {
			r.SetBasicAuth("someone", testBasicPassword)
			resign(testKey, testNow)(r)
		}, wantAttr: "Authorization", wantCode: gladly.CodeInvalidCredentials},
		{name: "Basic right but unsigned", configure: withBasic, change: func(r *http.Request) {
			r.SetBasicAuth(testBasicUser, testBasicPassword)
			r.Header.Del(gladly.HeaderAuthorization)
		}, wantAttr: gladly.HeaderAuthorization, wantCode: gladly.CodeInvalidSignature},
		{name: "static header missing", configure: withStatic,
			wantAttr: "X-Api-Key", wantCode: gladly.CodeInvalidCredentials},
		{name: "static header wrong", configure: withStatic, change: func(r *http.Request) { r.Header.Set("X-Api-Key", "static-valuf") },
			wantAttr: "X-Api-Key", wantCode: gladly.CodeInvalidCredentials},
		{name: "every layer passes", configure: func(c *gladly.Config) { withBasic(c); withStatic(c) }, change: func(r *http.Request) {
			r.Header.Set("X-Api-Key", "static-value")
			r.SetBasicAuth(testBasicUser, testBasicPassword)
			resign(testKey, testNow)(r)
		}},
		{name: "no signing key configured: unsigned passes", configure: func(c *gladly.Config) { c.SigningKey = "" },
			change: func(r *http.Request) { r.Header.Del(gladly.HeaderAuthorization) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := MustServer(t, &fakeService{}, tt.configure)
			send := body
			if tt.send != nil {
				send = tt.send
			}
			var changes []func(*http.Request)
			if tt.change != nil {
				changes = append(changes, tt.change)
			}
			a := h.do(t, http.MethodPost, body, bytes.NewReader(send), changes...)
			if tt.wantCode == "" {
				if got := a.results(t); len(got) != 1 {
					t.Errorf("%d results, want 1", len(got))
				}
				return
			}
			if a.status != http.StatusUnauthorized {
				t.Fatalf("status %d, body %s; want 401", a.status, a.body)
			}
			got := a.errorBody(t)
			if got.Attr != tt.wantAttr || got.Code != tt.wantCode {
				t.Errorf("error %+v, want attr %q code %q", got, tt.wantAttr, tt.wantCode)
			}
			if h.svc.called() {
				t.Error("the service was called for an unauthenticated request")
			}
			if tt.wantAttr == "Authorization" && !strings.HasPrefix(a.header.Get("WWW-Authenticate"), "Basic ") {
				t.Errorf("WWW-Authenticate = %q, want a Basic challenge", a.header.Get("WWW-Authenticate"))
			}
		})
	}
}

func TestHandlerMethodNotAllowed(t *testing.T) {
	t.Parallel()
	for _, method := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
		t.Run(method, func(t *testing.T) {
			t.Parallel()
			h := MustServer(t, &fakeService{}, nil)
			a := h.do(t, method, nil, nil)
			if a.status != http.StatusMethodNotAllowed || a.header.Get("Allow") != http.MethodPost {
				t.Fatalf("status %d, Allow %q; want 405 with Allow: POST", a.status, a.header.Get("Allow"))
			}
			if got := a.errorBody(t); got.Code != gladly.CodeMethodNotAllowed {
				t.Errorf("code %q", got.Code)
			}
		})
	}
}

func TestHandlerBodyTooLarge(t *testing.T) {
	t.Parallel()
	big := []byte(`{"lookupLevel":"BASIC","query":{"email":"` + strings.Repeat("a", gladly.DefaultMaxBodyBytes) + `@example.com"}}`)
	tests := []struct {
		name      string
		body      []byte
		reader    func() io.Reader
		configure func(*gladly.Config)
	}{
		{name: "declared length over 1 MiB", body: big, reader: func() io.Reader { return bytes.NewReader(big) }},
		{name: "chunked body over 1 MiB", body: big, reader: func() io.Reader { return io.MultiReader(bytes.NewReader(big)) }},
		{name: "configured cap", configure: func(c *gladly.Config) { c.MaxBodyBytes = 64 },
			body: gladly.MustReadFile(t, filepath.Join("testdata", "requests", "auto_link.json")),
			reader: func() io.Reader {
				return bytes.NewReader(gladly.MustReadFile(t, filepath.Join("testdata", "requests", "auto_link.json")))
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := MustServer(t, &fakeService{}, tt.configure)
			a := h.do(t, http.MethodPost, tt.body, tt.reader())
			if a.status != http.StatusRequestEntityTooLarge {
				t.Fatalf("status %d, body %.200s; want 413", a.status, a.body)
			}
			if got := a.errorBody(t); got.Code != gladly.CodeRequestTooLarge {
				t.Errorf("code %q", got.Code)
			}
			if h.svc.called() {
				t.Error("the service was called")
			}
		})
	}
	t.Run("exactly at the cap is read", func(t *testing.T) {
		t.Parallel()
		body := gladly.MustReadFile(t, filepath.Join("testdata", "requests", "search_email.json"))
		h := MustServer(t, &fakeService{}, func(c *gladly.Config) { c.MaxBodyBytes = int64(len(body)) })
		if got := h.post(t, body).results(t); len(got) != 1 {
			t.Errorf("%d results, want 1", len(got))
		}
	})
}

func TestHandlerServiceFailures(t *testing.T) {
	t.Parallel()
	detailed := gladly.MustReadFile(t, filepath.Join("testdata", "requests", "detailed_nested_attributes.json"))
	search := gladly.MustReadFile(t, filepath.Join("testdata", "requests", "search_email.json"))
	autoLink := gladly.MustReadFile(t, filepath.Join("testdata", "requests", "auto_link.json"))
	upstream := rechargekit.Errorf(rechargekit.EUPSTREAM, "Recharge answered 503")
	refused := rechargekit.UpstreamRefused("Recharge refused rechargekit's API token.", errors.New("recharge: 401"))

	tests := []struct {
		name       string
		body       []byte
		svc        *fakeService
		wantStatus int
		wantCode   string // "" for a 200 with wantResults results
		wantLog    string // a substring the log must hold
		deadline   time.Duration
	}{
		{name: "detailed: ENOTFOUND is no results", body: detailed, wantStatus: 200,
			svc: &fakeService{card: func(context.Context, int64) (*rechargekit.Card, error) {
				return nil, rechargekit.Errorf(rechargekit.ENOTFOUND, "no such customer")
			}}},
		{name: "search: ENOTFOUND is no results", body: search, wantStatus: 200,
			svc: &fakeService{find: func(context.Context, rechargekit.CustomerSearch) ([]*rechargekit.Match, error) {
				return nil, rechargekit.Errorf(rechargekit.ENOTFOUND, "none")
			}}},
		{name: "detailed: EUPSTREAM", body: detailed, wantStatus: 503, wantCode: gladly.CodeUpstreamUnavailable,
			svc: &fakeService{card: func(context.Context, int64) (*rechargekit.Card, error) { return nil, upstream }}},
		{name: "auto-link: EUPSTREAM is never empty results", body: autoLink, wantStatus: 503, wantCode: gladly.CodeUpstreamUnavailable,
			svc: &fakeService{find: func(context.Context, rechargekit.CustomerSearch) ([]*rechargekit.Match, error) { return nil, upstream }}},
		{name: "detailed: token refused is a configuration error", body: detailed, wantStatus: 503, wantCode: gladly.CodeUpstreamUnavailable,
			wantLog: "configuration error",
			svc:     &fakeService{card: func(context.Context, int64) (*rechargekit.Card, error) { return nil, refused }}},
		{name: "search: token refused", body: search, wantStatus: 503, wantCode: gladly.CodeUpstreamUnavailable,
			wantLog: "configuration error",
			svc: &fakeService{find: func(context.Context, rechargekit.CustomerSearch) ([]*rechargekit.Match, error) {
				return nil, refused
			}}},
		// EUNAUTHORIZED is for a caller's credentials, which the handler
		// checks itself: from the service it can only be a bug.
		{name: "detailed: EUNAUTHORIZED from the service is internal", body: detailed, wantStatus: 500, wantCode: gladly.CodeInternal,
			wantLog: "internal error",
			svc: &fakeService{card: func(context.Context, int64) (*rechargekit.Card, error) {
				return nil, rechargekit.Errorf(rechargekit.EUNAUTHORIZED, "Send an API token.")
			}}},
		{name: "search: EINVALID", body: search, wantStatus: 400, wantCode: gladly.CodeInvalidRequest,
			svc: &fakeService{find: func(context.Context, rechargekit.CustomerSearch) ([]*rechargekit.Match, error) {
				return nil, rechargekit.Errorf(rechargekit.EINVALID, "not an email address")
			}}},
		{name: "detailed: unexpected error", body: detailed, wantStatus: 500, wantCode: gladly.CodeInternal,
			svc: &fakeService{card: func(context.Context, int64) (*rechargekit.Card, error) { return nil, errors.New("boom") }}},
		{name: "detailed: card of another customer", body: detailed, wantStatus: 500, wantCode: gladly.CodeInternal,
			svc: &fakeService{card: func(context.Context, int64) (*rechargekit.Card, error) { return demoCard(1), nil }}},
		{name: "detailed: panic", body: detailed, wantStatus: 500, wantCode: gladly.CodeInternal, wantLog: "service panicked",
			svc: &fakeService{card: func(context.Context, int64) (*rechargekit.Card, error) { panic("card service bug") }}},
		{name: "search: panic", body: search, wantStatus: 500, wantCode: gladly.CodeInternal, wantLog: "service panicked",
			svc: &fakeService{find: func(context.Context, rechargekit.CustomerSearch) ([]*rechargekit.Match, error) { panic("find bug") }}},
		{name: "detailed: service honours the deadline", body: detailed, wantStatus: 503, wantCode: gladly.CodeUpstreamUnavailable,
			wantLog: "deadline exceeded", deadline: 20 * time.Millisecond,
			svc: &fakeService{card: func(ctx context.Context, _ int64) (*rechargekit.Card, error) {
				<-ctx.Done()
				return nil, ctx.Err()
			}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := MustServer(t, tt.svc, func(c *gladly.Config) { c.Deadline = tt.deadline })
			a := h.post(t, tt.body)
			if a.status != tt.wantStatus {
				t.Fatalf("status %d, body %s; want %d", a.status, a.body, tt.wantStatus)
			}
			if tt.wantCode == "" {
				if got := a.results(t); len(got) != 0 {
					t.Errorf("%d results, want none", len(got))
				}
			} else if got := a.errorBody(t); got.Code != tt.wantCode {
				t.Errorf("code %q, want %q", got.Code, tt.wantCode)
			}
			h.srv.Close() // waits for the handler, so its log line is written
			if !strings.Contains(h.logs.String(), tt.wantLog) {
				t.Errorf("log does not mention %q:\n%s", tt.wantLog, h.logs.String())
			}
			if strings.Contains(string(a.body), "boom") || strings.Contains(string(a.body), "bug") {
				t.Errorf("internal detail leaked into the answer: %s", a.body)
			}
		})
	}
}

// TestHandlerHangingService: a service that ignores its context entirely
// still gets an answer out inside the deadline.
func TestHandlerHangingService(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	block := func() { <-release }
	svc := &fakeService{
		card: func(context.Context, int64) (*rechargekit.Card, error) { block(); return demoCard(176728490), nil },
		find: func(context.Context, rechargekit.CustomerSearch) ([]*rechargekit.Match, error) {
			block()
			return nil, nil
		},
	}
	h := MustServer(t, svc, func(c *gladly.Config) { c.Deadline = 20 * time.Millisecond })
	for _, file := range []string{"detailed_nested_attributes.json", "auto_link.json", "search_email.json"} {
		a := h.post(t, gladly.MustReadFile(t, filepath.Join("testdata", "requests", file)))
		if a.status != http.StatusServiceUnavailable {
			t.Fatalf("%s: status %d, body %s; want 503", file, a.status, a.body)
		}
		if got := a.errorBody(t); got.Code != gladly.CodeUpstreamUnavailable {
			t.Errorf("%s: code %q", file, got.Code)
		}
	}
}

func TestHandlerSurvivesPanic(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	panicking := true
	svc := &fakeService{card: func(_ context.Context, id int64) (*rechargekit.Card, error) {
		mu.Lock()
		defer mu.Unlock()
		if panicking {
			panicking = false
			panic(fmt.Sprintf("bug for %d", id))
		}
		return demoCard(id), nil
	}}
	h := MustServer(t, svc, nil)
	body := gladly.MustReadFile(t, filepath.Join("testdata", "requests", "detailed_nested_attributes.json"))
	if a := h.post(t, body); a.status != http.StatusInternalServerError {
		t.Fatalf("first: status %d, want 500", a.status)
	}
	if got := h.post(t, body).results(t); len(got) != 1 {
		t.Fatalf("second: %d results, want 1", len(got))
	}
}

func TestHandlerDeadlineIsCapped(t *testing.T) {
	t.Parallel()
	svc := &fakeService{}
	h := MustServer(t, svc, func(c *gladly.Config) { c.Deadline = time.Hour })
	before := time.Now()
	h.post(t, gladly.MustReadFile(t, filepath.Join("testdata", "requests", "search_email.json"))).results(t)
	after := time.Now()
	svc.mu.Lock()
	dl, ok := svc.ctxs[0].Deadline()
	svc.mu.Unlock()
	if !ok || dl.Before(before.Add(gladly.MaxDeadline)) || dl.After(after.Add(gladly.MaxDeadline)) {
		t.Errorf("service context deadline %v (set: %v); want the request start + %v", dl, ok, gladly.MaxDeadline)
	}
}

func TestHandler300Subscriptions(t *testing.T) {
	t.Parallel()
	svc := &fakeService{card: func(_ context.Context, id int64) (*rechargekit.Card, error) {
		card := &rechargekit.Card{Customer: *demoCustomer(id), FetchedAt: testNow}
		for i := range 300 {
			card.Subscriptions = append(card.Subscriptions, &rechargekit.Subscription{
				ID: int64(600000000 + i), CustomerID: id, Status: rechargekit.StatusActive,
				CreatedAt: testNow.Add(-time.Duration(i) * time.Hour), Price: "10.00", Quantity: 1,
			})
		}
		return card, nil
	}}
	h := MustServer(t, svc, nil)
	ctx := context.Background()
	resp, err := h.client.Detailed(ctx, "176728490", rechargekit.Profile{ID: "gp-1", Emails: []string{"a@b.example"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Results) != 1 {
		t.Fatalf("%d results, want 1", len(resp.Results))
	}
	txs := resp.Results[0].Transactions
	if len(txs) != 300 {
		t.Fatalf("%d transactions, want 300", len(txs))
	}
	for i, tx := range txs {
		if want := fmt.Sprint(600000000 + i); tx.SubscriptionID != want || tx.Type != "SUBSCRIPTION" {
			t.Fatalf("transaction %d = %s %s, want SUBSCRIPTION %s", i, tx.Type, tx.SubscriptionID, want)
		}
	}
}

func TestHandlerNoSubscriptionsIsEmptyList(t *testing.T) {
	t.Parallel()
	svc := &fakeService{card: func(_ context.Context, id int64) (*rechargekit.Card, error) {
		return &rechargekit.Card{Customer: *demoCustomer(id)}, nil
	}}
	h := MustServer(t, svc, nil)
	a := h.post(t, gladly.MustReadFile(t, filepath.Join("testdata", "requests", "detailed_flattened_attributes.json")))
	var raw struct {
		Results []map[string]json.RawMessage `json:"results"`
	}
	if err := json.Unmarshal(a.body, &raw); err != nil || len(raw.Results) != 1 {
		t.Fatalf("body %s: %v", a.body, err)
	}
	if got := string(raw.Results[0]["transactions"]); got != "[]" {
		t.Errorf("transactions = %q, want []", got)
	}
}

func TestHandlerDetailedEchoesRequestedID(t *testing.T) {
	t.Parallel()
	h := MustServer(t, &fakeService{}, nil)
	resp, err := h.client.Detailed(context.Background(), "000176728490", rechargekit.Profile{})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Results) != 1 || resp.Results[0].ExternalCustomerID != "000176728490" {
		t.Fatalf("results %+v; want one result with the requested id", resp.Results)
	}
	if _, cards := h.svc.calls(); !slices.Equal(cards, []int64{176728490}) {
		t.Errorf("cards %v", cards)
	}
}

func TestHandlerDetailedNonDecimalID(t *testing.T) {
	t.Parallel()
	for _, id := range []string{"abc", "-5", "1.5", "0", "12a", "99999999999999999999", "+12", "١٢٣"} {
		t.Run(id, func(t *testing.T) {
			t.Parallel()
			h := MustServer(t, &fakeService{}, nil)
			resp, err := h.client.Detailed(context.Background(), id, rechargekit.Profile{})
			if err != nil {
				t.Fatal(err)
			}
			if len(resp.Results) != 0 || h.svc.called() {
				t.Errorf("results %v, service called %v; want none and no call", resp.Results, h.svc.called())
			}
		})
	}
}

func TestHandlerAutoLinkSearchesFiveDistinctEmails(t *testing.T) {
	t.Parallel()
	c1, c2 := demoCustomer(300), demoCustomer(200)
	c2.Email = "other@example.com"
	svc := &fakeService{find: func(context.Context, rechargekit.CustomerSearch) ([]*rechargekit.Match, error) {
		return []*rechargekit.Match{
			{Customer: c1, By: rechargekit.MatchEmail, Value: "a@x.example"},
			{Customer: c2, By: rechargekit.MatchEmail, Value: "b@x.example"},
			{Customer: c1, By: rechargekit.MatchEmail, Value: "A@x.example"},
			{Customer: nil},
		}, nil
	}}
	h := MustServer(t, svc, nil)
	resp, err := h.client.AutoLink(context.Background(), rechargekit.Profile{
		ID: "gp-1", Name: "Many Mails",
		Emails: []string{"a@x.example", " A@X.example", "", "b@x.example", "c@x.example", "b@X.EXAMPLE", "d@x.example", "e@x.example", "f@x.example"},
		Phones: []string{"+15550001111"},
	})
	if err != nil {
		t.Fatal(err)
	}
	searches, _ := h.svc.calls()
	want := []rechargekit.CustomerSearch{{Emails: []string{"a@x.example", "b@x.example", "c@x.example", "d@x.example", "e@x.example"},
		Phones: []string{"+15550001111"}}}
	if diff := cmp.Diff(want, searches); diff != "" {
		t.Errorf("searches (-want +got):\n%s", diff)
	}
	var ids []string
	for _, r := range resp.Results {
		ids = append(ids, r.ExternalCustomerID)
	}
	// Every distinct match, in the service's order: the adaptor never picks one.
	if diff := cmp.Diff([]string{"300", "200"}, ids); diff != "" {
		t.Errorf("result ids (-want +got):\n%s", diff)
	}
	// And so Gladly would not link: two candidates.
	profile := gladly.NewProfile(rechargekit.Profile{Emails: []string{"a@x.example"}}, gladly.PhoneMobile)
	if id, ok := gladly.WouldAutoLink(profile, resp.Results, []string{gladly.AutoLinkEmails}); ok {
		t.Errorf("Gladly would link to %s", id)
	}
}

func TestHandlerSearchCappedAt25(t *testing.T) {
	t.Parallel()
	svc := &fakeService{find: func(context.Context, rechargekit.CustomerSearch) ([]*rechargekit.Match, error) {
		var out []*rechargekit.Match
		for i := range 30 {
			out = append(out, &rechargekit.Match{Customer: demoCustomer(int64(1000 - i)), By: rechargekit.MatchEmail})
		}
		return out, nil
	}}
	h := MustServer(t, svc, nil)
	resp, err := h.client.Search(context.Background(), map[string]string{"email": "hannah.schmidt@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Results) != gladly.MaxSearchResults || resp.Results[0].ExternalCustomerID != "1000" {
		t.Errorf("%d results starting %v; want %d starting with 1000", len(resp.Results), resp.Results[0].ExternalCustomerID, gladly.MaxSearchResults)
	}
}

func TestHandlerSearchWithoutKeys(t *testing.T) {
	t.Parallel()
	h := MustServer(t, &fakeService{}, nil)
	for _, q := range []map[string]string{{}, {"name": "  "}, {"phone": " "}, {"rechargeCustomerId": "abc"}, {"email": "  "}} {
		resp, err := h.client.Search(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Results) != 0 {
			t.Errorf("%v: %d results", q, len(resp.Results))
		}
	}
	if h.svc.called() {
		t.Error("the service was called for searches with nothing to search by")
	}
}

func TestHandlerCorrelationID(t *testing.T) {
	t.Parallel()
	h := MustServer(t, &fakeService{}, nil)
	const corr = "vXmSEPjVSWCaCMzvjufxZg"
	ctx := rechargekit.WithCorrelationID(context.Background(), corr)
	if _, err := h.client.Search(ctx, map[string]string{"email": "a@b.example"}); err != nil {
		t.Fatal(err)
	}
	// Without the header the handler makes up an id, so logs still correlate.
	unsigned := MustServer(t, &fakeService{}, func(c *gladly.Config) { c.SigningKey = "" })
	unsigned.post(t, []byte(`{"lookupLevel":"BASIC","query":{"email":"a@b.example"}}`), func(r *http.Request) {
		r.Header.Del(gladly.HeaderCorrelationID)
	}).results(t)

	h.srv.Close()
	unsigned.srv.Close()
	h.svc.mu.Lock()
	unsigned.svc.mu.Lock()
	defer h.svc.mu.Unlock()
	defer unsigned.svc.mu.Unlock()
	if diff := cmp.Diff([]string{corr}, h.svc.corrIDs); diff != "" {
		t.Errorf("correlation ids seen by the service (-want +got):\n%s", diff)
	}
	if len(unsigned.svc.corrIDs) != 1 || len(unsigned.svc.corrIDs[0]) != 22 {
		t.Errorf("generated correlation id %q, want 22 characters", unsigned.svc.corrIDs)
	}
	for _, line := range h.logs.lines(t) {
		if line["correlation_id"] != corr {
			t.Errorf("log line without the correlation id: %v", line)
		}
	}
}

func TestHandlerLogs(t *testing.T) {
	t.Parallel()
	svc := &fakeService{card: func(_ context.Context, id int64) (*rechargekit.Card, error) {
		switch id {
		case 1:
			return nil, rechargekit.UpstreamRefused("Recharge refused rechargekit's API token.", nil)
		case 2:
			panic("kaboom")
		}
		return demoCard(id), nil
	}}
	h := MustServer(t, svc, func(c *gladly.Config) { c.BasicUser, c.BasicPassword = testBasicUser, testBasicPassword })
	ctx := context.Background()
	for _, id := range []string{"176728490", "1", "2"} {
		_, _ = h.client.Detailed(ctx, id, rechargekit.Profile{ID: "gp"})
	}
	_, _ = (&gladly.Client{URL: h.url, SigningKey: "wrong-key", BasicUser: testBasicUser, BasicPassword: testBasicPassword,
		HTTPClient: h.srv.Client(), Now: func() time.Time { return testNow }}).Search(ctx, map[string]string{"email": "a@b.example"})
	_, _ = (&gladly.Client{URL: h.url, SigningKey: testKey, BasicUser: testBasicUser, BasicPassword: "guess",
		HTTPClient: h.srv.Client(), Now: func() time.Time { return testNow }}).Search(ctx, map[string]string{"email": "a@b.example"})
	h.srv.Close()

	logs := h.logs.String()
	basic := base64.StdEncoding.EncodeToString([]byte(testBasicUser + ":" + testBasicPassword))
	for _, secret := range []string{testKey, testBasicPassword, basic} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log contains a secret %q:\n%s", secret, logs)
		}
	}
	var statuses []float64
	for _, line := range h.logs.lines(t) {
		if id, _ := line["correlation_id"].(string); len(id) != 22 {
			t.Errorf("log line without a correlation id: %v", line)
		}
		if line["msg"] != "gladly lookup" {
			continue
		}
		for _, key := range []string{"method", "lookup_level", "kind", "status", "duration", "level"} {
			if _, ok := line[key]; !ok {
				t.Errorf("request log line has no %q: %v", key, line)
			}
		}
		statuses = append(statuses, line["status"].(float64))
	}
	// Sorted: a handler logs after its answer, so lines may interleave.
	slices.Sort(statuses)
	if diff := cmp.Diff([]float64{200, 401, 401, 500, 503}, statuses); diff != "" {
		t.Errorf("logged statuses (-want +got):\n%s", diff)
	}
	if !strings.Contains(logs, "configuration error") {
		t.Errorf("a refused token not logged as a configuration error:\n%s", logs)
	}
}

// TestHandlerGolden pins the exact bytes of one DETAILED and one BASIC
// answer. Refresh with go test ./gladly -run Golden -update.
func TestHandlerGolden(t *testing.T) {
	t.Parallel()
	noName := demoCustomer(176728001)
	noName.FirstName, noName.LastName, noName.Phone = "", "", "(345) 670-5104"
	noName.SubscriptionsTotal, noName.SubscriptionsActive = nil, nil
	svc := &fakeService{find: func(context.Context, rechargekit.CustomerSearch) ([]*rechargekit.Match, error) {
		return []*rechargekit.Match{
			{Customer: demoCustomer(176728490), By: rechargekit.MatchEmail},
			{Customer: noName, By: rechargekit.MatchEmail},
		}, nil
	}}
	h := MustServer(t, svc, nil)
	tests := []struct{ golden, request string }{
		{"detailed.golden", "detailed_nested_attributes.json"},
		{"basic.golden", "search_email.json"},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			a := h.post(t, gladly.MustReadFile(t, filepath.Join("testdata", "requests", tt.request)))
			if a.status != http.StatusOK {
				t.Fatalf("status %d: %s", a.status, a.body)
			}
			testkit.GoldenJSON(t, tt.golden, a.body)
		})
	}
	t.Run("every SUBSCRIPTION key is present", func(t *testing.T) {
		var answer struct {
			Results []struct {
				Transactions []map[string]json.RawMessage `json:"transactions"`
			} `json:"results"`
		}
		if err := json.Unmarshal(gladly.MustReadFile(t, filepath.Join("testdata", "detailed.golden")), &answer); err != nil {
			t.Fatal(err)
		}
		txKeys := []string{"type", "subscriptionId", "status", "createdAt", "updatedAt", "billingIntervalFrequency",
			"billingIntervalUnit", "deliveryIntervalFrequency", "nextBillingDate", "canceledAt", "cancellationReason",
			"cancellationReasonComments", "price", "currencyCode", "quantity", "products"}
		productKeys := []string{"id", "variantId", "name", "variantName", "sku", "imageUrl"}
		if len(answer.Results) != 1 || len(answer.Results[0].Transactions) != 2 {
			t.Fatalf("golden answer has %+v", answer)
		}
		for _, tx := range answer.Results[0].Transactions {
			if diff := cmp.Diff(sorted(txKeys), sorted(keys(tx))); diff != "" {
				t.Errorf("transaction keys (-want +got):\n%s", diff)
			}
			var products []map[string]json.RawMessage
			if err := json.Unmarshal(tx["products"], &products); err != nil || len(products) != 1 {
				t.Fatalf("products %s: %v", tx["products"], err)
			}
			if diff := cmp.Diff(sorted(productKeys), sorted(keys(products[0]))); diff != "" {
				t.Errorf("product keys (-want +got):\n%s", diff)
			}
		}
	})
}

func keys(m map[string]json.RawMessage) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func TestNewHandlerNeedsService(t *testing.T) {
	t.Parallel()
	if _, err := gladly.NewHandler(gladly.Config{}); err == nil {
		t.Error("NewHandler without a service succeeded")
	}
}
