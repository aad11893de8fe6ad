package rechargetest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// LoadJSON adds the objects of a Recharge 2021-11 response body, such as a
// captured payload: a list envelope ({"customers":[...],"next_cursor":...})
// or a single-object envelope ({"subscription":{...}}) of customers,
// addresses, subscriptions or charges. Objects keep every captured value,
// ids included, so that the simulator then answers with the captured
// objects themselves. The counts on a loaded customer are kept as captured
// until a change recounts them. An object with a field the simulator does
// not model is an error: the simulator would not reproduce it.
func (s *Simulator) LoadJSON(body []byte) error {
	var env map[string]json.RawMessage
	if err := json.Unmarshal(body, &env); err != nil {
		return fmt.Errorf("rechargetest: load json: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st
	// Parents first, so that the indexes see them.
	for _, kinds := range [][2]string{{"customers", "customer"}, {"addresses", "address"}, {"subscriptions", "subscription"}, {"charges", "charge"}} {
		for _, key := range kinds {
			raw, ok := env[key]
			if !ok || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
				continue
			}
			var items []json.RawMessage
			if key == kinds[0] {
				if err := json.Unmarshal(raw, &items); err != nil {
					return fmt.Errorf("rechargetest: load json: %s: %w", key, err)
				}
			} else {
				items = []json.RawMessage{raw}
			}
			for i, item := range items {
				if err := st.loadRaw(kinds[1], item); err != nil {
					return fmt.Errorf("rechargetest: load json: %s[%d]: %w", key, i, err)
				}
			}
		}
	}
	return nil
}

func strictDecode(raw []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.DisallowUnknownFields()
	return d.Decode(v)
}

// loadRaw stores one captured object, replacing an object with the same id.
func (st *store) loadRaw(kind string, raw []byte) error {
	switch kind {
	case "customer":
		var c customerJSON
		if err := strictDecode(raw, &c); err != nil {
			return err
		}
		if c.ID <= 0 {
			return errors.New("customer without an id")
		}
		c.Include = nil
		if old := st.customers[c.ID]; old != nil {
			st.unindexEmail(old)
		}
		st.addCustomer(&c)
	case "address":
		var a addressJSON
		if err := strictDecode(raw, &a); err != nil {
			return err
		}
		if a.ID <= 0 {
			return errors.New("address without an id")
		}
		if old := st.addresses[a.ID]; old != nil {
			st.deleteAddress(old)
		}
		st.addAddress(&a)
	case "subscription":
		var s subscriptionJSON
		if err := strictDecode(raw, &s); err != nil {
			return err
		}
		if s.ID <= 0 {
			return errors.New("subscription without an id")
		}
		if old := st.subs[s.ID]; old != nil {
			delete(st.subs, old.ID)
			st.subOrder.remove(old.ID)
			st.custSubs[old.CustomerID] = removeID(st.custSubs[old.CustomerID], old.ID)
		}
		st.addSubscription(&s)
		if ref, ok := st.variants[s.ExternalVariantID.value()]; ok {
			keep := s
			applyVariant(&keep, ref)
			s.images, s.grams = keep.images, keep.grams
		}
	case "charge":
		var ch chargeJSON
		if err := strictDecode(raw, &ch); err != nil {
			return err
		}
		if ch.ID <= 0 {
			return errors.New("charge without an id")
		}
		if old := st.charges[ch.ID]; old != nil {
			st.deleteCharge(old)
		}
		ch.customerID = ch.Customer.ID
		st.charges[ch.ID] = &ch
		st.chargeOrder.add(ch.ID)
		st.useID(kindCharge, ch.ID)
		st.custCharges[ch.customerID] = append(st.custCharges[ch.customerID], ch.ID)
	}
	return nil
}

// UnmarshalJSON reads the timestamp forms Recharge has sent: RFC 3339 with
// an offset and optional fraction, and (2022 captures) no offset at all,
// read as UTC. A loaded object is then written back in the 2021-11 form.
func (t *stamp) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("timestamp: %w", err)
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999"} {
		if v, err := time.Parse(layout, s); err == nil {
			t.Time = v.UTC()
			return nil
		}
	}
	return fmt.Errorf("timestamp %q is not ISO 8601", s)
}
