package gladly_test

import (
	"context"
	"errors"
	"io"
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
)

// captured is what a test server received.
type captured struct {
	mu      sync.Mutex
	reqs    []*http.Request
	bodies  [][]byte
	verrors []error // Verify's verdict on each request
}

// MustCapturingServer answers every request with status and body after
// recording it and verifying its signature with key.
func MustCapturingServer(tb testing.TB, key string, status int, body string) (*httptest.Server, *captured) {
	tb.Helper()
	c := &captured{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var verr error
		if key != "" {
			verr = gladly.Verify(r, b, key, testNow, 0)
		}
		c.mu.Lock()
		c.reqs = append(c.reqs, r.Clone(context.Background()))
		c.bodies = append(c.bodies, b)
		c.verrors = append(c.verrors, verr)
		c.mu.Unlock()
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	tb.Cleanup(srv.Close)
	return srv, c
}

func (c *captured) last(tb testing.TB) (*http.Request, []byte, error) {
	tb.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.reqs) == 0 {
		tb.Fatal("no request received")
	}
	n := len(c.reqs) - 1
	return c.reqs[n], c.bodies[n], c.verrors[n]
}

func TestClientSendsGladlyHeaders(t *testing.T) {
	t.Parallel()
	srv, got := MustCapturingServer(t, testKey, http.StatusOK, `{"results":[]}`)
	c := &gladly.Client{
		URL: srv.URL + gladly.DefaultPath, SigningKey: testKey,
		BasicUser: "username", BasicPassword: "password", BasicRealm: "realm",
		Header:     http.Header{"X-Api-Key": {"static-value"}},
		HTTPClient: srv.Client(), Now: func() time.Time { return testNow },
	}
	ctx := rechargekit.WithCorrelationID(context.Background(), "vXmSEPjVSWCaCMzvjufxZg")
	if _, err := c.Search(ctx, map[string]string{"email": "a@b.example"}); err != nil {
		t.Fatal(err)
	}
	r, _, verr := got.last(t)
	if verr != nil {
		t.Errorf("the server could not verify the signature: %v", verr)
	}
	if r.Method != http.MethodPost || r.URL.Path != gladly.DefaultPath {
		t.Errorf("%s %s, want POST %s", r.Method, r.URL.Path, gladly.DefaultPath)
	}
	want := map[string]string{
		"Content-Type":          "application/json",
		"Accept":                "application/json",
		"Gladly-Time":           "20250304T100000Z",
		"Gladly-Correlation-Id": "vXmSEPjVSWCaCMzvjufxZg",
		"X-B3-Traceid":          "bd799210f8d549609a08ccef8ee7f166",
		"Authorization":         "Basic dXNlcm5hbWU6cGFzc3dvcmQ=",
		"Www-Authenticate":      `Basic realm="realm"`,
		"X-Api-Key":             "static-value",
	}
	sent := map[string]string{}
	for name := range r.Header {
		switch name {
		case "User-Agent", "Accept-Encoding", "Content-Length": // added by net/http, as on Gladly's wire
		case gladly.HeaderAuthorization:
		default:
			sent[name] = r.Header.Get(name)
		}
	}
	if diff := cmp.Diff(want, sent); diff != "" {
		t.Errorf("headers (-want +got):\n%s", diff)
	}
	a, err := gladly.ParseAuthorization(r.Header.Get(gladly.HeaderAuthorization))
	if err != nil {
		t.Fatal(err)
	}
	wantSigned := []string{"accept", "authorization", "content-type", "gladly-correlation-id", "gladly-time", "www-authenticate", "x-b3-traceid"}
	if diff := cmp.Diff(wantSigned, a.SignedHeaders); diff != "" {
		t.Errorf("signed headers (-want +got):\n%s", diff)
	}
}

// TestClientHeadersFixtures compares the Basic and trace headers with
// Gladly's expected values for the same credentials and correlation id.
func TestClientHeadersFixtures(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(gladly.FixturesDir(t), "authentication", "headers", "success")
	read := func(name string) string {
		return strings.TrimSpace(string(gladly.MustReadFile(t, filepath.Join(dir, name))))
	}
	srv, got := MustCapturingServer(t, "", http.StatusOK, `{"results":[]}`)
	c := &gladly.Client{URL: srv.URL, BasicUser: "username", BasicPassword: "password", BasicRealm: "realm", HTTPClient: srv.Client()}
	ctx := rechargekit.WithCorrelationID(context.Background(), read("expected_Gladly-Correlation-Id.txt"))
	if _, err := c.Search(ctx, map[string]string{"email": "a@b.example"}); err != nil {
		t.Fatal(err)
	}
	r, _, _ := got.last(t)
	for header, file := range map[string]string{
		"Authorization":         "expected_Authorization.txt",
		"WWW-Authenticate":      "expected_WWW-Authenticate.txt",
		"Gladly-Correlation-Id": "expected_Gladly-Correlation-Id.txt",
		"X-B3-Traceid":          "expected_X-B3-TraceId.txt",
	} {
		if r.Header.Get(header) != read(file) {
			t.Errorf("%s = %q, want %q", header, r.Header.Get(header), read(file))
		}
	}
	if len(r.Header.Get(gladly.HeaderTime)) != len("20060102T150405Z") {
		t.Errorf("Gladly-Time = %q", r.Header.Get(gladly.HeaderTime))
	}
	if r.Header.Get(gladly.HeaderAuthorization) != "" {
		t.Error("an unsigned client sent Gladly-Authorization")
	}
}

func TestClientRequestShapes(t *testing.T) {
	t.Parallel()
	profile := rechargekit.Profile{ID: "gp-1", Name: "Pat Lee", Emails: []string{"pat@example.com", "p.lee@example.org"}, Phones: []string{"+15550001111"}}
	tests := []struct {
		name string
		send func(c *gladly.Client) error
		want gladly.Request
	}{
		{name: "auto-link", send: func(c *gladly.Client) error {
			_, err := c.AutoLink(context.Background(), profile)
			return err
		}, want: gladly.Request{Kind: gladly.KindAutoLink, Level: gladly.LevelBasic, Profile: profile,
			Search: rechargekit.CustomerSearch{Emails: profile.Emails, Phones: profile.Phones}}},
		{name: "auto-link of a profile without emails is still an auto-link", send: func(c *gladly.Client) error {
			_, err := c.AutoLink(context.Background(), rechargekit.Profile{})
			return err
		}, want: gladly.Request{Kind: gladly.KindAutoLink, Level: gladly.LevelBasic}},
		{name: "search", send: func(c *gladly.Client) error {
			_, err := c.Search(context.Background(), map[string]string{"email": "pat@example.com", "rechargeCustomerId": "42", "shopifyCustomerId": "77"})
			return err
		}, want: gladly.Request{Kind: gladly.KindSearch, Level: gladly.LevelBasic,
			Search: rechargekit.CustomerSearch{Emails: []string{"pat@example.com"}, CustomerID: 42, ExternalID: "77"}}},
		{name: "detailed", send: func(c *gladly.Client) error {
			_, err := c.Detailed(context.Background(), "42", profile)
			return err
		}, want: gladly.Request{Kind: gladly.KindDetailed, Level: gladly.LevelDetailed, Profile: profile,
			ExternalCustomerID: "42", UniqueMatchRequired: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, got := MustCapturingServer(t, testKey, http.StatusOK, `{"results":[]}`)
			c := &gladly.Client{URL: srv.URL, SigningKey: testKey, HTTPClient: srv.Client(), Now: func() time.Time { return testNow }}
			if err := tt.send(c); err != nil {
				t.Fatal(err)
			}
			_, body, verr := got.last(t)
			if verr != nil {
				t.Errorf("signature: %v", verr)
			}
			req, err := gladly.ParseRequest(body)
			if err != nil {
				t.Fatalf("ParseRequest(%s): %v", body, err)
			}
			if diff := cmp.Diff(tt.want, *req); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestClientErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		status     int
		body       string
		wantStatus int // 0: not a *ResponseError
		wantErrors []gladly.ErrorDetail
	}{
		{name: "503 with a JSON error", status: 503,
			body:       `{"errors":[{"code":"upstream_unavailable","detail":"Recharge is unavailable"}]}`,
			wantStatus: 503, wantErrors: []gladly.ErrorDetail{{Code: "upstream_unavailable", Detail: "Recharge is unavailable"}}},
		{name: "401 with attr", status: 401,
			body:       `{"errors":[{"attr":"Gladly-Authorization","code":"invalid_signature","detail":"no"}]}`,
			wantStatus: 401, wantErrors: []gladly.ErrorDetail{{Attr: "Gladly-Authorization", Code: "invalid_signature", Detail: "no"}}},
		{name: "500 without a JSON body", status: 500, body: `oops`, wantStatus: 500},
		{name: "200 with a broken body", status: 200, body: `{"results":[`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, _ := MustCapturingServer(t, "", tt.status, tt.body)
			c := &gladly.Client{URL: srv.URL, HTTPClient: srv.Client()}
			resp, err := c.Search(context.Background(), map[string]string{"email": "a@b.example"})
			if err == nil {
				t.Fatalf("got %+v, want an error", resp)
			}
			var re *gladly.ResponseError
			if tt.wantStatus == 0 {
				if errors.As(err, &re) {
					t.Fatalf("error %v is a ResponseError", err)
				}
				return
			}
			if !errors.As(err, &re) {
				t.Fatalf("error %v is not a *ResponseError", err)
			}
			if re.StatusCode != tt.wantStatus || len(re.CorrelationID) != 22 {
				t.Errorf("status %d, correlation id %q", re.StatusCode, re.CorrelationID)
			}
			if diff := cmp.Diff(tt.wantErrors, re.Errors); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
			for _, d := range tt.wantErrors {
				if !strings.Contains(err.Error(), d.Code) || !strings.Contains(err.Error(), d.Detail) {
					t.Errorf("error text %q lacks %q / %q", err, d.Code, d.Detail)
				}
			}
		})
	}
}

// TestClientAgainstHandler runs a whole exchange: the client impersonates
// Gladly, the handler answers, and Gladly's auto-link rule is applied to the
// answer.
func TestClientAgainstHandler(t *testing.T) {
	t.Parallel()
	h := MustServer(t, &fakeService{}, func(c *gladly.Config) { c.BasicUser, c.BasicPassword = testBasicUser, testBasicPassword })
	ctx := context.Background()
	gp := gladly.Profile{ID: "gp-9", PrimaryEmailAddress: "hannah.schmidt@example.com",
		EmailAddresses: []string{"hannah.schmidt@example.com"},
		PhoneNumbers:   []gladly.PhoneNumber{{Number: "+13456705104", Type: gladly.PhoneMobile}}}

	basic, err := h.client.AutoLink(ctx, gp.Domain())
	if err != nil {
		t.Fatal(err)
	}
	id, ok := gladly.WouldAutoLink(gp, basic.Results, []string{gladly.AutoLinkEmails})
	if !ok || id != "176728490" {
		t.Fatalf("WouldAutoLink = %q, %v; want a link to 176728490", id, ok)
	}
	if _, ok := gladly.WouldAutoLink(gp, basic.Results, []string{gladly.AutoLinkMobilePhones}); ok {
		t.Error("the answer would auto-link by phone")
	}
	if basic.Results[0].Transactions != nil {
		t.Error("a BASIC answer carries transactions")
	}

	detailed, err := h.client.Detailed(ctx, id, gp.Domain())
	if err != nil {
		t.Fatal(err)
	}
	if len(detailed.Results) != 1 || detailed.Results[0].ExternalCustomerID != id || len(detailed.Results[0].Transactions) != 2 {
		t.Fatalf("detailed answer %+v", detailed.Results)
	}
	searches, cards := h.svc.calls()
	if !slices.Equal(cards, []int64{176728490}) || len(searches) != 1 {
		t.Errorf("service calls: searches %v, cards %v", searches, cards)
	}
}
