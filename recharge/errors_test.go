package recharge

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

func TestParseErrorBody(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		status  int
		body    string
		message string
		fields  map[string][]string
	}{
		{"string", 404, `{"errors":"Not Found"}`, "Not Found", nil},
		{"error key", 401, `{"error":"bad authentication"}`, "bad authentication", nil},
		{"field to string", 422, `{"errors":{"email":"email already exists on store"}}`,
			"email: email already exists on store", map[string][]string{"email": {"email already exists on store"}}},
		{"field to list, wire order kept", 422,
			`{"errors":{"last_name":["Shorter than minimum length 1."],"first_name":["Shorter than minimum length 1."]}}`,
			"last_name: Shorter than minimum length 1.; first_name: Shorter than minimum length 1.",
			map[string][]string{"first_name": {"Shorter than minimum length 1."}, "last_name": {"Shorter than minimum length 1."}}},
		{"schema without prefix, repeats dropped", 422,
			`{"errors":{"_schema":["city, zip are required fields.","city, zip are required fields."]}}`,
			"city, zip are required fields.", map[string][]string{"_schema": {"city, zip are required fields.", "city, zip are required fields."}}},
		{"nested map", 422, `{"errors":{"billing_address":{"address1":["Field may not be null."]}}}`,
			"billing_address.address1: Field may not be null.",
			map[string][]string{"billing_address.address1": {"Field may not be null."}}},
		{"deeper nesting and mixed values", 422,
			`{"errors":{"a":{"b":{"c":"x","d":[1,true,null]}},"e":[]}}`,
			"a.b.c: x; a.b.d: 1; a.b.d: true",
			map[string][]string{"a.b.c": {"x"}, "a.b.d": {"1", "true"}}},
		{"several messages", 422, `{"errors":{"subscription":["item already set to active","first error message"]}}`,
			"subscription: item already set to active; subscription: first error message",
			map[string][]string{"subscription": {"item already set to active", "first error message"}}},
		{"list of strings", 400, `{"errors":["first","second"]}`, "first; second", nil},
		{"platform", 422, `{"errors":{"platform":["This API is not compatible with your platform"]}}`,
			"platform: This API is not compatible with your platform",
			map[string][]string{"platform": {"This API is not compatible with your platform"}}},
		{"both keys", 400, `{"errors":"one","error":"two"}`, "one; two", nil},
		{"message key", 502, `{"message":"upstream timeout"}`, "upstream timeout", nil},
		{"null errors", 500, `{"errors":null}`, "", nil},
		{"empty object", 500, `{}`, "", nil},
		{"empty body", 503, ``, "", nil},
		{"html", 502, "<html>\n<body>Bad\tGateway</body></html>", "<html> <body>Bad Gateway</body></html>", nil},
		{"newlines in a message cannot forge log lines", 422, `{"errors":{"x":"a\nlevel=ERROR msg=forged"}}`,
			"x: a level=ERROR msg=forged", map[string][]string{"x": {"a level=ERROR msg=forged"}}},
		{"array body", 500, `["a"]`, `["a"]`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := ParseErrorBody(tt.status, []byte(tt.body))
			if e.Message != tt.message {
				t.Errorf("Message = %q, want %q", e.Message, tt.message)
			}
			if diff := cmp.Diff(tt.fields, e.Fields); diff != "" {
				t.Errorf("Fields (-want +got):\n%s", diff)
			}
		})
	}
}

func TestErrorResponseError(t *testing.T) {
	t.Parallel()
	e := &ErrorResponse{StatusCode: 404, RequestID: "req-1", Method: "GET", Path: "/customers/5", Message: "Not Found"}
	if got, want := e.Error(), "recharge: GET /customers/5: 404 not found: Not Found (request id req-1)"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	e = &ErrorResponse{StatusCode: 599}
	if got, want := e.Error(), "recharge: 599"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestCheckResponse(t *testing.T) {
	t.Parallel()
	u, _ := url.Parse("https://api.rechargeapps.com/customers?email=a%40b.c")
	r := &http.Response{
		StatusCode: 422,
		Header:     http.Header{"X-Request-Id": {"abc"}},
		Body:       io.NopCloser(strings.NewReader(`{"errors":{"cursor":["Invalid value"]}}`)),
		Request:    &http.Request{Method: "GET", URL: u},
	}
	err := CheckResponse(r)
	want := &ErrorResponse{
		StatusCode: 422, RequestID: "abc", Method: "GET", Path: "/customers",
		Message: "cursor: Invalid value", Errors: json.RawMessage(`{"cursor":["Invalid value"]}`),
		Fields: map[string][]string{"cursor": {"Invalid value"}},
	}
	if diff := cmp.Diff(want, err); diff != "" {
		t.Errorf("CheckResponse (-want +got):\n%s", diff)
	}
	for _, code := range []int{200, 201, 202, 204} {
		if err := CheckResponse(&http.Response{StatusCode: code}); err != nil {
			t.Errorf("CheckResponse(%d) = %v", code, err)
		}
	}
	// The body read is bounded.
	big := `{"errors":"` + strings.Repeat("x", 2*maxErrorBodyBytes) + `"}`
	r = &http.Response{StatusCode: 500, Body: io.NopCloser(strings.NewReader(big))}
	e := CheckResponse(r).(*ErrorResponse)
	if len(e.Message) > 600 {
		t.Errorf("message of a huge body is %d bytes", len(e.Message))
	}
}

func TestErrorPredicates(t *testing.T) {
	t.Parallel()
	mk := func(code int, body string) error {
		e := ParseErrorBody(code, []byte(body))
		return fmt.Errorf("recharge: gave up after 5 attempts: %w", e) // wrapped, as Do does
	}
	tests := []struct {
		name string
		err  error
		is   func(error) bool
		want bool
	}{
		{"404", mk(404, `{"errors":"Not Found"}`), IsNotFound, true},
		{"429", mk(429, `{"errors":"Too many requests"}`), IsRateLimited, true},
		{"401", mk(401, `{"error":"bad authentication"}`), IsUnauthorized, true},
		{"403", mk(403, `{"errors":"forbidden"}`), IsForbidden, true},
		{"409", mk(409, `{}`), IsConflict, true},
		{"422", mk(422, `{"errors":{"email":"x"}}`), IsValidation, true},
		{"422 platform", mk(422, `{"errors":{"platform":["This API is not compatible with your platform"]}}`), IsPlatformUnsupported, true},
		{"422 not platform", mk(422, `{"errors":{"email":"x"}}`), IsPlatformUnsupported, false},
		{"404 is not 401", mk(404, `{}`), IsUnauthorized, false},
		{"plain error", errors.New("boom"), IsNotFound, false},
		{"nil", nil, IsNotFound, false},
	}
	for _, tt := range tests {
		if got := tt.is(tt.err); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestRedactError(t *testing.T) {
	t.Parallel()
	e := ParseErrorBody(401, []byte(`{"errors":{"token `+testToken+`":"token `+testToken+` is invalid"}}`))
	e.RequestID = testToken
	redactError(e, testToken)
	assertNoToken(t, "Message", e.Message)
	assertNoToken(t, "Error()", e.Error())
	assertNoToken(t, "Errors", string(e.Errors))
	assertNoToken(t, "Fields", fmt.Sprint(e.Fields))
}

// TestRedactCutToken: a token that a cut kept only the start of (messages
// stop at 500 bytes) is masked too, and text that merely shares a few
// leading bytes with it is left alone.
func TestRedactCutToken(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"token " + testToken + " is invalid", "token [redacted] is invalid"},
		{"cut: " + testToken[:20] + "...", "cut: [redacted]..."},
		{testToken + testToken[:15], "[redacted][redacted]"},
		{"sk_test_other_token is fine", "sk_test_other_token is fine"},
		{"", ""},
	} {
		if got := redactToken(tc.in, testToken); got != tc.want {
			t.Errorf("redactToken(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	// Through the error body: the message is cut inside the token.
	body := `{"errors":"` + strings.Repeat("x ", 240) + testToken + testToken + `"}`
	e := ParseErrorBody(422, []byte(body))
	if !strings.Contains(e.Message, testToken[:tokenLeadLen]) {
		t.Fatalf("the test body no longer cuts inside the token: %q", e.Message)
	}
	redactError(e, testToken)
	assertNoToken(t, "cut message", e.Message)
	assertNoToken(t, "cut message", e.Error())
}

func FuzzFlattenErrors(f *testing.F) {
	for _, s := range []string{
		`"Not Found"`, `{"email":"x"}`, `{"a":["b","c"]}`, `{"_schema":["x","x"]}`,
		`{"billing_address":{"address1":["Field may not be null."]}}`, `[1,2,{"a":null}]`, `{"a":{"b":{"c":{"d":"e"}}}}`,
		`{"a":`, `nul`, `{"x":"\u0000\n"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		msg := FlattenErrors(raw)
		if strings.ContainsAny(msg, "\n\r") {
			t.Errorf("flattened message has a line break: %q", msg)
		}
		if !utf8.ValidString(msg) && utf8.Valid(raw) {
			t.Errorf("flattened message is not valid UTF-8: %q", msg)
		}
		e := ParseErrorBody(422, append(append([]byte(`{"errors":`), raw...), '}'))
		if strings.ContainsAny(e.Message, "\n\r") {
			t.Errorf("message has a line break: %q", e.Message)
		}
		for k, v := range e.Fields {
			if len(v) == 0 {
				t.Errorf("field %q has no messages", k)
			}
		}
	})
}
