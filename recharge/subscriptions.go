package recharge

import (
	"context"
	"errors"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// SubscriptionsService reads and changes subscriptions (spec section 4).
type SubscriptionsService struct{ client *Client }

// SubscriptionListOptions filters GET /subscriptions. Note that ?ids= with
// an unknown id answers an empty list, not a 404.
type SubscriptionListOptions struct {
	CustomerID        int64
	AddressID         int64
	AddressIDs        []int64
	IDs               []int64
	Status            string // active, cancelled or expired
	ExternalVariantID string

	CreatedAtMin, CreatedAtMax *time.Time
	UpdatedAtMin, UpdatedAtMax *time.Time

	SortBy string // id-desc (default), id-asc, created_at-desc, updated_at-asc, ...
	Limit  int    // page size, at most 250 (default 50)
	Cursor string
}

func (o *SubscriptionListOptions) values() url.Values {
	q := query{}
	if o == nil {
		return url.Values(q)
	}
	q.int64("customer_id", o.CustomerID)
	q.int64("address_id", o.AddressID)
	q.ids("address_ids", o.AddressIDs)
	q.ids("ids", o.IDs)
	q.str("status", strings.ToLower(o.Status))
	q.str("external_variant_id", o.ExternalVariantID)
	q.dateRange(o.CreatedAtMin, o.CreatedAtMax, o.UpdatedAtMin, o.UpdatedAtMax)
	q.str("sort_by", o.SortBy)
	q.page(o.Limit, o.Cursor)
	return url.Values(q)
}

// List returns one page of subscriptions; Response.NextCursor leads to the next.
func (s *SubscriptionsService) List(ctx context.Context, opts *SubscriptionListOptions) ([]*Subscription, *Response, error) {
	return listPage[Subscription](ctx, s.client, "/subscriptions", opts.values(), "subscriptions")
}

// All iterates over every subscription matching opts, following the cursors.
func (s *SubscriptionsService) All(ctx context.Context, opts *SubscriptionListOptions) iter.Seq2[*Subscription, error] {
	return listAll[Subscription](ctx, s.client, "/subscriptions", opts.values(), "subscriptions")
}

// Get returns one subscription. A missing one is a 404 (IsNotFound).
func (s *SubscriptionsService) Get(ctx context.Context, id int64) (*Subscription, *Response, error) {
	return getOne[Subscription](ctx, s.client, http.MethodGet, subscriptionPath(id), nil, nil, "subscription")
}

// SubscriptionCreateRequest is the body of POST /subscriptions. The
// non-pointer fields are required.
type SubscriptionCreateRequest struct {
	AddressID               int64      `json:"address_id"`
	ChargeIntervalFrequency int        `json:"charge_interval_frequency"`
	OrderIntervalFrequency  int        `json:"order_interval_frequency"`
	OrderIntervalUnit       string     `json:"order_interval_unit"`      // day, week or month
	NextChargeScheduledAt   string     `json:"next_charge_scheduled_at"` // YYYY-MM-DD, not in the past
	Quantity                int        `json:"quantity"`
	ExternalVariantID       ExternalID `json:"external_variant_id"`

	ExternalProductID *ExternalID `json:"external_product_id,omitempty"`
	Price             *string     `json:"price,omitempty"`
	ProductTitle      *string     `json:"product_title,omitempty"`
	VariantTitle      *string     `json:"variant_title,omitempty"`
	SKU               *string     `json:"sku,omitempty"`
	Properties        []Property  `json:"properties,omitempty"`
	Status            *string     `json:"status,omitempty"`
}

// Create creates a subscription.
func (s *SubscriptionsService) Create(ctx context.Context, req *SubscriptionCreateRequest) (*Subscription, *Response, error) {
	return getOne[Subscription](ctx, s.client, http.MethodPost, "/subscriptions", nil, bodyOrEmpty(req), "subscription")
}

// SubscriptionUpdateRequest is the body of PUT /subscriptions/{id}; nil
// fields are left unchanged. Recharge wants both frequencies whenever
// OrderIntervalUnit changes. The next charge date has its own call,
// SetNextChargeDate.
type SubscriptionUpdateRequest struct {
	ChargeIntervalFrequency *int        `json:"charge_interval_frequency,omitempty"`
	OrderIntervalFrequency  *int        `json:"order_interval_frequency,omitempty"`
	OrderIntervalUnit       *string     `json:"order_interval_unit,omitempty"`
	Quantity                *int        `json:"quantity,omitempty"`
	Price                   *string     `json:"price,omitempty"`
	ProductTitle            *string     `json:"product_title,omitempty"`
	VariantTitle            *string     `json:"variant_title,omitempty"`
	SKU                     *string     `json:"sku,omitempty"`
	SKUOverride             *bool       `json:"sku_override,omitempty"`
	ExternalVariantID       *ExternalID `json:"external_variant_id,omitempty"`
	ExternalProductID       *ExternalID `json:"external_product_id,omitempty"`
	Properties              *[]Property `json:"properties,omitempty"`
}

// errPartialInterval is returned without calling Recharge, which answers a
// 422 unless the three interval fields come together.
var errPartialInterval = errors.New("recharge: update subscription: order_interval_unit, order_interval_frequency and charge_interval_frequency must be sent together")

// Update changes a subscription. An interval change must set all three of
// OrderIntervalUnit, OrderIntervalFrequency and ChargeIntervalFrequency
// (Recharge refuses fewer with a 422; this returns an error without calling
// it). Any change regenerates the subscription's queued charges under new
// ids, and a frequency change may move the next charge date and drops the
// skips made on the subscription: read them again afterwards.
func (s *SubscriptionsService) Update(ctx context.Context, id int64, req *SubscriptionUpdateRequest) (*Subscription, *Response, error) {
	if req != nil {
		n := 0
		for _, set := range []bool{req.OrderIntervalUnit != nil, req.OrderIntervalFrequency != nil, req.ChargeIntervalFrequency != nil} {
			if set {
				n++
			}
		}
		if n != 0 && n != 3 {
			return nil, nil, errPartialInterval
		}
	}
	return getOne[Subscription](ctx, s.client, http.MethodPut, subscriptionPath(id), nil, bodyOrEmpty(req), "subscription")
}

// SubscriptionCancelRequest is the body of POST /subscriptions/{id}/cancel.
type SubscriptionCancelRequest struct {
	CancellationReason         string  `json:"cancellation_reason"` // required
	CancellationReasonComments *string `json:"cancellation_reason_comments,omitempty"`
	SendEmail                  *bool   `json:"send_email,omitempty"`
}

// errNoCancellationReason is returned without calling Recharge, which
// would answer 422.
var errNoCancellationReason = errors.New("recharge: cancel subscription: a cancellation reason is required")

// Cancel cancels a subscription: Recharge sets status, cancelled_at and the
// reason, and clears next_charge_scheduled_at.
func (s *SubscriptionsService) Cancel(ctx context.Context, id int64, req *SubscriptionCancelRequest) (*Subscription, *Response, error) {
	if req == nil || strings.TrimSpace(req.CancellationReason) == "" {
		return nil, nil, errNoCancellationReason
	}
	return getOne[Subscription](ctx, s.client, http.MethodPost, subscriptionPath(id)+"/cancel", nil, req, "subscription")
}

// Activate reactivates a cancelled subscription (the body is {}).
func (s *SubscriptionsService) Activate(ctx context.Context, id int64) (*Subscription, *Response, error) {
	return getOne[Subscription](ctx, s.client, http.MethodPost, subscriptionPath(id)+"/activate", nil, struct{}{}, "subscription")
}

// Delete deletes a subscription (204).
func (s *SubscriptionsService) Delete(ctx context.Context, id int64) (*Response, error) {
	return s.client.call(ctx, http.MethodDelete, subscriptionPath(id), nil, nil, nil)
}

// SetNextChargeDate moves the next charge to date ("YYYY-MM-DD"). Note that
// Recharge does not bump updated_at for this change.
func (s *SubscriptionsService) SetNextChargeDate(ctx context.Context, id int64, date string) (*Subscription, *Response, error) {
	body := struct {
		Date string `json:"date"`
	}{strings.TrimSpace(date)}
	return getOne[Subscription](ctx, s.client, http.MethodPost, subscriptionPath(id)+"/set_next_charge_date", nil, body, "subscription")
}

// ChangeAddress moves a subscription to another address of the customer.
func (s *SubscriptionsService) ChangeAddress(ctx context.Context, id, addressID int64) (*Subscription, *Response, error) {
	body := struct {
		AddressID int64 `json:"address_id"`
	}{addressID}
	return getOne[Subscription](ctx, s.client, http.MethodPost, subscriptionPath(id)+"/change_address", nil, body, "subscription")
}

func subscriptionPath(id int64) string { return "/subscriptions/" + strconv.FormatInt(id, 10) }
