package rechargekit

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Charge statuses, as Recharge spells them.
const (
	ChargeQueued            = "queued"
	ChargeSkipped           = "skipped"
	ChargeError             = "error"
	ChargeSuccess           = "success"
	ChargeRefunded          = "refunded"
	ChargePartiallyRefunded = "partially_refunded"
)

// Charge is one of a customer's charges: a queued one is the next
// shipment as it will bill; a processed one (success, refunded, partially
// refunded, error) is an order. The actions read the few fields they need;
// the card shows the rest. Money is a string as Recharge sends it, in
// Currency; never a float.
type Charge struct {
	ID          int64
	AddressID   int64
	Status      string // ChargeQueued, ChargeSkipped, ChargeError, ChargeSuccess, ...
	Type        string // recurring or checkout
	ScheduledAt string // YYYY-MM-DD
	ProcessedAt *time.Time
	Currency    string

	Lines     []ChargeLine
	Discounts []Discount
	Shipping  []ShippingLine

	SubtotalPrice  string
	TotalDiscounts string
	TotalTax       string
	TotalPrice     string // includes shipping and tax

	// ShipTo is the address the charge ships to (nil when unknown).
	ShipTo *Address

	// OrderName is the store's order name once processed ("#1016"), "" before.
	OrderName string

	// Payment failure, for a charge in ChargeError.
	ErrorType        string     // Recharge's UPPER_SNAKE type, e.g. CARD_DECLINED
	Error            string     // Recharge's own text, one line
	Attempts         int        // 0 when Recharge did not say
	LastAttemptAt    *time.Time // nil when Recharge did not say
	RetryAt          *time.Time // the next retry (Recharge sends a date or a timestamp); nil when none
	RetriesExhausted bool       // no retry will come (max retries reached)
}

// ChargeLine is one line of a Charge: a subscription's or a one-time
// product's.
type ChargeLine struct {
	SubscriptionID int64 // the purchase item id (a subscription's, or a one-time product's)
	OneTime        bool  // a one-time product, not a subscription
	Skipped        bool  // this line is skipped on an otherwise queued charge
	Title          string
	VariantTitle   string
	SKU            string
	ImageURL       string
	Quantity       int
	UnitPrice      string
	TotalPrice     string
}

// Discount is a discount applied to a charge.
type Discount struct {
	Code      string
	Value     string // as Recharge sends it
	ValueType string // percentage or fixed_amount
	Amount    string // what it takes off this charge, when Recharge says
}

// ShippingLine is one shipping line of a charge.
type ShippingLine struct {
	Title string
	Code  string
	Price string
	// Pending is Recharge's placeholder after an unskip ("pending"): the
	// shipping is not quoted yet, so the charge's total is not final.
	Pending bool
}

// Line returns the charge's line of the subscription, or nil.
func (c *Charge) Line(subscriptionID int64) *ChargeLine {
	for i := range c.Lines {
		if c.Lines[i].SubscriptionID == subscriptionID {
			return &c.Lines[i]
		}
	}
	return nil
}

// TotalFinal reports whether the charge's total is final: false while a
// shipping line is Recharge's pending placeholder.
func (c *Charge) TotalFinal() bool {
	for _, s := range c.Shipping {
		if s.Pending {
			return false
		}
	}
	return true
}

// Address is one of a customer's addresses: where the subscriptions on it
// ship.
type Address struct {
	ID              int64
	FirstName       string
	LastName        string
	Company         string
	Address1        string
	Address2        string
	City            string
	Province        string
	Zip             string
	Country         string // as Recharge sends it (a name or a code)
	Phone           string
	PaymentMethodID int64 // 0 when none
}

// Name returns the first and last name joined by one space, trimmed.
func (a *Address) Name() string {
	return strings.TrimSpace(strings.TrimSpace(a.FirstName) + " " + strings.TrimSpace(a.LastName))
}

// PaymentMethod is a customer's payment method as the card shows it:
// never a processor's token.
type PaymentMethod struct {
	ID       int64
	Default  bool
	Type     string // CREDIT_CARD, PAYPAL, APPLE_PAY, GOOGLE_PAY, SEPA_DEBIT, ...
	Brand    string // visa, mastercard, ...
	Last4    string
	ExpMonth int // 0 when not a card
	ExpYear  int
	Status   string // unvalidated, valid, invalid, empty; "" when Recharge sent null
	Email    string // PayPal's, when the type is PAYPAL
}

// Expires returns the first moment the card is no longer valid (the start
// of the month after its expiry month, UTC), and false when it has no
// expiry.
func (m *PaymentMethod) Expires() (time.Time, bool) {
	if m.ExpMonth < 1 || m.ExpMonth > 12 || m.ExpYear <= 0 {
		return time.Time{}, false
	}
	return time.Date(m.ExpYear, time.Month(m.ExpMonth)+1, 1, 0, 0, 0, 0, time.UTC), true
}

// Payment says whether the customer's payments are healthy.
type Payment struct {
	// InDunning is the customer's has_payment_method_in_dunning flag.
	InDunning bool
	// Failing are the customer's charges in error, newest first.
	Failing []*Charge
	// Default is the default payment method; nil when none or not readable.
	Default *PaymentMethod
}

// Event is one entry of the customer's Recharge timeline.
type Event struct {
	ID          int64
	At          time.Time
	ObjectType  string // subscription, charge, customer, address, ...
	ObjectID    int64
	Verb        string // created, updated, cancelled, skipped, failed, ...
	Description string // Recharge's own words, one line
	Origin      string // portal, merchant, api, ... as Recharge sends it
	// Who says who did it, for people: "the customer", the merchant user's
	// email, or an API token's name.
	Who string
}

// Card sections beyond the customer and the subscriptions. Each is read on
// its own; one that cannot be read leaves the rest of the card intact and
// is named in Card.Unavailable.
const (
	SectionNextCharges  = "nextCharges"
	SectionPayment      = "payment"
	SectionRecentOrders = "recentOrders"
	SectionAddresses    = "addresses"
	SectionEvents       = "events"
)

// CardDetails are the card's sections beyond the customer and the
// subscriptions: the whole picture an agent needs for "when is my next
// box?", "why was I charged?" and "what happened?".
type CardDetails struct {
	// NextCharges are the queued and failing (error) charges, earliest
	// first: one per address and date, as Recharge groups them.
	NextCharges []*Charge
	// Payment is nil when it could not be read (see Unavailable).
	Payment *Payment
	// RecentOrders are the last processed charges (success, refunded,
	// partially refunded, error), newest first, at most RecentOrdersMax.
	RecentOrders []*Charge
	// Addresses are the customer's addresses.
	Addresses []*Address
	// Events are the customer's recent Recharge events, newest first, at
	// most EventsMax.
	Events []*Event
	// Unavailable names, by section, what could not be read and why, in a
	// full sentence ("The Recharge token may not read events.").
	Unavailable map[string]string
}

// How many orders and events a card shows at most.
const (
	RecentOrdersMax = 5
	EventsMax       = 20
)

// DetailsSource reads the card's sections beyond the customer and its
// subscriptions. The recharge package implements it over the Recharge API,
// with as few calls as the API allows, in parallel.
type DetailsSource interface {
	// Details returns the customer's sections. A section that fails is
	// left empty and named in Unavailable; the error is for a failure of
	// the whole (Errors: ENOTFOUND, EUPSTREAM).
	Details(ctx context.Context, customerID int64) (*CardDetails, error)
}

// ChargeErrorText says a Recharge charge error type in plain words for an
// agent. The table holds the types Recharge documents: its support
// articles "Managing order errors" and "Card declines and order errors"
// (support.getrecharge.com), as transcribed in spec/recharge-actions.md
// section 2.2, and CLOSED_MAX_RETRIES_REACHED as Recharge's records show
// it. Any other type is shown as Recharge spells it, made readable ("The
// charge failed: card number incorrect"), rather than guessed at.
func ChargeErrorText(errorType string) string {
	if s, ok := chargeErrorTexts[strings.ToUpper(strings.TrimSpace(errorType))]; ok {
		return s
	}
	if errorType == "" {
		return "The charge failed"
	}
	t := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(errorType), "_", " "))
	return "The charge failed: " + t
}

// chargeErrorTexts is the table behind ChargeErrorText (its source is in
// ChargeErrorText's doc).
var chargeErrorTexts = map[string]string{
	"CARD_DECLINED":                         "The card was declined",
	"CARD_EXPIRED":                          "The card has expired",
	"INSUFFICIENT_FUNDS":                    "The card has insufficient funds",
	"CUSTOMER_NEEDS_TO_UPDATE_CARD":         "The customer needs to update their card",
	"CARD_UPDATED_NOW_PENDING_NEXT_ATTEMPT": "The card was updated; the next attempt is pending",
	"CLOSED_MAX_RETRIES_REACHED":            "Recharge gave up after the last retry",
	"ACCOUNT_CLOSED":                        "The payment account is closed",
	"VARIANT_DOES_NOT_EXIST":                "A product variant no longer exists in the store",
	"SHOPIFY_REJECTED":                      "Shopify rejected the order",
}

// AdminLinks builds "Open in Recharge" links into the merchant admin from
// its base URL (RECHARGE_ADMIN_URL, e.g.
// https://example-store-sp.admin.rechargeapps.com). With an empty Base every
// link is "": no link rather than a wrong one.
type AdminLinks struct {
	Base string
}

func (a AdminLinks) link(format string, id int64) string {
	if a.Base == "" || id <= 0 {
		return ""
	}
	return strings.TrimRight(a.Base, "/") + fmt.Sprintf(format, strconv.FormatInt(id, 10))
}

// Customer links to the customer's page.
func (a AdminLinks) Customer(id int64) string { return a.link("/merchant/customers/%s", id) }

// Subscription links to the subscription's page.
func (a AdminLinks) Subscription(id int64) string {
	return a.link("/merchant/subscriptions/%s/details", id)
}

// Charge links to the charge's page.
func (a AdminLinks) Charge(id int64) string { return a.link("/merchant/orders/charges/%s", id) }
