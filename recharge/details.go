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

// CardData is what a card is built from: Recharge's wire objects, as
// ReadCardData reads them live or as a local mirror holds them, and for
// each section that is missing, why. Build the card with CardFromData.
type CardData struct {
	// Customer carries its addresses and, unless PaymentMethods is set,
	// its payment methods in Include.
	Customer *Customer
	// Subscriptions are every subscription of the customer, in any order.
	Subscriptions []*Subscription
	// Charges are the customer's newest charges (up to 250), in any order.
	Charges []*Charge
	// PaymentMethods are the payment methods when they were read on their
	// own (the include refused); they win over Customer.Include's.
	PaymentMethods []*PaymentMethod
	// Events are the customer's newest events (up to 250), in any order.
	Events []*Event

	// Why sections are missing: the error of their read, or the sentence
	// to show when they were not asked for (a remembered refusal, a
	// resource the mirror could not read). CustomerErr only concerns the
	// details read on their own (Details): a card needs its customer.
	CustomerErr       error
	PaymentMethodsErr error
	PaymentMethodsMsg string
	ChargesErr        error
	ChargesMsg        string
	EventsErr         error
	EventsMsg         string

	// Offline builds the card without any Recharge call: a subscription
	// without a product image gets a remembered one, the catalog is not
	// asked. A mirrored card is built offline.
	Offline bool
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
	var r CardData
	var wg sync.WaitGroup
	wg.Go(func() {
		r.Customer, r.PaymentMethods, r.PaymentMethodsMsg, r.PaymentMethodsErr, r.CustomerErr = s.readCustomer(ctx, customerID, liteCustomer)
	})
	wg.Go(func() { r.Charges, r.ChargesErr = s.readCharges(ctx, customerID) })
	wg.Go(func() { r.Events, r.EventsMsg, r.EventsErr = s.readEvents(ctx, customerID, liteEvents) })
	wg.Wait()
	if r.CustomerErr != nil && IsNotFound(r.CustomerErr) {
		return nil, rechargekit.WrapError(rechargekit.ENOTFOUND, "Recharge has no such customer.", r.CustomerErr)
	}
	return s.details(ctx, customerID, &r), nil
}

// ReadCard reads a whole card (customer, subscriptions and details) with
// the calls shared between them: the charges read serves the product
// images and the charge sections, the customer read brings the addresses
// and payment methods. The details fail section by section; the customer
// and the subscriptions fail the card. FetchedAt is left for the caller.
// Errors: ENOTFOUND, EUPSTREAM.
func (s *Source) ReadCard(ctx context.Context, customerID int64) (*rechargekit.Card, error) {
	d, err := s.ReadCardData(ctx, customerID)
	if err != nil {
		return nil, err
	}
	return s.CardFromData(ctx, d), nil
}

// ReadCardData reads what ReadCard builds a card from, in parallel: the
// customer with its addresses and payment methods, every page of its
// subscriptions, its newest charges and events. The details' reads fail
// section by section (named in the CardData); the customer and the
// subscriptions fail the read. Errors: ENOTFOUND, EUPSTREAM.
func (s *Source) ReadCardData(ctx context.Context, customerID int64) (*CardData, error) {
	if customerID <= 0 {
		return nil, rechargekit.Errorf(rechargekit.ENOTFOUND, "Recharge has no customer with the id %d.", customerID)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	liteCustomer, liteEvents, done := s.startProbe()
	defer done()
	var r CardData
	var side sync.WaitGroup
	side.Go(func() { r.Charges, r.ChargesErr = s.readCharges(ctx, customerID) })
	side.Go(func() { r.Events, r.EventsMsg, r.EventsErr = s.readEvents(ctx, customerID, liteEvents) })
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
	r.Customer, r.PaymentMethods, r.PaymentMethodsMsg, r.PaymentMethodsErr, r.CustomerErr = s.readCustomer(ctx, customerID, liteCustomer)
	if r.CustomerErr == nil {
		<-subsEnd
	}
	if r.CustomerErr != nil || subsErr != nil {
		cancel()
	}
	<-subsEnd
	side.Wait()
	if r.CustomerErr != nil || subsErr != nil {
		// The card fails, but what the events read learned still holds.
		if r.EventsErr != nil && isDefinite4xx(r.EventsErr) {
			s.eventsRefused(ctx, customerID, r.EventsErr)
		}
	}
	switch {
	case r.CustomerErr != nil && IsNotFound(r.CustomerErr):
		return nil, rechargekit.WrapError(rechargekit.ENOTFOUND, "Recharge has no such customer.", r.CustomerErr)
	case r.CustomerErr != nil:
		return nil, s.domainError(ctx, "read the Recharge customer", r.CustomerErr)
	case subsErr != nil:
		return nil, s.domainError(ctx, "read the Recharge subscriptions", subsErr)
	}
	r.Subscriptions = subs
	return &r, nil
}

// CardFromData builds the card of d, whose Customer must be set: the
// live Source and the mirror share this one mapping. A section d says is
// missing is named in Details.Unavailable; a definite refusal among the
// errors is remembered as after a live read. FetchedAt is left for the
// caller.
func (s *Source) CardFromData(ctx context.Context, d *CardData) *rechargekit.Card {
	customerID := int64(d.Customer.ID)
	charges, chargesErr := d.Charges, d.ChargesErr
	if d.ChargesMsg != "" {
		charges, chargesErr = nil, nil
	}
	return &rechargekit.Card{
		Customer:      *DomainCustomer(d.Customer),
		Subscriptions: s.completeSubscriptions(ctx, customerID, d.Subscriptions, charges, chargesErr, d.Offline),
		Details:       s.details(ctx, customerID, d),
	}
}

// details maps the reads and names each section that failed.
func (s *Source) details(ctx context.Context, customerID int64, r *CardData) *rechargekit.CardDetails {
	data := DetailsData{Subscriptions: r.Subscriptions}
	if r.CustomerErr == nil {
		data.Customer = r.Customer
	}
	if r.ChargesErr == nil && r.ChargesMsg == "" {
		data.Charges = r.Charges
	}
	if r.EventsErr == nil && r.EventsMsg == "" {
		data.Events = r.Events
	}
	if r.PaymentMethodsErr == nil && r.PaymentMethodsMsg == "" {
		data.PaymentMethods = r.PaymentMethods
	}
	d, ok := s.mapDetails(ctx, customerID, data)
	if !ok {
		return d
	}
	un := map[string]string{}
	if r.CustomerErr != nil {
		un[rechargekit.SectionAddresses] = msgCustFailed
		un[rechargekit.SectionPayment] = msgCustFailed
		s.logSection(ctx, customerID, "customer", r.CustomerErr)
	} else if r.PaymentMethodsMsg != "" {
		un[rechargekit.SectionPayment] = r.PaymentMethodsMsg
	} else if r.PaymentMethodsErr != nil {
		un[rechargekit.SectionPayment] = s.pmsRefused(ctx, customerID, r.PaymentMethodsErr)
	}
	if msg := r.ChargesMsg; msg != "" || r.ChargesErr != nil {
		if msg == "" {
			msg = msgChargesFailed
			if IsForbidden(r.ChargesErr) {
				msg = msgChargesScope
			}
		}
		un[rechargekit.SectionNextCharges] = msg
		un[rechargekit.SectionRecentOrders] = msg
		if _, ok := un[rechargekit.SectionPayment]; !ok {
			un[rechargekit.SectionPayment] = msgFailingCharge
		}
		// The subscriptions' mapping logs the charges' failure once.
	}
	switch {
	case r.EventsMsg != "":
		un[rechargekit.SectionEvents] = r.EventsMsg
	case r.EventsErr != nil:
		un[rechargekit.SectionEvents] = s.eventsRefused(ctx, customerID, r.EventsErr)
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
