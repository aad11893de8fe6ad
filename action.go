package rechargekit

import (
	"context"
	"errors"
	"time"
)

// Actions an agent can take on a subscription. The values are the wire
// names the JSON API and the Gladly forms use.
const (
	ActionCancel            = "cancel"
	ActionReactivate        = "reactivate"
	ActionSkip              = "skip"   // the subscription's line on its next queued charge
	ActionUnskip            = "unskip" // the subscription's line on its skipped charge
	ActionSetNextChargeDate = "set_next_charge_date"
	ActionChangeFrequency   = "change_frequency"
	ActionChangeQuantity    = "change_quantity"
)

// AllActions lists every action, in the order the surfaces offer them.
func AllActions() []string {
	return []string{ActionCancel, ActionReactivate, ActionSkip, ActionUnskip,
		ActionSetNextChargeDate, ActionChangeFrequency, ActionChangeQuantity}
}

// RoleGladly is the role of requests from the Gladly desk, which carry no
// agent identity. Admins grant actions to it like to the console's roles.
const RoleGladly = "gladly"

// Where an action was asked for.
const (
	ViaConsole = "console"
	ViaAPI     = "api"
	ViaGladly  = "gladly"
)

// Actor is who asks for an action: what the policy is checked against and
// what the audit records.
type Actor struct {
	Role          string // RoleAdmin, RoleAgent or RoleGladly
	Name          string // a user's email, an API token's name, or "Gladly"
	Via           string // ViaConsole, ViaAPI or ViaGladly
	CorrelationID string // Gladly's correlation id, when Via is ViaGladly
}

// ActionTarget names the customer an action is for. The console and the
// JSON API give a profile, and the customer is the one it is linked to; the
// Gladly desk gives the Recharge customer it linked (CustomerID alone). A
// subscription is acted on only when it belongs to the target's customer.
type ActionTarget struct {
	ProfileID  string // "" for Gladly
	CustomerID int64  // 0: the profile's linked customer
}

// ActionRequest is one action as a surface submits it; only the fields the
// action needs are read.
type ActionRequest struct {
	Action         string
	SubscriptionID int64

	Reason    string // cancel: one of the store's retention reasons, or free text when it has none
	Comments  string // cancel: the agent's comment; the actor is appended before sending
	SendEmail *bool  // cancel: notify the customer; nil means yes

	Date string // set_next_charge_date: YYYY-MM-DD

	IntervalUnit      string // change_frequency: day, week or month
	IntervalFrequency int    // change_frequency

	Quantity int // change_quantity

	// PreviewToken is the Token of the preview the agent confirmed; the
	// action is refused with ECONFLICT when the subscription changed since.
	// Optional on the JSON API.
	PreviewToken string
}

// ActionOffer says whether one action is offered on one subscription.
type ActionOffer struct {
	Action  string
	Offered bool
	Why     string // when not offered: a full sentence saying why
}

// SubscriptionActions lists the offers for one subscription of a customer.
type SubscriptionActions struct {
	Subscription *Subscription
	Offers       []ActionOffer // one per action of AllActions, in that order
}

// SubscriptionState is what an action can change on a subscription: what
// the audit keeps before and after.
type SubscriptionState struct {
	Status            string `json:"status"`
	NextChargeDate    string `json:"nextChargeDate,omitempty"`
	IntervalUnit      string `json:"intervalUnit,omitempty"`
	IntervalFrequency int    `json:"intervalFrequency,omitempty"`
	Quantity          int    `json:"quantity,omitempty"`
}

// StateOf returns the subscription's state as the audit records it.
func StateOf(s *Subscription) SubscriptionState {
	return SubscriptionState{
		Status:            s.Status,
		NextChargeDate:    s.NextChargeDate,
		IntervalUnit:      s.IntervalUnit,
		IntervalFrequency: s.ChargeIntervalFrequency,
		Quantity:          s.Quantity,
	}
}

// ActionPreview states, from fresh Recharge data, what an action will do.
type ActionPreview struct {
	Action       string
	Subscription *Subscription // as Recharge has it now

	// Summary says in plain full sentences what will change and what else
	// it touches (the other lines of a skipped charge, a merge with another
	// charge, the customer's last active subscription, ...).
	Summary []string

	// Reasons are the store's cancellation reasons (cancel only), offered
	// verbatim; empty when the store has none and free text is taken.
	Reasons []string

	Before SubscriptionState
	After  SubscriptionState // what the subscription is expected to be after

	// Token identifies the state the preview was computed from; confirm
	// with it in ActionRequest.PreviewToken. It is a hash of the
	// subscription's updated_at and of every field an action changes
	// (Recharge does not bump updated_at when only the date moves), of the
	// charges the preview speaks of, of the customer's active
	// subscriptions and the store's reasons (cancel), and of the inputs
	// that change what the preview says (date, interval, quantity). A
	// cancel's reason, comments and email choice are left out: the agent
	// picks them on the preview's form.
	Token string
}

// Action outcomes, as the audit records them.
const (
	OutcomePending         = "pending"          // the intent is recorded; Recharge's answer is not (yet)
	OutcomeDone            = "done"             // Recharge applied it
	OutcomeRefusedPolicy   = "refused_policy"   // the actor's role may not do it
	OutcomeRefusedRecharge = "refused_recharge" // Recharge refused it (4xx), its message kept
	OutcomeFailed          = "failed"           // Recharge failed or did not answer; it may or may not have applied it
)

// ActionRecord is one action attempt in the audit: written before Recharge
// is called (OutcomePending) and completed with its outcome after. It is
// also the idempotency record of its key.
type ActionRecord struct {
	ID          int64
	At          time.Time  // when the attempt began
	CompletedAt *time.Time // nil while pending

	IdempotencyKey string // "" when the caller sent none
	RequestHash    string // what was asked, hashed: the same key with another request is a conflict

	ActorRole     string
	ActorName     string
	Via           string
	CorrelationID string

	ProfileID      string
	CustomerID     int64
	SubscriptionID int64
	Action         string
	Inputs         string // the request's fields, as JSON

	Before *SubscriptionState
	After  *SubscriptionState

	Outcome string // one of the Outcome* constants
	Message string // Recharge's or the policy's message, one line
}

// ActionFilter narrows an action audit query; zero values match everything.
type ActionFilter struct {
	Action     string
	ActorName  string
	CustomerID int64
	ProfileID  string
	Outcome    string
	Limit      int // default 100 (also for a negative Limit), at most 1000
}

// ActionPolicy says, per role, which actions are allowed.
type ActionPolicy map[string]map[string]bool

// Allows reports whether role may take action.
func (p ActionPolicy) Allows(role, action string) bool { return p[role][action] }

// DefaultActionPolicy returns the policy of a store that was never
// configured: admins may do everything; agents and Gladly may cancel,
// reactivate, skip, unskip and move the next charge date; frequency and
// quantity changes are for admins only.
func DefaultActionPolicy() ActionPolicy {
	everyday := func() map[string]bool {
		return map[string]bool{ActionCancel: true, ActionReactivate: true, ActionSkip: true,
			ActionUnskip: true, ActionSetNextChargeDate: true}
	}
	admin := map[string]bool{}
	for _, a := range AllActions() {
		admin[a] = true
	}
	return ActionPolicy{RoleAdmin: admin, RoleAgent: everyday(), RoleGladly: everyday()}
}

// IdempotencyWindow is how long an idempotency key is remembered: the same
// key again within it returns the first outcome and sends nothing.
const IdempotencyWindow = 24 * time.Hour

// ActionStore keeps the action audit, which is also the idempotency record.
// Rows are append-only but for completing a pending one.
type ActionStore interface {
	// BeginAction records an attempt's intent (rec.Outcome is pending, or a
	// final outcome for an attempt refused before Recharge is called, such
	// as by policy) and sets rec.ID and rec.At. When rec.IdempotencyKey is
	// set and an attempt with the same key was begun within
	// IdempotencyWindow, nothing is written and that attempt is returned
	// instead (with ECONFLICT when its RequestHash differs). Errors:
	// EINVALID, ECONFLICT.
	BeginAction(ctx context.Context, rec *ActionRecord) (existing *ActionRecord, err error)
	// CompleteAction sets a pending attempt's outcome, message, state
	// after and completion time. Errors: EINVALID (outcome pending or
	// unknown), ENOTFOUND (no such attempt), ECONFLICT (already completed).
	CompleteAction(ctx context.Context, id int64, outcome, message string, after *SubscriptionState) error
	// ActionByKey returns the attempt begun with the idempotency key at or
	// after since (the newest when there are several), so that a repeated
	// submit is answered before Recharge is read again. BeginAction still
	// decides races between two submits. Errors: EINVALID (empty key),
	// ENOTFOUND (none).
	ActionByKey(ctx context.Context, key string, since time.Time) (*ActionRecord, error)
	// ActionRecords returns attempts, newest first. Errors: EINVALID.
	ActionRecords(ctx context.Context, f ActionFilter) ([]*ActionRecord, error)
	// ActionPolicy returns the per-role policy (DefaultActionPolicy when
	// never set).
	ActionPolicy(ctx context.Context) (ActionPolicy, error)
	// UpdateActionPolicy replaces the policy and appends one
	// AuditSettingChange entry per changed permission. Errors: EINVALID
	// (unknown role or action, empty by).
	UpdateActionPolicy(ctx context.Context, p ActionPolicy, by string) error
}

// PreviewChangedError is the cause (Error.Err) of the ECONFLICT that Do
// answers when the subscription changed since the preview the agent
// confirmed: Preview is the new one, computed from the same fresh data, for
// the surface to show instead. Use ChangedPreview to get it.
type PreviewChangedError struct {
	Preview *ActionPreview
}

// Error implements the error interface.
func (e *PreviewChangedError) Error() string { return "subscription changed since the preview" }

// ChangedPreview returns the new preview carried by err when err says the
// subscription changed since the preview, and nil otherwise.
func ChangedPreview(err error) *ActionPreview {
	var pc *PreviewChangedError
	if errors.As(err, &pc) {
		return pc.Preview
	}
	return nil
}

// ActionSubscription is a subscription as the actions read it from
// Recharge: the card's fields plus what decides which actions make sense.
type ActionSubscription struct {
	*Subscription
	AddressID int64
	Prepaid   bool
}

// CancelRequest is what a cancel sends to Recharge.
type CancelRequest struct {
	Reason    string
	Comments  string // already carrying the actor
	SendEmail bool
}

// SubscriptionUpdate is a change of interval or quantity; zero fields are
// left unchanged. An interval change sets the unit and both frequencies.
type SubscriptionUpdate struct {
	IntervalUnit      string
	IntervalFrequency int
	Quantity          int
}

// Recharge token scopes the actions need.
const (
	ScopeWriteSubscriptions = "write_subscriptions"
	ScopeWriteOrders        = "write_orders"
	ScopeWriteCharges       = "write_charges" // the newer name of write_orders for charges
)

// ActionSource reads and writes Recharge for the actions, always fresh
// (never through the card cache). The recharge package implements it.
// Every method maps Recharge's answers to codes: 404 ENOTFOUND, 422
// EREFUSED with Recharge's message on one line, 403 EFORBIDDEN
// ("rechargekit's Recharge token may not do this"), 401 EUNAUTHORIZED,
// anything else EUPSTREAM.
type ActionSource interface {
	// ActionSubscription returns one subscription.
	ActionSubscription(ctx context.Context, id int64) (*ActionSubscription, error)
	// CustomerSubscriptions returns every subscription of the customer.
	CustomerSubscriptions(ctx context.Context, customerID int64) ([]*ActionSubscription, error)
	// Charges returns the customer's charges of one status (queued,
	// skipped), earliest scheduled first.
	Charges(ctx context.Context, customerID int64, status string) ([]*Charge, error)
	// RetentionReasons returns the store's cancellation reasons, in the
	// store's order; none is an empty slice.
	RetentionReasons(ctx context.Context) ([]string, error)
	// TokenScopes returns the scopes of rechargekit's Recharge token.
	TokenScopes(ctx context.Context) ([]string, error)

	// CancelSubscription cancels (POST /subscriptions/{id}/cancel).
	CancelSubscription(ctx context.Context, id int64, req CancelRequest) (*ActionSubscription, error)
	// ActivateSubscription reactivates (POST /subscriptions/{id}/activate).
	ActivateSubscription(ctx context.Context, id int64) (*ActionSubscription, error)
	// SetNextChargeDate moves the next charge (POST
	// /subscriptions/{id}/set_next_charge_date); date is YYYY-MM-DD.
	SetNextChargeDate(ctx context.Context, id int64, date string) (*ActionSubscription, error)
	// UpdateSubscription changes the interval or the quantity (PUT
	// /subscriptions/{id}).
	UpdateSubscription(ctx context.Context, id int64, u SubscriptionUpdate) (*ActionSubscription, error)
	// SkipCharge skips the subscription's line of a charge (POST
	// /charges/{id}/skip with purchase_item_ids).
	SkipCharge(ctx context.Context, chargeID, subscriptionID int64) error
	// UnskipCharge unskips it (POST /charges/{id}/unskip).
	UnskipCharge(ctx context.Context, chargeID, subscriptionID int64) error
}

// ActionResult is what an action did.
type ActionResult struct {
	Record   *ActionRecord // the audited attempt
	Replayed bool          // the idempotency key was seen before: nothing was sent
	Card     *Card         // the customer's card read again after the change (nil when it could not be)
}

// ActionService lets the surfaces (console, JSON API, Gladly) act on
// subscriptions. It checks the policy for the actor's role, previews from
// fresh Recharge data, applies each change once per idempotency key, and
// audits every attempt. The actions package implements it.
type ActionService interface {
	// Offers returns, for each subscription of the target's customer, the
	// actions offered to the actor and why the others are not. Errors:
	// ENOTFOUND (unknown or unlinked profile, no such customer), EUPSTREAM.
	Offers(ctx context.Context, t ActionTarget, actor Actor) ([]*SubscriptionActions, error)
	// CardOffers returns the actions, in the order of AllActions, that at
	// least one subscription on the card offers to the actor, judged from
	// the card alone: it is what a card lookup (Gladly's DETAILED result)
	// lists beside the card, so it makes no Recharge call and never waits
	// on a slow or hung database. The subscriptions' state comes from the
	// card; the role's policy from a cache the service keeps fresh in the
	// background (the last known policy, or DefaultActionPolicy, when the
	// database does not answer); the token's scopes only when already
	// remembered. Where the card cannot tell (whether a charge is skipped,
	// whether a subscription is prepaid) the action is offered, and the
	// form, which reads fresh data through Offers, lists only the
	// subscriptions it is possible on, or says there are none. A nil card
	// offers nothing.
	CardOffers(ctx context.Context, card *Card, actor Actor) []string
	// TokenLimits returns, for each action of AllActions in that order,
	// whether rechargekit's Recharge token may take it; when it may not,
	// Why is a full sentence naming the scope it lacks. It is what the
	// admin Settings page shows beside the permission grid. The scopes are
	// those Offers hides actions by, read through the same cache
	// (GET /token_information at most once per its lifetime). Errors:
	// EUPSTREAM (the scopes could not be read: Recharge down or slower than
	// ctx allows).
	TokenLimits(ctx context.Context) ([]ActionOffer, error)
	// Preview says what req would do now. A cancel may be previewed
	// without a reason: its preview carries the reasons to choose from.
	// Errors: EINVALID (bad input),
	// EFORBIDDEN (not allowed for the actor's role), ENOTFOUND (profile,
	// or a subscription not of this customer), ECONFLICT (not possible in
	// the subscription's state), EUPSTREAM.
	Preview(ctx context.Context, t ActionTarget, actor Actor, req *ActionRequest) (*ActionPreview, error)
	// Do applies req once for key ("" means no de-duplication) and returns
	// the outcome with the fresh card. The same key again within
	// IdempotencyWindow returns the first result with Replayed set and
	// sends nothing, even when the subscription changed since; while that
	// first attempt is still pending (its Recharge call has no recorded
	// answer) it is ECONFLICT and nothing is sent either.
	// Errors: those of Preview, plus ECONFLICT (changed since the preview:
	// the new preview is in the error, see ChangedPreview; the key reused
	// for another request; the key's first attempt still pending),
	// EREFUSED (Recharge refused it; its message is kept), EUPSTREAM
	// (Recharge failed: it may or may not have applied it), EINTERNAL
	// (applied, but the outcome could not be recorded). Whenever an attempt
	// was audited (also a policy refusal, a Recharge refusal or a failure,
	// and a replay of any of those) the result is returned with its Record
	// alongside the error. A policy refusal is audited without the key, so
	// that the key still works once an admin allows the action; a failed
	// attempt (EUPSTREAM) keeps its key, so a retry needs a new key, after
	// checking the card.
	Do(ctx context.Context, t ActionTarget, actor Actor, req *ActionRequest, key string) (*ActionResult, error)
}
