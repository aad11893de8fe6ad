package recharge

import (
	"context"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// AddressesService reads and writes customer addresses (spec section 6).
type AddressesService struct{ client *Client }

// AddressListOptions filters GET /addresses.
type AddressListOptions struct {
	CustomerID   int64
	IDs          []int64
	DiscountCode string
	DiscountID   int64
	IsActive     *bool

	CreatedAtMin, CreatedAtMax *time.Time
	UpdatedAtMin, UpdatedAtMax *time.Time

	SortBy string // id-desc (default), id-asc, created_at-asc, updated_at-asc, ...
	Limit  int    // page size, at most 250 (default 50)
	Cursor string
}

func (o *AddressListOptions) values() url.Values {
	q := query{}
	if o == nil {
		return url.Values(q)
	}
	q.int64("customer_id", o.CustomerID)
	q.ids("ids", o.IDs)
	q.str("discount_code", o.DiscountCode)
	q.int64("discount_id", o.DiscountID)
	q.bool("is_active", o.IsActive)
	q.dateRange(o.CreatedAtMin, o.CreatedAtMax, o.UpdatedAtMin, o.UpdatedAtMax)
	q.str("sort_by", o.SortBy)
	q.page(o.Limit, o.Cursor)
	return url.Values(q)
}

// List returns one page of addresses; Response.NextCursor leads to the next.
func (s *AddressesService) List(ctx context.Context, opts *AddressListOptions) ([]*Address, *Response, error) {
	return listPage[Address](ctx, s.client, "/addresses", opts.values(), "addresses")
}

// All iterates over every address matching opts, following the cursors.
func (s *AddressesService) All(ctx context.Context, opts *AddressListOptions) iter.Seq2[*Address, error] {
	return listAll[Address](ctx, s.client, "/addresses", opts.values(), "addresses")
}

// Get returns one address.
func (s *AddressesService) Get(ctx context.Context, id int64) (*Address, *Response, error) {
	return getOne[Address](ctx, s.client, http.MethodGet, addressPath(id), nil, nil, "address")
}

// AddressCreateRequest is the body of POST /addresses. CustomerID is
// required; Recharge also requires address1, city, country_code,
// first_name, last_name, province and zip on a real store.
type AddressCreateRequest struct {
	CustomerID  int64   `json:"customer_id"`
	Address1    *string `json:"address1,omitempty"`
	Address2    *string `json:"address2,omitempty"`
	City        *string `json:"city,omitempty"`
	Company     *string `json:"company,omitempty"`
	CountryCode *string `json:"country_code,omitempty"`
	FirstName   *string `json:"first_name,omitempty"`
	LastName    *string `json:"last_name,omitempty"`
	Phone       *string `json:"phone,omitempty"`
	Province    *string `json:"province,omitempty"`
	Zip         *string `json:"zip,omitempty"`
}

// Create creates an address.
func (s *AddressesService) Create(ctx context.Context, req *AddressCreateRequest) (*Address, *Response, error) {
	return getOne[Address](ctx, s.client, http.MethodPost, "/addresses", nil, bodyOrEmpty(req), "address")
}

// AddressUpdateRequest is the body of PUT /addresses/{id}; nil fields are
// left unchanged.
type AddressUpdateRequest struct {
	Address1    *string `json:"address1,omitempty"`
	Address2    *string `json:"address2,omitempty"`
	City        *string `json:"city,omitempty"`
	Company     *string `json:"company,omitempty"`
	CountryCode *string `json:"country_code,omitempty"`
	FirstName   *string `json:"first_name,omitempty"`
	LastName    *string `json:"last_name,omitempty"`
	Phone       *string `json:"phone,omitempty"`
	Province    *string `json:"province,omitempty"`
	Zip         *string `json:"zip,omitempty"`
}

// Update changes an address.
func (s *AddressesService) Update(ctx context.Context, id int64, req *AddressUpdateRequest) (*Address, *Response, error) {
	return getOne[Address](ctx, s.client, http.MethodPut, addressPath(id), nil, bodyOrEmpty(req), "address")
}

// Delete deletes an address (204). An address with active subscriptions
// gets a 422.
func (s *AddressesService) Delete(ctx context.Context, id int64) (*Response, error) {
	return s.client.call(ctx, http.MethodDelete, addressPath(id), nil, nil, nil)
}

func addressPath(id int64) string { return "/addresses/" + strconv.FormatInt(id, 10) }
