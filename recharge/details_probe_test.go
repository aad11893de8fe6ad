package recharge

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"testing"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/internal/testkit"
)

// gated holds the requests hold matches while its gate is set, and counts
// them as they arrive, before handing each to next.
type gated struct {
	next http.Handler
	hold func(r *http.Request) bool

	mu      sync.Mutex
	gate    chan struct{}
	arrived int
}

func (g *gated) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if g.hold(r) {
		g.mu.Lock()
		g.arrived++
		gate := g.gate
		g.mu.Unlock()
		if gate != nil {
			<-gate
		}
	}
	g.next.ServeHTTP(w, r)
}

// setGate sets (or, with nil, clears) the gate and returns how many held
// requests arrived so far.
func (g *gated) setGate(gate chan struct{}) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.gate = gate
	return g.arrived
}

func (g *gated) count() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.arrived
}

func isEvents(r *http.Request) bool { return r.URL.Path == "/events" }

// TestReadCardWhileLearningKeepsWhatIsKnown: once the payment_methods
// include has answered, a card read while another card still learns the
// events (because Recharge failed them last time) reads the payment
// methods as usual; only the timeline waits for the learning card. Before,
// every such card lost its payment method for its whole TTL whenever the
// events were failing.
func TestReadCardWhileLearningKeepsWhatIsKnown(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newDetailsStore(t)
	f.status = map[string]int{"events": 503}
	g := &gated{next: f, hold: isEvents}
	var logs syncBuffer
	src := MustSource(t, g)
	src.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	first, err := src.ReadCard(ctx, 900100)
	if err != nil {
		t.Fatal(err)
	}
	if first.Details.Unavailable[rechargekit.SectionEvents] != msgEventsFailed || first.Details.Payment == nil || first.Details.Payment.Default == nil {
		t.Fatalf("first card: %+v", first.Details)
	}

	// A second card learns the events again and is held there.
	gate := make(chan struct{})
	before := g.setGate(gate)
	learning := make(chan error, 1)
	go func() {
		_, err := src.ReadCard(ctx, 900100)
		learning <- err
	}()
	testkit.WaitFor(t, "the learning card's events read", func() bool { return g.count() > before })

	third, err := src.ReadCard(ctx, 900100)
	close(gate)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-learning; err != nil {
		t.Fatal(err)
	}
	d := third.Details
	if why, ok := d.Unavailable[rechargekit.SectionPayment]; ok || d.Payment == nil || d.Payment.Default == nil {
		t.Errorf("a card read while the events are learned lost its payment method (%q): %+v", why, d.Payment)
	}
	if d.Unavailable[rechargekit.SectionEvents] != msgNotYet {
		t.Errorf("its timeline = %q, want %q", d.Unavailable[rechargekit.SectionEvents], msgNotYet)
	}
}
