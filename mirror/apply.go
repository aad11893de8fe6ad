package mirror

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/recharge"
)

// This file applies webhook deliveries to the mirror. Recharge delivers at
// least once and in no guaranteed order, so an application must be
// harmless twice and when late: the store ignores a record older than the
// one it holds (updated_at), and a deletion does not remove a record
// updated after it.

// Outcomes of Metrics.MirrorWebhookApplied.
const (
	outcomeApplied      = "applied"
	outcomeIgnoredOlder = "ignored_older"
	outcomeDeleted      = "deleted"
	outcomeFailed       = "failed"
)

// webhookResources maps a webhook's resource to the mirrored one.
var webhookResources = map[string]string{
	"customer":       rechargekit.MirrorCustomers,
	"address":        rechargekit.MirrorAddresses,
	"subscription":   rechargekit.MirrorSubscriptions,
	"charge":         rechargekit.MirrorCharges,
	"payment_method": rechargekit.MirrorPaymentMethods,
}

// Apply writes a webhook's payload into the mirror: the object is upserted
// (an older one than the mirror holds is ignored), a */deleted topic
// removes it (a deleted customer takes all of its records along), and
// OnChange hears of the customer when something changed. Deliveries of
// one customer are applied one at a time, in the order they arrive. A
// delivery without a topic is applied by its payload's key (ev.Resource)
// as an upsert. Resources the mirror does not hold are ignored.
// Errors: EINVALID (a payload the mirror cannot file), those of the store.
func (m *Mirror) Apply(ctx context.Context, ev *recharge.WebhookEvent) error {
	if ev == nil {
		return nil
	}
	res, ok := webhookResources[ev.Resource]
	if !ok {
		return nil
	}
	obj, err := payload(ev)
	if err != nil {
		m.applied(outcomeFailed)
		return rechargekit.WrapError(rechargekit.EINVALID, "The webhook's payload could not be read.", err)
	}
	var objs []any
	switch o := obj.(type) {
	case *recharge.Customer:
		// A customer payload may carry its addresses and payment methods.
		if inc := o.Include; inc != nil {
			for _, a := range inc.Addresses {
				objs = append(objs, a)
			}
			for _, pm := range inc.PaymentMethods {
				objs = append(objs, pm)
			}
		}
	}
	rec, err := record(obj, m.opts.Region, m.now())
	if err != nil || rec == nil {
		m.applied(outcomeFailed)
		if err == nil {
			err = fmt.Errorf("mirror: webhook %s: the %s names no id or customer", ev.Topic, ev.Resource)
		}
		return rechargekit.WrapError(rechargekit.EINVALID, "The webhook's payload names no Recharge object the mirror can hold.", err)
	}

	lock := m.customerLock(rec.CustomerID)
	lock.Lock()
	defer lock.Unlock()

	if strings.HasSuffix(ev.Topic, "/deleted") {
		return m.applyDelete(ctx, res, rec.ID, rec.UpdatedAt)
	}
	recs := []*rechargekit.MirrorRecord{rec}
	for _, o := range objs {
		r, err := record(o, m.opts.Region, rec.SeenAt)
		if err != nil {
			m.applied(outcomeFailed)
			return rechargekit.WrapError(rechargekit.EINVALID, "The webhook's payload could not be read.", err)
		}
		if r != nil {
			recs = append(recs, r)
		}
	}
	changed, err := m.store.PutMirror(ctx, recs)
	if err != nil {
		m.applied(outcomeFailed)
		return err
	}
	if len(changed) == 0 {
		m.applied(outcomeIgnoredOlder)
		return nil
	}
	m.applied(outcomeApplied)
	m.changed(ctx, changed)
	return nil
}

// applyDelete removes a deleted object unless the mirror holds a later
// version of it.
func (m *Mirror) applyDelete(ctx context.Context, res string, id int64, at time.Time) error {
	cust, err := m.store.DeleteMirror(ctx, res, id, at)
	if err != nil {
		m.applied(outcomeFailed)
		return err
	}
	if cust == 0 {
		m.applied(outcomeIgnoredOlder)
		return nil
	}
	m.applied(outcomeDeleted)
	m.changed(ctx, []int64{cust})
	return nil
}

// payload returns the webhook's object as its wire type.
func payload(ev *recharge.WebhookEvent) (any, error) {
	switch {
	case ev.Subscription != nil:
		return ev.Subscription, nil
	case ev.Customer != nil:
		return ev.Customer, nil
	case ev.Charge != nil:
		return ev.Charge, nil
	case ev.Address != nil:
		return ev.Address, nil
	case ev.Resource == "payment_method" && ev.Object != nil:
		pm := new(recharge.PaymentMethod)
		if err := json.Unmarshal(ev.Object, pm); err != nil {
			return nil, fmt.Errorf("mirror: webhook %s: decode payment_method: %w", ev.Topic, err)
		}
		return pm, nil
	}
	return nil, fmt.Errorf("mirror: webhook %s: no %s object", ev.Topic, ev.Resource)
}

// customerLock returns the lock that orders a customer's deliveries.
func (m *Mirror) customerLock(customerID int64) *sync.Mutex {
	return &m.locks[uint64(customerID)%uint64(len(m.locks))]
}

func (m *Mirror) applied(outcome string) {
	if m.opts.Metrics != nil {
		m.opts.Metrics.MirrorWebhookApplied(outcome)
	}
}
