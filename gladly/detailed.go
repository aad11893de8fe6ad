package gladly

import (
	"encoding/json"
	"fmt"
	"math/big"
	"strings"

	"github.com/rechargekit/rechargekit"
)

// How subscriptions are sent in a DETAILED result (Config.Transactions,
// GLADLY_TRANSACTIONS).
const (
	// TransactionsSubscription sends each subscription as a SUBSCRIPTION
	// transaction (spec section 12): the default. Gladly shows it only
	// where its SUBSCRIPTION card was set up.
	TransactionsSubscription = "subscription"
	// TransactionsOrder sends each subscription as an ORDER transaction
	// (spec section 15), which every Gladly desk shows without setup.
	TransactionsOrder = "order"
)

// CheckTransactions returns nil when v names a way to send subscriptions
// ("" is the default, TransactionsSubscription), else what is wrong,
// phrased to follow the setting's name.
func CheckTransactions(v string) error {
	switch v {
	case "", TransactionsSubscription, TransactionsOrder:
		return nil
	}
	return fmt.Errorf("must be %s or %s, not %q", TransactionsSubscription, TransactionsOrder, truncate(v, 40))
}

// Customer-level custom attributes of a DETAILED result read from the
// card's details (issue 12). Each needs display setup on the Gladly side,
// like the others.
const (
	// AttrNextChargeDate is the date (YYYY-MM-DD) of the earliest queued
	// charge or retry of a failed one; "" when there is none.
	AttrNextChargeDate = "nextChargeDate"
	// AttrNextChargeTotal is that charge's total with its currency
	// ("54.40 USD"), marked "(not final)" while Recharge has not quoted
	// its shipping; "" when there is none.
	AttrNextChargeTotal = "nextChargeTotal"
	// AttrPaymentStatus says in one line whether payments are healthy:
	// "OK", "Failing: the card was declined, retry 2026-12-08", ...
	AttrPaymentStatus = "paymentStatus"
	// AttrRechargeAdminURL is the customer's page in the Recharge merchant
	// admin; left out without a configured base URL.
	AttrRechargeAdminURL = "rechargeAdminUrl"
)

// DetailOptions say how a DETAILED result is built: how subscriptions are
// sent and where "Open in Recharge" links point.
type DetailOptions struct {
	// Transactions is TransactionsSubscription ("" too) or
	// TransactionsOrder.
	Transactions string
	// AdminLinks builds rechargeAdminUrl and the ORDER transactions'
	// orderLink (none with an empty base).
	AdminLinks rechargekit.AdminLinks
}

// Result maps a card to a DETAILED result: the BASIC fields, the data's
// age, the details' custom attributes (when the card has details) and one
// transaction per subscription, in the card's order ([] when the customer
// has none): SUBSCRIPTION transactions, or ORDER ones with
// TransactionsOrder.
func (o DetailOptions) Result(card *rechargekit.Card) Result {
	r := BasicResult(&card.Customer)
	if !card.FetchedAt.IsZero() {
		r.CustomAttributes[AttrDataAsOf] = card.FetchedAt.UTC().Format(rechargekit.TimeLayout)
	}
	if u := o.AdminLinks.Customer(card.Customer.ID); u != "" {
		r.CustomAttributes[AttrRechargeAdminURL] = u
	}
	detailAttributes(r.CustomAttributes, card)
	r.Transactions = make([]rechargekit.SubscriptionTransaction, 0, len(card.Subscriptions))
	if o.Transactions == TransactionsOrder {
		r.Orders = make([]OrderTransaction, 0, len(card.Subscriptions))
		for _, s := range card.Subscriptions {
			if s != nil {
				r.Orders = append(r.Orders, o.Order(s, card.Details))
			}
		}
		return r
	}
	for _, s := range card.Subscriptions {
		if s != nil {
			r.Transactions = append(r.Transactions, s.Transaction())
		}
	}
	return r
}

// detailAttributes sets the custom attributes read from the card's
// details. A section that could not be read leaves its attributes out, so
// Gladly keeps what it showed before; a section read empty clears them
// with "".
func detailAttributes(attrs map[string]string, card *rechargekit.Card) {
	d := card.Details
	if d == nil {
		return
	}
	if _, missing := d.Unavailable[rechargekit.SectionNextCharges]; !missing {
		date, total := nextCharge(d.NextCharges)
		attrs[AttrNextChargeDate] = date
		attrs[AttrNextChargeTotal] = total
	}
	if s, ok := paymentStatus(d, card); ok {
		attrs[AttrPaymentStatus] = s
	}
}

// nextCharge returns the date and total of the earliest queued charge or
// retry of a failed charge, or "" and "".
func nextCharge(charges []*rechargekit.Charge) (date, total string) {
	var next *rechargekit.Charge
	for _, c := range charges {
		d := chargeDate(c)
		if d != "" && (date == "" || d < date) {
			date, next = d, c
		}
	}
	if next == nil || next.TotalPrice == "" {
		return date, ""
	}
	total = next.TotalPrice
	if next.Currency != "" {
		total += " " + next.Currency
	}
	if !next.TotalFinal() {
		total += " (not final)"
	}
	return date, total
}

// chargeDate is when a charge will next bill: a queued charge's date, a
// failed charge's retry; "" when it will not.
func chargeDate(c *rechargekit.Charge) string {
	switch {
	case c == nil:
		return ""
	case c.Status == rechargekit.ChargeQueued:
		// A date, even if Recharge ever sends a timestamp.
		if len(c.ScheduledAt) > len("2006-01-02") {
			return c.ScheduledAt[:len("2006-01-02")]
		}
		return c.ScheduledAt
	case c.Status == rechargekit.ChargeError && c.RetryAt != nil && !c.RetriesExhausted:
		return c.RetryAt.UTC().Format("2006-01-02")
	}
	return ""
}

// paymentStatus says in one line whether the customer's payments are
// healthy, and false when the card has nothing to say.
func paymentStatus(d *rechargekit.CardDetails, card *rechargekit.Card) (string, bool) {
	p := d.Payment
	if p == nil {
		if why := d.Unavailable[rechargekit.SectionPayment]; why != "" {
			return "Unknown. " + oneLine(why), true
		}
		return "", false
	}
	switch {
	case len(p.Failing) > 0:
		f := p.Failing[0]
		s := "Failing: " + lowerThe(rechargekit.ChargeErrorText(f.ErrorType))
		switch {
		case f.RetriesExhausted:
			s += ", no more retries"
		case f.RetryAt != nil:
			s += ", retry " + f.RetryAt.UTC().Format("2006-01-02")
		}
		if n := len(p.Failing) - 1; n == 1 {
			s += " (and 1 more failing charge)"
		} else if n > 1 {
			s += fmt.Sprintf(" (and %d more failing charges)", n)
		}
		return s, true
	case p.InDunning:
		return "Failing: the payment method is in dunning", true
	}
	if m := p.Default; m != nil {
		if end, ok := m.Expires(); ok && !card.FetchedAt.IsZero() && !card.FetchedAt.Before(end) {
			return fmt.Sprintf("At risk: the default card expired (%04d-%02d)", m.ExpYear, m.ExpMonth), true
		}
	}
	if why := d.Unavailable[rechargekit.SectionPayment]; why != "" {
		// The charges were read, the payment method was not.
		return "No failing charge. " + oneLine(why), true
	}
	return "OK", true
}

// lowerThe lowercases the "The" that starts ChargeErrorText's sentences,
// to follow "Failing: ".
func lowerThe(s string) string {
	if rest, ok := strings.CutPrefix(s, "The "); ok {
		return "the " + rest
	}
	return s
}

// oneLine joins a text's lines with spaces: a custom attribute is one line.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// OrderTransaction is a subscription sent as an ORDER transaction (spec
// section 15), which every Gladly desk shows without setup. The keys are
// Gladly's; counts are JSON numbers (Gladly reads a string as null), the
// total a string Gladly reads the first number of, and a value left out
// is shown empty. No key carries a token.
type OrderTransaction struct {
	Type         string             `json:"type"`
	OrderNumber  string             `json:"orderNumber"`
	CreatedAt    string             `json:"createdAt,omitempty"`
	OrderStatus  string             `json:"orderStatus"`
	OrderTotal   string             `json:"orderTotal,omitempty"`
	CurrencyCode string             `json:"currencyCode,omitempty"`
	ItemCount    *int               `json:"itemCount,omitempty"`
	Note         string             `json:"note,omitempty"`
	OrderLink    string             `json:"orderLink,omitempty"`
	Products     []OrderProduct     `json:"products"`
	Fulfillments []OrderFulfillment `json:"fulfillments,omitempty"`
}

// OrderProduct is the product of an OrderTransaction: the subscribed
// variant.
type OrderProduct struct {
	ID        string `json:"id,omitempty"`
	Name      string `json:"name,omitempty"`
	SKU       string `json:"sku,omitempty"`
	Status    string `json:"status,omitempty"`
	ImageURL  string `json:"imageUrl,omitempty"`
	Quantity  *int   `json:"quantity,omitempty"`
	UnitPrice string `json:"unitPrice,omitempty"`
}

// OrderFulfillment is where an OrderTransaction's product ships.
type OrderFulfillment struct {
	ProductIDs      []string      `json:"productIds"`
	ShippingAddress *OrderAddress `json:"shippingAddress,omitempty"`
}

// OrderAddress is an address in Gladly's ORDER shape.
type OrderAddress struct {
	Name    string `json:"name,omitempty"`
	Phone   string `json:"phone,omitempty"`
	Street1 string `json:"street1,omitempty"`
	Street2 string `json:"street2,omitempty"`
	City    string `json:"city,omitempty"`
	State   string `json:"state,omitempty"`
	Country string `json:"country,omitempty"`
	Zip     string `json:"zip,omitempty"`
}

// Order returns subscription s as an ORDER transaction. The order number
// is the subscription's id; the status line says the subscription's state
// and its next charge date or its cancellation; the total is price times
// quantity with its currency (left out when the currency is unknown, since
// Gladly would show it in USD); the note says the interval and the
// cancellation reason; the address, when the details have it, is where it
// ships.
func (o DetailOptions) Order(s *rechargekit.Subscription, d *rechargekit.CardDetails) OrderTransaction {
	tx := s.Transaction() // the SUBSCRIPTION rules: no next date once cancelled, dates in UTC
	qty := s.Quantity
	t := OrderTransaction{
		Type:        "ORDER",
		OrderNumber: tx.SubscriptionID,
		CreatedAt:   deref(tx.CreatedAt),
		OrderStatus: orderStatus(tx),
		Note:        orderNote(tx),
		OrderLink:   o.AdminLinks.Subscription(s.ID),
		Products: []OrderProduct{{
			ID:        s.Product.ID,
			Name:      productName(s.Product),
			SKU:       s.Product.SKU,
			Status:    deref(tx.Status),
			ImageURL:  deref(tx.Products[0].ImageURL),
			UnitPrice: s.Price,
		}},
	}
	if qty > 0 {
		t.ItemCount, t.Products[0].Quantity = &qty, &qty
	}
	if s.Currency != "" {
		if total, ok := mulPrice(s.Price, qty); ok {
			t.OrderTotal, t.CurrencyCode = total, s.Currency
		}
	}
	if a := addressOf(d, s.AddressID); a != nil {
		ids := []string{}
		if s.Product.ID != "" {
			ids = append(ids, s.Product.ID)
		}
		t.Fulfillments = []OrderFulfillment{{ProductIDs: ids, ShippingAddress: &OrderAddress{
			Name: a.Name(), Phone: a.Phone, Street1: a.Address1, Street2: a.Address2,
			City: a.City, State: a.Province, Country: a.Country, Zip: a.Zip,
		}}}
	}
	return t
}

// orderStatus is the ORDER status line of a subscription.
func orderStatus(tx rechargekit.SubscriptionTransaction) string {
	status := deref(tx.Status)
	switch {
	case status == rechargekit.StatusCancelled:
		s := "Subscription cancelled"
		if tx.CanceledAt != nil {
			s += " " + (*tx.CanceledAt)[:10]
		}
		if tx.CancellationReason != nil {
			s += ": " + oneLine(*tx.CancellationReason)
		}
		return s
	case status == "":
		return "Subscription"
	case tx.NextBillingDate != nil:
		return "Subscription " + status + ", next charge " + *tx.NextBillingDate
	}
	return "Subscription " + status
}

// orderNote is the ORDER note of a subscription: its interval, and its
// cancellation comments.
func orderNote(tx rechargekit.SubscriptionTransaction) string {
	var parts []string
	if tx.BillingIntervalFrequency != nil && tx.BillingIntervalUnit != nil {
		parts = append(parts, "Billed every "+*tx.BillingIntervalFrequency+" "+plural(*tx.BillingIntervalUnit, *tx.BillingIntervalFrequency)+".")
	}
	if tx.CancellationReasonComments != nil {
		parts = append(parts, "Cancellation comments: "+oneLine(*tx.CancellationReasonComments))
	}
	return strings.Join(parts, " ")
}

func plural(unit, n string) string {
	if n == "1" || strings.HasSuffix(unit, "s") {
		return unit
	}
	return unit + "s"
}

// productName is the product and its variant: "Cat Pajamas (Large)".
func productName(p rechargekit.Product) string {
	switch {
	case p.Name == "":
		return p.VariantName
	case p.VariantName == "":
		return p.Name
	}
	return p.Name + " (" + p.VariantName + ")"
}

// addressOf returns the details' address with id, or nil.
func addressOf(d *rechargekit.CardDetails, id int64) *rechargekit.Address {
	if d == nil || id <= 0 {
		return nil
	}
	for _, a := range d.Addresses {
		if a != nil && a.ID == id {
			return a
		}
	}
	return nil
}

// mulPrice multiplies a decimal price ("49.50") by a quantity exactly,
// keeping its decimals ("99.00"); false when the price is not a plain
// decimal. Money is never a float.
func mulPrice(price string, qty int) (string, bool) {
	whole, frac, _ := strings.Cut(price, ".")
	if whole == "" || qty <= 0 || strings.Trim(whole+frac, "0123456789") != "" {
		return "", false
	}
	n, ok := new(big.Int).SetString(whole+frac, 10)
	if !ok {
		return "", false
	}
	digits := n.Mul(n, big.NewInt(int64(qty))).String()
	if len(frac) == 0 {
		return digits, true
	}
	if len(digits) <= len(frac) {
		digits = strings.Repeat("0", len(frac)-len(digits)+1) + digits
	}
	return digits[:len(digits)-len(frac)] + "." + digits[len(digits)-len(frac):], true
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// resultJSON is Result without its methods, for its own encoding.
type resultJSON Result

// MarshalJSON encodes r; with Orders set, its transactions are the ORDER
// ones.
func (r Result) MarshalJSON() ([]byte, error) {
	if r.Orders == nil {
		return json.Marshal(resultJSON(r))
	}
	return json.Marshal(struct {
		resultJSON
		Transactions []OrderTransaction `json:"transactions"`
	}{resultJSON(r), r.Orders})
}

// UnmarshalJSON decodes a result, putting ORDER transactions in Orders and
// the others in Transactions.
func (r *Result) UnmarshalJSON(b []byte) error {
	var raw struct {
		resultJSON
		Transactions []json.RawMessage `json:"transactions"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*r = Result(raw.resultJSON)
	if raw.Transactions == nil {
		return nil
	}
	r.Transactions = []rechargekit.SubscriptionTransaction{}
	for _, t := range raw.Transactions {
		var kind struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal(t, &kind); err != nil {
			return err
		}
		if kind.Type == "ORDER" {
			var o OrderTransaction
			if err := json.Unmarshal(t, &o); err != nil {
				return err
			}
			r.Orders = append(r.Orders, o)
			continue
		}
		var s rechargekit.SubscriptionTransaction
		if err := json.Unmarshal(t, &s); err != nil {
			return err
		}
		r.Transactions = append(r.Transactions, s)
	}
	return nil
}
