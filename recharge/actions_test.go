package recharge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/rechargekit/rechargekit"
)

// actionServer answers every request with status and body, and records
// the method, path, query and body it saw.
type actionServer struct {
	mu     sync.Mutex
	status int
	body   string
	seen   []string
	bodies []string
}

func (s *actionServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.seen = append(s.seen, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery)
	s.bodies = append(s.bodies, string(b))
	status, body := s.status, s.body
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

func newActions(t *testing.T, status int, body string) (*Actions, *actionServer) {
	t.Helper()
	as := &actionServer{status: status, body: body}
	srv := MustServer(t, as)
	return &Actions{Client: MustClient(t, srv, nil, WithMaxRetries(0))}, as
}

func TestActionErrorsMapToDomainCodes(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		status  int
		body    string
		code    string
		message string
	}{
		"422 is Recharge's refusal, one line": {422, `{"errors":{"status":["Only charges with status queued and error can be skipped"]}}`,
			rechargekit.EREFUSED, "Recharge refused to skip the charge: status: Only charges with status queued and error can be skipped"},
		"422 with a bare string value": {422, `{"errors":{"charge_interval_unit_type":"when passing order_interval_unit provide\ncharge_interval_frequency"}}`,
			rechargekit.EREFUSED, "Recharge refused to skip the charge: charge_interval_unit_type: when passing order_interval_unit provide charge_interval_frequency"},
		"403 is the token's missing scope": {403, `{"errors":"Token does not have the required scope: write_orders"}`,
			rechargekit.EREFUSED, "rechargekit's Recharge token may not do this; the store's admin can grant it the permission in Recharge."},
		"404": {404, `{"errors":"Not Found"}`, rechargekit.ENOTFOUND, "Recharge does not know it: could not skip the charge."},
		"401": {401, `{"error":"bad authentication"}`, rechargekit.EUPSTREAM, "Recharge refused rechargekit's API token; could not skip the charge."},
		"500": {500, `{"errors":"Internal Server Error"}`, rechargekit.EUPSTREAM, "Recharge is unavailable; could not skip the charge."},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			a, _ := newActions(t, tc.status, tc.body)
			err := a.SkipCharge(context.Background(), 7, 9)
			if got := rechargekit.ErrorCode(err); got != tc.code {
				t.Fatalf("code %q (%v), want %q", got, err, tc.code)
			}
			if got := rechargekit.ErrorMessage(err); got != tc.message {
				t.Errorf("message %q, want %q", got, tc.message)
			}
		})
	}
}

func TestActionWritesSendRechargesBodies(t *testing.T) {
	t.Parallel()
	const subBody = `{"subscription":{"id":9,"address_id":4,"customer_id":3,"status":"active","is_prepaid":true,"order_interval_unit":"week","charge_interval_frequency":2,"order_interval_frequency":2,"quantity":3,"price":"10.00","next_charge_scheduled_at":"2026-12-24"}}`
	ctx := context.Background()
	for name, tc := range map[string]struct {
		call func(a *Actions) error
		want string // method path?query body
	}{
		"cancel": {func(a *Actions) error {
			_, err := a.CancelSubscription(ctx, 9, rechargekit.CancelRequest{Reason: "Too expensive", Comments: "Moving abroad. (by a@b.com via rechargekit)", SendEmail: false})
			return err
		}, `POST /subscriptions/9/cancel? {"cancellation_reason":"Too expensive","cancellation_reason_comments":"Moving abroad. (by a@b.com via rechargekit)","send_email":false}`},
		"activate": {func(a *Actions) error { _, err := a.ActivateSubscription(ctx, 9); return err }, `POST /subscriptions/9/activate? {}`},
		"set date": {func(a *Actions) error { _, err := a.SetNextChargeDate(ctx, 9, "2026-12-24"); return err },
			`POST /subscriptions/9/set_next_charge_date? {"date":"2026-12-24"}`},
		"frequency sends all three interval fields": {func(a *Actions) error {
			_, err := a.UpdateSubscription(ctx, 9, rechargekit.SubscriptionUpdate{IntervalUnit: "week", IntervalFrequency: 2})
			return err
		}, `PUT /subscriptions/9? {"charge_interval_frequency":2,"order_interval_frequency":2,"order_interval_unit":"week"}`},
		"quantity": {func(a *Actions) error {
			_, err := a.UpdateSubscription(ctx, 9, rechargekit.SubscriptionUpdate{Quantity: 3})
			return err
		}, `PUT /subscriptions/9? {"quantity":3}`},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			a, as := newActions(t, 200, subBody)
			if err := tc.call(a); err != nil {
				t.Fatal(err)
			}
			if got := as.seen[0] + " " + as.bodies[0]; got != tc.want {
				t.Errorf("sent %s\nwant %s", got, tc.want)
			}
		})
	}
	a, _ := newActions(t, 200, subBody)
	got, err := a.ActionSubscription(ctx, 9)
	if err != nil {
		t.Fatal(err)
	}
	if got.AddressID != 4 || !got.Prepaid || got.CustomerID != 3 || got.IntervalUnit != "week" || got.Quantity != 3 {
		t.Errorf("ActionSubscription = %+v %+v", got, got.Subscription)
	}
}

func TestActionSkipSendsPurchaseItemIDs(t *testing.T) {
	t.Parallel()
	a, as := newActions(t, 200, `{"charge":{"id":7,"status":"skipped"}}`)
	if err := a.UnskipCharge(context.Background(), 7, 9); err != nil {
		t.Fatal(err)
	}
	if got := as.seen[0] + " " + as.bodies[0]; got != `POST /charges/7/unskip? {"purchase_item_ids":[9]}` {
		t.Errorf("sent %s", got)
	}
}

func TestActionChargesAndReasons(t *testing.T) {
	t.Parallel()
	a, as := newActions(t, 200, `{"next_cursor":null,"previous_cursor":null,"charges":[{"id":7,"address_id":4,"status":"queued","scheduled_at":"2026-12-24","currency":"usd","total_price":"54.40",
		"line_items":[{"purchase_item_id":9,"title":"Cat Pajamas","variant_title":"Large","quantity":1,"total_price":"49.50"}]}]}`)
	got, err := a.Charges(context.Background(), 3, "queued")
	if err != nil {
		t.Fatal(err)
	}
	want := []*rechargekit.Charge{{ID: 7, AddressID: 4, Status: "queued", ScheduledAt: "2026-12-24", TotalPrice: "54.40", Currency: "USD",
		Lines: []rechargekit.ChargeLine{{SubscriptionID: 9, Title: "Cat Pajamas", VariantTitle: "Large", Quantity: 1, TotalPrice: "49.50"}}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("charges (-want +got):\n%s", diff)
	}
	if q := as.seen[0]; !strings.Contains(q, "customer_id=3") || !strings.Contains(q, "status=queued") || !strings.Contains(q, "sort_by=scheduled_at-asc") {
		t.Errorf("charges query %s", q)
	}

	r, _ := newActions(t, 200, `{"next_cursor":null,"retention_strategies":[{"id":1,"reason":"Too expensive"},{"id":2,"reason":" "},{"id":3,"reason":"Moving abroad"},{"id":4,"reason":"Too expensive"}]}`)
	reasons, err := r.RetentionReasons(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"Too expensive", "Moving abroad"}, reasons); diff != "" {
		t.Errorf("reasons (-want +got):\n%s", diff)
	}
	none, _ := newActions(t, 404, `{"errors":"Not Found"}`)
	if reasons, err := none.RetentionReasons(context.Background()); err != nil || reasons == nil || len(reasons) != 0 {
		t.Errorf("reasons of a store without the route: %v, %v; want none", reasons, err)
	}

	s, _ := newActions(t, 200, `{"token_information":{"name":"rechargekit","scopes":["read_orders","write_subscriptions"]}}`)
	scopes, err := s.TokenScopes(context.Background())
	if err != nil || !cmp.Equal(scopes, []string{"read_orders", "write_subscriptions"}) {
		t.Errorf("scopes %v, %v", scopes, err)
	}
}

// TestActionErrorBreakerOpen: an action refused by the open breaker says
// why in the breaker's words, as a lookup does, not "unavailable".
func TestActionErrorBreakerOpen(t *testing.T) {
	t.Parallel()
	err := actionError("skip the charge", fmt.Errorf("recharge: POST /charges/1/skip: %w", ErrBreakerOpen))
	if rechargekit.ErrorCode(err) != rechargekit.EUPSTREAM || !errors.Is(err, ErrBreakerOpen) ||
		rechargekit.ErrorMessage(err) != "Recharge is failing; rechargekit is not asking it for a few seconds, so it could not skip the charge." {
		t.Errorf("actionError = %v (%s)", err, rechargekit.ErrorMessage(err))
	}
}
