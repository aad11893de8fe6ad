package main

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/metrics/metricstest"
	"github.com/rechargekit/rechargekit/mirror"
	"github.com/rechargekit/rechargekit/recharge"
	"github.com/rechargekit/rechargekit/recharge/rechargetest"
	"github.com/rechargekit/rechargekit/sqlite"
)

// TestMirrorOnEvent checks the webhook receiver's OnEvent with the mirror
// on: a mirrored resource's payload goes into the mirror, whose OnChange
// drops the card once (not a second time through the receiver, and not
// for a duplicate, which changes nothing, with or without its topic
// header); a payload the mirror cannot file is acknowledged (Recharge
// would only retry it into the same failure) after the card is dropped;
// a topic of no card and nothing mirrored does nothing.
func TestMirrorOnEvent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "mirror.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	var mu sync.Mutex
	var changed, dropped []int64
	m, err := mirror.New(mirror.Options{
		Store:  store,
		Client: rechargetest.NewServer(t, rechargetest.Config{}).Client(),
		OnChange: func(_ context.Context, id int64) {
			mu.Lock()
			defer mu.Unlock()
			changed = append(changed, id)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	onEvent := mirrorOnEvent(m, func(_ context.Context, id int64) error {
		mu.Lock()
		defer mu.Unlock()
		dropped = append(dropped, id)
		return nil
	}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	deliver := func(topic, body string) error {
		t.Helper()
		ev, err := recharge.ParseWebhook(topic, []byte(body))
		if err != nil {
			t.Fatalf("parse %s: %v", topic, err)
		}
		return onEvent(ctx, ev)
	}
	seen := func() (c, d []int64) {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(changed), slices.Clone(dropped)
	}

	sub := `{"subscription":{"id":901,"customer_id":77,"address_id":5,"status":"active","updated_at":"2026-12-05T10:00:00+00:00","created_at":"2026-01-01T00:00:00+00:00"}}`
	if err := deliver("subscription/updated", sub); err != nil {
		t.Fatal(err)
	}
	if c, d := seen(); !slices.Equal(c, []int64{77}) || len(d) != 0 {
		t.Errorf("after a subscription: OnChange %v, receiver dropped %v; want [77] and none", c, d)
	}
	// The same delivery again, and without its topic header: no change.
	if err := deliver("", sub); err != nil {
		t.Fatal(err)
	}
	if c, d := seen(); len(c) != 1 || len(d) != 0 {
		t.Errorf("after a duplicate: OnChange %v, receiver dropped %v; want nothing more", c, d)
	}
	if st := mustMirrorStats(t, store); st.Records[rechargekit.MirrorSubscriptions] != 1 {
		t.Errorf("the mirror holds %d subscriptions, want the one delivered", st.Records[rechargekit.MirrorSubscriptions])
	}

	// An order: no card topic (the card's orders come with their
	// charges' topics), and nothing the mirror holds.
	if err := deliver("order/created", `{"order":{"id":3,"customer_id":78,"updated_at":"2026-12-05T10:00:00+00:00"}}`); err != nil {
		t.Fatal(err)
	}
	if c, d := seen(); len(c) != 1 || len(d) != 0 {
		t.Errorf("after an order: OnChange %v, receiver dropped %v; want nothing more", c, d)
	}
	// A subscription that names no id: the mirror cannot file it.
	if err := deliver("subscription/updated", `{"subscription":{"customer_id":79,"updated_at":"2026-12-05T10:00:00+00:00"}}`); err != nil {
		t.Errorf("a payload the mirror cannot file failed the delivery: %v", err)
	}
	if _, d := seen(); !slices.Equal(d, []int64{79}) {
		t.Errorf("after an unfileable payload: receiver dropped %v, want [79]", d)
	}
}

// TestBackgroundMetrics checks that the mirror client's calls are counted
// but its waits for the budget are not: they are by design, and the wait
// metrics say whether the service's own requests waited.
func TestBackgroundMetrics(t *testing.T) {
	t.Parallel()
	var rec metricstest.Recorder
	m := backgroundMetrics{&rec}
	m.RechargeCall("GET /customers", 200, time.Millisecond)
	m.RateLimitWait(3 * time.Second)
	if rec.Count("call GET /customers 200") != 1 || rec.Count("wait") != 0 {
		t.Errorf("counted %v; want the call and no wait", rec.Counts())
	}
}
