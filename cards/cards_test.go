package cards_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/cards"
)

// fakeSource is an in-memory RechargeSource that records its calls.
type fakeSource struct {
	mu        sync.Mutex
	customers map[int64]*rechargekit.Customer
	subs      map[int64][]*rechargekit.Subscription
	fail      map[string]error // by call key: "customer", "subscriptions", "email:<e>", "external:<id>"
	calls     []string
	block     chan struct{} // when set, Subscriptions waits on it or on ctx
}

func (f *fakeSource) record(call string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
	return f.fail[call]
}

func (f *fakeSource) Customer(ctx context.Context, id int64) (*rechargekit.Customer, error) {
	if err := f.record("customer"); err != nil {
		return nil, err
	}
	c, ok := f.customers[id]
	if !ok {
		return nil, rechargekit.Errorf(rechargekit.ENOTFOUND, "no recharge customer %d", id)
	}
	return c, nil
}

func (f *fakeSource) FindCustomers(ctx context.Context, email, externalID string) ([]*rechargekit.Customer, error) {
	key := "email:" + email
	if externalID != "" {
		key = "external:" + externalID
	}
	if err := f.record(key); err != nil {
		return nil, err
	}
	var out []*rechargekit.Customer
	for _, c := range f.customers {
		if (email != "" && strings.EqualFold(c.Email, email)) || (externalID != "" && c.ExternalID == externalID) {
			out = append(out, c)
		}
	}
	return out, nil
}

func (f *fakeSource) Subscriptions(ctx context.Context, customerID int64) ([]*rechargekit.Subscription, error) {
	if f.block != nil {
		select {
		case <-f.block:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if err := f.record("subscriptions"); err != nil {
		return nil, err
	}
	return f.subs[customerID], nil
}

func ptr[T any](v T) *T { return &v }

var t0 = time.Date(2025, 1, 26, 15, 20, 33, 0, time.UTC)

func newFake() *fakeSource {
	return &fakeSource{
		customers: map[int64]*rechargekit.Customer{
			300: {ID: 300, Email: "Sam@Example.com", FirstName: "Sam", SubscriptionsTotal: ptr(3), SubscriptionsActive: ptr(1)},
			200: {ID: 200, Email: "sam.t@example.org", ExternalID: "777"},
			100: {ID: 100, Email: "other@example.com"},
		},
		subs: map[int64][]*rechargekit.Subscription{
			300: {
				{ID: 1, Status: "expired", CreatedAt: t0},
				{ID: 2, Status: "cancelled", CreatedAt: t0},
				{ID: 3, Status: "active", CreatedAt: t0.Add(-time.Hour)},
				{ID: 4, Status: "active", CreatedAt: t0},
				{ID: 5, Status: "active", CreatedAt: t0},
			},
		},
		fail: map[string]error{},
	}
}

func TestCard(t *testing.T) {
	t.Parallel()
	src := newFake()
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
	// Active first (newest created, then highest id), then cancelled, then expired.
	if diff := cmp.Diff([]int64{5, 4, 3, 2, 1}, ids); diff != "" {
		t.Errorf("subscription order (-want +got):\n%s", diff)
	}
	if card.Customer.ID != 300 || !card.FetchedAt.Equal(t0) {
		t.Errorf("card customer %d fetched %v", card.Customer.ID, card.FetchedAt)
	}
	// The source's slice is not reordered in place.
	if src.subs[300][0].ID != 1 {
		t.Error("Card sorted the source's slice in place")
	}
}

func TestCardErrors(t *testing.T) {
	t.Parallel()
	upstream := rechargekit.Errorf(rechargekit.EUPSTREAM, "recharge is unavailable")
	tests := []struct {
		name     string
		id       int64
		fail     map[string]error
		wantCode string
		wantMsg  string
	}{
		{"unknown customer", 999, nil, rechargekit.ENOTFOUND, "no recharge customer 999"},
		{"zero id", 0, nil, rechargekit.EINVALID, "A Recharge customer id must be a positive number."},
		{"customer fails", 300, map[string]error{"customer": upstream}, rechargekit.EUPSTREAM, "recharge is unavailable"},
		{"subscriptions fail", 300, map[string]error{"subscriptions": upstream}, rechargekit.EUPSTREAM, "recharge is unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src := newFake()
			for k, v := range tt.fail {
				src.fail[k] = v
			}
			card, err := cards.New(src).Card(context.Background(), tt.id)
			code, msg := rechargekit.ErrorCode(err), rechargekit.ErrorMessage(err)
			if card != nil || code != tt.wantCode || msg != tt.wantMsg {
				t.Errorf("Card() = %v, %v (code %q, message %q); want nil, code %q and message %q", card, err, code, msg, tt.wantCode, tt.wantMsg)
			}
		})
	}
}

// subscriptionsWatch is a RechargeSource that reports how each
// Subscriptions call ended.
type subscriptionsWatch struct {
	*fakeSource
	ended chan error
}

func (w subscriptionsWatch) Subscriptions(ctx context.Context, customerID int64) ([]*rechargekit.Subscription, error) {
	subs, err := w.fakeSource.Subscriptions(ctx, customerID)
	w.ended <- err
	return subs, err
}

func TestCardCancelsSubscriptionsWhenCustomerMissing(t *testing.T) {
	t.Parallel()
	src := newFake()
	src.block = make(chan struct{}) // Subscriptions only returns when its context ends
	watch := subscriptionsWatch{src, make(chan error, 1)}
	// Should Card not cancel it, the subscriptions call ends with this
	// deadline instead of hanging the test.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	card, err := cards.New(watch).Card(ctx, 999)
	if card != nil || rechargekit.ErrorCode(err) != rechargekit.ENOTFOUND || rechargekit.ErrorMessage(err) != "no recharge customer 999" {
		t.Errorf("Card() = %v, %v; want nil and the customer's ENOTFOUND", card, err)
	}
	// Card waits for the call it started, so it has ended by now, and it
	// ended because Card cancelled it, not by the test's deadline.
	select {
	case err := <-watch.ended:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("the subscriptions call ended with %v, want context.Canceled", err)
		}
	default:
		t.Error("Card returned while its subscriptions call was still running")
	}
	if diff := cmp.Diff([]string{"customer"}, src.calls); diff != "" {
		t.Errorf("calls that reached the source (-want +got):\n%s", diff)
	}
}

func TestFindCustomers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		q         rechargekit.CustomerSearch
		want      []int64
		wantBy    []string
		wantCalls int
	}{
		{"nothing to search", rechargekit.CustomerSearch{}, nil, nil, 0},
		{"one email, different case", rechargekit.CustomerSearch{Emails: []string{" sam@example.COM "}}, []int64{300}, []string{"email"}, 1},
		{"two emails two customers", rechargekit.CustomerSearch{Emails: []string{"sam@example.com", "sam.t@example.org"}}, []int64{300, 200}, []string{"email", "email"}, 2},
		{"duplicate emails looked up once", rechargekit.CustomerSearch{Emails: []string{"a@x.com", "A@X.com", ""}}, nil, nil, 1},
		{"customer id", rechargekit.CustomerSearch{CustomerID: 100}, []int64{100}, []string{"recharge_customer_id"}, 1},
		{"unknown customer id is no match", rechargekit.CustomerSearch{CustomerID: 5}, nil, nil, 1},
		{"external id", rechargekit.CustomerSearch{ExternalID: "777"}, []int64{200}, []string{"shopify_customer_id"}, 1},
		{"merged by id, first reason kept", rechargekit.CustomerSearch{Emails: []string{"sam.t@example.org"}, ExternalID: "777", CustomerID: 200}, []int64{200}, []string{"email"}, 3},
		{"at most five emails", rechargekit.CustomerSearch{Emails: []string{"1@x", "2@x", "3@x", "4@x", "5@x", "6@x"}}, nil, nil, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src := newFake()
			got, err := cards.New(src).FindCustomers(context.Background(), tt.q)
			if err != nil {
				t.Fatal(err)
			}
			var ids []int64
			var by []string
			for _, m := range got {
				ids = append(ids, m.Customer.ID)
				by = append(by, m.By)
			}
			if diff := cmp.Diff(tt.want, ids); diff != "" {
				t.Errorf("ids (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantBy, by); diff != "" {
				t.Errorf("reasons (-want +got):\n%s", diff)
			}
			if len(src.calls) != tt.wantCalls {
				t.Errorf("calls = %v, want %d", src.calls, tt.wantCalls)
			}
		})
	}
}

func TestFindCustomersFailsWhole(t *testing.T) {
	t.Parallel()
	src := newFake()
	src.fail["email:sam.t@example.org"] = rechargekit.Errorf(rechargekit.EUPSTREAM, "recharge is unavailable")
	got, err := cards.New(src).FindCustomers(context.Background(),
		rechargekit.CustomerSearch{Emails: []string{"sam@example.com", "sam.t@example.org"}})
	if rechargekit.ErrorCode(err) != rechargekit.EUPSTREAM || got != nil {
		t.Fatalf("FindCustomers = %v, %v; want nil, EUPSTREAM (a partial list could auto-link wrongly)", got, err)
	}
	var e *rechargekit.Error
	if !errors.As(err, &e) {
		t.Fatal("error is not a *rechargekit.Error")
	}
}
