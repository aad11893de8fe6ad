package recharge

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// CustomersService reads and writes customers (spec section 3).
type CustomersService struct{ client *Client }

// CustomerListOptions filters GET /customers. There is no phone and no
// name filter. An email search may return several customers.
type CustomerListOptions struct {
	Email              string
	ExternalCustomerID string // the platform (Shopify) customer id
	IDs                []int64
	Hash               string

	CreatedAtMin, CreatedAtMax *time.Time
	UpdatedAtMin, UpdatedAtMax *time.Time

	SortBy string // id-desc (default), id-asc, created_at-asc, updated_at-desc, ...
	Limit  int    // page size, at most 250 (default 50)
	Cursor string
}

func (o *CustomerListOptions) values() url.Values {
	q := query{}
	if o == nil {
		return url.Values(q)
	}
	q.str("email", o.Email)
	q.str("external_customer_id", o.ExternalCustomerID)
	q.ids("ids", o.IDs)
	q.str("hash", o.Hash)
	q.dateRange(o.CreatedAtMin, o.CreatedAtMax, o.UpdatedAtMin, o.UpdatedAtMax)
	q.str("sort_by", o.SortBy)
	q.page(o.Limit, o.Cursor)
	return url.Values(q)
}

// List returns one page of customers; Response.NextCursor leads to the next.
func (s *CustomersService) List(ctx context.Context, opts *CustomerListOptions) ([]*Customer, *Response, error) {
	return listPage[Customer](ctx, s.client, "/customers", opts.values(), "customers")
}

// All iterates over every customer matching opts, following the cursors.
func (s *CustomersService) All(ctx context.Context, opts *CustomerListOptions) iter.Seq2[*Customer, error] {
	return listAll[Customer](ctx, s.client, "/customers", opts.values(), "customers")
}

// Customer include names for CustomerGetOptions.Include.
const (
	IncludeAddresses      = "addresses"
	IncludeSubscriptions  = "subscriptions"
	IncludePaymentMethods = "payment_methods"
)

// CustomerGetOptions asks GET /customers/{id} to embed related objects in
// customer.include.
type CustomerGetOptions struct {
	Include []string // e.g. IncludeSubscriptions, IncludeAddresses
}

// Get returns one customer. A missing customer is a 404 (IsNotFound).
func (s *CustomersService) Get(ctx context.Context, id int64, opts *CustomerGetOptions) (*Customer, *Response, error) {
	q := query{}
	if opts != nil {
		q.strs("include", opts.Include)
	}
	return getOne[Customer](ctx, s.client, http.MethodGet, customerPath(id), url.Values(q), nil, "customer")
}

// CustomerCreateRequest is the body of POST /customers. Email is required
// and unique per store (a duplicate gets a 422).
type CustomerCreateRequest struct {
	Email              string      `json:"email"`
	FirstName          *string     `json:"first_name,omitempty"`
	LastName           *string     `json:"last_name,omitempty"`
	Phone              *string     `json:"phone,omitempty"`
	ExternalCustomerID *ExternalID `json:"external_customer_id,omitempty"`
}

// Create creates a customer.
func (s *CustomersService) Create(ctx context.Context, req *CustomerCreateRequest) (*Customer, *Response, error) {
	return getOne[Customer](ctx, s.client, http.MethodPost, "/customers", nil, bodyOrEmpty(req), "customer")
}

// CustomerUpdateRequest is the body of PUT /customers/{id}; nil fields are
// left unchanged.
type CustomerUpdateRequest struct {
	Email              *string     `json:"email,omitempty"`
	FirstName          *string     `json:"first_name,omitempty"`
	LastName           *string     `json:"last_name,omitempty"`
	Phone              *string     `json:"phone,omitempty"`
	ExternalCustomerID *ExternalID `json:"external_customer_id,omitempty"`
}

// Update changes a customer.
func (s *CustomersService) Update(ctx context.Context, id int64, req *CustomerUpdateRequest) (*Customer, *Response, error) {
	return getOne[Customer](ctx, s.client, http.MethodPut, customerPath(id), nil, bodyOrEmpty(req), "customer")
}

// Delete deletes a customer (204).
func (s *CustomersService) Delete(ctx context.Context, id int64) (*Response, error) {
	return s.client.call(ctx, http.MethodDelete, customerPath(id), nil, nil, nil)
}

// DeliverySchedule returns the customer's upcoming deliveries grouped by date.
func (s *CustomersService) DeliverySchedule(ctx context.Context, id int64) (*DeliverySchedule, *Response, error) {
	var ds DeliverySchedule
	resp, err := s.client.call(ctx, http.MethodGet, customerPath(id)+"/delivery_schedule", nil, nil, &ds)
	if err != nil {
		return nil, resp, err
	}
	return &ds, resp, nil
}

func customerPath(id int64) string { return "/customers/" + strconv.FormatInt(id, 10) }

// getOne sends a request whose answer is a single-object envelope
// {"<key>": {...}} and returns the object.
func getOne[T any](ctx context.Context, c *Client, method, path string, q url.Values, body any, key string) (*T, *Response, error) {
	var env map[string]json.RawMessage
	resp, err := c.call(ctx, method, path, q, body, &env)
	if err != nil {
		return nil, resp, err
	}
	raw, ok := env[key]
	if !ok || string(raw) == "null" {
		return nil, resp, missingKey(method, path, key)
	}
	v := new(T)
	if err := json.Unmarshal(raw, v); err != nil {
		return nil, resp, c.decodeFailure(method, path, fmt.Errorf("%s: %w", key, err))
	}
	return v, resp, nil
}

// bodyOrEmpty sends {} for a nil request pointer instead of null: Recharge
// answers 415 to a body that is not a JSON object.
func bodyOrEmpty[T any](req *T) any {
	if req == nil {
		return struct{}{}
	}
	return req
}
