package recharge

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/internal/testkit"
)

// detailsStore serves our hand-made details payloads per route, with a
// status per route to make one section fail alone, and counts the calls.
type detailsStore struct {
	t      *testing.T
	status map[string]int // by route: "customer", "customer+pm", "subscriptions", "charges", "events", "payment_methods"

	mu      sync.Mutex
	calls   map[string]int
	queries map[string][]string

	// barrier, when set, holds each request until that many have arrived:
	// proof that the calls run in parallel.
	barrier chan struct{}
	arrived atomic.Int32
	want    int32
}

func newDetailsStore(t *testing.T) *detailsStore {
	return &detailsStore{t: t, status: map[string]int{}, calls: map[string]int{}, queries: map[string][]string{}}
}

func (f *detailsStore) count(route string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[route]
}

func (f *detailsStore) total() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		n += c
	}
	return n
}

func (f *detailsStore) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	dir := filepath.Join("testdata", "payloads")
	q := r.URL.Query()
	var route, file string
	switch {
	case r.URL.Path == "/customers/900100" && strings.Contains(q.Get("include"), "payment_methods"):
		route, file = "customer+pm", "Customers/get-customer_200_include-payment-methods.json"
	case r.URL.Path == "/customers/900100":
		route, file = "customer", "Customers/get-customer_200_include-payment-methods.json"
	case r.URL.Path == "/subscriptions":
		route = "subscriptions"
	case r.URL.Path == "/charges":
		route, file = "charges", "Charges/list-charges_200_details.json"
	case r.URL.Path == "/events":
		route, file = "events", "Events/list-events_200.json"
	case r.URL.Path == "/payment_methods":
		route, file = "payment_methods", "PaymentMethods/list-payment-methods_200_tokens.json"
	case r.URL.Path == "/products":
		// Without the charges, an image is looked for in the catalog: a
		// Shopify store has none.
		route, file = "products", "Products/list-products_422_platform.json"
	default:
		f.t.Errorf("unexpected %s %s", r.Method, r.URL)
		w.WriteHeader(404)
		return
	}
	f.mu.Lock()
	f.calls[route]++
	f.queries[route] = append(f.queries[route], r.URL.RawQuery)
	f.mu.Unlock()
	if f.barrier != nil {
		if f.arrived.Add(1) == f.want {
			close(f.barrier)
		}
		select {
		case <-f.barrier:
		case <-time.After(10 * time.Second):
			f.t.Errorf("%s: the other calls did not arrive in parallel", route)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	if route == "products" {
		w.WriteHeader(422)
		w.Write(MustRead(f.t, filepath.Join(dir, file)))
		return
	}
	if code := f.status[route]; code != 0 {
		w.WriteHeader(code)
		fmt.Fprintf(w, `{"errors":"refused with %d"}`, code)
		return
	}
	if route == "subscriptions" {
		fmt.Fprint(w, `{"next_cursor":null,"subscriptions":[{"id":710001,"address_id":810001,"customer_id":900100,"status":"active","product_title":"Coffee Beans",
			"external_variant_id":{"ecommerce":"V-10"},"external_product_id":{"ecommerce":"P-10"},"max_retries_reached":false},
			{"id":710002,"address_id":810002,"customer_id":900100,"status":"active","product_title":"Green Tea","max_retries_reached":false}]}`)
		return
	}
	if route == "customer" {
		// Without the payment_methods include: the addresses only.
		b := MustRead(f.t, filepath.Join(dir, file))
		i := bytes.Index(b, []byte(`,
  "payment_methods"`))
		if i < 0 {
			f.t.Fatal("customer payload changed shape")
		}
		fmt.Fprint(w, string(b[:i])+"}}}")
		return
	}
	w.Write(MustRead(f.t, filepath.Join(dir, file)))
}

// mustDetailsSource returns a Source over f whose logs go to buf.
func mustDetailsSource(t *testing.T, f *detailsStore, buf *syncBuffer) *Source {
	src := MustSource(t, f)
	src.Logger = slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return src
}

// TestReadCardCalls reads a whole card with four parallel calls, the
// charges read shared by the images and the charge sections, and the
// addresses and payment methods included in the customer read.
func TestReadCardCalls(t *testing.T) {
	t.Parallel()
	f := newDetailsStore(t)
	f.barrier, f.want = make(chan struct{}), 4
	var logs syncBuffer
	card, err := mustDetailsSource(t, f, &logs).ReadCard(context.Background(), 900100)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"customer+pm": 1, "subscriptions": 1, "charges": 1, "events": 1}
	if diff := cmp.Diff(want, f.calls); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	wantQ := map[string][]string{
		"customer+pm":   {"include=addresses%2Cpayment_methods"},
		"subscriptions": {"customer_id=900100&limit=250"},
		"charges":       {"customer_id=900100&limit=250"},
		"events":        {"customer_id=900100&limit=250"},
	}
	if diff := cmp.Diff(wantQ, f.queries); diff != "" {
		t.Errorf("queries (-want +got):\n%s", diff)
	}
	d := card.Details
	if d == nil || d.Unavailable != nil {
		t.Fatalf("details = %+v", d)
	}
	if card.Customer.ID != 900100 || len(card.Subscriptions) != 2 || card.Subscriptions[1].AddressID != 810002 {
		t.Errorf("card = %+v", card)
	}
	// The image comes from the same charges read as the next charges.
	if img := card.Subscriptions[0].Product.ImageURL; img != "https://cdn.example.com/beans-medium.png" {
		t.Errorf("image = %q", img)
	}
	if len(d.NextCharges) != 2 || len(d.RecentOrders) != 3 || len(d.Addresses) != 2 || len(d.Events) != 4 ||
		d.Payment == nil || d.Payment.Default == nil || d.Payment.Default.Last4 != "4242" {
		t.Errorf("sections = %+v", d)
	}
}

// TestReadCardSectionFails makes each section's read fail alone: the card
// keeps everything else and names what is missing in a full sentence.
func TestReadCardSectionFails(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		status      map[string]int
		unavailable map[string]string
		calls       map[string]int
	}{
		{"events without read_events", map[string]int{"events": 403},
			map[string]string{rechargekit.SectionEvents: "The Recharge token may not read events (read_events)."},
			map[string]int{"customer+pm": 1, "subscriptions": 1, "charges": 1, "events": 1}},
		{"a plan without events", map[string]int{"events": 404},
			map[string]string{rechargekit.SectionEvents: msgEventsPlan},
			map[string]int{"customer+pm": 1, "subscriptions": 1, "charges": 1, "events": 1}},
		{"events down", map[string]int{"events": 500},
			map[string]string{rechargekit.SectionEvents: msgEventsFailed},
			map[string]int{"customer+pm": 1, "subscriptions": 1, "charges": 1, "events": 2}}, // one retry
		{"charges without read_orders", map[string]int{"charges": 403},
			map[string]string{rechargekit.SectionNextCharges: msgChargesScope, rechargekit.SectionRecentOrders: msgChargesScope,
				rechargekit.SectionPayment: msgFailingCharge},
			map[string]int{"customer+pm": 1, "subscriptions": 1, "charges": 1, "events": 1, "products": 1}},
		{"include refused, payment methods read alone", map[string]int{"customer+pm": 422}, nil,
			map[string]int{"customer+pm": 1, "customer": 1, "payment_methods": 1, "subscriptions": 1, "charges": 1, "events": 1}},
		{"include refused, no read_payment_methods", map[string]int{"customer+pm": 403, "payment_methods": 403},
			map[string]string{rechargekit.SectionPayment: msgPMScope},
			map[string]int{"customer+pm": 1, "customer": 1, "payment_methods": 1, "subscriptions": 1, "charges": 1, "events": 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newDetailsStore(t)
			f.status = tt.status
			var logs syncBuffer
			card, err := mustDetailsSource(t, f, &logs).ReadCard(context.Background(), 900100)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.unavailable, card.Details.Unavailable); diff != "" {
				t.Errorf("unavailable (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.calls, f.calls); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
			if len(card.Subscriptions) != 2 || card.Customer.ID != 900100 {
				t.Errorf("the card lost its customer or subscriptions: %+v", card)
			}
			d := card.Details
			if _, gone := d.Unavailable[rechargekit.SectionEvents]; gone != (len(d.Events) == 0) {
				t.Errorf("events: %d, unavailable %v", len(d.Events), gone)
			}
			if _, gone := d.Unavailable[rechargekit.SectionNextCharges]; gone != (len(d.NextCharges) == 0) {
				t.Errorf("next charges: %d, unavailable %v", len(d.NextCharges), gone)
			}
			if len(d.Addresses) != 2 || d.Payment == nil || !d.Payment.InDunning {
				t.Errorf("addresses %d, payment %+v", len(d.Addresses), d.Payment)
			}
			if (d.Payment.Default == nil) != (d.Unavailable[rechargekit.SectionPayment] == msgPMScope) {
				t.Errorf("default method %+v with unavailable %q", d.Payment.Default, d.Unavailable[rechargekit.SectionPayment])
			}
			for _, bad := range []string{"SECRET", "cus_", "pm_", "processor_"} {
				if strings.Contains(logs.String(), bad) {
					t.Errorf("log holds %q:\n%s", bad, logs.String())
				}
			}
		})
	}
}

// TestReadCardRemembersRefusals: a refused events read, payment_methods
// include or payment methods read is not asked again on the next card; the
// section still says why.
func TestReadCardRemembersRefusals(t *testing.T) {
	t.Parallel()
	f := newDetailsStore(t)
	f.status = map[string]int{"events": 403, "customer+pm": 422, "payment_methods": 403}
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	var logs syncBuffer
	src := mustDetailsSource(t, f, &logs)
	src.Now = func() time.Time { return now }
	for range 2 {
		card, err := src.ReadCard(context.Background(), 900100)
		if err != nil {
			t.Fatal(err)
		}
		if got := card.Details.Unavailable[rechargekit.SectionEvents]; got != msgEventsScope {
			t.Errorf("events unavailable = %q", got)
		}
		if got := card.Details.Unavailable[rechargekit.SectionPayment]; got != msgPMScope {
			t.Errorf("payment unavailable = %q", got)
		}
	}
	want := map[string]int{"customer+pm": 1, "customer": 2, "payment_methods": 1, "subscriptions": 2, "charges": 2, "events": 1}
	if diff := cmp.Diff(want, f.calls); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	// After RefusalRecheck the events are asked for again.
	now = now.Add(RefusalRecheck)
	if _, err := src.ReadCard(context.Background(), 900100); err != nil {
		t.Fatal(err)
	}
	if n, m := f.count("events"), f.count("payment_methods"); n != 2 || m != 2 {
		t.Errorf("events and payment methods calls after the recheck = %d and %d, want 2 each", n, m)
	}
}

// TestReadCardFails: the customer and the subscriptions fail the card.
func TestReadCardFails(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		route  string
		status int
		code   string
	}{
		{"customer+pm", 404, rechargekit.ENOTFOUND},
		{"customer+pm", 503, rechargekit.EUPSTREAM},
		{"subscriptions", 503, rechargekit.EUPSTREAM},
	} {
		t.Run(fmt.Sprint(tt.route, tt.status), func(t *testing.T) {
			t.Parallel()
			f := newDetailsStore(t)
			f.status = map[string]int{tt.route: tt.status}
			var logs syncBuffer
			_, err := mustDetailsSource(t, f, &logs).ReadCard(context.Background(), 900100)
			if got := rechargekit.ErrorCode(err); got != tt.code {
				t.Errorf("code = %q (%v), want %q", got, err, tt.code)
			}
		})
	}
}

// TestSourceDetails reads the sections alone: three parallel calls, no
// subscriptions.
func TestSourceDetails(t *testing.T) {
	t.Parallel()
	f := newDetailsStore(t)
	f.barrier, f.want = make(chan struct{}), 3
	var logs syncBuffer
	src := mustDetailsSource(t, f, &logs)
	d, err := src.Details(context.Background(), 900100)
	if err != nil {
		t.Fatal(err)
	}
	if f.total() != 3 || f.count("subscriptions") != 0 {
		t.Errorf("calls = %v", f.calls)
	}
	if d.Unavailable != nil || len(d.NextCharges) != 2 || len(d.Events) != 4 || d.Payment == nil {
		t.Errorf("details = %+v", d)
	}

	g := newDetailsStore(t)
	g.status = map[string]int{"customer+pm": 404}
	if _, err := mustDetailsSource(t, g, &logs).Details(context.Background(), 900100); rechargekit.ErrorCode(err) != rechargekit.ENOTFOUND {
		t.Errorf("unknown customer: %v", err)
	}
	h := newDetailsStore(t)
	h.status = map[string]int{"customer+pm": 503}
	d, err = mustDetailsSource(t, h, &logs).Details(context.Background(), 900100)
	if err != nil {
		t.Fatal(err)
	}
	if d.Payment != nil || d.Unavailable[rechargekit.SectionAddresses] != msgCustFailed || len(d.NextCharges) != 2 {
		t.Errorf("customer down: %+v", d)
	}
}

// TestReadCardLearnsOnce: while one card learns what the store offers,
// another card reads the customer with its addresses only and no events,
// and says those sections come later; once learned, cards read them all.
func TestReadCardLearnsOnce(t *testing.T) {
	t.Parallel()
	f := newDetailsStore(t)
	// The first card is held at both reads it learns from (the include and
	// the events), so the second one knows neither.
	g := &gated{next: f, hold: func(r *http.Request) bool {
		return isEvents(r) || strings.Contains(r.URL.Query().Get("include"), "payment_methods")
	}}
	hold := make(chan struct{})
	g.setGate(hold)
	var logs syncBuffer
	src := MustSource(t, g)
	src.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	first := make(chan *rechargekit.Card, 1)
	go func() {
		card, err := src.ReadCard(context.Background(), 900100)
		if err != nil {
			t.Error(err)
		}
		first <- card
	}()
	testkit.WaitFor(t, "the first card's include and events reads", func() bool { return g.count() == 2 })
	lite, err := src.ReadCard(context.Background(), 900100)
	if err != nil {
		t.Fatal(err)
	}
	if lite.Details.Unavailable[rechargekit.SectionEvents] != msgNotYet || lite.Details.Unavailable[rechargekit.SectionPayment] != msgNotYet ||
		len(lite.Details.Addresses) != 2 || len(lite.Details.NextCharges) != 2 || lite.Details.Payment == nil {
		t.Errorf("lite card details = %+v", lite.Details)
	}
	// The lite card asked neither the include nor the events: only the
	// first card's two held reads arrived.
	if g.count() != 2 || f.count("customer") != 1 {
		t.Errorf("calls during the learning card = %v, %d held", f.calls, g.count())
	}
	g.setGate(nil)
	close(hold)
	if full := <-first; full == nil || full.Details.Unavailable != nil {
		t.Fatalf("learning card = %+v", full)
	}
	again, err := src.ReadCard(context.Background(), 900100)
	if err != nil {
		t.Fatal(err)
	}
	if again.Details.Unavailable != nil || f.count("events") != 2 || f.count("customer+pm") != 2 {
		t.Errorf("after learning: unavailable %v, calls %v", again.Details.Unavailable, f.calls)
	}
}

// TestReadCardSurvivesAMappingPanic: the card is read in the card cache's
// own goroutine, so a mapping that panics on what Recharge sent must not
// end the process: every section is marked unavailable, the card shows.
func TestReadCardSurvivesAMappingPanic(t *testing.T) {
	t.Parallel()
	f := newDetailsStore(t)
	var logs syncBuffer
	src := mustDetailsSource(t, f, &logs)
	src.mapping = func(DetailsData) *rechargekit.CardDetails { panic("unexpected shape") }
	card, err := src.ReadCard(context.Background(), 900100)
	if err != nil {
		t.Fatal(err)
	}
	if len(card.Subscriptions) == 0 || card.Details == nil || len(card.Details.Unavailable) != 5 {
		t.Fatalf("card after a mapping panic: %d subscriptions, details %+v", len(card.Subscriptions), card.Details)
	}
	if !strings.Contains(logs.String(), "panicked") {
		t.Errorf("the panic was not logged: %s", logs.String())
	}
}
