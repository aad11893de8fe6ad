package rechargetest

import (
	"cmp"
	"slices"
	"strings"
	"time"
)

// Seeds of the whole-picture card: payment methods, discounts, one-time
// products, skipped and failed charges.

// SeedCard is a customer's default payment method.
type SeedCard struct {
	// PaymentType is CREDIT_CARD (default), PAYPAL, APPLE_PAY, GOOGLE_PAY
	// or SEPA_DEBIT.
	PaymentType string
	Brand       string // default "visa"
	Last4       string // default: four digits from the customer id
	// ExpiresInMonths is how many months after the simulator's current
	// month the card expires: 0 this month, 1 next month, -1 last month.
	ExpiresInMonths int
}

// SeedDiscount is an address discount.
type SeedDiscount struct {
	Code      string // e.g. "WELCOME10"
	Value     string // e.g. "10.00"
	ValueType string // percentage (default), fixed_amount or shipping
}

// SeedOnetime is a one-time product on the next charge of an address.
type SeedOnetime struct {
	VariantID string // a catalog variant
	Quantity  int    // default 1
	Price     string // default the variant's price
}

// newDiscount returns the store's discount of the code, adding it to the
// store when it is new.
func (st *store) newDiscount(d *SeedDiscount) *discountJSON {
	if old := st.discounts[strings.ToUpper(d.Code)]; old != nil {
		return old
	}
	vt := d.ValueType
	if vt == "" {
		vt = "percentage"
	}
	v, ok := normPrice(d.Value)
	if !ok {
		v = "0.00"
	}
	out := &discountJSON{ID: st.nextID(kindDiscount), Code: d.Code, Value: v, ValueType: vt}
	st.discounts[strings.ToUpper(d.Code)] = out
	return out
}

// loadPaymentMethod gives a seeded customer its default payment method,
// billed to its first address; the id is the one the addresses already
// point to.
func (st *store) loadPaymentMethod(cu *customerJSON, card *SeedCard, addrIDs []int64, created, now time.Time) {
	c := SeedCard{ExpiresInMonths: 24 + int(cu.ID%24)}
	if card != nil {
		c = *card
	}
	if c.PaymentType == "" {
		c.PaymentType = "CREDIT_CARD"
	}
	if c.Brand == "" {
		c.Brand = "visa"
	}
	if c.Last4 == "" {
		c.Last4 = last4(strings.Repeat("4", 4) + cu.Hash)
	}
	var billing *addressJSON
	if len(addrIDs) > 0 {
		billing = st.addresses[addrIDs[0]]
	}
	y, m, _ := now.UTC().Date()
	exp := time.Date(y, m+time.Month(c.ExpiresInMonths), 1, 0, 0, 0, 0, time.UTC)
	ctok, mtok := processorTokens(cu.paymentMethodID)
	pm := &paymentMethodJSON{
		ID: cu.paymentMethodID, CustomerID: cu.ID, BillingAddress: billingOf(billing),
		CreatedAt: sec(created), Default: true, Include: map[string]any{},
		PaymentType: c.PaymentType, ProcessorCustomerToken: ctok, ProcessorName: "stripe",
		ProcessorPaymentMethodToken: mtok, UpdatedAt: sec(created),
	}
	switch c.PaymentType {
	case "CREDIT_CARD":
		pm.PaymentDetails = pmDetails{Brand: c.Brand, ExpMonth: int(exp.Month()), ExpYear: exp.Year(), Last4: c.Last4}
	case "PAYPAL":
		pm.PaymentDetails = pmDetails{PaypalEmail: cu.Email}
	case "APPLE_PAY", "GOOGLE_PAY":
		pm.PaymentDetails = pmDetails{Brand: c.Brand, ExpMonth: int(exp.Month()), ExpYear: exp.Year(), Last4: c.Last4,
			WalletType: strings.ToLower(c.PaymentType)}
	}
	st.addPaymentMethod(pm)
}

// loadCharges applies a seeded customer's one-time products, skips and
// failures to its freshly queued charges, and returns the timeline events
// they make.
func (st *store) loadCharges(sc *SeedCustomer, addrIDs, subIDs []int64, now time.Time) []seedEvent {
	var evs []seedEvent
	for i, sa := range sc.Addresses {
		if len(sa.Onetimes) == 0 || i >= len(addrIDs) {
			continue
		}
		ch := st.nextQueued(addrIDs[i])
		if ch == nil {
			continue
		}
		for _, so := range sa.Onetimes {
			ref, ok := st.variants[so.VariantID]
			if !ok {
				continue
			}
			tmp := &subscriptionJSON{ID: st.nextID(kindOnetime), Quantity: max(so.Quantity, 1)}
			applyVariant(tmp, ref)
			tmp.ExternalVariantID = ecom(so.VariantID)
			if p, ok := normPrice(so.Price); ok {
				tmp.Price = p
			}
			li := st.lineFor(tmp)
			li.PurchaseItemType = "onetime"
			ch.LineItems = append(ch.LineItems, li)
			evs = append(evs, seedEvent{"onetime", tmp.ID, "created", OriginPortal, now.AddDate(0, 0, -2)})
		}
		recalc(ch)
		if sa.Discount != nil {
			evs = append(evs, seedEvent{"address", addrIDs[i], "updated", OriginMerchant, now.AddDate(0, 0, -3)})
		}
	}
	yesterday := now.Add(-26 * time.Hour)
	for i := range sc.Subscriptions {
		ss := &sc.Subscriptions[i]
		sub := st.subs[subIDs[i]]
		if !ss.SkipNext || sub.Status != "active" {
			continue
		}
		ch := st.queuedWith(sub)
		if ch == nil {
			continue
		}
		skipped, _ := st.split(ch, []int64{sub.ID}, "skipped", yesterday)
		d, _ := parseDate(skipped.ScheduledAt)
		sub.NextChargeScheduledAt = strp(addInterval(d, sub.OrderIntervalUnit, sub.OrderIntervalFrequency).Format(dateLayout))
		sub.UpdatedAt = sec(yesterday)
		st.queueSub(sub, yesterday)
		evs = append(evs, seedEvent{"subscription", sub.ID, "skipped", OriginPortal, yesterday})
	}
	for i := range sc.Subscriptions {
		ss := &sc.Subscriptions[i]
		sub := st.subs[subIDs[i]]
		if ss.FailedAttempts <= 0 || sub.Status != "active" {
			continue
		}
		ch := st.queuedWith(sub)
		if ch == nil {
			continue
		}
		typ := cmp.Or(ss.ErrorType, "CARD_DECLINED")
		n := min(ss.FailedAttempts, MaxChargeAttempts)
		// The attempts were retryAfterDays apart, the last one yesterday.
		first := yesterday.AddDate(0, 0, -retryAfterDays*(n-1))
		ch.ScheduledAt = today(first).Format(dateLayout)
		ch.OriginalScheduledAt = ch.ScheduledAt
		ch.CreatedAt = sec(first.AddDate(0, 0, -7))
		for _, li := range ch.LineItems {
			if s := st.subs[li.PurchaseItemID]; s != nil {
				s.NextChargeScheduledAt = strp(ch.ScheduledAt)
			}
		}
		for k := range n {
			at := first.AddDate(0, 0, retryAfterDays*k)
			st.failCharge(ch, typ, "", at)
			evs = append(evs, seedEvent{"charge", ch.ID, "failed", OriginRecharge, at})
		}
	}
	return evs
}

// nextQueued is the address's earliest queued charge.
func (st *store) nextQueued(addrID int64) *chargeJSON {
	a := st.addresses[addrID]
	if a == nil {
		return nil
	}
	var best *chargeJSON
	for _, id := range st.custCharges[a.CustomerID] {
		ch := st.charges[id]
		if ch.Status == "queued" && ch.AddressID == addrID && (best == nil || ch.ScheduledAt < best.ScheduledAt) {
			best = ch
		}
	}
	return best
}

// queuedWith is the queued charge that holds the subscription's line.
func (st *store) queuedWith(sub *subscriptionJSON) *chargeJSON {
	for _, id := range st.custCharges[sub.CustomerID] {
		ch := st.charges[id]
		if ch.Status == "queued" && slices.ContainsFunc(ch.LineItems, func(li *lineItem) bool { return li.PurchaseItemID == sub.ID }) {
			return ch
		}
	}
	return nil
}
