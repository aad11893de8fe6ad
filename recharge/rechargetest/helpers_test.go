package rechargetest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rechargekit/rechargekit/internal/testkit"
)

// The simulator's tests talk raw HTTP through net/http, never through the
// recharge client (which is written separately), so that the simulator is
// checked against the spec and the captured payloads alone.

// refTime is the fake clock's start: a fixed instant, so that answers are
// byte-for-byte reproducible.
var refTime = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// newClock returns an injectable clock for Config.Now, at refTime.
func newClock() *testkit.Clock { return testkit.NewClock(refTime) }

// harness is a simulator behind an httptest server, with a fake clock.
type harness struct {
	t     testing.TB
	sim   *Simulator
	url   string
	clock *testkit.Clock
	token string
}

// newHarness starts a simulator with cfg (its clock replaced by a fake one
// unless set) and a big bucket unless the test sets one, loads the seeds,
// and closes everything at the end of the test.
func newHarness(tb testing.TB, cfg Config, seeds ...Seed) *harness {
	tb.Helper()
	clock := newClock()
	if cfg.Now == nil {
		cfg.Now = clock.Now
	}
	if cfg.BucketSize == 0 {
		cfg.BucketSize = 100000
	}
	sim := New(cfg)
	for _, s := range seeds {
		sim.Load(s)
	}
	srv := httptest.NewServer(sim)
	tb.Cleanup(func() {
		srv.Close()
		sim.Close()
	})
	token := DefaultToken
	if len(cfg.Tokens) > 0 {
		token = cfg.Tokens[0]
	}
	return &harness{t: tb, sim: sim, url: srv.URL, clock: clock, token: token}
}

// result is one raw HTTP answer.
type result struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request with the harness token and version header; hdr pairs
// override headers ("" value deletes).
func (h *harness) do(method, path, body string, hdr ...string) *result {
	h.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, h.url+path, rd)
	if err != nil {
		h.t.Fatalf("new request: %v", err)
	}
	req.Header.Set("X-Recharge-Access-Token", h.token)
	req.Header.Set("X-Recharge-Version", "2021-11")
	req.Header.Set("Accept", "application/json")
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return &result{status: resp.StatusCode, header: resp.Header, body: b}
}

func (h *harness) get(path string) *result { h.t.Helper(); return h.do(http.MethodGet, path, "") }

// mustGet fails the test unless the answer is a 200.
func (h *harness) mustGet(path string) *result {
	h.t.Helper()
	r := h.get(path)
	if r.status != http.StatusOK {
		h.t.Fatalf("GET %s = %d %s, want 200", path, r.status, r.body)
	}
	return r
}

func (h *harness) mustDo(want int, method, path, body string) *result {
	h.t.Helper()
	r := h.do(method, path, body)
	if r.status != want {
		h.t.Fatalf("%s %s = %d %s, want %d", method, path, r.status, r.body, want)
	}
	return r
}

// obj is a decoded JSON object.
type obj = map[string]any

func mustDecode(tb testing.TB, b []byte) obj {
	tb.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m obj
	if err := d.Decode(&m); err != nil {
		tb.Fatalf("decode %q: %v", b, err)
	}
	return m
}

// page is a decoded list envelope.
type page struct {
	items []obj
	next  *string
	prev  *string
}

func mustPage(tb testing.TB, r *result, plural string) page {
	tb.Helper()
	m := mustDecode(tb, r.body)
	var p page
	if v, ok := m["next_cursor"].(string); ok {
		p.next = &v
	} else if m["next_cursor"] != nil {
		tb.Fatalf("next_cursor = %v, want string or null", m["next_cursor"])
	}
	if v, ok := m["previous_cursor"].(string); ok {
		p.prev = &v
	} else if m["previous_cursor"] != nil {
		tb.Fatalf("previous_cursor = %v, want string or null", m["previous_cursor"])
	}
	list, ok := m[plural].([]any)
	if !ok {
		tb.Fatalf("envelope has no %q list: %s", plural, r.body)
	}
	for _, it := range list {
		p.items = append(p.items, it.(obj))
	}
	return p
}

func (p page) ids(tb testing.TB) []int64 {
	tb.Helper()
	out := make([]int64, 0, len(p.items))
	for _, it := range p.items {
		out = append(out, idOf(tb, it["id"]))
	}
	return out
}

func idOf(tb testing.TB, v any) int64 {
	tb.Helper()
	n, ok := v.(json.Number)
	if !ok {
		tb.Fatalf("id %v (%T) is not a JSON number", v, v)
	}
	i, err := n.Int64()
	if err != nil {
		tb.Fatalf("id %v: %v", n, err)
	}
	return i
}

// collect follows next_cursor from path and returns every item.
func (h *harness) collect(path, plural string) []obj {
	h.t.Helper()
	var all []obj
	p := mustPage(h.t, h.mustGet(path), plural)
	all = append(all, p.items...)
	base, _, _ := strings.Cut(path, "?")
	for p.next != nil {
		p = mustPage(h.t, h.mustGet(base+"?limit=250&cursor="+url.QueryEscape(*p.next)), plural)
		all = append(all, p.items...)
	}
	return all
}

// keyOrder returns the keys of the JSON object raw in wire order.
func keyOrder(tb testing.TB, raw []byte) []string {
	tb.Helper()
	d := json.NewDecoder(bytes.NewReader(raw))
	tok, err := d.Token()
	if err != nil || tok != json.Delim('{') {
		tb.Fatalf("not a JSON object: %.80s", raw)
	}
	var keys []string
	for d.More() {
		k, err := d.Token()
		if err != nil {
			tb.Fatalf("key: %v", err)
		}
		keys = append(keys, k.(string))
		var skip json.RawMessage
		if err := d.Decode(&skip); err != nil {
			tb.Fatalf("value of %v: %v", k, err)
		}
	}
	return keys
}

// rawField returns the raw JSON of m[key] for an object given as raw.
func rawField(tb testing.TB, raw []byte, path ...any) []byte {
	tb.Helper()
	cur := json.RawMessage(raw)
	for _, p := range path {
		switch k := p.(type) {
		case string:
			var m map[string]json.RawMessage
			if err := json.Unmarshal(cur, &m); err != nil {
				tb.Fatalf("field %q: %v", k, err)
			}
			v, ok := m[k]
			if !ok {
				tb.Fatalf("no field %q in %.120s", k, cur)
			}
			cur = v
		case int:
			var l []json.RawMessage
			if err := json.Unmarshal(cur, &l); err != nil || k >= len(l) {
				tb.Fatalf("index %d: %v (len %d)", k, err, len(l))
			}
			cur = l[k]
		}
	}
	return cur
}
