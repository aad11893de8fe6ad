package recharge

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/rechargekit/rechargekit"
)

// This file holds the Source's product-image cache: the images it learns
// from charge lines and, on stores that have one, from the catalog, kept
// per variant and per product so that a subscription missing from its
// customer's newest charges still shows its product's image.

// DefaultProductTTL is how long a Source remembers a product's image.
const DefaultProductTTL = 24 * time.Hour

// maxProductImages bounds the product cache; past it the cache starts over.
const maxProductImages = 100_000

// productImage is a remembered product image.
type productImage struct {
	url string
	at  time.Time
}

// catalogState records what the Source learned about /products.
type catalogState int

const (
	catalogUnknown     catalogState = iota // not asked yet, or the last probe failed transiently
	catalogAvailable                       // /products answered 200: a custom-platform store
	catalogUnavailable                     // 422 platform (Shopify), no read_products scope, no endpoint
)

func (s *Source) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// imageKeys returns the product cache keys of a subscription's product:
// its variant's first, then its product's.
func imageKeys(p rechargekit.Product) []string {
	var keys []string
	if p.VariantID != "" {
		keys = append(keys, "v:"+p.VariantID)
	}
	if p.ID != "" {
		keys = append(keys, "p:"+p.ID)
	}
	return keys
}

// rememberImages keeps the images the subscriptions carry, by variant and
// by product.
func (s *Source) rememberImages(subs []*rechargekit.Subscription) {
	now := s.now()
	s.imagesMu.Lock()
	defer s.imagesMu.Unlock()
	for _, sub := range subs {
		if sub.Product.ImageURL == "" {
			continue
		}
		if s.images == nil || len(s.images) >= maxProductImages {
			s.images = make(map[string]productImage)
		}
		for _, k := range imageKeys(sub.Product) {
			s.images[k] = productImage{url: sub.Product.ImageURL, at: now}
		}
	}
}

// fillRememberedImages gives subscriptions still lacking an image the one
// remembered for their variant, or else their product, while it is fresh.
func (s *Source) fillRememberedImages(subs []*rechargekit.Subscription) {
	ttl := s.ProductTTL
	if ttl <= 0 {
		ttl = DefaultProductTTL
	}
	now := s.now()
	s.imagesMu.Lock()
	defer s.imagesMu.Unlock()
	for _, sub := range subs {
		if sub.Product.ImageURL != "" {
			continue
		}
		for _, k := range imageKeys(sub.Product) {
			if img, ok := s.images[k]; ok && now.Sub(img.at) < ttl {
				sub.Product.ImageURL = img.url
				break
			}
		}
	}
}

// fillCatalogImages gives subscriptions still lacking an image the catalog
// image, on stores that have a catalog. The first call learns whether the
// store has one and remembers a definite "no" (any 4xx but 429 and 409) for
// the Source's lifetime, so a Shopify store costs one /products call ever.
// While one lookup probes, the others skip catalog images rather than wait
// for it: no lock is held across a Recharge call, so a slow catalog never
// holds another lookup past its deadline. After a transient failure the
// next lookup probes again.
func (s *Source) fillCatalogImages(ctx context.Context, subs []*rechargekit.Subscription) {
	var ids []string
	seen := map[string]bool{}
	for _, sub := range subs {
		if id := sub.Product.ID; sub.Product.ImageURL == "" && id != "" && !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return
	}
	s.catalogMu.Lock()
	if s.catalog == catalogUnavailable || (s.catalog == catalogUnknown && s.probing) {
		s.catalogMu.Unlock()
		return
	}
	probe := s.catalog == catalogUnknown
	s.probing = s.probing || probe
	s.catalogMu.Unlock()

	products, err := s.fetchCatalog(ctx, ids)
	s.catalogMu.Lock()
	if probe {
		s.probing = false
	}
	s.noteCatalog(ctx, err)
	s.catalogMu.Unlock()
	s.rememberImages(applyCatalog(subs, products))
}

// noteCatalog records the outcome of a /products call. The caller holds catalogMu.
func (s *Source) noteCatalog(ctx context.Context, err error) {
	switch {
	case err == nil:
		s.catalog = catalogAvailable
	case IsPlatformUnsupported(err) || isDefinite4xx(err):
		if s.catalog != catalogUnavailable {
			s.logger().LogAttrs(ctx, slog.LevelInfo, "recharge: no readable product catalog; images come from charges only",
				slog.String("error", err.Error()))
		}
		s.catalog = catalogUnavailable
	default:
		s.logger().LogAttrs(ctx, slog.LevelWarn, "recharge: product catalog unavailable", slog.String("error", err.Error()))
	}
}

// isDefinite4xx reports a client error that asking again will not change:
// no read_products scope (403), no such endpoint (404, 405). A 429 or 409
// is transient.
func isDefinite4xx(err error) bool {
	e, ok := asErrorResponse(err)
	return ok && e.StatusCode >= 400 && e.StatusCode < 500 &&
		e.StatusCode != http.StatusTooManyRequests && e.StatusCode != http.StatusConflict
}

// fetchCatalog reads the catalog products with the given platform ids.
func (s *Source) fetchCatalog(ctx context.Context, ids []string) (map[string]*Product, error) {
	out := make(map[string]*Product, len(ids))
	for chunk := range slices.Chunk(ids, MaxPageSize) {
		for p, err := range s.Client.Products.All(ctx, &ProductListOptions{ExternalProductIDs: chunk, Limit: MaxPageSize}) {
			if err != nil {
				return nil, err
			}
			if id := p.ExternalProductID.String(); id != "" {
				out[id] = p
			}
		}
	}
	return out, nil
}

// applyCatalog gives subscriptions without an image their catalog image
// and returns those it filled.
func applyCatalog(subs []*rechargekit.Subscription, products map[string]*Product) []*rechargekit.Subscription {
	var filled []*rechargekit.Subscription
	for _, sub := range subs {
		if sub.Product.ImageURL != "" {
			continue
		}
		if p := products[sub.Product.ID]; p != nil {
			if sub.Product.ImageURL = p.ImageURL(sub.Product.VariantID); sub.Product.ImageURL != "" {
				filled = append(filled, sub)
			}
		}
	}
	return filled
}
