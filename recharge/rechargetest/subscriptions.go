package rechargetest

import (
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Subscriptions (spec section 4): list, CRUD and the actions.

func (c *call) listSubscriptions() response {
	st := c.s.st
	lq, resp, ok := parseList(subscriptionSpec, c.r.URL.Query())
	if !ok {
		return resp
	}
	if cid, ok := lq.f.int("customer_id"); ok {
		return lq.respondIDs(st.custSubs[cid], false, st.subscriptionItem(lq.f))
	}
	if set := lq.f.set("ids"); set != nil && len(set) <= 250 {
		return lq.respondIDs(slices.Collect(maps.Keys(set)), false, st.subscriptionItem(lq.f))
	}
	return lq.respondIDs(st.subOrder.ids, true, st.subscriptionItem(lq.f))
}

// subscriptionItem returns the list item of a subscription id that passes
// f.
func (st *store) subscriptionItem(f *filters) func(int64) (listItem, bool) {
	return func(id int64) (listItem, bool) {
		s := st.subs[id]
		if s == nil || !matchSubscription(s, f) {
			return listItem{}, false
		}
		return listItem{id: s.ID, created: s.CreatedAt.Time, updated: s.UpdatedAt.Time, obj: s}, true
	}
}

func matchSubscription(s *subscriptionJSON, f *filters) bool {
	if v, ok := f.int("customer_id"); ok && v != s.CustomerID {
		return false
	}
	if v, ok := f.int("address_id"); ok && v != s.AddressID {
		return false
	}
	if set := f.set("address_ids"); set != nil && !set[s.AddressID] {
		return false
	}
	if set := f.set("ids"); set != nil && !set[s.ID] {
		return false
	}
	if v, ok := f.str("status"); ok && v != s.Status {
		return false
	}
	if v, ok := f.str("external_variant_id"); ok && v != s.ExternalVariantID.value() {
		return false
	}
	return f.timeIn("created_at", s.CreatedAt.Time) && f.timeIn("updated_at", s.UpdatedAt.Time)
}

func (c *call) subscription() (*subscriptionJSON, bool) {
	id, ok := c.id()
	s := c.s.st.subs[id]
	return s, ok && s != nil
}

func (c *call) getSubscription() response {
	s, ok := c.subscription()
	if !ok {
		return notFound()
	}
	return jsonResponse(http.StatusOK, map[string]any{"subscription": s})
}

// Upper bounds keep dates and amounts sane (a quantity of 10^18 would
// overflow the cents of a line total).
const (
	maxFrequency = 1000
	maxQuantity  = 100000
)

// maxCancellationComments is the longest cancellation_reason_comments
// Recharge takes (PD: at most 1024 characters).
const maxCancellationComments = 1024

func inRange(field string, v int64) bool {
	hi := int64(maxFrequency)
	if field == "quantity" {
		hi = maxQuantity
	}
	return v >= 1 && v <= hi
}

func rangeMessage(field string) string {
	hi := maxFrequency
	if field == "quantity" {
		hi = maxQuantity
	}
	return "Must be greater than or equal to 1 and less than or equal to " + strconv.Itoa(hi) + "."
}

// normUnit accepts day, week, month and their plurals, any case.
func normUnit(u string) (string, bool) {
	u = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(u)), "s")
	return u, u == "day" || u == "week" || u == "month"
}

// nextDate reads a date field (a date, or a datetime whose date is taken).
func (f *form) date(k string) (time.Time, bool) {
	v, set := f.str(k)
	if !set || v == nil {
		return time.Time{}, false
	}
	if t, ok := parseDate(*v); ok {
		return t, true
	}
	if t, ok := parseISO(*v); ok {
		return today(t), true
	}
	f.fail(k, "Not a valid date.")
	return time.Time{}, false
}

func (c *call) createSubscription() response {
	st := c.s.st
	f := c.form()
	f.required("address_id", "charge_interval_frequency", "order_interval_frequency", "order_interval_unit",
		"next_charge_scheduled_at", "quantity", "external_variant_id")
	addrID, _ := f.int("address_id")
	chargeFreq, _ := f.int("charge_interval_frequency")
	orderFreq, _ := f.int("order_interval_frequency")
	unitRaw, _ := f.str("order_interval_unit")
	next, nextOK := f.date("next_charge_scheduled_at")
	qty, _ := f.int("quantity")
	variant, _ := f.ecom("external_variant_id")
	product, _ := f.ecom("external_product_id")
	price, priceSet := f.price("price")
	title, _ := f.str("product_title")
	variantTitle, _ := f.str("variant_title")
	sku, skuSet := f.str("sku")
	currency, _ := f.str("presentment_currency")
	props, _ := f.properties("properties")
	expire, _ := f.int("expire_after_specific_number_of_charges")
	var unit string
	if unitRaw != nil {
		u, ok := normUnit(*unitRaw)
		if !ok {
			f.fail("order_interval_unit", "Must be one of: day, week, month.")
		}
		unit = u
	}
	for k, v := range map[string]*int64{"charge_interval_frequency": chargeFreq, "order_interval_frequency": orderFreq, "quantity": qty} {
		if v != nil && !inRange(k, *v) {
			f.fail(k, rangeMessage(k))
		}
	}
	if !f.ok() {
		return f.response()
	}
	if nextOK && next.Before(today(c.now)) {
		return errorsBody(http.StatusUnprocessableEntity, map[string]any{"next_charge_scheduled_at": "Cannot be in the past"})
	}
	addr := st.addresses[*addrID]
	if addr == nil {
		return fieldError("address_id", "Address not found.")
	}
	s := &subscriptionJSON{
		ID:                      st.nextID(kindSubscription),
		AddressID:               addr.ID,
		CustomerID:              addr.CustomerID,
		ChargeIntervalFrequency: int(*chargeFreq),
		OrderIntervalFrequency:  int(*orderFreq),
		OrderIntervalUnit:       unit,
		NextChargeScheduledAt:   strp(next.Format(dateLayout)),
		Quantity:                int(*qty),
		ExternalVariantID:       ecom(*variant),
		Status:                  "active",
		AnalyticsData:           newAnalytics(),
		IsSkippable:             true,
		Properties:              props,
		CreatedAt:               sec(c.now),
		UpdatedAt:               sec(c.now),
	}
	if expire != nil {
		n := int(*expire)
		s.ExpireAfterSpecificNumberOfCharges = &n
	}
	// On a real store Recharge fills the product from the platform's
	// catalog; the simulator does the same from its own products, and takes
	// what the request gives otherwise.
	if ref, ok := st.variants[*variant]; ok {
		applyVariant(s, ref)
	}
	if product != nil {
		s.ExternalProductID = ecom(*product)
	}
	if priceSet {
		s.Price = price
	}
	if title != nil {
		s.ProductTitle = *title
	}
	if variantTitle != nil {
		s.VariantTitle = *variantTitle
	}
	if skuSet {
		s.SKU = sku
		s.SKUOverride = sku != nil
	}
	if s.Price == "" {
		f.fail("price", "Missing data for required field.")
	}
	if s.ProductTitle == "" {
		f.fail("product_title", "Missing data for required field.")
	}
	if !f.ok() {
		return f.response()
	}
	switch {
	case currency != nil:
		s.PresentmentCurrency = currency
	case addr.PresentmentCurrency != nil:
		s.PresentmentCurrency = strp(*addr.PresentmentCurrency)
	default:
		s.PresentmentCurrency = strp("USD")
	}
	st.addSubscription(s)
	st.recount(s.CustomerID, c.now, true)
	c.emit("subscription/created", "subscription", s)
	c.regenerate(s)
	return jsonResponse(http.StatusCreated, map[string]any{"subscription": s})
}

// applyVariant fills a subscription's product fields from the catalog.
func applyVariant(s *subscriptionJSON, ref variantRef) {
	s.ExternalProductID = ecom(ref.product.ExternalProductID)
	s.ExternalVariantID = ecom(ref.variant.ExternalVariantID)
	s.ProductTitle = ref.product.Title
	s.VariantTitle = ref.variant.Title
	s.SKU = ref.variant.SKU
	s.Price = ref.variant.Prices.UnitPrice
	img := ref.variant.Image
	if img == nil && len(ref.product.Images) > 0 {
		img = &ref.product.Images[0]
	}
	if img != nil {
		s.images = &imagesJSON{Large: img.Large, Medium: img.Medium, Original: img.Original, Small: img.Small}
	}
	if w := ref.variant.Dimensions.Weight; w > 0 {
		s.grams = &w
	}
}

func (st *store) addSubscription(s *subscriptionJSON) {
	if s.Properties == nil {
		s.Properties = []property{}
	}
	st.subs[s.ID] = s
	st.subOrder.add(s.ID)
	st.useID(kindSubscription, s.ID)
	st.custSubs[s.CustomerID] = append(st.custSubs[s.CustomerID], s.ID)
}

func (c *call) updateSubscription() response {
	st := c.s.st
	s, ok := c.subscription()
	if !ok {
		return notFound()
	}
	f := c.form()
	next := *s
	if f.has("order_interval_unit") && (!f.has("charge_interval_frequency") || !f.has("order_interval_frequency")) {
		return errorsBody(http.StatusUnprocessableEntity, map[string]any{
			"charge_interval_unit_type": "when passing order_interval_unit provide charge_interval_frequency and order_interval_frequency to update the interval information",
		})
	}
	if v, set := f.str("order_interval_unit"); set && v != nil {
		u, ok := normUnit(*v)
		if !ok {
			f.fail("order_interval_unit", "Must be one of: day, week, month.")
		}
		next.OrderIntervalUnit = u
	}
	for k, dst := range map[string]*int{"charge_interval_frequency": &next.ChargeIntervalFrequency, "order_interval_frequency": &next.OrderIntervalFrequency, "quantity": &next.Quantity} {
		v, set := f.int(k)
		if !set {
			continue
		}
		if v == nil || !inRange(k, *v) {
			if _, bad := f.errs[k]; !bad {
				f.fail(k, rangeMessage(k))
			}
			continue
		}
		*dst = int(*v)
	}
	if v, set := f.ecom("external_variant_id"); set && v != nil {
		if ref, ok := st.variants[*v]; ok {
			applyVariant(&next, ref)
		} else {
			next.ExternalVariantID = ecom(*v)
		}
	}
	if p, set := f.price("price"); set && p != "" {
		next.Price = p
	}
	for k, dst := range map[string]*string{"product_title": &next.ProductTitle, "variant_title": &next.VariantTitle} {
		if v, set := f.str(k); set && v != nil {
			*dst = *v
		}
	}
	if v, set := f.str("sku"); set {
		next.SKU = v
		next.SKUOverride = v != nil
	}
	if v, set := f.bool("sku_override"); set && v != nil {
		next.SKUOverride = *v
	}
	if v, set := f.ecom("external_product_id"); set {
		next.ExternalProductID = ecom(deref(v))
	}
	if ps, set := f.properties("properties"); set && ps != nil {
		next.Properties = ps
	}
	if v, set := f.int("expire_after_specific_number_of_charges"); set {
		if v == nil {
			next.ExpireAfterSpecificNumberOfCharges = nil
		} else {
			n := int(*v)
			next.ExpireAfterSpecificNumberOfCharges = &n
		}
	}
	for k, dst := range map[string]**int{"order_day_of_month": &next.OrderDayOfMonth, "order_day_of_week": &next.OrderDayOfWeek} {
		if v, set := f.int(k); set {
			if v == nil {
				*dst = nil
			} else {
				n := int(*v)
				*dst = &n
			}
		}
	}
	if v, set := f.int("address_id"); set && v != nil {
		a := st.addresses[*v]
		if a == nil || a.CustomerID != s.CustomerID {
			f.fail("address_id", "Address not found.")
		} else {
			next.AddressID = a.ID
		}
	}
	nextDate, dateSet := f.date("next_charge_scheduled_at")
	if !f.ok() {
		return f.response()
	}
	intervalChanged := next.OrderIntervalUnit != s.OrderIntervalUnit || next.OrderIntervalFrequency != s.OrderIntervalFrequency ||
		next.ChargeIntervalFrequency != s.ChargeIntervalFrequency
	if dateSet {
		if s.Status != "active" {
			return fieldError("next_charge_scheduled_at", "Only active subscriptions have a next charge date.")
		}
		if nextDate.Before(today(c.now)) {
			return errorsBody(http.StatusUnprocessableEntity, map[string]any{"next_charge_scheduled_at": "Cannot be in the past"})
		}
		next.NextChargeScheduledAt = strp(nextDate.Format(dateLayout))
	}
	// Recharge does not bump updated_at when only the next charge date
	// changes (spec section 12); every other change bumps it.
	onlyDate := true
	for k := range c.body {
		if k != "next_charge_scheduled_at" {
			onlyDate = false
		}
	}
	if !onlyDate {
		next.UpdatedAt = sec(c.now)
	}
	*s = next
	if intervalChanged && s.Status == "active" {
		// A frequency change throws away the skips already made on this
		// subscription (SF updateSubscription) and, on a store that
		// recalculates (CL-RECALC), computes the next date again; a date
		// sent in the same request wins.
		back := c.dropSkips(s)
		switch {
		case dateSet:
		case c.s.cfg.RecalculateNextChargeDate:
			s.NextChargeScheduledAt = strp(st.recalculatedNext(s, c.now).Format(dateLayout))
		case !back.IsZero():
			s.NextChargeScheduledAt = strp(back.Format(dateLayout))
		}
	}
	c.emit("subscription/updated", "subscription", s)
	c.regenerate(s)
	return jsonResponse(http.StatusOK, map[string]any{"subscription": s})
}

// regenerate moves the subscription's queued line after a change and
// announces the charges that went away and the new ones.
func (c *call) regenerate(s *subscriptionJSON) {
	gone, made := c.s.st.reschedule(s, c.now)
	for _, ch := range gone {
		c.emit("charge/deleted", "charge", ch)
	}
	for _, ch := range made {
		c.emit("charge/created", "charge", ch)
	}
}

// dropSkips removes the subscription's lines from its skipped charges that
// are still ahead, deleting charges left without lines. It returns the
// earliest such date (zero when there was none): without a recalculation,
// that occurrence is due again.
func (c *call) dropSkips(s *subscriptionJSON) time.Time {
	st := c.s.st
	var earliest time.Time
	for _, id := range slices.Clone(st.custCharges[s.CustomerID]) {
		ch := st.charges[id]
		d, ok := parseDate(ch.ScheduledAt)
		if ch.Status != "skipped" || !ok || !d.After(today(c.now)) {
			continue
		}
		n := len(ch.LineItems)
		ch.LineItems = slices.DeleteFunc(ch.LineItems, func(li *lineItem) bool { return li.PurchaseItemID == s.ID })
		if len(ch.LineItems) == n {
			continue
		}
		if earliest.IsZero() || d.Before(earliest) {
			earliest = d
		}
		if len(ch.LineItems) == 0 {
			st.deleteCharge(ch)
			c.emit("charge/deleted", "charge", ch)
			continue
		}
		ch.UpdatedAt = sec(c.now)
		recalc(ch)
		c.emit("charge/updated", "charge", ch)
	}
	return earliest
}

func (c *call) deleteSubscription() response {
	st := c.s.st
	s, ok := c.subscription()
	if !ok {
		return notFound()
	}
	c.emit("subscription/deleted", "subscription", s)
	st.deleteSubscription(s, c.now)
	st.recount(s.CustomerID, c.now, true)
	return response{status: http.StatusNoContent}
}

func (c *call) cancelSubscription() response {
	st := c.s.st
	s, ok := c.subscription()
	if !ok {
		return notFound()
	}
	f := c.form()
	reason, _ := f.str("cancellation_reason")
	comments, _ := f.str("cancellation_reason_comments")
	f.bool("send_email")
	if comments != nil && utf8.RuneCountInString(*comments) > maxCancellationComments {
		f.fail("cancellation_reason_comments", "Longer than maximum length "+strconv.Itoa(maxCancellationComments)+".")
	}
	if _, bad := f.errs["cancellation_reason"]; !bad && (reason == nil || strings.TrimSpace(*reason) == "") {
		if f.has("cancellation_reason") {
			f.fail("cancellation_reason", "Field may not be null.")
		} else {
			f.fail("cancellation_reason", "Missing data for required field.")
		}
	}
	if !f.ok() {
		return f.response()
	}
	if s.Status == "cancelled" {
		return fieldError("subscription", "item already set to cancelled")
	}
	s.lastNext = deref(s.NextChargeScheduledAt)
	s.Status = "cancelled"
	cancelled := micro(c.now)
	s.CancelledAt = &cancelled
	s.CancellationReason = reason
	s.CancellationReasonComments = comments
	s.NextChargeScheduledAt = nil
	s.HasQueuedCharges = false
	s.UpdatedAt = sec(c.now)
	st.recount(s.CustomerID, c.now, true)
	c.emit("subscription/cancelled", "subscription", s)
	c.regenerate(s)
	return jsonResponse(http.StatusOK, map[string]any{"subscription": s})
}

func (c *call) activateSubscription() response {
	st := c.s.st
	s, ok := c.subscription()
	if !ok {
		return notFound()
	}
	if s.Status == "active" {
		return fieldError("subscription", "item already set to active")
	}
	// The subscription's own schedule comes back (FX-GL: the next date was
	// the original one, created + 30 days): the next date it had when it
	// was cancelled, or one interval after its last charge, rolled forward
	// by whole intervals past today.
	anchor := addInterval(today(s.CreatedAt.Time), s.OrderIntervalUnit, s.OrderIntervalFrequency)
	if d, ok := st.lastChargeDate(s); ok {
		anchor = addInterval(d, s.OrderIntervalUnit, s.OrderIntervalFrequency)
	}
	if d, ok := parseDate(s.lastNext); ok {
		anchor = d
	}
	next := scheduleFrom(anchor, s, c.now)
	s.Status = "active"
	s.CancelledAt = nil
	s.CancellationReason = nil
	s.CancellationReasonComments = nil
	s.NextChargeScheduledAt = strp(next.Format(dateLayout))
	s.lastNext = ""
	s.UpdatedAt = sec(c.now)
	st.recount(s.CustomerID, c.now, true)
	c.emit("subscription/activated", "subscription", s)
	c.regenerate(s)
	return jsonResponse(http.StatusOK, map[string]any{"subscription": s})
}

func (c *call) setNextChargeDate() response {
	s, ok := c.subscription()
	if !ok {
		return notFound()
	}
	f := c.form()
	f.required("date")
	d, dateOK := f.date("date")
	if !f.ok() {
		return f.response()
	}
	if !dateOK || !d.After(today(c.now)) {
		return fieldError("date", "date is not far enough in the future")
	}
	if s.Status != "active" {
		return fieldError("subscription", "Only active subscriptions can have a next charge date.")
	}
	s.NextChargeScheduledAt = strp(d.Format(dateLayout))
	c.emit("subscription/updated", "subscription", s)
	c.regenerate(s)
	return jsonResponse(http.StatusOK, map[string]any{"subscription": s})
}

func (c *call) changeAddress() response {
	st := c.s.st
	s, ok := c.subscription()
	if !ok {
		return notFound()
	}
	f := c.form()
	f.required("address_id")
	id, _ := f.int("address_id")
	if !f.ok() {
		return f.response()
	}
	a := st.addresses[*id]
	if a == nil || a.CustomerID != s.CustomerID {
		return fieldError("address_id", "Address not found.")
	}
	s.AddressID = a.ID
	s.UpdatedAt = sec(c.now)
	c.emit("subscription/updated", "subscription", s)
	c.regenerate(s)
	return jsonResponse(http.StatusOK, map[string]any{"subscription": s})
}
