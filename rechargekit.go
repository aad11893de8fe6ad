// Package rechargekit holds the domain of rechargekit: the desk profile, the
// Recharge customer and subscriptions as the Subscription card shows them,
// links between the two, and the interfaces the adapters implement.
//
// It imports only the standard library. Adapters live in subpackages named
// after what they wrap (recharge, gladly, sqlite, ...) and cmd/rechargekit
// wires them together.
package rechargekit

import (
	"context"
	"strings"
	"time"
)

// Subscription statuses as Recharge sends them (lowercase on the wire).
const (
	StatusActive    = "active"
	StatusCancelled = "cancelled"
	StatusExpired   = "expired"
)

// Customer is a Recharge customer as the card and the candidate lists show it.
type Customer struct {
	ID         int64  // Recharge customer id
	ExternalID string // the store platform's (Shopify) customer id; "" when unknown
	Email      string // exactly as Recharge stores it
	FirstName  string
	LastName   string
	Phone      string // as stored: may be E.164 or free text

	// SubscriptionsTotal and SubscriptionsActive are Recharge's own counts;
	// nil when Recharge sent null. Never derived from a page of subscriptions.
	SubscriptionsTotal  *int
	SubscriptionsActive *int

	CreatedAt time.Time
	UpdatedAt time.Time
}

// Name returns the first and last name joined by one space, trimmed.
func (c *Customer) Name() string {
	return strings.TrimSpace(strings.TrimSpace(c.FirstName) + " " + strings.TrimSpace(c.LastName))
}

// Subscription is one Recharge subscription with its product, as the card shows it.
// Empty strings and nil pointers mean "unknown" (null in JSON).
type Subscription struct {
	ID         int64
	CustomerID int64
	AddressID  int64  // the address it ships to; 0 when unknown
	Status     string // StatusActive, StatusCancelled or StatusExpired, lowercase

	CreatedAt time.Time
	UpdatedAt time.Time

	ChargeIntervalFrequency int    // billing interval frequency; 0 when unknown
	OrderIntervalFrequency  int    // delivery interval frequency; 0 when unknown
	IntervalUnit            string // day, week or month

	NextChargeDate string // YYYY-MM-DD, "" when none (cancelled)

	CancelledAt                *time.Time
	CancellationReason         string
	CancellationReasonComments string

	Price    string // as Recharge sends it, e.g. "98.00"; never a float
	Currency string // ISO 4217, "" when unknown
	Quantity int

	Product Product
}

// IsActive reports whether the subscription is active.
func (s *Subscription) IsActive() bool { return strings.EqualFold(s.Status, StatusActive) }

// IsCancelled reports whether the subscription is cancelled.
func (s *Subscription) IsCancelled() bool { return strings.EqualFold(s.Status, StatusCancelled) }

// Product is the subscribed product variant.
type Product struct {
	ID          string // the platform's product id (external_product_id.ecommerce)
	VariantID   string
	Name        string
	VariantName string
	SKU         string
	ImageURL    string // "" when no image is known
}

// Profile is a customer profile in a support desk (a Gladly profile, or one
// pushed through the JSON API).
type Profile struct {
	ID     string
	Name   string
	Emails []string
	Phones []string
}

// CustomerSearch says what to look Recharge customers up by. Every non-empty
// field is searched and the results are merged by Recharge customer id.
type CustomerSearch struct {
	Emails     []string // each trimmed; compared case-insensitively
	CustomerID int64    // a Recharge customer id; 0 when absent
	ExternalID string   // a store platform (Shopify) customer id
	// Phones are searched in the mirror (Recharge cannot search them),
	// each normalised to E.164; without a ready mirror they find nothing.
	Phones []string
	// Query is an agent's free text, tried as every kind of key it fits
	// (an email, a phone, a name, a zip, an id): in the mirror when it is
	// ready, else as an email or an id in Recharge.
	Query string
	// Name and Zip are searched in the mirror only, as a name (a prefix
	// of a first, last or full name) and as a postal code; without a
	// ready mirror they find nothing.
	Name string
	Zip  string
}

// IsZero reports whether the search has nothing to search by.
func (q CustomerSearch) IsZero() bool {
	return len(q.Emails) == 0 && q.CustomerID == 0 && strings.TrimSpace(q.ExternalID) == "" && len(q.Phones) == 0 &&
		strings.TrimSpace(q.Query) == "" && strings.TrimSpace(q.Name) == "" && strings.TrimSpace(q.Zip) == ""
}

// SearchResult is the answer to a customer search with what it could not
// search.
type SearchResult struct {
	Matches []*Match // as CardService.FindCustomers returns them

	// Unsearched lists the kinds of key the search held that nobody
	// searched (MatchPhone, MatchName, MatchZip): only the mirror can, and
	// it is off or not complete yet. Empty when every key was searched.
	Unsearched []string
}

// CustomerSearcher is a CardService that also says what a search could
// not search (cards.Service and cards.Cached are), so that a surface can
// tell an agent why a phone or a name found nothing.
type CustomerSearcher interface {
	// SearchCustomers is FindCustomers with the kinds left unsearched.
	// Errors: EINVALID, EUPSTREAM.
	SearchCustomers(ctx context.Context, q CustomerSearch) (*SearchResult, error)
}

// SearchCustomers runs q on svc: through its CustomerSearcher when it has
// one, else through FindCustomers (which then reports nothing unsearched).
func SearchCustomers(ctx context.Context, svc CardService, q CustomerSearch) (*SearchResult, error) {
	if s, ok := svc.(CustomerSearcher); ok {
		return s.SearchCustomers(ctx, q)
	}
	ms, err := svc.FindCustomers(ctx, q)
	if err != nil {
		return nil, err
	}
	return &SearchResult{Matches: ms}, nil
}

// DistinctEmails returns up to max of the given emails (all of them when max
// is 0 or less), trimmed, without empty ones and without case-insensitive
// duplicates, in their first order and spelling. Gladly sends a profile's
// primary email first, so the cap keeps the ones that matter most.
func DistinctEmails(emails []string, max int) []string {
	var out []string
	seen := make(map[string]bool, len(emails))
	for _, e := range emails {
		e = strings.TrimSpace(e)
		key := strings.ToLower(e)
		if e == "" || seen[key] {
			continue
		}
		if max > 0 && len(out) == max {
			break
		}
		seen[key] = true
		out = append(out, e)
	}
	return out
}

// Match kinds: how a candidate was found.
const (
	MatchEmail      = "email"
	MatchCustomerID = "recharge_customer_id"
	MatchExternalID = "shopify_customer_id"
	MatchPhone      = "phone" // from the mirror only: Recharge cannot search phones
	MatchName       = "name"  // from the mirror only; never auto-links
	MatchZip        = "zip"   // from the mirror only; never auto-links
)

// Match is a candidate Recharge customer and why it matched.
type Match struct {
	Customer *Customer
	By       string // MatchEmail, MatchCustomerID, MatchExternalID, MatchPhone, MatchName or MatchZip
	// Value is what matched: an email, phone or id as searched (the
	// caller's spelling when the search carried one, else the normalised
	// key the mirror holds, such as "+15551234567" or "alex rivera").
	Value string
}

// RechargeSource reads customers and subscriptions from Recharge. The
// recharge package implements it over the Recharge API.
type RechargeSource interface {
	// Customer returns the customer with the given Recharge id.
	// Errors: ENOTFOUND, EUPSTREAM (also when Recharge refused the token:
	// its cause is then ErrUpstreamRefused).
	Customer(ctx context.Context, id int64) (*Customer, error)

	// FindCustomers returns the customers with the given email, or with the
	// given platform customer id; exactly one of the two is set. No match is
	// an empty slice, not an error.
	// Errors: EINVALID, EUPSTREAM.
	FindCustomers(ctx context.Context, email, externalID string) ([]*Customer, error)

	// Subscriptions returns every subscription of the customer, all pages
	// followed, each with its product filled in as far as Recharge knows it.
	// Errors: EUPSTREAM.
	Subscriptions(ctx context.Context, customerID int64) ([]*Subscription, error)
}

// CardService builds cards and finds candidate customers. The cards package
// implements it; the Gladly adaptor, the console and the CLI use it.
type CardService interface {
	// Card returns the Subscription card of a Recharge customer.
	// Errors: ENOTFOUND (no such customer), EUPSTREAM.
	Card(ctx context.Context, customerID int64) (*Card, error)

	// FindCustomers returns the distinct customers matching the search,
	// sorted by Recharge id descending.
	// Errors: EINVALID, EUPSTREAM.
	FindCustomers(ctx context.Context, q CustomerSearch) ([]*Match, error)
}
