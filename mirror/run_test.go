package mirror

import (
	"context"
	"testing"
	"time"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/internal/testkit"
	"github.com/rechargekit/rechargekit/recharge/rechargetest"
)

// TestLeaseBetweenTwoReplicas runs two Mirrors on one database: one
// leads, the other takes over once the leader's lease expires.
func TestLeaseBetweenTwoReplicas(t *testing.T) {
	t.Parallel()
	// The store reports a lease in MirrorStats by its own clock: the
	// test clock starts at the real time.
	clock := testkit.NewClock(time.Now())
	e := newEnv(t, envConfig{opts: func(o *Options) { o.Now, o.Holder = clock.Now, "a" }})
	b := e.newMirror(t, openStore(t, e.path), func(o *Options) { o.Now, o.Holder = clock.Now, "b" })
	ctx := context.Background()

	lead := func(m *Mirror) bool {
		t.Helper()
		ok, err := m.Lead(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !lead(e.m) || lead(b) {
		t.Fatal("want a to lead and b to follow")
	}
	clock.Advance(DefaultLeaseTTL / 3)
	if !lead(e.m) {
		t.Fatal("a could not renew its lease")
	}
	clock.Advance(DefaultLeaseTTL - time.Second)
	if lead(b) {
		t.Fatal("b took a lease renewed less than a TTL ago")
	}
	// a dies: no renewal for a whole TTL.
	clock.Advance(2 * time.Second)
	if !lead(b) {
		t.Fatal("b did not take over the expired lease")
	}
	if lead(e.m) {
		t.Fatal("a still leads after b took over")
	}
	if st := e.m.Status(ctx); st.Leader || st.Holder != "b" {
		t.Errorf("a's status: leader %v, holder %q; want b", st.Leader, st.Holder)
	}
}

// TestRunBackfillsAndReleasesTheLease serves the mirror: the leader fills
// it, and a clean stop hands the lease over at once.
func TestRunBackfillsAndReleasesTheLease(t *testing.T) {
	t.Parallel()
	seed := rechargetest.GenerateSeed(5, 1)
	e := newEnv(t, envConfig{seed: &seed, opts: func(o *Options) { o.Holder = "a" }})
	b := e.newMirror(t, openStore(t, e.path), func(o *Options) { o.Holder = "b" })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.m.Run(ctx) }()
	testkit.WaitFor(t, "the mirror to be ready", func() bool {
		st := e.m.Status(context.Background())
		return st.State == rechargekit.MirrorReady && st.Leader && !st.LastReconcile.IsZero()
	})
	if ok, err := b.Lead(context.Background()); err != nil || ok {
		t.Fatalf("b leads beside a running leader (%v, %v)", ok, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if ok, err := b.Lead(context.Background()); err != nil || !ok {
		t.Fatalf("b could not lead after a stopped cleanly (%v, %v)", ok, err)
	}
	// b reads the mirror a filled.
	before := e.requests()
	if _, err := b.Source().ReadCard(context.Background(), e.customerIDs(t)[0]); err != nil {
		t.Fatal(err)
	}
	if n := e.requests() - before - 1; n != 0 { // the customer list just above
		t.Errorf("%d Recharge calls for a card b read from the mirror, want 0", n)
	}
}

// TestRunBackfillsAgainAfterAPurge purges a served mirror; the leader's
// next step fills it again. Run's waits are a channel the test ticks.
func TestRunBackfillsAgainAfterAPurge(t *testing.T) {
	t.Parallel()
	seed := rechargetest.GenerateSeed(5, 2)
	e := newEnv(t, envConfig{seed: &seed})
	tick := make(chan time.Time)
	e.m.after = func(time.Duration) <-chan time.Time { return tick }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.m.Run(ctx) }()
	ready := func() bool {
		select {
		case tick <- time.Now(): // wake whichever wait is pending
		default:
		}
		st := e.m.Status(context.Background())
		return st.State == rechargekit.MirrorReady && st.Records[rechargekit.MirrorCustomers] == 5
	}
	testkit.WaitFor(t, "the first backfill", ready)
	if err := e.m.Purge(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := e.m.Status(context.Background()); st.State != rechargekit.MirrorSyncing || st.Records[rechargekit.MirrorCustomers] != 0 {
		t.Fatalf("status after the purge: %+v", st)
	}
	testkit.WaitFor(t, "the backfill after the purge", ready)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
