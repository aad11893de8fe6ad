package mirror

import (
	"context"
	"time"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/recharge"
)

// This file reads one page of a mirrored resource's list route, for the
// backfill and the reconciliation alike.

// Sort orders of the list routes the mirror reads.
const (
	sortIDAsc      = "id-asc"
	sortIDDesc     = "id-desc"
	sortUpdatedAsc = "updated_at-asc"
)

// pageQuery is one list request. A request with a cursor sends only the
// cursor and the limit: the cursor holds the filters and the sort.
type pageQuery struct {
	cursor string
	sortBy string     // ignored for events, which have no sort_by
	since  *time.Time // updated_at_min (created_at_min for events)
	limit  int
}

// page is one list page as records.
type page struct {
	recs  []*rechargekit.MirrorRecord
	next  string // next_cursor; "" on the last page
	n     int    // objects on the page, records or not
	first int64  // the first object's id
	last  int64  // the last object's id
}

// readPage reads one page of resource.
func (m *Mirror) readPage(ctx context.Context, resource string, q pageQuery) (*page, error) {
	if q.cursor != "" {
		q.sortBy, q.since = "", nil
	}
	c, seen := m.client, m.now()
	switch resource {
	case rechargekit.MirrorCustomers:
		objs, resp, err := c.Customers.List(ctx, &recharge.CustomerListOptions{UpdatedAtMin: q.since, SortBy: q.sortBy, Limit: q.limit, Cursor: q.cursor})
		return encodePage(m, objs, resp, err, seen, func(o *recharge.Customer) recharge.Int64 { return o.ID })
	case rechargekit.MirrorAddresses:
		objs, resp, err := c.Addresses.List(ctx, &recharge.AddressListOptions{UpdatedAtMin: q.since, SortBy: q.sortBy, Limit: q.limit, Cursor: q.cursor})
		return encodePage(m, objs, resp, err, seen, func(o *recharge.Address) recharge.Int64 { return o.ID })
	case rechargekit.MirrorSubscriptions:
		objs, resp, err := c.Subscriptions.List(ctx, &recharge.SubscriptionListOptions{UpdatedAtMin: q.since, SortBy: q.sortBy, Limit: q.limit, Cursor: q.cursor})
		return encodePage(m, objs, resp, err, seen, func(o *recharge.Subscription) recharge.Int64 { return o.ID })
	case rechargekit.MirrorCharges:
		objs, resp, err := c.Charges.List(ctx, &recharge.ChargeListOptions{UpdatedAtMin: q.since, SortBy: q.sortBy, Limit: q.limit, Cursor: q.cursor})
		return encodePage(m, objs, resp, err, seen, func(o *recharge.Charge) recharge.Int64 { return o.ID })
	case rechargekit.MirrorPaymentMethods:
		objs, resp, err := c.PaymentMethods.List(ctx, &recharge.PaymentMethodListOptions{UpdatedAtMin: q.since, SortBy: q.sortBy, Limit: q.limit, Cursor: q.cursor})
		return encodePage(m, objs, resp, err, seen, func(o *recharge.PaymentMethod) recharge.Int64 { return o.ID })
	case rechargekit.MirrorEvents:
		// GET /events has no sort_by and no updated_at: its pages come
		// newest first, and events never change.
		objs, resp, err := c.Events.List(ctx, &recharge.EventListOptions{CreatedAtMin: q.since, Limit: q.limit, Cursor: q.cursor})
		return encodePage(m, objs, resp, err, seen, func(o *recharge.Event) recharge.Int64 { return o.ID })
	}
	return nil, rechargekit.Errorf(rechargekit.EINVALID, "%q is not a mirrored Recharge resource.", resource)
}

// encodePage turns a list answer into a page of records.
func encodePage[T any](m *Mirror, objs []*T, resp *recharge.Response, err error, seen time.Time, id func(*T) recharge.Int64) (*page, error) {
	if err != nil {
		return nil, err
	}
	recs, err := records(objs, m.opts.Region, seen)
	if err != nil {
		return nil, err
	}
	p := &page{recs: recs, n: len(objs)}
	if resp != nil {
		p.next = resp.NextCursor
	}
	if len(objs) > 0 {
		p.first, p.last = int64(id(objs[0])), int64(id(objs[len(objs)-1]))
	}
	return p, nil
}

// put writes a page's records and tells OnChange; it returns how many
// customers changed.
func (m *Mirror) put(ctx context.Context, resource string, recs []*rechargekit.MirrorRecord) (int, error) {
	if len(recs) == 0 {
		return 0, nil
	}
	changed, err := m.store.PutMirror(ctx, recs)
	if err != nil {
		return 0, err
	}
	m.records(resource, len(recs))
	m.changed(ctx, changed)
	return len(changed), nil
}
