// Package actions lets agents change subscriptions safely: it decides which
// actions each subscription offers to whom (the subscription's state, the
// actor's role, the Recharge token's scopes), previews an action from fresh
// Recharge data, and applies it once per idempotency key, auditing every
// attempt (the intent first, then its outcome). The console, the JSON API
// and the Gladly forms all go through it; none of them decides policy.
//
// It depends only on the domain: rechargekit.ActionSource for Recharge,
// rechargekit.ActionStore for the audit and the policy, and the card
// service to check which customer a subscription belongs to and to read
// the card again after a change.
package actions

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/rechargekit/rechargekit"
	"golang.org/x/sync/errgroup"
)

// DefaultScopesTTL is how long the Recharge token's scopes are remembered.
// They change only when the store's admin edits the token.
const DefaultScopesTTL = 5 * time.Minute

// Cards is the card service as the actions use it: the card tells which
// subscriptions are the customer's before anything is sent to Recharge,
// and after a change the card is invalidated in every cache and read again.
// cards.Cached implements it.
type Cards interface {
	Card(ctx context.Context, customerID int64) (*rechargekit.Card, error)
	Invalidate(ctx context.Context, customerID int64) error
}

// Links finds the customer a profile is linked to. rechargekit.LinkStore
// implements it.
type Links interface {
	// Link returns the profile's link. Errors: ENOTFOUND when unlinked.
	Link(ctx context.Context, profileID string) (*rechargekit.Link, error)
}

// recordTimeout bounds recording an attempt's outcome, and dropping the
// customer's card from the caches, once Recharge has answered, apart from
// the caller's deadline.
const recordTimeout = 5 * time.Second

// Service implements rechargekit.ActionService. Set Source, Store, Cards
// and Links; the zero values of the others are usable. It is safe for
// concurrent use and must not be copied after first use.
type Service struct {
	Source rechargekit.ActionSource
	Store  rechargekit.ActionStore
	Cards  Cards
	Links  Links

	Now       func() time.Time // time.Now when nil
	Logger    *slog.Logger     // nothing logged when nil
	ScopesTTL time.Duration    // DefaultScopesTTL when zero

	// PolicyTTL is how long CardOffers trusts its cached policy before
	// reading it again in the background (DefaultPolicyTTL when zero).
	PolicyTTL time.Duration
	// PolicyWait bounds CardOffers' wait for the first read of the policy
	// (DefaultPolicyWait when zero).
	PolicyWait time.Duration

	scopesMu sync.Mutex
	scopes   []string
	scopesAt time.Time

	policy policyCache
}

var _ rechargekit.ActionService = (*Service)(nil)

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// today is the service's calendar day in UTC (the simulator's and, for
// most stores, close enough to Recharge's own check).
func (s *Service) today() time.Time {
	y, m, d := s.now().UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

func (s *Service) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

// tokenScopes returns the Recharge token's scopes, remembered for
// ScopesTTL; nil when they cannot be read (then nothing is hidden for
// them, and Recharge's own 403 says it).
func (s *Service) tokenScopes(ctx context.Context) []string {
	scopes, err := s.readScopes(ctx)
	if err != nil {
		s.logger().LogAttrs(ctx, slog.LevelWarn, "actions: token scopes unavailable; offering actions regardless",
			slog.String("error", err.Error()))
		return nil
	}
	return scopes
}

// readScopes returns the Recharge token's scopes from the cache while they
// are younger than ScopesTTL, and otherwise from Recharge, remembering
// them. A failed read is not remembered: the next call asks again.
func (s *Service) readScopes(ctx context.Context) ([]string, error) {
	ttl := s.ScopesTTL
	if ttl <= 0 {
		ttl = DefaultScopesTTL
	}
	s.scopesMu.Lock()
	if s.scopes != nil && s.now().Sub(s.scopesAt) < ttl {
		defer s.scopesMu.Unlock()
		return s.scopes, nil
	}
	s.scopesMu.Unlock()
	scopes, err := s.Source.TokenScopes(ctx)
	if err != nil {
		return nil, err
	}
	if scopes == nil {
		scopes = []string{}
	}
	s.scopesMu.Lock()
	s.scopes, s.scopesAt = scopes, s.now()
	s.scopesMu.Unlock()
	return scopes, nil
}

// resolve returns the customer the target is for. Errors: ENOTFOUND.
func (s *Service) resolve(ctx context.Context, t rechargekit.ActionTarget) (int64, error) {
	if t.ProfileID == "" {
		if t.CustomerID <= 0 {
			return 0, rechargekit.Errorf(rechargekit.ENOTFOUND, "No Recharge customer was given.")
		}
		return t.CustomerID, nil
	}
	l, err := s.Links.Link(ctx, t.ProfileID)
	if rechargekit.ErrorCode(err) == rechargekit.ENOTFOUND {
		return 0, rechargekit.WrapError(rechargekit.ENOTFOUND, "This profile is not linked to a Recharge customer.", err)
	}
	if err != nil {
		return 0, err
	}
	if t.CustomerID != 0 && t.CustomerID != l.CustomerID {
		return 0, rechargekit.Errorf(rechargekit.ENOTFOUND, "This profile is not linked to that Recharge customer.")
	}
	return l.CustomerID, nil
}

// owns checks, on the customer's card (normally cached: the agent just
// looked at it), that the subscription is the customer's, so that a forged
// id sends nothing to Recharge about another customer's subscription. The
// fresh read that follows checks it again. Errors: ENOTFOUND, and the
// card's.
func (s *Service) owns(ctx context.Context, customerID, subID int64) error {
	card, err := s.Cards.Card(ctx, customerID)
	if err != nil {
		return err
	}
	for _, sub := range card.Subscriptions {
		if sub.ID == subID {
			return nil
		}
	}
	return rechargekit.Errorf(rechargekit.ENOTFOUND, "This subscription is not one of this customer's.")
}

// Offers implements rechargekit.ActionService. It reads the customer's
// subscriptions and their queued and skipped charges from Recharge (fresh),
// the token's scopes (remembered for ScopesTTL) and the policy.
func (s *Service) Offers(ctx context.Context, t rechargekit.ActionTarget, actor rechargekit.Actor) ([]*rechargekit.SubscriptionActions, error) {
	customerID, err := s.resolve(ctx, t)
	if err != nil {
		return nil, err
	}
	var (
		subs              []*rechargekit.ActionSubscription
		queued, skipped   []*rechargekit.Charge
		queuedE, skippedE error
		scopes            []string
		policy            rechargekit.ActionPolicy
	)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) { subs, err = s.Source.CustomerSubscriptions(gctx, customerID); return err })
	// A token that may not read charges still gets its other offers.
	g.Go(func() error {
		queued, queuedE = s.Source.Charges(gctx, customerID, "queued")
		return softCharges(queuedE)
	})
	g.Go(func() error {
		skipped, skippedE = s.Source.Charges(gctx, customerID, "skipped")
		return softCharges(skippedE)
	})
	g.Go(func() error { scopes = s.tokenScopes(gctx); return nil })
	g.Go(func() (err error) { policy, err = s.Store.ActionPolicy(gctx); return err })
	if err := g.Wait(); err != nil {
		return nil, err
	}
	chargesUnknown := queuedE != nil || skippedE != nil

	plain := make([]*rechargekit.Subscription, 0, len(subs))
	byID := make(map[int64]*rechargekit.ActionSubscription, len(subs))
	for _, sub := range subs {
		plain = append(plain, sub.Subscription)
		byID[sub.ID] = sub
	}
	rechargekit.SortSubscriptions(plain)
	today := s.today().Format(dateLayout)
	out := make([]*rechargekit.SubscriptionActions, 0, len(plain))
	for _, p := range plain {
		f := factsFor(byID[p.ID], queued, skipped, today)
		f.chargesUnknown = chargesUnknown
		sa := &rechargekit.SubscriptionActions{Subscription: p}
		for _, a := range rechargekit.AllActions() {
			why := ""
			switch {
			case !policy.Allows(actor.Role, a):
				why = policyWhy(actor, a)
			case scopeWhy(scopes, a) != "":
				why = scopeWhy(scopes, a)
			default:
				why = stateWhy(a, f)
			}
			sa.Offers = append(sa.Offers, rechargekit.ActionOffer{Action: a, Offered: why == "", Why: why})
		}
		out = append(out, sa)
	}
	return out, nil
}

// softCharges lets a 403 on reading charges pass: skip and unskip are then
// not offered, with a reason, and the rest is.
func softCharges(err error) error {
	if rechargekit.ErrorCode(err) == rechargekit.EREFUSED && errors.Is(err, rechargekit.ErrUpstreamRefused) {
		return nil
	}
	return err
}

// check runs the steps Preview and Do share before anything is read from
// Recharge: the target, the subscription's owner, the action's name.
func (s *Service) check(ctx context.Context, t rechargekit.ActionTarget, req *rechargekit.ActionRequest) (int64, error) {
	if err := validateAction(req); err != nil {
		return 0, err
	}
	customerID, err := s.resolve(ctx, t)
	if err != nil {
		return 0, err
	}
	if err := s.owns(ctx, customerID, req.SubscriptionID); err != nil {
		return 0, err
	}
	return customerID, nil
}

// Preview implements rechargekit.ActionService. A cancel may be previewed
// without a reason: the preview carries the store's reasons to choose from.
func (s *Service) Preview(ctx context.Context, t rechargekit.ActionTarget, actor rechargekit.Actor, req *rechargekit.ActionRequest) (*rechargekit.ActionPreview, error) {
	if req == nil {
		return nil, invalid("An action is required.")
	}
	req = normalize(req)
	customerID, err := s.check(ctx, t, req)
	if err != nil {
		return nil, err
	}
	policy, err := s.Store.ActionPolicy(ctx)
	if err != nil {
		return nil, err
	}
	if !policy.Allows(actor.Role, req.Action) {
		return nil, rechargekit.Errorf(rechargekit.EFORBIDDEN, "%s", policyWhy(actor, req.Action))
	}
	if err := validateInput(req, actor, s.today(), true); err != nil {
		return nil, err
	}
	f, err := s.read(ctx, customerID, req)
	if err != nil {
		return nil, err
	}
	return s.preview(req, actor, f)
}

// requestHash identifies what was asked, to tell a repeated submit from
// another request under the same key. The preview token is left out: a
// resubmit after a new preview is the same request.
func requestHash(t rechargekit.ActionTarget, customerID int64, req *rechargekit.ActionRequest) string {
	b, _ := json.Marshal(struct {
		Profile  string
		Customer int64
		Inputs   json.RawMessage
	}{t.ProfileID, customerID, inputs(req)})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// inputs is the request's fields that the action reads, as the audit keeps
// them.
func inputs(req *rechargekit.ActionRequest) json.RawMessage {
	m := map[string]any{"action": req.Action, "subscriptionId": req.SubscriptionID}
	switch req.Action {
	case rechargekit.ActionCancel:
		m["reason"], m["comments"], m["sendEmail"] = req.Reason, req.Comments, sendEmail(req)
	case rechargekit.ActionSetNextChargeDate:
		m["date"] = req.Date
	case rechargekit.ActionChangeFrequency:
		m["intervalUnit"], m["intervalFrequency"] = req.IntervalUnit, req.IntervalFrequency
	case rechargekit.ActionChangeQuantity:
		m["quantity"] = req.Quantity
	}
	b, _ := json.Marshal(m) // map keys are sorted: the same request gives the same bytes
	return b
}

// record returns the audit record of an attempt.
func record(t rechargekit.ActionTarget, actor rechargekit.Actor, customerID int64, req *rechargekit.ActionRequest, key, hash string) *rechargekit.ActionRecord {
	return &rechargekit.ActionRecord{
		IdempotencyKey: key, RequestHash: hash,
		ActorRole: actor.Role, ActorName: actorName(actor), Via: actor.Via, CorrelationID: actor.CorrelationID,
		ProfileID: t.ProfileID, CustomerID: customerID, SubscriptionID: req.SubscriptionID,
		Action: req.Action, Inputs: string(inputs(req)),
		Outcome: rechargekit.OutcomePending,
	}
}

// Do implements rechargekit.ActionService: target and owner, the
// idempotency key, policy (a refusal is audited), input, a fresh preview
// compared with the confirmed one, the intent recorded, one Recharge
// write, the outcome recorded, the card invalidated and read again.
//
// A policy refusal is audited without the idempotency key, so that the key
// stays usable once an admin allows the action.
func (s *Service) Do(ctx context.Context, t rechargekit.ActionTarget, actor rechargekit.Actor, req *rechargekit.ActionRequest, key string) (*rechargekit.ActionResult, error) {
	if req == nil {
		return nil, invalid("An action is required.")
	}
	req = normalize(req)
	customerID, err := s.check(ctx, t, req)
	if err != nil {
		return nil, err
	}
	hash := requestHash(t, customerID, req)

	// The key is looked up before the policy and before the input is
	// checked against today's date: a submit already applied replays its
	// outcome (and sends nothing) even after an admin has since withdrawn
	// the permission, or when a date accepted yesterday is today, rather
	// than answering a refusal for a change that was made.
	if key != "" {
		prev, err := s.Store.ActionByKey(ctx, key, s.now().Add(-rechargekit.IdempotencyWindow))
		switch rechargekit.ErrorCode(err) {
		case "":
			return s.replay(ctx, prev, hash)
		case rechargekit.ENOTFOUND:
		default:
			return nil, err
		}
	}
	policy, err := s.Store.ActionPolicy(ctx)
	if err != nil {
		return nil, err
	}
	if !policy.Allows(actor.Role, req.Action) {
		why := policyWhy(actor, req.Action)
		rec := record(t, actor, customerID, req, "", hash)
		rec.Outcome, rec.Message = rechargekit.OutcomeRefusedPolicy, why
		if _, err := s.Store.BeginAction(ctx, rec); err != nil {
			return nil, err
		}
		return &rechargekit.ActionResult{Record: rec}, rechargekit.Errorf(rechargekit.EFORBIDDEN, "%s", why)
	}
	if err := validateInput(req, actor, s.today(), false); err != nil {
		return nil, err
	}

	f, err := s.read(ctx, customerID, req)
	if err != nil {
		return nil, err
	}
	p, err := s.preview(req, actor, f)
	if err != nil {
		return nil, err
	}
	if req.PreviewToken != "" && req.PreviewToken != p.Token {
		return nil, &rechargekit.Error{
			Code:    rechargekit.ECONFLICT,
			Message: "The subscription changed since the preview; nothing was done. Read the new preview and confirm again.",
			Err:     &rechargekit.PreviewChangedError{Preview: p},
		}
	}

	rec := record(t, actor, customerID, req, key, hash)
	before := p.Before
	rec.Before = &before
	prev, err := s.Store.BeginAction(ctx, rec)
	if prev != nil {
		// Another submit with the key began between our look-up and now.
		return s.replay(ctx, prev, hash)
	}
	if err != nil {
		return nil, err
	}

	after, werr := s.write(ctx, req, actor, f)
	outcome, message := rechargekit.OutcomeDone, ""
	switch code := rechargekit.ErrorCode(werr); {
	case code == "":
	case code == rechargekit.EREFUSED, code == rechargekit.ENOTFOUND, code == rechargekit.EINVALID,
		errors.Is(werr, rechargekit.ErrUpstreamRefused):
		// Recharge answered no (a 4xx, rechargekit's token refused
		// included): nothing was applied.
		outcome, message = rechargekit.OutcomeRefusedRecharge, rechargekit.ErrorMessage(werr)
	default:
		outcome, message = rechargekit.OutcomeFailed, rechargekit.ErrorMessage(werr)
	}
	var afterState *rechargekit.SubscriptionState
	if after != nil {
		st := rechargekit.StateOf(after.Subscription)
		afterState = &st
	}
	res := &rechargekit.ActionResult{Record: rec}
	// Recharge has answered: the outcome is recorded even when the caller's
	// deadline ran out or it went away meanwhile (a surface's request
	// deadline must not leave the attempt pending), within a bound of its
	// own.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	if cerr := s.Store.CompleteAction(rctx, rec.ID, outcome, message, afterState); cerr != nil {
		// The intent stays pending: a resubmit with the key is refused
		// rather than sent again, and the audit keeps the attempt.
		s.logger().LogAttrs(ctx, slog.LevelError, "actions: outcome not recorded; the attempt stays pending",
			slog.Int64("action_id", rec.ID), slog.String("outcome", outcome), slog.String("error", cerr.Error()))
		if outcome == rechargekit.OutcomeDone {
			res.Card = s.refresh(ctx, customerID)
			return res, rechargekit.WrapError(rechargekit.EINTERNAL,
				"Recharge applied the change, but rechargekit could not record it: the audit shows it as pending.", cerr)
		}
		if werr != nil {
			return res, werr
		}
		return res, cerr
	}
	now := s.now()
	rec.Outcome, rec.Message, rec.After, rec.CompletedAt = outcome, message, afterState, &now
	if outcome != rechargekit.OutcomeRefusedRecharge {
		// A failure may have been applied all the same: the card is read
		// again in both cases.
		res.Card = s.refresh(ctx, customerID)
	}
	if werr != nil {
		if outcome == rechargekit.OutcomeFailed {
			return res, rechargekit.WrapError(rechargekit.EUPSTREAM, message+" Recharge may or may not have applied it: check the card before trying again.", werr)
		}
		return res, werr
	}
	return res, nil
}

// write makes the one Recharge write of the action and returns the
// subscription as Recharge has it after (read again for skip and unskip,
// whose answer is the charge).
func (s *Service) write(ctx context.Context, req *rechargekit.ActionRequest, actor rechargekit.Actor, f *fresh) (*rechargekit.ActionSubscription, error) {
	id := req.SubscriptionID
	var err error
	switch req.Action {
	case rechargekit.ActionCancel:
		return s.Source.CancelSubscription(ctx, id, rechargekit.CancelRequest{
			Reason: req.Reason, Comments: commentWithActor(req.Comments, actor), SendEmail: sendEmail(req),
		})
	case rechargekit.ActionReactivate:
		return s.Source.ActivateSubscription(ctx, id)
	case rechargekit.ActionSetNextChargeDate:
		return s.Source.SetNextChargeDate(ctx, id, req.Date)
	case rechargekit.ActionChangeFrequency:
		return s.Source.UpdateSubscription(ctx, id, rechargekit.SubscriptionUpdate{IntervalUnit: req.IntervalUnit, IntervalFrequency: req.IntervalFrequency})
	case rechargekit.ActionChangeQuantity:
		return s.Source.UpdateSubscription(ctx, id, rechargekit.SubscriptionUpdate{Quantity: req.Quantity})
	case rechargekit.ActionSkip:
		err = s.Source.SkipCharge(ctx, f.queued.ID, id)
	case rechargekit.ActionUnskip:
		err = s.Source.UnskipCharge(ctx, f.skipped.ID, id)
	}
	if err != nil {
		return nil, err
	}
	sub, rerr := s.Source.ActionSubscription(ctx, id)
	if rerr != nil {
		// The write is done; only the audit's state after is missing.
		s.logger().LogAttrs(ctx, slog.LevelWarn, "actions: state after the change unavailable",
			slog.Int64("subscription_id", id), slog.String("error", rerr.Error()))
		return nil, nil
	}
	return sub, nil
}

// refresh invalidates the customer's card in every cache and reads it
// again: Recharge regenerates charges (new ids) after a change, so the
// agent, the API caller and Gladly's next lookup must all see the change.
// nil when the card cannot be read now. Like the outcome, the invalidation
// is done even when the caller's deadline ran out or it went away: a card
// left in a shared cache would show the subscription as it was before, on
// every replica, for the cache's whole lifetime.
func (s *Service) refresh(ctx context.Context, customerID int64) *rechargekit.Card {
	ictx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	if err := s.Cards.Invalidate(ictx, customerID); err != nil {
		s.logger().LogAttrs(ctx, slog.LevelError, "actions: card not invalidated after a change",
			slog.Int64("customer_id", customerID), slog.String("error", err.Error()))
	}
	card, err := s.Cards.Card(ctx, customerID)
	if err != nil {
		s.logger().LogAttrs(ctx, slog.LevelWarn, "actions: card not read again after a change",
			slog.Int64("customer_id", customerID), slog.String("error", err.Error()))
		return nil
	}
	return card
}

// replay answers a submit whose key was seen within the window: the first
// attempt's outcome, with nothing sent to Recharge.
func (s *Service) replay(ctx context.Context, prev *rechargekit.ActionRecord, hash string) (*rechargekit.ActionResult, error) {
	res := &rechargekit.ActionResult{Record: prev, Replayed: true}
	if prev.RequestHash != hash {
		return res, rechargekit.Errorf(rechargekit.ECONFLICT, "This idempotency key was already used for another request; nothing was done.")
	}
	switch prev.Outcome {
	case rechargekit.OutcomePending:
		return res, rechargekit.Errorf(rechargekit.ECONFLICT,
			"This action is already being applied (begun at %s); nothing was sent again. Check the subscription before trying once more.",
			prev.At.UTC().Format(rechargekit.TimeLayout))
	case rechargekit.OutcomeRefusedRecharge:
		return res, rechargekit.Errorf(rechargekit.EREFUSED, "%s", prev.Message)
	case rechargekit.OutcomeFailed:
		return res, rechargekit.Errorf(rechargekit.EUPSTREAM, "%s", prev.Message)
	case rechargekit.OutcomeRefusedPolicy:
		return res, rechargekit.Errorf(rechargekit.EFORBIDDEN, "%s", prev.Message)
	}
	card, err := s.Cards.Card(ctx, prev.CustomerID)
	if err == nil {
		res.Card = card
	}
	return res, nil
}
