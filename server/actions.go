// This file holds the console's subscription actions (issue 11): the
// buttons on the card, the form page that shows the preview and takes the
// inputs, the submit that applies it through the ActionService, and the
// recent actions on the profile page. The service decides what is allowed
// and audits every attempt; the console only shows its answers.

package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rechargekit/rechargekit"
)

// actionText is how the console names one action.
type actionText struct {
	Button  string // the card's button: "Skip next charge"
	Title   string // the form page's heading: "Skip the next charge"
	Confirm string // the confirm button: "Skip this charge"
	Label   string // in the audit lists: "Skip"
	Danger  bool   // the confirm button is red
}

// actionTexts names every action of rechargekit.AllActions.
var actionTexts = map[string]actionText{
	rechargekit.ActionCancel:            {"Cancel…", "Cancel the subscription", "Cancel the subscription", "Cancel", true},
	rechargekit.ActionReactivate:        {"Reactivate…", "Reactivate the subscription", "Reactivate", "Reactivate", false},
	rechargekit.ActionSkip:              {"Skip next charge…", "Skip the next charge", "Skip this charge", "Skip", false},
	rechargekit.ActionUnskip:            {"Unskip…", "Unskip the skipped charge", "Unskip this charge", "Unskip", false},
	rechargekit.ActionSetNextChargeDate: {"Move date…", "Move the next charge", "Move the next charge", "Move date", false},
	rechargekit.ActionChangeFrequency:   {"Change frequency…", "Change the frequency", "Change the frequency", "Frequency", false},
	rechargekit.ActionChangeQuantity:    {"Change quantity…", "Change the quantity", "Change the quantity", "Quantity", false},
}

// outcomeLabels names the audit's outcomes for people.
var outcomeLabels = map[string]string{
	rechargekit.OutcomePending:         "Pending",
	rechargekit.OutcomeDone:            "Done",
	rechargekit.OutcomeRefusedPolicy:   "Not allowed",
	rechargekit.OutcomeRefusedRecharge: "Refused by Recharge",
	rechargekit.OutcomeFailed:          "Failed",
}

// outcomeOrder lists the outcomes in the order the audit's filter offers
// them.
var outcomeOrder = []string{rechargekit.OutcomeDone, rechargekit.OutcomeRefusedPolicy,
	rechargekit.OutcomeRefusedRecharge, rechargekit.OutcomeFailed, rechargekit.OutcomePending}

// actionFlashes are the flashes (see flashes) of a successful submit: one
// per action, and one for a submit whose key was seen before.
var actionFlashes = map[string]string{
	rechargekit.ActionCancel:            "action_cancel",
	rechargekit.ActionReactivate:        "action_reactivate",
	rechargekit.ActionSkip:              "action_skip",
	rechargekit.ActionUnskip:            "action_unskip",
	rechargekit.ActionSetNextChargeDate: "action_set_next_charge_date",
	rechargekit.ActionChangeFrequency:   "action_change_frequency",
	rechargekit.ActionChangeQuantity:    "action_change_quantity",
}

// actionReplayedFlash is the flash of a submit already applied.
const actionReplayedFlash = "action_replayed"

// actionURL is the console address of an action's form page.
func actionURL(profileID string, subID int64, action string) string {
	return profileURL(profileID) + "/subscriptions/" + strconv.FormatInt(subID, 10) + "/actions/" + url.PathEscape(action)
}

// consoleActor is the signed-in user as the ActionService sees them.
func consoleActor(s *auth) rechargekit.Actor {
	return rechargekit.Actor{Role: s.User.Role, Name: s.User.Email, Via: rechargekit.ViaConsole}
}

// Idempotency keys of the console's action forms: a random value made
// when the form is rendered, so that the same form sent twice is applied
// once. The key sent to the service carries a prefix, so that it can never
// equal a key a JSON API client chose.
const (
	formKeyBytes  = 16
	formKeyPrefix = "console:"
)

// newFormKey returns a fresh key for one rendering of an action form.
func newFormKey() string {
	b := make([]byte, formKeyBytes)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24)
	return hex.EncodeToString(b)
}

// validFormKey reports whether k is a key newFormKey could have made.
func validFormKey(k string) bool {
	if len(k) != 2*formKeyBytes {
		return false
	}
	_, err := hex.DecodeString(k)
	return err == nil && strings.ToLower(k) == k
}

// actionButton is one offered action on a subscription of the card.
type actionButton struct {
	Action string
	Label  string
	URL    string
	Danger bool
}

// actionWhy is an action the card does not offer, and why, for an action
// the user's role may take (what the role may not do is not shown).
type actionWhy struct {
	Label string
	Why   string
}

// actionRow is one attempt of the action audit, on the profile page and
// the admin's audit page.
type actionRow struct {
	ID             int64
	At             timeView
	Actor          string
	Role           string
	Via            string
	Action         string
	ActionLabel    string
	ProfileID      string
	CustomerID     string
	SubscriptionID string
	Inputs         string
	Change         string // "status active → cancelled; next charge 2026-12-10 → —"
	Outcome        string
	OutcomeLabel   string
	Message        string
}

func newActionRow(rec *rechargekit.ActionRecord, now time.Time) actionRow {
	row := actionRow{
		ID:             rec.ID,
		At:             newTimeView(rec.At, now),
		Actor:          cleanText(rec.ActorName),
		Role:           cleanText(rec.ActorRole),
		Via:            cleanText(rec.Via),
		Action:         rec.Action,
		ActionLabel:    actionTexts[rec.Action].Label,
		ProfileID:      rec.ProfileID,
		SubscriptionID: strconv.FormatInt(rec.SubscriptionID, 10),
		Inputs:         inputsText(rec.Inputs),
		Change:         stateChange(rec.Before, rec.After),
		Outcome:        rec.Outcome,
		OutcomeLabel:   outcomeLabels[rec.Outcome],
		Message:        cleanText(rec.Message),
	}
	if row.ActionLabel == "" {
		row.ActionLabel = cleanText(rec.Action)
	}
	if row.OutcomeLabel == "" {
		row.OutcomeLabel = cleanText(rec.Outcome)
	}
	if rec.CustomerID != 0 {
		row.CustomerID = strconv.FormatInt(rec.CustomerID, 10)
	}
	return row
}

// inputsText shows an attempt's inputs (JSON) as one line: what the agent
// gave, without the action and the subscription the row already names.
// Inputs that are not a JSON object are shown as they are.
func inputsText(in string) string {
	var m map[string]any
	if err := json.Unmarshal([]byte(in), &m); err != nil {
		return cleanText(in)
	}
	keys := slices.Sorted(maps.Keys(m))
	var parts []string
	for _, k := range keys {
		if k == "action" || k == "subscriptionId" {
			continue
		}
		v := m[k]
		if s, ok := v.(string); ok && s == "" {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s: %v", k, v))
	}
	return cleanText(strings.Join(parts, "; "))
}

// stateChange says what an attempt changed, field by field; "" when it
// changed nothing the audit keeps.
func stateChange(before, after *rechargekit.SubscriptionState) string {
	if before == nil || after == nil {
		return ""
	}
	var parts []string
	add := func(name, a, b string) {
		if a == b {
			return
		}
		if a == "" {
			a = "—"
		}
		if b == "" {
			b = "—"
		}
		parts = append(parts, name+" "+a+" → "+b)
	}
	add("status", before.Status, after.Status)
	add("next charge", before.NextChargeDate, after.NextChargeDate)
	add("interval", interval(before.IntervalFrequency, before.IntervalUnit), interval(after.IntervalFrequency, after.IntervalUnit))
	q := func(n int) string {
		if n <= 0 {
			return ""
		}
		return strconv.Itoa(n)
	}
	add("quantity", q(before.Quantity), q(after.Quantity))
	return cleanText(strings.Join(parts, "; "))
}

// recentActionsLimit is how many of a customer's actions the profile page
// lists.
const recentActionsLimit = 10

// profileActions adds to the profile page what the actions need: the
// buttons of each subscription the signed-in user may act on, and the
// customer's recent actions. Failures leave the card as it is, with a
// sentence instead of the buttons.
func (c *console) profileActions(ctx context.Context, s *auth, d *profileData, customerID int64) {
	if c.cfg.Actions == nil || d.Card == nil {
		return
	}
	d.ActionsOn = true
	now := c.cfg.Now()
	if c.cfg.ActionLog != nil {
		recs, err := c.cfg.ActionLog.ActionRecords(ctx, rechargekit.ActionFilter{CustomerID: customerID, Limit: recentActionsLimit})
		if err != nil {
			c.log.ErrorContext(ctx, "console: read recent actions", "profile_id", d.ID, "error", err)
			d.RecentError = "The recent actions could not be read."
		}
		for _, rec := range recs {
			d.Recent = append(d.Recent, newActionRow(rec, now))
		}
	}
	var policy rechargekit.ActionPolicy
	if c.cfg.ActionLog != nil {
		if p, err := c.cfg.ActionLog.ActionPolicy(ctx); err == nil {
			policy = p
		}
	}
	offers, err := c.cfg.Actions.Offers(ctx, rechargekit.ActionTarget{ProfileID: d.ID}, consoleActor(s))
	if err != nil {
		d.ActionsError = c.actionsUnavailable(ctx, err)
		return
	}
	bySub := make(map[string]*rechargekit.SubscriptionActions, len(offers))
	for _, sa := range offers {
		if sa != nil && sa.Subscription != nil {
			bySub[strconv.FormatInt(sa.Subscription.ID, 10)] = sa
		}
	}
	for i := range d.Card.Subs {
		sv := &d.Card.Subs[i]
		sa := bySub[sv.ID]
		if sa == nil {
			continue
		}
		for _, o := range sa.Offers {
			t := actionTexts[o.Action]
			switch {
			case o.Offered:
				sv.Actions = append(sv.Actions, actionButton{Action: o.Action, Label: t.Button,
					URL: actionURL(d.ID, sa.Subscription.ID, o.Action), Danger: t.Danger})
			case policy == nil || policy.Allows(s.User.Role, o.Action):
				// What the role may not do is hidden; what the state or
				// the Recharge token rules out is explained.
				sv.NotOffered = append(sv.NotOffered, actionWhy{Label: t.Label, Why: cleanText(o.Why)})
			}
		}
	}
}

// actionsUnavailable is the sentence the card shows when the actions
// cannot be offered.
func (c *console) actionsUnavailable(ctx context.Context, err error) string {
	switch {
	case errors.Is(err, rechargekit.ErrUpstreamRefused):
		c.log.ErrorContext(ctx, "recharge refused the token", "during", "action offers", "error", err)
		return "Actions are unavailable: Recharge refused rechargekit's API token. Tell an admin."
	case rechargekit.ErrorCode(err) == rechargekit.EUPSTREAM:
		return "Actions are unavailable right now: Recharge is not answering. Try again shortly."
	}
	c.log.ErrorContext(ctx, "console: action offers", "error", err)
	return "Actions are unavailable because of an error on our side."
}

// actionPage is the action form page.
type actionPage struct {
	ProfileID   string
	ProfileName string
	Sub         subView
	SubID       int64
	Action      string
	Text        actionText
	URL         string

	// Needs names the inputs the action takes before its preview: "date",
	// "interval", "quantity", or "" (cancel's inputs go with the confirm).
	Needs      string
	Date       string
	MinDate    string
	QuickPicks []quickPick
	Unit       string
	Units      []string
	Frequency  string
	Quantity   string

	// Preview is set when the action was previewed; the confirm form is
	// shown with it.
	Preview *rechargekit.ActionPreview
	Reason  string
	Comment string
	Notify  bool
	Key     string

	Problem string // an alert: what went wrong, in the service's words
	Changed bool   // the preview is new: the subscription changed since the last one
	Done    bool   // the attempt is over (refused or failed): no form, a way back
	Audited string // the audit's word on the attempt, when it was recorded
}

// quickPick is a date the agent can pick with one click.
type quickPick struct {
	Label string // "+2 weeks"
	Date  string // YYYY-MM-DD
	URL   string
}

// actionInput is what the agent gave, from the page's query or form.
type actionInput struct {
	Reason, Comments string
	Notify           bool
	Date             string
	Unit, Frequency  string
	Quantity         string
	Token            string
}

func readActionInput(v url.Values, posted bool) actionInput {
	in := actionInput{
		Reason:    strings.TrimSpace(v.Get("reason")),
		Comments:  strings.TrimSpace(v.Get("comments")),
		Date:      strings.TrimSpace(v.Get("date")),
		Unit:      strings.TrimSpace(v.Get("unit")),
		Frequency: strings.TrimSpace(v.Get("frequency")),
		Quantity:  strings.TrimSpace(v.Get("quantity")),
		Token:     strings.TrimSpace(v.Get("preview_token")),
		Notify:    true,
	}
	// An unchecked checkbox is absent from the form: the hidden field says
	// the form had it, so absence means no.
	if posted && v.Get("has_notify") == "1" {
		in.Notify = v.Get("notify") == "on"
	}
	return in
}

// request is the ActionRequest of the input; numbers that do not parse are
// sent as 0, which the service refuses with its own message.
func (in actionInput) request(action string, subID int64) *rechargekit.ActionRequest {
	req := &rechargekit.ActionRequest{Action: action, SubscriptionID: subID, PreviewToken: in.Token}
	switch action {
	case rechargekit.ActionCancel:
		notify := in.Notify
		req.Reason, req.Comments, req.SendEmail = in.Reason, in.Comments, &notify
	case rechargekit.ActionSetNextChargeDate:
		req.Date = in.Date
	case rechargekit.ActionChangeFrequency:
		req.IntervalUnit = in.Unit
		req.IntervalFrequency, _ = strconv.Atoi(in.Frequency)
	case rechargekit.ActionChangeQuantity:
		req.Quantity, _ = strconv.Atoi(in.Quantity)
	}
	return req
}

// needs names the inputs an action takes before it can be previewed.
func needs(action string) string {
	switch action {
	case rechargekit.ActionSetNextChargeDate:
		return "date"
	case rechargekit.ActionChangeFrequency:
		return "interval"
	case rechargekit.ActionChangeQuantity:
		return "quantity"
	}
	return ""
}

// ready reports whether the input has what the action's preview needs.
func (in actionInput) ready(action string) bool {
	switch needs(action) {
	case "date":
		return in.Date != ""
	case "interval":
		return in.Unit != "" && in.Frequency != ""
	case "quantity":
		return in.Quantity != ""
	}
	return true
}

// actionParams reads the form page's path: the subscription id and the
// action. ok is false when they name nothing (the page then is a 404).
func actionParams(r *http.Request) (subID int64, action string, ok bool) {
	subID, err := strconv.ParseInt(r.PathValue("sub"), 10, 64)
	action = r.PathValue("action")
	return subID, action, err == nil && subID > 0 && slices.Contains(rechargekit.AllActions(), action)
}

// noSuchAction is the console's 404 for an action page that names no
// action, no subscription of the profile, or a console without actions.
func (c *console) noSuchAction(w http.ResponseWriter, r *http.Request, s *auth) {
	c.errorPage(w, r, s, http.StatusNotFound, "Not found",
		"There is no such action on this profile's subscriptions. Go back to the profile and use its buttons.")
}

// actionForm serves GET /profiles/{id}/subscriptions/{sub}/actions/{action}:
// the inputs the action needs and, once they are given, the preview with
// the confirm form.
func (c *console) actionForm(w http.ResponseWriter, r *http.Request, s *auth) {
	subID, action, ok := actionParams(r)
	if !ok || c.cfg.Actions == nil {
		c.noSuchAction(w, r, s)
		return
	}
	ctx, cancel := c.withDeadline(r)
	defer cancel()
	d := c.newActionPage(r.PathValue("id"), subID, action, readActionInput(r.URL.Query(), false))
	c.showAction(ctx, w, r, s, http.StatusOK, d, nil)
}

// newActionPage is the page of an action with the agent's input, before
// the subscription is read.
func (c *console) newActionPage(profileID string, subID int64, action string, in actionInput) *actionPage {
	return &actionPage{
		ProfileID: profileID, SubID: subID, Action: action, Text: actionTexts[action],
		URL: actionURL(profileID, subID, action), Needs: needs(action),
		Date: in.Date, Unit: in.Unit, Frequency: in.Frequency, Quantity: in.Quantity,
		Units:  []string{"day", "week", "month"},
		Reason: in.Reason, Comment: in.Comments, Notify: in.Notify,
		Key: newFormKey(),
	}
}

// showAction renders the action page: it reads the profile and the
// subscription (from the card), previews the action when the input is
// ready and no preview is given, and shows the page with status (or the
// preview's refusal's). A profile, link or subscription that is not there
// is the 404 page; a role that may not take the action the 403 page.
func (c *console) showAction(ctx context.Context, w http.ResponseWriter, r *http.Request, s *auth, status int, d *actionPage, preview *rechargekit.ActionPreview) {
	sub, name, err := c.actionSubject(ctx, d.ProfileID, d.SubID)
	if err != nil {
		c.renderError(w, r, s, "", err)
		return
	}
	now := c.cfg.Now()
	d.ProfileName = name
	d.Sub = newSubView(sub, now)
	c.fillInputs(d, sub, now)
	in := actionInput{Reason: d.Reason, Comments: d.Comment, Notify: d.Notify, Date: d.Date,
		Unit: d.Unit, Frequency: d.Frequency, Quantity: d.Quantity}
	switch {
	case preview != nil:
		d.Preview = preview
	case d.Done:
	case in.ready(d.Action):
		req := in.request(d.Action, d.SubID)
		if d.Action == rechargekit.ActionCancel {
			// The reason, the comments and the email choice are picked on
			// the preview's own form.
			req.Reason, req.Comments = "", ""
		}
		p, err := c.cfg.Actions.Preview(ctx, rechargekit.ActionTarget{ProfileID: d.ProfileID}, consoleActor(s), req)
		switch code := rechargekit.ErrorCode(err); code {
		case "":
			d.Preview = p
		case rechargekit.EINVALID, rechargekit.ECONFLICT:
			// What was typed, or the subscription's state: said on the page.
			if d.Problem == "" {
				d.Problem = rechargekit.ErrorMessage(err)
				status = errorStatus[code]
			}
			if code == rechargekit.ECONFLICT && d.Needs == "" {
				d.Done = true
			}
		default:
			c.renderError(w, r, s, "", err)
			return
		}
	}
	if d.Preview != nil {
		d.Sub = newSubView(d.Preview.Subscription, now)
	}
	if d.Done {
		d.Preview = nil
	}
	c.render(w, r, status, "action", withAuth(&pageData{Title: d.Text.Title + " · " + d.Sub.ProductName, Nav: "profiles", Data: d}, s))
}

// actionSubject reads what the page is about: the subscription, from the
// linked customer's card, and the profile's name. Errors: ENOTFOUND (no
// profile, not linked, not this customer's subscription), the card's.
func (c *console) actionSubject(ctx context.Context, profileID string, subID int64) (*rechargekit.Subscription, string, error) {
	p, err := c.cfg.Store.Profile(ctx, profileID)
	if err != nil {
		return nil, "", noSuchProfile(err)
	}
	name := cleanText(p.Name)
	if name == "" {
		name = "Unnamed profile"
	}
	l, err := c.cfg.Store.Link(ctx, profileID)
	if rechargekit.ErrorCode(err) == rechargekit.ENOTFOUND {
		return nil, "", rechargekit.WrapError(rechargekit.ENOTFOUND, "This profile is not linked to a Recharge customer, so it has no subscriptions to act on.", err)
	}
	if err != nil {
		return nil, "", fmt.Errorf("server: read link of %q: %w", profileID, err)
	}
	card, err := c.cfg.Cards.Card(ctx, l.CustomerID)
	if err != nil {
		return nil, "", err
	}
	for _, sub := range card.Subscriptions {
		if sub.ID == subID {
			return sub, name, nil
		}
	}
	return nil, "", rechargekit.Errorf(rechargekit.ENOTFOUND, "This subscription is not one of this profile's customer's.")
}

// quickWeeks are the quick picks of the move-date form, in weeks after the
// current next charge date.
var quickWeeks = []int{1, 2, 4}

// fillInputs sets the inputs' defaults from the subscription: the quick
// picks of the date, the current interval and quantity.
func (c *console) fillInputs(d *actionPage, sub *rechargekit.Subscription, now time.Time) {
	today := time.Date(now.UTC().Year(), now.UTC().Month(), now.UTC().Day(), 0, 0, 0, 0, time.UTC)
	d.MinDate = today.AddDate(0, 0, 1).Format(time.DateOnly)
	switch d.Needs {
	case "date":
		base, err := time.Parse(time.DateOnly, sub.NextChargeDate)
		if err != nil || base.Before(today) {
			base = today
		}
		for _, n := range quickWeeks {
			day := base.AddDate(0, 0, 7*n).Format(time.DateOnly)
			label := fmt.Sprintf("+%d weeks", n)
			if n == 1 {
				label = "+1 week"
			}
			d.QuickPicks = append(d.QuickPicks, quickPick{Label: label, Date: day, URL: d.URL + "?date=" + day})
		}
	case "interval":
		if d.Unit == "" {
			d.Unit = strings.TrimSuffix(strings.ToLower(sub.IntervalUnit), "s")
		}
		if d.Frequency == "" && sub.ChargeIntervalFrequency > 0 {
			d.Frequency = strconv.Itoa(sub.ChargeIntervalFrequency)
		}
	case "quantity":
		if d.Quantity == "" && sub.Quantity > 0 {
			d.Quantity = strconv.Itoa(sub.Quantity)
		}
	}
}

// actionSubmit serves POST /profiles/{id}/subscriptions/{sub}/actions/{action}:
// it applies the confirmed action once per form (the form's key) and
// redirects to the profile with the outcome, or shows the page again with
// what stopped it.
func (c *console) actionSubmit(w http.ResponseWriter, r *http.Request, s *auth) {
	subID, action, ok := actionParams(r)
	if !ok || c.cfg.Actions == nil {
		c.noSuchAction(w, r, s)
		return
	}
	// As on the JSON API, a submit has the action's deadline, not a
	// lookup's, and is not cancelled when the browser goes away (a closed
	// tab, a navigation): a write cut off half-way would be recorded as
	// failed although Recharge may have applied it.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), apiActionDeadline)
	defer cancel()
	id := r.PathValue("id")
	in := readActionInput(r.PostForm, true)
	d := c.newActionPage(id, subID, action, in)
	target := rechargekit.ActionTarget{ProfileID: id}
	actor := consoleActor(s)

	formKey := strings.TrimSpace(r.PostForm.Get("key"))
	key := formKeyPrefix + formKey
	if in.Token == "" && !c.mayNot(ctx, s, action) {
		// The console applies only what the agent read: a submit that
		// carries no preview is not applied (the JSON API, whose callers
		// may act without one, is where that is optional).
		d.Problem = "This form is missing its preview, so it was not applied. Confirm again below."
		c.showAction(ctx, w, r, s, http.StatusBadRequest, d, nil)
		return
	}
	if !validFormKey(formKey) {
		// Without its key a submit cannot be told from its double, so it
		// is not applied; a role that may not take the action at all is
		// still refused (and audited) by the service, like any forged
		// request.
		if !c.mayNot(ctx, s, action) {
			d.Problem = "This form is missing its one-time key, so it was not applied. Confirm again below."
			c.showAction(ctx, w, r, s, http.StatusBadRequest, d, nil)
			return
		}
		key = ""
	}
	res, err := c.cfg.Actions.Do(ctx, target, actor, in.request(action, subID), key)
	attrs := []any{"action", action, "subscription_id", subID, "profile_id", id, "user_id", s.User.ID}
	if res != nil && res.Record != nil {
		attrs = append(attrs, "action_id", res.Record.ID, "outcome", res.Record.Outcome, "replayed", res.Replayed)
	}
	if err == nil {
		c.log.InfoContext(r.Context(), "subscription action", attrs...)
		fl := actionFlashes[action]
		if res != nil && res.Replayed {
			fl = actionReplayedFlash
		}
		// The action may have outlasted the request's context (the session
		// check's lookup deadline bounds it), and the notice of what was
		// done must not be lost with it: it is written under the action's
		// own context (not cancelled with the request), bounded by a lookup
		// deadline (storeContext) and never past the action's deadline, so
		// a hung store cannot hold the redirect beyond either.
		fctx, fcancel := c.storeContext(ctx)
		defer fcancel()
		c.redirectAfter(w, r.WithContext(fctx), s, profileURL(id), nil, flashKeys{"": fl})
		return
	}
	c.log.WarnContext(r.Context(), "subscription action not applied", append(attrs, "error", err)...)
	if p := rechargekit.ChangedPreview(err); p != nil {
		d.Changed = true
		d.Problem = rechargekit.ErrorMessage(err)
		c.showAction(ctx, w, r, s, http.StatusConflict, d, p)
		return
	}
	code := rechargekit.ErrorCode(err)
	audited := res != nil && res.Record != nil
	switch {
	case code == rechargekit.ENOTFOUND, code == rechargekit.EFORBIDDEN, code == rechargekit.EINTERNAL && !audited:
		c.renderError(w, r, s, "", err)
		return
	case code == rechargekit.EINVALID:
		// What was typed: the form again, with the message.
		d.Problem = rechargekit.ErrorMessage(err)
		c.showAction(ctx, w, r, s, http.StatusBadRequest, d, nil)
		return
	}
	// Refused by Recharge, not possible in the subscription's state, the
	// key reused or still being applied, Recharge failing: the attempt is
	// over, and the page says how.
	d.Problem = rechargekit.ErrorMessage(err)
	d.Done = true
	if audited {
		d.Audited = fmt.Sprintf("The attempt is in the audit log (entry %d, %s).", res.Record.ID,
			strings.ToLower(outcomeLabels[res.Record.Outcome]))
	}
	status, ok := errorStatus[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	c.showAction(ctx, w, r, s, status, d, nil)
}

// mayNot reports whether the signed-in user's role may not take action at
// all, by the stored policy; false when the policy cannot be read.
func (c *console) mayNot(ctx context.Context, s *auth, action string) bool {
	if c.cfg.ActionLog == nil {
		return false
	}
	p, err := c.cfg.ActionLog.ActionPolicy(ctx)
	return err == nil && !p.Allows(s.User.Role, action)
}

// policyView is the Settings page's grid of action permissions: one row
// per action, one checkbox per role.
type policyView struct {
	Roles []string
	Rows  []policyRow
}

type policyRow struct {
	Action string
	Label  string
	Cells  []policyCell
}

type policyCell struct {
	Role    string
	Value   string // "agent:cancel", the checkbox's value
	ID      string // "allow-agent-cancel", for its label
	Checked bool
}

// policyRoles are the roles of the grid, in its column order.
var policyRoles = []string{rechargekit.RoleAdmin, rechargekit.RoleAgent, rechargekit.RoleGladly}

func newPolicyView(p rechargekit.ActionPolicy) *policyView {
	v := &policyView{Roles: policyRoles}
	for _, a := range rechargekit.AllActions() {
		row := policyRow{Action: a, Label: actionTexts[a].Title}
		for _, role := range policyRoles {
			row.Cells = append(row.Cells, policyCell{Role: role, Value: role + ":" + a,
				ID: "allow-" + role + "-" + a, Checked: p.Allows(role, a)})
		}
		v.Rows = append(v.Rows, row)
	}
	return v
}

// savePolicy serves POST /admin/settings/actions: the grid replaces the
// whole policy, and the store audits each permission that changed.
func (c *console) savePolicy(w http.ResponseWriter, r *http.Request, s *auth) {
	if c.cfg.ActionLog == nil {
		c.noSuchAction(w, r, s)
		return
	}
	// A form without the grid's marker is not the grid: nothing to save.
	if r.PostForm.Get("has_policy") != "1" {
		http.Redirect(w, r, "/admin/settings", http.StatusSeeOther)
		return
	}
	p := rechargekit.ActionPolicy{}
	for _, role := range policyRoles {
		p[role] = map[string]bool{}
	}
	for _, v := range r.PostForm["allow"] {
		role, action, _ := strings.Cut(v, ":")
		if _, ok := p[role]; !ok || !slices.Contains(rechargekit.AllActions(), action) {
			c.renderError(w, r, s, "", rechargekit.Errorf(rechargekit.EINVALID,
				"The permission %q is not one of the grid's. Reload the Settings page and try again.", cleanText(v)))
			return
		}
		p[role][action] = true
	}
	err := c.cfg.ActionLog.UpdateActionPolicy(r.Context(), p, s.User.Email)
	if err == nil {
		c.log.InfoContext(r.Context(), "action permissions changed", "user_id", s.User.ID)
	}
	c.redirectAfter(w, r, s, "/admin/settings", err, flashKeys{"": "policy_saved"})
}

// option is one choice of a filter's select.
type option struct {
	Value, Label string
}

// actionAuditData is the admin's page of action attempts.
type actionAuditData struct {
	Action, Agent, Customer, Outcome string
	Actions, Outcomes                []option
	Rows                             []actionRow
	Limit                            int
	Filtered                         bool
	CSVURL                           string
	Problem                          string
}

// Limits of the action audit: the page shows the newest actionAuditLimit
// attempts, the CSV export the store's maximum.
const (
	actionAuditLimit = 200
	actionCSVLimit   = 1000
)

// actionAuditPage serves GET /admin/audit/actions: the action attempts,
// filtered by action, agent, customer and outcome; with ?format=csv the
// same rows as a CSV file.
func (c *console) actionAuditPage(w http.ResponseWriter, r *http.Request, s *auth) {
	if c.cfg.ActionLog == nil {
		c.errorPage(w, r, s, http.StatusNotFound, "Not found", "Subscription actions are not enabled on this deployment.")
		return
	}
	q := r.URL.Query()
	d := actionAuditData{
		Action:   strings.TrimSpace(q.Get("action")),
		Agent:    strings.TrimSpace(q.Get("agent")),
		Customer: strings.TrimSpace(q.Get("customer")),
		Outcome:  strings.TrimSpace(q.Get("outcome")),
		Limit:    actionAuditLimit,
	}
	for _, a := range rechargekit.AllActions() {
		d.Actions = append(d.Actions, option{a, actionTexts[a].Label})
	}
	for _, o := range outcomeOrder {
		d.Outcomes = append(d.Outcomes, option{o, outcomeLabels[o]})
	}
	f, err := d.filter()
	asCSV := q.Get("format") == "csv"
	if err != nil {
		if asCSV {
			c.renderError(w, r, s, "", err)
			return
		}
		d.Problem = rechargekit.ErrorMessage(err)
		c.render(w, r, http.StatusBadRequest, "action_audit", withAuth(&pageData{Title: "Action audit", Nav: "audit", Data: d}, s))
		return
	}
	if asCSV {
		f.Limit = actionCSVLimit
	}
	recs, err := c.cfg.ActionLog.ActionRecords(r.Context(), f)
	if err != nil {
		c.renderError(w, r, s, "", fmt.Errorf("server: read action audit: %w", err))
		return
	}
	if asCSV {
		c.writeActionCSV(w, r, recs)
		return
	}
	now := c.cfg.Now()
	for _, rec := range recs {
		d.Rows = append(d.Rows, newActionRow(rec, now))
	}
	v := url.Values{}
	for k, val := range map[string]string{"action": d.Action, "agent": d.Agent, "customer": d.Customer, "outcome": d.Outcome} {
		if val != "" {
			v.Set(k, val)
			d.Filtered = true
		}
	}
	v.Set("format", "csv")
	d.CSVURL = "/admin/audit/actions?" + v.Encode()
	c.render(w, r, http.StatusOK, "action_audit", withAuth(&pageData{Title: "Action audit", Nav: "audit", Data: d}, s))
}

// maxAgentFilter bounds the agent filter: an email is at most 320 bytes.
const maxAgentFilter = 320

// filter is the store's filter of the page's query. Errors: EINVALID.
func (d *actionAuditData) filter() (rechargekit.ActionFilter, error) {
	f := rechargekit.ActionFilter{Action: d.Action, ActorName: d.Agent, Outcome: d.Outcome, Limit: actionAuditLimit}
	if d.Action != "" && !slices.Contains(rechargekit.AllActions(), d.Action) {
		return f, rechargekit.Errorf(rechargekit.EINVALID, "Pick an action from the list.")
	}
	if d.Outcome != "" && outcomeLabels[d.Outcome] == "" {
		return f, rechargekit.Errorf(rechargekit.EINVALID, "Pick an outcome from the list.")
	}
	if len(d.Agent) > maxAgentFilter {
		return f, rechargekit.Errorf(rechargekit.EINVALID, "The agent filter is too long: type a user's email or an API token's name.")
	}
	if d.Customer != "" {
		id, err := strconv.ParseInt(d.Customer, 10, 64)
		if err != nil || id <= 0 {
			return f, rechargekit.Errorf(rechargekit.EINVALID, "A Recharge customer id is a number, like 183940021.")
		}
		f.CustomerID = id
	}
	return f, nil
}

// csvHeader names the columns of the action audit's CSV export.
var csvHeader = []string{"id", "at", "completed_at", "outcome", "message", "action", "actor", "role", "via",
	"correlation_id", "profile_id", "customer_id", "subscription_id", "inputs",
	"status_before", "status_after", "next_charge_before", "next_charge_after",
	"interval_before", "interval_after", "quantity_before", "quantity_after"}

// writeActionCSV writes the attempts as CSV: encoding/csv quotes what
// needs quoting, and csvCell defuses cells a spreadsheet would run as a
// formula.
func (c *console) writeActionCSV(w http.ResponseWriter, r *http.Request, recs []*rechargekit.ActionRecord) {
	var buf bytes.Buffer
	cw := csv.NewWriter(&buf)
	_ = cw.Write(csvHeader)
	state := func(st *rechargekit.SubscriptionState) (status, next, iv, qty string) {
		if st == nil {
			return "", "", "", ""
		}
		if st.Quantity > 0 {
			qty = strconv.Itoa(st.Quantity)
		}
		return st.Status, st.NextChargeDate, interval(st.IntervalFrequency, st.IntervalUnit), qty
	}
	for _, rec := range recs {
		completed := ""
		if rec.CompletedAt != nil {
			completed = rec.CompletedAt.UTC().Format(time.RFC3339)
		}
		customer := ""
		if rec.CustomerID != 0 {
			customer = strconv.FormatInt(rec.CustomerID, 10)
		}
		bs, bn, bi, bq := state(rec.Before)
		as, an, ai, aq := state(rec.After)
		row := []string{strconv.FormatInt(rec.ID, 10), rec.At.UTC().Format(time.RFC3339), completed,
			rec.Outcome, rec.Message, rec.Action, rec.ActorName, rec.ActorRole, rec.Via,
			rec.CorrelationID, rec.ProfileID, customer, strconv.FormatInt(rec.SubscriptionID, 10), rec.Inputs,
			bs, as, bn, an, bi, ai, bq, aq}
		for i := range row {
			row[i] = csvCell(row[i])
		}
		_ = cw.Write(row)
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		c.internalError(w, r, nil, fmt.Errorf("server: write action audit csv: %w", err))
		return
	}
	name := "rechargekit-actions-" + c.cfg.Now().UTC().Format("20060102-150405") + ".csv"
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = buf.WriteTo(w)
}

// csvCell defuses a cell that a spreadsheet would read as a formula (it
// starts with =, +, -, @, a tab or a carriage return) by putting a quote
// before it, as OWASP advises: Recharge's messages, agents' comments and
// token names are text anyone could have typed.
func csvCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
