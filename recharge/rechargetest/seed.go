package rechargetest

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Seed is data to load into a simulator with Load.
//
// Dates in a seed are relative to the simulator's clock (Config.Now) at
// Load time: a customer or subscription says how many days ago it was
// created (AgeDays), a subscription how many days ahead its next charge is
// (NextChargeInDays) and how many charges it already paid (PastCharges).
// So a seed loaded on any day shows next charges in the future and past
// charges in the past, and a fixed fake clock gives byte-identical answers.
type Seed struct {
	// Platform, when set, replaces the store's platform (PlatformShopify or
	// PlatformCustom); empty keeps Config.Platform.
	Platform string
	// Products are the store's catalog. Subscriptions that name a variant
	// of one take its title, SKU, price, image and weight from it. The
	// catalog is served by /products on a custom-platform store only, but
	// its images appear in charge line items on every platform.
	Products []SeedProduct
	// Customers are loaded in order; ids not given are assigned ascending.
	Customers []SeedCustomer
	// RetentionStrategies, when not empty, replace the store's retention
	// strategies (its cancellation reasons); invalid ones are skipped.
	RetentionStrategies []RetentionStrategy
}

// SeedProduct is a catalog product.
type SeedProduct struct {
	ExternalProductID string // required: the platform's product id
	Title             string
	Vendor            string
	Description       string
	// Image is the original image URL (https). The small, medium and large
	// renditions are derived Shopify-style: "tee.png" -> "tee_small.png".
	Image    string
	Variants []SeedVariant
}

// SeedVariant is one variant of a product.
type SeedVariant struct {
	ExternalVariantID string // required: the platform's variant id
	Title             string // e.g. "Large / Heather Grey"
	SKU               string // "" means null
	Price             string // e.g. "25.00"
	CompareAtPrice    string // "" means null
	Grams             int
	Image             string // optional; default: the product's image
}

// SeedCustomer is a customer with its addresses and subscriptions.
type SeedCustomer struct {
	ID         int64  // 0: assigned; a taken id replaces that customer
	Email      string // default customer<id>@example.com
	FirstName  string
	LastName   string
	Phone      string // E.164 or free text; "" means null
	ExternalID string // external_customer_id.ecommerce; "" means null
	TaxExempt  bool
	// AgeDays is how long ago the customer was created; default: one day
	// before its oldest subscription, or 30 days.
	AgeDays int
	// Addresses default to one generated address when the customer has
	// subscriptions and none is given.
	Addresses     []SeedAddress
	Subscriptions []SeedSubscription
	// Card is the customer's default payment method; nil gives a Visa
	// that expires in two to four years.
	Card *SeedCard
}

// SeedAddress is a shipping address of a customer.
type SeedAddress struct {
	ID          int64 // 0: assigned
	FirstName   string
	LastName    string // names default to the customer's
	Address1    string
	Address2    string
	City        string
	Company     string
	Province    string
	Zip         string
	CountryCode string // default "US"
	Phone       string
	Currency    string // presentment currency; default "USD"
	// Discount, when set, is the address's discount: every charge of the
	// address carries it.
	Discount *SeedDiscount
	// Onetimes are one-time products added to the address's next queued
	// charge (purchase_item_type "onetime").
	Onetimes []SeedOnetime
}

// SeedProperty is a subscription line property (name/value).
type SeedProperty struct{ Name, Value string }

// SeedSubscription is a subscription with its charge history.
type SeedSubscription struct {
	ID int64 // 0: assigned
	// Address is the index of the customer's address it ships to.
	Address int
	// VariantID picks a catalog variant (external variant id); ProductID
	// alone picks the product's first variant. The fields below override
	// the catalog, or describe a product the catalog does not know.
	VariantID    string
	ProductID    string
	ProductTitle string
	VariantTitle string
	SKU          string
	Price        string
	Image        string // original image URL for the line items
	Currency     string // presentment currency; default the address's
	Quantity     int    // default 1
	Properties   []SeedProperty
	// Interval and Unit are the charge and order interval; default 1 month.
	// Unit is "day", "week" or "month".
	Interval int
	Unit     string
	// Status is "active" (default), "cancelled" or "expired".
	Status string
	// SkipNext skips the subscription's next charge, as the customer would
	// in the portal (yesterday): its line moves to a skipped charge and its
	// next charge date one interval on.
	SkipNext bool
	// FailedAttempts, when positive, makes the subscription's next charge
	// one that failed that many times (the last yesterday) with ErrorType
	// (default CARD_DECLINED) and waits for its retry date; its date moves
	// to the first attempt.
	FailedAttempts int
	ErrorType      string
	// PastCharges is the number of processed (success) charges, the first
	// at creation (a checkout) and then one per interval.
	PastCharges int
	// AgeDays is how long ago it was created; default: long enough for
	// PastCharges charges, plus two days.
	AgeDays int
	// NextChargeInDays (active only) puts the next charge that many days
	// after the clock's date; default: one interval after the last charge,
	// rolled forward past today.
	NextChargeInDays int
	// CancelledDaysAgo (cancelled only); default: three days after the last
	// charge, or one day after creation.
	CancelledDaysAgo     int
	CancellationReason   string // default "Other"
	CancellationComments string // "" means null
	// ExpireAfter sets expire_after_specific_number_of_charges; an expired
	// subscription defaults it to PastCharges.
	ExpireAfter int
}

// Load adds the seed's data: products first, then customers. Ids given in
// the seed are kept; others are assigned above every existing id. Load emits
// no webhooks.
func (s *Simulator) Load(seed Seed) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st
	if seed.Platform != "" {
		st.platform = seed.Platform
	}
	if st.created.IsZero() {
		st.created = now.AddDate(-3, 0, 0).Truncate(time.Hour)
	}
	for i := range seed.Products {
		st.addProduct(productFromSeed(&seed.Products[i], st.productSeq+1, now), now)
	}
	for i := range seed.Customers {
		st.loadCustomer(&seed.Customers[i], now)
	}
	if len(seed.RetentionStrategies) > 0 {
		valid := slices.DeleteFunc(slices.Clone(seed.RetentionStrategies), func(rs RetentionStrategy) bool { return rs.validate() != nil })
		st.setRetention(valid, now)
	}
}

// AddCustomer loads one customer (with its addresses and subscriptions)
// and returns its id. It emits no webhooks.
func (s *Simulator) AddCustomer(c SeedCustomer) int64 {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.loadCustomer(&c, now)
}

// AddSubscriptions gives the customer n more active subscriptions, made
// from the catalog (the demo catalog when the store has none), on its first
// address, with varied intervals and next charge dates within four weeks.
// The customer's counts follow. It returns the new ids in ascending order,
// or nil when the customer does not exist. It emits no webhooks.
func (s *Simulator) AddSubscriptions(customerID int64, n int) []int64 {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st
	cu := st.customers[customerID]
	if cu == nil || n <= 0 {
		return nil
	}
	if len(st.products) == 0 {
		for _, p := range demoProducts() {
			st.addProduct(productFromSeed(&p, st.productSeq+1, now), now)
		}
	}
	products := slices.SortedFunc(mapsValues(st.products), func(a, b *productJSON) int { return cmp.Compare(a.seq, b.seq) })
	addrIDs := slices.Sorted(slices.Values(st.custAddrs[customerID]))
	var addrID int64
	if len(addrIDs) > 0 {
		addrID = addrIDs[0]
	} else {
		addrID = st.loadAddress(cu, SeedAddress{}, now.Add(-time.Hour))
	}
	ids := make([]int64, 0, n)
	for i := range n {
		p := products[i%len(products)]
		v := p.Variants[(i/len(products))%len(p.Variants)]
		ss := SeedSubscription{
			VariantID:        v.ExternalVariantID,
			Interval:         []int{1, 2, 1, 3, 1}[i%5],
			Unit:             []string{"month", "week", "month", "month", "week"}[i%5],
			NextChargeInDays: 1 + i%28,
			AgeDays:          10 + i%90,
		}
		ids = append(ids, st.loadSubscription(cu, addrID, &ss, now))
	}
	st.recount(customerID, now, false)
	return ids
}

func mapsValues[K comparable, V any](m map[K]V) func(func(V) bool) {
	return func(yield func(V) bool) {
		for _, v := range m {
			if !yield(v) {
				return
			}
		}
	}
}

// imageSet derives Shopify-style renditions from an original image URL.
func imageSet(original string, sortOrder int) productImage {
	size := func(suffix string) string {
		base, query, hasQuery := strings.Cut(original, "?")
		dot := strings.LastIndex(base, ".")
		if dot <= strings.LastIndex(base, "/") {
			base += suffix
		} else {
			base = base[:dot] + suffix + base[dot:]
		}
		if hasQuery {
			base += "?" + query
		}
		return base
	}
	return productImage{Large: size("_large"), Medium: size("_medium"), Original: original, Small: size("_small"), SortOrder: sortOrder}
}

func productFromSeed(sp *SeedProduct, seq int64, now time.Time) *productJSON {
	id := sp.ExternalProductID
	if id == "" {
		id = fmt.Sprintf("sim-product-%d", seq)
	}
	p := &productJSON{
		ExternalProductID: id,
		Brand:             optStr(sp.Vendor),
		Description:       optStr(sp.Description),
		ExternalCreatedAt: sec(now.AddDate(-1, -2, 0)),
		ExternalUpdatedAt: sec(now.AddDate(0, -1, 0)),
		Images:            []productImage{},
		Options:           []productOption{},
		PublishedAt:       secp(now.AddDate(-1, -2, 1)),
		RequiresShipping:  true,
		Title:             sp.Title,
		Variants:          []*variantJSON{},
		Vendor:            optStr(sp.Vendor),
	}
	if sp.Image != "" {
		p.Images = append(p.Images, imageSet(sp.Image, 1))
	}
	opt := productOption{Name: "Title", Position: 1}
	for i, sv := range sp.Variants {
		price, ok := normPrice(sv.Price)
		if !ok {
			price = "0.00"
		}
		v := &variantJSON{
			ExternalVariantID: sv.ExternalVariantID,
			Dimensions:        dimensions{Weight: sv.Grams, WeightUnit: "g"},
			OptionValues:      []variantLabel{{Label: sv.Title}},
			Prices:            variantPrices{UnitPrice: price},
			RequiresShipping:  true,
			SKU:               optStr(sv.SKU),
			Taxable:           true,
			Title:             sv.Title,
		}
		if v.ExternalVariantID == "" {
			v.ExternalVariantID = fmt.Sprintf("%s-%d", id, i+1)
		}
		if cp, ok := normPrice(sv.CompareAtPrice); ok {
			v.Prices.CompareAtPrice = &cp
		}
		switch {
		case sv.Image != "":
			img := imageSet(sv.Image, 1)
			v.Image = &img
		case len(p.Images) > 0:
			img := p.Images[0]
			v.Image = &img
		}
		p.Variants = append(p.Variants, v)
		opt.Values = append(opt.Values, optionValue{Label: sv.Title, Position: i + 1})
	}
	if len(opt.Values) > 0 {
		p.Options = append(p.Options, opt)
	}
	return p
}

// offset spreads seeded times over the day deterministically, so that
// objects created "n days ago" do not all share one second.
func offset(id int64) time.Duration {
	return time.Duration(60+id%5381) * time.Second
}

var defaultStreets = []SeedAddress{
	{Address1: "1776 Washington Street", City: "Los Angeles", Province: "California", Zip: "90404"},
	{Address1: "2000 Bagby St.", City: "Houston", Province: "Texas", Zip: "77002"},
	{Address1: "88 Harbor Lane", Address2: "Apt 4B", City: "Portland", Province: "Maine", Zip: "04101"},
	{Address1: "415 Mission Street", City: "San Francisco", Province: "California", Zip: "94105"},
	{Address1: "12 Elm Court", City: "Madison", Province: "Wisconsin", Zip: "53703"},
	{Address1: "301 Lakeview Drive", Address2: "Suite 210", City: "Chicago", Province: "Illinois", Zip: "60611"},
	{Address1: "57 Orchard Road", City: "Burlington", Province: "Vermont", Zip: "05401"},
	{Address1: "930 Peachtree Street NE", City: "Atlanta", Province: "Georgia", Zip: "30309"},
}

// loadCustomer runs with Simulator.mu held.
func (st *store) loadCustomer(sc *SeedCustomer, now time.Time) int64 {
	id := sc.ID
	if id == 0 {
		id = st.nextID(kindCustomer)
	} else if old := st.customers[id]; old != nil {
		st.removeCustomer(old)
	}
	email := sc.Email
	if email == "" {
		email = fmt.Sprintf("customer%d@example.com", id)
	}
	age := sc.AgeDays
	if age == 0 {
		age = 30
		for _, ss := range sc.Subscriptions {
			age = max(age, subscriptionAge(&ss, now)+1)
		}
	}
	created := now.AddDate(0, 0, -age).Add(-offset(id))
	cu := newCustomer(id, email, sc.FirstName, sc.LastName, sc.Phone, sc.ExternalID, created)
	cu.TaxExempt = sc.TaxExempt
	cu.paymentMethodID = st.nextID(kindPaymentMethod)
	st.addCustomer(cu)

	addrs := sc.Addresses
	if len(addrs) == 0 && len(sc.Subscriptions) > 0 {
		addrs = []SeedAddress{{}}
	}
	addrIDs := make([]int64, 0, len(addrs))
	for i, sa := range addrs {
		addrIDs = append(addrIDs, st.loadAddress(cu, sa, created.Add(time.Duration(i+1)*time.Minute)))
	}
	subIDs := make([]int64, 0, len(sc.Subscriptions))
	for i := range sc.Subscriptions {
		ss := &sc.Subscriptions[i]
		idx := min(max(ss.Address, 0), len(addrIDs)-1)
		subIDs = append(subIDs, st.loadSubscription(cu, addrIDs[idx], ss, now))
	}
	st.loadPaymentMethod(cu, sc.Card, addrIDs, created, now)
	extra := st.loadCharges(sc, addrIDs, subIDs, now)
	st.renumberCharges(id)
	st.recount(id, now, false)
	st.seedEvents(id, extra)
	// The customer's updated_at follows its latest cancellation, as in the
	// captured data.
	for _, sid := range st.custSubs[id] {
		if s := st.subs[sid]; s.CancelledAt != nil && s.CancelledAt.After(cu.UpdatedAt.Time) {
			cu.UpdatedAt = sec(s.CancelledAt.Time)
		}
	}
	return id
}

// renumberCharges gives a freshly loaded customer's charges ascending ids
// in the order of their creation, as on Recharge, where a newer charge always
// has a higher id (seeds create charges subscription by subscription). The
// set of ids stays, and so does chargeOrder.
func (st *store) renumberCharges(custID int64) {
	ids := slices.Sorted(slices.Values(st.custCharges[custID]))
	chs := make([]*chargeJSON, 0, len(ids))
	for _, id := range ids {
		chs = append(chs, st.charges[id])
		delete(st.charges, id)
	}
	slices.SortStableFunc(chs, func(a, b *chargeJSON) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt.Time), cmp.Compare(a.ID, b.ID))
	})
	for i, ch := range chs {
		ch.ID = ids[i]
		st.charges[ch.ID] = ch
	}
	st.custCharges[custID] = ids
}

// removeCustomer deletes a customer and everything it owns (Load replacing
// a customer with the same id).
func (st *store) removeCustomer(cu *customerJSON) {
	for _, sid := range st.custSubs[cu.ID] {
		delete(st.subs, sid)
		st.subOrder.remove(sid)
	}
	for _, cid := range st.custCharges[cu.ID] {
		delete(st.charges, cid)
		st.chargeOrder.remove(cid)
	}
	for _, aid := range st.custAddrs[cu.ID] {
		delete(st.addresses, aid)
		st.addrOrder.remove(aid)
	}
	st.removePaymentMethods(cu.ID)
	delete(st.custEvents, cu.ID)
	st.eventOrder.removeCustomer(cu.ID)
	st.unindexEmail(cu)
	delete(st.customers, cu.ID)
	st.custOrder.remove(cu.ID)
	delete(st.custSubs, cu.ID)
	delete(st.custCharges, cu.ID)
	delete(st.custAddrs, cu.ID)
}

func (st *store) loadAddress(cu *customerJSON, sa SeedAddress, created time.Time) int64 {
	def := defaultStreets[int(cu.ID%int64(len(defaultStreets)))]
	if sa.Address1 == "" {
		sa.Address1, sa.Address2, sa.City, sa.Province, sa.Zip = def.Address1, def.Address2, def.City, def.Province, def.Zip
	}
	if sa.FirstName == "" {
		sa.FirstName = cu.FirstName
	}
	if sa.LastName == "" {
		sa.LastName = cu.LastName
	}
	if sa.CountryCode == "" {
		sa.CountryCode = "US"
	}
	if sa.Currency == "" {
		sa.Currency = "USD"
	}
	id := sa.ID
	if id == 0 {
		id = st.nextID(kindAddress)
	}
	pm := cu.paymentMethodID
	phone := sa.Phone
	if phone == "" {
		phone = deref(cu.Phone)
	}
	a := &addressJSON{
		ID:                  id,
		CustomerID:          cu.ID,
		PaymentMethodID:     &pm,
		Address1:            sa.Address1,
		Address2:            optStr(sa.Address2),
		City:                sa.City,
		Company:             optStr(sa.Company),
		CountryCode:         sa.CountryCode,
		CreatedAt:           sec(created),
		FirstName:           sa.FirstName,
		LastName:            sa.LastName,
		Phone:               optStr(phone),
		PresentmentCurrency: strp(sa.Currency),
		Province:            optStr(sa.Province),
		UpdatedAt:           sec(created),
		Zip:                 optStr(sa.Zip),
	}
	if d := sa.Discount; d != nil {
		a.discount = st.newDiscount(d)
		a.Discounts = []json.RawMessage{json.RawMessage(`{"id":` + strconv.FormatInt(a.discount.ID, 10) + `}`)}
	}
	st.addAddress(a)
	return id
}

func seedInterval(ss *SeedSubscription) (int, string) {
	n := ss.Interval
	if n <= 0 {
		n = 1
	}
	unit, ok := normUnit(ss.Unit)
	if !ok {
		unit = "month"
	}
	return n, unit
}

// subscriptionAge is the subscription's age in days: AgeDays, or an age at
// which its PastCharges charges are all behind and the next one is about a
// third of an interval ahead.
func subscriptionAge(ss *SeedSubscription, now time.Time) int {
	if ss.AgeDays > 0 {
		return ss.AgeDays
	}
	n, unit := seedInterval(ss)
	pc := max(ss.PastCharges, 0)
	if pc == 0 {
		return 2
	}
	days := func(k int) int { return int(today(now).Sub(addInterval(today(now), unit, -n*k)).Hours() / 24) }
	return max(days(pc)-max(1, days(1)/3), 1)
}

// loadSubscription creates a seeded subscription with its past charges and,
// when active, its queued charge. It runs with Simulator.mu held.
func (st *store) loadSubscription(cu *customerJSON, addrID int64, ss *SeedSubscription, now time.Time) int64 {
	interval, unit := seedInterval(ss)
	status := strings.ToLower(ss.Status)
	if status != "cancelled" && status != "expired" {
		status = "active"
	}
	id := ss.ID
	if id == 0 {
		id = st.nextID(kindSubscription)
	}
	created := now.AddDate(0, 0, -subscriptionAge(ss, now)).Add(-offset(id))
	addr := st.addresses[addrID]
	qty := ss.Quantity
	if qty <= 0 {
		qty = 1
	}
	s := &subscriptionJSON{
		ID:                      id,
		AddressID:               addrID,
		CustomerID:              cu.ID,
		ChargeIntervalFrequency: interval,
		CreatedAt:               sec(created),
		OrderIntervalFrequency:  interval,
		OrderIntervalUnit:       unit,
		PresentmentCurrency:     addr.PresentmentCurrency,
		Quantity:                qty,
		Status:                  "active",
		AnalyticsData:           newAnalytics(),
		IsSkippable:             true,
		UpdatedAt:               sec(created),
	}
	if ss.Currency != "" {
		s.PresentmentCurrency = strp(ss.Currency)
	}
	if ref, ok := st.variants[ss.VariantID]; ok && ss.VariantID != "" {
		applyVariant(s, ref)
	} else if p := st.products[ss.ProductID]; p != nil && len(p.Variants) > 0 {
		applyVariant(s, variantRef{product: p, variant: p.Variants[0]})
	}
	if ss.ProductID != "" {
		s.ExternalProductID = ecom(ss.ProductID)
	}
	if ss.VariantID != "" {
		s.ExternalVariantID = ecom(ss.VariantID)
	}
	if ss.ProductTitle != "" {
		s.ProductTitle = ss.ProductTitle
	}
	if ss.VariantTitle != "" {
		s.VariantTitle = ss.VariantTitle
	}
	if ss.SKU != "" {
		s.SKU = strp(ss.SKU)
	}
	if p, ok := normPrice(ss.Price); ok {
		s.Price = p
	}
	if s.Price == "" {
		s.Price = "0.00"
	}
	if ss.Image != "" {
		img := imageSet(ss.Image, 1)
		s.images = &imagesJSON{Large: img.Large, Medium: img.Medium, Original: img.Original, Small: img.Small}
	}
	for _, p := range ss.Properties {
		s.Properties = append(s.Properties, property{Name: p.Name, Value: p.Value})
	}
	if ss.ExpireAfter > 0 {
		n := ss.ExpireAfter
		s.ExpireAfterSpecificNumberOfCharges = &n
	}
	st.addSubscription(s)

	// The limit before which charges were processed: now, or the explicit
	// cancellation time.
	limit := now
	var cancelled time.Time
	if status == "cancelled" && ss.CancelledDaysAgo > 0 {
		cancelled = now.AddDate(0, 0, -ss.CancelledDaysAgo).Add(-offset(id))
		limit = cancelled
	}
	day0 := today(created)
	tod := created.Sub(day0)
	last := created
	paid := 0
	for k := range max(ss.PastCharges, 0) {
		d := addInterval(day0, unit, interval*k)
		processed := d.Add(tod)
		if k > 0 {
			processed = d.Add(6*time.Hour + offset(id+int64(k)))
		}
		if !processed.Before(limit) {
			break
		}
		typ := "recurring"
		if k == 0 {
			typ = "checkout"
		}
		ch := st.newCharge(addr, d, "success", typ, currencyOf(s), processed.Add(-5*time.Minute), &processed)
		ch.LineItems = append(ch.LineItems, st.lineFor(s))
		recalc(ch)
		last = processed
		paid++
	}
	nextAfterLast := addInterval(day0, unit, interval*paid)

	switch status {
	case "active":
		next := nextAfterLast
		if ss.NextChargeInDays > 0 {
			next = today(now).AddDate(0, 0, ss.NextChargeInDays)
		}
		for !next.After(today(now)) {
			next = addInterval(next, unit, interval)
		}
		s.NextChargeScheduledAt = strp(next.Format(dateLayout))
		st.queueSub(s, last.Add(time.Minute))
	case "cancelled":
		if cancelled.IsZero() {
			cancelled = last.Add(72 * time.Hour)
			if paid == 0 {
				cancelled = created.Add(24 * time.Hour)
			}
			if !cancelled.Before(now) {
				cancelled = now.Add(-time.Hour)
			}
		}
		// Recharge's cancelled_at carries microseconds.
		cancelled = cancelled.Add(time.Duration(100000+id%899999) * time.Microsecond)
		c := micro(cancelled)
		s.Status = "cancelled"
		s.CancelledAt = &c
		reason := ss.CancellationReason
		if reason == "" {
			reason = "Other"
		}
		s.CancellationReason = strp(reason)
		s.CancellationReasonComments = optStr(ss.CancellationComments)
		s.UpdatedAt = sec(cancelled)
		s.lastNext = nextAfterLast.Format(dateLayout)
	case "expired":
		s.Status = "expired"
		if s.ExpireAfterSpecificNumberOfCharges == nil {
			n := max(paid, 1)
			s.ExpireAfterSpecificNumberOfCharges = &n
		}
		s.UpdatedAt = sec(last.Add(time.Minute))
	}
	return id
}
