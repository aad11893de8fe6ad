package rechargetest

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The charge life cycle: Recharge processes a queued charge on its date and
// either succeeds (an order, the next dates one interval on, a new queued
// charge) or fails (status error, attempts, a retry date, the customer in
// dunning; spec recharge-actions section 2.2). The simulator has no
// scheduler: a test or a demo processes a charge with
//
//	POST /__sim/charges/{id}/process  {"outcome":"success"}
//	POST /__sim/charges/{id}/process  {"outcome":"error","error_type":"CARD_DECLINED"}
//
// whatever the charge's date; the answer is the charge as GET would now
// return it.

// MaxChargeAttempts is the number of failed attempts after which Recharge
// stops retrying a charge (error_type CLOSED_MAX_RETRIES_REACHED; six in the
// captured record of spec recharge-actions section 2.2).
const MaxChargeAttempts = 6

// retryAfterDays is the wait between two attempts of a failed charge.
const retryAfterDays = 3

const errMaxRetries = "CLOSED_MAX_RETRIES_REACHED"

// errorTexts are the processor messages Recharge puts in a failed charge's
// error field, by error type.
var errorTexts = map[string]string{
	"CARD_DECLINED":                 "Your card was declined.",
	"CARD_EXPIRED":                  "Your card has expired.",
	"INSUFFICIENT_FUNDS":            "Your card has insufficient funds.",
	"CUSTOMER_NEEDS_TO_UPDATE_CARD": "The customer needs to update their card.",
	"INCORRECT_CVC":                 "Your card's security code is incorrect.",
	"PROCESSING_ERROR":              "An error occurred while processing your card. Try again in a little bit.",
}

var errorTypePattern = regexp.MustCompile(`^[A-Z][A-Z0-9_]{2,63}$`)

// ProcessRequest is the body of POST /__sim/charges/{id}/process.
type ProcessRequest struct {
	// Outcome is "success" or "error".
	Outcome string `json:"outcome"`
	// ErrorType is Recharge's error type of a failure (UPPER_SNAKE, e.g.
	// CARD_DECLINED, the default).
	ErrorType string `json:"error_type,omitempty"`
	// Error is the processor's message; default: the type's usual text.
	Error string `json:"error,omitempty"`
}

// ProcessCharge processes a queued or failed charge now with the given
// outcome, as POST /__sim/charges/{id}/process does, and returns the
// status and body of that call's answer.
func (s *Simulator) ProcessCharge(id int64, req ProcessRequest) (int, []byte) {
	c := &call{s: s, now: s.now(), origin: OriginRecharge}
	s.mu.Lock()
	resp := c.process(id, req)
	deliveries := s.deliveriesOf(c)
	s.mu.Unlock()
	s.hooks.enqueue(deliveries)
	return resp.status, resp.body
}

// deliveriesOf turns a call's events into webhook deliveries; it runs with
// s.mu held.
func (s *Simulator) deliveriesOf(c *call) []*delivery {
	var out []*delivery
	for _, ev := range c.events {
		for _, tg := range s.targets(ev.topic) {
			out = append(out, &delivery{url: tg.url, hook: tg.hook, topic: ev.topic, body: ev.body})
		}
	}
	return out
}

// serveProcess answers POST /__sim/charges/{id}/process.
func (s *Simulator) serveProcess(w http.ResponseWriter, r *http.Request, rest string) {
	idText, ok := strings.CutSuffix(rest, "/process")
	id, err := strconv.ParseInt(idText, 10, 64)
	var resp response
	switch {
	case !ok || err != nil || id <= 0:
		resp = notFound()
	case r.Method != http.MethodPost:
		resp = errorsBody(http.StatusMethodNotAllowed, "Method Not Allowed")
		resp.header = http.Header{"Allow": {"POST"}}
	default:
		var req ProcessRequest
		b, err := readAllLimited(r, maxBody)
		if err == nil && len(b) > 0 {
			err = json.Unmarshal(b, &req)
		}
		if err != nil {
			resp = errorsBody(http.StatusBadRequest, "The request body must be a JSON object")
			break
		}
		resp.status, resp.body = s.ProcessCharge(id, req)
	}
	for k, v := range resp.header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(resp.status)
	_, _ = w.Write(resp.body)
}

func (c *call) process(id int64, req ProcessRequest) response {
	st := c.s.st
	ch := st.charges[id]
	if ch == nil {
		return notFound()
	}
	if ch.Status != "queued" && ch.Status != "error" {
		return fieldError("status", "Only charges with status queued or error can be processed")
	}
	switch req.Outcome {
	case "success":
		c.succeed(ch)
	case "error":
		typ := req.ErrorType
		if typ == "" {
			typ = "CARD_DECLINED"
		}
		if !errorTypePattern.MatchString(typ) || typ == errMaxRetries {
			return fieldError("error_type", "Must be an error type in upper case, such as CARD_DECLINED.")
		}
		c.fail(ch, typ, req.Error)
	default:
		return fieldError("outcome", "Must be one of: success, error.")
	}
	return jsonResponse(http.StatusOK, map[string]any{"charge": ch})
}

// succeed marks the charge paid, creates its order, moves each of its
// subscriptions' next charge date one interval on and queues their next
// charge.
func (c *call) succeed(ch *chargeJSON) {
	st := c.s.st
	ch.Status = "success"
	ch.ProcessedAt = secp(c.now)
	ch.OrdersCount = 1
	ch.Error, ch.ErrorType, ch.RetryDate = nil, nil, nil
	ch.ExternalOrderID = ecom("59510" + strconv.FormatInt(100000000+ch.ID%100000000, 10)[1:])
	proc := "pi_sim" + strconv.FormatInt(1000000000000+ch.ID, 10)[1:]
	ch.ExternalTransactionID = paymentProcessorID{PaymentProcessor: &proc}
	if ch.ChargeAttempts != nil {
		n := *ch.ChargeAttempts + 1
		ch.ChargeAttempts = &n
		ch.LastChargeAttempt = secp(c.now)
	}
	ch.UpdatedAt = sec(c.now)
	c.emit("charge/paid", "charge", ch)
	if o, ok := orderOf(ch); ok {
		c.emit("order/created", "order", o)
	}
	for _, li := range ch.LineItems {
		sub := st.subs[li.PurchaseItemID]
		if li.PurchaseItemType != "subscription" || sub == nil || sub.Status != "active" {
			continue
		}
		d, ok := parseDate(ch.ScheduledAt)
		if !ok {
			continue
		}
		next := addInterval(d, sub.OrderIntervalUnit, sub.OrderIntervalFrequency)
		for !next.After(today(c.now)) {
			next = addInterval(next, sub.OrderIntervalUnit, sub.OrderIntervalFrequency)
		}
		sub.NextChargeScheduledAt = strp(next.Format(dateLayout))
		sub.MaxRetriesReached = false
		sub.UpdatedAt = sec(c.now)
		_, made := st.reschedule(sub, c.now)
		for _, m := range made {
			c.emit("charge/created", "charge", m)
		}
		c.emit("subscription/updated", "subscription", sub)
	}
	c.recount(ch.customerID)
}

// fail records one failed attempt. After MaxChargeAttempts attempts the
// charge stays in error with CLOSED_MAX_RETRIES_REACHED, no retry date, and
// its subscriptions are marked max_retries_reached (the store's default
// then cancels them; the simulator leaves that to the test).
func (c *call) fail(ch *chargeJSON, typ, text string) {
	st := c.s.st
	st.failCharge(ch, typ, text, c.now)
	c.emit("charge/failed", "charge", ch)
	if deref(ch.ErrorType) == errMaxRetries {
		for _, li := range ch.LineItems {
			if sub := st.subs[li.PurchaseItemID]; sub != nil {
				c.emit("subscription/updated", "subscription", sub)
			}
		}
		c.emit("charge/max_retries_reached", "charge", ch)
	}
	c.recount(ch.customerID)
}

// recount refreshes the customer's flags and announces a change of them.
func (c *call) recount(custID int64) {
	st := c.s.st
	cu := st.customers[custID]
	if cu == nil {
		return
	}
	before := cu.HasPaymentMethodInDunning
	st.recount(custID, c.now, true)
	if cu.HasPaymentMethodInDunning != before {
		cu.UpdatedAt = sec(c.now)
		c.emit("customer/updated", "customer", cu)
	}
}

// failCharge records one failed attempt at time at. The retry date comes
// as a date after odd attempts and as a timestamp after even ones, since
// both occur on Recharge (spec recharge-actions section 2.2).
func (st *store) failCharge(ch *chargeJSON, typ, text string, at time.Time) {
	n := 1
	if ch.ChargeAttempts != nil {
		n = *ch.ChargeAttempts + 1
	}
	if text == "" {
		text = errorTexts[typ]
	}
	if text == "" {
		text = "The charge failed: " + strings.ToLower(strings.ReplaceAll(typ, "_", " ")) + "."
	}
	ch.Status = "error"
	ch.ChargeAttempts = &n
	ch.LastChargeAttempt = secp(at)
	ch.UpdatedAt = sec(at)
	if n >= MaxChargeAttempts {
		ch.ErrorType = strp(errMaxRetries)
		ch.Error = strp("Maximum number of retries reached. Last error: " + text)
		ch.RetryDate = nil
		for _, li := range ch.LineItems {
			if sub := st.subs[li.PurchaseItemID]; sub != nil {
				sub.MaxRetriesReached = true
				sub.UpdatedAt = sec(at)
			}
		}
		return
	}
	ch.ErrorType = strp(typ)
	ch.Error = strp(text)
	retry := today(at).AddDate(0, 0, retryAfterDays)
	if n%2 == 1 {
		ch.RetryDate = strp(retry.Format(dateLayout))
	} else {
		ch.RetryDate = strp(retry.Add(4 * time.Hour).Format(stampLayout))
	}
}
