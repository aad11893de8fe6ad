package recharge

import (
	"cmp"
	"slices"
	"strings"

	"github.com/rechargekit/rechargekit"
)

// This file holds the mapping from Recharge's wire types to the domain's:
// pure functions with no client behind them, used by the Source and the
// bench, and ready for anything else that holds Recharge payloads (a local
// mirror of the store's data).

// DomainCustomer maps a Recharge customer to the domain's. Counts stay nil
// when Recharge sent null; times are converted to UTC.
func DomainCustomer(c *Customer) *rechargekit.Customer {
	if c == nil {
		return nil
	}
	return &rechargekit.Customer{
		ID:                  int64(c.ID),
		ExternalID:          c.ExternalCustomerID.String(),
		Email:               c.Email,
		FirstName:           c.FirstName,
		LastName:            c.LastName,
		Phone:               string(c.Phone),
		SubscriptionsTotal:  copyInt(c.SubscriptionsTotalCount),
		SubscriptionsActive: copyInt(c.SubscriptionsActiveCount),
		CreatedAt:           c.CreatedAt.UTC(),
		UpdatedAt:           c.UpdatedAt.UTC(),
	}
}

// copyInt returns an optional count as the domain's *int.
func copyInt(p *Int) *int {
	if p == nil {
		return nil
	}
	v := int(*p)
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
		out = append(out, domainSubscription(sub, idx[int64(sub.ID)]))
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
				id := int64(li.PurchaseItemID)
				idx[id] = append(idx[id], lineRef{c, li})
			}
		}
	}
	return idx
}

func domainSubscription(sub *Subscription, lines []lineRef) *rechargekit.Subscription {
	d := &rechargekit.Subscription{
		ID:                         int64(sub.ID),
		CustomerID:                 int64(sub.CustomerID),
		AddressID:                  int64(sub.AddressID),
		Status:                     strings.ToLower(strings.TrimSpace(sub.Status)),
		CreatedAt:                  sub.CreatedAt.UTC(),
		UpdatedAt:                  sub.UpdatedAt.UTC(),
		ChargeIntervalFrequency:    int(sub.ChargeIntervalFrequency),
		OrderIntervalFrequency:     int(sub.OrderIntervalFrequency),
		IntervalUnit:               strings.ToLower(strings.TrimSpace(sub.OrderIntervalUnit)),
		NextChargeDate:             sub.NextChargeScheduledAt.String(),
		CancelledAt:                sub.CancelledAt.UTCPtr(),
		CancellationReason:         string(sub.CancellationReason),
		CancellationReasonComments: string(sub.CancellationReasonComments),
		Price:                      string(sub.Price),
		Currency:                   strings.ToUpper(strings.TrimSpace(sub.PresentmentCurrency)),
		Quantity:                   int(sub.Quantity),
		Product: rechargekit.Product{
			ID:          sub.ExternalProductID.String(),
			VariantID:   sub.ExternalVariantID.String(),
			Name:        sub.ProductTitle,
			VariantName: sub.VariantTitle,
			SKU:         string(sub.SKU),
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
			if sku := strings.TrimSpace(string(l.item.SKU)); sku != "" && sameVariant(l.item) {
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
