// Package cards is the core of rechargekit: it finds the Recharge customers
// that match a desk profile or an agent's search, and builds the
// Subscription card of a Recharge customer.
//
// It depends only on the domain (rechargekit.RechargeSource for data), so the
// Gladly adaptor, the console and the CLI share one implementation of the
// rules: which candidates count, how a card is ordered, what an error means.
package cards

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/rechargekit/rechargekit"
)

// MaxEmails is the number of distinct emails a search looks up at most; a
// profile with more keeps its first ones (Gladly sends the primary first).
const MaxEmails = 5

// Service implements rechargekit.CardService over a RechargeSource.
type Service struct {
	Source rechargekit.RechargeSource
	Now    func() time.Time // defaults to time.Now
	Logger *slog.Logger     // defaults to slog.Default()
}

var _ rechargekit.CardService = (*Service)(nil)

// New returns a Service reading from src.
func New(src rechargekit.RechargeSource) *Service {
	return &Service{Source: src}
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Service) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// CardReader is a RechargeSource that reads a whole card at once, so that
// the customer, the subscriptions and the details share their Recharge
// calls (recharge.Source does: one charges read serves the product images
// and the charge sections). The details must fail section by section; the
// error is for the customer or the subscriptions.
type CardReader interface {
	ReadCard(ctx context.Context, customerID int64) (*rechargekit.Card, error)
}

// Card fetches the customer, all of its subscriptions and the card's
// details concurrently and returns them as a card, subscriptions in
// display order. A Source that is a CardReader reads them in one go; one
// that is a rechargekit.DetailsSource has its Details read beside the
// customer and the subscriptions. A details failure never fails the card:
// the sections are marked unavailable instead.
func (s *Service) Card(ctx context.Context, customerID int64) (*rechargekit.Card, error) {
	if customerID <= 0 {
		return nil, rechargekit.Errorf(rechargekit.EINVALID, "A Recharge customer id must be a positive number.")
	}
	if r, ok := s.Source.(CardReader); ok {
		card, err := r.ReadCard(ctx, customerID)
		if err != nil {
			return nil, err
		}
		out := *card
		out.Subscriptions = slices.Clone(card.Subscriptions)
		rechargekit.SortSubscriptions(out.Subscriptions)
		if out.FetchedAt.IsZero() {
			// A reader that knows when its data was confirmed (the
			// mirror) says so; a live read is as of now.
			out.FetchedAt = s.now()
		}
		if out.Details == nil {
			out.Details = allUnavailable(msgDetailsFailed)
		}
		return &out, nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	type subsResult struct {
		subs []*rechargekit.Subscription
		err  error
	}
	subsc := make(chan subsResult, 1)
	go func() {
		subs, err := s.Source.Subscriptions(ctx, customerID)
		subsc <- subsResult{subs, err}
	}()
	var detailsc chan *rechargekit.CardDetails
	if ds, ok := s.Source.(rechargekit.DetailsSource); ok {
		detailsc = make(chan *rechargekit.CardDetails, 1)
		go func() { detailsc <- s.details(ctx, ds, customerID) }()
	}

	cust, err := s.Source.Customer(ctx, customerID)
	if err != nil {
		cancel() // the subscriptions and details are of no use without the customer
		<-subsc
		if detailsc != nil {
			<-detailsc
		}
		return nil, err
	}
	res := <-subsc
	if res.err != nil {
		cancel()
		if detailsc != nil {
			<-detailsc
		}
		return nil, res.err
	}
	subs := slices.Clone(res.subs)
	rechargekit.SortSubscriptions(subs)
	card := &rechargekit.Card{Customer: *cust, Subscriptions: subs}
	if detailsc != nil {
		card.Details = <-detailsc
	}
	card.FetchedAt = s.now()
	return card, nil
}

// msgDetailsFailed marks every section when the details could not be read
// at all.
const msgDetailsFailed = "Recharge did not return this part of the card just now; it is read again with the card."

// details reads the sections, turning a failure of the whole (or a panic
// in the source) into every section marked unavailable.
func (s *Service) details(ctx context.Context, ds rechargekit.DetailsSource, customerID int64) (d *rechargekit.CardDetails) {
	defer func() {
		if p := recover(); p != nil {
			s.logger().ErrorContext(ctx, "card details panicked", "correlation_id", rechargekit.CorrelationID(ctx),
				"customer_id", customerID, "panic", fmt.Sprint(p))
			d = allUnavailable(msgDetailsFailed)
		}
	}()
	d, err := ds.Details(ctx, customerID)
	if err != nil {
		if ctx.Err() == nil {
			s.logger().WarnContext(ctx, "card details unavailable", "correlation_id", rechargekit.CorrelationID(ctx),
				"customer_id", customerID, "error", err)
		}
		msg := msgDetailsFailed
		if m := rechargekit.ErrorMessage(err); m != "" && rechargekit.ErrorCode(err) != rechargekit.EINTERNAL {
			msg = m
		}
		return allUnavailable(msg)
	}
	if d == nil {
		return allUnavailable(msgDetailsFailed)
	}
	return d
}

// allUnavailable returns details whose every section is marked with msg.
func allUnavailable(msg string) *rechargekit.CardDetails {
	return &rechargekit.CardDetails{Unavailable: map[string]string{
		rechargekit.SectionNextCharges:  msg,
		rechargekit.SectionPayment:      msg,
		rechargekit.SectionRecentOrders: msg,
		rechargekit.SectionAddresses:    msg,
		rechargekit.SectionEvents:       msg,
	}}
}

// FindCustomers looks up every distinct email of q (at most MaxEmails), its
// Recharge customer id and its platform customer id, and returns every
// distinct customer found, by Recharge id descending. Any failed look-up
// fails the whole search: a partial list could make a desk auto-link to the
// wrong account.
func (s *Service) FindCustomers(ctx context.Context, q rechargekit.CustomerSearch) ([]*rechargekit.Match, error) {
	emails := rechargekit.DistinctEmails(q.Emails, MaxEmails)
	var lookups []func(context.Context) ([]*rechargekit.Match, error)
	for _, email := range emails {
		lookups = append(lookups, func(ctx context.Context) ([]*rechargekit.Match, error) {
			custs, err := s.Source.FindCustomers(ctx, email, "")
			return matches(custs, rechargekit.MatchEmail, email), err
		})
	}
	if q.CustomerID > 0 {
		lookups = append(lookups, func(ctx context.Context) ([]*rechargekit.Match, error) {
			cust, err := s.Source.Customer(ctx, q.CustomerID)
			if rechargekit.ErrorCode(err) == rechargekit.ENOTFOUND {
				return nil, nil
			}
			if err != nil {
				return nil, err
			}
			return matches([]*rechargekit.Customer{cust}, rechargekit.MatchCustomerID, fmt.Sprint(q.CustomerID)), nil
		})
	}
	if ext := strings.TrimSpace(q.ExternalID); ext != "" {
		lookups = append(lookups, func(ctx context.Context) ([]*rechargekit.Match, error) {
			custs, err := s.Source.FindCustomers(ctx, "", ext)
			return matches(custs, rechargekit.MatchExternalID, ext), err
		})
	}
	if len(lookups) == 0 {
		return []*rechargekit.Match{}, nil
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		i       int
		matches []*rechargekit.Match
		err     error
	}
	results := make(chan result, len(lookups))
	for i, lookup := range lookups {
		go func() {
			m, err := lookup(ctx)
			results <- result{i, m, err}
		}()
	}
	// Collect in look-up order so that, for a customer found several ways,
	// the reason kept is the first in the search (emails in profile order).
	ordered := make([][]*rechargekit.Match, len(lookups))
	var firstErr error
	for range lookups {
		r := <-results
		if r.err != nil && firstErr == nil {
			firstErr = r.err
			cancel()
		}
		ordered[r.i] = r.matches
	}
	if firstErr != nil {
		s.logger().WarnContext(ctx, "customer search failed",
			"correlation_id", rechargekit.CorrelationID(ctx), "error", firstErr)
		return nil, firstErr
	}
	return mergeMatches(slices.Concat(ordered...)), nil
}

func matches(custs []*rechargekit.Customer, by, value string) []*rechargekit.Match {
	out := make([]*rechargekit.Match, 0, len(custs))
	for _, c := range custs {
		if c != nil {
			out = append(out, &rechargekit.Match{Customer: c, By: by, Value: value})
		}
	}
	return out
}

// mergeMatches keeps the first match of each Recharge customer id and sorts
// the result by id descending.
func mergeMatches(ms []*rechargekit.Match) []*rechargekit.Match {
	seen := make(map[int64]bool, len(ms))
	out := make([]*rechargekit.Match, 0, len(ms))
	for _, m := range ms {
		if seen[m.Customer.ID] {
			continue
		}
		seen[m.Customer.ID] = true
		out = append(out, m)
	}
	slices.SortStableFunc(out, func(a, b *rechargekit.Match) int {
		switch {
		case a.Customer.ID > b.Customer.ID:
			return -1
		case a.Customer.ID < b.Customer.ID:
			return 1
		}
		return 0
	})
	return out
}
