package rechargetest

import (
	"cmp"
	"encoding/json"
	"net/http"
	"slices"
)

// GET /customers/{id}/delivery_schedule: upcoming deliveries grouped by
// date (spec section 3; shape of the captured 2022 response). Each active
// subscription contributes its next charge date and the following ones up
// to 90 days ahead; an order carries the queued charge's id when one exists
// for that address and date, null for a projected one.

const deliveryHorizonDays = 90

type deliveryScheduleJSON struct {
	Customer   deliveryCustomer `json:"customer"`
	Deliveries []*deliveryJSON  `json:"deliveries"`
}

type deliveryCustomer struct {
	ID        int64  `json:"id"`
	Email     string `json:"email"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
}

type deliveryJSON struct {
	Date   string               `json:"date"`
	Orders []*deliveryOrderJSON `json:"orders"`
}

type deliveryOrderJSON struct {
	ID              *int64             `json:"id"`
	AddressID       int64              `json:"address_id"`
	ChargeID        *int64             `json:"charge_id"`
	LineItems       []deliveryLineJSON `json:"line_items"`
	PaymentMethod   deliveryPayment    `json:"payment_method"`
	ShippingAddress *chargeAddress     `json:"shipping_address"`
}

type deliveryPayment struct {
	ID             int64           `json:"id"`
	BillingAddress *chargeAddress  `json:"billing_address"`
	PaymentDetails json.RawMessage `json:"payment_details"`
}

type deliveryLineJSON struct {
	SubscriptionID    int64       `json:"subscription_id"`
	ExternalProductID ecommerceID `json:"external_product_id"`
	ExternalVariantID ecommerceID `json:"external_variant_id"`
	Images            imagesJSON  `json:"images"`
	IsSkippable       bool        `json:"is_skippable"`
	PlanType          *string     `json:"plan_type"`
	ProductTitle      string      `json:"product_title"`
	Properties        []property  `json:"properties"`
	Quantity          int         `json:"quantity"`
	SubtotalPrice     string      `json:"subtotal_price"`
	UnitPrice         string      `json:"unit_price"`
	VariantTitle      string      `json:"variant_title"`
}

func (c *call) deliverySchedule() response {
	st := c.s.st
	id, ok := c.id()
	cu := st.customers[id]
	if !ok || cu == nil {
		return notFound()
	}
	type key struct {
		date string
		addr int64
	}
	orders := map[key]*deliveryOrderJSON{}
	horizon := today(c.now).AddDate(0, 0, deliveryHorizonDays)
	subs := slices.Clone(st.custSubs[id])
	slices.Sort(subs)
	for _, sid := range subs {
		s := st.subs[sid]
		a := st.addresses[s.AddressID]
		if s.Status != "active" || s.NextChargeScheduledAt == nil || a == nil {
			continue
		}
		d, _ := parseDate(*s.NextChargeScheduledAt)
		for n := 0; !d.After(horizon) && n < 24; n++ {
			k := key{d.Format(dateLayout), s.AddressID}
			o := orders[k]
			if o == nil {
				o = &deliveryOrderJSON{
					AddressID:       s.AddressID,
					LineItems:       []deliveryLineJSON{},
					PaymentMethod:   deliveryPayment{ID: cu.paymentMethodID, BillingAddress: a.snapshot, PaymentDetails: json.RawMessage("{}")},
					ShippingAddress: a.snapshot,
				}
				o.ChargeID = st.queuedChargeID(id, s.AddressID, k.date)
				orders[k] = o
			}
			unit, _ := parseCents(s.Price)
			img := imagesJSON{}
			if s.images != nil {
				img = *s.images
			}
			o.LineItems = append(o.LineItems, deliveryLineJSON{
				SubscriptionID:    s.ID,
				ExternalProductID: s.ExternalProductID,
				ExternalVariantID: s.ExternalVariantID,
				Images:            img,
				IsSkippable:       s.IsSkippable,
				PlanType:          strp("subscription"),
				ProductTitle:      s.ProductTitle,
				Properties:        s.Properties,
				Quantity:          s.Quantity,
				SubtotalPrice:     formatCents(unit * int64(s.Quantity)),
				UnitPrice:         s.Price,
				VariantTitle:      s.VariantTitle,
			})
			d = addInterval(d, s.OrderIntervalUnit, max(s.OrderIntervalFrequency, 1))
		}
	}
	keys := make([]key, 0, len(orders))
	for k := range orders {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b key) int { return cmp.Or(cmp.Compare(a.date, b.date), cmp.Compare(a.addr, b.addr)) })
	out := deliveryScheduleJSON{
		Customer:   deliveryCustomer{ID: cu.ID, Email: cu.Email, FirstName: cu.FirstName, LastName: cu.LastName},
		Deliveries: []*deliveryJSON{},
	}
	for _, k := range keys {
		if n := len(out.Deliveries); n == 0 || out.Deliveries[n-1].Date != k.date {
			out.Deliveries = append(out.Deliveries, &deliveryJSON{Date: k.date})
		}
		last := out.Deliveries[len(out.Deliveries)-1]
		last.Orders = append(last.Orders, orders[k])
	}
	return jsonResponse(http.StatusOK, out)
}

// queuedChargeID returns the id of the customer's queued charge for the
// address and date, or nil.
func (st *store) queuedChargeID(custID, addrID int64, date string) *int64 {
	for _, id := range st.custCharges[custID] {
		ch := st.charges[id]
		if ch.Status == "queued" && ch.AddressID == addrID && ch.ScheduledAt == date {
			v := ch.ID
			return &v
		}
	}
	return nil
}
