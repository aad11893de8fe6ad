package rechargetest

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// The agent actions of issue 11, each against the simulator, with each
// refusal Recharge gives (spec recharge-actions sections 1 and 4).

// queuedOf returns the customer's queued charges.
func queuedOf(tb testing.TB, h *harness, custID int64) []obj {
	tb.Helper()
	return h.collect(fmt.Sprintf("/charges?customer_id=%d&status=queued&sort_by=scheduled_at-asc", custID), "charges")
}

// lineIDs lists a charge's purchase item ids in order.
func lineIDs(tb testing.TB, ch obj) []int64 {
	tb.Helper()
	var out []int64
	for _, li := range ch["line_items"].([]any) {
		out = append(out, idOf(tb, li.(obj)["purchase_item_id"]))
	}
	return out
}

// sharedCustomer adds a customer whose two subscriptions (tea, 12.50, and
// razor, 14.00, both monthly) share one queued charge three days ahead.
func sharedCustomer(tb testing.TB, h *harness) (custID, tea, razor int64) {
	tb.Helper()
	custID = h.sim.AddCustomer(SeedCustomer{Email: "shared@example.com", FirstName: "Sha", LastName: "Red",
		Subscriptions: []SeedSubscription{
			{VariantID: vTea, NextChargeInDays: 3, PastCharges: 2},
			{VariantID: vRazor, NextChargeInDays: 3, PastCharges: 1},
		}})
	q := queuedOf(tb, h, custID)
	if len(q) != 1 || len(lineIDs(tb, q[0])) != 2 {
		tb.Fatalf("two subscriptions on one date: %d queued charges, want one with both lines", len(q))
	}
	ids := lineIDs(tb, q[0])
	return custID, ids[0], ids[1]
}

// assertOneChargePerDate checks that no address has two queued charges on
// one date: subscriptions of one address on one date share a charge.
func assertOneChargePerDate(tb testing.TB, h *harness, when string) {
	tb.Helper()
	seen := map[string]int64{}
	for _, ch := range h.collect("/charges?status=queued&limit=250", "charges") {
		k := fmt.Sprintf("%v/%v/%v", ch["address_id"], ch["scheduled_at"], ch["currency"])
		if other, dup := seen[k]; dup {
			tb.Errorf("%s: charges %d and %v are both queued for %s", when, other, ch["id"], k)
		}
		seen[k] = idOf(tb, ch["id"])
	}
	if len(seen) == 0 {
		tb.Fatalf("%s: no queued charges", when)
	}
}

func TestSharedChargesEverywhere(t *testing.T) {
	t.Parallel()
	// The demo, a generated store and subscriptions added in bulk.
	h := newHarness(t, Config{}, DemoSeed(), GenerateSeed(300, 7))
	h.sim.AddSubscriptions(DemoNoSubscriptionsID, 40)
	assertOneChargePerDate(t, h, "after loading")
	if q := queuedOf(t, h, DemoNoSubscriptionsID); len(q) == 0 || len(q) > 28 {
		t.Errorf("Jordan Lee has %d queued charges for 40 subscriptions on at most 28 dates", len(q))
	}

	// Actions that move lines between dates keep it so: a move onto an
	// occupied date, an unskip next to a charge that appeared meanwhile, a
	// reactivation onto a date in use.
	h.mustDo(200, "POST", fmt.Sprintf("/subscriptions/%d/set_next_charge_date", DemoAlexChewsID), `{"date":"2025-03-20"}`)
	assertOneChargePerDate(t, h, "after a date move")
	tee := h.collect(fmt.Sprintf("/charges?purchase_item_id=%d&status=queued", DemoAlexDogTeeID), "charges")
	if len(tee) != 1 {
		t.Fatalf("%d queued charges hold the T-Shirt", len(tee))
	}
	chargeID, sub := idOf(t, tee[0]["id"]), DemoAlexDogTeeID
	r := h.mustDo(200, "POST", fmt.Sprintf("/charges/%d/skip", chargeID), fmt.Sprintf(`{"purchase_item_ids":[%d]}`, sub))
	skipped := idOf(t, mustDecode(t, r.body)["charge"].(obj)["id"])
	h.mustDo(200, "POST", fmt.Sprintf("/subscriptions/%d/set_next_charge_date", DemoAlexChewsID), `{"date":"2025-03-06"}`)
	h.mustDo(200, "POST", fmt.Sprintf("/charges/%d/unskip", skipped), fmt.Sprintf(`{"purchase_item_ids":[%d]}`, sub))
	assertOneChargePerDate(t, h, "after an unskip")
	h.mustDo(200, "POST", fmt.Sprintf("/subscriptions/%d/activate", DemoAlexCatPajamasID), `{}`)
	h.mustDo(200, "POST", fmt.Sprintf("/subscriptions/%d/set_next_charge_date", DemoAlexCatPajamasID), `{"date":"2025-03-06"}`)
	assertOneChargePerDate(t, h, "after a reactivation")
	if q := queuedOf(t, h, DemoAlexRiveraID); len(lineIDs(t, q[0])) < 3 {
		t.Errorf("Alex's 2025-03-06 charge = %v, want the T-Shirt, the Chews and the Cat Pajamas", lineIDs(t, q[0]))
	}
}

func TestCancelRegeneratesTheSharedCharge(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{}, DemoSeed())
	custID, tea, razor := sharedCustomer(t, h)
	before := idOf(t, queuedOf(t, h, custID)[0]["id"])
	cancel := fmt.Sprintf("/subscriptions/%d/cancel", tea)

	// Refusals change nothing.
	assertBody(t, h.do("POST", cancel, `{}`), 422, `{"errors":{"cancellation_reason":["Missing data for required field."]}}`)
	assertBody(t, h.do("POST", cancel, `{"cancellation_reason":null}`), 422, `{"errors":{"cancellation_reason":["Field may not be null."]}}`)
	assertBody(t, h.do("POST", cancel, `{"cancellation_reason":"   "}`), 422, `{"errors":{"cancellation_reason":["Field may not be null."]}}`)
	assertBody(t, h.do("POST", cancel, fmt.Sprintf(`{"cancellation_reason":"Too expensive","cancellation_reason_comments":%q}`, strings.Repeat("é", 1025))), 422,
		`{"errors":{"cancellation_reason_comments":["Longer than maximum length 1024."]}}`)
	assertBody(t, h.do("POST", cancel, `{"cancellation_reason":"Too expensive","send_email":"yes"}`), 422, `{"errors":{"send_email":["Not a valid boolean."]}}`)
	assertBody(t, h.do("POST", "/subscriptions/999999999/cancel", `{"cancellation_reason":"x"}`), 404, `{"errors":"Not Found"}`)
	if q := queuedOf(t, h, custID); len(q) != 1 || idOf(t, q[0]["id"]) != before {
		t.Fatalf("a refused cancel changed the queued charge: %v", q)
	}

	h.clock.Advance(1500 * time.Microsecond)
	comments := strings.Repeat("c", 900) + " (by agent@brand.com via rechargekit)"
	r := h.mustDo(200, "POST", cancel, fmt.Sprintf(`{"cancellation_reason":"Too expensive","cancellation_reason_comments":%q,"send_email":false}`, comments))
	sub := mustDecode(t, r.body)["subscription"].(obj)
	if sub["status"] != "cancelled" || sub["cancellation_reason"] != "Too expensive" || sub["cancellation_reason_comments"] != comments ||
		sub["next_charge_scheduled_at"] != nil || sub["has_queued_charges"] != false || !microRE.MatchString(fmt.Sprint(sub["cancelled_at"])) {
		t.Errorf("cancelled subscription = %v", sub)
	}
	// The line dropped out of the shared charge, which was regenerated
	// under a new id with the other line and its totals.
	q := queuedOf(t, h, custID)
	if len(q) != 1 || idOf(t, q[0]["id"]) == before || !slices.Equal(lineIDs(t, q[0]), []int64{razor}) ||
		q[0]["subtotal_price"] != "14.00" || q[0]["total_price"] != "18.90" {
		t.Errorf("queued after cancel = %v", q)
	}
	if r := h.get(fmt.Sprintf("/charges/%d", before)); r.status != http.StatusNotFound {
		t.Errorf("the old charge id still answers %d", r.status)
	}
	c := mustDecode(t, h.mustGet(fmt.Sprintf("/customers/%d", custID)).body)["customer"].(obj)
	if fmt.Sprintf("%v %v", c["subscriptions_total_count"], c["subscriptions_active_count"]) != "2 1" {
		t.Errorf("counts = %v/%v, want 2/1", c["subscriptions_total_count"], c["subscriptions_active_count"])
	}
	assertBody(t, h.do("POST", cancel, `{"cancellation_reason":"Too expensive"}`), 422, `{"errors":{"subscription":["item already set to cancelled"]}}`)
}

func TestActivateRestoresTheSchedule(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{}, DemoSeed())
	custID, tea, razor := sharedCustomer(t, h)
	assertBody(t, h.do("POST", fmt.Sprintf("/subscriptions/%d/activate", tea), `{}`), 422, `{"errors":{"subscription":["item already set to active"]}}`)
	h.mustDo(200, "POST", fmt.Sprintf("/subscriptions/%d/cancel", tea), `{"cancellation_reason":"Other"}`)
	h.clock.Advance(time.Hour)

	r := h.mustDo(200, "POST", fmt.Sprintf("/subscriptions/%d/activate", tea), `{}`)
	sub := mustDecode(t, r.body)["subscription"].(obj)
	// The next date it had comes back, so it joins the other subscription's
	// charge again (regenerated once more).
	if sub["status"] != "active" || sub["next_charge_scheduled_at"] != "2025-03-04" || sub["cancelled_at"] != nil ||
		sub["cancellation_reason"] != nil || sub["cancellation_reason_comments"] != nil || sub["has_queued_charges"] != true {
		t.Errorf("activated subscription = %v", sub)
	}
	q := queuedOf(t, h, custID)
	if len(q) != 1 || !slices.Equal(lineIDs(t, q[0]), []int64{razor, tea}) || q[0]["scheduled_at"] != "2025-03-04" {
		t.Errorf("queued after activate = %v", q)
	}

	// A subscription cancelled long ago restarts on its own schedule, the
	// first date of it after today: the demo's Cat Pajamas (every 30 days
	// from 2024-12-21, cancelled 20 days ago with its next date then
	// 2025-02-19).
	r = h.mustDo(200, "POST", "/subscriptions/585062093/activate", `{}`)
	cat := mustDecode(t, r.body)["subscription"].(obj)
	if cat["next_charge_scheduled_at"] != "2025-03-21" {
		t.Errorf("Cat Pajamas next date = %v, want 2025-03-21 (2025-02-19 + 30 days)", cat["next_charge_scheduled_at"])
	}
	assertBody(t, h.do("POST", "/subscriptions/999999999/activate", `{}`), 404, `{"errors":"Not Found"}`)
}

func TestSkipUnskipSharedCharge(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{}, DemoSeed())
	custID, tea, razor := sharedCustomer(t, h)
	shared := idOf(t, queuedOf(t, h, custID)[0]["id"])

	// Only purchase items of that charge.
	assertBody(t, h.do("POST", fmt.Sprintf("/charges/%d/skip", shared), `{"purchase_item_ids":[585062092]}`), 422,
		`{"errors":{"purchase_item_ids":["Purchase item 585062092 is not part of this charge"]}}`)
	assertBody(t, h.do("POST", fmt.Sprintf("/charges/%d/skip", shared), `{"purchase_item_ids":"x"}`), 422,
		`{"errors":{"purchase_item_ids":["Not a valid list of integers."]}}`)
	assertBody(t, h.do("POST", "/charges/999999999/skip", fmt.Sprintf(`{"purchase_item_ids":[%d]}`, tea)), 404, `{"errors":"Not Found"}`)

	// Skipping the tea leaves the razor billed on that date.
	r := h.mustDo(200, "POST", fmt.Sprintf("/charges/%d/skip", shared), fmt.Sprintf(`{"purchase_item_ids":[%d]}`, tea))
	skipped := mustDecode(t, r.body)["charge"].(obj)
	if skipped["status"] != "skipped" || !slices.Equal(lineIDs(t, skipped), []int64{tea}) || skipped["scheduled_at"] != "2025-03-04" {
		t.Fatalf("skipped = %v", skipped)
	}
	q := queuedOf(t, h, custID)
	if len(q) != 2 || !slices.Equal(lineIDs(t, q[0]), []int64{razor}) || q[0]["scheduled_at"] != "2025-03-04" ||
		!slices.Equal(lineIDs(t, q[1]), []int64{tea}) || q[1]["scheduled_at"] != "2025-04-04" {
		t.Fatalf("queued after skip = %v", q)
	}
	assertBody(t, h.do("POST", fmt.Sprintf("/charges/%d/unskip", idOf(t, q[0]["id"])), fmt.Sprintf(`{"purchase_item_ids":[%d]}`, razor)), 422,
		`{"errors":{"status":["Only charges with status skipped can be un-skipped"]}}`)

	// Unskip: queued again and back on one charge with the razor (the
	// unskipped charge keeps its id and takes the razor's line), shipping
	// back to the pending placeholder and the total without shipping until
	// it is quoted again.
	h.clock.Advance(time.Minute + 426148*time.Microsecond)
	r = h.mustDo(200, "POST", fmt.Sprintf("/charges/%d/unskip", idOf(t, skipped["id"])), fmt.Sprintf(`{"purchase_item_ids":[%d]}`, tea))
	back := mustDecode(t, r.body)["charge"].(obj)
	ship := back["shipping_lines"].([]any)[0].(obj)
	if back["status"] != "queued" || ship["code"] != "pending" || ship["price"] != "0.00" || ship["source"] != "recharge" ||
		ship["status"] != "pending" || ship["title"] != "Pending" || !microRE.MatchString(fmt.Sprint(ship["retrieved_at"])) ||
		back["subtotal_price"] != "26.50" || back["total_price"] != "26.50" || idOf(t, back["id"]) != idOf(t, skipped["id"]) ||
		!slices.Equal(lineIDs(t, back), []int64{tea, razor}) {
		t.Errorf("unskipped = %v %v %v %v", back["status"], ship, back["subtotal_price"], back["total_price"])
	}
	sub := mustDecode(t, h.mustGet(fmt.Sprintf("/subscriptions/%d", tea)).body)["subscription"].(obj)
	if sub["next_charge_scheduled_at"] != "2025-03-04" {
		t.Errorf("tea next after unskip = %v", sub["next_charge_scheduled_at"])
	}
	if q := queuedOf(t, h, custID); len(q) != 1 || idOf(t, q[0]["id"]) != idOf(t, skipped["id"]) {
		t.Errorf("queued after unskip: %d charges, want the unskipped one alone", len(q))
	}
}

func TestSkipErrorCharge(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{}, DemoSeed())
	custID, tea, _ := sharedCustomer(t, h)
	h.sim.mu.Lock()
	for _, id := range h.sim.st.custCharges[custID] {
		if ch := h.sim.st.charges[id]; ch.Status == "queued" {
			ch.Status = "error"
		}
	}
	h.sim.mu.Unlock()
	q := h.collect(fmt.Sprintf("/charges?customer_id=%d&status=error", custID), "charges")
	if len(q) != 1 {
		t.Fatalf("%d error charges", len(q))
	}
	r := h.mustDo(200, "POST", fmt.Sprintf("/charges/%d/skip", idOf(t, q[0]["id"])), fmt.Sprintf(`{"purchase_item_ids":[%d]}`, tea))
	if ch := mustDecode(t, r.body)["charge"].(obj); ch["status"] != "skipped" {
		t.Errorf("an error charge skipped to %v", ch["status"])
	}
}

func TestSetNextChargeDateMerges(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{}, DemoSeed())
	custID := h.sim.AddCustomer(SeedCustomer{Email: "apart@example.com", FirstName: "A", LastName: "Part",
		Subscriptions: []SeedSubscription{
			{VariantID: vTea, NextChargeInDays: 3, PastCharges: 1},
			{VariantID: vRazor, NextChargeInDays: 10, PastCharges: 1},
		}})
	q := queuedOf(t, h, custID)
	if len(q) != 2 {
		t.Fatalf("%d queued charges, want 2", len(q))
	}
	old := []int64{idOf(t, q[0]["id"]), idOf(t, q[1]["id"])}
	tea, razor := lineIDs(t, q[0])[0], lineIDs(t, q[1])[0]
	move := fmt.Sprintf("/subscriptions/%d/set_next_charge_date", tea)

	for _, d := range []string{"2025-02-28", "2025-03-01"} { // the past and today
		assertBody(t, h.do("POST", move, fmt.Sprintf(`{"date":%q}`, d)), 422, `{"errors":{"date":["date is not far enough in the future"]}}`)
	}
	assertBody(t, h.do("POST", move, `{}`), 422, `{"errors":{"date":["Missing data for required field."]}}`)

	r := h.mustDo(200, "POST", move, `{"date":"2025-03-11"}`)
	if sub := mustDecode(t, r.body)["subscription"].(obj); sub["next_charge_scheduled_at"] != "2025-03-11" {
		t.Errorf("moved subscription = %v", sub)
	}
	q = queuedOf(t, h, custID)
	if len(q) != 1 || !slices.Equal(lineIDs(t, q[0]), []int64{razor, tea}) || q[0]["scheduled_at"] != "2025-03-11" ||
		slices.Contains(old, idOf(t, q[0]["id"])) || q[0]["subtotal_price"] != "26.50" {
		t.Errorf("after the move onto the razor's date: %v", q)
	}

	// A cancelled subscription has no date to move.
	h.mustDo(200, "POST", fmt.Sprintf("/subscriptions/%d/cancel", razor), `{"cancellation_reason":"Other"}`)
	assertBody(t, h.do("POST", fmt.Sprintf("/subscriptions/%d/set_next_charge_date", razor), `{"date":"2025-03-20"}`), 422,
		`{"errors":{"subscription":["Only active subscriptions can have a next charge date."]}}`)
}

func TestUpdateSubscriptionRules(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{}, DemoSeed())
	custID, tea, razor := sharedCustomer(t, h)
	put := fmt.Sprintf("/subscriptions/%d", tea)
	const intervalErr = `{"errors":{"charge_interval_unit_type":"when passing order_interval_unit provide charge_interval_frequency and order_interval_frequency to update the interval information"}}`
	for _, body := range []string{
		`{"order_interval_unit":"week"}`,
		`{"order_interval_unit":"week","order_interval_frequency":2}`,
		`{"order_interval_unit":"week","charge_interval_frequency":2}`,
	} {
		assertBody(t, h.do("PUT", put, body), 422, intervalErr)
	}
	assertBody(t, h.do("PUT", put, `{"quantity":0}`), 422, `{"errors":{"quantity":["Must be greater than or equal to 1 and less than or equal to 100000."]}}`)

	// A quantity change regenerates the shared charge under a new id with
	// the new price; the date stays.
	before := idOf(t, queuedOf(t, h, custID)[0]["id"])
	h.clock.Advance(time.Minute)
	r := h.mustDo(200, "PUT", put, `{"quantity":3}`)
	if sub := mustDecode(t, r.body)["subscription"].(obj); fmt.Sprint(sub["quantity"]) != "3" || sub["next_charge_scheduled_at"] != "2025-03-04" {
		t.Errorf("after quantity = %v", sub)
	}
	q := queuedOf(t, h, custID)
	if len(q) != 1 || idOf(t, q[0]["id"]) == before || q[0]["subtotal_price"] != "51.50" || q[0]["total_price"] != "51.50" ||
		!slices.Equal(lineIDs(t, q[0]), []int64{razor, tea}) {
		t.Errorf("after quantity: %v", q)
	}

	// Skip the tea, then change its frequency: the skip is dropped and,
	// without recalculation, the skipped date is due again.
	r = h.mustDo(200, "POST", fmt.Sprintf("/charges/%d/skip", idOf(t, q[0]["id"])), fmt.Sprintf(`{"purchase_item_ids":[%d]}`, tea))
	skippedID := idOf(t, mustDecode(t, r.body)["charge"].(obj)["id"])
	r = h.mustDo(200, "PUT", put, `{"order_interval_unit":"weeks","order_interval_frequency":2,"charge_interval_frequency":2}`)
	sub := mustDecode(t, r.body)["subscription"].(obj)
	if sub["order_interval_unit"] != "week" || fmt.Sprintf("%v %v", sub["order_interval_frequency"], sub["charge_interval_frequency"]) != "2 2" ||
		sub["next_charge_scheduled_at"] != "2025-03-04" {
		t.Errorf("after the frequency change = %v", sub)
	}
	if r := h.get(fmt.Sprintf("/charges/%d", skippedID)); r.status != http.StatusNotFound {
		t.Errorf("the skipped charge survived the frequency change: %d", r.status)
	}
	q = queuedOf(t, h, custID)
	if len(q) != 1 || !slices.Equal(lineIDs(t, q[0]), []int64{razor, tea}) || q[0]["scheduled_at"] != "2025-03-04" {
		t.Errorf("after the frequency change: %v", q)
	}
}

func TestUpdateSubscriptionRecalculates(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{RecalculateNextChargeDate: true}, DemoSeed())
	custID, tea, razor := sharedCustomer(t, h)
	q := queuedOf(t, h, custID)
	h.mustDo(200, "POST", fmt.Sprintf("/charges/%d/skip", idOf(t, q[0]["id"])), fmt.Sprintf(`{"purchase_item_ids":[%d]}`, tea))

	// The tea's last charge was on 2025-02-10; every three weeks from
	// there, the first date after today is 2025-03-03 (not the skipped
	// 2025-03-04, nor the 2025-04-04 the skip had moved it to).
	r := h.mustDo(200, "PUT", fmt.Sprintf("/subscriptions/%d", tea), `{"order_interval_unit":"week","order_interval_frequency":3,"charge_interval_frequency":3}`)
	sub := mustDecode(t, r.body)["subscription"].(obj)
	if sub["next_charge_scheduled_at"] != "2025-03-03" {
		t.Errorf("recalculated next = %v, want 2025-03-03 (2025-02-10 + 3 weeks)", sub["next_charge_scheduled_at"])
	}
	if n := len(h.collect(fmt.Sprintf("/charges?customer_id=%d&status=skipped", custID), "charges")); n != 0 {
		t.Errorf("%d skipped charges left", n)
	}
	q = queuedOf(t, h, custID)
	if len(q) != 2 || !slices.Equal(lineIDs(t, q[0]), []int64{tea}) || q[0]["scheduled_at"] != "2025-03-03" || !slices.Equal(lineIDs(t, q[1]), []int64{razor}) {
		t.Errorf("queued after recalculation = %v", q)
	}
	// A quantity change alone does not recalculate.
	r = h.mustDo(200, "PUT", fmt.Sprintf("/subscriptions/%d", razor), `{"quantity":2}`)
	if sub := mustDecode(t, r.body)["subscription"].(obj); sub["next_charge_scheduled_at"] != "2025-03-04" {
		t.Errorf("quantity change moved the date to %v", sub["next_charge_scheduled_at"])
	}
}

func TestRetentionStrategies(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{}, DemoSeed())
	list := h.collect("/retention_strategies?sort_by=id-asc", "retention_strategies")
	if len(list) != 7 || list[0]["reason"] != "Too expensive" || list[0]["incentive_type"] != "discount" || list[0]["discount_code"] != "STAY15" ||
		list[0]["cancellation_flow_type"] != "subscription" || list[6]["reason"] != "Other" || list[6]["incentive_type"] != nil || list[6]["prevention_text"] != nil {
		t.Fatalf("demo retention strategies = %v", list)
	}
	if keys := keyOrder(t, rawField(t, h.mustGet("/retention_strategies?limit=1").body, "retention_strategies", 0)); !slices.Equal(keys,
		[]string{"id", "cancellation_flow_type", "created_at", "discount_code", "incentive_type", "prevention_text", "reason", "updated_at"}) {
		t.Errorf("keys = %v", keys)
	}

	// The control call replaces the list.
	r := h.do("POST", "/__sim/retention_strategies", `[{"reason":"Moving abroad"},{"reason":"Too big","incentive_type":"swap_product"}]`)
	assertBody(t, r, 200, `{"retention_strategies":[{"reason":"Moving abroad","cancellation_flow_type":"subscription"},{"reason":"Too big","incentive_type":"swap_product","cancellation_flow_type":"subscription"}]}`)
	list = h.collect("/retention_strategies?sort_by=id-asc", "retention_strategies")
	if len(list) != 2 || list[0]["reason"] != "Moving abroad" || list[1]["reason"] != "Too big" {
		t.Errorf("after the control call = %v", list)
	}
	for _, bad := range []string{`{"reason":"x"}`, `[{"reason":""}]`, `[{"reason":"x","incentive_type":"free_money"}]`, `[{"reason":"x","cancellation_flow_type":"y"}]`, `nope`} {
		if r := h.do("POST", "/__sim/retention_strategies", bad); r.status != http.StatusBadRequest {
			t.Errorf("POST %s: %d, want 400", bad, r.status)
		}
	}
	if r := h.do("DELETE", "/__sim/retention_strategies", ""); r.status != http.StatusMethodNotAllowed {
		t.Errorf("DELETE: %d", r.status)
	}
	assertBody(t, h.do("POST", "/__sim/retention_strategies", `[]`), 200, `{"retention_strategies":[]}`)
	if list := h.collect("/retention_strategies", "retention_strategies"); len(list) != 0 {
		t.Errorf("after clearing: %v", list)
	}
	if st := h.sim.Stats(); st.ByRoute["GET /retention_strategies"] == 0 || st.ByRoute["unmatched"] != 0 {
		t.Errorf("stats = %v", st.ByRoute)
	}
}

func TestActionScopes(t *testing.T) {
	t.Parallel()
	// A read-only token (Gladly's setup) may list the reasons but change
	// nothing; each write answers Recharge's 403.
	h := newHarness(t, Config{Scopes: []string{"read_customers", "read_subscriptions", "read_orders"}}, DemoSeed())
	h.collect("/retention_strategies", "retention_strategies")
	chargeID, subID := alexQueued(t, h)
	items := fmt.Sprintf(`{"purchase_item_ids":[%d]}`, subID)
	for _, tt := range []struct{ method, path, body, scope string }{
		{"POST", "/subscriptions/585062092/cancel", `{"cancellation_reason":"x"}`, "write_subscriptions"},
		{"POST", "/subscriptions/585062093/activate", `{}`, "write_subscriptions"},
		{"POST", "/subscriptions/585062092/set_next_charge_date", `{"date":"2025-04-01"}`, "write_subscriptions"},
		{"PUT", "/subscriptions/585062092", `{"quantity":2}`, "write_subscriptions"},
		{"POST", fmt.Sprintf("/charges/%d/skip", chargeID), items, "write_orders"},
		{"POST", fmt.Sprintf("/charges/%d/unskip", chargeID), items, "write_orders"},
	} {
		assertBody(t, h.do(tt.method, tt.path, tt.body), 403, fmt.Sprintf(`{"errors":"Token does not have the required scope: %s"}`, tt.scope))
	}
	if q := queuedOf(t, h, DemoAlexRiveraID); len(q) != 1 || idOf(t, q[0]["id"]) != chargeID {
		t.Errorf("a refused write changed the charges: %v", q)
	}
	h2 := newHarness(t, Config{Scopes: []string{"read_customers"}}, DemoSeed())
	assertBody(t, h2.get("/retention_strategies"), 403, `{"errors":"Token does not have the required scope: read_subscriptions"}`)
}

// TestActionWebhooksAndCalls runs every action once and checks the webhooks
// each sends and the Recharge calls the simulator counts for it.
func TestActionWebhooksAndCalls(t *testing.T) {
	t.Parallel()
	url, hooks := receiver(t, 0)
	h := newHarness(t, Config{WebhookURL: url, WebhookSecret: testSecret}, DemoSeed())
	custID, tea, razor := sharedCustomer(t, h)
	shared := idOf(t, queuedOf(t, h, custID)[0]["id"])
	topics := func(n int) []string {
		t.Helper()
		var out []string
		for range n {
			d := next(t, hooks)
			verify(t, d)
			out = append(out, d.topic)
		}
		return out
	}
	steps := []struct {
		name, method, path, body, route string
		want                            []string
	}{
		{"skip", "POST", fmt.Sprintf("/charges/%d/skip", shared), fmt.Sprintf(`{"purchase_item_ids":[%d]}`, tea), "POST /charges/{id}/skip",
			[]string{"charge/updated", "subscription/skipped", "charge/created", "charge/updated"}},
		{"change_quantity", "PUT", fmt.Sprintf("/subscriptions/%d", razor), `{"quantity":2}`, "PUT /subscriptions/{id}",
			[]string{"subscription/updated", "charge/deleted", "charge/created"}},
		{"change_frequency", "PUT", fmt.Sprintf("/subscriptions/%d", tea), `{"order_interval_unit":"month","order_interval_frequency":2,"charge_interval_frequency":2}`, "PUT /subscriptions/{id}",
			[]string{"charge/deleted", "subscription/updated", "charge/deleted", "charge/deleted", "charge/created"}},
		{"set_next_charge_date", "POST", fmt.Sprintf("/subscriptions/%d/set_next_charge_date", razor), `{"date":"2025-03-20"}`, "POST /subscriptions/{id}/set_next_charge_date",
			[]string{"subscription/updated", "charge/deleted", "charge/created", "charge/created"}},
		{"cancel", "POST", fmt.Sprintf("/subscriptions/%d/cancel", razor), `{"cancellation_reason":"Other"}`, "POST /subscriptions/{id}/cancel",
			[]string{"subscription/cancelled", "charge/deleted"}},
		{"reactivate", "POST", fmt.Sprintf("/subscriptions/%d/activate", razor), `{}`, "POST /subscriptions/{id}/activate",
			[]string{"subscription/activated", "charge/created"}},
	}
	for _, st := range steps {
		before := h.sim.Stats()
		h.mustDo(200, st.method, st.path, st.body)
		after := h.sim.Stats()
		got := topics(len(st.want))
		for more := true; more; {
			select {
			case d := <-hooks:
				got = append(got, d.topic)
			case <-time.After(200 * time.Millisecond):
				more = false
			}
		}
		if !slices.Equal(got, st.want) {
			t.Errorf("%s: webhooks %v, want %v", st.name, got, st.want)
		}
		if after.Requests-before.Requests != 1 || after.ByRoute[st.route]-before.ByRoute[st.route] != 1 {
			t.Errorf("%s: %d requests, %d on %s; want one", st.name, after.Requests-before.Requests, after.ByRoute[st.route]-before.ByRoute[st.route], st.route)
		}
	}
}
