package cards_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/cards"
	"github.com/rechargekit/rechargekit/cards/cachetest"
)

// detailsFake is a fakeSource that is also a rechargekit.DetailsSource.
type detailsFake struct {
	*fakeSource
	details    *rechargekit.CardDetails
	err        error
	panics     bool
	dcalls     atomic.Int32 // Details calls
	cancelled  atomic.Bool
	detailsIn  chan struct{}
	waitCancel bool // Details waits for its context to end
}

func (f *detailsFake) Details(ctx context.Context, customerID int64) (*rechargekit.CardDetails, error) {
	f.dcalls.Add(1)
	if f.detailsIn != nil {
		close(f.detailsIn)
	}
	if f.waitCancel {
		<-ctx.Done()
		f.cancelled.Store(true)
		return nil, ctx.Err()
	}
	if f.panics {
		panic("details exploded")
	}
	return f.details, f.err
}

// TestCardReadsDetails puts the details on the card, read alongside the
// customer and the subscriptions.
func TestCardReadsDetails(t *testing.T) {
	t.Parallel()
	want := cachetest.Details(300, t0)
	src := &detailsFake{fakeSource: newFake(), details: want, detailsIn: make(chan struct{})}
	// The subscriptions wait until the details have started: the reads
	// run at the same time.
	src.block = src.detailsIn
	svc := cards.New(src)
	card, err := svc.Card(context.Background(), 300)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, card.Details); diff != "" {
		t.Errorf("details (-want +got):\n%s", diff)
	}
	if len(card.Subscriptions) != 5 || src.dcalls.Load() != 1 {
		t.Errorf("subscriptions %d, details calls %d", len(card.Subscriptions), src.dcalls.Load())
	}
}

// TestCardSurvivesDetailsFailure: a details failure (an error or a panic)
// marks every section unavailable and never fails the card.
func TestCardSurvivesDetailsFailure(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		src  *detailsFake
		msg  string
	}{
		{"upstream error", &detailsFake{fakeSource: newFake(),
			err: rechargekit.Errorf(rechargekit.EUPSTREAM, "Recharge is unavailable, so rechargekit could not read the card's details.")},
			"Recharge is unavailable, so rechargekit could not read the card's details."},
		{"internal error", &detailsFake{fakeSource: newFake(), err: errors.New("boom")},
			"Recharge did not return this part of the card just now; it is read again with the card."},
		{"panic", &detailsFake{fakeSource: newFake(), panics: true},
			"Recharge did not return this part of the card just now; it is read again with the card."},
		{"nil details", &detailsFake{fakeSource: newFake()},
			"Recharge did not return this part of the card just now; it is read again with the card."},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			svc := cards.New(tt.src)
			svc.Logger = quietLogger()
			card, err := svc.Card(context.Background(), 300)
			if err != nil {
				t.Fatalf("the card failed with its details: %v", err)
			}
			if len(card.Subscriptions) != 5 || card.Details == nil {
				t.Fatalf("card = %+v", card)
			}
			for _, sec := range []string{rechargekit.SectionNextCharges, rechargekit.SectionPayment, rechargekit.SectionRecentOrders,
				rechargekit.SectionAddresses, rechargekit.SectionEvents} {
				if got := card.Details.Unavailable[sec]; got != tt.msg {
					t.Errorf("%s: %q, want %q", sec, got, tt.msg)
				}
			}
		})
	}
}

// TestCardCancelsDetailsWhenCustomerMissing: no customer, no details read
// left running.
func TestCardCancelsDetailsWhenCustomerMissing(t *testing.T) {
	t.Parallel()
	src := &detailsFake{fakeSource: newFake(), waitCancel: true}
	_, err := cards.New(src).Card(context.Background(), 999)
	if rechargekit.ErrorCode(err) != rechargekit.ENOTFOUND {
		t.Fatalf("err = %v", err)
	}
	if !src.cancelled.Load() {
		t.Error("Card returned with the details read still running")
	}
}

// readerFake is a CardReader: Card must use ReadCard and nothing else.
type readerFake struct {
	*fakeSource
	card  *rechargekit.Card
	err   error
	reads atomic.Int32
}

func (f *readerFake) ReadCard(ctx context.Context, customerID int64) (*rechargekit.Card, error) {
	f.reads.Add(1)
	return f.card, f.err
}

func TestCardUsesCardReader(t *testing.T) {
	t.Parallel()
	fake := newFake()
	whole := &rechargekit.Card{Customer: *fake.customers[300], Subscriptions: fake.subs[300], Details: cachetest.Details(300, t0)}
	src := &readerFake{fakeSource: fake, card: whole}
	svc := cards.New(src)
	svc.Now = func() time.Time { return t0 }
	card, err := svc.Card(context.Background(), 300)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, s := range card.Subscriptions {
		ids = append(ids, s.ID)
	}
	if diff := cmp.Diff([]int64{5, 4, 3, 2, 1}, ids); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
	if !card.FetchedAt.Equal(t0) || card.Details != whole.Details || src.reads.Load() != 1 || len(fake.calls) != 0 {
		t.Errorf("card %+v, reads %d, other calls %v", card, src.reads.Load(), fake.calls)
	}
	if fake.subs[300][0].ID != 1 {
		t.Error("Card sorted the reader's slice in place")
	}

	src.err = rechargekit.Errorf(rechargekit.ENOTFOUND, "Recharge has no such customer.")
	if _, err := svc.Card(context.Background(), 300); rechargekit.ErrorCode(err) != rechargekit.ENOTFOUND {
		t.Errorf("err = %v", err)
	}
}

// TestCachedDetailsWarmCostZero: a warm card answers with its details and
// asks the source nothing.
func TestCachedDetailsWarmCostZero(t *testing.T) {
	t.Parallel()
	src := &detailsFake{fakeSource: newFake(), details: cachetest.Details(300, t0)}
	cached := cards.NewCached(cards.New(src), cards.NewMemoryCache(10), cards.CachedOptions{RefreshAfter: -1, Logger: quietLogger()})
	t.Cleanup(func() { _ = cached.Close() })
	MustCard(t, cached, 300)
	src.mu.Lock()
	before := len(src.fakeSource.calls)
	src.mu.Unlock()
	card := MustCard(t, cached, 300)
	src.mu.Lock()
	after := len(src.fakeSource.calls)
	src.mu.Unlock()
	if after != before || src.dcalls.Load() != 1 {
		t.Errorf("warm lookup made %d source calls and %d details calls in all", after-before, src.dcalls.Load())
	}
	if diff := cmp.Diff(cachetest.Details(300, t0), card.Details); diff != "" {
		t.Errorf("warm details (-want +got):\n%s", diff)
	}
}
