package rechargetest

import (
	"cmp"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/http"
	"slices"
	"strings"
	"time"
)

// The data of the whole-picture card (issue 12, spec recharge-actions
// section 2): discounts, payment methods, orders and events.

// discountJSON is one item of a charge's discounts (spec recharge-actions
// section 1.8: {id, code, value, value_type}). The value stays a string
// with two decimals, like every amount the simulator writes.
type discountJSON struct {
	ID        int64  `json:"id"`
	Code      string `json:"code"`
	Value     string `json:"value"`
	ValueType string `json:"value_type"` // percentage, fixed_amount or shipping
}

// discountCents is what the discounts take off a charge of subtotal sub
// and shipping ship, in cents: a percentage of the subtotal, a fixed amount
// (at most the subtotal) or a percentage of the shipping.
func discountCents(ds []discountJSON, sub, ship int64) int64 {
	var total int64
	for _, d := range ds {
		v, ok := parseCents(d.Value)
		if !ok {
			continue
		}
		switch d.ValueType {
		case "percentage":
			total += (sub*v + 5000) / 10000
		case "fixed_amount":
			total += min(v, sub)
		case "shipping":
			total += (ship*v + 5000) / 10000
		}
	}
	return min(total, sub+ship)
}

// paymentMethodJSON is a payment method in Recharge's 2021-11 shape
// (FX-RS list-payment-methods_200.json), processor tokens included: the
// client must never carry them to a card, and the tests check it does not.
type paymentMethodJSON struct {
	ID                          int64            `json:"id"`
	CustomerID                  int64            `json:"customer_id"`
	BillingAddress              pmBillingAddress `json:"billing_address"`
	CreatedAt                   stamp            `json:"created_at"`
	Default                     bool             `json:"default"`
	Include                     map[string]any   `json:"include"`
	PaymentDetails              pmDetails        `json:"payment_details"`
	PaymentType                 string           `json:"payment_type"`
	ProcessorCustomerToken      string           `json:"processor_customer_token"`
	ProcessorName               string           `json:"processor_name"`
	ProcessorPaymentMethodToken string           `json:"processor_payment_method_token"`
	Status                      *string          `json:"status"`
	StatusReason                *string          `json:"status_reason"`
	UpdatedAt                   stamp            `json:"updated_at"`
}

type pmBillingAddress struct {
	Address1    *string `json:"address1"`
	Address2    *string `json:"address2"`
	City        *string `json:"city"`
	Company     *string `json:"company"`
	Country     *string `json:"country"`
	CountryCode *string `json:"country_code"`
	FirstName   *string `json:"first_name"`
	LastName    *string `json:"last_name"`
	Phone       *string `json:"phone"`
	Province    *string `json:"province"`
	Zip         *string `json:"zip"`
}

// pmDetails are a card's details; wallets and PayPal leave the card fields
// out.
type pmDetails struct {
	Brand       string `json:"brand,omitempty"`
	ExpMonth    int    `json:"exp_month,omitempty"`
	ExpYear     int    `json:"exp_year,omitempty"`
	Last4       string `json:"last4,omitempty"`
	PaypalEmail string `json:"paypal_email,omitempty"`
	WalletType  string `json:"wallet_type,omitempty"`
}

var countryNames = map[string]string{"US": "United States", "CA": "Canada", "GB": "United Kingdom", "DK": "Denmark", "MX": "Mexico", "SE": "Sweden", "IE": "Ireland", "IT": "Italy"}

func billingOf(a *addressJSON) pmBillingAddress {
	if a == nil {
		return pmBillingAddress{}
	}
	var country *string
	if n, ok := countryNames[a.CountryCode]; ok {
		country = strp(n)
	}
	return pmBillingAddress{
		Address1: optStr(a.Address1), Address2: a.Address2, City: optStr(a.City), Company: a.Company,
		Country: country, CountryCode: optStr(a.CountryCode), FirstName: optStr(a.FirstName),
		LastName: optStr(a.LastName), Phone: a.Phone, Province: a.Province, Zip: a.Zip,
	}
}

// processorTokens are the fake Stripe tokens of a payment method: unique,
// recognisable ("cus_simtok", "pm_simtok") so that tests can grep every
// answer, page and log for them.
func processorTokens(id int64) (customer, method string) {
	h := fnv.New64a()
	fmt.Fprintf(h, "rechargetest-pm-%d", id)
	sum := h.Sum64()
	return fmt.Sprintf("cus_simtok%012x", sum>>16), fmt.Sprintf("pm_simtok%016x", sum)
}

// addPaymentMethod stores pm as the customer's payment method; a default
// method makes the customer's other methods non-default.
func (st *store) addPaymentMethod(pm *paymentMethodJSON) {
	if pm.Default {
		for _, id := range st.custPMs[pm.CustomerID] {
			st.pms[id].Default = false
		}
	}
	st.pms[pm.ID] = pm
	st.pmOrder.add(pm.ID)
	st.custPMs[pm.CustomerID] = append(st.custPMs[pm.CustomerID], pm.ID)
}

// removePaymentMethods deletes a deleted customer's payment methods. Its
// timeline stays, as the customer/deleted event on it says.
func (st *store) removePaymentMethods(custID int64) {
	for _, id := range st.custPMs[custID] {
		delete(st.pms, id)
		st.pmOrder.remove(id)
	}
	delete(st.custPMs, custID)
}

var paymentTypes = []string{"CREDIT_CARD", "PAYPAL", "APPLE_PAY", "GOOGLE_PAY", "SEPA_DEBIT"}

var processorNames = []string{"stripe", "braintree", "authorize", "shopify_payments", "mollie"}

var (
	paymentMethodSpec = &listSpec{
		plural: "payment_methods",
		filters: append([]filterDef{
			{"customer_id", fInt, nil},
			{"ids", fInts, nil},
		}, timeRange("created_at", "updated_at")...),
		sorts: []string{"id", "created_at", "updated_at"},
	}
	orderSpec = &listSpec{
		plural: "orders",
		filters: append([]filterDef{
			{"customer_id", fInt, nil},
			{"address_id", fInt, nil},
			{"charge_id", fInt, nil},
			{"external_order_id", fString, nil},
			{"ids", fInts, nil},
			{"status", fEnum, []string{"success", "error", "queued", "cancelled"}},
		}, timeRange("scheduled_at", "created_at", "updated_at")...),
		sorts: []string{"id", "created_at", "updated_at", "scheduled_at"},
	}
	eventSpec = &listSpec{
		plural: "events",
		filters: append([]filterDef{
			{"customer_id", fInt, nil},
			{"object_id", fInt, nil},
			{"object_type", fString, nil},
			{"origin", fString, nil},
		}, timeRange("created_at")...),
		sorts: []string{"id"},
	}
)

func (c *call) listPaymentMethods() response {
	st := c.s.st
	lq, resp, ok := parseList(paymentMethodSpec, c.r.URL.Query())
	if !ok {
		return resp
	}
	if v, ok := lq.f.int("customer_id"); ok {
		return lq.respondIDs(st.custPMs[v], false, st.paymentMethodItem(lq.f))
	}
	return lq.respondIDs(st.pmOrder.ids, true, st.paymentMethodItem(lq.f))
}

// paymentMethodItem returns the list item of a payment method id that
// passes f.
func (st *store) paymentMethodItem(f *filters) func(int64) (listItem, bool) {
	return func(id int64) (listItem, bool) {
		pm := st.pms[id]
		if pm == nil {
			return listItem{}, false
		}
		if v, ok := f.int("customer_id"); ok && v != pm.CustomerID {
			return listItem{}, false
		}
		if set := f.set("ids"); set != nil && !set[pm.ID] {
			return listItem{}, false
		}
		if !f.timeIn("created_at", pm.CreatedAt.Time) || !f.timeIn("updated_at", pm.UpdatedAt.Time) {
			return listItem{}, false
		}
		return listItem{id: pm.ID, created: pm.CreatedAt.Time, updated: pm.UpdatedAt.Time, obj: pm}, true
	}
}

func (c *call) getPaymentMethod() response {
	id, ok := c.id()
	pm := c.s.st.pms[id]
	if !ok || pm == nil {
		return notFound()
	}
	return jsonResponse(http.StatusOK, map[string]any{"payment_method": pm})
}

// createPaymentMethod is POST /payment_methods: a method the store's
// processor already holds, named by its tokens (FX-RS create-payment-method).
// The simulator has no processor to ask, so card details come from the
// body's payment_details or are made up from the token.
func (c *call) createPaymentMethod() response {
	st := c.s.st
	f := c.form()
	f.required("customer_id", "payment_type", "processor_name", "processor_customer_token", "processor_payment_method_token")
	custID, _ := f.int("customer_id")
	ptype, _ := f.str("payment_type")
	pname, _ := f.str("processor_name")
	ctok, _ := f.str("processor_customer_token")
	mtok, _ := f.str("processor_payment_method_token")
	def, _ := f.bool("default")
	if !f.ok() {
		return f.response()
	}
	if !slices.Contains(paymentTypes, strings.ToUpper(*ptype)) {
		return fieldError("payment_type", "Must be one of: "+strings.Join(paymentTypes, ", ")+".")
	}
	if !slices.Contains(processorNames, *pname) {
		return fieldError("processor_name", "Must be one of: "+strings.Join(processorNames, ", ")+".")
	}
	if strings.TrimSpace(*ctok) == "" {
		return fieldError("processor_customer_token", "Not found")
	}
	cu := st.customers[*custID]
	if cu == nil {
		return fieldError("customer_id", "Customer not found.")
	}
	pm := &paymentMethodJSON{
		ID:                          st.nextID(kindPaymentMethod),
		CustomerID:                  cu.ID,
		CreatedAt:                   sec(c.now),
		Default:                     def != nil && *def,
		Include:                     map[string]any{},
		PaymentType:                 strings.ToUpper(*ptype),
		ProcessorCustomerToken:      *ctok,
		ProcessorName:               *pname,
		ProcessorPaymentMethodToken: *mtok,
		UpdatedAt:                   sec(c.now),
	}
	if raw, ok := c.body["payment_details"]; ok {
		if err := json.Unmarshal(raw, &pm.PaymentDetails); err != nil {
			return fieldError("payment_details", "Not a valid payment details object.")
		}
	} else if pm.PaymentType == "CREDIT_CARD" {
		exp := c.now.AddDate(3, 0, 0)
		pm.PaymentDetails = pmDetails{Brand: "visa", ExpMonth: int(exp.Month()), ExpYear: exp.Year(), Last4: last4(*mtok)}
	}
	if raw, ok := c.body["billing_address"]; ok {
		if err := json.Unmarshal(raw, &pm.BillingAddress); err != nil {
			return fieldError("billing_address", "Not a valid address.")
		}
	}
	if len(st.custPMs[cu.ID]) == 0 {
		pm.Default = true
	}
	st.addPaymentMethod(pm)
	if pm.Default {
		cu.paymentMethodID = pm.ID
	}
	cu.HasValidPaymentMethod = true
	cu.UpdatedAt = sec(c.now)
	c.emit("customer/payment_method_updated", "customer", cu)
	return jsonResponse(http.StatusCreated, map[string]any{"payment_method": pm})
}

// last4 makes four digits from a token, the way a processor would report
// the card behind it.
func last4(token string) string {
	h := fnv.New32a()
	h.Write([]byte(token))
	return fmt.Sprintf("%04d", h.Sum32()%10000)
}

// orderJSON is an order in Recharge's 2021-11 shape (spec recharge-actions
// section 2.4): one per processed charge, scheduled_at a timestamp,
// external_order_name the store's order number ("#1016").
type orderJSON struct {
	ID                  int64             `json:"id"`
	AddressID           int64             `json:"address_id"`
	CustomerID          int64             `json:"customer_id"`
	BillingAddress      *chargeAddress    `json:"billing_address"`
	Charge              orderCharge       `json:"charge"`
	ClientDetails       clientDetails     `json:"client_details"`
	CreatedAt           stamp             `json:"created_at"`
	Currency            string            `json:"currency"`
	Customer            chargeCustomer    `json:"customer"`
	Discounts           []discountJSON    `json:"discounts"`
	Error               *string           `json:"error"`
	ExternalOrderID     ecommerceID       `json:"external_order_id"`
	ExternalOrderName   ecommerceID       `json:"external_order_name"`
	ExternalOrderNumber ecommerceID       `json:"external_order_number"`
	IsPrepaid           bool              `json:"is_prepaid"`
	LineItems           []*lineItem       `json:"line_items"`
	Note                *string           `json:"note"`
	OrderAttributes     []property        `json:"order_attributes"`
	ProcessedAt         *stamp            `json:"processed_at"`
	ScheduledAt         stamp             `json:"scheduled_at"`
	ShippingAddress     *chargeAddress    `json:"shipping_address"`
	ShippingLines       []shippingLine    `json:"shipping_lines"`
	Status              string            `json:"status"`
	SubtotalPrice       string            `json:"subtotal_price"`
	Tags                string            `json:"tags"`
	TaxLines            []json.RawMessage `json:"tax_lines"`
	Taxable             bool              `json:"taxable"`
	TotalDiscounts      string            `json:"total_discounts"`
	TotalDuties         string            `json:"total_duties"`
	TotalLineItemsPrice string            `json:"total_line_items_price"`
	TotalPrice          string            `json:"total_price"`
	TotalRefunds        string            `json:"total_refunds"`
	TotalTax            string            `json:"total_tax"`
	TotalWeightGrams    int               `json:"total_weight_grams"`
	Type                string            `json:"type"`
	UpdatedAt           stamp             `json:"updated_at"`
}

type orderCharge struct {
	ID                    int64              `json:"id"`
	ExternalTransactionID paymentProcessorID `json:"external_transaction_id"`
	PaymentProcessorName  string             `json:"payment_processor_name"`
	Status                string             `json:"status"`
}

// orderBase numbers orders: an order's id is its charge's id moved to this
// base, so that orders need no storage of their own and keep their ids when
// listed again.
const orderBase int64 = 612340001

// orderOf is the order of a processed charge; ok is false for a charge
// that has not been processed.
func orderOf(ch *chargeJSON) (*orderJSON, bool) {
	if ch.ProcessedAt == nil {
		return nil, false
	}
	seq := ch.ID - idBase[kindCharge]
	number := fmt.Sprint(1001 + seq)
	sched, _ := parseDate(ch.ScheduledAt)
	return &orderJSON{
		ID:        orderBase + seq,
		AddressID: ch.AddressID, CustomerID: ch.customerID,
		BillingAddress: ch.BillingAddress,
		Charge: orderCharge{ID: ch.ID, ExternalTransactionID: ch.ExternalTransactionID,
			PaymentProcessorName: ch.PaymentProcessor, Status: ch.Status},
		CreatedAt: *ch.ProcessedAt, Currency: ch.Currency, Customer: ch.Customer,
		Discounts: ch.Discounts, ExternalOrderID: ch.ExternalOrderID,
		ExternalOrderName: ecom("#" + number), ExternalOrderNumber: ecom(number),
		LineItems: ch.LineItems, OrderAttributes: ch.OrderAttributes, ProcessedAt: ch.ProcessedAt,
		ScheduledAt: stamp{sched}, ShippingAddress: ch.ShippingAddress, ShippingLines: ch.ShippingLines,
		Status: "success", SubtotalPrice: ch.SubtotalPrice, Tags: ch.Tags, TaxLines: ch.TaxLines,
		Taxable: ch.Taxable, TotalDiscounts: ch.TotalDiscounts, TotalDuties: ch.TotalDuties,
		TotalLineItemsPrice: ch.TotalLineItemsPrice, TotalPrice: ch.TotalPrice, TotalRefunds: ch.TotalRefunds,
		TotalTax: ch.TotalTax, TotalWeightGrams: ch.TotalWeightGrams, Type: ch.Type, UpdatedAt: ch.UpdatedAt,
	}, true
}

func (c *call) listOrders() response {
	st := c.s.st
	lq, resp, ok := parseList(orderSpec, c.r.URL.Query())
	if !ok {
		return resp
	}
	ids, sorted := st.chargeCandidates(lq.f)
	return respondIn(lq, ids, sorted, orderIDOf, st.orderItem(lq.f))
}

// orderIDOf is the id of the order of a charge id; the ids of orders
// ascend with their charges'.
func orderIDOf(chargeID int64) int64 { return orderBase + chargeID - idBase[kindCharge] }

// orderItem returns the list item of the order of a charge id when the
// charge has one and it passes f.
func (st *store) orderItem(f *filters) func(int64) (listItem, bool) {
	return func(id int64) (listItem, bool) {
		ch := st.charges[id]
		if ch == nil {
			return listItem{}, false
		}
		o, ok := orderOf(ch)
		if !ok || !matchOrder(o, f) {
			return listItem{}, false
		}
		return listItem{id: o.ID, created: o.CreatedAt.Time, updated: o.UpdatedAt.Time, sched: o.ScheduledAt.Format(dateLayout), obj: o}, true
	}
}

func matchOrder(o *orderJSON, f *filters) bool {
	if v, ok := f.int("customer_id"); ok && v != o.CustomerID {
		return false
	}
	if v, ok := f.int("address_id"); ok && v != o.AddressID {
		return false
	}
	if v, ok := f.int("charge_id"); ok && v != o.Charge.ID {
		return false
	}
	if set := f.set("ids"); set != nil && !set[o.ID] {
		return false
	}
	if v, ok := f.str("status"); ok && v != o.Status {
		return false
	}
	if v, ok := f.str("external_order_id"); ok && v != o.ExternalOrderID.value() {
		return false
	}
	return f.timeIn("scheduled_at", o.ScheduledAt.Time) && f.timeIn("created_at", o.CreatedAt.Time) && f.timeIn("updated_at", o.UpdatedAt.Time)
}

func (c *call) getOrder() response {
	id, ok := c.id()
	if !ok || id < orderBase {
		return notFound()
	}
	ch := c.s.st.charges[id-orderBase+idBase[kindCharge]]
	if ch == nil {
		return notFound()
	}
	o, ok := orderOf(ch)
	if !ok {
		return notFound()
	}
	return jsonResponse(http.StatusOK, map[string]any{"order": o})
}

// eventJSON is one entry of a customer's timeline (spec recharge-actions
// section 2.5).
type eventJSON struct {
	ID                int64             `json:"id"`
	CustomerID        int64             `json:"customer_id"`
	ObjectID          int64             `json:"object_id"`
	CreatedAt         stamp             `json:"created_at"`
	CustomAttributes  []json.RawMessage `json:"custom_attributes"`
	Description       string            `json:"description"`
	ObjectType        string            `json:"object_type"`
	Source            eventSource       `json:"source"`
	UpdatedAttributes []json.RawMessage `json:"updated_attributes"`
	Verb              string            `json:"verb"`
}

// eventSource says who made a change: the customer in the portal, the
// merchant (an admin by email), an API token by its name, or Recharge
// itself (origin "recharge": its scheduler processing a charge).
type eventSource struct {
	AccountID    *int64  `json:"account_id"`
	APITokenID   *int64  `json:"api_token_id"`
	AccountEmail *string `json:"account_email"`
	APITokenName *string `json:"api_token_name"`
	Origin       string  `json:"origin"`
	UserType     *string `json:"user_type"`
}

// Event origins.
const (
	OriginAPI      = "api"
	OriginPortal   = "portal"
	OriginMerchant = "merchant"
	OriginRecharge = "recharge"
)

// TokenName is the name of the simulator's API tokens, as
// GET /token_information and the events' api_token_name give it.
const TokenName = "Simulated API token"

// MerchantEmail is the admin account that merchant-origin events name.
const MerchantEmail = "support@example-store.com"

func sourceOf(origin string, tokenID int64) eventSource {
	src := eventSource{Origin: origin}
	switch origin {
	case OriginAPI:
		src.APITokenID = &tokenID
		src.APITokenName = strp(TokenName)
	case OriginPortal:
		src.UserType = strp("customer")
	case OriginMerchant:
		id := int64(4410001)
		src.AccountID = &id
		src.AccountEmail = strp(MerchantEmail)
		src.UserType = strp("store_admin")
	}
	return src
}

// tokenID is the stable id of an API token, shown as api_token_id.
func tokenID(token string) int64 {
	h := fnv.New32a()
	h.Write([]byte(token))
	return 3100000 + int64(h.Sum32()%100000)
}

// timelineTopics leaves out the charge bookkeeping that every subscription
// change causes (charges regenerated, created and deleted): the merchant
// portal's timeline lists what people and Recharge did, not regenerations.
func timelineTopic(topic string) bool {
	switch topic {
	case "charge/created", "charge/updated", "charge/deleted":
		return false
	}
	return true
}

// ownerOf is the customer and id of an object that a webhook announces.
func ownerOf(obj any) (customer, id int64) {
	switch o := obj.(type) {
	case *customerJSON:
		return o.ID, o.ID
	case *addressJSON:
		return o.CustomerID, o.ID
	case *subscriptionJSON:
		return o.CustomerID, o.ID
	case *chargeJSON:
		return o.customerID, o.ID
	case *orderJSON:
		return o.CustomerID, o.ID
	case *paymentMethodJSON:
		return o.CustomerID, o.ID
	}
	return 0, 0
}

// addEvent records a timeline event; it runs with Simulator.mu held.
func (st *store) addEvent(customer int64, objectType string, objectID int64, verb string, src eventSource, at time.Time) {
	if customer == 0 {
		return
	}
	words := strings.ReplaceAll(verb, "_", " ")
	desc := strings.ToUpper(words[:1]) + words[1:] + " " + strings.ReplaceAll(objectType, "_", " ") + fmt.Sprintf(" #%d", objectID)
	ev := &eventJSON{
		ID: st.nextID(kindEvent), CustomerID: customer, ObjectID: objectID, CreatedAt: sec(at),
		CustomAttributes: []json.RawMessage{}, Description: desc, ObjectType: objectType,
		Source: src, UpdatedAttributes: []json.RawMessage{}, Verb: verb,
	}
	st.custEvents[customer] = append(st.custEvents[customer], ev)
	st.eventOrder.add(ev)
}

func (c *call) listEvents() response {
	lq, resp, ok := parseList(eventSpec, c.r.URL.Query())
	if !ok {
		return resp
	}
	// Events are indexed by customer; without customer_id every event is
	// a candidate.
	cands, sorted := c.s.st.eventOrder.evs, true
	if v, ok := lq.f.int("customer_id"); ok {
		cands, sorted = c.s.st.custEvents[v], false
	}
	return respondIn(lq, cands, sorted, func(ev *eventJSON) int64 { return ev.ID }, func(ev *eventJSON) (listItem, bool) {
		return eventItem(ev, lq.f)
	})
}

// eventItem returns the list item of an event that passes f.
func eventItem(ev *eventJSON, f *filters) (listItem, bool) {
	if v, ok := f.int("customer_id"); ok && v != ev.CustomerID {
		return listItem{}, false
	}
	if v, ok := f.int("object_id"); ok && v != ev.ObjectID {
		return listItem{}, false
	}
	if v, ok := f.str("object_type"); ok && v != ev.ObjectType {
		return listItem{}, false
	}
	if v, ok := f.str("origin"); ok && v != ev.Source.Origin {
		return listItem{}, false
	}
	if !f.timeIn("created_at", ev.CreatedAt.Time) {
		return listItem{}, false
	}
	return listItem{id: ev.ID, created: ev.CreatedAt.Time, updated: ev.CreatedAt.Time, obj: ev}, true
}

// seedEvents writes the timeline of a freshly loaded customer: its paid
// charges (by Recharge), its cancellations (by the customer in the portal)
// and its skips (by the customer in the portal), oldest first, so that ids
// ascend with time as on Recharge.
func (st *store) seedEvents(custID int64, extra []seedEvent) {
	evs := slices.Clone(extra)
	for _, id := range st.custCharges[custID] {
		ch := st.charges[id]
		if ch.Status == "success" && ch.ProcessedAt != nil {
			evs = append(evs, seedEvent{"charge", ch.ID, "paid", OriginRecharge, ch.ProcessedAt.Time})
		}
	}
	for _, id := range st.custSubs[custID] {
		s := st.subs[id]
		evs = append(evs, seedEvent{"subscription", s.ID, "created", OriginPortal, s.CreatedAt.Time})
		if s.CancelledAt != nil {
			evs = append(evs, seedEvent{"subscription", s.ID, "cancelled", OriginPortal, s.CancelledAt.Time})
		}
	}
	slices.SortStableFunc(evs, func(a, b seedEvent) int { return cmp.Compare(a.at.UnixNano(), b.at.UnixNano()) })
	for _, e := range evs {
		st.addEvent(custID, e.objectType, e.objectID, e.verb, sourceOf(e.origin, 0), e.at)
	}
}

type seedEvent struct {
	objectType string
	objectID   int64
	verb       string
	origin     string
	at         time.Time
}

// applyDiscount is POST /charges/{id}/apply_discount (spec recharge-actions
// section 1.8): {"discount_code":...} or {"discount_id":...}, the id
// winning when both are given. It is refused when the charge or its address
// already has a discount; the discount is lost when the charge regenerates,
// since a regenerated charge only takes its address's discount.
func (c *call) applyDiscount() response {
	st := c.s.st
	ch, ok := c.charge()
	if !ok {
		return notFound()
	}
	if ch.Status != "queued" && ch.Status != "error" {
		return fieldError("status", "Discounts can only be applied to charges with status queued or error")
	}
	f := c.form()
	code, _ := f.str("discount_code")
	id, _ := f.int("discount_id")
	if !f.ok() {
		return f.response()
	}
	var d *discountJSON
	switch {
	case id != nil:
		for _, x := range st.discounts {
			if x.ID == *id {
				d = x
			}
		}
	case code != nil:
		d = st.discounts[strings.ToUpper(strings.TrimSpace(*code))]
	default:
		return fieldError("discount_code", "Either discount_code or discount_id is required.")
	}
	if d == nil {
		return fieldError("discount", "Discount not found.")
	}
	if a := st.addresses[ch.AddressID]; len(ch.Discounts) > 0 || (a != nil && a.discount != nil) {
		return fieldError("discount", "A discount is already applied to this charge or its address.")
	}
	ch.Discounts = []discountJSON{*d}
	ch.UpdatedAt = sec(c.now)
	recalc(ch)
	c.emit("charge/updated", "charge", ch)
	c.timeline(ch.customerID, "charge", ch.ID, "discount_applied")
	return jsonResponse(http.StatusOK, map[string]any{"charge": ch})
}

// removeDiscount is POST /charges/{id}/remove_discount.
func (c *call) removeDiscount() response {
	ch, ok := c.charge()
	if !ok {
		return notFound()
	}
	if ch.Status != "queued" && ch.Status != "error" {
		return fieldError("status", "Discounts can only be removed from charges with status queued or error")
	}
	if len(ch.Discounts) == 0 {
		return fieldError("discount", "The charge has no discount.")
	}
	ch.Discounts = []discountJSON{}
	ch.UpdatedAt = sec(c.now)
	recalc(ch)
	c.emit("charge/updated", "charge", ch)
	c.timeline(ch.customerID, "charge", ch.ID, "discount_removed")
	return jsonResponse(http.StatusOK, map[string]any{"charge": ch})
}

// timeline records an event that no webhook topic carries (charge/updated
// is left off the timeline).
func (c *call) timeline(customer int64, objectType string, id int64, verb string) {
	c.s.st.addEvent(customer, objectType, id, verb, sourceOf(c.origin, c.tokenID), c.now)
}
