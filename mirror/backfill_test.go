package mirror

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/internal/testkit"
	"github.com/rechargekit/rechargekit/recharge"
	"github.com/rechargekit/rechargekit/recharge/rechargetest"
)

// ignoreFetchedAt compares cards without their FetchedAt, which says when
// the data was read and differs between a live and a mirrored card.
var ignoreFetchedAt = cmpopts.IgnoreFields(rechargekit.Card{}, "FetchedAt")

// TestBackfillCardsEqualLive fills the mirror from the demo store and
// checks that every customer's card from the mirror is the live card,
// read with no Recharge call, on SQLite and on PostgreSQL.
func TestBackfillCardsEqualLive(t *testing.T) {
	t.Parallel()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		checkCardsEqualLive(t, newEnv(t, envConfig{}))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		checkCardsEqualLive(t, newEnv(t, envConfig{postgres: true}))
	})
}

func checkCardsEqualLive(t *testing.T, e *testEnv) {
	ctx := context.Background()
	var all []Progress
	if err := e.m.Backfill(ctx, func(p Progress) { all = append(all, p) }); err != nil {
		t.Fatal(err)
	}
	if len(all) < 2 {
		t.Fatalf("%d progress reports, want one per page and the end", len(all))
	}
	for i := 1; i < len(all); i++ {
		if all[i].Percent < all[i-1].Percent || all[i].Records < all[i-1].Records {
			t.Errorf("progress went back: %+v after %+v", all[i], all[i-1])
		}
	}
	if last := all[len(all)-1]; !last.Done || last.Percent != 100 || last.Records == 0 {
		t.Errorf("last progress %+v, want done at 100%% with records", last)
	}
	st := e.m.Status(ctx)
	if st.State != rechargekit.MirrorReady || st.Records[rechargekit.MirrorCustomers] == 0 || st.Records[rechargekit.MirrorSubscriptions] == 0 {
		t.Fatalf("status after the backfill: %+v", st)
	}

	ids := e.customerIDs(t)
	live := &recharge.Source{Client: e.client}
	want := map[int64]*rechargekit.Card{}
	for _, id := range ids {
		c, err := live.ReadCard(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		want[id] = c
	}
	before := e.requests()
	for _, id := range ids {
		got, err := e.m.Source().ReadCard(ctx, id)
		if err != nil {
			t.Fatalf("customer %d: %v", id, err)
		}
		if diff := cmp.Diff(want[id], got, ignoreFetchedAt); diff != "" {
			t.Errorf("customer %d: mirrored card differs from the live one (-live +mirror):\n%s", id, diff)
		}
		if got.FetchedAt.IsZero() || got.Stale {
			t.Errorf("customer %d: FetchedAt %v, Stale %v", id, got.FetchedAt, got.Stale)
		}
	}
	if n := e.requests() - before; n != 0 {
		t.Errorf("%d Recharge calls while %d cards were read from the mirror, want 0", n, len(ids))
	}
}

// failingStore fails PutMirror once the given number of writes succeeded,
// as a process killed mid-backfill stops writing.
type failingStore struct {
	rechargekit.MirrorStore
	left atomic.Int64
}

var errCrash = errors.New("crash")

func (s *failingStore) PutMirror(ctx context.Context, recs []*rechargekit.MirrorRecord) ([]int64, error) {
	if s.left.Add(-1) < 0 {
		return nil, errCrash
	}
	return s.MirrorStore.PutMirror(ctx, recs)
}

// TestBackfillResumesAfterCrash stops a backfill after a few pages and
// checks that the next one re-reads only the page that was in flight.
func TestBackfillResumesAfterCrash(t *testing.T) {
	t.Parallel()
	const customers, pageSize, written = 75, 10, 3
	seed := rechargetest.GenerateSeed(customers, 7)
	e := newEnv(t, envConfig{seed: &seed, opts: func(o *Options) { o.PageSize = pageSize }})
	ctx := context.Background()

	crashing := &failingStore{MirrorStore: e.store}
	crashing.left.Store(written)
	first := e.newMirror(t, crashing, func(o *Options) { o.PageSize = pageSize })
	if err := first.Backfill(ctx, nil); !errors.Is(err, errCrash) {
		t.Fatalf("backfill over a crashing store: %v, want the crash", err)
	}
	cp, err := e.store.MirrorCheckpoint(ctx, rechargekit.MirrorCustomers)
	if err != nil {
		t.Fatal(err)
	}
	if cp.Done || cp.Records != written*pageSize || cp.Cursor == "" || cp.StartedAt.IsZero() || cp.MaxID == 0 {
		t.Fatalf("checkpoint after the crash: %+v", cp)
	}

	before := e.sim.Stats().Pages["GET /customers"]
	e.backfill(t) // a new Mirror over the same database: a restart
	stats := e.sim.Stats()
	pages := (customers + pageSize - 1) / pageSize
	if got, want := stats.Pages["GET /customers"]-before, pages-written; got != want {
		t.Errorf("the resumed backfill read %d customer pages, want %d (the page in flight and the ones never read)", got, want)
	}
	for route, n := range stats.RepeatedPages {
		if route != "GET /customers" || n != 1 {
			t.Errorf("%s: %d pages read again, want only the customers' page in flight", route, n)
		}
	}
	if st := e.m.Status(ctx); st.State != rechargekit.MirrorReady || st.Records[rechargekit.MirrorCustomers] != customers {
		t.Errorf("status after the resumed backfill: %+v, want ready with %d customers", st, customers)
	}
}

// TestBackfillWithoutEventsScope completes without read_events, and the
// mirrored card says why its timeline is missing, as the live card does.
func TestBackfillWithoutEventsScope(t *testing.T) {
	t.Parallel()
	var scopes []string
	for _, s := range rechargetest.AllScopes {
		if s != "read_events" {
			scopes = append(scopes, s)
		}
	}
	e := newEnv(t, envConfig{sim: rechargetest.Config{Scopes: scopes}})
	ctx := context.Background()
	e.backfill(t)
	cp, err := e.store.MirrorCheckpoint(ctx, rechargekit.MirrorEvents)
	if err != nil {
		t.Fatal(err)
	}
	if !cp.Done || !strings.HasPrefix(cp.Cursor, refusedCursor) {
		t.Fatalf("events checkpoint %+v, want done and refused", cp)
	}
	id := e.customerIDs(t)[0]
	want, err := (&recharge.Source{Client: e.client}).ReadCard(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.m.Source().ReadCard(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if got.Details.Unavailable[rechargekit.SectionEvents] == "" {
		t.Errorf("mirrored card's events section does not say why it is missing: %+v", got.Details.Unavailable)
	}
	if diff := cmp.Diff(want, got, ignoreFetchedAt); diff != "" {
		t.Errorf("mirrored card differs from the live one (-live +mirror):\n%s", diff)
	}
}

// TestRefusedResourceDoesNotHoldTheMirrorBehind: a resource Recharge
// refuses to list is never swept, and must not keep the mirror behind
// once the others are reconciled.
func TestRefusedResourceDoesNotHoldTheMirrorBehind(t *testing.T) {
	t.Parallel()
	var scopes []string
	for _, s := range rechargetest.AllScopes {
		if s != "read_events" {
			scopes = append(scopes, s)
		}
	}
	clock := testkit.NewClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	e := newEnv(t, envConfig{
		sim:  rechargetest.Config{Scopes: scopes, Now: clock.Now},
		opts: func(o *Options) { o.Now = clock.Now },
	})
	ctx := context.Background()
	e.backfill(t)
	clock.Advance(time.Hour)
	if err := e.m.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if st := e.m.Status(ctx); st.State != rechargekit.MirrorReady || !st.Reconciled.Equal(clock.Now()) {
		t.Errorf("an hour later, after a reconciliation: state %s, reconciled %v; want ready as of %v", st.State, st.Reconciled, clock.Now())
	}
}
