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
	"strconv"
	"strings"
	"time"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/search"
)

// MaxEmails is the number of distinct emails a search looks up at most; a
// profile with more keeps its first ones (Gladly sends the primary first).
const MaxEmails = 5

// Service implements rechargekit.CardService over a RechargeSource, and
// searches a CustomerIndex (the mirror) first when it has one.
type Service struct {
	Source rechargekit.RechargeSource
	// Index, when set, answers searches before Recharge is asked, and is
	// the only way phones, names and zips are found.
	Index rechargekit.CustomerIndex
	// Region is the phone region of numbers written without a country
	// code (PHONE_DEFAULT_REGION; search.DefaultRegion when "").
	Region string
	Now    func() time.Time // defaults to time.Now
	Logger *slog.Logger     // defaults to slog.Default()
}

var (
	_ rechargekit.CardService      = (*Service)(nil)
	_ rechargekit.CustomerSearcher = (*Service)(nil)
)

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

// FindCustomers returns the customers matching q (see SearchCustomers).
func (s *Service) FindCustomers(ctx context.Context, q rechargekit.CustomerSearch) ([]*rechargekit.Match, error) {
	res, err := s.SearchCustomers(ctx, q)
	if err != nil {
		return nil, err
	}
	return res.Matches, nil
}

// SearchCustomers finds the customers matching q, each once with what
// matched it, by Recharge id descending.
//
// With an Index, the index is asked first for every key q has: its
// emails (at most MaxEmails), phones (at most MaxPhones, in E.164), name,
// zip, ids and every kind of key its Query fits. When the index answers
// for the whole store, that is the answer, with no Recharge call. Else
// (no index, the mirror off or still syncing) Recharge is asked for the
// emails and the ids, the Query's among them, and the phones, names and
// zips are reported unsearched.
//
// Any failed look-up fails the whole search: a partial list could make a
// desk auto-link to the wrong account.
func (s *Service) SearchCustomers(ctx context.Context, q rechargekit.CustomerSearch) (*rechargekit.SearchResult, error) {
	keys := s.searchKeys(q)
	if s.Index != nil && len(keys.keys) > 0 {
		ms, ok, err := s.Index.SearchCustomers(ctx, keys.keys, SearchLimit)
		if err != nil {
			s.logger().WarnContext(ctx, "customer search failed", "correlation_id", rechargekit.CorrelationID(ctx),
				"in", "index", "error", err)
			return nil, err
		}
		if ok {
			found := keys.spelled(ms)
			// A search the index finds no one for may be after a customer
			// created since the mirror last heard: Recharge is asked for
			// its emails and ids (one call each), as before the mirror.
			if len(found) > 0 || len(keys.emails)+len(keys.ids)+len(keys.externals) == 0 {
				return &rechargekit.SearchResult{Matches: found}, nil
			}
			live, err := s.findLive(ctx, keys)
			if err != nil {
				return nil, err
			}
			return &rechargekit.SearchResult{Matches: live}, nil
		}
	}
	ms, err := s.findLive(ctx, keys)
	if err != nil {
		return nil, err
	}
	return &rechargekit.SearchResult{Matches: ms, Unsearched: keys.indexOnly}, nil
}

// Search limits.
const (
	// MaxPhones is the number of distinct phones a search looks up at most.
	MaxPhones = 5
	// SearchLimit is the number of customers asked of the index at most.
	SearchLimit = 50
)

// searchKeys is what a search looks for, normalised.
type searchKeys struct {
	keys      []rechargekit.SearchKey // for the index
	spelling  map[rechargekit.SearchKey]string
	emails    []string // for Recharge: as the caller spelled them
	ids       []int64
	externals []string
	indexOnly []string // the Match kinds only the index can search
}

// searchKeys normalises q into the keys of the index and the look-ups
// Recharge can answer.
func (s *Service) searchKeys(q rechargekit.CustomerSearch) *searchKeys {
	k := &searchKeys{spelling: map[rechargekit.SearchKey]string{}}
	add := func(kind, value, spelled string) {
		if value == "" {
			return
		}
		key := rechargekit.SearchKey{Kind: kind, Value: value}
		if _, dup := k.spelling[key]; dup {
			return
		}
		k.spelling[key] = spelled
		k.keys = append(k.keys, key)
		if by := search.MatchKind(kind); by == rechargekit.MatchPhone || by == rechargekit.MatchName || by == rechargekit.MatchZip {
			if !slices.Contains(k.indexOnly, by) {
				k.indexOnly = append(k.indexOnly, by)
			}
		}
	}
	emails := rechargekit.DistinctEmails(q.Emails, MaxEmails)
	for _, e := range emails {
		add(rechargekit.KeyEmail, search.Email(e), e)
	}
	for _, p := range distinct(q.Phones, MaxPhones) {
		add(rechargekit.KeyPhone, search.Phone(p, s.Region), p)
	}
	if q.CustomerID > 0 {
		id := strconv.FormatInt(q.CustomerID, 10)
		add(rechargekit.KeyCustomerID, id, id)
		k.ids = append(k.ids, q.CustomerID)
	}
	if ext := strings.TrimSpace(q.ExternalID); ext != "" {
		add(rechargekit.KeyExternalID, ext, ext)
		k.externals = append(k.externals, ext)
	}
	if n := strings.TrimSpace(q.Name); n != "" {
		add(rechargekit.KeyName, search.Name(n), n)
	}
	if z := strings.TrimSpace(q.Zip); z != "" {
		add(rechargekit.KeyZip, search.Zip(z), z)
	}
	// The free text last, so that a customer found by a typed field keeps
	// that reason. Its own spelling is the normalised key: it tells the
	// agent how the text was read ("phone +15551234567").
	for _, key := range search.Query(q.Query, s.Region) {
		add(key.Kind, key.Value, key.Value)
		switch key.Kind {
		case rechargekit.KeyEmail:
			emails = rechargekit.DistinctEmails(append(emails, strings.TrimSpace(q.Query)), MaxEmails)
		case rechargekit.KeyCustomerID:
			if id, err := strconv.ParseInt(key.Value, 10, 64); err == nil && !slices.Contains(k.ids, id) {
				k.ids = append(k.ids, id)
			}
		case rechargekit.KeyExternalID:
			if !slices.Contains(k.externals, key.Value) {
				k.externals = append(k.externals, key.Value)
			}
		}
	}
	k.emails = emails
	return k
}

// spelled returns the index's matches merged, each value in the caller's
// spelling of the key that matched (an email or a phone as the profile
// holds it), so that the auto-link rule compares like with like.
func (k *searchKeys) spelled(ms []*rechargekit.Match) []*rechargekit.Match {
	out := make([]*rechargekit.Match, 0, len(ms))
	for _, m := range ms {
		if m == nil || m.Customer == nil {
			continue
		}
		c := *m
		for key, spelled := range k.spelling {
			if search.MatchKind(key.Kind) == m.By && key.Value == m.Value {
				c.Value = spelled
				break
			}
		}
		out = append(out, &c)
	}
	return mergeMatches(out)
}

// distinct returns up to max of values, trimmed, without empty ones or
// duplicates, in their first order.
func distinct(values []string, max int) []string {
	var out []string
	for _, v := range values {
		if v = strings.TrimSpace(v); v != "" && !slices.Contains(out, v) && len(out) < max {
			out = append(out, v)
		}
	}
	return out
}

// findLive looks the emails and ids of a search up in Recharge, all at
// once.
func (s *Service) findLive(ctx context.Context, k *searchKeys) ([]*rechargekit.Match, error) {
	var lookups []func(context.Context) ([]*rechargekit.Match, error)
	for _, email := range k.emails {
		lookups = append(lookups, func(ctx context.Context) ([]*rechargekit.Match, error) {
			custs, err := s.Source.FindCustomers(ctx, email, "")
			return matches(custs, rechargekit.MatchEmail, email), err
		})
	}
	for _, id := range k.ids {
		lookups = append(lookups, func(ctx context.Context) ([]*rechargekit.Match, error) {
			cust, err := s.Source.Customer(ctx, id)
			if rechargekit.ErrorCode(err) == rechargekit.ENOTFOUND {
				return nil, nil
			}
			if err != nil {
				return nil, err
			}
			return matches([]*rechargekit.Customer{cust}, rechargekit.MatchCustomerID, strconv.FormatInt(id, 10)), nil
		})
	}
	for _, ext := range k.externals {
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
