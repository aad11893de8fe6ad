package actions

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/rechargekit/rechargekit"
	"golang.org/x/sync/errgroup"
)

// fresh is what Recharge holds now for one action: read for the preview,
// and again, to compare, before the action is applied.
type fresh struct {
	facts
	queuedAll  []*rechargekit.Charge             // the customer's queued charges (skip, move, cancel)
	skippedAll []*rechargekit.Charge             // the customer's skipped charges (unskip, frequency)
	subs       []*rechargekit.ActionSubscription // the customer's subscriptions (cancel)
	reasons    []string                          // the store's cancellation reasons (cancel)
}

// read reads, concurrently, what the action's preview needs: always the
// subscription; the queued charges for skip, move and cancel; the skipped
// charges for unskip and frequency; the customer's other subscriptions and
// the store's reasons for cancel. Nothing comes from a cache.
func (s *Service) read(ctx context.Context, customerID int64, req *rechargekit.ActionRequest) (*fresh, error) {
	var (
		f   fresh
		sub *rechargekit.ActionSubscription
	)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		var err error
		sub, err = s.Source.ActionSubscription(gctx, req.SubscriptionID)
		return err
	})
	switch req.Action {
	case rechargekit.ActionSkip, rechargekit.ActionSetNextChargeDate, rechargekit.ActionCancel:
		g.Go(func() error {
			var err error
			f.queuedAll, err = s.Source.Charges(gctx, customerID, "queued")
			return err
		})
	case rechargekit.ActionUnskip, rechargekit.ActionChangeFrequency:
		g.Go(func() error {
			var err error
			f.skippedAll, err = s.Source.Charges(gctx, customerID, "skipped")
			return err
		})
	}
	if req.Action == rechargekit.ActionCancel {
		g.Go(func() error {
			var err error
			f.subs, err = s.Source.CustomerSubscriptions(gctx, customerID)
			return err
		})
		g.Go(func() error {
			var err error
			f.reasons, err = s.Source.RetentionReasons(gctx)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		if rechargekit.ErrorCode(err) == rechargekit.ENOTFOUND {
			return nil, rechargekit.WrapError(rechargekit.ENOTFOUND, "This subscription is not one of this customer's.", err)
		}
		return nil, err
	}
	// The card said the subscription is this customer's; Recharge has the
	// last word.
	if sub == nil || sub.CustomerID != customerID {
		return nil, rechargekit.Errorf(rechargekit.ENOTFOUND, "This subscription is not one of this customer's.")
	}
	f.facts = factsFor(sub, f.queuedAll, f.skippedAll, s.today().Format(dateLayout))
	return &f, nil
}

// preview computes the preview of req from f, or the error that says why
// req cannot be done: ECONFLICT for the subscription's state, EINVALID for
// a reason not among the store's.
func (s *Service) preview(req *rechargekit.ActionRequest, actor rechargekit.Actor, f *fresh) (*rechargekit.ActionPreview, error) {
	if why := stateWhy(req.Action, f.facts); why != "" {
		return nil, rechargekit.Errorf(rechargekit.ECONFLICT, "%s", why)
	}
	sub := f.sub
	name := productName(sub.Subscription)
	p := &rechargekit.ActionPreview{
		Action:       req.Action,
		Subscription: sub.Subscription,
		Before:       rechargekit.StateOf(sub.Subscription),
	}
	p.After = p.Before
	say := func(format string, args ...any) { p.Summary = append(p.Summary, fmt.Sprintf(format, args...)) }
	var chargeIDs []int64

	switch req.Action {
	case rechargekit.ActionCancel:
		p.Reasons = slices.Clone(f.reasons)
		if req.Reason != "" && len(f.reasons) > 0 && !slices.Contains(f.reasons, req.Reason) {
			return nil, invalid("The reason must be one of the store's cancellation reasons: %s.", joinNames(quoteAll(f.reasons)))
		}
		p.After.Status, p.After.NextChargeDate = rechargekit.StatusCancelled, ""
		say("%s will be cancelled: Recharge will not charge it again.", name)
		others := 0
		for _, o := range f.subs {
			if o.ID != sub.ID && o.IsActive() {
				others++
			}
		}
		switch others {
		case 0:
			say("It is the customer's last active subscription: the customer will have none left.")
		case 1:
			say("The customer keeps 1 other active subscription.")
		default:
			say("The customer keeps %d other active subscriptions.", others)
		}
		if c := f.queued; c != nil {
			chargeIDs = append(chargeIDs, c.ID)
			rest := otherLines(c, sub.ID)
			if len(rest) == 0 {
				say("Its queued charge of %s goes away: nothing else is on it.", c.ScheduledAt)
			} else {
				say("It leaves the queued charge of %s, which still bills %s.", c.ScheduledAt, joinNames(rest))
			}
		}
		if sendEmail(req) {
			say("Recharge will email the customer that the subscription is cancelled.")
		} else {
			say("Recharge will not email the customer.")
		}
		if len(f.reasons) == 0 {
			say("The store has no cancellation reasons in Recharge, so the reason is free text.")
		}
		p.Summary = append(p.Summary, fmt.Sprintf("Recharge's timeline will name %s.", actorName(actor)))

	case rechargekit.ActionReactivate:
		p.After.Status = rechargekit.StatusActive
		p.After.NextChargeDate = ""
		say("%s will be active again; Recharge sets its next charge date and queues that charge.", name)

	case rechargekit.ActionSkip:
		c := f.queued
		chargeIDs = append(chargeIDs, c.ID)
		if d, err := time.Parse(dateLayout, c.ScheduledAt); err == nil {
			p.After.NextChargeDate = addInterval(d, sub.IntervalUnit, sub.OrderIntervalFrequency).Format(dateLayout)
		}
		say("The charge of %s will be skipped for %s.", c.ScheduledAt, name)
		rest := otherLines(c, sub.ID)
		if len(rest) == 0 {
			say("Nothing else is on that charge, so nothing is billed on %s.", c.ScheduledAt)
		} else {
			say("%s %s on that same charge and %s not skipped: the charge of %s still bills %s, plus shipping.",
				joinNames(rest), isAre(len(rest)), isAre(len(rest)), c.ScheduledAt, money(otherCents(c, sub.ID), c.Currency))
		}
		if p.After.NextChargeDate != "" {
			say("The next charge of %s will then be on %s.", name, p.After.NextChargeDate)
		}

	case rechargekit.ActionUnskip:
		c := f.skipped
		chargeIDs = append(chargeIDs, c.ID)
		p.After.NextChargeDate = c.ScheduledAt
		say("%s will be charged again on %s.", name, c.ScheduledAt)
		say("Recharge quotes that charge's shipping again, so its total may change.")

	case rechargekit.ActionSetNextChargeDate:
		if req.Date == sub.NextChargeDate {
			return nil, rechargekit.Errorf(rechargekit.ECONFLICT, "The next charge of %s is already on %s.", name, req.Date)
		}
		p.After.NextChargeDate = req.Date
		old := sub.NextChargeDate
		if old == "" {
			old = "no date"
		}
		say("The next charge of %s moves from %s to %s.", name, old, req.Date)
		if c := f.queued; c != nil {
			chargeIDs = append(chargeIDs, c.ID)
			if rest := otherLines(c, sub.ID); len(rest) > 0 {
				say("%s %s on the charge of %s and will stay on it.", joinNames(rest), isAre(len(rest)), c.ScheduledAt)
			}
		}
		for _, c := range f.queuedAll {
			if c.AddressID == sub.AddressID && c.ScheduledAt == req.Date && c.Line(sub.ID) == nil {
				chargeIDs = append(chargeIDs, c.ID)
				say("Another charge of the same address is already due on %s (%s): Recharge will merge them into one charge.",
					req.Date, joinNames(otherLines(c, sub.ID)))
			}
		}

	case rechargekit.ActionChangeFrequency:
		if req.IntervalUnit == sub.IntervalUnit && req.IntervalFrequency == sub.ChargeIntervalFrequency && req.IntervalFrequency == sub.OrderIntervalFrequency {
			return nil, rechargekit.Errorf(rechargekit.ECONFLICT, "%s is already charged and delivered %s.", name, interval(req.IntervalUnit, req.IntervalFrequency))
		}
		p.After.IntervalUnit, p.After.IntervalFrequency = req.IntervalUnit, req.IntervalFrequency
		say("%s will be charged and delivered %s instead of %s.", name,
			interval(req.IntervalUnit, req.IntervalFrequency), interval(sub.IntervalUnit, sub.ChargeIntervalFrequency))
		if sub.NextChargeDate != "" {
			say("Recharge may recalculate the next charge date (now %s) from the new interval.", sub.NextChargeDate)
		}
		var skips []string
		for _, c := range f.skippedAll {
			if c.Line(sub.ID) != nil {
				chargeIDs = append(chargeIDs, c.ID)
				skips = append(skips, c.ScheduledAt)
			}
		}
		if len(skips) > 0 {
			say("The skips already made on this subscription (%s) will be dropped.", joinNames(skips))
		} else {
			say("Recharge drops skips made on this subscription; it has none now.")
		}

	case rechargekit.ActionChangeQuantity:
		if req.Quantity == sub.Quantity {
			return nil, rechargekit.Errorf(rechargekit.ECONFLICT, "The quantity of %s is already %d.", name, req.Quantity)
		}
		p.After.Quantity = req.Quantity
		if unit, ok := parseCents(sub.Price); ok {
			say("The quantity of %s changes from %d to %d: each charge will bill %s for it instead of %s.", name,
				sub.Quantity, req.Quantity, money(unit*int64(req.Quantity), sub.Currency), money(unit*int64(sub.Quantity), sub.Currency))
		} else {
			say("The quantity of %s changes from %d to %d.", name, sub.Quantity, req.Quantity)
		}
	}
	p.Token = token(req, sub, chargeIDs, f)
	return p, nil
}

// otherLines names the lines of c that are not the subscription's.
func otherLines(c *rechargekit.Charge, subID int64) []string {
	var out []string
	for _, l := range c.Lines {
		if l.SubscriptionID != subID {
			out = append(out, lineName(l))
		}
	}
	return out
}

// otherCents sums the lines of c that are not the subscription's.
func otherCents(c *rechargekit.Charge, subID int64) int64 {
	var sum int64
	for _, l := range c.Lines {
		if l.SubscriptionID != subID {
			if v, ok := parseCents(l.TotalPrice); ok {
				sum += v
			}
		}
	}
	return sum
}

func isAre(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strconv.Quote(s)
	}
	return out
}

// token identifies the state a preview was computed from: the
// subscription's updated_at and every field an action changes (Recharge
// does not bump updated_at when only the date moves), the charges the
// preview speaks of, what else decides its sentences (the customer's other
// active subscriptions, the store's reasons), and the request's inputs that
// change what it says (date, interval, quantity). The cancel reason,
// comments and email choice are left out: the agent picks them on the
// preview's form.
func token(req *rechargekit.ActionRequest, sub *rechargekit.ActionSubscription, chargeIDs []int64, f *fresh) string {
	var active []int64
	for _, o := range f.subs {
		if o.IsActive() {
			active = append(active, o.ID)
		}
	}
	slices.Sort(active)
	state := struct {
		Action     string
		Sub        int64
		Updated    string
		State      rechargekit.SubscriptionState
		Price      string
		Prepaid    bool
		Charges    []int64
		ChargeSums []string
		Active     []int64
		Reasons    []string
		Date       string
		Unit       string
		Freq       int
		Quantity   int
	}{
		Action: req.Action, Sub: sub.ID, Updated: sub.UpdatedAt.UTC().Format(time.RFC3339Nano),
		State: rechargekit.StateOf(sub.Subscription), Price: sub.Price, Prepaid: sub.Prepaid,
		Charges: chargeIDs, Active: active, Reasons: f.reasons,
		Date: req.Date, Unit: req.IntervalUnit, Freq: req.IntervalFrequency, Quantity: req.Quantity,
	}
	for _, c := range append(slices.Clone(f.queuedAll), f.skippedAll...) {
		if slices.Contains(chargeIDs, c.ID) {
			state.ChargeSums = append(state.ChargeSums, c.Status+":"+c.ScheduledAt+":"+c.TotalPrice+":"+strconv.Itoa(len(c.Lines)))
		}
	}
	b, _ := json.Marshal(state)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}
