package rechargetest

import (
	"cmp"
	"slices"
)

// idOrder is the ids of one resource in ascending order, kept beside the
// resource's map so that a list sorted by id starts at its cursor's place
// (a binary search) and reads only its page, instead of gathering and
// sorting every item of a large store (a backfill's walk of 100,000
// customers asks for hundreds of such pages). New ids are the highest of
// their kind, so that adding is an append; deleting moves the ids above.
type idOrder struct{ ids []int64 }

// add puts id in its place; an id already there stays once.
func (o *idOrder) add(id int64) {
	if n := len(o.ids); n == 0 || o.ids[n-1] < id {
		o.ids = append(o.ids, id)
		return
	}
	if i, found := slices.BinarySearch(o.ids, id); !found {
		o.ids = slices.Insert(o.ids, i, id)
	}
}

// remove takes id out; an id not there is no error.
func (o *idOrder) remove(id int64) {
	if i, found := slices.BinarySearch(o.ids, id); found {
		o.ids = slices.Delete(o.ids, i, i+1)
	}
}

// eventOrder is every event of the store in ascending id order (events
// live in their customers' timelines; GET /events without customer_id
// walks this instead).
type eventOrder struct{ evs []*eventJSON }

func (o *eventOrder) add(ev *eventJSON) {
	if n := len(o.evs); n == 0 || o.evs[n-1].ID < ev.ID {
		o.evs = append(o.evs, ev)
		return
	}
	i, found := slices.BinarySearchFunc(o.evs, ev.ID, func(e *eventJSON, id int64) int { return cmp.Compare(e.ID, id) })
	if !found {
		o.evs = slices.Insert(o.evs, i, ev)
	}
}

// removeCustomer takes out the events of a customer.
func (o *eventOrder) removeCustomer(id int64) {
	o.evs = slices.DeleteFunc(o.evs, func(e *eventJSON) bool { return e.CustomerID == id })
}
