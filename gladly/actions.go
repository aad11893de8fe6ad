package gladly

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rechargekit/rechargekit"
)

// This file serves the actions of spec section 14: the offers in DETAILED
// results, the forms Gladly fetches, and the submits it posts. It renders
// what the ActionService offers and maps its answers to the protocol; the
// service decides every policy.

// Action defaults.
const (
	// DefaultActionDeadline bounds a form or a submit: Gladly gives an
	// action about 15 s, and a submit reads Recharge, writes once and
	// reads the card again.
	DefaultActionDeadline = 12 * time.Second
	// shownPreviewTTL is how long the preview a submit answered with is
	// remembered, so that the next submit of the same fields confirms it.
	shownPreviewTTL = 15 * time.Minute
	// maxRemembered bounds the preview memory; past it the memory starts
	// over.
	maxRemembered = 10000
)

// Form field names (the attrs Gladly posts back).
const (
	FieldSubscriptionID    = "subscriptionId"
	FieldReason            = "reason"
	FieldComments          = "comments"
	FieldSendEmail         = "sendEmail"
	FieldDate              = "date"
	FieldIntervalUnit      = "intervalUnit"
	FieldIntervalFrequency = "intervalFrequency"
	FieldQuantity          = "quantity"
)

// Query parameters of the form and action URLs.
const (
	paramCustomer  = "customer"
	paramPreviewed = "previewed" // the subscription the form previewed
	paramToken     = "token"     // that preview's token
)

// Codes of the errors a form or a submit answers with (ErrorDetail.Code).
const (
	CodeInvalidField   = "invalid_field"         // 400: the marked field is wrong
	CodeChanged        = "changed_since_preview" // 400: the new preview is shown; submit again to confirm it
	CodeConfirmPreview = "confirm_preview"       // 400: the preview is shown; submit again to confirm it
	CodeNotFound       = "not_found"             // 404 (form): no such customer; 400 (submit): not one of its subscriptions
	CodeForbidden      = "forbidden"             // 406: the gladly role may not take the action
	CodeRefused        = "refused"               // 406: Recharge refused it; its message is the detail
	CodeConflict       = "conflict"              // 406: not possible in the subscription's state, or already being applied
)

// actionText is how Gladly's menu and the form name an action.
type actionText struct {
	title, submit, done string
}

var actionTexts = map[string]actionText{
	rechargekit.ActionCancel:            {"Cancel a subscription", "Cancel subscription", "Cancelled"},
	rechargekit.ActionReactivate:        {"Reactivate a subscription", "Reactivate", "Reactivated"},
	rechargekit.ActionSkip:              {"Skip a charge", "Skip charge", "Skipped the next charge of"},
	rechargekit.ActionUnskip:            {"Unskip a charge", "Unskip charge", "Unskipped the charge of"},
	rechargekit.ActionSetNextChargeDate: {"Move the next charge", "Move charge", "Moved the next charge of"},
	rechargekit.ActionChangeFrequency:   {"Change the frequency", "Change frequency", "Changed the frequency of"},
	rechargekit.ActionChangeQuantity:    {"Change the quantity", "Change quantity", "Changed the quantity of"},
}

// takesInput reports whether the action's preview depends on what the agent
// types (a date, an interval, a quantity): the form cannot preview it.
func takesInput(action string) bool {
	switch action {
	case rechargekit.ActionSetNextChargeDate, rechargekit.ActionChangeFrequency, rechargekit.ActionChangeQuantity:
		return true
	}
	return false
}

// actionOfPath returns the action of a form path, <mount>/actions/<action>.
// Any prefix is accepted, so that both readings of a relative formUrl reach
// the form (spec section 14.4): Gladly may resolve "/gladly/lookup/actions/
// cancel" against the adaptor URL, or append it to it.
func actionOfPath(path string) (string, bool) {
	rest, name, ok := strings.Cut(path[max(0, strings.LastIndex(path, "/actions/")):], "/actions/")
	if !ok || rest != "" || !slices.Contains(rechargekit.AllActions(), name) {
		return "", false
	}
	return name, true
}

// actionURL is the URL of the action's form (and, with more parameters, its
// submit) for a customer: an absolute path under the handler's mount.
func (h *Handler) actionURL(action string, customerID int64, extra url.Values) string {
	q := url.Values{paramCustomer: {strconv.FormatInt(customerID, 10)}}
	for k, v := range extra {
		q[k] = v
	}
	return h.path + "/actions/" + action + "?" + q.Encode()
}

// gladlyActor is who a Gladly request acts as: the desk, with the
// correlation id; Gladly sends no agent identity (spec section 14.6).
func gladlyActor(corr string) rechargekit.Actor {
	return rechargekit.Actor{Role: rechargekit.RoleGladly, Name: "Gladly", Via: rechargekit.ViaGladly, CorrelationID: corr}
}

// cardActions lists the actions offered beside the card in a DETAILED
// result. The ActionService decides them from the card itself, with no
// Recharge call and no wait on the database (its CardOffers), so that the
// actions keep the lookup inside its budget; the form reads fresh data and
// lists only the subscriptions an action is possible on. A panic in the
// service costs the answer its actions, never the card.
func (h *Handler) cardActions(ctx context.Context, card *rechargekit.Card) (out []Action) {
	if h.actions == nil {
		return nil
	}
	defer func() {
		if p := recover(); p != nil {
			h.log.Error("gladly lookup: actions left out: card offers panicked", "customer_id", card.Customer.ID, "panic", fmt.Sprint(p))
			out = nil
		}
	}()
	for _, action := range h.actions.CardOffers(ctx, card, gladlyActor(rechargekit.CorrelationID(ctx))) {
		t, ok := actionTexts[action]
		if !ok {
			continue
		}
		out = append(out, Action{Name: t.title, FormURL: h.actionURL(action, card.Customer.ID, nil)})
	}
	return out
}

// eligible returns the subscriptions that offer the action, in the
// service's order.
func eligible(subs []*rechargekit.SubscriptionActions, action string) []*rechargekit.Subscription {
	var out []*rechargekit.Subscription
	for _, sa := range subs {
		if sa == nil || sa.Subscription == nil {
			continue
		}
		for _, o := range sa.Offers {
			if o.Action == action && o.Offered {
				out = append(out, sa.Subscription)
			}
		}
	}
	return out
}

// shownPreviews remembers, per customer, action and submitted fields, the
// token of the preview a submit answered with (a 400 that keeps the form
// open), so that the next submit of the same fields confirms exactly what
// the agent read. It is per replica: a submit that reaches another replica
// is answered with the preview again.
type shownPreviews struct {
	mu      sync.Mutex
	entries map[string]shownPreview
}

type shownPreview struct {
	token string
	at    time.Time
}

func (m *shownPreviews) get(key string, now time.Time) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[key]
	if !ok || now.Sub(e.at) >= shownPreviewTTL || now.Before(e.at) {
		return ""
	}
	return e.token
}

func (m *shownPreviews) put(key, token string, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.entries == nil || len(m.entries) >= maxRemembered {
		m.entries = make(map[string]shownPreview)
	}
	m.entries[key] = shownPreview{token, now}
}

// serveAction answers GET (the form) or POST (the submit) of an action,
// verified like a lookup.
func (h *Handler) serveAction(w http.ResponseWriter, r *http.Request, action string) {
	start := time.Now()
	corr := strings.TrimSpace(r.Header.Get(HeaderCorrelationID))
	if corr == "" || len(corr) > 64 {
		corr = NewCorrelationID()
	}
	x := &exchange{w: w, log: h.log.With("correlation_id", corr), kind: "action"}
	var customerID int64
	defer func() {
		if p := recover(); p != nil {
			x.log.Error("gladly action: panic", "panic", fmt.Sprint(p))
			if x.status == 0 {
				x.fail(http.StatusInternalServerError, "", CodeInternal, "internal error")
			}
		}
		level := slog.LevelInfo
		switch {
		case x.status >= 500:
			level = slog.LevelError
		case x.status >= 400:
			level = slog.LevelWarn
		}
		x.log.Log(r.Context(), level, "gladly action",
			"method", r.Method, "action", action, "customer_id", customerID,
			"status", x.status, "duration", time.Since(start))
	}()
	ctx, cancel := context.WithTimeout(rechargekit.WithCorrelationID(r.Context(), corr), h.actionDeadline)
	defer cancel()
	_ = http.NewResponseController(w).SetReadDeadline(start.Add(h.actionDeadline))

	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		x.fail(http.StatusMethodNotAllowed, "", CodeMethodNotAllowed, "use GET for the form and POST to submit it")
		return
	}
	body, ok := h.verified(x, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	id, ok := parseDecimalID(q.Get(paramCustomer))
	if !ok {
		x.fail(http.StatusBadRequest, paramCustomer, CodeInvalidRequest, "the customer parameter must be a Recharge customer id")
		return
	}
	customerID = id
	if r.Method == http.MethodGet {
		h.serveForm(ctx, x, action, id, corr)
		return
	}
	h.serveSubmit(ctx, x, action, id, corr, q, body)
}

// within runs f in its own goroutine and waits for it or for ctx, so that a
// service that ignores its context cannot hold the answer past the
// deadline.
func within[T any](ctx context.Context, f func() (T, error)) (T, error) {
	type outcome struct {
		v   T
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				var zero T
				done <- outcome{zero, &panicError{value: p}}
			}
		}()
		v, err := f()
		done <- outcome{v, err}
	}()
	select {
	case o := <-done:
		return o.v, o.err
	case <-ctx.Done():
		var zero T
		return zero, fmt.Errorf("%w: %w", errDeadline, context.Cause(ctx))
	}
}

// failForm answers a form request that could not be built.
func (h *Handler) failForm(x *exchange, err error) {
	switch rechargekit.ErrorCode(err) {
	case rechargekit.ENOTFOUND:
		x.fail(http.StatusNotFound, "", CodeNotFound, rechargekit.ErrorMessage(err))
	case rechargekit.EUPSTREAM:
		x.log.Warn("gladly action: form unavailable", "err", err)
		x.fail(http.StatusServiceUnavailable, "", CodeUpstreamUnavailable, rechargekit.ErrorMessage(err))
	default:
		if errors.Is(err, errDeadline) {
			x.log.Warn("gladly action: form deadline exceeded", "err", err)
			x.fail(http.StatusServiceUnavailable, "", CodeUpstreamUnavailable, "the form could not be built within "+h.actionDeadline.String())
			return
		}
		x.log.Error("gladly action: form failed", "err", err)
		x.fail(http.StatusInternalServerError, "", CodeInternal, "internal error")
	}
}

// submitFailure is how a refused or failed submit is answered.
type submitFailure struct {
	status int    // 400 keeps the form open, 406 closes it
	attr   string // the field to mark (400)
	code   string
}

// answerSubmitError answers a submit that the service refused or failed,
// in the protocol's terms: 400 keeps the form open with the field marked
// (bad input, a subscription not on the list), 406 shows the error and
// closes the form (policy, Recharge's refusal, not possible now, Recharge
// unavailable).
func (h *Handler) answerSubmitError(x *exchange, action string, f *submittedForm, err error) {
	msg := rechargekit.ErrorMessage(err)
	var fail submitFailure
	switch code := rechargekit.ErrorCode(err); {
	case errors.Is(err, errDeadline):
		x.log.Warn("gladly action: deadline exceeded", "err", err)
		fail = submitFailure{status: http.StatusNotAcceptable, code: CodeUpstreamUnavailable}
		msg = "The action did not finish within " + h.actionDeadline.String() + "; it may or may not have been applied. Check the card before trying again."
	case code == rechargekit.EINVALID:
		fail = submitFailure{status: http.StatusBadRequest, attr: f.invalidAttr(action), code: CodeInvalidField}
	case code == rechargekit.ENOTFOUND:
		fail = submitFailure{status: http.StatusBadRequest, attr: FieldSubscriptionID, code: CodeNotFound}
	case code == rechargekit.EFORBIDDEN:
		fail = submitFailure{status: http.StatusNotAcceptable, code: CodeForbidden}
	case code == rechargekit.EREFUSED:
		fail = submitFailure{status: http.StatusNotAcceptable, code: CodeRefused}
	case code == rechargekit.ECONFLICT:
		fail = submitFailure{status: http.StatusNotAcceptable, code: CodeConflict}
	case code == rechargekit.EUPSTREAM:
		x.log.Warn("gladly action: Recharge unavailable", "err", err)
		fail = submitFailure{status: http.StatusNotAcceptable, code: CodeUpstreamUnavailable}
	default:
		// ErrorMessage keeps internal detail out; the service's own
		// EINTERNAL (applied but not recorded) says what happened.
		x.log.Error("gladly action: internal error", "err", err)
		fail = submitFailure{status: http.StatusNotAcceptable, code: CodeInternal}
	}
	headline := actionTexts[action].title + ": nothing was done."
	if fail.code == CodeInternal || fail.code == CodeUpstreamUnavailable {
		// It may have been applied: the message says what to check.
		headline = actionTexts[action].title + " failed."
	}
	errs := []ErrorDetail{{Message: headline, Detail: msg}}
	if fail.attr != "" {
		errs = append(errs, ErrorDetail{Attr: fail.attr, Code: fail.code, Detail: msg})
	} else {
		errs[0].Code = fail.code
	}
	x.writeJSON(fail.status, ErrorResponse{Errors: errs})
}

// idempotencyKey is the key of one submit: Gladly's correlation id plus
// the customer, the action and the form's fields, so that Gladly's retry
// of one submit is applied once, and another submit is a new attempt.
func idempotencyKey(corr string, customerID int64, action string, f *submittedForm) string {
	sum := sha256.Sum256([]byte(corr + "\x00" + strconv.FormatInt(customerID, 10) + "\x00" + action + "\x00" + f.canonical))
	return "gladly:" + hex.EncodeToString(sum[:])
}

// shownKey names the preview shown for a customer, action and fields.
func shownKey(customerID int64, action string, f *submittedForm) string {
	sum := sha256.Sum256([]byte(strconv.FormatInt(customerID, 10) + "\x00" + action + "\x00" + f.canonical))
	return hex.EncodeToString(sum[:])
}

// serveSubmit applies a submitted form. The agent confirms what a preview
// said: the form's own preview (for the subscription it previewed, token
// in the action URL), or the preview a previous submit of the same fields
// answered with. Without one, the submit is answered with the preview
// (400, the form stays open), and the next submit confirms it.
func (h *Handler) serveSubmit(ctx context.Context, x *exchange, action string, customerID int64, corr string, q url.Values, body []byte) {
	f, ferr := parseSubmittedForm(body)
	if ferr != nil {
		x.writeJSON(http.StatusBadRequest, ErrorResponse{Errors: []ErrorDetail{
			{Message: actionTexts[action].title + ": nothing was done.", Detail: ferr.detail},
			{Attr: ferr.attr, Code: CodeInvalidField, Detail: ferr.detail},
		}})
		return
	}
	req, ferr := f.request(action)
	if ferr != nil {
		x.writeJSON(http.StatusBadRequest, ErrorResponse{Errors: []ErrorDetail{
			{Message: actionTexts[action].title + ": nothing was done.", Detail: ferr.detail},
			{Attr: ferr.attr, Code: CodeInvalidField, Detail: ferr.detail},
		}})
		return
	}
	target := rechargekit.ActionTarget{CustomerID: customerID}
	actor := gladlyActor(corr)
	shown := shownKey(customerID, action, f)
	req.PreviewToken = h.shown.get(shown, h.now())
	if req.PreviewToken == "" && !takesInput(action) && q.Get(paramPreviewed) == strconv.FormatInt(req.SubscriptionID, 10) {
		req.PreviewToken = q.Get(paramToken)
	}
	if req.PreviewToken == "" {
		// Nothing previewed for this: answer with the preview.
		p, err := within(ctx, func() (*rechargekit.ActionPreview, error) {
			return h.actions.Preview(ctx, target, actor, req)
		})
		if rechargekit.ErrorCode(err) == rechargekit.EFORBIDDEN {
			// A refusal by policy is audited: Do records it and sends
			// nothing to Recharge.
			_, err = within(ctx, func() (*rechargekit.ActionResult, error) {
				return h.actions.Do(ctx, target, actor, req, "")
			})
		}
		if err != nil {
			h.answerSubmitError(x, action, f, err)
			return
		}
		h.shown.put(shown, p.Token, h.now())
		x.writeJSON(http.StatusBadRequest, ErrorResponse{Errors: []ErrorDetail{
			{Message: "Read what this will do, then submit again to confirm.", Detail: strings.Join(p.Summary, " ")},
			{Attr: FieldSubscriptionID, Code: CodeConfirmPreview, Detail: "Nothing was done yet: submit again to apply exactly this."},
		}})
		return
	}

	key := idempotencyKey(corr, customerID, action, f)
	res, err := within(ctx, func() (*rechargekit.ActionResult, error) {
		return h.actions.Do(ctx, target, actor, req, key)
	})
	if p := rechargekit.ChangedPreview(err); p != nil {
		h.shown.put(shown, p.Token, h.now())
		x.writeJSON(http.StatusBadRequest, ErrorResponse{Errors: []ErrorDetail{
			{Message: "The subscription changed since the preview; nothing was done.", Detail: strings.Join(p.Summary, " ")},
			{Attr: FieldSubscriptionID, Code: CodeChanged, Detail: "Read the new preview above, then submit again to confirm it."},
		}})
		return
	}
	if err != nil {
		h.answerSubmitError(x, action, f, err)
		return
	}
	// The service dropped and re-read the card: the follow-up lookup's
	// actions are decided from the new card.
	x.writeJSON(http.StatusOK, doneAnswer(action, req, res))
}

// ActionResponse is the answer to a successful submit: Gladly shows the
// message and detail and closes the form.
type ActionResponse struct {
	Message string `json:"message"`
	Detail  string `json:"detail,omitempty"`
}

// doneAnswer says what the action did, from the card read again after it.
func doneAnswer(action string, req *rechargekit.ActionRequest, res *rechargekit.ActionResult) ActionResponse {
	var sub *rechargekit.Subscription
	if res != nil && res.Card != nil {
		for _, s := range res.Card.Subscriptions {
			if s != nil && s.ID == req.SubscriptionID {
				sub = s
			}
		}
	}
	name := "subscription " + strconv.FormatInt(req.SubscriptionID, 10)
	if sub != nil {
		name = subscriptionName(sub)
	}
	a := ActionResponse{Message: actionTexts[action].done + " " + name + "."}
	var st *rechargekit.SubscriptionState
	switch {
	case sub != nil:
		s := rechargekit.StateOf(sub)
		st = &s
	case res != nil && res.Record != nil && res.Record.After != nil:
		st = res.Record.After
	}
	var detail []string
	if st != nil {
		detail = append(detail, "Status: "+st.Status+".")
		if sub != nil && sub.IsCancelled() && sub.CancellationReason != "" {
			detail = append(detail, "Reason: "+sub.CancellationReason+".")
		}
		if st.NextChargeDate != "" {
			detail = append(detail, "Next charge: "+st.NextChargeDate+".")
		}
		if st.IntervalUnit != "" {
			detail = append(detail, "Charged "+intervalText(st.IntervalUnit, st.IntervalFrequency)+".")
		}
		if st.Quantity > 0 {
			detail = append(detail, "Quantity: "+strconv.Itoa(st.Quantity)+".")
		}
	}
	if res != nil && res.Replayed {
		detail = append(detail, "This submit had already been applied; nothing was sent to Recharge again.")
	}
	a.Detail = strings.Join(detail, " ")
	return a
}
