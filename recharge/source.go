package recharge

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rechargekit/rechargekit"
)

// Source implements rechargekit.RechargeSource over the Recharge API: it
// maps Recharge's shapes to the domain's and Recharge's failures to domain
// error codes. Create it as &Source{Client: c}; it is safe for concurrent
// use and must not be copied after first use.
type Source struct {
	Client *Client
	Logger *slog.Logger // nil: no logs

	// ProductTTL is how long a product image learned from a charge line or
	// the catalog is remembered (DefaultProductTTL when zero), so that a
	// subscription whose product is absent from its customer's newest
	// charges still shows an image, and a catalog store is not asked for
	// the same product on every lookup. Images change far less often than
	// subscriptions, hence the longer life than a card's.
	ProductTTL time.Duration
	// Now is the clock of the product cache (time.Now when nil).
	Now func() time.Time

	catalogMu sync.Mutex
	catalog   catalogState
	probing   bool // a lookup is learning whether the store has a catalog

	imagesMu sync.Mutex
	images   map[string]productImage // by "v:"+variant id and "p:"+product id
}

// DefaultProductTTL is how long a Source remembers a product's image.
const DefaultProductTTL = 24 * time.Hour

// maxProductImages bounds the product cache; past it the cache starts over.
const maxProductImages = 100_000

// productImage is a remembered product image.
type productImage struct {
	url string
	at  time.Time
}

var _ rechargekit.RechargeSource = (*Source)(nil)

// catalogState records what the Source learned about /products.
type catalogState int

const (
	catalogUnknown     catalogState = iota // not asked yet, or the last probe failed transiently
	catalogAvailable                       // /products answered 200: a custom-platform store
	catalogUnavailable                     // 422 platform (Shopify), no read_products scope, no endpoint
)

// Page sizes of the Source's calls (spec/gladly-lookup.md section 11).
const (
	findCustomersLimit = 25
	sourcePageLimit    = MaxPageSize
)

func (s *Source) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

// Customer returns the customer with the Recharge id.
// Errors: ENOTFOUND, EUNAUTHORIZED, EUPSTREAM.
func (s *Source) Customer(ctx context.Context, id int64) (*rechargekit.Customer, error) {
	if id <= 0 {
		return nil, rechargekit.Errorf(rechargekit.ENOTFOUND, "Recharge customer %d not found", id)
	}
	c, _, err := s.Client.Customers.Get(ctx, id, nil)
	if err != nil {
		if IsNotFound(err) {
			return nil, rechargekit.WrapError(rechargekit.ENOTFOUND, "Recharge customer not found", err)
		}
		return nil, s.domainError(ctx, "read the Recharge customer", err)
	}
	return DomainCustomer(c), nil
}

// FindCustomers returns the customers with the email, or with the platform
// customer id; exactly one must be given. The email is trimmed; when one
// with capital letters finds nothing it is tried once more in lowercase
// (whether Recharge's filter is case-sensitive is not documented). Only the
// first 25 matches are returned; no match is an empty slice.
// Errors: EINVALID, EUNAUTHORIZED, EUPSTREAM.
func (s *Source) FindCustomers(ctx context.Context, email, externalID string) ([]*rechargekit.Customer, error) {
	email, externalID = strings.TrimSpace(email), strings.TrimSpace(externalID)
	switch {
	case email == "" && externalID == "":
		return nil, rechargekit.Errorf(rechargekit.EINVALID, "an email or a Shopify customer id is required")
	case email != "" && externalID != "":
		return nil, rechargekit.Errorf(rechargekit.EINVALID, "search by email or by Shopify customer id, not both")
	}
	opts := &CustomerListOptions{Email: email, ExternalCustomerID: externalID, Limit: findCustomersLimit}
	found, err := s.list(ctx, opts)
	if err == nil && len(found) == 0 && email != "" && strings.ToLower(email) != email {
		found, err = s.list(ctx, &CustomerListOptions{Email: strings.ToLower(email), Limit: findCustomersLimit})
	}
	if err != nil {
		if IsValidation(err) {
			return nil, rechargekit.WrapError(rechargekit.EINVALID, "Recharge refused the search", err)
		}
		return nil, s.domainError(ctx, "search Recharge customers", err)
	}
	out := make([]*rechargekit.Customer, 0, len(found))
	for _, c := range found {
		out = append(out, DomainCustomer(c))
	}
	return out, nil
}

func (s *Source) list(ctx context.Context, opts *CustomerListOptions) ([]*Customer, error) {
	cs, _, err := s.Client.Customers.List(ctx, opts)
	return cs, err
}

// Subscriptions returns every subscription of the customer, all pages
// followed, with the product filled in from the subscription, the newest
// charges (images, SKU and currency fallbacks) and, on stores that have
// one, the catalog. The charges are read concurrently with the first
// subscription page; a token without read_orders (403 there) or any other
// failure of that call only leaves the fallbacks empty. The order is
// Recharge's; the cards package sorts. Errors: EUNAUTHORIZED, EUPSTREAM.
func (s *Source) Subscriptions(ctx context.Context, customerID int64) ([]*rechargekit.Subscription, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var (
		charges    []*Charge
		chargesErr error
		done       = make(chan struct{})
	)
	go func() {
		defer close(done)
		charges, _, chargesErr = s.Client.Charges.List(ctx, &ChargeListOptions{CustomerID: customerID, Limit: sourcePageLimit})
	}()

	var subs []*Subscription
	for sub, err := range s.Client.Subscriptions.All(ctx, &SubscriptionListOptions{CustomerID: customerID, Limit: sourcePageLimit}) {
		if err != nil {
			cancel()
			<-done
			return nil, s.domainError(ctx, "read the Recharge subscriptions", err)
		}
		subs = append(subs, sub)
	}
	<-done
	if chargesErr != nil {
		level := slog.LevelWarn
		if IsForbidden(chargesErr) || ctx.Err() != nil {
			// A token without read_orders is expected and documented; a
			// cancelled lookup (the customer was not found) is not news.
			level = slog.LevelDebug
		}
		s.logger().LogAttrs(ctx, level, "recharge: charges unavailable: product images, SKU and currency fallbacks left empty",
			slog.Int64("customer_id", customerID), slog.String("error", chargesErr.Error()))
		charges = nil
	}
	out := DomainSubscriptions(subs, charges)
	s.rememberImages(out) // only images from the charges: none is filled from memory yet
	s.fillRememberedImages(out)
	s.fillCatalogImages(ctx, out)
	return out, nil
}

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

// domainError maps a client error to the domain's codes, with a message
// for the person who sees it. Recharge refusing rechargekit's own token
// (401, or 403 for a missing scope) is EUPSTREAM like any other Recharge
// failure, with rechargekit.ErrUpstreamRefused in its cause, because
// EUNAUTHORIZED is the code for the caller's credentials. what says what
// could not be done, as in "read the Recharge customer".
func (s *Source) domainError(ctx context.Context, what string, err error) error {
	switch {
	case IsUnauthorized(err):
		return rechargekit.UpstreamRefused("Recharge refused rechargekit's API token: it was revoked or mistyped.", err)
	case IsForbidden(err):
		// The route says which read scope the token lacks (spec/recharge-api.md section 14).
		msg := "The Recharge API token lacks a permission (scope) that rechargekit needs to " + what + "."
		if e, ok := asErrorResponse(err); ok {
			for _, r := range []struct{ prefix, scope string }{
				{"/customers", "read_customers"}, {"/addresses", "read_customers"},
				{"/subscriptions", "read_subscriptions"}, {"/charges", "read_orders"},
				{"/orders", "read_orders"}, {"/products", "read_products"}, {"/plans", "read_products"},
			} {
				if strings.HasPrefix(e.Path, r.prefix) {
					msg = "The Recharge API token lacks the " + r.scope + " permission (scope), so rechargekit could not " + what + "."
					break
				}
			}
		}
		return rechargekit.UpstreamRefused(msg, err)
	case IsRateLimited(err):
		return rechargekit.WrapError(rechargekit.EUPSTREAM, "Recharge is rate limiting requests, so rechargekit could not "+what+".", err)
	case errors.Is(err, context.DeadlineExceeded):
		return rechargekit.WrapError(rechargekit.EUPSTREAM, "Recharge did not answer in time, so rechargekit could not "+what+".", err)
	case errors.Is(err, context.Canceled):
		return rechargekit.WrapError(rechargekit.EUPSTREAM, "The request was cancelled before rechargekit could "+what+".", err)
	default:
		s.logger().LogAttrs(ctx, slog.LevelWarn, "recharge: call failed", slog.String("op", what), slog.String("error", err.Error()))
		return rechargekit.WrapError(rechargekit.EUPSTREAM, "Recharge is unavailable, so rechargekit could not "+what+".", err)
	}
}

// DomainCustomer maps a Recharge customer to the domain's. Counts stay nil
// when Recharge sent null; times are converted to UTC.
func DomainCustomer(c *Customer) *rechargekit.Customer {
	if c == nil {
		return nil
	}
	return &rechargekit.Customer{
		ID:                  c.ID,
		ExternalID:          c.ExternalCustomerID.String(),
		Email:               c.Email,
		FirstName:           c.FirstName,
		LastName:            c.LastName,
		Phone:               c.Phone,
		SubscriptionsTotal:  copyInt(c.SubscriptionsTotalCount),
		SubscriptionsActive: copyInt(c.SubscriptionsActiveCount),
		CreatedAt:           c.CreatedAt.UTC(),
		UpdatedAt:           c.UpdatedAt.UTC(),
	}
}

func copyInt(p *int) *int {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// DomainSubscriptions maps subscriptions to the domain's, per
// spec/gladly-lookup.md section 12. Name, variant, SKU and product id come
// from the subscription. charges (any order; nil when unreadable) supply
// fallbacks from the newest charge (by created_at, then id) with a line
// item whose purchase_item_id is the subscription's id:
//   - the image: the first non-empty of medium, small, original and large
//     of a line item whose purchase_item_type is "subscription", preferring
//     a line of the subscription's own variant, then one of the same
//     product (a swapped subscription must not show its old product);
//   - the SKU, when the subscription's own is null, from a line of the same
//     variant (a SKU names a variant);
//   - the currency, when presentment_currency is null, from that charge.
//
// The result keeps the input order; catalog images are not looked up here.
func DomainSubscriptions(subs []*Subscription, charges []*Charge) []*rechargekit.Subscription {
	idx := indexLineItems(charges)
	out := make([]*rechargekit.Subscription, 0, len(subs))
	for _, sub := range subs {
		if sub == nil {
			continue
		}
		out = append(out, domainSubscription(sub, idx[sub.ID]))
	}
	return out
}

// lineRef is a line item and its charge.
type lineRef struct {
	charge *Charge
	item   *LineItem
}

// indexLineItems groups line items by purchase item id, newest charge first.
func indexLineItems(charges []*Charge) map[int64][]lineRef {
	sorted := slices.Clone(charges)
	sorted = slices.DeleteFunc(sorted, func(c *Charge) bool { return c == nil })
	slices.SortStableFunc(sorted, func(a, b *Charge) int {
		if c := b.CreatedAt.Compare(a.CreatedAt.Time); c != 0 {
			return c
		}
		return cmp.Compare(b.ID, a.ID)
	})
	idx := map[int64][]lineRef{}
	for _, c := range sorted {
		for _, li := range c.LineItems {
			if li != nil && li.PurchaseItemID != 0 {
				idx[li.PurchaseItemID] = append(idx[li.PurchaseItemID], lineRef{c, li})
			}
		}
	}
	return idx
}

func domainSubscription(sub *Subscription, lines []lineRef) *rechargekit.Subscription {
	d := &rechargekit.Subscription{
		ID:                         sub.ID,
		CustomerID:                 sub.CustomerID,
		Status:                     strings.ToLower(strings.TrimSpace(sub.Status)),
		CreatedAt:                  sub.CreatedAt.UTC(),
		UpdatedAt:                  sub.UpdatedAt.UTC(),
		ChargeIntervalFrequency:    sub.ChargeIntervalFrequency,
		OrderIntervalFrequency:     sub.OrderIntervalFrequency,
		IntervalUnit:               strings.ToLower(strings.TrimSpace(sub.OrderIntervalUnit)),
		NextChargeDate:             sub.NextChargeScheduledAt.String(),
		CancelledAt:                sub.CancelledAt.UTCPtr(),
		CancellationReason:         sub.CancellationReason,
		CancellationReasonComments: sub.CancellationReasonComments,
		Price:                      sub.Price,
		Currency:                   strings.ToUpper(strings.TrimSpace(sub.PresentmentCurrency)),
		Quantity:                   sub.Quantity,
		Product: rechargekit.Product{
			ID:          sub.ExternalProductID.String(),
			VariantID:   sub.ExternalVariantID.String(),
			Name:        sub.ProductTitle,
			VariantName: sub.VariantTitle,
			SKU:         sub.SKU,
		},
	}
	variant, product := d.Product.VariantID, d.Product.ID
	sameVariant := func(li *LineItem) bool {
		v := li.ExternalVariantID.String()
		return variant == "" || v == "" || v == variant
	}
	sameProduct := func(li *LineItem) bool {
		p := li.ExternalProductID.String()
		return product == "" || p == "" || p == product
	}
	isSub := func(li *LineItem) bool {
		return strings.EqualFold(strings.TrimSpace(li.PurchaseItemType), PurchaseItemSubscription)
	}
	// Image: same variant first, then same product.
	for _, match := range []func(*LineItem) bool{sameVariant, sameProduct} {
		if d.Product.ImageURL != "" {
			break
		}
		for _, l := range lines {
			if isSub(l.item) && match(l.item) {
				if u := l.item.Images.Best(); u != "" {
					d.Product.ImageURL = u
					break
				}
			}
		}
	}
	if d.Product.SKU == "" {
		for _, l := range lines {
			if sku := strings.TrimSpace(l.item.SKU); sku != "" && sameVariant(l.item) {
				d.Product.SKU = sku
				break
			}
		}
	}
	if d.Currency == "" {
		for _, l := range lines {
			if cur := strings.TrimSpace(l.charge.Currency); cur != "" {
				d.Currency = strings.ToUpper(cur)
				break
			}
		}
	}
	return d
}
