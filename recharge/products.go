package recharge

import (
	"context"
	"errors"
	"iter"
	"net/http"
	"net/url"
	"strings"
)

// ProductsService reads the 2021-11 product catalog. Only stores on
// Recharge's custom platform have one: on Shopify and BigCommerce stores
// every call answers 422 {"errors":{"platform":[...]}}, which
// IsPlatformUnsupported recognises. (The 2021-01 /products, deprecated since
// 2025-06-30, is not supported.)
type ProductsService struct{ client *Client }

// ProductListOptions filters GET /products.
type ProductListOptions struct {
	ExternalProductIDs []string
	Limit              int // page size, at most 250 (default 50)
	Cursor             string
}

func (o *ProductListOptions) values() url.Values {
	q := query{}
	if o == nil {
		return url.Values(q)
	}
	q.strs("external_product_ids", o.ExternalProductIDs)
	q.page(o.Limit, o.Cursor)
	return url.Values(q)
}

// List returns one page of catalog products.
func (s *ProductsService) List(ctx context.Context, opts *ProductListOptions) ([]*Product, *Response, error) {
	return listPage[Product](ctx, s.client, "/products", opts.values(), "products")
}

// All iterates over every catalog product matching opts.
func (s *ProductsService) All(ctx context.Context, opts *ProductListOptions) iter.Seq2[*Product, error] {
	return listAll[Product](ctx, s.client, "/products", opts.values(), "products")
}

// Get returns the catalog product with the platform's product id.
func (s *ProductsService) Get(ctx context.Context, externalProductID string) (*Product, *Response, error) {
	if strings.TrimSpace(externalProductID) == "" {
		return nil, nil, errors.New("recharge: get product: empty external product id")
	}
	return getOne[Product](ctx, s.client, http.MethodGet, "/products/"+url.PathEscape(externalProductID), nil, nil, "product")
}
