package recharge

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestEndpoints checks every service method: method, path, query, headers
// and body on the wire, and the decoded answer.
func TestEndpoints(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2024, 7, 1, 12, 30, 0, 0, time.FixedZone("CEST", 2*3600))
	t1 := time.Date(2024, 7, 2, 0, 0, 0, 0, time.UTC)
	sub := `{"subscription":{"id":7,"customer_id":9,"status":"active","price":"1.00"}}`
	wantSub := &Subscription{ID: 7, CustomerID: 9, Status: "active", Price: "1.00"}
	charge := `{"charge":{"id":5,"status":"skipped","line_items":[{"purchase_item_id":7,"purchase_item_type":"subscription"}]}}`
	wantCharge := &Charge{ID: 5, Status: "skipped", LineItems: []*LineItem{{PurchaseItemID: 7, PurchaseItemType: "subscription"}}}
	addr := `{"address":{"id":3,"customer_id":9,"zip":"N1"}}`
	wantAddr := &Address{ID: 3, CustomerID: 9, Zip: "N1"}
	cust := `{"customer":{"id":9,"email":"a@b.c"}}`
	wantCust := &Customer{ID: 9, Email: "a@b.c"}
	hook := `{"webhook":{"id":31,"address":"https://x.example/h","topic":"charge/paid","included_objects":["customer"]}}`
	wantHook := &Webhook{ID: 31, Address: "https://x.example/h", Topic: "charge/paid", IncludedObjects: []string{"customer"}}

	tests := []struct {
		name    string
		call    func(context.Context, *Client) (any, error)
		method  string
		path    string
		query   url.Values
		body    string // expected request JSON; "" for none
		status  int
		respond string
		want    any
	}{
		{
			name:   "token information",
			call:   func(ctx context.Context, c *Client) (any, error) { v, _, err := c.TokenInformation(ctx); return v, err },
			method: "GET", path: "/token_information",
			respond: `{"token_information":{"client":{"name":"k"},"contact_email":"e","name":"n","scopes":["read_orders"]}}`,
			want:    &TokenInformation{Client: &TokenClient{Name: "k"}, ContactEmail: "e", Name: "n", Scopes: []string{"read_orders"}},
		},
		{
			name:   "store",
			call:   func(ctx context.Context, c *Client) (any, error) { v, _, err := c.Store(ctx); return v, err },
			method: "GET", path: "/store",
			respond: `{"store":{"id":1,"timezone":{"iana_name":"America/Chicago"},"unknown":{"x":1}}}`,
			want:    &Store{ID: 1, Timezone: StoreTimezone{IANAName: "America/Chicago"}},
		},
		{
			name: "customers list with every filter",
			call: func(ctx context.Context, c *Client) (any, error) {
				v, _, err := c.Customers.List(ctx, &CustomerListOptions{
					Email: " a+b@example.com ", ExternalCustomerID: "77", IDs: []int64{1, 2}, Hash: "h",
					CreatedAtMin: &t0, CreatedAtMax: &t1, UpdatedAtMin: &t0, UpdatedAtMax: &t1,
					SortBy: "id-asc", Limit: 500, Cursor: "c1",
				})
				return v, err
			},
			method: "GET", path: "/customers",
			query: url.Values{
				"email": {"a+b@example.com"}, "external_customer_id": {"77"}, "ids": {"1,2"}, "hash": {"h"},
				"created_at_min": {"2024-07-01T10:30:00Z"}, "created_at_max": {"2024-07-02T00:00:00Z"},
				"updated_at_min": {"2024-07-01T10:30:00Z"}, "updated_at_max": {"2024-07-02T00:00:00Z"},
				"sort_by": {"id-asc"}, "limit": {"250"}, "cursor": {"c1"},
			},
			respond: `{"next_cursor":null,"previous_cursor":null,"customers":[{"id":9}]}`,
			want:    []*Customer{{ID: 9}},
		},
		{
			name: "customers list nil options",
			call: func(ctx context.Context, c *Client) (any, error) {
				v, _, err := c.Customers.List(ctx, nil)
				return v, err
			},
			method: "GET", path: "/customers",
			respond: `{"customers":[]}`,
			want:    []*Customer{},
		},
		{
			name: "customer get with include",
			call: func(ctx context.Context, c *Client) (any, error) {
				v, _, err := c.Customers.Get(ctx, 9, &CustomerGetOptions{Include: []string{IncludeSubscriptions, IncludeAddresses}})
				return v, err
			},
			method: "GET", path: "/customers/9", query: url.Values{"include": {"subscriptions,addresses"}},
			respond: `{"customer":{"id":9,"include":{"subscriptions":[{"id":7}],"addresses":[{"id":3}]}}}`,
			want:    &Customer{ID: 9, Include: &CustomerInclude{Subscriptions: []*Subscription{{ID: 7}}, Addresses: []*Address{{ID: 3}}}},
		},
		{
			name: "customer create",
			call: func(ctx context.Context, c *Client) (any, error) {
				v, _, err := c.Customers.Create(ctx, &CustomerCreateRequest{Email: "a@b.c", FirstName: Ptr("A"), ExternalCustomerID: Ptr(NewExternalID("77"))})
				return v, err
			},
			method: "POST", path: "/customers", body: `{"email":"a@b.c","first_name":"A","external_customer_id":{"ecommerce":"77"}}`,
			status: 201, respond: cust, want: wantCust,
		},
		{
			name: "customer update",
			call: func(ctx context.Context, c *Client) (any, error) {
				v, _, err := c.Customers.Update(ctx, 9, &CustomerUpdateRequest{LastName: Ptr("")})
				return v, err
			},
			method: "PUT", path: "/customers/9", body: `{"last_name":""}`, respond: cust, want: wantCust,
		},
		{
			name: "customer delete",
			call: func(ctx context.Context, c *Client) (any, error) {
				_, err := c.Customers.Delete(ctx, 9)
				return nil, err
			},
			method: "DELETE", path: "/customers/9", status: 204,
		},
		{
			name: "customer delivery schedule",
			call: func(ctx context.Context, c *Client) (any, error) {
				v, _, err := c.Customers.DeliverySchedule(ctx, 9)
				return v, err
			},
			method: "GET", path: "/customers/9/delivery_schedule",
			respond: `{"customer":{"id":9},"deliveries":[{"date":"2024-08-01","orders":[]}]}`,
			want:    &DeliverySchedule{Customer: &Customer{ID: 9}, Deliveries: []Delivery{{Date: Date{2024, 8, 1}, Orders: []*DeliveryOrder{}}}},
		},
		{
			name: "subscriptions list with every filter",
			call: func(ctx context.Context, c *Client) (any, error) {
				v, _, err := c.Subscriptions.List(ctx, &SubscriptionListOptions{
					CustomerID: 9, AddressID: 3, AddressIDs: []int64{3, 4}, IDs: []int64{7}, Status: "ACTIVE",
					ExternalVariantID: "v1", CreatedAtMin: &t1, UpdatedAtMax: &t1, SortBy: "updated_at-desc", Limit: 250,
				})
				return v, err
			},
			method: "GET", path: "/subscriptions",
			query: url.Values{
				"customer_id": {"9"}, "address_id": {"3"}, "address_ids": {"3,4"}, "ids": {"7"}, "status": {"active"},
				"external_variant_id": {"v1"}, "created_at_min": {"2024-07-02T00:00:00Z"}, "updated_at_max": {"2024-07-02T00:00:00Z"},
				"sort_by": {"updated_at-desc"}, "limit": {"250"},
			},
			respond: `{"next_cursor":"n","previous_cursor":null,"subscriptions":[{"id":7}]}`,
			want:    []*Subscription{{ID: 7}},
		},
		{
			name: "subscription get",
			call: func(ctx context.Context, c *Client) (any, error) {
				v, _, err := c.Subscriptions.Get(ctx, 7)
				return v, err
			},
			method: "GET", path: "/subscriptions/7", respond: sub, want: wantSub,
		},
		{
			name: "subscription create",
			call: func(ctx context.Context, c *Client) (any, error) {
				v, _, err := c.Subscriptions.Create(ctx, &SubscriptionCreateRequest{
					AddressID: 3, ChargeIntervalFrequency: 30, OrderIntervalFrequency: 30, OrderIntervalUnit: "day",
					NextChargeScheduledAt: "2030-01-01", Quantity: 1, ExternalVariantID: NewExternalID("v1"), Price: Ptr("1.00"),
				})
				return v, err
			},
			method: "POST", path: "/subscriptions",
			body:   `{"address_id":3,"charge_interval_frequency":30,"order_interval_frequency":30,"order_interval_unit":"day","next_charge_scheduled_at":"2030-01-01","quantity":1,"external_variant_id":{"ecommerce":"v1"},"price":"1.00"}`,
			status: 201, respond: sub, want: wantSub,
		},
		{
			name: "subscription update",
			call: func(ctx context.Context, c *Client) (any, error) {
				v, _, err := c.Subscriptions.Update(ctx, 7, &SubscriptionUpdateRequest{Quantity: Ptr(2), OrderIntervalUnit: Ptr("week"), OrderIntervalFrequency: Ptr(2), ChargeIntervalFrequency: Ptr(2)})
				return v, err
			},
			method: "PUT", path: "/subscriptions/7", body: `{"charge_interval_frequency":2,"order_interval_frequency":2,"order_interval_unit":"week","quantity":2}`, respond: sub, want: wantSub,
		},
		{
			name: "subscription cancel",
			call: func(ctx context.Context, c *Client) (any, error) {
				v, _, err := c.Subscriptions.Cancel(ctx, 7, &SubscriptionCancelRequest{CancellationReason: "price", CancellationReasonComments: Ptr("too high"), SendEmail: Ptr(false)})
				return v, err
			},
			method: "POST", path: "/subscriptions/7/cancel",
			body:    `{"cancellation_reason":"price","cancellation_reason_comments":"too high","send_email":false}`,
			respond: sub, want: wantSub,
		},
		{
			name: "subscription activate",
			call: func(ctx context.Context, c *Client) (any, error) {
				v, _, err := c.Subscriptions.Activate(ctx, 7)
				return v, err
			},
			method: "POST", path: "/subscriptions/7/activate", body: `{}`, respond: sub, want: wantSub,
		},
		{
			name: "subscription set next charge date",
			call: func(ctx context.Context, c *Client) (any, error) {
				v, _, err := c.Subscriptions.SetNextChargeDate(ctx, 7, "2030-02-01")
				return v, err
			},
			method: "POST", path: "/subscriptions/7/set_next_charge_date", body: `{"date":"2030-02-01"}`, respond: sub, want: wantSub,
		},
		{
			name: "subscription change address",
			call: func(ctx context.Context, c *Client) (any, error) {
				v, _, err := c.Subscriptions.ChangeAddress(ctx, 7, 4)
				return v, err
			},
			method: "POST", path: "/subscriptions/7/change_address", body: `{"address_id":4}`, respond: sub, want: wantSub,
		},
		{
			name: "subscription delete",
			call: func(ctx context.Context, c *Client) (any, error) {
				_, err := c.Subscriptions.Delete(ctx, 7)
				return nil, err
			},
			method: "DELETE", path: "/subscriptions/7", status: 204,
		},
		{
			name: "charges list with every filter",
			call: func(ctx context.Context, c *Client) (any, error) {
				v, _, err := c.Charges.List(ctx, &ChargeListOptions{
					CustomerID: 9, AddressID: 3, IDs: []int64{5, 6}, PurchaseItemID: 7, Status: "Queued",
					ScheduledAt: "2024-08-01", ScheduledAtMin: "2024-07-01", ScheduledAtMax: "2024-09-01",
					ProcessedAtMin: &t1, ProcessedAtMax: &t1, CreatedAtMin: &t1, UpdatedAtMin: &t1,
					ExternalOrderID: "o1", DiscountCode: "D", DiscountID: 8, SortBy: "scheduled_at-desc", Limit: 100, Cursor: "c",
				})
				return v, err
			},
			method: "GET", path: "/charges",
			query: url.Values{
				"customer_id": {"9"}, "address_id": {"3"}, "ids": {"5,6"}, "purchase_item_id": {"7"}, "status": {"queued"},
				"scheduled_at": {"2024-08-01"}, "scheduled_at_min": {"2024-07-01"}, "scheduled_at_max": {"2024-09-01"},
				"processed_at_min": {"2024-07-02T00:00:00Z"}, "processed_at_max": {"2024-07-02T00:00:00Z"},
				"created_at_min": {"2024-07-02T00:00:00Z"}, "updated_at_min": {"2024-07-02T00:00:00Z"},
				"external_order_id": {"o1"}, "discount_code": {"D"}, "discount_id": {"8"}, "sort_by": {"scheduled_at-desc"},
				"limit": {"100"}, "cursor": {"c"},
			},
			respond: `{"charges":[{"id":5}]}`,
			want:    []*Charge{{ID: 5}},
		},
		{
			name:   "charge get",
			call:   func(ctx context.Context, c *Client) (any, error) { v, _, err := c.Charges.Get(ctx, 5); return v, err },
			method: "GET", path: "/charges/5", respond: charge, want: wantCharge,
		},
		{
			name: "charge skip",
			call: func(ctx context.Context, c *Client) (any, error) {
				v, _, err := c.Charges.Skip(ctx, 5, []int64{7})
				return v, err
			},
			method: "POST", path: "/charges/5/skip", body: `{"purchase_item_ids":[7]}`, respond: charge, want: wantCharge,
		},
		{
			name: "charge unskip",
			call: func(ctx context.Context, c *Client) (any, error) {
				v, _, err := c.Charges.Unskip(ctx, 5, []int64{7, 8})
				return v, err
			},
			method: "POST", path: "/charges/5/unskip", body: `{"purchase_item_ids":[7,8]}`, respond: charge, want: wantCharge,
		},
		{
			name: "addresses list with every filter",
			call: func(ctx context.Context, c *Client) (any, error) {
				v, _, err := c.Addresses.List(ctx, &AddressListOptions{
					CustomerID: 9, IDs: []int64{3}, DiscountCode: "D", DiscountID: 8, IsActive: Ptr(false),
					CreatedAtMax: &t1, UpdatedAtMin: &t1, Limit: 10,
				})
				return v, err
			},
			method: "GET", path: "/addresses",
			query: url.Values{
				"customer_id": {"9"}, "ids": {"3"}, "discount_code": {"D"}, "discount_id": {"8"}, "is_active": {"false"},
				"created_at_max": {"2024-07-02T00:00:00Z"}, "updated_at_min": {"2024-07-02T00:00:00Z"}, "limit": {"10"},
			},
			respond: `{"addresses":[{"id":3}]}`,
			want:    []*Address{{ID: 3}},
		},
		{
			name:   "address get",
			call:   func(ctx context.Context, c *Client) (any, error) { v, _, err := c.Addresses.Get(ctx, 3); return v, err },
			method: "GET", path: "/addresses/3", respond: addr, want: wantAddr,
		},
		{
			name: "address create",
			call: func(ctx context.Context, c *Client) (any, error) {
				v, _, err := c.Addresses.Create(ctx, &AddressCreateRequest{CustomerID: 9, Address1: Ptr("1 Road"), Zip: Ptr("N1")})
				return v, err
			},
			method: "POST", path: "/addresses", body: `{"customer_id":9,"address1":"1 Road","zip":"N1"}`,
			status: 201, respond: addr, want: wantAddr,
		},
		{
			name: "address update",
			call: func(ctx context.Context, c *Client) (any, error) {
				v, _, err := c.Addresses.Update(ctx, 3, &AddressUpdateRequest{City: Ptr("Leeds")})
				return v, err
			},
			method: "PUT", path: "/addresses/3", body: `{"city":"Leeds"}`, respond: addr, want: wantAddr,
		},
		{
			name: "address delete",
			call: func(ctx context.Context, c *Client) (any, error) {
				_, err := c.Addresses.Delete(ctx, 3)
				return nil, err
			},
			method: "DELETE", path: "/addresses/3", status: 204,
		},
		{
			name: "products list",
			call: func(ctx context.Context, c *Client) (any, error) {
				v, _, err := c.Products.List(ctx, &ProductListOptions{ExternalProductIDs: []string{"p1", " ", "p2"}, Limit: 250})
				return v, err
			},
			method: "GET", path: "/products", query: url.Values{"external_product_ids": {"p1,p2"}, "limit": {"250"}},
			respond: `{"products":[{"external_product_id":"p1","title":"T"}]}`,
			want:    []*Product{{ExternalProductID: NewExternalID("p1"), Title: "T"}},
		},
		{
			name: "product get escapes the id",
			call: func(ctx context.Context, c *Client) (any, error) {
				v, _, err := c.Products.Get(ctx, "a/b c")
				return v, err
			},
			method: "GET", path: "/products/a/b c",
			respond: `{"product":{"external_product_id":"a/b c"}}`,
			want:    &Product{ExternalProductID: NewExternalID("a/b c")},
		},
		{
			name: "webhooks list",
			call: func(ctx context.Context, c *Client) (any, error) {
				v, _, err := c.Webhooks.List(ctx, &WebhookListOptions{Limit: 50})
				return v, err
			},
			method: "GET", path: "/webhooks", query: url.Values{"limit": {"50"}},
			respond: `{"webhooks":[{"id":31,"topic":"charge/paid"}]}`,
			want:    []*Webhook{{ID: 31, Topic: "charge/paid"}},
		},
		{
			name:   "webhook get",
			call:   func(ctx context.Context, c *Client) (any, error) { v, _, err := c.Webhooks.Get(ctx, 31); return v, err },
			method: "GET", path: "/webhooks/31", respond: hook, want: wantHook,
		},
		{
			name: "webhook create",
			call: func(ctx context.Context, c *Client) (any, error) {
				v, _, err := c.Webhooks.Create(ctx, &WebhookCreateRequest{Address: "https://x.example/h", Topic: "charge/paid", IncludedObjects: []string{"customer"}})
				return v, err
			},
			method: "POST", path: "/webhooks",
			body:   `{"address":"https://x.example/h","topic":"charge/paid","included_objects":["customer"]}`,
			status: 201, respond: hook, want: wantHook,
		},
		{
			name: "webhook update",
			call: func(ctx context.Context, c *Client) (any, error) {
				v, _, err := c.Webhooks.Update(ctx, 31, &WebhookUpdateRequest{Address: Ptr("https://y.example/h")})
				return v, err
			},
			method: "PUT", path: "/webhooks/31", body: `{"address":"https://y.example/h"}`, respond: hook, want: wantHook,
		},
		{
			name: "webhook delete",
			call: func(ctx context.Context, c *Client) (any, error) {
				_, err := c.Webhooks.Delete(ctx, 31)
				return nil, err
			},
			method: "DELETE", path: "/webhooks/31", status: 204,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := &recorder{answers: []answer{{status: tt.status, body: tt.respond, header: map[string]string{HeaderRequestID: "rid-1", HeaderLimit: "3/40"}}}}
			srv := MustServer(t, rec)
			got, err := tt.call(context.Background(), MustClient(t, srv, nil))
			if err != nil {
				t.Fatalf("call: %v", err)
			}
			reqs := rec.requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1", len(reqs))
			}
			r := reqs[0]
			if r.Method != tt.method || r.Path != tt.path {
				t.Errorf("request = %s %s, want %s %s", r.Method, r.Path, tt.method, tt.path)
			}
			gotQuery, _ := url.ParseQuery(r.Query)
			if tt.query == nil {
				tt.query = url.Values{}
			}
			if diff := cmp.Diff(tt.query, gotQuery); diff != "" {
				t.Errorf("query (-want +got):\n%s", diff)
			}
			checkHeaders(t, r, tt.body != "")
			if tt.body == "" {
				if len(r.Body) != 0 {
					t.Errorf("unexpected body %s", r.Body)
				}
			} else if diff := cmp.Diff(MustJSON(t, []byte(tt.body)), MustJSON(t, r.Body)); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
			if tt.want != nil {
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("result (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func checkHeaders(t *testing.T, r recorded, hasBody bool) {
	t.Helper()
	if got := r.Header.Get(HeaderAccessToken); got != testToken {
		t.Errorf("%s = %q", HeaderAccessToken, got)
	}
	if got := r.Header.Get("Authorization"); got != "" {
		t.Errorf("Authorization = %q, want none (no Bearer)", got)
	}
	if got := r.Header.Get(HeaderVersion); got != "2021-11" {
		t.Errorf("%s = %q", HeaderVersion, got)
	}
	if got := r.Header.Get("Accept"); got != "application/json" {
		t.Errorf("Accept = %q", got)
	}
	if got := r.Header.Get("User-Agent"); !strings.HasPrefix(got, "rechargekit/") {
		t.Errorf("User-Agent = %q", got)
	}
	if got := r.Header.Get("Content-Type"); hasBody != (got == "application/json") {
		t.Errorf("Content-Type = %q with body %v", got, hasBody)
	}
}

func TestResponseMetadata(t *testing.T) {
	t.Parallel()
	rec := &recorder{answers: []answer{{
		body:   `{"next_cursor":"NEXT","previous_cursor":"PREV","subscriptions":[]}`,
		header: map[string]string{HeaderRequestID: "rid-9", HeaderLimit: "39/40"},
	}}}
	srv := MustServer(t, rec)
	_, resp, err := MustClient(t, srv, nil).Subscriptions.List(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.RequestID != "rid-9" || resp.NextCursor != "NEXT" || resp.PreviousCursor != "PREV" || resp.Limit != (RateLimit{39, 40}) || resp.StatusCode != 200 {
		t.Errorf("response = %+v", resp)
	}
}

func TestParseRateLimit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want RateLimit
		ok   bool
	}{
		{"39/40", RateLimit{39, 40}, true},
		{" 0 / 80 ", RateLimit{0, 80}, true},
		{"40", RateLimit{}, false},
		{"a/40", RateLimit{}, false},
		{"1/0", RateLimit{}, false},
		{"-1/40", RateLimit{}, false},
		{"", RateLimit{}, false},
	}
	for _, tt := range tests {
		got, ok := ParseRateLimit(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseRateLimit(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestBaseURL(t *testing.T) {
	t.Parallel()
	rec := &recorder{answers: []answer{{body: `{"customer":{"id":1}}`}}}
	srv := MustServer(t, rec)
	c := MustClient(t, srv, nil, WithBaseURL(srv.URL+"/prefix/"))
	if _, _, err := c.Customers.Get(context.Background(), 1, nil); err != nil {
		t.Fatal(err)
	}
	if got := rec.requests()[0].Path; got != "/prefix/customers/1" {
		t.Errorf("path = %q, want the base path kept", got)
	}
	if NewClient("t").BaseURL() != DefaultBaseURL {
		t.Errorf("default base URL = %q", NewClient("t").BaseURL())
	}
	for _, bad := range []string{"::", "ftp://x", "no-scheme", ""} {
		c := NewClient(testToken, WithBaseURL(bad))
		_, _, err := c.Customers.Get(context.Background(), 1, nil)
		if err == nil || !strings.Contains(err.Error(), "invalid base url") {
			t.Errorf("base URL %q: error = %v", bad, err)
		}
	}
}

func TestCancelRequiresReason(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	srv := MustServer(t, rec)
	c := MustClient(t, srv, nil)
	for _, req := range []*SubscriptionCancelRequest{nil, {CancellationReason: "  "}} {
		if _, _, err := c.Subscriptions.Cancel(context.Background(), 1, req); !errors.Is(err, errNoCancellationReason) {
			t.Errorf("Cancel(%+v) error = %v", req, err)
		}
	}
	if _, _, err := c.Products.Get(context.Background(), " "); err == nil {
		t.Error("Products.Get with an empty id did not fail")
	}
	if n := len(rec.requests()); n != 0 {
		t.Errorf("%d requests sent for invalid input", n)
	}
}

func TestMissingEnvelopeKey(t *testing.T) {
	t.Parallel()
	rec := &recorder{answers: []answer{{body: `{"shopify_customer":{"id":1}}`}}}
	srv := MustServer(t, rec)
	_, _, err := MustClient(t, srv, nil).Customers.Get(context.Background(), 1, nil)
	if err == nil || !strings.Contains(err.Error(), `no "customer" key`) {
		t.Errorf("error = %v", err)
	}
	if n := len(rec.requests()); n != 1 {
		t.Errorf("%d requests: a well-formed body of the wrong shape must not be retried", n)
	}
}

// cursorServer serves total items of a list endpoint, newest id first, in
// pages of the requested limit, minting opaque cursors. It checks that
// later pages carry only cursor and limit.
type cursorServer struct {
	t      *testing.T
	key    string
	total  int
	calls  atomic.Int32
	filter url.Values // the first page's expected filters, besides limit
}

func (s *cursorServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.calls.Add(1)
	q := r.URL.Query()
	limit, _ := strconv.Atoi(q.Get("limit"))
	if limit == 0 {
		limit = 50
	}
	start := 0
	if cur := q.Get("cursor"); cur != "" {
		for k := range q {
			if k != "cursor" && k != "limit" {
				s.t.Errorf("page query %q: want only cursor and limit", r.URL.RawQuery)
			}
		}
		if q.Get("limit") == "" && q.Get("cursor") != "bogus" {
			s.t.Errorf("page query %q: the limit was dropped", r.URL.RawQuery)
		}
		n, err := strconv.Atoi(strings.TrimPrefix(cur, "after-"))
		if err != nil {
			w.WriteHeader(422)
			fmt.Fprint(w, `{"errors":{"cursor":["Invalid value"]}}`)
			return
		}
		start = n
	} else {
		for k, v := range s.filter {
			if q.Get(k) != v[0] {
				s.t.Errorf("first page %s = %q, want %q", k, q.Get(k), v[0])
			}
		}
	}
	end := min(start+limit, s.total)
	var b strings.Builder
	next := "null"
	if end < s.total || (end == s.total && end-start == limit) {
		// A full last page still carries a cursor that leads to an empty page.
		next = strconv.Quote("after-" + strconv.Itoa(end))
	}
	fmt.Fprintf(&b, `{"next_cursor":%s,"previous_cursor":null,%q:[`, next, s.key)
	for i := start; i < end; i++ {
		if i > start {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"id":%d,"external_product_id":"p%d"}`, 1_000_000-i, i)
	}
	b.WriteString("]}")
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprint(w, b.String())
}

func TestPaginationSixHundredSubscriptions(t *testing.T) {
	t.Parallel()
	cs := &cursorServer{t: t, key: "subscriptions", total: 600, filter: url.Values{"customer_id": {"9"}, "status": {"active"}}}
	srv := MustServer(t, cs)
	c := MustClient(t, srv, nil)
	opts := &SubscriptionListOptions{CustomerID: 9, Status: "active", Limit: 250}
	seen := map[Int64]bool{}
	for s, err := range c.Subscriptions.All(context.Background(), opts) {
		if err != nil {
			t.Fatal(err)
		}
		if seen[s.ID] {
			t.Fatalf("subscription %d twice", s.ID)
		}
		seen[s.ID] = true
	}
	if len(seen) != 600 {
		t.Errorf("got %d subscriptions, want 600", len(seen))
	}
	if n := cs.calls.Load(); n != 3 {
		t.Errorf("%d requests, want 3 pages of 250", n)
	}
	if opts.Cursor != "" || opts.Limit != 250 {
		t.Errorf("All changed the caller's options: %+v", opts)
	}
}

// TestAllIterators runs every All over two pages and an empty last page.
func TestAllIterators(t *testing.T) {
	t.Parallel()
	count := func(seq iter.Seq2[any, error]) (int, error) {
		n := 0
		for _, err := range seq {
			if err != nil {
				return n, err
			}
			n++
		}
		return n, nil
	}
	tests := []struct {
		key    string
		filter url.Values
		seq    func(context.Context, *Client) iter.Seq2[any, error]
	}{
		{"customers", url.Values{"email": {"a@b.c"}}, func(ctx context.Context, c *Client) iter.Seq2[any, error] {
			return anySeq(c.Customers.All(ctx, &CustomerListOptions{Email: "a@b.c", Limit: 5}))
		}},
		{"charges", url.Values{"customer_id": {"9"}}, func(ctx context.Context, c *Client) iter.Seq2[any, error] {
			return anySeq(c.Charges.All(ctx, &ChargeListOptions{CustomerID: 9, Limit: 5}))
		}},
		{"addresses", url.Values{"customer_id": {"9"}}, func(ctx context.Context, c *Client) iter.Seq2[any, error] {
			return anySeq(c.Addresses.All(ctx, &AddressListOptions{CustomerID: 9, Limit: 5}))
		}},
		{"products", url.Values{"external_product_ids": {"p1,p2"}}, func(ctx context.Context, c *Client) iter.Seq2[any, error] {
			return anySeq(c.Products.All(ctx, &ProductListOptions{ExternalProductIDs: []string{"p1", "p2"}, Limit: 5}))
		}},
		{"subscriptions", url.Values{"customer_id": {"9"}}, func(ctx context.Context, c *Client) iter.Seq2[any, error] {
			return anySeq(c.Subscriptions.All(ctx, &SubscriptionListOptions{CustomerID: 9, Limit: 5}))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			t.Parallel()
			cs := &cursorServer{t: t, key: tt.key, total: 10, filter: tt.filter}
			srv := MustServer(t, cs)
			n, err := count(tt.seq(context.Background(), MustClient(t, srv, nil)))
			if err != nil || n != 10 {
				t.Errorf("got %d items, err %v; want 10", n, err)
			}
			// 5 + 5 + an empty page behind the full last page's cursor.
			if calls := cs.calls.Load(); calls != 3 {
				t.Errorf("%d requests, want 3", calls)
			}
		})
	}
}

func anySeq[T any](s iter.Seq2[*T, error]) iter.Seq2[any, error] {
	return func(yield func(any, error) bool) {
		for v, err := range s {
			if !yield(v, err) {
				return
			}
		}
	}
}

func TestAllStopsEarlyAndOnErrors(t *testing.T) {
	t.Parallel()
	cs := &cursorServer{t: t, key: "customers", total: 100}
	srv := MustServer(t, cs)
	c := MustClient(t, srv, nil)
	n := 0
	for _, err := range c.Customers.All(context.Background(), &CustomerListOptions{Limit: 10}) {
		if err != nil {
			t.Fatal(err)
		}
		if n++; n == 15 {
			break
		}
	}
	if calls := cs.calls.Load(); calls != 2 {
		t.Errorf("breaking after 15 items made %d requests, want 2", calls)
	}

	// A cursor the server rejects ends the iteration with that error.
	var errs []error
	for _, err := range c.Customers.All(context.Background(), &CustomerListOptions{Cursor: "bogus"}) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) != 1 || !IsValidation(errs[0]) {
		t.Errorf("errors = %v, want one 422", errs)
	}

	// A server that repeats a cursor does not loop forever.
	loop := &recorder{answers: []answer{{body: `{"next_cursor":"same","customers":[{"id":1}]}`}}}
	lsrv := MustServer(t, loop)
	items, errs := 0, errs[:0]
	for _, err := range MustClient(t, lsrv, nil).Customers.All(context.Background(), nil) {
		if err != nil {
			errs = append(errs, err)
		} else {
			items++
		}
	}
	if len(errs) != 1 || items != 2 || len(loop.requests()) != 2 {
		t.Errorf("repeated cursor: %d items, %d requests, errors %v", items, len(loop.requests()), errs)
	}
}
