package recharge

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/rechargekit/rechargekit"
)

// This file holds the Source, rechargekit.RechargeSource over the Client,
// and its mapping of the Client's errors to domain codes. The wire-to-domain
// mapping it applies is in domain.go, its product-image cache in images.go.

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

	// What the Source learned about the details' reads (details.go).
	detailsMu      sync.Mutex
	pmIncludeOff   bool      // GET /customers/{id}?include=payment_methods was refused
	eventsOffUntil time.Time // GET /events was refused for good (scope, plan) until then
	eventsOffMsg   string    // the timeline's sentence meanwhile
	pmsOffUntil    time.Time // GET /payment_methods was refused for good until then
	pmsOffMsg      string    // the payment section's sentence meanwhile
	pmListOK       bool      // GET /payment_methods has answered 200 once
	pmIncludeOK    bool      // the payment_methods include has answered 200 once
	eventsOK       bool      // GET /events has answered 200 once
	learning       bool      // a card is learning the above (startProbe)

	// mapping replaces DomainDetails in tests.
	mapping func(DetailsData) *rechargekit.CardDetails
}

var _ rechargekit.RechargeSource = (*Source)(nil)

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
// Errors: ENOTFOUND, EUPSTREAM.
func (s *Source) Customer(ctx context.Context, id int64) (*rechargekit.Customer, error) {
	if id <= 0 {
		return nil, rechargekit.Errorf(rechargekit.ENOTFOUND, "Recharge has no customer with the id %d.", id)
	}
	c, _, err := s.Client.Customers.Get(ctx, id, nil)
	if err != nil {
		if IsNotFound(err) {
			return nil, rechargekit.WrapError(rechargekit.ENOTFOUND, "Recharge has no such customer.", err)
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
// Errors: EINVALID, EUPSTREAM.
func (s *Source) FindCustomers(ctx context.Context, email, externalID string) ([]*rechargekit.Customer, error) {
	email, externalID = strings.TrimSpace(email), strings.TrimSpace(externalID)
	switch {
	case email == "" && externalID == "":
		return nil, rechargekit.Errorf(rechargekit.EINVALID, "An email or a Shopify customer id is required.")
	case email != "" && externalID != "":
		return nil, rechargekit.Errorf(rechargekit.EINVALID, "Search by email or by Shopify customer id, not both.")
	}
	opts := &CustomerListOptions{Email: email, ExternalCustomerID: externalID, Limit: findCustomersLimit}
	found, err := s.list(ctx, opts)
	if err == nil && len(found) == 0 && email != "" && strings.ToLower(email) != email {
		found, err = s.list(ctx, &CustomerListOptions{Email: strings.ToLower(email), Limit: findCustomersLimit})
	}
	if err != nil {
		if IsValidation(err) {
			return nil, rechargekit.WrapError(rechargekit.EINVALID, "Recharge refused the search.", err)
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
// Recharge's; the cards package sorts. Errors: EUPSTREAM.
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
	return s.completeSubscriptions(ctx, customerID, subs, charges, chargesErr, false), nil
}

// completeSubscriptions maps subscriptions with the customer's charges
// (nil, with chargesErr, when they could not be read) and fills product
// images from the charges, the remembered images and (unless offline)
// the catalog.
func (s *Source) completeSubscriptions(ctx context.Context, customerID int64, subs []*Subscription, charges []*Charge, chargesErr error, offline bool) []*rechargekit.Subscription {
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
	if !offline {
		s.fillCatalogImages(ctx, out)
	}
	return out
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
	case errors.Is(err, ErrBreakerOpen):
		// Not logged: the breaker logged once when it opened, and this
		// answer costs Recharge nothing.
		return rechargekit.WrapError(rechargekit.EUPSTREAM, "Recharge is failing; rechargekit is not asking it for a few seconds, so it could not "+what+".", err)
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
