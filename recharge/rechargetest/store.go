package rechargetest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Id kinds, each with its own ascending 9-digit sequence (like Recharge,
// whose customer, address, subscription and charge ids are unrelated).
const (
	kindCustomer      = "customer"
	kindAddress       = "address"
	kindSubscription  = "subscription"
	kindCharge        = "charge"
	kindPaymentMethod = "payment_method"
	kindPlan          = "plan"
	kindWebhook       = "webhook"
	kindRetention     = "retention_strategy"
	kindEvent         = "event"
	kindOnetime       = "onetime"
	kindDiscount      = "discount"
)

var idBase = map[string]int64{
	kindCustomer:      183940001,
	kindAddress:       193760001,
	kindSubscription:  585062001,
	kindCharge:        731050001,
	kindPaymentMethod: 168650001,
	kindPlan:          401200001,
	kindWebhook:       512300001,
	kindRetention:     233670001,
	kindEvent:         902110001,
	kindOnetime:       621400001,
	kindDiscount:      114250001,
}

// store is the simulator's data. Every method runs with Simulator.mu held.
type store struct {
	platform string
	created  time.Time

	customers map[int64]*customerJSON
	addresses map[int64]*addressJSON
	subs      map[int64]*subscriptionJSON
	charges   map[int64]*chargeJSON
	products  map[string]*productJSON
	variants  map[string]variantRef
	plans     map[int64]*planJSON
	webhooks  map[int64]*webhookJSON
	// retention is the store's retention strategies, in id order.
	retention []*retentionJSON
	// pms are the payment methods; custEvents the timeline of each
	// customer, in id order.
	pms        map[int64]*paymentMethodJSON
	custEvents map[int64][]*eventJSON
	// discounts are the store's discount codes, by upper-case code.
	discounts map[string]*discountJSON

	// Indexes. Slices keep insertion order; lists sort anyway.
	emails      map[string][]int64 // lowercased email -> customer ids
	custAddrs   map[int64][]int64
	custSubs    map[int64][]int64
	custCharges map[int64][]int64
	custPMs     map[int64][]int64
	// The ids of the big resources in ascending order, and every event,
	// for lists sorted by id (order.go).
	custOrder, addrOrder, subOrder, chargeOrder, pmOrder idOrder
	eventOrder                                           eventOrder

	lastID     map[string]int64
	productSeq int64
}

type variantRef struct {
	product *productJSON
	variant *variantJSON
}

func newStore(platform string) *store {
	st := &store{
		platform:    platform,
		customers:   map[int64]*customerJSON{},
		addresses:   map[int64]*addressJSON{},
		subs:        map[int64]*subscriptionJSON{},
		charges:     map[int64]*chargeJSON{},
		products:    map[string]*productJSON{},
		variants:    map[string]variantRef{},
		plans:       map[int64]*planJSON{},
		webhooks:    map[int64]*webhookJSON{},
		emails:      map[string][]int64{},
		custAddrs:   map[int64][]int64{},
		custSubs:    map[int64][]int64{},
		custCharges: map[int64][]int64{},
		custPMs:     map[int64][]int64{},
		pms:         map[int64]*paymentMethodJSON{},
		discounts:   map[string]*discountJSON{},
		custEvents:  map[int64][]*eventJSON{},
		lastID:      map[string]int64{},
	}
	st.newDiscount(&SeedDiscount{Code: "SAVE10", Value: "10"})
	st.newDiscount(&SeedDiscount{Code: "FREESHIP", Value: "100", ValueType: "shipping"})
	return st
}

// nextID returns a new id of the kind, above every id of that kind so far.
func (st *store) nextID(kind string) int64 {
	id := max(st.lastID[kind]+1, idBase[kind])
	st.lastID[kind] = id
	return id
}

// useID records an id given by a seed, so that later ids stay above it.
func (st *store) useID(kind string, id int64) {
	st.lastID[kind] = max(st.lastID[kind], id)
}

func customerHash(id int64) string {
	sum := sha256.Sum256([]byte("rechargetest-customer-" + strconv.FormatInt(id, 10)))
	return hex.EncodeToString(sum[:])[:30]
}

func (st *store) indexEmail(c *customerJSON) {
	k := strings.ToLower(c.Email)
	st.emails[k] = append(st.emails[k], c.ID)
}

func (st *store) unindexEmail(c *customerJSON) {
	k := strings.ToLower(c.Email)
	st.emails[k] = slices.DeleteFunc(st.emails[k], func(id int64) bool { return id == c.ID })
	if len(st.emails[k]) == 0 {
		delete(st.emails, k)
	}
}

func (st *store) emailTaken(email string, except int64) bool {
	for _, id := range st.emails[strings.ToLower(email)] {
		if id != except {
			return true
		}
	}
	return false
}

func removeID(ids []int64, id int64) []int64 {
	return slices.DeleteFunc(ids, func(x int64) bool { return x == id })
}

// recount refreshes the customer's counts, first charge time and streak
// after subscriptions or charges changed. Recharge bumps the customer's
// updated_at when its counts change (FX-GL: the customer's updated_at equals
// the cancelled_at of its latest cancelled subscription), so do we.
func (st *store) recount(custID int64, now time.Time, bump bool) {
	c := st.customers[custID]
	if c == nil {
		return
	}
	total, active := 0, 0
	for _, id := range st.custSubs[custID] {
		total++
		if st.subs[id].Status == "active" {
			active++
		}
	}
	changed := total != c.SubscriptionsTotalCount || active != c.SubscriptionsActiveCount
	c.SubscriptionsTotalCount, c.SubscriptionsActiveCount = total, active
	var first *stamp
	streak := 0
	for _, id := range st.custCharges[custID] {
		ch := st.charges[id]
		if ch.Status != "success" || ch.ProcessedAt == nil {
			continue
		}
		streak++
		if first == nil || ch.ProcessedAt.Before(first.Time) {
			p := *ch.ProcessedAt
			first = &p
		}
	}
	c.FirstChargeProcessedAt = first
	c.SubscriptionRelatedChargeStreak = streak
	c.HasValidPaymentMethod = len(st.custAddrs[custID]) > 0 || len(st.custPMs[custID]) > 0
	// A customer is in dunning while one of its charges failed and
	// Recharge still retries it (spec recharge-actions section 2.2).
	dunning := false
	for _, id := range st.custCharges[custID] {
		if ch := st.charges[id]; ch.Status == "error" && deref(ch.ErrorType) != errMaxRetries {
			dunning = true
		}
	}
	changed = changed || dunning != c.HasPaymentMethodInDunning
	c.HasPaymentMethodInDunning = dunning
	if changed && bump {
		c.UpdatedAt = sec(now)
	}
}

// money: prices are strings with two decimals on the wire; arithmetic is in
// cents so that no float ever touches an amount.

func parseCents(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	if s == "" || strings.HasPrefix(s, "-") || strings.HasPrefix(s, "+") {
		return 0, false
	}
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" || len(frac) > 2 {
		return 0, false
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || w > 1e9 {
		return 0, false
	}
	for len(frac) < 2 {
		frac += "0"
	}
	f, err := strconv.ParseInt(frac, 10, 64)
	if err != nil {
		return 0, false
	}
	return w*100 + f, true
}

func formatCents(c int64) string {
	return fmt.Sprintf("%d.%02d", c/100, c%100)
}

// normPrice returns the price in Recharge's form ("25" -> "25.00").
func normPrice(s string) (string, bool) {
	c, ok := parseCents(s)
	if !ok {
		return "", false
	}
	return formatCents(c), true
}

// addInterval moves a date by n intervals of unit (day, week or month).
func addInterval(t time.Time, unit string, n int) time.Time {
	switch unit {
	case "week":
		return t.AddDate(0, 0, 7*n)
	case "month":
		return t.AddDate(0, n, 0)
	default:
		return t.AddDate(0, 0, n)
	}
}

func parseDate(s string) (time.Time, bool) {
	t, err := time.Parse(dateLayout, s)
	return t, err == nil
}

func today(now time.Time) time.Time {
	y, m, d := now.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// lineFor builds the charge line item of a subscription, with the product's
// images and grams when the variant is known.
func (st *store) lineFor(sub *subscriptionJSON) *lineItem {
	unit, _ := parseCents(sub.Price)
	total := formatCents(unit * int64(sub.Quantity))
	li := &lineItem{
		PurchaseItemID:    sub.ID,
		ExternalProductID: sub.ExternalProductID,
		ExternalVariantID: sub.ExternalVariantID,
		Grams:             sub.grams,
		OfferAttributes:   json.RawMessage("null"),
		OriginalPrice:     sub.Price,
		Properties:        slices.Clone(sub.Properties),
		PurchaseItemType:  "subscription",
		Quantity:          sub.Quantity,
		SKU:               sub.SKU,
		TaxDue:            "0.00",
		TaxLines:          []json.RawMessage{},
		Taxable:           true,
		TaxableAmount:     total,
		Title:             sub.ProductTitle,
		TotalPrice:        total,
		UnitPrice:         sub.Price,
		VariantTitle:      sub.VariantTitle,
	}
	if li.Properties == nil {
		li.Properties = []property{}
	}
	if sub.images != nil {
		li.Images = *sub.images
	}
	return li
}

// recalc refreshes a charge's totals from its line items.
func recalc(ch *chargeJSON) {
	var sub int64
	grams := 0
	for _, li := range ch.LineItems {
		c, _ := parseCents(li.TotalPrice)
		sub += c
		if li.Grams != nil {
			grams += *li.Grams * li.Quantity
		}
	}
	ship := int64(490)
	if sub >= 5000 {
		ship = 0
	}
	// A charge whose shipping is still to be quoted (after an unskip) bills
	// no shipping until a regeneration quotes it again (FX-GL unskip).
	pending := len(ch.ShippingLines) > 0 && ch.ShippingLines[0].Status == "pending"
	if pending {
		ship = 0
	}
	disc := discountCents(ch.Discounts, sub, ship)
	ch.SubtotalPrice = formatCents(sub)
	ch.TotalLineItemsPrice = formatCents(sub)
	ch.TotalDiscounts = formatCents(disc)
	ch.TotalPrice = formatCents(sub - disc + ship)
	ch.TotalWeightGrams = grams
	if len(ch.ShippingLines) > 0 && !pending {
		ch.ShippingLines[0].Price = formatCents(ship)
	}
}

func chargeCustomerOf(c *customerJSON) chargeCustomer {
	return chargeCustomer{ID: c.ID, Email: c.Email, ExternalCustomerID: c.ExternalCustomerID, Hash: c.Hash}
}

// newCharge creates an empty charge for the address on the given date.
// processed is the processing time of a success charge, nil otherwise.
func (st *store) newCharge(addr *addressJSON, date time.Time, status, typ, currency string, created time.Time, processed *time.Time) *chargeJSON {
	cref := chargeCustomer{ID: addr.CustomerID}
	if cust := st.customers[addr.CustomerID]; cust != nil {
		cref = chargeCustomerOf(cust)
	}
	id := st.nextID(kindCharge)
	ds := date.Format(dateLayout)
	ch := &chargeJSON{
		ID:                    id,
		AddressID:             addr.ID,
		AnalyticsData:         newAnalytics(),
		BillingAddress:        addr.snapshot,
		CreatedAt:             sec(created),
		Currency:              currency,
		Customer:              cref,
		Discounts:             []discountJSON{},
		LineItems:             []*lineItem{},
		OrderAttributes:       []property{},
		OriginalScheduledAt:   ds,
		PaymentProcessor:      "shopify_payments",
		ScheduledAt:           ds,
		ShippingAddress:       addr.snapshot,
		ShippingLines:         []shippingLine{{Code: "Standard", Price: "4.90", Source: "shopify", Status: "active", TaxLines: []json.RawMessage{}, Title: "Standard"}},
		Status:                status,
		Tags:                  "Subscription, Subscription Recurring Order",
		TaxLines:              []json.RawMessage{},
		Taxable:               true,
		TotalDiscounts:        "0.00",
		TotalDuties:           "0.00",
		TotalRefunds:          "0.00",
		TotalTax:              "0.00",
		Type:                  typ,
		UpdatedAt:             sec(created),
		customerID:            addr.CustomerID,
		ExternalTransactionID: paymentProcessorID{},
	}
	if typ == "checkout" {
		ch.Tags = "Subscription, Subscription First Order"
	}
	if addr.discount != nil {
		ch.Discounts = []discountJSON{*addr.discount}
	}
	if processed != nil {
		ch.ProcessedAt = secp(*processed)
		ch.OrdersCount = 1
		ch.ExternalOrderID = ecom(fmt.Sprintf("59510%08d", id%100000000))
		proc := "Shopify Checkout"
		if typ == "recurring" {
			proc = fmt.Sprintf("pi_sim%012d", id)
		}
		ch.ExternalTransactionID = paymentProcessorID{PaymentProcessor: &proc}
		ch.UpdatedAt = sec(processed.Add(17 * time.Minute))
	}
	st.charges[id] = ch
	st.chargeOrder.add(id)
	st.custCharges[addr.CustomerID] = append(st.custCharges[addr.CustomerID], id)
	return ch
}

func currencyOf(sub *subscriptionJSON) string {
	if sub.PresentmentCurrency != nil && *sub.PresentmentCurrency != "" {
		return *sub.PresentmentCurrency
	}
	return "USD"
}

// queueSub puts an active subscription's next charge on the queued charge of
// its address and date (Recharge merges those), creating the charge when
// there is none.
func (st *store) queueSub(sub *subscriptionJSON, now time.Time) {
	if sub.Status != "active" || sub.NextChargeScheduledAt == nil {
		return
	}
	addr := st.addresses[sub.AddressID]
	if addr == nil {
		return
	}
	date := *sub.NextChargeScheduledAt
	var target *chargeJSON
	for _, id := range st.custCharges[sub.CustomerID] {
		ch := st.charges[id]
		if ch.Status == "queued" && ch.AddressID == sub.AddressID && ch.ScheduledAt == date && ch.Currency == currencyOf(sub) {
			target = ch
			break
		}
	}
	if target == nil {
		d, _ := parseDate(date)
		target = st.newCharge(addr, d, "queued", "recurring", currencyOf(sub), now, nil)
	}
	target.LineItems = append(target.LineItems, st.lineFor(sub))
	target.UpdatedAt = sec(now)
	recalc(target)
	sub.HasQueuedCharges = true
}

// unqueueSub removes a subscription's lines from its unprocessed (queued or
// error) charges, deleting charges left without lines.
func (st *store) unqueueSub(sub *subscriptionJSON, now time.Time) {
	st.removeQueuedLines(sub, 0, now)
}

// removeQueuedLines removes the subscription's lines from its unprocessed
// charges other than the charge except.
func (st *store) removeQueuedLines(sub *subscriptionJSON, except int64, now time.Time) {
	for _, id := range slices.Clone(st.custCharges[sub.CustomerID]) {
		ch := st.charges[id]
		if id == except || (ch.Status != "queued" && ch.Status != "error") {
			continue
		}
		n := len(ch.LineItems)
		ch.LineItems = slices.DeleteFunc(ch.LineItems, func(li *lineItem) bool { return li.PurchaseItemID == sub.ID })
		if len(ch.LineItems) == n {
			continue
		}
		if len(ch.LineItems) == 0 {
			st.deleteCharge(ch)
			continue
		}
		ch.UpdatedAt = sec(now)
		recalc(ch)
	}
	sub.HasQueuedCharges = st.hasQueued(sub)
}

func (st *store) hasQueued(sub *subscriptionJSON) bool {
	for _, id := range st.custCharges[sub.CustomerID] {
		ch := st.charges[id]
		if ch.Status != "queued" {
			continue
		}
		for _, li := range ch.LineItems {
			if li.PurchaseItemID == sub.ID {
				return true
			}
		}
	}
	return false
}

func (st *store) deleteCharge(ch *chargeJSON) {
	delete(st.charges, ch.ID)
	st.chargeOrder.remove(ch.ID)
	st.custCharges[ch.customerID] = removeID(st.custCharges[ch.customerID], ch.ID)
}

func (st *store) deleteSubscription(sub *subscriptionJSON, now time.Time) {
	st.unqueueSub(sub, now)
	delete(st.subs, sub.ID)
	st.subOrder.remove(sub.ID)
	st.custSubs[sub.CustomerID] = removeID(st.custSubs[sub.CustomerID], sub.ID)
}

func (st *store) deleteAddress(a *addressJSON) {
	delete(st.addresses, a.ID)
	st.addrOrder.remove(a.ID)
	st.custAddrs[a.CustomerID] = removeID(st.custAddrs[a.CustomerID], a.ID)
}

// snapshotOf builds the billing/shipping block that charges copy.
func snapshotOf(a *addressJSON) *chargeAddress {
	return &chargeAddress{
		Address1: a.Address1, Address2: a.Address2, City: a.City, Company: a.Company,
		CountryCode: a.CountryCode, FirstName: a.FirstName, LastName: a.LastName,
		Phone: a.Phone, Province: a.Province, Zip: a.Zip,
	}
}

// addProduct adds or replaces a catalog product and its subscription plan.
func (st *store) addProduct(p *productJSON, now time.Time) {
	if old := st.products[p.ExternalProductID]; old != nil {
		p.seq = old.seq
		for _, v := range old.Variants {
			delete(st.variants, v.ExternalVariantID)
		}
	} else {
		st.productSeq++
		p.seq = st.productSeq
	}
	st.products[p.ExternalProductID] = p
	for _, v := range p.Variants {
		st.variants[v.ExternalVariantID] = variantRef{product: p, variant: v}
	}
	for _, pl := range st.plans {
		if pl.ExternalProductID.value() == p.ExternalProductID {
			return
		}
	}
	id := st.nextID(kindPlan)
	discount, dtype := "10.00", "percentage"
	created := now.AddDate(-1, 0, 0)
	st.plans[id] = &planJSON{
		ID: id,
		ChannelSettings: channelSettings{
			API: displaySetting{true}, CheckoutPage: displaySetting{true},
			CustomerPortal: displaySetting{true}, MerchantPortal: displaySetting{true},
		},
		CreatedAt:          sec(created),
		DiscountAmount:     &discount,
		DiscountType:       &dtype,
		ExternalProductID:  ecom(p.ExternalProductID),
		ExternalVariantIDs: []string{},
		SubscriptionPreferences: subscriptionPreferences{
			ChargeIntervalFrequency: 1, IntervalUnit: "month", OrderIntervalFrequency: 1,
		},
		Title:     "Subscribe & save 10%",
		Type:      "subscription",
		UpdatedAt: sec(created),
	}
}

func emptyRaw() []json.RawMessage { return []json.RawMessage{} }

// newCustomer builds a customer record with Recharge's defaults: counts 0,
// no payment method yet, no charge processed.
func newCustomer(id int64, email, first, last, phone, ext string, created time.Time) *customerJSON {
	return &customerJSON{
		ID:                 id,
		AnalyticsData:      newAnalytics(),
		CreatedAt:          sec(created),
		Email:              email,
		ExternalCustomerID: ecom(ext),
		FirstName:          first,
		Hash:               customerHash(id),
		LastName:           last,
		Phone:              optStr(phone),
		UpdatedAt:          sec(created),
	}
}

// chargeKey is what makes two subscriptions share one queued charge: the
// same address, the same date and the same currency.
type chargeKey struct {
	addr     int64
	date     string
	currency string
}

func keyOf(ch *chargeJSON) chargeKey {
	return chargeKey{addr: ch.AddressID, date: ch.ScheduledAt, currency: ch.Currency}
}

// reschedule puts a subscription's queued line where its status and next
// charge date now say, the way Recharge does after every subscription
// change: every queued charge the subscription leaves or joins is
// regenerated, that is replaced by a new charge with a new id (spec
// recharge-actions sections 1.4 and 4), so that nobody can act on a charge
// id read before the change. Other subscriptions on those charges keep
// their lines, and two active subscriptions of one address on one date end
// on one charge. It returns the charges that went away and the new ones.
func (st *store) reschedule(sub *subscriptionJSON, now time.Time) (gone, made []*chargeJSON) {
	var keys []chargeKey
	members := map[chargeKey][]*lineItem{}
	take := func(ch *chargeJSON) {
		k := keyOf(ch)
		if _, seen := members[k]; !seen {
			keys = append(keys, k)
			members[k] = []*lineItem{}
		}
		for _, li := range ch.LineItems {
			if li.PurchaseItemID != sub.ID {
				members[k] = append(members[k], li)
			}
		}
		gone = append(gone, ch)
		st.deleteCharge(ch)
	}
	for _, id := range slices.Clone(st.custCharges[sub.CustomerID]) {
		ch := st.charges[id]
		if ch.Status == "queued" && slices.ContainsFunc(ch.LineItems, func(li *lineItem) bool { return li.PurchaseItemID == sub.ID }) {
			take(ch)
		}
	}
	if sub.Status == "active" && sub.NextChargeScheduledAt != nil && st.addresses[sub.AddressID] != nil {
		want := chargeKey{addr: sub.AddressID, date: *sub.NextChargeScheduledAt, currency: currencyOf(sub)}
		for _, id := range slices.Clone(st.custCharges[sub.CustomerID]) {
			if ch := st.charges[id]; ch.Status == "queued" && keyOf(ch) == want {
				take(ch)
			}
		}
		if _, seen := members[want]; !seen {
			keys = append(keys, want)
		}
		members[want] = append(members[want], st.lineFor(sub))
	}
	for _, k := range keys {
		addr := st.addresses[k.addr]
		lines := members[k]
		if addr == nil || len(lines) == 0 {
			continue
		}
		d, _ := parseDate(k.date)
		ch := st.newCharge(addr, d, "queued", "recurring", k.currency, now, nil)
		for _, li := range lines {
			// Lines are priced again from their subscription, as a
			// regeneration does.
			if s := st.subs[li.PurchaseItemID]; s != nil && s.ID != sub.ID {
				li = st.lineFor(s)
			}
			ch.LineItems = append(ch.LineItems, li)
		}
		recalc(ch)
		made = append(made, ch)
		for _, li := range ch.LineItems {
			if s := st.subs[li.PurchaseItemID]; s != nil {
				s.HasQueuedCharges = true
			}
		}
	}
	sub.HasQueuedCharges = st.hasQueued(sub)
	return gone, made
}

// lastChargeDate is the scheduled date of the subscription's latest
// processed charge; ok is false when it has none.
func (st *store) lastChargeDate(sub *subscriptionJSON) (time.Time, bool) {
	var last time.Time
	for _, id := range st.custCharges[sub.CustomerID] {
		ch := st.charges[id]
		if ch.Status != "success" || !slices.ContainsFunc(ch.LineItems, func(li *lineItem) bool { return li.PurchaseItemID == sub.ID }) {
			continue
		}
		if d, ok := parseDate(ch.ScheduledAt); ok && d.After(last) {
			last = d
		}
	}
	return last, !last.IsZero()
}

// scheduleFrom is the first date of the subscription's schedule after
// today, counting whole intervals from anchor.
func scheduleFrom(anchor time.Time, sub *subscriptionJSON, now time.Time) time.Time {
	next := anchor
	for k := 1; !next.After(today(now)); k++ {
		next = addInterval(anchor, sub.OrderIntervalUnit, sub.OrderIntervalFrequency*k)
	}
	return next
}

// recalculatedNext is the next charge date Recharge computes when the
// frequency changes and the store recalculates (CL-RECALC): one new interval
// after the last processed charge (or after creation when there is none),
// rolled forward past today.
func (st *store) recalculatedNext(sub *subscriptionJSON, now time.Time) time.Time {
	anchor := today(sub.CreatedAt.Time)
	if d, ok := st.lastChargeDate(sub); ok {
		anchor = d
	}
	return scheduleFrom(anchor, sub, now)
}
