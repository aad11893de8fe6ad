package server

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rechargekit/rechargekit"
)

// This file serves the JSON API's agent actions (issue 11): the offers of
// a profile's subscriptions, the preview of an action, and the action
// itself. Policy, previews, idempotency and the audit are the
// ActionService's; the handlers only translate between JSON and the domain.

// apiActionDeadline bounds an action's submit, on the JSON API and in the
// console: the fresh reads of its preview, the one Recharge write (retried
// only where Recharge cannot have applied it), the audit and the card read
// again. It is longer than a lookup's, as Gladly's own action forms allow.
const apiActionDeadline = 15 * time.Second

// maxIdempotencyKey is the longest Idempotency-Key header accepted: with
// the token's prefix ("api:<token id>:") the stored key stays within the
// store's limit (rechargekit.MaxIDLength).
const maxIdempotencyKey = 200

// APIActionRequest is the body of POST /api/profiles/{id}/actions and of
// POST /api/profiles/{id}/actions/preview. Only the fields the action
// needs are read. Ids and numbers are taken as strings, like the rest of
// the API, or as JSON numbers.
type APIActionRequest struct {
	Action            string          `json:"action"`            // cancel, reactivate, skip, unskip, set_next_charge_date, change_frequency, change_quantity
	SubscriptionID    json.RawMessage `json:"subscriptionId"`    // "585062093" or 585062093
	Reason            string          `json:"reason"`            // cancel
	Comments          string          `json:"comments"`          // cancel
	SendEmail         *bool           `json:"sendEmail"`         // cancel; default true
	Date              string          `json:"date"`              // set_next_charge_date: YYYY-MM-DD
	IntervalUnit      string          `json:"intervalUnit"`      // change_frequency: day, week or month
	IntervalFrequency json.RawMessage `json:"intervalFrequency"` // change_frequency: "2" or 2
	Quantity          json.RawMessage `json:"quantity"`          // change_quantity: "2" or 2
	PreviewToken      string          `json:"previewToken"`      // optional: the previewToken of the preview confirmed
}

// APIActionOffer says whether one action is offered on a subscription and,
// when it is not, why.
type APIActionOffer struct {
	Action  string `json:"action"`
	Offered bool   `json:"offered"`
	Why     string `json:"why,omitempty"`
}

// APISubscriptionActions is one subscription in the answer of GET
// /api/profiles/{id}/actions.
type APISubscriptionActions struct {
	SubscriptionID string                              `json:"subscriptionId"`
	Subscription   rechargekit.SubscriptionTransaction `json:"subscription"`
	Actions        []APIActionOffer                    `json:"actions"` // one per action, in the order the surfaces offer them
}

// APIActionOffers is the answer of GET /api/profiles/{id}/actions.
type APIActionOffers struct {
	Subscriptions []APISubscriptionActions `json:"subscriptions"`
}

// APISubscriptionState is what an action can change on a subscription, in
// the API's string form; absent values are null.
type APISubscriptionState struct {
	Status            string  `json:"status"`
	NextChargeDate    *string `json:"nextChargeDate"`
	IntervalUnit      *string `json:"intervalUnit"`
	IntervalFrequency *string `json:"intervalFrequency"`
	Quantity          *string `json:"quantity"`
}

// APIActionPreview is the answer of POST /api/profiles/{id}/actions/preview,
// and the new preview in a 409 "changed since the preview".
type APIActionPreview struct {
	Action         string                               `json:"action"`
	SubscriptionID string                               `json:"subscriptionId"`
	Subscription   *rechargekit.SubscriptionTransaction `json:"subscription"` // as Recharge has it now
	Summary        []string                             `json:"summary"`      // full sentences: what will change and what else it touches
	Reasons        []string                             `json:"reasons"`      // cancel: the store's reasons, offered verbatim; empty: free text
	Before         APISubscriptionState                 `json:"before"`
	After          APISubscriptionState                 `json:"after"`
	PreviewToken   string                               `json:"previewToken"` // send it back in the action's previewToken
}

// APIActionOutcome is an audited action attempt.
type APIActionOutcome struct {
	ID                 string                `json:"id"`
	Action             string                `json:"action"`
	SubscriptionID     string                `json:"subscriptionId"`
	RechargeCustomerID string                `json:"rechargeCustomerId"`
	Outcome            string                `json:"outcome"` // done, refused_policy, refused_recharge, failed, pending
	Message            string                `json:"message"` // Recharge's or the policy's, one line; "" when done
	Before             *APISubscriptionState `json:"before"`
	After              *APISubscriptionState `json:"after"`
	Replayed           bool                  `json:"replayed"` // the Idempotency-Key was seen before: nothing was sent to Recharge
	By                 string                `json:"by"`
	Role               string                `json:"role"`
	Via                string                `json:"via"`
	At                 string                `json:"at"`
	CompletedAt        *string               `json:"completedAt"`
}

// APIActionResponse is the answer of POST /api/profiles/{id}/actions: the
// audited outcome and the customer's card read again after the change (the
// card object of GET /api/profiles/{id}/card; null when it could not be
// read now). An error answer carries the same fields beside "error" when
// the attempt was audited, and "preview" when the subscription changed
// since the preview.
type APIActionResponse struct {
	Outcome *APIActionOutcome     `json:"outcome"`
	Card    *rechargekit.CardJSON `json:"card"`
}

// apiActionError is an error answer of the action endpoints: the error
// with, when there are any, the audited attempt, the card and the new
// preview.
type apiActionError struct {
	Error   ErrorJSON             `json:"error"`
	Outcome *APIActionOutcome     `json:"outcome,omitempty"`
	Card    *rechargekit.CardJSON `json:"card,omitempty"`
	Preview *APIActionPreview     `json:"preview,omitempty"`
}

// actionsOn refuses the request when the server has no ActionService, and
// says so.
func (c *console) actionsOn(w http.ResponseWriter, r *http.Request) bool {
	if c.cfg.Actions == nil {
		c.apiError(w, r, rechargekit.Errorf(rechargekit.ENOTFOUND, "Actions are not enabled on this rechargekit."))
		return false
	}
	return true
}

// apiActionActor is who an API action is checked and audited as: the
// token's name and role (agent when the token has none).
func apiActionActor(tok *rechargekit.APIToken) rechargekit.Actor {
	role := tok.Role
	if role == "" {
		role = rechargekit.RoleAgent
	}
	return rechargekit.Actor{Role: role, Name: tok.Name, Via: rechargekit.ViaAPI}
}

func (c *console) apiActionOffers(w http.ResponseWriter, r *http.Request, tok *rechargekit.APIToken) {
	if !c.actionsOn(w, r) {
		return
	}
	ctx, cancel := c.withDeadline(r)
	defer cancel()
	subs, err := c.cfg.Actions.Offers(ctx, rechargekit.ActionTarget{ProfileID: r.PathValue("id")}, apiActionActor(tok))
	if err != nil {
		c.apiError(w, r, c.actionError(ctx, r, err))
		return
	}
	out := APIActionOffers{Subscriptions: make([]APISubscriptionActions, 0, len(subs))}
	for _, sa := range subs {
		if sa == nil || sa.Subscription == nil {
			continue
		}
		js := APISubscriptionActions{
			SubscriptionID: strconv.FormatInt(sa.Subscription.ID, 10),
			Subscription:   sa.Subscription.Transaction(),
			Actions:        make([]APIActionOffer, 0, len(sa.Offers)),
		}
		for _, o := range sa.Offers {
			js.Actions = append(js.Actions, APIActionOffer{Action: o.Action, Offered: o.Offered, Why: o.Why})
		}
		out.Subscriptions = append(out.Subscriptions, js)
	}
	writeJSON(w, http.StatusOK, out)
}

func (c *console) apiActionPreview(w http.ResponseWriter, r *http.Request, tok *rechargekit.APIToken) {
	if !c.actionsOn(w, r) {
		return
	}
	req, err := readActionRequest(w, r)
	if err != nil {
		c.apiError(w, r, err)
		return
	}
	ctx, cancel := c.withDeadline(r)
	defer cancel()
	p, err := c.cfg.Actions.Preview(ctx, rechargekit.ActionTarget{ProfileID: r.PathValue("id")}, apiActionActor(tok), req)
	if err != nil {
		c.apiError(w, r, c.actionError(ctx, r, err))
		return
	}
	writeJSON(w, http.StatusOK, previewJSON(p))
}

func (c *console) apiAction(w http.ResponseWriter, r *http.Request, tok *rechargekit.APIToken) {
	if !c.actionsOn(w, r) {
		return
	}
	key, err := idempotencyKey(r, tok)
	if err != nil {
		c.apiError(w, r, err)
		return
	}
	req, err := readActionRequest(w, r)
	if err != nil {
		c.apiError(w, r, err)
		return
	}
	// Once begun, a write is finished and its outcome recorded even when
	// the caller hangs up: a cancelled context between Recharge's answer
	// and the audit would leave the attempt pending for no reason.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), apiActionDeadline)
	defer cancel()
	actor := apiActionActor(tok)
	res, err := c.cfg.Actions.Do(ctx, rechargekit.ActionTarget{ProfileID: r.PathValue("id")}, actor, req, key)

	var out apiActionError
	if res != nil {
		if res.Record != nil {
			out.Outcome = outcomeJSON(res.Record, res.Replayed)
		}
		if res.Card != nil {
			cj := res.Card.JSONWithLinks(c.cfg.AdminLinks)
			out.Card = &cj
		}
	}
	if rechargekit.ErrorCode(err) == rechargekit.ECONFLICT {
		// The record of a conflicting key may be another request's: it
		// is not shown. The new preview of a changed subscription is.
		out.Outcome, out.Card = nil, nil
		if p := rechargekit.ChangedPreview(err); p != nil {
			out.Preview = previewJSON(p)
		}
	}
	if out.Outcome != nil {
		c.log.InfoContext(ctx, "api action", "profile_id", r.PathValue("id"), "token", tok.Name, "role", actor.Role,
			"action", out.Outcome.Action, "subscription_id", out.Outcome.SubscriptionID,
			"outcome", out.Outcome.Outcome, "replayed", out.Outcome.Replayed, "action_id", out.Outcome.ID)
		if out.Outcome.Replayed {
			w.Header().Set("Idempotent-Replayed", "true")
		}
	}
	if err == nil {
		writeJSON(w, http.StatusOK, APIActionResponse{Outcome: out.Outcome, Card: out.Card})
		return
	}
	status, e := c.apiErrorJSON(r, c.actionError(ctx, r, err))
	out.Error = e
	writeJSON(w, status, out)
}

// actionError turns what the ActionService answered into what the caller
// should read: an ENOTFOUND for a profile that does not exist says so,
// rather than that it is not linked.
func (c *console) actionError(ctx context.Context, r *http.Request, err error) error {
	switch rechargekit.ErrorCode(err) {
	case rechargekit.ENOTFOUND:
		if _, perr := c.cfg.Store.Profile(ctx, r.PathValue("id")); rechargekit.ErrorCode(perr) == rechargekit.ENOTFOUND {
			return noSuchProfile(perr)
		}
	}
	return err
}

// idempotencyKey reads the optional Idempotency-Key header: "" when
// absent (then nothing is de-duplicated). The key is the token's own, as a
// Stripe key is its account's: two integrations that both count "1", "2",
// ... never get each other's outcome, and the console's and Gladly's keys,
// kept in the same audit, never meet the API's.
func idempotencyKey(r *http.Request, tok *rechargekit.APIToken) (string, error) {
	values := r.Header.Values("Idempotency-Key")
	if len(values) == 0 {
		return "", nil
	}
	key := strings.TrimSpace(values[0])
	switch {
	case len(values) > 1:
		return "", rechargekit.Errorf(rechargekit.EINVALID, "Send one Idempotency-Key header, not %d.", len(values))
	case key == "":
		return "", rechargekit.Errorf(rechargekit.EINVALID, "The Idempotency-Key header is empty; leave it out or send a key.")
	case len(key) > maxIdempotencyKey:
		return "", rechargekit.Errorf(rechargekit.EINVALID, "The Idempotency-Key header is longer than %d characters.", maxIdempotencyKey)
	case strings.IndexFunc(key, func(c rune) bool { return c < 0x21 || c > 0x7e }) >= 0:
		return "", rechargekit.Errorf(rechargekit.EINVALID, "The Idempotency-Key header may hold only visible ASCII characters.")
	}
	return "api:" + strconv.FormatInt(tok.ID, 10) + ":" + key, nil
}

// readActionRequest decodes an action's body into the domain's request.
// Whether the fields suit the action is the ActionService's to check.
func readActionRequest(w http.ResponseWriter, r *http.Request) (*rechargekit.ActionRequest, error) {
	var body APIActionRequest
	if err := decodeJSON(w, r, &body); err != nil {
		return nil, err
	}
	sub, err := jsonWholeNumber("subscriptionId", body.SubscriptionID, 64)
	if err != nil {
		return nil, err
	}
	freq, err := jsonWholeNumber("intervalFrequency", body.IntervalFrequency, 32)
	if err != nil {
		return nil, err
	}
	qty, err := jsonWholeNumber("quantity", body.Quantity, 32)
	if err != nil {
		return nil, err
	}
	return &rechargekit.ActionRequest{
		Action:            body.Action,
		SubscriptionID:    sub,
		Reason:            body.Reason,
		Comments:          body.Comments,
		SendEmail:         body.SendEmail,
		Date:              body.Date,
		IntervalUnit:      body.IntervalUnit,
		IntervalFrequency: int(freq),
		Quantity:          int(qty),
		PreviewToken:      body.PreviewToken,
	}, nil
}

// jsonWholeNumber reads a whole number sent as a JSON string ("2") or
// number (2) that fits in bits; absent or null is 0, which the
// ActionService refuses where the action needs the field.
func jsonWholeNumber(field string, raw json.RawMessage, bits int) (int64, error) {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" {
		return 0, nil
	}
	if strings.HasPrefix(s, `"`) {
		var str string
		if err := json.Unmarshal(raw, &str); err != nil {
			return 0, notWholeNumber(field)
		}
		s = strings.TrimSpace(str)
		if s == "" {
			return 0, nil
		}
	}
	n, err := strconv.ParseInt(s, 10, bits)
	if err != nil {
		return 0, notWholeNumber(field)
	}
	return n, nil
}

func notWholeNumber(field string) error {
	return rechargekit.Errorf(rechargekit.EINVALID, "The %s must be a whole number, sent as a string or a number.", field)
}

func stateJSON(s rechargekit.SubscriptionState) APISubscriptionState {
	opt := func(v string) *string {
		if v == "" {
			return nil
		}
		return &v
	}
	num := func(n int) *string {
		if n == 0 {
			return nil
		}
		return opt(strconv.Itoa(n))
	}
	return APISubscriptionState{
		Status:            strings.ToLower(s.Status),
		NextChargeDate:    opt(s.NextChargeDate),
		IntervalUnit:      opt(s.IntervalUnit),
		IntervalFrequency: num(s.IntervalFrequency),
		Quantity:          num(s.Quantity),
	}
}

func previewJSON(p *rechargekit.ActionPreview) *APIActionPreview {
	out := &APIActionPreview{
		Action:       p.Action,
		Summary:      p.Summary,
		Reasons:      p.Reasons,
		Before:       stateJSON(p.Before),
		After:        stateJSON(p.After),
		PreviewToken: p.Token,
	}
	if out.Summary == nil {
		out.Summary = []string{}
	}
	if out.Reasons == nil {
		out.Reasons = []string{}
	}
	if p.Subscription != nil {
		tx := p.Subscription.Transaction()
		out.Subscription = &tx
		out.SubscriptionID = tx.SubscriptionID
	}
	return out
}

func outcomeJSON(rec *rechargekit.ActionRecord, replayed bool) *APIActionOutcome {
	out := &APIActionOutcome{
		ID:                 strconv.FormatInt(rec.ID, 10),
		Action:             rec.Action,
		SubscriptionID:     strconv.FormatInt(rec.SubscriptionID, 10),
		RechargeCustomerID: strconv.FormatInt(rec.CustomerID, 10),
		Outcome:            rec.Outcome,
		Message:            rec.Message,
		Replayed:           replayed,
		By:                 rec.ActorName,
		Role:               rec.ActorRole,
		Via:                rec.Via,
		At:                 rec.At.UTC().Format(rechargekit.TimeLayout),
	}
	if rec.Before != nil {
		b := stateJSON(*rec.Before)
		out.Before = &b
	}
	if rec.After != nil {
		a := stateJSON(*rec.After)
		out.After = &a
	}
	if rec.CompletedAt != nil {
		at := rec.CompletedAt.UTC().Format(rechargekit.TimeLayout)
		out.CompletedAt = &at
	}
	return out
}
