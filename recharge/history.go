package recharge

import (
	"context"
	"encoding/json"
	"iter"
	"net/url"
	"time"
)

// This file holds the reads behind the card's payment, order and timeline
// sections (spec/recharge-actions.md section 2): payment methods, orders
// and events.

// PaymentMethodsService reads a customer's payment methods (scope
// read_payment_methods; Recharge Pro and Custom plans only). The decoded
// PaymentMethod has no field for processor tokens, so they never leave
// the client.
type PaymentMethodsService struct{ client *Client }

// PaymentMethodListOptions filters GET /payment_methods.
type PaymentMethodListOptions struct {
	CustomerID int64

	CreatedAtMin, CreatedAtMax *time.Time
	UpdatedAtMin, UpdatedAtMax *time.Time

	SortBy string // id-desc (default), id-asc, updated_at-asc, ...
	Limit  int    // page size, at most 250 (default 50)
	Cursor string
}

func (o *PaymentMethodListOptions) values() url.Values {
	q := query{}
	if o == nil {
		return url.Values(q)
	}
	q.int64("customer_id", o.CustomerID)
	q.dateRange(o.CreatedAtMin, o.CreatedAtMax, o.UpdatedAtMin, o.UpdatedAtMax)
	q.str("sort_by", o.SortBy)
	q.page(o.Limit, o.Cursor)
	return url.Values(q)
}

// List returns one page of payment methods; Response.NextCursor leads to
// the next.
func (s *PaymentMethodsService) List(ctx context.Context, opts *PaymentMethodListOptions) ([]*PaymentMethod, *Response, error) {
	return listPage[PaymentMethod](ctx, s.client, "/payment_methods", opts.values(), "payment_methods")
}

// All iterates over every payment method matching opts, following the cursors.
func (s *PaymentMethodsService) All(ctx context.Context, opts *PaymentMethodListOptions) iter.Seq2[*PaymentMethod, error] {
	return listAll[PaymentMethod](ctx, s.client, "/payment_methods", opts.values(), "payment_methods")
}

// OrdersService reads orders (scope read_orders). The card reads its
// recent orders from the customer's processed charges instead, which it
// already has; orders add the store's order number and name for surfaces
// that need more than the card.
type OrdersService struct{ client *Client }

// OrderListOptions filters GET /orders.
type OrderListOptions struct {
	CustomerID      int64
	AddressID       int64
	ChargeID        int64
	IDs             []int64
	Status          string // success, error, queued, cancelled
	ExternalOrderID string

	ScheduledAtMin, ScheduledAtMax *time.Time
	CreatedAtMin, CreatedAtMax     *time.Time
	UpdatedAtMin, UpdatedAtMax     *time.Time

	SortBy string // id-desc (default), created_at-desc, ...
	Limit  int    // page size, at most 250 (default 50)
	Cursor string
}

func (o *OrderListOptions) values() url.Values {
	q := query{}
	if o == nil {
		return url.Values(q)
	}
	q.int64("customer_id", o.CustomerID)
	q.int64("address_id", o.AddressID)
	q.int64("charge_id", o.ChargeID)
	q.ids("ids", o.IDs)
	q.str("status", o.Status)
	q.str("external_order_id", o.ExternalOrderID)
	q.time("scheduled_at_min", o.ScheduledAtMin)
	q.time("scheduled_at_max", o.ScheduledAtMax)
	q.dateRange(o.CreatedAtMin, o.CreatedAtMax, o.UpdatedAtMin, o.UpdatedAtMax)
	q.str("sort_by", o.SortBy)
	q.page(o.Limit, o.Cursor)
	return url.Values(q)
}

// List returns one page of orders; Response.NextCursor leads to the next.
func (s *OrdersService) List(ctx context.Context, opts *OrderListOptions) ([]*Order, *Response, error) {
	return listPage[Order](ctx, s.client, "/orders", opts.values(), "orders")
}

// All iterates over every order matching opts, following the cursors.
func (s *OrdersService) All(ctx context.Context, opts *OrderListOptions) iter.Seq2[*Order, error] {
	return listAll[Order](ctx, s.client, "/orders", opts.values(), "orders")
}

// EventsService reads the store's event log, the customer's Recharge
// timeline (scope read_events; Recharge Pro plans). It has no sort_by and
// no updated_at filter (spec/recharge-actions.md section 2.5).
type EventsService struct{ client *Client }

// EventListOptions filters GET /events.
type EventListOptions struct {
	CustomerID int64
	ObjectType string // subscription, charge, customer, address, ...
	ObjectID   int64
	Verbs      []string
	Origin     string

	CreatedAtMin, CreatedAtMax *time.Time

	Limit  int // page size, at most 250 (default 50)
	Cursor string
}

func (o *EventListOptions) values() url.Values {
	q := query{}
	if o == nil {
		return url.Values(q)
	}
	q.int64("customer_id", o.CustomerID)
	q.str("object_type", o.ObjectType)
	q.int64("object_id", o.ObjectID)
	q.strs("verbs", o.Verbs)
	q.str("origin", o.Origin)
	q.time("created_at_min", o.CreatedAtMin)
	q.time("created_at_max", o.CreatedAtMax)
	q.page(o.Limit, o.Cursor)
	return url.Values(q)
}

// List returns one page of events; Response.NextCursor leads to the next.
func (s *EventsService) List(ctx context.Context, opts *EventListOptions) ([]*Event, *Response, error) {
	return listPage[Event](ctx, s.client, "/events", opts.values(), "events")
}

// All iterates over every event matching opts, following the cursors.
func (s *EventsService) All(ctx context.Context, opts *EventListOptions) iter.Seq2[*Event, error] {
	return listAll[Event](ctx, s.client, "/events", opts.values(), "events")
}

// Order is a processed (or queued) order: what a charge became in the
// store. Some exports carry floats for money; Money accepts them.
type Order struct {
	ID                  Int64             `json:"id"`
	AddressID           Int64             `json:"address_id"`
	CustomerID          Int64             `json:"customer_id"`
	Charge              *OrderCharge      `json:"charge,omitempty"`
	CreatedAt           Time              `json:"created_at"`
	Currency            string            `json:"currency"`
	Discounts           []*ChargeDiscount `json:"discounts"`
	Error               Text              `json:"error"`
	ExternalOrderID     ExternalID        `json:"external_order_id"`
	ExternalOrderName   ExternalID        `json:"external_order_name"`
	ExternalOrderNumber ExternalID        `json:"external_order_number"`
	IsPrepaid           Bool              `json:"is_prepaid"`
	LineItems           []*LineItem       `json:"line_items"`
	ProcessedAt         Time              `json:"processed_at"`
	ScheduledAt         Time              `json:"scheduled_at"` // a timestamp on orders, unlike charges
	ShippingAddress     *PostalAddress    `json:"shipping_address,omitempty"`
	ShippingLines       []*ShippingLine   `json:"shipping_lines"`
	Status              string            `json:"status"` // success, error, queued, cancelled
	SubtotalPrice       Money             `json:"subtotal_price"`
	TotalDiscounts      Money             `json:"total_discounts"`
	TotalPrice          Money             `json:"total_price"`
	TotalRefunds        Money             `json:"total_refunds"`
	TotalTax            Money             `json:"total_tax"`
	Type                string            `json:"type"` // checkout or recurring
	UpdatedAt           Time              `json:"updated_at"`
}

// OrderCharge is the short charge object embedded in an order.
type OrderCharge struct {
	ID                    Int64                 `json:"id"`
	ExternalTransactionID ExternalTransactionID `json:"external_transaction_id"`
	PaymentProcessorName  string                `json:"payment_processor_name"`
	Status                string                `json:"status"`
}

// Event origins and user types as Recharge sends them in an event's
// source.
const (
	EventOriginAPI      = "api"
	EventOriginPortal   = "portal"
	EventOriginMerchant = "merchant"
	EventUserCustomer   = "customer"
)

// Event is one entry of the store's event log.
type Event struct {
	ID                Int64           `json:"id"`
	CustomerID        Int64           `json:"customer_id"`
	ObjectID          Int64           `json:"object_id"`
	CreatedAt         Time            `json:"created_at"`
	CustomAttributes  json.RawMessage `json:"custom_attributes,omitempty"`
	Description       string          `json:"description"`
	ObjectType        string          `json:"object_type"`
	Source            EventSource     `json:"source"`
	UpdatedAttributes json.RawMessage `json:"updated_attributes,omitempty"`
	Verb              string          `json:"verb"`
}

// EventSource says who made an event: the customer in the portal, a
// merchant user (by email) or an API token (by name).
type EventSource struct {
	AccountEmail String `json:"account_email"`
	AccountID    Int64  `json:"account_id"`
	APITokenID   Int64  `json:"api_token_id"`
	APITokenName String `json:"api_token_name"`
	Origin       String `json:"origin"`
	UserType     String `json:"user_type"`
}
