package recharge

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxErrorBodyBytes caps how much of an error body is read: enough for any
// field map Recharge sends, small enough that a misbehaving proxy cannot make
// us buffer a large page.
const maxErrorBodyBytes = 64 << 10

// ErrorResponse is a non-2xx answer from Recharge. It keeps the status, the
// request id and the parsed body so that callers can branch on them (see
// IsNotFound and friends) and logs can point Recharge support at the request.
// It never holds the access token.
type ErrorResponse struct {
	StatusCode int
	RequestID  string // X-Request-Id, "" when absent
	Method     string
	Path       string // the URL path only: no query, no host

	// Message is the body's errors flattened to "field: message; ...",
	// in the order Recharge sent them (nested keys joined with ".").
	Message string
	// Errors is the raw value of the body's "errors" (or "error") key.
	Errors json.RawMessage
	// Fields maps each field (nested keys joined with ".") to its messages;
	// nil when the errors value is a plain string.
	Fields map[string][]string
}

// Error implements the error interface.
func (e *ErrorResponse) Error() string {
	var b strings.Builder
	b.WriteString("recharge: ")
	if e.Method != "" || e.Path != "" {
		b.WriteString(e.Method)
		b.WriteString(" ")
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(strconv.Itoa(e.StatusCode))
	if t := http.StatusText(e.StatusCode); t != "" {
		b.WriteString(" ")
		b.WriteString(strings.ToLower(t))
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.RequestID != "" {
		b.WriteString(" (request id ")
		b.WriteString(e.RequestID)
		b.WriteString(")")
	}
	return b.String()
}

// CheckResponse returns nil for a 2xx response and an *ErrorResponse for any
// other, reading at most 64 KiB of the body. It does not close the body.
func CheckResponse(r *http.Response) error {
	if r.StatusCode >= 200 && r.StatusCode <= 299 {
		return nil
	}
	e := &ErrorResponse{
		StatusCode: r.StatusCode,
		RequestID:  requestID(r.Header),
	}
	if r.Request != nil {
		e.Method = r.Request.Method
		if r.Request.URL != nil {
			e.Path = r.Request.URL.Path
		}
	}
	if r.Body != nil {
		body, _ := io.ReadAll(io.LimitReader(r.Body, maxErrorBodyBytes))
		e.parseBody(body)
	}
	return e
}

// ParseErrorBody returns the ErrorResponse for an error body without an
// HTTP exchange (the simulator and tests use it). Bodies that are not JSON
// keep a short single-line excerpt as the Message.
func ParseErrorBody(statusCode int, body []byte) *ErrorResponse {
	e := &ErrorResponse{StatusCode: statusCode}
	e.parseBody(body)
	return e
}

func (e *ErrorResponse) parseBody(body []byte) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return
	}
	var env map[string]json.RawMessage
	if err := json.Unmarshal(body, &env); err != nil || env == nil {
		// An HTML page from a proxy, or a truncated body.
		e.Message = excerpt(body)
		return
	}
	var parts []errorLine
	for _, key := range []string{"errors", "error"} {
		raw, ok := env[key]
		if !ok || string(raw) == "null" {
			continue
		}
		if e.Errors == nil {
			e.Errors = raw
		}
		parts = append(parts, flattenErrors(raw)...)
	}
	if len(parts) == 0 {
		// Some gateways use {"message": "..."}.
		if raw, ok := env["message"]; ok {
			parts = flattenErrors(raw)
		}
	}
	e.Message = joinErrorLines(parts)
	for _, p := range parts {
		if p.field == "" {
			continue
		}
		if e.Fields == nil {
			e.Fields = make(map[string][]string)
		}
		e.Fields[p.field] = append(e.Fields[p.field], p.msg)
	}
}

// errorLine is one flattened message and the field it belongs to.
type errorLine struct {
	field string // "" for a message that names no field
	msg   string
}

// schemaField is the key Recharge's validator uses for errors about the
// whole object; its messages are shown without a field prefix.
const schemaField = "_schema"

// FlattenErrors flattens the polymorphic value of an error body's "errors"
// key into "field: message; field: message". It accepts a string, a list,
// a map whose values are strings, lists or nested maps (nested keys are
// joined with "."), in the order they appear. Repeated lines are dropped.
func FlattenErrors(raw json.RawMessage) string {
	return joinErrorLines(flattenErrors(raw))
}

func joinErrorLines(lines []errorLine) string {
	seen := make(map[errorLine]bool, len(lines))
	out := make([]string, 0, len(lines))
	for _, l := range lines {
		if l.msg == "" || seen[l] {
			continue
		}
		seen[l] = true
		if l.field == "" || l.field == schemaField {
			out = append(out, l.msg)
		} else {
			out = append(out, l.field+": "+l.msg)
		}
	}
	return strings.Join(out, "; ")
}

// maxErrorDepth bounds recursion on hostile, deeply nested error bodies.
const maxErrorDepth = 16

func flattenErrors(raw json.RawMessage) []errorLine {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var out []errorLine
	if err := flattenValue(dec, "", 0, &out); err != nil {
		// Not valid JSON after all: keep what the server said, briefly.
		if len(out) == 0 {
			out = append(out, errorLine{msg: excerpt(raw)})
		}
	}
	return out
}

// flattenValue reads one JSON value from dec and appends its messages.
func flattenValue(dec *json.Decoder, field string, depth int, out *[]errorLine) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return err
				}
				key, _ := kt.(string)
				key = oneLine(key) // a key is printed too: no line breaks in it either
				sub := key
				if field != "" {
					sub = field + "." + key
				}
				if depth >= maxErrorDepth {
					sub = field
				}
				if err := flattenValue(dec, sub, depth+1, out); err != nil {
					return err
				}
			}
		case '[':
			for dec.More() {
				if err := flattenValue(dec, field, depth+1, out); err != nil {
					return err
				}
			}
		}
		_, err := dec.Token() // the closing delimiter
		return err
	case string:
		*out = append(*out, errorLine{field: field, msg: oneLine(t)})
	case json.Number:
		*out = append(*out, errorLine{field: field, msg: t.String()})
	case bool:
		*out = append(*out, errorLine{field: field, msg: strconv.FormatBool(t)})
	case nil:
		// null carries no message.
	}
	return nil
}

// oneLine collapses whitespace and control characters so that a message
// cannot forge extra log lines, and bounds its length.
func oneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	const max = 500
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	return s
}

// excerpt returns a short single-line, valid UTF-8 excerpt of a non-JSON body.
func excerpt(b []byte) string {
	const max = 200
	if len(b) > max {
		b = b[:max]
	}
	return oneLine(strings.ToValidUTF8(string(b), ""))
}

func asErrorResponse(err error) (*ErrorResponse, bool) {
	var e *ErrorResponse
	ok := errors.As(err, &e)
	return e, ok
}

func hasStatus(err error, code int) bool {
	e, ok := asErrorResponse(err)
	return ok && e.StatusCode == code
}

// IsNotFound reports whether err is a 404 from Recharge.
func IsNotFound(err error) bool { return hasStatus(err, http.StatusNotFound) }

// IsRateLimited reports whether err is a 429 from Recharge (after retries).
func IsRateLimited(err error) bool { return hasStatus(err, http.StatusTooManyRequests) }

// IsUnauthorized reports whether err is a 401: the token is missing or invalid.
func IsUnauthorized(err error) bool { return hasStatus(err, http.StatusUnauthorized) }

// IsForbidden reports whether err is a 403: the token lacks the scope.
func IsForbidden(err error) bool { return hasStatus(err, http.StatusForbidden) }

// IsConflict reports whether err is a 409: a concurrent edit or a route lock.
func IsConflict(err error) bool { return hasStatus(err, http.StatusConflict) }

// IsValidation reports whether err is a 422: Recharge refused the input.
func IsValidation(err error) bool { return hasStatus(err, http.StatusUnprocessableEntity) }

// IsPlatformUnsupported reports whether err is the 422 that a Shopify or
// BigCommerce store gives for the 2021-11 catalog:
// {"errors":{"platform":["This API is not compatible with your platform"]}}.
func IsPlatformUnsupported(err error) bool {
	e, ok := asErrorResponse(err)
	if !ok || e.StatusCode != http.StatusUnprocessableEntity {
		return false
	}
	_, ok = e.Fields["platform"]
	return ok
}

// redactError removes the token from an ErrorResponse's server-provided
// text. Recharge never echoes it, but a proxy in between might.
func redactError(e *ErrorResponse, token string) {
	if token == "" {
		return
	}
	e.Message = redactToken(e.Message, token)
	e.RequestID = redactToken(e.RequestID, token)
	if bytes.Contains(e.Errors, []byte(tokenLead(token))) {
		e.Errors = nil
	}
	for k, v := range e.Fields {
		if strings.Contains(k, tokenLead(token)) {
			delete(e.Fields, k)
			continue
		}
		for i := range v {
			v[i] = redactToken(v[i], token)
		}
	}
}

// tokenLeadLen is how much of the token's start is enough to mask: texts
// are cut (messages at 500 bytes, request ids at 128), and a cut may keep
// only the token's first part.
const tokenLeadLen = 12

func tokenLead(token string) string { return token[:min(len(token), tokenLeadLen)] }

// redactToken masks the token in s, whole or cut: every run that starts
// with the token's first tokenLeadLen bytes and goes on as the token does.
func redactToken(s, token string) string {
	if token == "" {
		return s
	}
	lead := tokenLead(token)
	if !strings.Contains(s, lead) {
		return s
	}
	const mask = "[redacted]"
	var b strings.Builder
	for {
		i := strings.Index(s, lead)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		n := len(lead)
		for n < len(token) && i+n < len(s) && s[i+n] == token[n] {
			n++
		}
		b.WriteString(s[:i])
		b.WriteString(mask)
		s = s[i+n:]
	}
}

func requestID(h http.Header) string {
	id := h.Get("X-Request-Id")
	if len(id) > 128 {
		id = id[:128]
	}
	return oneLine(id)
}

// errBodyTooLarge is returned when a success body exceeds maxBodyBytes.
var errBodyTooLarge = errors.New("response body too large")

// decodeError marks a success body that could not be decoded. A syntax
// error or an unexpected end (a truncated body) is retryable on a GET.
type decodeError struct {
	method, path string
	err          error
}

func (e *decodeError) Error() string {
	return fmt.Sprintf("recharge: %s %s: decode response: %v", e.method, e.path, e.err)
}

func (e *decodeError) Unwrap() error { return e.err }

// truncated reports whether the body looks cut off or garbled (worth
// another try) rather than well-formed JSON of an unexpected shape (not).
func (e *decodeError) truncated() bool {
	var se *json.SyntaxError
	return errors.As(e.err, &se) || errors.Is(e.err, io.ErrUnexpectedEOF) || errors.Is(e.err, io.EOF) ||
		errors.Is(e.err, errReadBody)
}

// decodeFailure is the decodeError of a success body that did not decode.
// The lenient decoders quote the values they refuse, and a body may carry
// anything, the token too when a proxy echoes it, so the token is removed
// from the text; errors.Is and errors.As still reach err.
func (c *Client) decodeFailure(method, path string, err error) *decodeError {
	if text := redactToken(err.Error(), c.token); text != err.Error() {
		err = &redactedError{err: err, text: text}
	}
	return &decodeError{method, path, err}
}

// redactedError is err with the token removed from its text.
type redactedError struct {
	err  error
	text string
}

func (e *redactedError) Error() string { return e.text }

func (e *redactedError) Unwrap() error { return e.err }

// errReadBody wraps failures while reading a body (a Content-Length
// mismatch, a reset connection).
var errReadBody = errors.New("read body")
