package rechargetest

import (
	"cmp"
	"net/http"
	"slices"
	"strings"
)

// Customers (spec section 3) and addresses (section 6).

func (c *call) listCustomers() response {
	st := c.s.st
	lq, resp, ok := parseList(customerSpec, c.r.URL.Query())
	if !ok {
		return resp
	}
	if email, ok := lq.f.str("email"); ok {
		return lq.respondIDs(st.emails[strings.ToLower(email)], false, st.customerItem(lq.f))
	}
	return lq.respondIDs(st.custOrder.ids, true, st.customerItem(lq.f))
}

// customerItem returns the list item of a customer id that passes f.
func (st *store) customerItem(f *filters) func(int64) (listItem, bool) {
	return func(id int64) (listItem, bool) {
		cu := st.customers[id]
		if cu == nil || !matchCustomer(cu, f) {
			return listItem{}, false
		}
		return listItem{id: cu.ID, created: cu.CreatedAt.Time, updated: cu.UpdatedAt.Time, obj: cu}, true
	}
}

func matchCustomer(cu *customerJSON, f *filters) bool {
	if v, ok := f.str("email"); ok && !strings.EqualFold(v, cu.Email) {
		return false
	}
	if v, ok := f.str("external_customer_id"); ok && v != cu.ExternalCustomerID.value() {
		return false
	}
	if v, ok := f.str("hash"); ok && v != cu.Hash {
		return false
	}
	if set := f.set("ids"); set != nil && !set[cu.ID] {
		return false
	}
	return f.timeIn("created_at", cu.CreatedAt.Time) && f.timeIn("updated_at", cu.UpdatedAt.Time)
}

// customerIncludes are the include= values of GET /customers/{id}:
// payment_methods is in the 2021-11 clients (spec recharge-actions section
// 2.3, secondary), and saves the card a call.
var customerIncludes = []string{"addresses", "payment_methods", "subscriptions"}

func (c *call) getCustomer() response {
	st := c.s.st
	id, ok := c.id()
	cu := st.customers[id]
	if !ok || cu == nil {
		return notFound()
	}
	inc := c.r.URL.Query().Get("include")
	if inc == "" {
		return jsonResponse(http.StatusOK, map[string]any{"customer": cu})
	}
	out := *cu
	out.Include = map[string]any{}
	for _, part := range strings.Split(inc, ",") {
		switch strings.TrimSpace(part) {
		case "addresses":
			addrs := []*addressJSON{}
			for _, aid := range st.custAddrs[id] {
				addrs = append(addrs, st.addresses[aid])
			}
			slices.SortFunc(addrs, func(a, b *addressJSON) int { return cmp.Compare(b.ID, a.ID) })
			out.Include["addresses"] = addrs
		case "subscriptions":
			subs := []*subscriptionJSON{}
			for _, sid := range st.custSubs[id] {
				subs = append(subs, st.subs[sid])
			}
			slices.SortFunc(subs, func(a, b *subscriptionJSON) int { return cmp.Compare(b.ID, a.ID) })
			out.Include["subscriptions"] = subs
		case "payment_methods":
			pms := []*paymentMethodJSON{}
			for _, pid := range st.custPMs[id] {
				pms = append(pms, st.pms[pid])
			}
			slices.SortFunc(pms, func(a, b *paymentMethodJSON) int { return cmp.Compare(b.ID, a.ID) })
			out.Include["payment_methods"] = pms
		case "":
		default:
			return fieldError("include", "Must be one of: "+strings.Join(customerIncludes, ", ")+".")
		}
	}
	return jsonResponse(http.StatusOK, map[string]any{"customer": &out})
}

func (c *call) createCustomer() response {
	st := c.s.st
	f := c.form()
	email, _ := f.str("email")
	switch {
	case email == nil && !f.has("email"):
		f.fail("email", "Missing data for required field.")
	case email == nil:
		if _, bad := f.errs["email"]; !bad {
			f.fail("email", "Field may not be null.")
		}
	case !validEmail(*email):
		f.fail("email", "Not a valid email address.")
	}
	first, _ := f.str("first_name")
	last, _ := f.str("last_name")
	phone, _ := f.str("phone")
	ext, _ := f.ecom("external_customer_id")
	taxExempt, _ := f.bool("tax_exempt")
	if !f.ok() {
		return f.response()
	}
	if st.emailTaken(*email, 0) {
		return errorsBody(http.StatusUnprocessableEntity, map[string]any{"email": "email already exists on store"})
	}
	cu := newCustomer(st.nextID(kindCustomer), *email, deref(first), deref(last), deref(phone), deref(ext), c.now)
	cu.TaxExempt = taxExempt != nil && *taxExempt
	st.addCustomer(cu)
	c.emit("customer/created", "customer", cu)
	return jsonResponse(http.StatusCreated, map[string]any{"customer": cu})
}

// validEmail is a loose check: something@something.
func validEmail(s string) bool {
	local, domain, ok := strings.Cut(s, "@")
	return ok && local != "" && domain != "" && !strings.ContainsAny(s, " \t\r\n")
}

func (st *store) addCustomer(cu *customerJSON) {
	st.customers[cu.ID] = cu
	st.custOrder.add(cu.ID)
	st.useID(kindCustomer, cu.ID)
	st.indexEmail(cu)
}

func (c *call) updateCustomer() response {
	st := c.s.st
	id, ok := c.id()
	cu := st.customers[id]
	if !ok || cu == nil {
		return notFound()
	}
	f := c.form()
	email, emailSet := f.str("email")
	if emailSet {
		if email == nil {
			if _, bad := f.errs["email"]; !bad {
				f.fail("email", "Field may not be null.")
			}
		} else if !validEmail(*email) {
			f.fail("email", "Not a valid email address.")
		}
	}
	names := map[string]*string{}
	for _, k := range []string{"first_name", "last_name"} {
		v, set := f.str(k)
		if !set {
			continue
		}
		if _, bad := f.errs[k]; bad {
			continue
		}
		if v == nil {
			f.fail(k, "Field may not be null.")
			continue
		}
		if *v == "" {
			f.fail(k, "Shorter than minimum length 1.")
			continue
		}
		names[k] = v
	}
	phone, phoneSet := f.str("phone")
	ext, extSet := f.ecom("external_customer_id")
	taxExempt, _ := f.bool("tax_exempt")
	credCheckout, _ := f.bool("apply_credit_to_next_checkout_charge")
	credRecurring, _ := f.bool("apply_credit_to_next_recurring_charge")
	if !f.ok() {
		return f.response()
	}
	if emailSet && st.emailTaken(*email, cu.ID) {
		return errorsBody(http.StatusUnprocessableEntity, map[string]any{"email": "email already exists on store"})
	}
	if emailSet {
		st.unindexEmail(cu)
		cu.Email = *email
		st.indexEmail(cu)
	}
	if v := names["first_name"]; v != nil {
		cu.FirstName = *v
	}
	if v := names["last_name"]; v != nil {
		cu.LastName = *v
	}
	if phoneSet {
		cu.Phone = phone
	}
	if extSet {
		cu.ExternalCustomerID = ecom(deref(ext))
	}
	if taxExempt != nil {
		cu.TaxExempt = *taxExempt
	}
	if credCheckout != nil {
		cu.ApplyCreditToNextCheckoutCharge = *credCheckout
	}
	if credRecurring != nil {
		cu.ApplyCreditToNextRecurringCharge = *credRecurring
	}
	cu.UpdatedAt = sec(c.now)
	// Charges show the customer's current email and external id.
	for _, chID := range st.custCharges[cu.ID] {
		st.charges[chID].Customer = chargeCustomerOf(cu)
	}
	c.emit("customer/updated", "customer", cu)
	return jsonResponse(http.StatusOK, map[string]any{"customer": cu})
}

// deleteCustomer removes the customer with its addresses, subscriptions and
// charges.
func (c *call) deleteCustomer() response {
	st := c.s.st
	id, ok := c.id()
	cu := st.customers[id]
	if !ok || cu == nil {
		return notFound()
	}
	c.emit("customer/deleted", "customer", cu)
	for _, sid := range slices.Clone(st.custSubs[id]) {
		st.deleteSubscription(st.subs[sid], c.now)
	}
	for _, chID := range slices.Clone(st.custCharges[id]) {
		st.deleteCharge(st.charges[chID])
	}
	for _, aid := range slices.Clone(st.custAddrs[id]) {
		st.deleteAddress(st.addresses[aid])
	}
	st.unindexEmail(cu)
	delete(st.customers, id)
	st.custOrder.remove(id)
	delete(st.custSubs, id)
	delete(st.custCharges, id)
	delete(st.custAddrs, id)
	st.removePaymentMethods(id)
	return response{status: http.StatusNoContent}
}

func (c *call) listAddresses() response {
	st := c.s.st
	lq, resp, ok := parseList(addressSpec, c.r.URL.Query())
	if !ok {
		return resp
	}
	if cid, ok := lq.f.int("customer_id"); ok {
		return lq.respondIDs(st.custAddrs[cid], false, st.addressItem(lq.f))
	}
	return lq.respondIDs(st.addrOrder.ids, true, st.addressItem(lq.f))
}

// addressItem returns the list item of an address id that passes f.
func (st *store) addressItem(f *filters) func(int64) (listItem, bool) {
	return func(id int64) (listItem, bool) {
		a := st.addresses[id]
		if a == nil || !st.matchAddress(a, f) {
			return listItem{}, false
		}
		return listItem{id: a.ID, created: a.CreatedAt.Time, updated: a.UpdatedAt.Time, obj: a}, true
	}
}

func (st *store) matchAddress(a *addressJSON, f *filters) bool {
	if v, ok := f.int("customer_id"); ok && v != a.CustomerID {
		return false
	}
	if set := f.set("ids"); set != nil && !set[a.ID] {
		return false
	}
	if v, ok := f.str("discount_code"); ok && (a.discount == nil || !strings.EqualFold(a.discount.Code, v)) {
		return false
	}
	if v, ok := f.int("discount_id"); ok && (a.discount == nil || a.discount.ID != v) {
		return false
	}
	if want, ok := f.bool("is_active"); ok && want != st.addressActive(a) {
		return false
	}
	return f.timeIn("created_at", a.CreatedAt.Time) && f.timeIn("updated_at", a.UpdatedAt.Time)
}

// addressActive reports whether an active subscription ships to a.
func (st *store) addressActive(a *addressJSON) bool {
	for _, sid := range st.custSubs[a.CustomerID] {
		if s := st.subs[sid]; s.AddressID == a.ID && s.Status == "active" {
			return true
		}
	}
	return false
}

func (c *call) getAddress() response {
	id, ok := c.id()
	a := c.s.st.addresses[id]
	if !ok || a == nil {
		return notFound()
	}
	return jsonResponse(http.StatusOK, map[string]any{"address": a})
}

// addressRequired is the order of Recharge's _schema message.
var addressRequired = []string{"city", "country_code", "first_name", "province", "last_name", "customer_id", "address1"}

func (c *call) createAddress() response {
	st := c.s.st
	f := c.form()
	var missing []string
	for _, k := range addressRequired {
		if !f.has(k) || (k != "province" && f.isNull(k)) {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return errorsBody(http.StatusUnprocessableEntity, map[string]any{
			"_schema": []string{strings.Join(missing, ", ") + " are required fields."},
		})
	}
	custID, _ := f.int("customer_id")
	a := &addressJSON{}
	c.applyAddress(f, a)
	pm, _ := f.int("payment_method_id")
	if !f.ok() {
		return f.response()
	}
	cu := st.customers[*custID]
	if cu == nil {
		return fieldError("customer_id", "Customer not found.")
	}
	a.ID = st.nextID(kindAddress)
	a.CustomerID = cu.ID
	a.PaymentMethodID = pm
	if a.PresentmentCurrency == nil {
		a.PresentmentCurrency = strp("USD")
	}
	a.CreatedAt, a.UpdatedAt = sec(c.now), sec(c.now)
	st.addAddress(a)
	st.recount(cu.ID, c.now, false)
	c.emit("address/created", "address", a)
	return jsonResponse(http.StatusCreated, map[string]any{"address": a})
}

func (st *store) addAddress(a *addressJSON) {
	if a.Discounts == nil {
		a.Discounts = emptyRaw()
	}
	if a.OrderAttributes == nil {
		a.OrderAttributes = []property{}
	}
	if a.ShippingLinesConserved == nil {
		a.ShippingLinesConserved = emptyRaw()
	}
	if a.ShippingLinesOverride == nil {
		a.ShippingLinesOverride = emptyRaw()
	}
	a.snapshot = snapshotOf(a)
	st.addresses[a.ID] = a
	st.addrOrder.add(a.ID)
	st.useID(kindAddress, a.ID)
	st.custAddrs[a.CustomerID] = append(st.custAddrs[a.CustomerID], a.ID)
}

// applyAddress copies the address fields present in the body onto a,
// checking the fields that may not be null or empty.
func (c *call) applyAddress(f *form, a *addressJSON) {
	for _, k := range []string{"address1", "city", "country_code", "first_name", "last_name"} {
		v, set := f.str(k)
		if !set {
			continue
		}
		if _, bad := f.errs[k]; bad {
			continue
		}
		if v == nil {
			f.fail(k, "Field may not be null.")
			continue
		}
		if *v == "" && k != "address1" && k != "city" {
			f.fail(k, "Shorter than minimum length 1.")
			continue
		}
		switch k {
		case "address1":
			a.Address1 = *v
		case "city":
			a.City = *v
		case "country_code":
			a.CountryCode = strings.ToUpper(*v)
		case "first_name":
			a.FirstName = *v
		case "last_name":
			a.LastName = *v
		}
	}
	for k, dst := range map[string]**string{
		"address2": &a.Address2, "company": &a.Company, "phone": &a.Phone, "province": &a.Province,
		"zip": &a.Zip, "order_note": &a.OrderNote, "presentment_currency": &a.PresentmentCurrency,
	} {
		if v, set := f.str(k); set {
			*dst = v
		}
	}
	if ps, set := f.properties("order_attributes"); set && ps != nil {
		a.OrderAttributes = ps
	}
}

func (c *call) updateAddress() response {
	st := c.s.st
	id, ok := c.id()
	a := st.addresses[id]
	if !ok || a == nil {
		return notFound()
	}
	f := c.form()
	next := *a
	c.applyAddress(f, &next)
	if !f.ok() {
		return f.response()
	}
	*a = next
	a.UpdatedAt = sec(c.now)
	a.snapshot = snapshotOf(a)
	// Unprocessed charges ship to the address as it is now.
	for _, chID := range st.custCharges[a.CustomerID] {
		if ch := st.charges[chID]; ch.AddressID == a.ID && ch.ProcessedAt == nil {
			ch.BillingAddress, ch.ShippingAddress = a.snapshot, a.snapshot
		}
	}
	c.emit("address/updated", "address", a)
	return jsonResponse(http.StatusOK, map[string]any{"address": a})
}

// deleteAddress refuses while active subscriptions ship to the address;
// otherwise it removes the address with its inactive subscriptions and its
// unprocessed charges.
func (c *call) deleteAddress() response {
	st := c.s.st
	id, ok := c.id()
	a := st.addresses[id]
	if !ok || a == nil {
		return notFound()
	}
	if st.addressActive(a) {
		return fieldError("subscriptions", "Address has active subscriptions")
	}
	for _, sid := range slices.Clone(st.custSubs[a.CustomerID]) {
		if s := st.subs[sid]; s.AddressID == a.ID {
			st.deleteSubscription(s, c.now)
		}
	}
	for _, chID := range slices.Clone(st.custCharges[a.CustomerID]) {
		if ch := st.charges[chID]; ch.AddressID == a.ID && ch.ProcessedAt == nil {
			st.deleteCharge(ch)
		}
	}
	st.deleteAddress(a)
	st.recount(a.CustomerID, c.now, true)
	c.emit("address/deleted", "address", a)
	return response{status: http.StatusNoContent}
}
