package recharge

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/rechargekit/rechargekit"
)

// The resource types below follow the 2021-11 shapes of spec/recharge-api.md
// sections 3-8. Every field is optional: null decodes to the zero value and
// unknown fields are ignored. Fields whose shape varies between payloads use
// the lenient types of decode.go: ids and counts (Int64, Int) also accept
// numeric strings, money (Money) also accepts JSON numbers, flags (Bool) also
// accept 1 and 0. Keys are listed in the wire order (id, foreign keys, then
// alphabetical).

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
	ID                               Int64      `json:"id"`
	ApplyCreditToNextCheckoutCharge  Bool       `json:"apply_credit_to_next_checkout_charge"`
	ApplyCreditToNextRecurringCharge Bool       `json:"apply_credit_to_next_recurring_charge"`
	CreatedAt                        Time       `json:"created_at"`
	Email                            string     `json:"email"`
	ExternalCustomerID               ExternalID `json:"external_customer_id"`
	FirstChargeProcessedAt           Time       `json:"first_charge_processed_at"`
	FirstName                        string     `json:"first_name"`
	HasPaymentMethodInDunning        Bool       `json:"has_payment_method_in_dunning"`
	HasValidPaymentMethod            Bool       `json:"has_valid_payment_method"`
	Hash                             string     `json:"hash"`
	LastName                         string     `json:"last_name"`
	Phone                            String     `json:"phone"`
	SubscriptionRelatedChargeStreak  *Int       `json:"subscription_related_charge_streak,omitempty"`
	// SubscriptionsActiveCount and SubscriptionsTotalCount are nil when
	// Recharge sends null (or, in older shapes, omits them).
	SubscriptionsActiveCount *Int `json:"subscriptions_active_count"`
	SubscriptionsTotalCount  *Int `json:"subscriptions_total_count"`
	TaxExempt                Bool `json:"tax_exempt"`
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

// Subscription is a Recharge subscription.
type Subscription struct {
	ID                                 Int64      `json:"id"`
	AddressID                          Int64      `json:"address_id"`
	CustomerID                         Int64      `json:"customer_id"`
	CancellationReason                 String     `json:"cancellation_reason"`
	CancellationReasonComments         String     `json:"cancellation_reason_comments"`
	CancelledAt                        Time       `json:"cancelled_at"`
	ChargeIntervalFrequency            Int        `json:"charge_interval_frequency"`
	CreatedAt                          Time       `json:"created_at"`
	ExpireAfterSpecificNumberOfCharges *Int       `json:"expire_after_specific_number_of_charges"`
	ExternalProductID                  ExternalID `json:"external_product_id"`
	ExternalVariantID                  ExternalID `json:"external_variant_id"`
	HasQueuedCharges                   Bool       `json:"has_queued_charges"`
	IsPrepaid                          Bool       `json:"is_prepaid"`
	IsSkippable                        Bool       `json:"is_skippable"`
	IsSwappable                        Bool       `json:"is_swappable"`
	MaxRetriesReached                  Bool       `json:"max_retries_reached"`
	NextChargeScheduledAt              Date       `json:"next_charge_scheduled_at"`
	OrderDayOfMonth                    *Int       `json:"order_day_of_month"`
	OrderDayOfWeek                     *Int       `json:"order_day_of_week"`
	OrderIntervalFrequency             Int        `json:"order_interval_frequency"`
	OrderIntervalUnit                  string     `json:"order_interval_unit"` // day, week or month
	PlanID                             Int64      `json:"plan_id,omitempty"`
	PresentmentCurrency                string     `json:"presentment_currency"`
	Price                              Money      `json:"price"` // money: never a float
	ProductTitle                       string     `json:"product_title"`
	Properties                         []Property `json:"properties"`
	Quantity                           Int        `json:"quantity"`
	SKU                                String     `json:"sku"`
	SKUOverride                        Bool       `json:"sku_override"`
	Status                             string     `json:"status"` // active, cancelled or expired
	UpdatedAt                          Time       `json:"updated_at"`
	VariantTitle                       string     `json:"variant_title"`
}

// IsActive reports whether the status is active, in any letter case.
func (s *Subscription) IsActive() bool { return strings.EqualFold(s.Status, SubscriptionActive) }

// IsCancelled reports whether the status is cancelled, in any letter case.
func (s *Subscription) IsCancelled() bool {
	return strings.EqualFold(s.Status, SubscriptionCancelled)
}

// Charge is an upcoming or processed payment.
type Charge struct {
	ID                    Int64                 `json:"id"`
	AddressID             Int64                 `json:"address_id"`
	CustomerID            Int64                 `json:"customer_id,omitempty"` // some payloads carry it flat; see Customer
	BillingAddress        *PostalAddress        `json:"billing_address,omitempty"`
	ChargeAttempts        *Int                  `json:"charge_attempts,omitempty"` // absent from the 2025 captures
	CreatedAt             Time                  `json:"created_at"`
	Currency              string                `json:"currency"`
	Customer              *ChargeCustomer       `json:"customer,omitempty"`
	Discounts             []*ChargeDiscount     `json:"discounts"`
	Error                 Text                  `json:"error"`
	ErrorType             Text                  `json:"error_type"`
	ExternalOrderID       ExternalID            `json:"external_order_id"`
	ExternalOrderName     ExternalID            `json:"external_order_name,omitzero"` // the store's order name, "#1016"
	ExternalTransactionID ExternalTransactionID `json:"external_transaction_id"`
	HasUncommittedChanges Bool                  `json:"has_uncommitted_changes"`
	LastChargeAttempt     Time                  `json:"last_charge_attempt,omitzero"`
	LineItems             []*LineItem           `json:"line_items"`
	MergedAt              Time                  `json:"merged_at"`
	Note                  string                `json:"note"`
	OrderAttributes       []Property            `json:"order_attributes"`
	OrdersCount           Int                   `json:"orders_count"`
	OriginalScheduledAt   Date                  `json:"original_scheduled_at"`
	PaymentProcessor      string                `json:"payment_processor"`
	ProcessedAt           Time                  `json:"processed_at"`
	// RetryDate is the next retry of a charge in error. Recharge sends a
	// date ("2022-06-12", read as midnight UTC) or a timestamp
	// ("2022-06-12T04:00:00+00:00"); both occur.
	RetryDate           Time            `json:"retry_date"`
	ScheduledAt         Date            `json:"scheduled_at"`
	ShippingAddress     *PostalAddress  `json:"shipping_address,omitempty"`
	ShippingLines       []*ShippingLine `json:"shipping_lines"`
	Status              string          `json:"status"` // success, error, queued, skipped, refunded, ...
	SubtotalPrice       Money           `json:"subtotal_price"`
	Tags                String          `json:"tags"`
	Taxable             Bool            `json:"taxable"`
	TaxesIncluded       Bool            `json:"taxes_included"`
	TotalDiscounts      Money           `json:"total_discounts"`
	TotalDuties         Money           `json:"total_duties"`
	TotalLineItemsPrice Money           `json:"total_line_items_price"`
	TotalPrice          Money           `json:"total_price"`
	TotalRefunds        Money           `json:"total_refunds"`
	TotalTax            Money           `json:"total_tax"`
	TotalWeightGrams    Int             `json:"total_weight_grams"`
	Type                string          `json:"type"` // checkout or recurring
	UpdatedAt           Time            `json:"updated_at"`
}

// UnmarshalJSON implements json.Unmarshaler. Some payloads carry the
// customer id only inside the embedded customer; CustomerID then takes it.
func (c *Charge) UnmarshalJSON(b []byte) error {
	type plain Charge
	if err := json.Unmarshal(b, (*plain)(c)); err != nil {
		return err
	}
	if c.CustomerID == 0 && c.Customer != nil {
		c.CustomerID = c.Customer.ID
	}
	return nil
}

// Charge discount value types.
const (
	DiscountPercentage  = "percentage"
	DiscountFixedAmount = "fixed_amount"
	DiscountShipping    = "shipping"
)

// ChargeDiscount is one discount applied to a charge
// (spec/recharge-actions.md section 1.8).
type ChargeDiscount struct {
	ID        Int64  `json:"id"`
	Code      String `json:"code"`
	Value     Money  `json:"value"`
	ValueType string `json:"value_type"` // percentage, fixed_amount or shipping
}

// ChargeCustomer is the short customer object embedded in a charge.
type ChargeCustomer struct {
	ID                 Int64      `json:"id"`
	Email              string     `json:"email"`
	ExternalCustomerID ExternalID `json:"external_customer_id"`
	Hash               string     `json:"hash"`
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
	PurchaseItemID       Int64      `json:"purchase_item_id"`
	ExternalProductID    ExternalID `json:"external_product_id"`
	ExternalVariantID    ExternalID `json:"external_variant_id"`
	Grams                Int        `json:"grams"`
	Handle               string     `json:"handle"`
	Images               Images     `json:"images"`
	OriginalPrice        Money      `json:"original_price"`
	Properties           []Property `json:"properties"`
	PurchaseItemType     string     `json:"purchase_item_type"` // subscription or onetime
	Quantity             Int        `json:"quantity"`
	SKU                  String     `json:"sku"`
	TaxDue               Money      `json:"tax_due"`
	Taxable              Bool       `json:"taxable"`
	TaxableAmount        Money      `json:"taxable_amount"`
	Title                string     `json:"title"`
	TotalPrice           Money      `json:"total_price"`
	UnitPrice            Money      `json:"unit_price"`
	UnitPriceIncludesTax Bool       `json:"unit_price_includes_tax"`
	VariantTitle         string     `json:"variant_title"`
}

// Images are the image URLs of a product in four sizes; any may be "".
type Images struct {
	Small    String `json:"small,omitempty"`
	Medium   String `json:"medium,omitempty"`
	Large    String `json:"large,omitempty"`
	Original String `json:"original,omitempty"`
}

// Best returns the first non-empty of medium, small, original and large:
// the size the Subscription card shows (spec/gladly-lookup.md section 12).
func (im Images) Best() string {
	for _, u := range []String{im.Medium, im.Small, im.Original, im.Large} {
		// Recharge data is untrusted: only an absolute http(s) URL is an
		// image a page may load.
		if u := rechargekit.SafeURL(string(u)); u != "" {
			return u
		}
	}
	return ""
}

// ShippingLine is a shipping method of a charge.
type ShippingLine struct {
	Code    string `json:"code"`
	Price   Money  `json:"price"`
	Source  string `json:"source"`
	Status  string `json:"status"`
	Taxable Bool   `json:"taxable"`
	Title   string `json:"title"`
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
	Phone       String `json:"phone"`
	Province    string `json:"province"`
	Zip         String `json:"zip"`
}

// Address is a customer's shipping address; subscriptions hang off it.
type Address struct {
	ID                  Int64      `json:"id"`
	CustomerID          Int64      `json:"customer_id"`
	PaymentMethodID     Int64      `json:"payment_method_id"`
	Address1            string     `json:"address1"`
	Address2            string     `json:"address2"`
	City                string     `json:"city"`
	Company             string     `json:"company"`
	CountryCode         string     `json:"country_code"`
	CreatedAt           Time       `json:"created_at"`
	FirstName           string     `json:"first_name"`
	IsGift              Bool       `json:"is_gift"`
	LastName            string     `json:"last_name"`
	OrderAttributes     []Property `json:"order_attributes"`
	OrderNote           string     `json:"order_note"`
	Phone               String     `json:"phone"`
	PresentmentCurrency string     `json:"presentment_currency"`
	Province            string     `json:"province"`
	UpdatedAt           Time       `json:"updated_at"`
	Zip                 String     `json:"zip"`
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
	RequiresShipping  Bool              `json:"requires_shipping"`
	Title             string            `json:"title"`
	Variants          []ProductVariant  `json:"variants"`
	Vendor            string            `json:"vendor"`
}

// ProductImage is one image of a catalog product.
type ProductImage struct {
	Images
	SortOrder Int `json:"sort_order"`
}

// ProductVariant is one variant of a catalog product.
type ProductVariant struct {
	ExternalVariantID ExternalID     `json:"external_variant_id"`
	Image             *ProductImage  `json:"image,omitempty"`
	Prices            *VariantPrices `json:"prices,omitempty"`
	RequiresShipping  Bool           `json:"requires_shipping"`
	SKU               string         `json:"sku"`
	Taxable           Bool           `json:"taxable"`
	Title             string         `json:"title"`
}

// VariantPrices are a catalog variant's prices.
type VariantPrices struct {
	CompareAtPrice Money `json:"compare_at_price"`
	UnitPrice      Money `json:"unit_price"`
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
	best, bestOrder := "", Int(0)
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
	ID             Int64           `json:"id"`
	CustomerID     Int64           `json:"customer_id"`
	BillingAddress *PostalAddress  `json:"billing_address,omitempty"`
	CreatedAt      Time            `json:"created_at"`
	Default        Bool            `json:"default"`
	PaymentDetails *PaymentDetails `json:"payment_details,omitempty"`
	PaymentType    string          `json:"payment_type"`
	ProcessorName  string          `json:"processor_name"`
	Status         string          `json:"status"`
	StatusReason   string          `json:"status_reason"`
	UpdatedAt      Time            `json:"updated_at"`
}

// PaymentDetails describe a card without its number, or a wallet.
type PaymentDetails struct {
	Brand       String `json:"brand,omitempty"`
	ExpMonth    Int    `json:"exp_month,omitempty"`
	ExpYear     Int    `json:"exp_year,omitempty"`
	Last4       String `json:"last4,omitempty"`
	PaypalEmail String `json:"paypal_email,omitempty"`
	WalletType  String `json:"wallet_type,omitempty"`
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
	ID              Int64               `json:"id"`
	AddressID       Int64               `json:"address_id"`
	ChargeID        Int64               `json:"charge_id"`
	LineItems       []*DeliveryLineItem `json:"line_items"`
	PaymentMethod   *PaymentMethod      `json:"payment_method,omitempty"`
	ShippingAddress *PostalAddress      `json:"shipping_address,omitempty"`
}

// DeliveryLineItem is one product of a DeliveryOrder.
type DeliveryLineItem struct {
	SubscriptionID    Int64      `json:"subscription_id"`
	ExternalProductID ExternalID `json:"external_product_id"`
	ExternalVariantID ExternalID `json:"external_variant_id"`
	Images            Images     `json:"images"`
	IsSkippable       Bool       `json:"is_skippable"`
	PlanType          string     `json:"plan_type"`
	ProductTitle      string     `json:"product_title"`
	Properties        []Property `json:"properties"`
	Quantity          Int        `json:"quantity"`
	SubtotalPrice     Money      `json:"subtotal_price"`
	UnitPrice         Money      `json:"unit_price"`
	VariantTitle      string     `json:"variant_title"`
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
	ID               Int64         `json:"id"`
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

// StoreTimezone is the store's time zone.
type StoreTimezone struct {
	IANAName string `json:"iana_name"`
	Name     string `json:"name"`
}

// UnmarshalJSON implements json.Unmarshaler. Older shapes send the zone as
// a bare string, its IANA name; any other value but an object (null, a
// number) leaves the zone empty.
func (tz *StoreTimezone) UnmarshalJSON(b []byte) error {
	*tz = StoreTimezone{}
	switch b = bytes.TrimSpace(b); {
	case len(b) > 0 && b[0] == '"':
		return json.Unmarshal(b, &tz.IANAName)
	case len(b) > 0 && b[0] == '{':
		type plain StoreTimezone
		return json.Unmarshal(b, (*plain)(tz))
	}
	return nil
}

// Webhook is a webhook registration.
type Webhook struct {
	ID              Int64    `json:"id"`
	Address         string   `json:"address"`
	IncludedObjects []string `json:"included_objects,omitempty"`
	Topic           string   `json:"topic"`
	Version         string   `json:"version,omitempty"`
}
