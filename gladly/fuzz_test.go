package gladly

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// Fuzz targets of the wire format and of request signing. Their corpora
// live in testdata/fuzz/<FuzzName>; scripts/fuzz runs them for longer.

// FuzzParseRequest checks the request decoder: every body either parses to
// one of the three kinds with the invariants of its kind, or fails with a
// *RequestError; and a parsed request, encoded again the way Gladly
// encodes that kind, parses to an equivalent request.
func FuzzParseRequest(f *testing.F) {
	entries, _ := os.ReadDir(filepath.Join("testdata", "requests"))
	for _, e := range entries {
		if b, err := os.ReadFile(filepath.Join("testdata", "requests", e.Name())); err == nil {
			f.Add(b)
		}
	}
	if b, err := os.ReadFile(filepath.Join("testdata", "signing", "request-body.json")); err == nil {
		f.Add(b)
	}
	if dir, ok := findFixtures(); ok {
		for _, p := range []string{
			"data/pull/basic_lookup/auto_link_emails/expected_request_body.json",
			"data/pull/detailed_orders_lookup/success/expected_request_body.json",
			"data/pull/detailed_orders_lookup/with_externalId/expected_request_body.json",
			"authentication/request_signing/request-body.json",
		} {
			if b, err := os.ReadFile(filepath.Join(dir, p)); err == nil {
				f.Add(b)
			}
		}
	} else {
		f.Logf("shared fixtures not found at %s: fuzzing without their seeds", dir)
	}
	for _, s := range []string{
		``, `{}`, `null`, `[]`, `{"lookupLevel":"BASIC","query":{"emails":[null,"a"]}}`,
		`{"lookupLevel":"DETAILED","query":{"externalCustomerId":"1"}}`,
		`{"lookupLevel":"basic","query":{"email":" A@x.io ","rechargeCustomerId":42,"shopifyCustomerId":"  7 "}}`,
		`{"lookupLevel":"BASIC","query":{"id":12,"name":" N ","emails":"a@b","phones":["+1",null," "]}}`,
		`{"lookupLevel":"DETAILED","query":{"externalCustomerId":" 9 ","emails":7}}`,
		`{"lookupLevel":"BASIC","query":{"emails":"x@y","rechargeCustomerId":"0012","shopifyCustomerId":1e3}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := ParseRequest(body)
		if err != nil {
			var re *RequestError
			if !errors.As(err, &re) || !errors.Is(err, ErrInvalidRequest) || re.Detail == "" {
				t.Fatalf("error %v is not a *RequestError with a detail", err)
			}
			return
		}
		switch req.Kind {
		case KindDetailed:
			if req.Level != LevelDetailed || req.ExternalCustomerID == "" || !req.Search.IsZero() ||
				req.ExternalCustomerID != strings.TrimSpace(req.ExternalCustomerID) {
				t.Fatalf("bad detailed request %+v", req)
			}
		case KindAutoLink:
			if req.Level != LevelBasic || len(req.Search.Emails) > MaxAutoLinkEmails || len(req.Search.Phones) > MaxAutoLinkPhones ||
				req.Search.CustomerID != 0 || req.Search.ExternalID != "" || req.Search.Name != "" || req.Search.Zip != "" || req.Search.Query != "" {
				t.Fatalf("bad auto-link request %+v", req)
			}
		case KindSearch:
			if req.Level != LevelBasic || len(req.Search.Emails) > 1 || len(req.Search.Phones) > 1 || req.Search.CustomerID < 0 || req.Profile.ID != "" ||
				req.Search.Name != strings.TrimSpace(req.Search.Name) || req.Search.Zip != strings.TrimSpace(req.Search.Zip) {
				t.Fatalf("bad search request %+v", req)
			}
		default:
			t.Fatalf("unknown kind in %+v", req)
		}
		for _, e := range append(slices.Clone(req.Search.Emails), req.Search.Phones...) {
			if e == "" || e != strings.TrimSpace(e) {
				t.Fatalf("empty or untrimmed email %q in %+v", e, req)
			}
		}
		for _, v := range append(append([]string{req.Profile.ID, req.Profile.Name}, req.Profile.Emails...), req.Profile.Phones...) {
			if v != strings.TrimSpace(v) {
				t.Fatalf("untrimmed profile field %q in %+v", v, req)
			}
		}

		// Re-encode as Gladly would send this kind of lookup, and parse again.
		env := reencode(t, req)
		again, err := json.Marshal(env)
		if err != nil {
			t.Fatalf("encode %+v: %v", env, err)
		}
		back, err := ParseRequest(again)
		if err != nil {
			t.Fatalf("re-encoded request %s (from %q) does not parse: %v", again, body, err)
		}
		if diff := cmp.Diff(req, back, cmpopts.EquateEmpty(), cmpopts.IgnoreFields(Request{}, "UniqueMatchRequired")); diff != "" {
			t.Fatalf("re-encoding %q as %s changed the request (-first +second):\n%s", body, again, diff)
		}
	})
}

// reencode builds the envelope Gladly sends for a parsed request.
func reencode(t *testing.T, req *Request) *LookupRequest {
	t.Helper()
	switch req.Kind {
	case KindDetailed:
		env, err := DetailedRequest(req.ExternalCustomerID, req.Profile)
		if err != nil {
			t.Fatal(err)
		}
		return env
	case KindAutoLink:
		q, err := profileQuery(req.Profile)
		if err != nil {
			t.Fatal(err)
		}
		return &LookupRequest{LookupLevel: LevelBasic, Query: q}
	}
	q := map[string]json.RawMessage{}
	put := func(k, v string) {
		raw, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		q[k] = raw
	}
	if len(req.Search.Emails) > 0 {
		put(QueryEmail, req.Search.Emails[0])
	}
	if req.Search.CustomerID != 0 {
		put(QueryRechargeCustomerID, strconv.FormatInt(req.Search.CustomerID, 10))
	}
	if req.Search.ExternalID != "" {
		put(QueryShopifyCustomerID, req.Search.ExternalID)
	}
	if len(req.Search.Phones) > 0 {
		put(QueryPhone, req.Search.Phones[0])
	}
	if req.Search.Name != "" {
		put(QueryName, req.Search.Name)
	}
	if req.Search.Zip != "" {
		put(QueryZip, req.Search.Zip)
	}
	return &LookupRequest{LookupLevel: LevelBasic, Query: q}
}

// FuzzParseAuthorization checks the Gladly-Authorization parser: what it
// accepts is well formed and formats back to itself, errors wrap
// ErrMalformedSignature, and Verify never accepts a header that is not the
// signature of the request.
func FuzzParseAuthorization(f *testing.F) {
	f.Add(vectorHeader)
	f.Add("Signature=" + strings.Repeat("0", 64) + ",SignedHeaders=a;b,SigningAlgorithm=x")
	f.Add("SigningAlgorithm=a=b, SignedHeaders=gladly-time, Signature=" + strings.Repeat("F", 64))
	f.Add("signingalgorithm=HMAC-SHA256,signedheaders=gladly-time,signature=" + strings.Repeat("a", 64))
	f.Add("")
	f.Add(",,,")
	if dir, ok := findFixtures(); ok {
		if b, err := os.ReadFile(filepath.Join(dir, "authentication", "request_signing", "success", "expected_Gladly-Authorization.txt")); err == nil {
			f.Add(string(b))
		}
	}
	vectorBody, _ := os.ReadFile(filepath.Join("testdata", "signing", "request-body.json"))
	f.Fuzz(func(t *testing.T, in string) {
		a, err := ParseAuthorization(in)
		if err == nil {
			if a.Algorithm == "" || len(a.SignedHeaders) == 0 || len(a.Signature) != 64 || a.Signature != strings.ToLower(a.Signature) {
				t.Fatalf("accepted %q as %+v", in, a)
			}
			// What parses formats back to something that parses to the same value.
			b, err := ParseAuthorization(a.String())
			if err != nil {
				t.Fatalf("reparse of %q: %v", a.String(), err)
			}
			if diff := cmp.Diff(a, b); diff != "" {
				t.Fatalf("round trip (-first +second):\n%s", diff)
			}
		} else if !errors.Is(err, ErrMalformedSignature) {
			t.Fatalf("error %v does not wrap ErrMalformedSignature", err)
		}

		// The published vector's request with this header instead of its own.
		r := httptest.NewRequest(http.MethodPost, vectorURL, nil)
		r.Header.Set("Accept", "application/json")
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set(HeaderCorrelationID, vectorCorrelationID)
		r.Header.Set(HeaderTraceID, vectorTraceID)
		r.Header.Set(HeaderTime, vectorTime)
		r.Header[HeaderAuthorization] = []string{in}
		if Verify(r, vectorBody, vectorKey, vectorNow, 0) == nil {
			want, _ := ParseAuthorization(vectorHeader)
			a, err := ParseAuthorization(strings.TrimSpace(in))
			if err != nil || a.Signature != want.Signature || !cmp.Equal(a.SignedHeaders, want.SignedHeaders) {
				t.Fatalf("Verify accepted %q, which is not the vector's signature", in)
			}
		}
	})
}

// FuzzVerify checks Sign and Verify together: whatever the body and query,
// a signed request verifies (also as the server parses it); with another key
// it does not; and after any change to the body, the signature header or
// Gladly-Time, Verify accepts only what Sign produced.
func FuzzVerify(f *testing.F) {
	vectorBody, _ := os.ReadFile(filepath.Join("testdata", "signing", "request-body.json"))
	f.Add(vectorBody, "", "", "", []byte(nil))
	f.Add([]byte(`{"lookupLevel":"BASIC","query":{}}`), "b=2&a=1", "", "", []byte(nil))
	f.Add([]byte(`{}`), "", vectorHeader, "", []byte(nil))
	f.Add([]byte(`{}`), "x=%20", "", "20190213T214017Z", []byte(nil))
	f.Add([]byte(``), "", "", "", []byte(" "))
	f.Add([]byte(`{"a":1}`), "a=1;b=2", "SigningAlgorithm=hmac-sha256, SignedHeaders=gladly-time, Signature="+strings.Repeat("0", 64), "", []byte(nil))
	const key = "fuzz-signing-key"
	now := time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte, query, auth, gladlyTime string, extra []byte) {
		r, err := http.NewRequest(http.MethodPost, "https://desk.example.com/gladly/lookup?"+query, bytes.NewReader(body))
		if err != nil {
			r, _ = http.NewRequest(http.MethodPost, "https://desk.example.com/gladly/lookup", bytes.NewReader(body))
		}
		r.Header.Set("Accept", "application/json")
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set(HeaderCorrelationID, vectorCorrelationID)
		if err := Sign(r, body, key, now); err != nil {
			t.Fatalf("Sign: %v", err)
		}
		if err := Verify(r, body, key, now, 0); err != nil {
			t.Fatalf("a request just signed does not verify: %v", err)
		}
		// The request as the server sees it: parsed from its request line
		// (when it can be sent at all).
		if uri := r.URL.RequestURI(); !strings.ContainsAny(uri, " \t\r\n") {
			srv := httptest.NewRequest(http.MethodPost, uri, bytes.NewReader(body))
			srv.Header = r.Header.Clone()
			if err := Verify(srv, body, key, now, 0); err != nil {
				t.Fatalf("the signed request %s does not verify on the server side: %v", uri, err)
			}
		}
		if err := Verify(r, body, key+"x", now, 0); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("Verify with another key = %v, want ErrBadSignature", err)
		}

		signed, _ := ParseAuthorization(r.Header.Get(HeaderAuthorization))
		signedTime := r.Header.Get(HeaderTime)
		if auth != "" {
			r.Header[HeaderAuthorization] = []string{auth}
		}
		if gladlyTime != "" {
			r.Header[HeaderTime] = []string{gladlyTime}
		}
		got := append(append([]byte{}, body...), extra...)
		err = Verify(r, got, key, now, 0)
		if err == nil {
			a, perr := ParseAuthorization(strings.TrimSpace(r.Header.Get(HeaderAuthorization)))
			switch {
			case perr != nil, a.Signature != signed.Signature, !cmp.Equal(a.SignedHeaders, signed.SignedHeaders):
				t.Fatalf("Verify accepted the header %q; Sign produced %q", auth, signed)
			case !bytes.Equal(got, body):
				t.Fatalf("Verify accepted a changed body %q; signed %q", got, body)
			case strings.TrimSpace(r.Header.Get(HeaderTime)) != signedTime:
				t.Fatalf("Verify accepted Gladly-Time %q; signed %q", gladlyTime, signedTime)
			}
			return
		}
		for _, sentinel := range []error{ErrMissingSignature, ErrMalformedSignature, ErrUnsupportedAlgorithm, ErrStaleTime, ErrBadSignature} {
			if errors.Is(err, sentinel) {
				if strings.Contains(err.Error(), key) {
					t.Fatalf("the error %q holds the key", err)
				}
				return
			}
		}
		t.Fatalf("Verify error %v wraps no sentinel error", err)
	})
}
