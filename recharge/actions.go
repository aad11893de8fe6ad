package recharge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/rechargekit/rechargekit"
)

// This file holds Actions, rechargekit.ActionSource over the Client: the
// fresh reads and the writes that agent actions make, with Recharge's
// answers mapped to the domain's codes.

// Actions implements rechargekit.ActionSource over the Recharge API. Its
// reads never go through a cache: an action is decided on what Recharge
// holds now. Create it as &Actions{Client: c}; it is safe for concurrent use.
type Actions struct {
	Client *Client
}

var _ rechargekit.ActionSource = (*Actions)(nil)

// forbiddenMessage is what a 403 reads: the token lacks a scope, which only
// the store's admin can grant.
const forbiddenMessage = "rechargekit's Recharge token may not do this; the store's admin can grant it the permission in Recharge"

// actionError maps a client error to the domain's codes, with a message for
// the agent. what completes "could not ..." in the messages.
func actionError(what string, err error) error {
	e, isResp := asErrorResponse(err)
	switch {
	case isResp && e.StatusCode == http.StatusUnprocessableEntity:
		msg := oneLine(e.Message)
		if msg == "" {
			msg = "Recharge refused to " + what + "."
		} else {
			msg = "Recharge refused to " + what + ": " + msg
		}
		return rechargekit.WrapError(rechargekit.EREFUSED, msg, err)
	case isResp && e.StatusCode == http.StatusForbidden:
		// Recharge refused rechargekit's own token (a missing scope): a
		// refusal by Recharge, not the caller's role, with the refusal
		// kept as the cause for the configuration-error logs.
		return rechargekit.WrapError(rechargekit.EREFUSED, forbiddenMessage+".", fmt.Errorf("%w: %w", rechargekit.ErrUpstreamRefused, err))
	case isResp && e.StatusCode == http.StatusNotFound:
		return rechargekit.WrapError(rechargekit.ENOTFOUND, "Recharge does not know it: could not "+what+".", err)
	case IsUnauthorized(err):
		// Recharge refused rechargekit's own token (revoked or mistyped):
		// EUPSTREAM, as everywhere, with the refusal as its cause.
		return rechargekit.UpstreamRefused("Recharge refused rechargekit's API token; could not "+what+".", err)
	case errors.Is(err, ErrBreakerOpen):
		return rechargekit.WrapError(rechargekit.EUPSTREAM, "Recharge is failing; rechargekit is not asking it for a few seconds, so it could not "+what+".", err)
	case IsRateLimited(err):
		return rechargekit.WrapError(rechargekit.EUPSTREAM, "Recharge is rate limiting requests; could not "+what+".", err)
	case errors.Is(err, context.DeadlineExceeded):
		return rechargekit.WrapError(rechargekit.EUPSTREAM, "Recharge did not answer in time; could not "+what+".", err)
	case errors.Is(err, context.Canceled):
		return rechargekit.WrapError(rechargekit.EUPSTREAM, "The request was cancelled; could not "+what+".", err)
	default:
		return rechargekit.WrapError(rechargekit.EUPSTREAM, "Recharge is unavailable; could not "+what+".", err)
	}
}

// DomainActionSubscription maps a Recharge subscription to what the
// actions read: the card's fields, its address and whether it is prepaid.
func DomainActionSubscription(s *Subscription) *rechargekit.ActionSubscription {
	if s == nil {
		return nil
	}
	return &rechargekit.ActionSubscription{
		Subscription: domainSubscription(s, nil),
		AddressID:    int64(s.AddressID),
		Prepaid:      bool(s.IsPrepaid),
	}
}

// DomainCharge maps a Recharge charge to the actions' Charge.
func DomainCharge(c *Charge) *rechargekit.Charge {
	if c == nil {
		return nil
	}
	d := &rechargekit.Charge{
		ID:          int64(c.ID),
		AddressID:   int64(c.AddressID),
		Status:      strings.ToLower(strings.TrimSpace(c.Status)),
		ScheduledAt: c.ScheduledAt.String(),
		TotalPrice:  string(c.TotalPrice),
		Currency:    strings.ToUpper(strings.TrimSpace(c.Currency)),
	}
	for _, li := range c.LineItems {
		if li == nil {
			continue
		}
		d.Lines = append(d.Lines, rechargekit.ChargeLine{
			SubscriptionID: int64(li.PurchaseItemID),
			Title:          li.Title,
			VariantTitle:   li.VariantTitle,
			Quantity:       int(li.Quantity),
			TotalPrice:     string(li.TotalPrice),
		})
	}
	return d
}

// ActionSubscription reads one subscription (GET /subscriptions/{id}).
func (a *Actions) ActionSubscription(ctx context.Context, id int64) (*rechargekit.ActionSubscription, error) {
	s, _, err := a.Client.Subscriptions.Get(ctx, id)
	if err != nil {
		return nil, actionError("read the subscription", err)
	}
	return DomainActionSubscription(s), nil
}

// CustomerSubscriptions reads every subscription of the customer (GET
// /subscriptions?customer_id=, all pages).
func (a *Actions) CustomerSubscriptions(ctx context.Context, customerID int64) ([]*rechargekit.ActionSubscription, error) {
	var out []*rechargekit.ActionSubscription
	for s, err := range a.Client.Subscriptions.All(ctx, &SubscriptionListOptions{CustomerID: customerID, Limit: MaxPageSize}) {
		if err != nil {
			return nil, actionError("read the customer's subscriptions", err)
		}
		out = append(out, DomainActionSubscription(s))
	}
	return out, nil
}

// Charges reads the customer's charges of one status, earliest first (GET
// /charges?customer_id=&status=&sort_by=scheduled_at-asc, all pages).
func (a *Actions) Charges(ctx context.Context, customerID int64, status string) ([]*rechargekit.Charge, error) {
	opts := &ChargeListOptions{CustomerID: customerID, Status: status, SortBy: "scheduled_at-asc", Limit: MaxPageSize}
	var out []*rechargekit.Charge
	for c, err := range a.Client.Charges.All(ctx, opts) {
		if err != nil {
			return nil, actionError("read the customer's "+status+" charges", err)
		}
		out = append(out, DomainCharge(c))
	}
	return out, nil
}

// RetentionReasons reads the store's cancellation reasons (GET
// /retention_strategies), in the store's order, without blanks or repeats.
// A store where the route does not exist (404) has none.
func (a *Actions) RetentionReasons(ctx context.Context) ([]string, error) {
	out := []string{}
	seen := map[string]bool{}
	for s, err := range a.Client.RetentionStrategies.All(ctx, &RetentionStrategyListOptions{Limit: MaxPageSize}) {
		if err != nil {
			if IsNotFound(err) {
				return []string{}, nil
			}
			return nil, actionError("read the store's cancellation reasons", err)
		}
		r := strings.TrimSpace(string(s.Reason))
		if r == "" || seen[r] {
			continue
		}
		seen[r] = true
		out = append(out, r)
	}
	return out, nil
}

// TokenScopes reads the token's scopes (GET /token_information).
func (a *Actions) TokenScopes(ctx context.Context) ([]string, error) {
	ti, _, err := a.Client.TokenInformation(ctx)
	if err != nil {
		return nil, actionError("read what rechargekit's Recharge token may do", err)
	}
	return ti.Scopes, nil
}

// CancelSubscription cancels a subscription with the reason, the comments
// (sent only when not empty) and send_email.
func (a *Actions) CancelSubscription(ctx context.Context, id int64, req rechargekit.CancelRequest) (*rechargekit.ActionSubscription, error) {
	body := &SubscriptionCancelRequest{CancellationReason: req.Reason, SendEmail: &req.SendEmail}
	if c := strings.TrimSpace(req.Comments); c != "" {
		body.CancellationReasonComments = &c
	}
	s, _, err := a.Client.Subscriptions.Cancel(ctx, id, body)
	if errors.Is(err, errNoCancellationReason) {
		return nil, rechargekit.WrapError(rechargekit.EINVALID, "A cancellation reason is required.", err)
	}
	if err != nil {
		return nil, actionError("cancel the subscription", err)
	}
	return DomainActionSubscription(s), nil
}

// ActivateSubscription reactivates a cancelled subscription.
func (a *Actions) ActivateSubscription(ctx context.Context, id int64) (*rechargekit.ActionSubscription, error) {
	s, _, err := a.Client.Subscriptions.Activate(ctx, id)
	if err != nil {
		return nil, actionError("reactivate the subscription", err)
	}
	return DomainActionSubscription(s), nil
}

// SetNextChargeDate moves the subscription's next charge to date.
func (a *Actions) SetNextChargeDate(ctx context.Context, id int64, date string) (*rechargekit.ActionSubscription, error) {
	s, _, err := a.Client.Subscriptions.SetNextChargeDate(ctx, id, date)
	if err != nil {
		return nil, actionError("move the next charge date", err)
	}
	return DomainActionSubscription(s), nil
}

// UpdateSubscription changes the interval (the unit and both frequencies,
// which Recharge wants together) and/or the quantity.
func (a *Actions) UpdateSubscription(ctx context.Context, id int64, u rechargekit.SubscriptionUpdate) (*rechargekit.ActionSubscription, error) {
	req := &SubscriptionUpdateRequest{}
	what := "change the subscription"
	if u.IntervalUnit != "" {
		unit, freq := u.IntervalUnit, u.IntervalFrequency
		req.OrderIntervalUnit, req.OrderIntervalFrequency, req.ChargeIntervalFrequency = &unit, &freq, &freq
		what = "change the frequency"
	}
	if u.Quantity > 0 {
		q := u.Quantity
		req.Quantity = &q
		what = "change the quantity"
	}
	s, _, err := a.Client.Subscriptions.Update(ctx, id, req)
	if err != nil {
		return nil, actionError(what, err)
	}
	return DomainActionSubscription(s), nil
}

// SkipCharge skips the subscription's line of the charge.
func (a *Actions) SkipCharge(ctx context.Context, chargeID, subscriptionID int64) error {
	if _, _, err := a.Client.Charges.Skip(ctx, chargeID, []int64{subscriptionID}); err != nil {
		return actionError("skip the charge", err)
	}
	return nil
}

// UnskipCharge unskips the subscription's line of the charge.
func (a *Actions) UnskipCharge(ctx context.Context, chargeID, subscriptionID int64) error {
	if _, _, err := a.Client.Charges.Unskip(ctx, chargeID, []int64{subscriptionID}); err != nil {
		return actionError("unskip the charge", err)
	}
	return nil
}
