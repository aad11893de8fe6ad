package gladly_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/gladly"
)

// Fuzz modes of FuzzHandler: how the request is signed, which method it
// uses, how the card service answers, and whether the body cap is small.
const (
	fuzzSignMask    = 3 << 0 // 0: signed; 1: signed, to an action's form or submit; 2: unsigned; 3: signed over another body
	fuzzAction      = 1
	fuzzUnsigned    = 2
	fuzzBadSig      = 3
	fuzzMethodMask  = 3 << 2 // 0, 1: POST; 2: GET; 3: PUT
	fuzzServiceMask = 3 << 4 // 0: answers; 1: not found; 2: Recharge down; 3: token refused
	fuzzSmallCap    = 1 << 6 // MaxBodyBytes 256
	fuzzStale       = 1 << 7 // Gladly-Time an hour old
)

// fuzzService is a CardService that answers from the request itself, with
// the request's own strings as customer and product data, or fails as the
// mode says.
type fuzzService struct{ mode uint8 }

func (s fuzzService) fail() error {
	switch s.mode & fuzzServiceMask >> 4 {
	case 1:
		return rechargekit.Errorf(rechargekit.ENOTFOUND, "no such customer")
	case 2:
		return rechargekit.Errorf(rechargekit.EUPSTREAM, "Recharge is unavailable")
	case 3:
		return rechargekit.UpstreamRefused("Recharge refused rechargekit's API token.", nil)
	}
	return nil
}

func (s fuzzService) FindCustomers(ctx context.Context, q rechargekit.CustomerSearch) ([]*rechargekit.Match, error) {
	if err := s.fail(); err != nil {
		return nil, err
	}
	var out []*rechargekit.Match
	for i, e := range q.Emails {
		c := demoCustomer(int64(1000 + i%2)) // a repeated id, which the handler drops
		c.Email, c.FirstName, c.LastName = e, e, "\x00<script>"+e
		out = append(out, &rechargekit.Match{Customer: c, By: rechargekit.MatchEmail, Value: e})
	}
	if q.CustomerID != 0 {
		out = append(out, &rechargekit.Match{Customer: demoCustomer(q.CustomerID), By: rechargekit.MatchCustomerID})
	}
	if q.ExternalID != "" {
		c := demoCustomer(7)
		c.ExternalID = q.ExternalID
		out = append(out, &rechargekit.Match{Customer: c, By: rechargekit.MatchExternalID, Value: q.ExternalID}, nil)
	}
	return out, nil
}

func (s fuzzService) Card(ctx context.Context, id int64) (*rechargekit.Card, error) {
	if err := s.fail(); err != nil {
		return nil, err
	}
	card := demoCard(id)
	name := rechargekit.CorrelationID(ctx) + "\u202e<img src=x onerror=alert(1)>\xff"
	card.Subscriptions[0].Product.Name = name
	card.Subscriptions[1].CancellationReason = name
	card.Subscriptions[1].Product.ImageURL = "javascript:alert(1)"
	return card, nil
}

// fuzzActions is an ActionService that answers from the request itself, or
// fails as the mode says (not found, Recharge down, token refused).
type fuzzActions struct{ mode uint8 }

func (s fuzzActions) Offers(ctx context.Context, t rechargekit.ActionTarget, a rechargekit.Actor) ([]*rechargekit.SubscriptionActions, error) {
	if err := (fuzzService{s.mode}).fail(); err != nil {
		return nil, err
	}
	var out []*rechargekit.SubscriptionActions
	for _, sub := range demoCard(t.CustomerID).Subscriptions {
		sa := &rechargekit.SubscriptionActions{Subscription: sub}
		for _, action := range rechargekit.AllActions() {
			sa.Offers = append(sa.Offers, rechargekit.ActionOffer{Action: action, Offered: true})
		}
		out = append(out, sa)
	}
	return out, nil
}

// CardOffers offers every action on a card with subscriptions: the
// DETAILED answer then carries every form URL.
func (s fuzzActions) CardOffers(ctx context.Context, card *rechargekit.Card, a rechargekit.Actor) []string {
	if card == nil || len(card.Subscriptions) == 0 {
		return nil
	}
	return rechargekit.AllActions()
}

// TokenLimits allows every action, or fails as the mode says; the Gladly
// handler never asks for it, so the fuzzer only needs it to exist.
func (s fuzzActions) TokenLimits(ctx context.Context) ([]rechargekit.ActionOffer, error) {
	if err := (fuzzService{s.mode}).fail(); err != nil {
		return nil, err
	}
	var out []rechargekit.ActionOffer
	for _, action := range rechargekit.AllActions() {
		out = append(out, rechargekit.ActionOffer{Action: action, Offered: true})
	}
	return out, nil
}

func (s fuzzActions) Preview(ctx context.Context, t rechargekit.ActionTarget, a rechargekit.Actor, req *rechargekit.ActionRequest) (*rechargekit.ActionPreview, error) {
	if err := (fuzzService{s.mode}).fail(); err != nil {
		return nil, err
	}
	return &rechargekit.ActionPreview{Action: req.Action, Token: "t", Reasons: []string{req.Reason, "\x00<b>"},
		Summary: []string{req.Reason + req.Comments + req.Date + "\u202e"}}, nil
}

func (s fuzzActions) Do(ctx context.Context, t rechargekit.ActionTarget, a rechargekit.Actor, req *rechargekit.ActionRequest, key string) (*rechargekit.ActionResult, error) {
	if err := (fuzzService{s.mode}).fail(); err != nil {
		return nil, err
	}
	if req.PreviewToken != "t" {
		return nil, &rechargekit.Error{Code: rechargekit.ECONFLICT, Message: "Changed.",
			Err: &rechargekit.PreviewChangedError{Preview: &rechargekit.ActionPreview{Token: "t", Summary: []string{req.Comments}}}}
	}
	if strings.Contains(req.Reason, "no") {
		return nil, rechargekit.Errorf(rechargekit.EREFUSED, "%s", req.Reason)
	}
	return &rechargekit.ActionResult{Record: &rechargekit.ActionRecord{Outcome: rechargekit.OutcomeDone}, Card: demoCard(t.CustomerID)}, nil
}

// fuzzActionPath is where an action-mode request goes: one action's form
// or submit, which body length picks, with the form's preview token.
func fuzzActionPath(body []byte) string {
	all := rechargekit.AllActions()
	return gladly.DefaultPath + "/actions/" + all[len(body)%len(all)] + "?customer=176728490&previewed=585061940&token=t"
}

// FuzzHandler sends bodies of any shape through gladly.Handler, signed,
// unsigned or wrongly signed, with any method, as lookups or as an action's
// form or submit, while the card and action services answer or fail: the
// status is always one the contract allows (200, 400, 401, 405, 413, 503,
// and for actions 404 and 406; never 500), the one the request deserves,
// and the body is always JSON of the documented shape.
func FuzzHandler(f *testing.F) {
	entries, _ := os.ReadDir(filepath.Join("testdata", "requests"))
	for i, e := range entries {
		if b, err := os.ReadFile(filepath.Join("testdata", "requests", e.Name())); err == nil {
			f.Add(b, uint8(i*16)) // each service mode
		}
	}
	for _, s := range []string{
		`{"lookupLevel":"DETAILED","query":{"externalCustomerId":"176728490"}}`,
		`{"lookupLevel":"DETAILED","query":{"externalCustomerId":"gid://shopify/Customer/1"}}`,
		`{"lookupLevel":"BASIC","query":{"emails":["a@x.io","A@X.io","b@x.io"]}}`,
		`{"lookupLevel":"BASIC","query":{"email":"a@x.io","rechargeCustomerId":"42","shopifyCustomerId":"9"}}`,
		`{"lookupLevel":"BASIC","query":{}}`,
		`{"lookupLevel":"NONE","query":{}}`,
		`not json`,
		``,
	} {
		for _, mode := range []uint8{0, fuzzUnsigned, fuzzBadSig, 2 << 2, 2 << 4, 3 << 4, fuzzSmallCap, fuzzStale} {
			f.Add([]byte(s), mode)
		}
	}
	// Forms (GET) and submits (POST) of the actions.
	for _, s := range []string{
		`{"subscriptionId":"585061940","reason":"Too expensive","comments":"","sendEmail":true}`,
		`{"subscriptionId":"585061940","reason":"no, refused","sendEmail":"false"}`,
		`{"subscriptionId":"585061940","date":"2026-12-24"}`,
		`{"subscriptionId":"585061940","intervalUnit":"weeks","intervalFrequency":2}`,
		`{"subscriptionId":"585061940","quantity":"0"}`,
		`{"subscriptionId":"585061111"}`,
		`{"subscriptionId":["x"]}`,
		`{}`,
		``,
	} {
		for _, mode := range []uint8{fuzzAction, fuzzAction | 2<<2, fuzzAction | 1<<4, fuzzAction | 2<<4, fuzzAction | 3<<2, fuzzAction | fuzzStale} {
			f.Add([]byte(s), mode)
		}
	}
	f.Add(bytes.Repeat([]byte(" "), 300), uint8(fuzzSmallCap))
	logger := slog.New(slog.DiscardHandler)
	f.Fuzz(func(t *testing.T, body []byte, mode uint8) {
		cfg := gladly.Config{
			Service:    fuzzService{mode},
			Actions:    fuzzActions{mode},
			SigningKey: testKey,
			Now:        func() time.Time { return testNow },
			Logger:     logger,
		}
		if mode&fuzzSmallCap != 0 {
			cfg.MaxBodyBytes = 256
		}
		h, err := gladly.NewHandler(cfg)
		if err != nil {
			t.Fatal(err)
		}
		method := [4]string{http.MethodPost, http.MethodPost, http.MethodGet, http.MethodPut}[mode&fuzzMethodMask>>2]
		action := mode&fuzzSignMask == fuzzAction
		target := gladly.DefaultPath
		if action {
			target = fuzzActionPath(body)
		}
		r := httptest.NewRequest(method, target, bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Accept", "application/json")
		signedAt := testNow
		if mode&fuzzStale != 0 {
			signedAt = testNow.Add(-time.Hour)
		}
		switch mode & fuzzSignMask {
		case fuzzUnsigned:
		case fuzzBadSig:
			if err := gladly.Sign(r, append([]byte("x"), body...), testKey, signedAt); err != nil {
				t.Fatal(err)
			}
		default:
			if err := gladly.Sign(r, body, testKey, signedAt); err != nil {
				t.Fatal(err)
			}
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)

		// The status the request deserves, in the handler's order of checks.
		var want []int
		_, parseErr := gladly.ParseRequest(body)
		switch {
		case action && method == http.MethodPut:
			want = []int{http.StatusMethodNotAllowed}
		case action && cfg.MaxBodyBytes > 0 && int64(len(body)) > cfg.MaxBodyBytes:
			want = []int{http.StatusRequestEntityTooLarge}
		case action && mode&fuzzStale != 0:
			want = []int{http.StatusUnauthorized}
		case action && method == http.MethodGet:
			// The form: 200, or the customer unknown (404), or Recharge
			// unavailable (503).
			want = [4][]int{{http.StatusOK}, {http.StatusNotFound}, {http.StatusServiceUnavailable}, {http.StatusServiceUnavailable}}[mode&fuzzServiceMask>>4]
		case action:
			// The submit: done, the form kept open, or closed.
			want = []int{http.StatusOK, http.StatusBadRequest, http.StatusNotAcceptable}
		case method != http.MethodPost:
			want = []int{http.StatusMethodNotAllowed}
		case mode&fuzzSignMask == fuzzUnsigned:
			want = []int{http.StatusUnauthorized}
		case cfg.MaxBodyBytes > 0 && int64(len(body)) > cfg.MaxBodyBytes:
			want = []int{http.StatusRequestEntityTooLarge}
		case mode&fuzzSignMask == fuzzBadSig || mode&fuzzStale != 0:
			want = []int{http.StatusUnauthorized}
		case parseErr != nil:
			want = []int{http.StatusBadRequest}
		case mode&fuzzServiceMask>>4 >= 2:
			// Recharge down or refusing the token: 503, unless the request
			// needs no Recharge call at all (an empty search, a detailed
			// lookup of an id that is not Recharge's).
			want = []int{http.StatusServiceUnavailable, http.StatusOK}
		default:
			want = []int{http.StatusOK}
		}
		got := rec.Code
		ok := false
		for _, w := range want {
			ok = ok || got == w
		}
		if !ok {
			t.Fatalf("mode %#x, %s %q: status %d, want one of %v; body %s", mode, method, body, got, want, rec.Body)
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/json; charset=utf-8" {
			t.Fatalf("Content-Type %q", ct)
		}
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("status %d with a body that is not JSON: %q", got, rec.Body)
		}
		if action {
			checkActionAnswer(t, method, got, rec.Body.Bytes())
			return
		}
		if got == http.StatusOK {
			var resp struct {
				Results []map[string]any `json:"results"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil || resp.Results == nil {
				t.Fatalf("200 answer %s: %v; want an object with a results list", rec.Body, err)
			}
			return
		}
		var er gladly.ErrorResponse
		if err := json.Unmarshal(rec.Body.Bytes(), &er); err != nil || len(er.Errors) != 1 || er.Errors[0].Code == "" || er.Errors[0].Detail == "" {
			t.Fatalf("error answer %s: %v; want one error with a code and a detail", rec.Body, err)
		}
		if strings.Contains(rec.Body.String(), testKey) {
			t.Fatalf("the answer holds the signing key: %s", rec.Body)
		}
	})
}

// checkActionAnswer checks the shape of a form's or a submit's answer: a
// form with a title, a message, or errors that each say something.
func checkActionAnswer(t *testing.T, method string, status int, body []byte) {
	t.Helper()
	if strings.Contains(string(body), testKey) {
		t.Fatalf("the answer holds the signing key: %s", body)
	}
	switch {
	case status == http.StatusOK && method == http.MethodGet:
		var f gladly.Form
		if err := json.Unmarshal(body, &f); err != nil || f.Title == "" || f.ActionURL == "" || len(f.Sections) == 0 {
			t.Fatalf("form %s: %v; want a title, an actionUrl and sections", body, err)
		}
	case status == http.StatusOK:
		var a gladly.ActionResponse
		if err := json.Unmarshal(body, &a); err != nil || a.Message == "" {
			t.Fatalf("submit answer %s: %v; want a message", body, err)
		}
	default:
		var er gladly.ErrorResponse
		if err := json.Unmarshal(body, &er); err != nil || len(er.Errors) == 0 {
			t.Fatalf("error answer %s: %v; want errors", body, err)
		}
		for _, e := range er.Errors {
			if e.Detail == "" || e.Code == "" && e.Message == "" {
				t.Fatalf("error answer %s: an error without a detail, or without a code or a message", body)
			}
		}
	}
}
