package gladly

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// Gladly's published request-signing test vector (spec section 10.2),
// hard-coded so that a clone without the shared fixtures still tests it.
const (
	vectorKey           = "test-apikey-1"
	vectorURL           = "https://example.organization.com/api/v2/customer/lookup"
	vectorTime          = "20190213T214016Z"
	vectorCorrelationID = "vXmSEPjVSWCaCMzvjufxZg"
	vectorTraceID       = "bd799210f8d549609a08ccef8ee7f166"
	vectorBodySHA256    = "f187462a1d8e09bc86ea4b4ff8c022e5e4ed23ae783b3b1b5baee4b8d69e02ca"
	vectorCanonicalHash = "f96c13077adb3c06df1fa5fda8a6f32d7067735f63aa58d47e45fd6429d3cad3"
	vectorDateKey       = "63268c9529c307d562837baf622f84d77e2772ff634fa7192ddb83dd0398747e"
	vectorHeader        = "SigningAlgorithm=hmac-sha256, SignedHeaders=accept;content-type;gladly-correlation-id;gladly-time;x-b3-traceid, Signature=4c633fca4914f51df04c9ec40f4545d66d653e771c6634e33eed52a242bc278c"
	vectorCanonical     = "POST\n/api/v2/customer/lookup\n\n" +
		"accept:application/json\n" +
		"content-type:application/json\n" +
		"gladly-correlation-id:vXmSEPjVSWCaCMzvjufxZg\n" +
		"gladly-time:20190213T214016Z\n" +
		"x-b3-traceid:bd799210f8d549609a08ccef8ee7f166\n" +
		"\n" +
		"accept;content-type;gladly-correlation-id;gladly-time;x-b3-traceid\n" +
		vectorBodySHA256
)

var vectorNow = time.Date(2019, 2, 13, 21, 40, 16, 0, time.UTC)

// MustVectorBody returns the vector's 279-byte body from our own testdata,
// checked byte for byte by its SHA-256.
func MustVectorBody(tb testing.TB) []byte {
	tb.Helper()
	body := MustReadFile(tb, filepath.Join("testdata", "signing", "request-body.json"))
	if got := bodyHash(body); got != vectorBodySHA256 || len(body) != 279 {
		tb.Fatalf("testdata/signing/request-body.json: %d bytes, SHA-256 %s; want 279 bytes, %s", len(body), got, vectorBodySHA256)
	}
	return body
}

// MustVectorRequest builds the vector's request, without Gladly-Time and
// Gladly-Authorization.
func MustVectorRequest(tb testing.TB, url string, headers map[string][]string, body []byte) *http.Request {
	tb.Helper()
	r, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	for k, vs := range headers {
		for _, v := range vs {
			r.Header.Add(k, v)
		}
	}
	return r
}

func vectorHeaders() map[string][]string {
	return map[string][]string{
		"Content-Type":          {"application/json"},
		"Accept":                {"application/json"},
		"Gladly-Correlation-Id": {vectorCorrelationID},
		"X-B3-Traceid":          {vectorTraceID},
	}
}

func TestSigningVector(t *testing.T) {
	t.Parallel()
	body := MustVectorBody(t)

	r := MustVectorRequest(t, vectorURL, vectorHeaders(), body)
	if err := Sign(r, body, vectorKey, vectorNow); err != nil {
		t.Fatal(err)
	}
	if got := r.Header.Get(HeaderTime); got != vectorTime {
		t.Errorf("Gladly-Time = %q, want %q", got, vectorTime)
	}
	if got := r.Header.Get(HeaderAuthorization); got != vectorHeader {
		t.Errorf("Gladly-Authorization:\n got %s\nwant %s", got, vectorHeader)
	}

	// The intermediate values of the spec.
	a, err := ParseAuthorization(vectorHeader)
	if err != nil {
		t.Fatal(err)
	}
	canonical := canonicalRequest(r.Method, r.URL.Path, r.URL.Query().Encode(), a.SignedHeaders, headerValues(r), bodyHash(body))
	if diff := cmp.Diff(vectorCanonical, canonical); diff != "" {
		t.Errorf("canonical request (-want +got):\n%s", diff)
	}
	if sum := sha256.Sum256([]byte(canonical)); hex.EncodeToString(sum[:]) != vectorCanonicalHash {
		t.Errorf("canonical hash = %x, want %s", sum, vectorCanonicalHash)
	}
	if got := hex.EncodeToString(dateKey(vectorKey, vectorTime)); got != vectorDateKey {
		t.Errorf("date key = %s, want %s", got, vectorDateKey)
	}

	// The verifier accepts the vector as Gladly sent it.
	sent := MustVectorRequest(t, vectorURL, vectorHeaders(), body)
	sent.Header.Set(HeaderTime, vectorTime)
	sent.Header.Set(HeaderAuthorization, vectorHeader)
	if err := Verify(sent, body, vectorKey, vectorNow.Add(3*time.Minute), 0); err != nil {
		t.Errorf("Verify(vector) = %v", err)
	}
}

// TestSigningVectorFixtures runs Sign and Verify on Gladly's own test files.
func TestSigningVectorFixtures(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(FixturesDir(t), "authentication", "request_signing")

	var req struct {
		URL     string              `json:"url"`
		Method  string              `json:"method"`
		Headers map[string][]string `json:"headers"`
		Body    string              `json:"body"`
	}
	if err := json.Unmarshal(MustReadFile(t, filepath.Join(dir, "request.json")), &req); err != nil {
		t.Fatal(err)
	}
	var integration struct {
		Secrets struct {
			SigningKey string `json:"signingKey"`
		} `json:"secrets"`
	}
	if err := json.Unmarshal(MustReadFile(t, filepath.Join(dir, "integration.json")), &integration); err != nil {
		t.Fatal(err)
	}
	want := strings.TrimSpace(string(MustReadFile(t, filepath.Join(dir, "success", "expected_Gladly-Authorization.txt"))))
	body := []byte(req.Body)
	if !bytes.Equal(body, MustReadFile(t, filepath.Join(dir, "request-body.json"))) {
		t.Fatal("request.json body and request-body.json differ")
	}
	if !bytes.Equal(body, MustVectorBody(t)) {
		t.Fatal("our testdata body differs from Gladly's")
	}
	gladlyTime := req.Headers["Gladly-Time"][0]
	now, err := time.Parse(TimeFormat, gladlyTime)
	if err != nil {
		t.Fatal(err)
	}

	headers := map[string][]string{}
	for k, v := range req.Headers {
		if k != "Gladly-Time" {
			headers[k] = v
		}
	}
	r := MustVectorRequest(t, req.URL, headers, body)
	r.Method = req.Method
	if err := Sign(r, body, integration.Secrets.SigningKey, now); err != nil {
		t.Fatal(err)
	}
	if got := r.Header.Get(HeaderAuthorization); got != want {
		t.Errorf("Sign:\n got %s\nwant %s", got, want)
	}

	sent := MustVectorRequest(t, req.URL, req.Headers, body)
	sent.Header.Set(HeaderAuthorization, want)
	if err := Verify(sent, body, integration.Secrets.SigningKey, now, 0); err != nil {
		t.Errorf("Verify = %v", err)
	}
}

// signedServerRequest returns a request as a server sees it (httptest), with
// the vector's headers, signed at now for target.
func signedServerRequest(t *testing.T, target string, body []byte, now time.Time) *http.Request {
	t.Helper()
	// Sign a client request for the same URL, then copy its headers over.
	c := MustVectorRequest(t, "http://adaptor.example"+target, vectorHeaders(), body)
	if err := Sign(c, body, vectorKey, now); err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodPost, target, bytes.NewReader(body))
	r.Header = c.Header.Clone()
	return r
}

func TestVerify(t *testing.T) {
	t.Parallel()
	body := MustVectorBody(t)
	now := time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)

	// resign replaces the Gladly-Authorization header with one computed by
	// hand from the given parts, for the alternative forms Gladly's samples use.
	resign := func(r *http.Request, path, query string) {
		a, _ := ParseAuthorization(r.Header.Get(HeaderAuthorization))
		canonical := canonicalRequest(r.Method, path, query, a.SignedHeaders, headerValues(r), bodyHash(body))
		a.Signature = hex.EncodeToString(signature(vectorKey, r.Header.Get(HeaderTime), canonical))
		r.Header.Set(HeaderAuthorization, a.String())
	}

	tests := []struct {
		name   string
		target string
		mutate func(r *http.Request)
		body   []byte
		key    string
		now    time.Time
		window time.Duration
		want   error // nil for success
	}{
		{name: "valid", target: "/gladly/lookup"},
		{name: "valid at the edge of the window", target: "/gladly/lookup", now: now.Add(15 * time.Minute)},
		{name: "valid with a custom window", target: "/gladly/lookup", now: now.Add(-59 * time.Minute), window: time.Hour},
		{name: "valid with query, path-only form", target: "/gladly/lookup?b=2&a=1"},
		{name: "valid with query, path and query on the path line", target: "/gladly/lookup?b=2&a=1",
			mutate: func(r *http.Request) { resign(r, "/gladly/lookup?b=2&a=1", "b=2&a=1") }},
		{name: "valid with query, path and query line sorted", target: "/gladly/lookup?b=2&a=1",
			mutate: func(r *http.Request) { resign(r, "/gladly/lookup?b=2&a=1", "a=1&b=2") }},
		{name: "valid for a URL with no path", target: "/",
			mutate: func(r *http.Request) { resign(r, "", "") }},
		{name: "valid with an uppercase signature", target: "/gladly/lookup", mutate: func(r *http.Request) {
			a, _ := ParseAuthorization(r.Header.Get(HeaderAuthorization))
			a.Signature = strings.ToUpper(a.Signature)
			r.Header.Set(HeaderAuthorization, a.String())
		}},
		{name: "extra unsigned header is fine", target: "/gladly/lookup", mutate: func(r *http.Request) {
			r.Header.Set("User-Agent", "Go-http-client/1.1")
			r.Header.Set("Accept-Encoding", "gzip")
		}},
		{name: "missing header", target: "/gladly/lookup", want: ErrMissingSignature,
			mutate: func(r *http.Request) { r.Header.Del(HeaderAuthorization) }},
		{name: "garbage header", target: "/gladly/lookup", want: ErrMalformedSignature,
			mutate: func(r *http.Request) { r.Header.Set(HeaderAuthorization, "Bearer abc") }},
		{name: "wrong algorithm", target: "/gladly/lookup", want: ErrUnsupportedAlgorithm, mutate: func(r *http.Request) {
			r.Header.Set(HeaderAuthorization, strings.Replace(r.Header.Get(HeaderAuthorization), "hmac-sha256", "hmac-sha1", 1))
		}},
		{name: "gladly-time not signed", target: "/gladly/lookup", want: ErrMalformedSignature, mutate: func(r *http.Request) {
			r.Header.Set(HeaderAuthorization, strings.Replace(r.Header.Get(HeaderAuthorization), "gladly-time;", "", 1))
		}},
		{name: "Gladly-Time missing", target: "/gladly/lookup", want: ErrMalformedSignature,
			mutate: func(r *http.Request) { r.Header.Del(HeaderTime) }},
		{name: "Gladly-Time malformed", target: "/gladly/lookup", want: ErrMalformedSignature,
			mutate: func(r *http.Request) { r.Header.Set(HeaderTime, "2025-03-04T10:00:00Z") }},
		{name: "stale", target: "/gladly/lookup", now: now.Add(16 * time.Minute), want: ErrStaleTime},
		{name: "from the future", target: "/gladly/lookup", now: now.Add(-16 * time.Minute), want: ErrStaleTime},
		{name: "Gladly-Time changed after signing", target: "/gladly/lookup", want: ErrBadSignature,
			mutate: func(r *http.Request) { r.Header.Set(HeaderTime, now.Add(time.Second).Format(TimeFormat)) }},
		{name: "body changed", target: "/gladly/lookup", body: append(bytes.Clone(body), ' '), want: ErrBadSignature},
		{name: "empty body", target: "/gladly/lookup", body: []byte{}, want: ErrBadSignature},
		{name: "signed header changed", target: "/gladly/lookup", want: ErrBadSignature,
			mutate: func(r *http.Request) { r.Header.Set(HeaderCorrelationID, "AAAAAAAAAAAAAAAAAAAAAA") }},
		{name: "signed header removed", target: "/gladly/lookup", want: ErrBadSignature,
			mutate: func(r *http.Request) { r.Header.Del("Accept") }},
		{name: "wrong key", target: "/gladly/lookup", key: "another-key", want: ErrBadSignature},
		{name: "other path", target: "/gladly/lookup", want: ErrBadSignature,
			mutate: func(r *http.Request) { r.URL.Path = "/other" }},
		{name: "other method", target: "/gladly/lookup", want: ErrBadSignature,
			mutate: func(r *http.Request) { r.Method = http.MethodPut }},
		{name: "signature flipped", target: "/gladly/lookup", want: ErrBadSignature, mutate: func(r *http.Request) {
			a, _ := ParseAuthorization(r.Header.Get(HeaderAuthorization))
			first := "0"
			if a.Signature[0] == '0' {
				first = "1"
			}
			a.Signature = first + a.Signature[1:]
			r.Header.Set(HeaderAuthorization, a.String())
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := signedServerRequest(t, tt.target, body, now)
			if tt.mutate != nil {
				tt.mutate(r)
			}
			got := body
			if tt.body != nil {
				got = tt.body
			}
			key := vectorKey
			if tt.key != "" {
				key = tt.key
			}
			verifyAt := now
			if !tt.now.IsZero() {
				verifyAt = tt.now
			}
			err := Verify(r, got, key, verifyAt, tt.window)
			switch {
			case tt.want == nil && err != nil:
				t.Fatalf("Verify = %v, want success", err)
			case tt.want != nil && !errors.Is(err, tt.want):
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), key) {
				t.Errorf("error %q contains the signing key", err)
			}
		})
	}
}

func TestSignEmptyKey(t *testing.T) {
	t.Parallel()
	r := MustVectorRequest(t, vectorURL, vectorHeaders(), nil)
	if err := Sign(r, nil, "", vectorNow); err == nil {
		t.Error("Sign with an empty key succeeded")
	}
	if err := Verify(r, nil, "", vectorNow, 0); err == nil {
		t.Error("Verify with an empty key succeeded")
	}
}

func TestSignSignsBasicHeaders(t *testing.T) {
	t.Parallel()
	r := MustVectorRequest(t, "https://adaptor.example/gladly/lookup", vectorHeaders(), []byte(`{}`))
	r.SetBasicAuth("username", "password")
	r.Header.Set("WWW-Authenticate", `Basic realm="realm"`)
	r.Header.Set("X-Api-Key", "static") // a static header: not signed
	r.Header.Set("User-Agent", "test")  // added by clients: not signed
	if err := Sign(r, []byte(`{}`), "k", vectorNow); err != nil {
		t.Fatal(err)
	}
	a, err := ParseAuthorization(r.Header.Get(HeaderAuthorization))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"accept", "authorization", "content-type", "gladly-correlation-id", "gladly-time", "www-authenticate", "x-b3-traceid"}
	if diff := cmp.Diff(want, a.SignedHeaders); diff != "" {
		t.Errorf("SignedHeaders (-want +got):\n%s", diff)
	}
}

func TestEmptyBodyHash(t *testing.T) {
	t.Parallel()
	if got := bodyHash(nil); got != emptyBodyHash {
		t.Errorf("bodyHash(nil) = %s, want %s", got, emptyBodyHash)
	}
}

func TestParseAuthorization(t *testing.T) {
	t.Parallel()
	sig := strings.Repeat("ab", 32)
	tests := []struct {
		name    string
		in      string
		want    Authorization
		wantErr bool
	}{
		{name: "vector", in: vectorHeader, want: Authorization{
			Algorithm:     "hmac-sha256",
			SignedHeaders: []string{"accept", "content-type", "gladly-correlation-id", "gladly-time", "x-b3-traceid"},
			Signature:     "4c633fca4914f51df04c9ec40f4545d66d653e771c6634e33eed52a242bc278c",
		}},
		{name: "any order, no space", in: "Signature=" + sig + ",SignedHeaders=gladly-time,SigningAlgorithm=hmac-sha256",
			want: Authorization{Algorithm: "hmac-sha256", SignedHeaders: []string{"gladly-time"}, Signature: sig}},
		{name: "uppercase hex is lowered", in: "SigningAlgorithm=hmac-sha256, SignedHeaders=gladly-time, Signature=" + strings.ToUpper(sig),
			want: Authorization{Algorithm: "hmac-sha256", SignedHeaders: []string{"gladly-time"}, Signature: sig}},
		{name: "other algorithm parses", in: "SigningAlgorithm=hmac-sha1, SignedHeaders=gladly-time, Signature=" + sig,
			want: Authorization{Algorithm: "hmac-sha1", SignedHeaders: []string{"gladly-time"}, Signature: sig}},
		{name: "empty", in: "", wantErr: true},
		{name: "missing signature", in: "SigningAlgorithm=hmac-sha256, SignedHeaders=gladly-time", wantErr: true},
		{name: "missing algorithm", in: "SignedHeaders=gladly-time, Signature=" + sig, wantErr: true},
		{name: "repeated part", in: "SigningAlgorithm=hmac-sha256, SigningAlgorithm=hmac-sha256, SignedHeaders=gladly-time, Signature=" + sig, wantErr: true},
		{name: "unknown part", in: "SigningAlgorithm=hmac-sha256, SignedHeaders=gladly-time, Signature=" + sig + ", Extra=1", wantErr: true},
		{name: "short signature", in: "SigningAlgorithm=hmac-sha256, SignedHeaders=gladly-time, Signature=abcd", wantErr: true},
		{name: "non-hex signature", in: "SigningAlgorithm=hmac-sha256, SignedHeaders=gladly-time, Signature=" + strings.Repeat("zz", 32), wantErr: true},
		{name: "uppercase header name", in: "SigningAlgorithm=hmac-sha256, SignedHeaders=Gladly-Time, Signature=" + sig, wantErr: true},
		{name: "empty header name", in: "SigningAlgorithm=hmac-sha256, SignedHeaders=accept;;gladly-time, Signature=" + sig, wantErr: true},
		{name: "no value", in: "SigningAlgorithm=, SignedHeaders=gladly-time, Signature=" + sig, wantErr: true},
		{name: "no equals", in: "SigningAlgorithm hmac-sha256, SignedHeaders=gladly-time, Signature=" + sig, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseAuthorization(tt.in)
			if tt.wantErr {
				if !errors.Is(err, ErrMalformedSignature) {
					t.Fatalf("ParseAuthorization(%q) = %+v, %v; want ErrMalformedSignature", tt.in, got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestCorrelationID(t *testing.T) {
	t.Parallel()
	got, err := TraceID(vectorCorrelationID)
	if err != nil || got != vectorTraceID {
		t.Errorf("TraceID(%s) = %q, %v; want %s", vectorCorrelationID, got, err, vectorTraceID)
	}
	if _, err := TraceID("not base64!"); err == nil {
		t.Error("TraceID accepted an invalid id")
	}
	seen := map[string]bool{}
	for range 100 {
		id := NewCorrelationID()
		if len(id) != 22 || strings.ContainsAny(id, "+/=") {
			t.Fatalf("NewCorrelationID() = %q: want 22 URL-safe characters", id)
		}
		trace, err := TraceID(id)
		if err != nil || len(trace) != 32 {
			t.Fatalf("TraceID(%q) = %q, %v", id, trace, err)
		}
		if seen[id] {
			t.Fatalf("NewCorrelationID repeated %q", id)
		}
		seen[id] = true
	}
}

func TestCorrelationIDFixtures(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(FixturesDir(t), "authentication", "headers", "success")
	corr := strings.TrimSpace(string(MustReadFile(t, filepath.Join(dir, "expected_Gladly-Correlation-Id.txt"))))
	want := strings.TrimSpace(string(MustReadFile(t, filepath.Join(dir, "expected_X-B3-TraceId.txt"))))
	if got, err := TraceID(corr); err != nil || got != want {
		t.Errorf("TraceID(%s) = %q, %v; want %s", corr, got, err, want)
	}
}
