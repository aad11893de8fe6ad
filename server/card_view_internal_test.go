package server

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rechargekit/rechargekit"
)

func TestMethodViewExpiry(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 5, 13, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name              string
		month, year       int
		expired, expiring bool
		expiry            string
	}{
		{"expired last month", 11, 2026, true, false, "11/2026"},
		{"expires this month", 12, 2026, false, true, "12/2026"},
		{"expires next month", 1, 2027, false, true, "01/2027"},
		{"expires in three months", 3, 2027, false, false, "03/2027"},
		{"the capture's card, long expired", 3, 2023, true, false, "03/2023"},
		{"no expiry (PayPal)", 0, 0, false, false, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			v := newMethodView(&rechargekit.PaymentMethod{Type: "CREDIT_CARD", Brand: "visa", Last4: "0001", ExpMonth: tt.month, ExpYear: tt.year}, now)
			if v.Expired != tt.expired || v.Expiring != tt.expiring || v.Expiry != tt.expiry {
				t.Errorf("expired %v expiring %v expiry %q, want %v %v %q", v.Expired, v.Expiring, v.Expiry, tt.expired, tt.expiring, tt.expiry)
			}
			if v.Type != "Credit card" || v.Brand != "Visa" {
				t.Errorf("type %q brand %q", v.Type, v.Brand)
			}
		})
	}
}

func TestDiscountText(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		d    rechargekit.Discount
		want string
	}{
		{rechargekit.Discount{Code: "WELCOME10", Value: "10", ValueType: "percentage", Amount: "4.40"}, "WELCOME10 (10% off) −4.40 USD"},
		{rechargekit.Discount{Code: "FIVEOFF", Value: "5.00", ValueType: "fixed_amount"}, "FIVEOFF (5.00 USD off)"},
		{rechargekit.Discount{Code: "FREESHIP", Value: "100", ValueType: "shipping"}, "FREESHIP (100% off shipping)"},
		{rechargekit.Discount{Value: "3", ValueType: "something_new"}, "Discount (3)"},
	} {
		if got := discountText(tt.d, "USD"); got != tt.want {
			t.Errorf("discountText(%+v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

func TestChargeViewFailure(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 5, 13, 0, 0, 0, time.UTC)
	last := time.Date(2022, 6, 6, 20, 10, 19, 0, time.UTC)
	retry := time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC)
	noImages := func(string) string { return "" }
	for _, tt := range []struct {
		name string
		c    rechargekit.Charge
		want *failureView
	}{
		{"declined with a retry", rechargekit.Charge{Status: "error", ErrorType: "CARD_DECLINED", Error: "Your card was declined.", Attempts: 2, LastAttemptAt: &last, RetryAt: &retry},
			&failureView{Text: "The card was declined.", Type: "CARD_DECLINED", Error: "Your card was declined.", Attempts: "2",
				LastAttempt: newTimeView(last, now), Retry: newTimeView(retry, now)}},
		{"max retries (spec 2.2)", rechargekit.Charge{Status: "error", ErrorType: "CLOSED_MAX_RETRIES_REACHED", Attempts: 6, LastAttemptAt: &last, RetryAt: &retry, RetriesExhausted: true},
			&failureView{Text: "Recharge gave up after the last retry.", Type: "CLOSED_MAX_RETRIES_REACHED", Attempts: "6", LastAttempt: newTimeView(last, now), RunOut: true}},
		{"an unknown type without attempts (2025 captures)", rechargekit.Charge{Status: "error", ErrorType: "NEW_KIND_OF_ERROR", RetryAt: &retry},
			&failureView{Text: "The charge failed: new kind of error.", Type: "NEW_KIND_OF_ERROR", Retry: newTimeView(retry, now)}},
		{"queued: no failure", rechargekit.Charge{Status: "queued"}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := newChargeView(&tt.c, now, noImages, rechargekit.AdminLinks{}).Failure
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("failure (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEventViewFallbacks(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 5, 13, 0, 0, 0, time.UTC)
	v := newEventView(&rechargekit.Event{ObjectType: "charge", ObjectID: 3, Verb: "failed", Origin: "api"}, now)
	if v.What != "Charge 3 failed" || v.Who != "an API token" {
		t.Errorf("what %q who %q", v.What, v.Who)
	}
	v = newEventView(&rechargekit.Event{Description: "Cancelled subscription", Origin: "portal", Who: ""}, now)
	if v.Who != "the customer, in the portal" {
		t.Errorf("who %q", v.Who)
	}
	if got := capitalize("équipe"); got != "Équipe" {
		t.Errorf("capitalize = %q", got)
	}
}
