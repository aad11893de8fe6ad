package recharge

import (
	"context"
	"path/filepath"
	"testing"
)

// TestSourceCatalogImages covers the product-image cache as Subscriptions
// uses it: what a store without a readable catalog costs, and the images a
// catalog fills in.
func TestSourceCatalogImages(t *testing.T) {
	t.Parallel()
	platform := string(MustRead(t, filepath.Join("testdata", "payloads", "Products", "list-products_422_platform.json")))

	t.Run("charges forbidden, no catalog: asked once per Source", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			code      int
			body      string
			wantCalls int32
		}{
			{422, platform, 1},                 // a Shopify store
			{403, `{"errors":"forbidden"}`, 1}, // no read_products scope
			{404, `{"errors":"Not Found"}`, 1}, // no such endpoint
			{500, `{"errors":"oops"}`, 6},      // transient: asked again (each GET tried twice)
		} {
			f := &fakeStore{t: t, subsPages: ownSubsPages(t), chargeStatus: 403, productCode: tc.code, productBody: tc.body}
			logger, logs := MustLogger(t)
			src := MustSource(t, f)
			src.Logger = logger
			for i := 0; i < 3; i++ {
				got, err := src.Subscriptions(context.Background(), 900001)
				if err != nil {
					t.Fatalf("catalog %d: the lookup failed: %v", tc.code, err)
				}
				if len(got) != 4 || got[1].Product.ImageURL != "" || got[1].Product.SKU != "" || got[1].Currency != "" {
					t.Errorf("without charges: %+v", got[1])
				}
			}
			if p := f.productCalls.Load(); p != tc.wantCalls {
				t.Errorf("catalog %d: /products called %d times, want %d", tc.code, p, tc.wantCalls)
			}
			assertNoToken(t, "logs", logs.String())
		}
	})

	t.Run("catalog fills the missing images", func(t *testing.T) {
		t.Parallel()
		f := &fakeStore{t: t, subsPages: ownSubsPages(t), chargeStatus: 403,
			productBody:    string(MustRead(t, filepath.Join("testdata", "payloads", "Products", "list-products_200.json"))),
			productQueries: make(chan string, 4)}
		src := MustSource(t, f)
		for i := 0; i < 2; i++ {
			got, err := src.Subscriptions(context.Background(), 900001)
			if err != nil {
				t.Fatal(err)
			}
			if img := got[3].Product.ImageURL; img != "https://cdn.example.com/v1b-medium.png" {
				t.Errorf("catalog image = %q, want the variant's", img)
			}
			if got[1].Product.ImageURL != "" || got[1].Product.SKU != "" {
				t.Errorf("a product absent from the catalog got %+v", got[1].Product)
			}
		}
		if q := <-f.productQueries; q != "external_product_ids=P-3%2CP-2%2CP-1&limit=250" {
			t.Errorf("catalog query %q", q)
		}
		if p := f.productCalls.Load(); p != 2 {
			t.Errorf("/products called %d times, want once per lookup on a store with a catalog", p)
		}
	})
}
