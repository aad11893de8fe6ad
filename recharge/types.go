package recharge

import (
	"encoding/json"
	"strings"

	"github.com/rechargekit/rechargekit"
)

// The resource types below follow the 2021-11 shapes of spec/recharge-api.md
// sections 3-8. Every field is optional: null decodes to the zero value,
// unknown fields are ignored, ids and counts also accept numeric strings and
// money also accepts JSON numbers (see decode.go). Keys are listed in the
// wire order (id, foreign keys, then alphabetical).

// Subscription statuses as Recharge sends them. Compare with strings.EqualFold:
// some docs and clients show them in uppercase.
const (
	SubscriptionActive    = "active"
	SubscriptionCancelled = "cancelled"
	SubscriptionExpired   = "expired"
)

// Purchase item types of a charge line item.
const (
	PurchaseItemSubscription = "subscription"
	PurchaseItemOnetime      = "onetime"
)

// Customer is a Recharge customer.
type Customer struct {
	ID                               int64      `json:"id"`
	ApplyCreditToNextCheckoutCharge  bool       `json:"apply_credit_to_next_checkout_charge"`
	ApplyCreditToNextRecurringCharge bool       `json:"apply_credit_to_next_recurring_charge"`
	CreatedAt                        Time       `json:"created_at"`
	Email                            string     `json:"email"`
	ExternalCustomerID               ExternalID `json:"external_customer_id"`
	FirstChargeProcessedAt           Time       `json:"first_charge_processed_at"`
	FirstName                        string     `json:"first_name"`
	HasPaymentMethodInDunning        bool       `json:"has_payment_method_in_dunning"`
	HasValidPaymentMethod            bool       `json:"has_valid_payment_method"`
	Hash                             string     `json:"hash"`
	LastName                         string     `json:"last_name"`
	Phone                            string     `json:"phone"`
	SubscriptionRelatedChargeStreak  *int       `json:"subscription_related_charge_streak,omitempty"`
	// SubscriptionsActiveCount and SubscriptionsTotalCount are nil when
	// Recharge sends null (or, in older shapes, omits them).
	SubscriptionsActiveCount *int `json:"subscriptions_active_count"`
	SubscriptionsTotalCount  *int `json:"subscriptions_total_count"`
	TaxExempt                bool `json:"tax_exempt"`
	UpdatedAt                Time `json:"updated_at"`

	// Include holds the objects asked for with CustomerGetOptions.Include.
	Include *CustomerInclude `json:"include,omitempty"`
}

// CustomerInclude is customer.include: the related objects a GET
// /customers/{id}?include=... embeds.
type CustomerInclude struct {
	Addresses      []*Address       `json:"addresses,omitempty"`
	Subscriptions  []*Subscription  `json:"subscriptions,omitempty"`
	PaymentMethods []*PaymentMethod `json:"payment_methods,omitempty"`
}

// UnmarshalJSON implements json.Unmarshaler with lenient ids and counts.
func (c *Customer) UnmarshalJSON(b []byte) error {
	type plain Customer
	var aux struct {
		*plain
		ID                              flexInt64  `json:"id"`
		Phone                           flexString `json:"phone"`
		SubscriptionRelatedChargeStreak *flexInt   `json:"subscription_related_charge_streak"`
		SubscriptionsActiveCount        *flexInt   `json:"subscriptions_active_count"`
		SubscriptionsTotalCount         *flexInt   `json:"subscriptions_total_count"`
	}
	aux.plain = (*plain)(c)
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	c.ID = int64(aux.ID)
	c.Phone = string(aux.Phone)
	c.SubscriptionRelatedChargeStreak = intPtr(aux.SubscriptionRelatedChargeStreak)
	c.SubscriptionsActiveCount = intPtr(aux.SubscriptionsActiveCount)
	c.SubscriptionsTotalCount = intPtr(aux.SubscriptionsTotalCount)
	return nil
}

// Subscription is a Recharge subscription.
type Subscription struct {
	ID                                 int64      `json:"id"`
	AddressID                          int64      `json:"address_id"`
	CustomerID                         int64      `json:"customer_id"`
	CancellationReason                 string     `json:"cancellation_reason"`
	CancellationReasonComments         string     `json:"cancellation_reason_comments"`
	CancelledAt                        Time       `json:"cancelled_at"`
	ChargeIntervalFrequency            int        `json:"charge_interval_frequency"`
	CreatedAt                          Time       `json:"created_at"`
	ExpireAfterSpecificNumberOfCharges *int       `json:"expire_after_specific_number_of_charges"`
	ExternalProductID                  ExternalID `json:"external_product_id"`
	ExternalVariantID                  ExternalID `json:"external_variant_id"`
	HasQueuedCharges                   bool       `json:"has_queued_charges"`
	IsPrepaid                          bool       `json:"is_prepaid"`
	IsSkippable                        bool       `json:"is_skippable"`
	IsSwappable                        bool       `json:"is_swappable"`
	MaxRetriesReached                  bool       `json:"max_retries_reached"`
	NextChargeScheduledAt              Date       `json:"next_charge_scheduled_at"`
	OrderDayOfMonth                    *int       `json:"order_day_of_month"`
	OrderDayOfWeek                     *int       `json:"order_day_of_week"`
	OrderIntervalFrequency             int        `json:"order_interval_frequency"`
	OrderIntervalUnit                  string     `json:"order_interval_unit"` // day, week or month
	PlanID                             int64      `json:"plan_id,omitempty"`
	PresentmentCurrency                string     `json:"presentment_currency"`
	Price                              string     `json:"price"` // money: never a float
	ProductTitle                       string     `json:"product_title"`
	Properties                         []Property `json:"properties"`
	Quantity                           int        `json:"quantity"`
	SKU                                string     `json:"sku"`
	SKUOverride                        bool       `json:"sku_override"`
	Status                             string     `json:"status"` // active, cancelled or expired
	UpdatedAt                          Time       `json:"updated_at"`
	VariantTitle                       string     `json:"variant_title"`
}

// UnmarshalJSON implements json.Unmarshaler with lenient ids, numbers and money.
func (s *Subscription) UnmarshalJSON(b []byte) error {
	type plain Subscription
	var aux struct {
		*plain
		ID                                 flexInt64  `json:"id"`
		AddressID                          flexInt64  `json:"address_id"`
		CustomerID                         flexInt64  `json:"customer_id"`
		CancellationReason                 flexString `json:"cancellation_reason"`
		CancellationReasonComments         flexString `json:"cancellation_reason_comments"`
		ChargeIntervalFrequency            flexInt    `json:"charge_interval_frequency"`
		ExpireAfterSpecificNumberOfCharges *flexInt   `json:"expire_after_specific_number_of_charges"`
		OrderDayOfMonth                    *flexInt   `json:"order_day_of_month"`
		OrderDayOfWeek                     *flexInt   `json:"order_day_of_week"`
		OrderIntervalFrequency             flexInt    `json:"order_interval_frequency"`
		PlanID                             flexInt64  `json:"plan_id"`
		Price                              flexString `json:"price"`
		Quantity                           flexInt    `json:"quantity"`
		SKU                                flexString `json:"sku"`
	}
	aux.plain = (*plain)(s)
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	s.ID, s.AddressID, s.CustomerID = int64(aux.ID), int64(aux.AddressID), int64(aux.CustomerID)
	s.CancellationReason = string(aux.CancellationReason)
	s.CancellationReasonComments = string(aux.CancellationReasonComments)
	s.ChargeIntervalFrequency = int(aux.ChargeIntervalFrequency)
	s.ExpireAfterSpecificNumberOfCharges = intPtr(aux.ExpireAfterSpecificNumberOfCharges)
	s.OrderDayOfMonth = intPtr(aux.OrderDayOfMonth)
	s.OrderDayOfWeek = intPtr(aux.OrderDayOfWeek)
	s.OrderIntervalFrequency = int(aux.OrderIntervalFrequency)
	s.PlanID = int64(aux.PlanID)
	s.Price = string(aux.Price)
	s.Quantity = int(aux.Quantity)
	s.SKU = string(aux.SKU)
	return nil
}

// IsActive reports whether the status is active, in any letter case.
func (s *Subscription) IsActive() bool { return strings.EqualFold(s.Status, SubscriptionActive) }

// IsCancelled reports whether the status is cancelled, in any letter case.
func (s *Subscription) IsCancelled() bool {
	return strings.EqualFold(s.Status, SubscriptionCancelled)
}

// Charge is an upcoming or processed payment.
type Charge struct {
	ID                    int64                 `json:"id"`
	AddressID             int64                 `json:"address_id"`
	CustomerID            int64                 `json:"customer_id,omitempty"` // some payloads carry it flat; see Customer
	BillingAddress        *PostalAddress        `json:"billing_address,omitempty"`
	CreatedAt             Time                  `json:"created_at"`
	Currency              string                `json:"currency"`
	Customer              *ChargeCustomer       `json:"customer,omitempty"`
	Error                 string                `json:"error"`
	ErrorType             string                `json:"error_type"`
	ExternalOrderID       ExternalID            `json:"external_order_id"`
	ExternalTransactionID ExternalTransactionID `json:"external_transaction_id"`
	HasUncommittedChanges bool                  `json:"has_uncommitted_changes"`
	LineItems             []*LineItem           `json:"line_items"`
	MergedAt              Time                  `json:"merged_at"`
	Note                  string                `json:"note"`
	OrderAttributes       []Property            `json:"order_attributes"`
	OrdersCount           int                   `json:"orders_count"`
	OriginalScheduledAt   Date                  `json:"original_scheduled_at"`
	PaymentProcessor      string                `json:"payment_processor"`
	ProcessedAt           Time                  `json:"processed_at"`
	RetryDate             Date                  `json:"retry_date"`
	ScheduledAt           Date                  `json:"scheduled_at"`
	ShippingAddress       *PostalAddress        `json:"shipping_address,omitempty"`
	ShippingLines         []*ShippingLine       `json:"shipping_lines"`
	Status                string                `json:"status"` // success, error, queued, skipped, refunded, ...
	SubtotalPrice         string                `json:"subtotal_price"`
	Tags                  string                `json:"tags"`
	Taxable               bool                  `json:"taxable"`
	TaxesIncluded         bool                  `json:"taxes_included"`
	TotalDiscounts        string                `json:"total_discounts"`
	TotalDuties           string                `json:"total_duties"`
	TotalLineItemsPrice   string                `json:"total_line_items_price"`
	TotalPrice            string                `json:"total_price"`
	TotalRefunds          string                `json:"total_refunds"`
	TotalTax              string                `json:"total_tax"`
	TotalWeightGrams      int                   `json:"total_weight_grams"`
	Type                  string                `json:"type"` // checkout or recurring
	UpdatedAt             Time                  `json:"updated_at"`
}

// UnmarshalJSON implements json.Unmarshaler with lenient ids, numbers and money.
func (c *Charge) UnmarshalJSON(b []byte) error {
	type plain Charge
	var aux struct {
		*plain
		ID                  flexInt64  `json:"id"`
		AddressID           flexInt64  `json:"address_id"`
		CustomerID          flexInt64  `json:"customer_id"`
		Error               flexText   `json:"error"`
		ErrorType           flexText   `json:"error_type"`
		OrdersCount         flexInt    `json:"orders_count"`
		SubtotalPrice       flexString `json:"subtotal_price"`
		Tags                flexString `json:"tags"`
		TotalDiscounts      flexString `json:"total_discounts"`
		TotalDuties         flexString `json:"total_duties"`
		TotalLineItemsPrice flexString `json:"total_line_items_price"`
		TotalPrice          flexString `json:"total_price"`
		TotalRefunds        flexString `json:"total_refunds"`
		TotalTax            flexString `json:"total_tax"`
		TotalWeightGrams    flexInt    `json:"total_weight_grams"`
	}
	aux.plain = (*plain)(c)
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	c.ID, c.AddressID, c.CustomerID = int64(aux.ID), int64(aux.AddressID), int64(aux.CustomerID)
	if c.CustomerID == 0 && c.Customer != nil {
		c.CustomerID = c.Customer.ID
	}
	c.Error, c.ErrorType = string(aux.Error), string(aux.ErrorType)
	c.OrdersCount = int(aux.OrdersCount)
	c.SubtotalPrice = string(aux.SubtotalPrice)
	c.Tags = string(aux.Tags)
	c.TotalDiscounts = string(aux.TotalDiscounts)
	c.TotalDuties = string(aux.TotalDuties)
	c.TotalLineItemsPrice = string(aux.TotalLineItemsPrice)
	c.TotalPrice = string(aux.TotalPrice)
	c.TotalRefunds = string(aux.TotalRefunds)
	c.TotalTax = string(aux.TotalTax)
	c.TotalWeightGrams = int(aux.TotalWeightGrams)
	return nil
}

// ChargeCustomer is the short customer object embedded in a charge.
type ChargeCustomer struct {
	ID                 int64      `json:"id"`
	Email              string     `json:"email"`
	ExternalCustomerID ExternalID `json:"external_customer_id"`
	Hash               string     `json:"hash"`
}

// UnmarshalJSON implements json.Unmarshaler with a lenient id.
func (c *ChargeCustomer) UnmarshalJSON(b []byte) error {
	type plain ChargeCustomer
	var aux struct {
		*plain
		ID flexInt64 `json:"id"`
	}
	aux.plain = (*plain)(c)
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	c.ID = int64(aux.ID)
	return nil
}

// ExternalTransactionID is a charge's payment processor transaction id.
type ExternalTransactionID struct {
	PaymentProcessor *string `json:"payment_processor"`
}

// LineItem is one line of a charge. It carries the product image and SKU
// that the subscription object lacks.
type LineItem struct {
	// PurchaseItemID is the id of the subscription (or one-time product)
	// behind the line; PurchaseItemType says which.
	PurchaseItemID       int64      `json:"purchase_item_id"`
	ExternalProductID    ExternalID `json:"external_product_id"`
	ExternalVariantID    ExternalID `json:"external_variant_id"`
	Grams                int        `json:"grams"`
	Handle               string     `json:"handle"`
	Images               Images     `json:"images"`
	OriginalPrice        string     `json:"original_price"`
	Properties           []Property `json:"properties"`
	PurchaseItemType     string     `json:"purchase_item_type"` // subscription or onetime
	Quantity             int        `json:"quantity"`
	SKU                  string     `json:"sku"`
	TaxDue               string     `json:"tax_due"`
	Taxable              bool       `json:"taxable"`
	TaxableAmount        string     `json:"taxable_amount"`
	Title                string     `json:"title"`
	TotalPrice           string     `json:"total_price"`
	UnitPrice            string     `json:"unit_price"`
	UnitPriceIncludesTax bool       `json:"unit_price_includes_tax"`
	VariantTitle         string     `json:"variant_title"`
}

// UnmarshalJSON implements json.Unmarshaler with lenient ids, numbers and money.
func (li *LineItem) UnmarshalJSON(b []byte) error {
	type plain LineItem
	var aux struct {
		*plain
		PurchaseItemID flexInt64  `json:"purchase_item_id"`
		Grams          flexInt    `json:"grams"`
		OriginalPrice  flexString `json:"original_price"`
		Quantity       flexInt    `json:"quantity"`
		SKU            flexString `json:"sku"`
		TaxDue         flexString `json:"tax_due"`
		TaxableAmount  flexString `json:"taxable_amount"`
		TotalPrice     flexString `json:"total_price"`
		UnitPrice      flexString `json:"unit_price"`
	}
	aux.plain = (*plain)(li)
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	li.PurchaseItemID = int64(aux.PurchaseItemID)
	li.Grams = int(aux.Grams)
	li.OriginalPrice = string(aux.OriginalPrice)
	li.Quantity = int(aux.Quantity)
	li.SKU = string(aux.SKU)
	li.TaxDue = string(aux.TaxDue)
	li.TaxableAmount = string(aux.TaxableAmount)
	li.TotalPrice = string(aux.TotalPrice)
	li.UnitPrice = string(aux.UnitPrice)
	return nil
}

// Images are the image URLs of a product in four sizes; any may be "".
type Images struct {
	Small    string `json:"small,omitempty"`
	Medium   string `json:"medium,omitempty"`
	Large    string `json:"large,omitempty"`
	Original string `json:"original,omitempty"`
}

// Best returns the first non-empty of medium, small, original and large:
// the size the Subscription card shows (spec/gladly-lookup.md section 12).
func (im Images) Best() string {
	for _, u := range []string{im.Medium, im.Small, im.Original, im.Large} {
		// Recharge data is untrusted: only an absolute http(s) URL is an
		// image a page may load.
		if u = rechargekit.SafeURL(u); u != "" {
			return u
		}
	}
	return ""
}

// ShippingLine is a shipping method of a charge.
type ShippingLine struct {
	Code    string `json:"code"`
	Price   string `json:"price"`
	Source  string `json:"source"`
	Status  string `json:"status"`
	Taxable bool   `json:"taxable"`
	Title   string `json:"title"`
}

// UnmarshalJSON implements json.Unmarshaler with lenient money.
func (sl *ShippingLine) UnmarshalJSON(b []byte) error {
	type plain ShippingLine
	var aux struct {
		*plain
		Price flexString `json:"price"`
	}
	aux.plain = (*plain)(sl)
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	sl.Price = string(aux.Price)
	return nil
}

// PostalAddress is the billing or shipping address embedded in a charge or
// a payment method.
type PostalAddress struct {
	Address1    string `json:"address1"`
	Address2    string `json:"address2"`
	City        string `json:"city"`
	Company     string `json:"company"`
	Country     string `json:"country,omitempty"`
	CountryCode string `json:"country_code"`
	FirstName   string `json:"first_name"`
	LastName    string `json:"last_name"`
	Phone       string `json:"phone"`
	Province    string `json:"province"`
	Zip         string `json:"zip"`
}

// UnmarshalJSON implements json.Unmarshaler; phone and zip may be numbers.
func (a *PostalAddress) UnmarshalJSON(b []byte) error {
	type plain PostalAddress
	var aux struct {
		*plain
		Phone flexString `json:"phone"`
		Zip   flexString `json:"zip"`
	}
	aux.plain = (*plain)(a)
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	a.Phone, a.Zip = string(aux.Phone), string(aux.Zip)
	return nil
}

// Address is a customer's shipping address; subscriptions hang off it.
type Address struct {
	ID                  int64      `json:"id"`
	CustomerID          int64      `json:"customer_id"`
	PaymentMethodID     int64      `json:"payment_method_id"`
	Address1            string     `json:"address1"`
	Address2            string     `json:"address2"`
	City                string     `json:"city"`
	Company             string     `json:"company"`
	CountryCode         string     `json:"country_code"`
	CreatedAt           Time       `json:"created_at"`
	FirstName           string     `json:"first_name"`
	IsGift              bool       `json:"is_gift"`
	LastName            string     `json:"last_name"`
	OrderAttributes     []Property `json:"order_attributes"`
	OrderNote           string     `json:"order_note"`
	Phone               string     `json:"phone"`
	PresentmentCurrency string     `json:"presentment_currency"`
	Province            string     `json:"province"`
	UpdatedAt           Time       `json:"updated_at"`
	Zip                 string     `json:"zip"`
}

// UnmarshalJSON implements json.Unmarshaler with lenient ids.
func (a *Address) UnmarshalJSON(b []byte) error {
	type plain Address
	var aux struct {
		*plain
		ID              flexInt64  `json:"id"`
		CustomerID      flexInt64  `json:"customer_id"`
		PaymentMethodID flexInt64  `json:"payment_method_id"`
		Phone           flexString `json:"phone"`
		Zip             flexString `json:"zip"`
	}
	aux.plain = (*plain)(a)
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	a.ID, a.CustomerID, a.PaymentMethodID = int64(aux.ID), int64(aux.CustomerID), int64(aux.PaymentMethodID)
	a.Phone, a.Zip = string(aux.Phone), string(aux.Zip)
	return nil
}

// Product is a 2021-11 catalog product. Only stores on Recharge's custom
// platform have a catalog; Shopify stores answer 422 (see
// IsPlatformUnsupported). The shape follows a third-party client model and
// has not been checked against a live store, hence the lenient decoding.
type Product struct {
	ExternalProductID ExternalID        `json:"external_product_id"`
	Brand             string            `json:"brand"`
	Description       string            `json:"description"`
	Images            []ProductImage    `json:"images"`
	Options           []json.RawMessage `json:"options,omitempty"`
	PublishedAt       Time              `json:"published_at"`
	RequiresShipping  bool              `json:"requires_shipping"`
	Title             string            `json:"title"`
	Variants          []ProductVariant  `json:"variants"`
	Vendor            string            `json:"vendor"`
}

// ProductImage is one image of a catalog product.
type ProductImage struct {
	Images
	SortOrder int `json:"sort_order"`
}

// UnmarshalJSON implements json.Unmarshaler with a lenient sort order.
func (pi *ProductImage) UnmarshalJSON(b []byte) error {
	var aux struct {
		Small     flexString `json:"small"`
		Medium    flexString `json:"medium"`
		Large     flexString `json:"large"`
		Original  flexString `json:"original"`
		SortOrder flexInt    `json:"sort_order"`
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	*pi = ProductImage{
		Images: Images{
			Small: string(aux.Small), Medium: string(aux.Medium),
			Large: string(aux.Large), Original: string(aux.Original),
		},
		SortOrder: int(aux.SortOrder),
	}
	return nil
}

// ProductVariant is one variant of a catalog product.
type ProductVariant struct {
	ExternalVariantID ExternalID     `json:"external_variant_id"`
	Image             *ProductImage  `json:"image,omitempty"`
	Prices            *VariantPrices `json:"prices,omitempty"`
	RequiresShipping  bool           `json:"requires_shipping"`
	SKU               string         `json:"sku"`
	Taxable           bool           `json:"taxable"`
	Title             string         `json:"title"`
}

// VariantPrices are a catalog variant's prices.
type VariantPrices struct {
	CompareAtPrice string `json:"compare_at_price"`
	UnitPrice      string `json:"unit_price"`
}

// UnmarshalJSON implements json.Unmarshaler with lenient money.
func (vp *VariantPrices) UnmarshalJSON(b []byte) error {
	var aux struct {
		CompareAtPrice flexString `json:"compare_at_price"`
		UnitPrice      flexString `json:"unit_price"`
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	vp.CompareAtPrice, vp.UnitPrice = string(aux.CompareAtPrice), string(aux.UnitPrice)
	return nil
}

// ImageURL returns the catalog image for a variant: the variant's own image
// when it has one, else the product image with the lowest sort order; each
// time the first non-empty of medium, small, original and large. variantID
// may be "".
func (p *Product) ImageURL(variantID string) string {
	if variantID != "" {
		for _, v := range p.Variants {
			if v.ExternalVariantID.String() == variantID && v.Image != nil {
				if u := v.Image.Best(); u != "" {
					return u
				}
			}
		}
	}
	best, bestOrder := "", 0
	for _, im := range p.Images {
		if u := im.Best(); u != "" && (best == "" || im.SortOrder < bestOrder) {
			best, bestOrder = u, im.SortOrder
		}
	}
	return best
}

// PaymentMethod is a customer's payment method. Processor tokens are not
// decoded on purpose: nothing here needs them and they should not travel.
type PaymentMethod struct {
	ID             int64           `json:"id"`
	CustomerID     int64           `json:"customer_id"`
	BillingAddress *PostalAddress  `json:"billing_address,omitempty"`
	CreatedAt      Time            `json:"created_at"`
	Default        bool            `json:"default"`
	PaymentDetails *PaymentDetails `json:"payment_details,omitempty"`
	PaymentType    string          `json:"payment_type"`
	ProcessorName  string          `json:"processor_name"`
	Status         string          `json:"status"`
	StatusReason   string          `json:"status_reason"`
	UpdatedAt      Time            `json:"updated_at"`
}

// UnmarshalJSON implements json.Unmarshaler with lenient ids.
func (pm *PaymentMethod) UnmarshalJSON(b []byte) error {
	type plain PaymentMethod
	var aux struct {
		*plain
		ID         flexInt64 `json:"id"`
		CustomerID flexInt64 `json:"customer_id"`
	}
	aux.plain = (*plain)(pm)
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	pm.ID, pm.CustomerID = int64(aux.ID), int64(aux.CustomerID)
	return nil
}

// PaymentDetails describe a card without its number.
type PaymentDetails struct {
	Brand    string `json:"brand,omitempty"`
	ExpMonth int    `json:"exp_month,omitempty"`
	ExpYear  int    `json:"exp_year,omitempty"`
	Last4    string `json:"last4,omitempty"`
}

// UnmarshalJSON implements json.Unmarshaler with lenient numbers.
func (pd *PaymentDetails) UnmarshalJSON(b []byte) error {
	var aux struct {
		Brand    flexString `json:"brand"`
		ExpMonth flexInt    `json:"exp_month"`
		ExpYear  flexInt    `json:"exp_year"`
		Last4    flexString `json:"last4"`
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	*pd = PaymentDetails{Brand: string(aux.Brand), ExpMonth: int(aux.ExpMonth), ExpYear: int(aux.ExpYear), Last4: string(aux.Last4)}
	return nil
}

// DeliverySchedule is GET /customers/{id}/delivery_schedule: upcoming
// deliveries grouped by date.
type DeliverySchedule struct {
	Customer   *Customer  `json:"customer"`
	Deliveries []Delivery `json:"deliveries"`
}

// Delivery is the orders expected on one date.
type Delivery struct {
	Date   Date             `json:"date"`
	Orders []*DeliveryOrder `json:"orders"`
}

// DeliveryOrder is one expected order of a Delivery.
type DeliveryOrder struct {
	ID              int64               `json:"id"`
	AddressID       int64               `json:"address_id"`
	ChargeID        int64               `json:"charge_id"`
	LineItems       []*DeliveryLineItem `json:"line_items"`
	PaymentMethod   *PaymentMethod      `json:"payment_method,omitempty"`
	ShippingAddress *PostalAddress      `json:"shipping_address,omitempty"`
}

// UnmarshalJSON implements json.Unmarshaler with lenient ids.
func (o *DeliveryOrder) UnmarshalJSON(b []byte) error {
	type plain DeliveryOrder
	var aux struct {
		*plain
		ID        flexInt64 `json:"id"`
		AddressID flexInt64 `json:"address_id"`
		ChargeID  flexInt64 `json:"charge_id"`
	}
	aux.plain = (*plain)(o)
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	o.ID, o.AddressID, o.ChargeID = int64(aux.ID), int64(aux.AddressID), int64(aux.ChargeID)
	return nil
}

// DeliveryLineItem is one product of a DeliveryOrder.
type DeliveryLineItem struct {
	SubscriptionID    int64      `json:"subscription_id"`
	ExternalProductID ExternalID `json:"external_product_id"`
	ExternalVariantID ExternalID `json:"external_variant_id"`
	Images            Images     `json:"images"`
	IsSkippable       bool       `json:"is_skippable"`
	PlanType          string     `json:"plan_type"`
	ProductTitle      string     `json:"product_title"`
	Properties        []Property `json:"properties"`
	Quantity          int        `json:"quantity"`
	SubtotalPrice     string     `json:"subtotal_price"`
	UnitPrice         string     `json:"unit_price"`
	VariantTitle      string     `json:"variant_title"`
}

// UnmarshalJSON implements json.Unmarshaler with lenient ids and money.
func (li *DeliveryLineItem) UnmarshalJSON(b []byte) error {
	type plain DeliveryLineItem
	var aux struct {
		*plain
		SubscriptionID flexInt64  `json:"subscription_id"`
		Quantity       flexInt    `json:"quantity"`
		SubtotalPrice  flexString `json:"subtotal_price"`
		UnitPrice      flexString `json:"unit_price"`
	}
	aux.plain = (*plain)(li)
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	li.SubscriptionID = int64(aux.SubscriptionID)
	li.Quantity = int(aux.Quantity)
	li.SubtotalPrice, li.UnitPrice = string(aux.SubtotalPrice), string(aux.UnitPrice)
	return nil
}

// TokenInformation is GET /token_information: who the token belongs to and
// what it may do.
type TokenInformation struct {
	Client       *TokenClient `json:"client,omitempty"`
	ContactEmail string       `json:"contact_email"`
	Name         string       `json:"name"`
	Scopes       []string     `json:"scopes"`
}

// HasScope reports whether the token has the scope (e.g. "read_orders").
func (ti *TokenInformation) HasScope(scope string) bool {
	for _, s := range ti.Scopes {
		if strings.EqualFold(s, scope) {
			return true
		}
	}
	return false
}

// TokenClient is the API client a token was created for.
type TokenClient struct {
	Name         string `json:"name"`
	ContactEmail string `json:"contact_email"`
}

// Store is GET /store. Only the fields the service may use are typed; the
// rest is ignored.
type Store struct {
	ID               int64         `json:"id"`
	CheckoutPlatform string        `json:"checkout_platform"`
	CreatedAt        Time          `json:"created_at"`
	Currency         string        `json:"currency"`
	Email            string        `json:"email"`
	ExternalPlatform string        `json:"external_platform"`
	Identifier       string        `json:"identifier"`
	Name             string        `json:"name"`
	Phone            string        `json:"phone"`
	Timezone         StoreTimezone `json:"timezone"`
	UpdatedAt        Time          `json:"updated_at"`
	WeightUnit       string        `json:"weight_unit"`
}

// UnmarshalJSON implements json.Unmarshaler with a lenient id and timezone.
func (s *Store) UnmarshalJSON(b []byte) error {
	type plain Store
	var aux struct {
		*plain
		ID       flexInt64       `json:"id"`
		Timezone json.RawMessage `json:"timezone"`
	}
	aux.plain = (*plain)(s)
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	s.ID = int64(aux.ID)
	s.Timezone = StoreTimezone{}
	// Older shapes send the zone as a bare string.
	if tz := aux.Timezone; len(tz) > 0 && tz[0] == '"' {
		var name string
		if err := json.Unmarshal(tz, &name); err != nil {
			return err
		}
		s.Timezone.IANAName = name
	} else if len(tz) > 0 && tz[0] == '{' {
		if err := json.Unmarshal(tz, &s.Timezone); err != nil {
			return err
		}
	}
	return nil
}

// StoreTimezone is the store's time zone.
type StoreTimezone struct {
	IANAName string `json:"iana_name"`
	Name     string `json:"name"`
}

// Webhook is a webhook registration.
type Webhook struct {
	ID              int64    `json:"id"`
	Address         string   `json:"address"`
	IncludedObjects []string `json:"included_objects,omitempty"`
	Topic           string   `json:"topic"`
	Version         string   `json:"version,omitempty"`
}

// UnmarshalJSON implements json.Unmarshaler with a lenient id.
func (w *Webhook) UnmarshalJSON(b []byte) error {
	type plain Webhook
	var aux struct {
		*plain
		ID flexInt64 `json:"id"`
	}
	aux.plain = (*plain)(w)
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	w.ID = int64(aux.ID)
	return nil
}
