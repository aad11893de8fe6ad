package rechargekit_test

import (
	"testing"
	"time"

	"github.com/rechargekit/rechargekit"
)

func TestChargeErrorText(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"CARD_DECLINED":  "The card was declined",
		"card_declined":  "The card was declined",
		"":               "The charge failed",
		"SOMETHING_NEW":  "The charge failed: something new",
		" CARD_EXPIRED ": "The card has expired",
	} {
		if got := rechargekit.ChargeErrorText(in); got != want {
			t.Errorf("ChargeErrorText(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestAdminLinks(t *testing.T) {
	t.Parallel()
	a := rechargekit.AdminLinks{Base: "https://shop-sp.admin.rechargeapps.com/"}
	for got, want := range map[string]string{
		a.Customer(183940021):                "https://shop-sp.admin.rechargeapps.com/merchant/customers/183940021",
		a.Subscription(585062092):            "https://shop-sp.admin.rechargeapps.com/merchant/subscriptions/585062092/details",
		a.Charge(1302050269):                 "https://shop-sp.admin.rechargeapps.com/merchant/orders/charges/1302050269",
		a.Customer(0):                        "",
		rechargekit.AdminLinks{}.Customer(1): "",
	} {
		if got != want {
			t.Errorf("link = %q, want %q", got, want)
		}
	}
}

func TestChargeTotalFinalAndCardExpiry(t *testing.T) {
	t.Parallel()
	c := &rechargekit.Charge{Shipping: []rechargekit.ShippingLine{{Title: "Standard", Price: "4.90"}}}
	if !c.TotalFinal() {
		t.Error("a quoted shipping line: total not final")
	}
	c.Shipping = append(c.Shipping, rechargekit.ShippingLine{Code: "pending", Pending: true})
	if c.TotalFinal() {
		t.Error("a pending shipping line: total final")
	}
	m := &rechargekit.PaymentMethod{ExpMonth: 12, ExpYear: 2026}
	if at, ok := m.Expires(); !ok || !at.Equal(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("Expires = %v, %v", at, ok)
	}
	if _, ok := (&rechargekit.PaymentMethod{Type: "PAYPAL"}).Expires(); ok {
		t.Error("a PayPal method has an expiry")
	}
}
