package rechargetest

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Charges (spec section 5): list, get, skip and unskip.

func (c *call) listCharges() response {
	st := c.s.st
	lq, resp, ok := parseList(chargeSpec, c.r.URL.Query())
	if !ok {
		return resp
	}
	ids, sorted := st.chargeCandidates(lq.f)
	return lq.respondIDs(ids, sorted, st.chargeItem(lq.f))
}

// chargeItem returns the list item of a charge id that passes f.
func (st *store) chargeItem(f *filters) func(int64) (listItem, bool) {
	return func(id int64) (listItem, bool) {
		ch := st.charges[id]
		if ch == nil || !matchCharge(ch, f) {
			return listItem{}, false
		}
		return listItem{id: ch.ID, created: ch.CreatedAt.Time, updated: ch.UpdatedAt.Time, sched: ch.ScheduledAt, obj: ch}, true
	}
}

// chargeCandidates returns the ids of the charges a list of charges or of
// orders looks at: the customer's when the query names one (an index),
// every charge otherwise (in ascending order: sorted); the filters then
// decide.
func (st *store) chargeCandidates(f *filters) (ids []int64, sorted bool) {
	if cid, ok := f.int("customer_id"); ok {
		return st.custCharges[cid], false
	}
	return st.chargeOrder.ids, true
}

func matchCharge(ch *chargeJSON, f *filters) bool {
	if v, ok := f.int("customer_id"); ok && v != ch.customerID {
		return false
	}
	if v, ok := f.int("address_id"); ok && v != ch.AddressID {
		return false
	}
	if set := f.set("ids"); set != nil && !set[ch.ID] {
		return false
	}
	if v, ok := f.str("status"); ok && v != ch.Status {
		return false
	}
	if v, ok := f.int("purchase_item_id"); ok && !slices.ContainsFunc(ch.LineItems, func(li *lineItem) bool { return li.PurchaseItemID == v }) {
		return false
	}
	if v, ok := f.str("external_order_id"); ok && v != ch.ExternalOrderID.value() {
		return false
	}
	if v, ok := f.str("discount_code"); ok && !slices.ContainsFunc(ch.Discounts, func(d discountJSON) bool { return strings.EqualFold(d.Code, v) }) {
		return false
	}
	if v, ok := f.int("discount_id"); ok && !slices.ContainsFunc(ch.Discounts, func(d discountJSON) bool { return d.ID == v }) {
		return false
	}
	if t, ok := f.times["scheduled_at"]; ok && t.Format(dateLayout) != ch.ScheduledAt {
		return false
	}
	if !f.dateIn("scheduled_at", ch.ScheduledAt) {
		return false
	}
	if f.hasTime("processed_at") && (ch.ProcessedAt == nil || !f.timeIn("processed_at", ch.ProcessedAt.Time)) {
		return false
	}
	return f.timeIn("created_at", ch.CreatedAt.Time) && f.timeIn("updated_at", ch.UpdatedAt.Time)
}

func (c *call) charge() (*chargeJSON, bool) {
	id, ok := c.id()
	ch := c.s.st.charges[id]
	return ch, ok && ch != nil
}

func (c *call) getCharge() response {
	ch, ok := c.charge()
	if !ok {
		return notFound()
	}
	return jsonResponse(http.StatusOK, map[string]any{"charge": ch})
}

// purchaseItems reads {"purchase_item_ids":[...]} (or the older
// subscription_ids) and checks that each id is a line of ch.
func (c *call) purchaseItems(ch *chargeJSON) ([]int64, response, bool) {
	key := "purchase_item_ids"
	raw, ok := c.body[key]
	if !ok {
		if r, ok2 := c.body["subscription_ids"]; ok2 {
			key, raw, ok = "subscription_ids", r, true
		}
	}
	if !ok {
		return nil, fieldError("purchase_item_ids", "Missing data for required field."), false
	}
	var ids []int64
	if err := json.Unmarshal(raw, &ids); err != nil || len(ids) == 0 {
		return nil, fieldError(key, "Not a valid list of integers."), false
	}
	for _, id := range ids {
		if !slices.ContainsFunc(ch.LineItems, func(li *lineItem) bool { return li.PurchaseItemID == id }) {
			return nil, fieldError(key, "Purchase item "+strconv.FormatInt(id, 10)+" is not part of this charge"), false
		}
	}
	return ids, response{}, true
}

// splitLines moves the lines of ids out of ch into a new charge with the
// given status, unless they are all of ch's lines: then ch itself changes
// status. It returns the charge that now holds those lines.
func (st *store) splitLines(ch *chargeJSON, ids []int64, status string, c *call) *chargeJSON {
	moved, split := st.split(ch, ids, status, c.now)
	if split {
		c.emit("charge/updated", "charge", ch)
	}
	return moved
}

// split is splitLines without the webhook; split reports whether a new
// charge was made (ch kept other lines).
func (st *store) split(ch *chargeJSON, ids []int64, status string, now time.Time) (*chargeJSON, bool) {
	set := map[int64]bool{}
	for _, id := range ids {
		set[id] = true
	}
	all := true
	for _, li := range ch.LineItems {
		if !set[li.PurchaseItemID] {
			all = false
		}
	}
	if all {
		ch.Status = status
		ch.UpdatedAt = sec(now)
		return ch, false
	}
	// The new charge is a copy of ch (same address, customer, date and
	// currency, also for a charge loaded without its address or customer)
	// with a new id and no lines yet.
	moved := new(chargeJSON)
	*moved = *ch
	moved.ID = st.nextID(kindCharge)
	moved.Status = status
	moved.LineItems = nil
	moved.ShippingLines = slices.Clone(ch.ShippingLines)
	moved.CreatedAt, moved.UpdatedAt = sec(now), sec(now)
	st.charges[moved.ID] = moved
	st.chargeOrder.add(moved.ID)
	st.custCharges[moved.customerID] = append(st.custCharges[moved.customerID], moved.ID)
	var keep []*lineItem
	for _, li := range ch.LineItems {
		if set[li.PurchaseItemID] {
			moved.LineItems = append(moved.LineItems, li)
		} else {
			keep = append(keep, li)
		}
	}
	ch.LineItems = keep
	ch.UpdatedAt = sec(now)
	recalc(ch)
	recalc(moved)
	return moved, true
}

// skipCharge skips the given subscriptions on a queued (or error) charge.
// Each skipped subscription moves its next charge date one interval on and
// gets a queued line there, as on Recharge.
func (c *call) skipCharge() response {
	st := c.s.st
	ch, ok := c.charge()
	if !ok {
		return notFound()
	}
	if ch.Status != "queued" && ch.Status != "error" {
		return fieldError("status", "Only charges with status queued and error can be skipped")
	}
	ids, resp, ok := c.purchaseItems(ch)
	if !ok {
		return resp
	}
	skipped := st.splitLines(ch, ids, "skipped", c)
	for _, id := range ids {
		s := st.subs[id]
		if s == nil || s.Status != "active" || deref(s.NextChargeScheduledAt) != skipped.ScheduledAt {
			continue
		}
		d, _ := parseDate(skipped.ScheduledAt)
		s.NextChargeScheduledAt = strp(addInterval(d, s.OrderIntervalUnit, s.OrderIntervalFrequency).Format(dateLayout))
		c.emit("subscription/skipped", "subscription", s)
		c.regenerate(s)
	}
	c.emit("charge/updated", "charge", skipped)
	return jsonResponse(http.StatusOK, map[string]any{"charge": skipped})
}

// unskipCharge reverses skipCharge: the charge is queued again and each
// active subscription's next charge date comes back to the charge's date.
func (c *call) unskipCharge() response {
	st := c.s.st
	ch, ok := c.charge()
	if !ok {
		return notFound()
	}
	if ch.Status != "skipped" {
		return fieldError("status", "Only charges with status skipped can be un-skipped")
	}
	ids, resp, ok := c.purchaseItems(ch)
	if !ok {
		return resp
	}
	var active []*subscriptionJSON
	for _, id := range ids {
		s := st.subs[id]
		if s == nil || s.Status != "active" {
			continue
		}
		// The line queued on the later date at skip time goes away.
		st.removeQueuedLines(s, ch.ID, c.now)
		s.NextChargeScheduledAt = strp(ch.ScheduledAt)
		active = append(active, s)
	}
	queued := st.splitLines(ch, ids, "queued", c)
	// Back in the queue, the lines join any charge already queued for the
	// same address and date (subscriptions of one address on one date
	// share one charge); the unskipped charge keeps its id, as captured.
	for _, id := range slices.Clone(st.custCharges[queued.customerID]) {
		other := st.charges[id]
		if other == queued || other.Status != "queued" || keyOf(other) != keyOf(queued) {
			continue
		}
		queued.LineItems = append(queued.LineItems, other.LineItems...)
		st.deleteCharge(other)
		c.emit("charge/deleted", "charge", other)
	}
	// Recharge quotes shipping again later: until then the charge carries a
	// pending placeholder and its total leaves shipping out (FX-GL unskip:
	// 54.40 became 49.50).
	queued.ShippingLines = []shippingLine{{Code: "pending", Price: "0.00", RetrievedAt: microp(c.now), Source: "recharge",
		Status: "pending", TaxLines: []json.RawMessage{}, Title: "Pending"}}
	queued.UpdatedAt = sec(c.now)
	recalc(queued)
	for _, s := range active {
		s.HasQueuedCharges = true
		c.emit("subscription/unskipped", "subscription", s)
	}
	c.emit("charge/updated", "charge", queued)
	return jsonResponse(http.StatusOK, map[string]any{"charge": queued})
}
