package recharge

import (
	"cmp"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/rechargekit/rechargekit"
)

// This file maps Recharge's charges, addresses, payment methods and events
// to the card's sections beyond the subscriptions (rechargekit.CardDetails).
// Like domain.go it is pure: the Source decides which reads failed.

// maxErrorText bounds the charge error text a card carries: Recharge's
// error field has been seen holding a whole retry log.
const maxErrorText = 300

// DetailsData is what the card's sections are built from. A nil field
// means it was not read; the sections that need it stay empty.
type DetailsData struct {
	// Customer gives the dunning flag, and through Include the addresses
	// and (when PaymentMethods is nil) the payment methods.
	Customer *Customer
	// Subscriptions give each subscription's max_retries_reached flag.
	Subscriptions []*Subscription
	// Charges are the customer's charges in any order (the newest 250).
	Charges []*Charge
	// PaymentMethods, when read on their own, win over Customer.Include's.
	PaymentMethods []*PaymentMethod
	// Events are the customer's events in any order.
	Events []*Event
}

// DomainDetails maps d to the card's sections: next charges (queued and
// retrying, earliest first, with their ship-to address), payment (dunning
// flag, failing charges newest first, default method), recent orders (the
// last RecentOrdersMax processed charges), addresses and events (the last
// EventsMax, newest first). Unavailable is left nil for the caller.
func DomainDetails(d DetailsData) *rechargekit.CardDetails {
	out := &rechargekit.CardDetails{}
	var addrs []*Address
	pms := d.PaymentMethods
	if d.Customer != nil && d.Customer.Include != nil {
		addrs = d.Customer.Include.Addresses
		if pms == nil {
			pms = d.Customer.Include.PaymentMethods
		}
	}
	byID := map[int64]*rechargekit.Address{}
	for _, a := range addrs {
		if a == nil {
			continue
		}
		da := DomainAddress(a)
		byID[da.ID] = da
		out.Addresses = append(out.Addresses, da)
	}
	slices.SortStableFunc(out.Addresses, func(a, b *rechargekit.Address) int { return cmp.Compare(a.ID, b.ID) })

	exhausted := map[int64]bool{}
	for _, s := range d.Subscriptions {
		if s != nil && bool(s.MaxRetriesReached) {
			exhausted[int64(s.ID)] = true
		}
	}
	var charges []*rechargekit.Charge
	for _, c := range d.Charges {
		if c != nil {
			charges = append(charges, DomainCardCharge(c, byID, exhausted))
		}
	}
	out.NextCharges = NextCharges(charges)
	out.RecentOrders = RecentOrders(charges)

	if d.Customer != nil {
		p := &rechargekit.Payment{InDunning: bool(d.Customer.HasPaymentMethodInDunning), Failing: Failing(charges)}
		slices.SortStableFunc(p.Failing, func(a, b *rechargekit.Charge) int { return -compareProcessed(a, b) })
		p.Default = DefaultPaymentMethod(pms)
		out.Payment = p
	}

	for _, e := range d.Events {
		if e != nil {
			out.Events = append(out.Events, DomainEvent(e))
		}
	}
	slices.SortStableFunc(out.Events, func(a, b *rechargekit.Event) int {
		if c := b.At.Compare(a.At); c != 0 {
			return c
		}
		return cmp.Compare(b.ID, a.ID)
	})
	if len(out.Events) > rechargekit.EventsMax {
		out.Events = out.Events[:rechargekit.EventsMax]
	}
	return out
}

// Failing returns the charges in error that are still the customer's
// payment problem: Recharge leaves a charge in error once its retries are
// over, so a failure of an address that a later charge of that address
// has since paid is history (it stays in the recent orders), not a
// current problem.
func Failing(charges []*rechargekit.Charge) []*rechargekit.Charge {
	paid := map[int64]time.Time{} // per address, the latest paid charge
	for _, c := range charges {
		if c.Status == rechargekit.ChargeSuccess {
			if at := processedKey(c); at.After(paid[c.AddressID]) {
				paid[c.AddressID] = at
			}
		}
	}
	var out []*rechargekit.Charge
	for _, c := range charges {
		if c.Status == rechargekit.ChargeError && !paid[c.AddressID].After(processedKey(c)) {
			out = append(out, c)
		}
	}
	return out
}

// NextCharges returns the charges that will bill: queued ones and those in
// error that Recharge will retry, earliest first (then by id). Skipping
// some lines of a charge splits them off into a skipped charge of the same
// address and date, so such a skipped charge's lines are added, marked
// skipped, to the next charge they were split from: the shipment shows
// what will not ship with it. A copy is changed, never the charge given.
func NextCharges(charges []*rechargekit.Charge) []*rechargekit.Charge {
	var out []*rechargekit.Charge
	for _, c := range charges {
		if c.Status == rechargekit.ChargeQueued || (c.Status == rechargekit.ChargeError && !c.RetriesExhausted) {
			out = append(out, c)
		}
	}
	slices.SortStableFunc(out, func(a, b *rechargekit.Charge) int {
		if c := cmp.Compare(a.ScheduledAt, b.ScheduledAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	for _, s := range charges {
		if s.Status != rechargekit.ChargeSkipped {
			continue
		}
		i := slices.IndexFunc(out, func(c *rechargekit.Charge) bool {
			return c.AddressID == s.AddressID && c.ScheduledAt == s.ScheduledAt
		})
		if i < 0 {
			continue
		}
		cp := *out[i]
		cp.Lines = slices.Clone(cp.Lines)
		for _, l := range s.Lines {
			l.Skipped = true
			cp.Lines = append(cp.Lines, l)
		}
		out[i] = &cp
	}
	return out
}

// RecentOrders returns the last RecentOrdersMax processed charges
// (success, refunded, partially refunded, error), newest first.
func RecentOrders(charges []*rechargekit.Charge) []*rechargekit.Charge {
	var out []*rechargekit.Charge
	for _, c := range charges {
		switch c.Status {
		case rechargekit.ChargeSuccess, rechargekit.ChargeRefunded, rechargekit.ChargePartiallyRefunded, rechargekit.ChargeError:
			out = append(out, c)
		}
	}
	slices.SortStableFunc(out, func(a, b *rechargekit.Charge) int { return -compareProcessed(a, b) })
	if len(out) > rechargekit.RecentOrdersMax {
		out = out[:rechargekit.RecentOrdersMax]
	}
	return out
}

// compareProcessed orders charges by when they were processed (or last
// attempted, or scheduled), then by id.
func compareProcessed(a, b *rechargekit.Charge) int {
	if c := processedKey(a).Compare(processedKey(b)); c != 0 {
		return c
	}
	return cmp.Compare(a.ID, b.ID)
}

func processedKey(c *rechargekit.Charge) time.Time {
	switch {
	case c.ProcessedAt != nil:
		return *c.ProcessedAt
	case c.LastAttemptAt != nil:
		return *c.LastAttemptAt
	}
	t, _ := time.Parse(time.DateOnly, c.ScheduledAt)
	return t
}

// DomainCardCharge maps a charge with everything the card shows (DomainCharge
// in actions.go keeps the few fields the actions read). addrs (by id; may be nil) give the ship-to
// address, else the charge's own shipping address is used. exhausted
// holds the subscriptions whose max_retries_reached is set.
func DomainCardCharge(c *Charge, addrs map[int64]*rechargekit.Address, exhausted map[int64]bool) *rechargekit.Charge {
	d := &rechargekit.Charge{
		ID:             int64(c.ID),
		AddressID:      int64(c.AddressID),
		Status:         strings.ToLower(strings.TrimSpace(c.Status)),
		Type:           strings.ToLower(strings.TrimSpace(c.Type)),
		ScheduledAt:    c.ScheduledAt.String(),
		ProcessedAt:    c.ProcessedAt.UTCPtr(),
		Currency:       strings.ToUpper(strings.TrimSpace(c.Currency)),
		SubtotalPrice:  string(c.SubtotalPrice),
		TotalDiscounts: string(c.TotalDiscounts),
		TotalTax:       string(c.TotalTax),
		TotalPrice:     string(c.TotalPrice),
		OrderName:      strings.TrimSpace(c.ExternalOrderName.String()),
		ErrorType:      strings.ToUpper(strings.TrimSpace(string(c.ErrorType))),
		Error:          chargeErrorLine(string(c.Error)),
		LastAttemptAt:  c.LastChargeAttempt.UTCPtr(),
		RetryAt:        c.RetryDate.UTCPtr(),
	}
	if c.ChargeAttempts != nil {
		d.Attempts = int(*c.ChargeAttempts)
	}
	skipped := d.Status == rechargekit.ChargeSkipped
	for _, li := range c.LineItems {
		if li == nil {
			continue
		}
		d.Lines = append(d.Lines, rechargekit.ChargeLine{
			SubscriptionID: int64(li.PurchaseItemID),
			OneTime:        strings.EqualFold(strings.TrimSpace(li.PurchaseItemType), PurchaseItemOnetime),
			Skipped:        skipped,
			Title:          li.Title,
			VariantTitle:   li.VariantTitle,
			SKU:            strings.TrimSpace(string(li.SKU)),
			ImageURL:       li.Images.Best(),
			Quantity:       int(li.Quantity),
			UnitPrice:      string(li.UnitPrice),
			TotalPrice:     string(li.TotalPrice),
		})
		if exhausted[int64(li.PurchaseItemID)] && d.Status == rechargekit.ChargeError {
			d.RetriesExhausted = true
		}
	}
	if d.ErrorType == "CLOSED_MAX_RETRIES_REACHED" {
		d.RetriesExhausted = true
	}
	if d.RetriesExhausted {
		d.RetryAt = nil // no retry will come, whatever date Recharge left
	}
	for _, ds := range c.Discounts {
		if ds != nil {
			d.Discounts = append(d.Discounts, rechargekit.Discount{
				Code:      strings.TrimSpace(string(ds.Code)),
				Value:     string(ds.Value),
				ValueType: strings.ToLower(strings.TrimSpace(ds.ValueType)),
			})
		}
	}
	for _, s := range c.ShippingLines {
		if s != nil {
			d.Shipping = append(d.Shipping, rechargekit.ShippingLine{
				Title:   s.Title,
				Code:    s.Code,
				Price:   string(s.Price),
				Pending: strings.EqualFold(s.Code, "pending") || strings.EqualFold(s.Status, "pending"),
			})
		}
	}
	if a := addrs[d.AddressID]; a != nil {
		cp := *a
		d.ShipTo = &cp
	} else if sa := c.ShippingAddress; sa != nil {
		d.ShipTo = postalAddress(d.AddressID, sa)
	}
	return d
}

// processorToken matches what may be a processor's customer or payment
// method token (Stripe's cus_, pm_, card_, src_, ba_, tok_ and seti_ ids);
// chargeErrorLine keeps the words among them with neither a digit nor a
// capital, such as card_declined.
var processorToken = regexp.MustCompile(`\b(?:cus|pm|card|src|ba|tok|seti)_[A-Za-z0-9]{8,}\b`)

// chargeErrorLine makes Recharge's error text one line: the message of an error
// object, or the last line of a multi-line retry log (the latest attempt),
// cut to maxErrorText. Recharge keeps the processor's message there, and
// Stripe's name the token they could not use ("No such customer:
// 'cus_…'"), so tokens are replaced with "[token]": none may reach the card.
func chargeErrorLine(s string) string {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "{") {
		var obj struct {
			Message string `json:"message"`
		}
		if json.Unmarshal([]byte(s), &obj) == nil && obj.Message != "" {
			s = strings.TrimSpace(obj.Message)
		}
	}
	lines := strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' })
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" {
			s = l
			break
		}
	}
	s = processorToken.ReplaceAllStringFunc(s, func(w string) string {
		_, id, _ := strings.Cut(w, "_")
		if strings.ContainsFunc(id, func(r rune) bool { return unicode.IsDigit(r) || unicode.IsUpper(r) }) {
			return "[token]"
		}
		return w // a word such as card_declined
	})
	if r := []rune(s); len(r) > maxErrorText {
		s = string(r[:maxErrorText-1]) + "…"
	}
	return s
}

func postalAddress(id int64, a *PostalAddress) *rechargekit.Address {
	country := a.CountryCode
	if country == "" {
		country = a.Country
	}
	return &rechargekit.Address{
		ID: id, FirstName: a.FirstName, LastName: a.LastName, Company: a.Company,
		Address1: a.Address1, Address2: a.Address2, City: a.City, Province: a.Province,
		Zip: string(a.Zip), Country: country, Phone: string(a.Phone),
	}
}

// DomainAddress maps a customer's address.
func DomainAddress(a *Address) *rechargekit.Address {
	return &rechargekit.Address{
		ID: int64(a.ID), FirstName: a.FirstName, LastName: a.LastName, Company: a.Company,
		Address1: a.Address1, Address2: a.Address2, City: a.City, Province: a.Province,
		Zip: string(a.Zip), Country: a.CountryCode, Phone: string(a.Phone),
		PaymentMethodID: int64(a.PaymentMethodID),
	}
}

// DomainPaymentMethod maps a payment method: type, brand, last 4, expiry
// and status. Processor tokens are not decoded at all (PaymentMethod has
// no field for them), so none can reach the card.
func DomainPaymentMethod(m *PaymentMethod) *rechargekit.PaymentMethod {
	d := &rechargekit.PaymentMethod{
		ID:      int64(m.ID),
		Default: bool(m.Default),
		Type:    strings.ToUpper(strings.TrimSpace(m.PaymentType)),
		Status:  strings.ToLower(strings.TrimSpace(m.Status)),
	}
	if pd := m.PaymentDetails; pd != nil {
		d.Brand = strings.TrimSpace(string(pd.Brand))
		d.Last4 = strings.TrimSpace(string(pd.Last4))
		d.ExpMonth, d.ExpYear = int(pd.ExpMonth), int(pd.ExpYear)
		d.Email = strings.TrimSpace(string(pd.PaypalEmail))
	}
	return d
}

// DefaultPaymentMethod returns the customer's default method: the one
// flagged default, else the only one; nil when there is none to tell.
func DefaultPaymentMethod(pms []*PaymentMethod) *rechargekit.PaymentMethod {
	var live []*PaymentMethod
	for _, m := range pms {
		if m == nil {
			continue
		}
		if m.Default {
			return DomainPaymentMethod(m)
		}
		live = append(live, m)
	}
	if len(live) == 1 {
		return DomainPaymentMethod(live[0])
	}
	return nil
}

// DomainEvent maps an event of the customer's timeline.
func DomainEvent(e *Event) *rechargekit.Event {
	return &rechargekit.Event{
		ID:          int64(e.ID),
		At:          e.CreatedAt.UTC(),
		ObjectType:  strings.ToLower(strings.TrimSpace(e.ObjectType)),
		ObjectID:    int64(e.ObjectID),
		Verb:        strings.ToLower(strings.TrimSpace(e.Verb)),
		Description: strings.Join(strings.Fields(e.Description), " "),
		Origin:      strings.ToLower(strings.TrimSpace(string(e.Source.Origin))),
		Who:         eventWho(e.Source),
	}
}

// eventWho says who made an event, for people: the customer (in the
// portal), the merchant user's email, or the API token's name.
func eventWho(s EventSource) string {
	origin := strings.ToLower(strings.TrimSpace(string(s.Origin)))
	switch {
	case strings.EqualFold(strings.TrimSpace(string(s.UserType)), EventUserCustomer) || origin == EventOriginPortal:
		return "the customer"
	case strings.TrimSpace(string(s.AccountEmail)) != "":
		return strings.TrimSpace(string(s.AccountEmail))
	case strings.TrimSpace(string(s.APITokenName)) != "":
		return strings.TrimSpace(string(s.APITokenName))
	case origin == EventOriginMerchant:
		return "the merchant"
	case origin == EventOriginAPI:
		return "an API token"
	case origin == "recharge":
		return "Recharge" // Recharge itself, such as a retry it ran
	case origin != "":
		return origin
	}
	return ""
}
