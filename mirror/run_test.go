package mirror

import (
	"context"
	"strings"
	"sync"
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

// runner runs a Mirror's Run with its waits in the test's hands: the
// lease is taken once and not renewed, and the work loop waits on tick.
type runner struct {
	m     *Mirror
	waits chan time.Duration // the work loop's waits, as it starts them
	tick  chan time.Time
	stop  context.CancelFunc
	done  chan error
	once  sync.Once
}

func startRun(t *testing.T, m *Mirror) *runner {
	t.Helper()
	r := &runner{m: m, waits: make(chan time.Duration, 100), tick: make(chan time.Time), done: make(chan error, 1)}
	m.after = func(d time.Duration) <-chan time.Time {
		if d == m.opts.LeaseTTL/3 {
			return nil // the lease loop: never renews within the test
		}
		r.waits <- d
		return r.tick
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.stop = cancel
	go func() { r.done <- m.Run(ctx) }()
	t.Cleanup(r.end)
	return r
}

// idle returns once the work loop waits for its next reconciliation.
func (r *runner) idle(t *testing.T) {
	t.Helper()
	limit := time.After(2 * time.Minute) // a failsafe, far beyond a backfill of a few customers
	for {
		select {
		case d := <-r.waits:
			if d == r.m.opts.ReconcileInterval {
				return
			}
			t.Logf("work loop waits %v (a retry)", d)
		case <-limit:
			t.Fatal("the work loop never became idle")
		}
	}
}

// end stops Run and waits for it to return; once.
func (r *runner) end() {
	r.once.Do(func() {
		r.stop()
		<-r.done
	})
}

// TestRunBackfillsAndReleasesTheLease serves the mirror: the leader fills
// it, and a clean stop hands the lease over at once.
func TestRunBackfillsAndReleasesTheLease(t *testing.T) {
	t.Parallel()
	seed := rechargetest.GenerateSeed(5, 1)
	e := newEnv(t, envConfig{seed: &seed, opts: func(o *Options) { o.Holder = "a" }})
	b := e.newMirror(t, openStore(t, e.path), func(o *Options) { o.Holder = "b" })
	ctx := context.Background()
	r := startRun(t, e.m)
	r.idle(t)
	if st := e.m.Status(ctx); st.State != rechargekit.MirrorReady || !st.Leader || st.LastReconcile.IsZero() || st.Holder != "a" {
		t.Fatalf("status of the serving leader: %+v", st)
	}
	if ok, err := b.Lead(ctx); err != nil || ok {
		t.Fatalf("b leads beside a running leader (%v, %v)", ok, err)
	}
	r.end()
	if ok, err := b.Lead(ctx); err != nil || !ok {
		t.Fatalf("b could not lead after a stopped cleanly (%v, %v)", ok, err)
	}
	// b reads the mirror a filled.
	id := e.customerIDs(t)[0]
	before := e.requests()
	if _, err := b.Source().ReadCard(ctx, id); err != nil {
		t.Fatal(err)
	}
	if n := e.requests() - before; n != 0 {
		t.Errorf("%d Recharge calls for a card b read from the mirror, want 0", n)
	}
}

// TestRunBackfillsAgainAfterAPurge purges a served mirror; the leader's
// next step fills it again.
func TestRunBackfillsAgainAfterAPurge(t *testing.T) {
	t.Parallel()
	seed := rechargetest.GenerateSeed(5, 2)
	e := newEnv(t, envConfig{seed: &seed})
	ctx := context.Background()
	r := startRun(t, e.m)
	r.idle(t)
	if err := e.m.Purge(ctx); err != nil {
		t.Fatal(err)
	}
	if st := e.m.Status(ctx); st.State != rechargekit.MirrorSyncing || st.Records[rechargekit.MirrorCustomers] != 0 {
		t.Fatalf("status after the purge: %+v", st)
	}
	r.tick <- time.Now()
	r.idle(t)
	if st := e.m.Status(ctx); st.State != rechargekit.MirrorReady || st.Records[rechargekit.MirrorCustomers] != 5 {
		t.Errorf("status after the second backfill: %+v", st)
	}
}

// TestBackfillAsLeader: a sync takes the lease, so it does not run beside
// a replica that holds it, and gives it back when done.
func TestBackfillAsLeader(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{})
	ctx := context.Background()
	if ok, _, err := e.store.AcquireMirrorLease(ctx, "replica-7", time.Now(), time.Hour); err != nil || !ok {
		t.Fatalf("take the lease: %v, %v", ok, err)
	}
	err := e.m.BackfillAsLeader(ctx, nil)
	if rechargekit.ErrorCode(err) != rechargekit.ECONFLICT || !strings.Contains(rechargekit.ErrorMessage(err), "replica-7") {
		t.Fatalf("backfill while replica-7 leads: %v; want ECONFLICT naming it", err)
	}
	if n := e.requests(); n != 0 {
		t.Errorf("%d Recharge requests by a refused backfill", n)
	}
	if err := e.store.ReleaseMirrorLease(ctx, "replica-7"); err != nil {
		t.Fatal(err)
	}
	if err := e.m.BackfillAsLeader(ctx, nil); err != nil {
		t.Fatal(err)
	}
	st, err := e.store.MirrorStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Lease != nil || st.Checkpoints[rechargekit.MirrorCustomers] == nil || !st.Checkpoints[rechargekit.MirrorCustomers].Done {
		t.Errorf("after the backfill: lease %+v, customers checkpoint %+v; want released and done", st.Lease, st.Checkpoints[rechargekit.MirrorCustomers])
	}
}

func TestLeaseWait(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		expires time.Time
		want    time.Duration
	}{
		{"a dead sync's lease, expiring soon: waited for", now.Add(20 * time.Second), 20*time.Second + 100*time.Millisecond},
		{"expired already: taken without waiting", now.Add(-time.Second), 0},
		{"a far longer lease: refused at once", now.Add(time.Hour), 0},
	} {
		if got := leaseWait(&rechargekit.MirrorLease{Holder: "h", Expires: tc.expires}, now, 30*time.Second); got != tc.want {
			t.Errorf("%s: leaseWait = %v, want %v", tc.name, got, tc.want)
		}
	}
	if got := leaseWait(nil, now, 30*time.Second); got != 0 {
		t.Errorf("no holder: leaseWait = %v, want 0", got)
	}
}
