package gladly

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Headers Gladly sets on a lookup request (spec section 1).
const (
	HeaderAuthorization = "Gladly-Authorization"
	HeaderTime          = "Gladly-Time"
	HeaderCorrelationID = "Gladly-Correlation-Id"
	HeaderTraceID       = "X-B3-Traceid"
)

// TimeFormat is the layout of the Gladly-Time header: UTC, to the second.
const TimeFormat = "20060102T150405Z"

// Algorithm is the only signing algorithm Gladly uses.
const Algorithm = "hmac-sha256"

// DefaultTimeWindow is how far Gladly-Time may be from the server clock, in
// either direction, before a request is rejected as stale or replayed.
const DefaultTimeWindow = 15 * time.Minute

// emptyBodyHash is the SHA-256 of an empty body, for reference in tests.
const emptyBodyHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// Sentinel errors of Verify and ParseAuthorization. Verify wraps one of them
// with detail; callers branch with errors.Is.
var (
	// ErrMissingSignature: the request has no Gladly-Authorization header.
	ErrMissingSignature = errors.New("missing Gladly-Authorization header")
	// ErrMalformedSignature: the header does not parse, does not sign
	// gladly-time, or Gladly-Time is missing or not YYYYMMDDTHHMMSSZ.
	ErrMalformedSignature = errors.New("malformed Gladly-Authorization header")
	// ErrUnsupportedAlgorithm: SigningAlgorithm is not hmac-sha256.
	ErrUnsupportedAlgorithm = errors.New("unsupported signing algorithm")
	// ErrStaleTime: Gladly-Time is outside the allowed window.
	ErrStaleTime = errors.New("stale Gladly-Time: outside the allowed window")
	// ErrBadSignature: the signature does not match the request.
	ErrBadSignature = errors.New("signature does not match")
)

// signedByGladly lists, sorted, the headers Gladly sets itself and therefore
// signs whenever they are present: Sign signs exactly those of them that the
// request carries. Headers the HTTP client adds later (User-Agent,
// Accept-Encoding, Content-Length, Host) and static custom headers are not
// signed. Authorization and WWW-Authenticate appear only when Basic
// credentials are configured.
var signedByGladly = []string{
	"accept",
	"authorization",
	"content-type",
	"gladly-correlation-id",
	"gladly-time",
	"www-authenticate",
	"x-b3-traceid",
}

// Authorization is a parsed Gladly-Authorization header value:
//
//	SigningAlgorithm=hmac-sha256, SignedHeaders=accept;content-type;gladly-time, Signature=<64 hex>
type Authorization struct {
	Algorithm     string
	SignedHeaders []string // lowercase header names, in the header's order
	Signature     string   // 64 lowercase hex characters
}

// String formats a as a Gladly-Authorization header value.
func (a Authorization) String() string {
	return "SigningAlgorithm=" + a.Algorithm +
		", SignedHeaders=" + strings.Join(a.SignedHeaders, ";") +
		", Signature=" + a.Signature
}

// ParseAuthorization parses a Gladly-Authorization header value: three
// key=value parts separated by ", " (any spacing after the comma is
// accepted), in any order, each exactly once. SignedHeaders must be a
// ";"-separated list of lowercase header names and Signature 64 hex digits.
// The algorithm is not checked here (Verify does). Errors wrap
// ErrMalformedSignature.
func ParseAuthorization(v string) (Authorization, error) {
	var a Authorization
	var seenAlg, seenHeaders, seenSig bool
	for part := range strings.SplitSeq(v, ",") {
		key, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		if !ok || val == "" {
			return Authorization{}, fmt.Errorf("%w: want key=value parts separated by \", \"", ErrMalformedSignature)
		}
		switch {
		case strings.EqualFold(key, "SigningAlgorithm") && !seenAlg:
			seenAlg = true
			a.Algorithm = val
		case strings.EqualFold(key, "SignedHeaders") && !seenHeaders:
			seenHeaders = true
			for name := range strings.SplitSeq(val, ";") {
				if !validHeaderName(name) {
					return Authorization{}, fmt.Errorf("%w: SignedHeaders must be lowercase header names separated by \";\"", ErrMalformedSignature)
				}
				a.SignedHeaders = append(a.SignedHeaders, name)
			}
		case strings.EqualFold(key, "Signature") && !seenSig:
			seenSig = true
			if len(val) != 2*sha256.Size {
				return Authorization{}, fmt.Errorf("%w: Signature must be 64 hex digits", ErrMalformedSignature)
			}
			if _, err := hex.DecodeString(val); err != nil {
				return Authorization{}, fmt.Errorf("%w: Signature must be 64 hex digits", ErrMalformedSignature)
			}
			a.Signature = strings.ToLower(val)
		default:
			return Authorization{}, fmt.Errorf("%w: unknown or repeated part %q", ErrMalformedSignature, truncate(key, 40))
		}
	}
	if !seenAlg || !seenHeaders || !seenSig {
		return Authorization{}, fmt.Errorf("%w: want SigningAlgorithm, SignedHeaders and Signature", ErrMalformedSignature)
	}
	return a, nil
}

// validHeaderName accepts a lowercase HTTP token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// Sign signs r the way Gladly does (spec section 10.1): it sets Gladly-Time
// to now (UTC) and Gladly-Authorization over the sorted list of the headers
// Gladly sets itself that r carries: accept, authorization, content-type,
// gladly-correlation-id, gladly-time, www-authenticate, x-b3-traceid. body
// must be the exact bytes r will send. The path line is r.URL.Path, which is
// empty for a URL with no path, as in Gladly's signer.
func Sign(r *http.Request, body []byte, signingKey string, now time.Time) error {
	if signingKey == "" {
		return errors.New("gladly: sign request: empty signing key")
	}
	gladlyTime := now.UTC().Format(TimeFormat)
	r.Header.Set(HeaderTime, gladlyTime)
	var names []string
	for _, name := range signedByGladly {
		if len(r.Header.Values(name)) > 0 {
			names = append(names, name)
		}
	}
	canonical := canonicalRequest(r.Method, r.URL.Path, r.URL.Query().Encode(), names, headerValues(r), bodyHash(body))
	a := Authorization{
		Algorithm:     Algorithm,
		SignedHeaders: names,
		Signature:     hex.EncodeToString(signature(signingKey, gladlyTime, canonical)),
	}
	r.Header.Set(HeaderAuthorization, a.String())
	return nil
}

// Verify checks r's Gladly-Authorization header against body, the exact
// bytes received (spec section 10.1). The signed header list is taken from
// the header itself, must include gladly-time, and Gladly-Time must lie
// within window of now (DefaultTimeWindow when window <= 0). The path line is
// r.URL.Path; when the URL has a query string, the form that puts path and
// query on the path line (Gladly's Node sample) is accepted too, and on the
// root path the empty path Gladly signs for a URL with no path. The
// comparison uses hmac.Equal. Errors wrap one of the sentinel errors and
// never contain the key.
func Verify(r *http.Request, body []byte, signingKey string, now time.Time, window time.Duration) error {
	if signingKey == "" {
		return errors.New("gladly: verify request: no signing key configured")
	}
	header := strings.TrimSpace(r.Header.Get(HeaderAuthorization))
	if header == "" {
		return fmt.Errorf("gladly: verify request: %w", ErrMissingSignature)
	}
	a, err := ParseAuthorization(header)
	if err != nil {
		return fmt.Errorf("gladly: verify request: %w", err)
	}
	if !strings.EqualFold(a.Algorithm, Algorithm) {
		return fmt.Errorf("gladly: verify request: %w: %q", ErrUnsupportedAlgorithm, truncate(a.Algorithm, 40))
	}
	if !slices.Contains(a.SignedHeaders, "gladly-time") {
		return fmt.Errorf("gladly: verify request: %w: gladly-time is not among the signed headers", ErrMalformedSignature)
	}
	gladlyTime := strings.TrimSpace(r.Header.Get(HeaderTime))
	t, err := time.Parse(TimeFormat, gladlyTime)
	if err != nil {
		return fmt.Errorf("gladly: verify request: %w: Gladly-Time must be YYYYMMDDTHHMMSSZ", ErrMalformedSignature)
	}
	if window <= 0 {
		window = DefaultTimeWindow
	}
	if d := now.Sub(t); d > window || d < -window {
		return fmt.Errorf("gladly: verify request: %w: Gladly-Time %s is %s away from the server clock", ErrStaleTime, gladlyTime, d.Round(time.Second))
	}
	want, err := hex.DecodeString(a.Signature)
	if err != nil {
		return fmt.Errorf("gladly: verify request: %w", ErrMalformedSignature)
	}

	values, hash := headerValues(r), bodyHash(body)
	type form struct{ path, query string }
	forms := []form{{r.URL.Path, r.URL.Query().Encode()}}
	if r.URL.RawQuery != "" {
		withQuery := r.URL.Path + "?" + r.URL.RawQuery
		forms = append(forms, form{withQuery, r.URL.Query().Encode()}, form{withQuery, r.URL.RawQuery})
	}
	if r.URL.Path == "/" {
		forms = append(forms, form{"", r.URL.Query().Encode()})
	}
	ok := false
	for _, f := range forms {
		got := signature(signingKey, gladlyTime, canonicalRequest(r.Method, f.path, f.query, a.SignedHeaders, values, hash))
		// Every form is compared, so the time taken does not say which one matched.
		if hmac.Equal(got, want) {
			ok = true
		}
	}
	if !ok {
		return fmt.Errorf("gladly: verify request: %w", ErrBadSignature)
	}
	return nil
}

// headerValues returns the canonical value of a signed header: its first
// value, trimmed; the Host header lives in r.Host on a server.
func headerValues(r *http.Request) func(name string) string {
	return func(name string) string {
		if name == "host" {
			if r.Host != "" {
				return strings.TrimSpace(r.Host)
			}
			return strings.TrimSpace(r.URL.Host)
		}
		if v := r.Header.Values(name); len(v) > 0 {
			return strings.TrimSpace(v[0])
		}
		return ""
	}
}

// canonicalRequest builds the canonical request of spec section 10.1 step 3:
// method, path, query, one name:value line per signed header, an empty line,
// the signed header list, and the body hash, joined by "\n".
func canonicalRequest(method, path, query string, signed []string, value func(string) string, bodyHash string) string {
	var b strings.Builder
	b.WriteString(method)
	b.WriteByte('\n')
	b.WriteString(path)
	b.WriteByte('\n')
	b.WriteString(query)
	b.WriteByte('\n')
	for _, name := range signed {
		b.WriteString(name)
		b.WriteByte(':')
		b.WriteString(value(name))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(strings.Join(signed, ";"))
	b.WriteByte('\n')
	b.WriteString(bodyHash)
	return b.String()
}

func bodyHash(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

// dateKey derives the day's signing key: HMAC-SHA256(key, YYYYMMDD).
func dateKey(signingKey, gladlyTime string) []byte {
	return hmacSHA256([]byte(signingKey), []byte(gladlyTime[:min(8, len(gladlyTime))]))
}

// signature computes the raw signature of a canonical request (steps 4-6).
func signature(signingKey, gladlyTime, canonical string) []byte {
	sum := sha256.Sum256([]byte(canonical))
	stringToSign := Algorithm + "\n" + gladlyTime + "\n" + hex.EncodeToString(sum[:])
	return hmacSHA256(dateKey(signingKey, gladlyTime), []byte(stringToSign))
}

func hmacSHA256(key, msg []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(msg)
	return m.Sum(nil)
}

// NewCorrelationID returns a new Gladly-style correlation id: 16 random bytes
// in unpadded URL-safe base64 (22 characters).
func NewCorrelationID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// TraceID returns the X-B3-Traceid Gladly sends with a correlation id: the
// id's base64url-decoded bytes in lowercase hex. For example
// vXmSEPjVSWCaCMzvjufxZg gives bd799210f8d549609a08ccef8ee7f166.
func TraceID(correlationID string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(correlationID)
	if err != nil {
		b, err = base64.URLEncoding.DecodeString(correlationID)
	}
	if err != nil {
		return "", fmt.Errorf("gladly: trace id: correlation id is not URL-safe base64: %w", err)
	}
	return hex.EncodeToString(b), nil
}
