package actions

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rechargekit/rechargekit"
)

// This file holds the rules: what each action needs as input, which
// subscription states allow it, which token scopes it needs, and how a
// refusal reads.

// Input bounds. Recharge's own limits are not documented; these keep an
// agent's typo (a quantity of 1000000) from reaching it.
const (
	maxQuantity     = 1000
	maxFrequency    = 365
	maxCommentBytes = 1024 // cancellation_reason_comments, actor included (spec 1.1)
	dateLayout      = "2006-01-02"
)

// doing names each action as the rest of a sentence: "may not <doing>".
var doing = map[string]string{
	rechargekit.ActionCancel:            "cancel subscriptions",
	rechargekit.ActionReactivate:        "reactivate subscriptions",
	rechargekit.ActionSkip:              "skip charges",
	rechargekit.ActionUnskip:            "unskip charges",
	rechargekit.ActionSetNextChargeDate: "move next charge dates",
	rechargekit.ActionChangeFrequency:   "change frequencies",
	rechargekit.ActionChangeQuantity:    "change quantities",
}

// policyWhy says why the actor's role may not take the action.
func policyWhy(actor rechargekit.Actor, action string) string {
	who := "The " + actor.Role + " role"
	if actor.Role == rechargekit.RoleGladly {
		who = "The Gladly desk"
	}
	return who + " may not " + doing[action] + "; an admin can allow it in Settings."
}

// scopesFor lists the token scopes that allow the action (any one will do).
func scopesFor(action string) []string {
	switch action {
	case rechargekit.ActionSkip, rechargekit.ActionUnskip:
		// Recharge's guides name the charge scope both ways (spec 1.3).
		return []string{rechargekit.ScopeWriteOrders, rechargekit.ScopeWriteCharges}
	default:
		return []string{rechargekit.ScopeWriteSubscriptions}
	}
}

// missingScope returns the scope the token lacks for the action (the first
// of scopesFor, when it has none of them), or "" when it may take it or
// its scopes are unknown (nil). It is the one rule that Offers, CardOffers
// and TokenLimits share.
func missingScope(scopes []string, action string) string {
	if scopes == nil {
		return ""
	}
	want := scopesFor(action)
	for _, s := range scopes {
		for _, w := range want {
			if strings.EqualFold(strings.TrimSpace(s), w) {
				return ""
			}
		}
	}
	return want[0]
}

// scopeWhy says why the token may not take the action, or "" when it may.
// scopes nil means unknown: nothing is hidden, and Recharge's 403 says it.
func scopeWhy(scopes []string, action string) string {
	missing := missingScope(scopes, action)
	if missing == "" {
		return ""
	}
	return "rechargekit's Recharge token may not do this: it lacks the " + missing +
		" permission, which the store's admin can grant in Recharge."
}

// lacksWhy is TokenLimits' sentence for a scope the token lacks.
func lacksWhy(scope string) string {
	return "The Recharge token lacks the " + scope + " scope, which the store's admin can grant in Recharge."
}

// facts is what decides which actions make sense for one subscription.
type facts struct {
	sub     *rechargekit.ActionSubscription
	queued  *rechargekit.Charge // the earliest queued charge carrying it; nil when none
	skipped *rechargekit.Charge // the earliest skipped charge, today or later, carrying it
	// chargesUnknown is set when the charges could not be read (the token
	// may not read them): skip and unskip cannot be judged.
	chargesUnknown bool
}

// stateWhy says why the action makes no sense in the subscription's state,
// or "" when it does.
func stateWhy(action string, f facts) string {
	s := f.sub
	active := s.IsActive()
	expired := strings.EqualFold(s.Status, rechargekit.StatusExpired)
	switch action {
	case rechargekit.ActionCancel:
		if s.IsCancelled() {
			return "This subscription is already cancelled."
		}
		if expired {
			return "This subscription has expired; there is nothing to cancel."
		}
	case rechargekit.ActionReactivate:
		if active {
			return "This subscription is already active."
		}
		if expired {
			return "This subscription has expired after its last charge and cannot be reactivated here."
		}
	case rechargekit.ActionSkip:
		switch {
		case !active:
			return "Only an active subscription has a charge to skip."
		case f.chargesUnknown:
			return "rechargekit's Recharge token may not read charges, so the charge to skip cannot be found."
		case f.queued == nil:
			return "This subscription has no queued charge to skip."
		}
	case rechargekit.ActionUnskip:
		switch {
		case !active:
			return "Only an active subscription can have a skipped charge restored."
		case f.chargesUnknown:
			return "rechargekit's Recharge token may not read charges, so the skipped charge cannot be found."
		case f.skipped == nil:
			return "This subscription has no skipped charge to unskip."
		}
	case rechargekit.ActionSetNextChargeDate:
		if !active {
			return "Only an active subscription has a next charge date to move."
		}
	case rechargekit.ActionChangeFrequency:
		if !active {
			return "Only an active subscription's frequency can be changed."
		}
		if s.Prepaid {
			return "This is a prepaid subscription: its frequency decides what the customer paid for in advance, so change it in Recharge, not here."
		}
	case rechargekit.ActionChangeQuantity:
		if !active {
			return "Only an active subscription's quantity can be changed."
		}
	}
	return ""
}

// factsFor finds the charges of sub among the customer's queued and
// skipped charges (each earliest first). today is YYYY-MM-DD.
func factsFor(sub *rechargekit.ActionSubscription, queued, skipped []*rechargekit.Charge, today string) facts {
	f := facts{sub: sub}
	for _, c := range queued {
		if c.Line(sub.ID) != nil {
			f.queued = c
			break
		}
	}
	for _, c := range skipped {
		if c.Line(sub.ID) != nil && c.ScheduledAt >= today {
			f.skipped = c
			break
		}
	}
	return f
}

// normalize returns a copy of req with its text fields trimmed and the unit
// in Recharge's form (day, week, month).
func normalize(req *rechargekit.ActionRequest) *rechargekit.ActionRequest {
	r := *req
	r.Action = strings.TrimSpace(r.Action)
	r.Reason = strings.TrimSpace(r.Reason)
	r.Comments = strings.TrimSpace(r.Comments)
	r.Date = strings.TrimSpace(r.Date)
	r.IntervalUnit = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(r.IntervalUnit)), "s")
	r.PreviewToken = strings.TrimSpace(r.PreviewToken)
	if r.SendEmail != nil {
		v := *r.SendEmail
		r.SendEmail = &v
	}
	return &r
}

// sendEmail is the request's notify choice; nil means yes.
func sendEmail(req *rechargekit.ActionRequest) bool { return req.SendEmail == nil || *req.SendEmail }

func invalid(format string, args ...any) error {
	return rechargekit.Errorf(rechargekit.EINVALID, format, args...)
}

// validateAction checks the action and the subscription id.
func validateAction(req *rechargekit.ActionRequest) error {
	if !slices.Contains(rechargekit.AllActions(), req.Action) {
		return invalid("The action %q is not one rechargekit knows; choose one of %s.", req.Action, strings.Join(rechargekit.AllActions(), ", "))
	}
	if req.SubscriptionID <= 0 {
		return invalid("The subscription id must be a positive number.")
	}
	return nil
}

// validateInput checks what the action needs; today is the service's date.
// forPreview allows a cancel without a reason: the preview is what offers
// the store's reasons to choose from.
func validateInput(req *rechargekit.ActionRequest, actor rechargekit.Actor, today time.Time, forPreview bool) error {
	switch req.Action {
	case rechargekit.ActionCancel:
		if req.Reason == "" && !forPreview {
			return invalid("The reason is required: choose why the subscription is cancelled.")
		}
		if n := len(commentWithActor(req.Comments, actor)); n > maxCommentBytes {
			return invalid("The comments are too long: with the agent's name they take %d characters, and Recharge keeps at most %d.", n, maxCommentBytes)
		}
	case rechargekit.ActionSetNextChargeDate:
		if req.Date == "" {
			return invalid("The date is required: choose the day of the next charge.")
		}
		d, err := time.Parse(dateLayout, req.Date)
		if err != nil {
			return invalid("The date %q is not a day written as YYYY-MM-DD.", req.Date)
		}
		if !d.After(today) {
			return invalid("The date must be after today (%s): Recharge only moves a charge into the future.", today.Format(dateLayout))
		}
	case rechargekit.ActionChangeFrequency:
		if req.IntervalUnit != "day" && req.IntervalUnit != "week" && req.IntervalUnit != "month" {
			return invalid("The interval unit must be day, week or month.")
		}
		if req.IntervalFrequency < 1 || req.IntervalFrequency > maxFrequency {
			return invalid("The interval frequency must be a whole number from 1 to %d.", maxFrequency)
		}
	case rechargekit.ActionChangeQuantity:
		if req.Quantity < 1 || req.Quantity > maxQuantity {
			return invalid("The quantity must be a whole number from 1 to %d.", maxQuantity)
		}
	}
	return nil
}

// actorName is who the audit and Recharge's timeline name.
func actorName(actor rechargekit.Actor) string {
	if n := strings.TrimSpace(actor.Name); n != "" {
		return n
	}
	if actor.Via == rechargekit.ViaGladly || actor.Role == rechargekit.RoleGladly {
		return "Gladly"
	}
	return "an unnamed " + actor.Role
}

// commentWithActor appends who did it, so that Recharge's timeline shows
// the person and not just "via API": "Moving abroad. (by agent@brand.com
// via rechargekit)".
func commentWithActor(comments string, actor rechargekit.Actor) string {
	tag := "(by " + actorName(actor) + " via rechargekit)"
	if comments = strings.TrimSpace(comments); comments == "" {
		return tag
	}
	return comments + " " + tag
}

// productName names a subscription for the agent: "Dog Lovers T-Shirt
// (Large)".
func productName(s *rechargekit.Subscription) string {
	name := strings.TrimSpace(s.Product.Name)
	if name == "" {
		return "subscription " + strconv.FormatInt(s.ID, 10)
	}
	if v := strings.TrimSpace(s.Product.VariantName); v != "" && !strings.EqualFold(v, "Default Title") {
		name += " (" + v + ")"
	}
	return name
}

// lineName names a charge line the same way.
func lineName(l rechargekit.ChargeLine) string {
	name := strings.TrimSpace(l.Title)
	if name == "" {
		name = "subscription " + strconv.FormatInt(l.SubscriptionID, 10)
	}
	if v := strings.TrimSpace(l.VariantTitle); v != "" && !strings.EqualFold(v, "Default Title") {
		name += " (" + v + ")"
	}
	return name
}

// interval reads "every 2 weeks", "every month".
func interval(unit string, n int) string {
	if unit == "" {
		return "an unknown interval"
	}
	if n == 1 {
		return "every " + unit
	}
	return fmt.Sprintf("every %d %ss", n, unit)
}

// addInterval returns the day n units after d, as Recharge counts.
func addInterval(d time.Time, unit string, n int) time.Time {
	switch unit {
	case "day":
		return d.AddDate(0, 0, n)
	case "week":
		return d.AddDate(0, 0, 7*n)
	default:
		return d.AddDate(0, n, 0)
	}
}

// parseCents reads a money string ("49.50", "49.5", "49") as cents.
func parseCents(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" || len(frac) > 2 {
		return 0, false
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || w < 0 {
		return 0, false
	}
	frac = (frac + "00")[:2]
	f, err := strconv.ParseInt(frac, 10, 64)
	if err != nil {
		return 0, false
	}
	return w*100 + f, true
}

// money formats cents with the currency: "99.00 USD".
func money(cents int64, currency string) string {
	s := fmt.Sprintf("%d.%02d", cents/100, cents%100)
	if currency != "" {
		s += " " + currency
	}
	return s
}

// joinNames joins names as a sentence does: "A", "A and B", "A, B and C".
func joinNames(names []string) string {
	switch len(names) {
	case 0:
		return ""
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}
