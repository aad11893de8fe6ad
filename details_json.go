package rechargekit

import (
	"strconv"
	"time"
)

// CardDetailsJSON is the JSON form of a card's CardDetails: the sections
// beyond the customer and its subscriptions. It is embedded in CardJSON, so
// its keys sit beside "customer" and "subscriptions"; a card whose details
// were not read has none of them. Ids, counts and money are strings, as in
// the rest of the card; every charge names its currency. No processor or
// customer token of a payment method is ever part of it.
type CardDetailsJSON struct {
	NextCharges  []ChargeJSON  `json:"nextCharges"`
	Payment      *PaymentJSON  `json:"payment"`
	RecentOrders []ChargeJSON  `json:"recentOrders"`
	Addresses    []AddressJSON `json:"addresses"`
	Events       []EventJSON   `json:"events"`
	// Unavailable names each section that could not be read, with why, in
	// a full sentence; {} when every section was read.
	Unavailable map[string]string `json:"unavailable"`
}

// AdminLinksJSON are the card's "Open in Recharge" links: the customer's
// page and each subscription's, by subscription id.
type AdminLinksJSON struct {
	Customer      string            `json:"customer"`
	Subscriptions map[string]string `json:"subscriptions"`
}

// ChargeJSON is the JSON form of a Charge: a next shipment or an order.
type ChargeJSON struct {
	ChargeID       string             `json:"chargeId"`
	AddressID      *string            `json:"addressId"`
	Status         string             `json:"status"`
	Type           *string            `json:"type"`
	ScheduledAt    *string            `json:"scheduledAt"`
	ProcessedAt    *string            `json:"processedAt"`
	CurrencyCode   *string            `json:"currencyCode"`
	Lines          []ChargeLineJSON   `json:"lines"`
	Discounts      []DiscountJSON     `json:"discounts"`
	Shipping       []ShippingLineJSON `json:"shipping"`
	SubtotalPrice  *string            `json:"subtotalPrice"`
	TotalDiscounts *string            `json:"totalDiscounts"`
	TotalTax       *string            `json:"totalTax"`
	TotalPrice     *string            `json:"totalPrice"`
	// TotalFinal is false while Recharge has not quoted the shipping yet
	// (its "pending" line after an unskip).
	TotalFinal bool         `json:"totalFinal"`
	ShipTo     *AddressJSON `json:"shipTo"`
	OrderName  *string      `json:"orderName"`
	// Failure is set for a charge in error.
	Failure  *ChargeFailureJSON `json:"failure"`
	AdminURL *string            `json:"adminUrl"`
}

// ChargeFailureJSON says why a charge failed and what comes next.
type ChargeFailureJSON struct {
	ErrorType        *string `json:"errorType"`        // Recharge's, e.g. CARD_DECLINED
	Reason           string  `json:"reason"`           // in plain words (ChargeErrorText)
	Message          *string `json:"message"`          // Recharge's own text
	Attempts         *string `json:"attempts"`         // null when Recharge did not say
	LastAttemptAt    *string `json:"lastAttemptAt"`    // TimeLayout
	RetryAt          *string `json:"retryAt"`          // TimeLayout; null when no retry comes
	RetriesExhausted bool    `json:"retriesExhausted"` // no retry will come
}

// ChargeLineJSON is one line of a charge.
type ChargeLineJSON struct {
	SubscriptionID *string `json:"subscriptionId"`
	OneTime        bool    `json:"oneTime"`
	Skipped        bool    `json:"skipped"`
	Title          *string `json:"title"`
	VariantTitle   *string `json:"variantTitle"`
	SKU            *string `json:"sku"`
	ImageURL       *string `json:"imageUrl"`
	Quantity       *string `json:"quantity"`
	UnitPrice      *string `json:"unitPrice"`
	TotalPrice     *string `json:"totalPrice"`
}

// DiscountJSON is a discount on a charge.
type DiscountJSON struct {
	Code      *string `json:"code"`
	Value     *string `json:"value"`
	ValueType *string `json:"valueType"`
	Amount    *string `json:"amount"`
}

// ShippingLineJSON is a shipping line of a charge.
type ShippingLineJSON struct {
	Title   *string `json:"title"`
	Code    *string `json:"code"`
	Price   *string `json:"price"`
	Pending bool    `json:"pending"`
}

// AddressJSON is a customer's address.
type AddressJSON struct {
	AddressID       string  `json:"addressId"`
	Name            *string `json:"name"`
	Company         *string `json:"company"`
	Address1        *string `json:"address1"`
	Address2        *string `json:"address2"`
	City            *string `json:"city"`
	Province        *string `json:"province"`
	Zip             *string `json:"zip"`
	Country         *string `json:"country"`
	Phone           *string `json:"phone"`
	PaymentMethodID *string `json:"paymentMethodId"`
}

// PaymentJSON says whether the customer's payments are healthy.
type PaymentJSON struct {
	// Healthy is true when no charge is failing, the customer is not in
	// dunning and the default card had not expired when the card was read.
	Healthy   bool               `json:"healthy"`
	InDunning bool               `json:"inDunning"`
	Failing   []ChargeJSON       `json:"failing"`
	Default   *PaymentMethodJSON `json:"defaultPaymentMethod"`
}

// PaymentMethodJSON is a payment method as an agent may see it: never a
// processor's or a customer's token.
type PaymentMethodJSON struct {
	PaymentMethodID string  `json:"paymentMethodId"`
	Default         bool    `json:"default"`
	Type            *string `json:"type"`
	Brand           *string `json:"brand"`
	Last4           *string `json:"last4"`
	// Expiry is the card's last valid month, YYYY-MM; null when it has none.
	Expiry *string `json:"expiry"`
	// Expired is whether the card had expired when the card was read.
	Expired bool    `json:"expired"`
	Status  *string `json:"status"`
	Email   *string `json:"email"`
}

// EventJSON is one entry of the customer's Recharge timeline.
type EventJSON struct {
	EventID     string  `json:"eventId"`
	At          *string `json:"at"`
	ObjectType  *string `json:"objectType"`
	ObjectID    *string `json:"objectId"`
	Verb        *string `json:"verb"`
	Description *string `json:"description"`
	Origin      *string `json:"origin"`
	Who         *string `json:"who"`
}

// JSON returns the JSON form of d. now is when the card was read: a card
// that expired by then is flagged. links builds the "Open in Recharge"
// links (none with an empty base).
func (d *CardDetails) JSON(now time.Time, links AdminLinks) CardDetailsJSON {
	out := CardDetailsJSON{
		NextCharges:  chargesJSON(d.NextCharges, links),
		RecentOrders: chargesJSON(d.RecentOrders, links),
		Addresses:    make([]AddressJSON, 0, len(d.Addresses)),
		Events:       make([]EventJSON, 0, len(d.Events)),
		Unavailable:  make(map[string]string, len(d.Unavailable)),
	}
	for k, v := range d.Unavailable {
		out.Unavailable[k] = v
	}
	if p := d.Payment; p != nil {
		pj := &PaymentJSON{InDunning: p.InDunning, Failing: chargesJSON(p.Failing, links)}
		if p.Default != nil {
			m := p.Default.JSON(now)
			pj.Default = &m
		}
		pj.Healthy = !p.InDunning && len(p.Failing) == 0 && (pj.Default == nil || !pj.Default.Expired)
		out.Payment = pj
	}
	for _, a := range d.Addresses {
		if a != nil {
			out.Addresses = append(out.Addresses, a.JSON())
		}
	}
	for _, e := range d.Events {
		if e != nil {
			out.Events = append(out.Events, e.JSON())
		}
	}
	return out
}

func chargesJSON(charges []*Charge, links AdminLinks) []ChargeJSON {
	out := make([]ChargeJSON, 0, len(charges))
	for _, c := range charges {
		if c != nil {
			out = append(out, c.JSON(links))
		}
	}
	return out
}

// JSON returns the JSON form of c, with its "Open in Recharge" link when
// links has a base.
func (c *Charge) JSON(links AdminLinks) ChargeJSON {
	out := ChargeJSON{
		ChargeID:       strconv.FormatInt(c.ID, 10),
		AddressID:      idStr(c.AddressID),
		Status:         c.Status,
		Type:           str(c.Type),
		ScheduledAt:    str(c.ScheduledAt),
		ProcessedAt:    timePtrStr(c.ProcessedAt),
		CurrencyCode:   str(c.Currency),
		Lines:          make([]ChargeLineJSON, 0, len(c.Lines)),
		Discounts:      make([]DiscountJSON, 0, len(c.Discounts)),
		Shipping:       make([]ShippingLineJSON, 0, len(c.Shipping)),
		SubtotalPrice:  str(c.SubtotalPrice),
		TotalDiscounts: str(c.TotalDiscounts),
		TotalTax:       str(c.TotalTax),
		TotalPrice:     str(c.TotalPrice),
		TotalFinal:     c.TotalFinal(),
		OrderName:      str(c.OrderName),
		AdminURL:       str(links.Charge(c.ID)),
	}
	for _, l := range c.Lines {
		out.Lines = append(out.Lines, ChargeLineJSON{
			SubscriptionID: idStr(l.SubscriptionID),
			OneTime:        l.OneTime,
			Skipped:        l.Skipped,
			Title:          str(l.Title),
			VariantTitle:   str(l.VariantTitle),
			SKU:            str(l.SKU),
			ImageURL:       str(l.ImageURL),
			Quantity:       intStr(l.Quantity),
			UnitPrice:      str(l.UnitPrice),
			TotalPrice:     str(l.TotalPrice),
		})
	}
	for _, d := range c.Discounts {
		out.Discounts = append(out.Discounts, DiscountJSON{
			Code: str(d.Code), Value: str(d.Value), ValueType: str(d.ValueType), Amount: str(d.Amount),
		})
	}
	for _, s := range c.Shipping {
		out.Shipping = append(out.Shipping, ShippingLineJSON{
			Title: str(s.Title), Code: str(s.Code), Price: str(s.Price), Pending: s.Pending,
		})
	}
	if c.ShipTo != nil {
		a := c.ShipTo.JSON()
		out.ShipTo = &a
	}
	if c.Status == ChargeError || c.ErrorType != "" {
		out.Failure = &ChargeFailureJSON{
			ErrorType:        str(c.ErrorType),
			Reason:           ChargeErrorText(c.ErrorType),
			Message:          str(c.Error),
			Attempts:         intStr(c.Attempts),
			LastAttemptAt:    timePtrStr(c.LastAttemptAt),
			RetryAt:          timePtrStr(c.RetryAt),
			RetriesExhausted: c.RetriesExhausted,
		}
	}
	return out
}

// JSON returns the JSON form of a.
func (a *Address) JSON() AddressJSON {
	return AddressJSON{
		AddressID:       strconv.FormatInt(a.ID, 10),
		Name:            str(a.Name()),
		Company:         str(a.Company),
		Address1:        str(a.Address1),
		Address2:        str(a.Address2),
		City:            str(a.City),
		Province:        str(a.Province),
		Zip:             str(a.Zip),
		Country:         str(a.Country),
		Phone:           str(a.Phone),
		PaymentMethodID: idStr(a.PaymentMethodID),
	}
}

// JSON returns the JSON form of m; now decides whether it has expired.
func (m *PaymentMethod) JSON(now time.Time) PaymentMethodJSON {
	out := PaymentMethodJSON{
		PaymentMethodID: strconv.FormatInt(m.ID, 10),
		Default:         m.Default,
		Type:            str(m.Type),
		Brand:           str(m.Brand),
		Last4:           str(m.Last4),
		Status:          str(m.Status),
		Email:           str(m.Email),
	}
	if end, ok := m.Expires(); ok {
		out.Expiry = str(time.Date(m.ExpYear, time.Month(m.ExpMonth), 1, 0, 0, 0, 0, time.UTC).Format("2006-01"))
		out.Expired = !now.IsZero() && !now.Before(end)
	}
	return out
}

// JSON returns the JSON form of e.
func (e *Event) JSON() EventJSON {
	return EventJSON{
		EventID:     strconv.FormatInt(e.ID, 10),
		At:          timeStr(e.At),
		ObjectType:  str(e.ObjectType),
		ObjectID:    idStr(e.ObjectID),
		Verb:        str(e.Verb),
		Description: str(e.Description),
		Origin:      str(e.Origin),
		Who:         str(e.Who),
	}
}

// adminLinksJSON returns the card's customer and subscription links, or
// nil without a base.
func (c *Card) adminLinksJSON(links AdminLinks) *AdminLinksJSON {
	cust := links.Customer(c.Customer.ID)
	if cust == "" {
		return nil
	}
	out := &AdminLinksJSON{Customer: cust, Subscriptions: make(map[string]string, len(c.Subscriptions))}
	for _, s := range c.Subscriptions {
		if s != nil {
			out.Subscriptions[strconv.FormatInt(s.ID, 10)] = links.Subscription(s.ID)
		}
	}
	return out
}

func idStr(id int64) *string {
	if id <= 0 {
		return nil
	}
	return str(strconv.FormatInt(id, 10))
}

func timePtrStr(t *time.Time) *string {
	if t == nil {
		return nil
	}
	return timeStr(*t)
}
