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
	fuzzSignMask    = 3 << 0 // 0, 1: signed; 2: unsigned; 3: signed over another body
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

// FuzzHandler sends bodies of any shape through gladly.Handler, signed,
// unsigned or wrongly signed, with any method, while the card service
// answers or fails: the status is always one the contract allows (200,
// 400, 401, 405, 413, 503; never 500), the one the request deserves, and
// the body is always JSON of the documented shape.
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
	f.Add(bytes.Repeat([]byte(" "), 300), uint8(fuzzSmallCap))
	logger := slog.New(slog.DiscardHandler)
	f.Fuzz(func(t *testing.T, body []byte, mode uint8) {
		cfg := gladly.Config{
			Service:    fuzzService{mode},
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
		r := httptest.NewRequest(method, gladly.DefaultPath, bytes.NewReader(body))
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
