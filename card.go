package rechargekit

import (
	"cmp"
	"encoding/json"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Card is the Subscription card of one Recharge customer: the customer
// summary and every subscription, in display order (see SortSubscriptions).
type Card struct {
	Customer      Customer
	Subscriptions []*Subscription
	FetchedAt     time.Time // when the data was read from Recharge

	// Stale is set when the card comes from a cache because Recharge could
	// not be reached (down, too slow or the rate budget spent); FetchedAt
	// then tells its age, and desks show it as possibly out of date.
	Stale bool

	// Details are the sections beyond the subscriptions: next shipments,
	// payment, recent orders, addresses and the timeline. Nil when they
	// were not read; a section that failed is named in Details.Unavailable.
	Details *CardDetails
}

// ActiveCount returns the number of active subscriptions on the card. The
// customer's own count (Customer.SubscriptionsActive) is preferred for display.
func (c *Card) ActiveCount() int {
	n := 0
	for _, s := range c.Subscriptions {
		if s.IsActive() {
			n++
		}
	}
	return n
}

// statusRank orders statuses for display: active, cancelled, expired, then anything else.
func statusRank(status string) int {
	switch strings.ToLower(status) {
	case StatusActive:
		return 0
	case StatusCancelled:
		return 1
	case StatusExpired:
		return 2
	default:
		return 3
	}
}

// SortSubscriptions puts subscriptions in card order: active first, then
// cancelled, then expired; within each group newest created first, then
// highest id first.
func SortSubscriptions(subs []*Subscription) {
	slices.SortStableFunc(subs, func(a, b *Subscription) int {
		if c := cmp.Compare(statusRank(a.Status), statusRank(b.Status)); c != 0 {
			return c
		}
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(b.ID, a.ID)
	})
}

// TimeLayout is the format of every timestamp in the JSON answers: UTC,
// seconds precision, "Z" suffix.
const TimeLayout = "2006-01-02T15:04:05Z"

// SubscriptionTransaction is the JSON form of a subscription: the
// SUBSCRIPTION transaction of spec/gladly-lookup.md section 12, also used
// by the CLI and the JSON API. Every key is always present; unknown values
// are null; every scalar is a string. Field order is the wire order.
type SubscriptionTransaction struct {
	Type                       string               `json:"type"`
	SubscriptionID             string               `json:"subscriptionId"`
	Status                     *string              `json:"status"`
	CreatedAt                  *string              `json:"createdAt"`
	UpdatedAt                  *string              `json:"updatedAt"`
	BillingIntervalFrequency   *string              `json:"billingIntervalFrequency"`
	BillingIntervalUnit        *string              `json:"billingIntervalUnit"`
	DeliveryIntervalFrequency  *string              `json:"deliveryIntervalFrequency"`
	NextBillingDate            *string              `json:"nextBillingDate"`
	CanceledAt                 *string              `json:"canceledAt"`
	CancellationReason         *string              `json:"cancellationReason"`
	CancellationReasonComments *string              `json:"cancellationReasonComments"`
	Price                      *string              `json:"price"`
	CurrencyCode               *string              `json:"currencyCode"`
	Quantity                   *string              `json:"quantity"`
	Products                   []TransactionProduct `json:"products"`
}

// TransactionProduct is the one product of a SubscriptionTransaction.
type TransactionProduct struct {
	ID          *string `json:"id"`
	VariantID   *string `json:"variantId"`
	Name        *string `json:"name"`
	VariantName *string `json:"variantName"`
	SKU         *string `json:"sku"`
	ImageURL    *string `json:"imageUrl"`
}

// Transaction returns the JSON form of s. As spec/gladly-lookup.md section
// 12 says, a cancelled subscription has no next billing date and only a
// cancelled one has a cancellation date, whatever Recharge's data holds.
// Image URLs are checked where they enter (recharge.Images.Best keeps
// only absolute http(s) ones), not on every answer: this is the warm
// lookup's hot path.
func (s *Subscription) Transaction() SubscriptionTransaction {
	t := SubscriptionTransaction{
		Type:                       "SUBSCRIPTION",
		SubscriptionID:             strconv.FormatInt(s.ID, 10),
		Status:                     str(strings.ToLower(s.Status)),
		CreatedAt:                  timeStr(s.CreatedAt),
		UpdatedAt:                  timeStr(s.UpdatedAt),
		BillingIntervalFrequency:   intStr(s.ChargeIntervalFrequency),
		BillingIntervalUnit:        str(s.IntervalUnit),
		DeliveryIntervalFrequency:  intStr(s.OrderIntervalFrequency),
		NextBillingDate:            str(s.NextChargeDate),
		CancellationReason:         str(s.CancellationReason),
		CancellationReasonComments: str(s.CancellationReasonComments),
		Price:                      str(s.Price),
		CurrencyCode:               str(s.Currency),
		Quantity:                   intStr(s.Quantity),
		Products: []TransactionProduct{{
			ID:          str(s.Product.ID),
			VariantID:   str(s.Product.VariantID),
			Name:        str(s.Product.Name),
			VariantName: str(s.Product.VariantName),
			SKU:         str(s.Product.SKU),
			ImageURL:    str(s.Product.ImageURL),
		}},
	}
	if s.IsCancelled() {
		t.NextBillingDate = nil
		if s.CancelledAt != nil {
			t.CanceledAt = timeStr(*s.CancelledAt)
		}
	}
	return t
}

// SafeURL returns u, normalized, when it is an absolute http or https URL
// without credentials, spaces or control characters and at most 2,048
// bytes long, else "". Recharge data is untrusted: a javascript: or data:
// URL must not reach a page, ours or a desk's.
func SafeURL(u string) string {
	u = strings.TrimSpace(u)
	if u == "" || len(u) > 2048 || strings.IndexFunc(u, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) }) >= 0 {
		return ""
	}
	p, err := url.Parse(u)
	if err != nil || p.Host == "" || p.User != nil {
		return ""
	}
	switch strings.ToLower(p.Scheme) {
	case "http", "https":
		return p.String()
	}
	return ""
}

// CustomerSummary is the JSON form of a card's customer. Its count keys are
// the customer-level custom attributes of spec/gladly-lookup.md section 11.
type CustomerSummary struct {
	RechargeCustomerID       string  `json:"rechargeCustomerId"`
	ShopifyCustomerID        *string `json:"shopifyCustomerId"`
	Name                     *string `json:"name"`
	Email                    *string `json:"email"`
	Phone                    *string `json:"phone"`
	SubscriptionsTotalCount  *string `json:"subscriptionsTotalCount"`
	SubscriptionsActiveCount *string `json:"subscriptionsActiveCount"`
}

// Summary returns the JSON form of c.
func (c *Customer) Summary() CustomerSummary {
	s := CustomerSummary{
		RechargeCustomerID: strconv.FormatInt(c.ID, 10),
		ShopifyCustomerID:  str(c.ExternalID),
		Name:               str(c.Name()),
		Email:              str(c.Email),
		Phone:              str(c.Phone),
	}
	if c.SubscriptionsTotal != nil {
		s.SubscriptionsTotalCount = str(strconv.Itoa(*c.SubscriptionsTotal))
	}
	if c.SubscriptionsActive != nil {
		s.SubscriptionsActiveCount = str(strconv.Itoa(*c.SubscriptionsActive))
	}
	return s
}

// CardJSON is the JSON form of a Card. The details' keys (nextCharges,
// payment, recentOrders, addresses, events, unavailable) are present when
// the card's Details were read, and absent otherwise.
type CardJSON struct {
	Customer      CustomerSummary           `json:"customer"`
	Subscriptions []SubscriptionTransaction `json:"subscriptions"`
	FetchedAt     string                    `json:"fetchedAt"`
	Stale         bool                      `json:"stale"`
	*CardDetailsJSON
	// AdminLinks are the "Open in Recharge" links; absent without a
	// merchant-admin base URL (no link rather than a wrong one).
	AdminLinks *AdminLinksJSON `json:"adminLinks,omitempty"`
}

// JSON returns the JSON form of c, without "Open in Recharge" links.
func (c *Card) JSON() CardJSON { return c.JSONWithLinks(AdminLinks{}) }

// JSONWithLinks returns the JSON form of c, with the "Open in Recharge"
// links that links builds (none when its base is empty).
func (c *Card) JSONWithLinks(links AdminLinks) CardJSON {
	out := CardJSON{
		Customer:      c.Customer.Summary(),
		Subscriptions: make([]SubscriptionTransaction, 0, len(c.Subscriptions)),
		FetchedAt:     c.FetchedAt.UTC().Format(TimeLayout),
		Stale:         c.Stale,
		AdminLinks:    c.adminLinksJSON(links),
	}
	for _, s := range c.Subscriptions {
		out.Subscriptions = append(out.Subscriptions, s.Transaction())
	}
	if c.Details != nil {
		d := c.Details.JSON(c.FetchedAt, links)
		out.CardDetailsJSON = &d
	}
	return out
}

// MarshalJSON encodes c as its CardJSON form.
func (c *Card) MarshalJSON() ([]byte, error) { return json.Marshal(c.JSON()) }

func str(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func intStr(n int) *string {
	if n == 0 {
		return nil
	}
	return str(strconv.Itoa(n))
}

func timeStr(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	return str(t.UTC().Format(TimeLayout))
}
