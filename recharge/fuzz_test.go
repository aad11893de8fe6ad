package recharge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rechargekit/rechargekit"
)

// Fuzz targets of the client's response decoding. Their corpora live in
// testdata/fuzz/<FuzzName>; scripts/fuzz runs them for longer.

// fuzzAnswer is what the fuzz server answers to every request.
type fuzzAnswer struct {
	status    int
	body      []byte
	requestID string
	limit     string
}

// fuzzOps are the reads the client makes, each decoding one response type;
// the last ones go through Source, which maps them to the domain. Each
// returns the decoded value (nil on error).
var fuzzOps = []struct {
	name string
	call func(ctx context.Context, c *Client) (any, error)
}{
	{"customers.get", func(ctx context.Context, c *Client) (any, error) {
		v, _, err := c.Customers.Get(ctx, 1, &CustomerGetOptions{Include: []string{IncludeSubscriptions}})
		return nilIfErr(v, err)
	}},
	{"customers.list", func(ctx context.Context, c *Client) (any, error) {
		v, _, err := c.Customers.List(ctx, &CustomerListOptions{Email: "a@example.com"})
		return nilIfErr(v, err)
	}},
	{"customers.delivery_schedule", func(ctx context.Context, c *Client) (any, error) {
		v, _, err := c.Customers.DeliverySchedule(ctx, 1)
		return nilIfErr(v, err)
	}},
	{"subscriptions.get", func(ctx context.Context, c *Client) (any, error) {
		v, _, err := c.Subscriptions.Get(ctx, 1)
		return nilIfErr(v, err)
	}},
	{"subscriptions.list", func(ctx context.Context, c *Client) (any, error) {
		v, _, err := c.Subscriptions.List(ctx, &SubscriptionListOptions{CustomerID: 1})
		return nilIfErr(v, err)
	}},
	{"charges.get", func(ctx context.Context, c *Client) (any, error) {
		v, _, err := c.Charges.Get(ctx, 1)
		return nilIfErr(v, err)
	}},
	{"charges.list", func(ctx context.Context, c *Client) (any, error) {
		v, _, err := c.Charges.List(ctx, &ChargeListOptions{CustomerID: 1})
		return nilIfErr(v, err)
	}},
	{"addresses.get", func(ctx context.Context, c *Client) (any, error) {
		v, _, err := c.Addresses.Get(ctx, 1)
		return nilIfErr(v, err)
	}},
	{"addresses.list", func(ctx context.Context, c *Client) (any, error) {
		v, _, err := c.Addresses.List(ctx, &AddressListOptions{CustomerID: 1})
		return nilIfErr(v, err)
	}},
	{"products.get", func(ctx context.Context, c *Client) (any, error) {
		v, _, err := c.Products.Get(ctx, "1")
		return nilIfErr(v, err)
	}},
	{"products.list", func(ctx context.Context, c *Client) (any, error) {
		v, _, err := c.Products.List(ctx, nil)
		return nilIfErr(v, err)
	}},
	{"webhooks.list", func(ctx context.Context, c *Client) (any, error) {
		v, _, err := c.Webhooks.List(ctx, nil)
		return nilIfErr(v, err)
	}},
	{"token_information", func(ctx context.Context, c *Client) (any, error) {
		v, _, err := c.TokenInformation(ctx)
		return nilIfErr(v, err)
	}},
	{"store", func(ctx context.Context, c *Client) (any, error) {
		v, _, err := c.Store(ctx)
		return nilIfErr(v, err)
	}},
	{"subscriptions.cancel", func(ctx context.Context, c *Client) (any, error) {
		v, _, err := c.Subscriptions.Cancel(ctx, 1, &SubscriptionCancelRequest{CancellationReason: "fuzz"})
		return nilIfErr(v, err)
	}},
	{"customers.all", func(ctx context.Context, c *Client) (any, error) {
		var out []*Customer
		for cu, err := range c.Customers.All(ctx, &CustomerListOptions{Limit: 2}) {
			if err != nil {
				return nil, err
			}
			out = append(out, cu)
		}
		return nonNil(out), nil
	}},
	{"source.customer", func(ctx context.Context, c *Client) (any, error) {
		v, err := (&Source{Client: c}).Customer(ctx, 1)
		return nilIfErr(v, err)
	}},
	{"source.subscriptions", func(ctx context.Context, c *Client) (any, error) {
		v, err := (&Source{Client: c}).Subscriptions(ctx, 1)
		return nilIfErr(nonNil(v), err)
	}},
	{"source.find_customers", func(ctx context.Context, c *Client) (any, error) {
		v, err := (&Source{Client: c}).FindCustomers(ctx, "A@example.com", "")
		return nilIfErr(v, err)
	}},
}

// The indexes of the Source operations, whose errors are domain errors.
const fuzzFirstSourceOp = 16

func nilIfErr[T any](v T, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return v, nil
}

// fuzzSeedOp picks the operation that reads a seed file, from its path.
func fuzzSeedOp(rel string) int {
	l := strings.ToLower(rel)
	list := strings.Contains(l, "list-") || strings.Contains(l, "/pull/")
	pick := func(get, lst int) int {
		if list {
			return lst
		}
		return get
	}
	switch {
	case strings.Contains(l, "delivery"):
		return 2
	case strings.Contains(l, "cancel"):
		return 14
	case strings.Contains(l, "customer"):
		return pick(0, 1)
	case strings.Contains(l, "subscription"):
		return pick(3, 4)
	case strings.Contains(l, "charge"):
		return pick(5, 6)
	case strings.Contains(l, "address"):
		return pick(7, 8)
	case strings.Contains(l, "product"):
		return pick(9, 10)
	case strings.Contains(l, "webhook"):
		return 11
	case strings.Contains(l, "token"):
		return 12
	case strings.Contains(l, "store"):
		return 13
	}
	h := fnv.New32a()
	h.Write([]byte(rel))
	return int(h.Sum32() % uint32(len(fuzzOps)))
}

var (
	fuzzStatusInName = regexp.MustCompile(`_(\d{3})(?:_|\.json$)`)
	fuzzStatusInDir  = regexp.MustCompile(`http_status_(\d{3})`)
)

// fuzzSeedStatus is the status a seed file was answered with, from its name
// or folder; 200 when neither says.
func fuzzSeedStatus(rel string) uint16 {
	for _, re := range []*regexp.Regexp{fuzzStatusInName, fuzzStatusInDir} {
		if m := re.FindStringSubmatch(rel); m != nil {
			n, _ := strconv.Atoi(m[1])
			return uint16(n)
		}
	}
	return http.StatusOK
}

// addJSONSeeds adds every JSON file under root as a seed answered to the
// operation that reads it, and those of customers and subscriptions also to
// the Source operation over them. It returns how many it added.
func addJSONSeeds(f *testing.F, root string) int {
	n := 0
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".json") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil || len(b) > 64<<10 {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		op, status := fuzzSeedOp(rel), fuzzSeedStatus(rel)
		f.Add(uint8(op), status, b, "req-"+strconv.Itoa(n), "1/40")
		switch op {
		case 0:
			f.Add(uint8(16), status, b, "", "")
		case 4:
			f.Add(uint8(17), status, b, "", "")
		case 1:
			f.Add(uint8(18), status, b, "", "39/40")
		}
		n++
		return nil
	})
	return n
}

// FuzzClientResponses answers the real client, through an httptest server,
// with a fuzzed status, body and headers, for every response type the
// client reads (customers, subscriptions, charges, addresses, products,
// webhooks, list envelopes with cursors, the token and the store, and the
// error body): nothing panics; the call returns a value or an error, never
// both or neither; an error status never yields success and its error is an
// *ErrorResponse with that status (a domain error through Source); a value
// re-encodes stably; and the access token never appears in the error text.
func FuzzClientResponses(f *testing.F) {
	// Seeds: every JSON file of the shared fixtures, and of our own testdata
	// so that a clone without shared/ has seeds too.
	shared := filepath.Join(moduleRoot(f), "..", "shared", "fixtures")
	if fi, err := os.Stat(shared); err == nil && fi.IsDir() {
		addJSONSeeds(f, shared)
	} else {
		f.Logf("shared fixtures not found at %s: fuzzing with the seeds of testdata only", shared)
	}
	addJSONSeeds(f, "testdata")
	// Bodies that carry the token, as a misbehaving proxy might.
	for _, seed := range []struct {
		op     uint8
		status uint16
		body   string
	}{
		{0, 401, `{"errors":"token ` + testToken + ` is invalid"}`},
		{1, 200, `{"customers":[],"next_cursor":"` + testToken + `"}`},
		{4, 422, `{"error":{"` + testToken + `":["x"]}}`},
		{3, 200, `{"subscription":{"id":"` + testToken + `"}}`},
		{5, 200, `{"charge":{"id":1,"created_at":"` + testToken + `"}}`},
		{8, 200, `{"addresses":[{"id":1,"customer_id":"` + testToken + `"}]}`},
		{16, 200, `{"customer":{"id":1,"email":7,"updated_at":"` + testToken + `"}}`},
		{13, 200, `{"store":{"id":"` + testToken + `"}}`},
	} {
		f.Add(seed.op, seed.status, []byte(seed.body), testToken, testToken)
	}
	f.Add(uint8(1), uint16(200), []byte(`{"customers":[{"id":1}],"next_cursor":"abc","previous_cursor":null}`), "", "")
	f.Add(uint8(15), uint16(200), []byte(`{"customers":[{"id":1}],"next_cursor":"abc"}`), "", "40/40")
	f.Add(uint8(0), uint16(429), []byte(`{"errors":"Too many requests"}`), "", "40/40")
	f.Add(uint8(3), uint16(503), []byte(`<html>down</html>`), "r\n1", "")
	f.Add(uint8(0), uint16(200), []byte(`{"customer":null}`), "", "")
	f.Add(uint8(0), uint16(204), []byte(``), "", "")

	var current atomic.Pointer[fuzzAnswer]
	srv := MustServer(f, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := current.Load()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set(HeaderRequestID, a.requestID)
		w.Header().Set(HeaderLimit, a.limit)
		w.WriteHeader(a.status)
		_, _ = w.Write(a.body)
	}))
	f.Fuzz(func(t *testing.T, op uint8, status uint16, body []byte, requestID, limit string) {
		s := int(status)
		if s < 200 || s > 599 {
			s = 200 + s%400
		}
		// Header values a server cannot send (control characters) would
		// make every answer a transport error; drop them.
		current.Store(&fuzzAnswer{status: s, body: body, requestID: headerSafe(requestID), limit: headerSafe(limit)})
		c := MustClient(t, srv, newFakeClock(), WithMaxRetries(1))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		o := fuzzOps[int(op)%len(fuzzOps)]
		v, err := o.call(ctx, c)

		switch {
		case err == nil && v == nil:
			t.Fatalf("%s, %d %q: neither a value nor an error", o.name, s, body)
		case err == nil && (s < 200 || s > 299):
			t.Fatalf("%s: status %d %q decoded as success: %+v", o.name, s, body, v)
		case err != nil && strings.Contains(err.Error(), testToken):
			t.Fatalf("%s, %d %q: the error text holds the token: %v", o.name, s, body, err)
		}
		if err != nil {
			if int(op)%len(fuzzOps) >= fuzzFirstSourceOp {
				switch code := rechargekit.ErrorCode(err); code {
				case rechargekit.ENOTFOUND, rechargekit.EUPSTREAM, rechargekit.EINVALID:
				default:
					t.Fatalf("%s, %d %q: domain error code %q (%v)", o.name, s, body, code, err)
				}
				if strings.Contains(rechargekit.ErrorMessage(err), testToken) {
					t.Fatalf("%s: the domain message holds the token: %v", o.name, err)
				}
			}
			if s >= 300 {
				var e *ErrorResponse
				if !errors.As(err, &e) || e.StatusCode != s {
					t.Fatalf("%s: status %d answered with %v, want an *ErrorResponse with that status", o.name, s, err)
				}
				for _, text := range append([]string{e.Message, e.RequestID, string(e.Errors)}, fieldTexts(e.Fields)...) {
					if strings.Contains(text, testToken) {
						t.Fatalf("%s: the ErrorResponse holds the token: %+v", o.name, e)
					}
				}
			}
			return
		}
		// A decoded value re-encodes, and decoding that encoding gives the
		// same encoding again.
		first, err := json.Marshal(v)
		if err != nil {
			if strings.Contains(err.Error(), "year outside") {
				return
			}
			t.Fatalf("%s: encode the decoded %+v: %v", o.name, v, err)
		}
		if int(op)%len(fuzzOps) >= fuzzFirstSourceOp {
			return // domain values have no decoder
		}
		back := newLike(v)
		if err := json.Unmarshal(first, back); err != nil {
			t.Fatalf("%s: decode our own encoding %s: %v", o.name, first, err)
		}
		second, err := json.Marshal(back)
		if err != nil {
			t.Fatalf("%s: encode again: %v", o.name, err)
		}
		if string(first) != string(second) {
			t.Fatalf("%s: decode(encode(v)) changed the value:\nfirst  %s\nsecond %s\nfrom %q", o.name, first, second, body)
		}
	})
}

// TestDecodeErrorsOmitToken is the regression test of a FuzzClientResponses
// finding: the lenient decoders quote the value they refuse, so a body that
// carries the token (a proxy echoing it) put the token into the error text
// and the client's debug log. The inputs are also in
// testdata/fuzz/FuzzClientResponses.
func TestDecodeErrorsOmitToken(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		op   int
		body string
	}{
		{3, `{"subscription":{"id":"` + testToken + `"}}`},                // getOne
		{5, `{"charge":{"id":1,"created_at":"` + testToken + `"}}`},       // getOne, a timestamp
		{8, `{"addresses":[{"id":1,"customer_id":"` + testToken + `"}]}`}, // listPage
		{13, `{"store":{"id":"` + testToken + `"}}`},                      // decoded by Do itself
		{16, `{"customer":{"id":1,"updated_at":"` + testToken + `"}}`},    // through Source
	} {
		t.Run(fuzzOps[tc.op].name, func(t *testing.T) {
			t.Parallel()
			logger, logs := MustLogger(t)
			srv := MustServer(t, &recorder{answers: []answer{{status: 200, body: tc.body}}})
			c := MustClient(t, srv, nil, WithMaxRetries(0), WithLogger(logger))
			_, err := fuzzOps[tc.op].call(context.Background(), c)
			if err == nil {
				t.Fatal("decoded a bad body")
			}
			assertNoToken(t, "the error", err.Error())
			assertNoToken(t, "the log", logs.String())
			if !strings.Contains(err.Error(), "[redacted]") {
				t.Errorf("error %q does not show where the token was", err)
			}
		})
	}
}

// newLike returns a pointer to a new zero value of v's type.
func newLike(v any) any {
	switch v.(type) {
	case *Customer:
		return new(Customer)
	case []*Customer:
		return new([]*Customer)
	case *DeliverySchedule:
		return new(DeliverySchedule)
	case *Subscription:
		return new(Subscription)
	case []*Subscription:
		return new([]*Subscription)
	case *Charge:
		return new(Charge)
	case []*Charge:
		return new([]*Charge)
	case *Address:
		return new(Address)
	case []*Address:
		return new([]*Address)
	case *Product:
		return new(Product)
	case []*Product:
		return new([]*Product)
	case []*Webhook:
		return new([]*Webhook)
	case *TokenInformation:
		return new(TokenInformation)
	case *Store:
		return new(Store)
	}
	panic(fmt.Sprintf("newLike: unexpected type %T", v))
}

// headerSafe drops the characters an HTTP header value cannot carry.
func headerSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if (r < 0x20 && r != '\t') || r == 0x7f {
			return -1
		}
		return r
	}, s)
}

func fieldTexts(m map[string][]string) []string {
	var out []string
	for k, v := range m {
		out = append(out, k)
		out = append(out, v...)
	}
	return out
}

// FuzzLenientSubscription decodes any object as a Subscription, the type
// with the most lenient fields (ids and numbers as strings, external ids as
// objects, prices as numbers, flags as 1 and 0): a decoded value always
// encodes, and decoding that encoding gives the same value (the same
// encoding again).
func FuzzLenientSubscription(f *testing.F) {
	f.Add(`{"id":1,"price":"98.00","charge_interval_frequency":30}`)
	f.Add(`{"id":"1","price":98,"charge_interval_frequency":"30","status":"ACTIVE"}`)
	f.Add(`{"external_product_id":{"ecommerce":null},"properties":[{"name":"a","value":[1]}]}`)
	f.Add(`{"external_variant_id":{"ecommerce":"43510687465623"},"next_charge_scheduled_at":"2025-02-25T00:00:00","cancelled_at":"2022-03-11T10:19:18.637636+00:00"}`)
	f.Add(`{"price":1e2,"quantity":"2","order_interval_unit":"Month","analytics_data":{"utm_params":[]}}`)
	f.Add(`{"is_prepaid":1,"is_skippable":"0","is_swappable":"TRUE","sku_override":null,"has_queued_charges":""}`)
	if b, err := os.ReadFile(filepath.Join("testdata", "payloads", "Subscriptions", "get-subscription_200_2021-01-shape.json")); err == nil {
		var env struct{ Subscription json.RawMessage }
		if json.Unmarshal(b, &env) == nil {
			f.Add(string(env.Subscription))
		}
	}
	f.Fuzz(func(t *testing.T, s string) {
		var sub Subscription
		if err := json.Unmarshal([]byte(s), &sub); err != nil {
			return
		}
		first, err := json.Marshal(&sub)
		if err != nil {
			if strings.Contains(err.Error(), "year outside") {
				return
			}
			t.Fatalf("marshal of decoded %q: %v", s, err)
		}
		var back Subscription
		if err := json.Unmarshal(first, &back); err != nil {
			t.Fatalf("decode our own encoding %s (from %q): %v", first, s, err)
		}
		second, err := json.Marshal(&back)
		if err != nil {
			t.Fatalf("marshal again: %v", err)
		}
		if string(first) != string(second) {
			t.Fatalf("decode(encode(v)) changed the value of %q:\nfirst  %s\nsecond %s", s, first, second)
		}
	})
}
