package recharge

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/rechargekit/rechargekit"
)

// This file holds the Source's reads of the card's sections beyond the
// subscriptions (rechargekit.DetailsSource) and ReadCard, which reads a
// whole card with as few Recharge calls as the API allows:
//
//   - GET /customers/{id}?include=addresses,payment_methods: the customer,
//     its dunning flag, addresses and payment methods in one call;
//   - GET /subscriptions?customer_id= (all pages);
//   - GET /charges?customer_id=&limit=250: product images, next charges,
//     failing charges and recent orders (processed charges) from one read;
//   - GET /events?customer_id=&limit=250: the timeline, which no include
//     can carry.
//
// All four run in parallel: a cold card costs one Recharge round trip and
// four calls (one per page beyond the first 250 subscriptions). Where a
// store refuses the payment_methods include, the Source remembers it and
// reads GET /payment_methods?customer_id= beside the customer instead (five
// calls); where the token or plan has no events or no payment methods API,
// it remembers that for RefusalRecheck and the section says so without a
// call.

// RefusalRecheck is how long a Source believes a refusal of GET /events or
// GET /payment_methods (no scope, not on the store's plan) before asking
// again, so that a scope granted later shows up without a restart.
const RefusalRecheck = time.Hour

var _ rechargekit.DetailsSource = (*Source)(nil)

// Sentences for sections that could not be read, shown to agents.
const (
	msgEventsScope   = "The Recharge token may not read events (read_events)."
	msgEventsPlan    = "This Recharge store's plan has no events (a Recharge Pro feature), so the timeline is not shown."
	msgEventsFailed  = "Recharge did not return the timeline just now; it is read again with the card."
	msgChargesScope  = "The Recharge token may not read charges (read_orders)."
	msgChargesFailed = "Recharge did not return the charges just now; they are read again with the card."
	msgPMScope       = "The Recharge token may not read payment methods (read_payment_methods), so the payment method is not shown."
	msgPMPlan        = "This Recharge store's plan has no payment methods API (Recharge Pro or Custom), so the payment method is not shown."
	msgPMFailed      = "Recharge did not return the payment methods just now; they are read again with the card."
	msgCustFailed    = "Recharge did not return the customer just now; the addresses and payment are read again with the card."
	msgFailingCharge = "Recharge did not return the charges, so failed payments are not shown."
	msgNotYet        = "rechargekit is still learning what this Recharge store offers; this part comes with the card's next read."
)

// detailReads are the raw answers behind a card's sections.
type detailReads struct {
	cust       *Customer
	custErr    error
	pms        []*PaymentMethod // read on their own when the include is refused
	pmsErr     error
	pmsMsg     string // set when the payment methods were not asked for (remembered refusal)
	charges    []*Charge
	chargesErr error
	events     []*Event
	eventsErr  error
	eventsMsg  string // set when the events were not asked for (remembered refusal)
}

// Details returns the customer's sections beyond the subscriptions, read
// in parallel: the customer with its addresses and payment methods, its
// charges and its events. A section that fails is left empty and named
// in Unavailable. Errors: ENOTFOUND (no such customer).
func (s *Source) Details(ctx context.Context, customerID int64) (*rechargekit.CardDetails, error) {
	if customerID <= 0 {
		return nil, rechargekit.Errorf(rechargekit.ENOTFOUND, "Recharge has no customer with the id %d.", customerID)
	}
	liteCustomer, liteEvents, done := s.startProbe()
	defer done()
	var r detailReads
	var wg sync.WaitGroup
	wg.Go(func() { r.cust, r.pms, r.pmsMsg, r.pmsErr, r.custErr = s.readCustomer(ctx, customerID, liteCustomer) })
	wg.Go(func() { r.charges, r.chargesErr = s.readCharges(ctx, customerID) })
	wg.Go(func() { r.events, r.eventsMsg, r.eventsErr = s.readEvents(ctx, customerID, liteEvents) })
	wg.Wait()
	if r.custErr != nil && IsNotFound(r.custErr) {
		return nil, rechargekit.WrapError(rechargekit.ENOTFOUND, "Recharge has no such customer.", r.custErr)
	}
	return s.details(ctx, customerID, &r, nil), nil
}

// ReadCard reads a whole card (customer, subscriptions and details) with
// the calls shared between them: the charges read serves the product
// images and the charge sections, the customer read brings the addresses
// and payment methods. The details fail section by section; the customer
// and the subscriptions fail the card. FetchedAt is left for the caller.
// Errors: ENOTFOUND, EUPSTREAM.
func (s *Source) ReadCard(ctx context.Context, customerID int64) (*rechargekit.Card, error) {
	if customerID <= 0 {
		return nil, rechargekit.Errorf(rechargekit.ENOTFOUND, "Recharge has no customer with the id %d.", customerID)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	liteCustomer, liteEvents, done := s.startProbe()
	defer done()
	var r detailReads
	var side sync.WaitGroup
	side.Go(func() { r.charges, r.chargesErr = s.readCharges(ctx, customerID) })
	side.Go(func() { r.events, r.eventsMsg, r.eventsErr = s.readEvents(ctx, customerID, liteEvents) })
	var (
		subs    []*Subscription
		subsErr error
		subsEnd = make(chan struct{})
	)
	go func() {
		defer close(subsEnd)
		for sub, err := range s.Client.Subscriptions.All(ctx, &SubscriptionListOptions{CustomerID: customerID, Limit: sourcePageLimit}) {
			if err != nil {
				subsErr = err
				return
			}
			subs = append(subs, sub)
		}
	}()

	// The customer decides first: without it the rest is of no use, and
	// its error (404, our token refused) says the most.
	r.cust, r.pms, r.pmsMsg, r.pmsErr, r.custErr = s.readCustomer(ctx, customerID, liteCustomer)
	if r.custErr == nil {
		<-subsEnd
	}
	if r.custErr != nil || subsErr != nil {
		cancel()
	}
	<-subsEnd
	side.Wait()
	if r.custErr != nil || subsErr != nil {
		// The card fails, but what the events read learned still holds.
		if r.eventsErr != nil && isDefinite4xx(r.eventsErr) {
			s.eventsRefused(ctx, customerID, r.eventsErr)
		}
	}
	switch {
	case r.custErr != nil && IsNotFound(r.custErr):
		return nil, rechargekit.WrapError(rechargekit.ENOTFOUND, "Recharge has no such customer.", r.custErr)
	case r.custErr != nil:
		return nil, s.domainError(ctx, "read the Recharge customer", r.custErr)
	case subsErr != nil:
		return nil, s.domainError(ctx, "read the Recharge subscriptions", subsErr)
	}
	return &rechargekit.Card{
		Customer:      *DomainCustomer(r.cust),
		Subscriptions: s.completeSubscriptions(ctx, customerID, subs, r.charges, r.chargesErr),
		Details:       s.details(ctx, customerID, &r, subs),
	}, nil
}

// details maps the reads and names each section that failed.
func (s *Source) details(ctx context.Context, customerID int64, r *detailReads, subs []*Subscription) *rechargekit.CardDetails {
	data := DetailsData{Subscriptions: subs}
	if r.custErr == nil {
		data.Customer = r.cust
	}
	if r.chargesErr == nil {
		data.Charges = r.charges
	}
	if r.eventsErr == nil {
		data.Events = r.events
	}
	if r.pmsErr == nil {
		data.PaymentMethods = r.pms
	}
	d, ok := s.mapDetails(ctx, customerID, data)
	if !ok {
		return d
	}
	un := map[string]string{}
	if r.custErr != nil {
		un[rechargekit.SectionAddresses] = msgCustFailed
		un[rechargekit.SectionPayment] = msgCustFailed
		s.logSection(ctx, customerID, "customer", r.custErr)
	} else if r.pmsMsg != "" {
		un[rechargekit.SectionPayment] = r.pmsMsg
	} else if r.pmsErr != nil {
		un[rechargekit.SectionPayment] = s.pmsRefused(ctx, customerID, r.pmsErr)
	}
	if r.chargesErr != nil {
		msg := msgChargesFailed
		if IsForbidden(r.chargesErr) {
			msg = msgChargesScope
		}
		un[rechargekit.SectionNextCharges] = msg
		un[rechargekit.SectionRecentOrders] = msg
		if _, ok := un[rechargekit.SectionPayment]; !ok {
			un[rechargekit.SectionPayment] = msgFailingCharge
		}
		// The subscriptions' mapping logs the charges' failure once.
	}
	switch {
	case r.eventsMsg != "":
		un[rechargekit.SectionEvents] = r.eventsMsg
	case r.eventsErr != nil:
		un[rechargekit.SectionEvents] = s.eventsRefused(ctx, customerID, r.eventsErr)
	}
	if len(un) > 0 {
		d.Unavailable = un
	}
	return d
}

// mapDetails maps the reads into the card's sections. The card is read
// in the card cache's own goroutine, where a panic would end the process:
// a mapping that panics on data Recharge sent marks every section
// unavailable instead (ok false), and the card still shows.
func (s *Source) mapDetails(ctx context.Context, customerID int64, data DetailsData) (d *rechargekit.CardDetails, ok bool) {
	defer func() {
		if p := recover(); p != nil {
			s.logger().ErrorContext(ctx, "recharge: mapping the card's details panicked", "customer_id", customerID, "panic", fmt.Sprint(p))
			un := map[string]string{}
			for _, sec := range []string{rechargekit.SectionNextCharges, rechargekit.SectionPayment, rechargekit.SectionRecentOrders,
				rechargekit.SectionAddresses, rechargekit.SectionEvents} {
				un[sec] = msgMappingFailed
			}
			d, ok = &rechargekit.CardDetails{Unavailable: un}, false
		}
	}()
	if s.mapping != nil {
		return s.mapping(data), true
	}
	return DomainDetails(data), true
}

// msgMappingFailed marks the sections when rechargekit could not read
// what Recharge sent for them.
const msgMappingFailed = "rechargekit could not read this part of what Recharge sent; the rest of the card is shown."

// logSection logs a section's failure: a cancelled lookup or a refusal
// the card explains is not news.
func (s *Source) logSection(ctx context.Context, customerID int64, what string, err error) {
	level := slog.LevelWarn
	if ctx.Err() != nil || isDefinite4xx(err) {
		level = slog.LevelDebug
	}
	s.logger().LogAttrs(ctx, level, "recharge: card section unavailable", slog.String("section", what),
		slog.Int64("customer_id", customerID), slog.String("error", err.Error()))
}

// readCharges reads the customer's newest charges, the same read the
// subscriptions' product images come from.
func (s *Source) readCharges(ctx context.Context, customerID int64) ([]*Charge, error) {
	charges, _, err := s.Client.Charges.List(ctx, &ChargeListOptions{CustomerID: customerID, Limit: sourcePageLimit})
	return charges, err
}

// readCustomer reads the customer with its addresses and payment methods
// included. A store that refuses the payment_methods include (any
// definite 4xx but 404) is remembered; its payment methods are then read
// with GET /payment_methods beside the customer, and pmsErr says why they
// are missing when that fails too.
func (s *Source) readCustomer(ctx context.Context, customerID int64, lite bool) (cust *Customer, pms []*PaymentMethod, pmsMsg string, pmsErr, err error) {
	if lite {
		cust, _, err = s.Client.Customers.Get(ctx, customerID, &CustomerGetOptions{Include: []string{IncludeAddresses}})
		return cust, nil, msgNotYet, nil, err
	}
	s.detailsMu.Lock()
	off := s.pmIncludeOff
	if s.pmsOffMsg != "" && s.now().Before(s.pmsOffUntil) {
		pmsMsg = s.pmsOffMsg
	}
	s.detailsMu.Unlock()
	if !off {
		cust, _, err = s.Client.Customers.Get(ctx, customerID, &CustomerGetOptions{Include: []string{IncludeAddresses, IncludePaymentMethods}})
		if err == nil {
			s.detailsMu.Lock()
			s.pmIncludeOK = true
			s.detailsMu.Unlock()
		}
		if err == nil || !includeRefused(err) {
			return cust, nil, "", nil, err
		}
		s.detailsMu.Lock()
		if !s.pmIncludeOff {
			s.logger().LogAttrs(ctx, slog.LevelInfo, "recharge: the payment_methods include is refused; payment methods are read on their own",
				slog.String("error", err.Error()))
		}
		s.pmIncludeOff = true
		s.detailsMu.Unlock()
	}
	s.detailsMu.Lock()
	listOK := s.pmListOK
	s.detailsMu.Unlock()
	readPMs := func() {
		pms, _, pmsErr = s.Client.PaymentMethods.List(ctx, &PaymentMethodListOptions{CustomerID: customerID, Limit: sourcePageLimit})
		if pmsErr == nil {
			s.detailsMu.Lock()
			s.pmListOK = true
			s.detailsMu.Unlock()
		}
	}
	if !listOK {
		// Until GET /payment_methods has answered once, the customer is
		// read first: a missing customer or a failing Recharge then costs
		// no call to a route this store may not have.
		cust, _, err = s.Client.Customers.Get(ctx, customerID, &CustomerGetOptions{Include: []string{IncludeAddresses}})
		if err == nil && pmsMsg == "" {
			readPMs()
		}
		return cust, pms, pmsMsg, pmsErr, err
	}
	var wg sync.WaitGroup
	if pmsMsg == "" {
		wg.Go(readPMs)
	}
	cust, _, err = s.Client.Customers.Get(ctx, customerID, &CustomerGetOptions{Include: []string{IncludeAddresses}})
	wg.Wait()
	return cust, pms, pmsMsg, pmsErr, err
}

// pmsRefused returns the payment section's sentence for a failed payment
// methods read and remembers a definite refusal (no scope, no such API on
// the plan) for RefusalRecheck.
func (s *Source) pmsRefused(ctx context.Context, customerID int64, err error) string {
	msg := pmMessage(err)
	if msg == msgPMFailed {
		s.logSection(ctx, customerID, "payment methods", err)
		return msg
	}
	s.detailsMu.Lock()
	defer s.detailsMu.Unlock()
	if s.pmsOffMsg == "" || !s.now().Before(s.pmsOffUntil) {
		s.logger().LogAttrs(ctx, slog.LevelInfo, "recharge: payment methods unavailable; the card says so without asking again for a while",
			slog.Duration("recheck", RefusalRecheck), slog.String("error", err.Error()))
	}
	s.pmsOffMsg, s.pmsOffUntil = msg, s.now().Add(RefusalRecheck)
	return msg
}

// includeRefused reports a refusal that reading without the include may
// avoid: a definite 4xx other than 404 (no such customer) and 401 (our
// token).
func includeRefused(err error) bool {
	return isDefinite4xx(err) && !IsNotFound(err) && !IsUnauthorized(err)
}

// pmMessage says why the payment methods are missing.
func pmMessage(err error) string {
	switch {
	case IsForbidden(err):
		return msgPMScope
	case isDefinite4xx(err):
		return msgPMPlan
	}
	return msgPMFailed
}

// readEvents reads the customer's events: one page of up to 250, which
// the mapping sorts newest first (GET /events has no sort_by). While a
// refusal is remembered it makes no call and returns the sentence to show.
func (s *Source) readEvents(ctx context.Context, customerID int64, lite bool) ([]*Event, string, error) {
	if lite {
		return nil, msgNotYet, nil
	}
	s.detailsMu.Lock()
	if msg := s.eventsOffMsg; msg != "" && s.now().Before(s.eventsOffUntil) {
		s.detailsMu.Unlock()
		return nil, msg, nil
	}
	s.detailsMu.Unlock()
	events, _, err := s.Client.Events.List(ctx, &EventListOptions{CustomerID: customerID, Limit: sourcePageLimit})
	if err == nil {
		s.detailsMu.Lock()
		s.eventsOK = true
		s.detailsMu.Unlock()
	}
	return events, "", err
}

// startProbe decides whether a card may ask the reads whose support the
// Source has not learned yet (the payment_methods include, GET
// /payment_methods, GET /events). One card at a time learns them; a card
// that starts meanwhile is lite in what is still unknown: liteCustomer, it
// reads the customer with its addresses only; liteEvents, no events; and
// it says those sections come with a later read. What is known already
// (the include answered, say, while the events failed last time) it reads
// as usual, so a failing events read does not cost every card its payment
// method. So a burst of first cards (a replica starting under load) spends
// no budget on refusals it would learn together, as the catalog probe does
// for images. done ends the probe.
func (s *Source) startProbe() (liteCustomer, liteEvents bool, done func()) {
	s.detailsMu.Lock()
	defer s.detailsMu.Unlock()
	now := s.now()
	includeKnown := s.pmIncludeOK || (s.pmIncludeOff && (s.pmListOK || (s.pmsOffMsg != "" && now.Before(s.pmsOffUntil))))
	eventsKnown := s.eventsOK || (s.eventsOffMsg != "" && now.Before(s.eventsOffUntil))
	switch {
	case includeKnown && eventsKnown:
		return false, false, func() {}
	case s.learning:
		return !includeKnown, !eventsKnown, func() {}
	}
	s.learning = true
	return false, false, func() {
		s.detailsMu.Lock()
		s.learning = false
		s.detailsMu.Unlock()
	}
}

// eventsRefused returns the timeline's sentence for a failed events read
// and remembers a definite refusal (no scope, no events on the plan) for
// RefusalRecheck.
func (s *Source) eventsRefused(ctx context.Context, customerID int64, err error) string {
	var msg string
	switch {
	case IsForbidden(err):
		msg = msgEventsScope
	case IsNotFound(err) || IsPlatformUnsupported(err) || hasStatus(err, http.StatusMethodNotAllowed):
		msg = msgEventsPlan
	default:
		s.logSection(ctx, customerID, "events", err)
		return msgEventsFailed
	}
	s.detailsMu.Lock()
	defer s.detailsMu.Unlock()
	if s.eventsOffMsg == "" || !s.now().Before(s.eventsOffUntil) {
		s.logger().LogAttrs(ctx, slog.LevelInfo, "recharge: events unavailable; the timeline says so without asking again for a while",
			slog.Duration("recheck", RefusalRecheck), slog.String("error", err.Error()))
	}
	s.eventsOffMsg, s.eventsOffUntil = msg, s.now().Add(RefusalRecheck)
	return msg
}
