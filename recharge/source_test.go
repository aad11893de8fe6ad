package recharge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rechargekit/rechargekit"
)

func utcTime(tb testing.TB, s string) time.Time {
	tb.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		tb.Fatal(err)
	}
	return v.UTC()
}

func utcPtr(tb testing.TB, s string) *time.Time {
	tb.Helper()
	v := utcTime(tb, s)
	return &v
}

func decodeList[T any](tb testing.TB, path, key string) []*T {
	tb.Helper()
	var env map[string]json.RawMessage
	if err := json.Unmarshal(MustRead(tb, path), &env); err != nil {
		tb.Fatal(err)
	}
	var out []*T
	if err := json.Unmarshal(env[key], &out); err != nil {
		tb.Fatal(err)
	}
	return out
}

// MustSource returns a Source over a client for h.
func MustSource(tb testing.TB, h http.Handler, opts ...Option) *Source {
	tb.Helper()
	srv := MustServer(tb, h)
	return &Source{Client: MustClient(tb, srv, nil, append([]Option{WithMaxRetries(1)}, opts...)...)}
}

func TestSourceCustomer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		id     int64
		status int
		body   string
		code   string
	}{
		{"found", 900001, 200, `{"customer":{"id":900001,"email":"a@b.c","subscriptions_total_count":null}}`, ""},
		{"not found", 5, 404, `{"errors":"Not Found"}`, rechargekit.ENOTFOUND},
		{"bad token", 5, 401, `{"error":"bad authentication"}`, rechargekit.EUPSTREAM},
		{"missing scope", 5, 403, `{"errors":"forbidden"}`, rechargekit.EUPSTREAM},
		{"down", 5, 503, `{"errors":"upstream timeout"}`, rechargekit.EUPSTREAM},
		{"rate limited", 5, 429, `{"errors":"Too many requests"}`, rechargekit.EUPSTREAM},
		{"zero id", 0, 200, ``, rechargekit.ENOTFOUND},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := &recorder{answers: []answer{{status: tt.status, body: tt.body}}}
			src := MustSource(t, rec)
			c, err := src.Customer(context.Background(), tt.id)
			if got := rechargekit.ErrorCode(err); got != tt.code {
				t.Fatalf("code = %q (%v), want %q", got, err, tt.code)
			}
			// Recharge refusing our token is an upstream failure whose cause
			// says so; a 403 names the permission the token lacks.
			if refused := tt.status == 401 || tt.status == 403; errors.Is(err, rechargekit.ErrUpstreamRefused) != refused {
				t.Errorf("errors.Is(%v, ErrUpstreamRefused) = %v, want %v", err, !refused, refused)
			}
			if msg := rechargekit.ErrorMessage(err); tt.status == 403 &&
				msg != "The Recharge API token lacks the read_customers permission (scope), so rechargekit could not read the Recharge customer." {
				t.Errorf("message for a missing scope = %q", msg)
			}
			if err != nil {
				assertNoToken(t, "error", err.Error())
				if tt.id == 0 && len(rec.requests()) != 0 {
					t.Error("called Recharge for id 0")
				}
				return
			}
			if c.ID != 900001 || c.Email != "a@b.c" || c.SubscriptionsTotal != nil {
				t.Errorf("customer = %+v", c)
			}
			if r := rec.requests()[0]; r.Path != "/customers/900001" || r.Query != "" {
				t.Errorf("request %s?%s", r.Path, r.Query)
			}
		})
	}
}

func TestSourceFindCustomers(t *testing.T) {
	t.Parallel()
	found := `{"next_cursor":null,"previous_cursor":null,"customers":[{"id":2,"email":"ada@example.com"}]}`
	none := `{"next_cursor":null,"previous_cursor":null,"customers":[]}`
	tests := []struct {
		name       string
		email, ext string
		answers    []answer
		wantQuery  []string
		wantIDs    []int64
		code       string
	}{
		{"email trimmed", "  ada@example.com ", "", []answer{{body: found}}, []string{"email=ada%40example.com&limit=25"}, []int64{2}, ""},
		{"capitals retried lowercase", "Ada@Example.COM", "", []answer{{body: none}, {body: found}},
			[]string{"email=Ada%40Example.COM&limit=25", "email=ada%40example.com&limit=25"}, []int64{2}, ""},
		{"capitals found at once", "Ada@Example.com", "", []answer{{body: found}}, []string{"email=Ada%40Example.com&limit=25"}, []int64{2}, ""},
		{"lowercase not retried", "nobody@example.com", "", []answer{{body: none}}, []string{"email=nobody%40example.com&limit=25"}, []int64{}, ""},
		{"several customers kept", "twin@example.com", "", []answer{{body: string(MustRead(t, filepath.Join("testdata", "payloads", "Customers", "list-customers_200_more-than-one-hand-made.json")))}},
			[]string{"email=twin%40example.com&limit=25"}, []int64{900001, 900001}, ""},
		{"external id", "", " 6000000000001 ", []answer{{body: found}}, []string{"external_customer_id=6000000000001&limit=25"}, []int64{2}, ""},
		{"neither", " ", "", nil, nil, nil, rechargekit.EINVALID},
		{"both", "a@b.c", "1", nil, nil, nil, rechargekit.EINVALID},
		{"refused search", "bad", "", []answer{{status: 422, body: `{"errors":{"email":["Not a valid email."]}}`}}, []string{"email=bad&limit=25"}, nil, rechargekit.EINVALID},
		{"bad token", "a@b.c", "", []answer{{status: 401, body: `{"error":"bad authentication"}`}}, []string{"email=a%40b.c&limit=25"}, nil, rechargekit.EUPSTREAM},
		{"down", "a@b.c", "", []answer{{status: 500}}, []string{"email=a%40b.c&limit=25", "email=a%40b.c&limit=25"}, nil, rechargekit.EUPSTREAM},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := &recorder{answers: tt.answers}
			src := MustSource(t, rec)
			got, err := src.FindCustomers(context.Background(), tt.email, tt.ext)
			if code := rechargekit.ErrorCode(err); code != tt.code {
				t.Fatalf("code = %q (%v), want %q", code, err, tt.code)
			}
			var queries []string
			for _, r := range rec.requests() {
				if r.Path != "/customers" {
					t.Errorf("path %s", r.Path)
				}
				queries = append(queries, r.Query)
			}
			if diff := cmp.Diff(tt.wantQuery, queries); diff != "" {
				t.Errorf("queries (-want +got):\n%s", diff)
			}
			if err != nil {
				return
			}
			if got == nil {
				t.Fatal("nil slice; want an empty one")
			}
			ids := []int64{}
			for _, c := range got {
				ids = append(ids, c.ID)
			}
			if diff := cmp.Diff(tt.wantIDs, ids); diff != "" {
				t.Errorf("ids (-want +got):\n%s", diff)
			}
		})
	}
}

// fakeStore routes the three calls of Source.Subscriptions.
type fakeStore struct {
	t            *testing.T
	subsPages    []string // page i answers cursor "page-i" (page 0: no cursor)
	subsStatus   int
	chargeStatus int
	chargeBody   string
	productBody  string
	productCode  int

	subCalls, chargeCalls, productCalls atomic.Int32
	productQueries                      chan string

	// Both handlers wait for the other request: proof that the calls overlap.
	rendezvous         bool
	subsIn, chargesIn  chan struct{}
	subsOnce, chgsOnce sync.Once
}

func (f *fakeStore) meet(mine chan struct{}, once *sync.Once, other chan struct{}) {
	once.Do(func() { close(mine) })
	select {
	case <-other:
	case <-time.After(10 * time.Second):
		f.t.Error("the subscriptions and charges calls did not overlap")
	}
}

func (f *fakeStore) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	w.Header().Set("Content-Type", "application/json")
	switch r.URL.Path {
	case "/subscriptions":
		f.subCalls.Add(1)
		if f.rendezvous {
			f.meet(f.subsIn, &f.subsOnce, f.chargesIn)
		}
		if f.subsStatus != 0 {
			w.WriteHeader(f.subsStatus)
			fmt.Fprint(w, `{"errors":"nope"}`)
			return
		}
		page := 0
		if cur := q.Get("cursor"); cur != "" {
			if len(q) != 2 || q.Get("limit") != "250" {
				f.t.Errorf("later page query %q: want only cursor and limit", r.URL.RawQuery)
			}
			fmt.Sscanf(cur, "page-%d", &page)
		} else if q.Get("customer_id") != "900001" || q.Get("limit") != "250" || len(q) != 2 {
			f.t.Errorf("first page query %q", r.URL.RawQuery)
		}
		fmt.Fprint(w, f.subsPages[page])
	case "/charges":
		f.chargeCalls.Add(1)
		if f.rendezvous {
			f.meet(f.chargesIn, &f.chgsOnce, f.subsIn)
		}
		if q.Get("customer_id") != "900001" || q.Get("limit") != "250" || len(q) != 2 {
			f.t.Errorf("charges query %q", r.URL.RawQuery)
		}
		if f.chargeStatus != 0 {
			w.WriteHeader(f.chargeStatus)
			fmt.Fprint(w, `{"errors":"This token does not have the read_orders scope"}`)
			return
		}
		fmt.Fprint(w, f.chargeBody)
	case "/products":
		f.productCalls.Add(1)
		if f.productQueries != nil {
			f.productQueries <- r.URL.RawQuery
		}
		if f.productCode != 0 {
			w.WriteHeader(f.productCode)
		}
		fmt.Fprint(w, f.productBody)
	default:
		f.t.Errorf("unexpected %s %s", r.Method, r.URL)
		w.WriteHeader(404)
	}
}

// ownSubsPages splits our testdata subscriptions over two pages.
func ownSubsPages(t *testing.T) []string {
	subs := decodeList[json.RawMessage](t, filepath.Join("testdata", "payloads", "Subscriptions", "list-subscriptions_200.json"), "subscriptions")
	page := func(items []*json.RawMessage, next any) string {
		b, err := json.Marshal(map[string]any{"next_cursor": next, "previous_cursor": nil, "subscriptions": items})
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	return []string{page(subs[:2], "page-1"), page(subs[2:], nil)}
}

func TestSourceSubscriptions(t *testing.T) {
	t.Parallel()
	charges := string(MustRead(t, filepath.Join("testdata", "payloads", "Charges", "list-charges_200.json")))
	platform := string(MustRead(t, filepath.Join("testdata", "payloads", "Products", "list-products_422_platform.json")))

	t.Run("pages, concurrent charges, fallbacks", func(t *testing.T) {
		t.Parallel()
		f := &fakeStore{t: t, subsPages: ownSubsPages(t), chargeBody: charges, productCode: 422, productBody: platform,
			rendezvous: true, subsIn: make(chan struct{}), chargesIn: make(chan struct{})}
		src := MustSource(t, f)
		got, err := src.Subscriptions(context.Background(), 900001)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(ownMappingWant(t), got); diff != "" {
			t.Errorf("subscriptions (-want +got):\n%s", diff)
		}
		if s, c, p := f.subCalls.Load(), f.chargeCalls.Load(), f.productCalls.Load(); s != 2 || c != 1 || p != 0 {
			t.Errorf("calls: %d subscriptions, %d charges, %d products; want 2, 1, 0 (every product had an image)", s, c, p)
		}
	})

	t.Run("subscriptions failing", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			status int
			code   string
		}{{401, rechargekit.EUPSTREAM}, {403, rechargekit.EUPSTREAM}, {500, rechargekit.EUPSTREAM}} {
			f := &fakeStore{t: t, subsStatus: tc.status, chargeBody: charges}
			_, err := MustSource(t, f).Subscriptions(context.Background(), 900001)
			if got := rechargekit.ErrorCode(err); got != tc.code {
				t.Errorf("status %d: code %q (%v), want %q", tc.status, got, err, tc.code)
			}
			if refused := tc.status != 500; errors.Is(err, rechargekit.ErrUpstreamRefused) != refused {
				t.Errorf("status %d: errors.Is(%v, ErrUpstreamRefused) = %v, want %v", tc.status, err, !refused, refused)
			}
			if msg := rechargekit.ErrorMessage(err); tc.status == 403 && !strings.Contains(msg, "read_subscriptions permission") {
				t.Errorf("status 403: message %q does not name read_subscriptions", msg)
			}
		}
	})

	t.Run("no subscriptions", func(t *testing.T) {
		t.Parallel()
		f := &fakeStore{t: t, subsPages: []string{`{"next_cursor":null,"previous_cursor":null,"subscriptions":[]}`},
			chargeBody: `{"next_cursor":null,"previous_cursor":null,"charges":[]}`}
		got, err := MustSource(t, f).Subscriptions(context.Background(), 900001)
		if err != nil || got == nil || len(got) != 0 {
			t.Errorf("got %v, %v; want an empty slice", got, err)
		}
	})

	t.Run("six hundred subscriptions", func(t *testing.T) {
		t.Parallel()
		cs := &cursorServer{t: t, key: "subscriptions", total: 600}
		mux := http.NewServeMux()
		mux.Handle("/subscriptions", cs)
		mux.HandleFunc("/charges", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{"charges":[]}`) })
		mux.HandleFunc("/products", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(422)
			fmt.Fprint(w, platform)
		})
		got, err := MustSource(t, mux).Subscriptions(context.Background(), 900001)
		if err != nil || len(got) != 600 {
			t.Errorf("got %d subscriptions, %v; want 600", len(got), err)
		}
	})
}
