package gladly_test

// The Lookup Adaptor's part of the security pass (issue 6): signatures are
// required when a signing key is configured, compared in constant time,
// and stale or replayed requests outside the time window are refused.

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rechargekit/rechargekit/gladly"
	"github.com/rechargekit/rechargekit/internal/testkit"
)

// detailedBody is a DETAILED lookup, the request that reads a whole card.
var detailedBody = []byte(`{"lookupLevel":"DETAILED","query":{"externalCustomerId":"176728490","id":"gp-1","emails":["ana@example.com"]}}`)

// TestSignatureRequiredWhenConfigured: with a signing key configured, a
// DETAILED lookup without Gladly-Authorization, or whose signature,
// body, signed headers, algorithm or Gladly-Time do not match (method and
// path are in TestVerify), is answered 401 with a fixed reason that echoes nothing, and the
// card service is never called. The same request, untouched, is answered.
func TestSignatureRequiredWhenConfigured(t *testing.T) {
	t.Parallel()
	resign := func(key string, at time.Time) func(*http.Request) {
		return func(r *http.Request) {
			if err := gladly.Sign(r, detailedBody, key, at); err != nil {
				t.Fatal(err)
			}
		}
	}
	setAuth := func(edit func(a *gladly.Authorization)) func(*http.Request) {
		return func(r *http.Request) {
			a, err := gladly.ParseAuthorization(r.Header.Get(gladly.HeaderAuthorization))
			if err != nil {
				t.Fatal(err)
			}
			edit(&a)
			r.Header.Set(gladly.HeaderAuthorization, a.String())
		}
	}
	flip := func(s string, i int) string {
		c := byte('0')
		if s[i] == '0' {
			c = '1'
		}
		return s[:i] + string(c) + s[i+1:]
	}
	for _, tc := range []struct {
		name   string
		send   []byte // body sent instead of the signed one
		method string
		change func(*http.Request)
		ok     bool
	}{
		{name: "untouched", ok: true},
		{name: "Gladly-Time at the past edge of the window", change: resign(testKey, testNow.Add(-gladly.DefaultTimeWindow)), ok: true},
		{name: "Gladly-Time at the future edge of the window", change: resign(testKey, testNow.Add(gladly.DefaultTimeWindow)), ok: true},
		{name: "no Gladly-Authorization", change: func(r *http.Request) { r.Header.Del(gladly.HeaderAuthorization) }},
		{name: "empty Gladly-Authorization", change: func(r *http.Request) { r.Header.Set(gladly.HeaderAuthorization, " ") }},
		{name: "malformed Gladly-Authorization", change: func(r *http.Request) { r.Header.Set(gladly.HeaderAuthorization, "hmac "+testKey) }},
		{name: "wrong key", change: resign("not-"+testKey, testNow)},
		{name: "first signature digit changed", change: setAuth(func(a *gladly.Authorization) { a.Signature = flip(a.Signature, 0) })},
		{name: "last signature digit changed", change: setAuth(func(a *gladly.Authorization) { a.Signature = flip(a.Signature, len(a.Signature)-1) })},
		{name: "signature of another body", change: func(r *http.Request) {
			if err := gladly.Sign(r, bytes.Replace(detailedBody, []byte("176728490"), []byte("176728491"), 1), testKey, testNow); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "body tampered", send: bytes.Replace(detailedBody, []byte("176728490"), []byte("176728491"), 1)},
		{name: "body extended", send: append(bytes.Clone(detailedBody), ' ')},
		{name: "signed header tampered", change: func(r *http.Request) { r.Header.Set(gladly.HeaderCorrelationID, gladly.NewCorrelationID()) }},
		{name: "signed trace header tampered", change: func(r *http.Request) { r.Header.Set(gladly.HeaderTraceID, strings.Repeat("0", 32)) }},
		{name: "signed header dropped", change: func(r *http.Request) { r.Header.Del("Accept") }},
		{name: "signed header list shortened", change: setAuth(func(a *gladly.Authorization) {
			a.SignedHeaders = []string{"gladly-time"}
		})},
		{name: "gladly-time not signed", change: setAuth(func(a *gladly.Authorization) {
			a.SignedHeaders = []string{"accept", "content-type"}
		})},
		{name: "unsupported algorithm", change: setAuth(func(a *gladly.Authorization) { a.Algorithm = "hmac-sha1" })},
		{name: "unsupported algorithm in capitals", change: setAuth(func(a *gladly.Authorization) { a.Algorithm = "HMAC-SHA512" })},
		{name: "Gladly-Time missing", change: func(r *http.Request) { r.Header.Del(gladly.HeaderTime) }},
		{name: "Gladly-Time changed after signing", change: func(r *http.Request) {
			r.Header.Set(gladly.HeaderTime, testNow.Add(time.Second).UTC().Format(gladly.TimeFormat))
		}},
		{name: "Gladly-Time past the window", change: resign(testKey, testNow.Add(-gladly.DefaultTimeWindow-time.Second))},
		{name: "Gladly-Time a day old", change: resign(testKey, testNow.Add(-24*time.Hour))},
		{name: "Gladly-Time ahead of the window", change: resign(testKey, testNow.Add(gladly.DefaultTimeWindow+time.Second))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			svc := &fakeService{}
			h := MustServer(t, svc, nil)
			send := detailedBody
			if tc.send != nil {
				send = tc.send
			}
			var changes []func(*http.Request)
			if tc.change != nil {
				changes = append(changes, tc.change)
			}
			a := h.do(t, http.MethodPost, detailedBody, bytes.NewReader(send), changes...)
			if tc.ok {
				if got := a.results(t); len(got) != 1 || !svc.called() {
					t.Errorf("a valid request got %d results, service called %v", len(got), svc.called())
				}
				return
			}
			if a.status != http.StatusUnauthorized {
				t.Fatalf("status %d %s, want 401", a.status, a.body)
			}
			if e := a.errorBody(t); e.Code != gladly.CodeInvalidSignature || e.Attr != gladly.HeaderAuthorization {
				t.Errorf("error %+v, want %s on %s", e, gladly.CodeInvalidSignature, gladly.HeaderAuthorization)
			}
			if svc.called() {
				t.Error("the card service was called for a request that failed the signature check")
			}
			for _, leak := range []string{testKey, "hmac-sha1", "HMAC-SHA512", "176728491"} {
				if bytes.Contains(a.body, []byte(leak)) {
					t.Errorf("the answer echoes %q: %s", leak, a.body)
				}
			}
			if strings.Contains(h.logs.String(), testKey) {
				t.Error("the log holds the signing key")
			}
		})
	}
}

// TestReplayOutsideWindowRefused: a signed request captured and sent
// again is answered while its Gladly-Time is inside the window (lookups
// read and never change anything, and Gladly's protocol carries no nonce:
// two agents opening one profile in the same second send identical
// signed requests), and refused 401 from the first second past the
// window, on the handler's clock; a request dated ahead of the window is
// refused too.
func TestReplayOutsideWindowRefused(t *testing.T) {
	t.Parallel()
	clock := testkit.NewClock(testNow)
	advance := clock.Advance
	svc := &fakeService{}
	h := MustServer(t, svc, func(c *gladly.Config) { c.Now = clock.Now })

	// Capture one signed request, then replay its exact bytes and headers.
	var captured http.Header
	keep := func(r *http.Request) { captured = r.Header.Clone() }
	if a := h.post(t, detailedBody, keep); a.status != http.StatusOK {
		t.Fatalf("original = %d %s", a.status, a.body)
	}
	replay := func(r *http.Request) { r.Header = captured.Clone() }
	advance(gladly.DefaultTimeWindow)
	if a := h.post(t, detailedBody, replay); a.status != http.StatusOK {
		t.Errorf("replay at the edge of the window = %d, want 200", a.status)
	}
	advance(time.Second)
	if a := h.post(t, detailedBody, replay); a.status != http.StatusUnauthorized {
		t.Errorf("replay a second past the window = %d, want 401", a.status)
	}
	advance(24 * time.Hour)
	if a := h.post(t, detailedBody, replay); a.status != http.StatusUnauthorized {
		t.Errorf("replay a day later = %d, want 401", a.status)
	}
	if _, cards := svc.calls(); len(cards) != 2 {
		t.Errorf("card service called %d times, want 2 (the original and the replay inside the window)", len(cards))
	}

	// Dated ahead of the window: signed at testNow, received 16 minutes
	// earlier on the handler's clock.
	early := MustServer(t, &fakeService{}, func(c *gladly.Config) {
		c.Now = func() time.Time { return testNow.Add(-gladly.DefaultTimeWindow - time.Minute) }
	})
	if a := early.post(t, detailedBody); a.status != http.StatusUnauthorized || early.svc.called() {
		t.Errorf("request from the future = %d, service called %v; want 401 and no call", a.status, early.svc.called())
	}
}

// TestSignatureComparedInConstantTime reads the source: Verify decides on
// the signature only through hmac.Equal, compares every accepted form of
// the request without leaving the loop early (so the time taken does not
// say which form, or how much of a guess, matched), and never compares
// the signature with ==, bytes.Equal or a string function; the handler's
// Basic credentials and static header go through
// subtle.ConstantTimeCompare over fixed-length hashes. A timing test would
// be flaky; the property is in the code, so the test reads the code.
func TestSignatureComparedInConstantTime(t *testing.T) {
	t.Parallel()
	fset := token.NewFileSet()
	parse := func(name string) *ast.File {
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	funcNamed := func(f *ast.File, name string) *ast.FuncDecl {
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Name.Name == name {
				return fd
			}
		}
		t.Fatalf("no func %s", name)
		return nil
	}
	calls := func(n ast.Node) map[string]int {
		out := map[string]int{}
		ast.Inspect(n, func(n ast.Node) bool {
			if c, ok := n.(*ast.CallExpr); ok {
				if sel, ok := c.Fun.(*ast.SelectorExpr); ok {
					if x, ok := sel.X.(*ast.Ident); ok {
						out[x.Name+"."+sel.Sel.Name]++
					}
				}
			}
			return true
		})
		return out
	}
	mentions := func(n ast.Node, names ...string) bool {
		found := false
		ast.Inspect(n, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.Ident:
				for _, name := range names {
					found = found || n.Name == name
				}
			case *ast.SelectorExpr:
				for _, name := range names {
					found = found || n.Sel.Name == name
				}
			}
			return !found
		})
		return found
	}

	verify := funcNamed(parse("sign.go"), "Verify")
	c := calls(verify)
	if c["hmac.Equal"] != 1 {
		t.Errorf("Verify calls hmac.Equal %d times, want once (inside the loop over forms)", c["hmac.Equal"])
	}
	for _, bad := range []string{"bytes.Equal", "bytes.Compare", "strings.Compare", "reflect.DeepEqual", "slices.Equal"} {
		if c[bad] > 0 {
			t.Errorf("Verify calls %s", bad)
		}
	}
	ast.Inspect(verify, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.BinaryExpr:
			if (n.Op == token.EQL || n.Op == token.NEQ) && mentions(n, "Signature", "want", "got") {
				t.Errorf("Verify compares the signature with %s at %s", n.Op, fset.Position(n.Pos()))
			}
		case *ast.CallExpr:
			if sel, ok := n.Fun.(*ast.SelectorExpr); ok && strings.HasPrefix(sel.Sel.Name, "Equal") && mentions(n, "Signature", "want", "got") {
				if x, ok := sel.X.(*ast.Ident); !ok || x.Name != "hmac" {
					t.Errorf("Verify compares the signature with %s at %s", sel.Sel.Name, fset.Position(n.Pos()))
				}
			}
		case *ast.RangeStmt:
			if mentions(n.Body, "hmac", "signature") {
				ast.Inspect(n.Body, func(m ast.Node) bool {
					if b, ok := m.(*ast.BranchStmt); ok && b.Tok == token.BREAK {
						t.Errorf("the comparison loop breaks early at %s", fset.Position(b.Pos()))
					}
					if r, ok := m.(*ast.ReturnStmt); ok {
						t.Errorf("the comparison loop returns early at %s", fset.Position(r.Pos()))
					}
					return true
				})
			}
		}
		return true
	})

	auth := funcNamed(parse("handler.go"), "authenticate")
	if n := calls(auth)["subtle.ConstantTimeCompare"]; n < 3 {
		t.Errorf("authenticate calls subtle.ConstantTimeCompare %d times, want 3 (static header, Basic user, Basic password)", n)
	}
	// isConstantTime reports whether e is a subtle.ConstantTimeCompare
	// call, whose int result may be compared with == or != freely.
	isConstantTime := func(e ast.Expr) bool {
		c, ok := e.(*ast.CallExpr)
		if !ok {
			return false
		}
		sel, ok := c.Fun.(*ast.SelectorExpr)
		if !ok {
			return false
		}
		x, ok := sel.X.(*ast.Ident)
		return ok && x.Name == "subtle" && sel.Sel.Name == "ConstantTimeCompare"
	}
	ast.Inspect(auth, func(n ast.Node) bool {
		if b, ok := n.(*ast.BinaryExpr); ok && (b.Op == token.EQL || b.Op == token.NEQ) &&
			!isConstantTime(b.X) && !isConstantTime(b.Y) &&
			mentions(b, "basicUser", "basicPass", "staticValue", "user", "pass", "got", "u", "p") {
			t.Errorf("authenticate compares a credential with %s at %s", b.Op, fset.Position(b.Pos()))
		}
		return true
	})
}
