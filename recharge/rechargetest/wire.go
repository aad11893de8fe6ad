package rechargetest

import (
	"bytes"
	"encoding/json"
	"time"
)

// The wire structs below are the simulator's own: they are written from the
// captured 2021-11 payloads (spec sections 3-8), never shared with the
// client. Field order is the wire order: "id" first, then the foreign keys,
// then the remaining keys in alphabetical order. Nullable values are
// pointers without omitempty, so that they come out as null like Recharge's.
// Unexported fields carry the simulator's own bookkeeping and are never
// encoded.

// stamp is a Recharge timestamp: UTC, "+00:00", and microseconds only when
// the time has a sub-second part (as cancelled_at does in real captures).
type stamp struct{ time.Time }

const (
	stampLayout      = "2006-01-02T15:04:05-07:00"
	stampMicroLayout = "2006-01-02T15:04:05.000000-07:00"
	dateLayout       = "2006-01-02"
)

func (t stamp) String() string {
	u := t.UTC()
	if u.Nanosecond() != 0 {
		return u.Format(stampMicroLayout)
	}
	return u.Format(stampLayout)
}

// MarshalJSON writes the timestamp in Recharge's format.
func (t stamp) MarshalJSON() ([]byte, error) {
	return []byte(`"` + t.String() + `"`), nil
}

// sec returns t truncated to whole seconds in UTC, the precision of
// created_at and updated_at on the wire.
func sec(t time.Time) stamp { return stamp{t.UTC().Truncate(time.Second)} }

// micro returns t truncated to microseconds, the precision of cancelled_at.
func micro(t time.Time) stamp { return stamp{t.UTC().Truncate(time.Microsecond)} }

func secp(t time.Time) *stamp { s := sec(t); return &s }

func microp(t time.Time) *stamp { s := micro(t); return &s }

// ecommerceID is an external platform id: {"ecommerce":"7923224739991"}.
type ecommerceID struct {
	Ecommerce *string `json:"ecommerce"`
}

func ecom(s string) ecommerceID {
	if s == "" {
		return ecommerceID{}
	}
	return ecommerceID{Ecommerce: &s}
}

func (e ecommerceID) value() string {
	if e.Ecommerce == nil {
		return ""
	}
	return *e.Ecommerce
}

type paymentProcessorID struct {
	PaymentProcessor *string `json:"payment_processor"`
}

type analyticsData struct {
	UTMParams []json.RawMessage `json:"utm_params"`
}

func newAnalytics() analyticsData { return analyticsData{UTMParams: []json.RawMessage{}} }

type property struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

func strp(s string) *string { return &s }

// optStr returns nil for "" so that an unknown value is encoded as null.
func optStr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

type customerJSON struct {
	ID                               int64          `json:"id"`
	AnalyticsData                    analyticsData  `json:"analytics_data"`
	ApplyCreditToNextCheckoutCharge  bool           `json:"apply_credit_to_next_checkout_charge"`
	ApplyCreditToNextRecurringCharge bool           `json:"apply_credit_to_next_recurring_charge"`
	CreatedAt                        stamp          `json:"created_at"`
	Email                            string         `json:"email"`
	ExternalCustomerID               ecommerceID    `json:"external_customer_id"`
	FirstChargeProcessedAt           *stamp         `json:"first_charge_processed_at"`
	FirstName                        string         `json:"first_name"`
	HasPaymentMethodInDunning        bool           `json:"has_payment_method_in_dunning"`
	HasValidPaymentMethod            bool           `json:"has_valid_payment_method"`
	Hash                             string         `json:"hash"`
	Include                          map[string]any `json:"include,omitempty"`
	LastName                         string         `json:"last_name"`
	Phone                            *string        `json:"phone"`
	SubscriptionRelatedChargeStreak  int            `json:"subscription_related_charge_streak"`
	SubscriptionsActiveCount         int            `json:"subscriptions_active_count"`
	SubscriptionsTotalCount          int            `json:"subscriptions_total_count"`
	TaxExempt                        bool           `json:"tax_exempt"`
	UpdatedAt                        stamp          `json:"updated_at"`

	paymentMethodID int64
}

type addressJSON struct {
	ID                     int64             `json:"id"`
	CustomerID             int64             `json:"customer_id"`
	PaymentMethodID        *int64            `json:"payment_method_id"`
	Address1               string            `json:"address1"`
	Address2               *string           `json:"address2"`
	City                   string            `json:"city"`
	Company                *string           `json:"company"`
	CountryCode            string            `json:"country_code"`
	CreatedAt              stamp             `json:"created_at"`
	Discounts              []json.RawMessage `json:"discounts"`
	FirstName              string            `json:"first_name"`
	IsGift                 bool              `json:"is_gift"`
	LastName               string            `json:"last_name"`
	OrderAttributes        []property        `json:"order_attributes"`
	OrderNote              *string           `json:"order_note"`
	Phone                  *string           `json:"phone"`
	PresentmentCurrency    *string           `json:"presentment_currency"`
	Province               *string           `json:"province"`
	ShippingLinesConserved []json.RawMessage `json:"shipping_lines_conserved"`
	ShippingLinesOverride  []json.RawMessage `json:"shipping_lines_override"`
	UpdatedAt              stamp             `json:"updated_at"`
	Zip                    *string           `json:"zip"`

	// discount is the address's discount, copied onto every charge created
	// for the address (spec recharge-actions section 1.8); Discounts then
	// lists its id, as the 2021-11 clients send it.
	discount *discountJSON

	// snapshot is the billing/shipping block that new charges copy; it is
	// replaced (never mutated) when the address changes, so that older
	// charges keep the address they were created with.
	snapshot *chargeAddress
}

type subscriptionJSON struct {
	ID                                 int64         `json:"id"`
	AddressID                          int64         `json:"address_id"`
	CustomerID                         int64         `json:"customer_id"`
	AnalyticsData                      analyticsData `json:"analytics_data"`
	CancellationReason                 *string       `json:"cancellation_reason"`
	CancellationReasonComments         *string       `json:"cancellation_reason_comments"`
	CancelledAt                        *stamp        `json:"cancelled_at"`
	ChargeIntervalFrequency            int           `json:"charge_interval_frequency"`
	CreatedAt                          stamp         `json:"created_at"`
	ExpireAfterSpecificNumberOfCharges *int          `json:"expire_after_specific_number_of_charges"`
	ExternalProductID                  ecommerceID   `json:"external_product_id"`
	ExternalVariantID                  ecommerceID   `json:"external_variant_id"`
	HasQueuedCharges                   bool          `json:"has_queued_charges"`
	IsPrepaid                          bool          `json:"is_prepaid"`
	IsSkippable                        bool          `json:"is_skippable"`
	IsSwappable                        bool          `json:"is_swappable"`
	MaxRetriesReached                  bool          `json:"max_retries_reached"`
	NextChargeScheduledAt              *string       `json:"next_charge_scheduled_at"`
	OrderDayOfMonth                    *int          `json:"order_day_of_month"`
	OrderDayOfWeek                     *int          `json:"order_day_of_week"`
	OrderIntervalFrequency             int           `json:"order_interval_frequency"`
	OrderIntervalUnit                  string        `json:"order_interval_unit"`
	PresentmentCurrency                *string       `json:"presentment_currency"`
	Price                              string        `json:"price"`
	ProductTitle                       string        `json:"product_title"`
	Properties                         []property    `json:"properties"`
	Quantity                           int           `json:"quantity"`
	SKU                                *string       `json:"sku"`
	SKUOverride                        bool          `json:"sku_override"`
	Status                             string        `json:"status"`
	UpdatedAt                          stamp         `json:"updated_at"`
	VariantTitle                       string        `json:"variant_title"`

	// images and grams describe the variant for the charge line items.
	images *imagesJSON
	grams  *int
	// lastNext remembers the next charge date at cancellation, so that an
	// activation can restore it while it is still in the future.
	lastNext string
}

// imagesJSON is a line item's images; an unknown product gives {}.
type imagesJSON struct {
	Large    string `json:"large,omitempty"`
	Medium   string `json:"medium,omitempty"`
	Original string `json:"original,omitempty"`
	Small    string `json:"small,omitempty"`
}

type chargeAddress struct {
	Address1    string  `json:"address1"`
	Address2    *string `json:"address2"`
	City        string  `json:"city"`
	Company     *string `json:"company"`
	CountryCode string  `json:"country_code"`
	FirstName   string  `json:"first_name"`
	LastName    string  `json:"last_name"`
	Phone       *string `json:"phone"`
	Province    *string `json:"province"`
	Zip         *string `json:"zip"`
}

type clientDetails struct {
	BrowserIP *string `json:"browser_ip"`
	UserAgent *string `json:"user_agent"`
}

type chargeCustomer struct {
	ID                 int64       `json:"id"`
	Email              string      `json:"email"`
	ExternalCustomerID ecommerceID `json:"external_customer_id"`
	Hash               string      `json:"hash"`
}

type lineItem struct {
	PurchaseItemID       int64             `json:"purchase_item_id"`
	ExternalProductID    ecommerceID       `json:"external_product_id"`
	ExternalVariantID    ecommerceID       `json:"external_variant_id"`
	Grams                *int              `json:"grams"`
	Handle               *string           `json:"handle"`
	Images               imagesJSON        `json:"images"`
	OfferAttributes      json.RawMessage   `json:"offer_attributes"`
	OriginalPrice        string            `json:"original_price"`
	Properties           []property        `json:"properties"`
	PurchaseItemType     string            `json:"purchase_item_type"`
	Quantity             int               `json:"quantity"`
	SKU                  *string           `json:"sku"`
	TaxDue               string            `json:"tax_due"`
	TaxLines             []json.RawMessage `json:"tax_lines"`
	Taxable              bool              `json:"taxable"`
	TaxableAmount        string            `json:"taxable_amount"`
	Title                string            `json:"title"`
	TotalPrice           string            `json:"total_price"`
	UnitPrice            string            `json:"unit_price"`
	UnitPriceIncludesTax bool              `json:"unit_price_includes_tax"`
	VariantTitle         string            `json:"variant_title"`
}

type shippingLine struct {
	Code        string            `json:"code"`
	Price       string            `json:"price"`
	RetrievedAt *stamp            `json:"retrieved_at"`
	Source      string            `json:"source"`
	Status      string            `json:"status"`
	TaxLines    []json.RawMessage `json:"tax_lines"`
	Taxable     bool              `json:"taxable"`
	Title       string            `json:"title"`
}

type chargeJSON struct {
	ID                    int64              `json:"id"`
	AddressID             int64              `json:"address_id"`
	AnalyticsData         analyticsData      `json:"analytics_data"`
	BillingAddress        *chargeAddress     `json:"billing_address"`
	ChargeAttempts        *int               `json:"charge_attempts,omitempty"`
	ClientDetails         clientDetails      `json:"client_details"`
	CreatedAt             stamp              `json:"created_at"`
	Currency              string             `json:"currency"`
	Customer              chargeCustomer     `json:"customer"`
	Discounts             []discountJSON     `json:"discounts"`
	Error                 *string            `json:"error"`
	ErrorType             *string            `json:"error_type"`
	ExternalOrderID       ecommerceID        `json:"external_order_id"`
	ExternalTransactionID paymentProcessorID `json:"external_transaction_id"`
	HasUncommittedChanges bool               `json:"has_uncommitted_changes"`
	LastChargeAttempt     *stamp             `json:"last_charge_attempt,omitempty"`
	LineItems             []*lineItem        `json:"line_items"`
	MergedAt              *stamp             `json:"merged_at"`
	Note                  *string            `json:"note"`
	OrderAttributes       []property         `json:"order_attributes"`
	OrdersCount           int                `json:"orders_count"`
	OriginalScheduledAt   string             `json:"original_scheduled_at"`
	PaymentProcessor      string             `json:"payment_processor"`
	ProcessedAt           *stamp             `json:"processed_at"`
	RetryDate             *string            `json:"retry_date"`
	ScheduledAt           string             `json:"scheduled_at"`
	ShippingAddress       *chargeAddress     `json:"shipping_address"`
	ShippingLines         []shippingLine     `json:"shipping_lines"`
	Status                string             `json:"status"`
	SubtotalPrice         string             `json:"subtotal_price"`
	Tags                  string             `json:"tags"`
	TaxLines              []json.RawMessage  `json:"tax_lines"`
	Taxable               bool               `json:"taxable"`
	TaxesIncluded         bool               `json:"taxes_included"`
	TotalDiscounts        string             `json:"total_discounts"`
	TotalDuties           string             `json:"total_duties"`
	TotalLineItemsPrice   string             `json:"total_line_items_price"`
	TotalPrice            string             `json:"total_price"`
	TotalRefunds          string             `json:"total_refunds"`
	TotalTax              string             `json:"total_tax"`
	TotalWeightGrams      int                `json:"total_weight_grams"`
	Type                  string             `json:"type"`
	UpdatedAt             stamp              `json:"updated_at"`

	customerID int64
}

// productJSON is a catalog product of a custom-platform store (2021-11).
// It has no numeric id: it is addressed by its external_product_id.
type productJSON struct {
	ExternalProductID string          `json:"external_product_id"`
	Brand             *string         `json:"brand"`
	Description       *string         `json:"description"`
	ExternalCreatedAt stamp           `json:"external_created_at"`
	ExternalUpdatedAt stamp           `json:"external_updated_at"`
	Images            []productImage  `json:"images"`
	Options           []productOption `json:"options"`
	PublishedAt       *stamp          `json:"published_at"`
	RequiresShipping  bool            `json:"requires_shipping"`
	Title             string          `json:"title"`
	Variants          []*variantJSON  `json:"variants"`
	Vendor            *string         `json:"vendor"`

	seq    int64 // insertion order, the cursor position of a product
	handle string
}

type productImage struct {
	Large     string `json:"large"`
	Medium    string `json:"medium"`
	Original  string `json:"original"`
	Small     string `json:"small"`
	SortOrder int    `json:"sort_order"`
}

type productOption struct {
	Name     string        `json:"name"`
	Position int           `json:"position"`
	Values   []optionValue `json:"values"`
}

type optionValue struct {
	Label    string `json:"label"`
	Position int    `json:"position"`
}

type variantJSON struct {
	ExternalVariantID string         `json:"external_variant_id"`
	Dimensions        dimensions     `json:"dimensions"`
	Image             *productImage  `json:"image"`
	OptionValues      []variantLabel `json:"option_values"`
	Prices            variantPrices  `json:"prices"`
	RequiresShipping  bool           `json:"requires_shipping"`
	SKU               *string        `json:"sku"`
	TaxCode           *string        `json:"tax_code"`
	Taxable           bool           `json:"taxable"`
	Title             string         `json:"title"`
}

type dimensions struct {
	Weight     int    `json:"weight"`
	WeightUnit string `json:"weight_unit"`
}

type variantLabel struct {
	Label string `json:"label"`
}

type variantPrices struct {
	CompareAtPrice *string `json:"compare_at_price"`
	UnitPrice      string  `json:"unit_price"`
}

type planJSON struct {
	ID                      int64                   `json:"id"`
	ChannelSettings         channelSettings         `json:"channel_settings"`
	CreatedAt               stamp                   `json:"created_at"`
	DeletedAt               *stamp                  `json:"deleted_at"`
	DiscountAmount          *string                 `json:"discount_amount"`
	DiscountType            *string                 `json:"discount_type"`
	ExternalProductID       ecommerceID             `json:"external_product_id"`
	ExternalVariantIDs      []string                `json:"external_variant_ids"`
	HasVariantRestrictions  bool                    `json:"has_variant_restrictions"`
	SortOrder               int                     `json:"sort_order"`
	SubscriptionPreferences subscriptionPreferences `json:"subscription_preferences"`
	Title                   string                  `json:"title"`
	Type                    string                  `json:"type"`
	UpdatedAt               stamp                   `json:"updated_at"`
}

type displaySetting struct {
	Display bool `json:"display"`
}

type channelSettings struct {
	API            displaySetting `json:"api"`
	CheckoutPage   displaySetting `json:"checkout_page"`
	CustomerPortal displaySetting `json:"customer_portal"`
	MerchantPortal displaySetting `json:"merchant_portal"`
}

type subscriptionPreferences struct {
	ApplyCutoffDateToCheckout          bool   `json:"apply_cutoff_date_to_checkout"`
	ChargeIntervalFrequency            int    `json:"charge_interval_frequency"`
	CutoffDayOfMonth                   *int   `json:"cutoff_day_of_month"`
	CutoffDayOfWeek                    *int   `json:"cutoff_day_of_week"`
	ExpireAfterSpecificNumberOfCharges *int   `json:"expire_after_specific_number_of_charges"`
	IntervalUnit                       string `json:"interval_unit"`
	OrderDayOfMonth                    *int   `json:"order_day_of_month"`
	OrderDayOfWeek                     *int   `json:"order_day_of_week"`
	OrderIntervalFrequency             int    `json:"order_interval_frequency"`
}

type webhookJSON struct {
	ID              int64    `json:"id"`
	Address         string   `json:"address"`
	IncludedObjects []string `json:"included_objects"`
	Topic           string   `json:"topic"`
	Version         string   `json:"version"`
}

type tokenInformationJSON struct {
	Client       tokenClient `json:"client"`
	ContactEmail string      `json:"contact_email"`
	Name         string      `json:"name"`
	Scopes       []string    `json:"scopes"`
}

type tokenClient struct {
	ContactEmail string `json:"contact_email"`
	Name         string `json:"name"`
}

type storeJSON struct {
	ID                                  int64            `json:"id"`
	CheckoutLogoURL                     *string          `json:"checkout_logo_url"`
	CheckoutPlatform                    string           `json:"checkout_platform"`
	CreatedAt                           stamp            `json:"created_at"`
	Currency                            string           `json:"currency"`
	CustomerPortalBaseURL               string           `json:"customer_portal_base_url"`
	DefaultAPIVersion                   string           `json:"default_api_version"`
	DisabledCurrenciesHistorical        []string         `json:"disabled_currencies_historical"`
	Email                               string           `json:"email"`
	EnabledPresentmentCurrencies        []string         `json:"enabled_presentment_currencies"`
	EnabledPresentmentCurrenciesSymbols []currencySymbol `json:"enabled_presentment_currencies_symbols"`
	ExternalPlatform                    string           `json:"external_platform"`
	Identifier                          string           `json:"identifier"`
	MerchantPortalBaseURL               string           `json:"merchant_portal_base_url"`
	Name                                string           `json:"name"`
	Phone                               *string          `json:"phone"`
	Timezone                            storeTimezone    `json:"timezone"`
	UpdatedAt                           stamp            `json:"updated_at"`
	WeightUnit                          string           `json:"weight_unit"`
}

type currencySymbol struct {
	Currency   string `json:"currency"`
	LocaleName string `json:"locale_name"`
	Symbol     string `json:"symbol"`
}

type storeTimezone struct {
	IANAName string `json:"iana_name"`
	Name     string `json:"name"`
}

// encodeJSON encodes v compactly without HTML escaping, as Recharge does
// (an apostrophe or "&" in a product title or image URL stays literal).
func encodeJSON(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Every value encoded here is one of the wire structs above; a
		// failure is a programming error in the simulator.
		panic("rechargetest: encode response: " + err.Error())
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}
