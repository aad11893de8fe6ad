package mirror

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/recharge"
	"github.com/rechargekit/rechargekit/search"
)

// This file turns Recharge's wire objects into mirror records and records
// back into the recharge.CardData a card is built from. A record's Doc is
// the object re-encoded from rechargekit's own wire types, which decode no
// payment token, so none is ever stored.

// record encodes one wire object (*recharge.Customer, *Address,
// *Subscription, *Charge, *PaymentMethod or *Event) read at seen. It
// returns nil for an object the mirror cannot file: no id, or no customer
// (a store-level event).
func record(obj any, region string, seen time.Time) (*rechargekit.MirrorRecord, error) {
	rec := &rechargekit.MirrorRecord{SeenAt: seen}
	switch o := obj.(type) {
	case *recharge.Customer:
		c := *o
		c.Include = nil // addresses and payment methods are records of their own
		rec.Resource, rec.ID, rec.CustomerID, rec.UpdatedAt = rechargekit.MirrorCustomers, int64(c.ID), int64(c.ID), c.UpdatedAt.Time
		rec.Keys = search.CustomerKeys(recharge.DomainCustomer(&c), region)
		obj = &c
	case *recharge.Address:
		rec.Resource, rec.ID, rec.CustomerID, rec.UpdatedAt = rechargekit.MirrorAddresses, int64(o.ID), int64(o.CustomerID), o.UpdatedAt.Time
		rec.Keys = search.AddressKeys(recharge.DomainAddress(o), region)
	case *recharge.Subscription:
		rec.Resource, rec.ID, rec.CustomerID, rec.UpdatedAt = rechargekit.MirrorSubscriptions, int64(o.ID), int64(o.CustomerID), o.UpdatedAt.Time
	case *recharge.Charge:
		rec.Resource, rec.ID, rec.CustomerID, rec.UpdatedAt = rechargekit.MirrorCharges, int64(o.ID), int64(o.CustomerID), o.UpdatedAt.Time
	case *recharge.PaymentMethod:
		rec.Resource, rec.ID, rec.CustomerID, rec.UpdatedAt = rechargekit.MirrorPaymentMethods, int64(o.ID), int64(o.CustomerID), o.UpdatedAt.Time
	case *recharge.Event:
		// Events never change: their created_at orders the deliveries.
		rec.Resource, rec.ID, rec.CustomerID, rec.UpdatedAt = rechargekit.MirrorEvents, int64(o.ID), int64(o.CustomerID), o.CreatedAt.Time
	default:
		return nil, fmt.Errorf("mirror: cannot mirror a %T", obj)
	}
	if rec.ID <= 0 || rec.CustomerID <= 0 {
		return nil, nil
	}
	doc, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("mirror: encode %s %d: %w", rec.Resource, rec.ID, err)
	}
	rec.Doc = doc
	return rec, nil
}

// records encodes objects of one type, skipping those record skips.
func records[T any](objs []*T, region string, seen time.Time) ([]*rechargekit.MirrorRecord, error) {
	out := make([]*rechargekit.MirrorRecord, 0, len(objs))
	for _, o := range objs {
		if o == nil {
			continue
		}
		rec, err := record(o, region, seen)
		if err != nil {
			return nil, err
		}
		if rec != nil {
			out = append(out, rec)
		}
	}
	return out, nil
}

// cardDataRecords encodes what a live card read into records, to write it
// through: the customer, its included addresses and payment methods (or
// those read on their own), subscriptions, charges and events.
func cardDataRecords(d *recharge.CardData, region string, seen time.Time) ([]*rechargekit.MirrorRecord, error) {
	var out []*rechargekit.MirrorRecord
	add := func(recs []*rechargekit.MirrorRecord, err error) error {
		out = append(out, recs...)
		return err
	}
	if err := add(records([]*recharge.Customer{d.Customer}, region, seen)); err != nil {
		return nil, err
	}
	pms := d.PaymentMethods
	if inc := d.Customer.Include; inc != nil {
		if err := add(records(inc.Addresses, region, seen)); err != nil {
			return nil, err
		}
		if pms == nil {
			pms = inc.PaymentMethods
		}
	}
	for _, err := range []error{
		add(records(pms, region, seen)),
		add(records(d.Subscriptions, region, seen)),
		add(records(d.Charges, region, seen)),
		add(records(d.Events, region, seen)),
	} {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// liveWindow is how many charges and events a live card reads (their
// newest page), so that a card from the mirror shows the same ones.
const liveWindow = recharge.MaxPageSize

// cardData decodes a customer's records into what its card is built from,
// in the order a live read gets them (Recharge's default: id descending),
// charges and events cut to the newest page a live read sees.
func cardData(recs []*rechargekit.MirrorRecord) (*recharge.CardData, error) {
	d := &recharge.CardData{Offline: true}
	inc := &recharge.CustomerInclude{}
	for _, rec := range recs {
		var err error
		switch rec.Resource {
		case rechargekit.MirrorCustomers:
			d.Customer = new(recharge.Customer)
			err = json.Unmarshal(rec.Doc, d.Customer)
		case rechargekit.MirrorAddresses:
			inc.Addresses, err = decodeAppend(inc.Addresses, rec.Doc)
		case rechargekit.MirrorPaymentMethods:
			inc.PaymentMethods, err = decodeAppend(inc.PaymentMethods, rec.Doc)
		case rechargekit.MirrorSubscriptions:
			d.Subscriptions, err = decodeAppend(d.Subscriptions, rec.Doc)
		case rechargekit.MirrorCharges:
			d.Charges, err = decodeAppend(d.Charges, rec.Doc)
		case rechargekit.MirrorEvents:
			d.Events, err = decodeAppend(d.Events, rec.Doc)
		}
		if err != nil {
			return nil, fmt.Errorf("mirror: decode %s %d: %w", rec.Resource, rec.ID, err)
		}
	}
	if d.Customer == nil {
		return nil, rechargekit.Errorf(rechargekit.ENOTFOUND, "The mirror does not hold this customer.")
	}
	if len(inc.Addresses) > 0 || len(inc.PaymentMethods) > 0 {
		d.Customer.Include = inc
	}
	byIDDesc := func(a, b recharge.Int64) int { return cmp.Compare(b, a) }
	slices.SortFunc(inc.Addresses, func(a, b *recharge.Address) int { return byIDDesc(a.ID, b.ID) })
	slices.SortFunc(inc.PaymentMethods, func(a, b *recharge.PaymentMethod) int { return byIDDesc(a.ID, b.ID) })
	slices.SortFunc(d.Subscriptions, func(a, b *recharge.Subscription) int { return byIDDesc(a.ID, b.ID) })
	slices.SortFunc(d.Charges, func(a, b *recharge.Charge) int { return byIDDesc(a.ID, b.ID) })
	slices.SortFunc(d.Events, func(a, b *recharge.Event) int { return byIDDesc(a.ID, b.ID) })
	d.Charges = d.Charges[:min(len(d.Charges), liveWindow)]
	d.Events = d.Events[:min(len(d.Events), liveWindow)]
	return d, nil
}

// decodeAppend decodes doc as a T and appends it.
func decodeAppend[T any](to []*T, doc []byte) ([]*T, error) {
	v := new(T)
	if err := json.Unmarshal(doc, v); err != nil {
		return to, err
	}
	return append(to, v), nil
}
