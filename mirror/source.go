package mirror

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/recharge"
	"github.com/rechargekit/rechargekit/search"
)

// This file answers the card service from the mirror: a customer held by
// a complete mirror costs no Recharge call; any other is read live and
// written through.

// Source implements rechargekit.RechargeSource and cards.CardReader over
// the mirror, falling back to Options.Live. Get it from Mirror.Source.
type Source struct{ m *Mirror }

var _ rechargekit.RechargeSource = (*Source)(nil)

// Source returns the card source that reads from the mirror.
func (m *Mirror) Source() *Source { return m.source }

// ReadCard returns the customer's card. When the mirror is complete,
// current and holds the customer, the card is built from it with no
// Recharge call, FetchedAt the time its data was last confirmed. When the
// mirror is behind (its reconciliation overdue or failing), the card is
// read live, and only if Recharge fails (at once, while its breaker is
// open) does the mirror answer, marked Stale. A customer the mirror does
// not hold, or a mirror not complete yet, is read live through
// Options.Live and written through, as of now. A mirror that cannot be
// read is skipped. Errors: ENOTFOUND, EUPSTREAM.
func (s *Source) ReadCard(ctx context.Context, customerID int64) (*rechargekit.Card, error) {
	m := s.m
	usable, behind, swept := m.mirrorState(ctx)
	if !usable || customerID <= 0 {
		return s.readLive(ctx, customerID)
	}
	if behind && m.rechargeFailing() {
		// Recharge failed the last request of either client (a lookup's
		// or the reconciliation's): the mirror answers at once, marked
		// as possibly out of date, rather than this lookup waiting out
		// retries before the breaker opens.
		if mc, merr := m.cardFromMirror(ctx, customerID, swept); merr == nil {
			mc.Stale = true
			return mc, nil
		}
	}
	if behind {
		card, err := s.readLive(ctx, customerID)
		if rechargekit.ErrorCode(err) != rechargekit.EUPSTREAM {
			return card, err
		}
		if mc, merr := m.cardFromMirror(ctx, customerID, swept); merr == nil {
			mc.Stale = true
			return mc, nil
		}
		return nil, err
	}
	card, err := m.cardFromMirror(ctx, customerID, swept)
	if err == nil {
		return card, nil
	}
	if rechargekit.ErrorCode(err) != rechargekit.ENOTFOUND {
		m.log.LogAttrs(ctx, slog.LevelWarn, "mirror: card not readable from the mirror; read live",
			slog.Int64("customer_id", customerID), slog.String("error", err.Error()))
	}
	return s.readLive(ctx, customerID)
}

// failureFresh is how long a failed request of either client counts as
// Recharge failing. A behind mirror answering from itself makes no live
// request, so after this long one lookup asks Recharge again: once it
// has recovered, cards are fresh again within failureFresh, not only at
// the next reconciliation.
const failureFresh = 30 * time.Second

// rechargeFailing reports whether either client's breaker is open (or
// probing), or Recharge failed the latest request of the live client or
// of the mirror's own (5xx, no connection, no answer in time) within
// failureFresh. The clients' health is on their own clock (time.Now).
func (m *Mirror) rechargeFailing() bool {
	for _, c := range []*recharge.Client{m.live.Client, m.opts.Client} {
		if c == nil {
			continue
		}
		h := c.Health()
		if h.Breaker != recharge.BreakerClosed {
			return true
		}
		if (h.State == recharge.HealthUnavailable || h.State == recharge.HealthTimeout) && time.Since(h.LastSeen) < failureFresh {
			return true
		}
	}
	return false
}

// cardFromMirror reads the customer's records and builds its card.
// Errors: ENOTFOUND (not held), those of the store.
func (m *Mirror) cardFromMirror(ctx context.Context, customerID int64, swept time.Time) (*rechargekit.Card, error) {
	recs, err := m.store.MirroredCustomer(ctx, customerID)
	if err != nil {
		return nil, err
	}
	return m.mirroredCard(ctx, recs, swept)
}

// mirroredCard builds a card from a customer's records. Its FetchedAt is
// the later of two times at which all of its data was known current:
// swept, up to which every resource's changes were read (so nothing the
// customer's records miss changed before it), and the oldest SeenAt of
// its records (each record was read from Recharge at or after it; a
// webhook applied since only makes it newer). Either alone is true; the
// later is the more useful.
func (m *Mirror) mirroredCard(ctx context.Context, recs []*rechargekit.MirrorRecord, swept time.Time) (*rechargekit.Card, error) {
	d, err := cardData(recs)
	if err != nil {
		return nil, err
	}
	cps, err := m.checkpoints(ctx, false)
	if err != nil {
		return nil, err
	}
	refused(d, cps)
	card := m.live.CardFromData(ctx, d)
	var oldest time.Time
	for _, r := range recs {
		if !r.SeenAt.IsZero() && (oldest.IsZero() || r.SeenAt.Before(oldest)) {
			oldest = r.SeenAt
		}
	}
	card.FetchedAt = swept
	if oldest.After(swept) {
		card.FetchedAt = oldest
	}
	card.FetchedAt = card.FetchedAt.UTC()
	return card, nil
}

// refused marks the sections whose resource Recharge refused to the
// backfill, as a live read refused the same way would.
func refused(d *recharge.CardData, cps map[string]*rechargekit.MirrorCheckpoint) {
	for res, path := range map[string]string{
		rechargekit.MirrorCharges: "/charges", rechargekit.MirrorPaymentMethods: "/payment_methods", rechargekit.MirrorEvents: "/events",
	} {
		status := refusedStatus(cps[res])
		if status == 0 {
			continue
		}
		err := &recharge.ErrorResponse{StatusCode: status, Method: "GET", Path: path, Message: "refused when the mirror was filled"}
		switch res {
		case rechargekit.MirrorCharges:
			d.Charges, d.ChargesErr = nil, err
		case rechargekit.MirrorPaymentMethods:
			d.PaymentMethodsErr = err
			if d.Customer.Include != nil {
				d.Customer.Include.PaymentMethods = nil
			}
		case rechargekit.MirrorEvents:
			d.Events, d.EventsErr = nil, err
		}
	}
}

// readLive reads the card from Recharge and writes its records through.
// A failed write only costs the next lookup another live read.
func (s *Source) readLive(ctx context.Context, customerID int64) (*rechargekit.Card, error) {
	m := s.m
	d, err := m.live.ReadCardData(ctx, customerID)
	if err != nil {
		return nil, err
	}
	card := m.live.CardFromData(ctx, d)
	card.FetchedAt = m.now().UTC()
	recs, err := cardDataRecords(d, m.opts.Region, m.now())
	if err == nil && len(recs) > 0 {
		_, err = m.store.PutMirror(ctx, recs)
	}
	if err != nil {
		m.log.LogAttrs(ctx, slog.LevelWarn, "mirror: a live card could not be written through", slog.Int64("customer_id", customerID),
			slog.String("error", err.Error()))
	}
	return card, nil
}

// Customer returns the customer from the mirror when it is complete and
// holds it, else from Recharge. Errors: ENOTFOUND, EUPSTREAM.
func (s *Source) Customer(ctx context.Context, id int64) (*rechargekit.Customer, error) {
	if d := s.mirrored(ctx, id); d != nil {
		return recharge.DomainCustomer(d.Customer), nil
	}
	return s.m.live.Customer(ctx, id)
}

// Subscriptions returns the customer's subscriptions from the mirror when
// it is complete and holds the customer, else from Recharge.
// Errors: EUPSTREAM.
func (s *Source) Subscriptions(ctx context.Context, customerID int64) ([]*rechargekit.Subscription, error) {
	if d := s.mirrored(ctx, customerID); d != nil {
		return s.m.live.CardFromData(ctx, d).Subscriptions, nil
	}
	return s.m.live.Subscriptions(ctx, customerID)
}

// FindCustomers returns the customers with the email (case-insensitive)
// or the platform id, from the mirror when it is complete and holds one,
// else from Recharge. Errors: EINVALID, EUPSTREAM.
func (s *Source) FindCustomers(ctx context.Context, email, externalID string) ([]*rechargekit.Customer, error) {
	email, externalID = strings.TrimSpace(email), strings.TrimSpace(externalID)
	key := rechargekit.SearchKey{Kind: rechargekit.KeyEmail, Value: search.Email(email)}
	if externalID != "" {
		key = rechargekit.SearchKey{Kind: rechargekit.KeyExternalID, Value: externalID}
	}
	if (email == "") != (externalID == "") && key.Value != "" {
		// No hit may be a customer created since the mirror last heard:
		// Recharge is asked then.
		matches, ok, err := s.m.SearchCustomers(ctx, []rechargekit.SearchKey{key}, findLimit)
		if err == nil && ok && len(matches) > 0 {
			out := make([]*rechargekit.Customer, 0, len(matches))
			for _, mt := range matches {
				out = append(out, mt.Customer)
			}
			return out, nil
		}
	}
	return s.m.live.FindCustomers(ctx, email, externalID)
}

// findLimit is how many customers FindCustomers returns, as the live
// Source does.
const findLimit = 25

// mirrored returns the customer's data from a complete mirror, nil when
// the mirror cannot answer for it.
func (s *Source) mirrored(ctx context.Context, customerID int64) *recharge.CardData {
	if usable, _, _ := s.m.mirrorState(ctx); !usable || customerID <= 0 {
		return nil
	}
	recs, err := s.m.store.MirroredCustomer(ctx, customerID)
	if err != nil {
		return nil
	}
	d, err := cardData(recs)
	if err != nil {
		return nil
	}
	if cps, err := s.m.checkpoints(ctx, false); err == nil {
		refused(d, cps)
	}
	return d
}
