package recharge

import (
	"context"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ChargesService reads, skips and unskips charges (spec section 5). Reading
// charges needs the read_orders scope; without it Recharge answers 403.
type ChargesService struct{ client *Client }

// ChargeListOptions filters GET /charges.
type ChargeListOptions struct {
	CustomerID     int64
	AddressID      int64
	IDs            []int64
	PurchaseItemID int64  // a subscription or one-time id
	Status         string // success, error, queued, skipped, refunded, ...

	ScheduledAt                    string // YYYY-MM-DD
	ScheduledAtMin, ScheduledAtMax string // YYYY-MM-DD or RFC 3339
	ProcessedAtMin, ProcessedAtMax *time.Time
	CreatedAtMin, CreatedAtMax     *time.Time
	UpdatedAtMin, UpdatedAtMax     *time.Time

	ExternalOrderID string
	DiscountCode    string
	DiscountID      int64

	SortBy string // id-desc (default), updated_at-asc, scheduled_at-desc, ...
	Limit  int    // page size, at most 250 (default 50)
	Cursor string
}

func (o *ChargeListOptions) values() url.Values {
	q := query{}
	if o == nil {
		return url.Values(q)
	}
	q.int64("customer_id", o.CustomerID)
	q.int64("address_id", o.AddressID)
	q.ids("ids", o.IDs)
	q.int64("purchase_item_id", o.PurchaseItemID)
	q.str("status", strings.ToLower(o.Status))
	q.str("scheduled_at", o.ScheduledAt)
	q.str("scheduled_at_min", o.ScheduledAtMin)
	q.str("scheduled_at_max", o.ScheduledAtMax)
	q.time("processed_at_min", o.ProcessedAtMin)
	q.time("processed_at_max", o.ProcessedAtMax)
	q.dateRange(o.CreatedAtMin, o.CreatedAtMax, o.UpdatedAtMin, o.UpdatedAtMax)
	q.str("external_order_id", o.ExternalOrderID)
	q.str("discount_code", o.DiscountCode)
	q.int64("discount_id", o.DiscountID)
	q.str("sort_by", o.SortBy)
	q.page(o.Limit, o.Cursor)
	return url.Values(q)
}

// List returns one page of charges; Response.NextCursor leads to the next.
func (s *ChargesService) List(ctx context.Context, opts *ChargeListOptions) ([]*Charge, *Response, error) {
	return listPage[Charge](ctx, s.client, "/charges", opts.values(), "charges")
}

// All iterates over every charge matching opts, following the cursors.
func (s *ChargesService) All(ctx context.Context, opts *ChargeListOptions) iter.Seq2[*Charge, error] {
	return listAll[Charge](ctx, s.client, "/charges", opts.values(), "charges")
}

// Get returns one charge.
func (s *ChargesService) Get(ctx context.Context, id int64) (*Charge, *Response, error) {
	return getOne[Charge](ctx, s.client, http.MethodGet, chargePath(id), nil, nil, "charge")
}

// purchaseItems is the body of skip and unskip.
type purchaseItems struct {
	PurchaseItemIDs []int64 `json:"purchase_item_ids"`
}

// Skip skips the given purchase items (subscription ids) of a queued or
// errored charge. Recharge answers 422 for other statuses.
func (s *ChargesService) Skip(ctx context.Context, id int64, purchaseItemIDs []int64) (*Charge, *Response, error) {
	return getOne[Charge](ctx, s.client, http.MethodPost, chargePath(id)+"/skip", nil, purchaseItems{nonNil(purchaseItemIDs)}, "charge")
}

// Unskip reverses Skip for the given purchase items of a skipped charge.
func (s *ChargesService) Unskip(ctx context.Context, id int64, purchaseItemIDs []int64) (*Charge, *Response, error) {
	return getOne[Charge](ctx, s.client, http.MethodPost, chargePath(id)+"/unskip", nil, purchaseItems{nonNil(purchaseItemIDs)}, "charge")
}

func chargePath(id int64) string { return "/charges/" + strconv.FormatInt(id, 10) }

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
