package mirror

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/recharge"
	"github.com/rechargekit/rechargekit/recharge/rechargetest"
)

// fakeMetrics records what the mirror reports.
type fakeMetrics struct{ recreated []string }

func (f *fakeMetrics) MirrorRecords(string, int64)         {}
func (f *fakeMetrics) MirrorWebhookApplied(string)         {}
func (f *fakeMetrics) MirrorWebhookRecreated(topic string) { f.recreated = append(f.recreated, topic) }

// TestReconcileHealsADroppedWebhook changes a subscription whose webhook
// never arrives; the next reconciliation brings the change.
func TestReconcileHealsADroppedWebhook(t *testing.T) {
	t.Parallel()
	e, clock, _ := clockedEnv(t)
	ctx := context.Background()
	sub := activeSub(t, e.card(t, alex))
	clock.Advance(time.Minute)
	setQuantity(t, e.client, sub.ID, sub.Quantity+5) // its webhook is dropped
	e.changed()

	clock.Advance(DefaultReconcileInterval)
	if err := e.m.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(e.changed(), alex) {
		t.Error("the reconciliation did not tell OnChange about Alex")
	}
	card := e.card(t, alex)
	if got := mirroredSub(t, e.m, alex, sub.ID); got == nil || got.Quantity != sub.Quantity+5 {
		t.Errorf("after the reconciliation the card shows %+v, want quantity %d", got, sub.Quantity+5)
	}
	if !card.FetchedAt.Equal(clock.Now()) || card.Stale {
		t.Errorf("card FetchedAt %v, Stale %v; want the sweep's start %v, not stale", card.FetchedAt, card.Stale, clock.Now())
	}
	st := e.m.Status(ctx)
	if st.State != rechargekit.MirrorReady || !st.LastReconcile.Equal(clock.Now()) || st.Drift != "" {
		t.Errorf("status after the reconciliation: %+v", st)
	}

	// Two intervals without a reconciliation: behind. Cards are read live
	// while Recharge answers, and from the mirror, stale, when it fails.
	clock.Advance(2*DefaultReconcileInterval + time.Second)
	if st := e.m.Status(ctx); st.State != rechargekit.MirrorBehind {
		t.Errorf("state two intervals after the last sweep: %s, want behind", st.State)
	}
	before := e.requests()
	if card, err := e.m.Source().ReadCard(ctx, alex); err != nil || card.Stale || e.requests() == before {
		t.Errorf("card while behind and Recharge answers: %v; want a live card", err)
	}
	e.sim.SetFaults(rechargetest.Faults{Status: 503})
	if card, err := e.m.Source().ReadCard(ctx, alex); err != nil || !card.Stale {
		t.Errorf("card while behind and Recharge fails: %v; want the mirrored card, stale", err)
	}
	// Recharge failed the last request: the next lookup does not ask it
	// again, and the mirror answers at once.
	before = e.requests()
	if card, err := e.m.Source().ReadCard(ctx, alex); err != nil || !card.Stale || e.requests() != before {
		t.Errorf("card while behind after Recharge failed: %v, %d requests; want the mirrored card, stale, with none", err, e.requests()-before)
	}
}

// TestReconcileCountsDrift finds a subscription the mirror lost (a
// deletion no sweep can see) in the daily count check.
func TestReconcileCountsDrift(t *testing.T) {
	t.Parallel()
	e, clock, _ := clockedEnv(t)
	ctx := context.Background()
	if err := e.m.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if d := e.m.Status(ctx).Drift; d != "" {
		t.Fatalf("drift right after the backfill: %s", d)
	}
	if _, err := e.store.DeleteMirror(ctx, rechargekit.MirrorSubscriptions, e.card(t, alex).Subscriptions[0].ID, time.Time{}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Hour)
	if err := e.m.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if d := e.m.Status(ctx).Drift; d != "" {
		t.Errorf("the count check ran again within a day: %s", d)
	}
	clock.Advance(countEvery)
	if err := e.m.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if d := e.m.Status(ctx).Drift; d == "" {
		t.Error("the daily count check found no drift after a subscription was lost")
	}
}

// TestReconcileRecreatesWebhooks re-creates a registration Recharge
// deleted, counts and shows it.
func TestReconcileRecreatesWebhooks(t *testing.T) {
	t.Parallel()
	const url = "https://rk.example.com/webhooks/recharge"
	metrics := &fakeMetrics{}
	e := newEnv(t, envConfig{opts: func(o *Options) { o.WebhookURL, o.Metrics = url, metrics }})
	ctx := context.Background()
	if _, err := recharge.InstallWebhooks(ctx, e.client, url, recharge.CardTopics); err != nil {
		t.Fatal(err)
	}
	e.backfill(t)
	hooks, err := recharge.ListWebhooks(ctx, e.client, url)
	if err != nil {
		t.Fatal(err)
	}
	gone := hooks[0]
	if _, err := e.client.Webhooks.Delete(ctx, int64(gone.ID)); err != nil {
		t.Fatal(err)
	}
	if err := e.m.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(metrics.recreated, []string{gone.Topic}) {
		t.Errorf("re-created %v, want %s", metrics.recreated, gone.Topic)
	}
	if got := e.m.Status(ctx).WebhooksMissing; !slices.Equal(got, []string{gone.Topic}) {
		t.Errorf("status shows missing webhooks %v, want %s", got, gone.Topic)
	}
	after, err := recharge.ListWebhooks(ctx, e.client, url)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(hooks) {
		t.Errorf("%d registrations after the check, want %d", len(after), len(hooks))
	}
}
