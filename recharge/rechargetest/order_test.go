package rechargetest

import (
	"bytes"
	"encoding/json"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"testing"
	"time"
)

// orderedList is one list that a sorted id walk can answer, with the
// candidates it walks and the item of a candidate under some filters.
type orderedList struct {
	spec *listSpec
	// respond answers lq from the whole store: through the id walk when
	// fast, else through gather.
	respond func(st *store, lq *listQuery, fast bool) response
	// stamps are the created_at and updated_at of the list's items, for
	// time filters near real values.
	stamps func(st *store) []time.Time
	// extra are filters with their possible values.
	extra map[string][]string
}

func idsList(ids func(*store) []int64, item func(*store, *filters) func(int64) (listItem, bool)) func(*store, *listQuery, bool) response {
	return func(st *store, lq *listQuery, fast bool) response {
		return lq.respondIDs(ids(st), fast, item(st, lq.f))
	}
}

func stampsOf[T any](m map[int64]T, at func(T) (time.Time, time.Time)) []time.Time {
	var ts []time.Time
	for _, v := range m {
		c, u := at(v)
		ts = append(ts, c, u)
	}
	slices.SortFunc(ts, time.Time.Compare)
	return ts
}

var orderedLists = map[string]orderedList{
	"customers": {
		spec:    customerSpec,
		respond: idsList(func(st *store) []int64 { return st.custOrder.ids }, (*store).customerItem),
		stamps: func(st *store) []time.Time {
			return stampsOf(st.customers, func(c *customerJSON) (time.Time, time.Time) { return c.CreatedAt.Time, c.UpdatedAt.Time })
		},
	},
	"addresses": {
		spec:    addressSpec,
		respond: idsList(func(st *store) []int64 { return st.addrOrder.ids }, (*store).addressItem),
		stamps: func(st *store) []time.Time {
			return stampsOf(st.addresses, func(a *addressJSON) (time.Time, time.Time) { return a.CreatedAt.Time, a.UpdatedAt.Time })
		},
		extra: map[string][]string{"is_active": {"true", "false"}},
	},
	"subscriptions": {
		spec:    subscriptionSpec,
		respond: idsList(func(st *store) []int64 { return st.subOrder.ids }, (*store).subscriptionItem),
		stamps: func(st *store) []time.Time {
			return stampsOf(st.subs, func(s *subscriptionJSON) (time.Time, time.Time) { return s.CreatedAt.Time, s.UpdatedAt.Time })
		},
		extra: map[string][]string{"status": subscriptionStatuses},
	},
	"charges": {
		spec:    chargeSpec,
		respond: idsList(func(st *store) []int64 { return st.chargeOrder.ids }, (*store).chargeItem),
		stamps: func(st *store) []time.Time {
			return stampsOf(st.charges, func(c *chargeJSON) (time.Time, time.Time) { return c.CreatedAt.Time, c.UpdatedAt.Time })
		},
		extra: map[string][]string{"status": {"success", "queued", "error", "skipped"}},
	},
	"payment_methods": {
		spec:    paymentMethodSpec,
		respond: idsList(func(st *store) []int64 { return st.pmOrder.ids }, (*store).paymentMethodItem),
		stamps: func(st *store) []time.Time {
			return stampsOf(st.pms, func(p *paymentMethodJSON) (time.Time, time.Time) { return p.CreatedAt.Time, p.UpdatedAt.Time })
		},
	},
	"orders": {
		spec: orderSpec,
		respond: func(st *store, lq *listQuery, fast bool) response {
			return respondIn(lq, st.chargeOrder.ids, fast, orderIDOf, st.orderItem(lq.f))
		},
		stamps: func(st *store) []time.Time {
			return stampsOf(st.charges, func(c *chargeJSON) (time.Time, time.Time) { return c.CreatedAt.Time, c.UpdatedAt.Time })
		},
	},
	"events": {
		spec: eventSpec,
		respond: func(st *store, lq *listQuery, fast bool) response {
			return respondIn(lq, st.eventOrder.evs, fast, func(ev *eventJSON) int64 { return ev.ID }, func(ev *eventJSON) (listItem, bool) { return eventItem(ev, lq.f) })
		},
		stamps: func(st *store) []time.Time {
			var ts []time.Time
			for _, ev := range st.eventOrder.evs {
				ts = append(ts, ev.CreatedAt.Time)
			}
			slices.SortFunc(ts, time.Time.Compare)
			return ts
		},
		extra: map[string][]string{"object_type": {"charge", "subscription"}},
	},
}

// checkOrders fails unless every idOrder holds exactly its map's ids and
// eventOrder every event of the timelines.
func checkOrders(t *testing.T, st *store) {
	t.Helper()
	same := func(name string, got []int64, keys []int64) {
		t.Helper()
		slices.Sort(keys)
		if !slices.Equal(got, keys) {
			t.Errorf("%s order has %d ids, the map %d, or they differ", name, len(got), len(keys))
		}
	}
	same("customer", st.custOrder.ids, slices.Collect(maps.Keys(st.customers)))
	same("address", st.addrOrder.ids, slices.Collect(maps.Keys(st.addresses)))
	same("subscription", st.subOrder.ids, slices.Collect(maps.Keys(st.subs)))
	same("charge", st.chargeOrder.ids, slices.Collect(maps.Keys(st.charges)))
	same("payment method", st.pmOrder.ids, slices.Collect(maps.Keys(st.pms)))
	var evs []int64
	for _, e := range st.eventOrder.evs {
		evs = append(evs, e.ID)
	}
	var timelines []int64
	for _, tl := range st.custEvents {
		for _, e := range tl {
			timelines = append(timelines, e.ID)
		}
	}
	same("event", evs, timelines)
}

// TestSortedWalkMatchesGather checks that a list sorted by id answered by
// the walk from the cursor's place (order.go) is byte for byte the page
// that looking at every item gives, for random queries (filters, limits,
// directions, cursors at items, between items and beyond the ends) over a
// generated store with holes left by deleted customers and charges.
func TestSortedWalkMatchesGather(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{}, GenerateSeed(400, 11))
	// Holes: deleted customers (with everything they own) and charges
	// moved by skips make the id sequences sparse.
	for i := range 40 {
		id := idBase[kindCustomer] + int64(i*9)
		h.mustDo(http.StatusNoContent, http.MethodDelete, "/customers/"+strconv.FormatInt(id, 10), "")
	}
	sim := h.sim
	sim.mu.Lock()
	defer sim.mu.Unlock()
	st := sim.st
	checkOrders(t, st)

	rng := rand.New(rand.NewPCG(13, 17))
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range orderedLists {
			if !yield(n) {
				return
			}
		}
	})
	pages, nonEmpty := 0, 0
	for _, name := range names {
		ol := orderedLists[name]
		stamps := ol.stamps(st)
		var allIDs []int64
		{
			lq, _, _ := parseList(ol.spec, url.Values{"sort_by": {"id-asc"}, "limit": {"250"}})
			lq.limit = 1 << 30
			body := ol.respond(st, lq, false).body
			allIDs = idsIn(t, body)
		}
		if len(allIDs) == 0 {
			t.Fatalf("%s: the generated store has none", name)
		}
		for range 300 {
			q := url.Values{}
			q.Set("limit", strconv.Itoa([]int{1, 2, 7, 50, 250}[rng.IntN(5)]))
			if rng.IntN(2) == 0 {
				q.Set("sort_by", "id-desc")
			} else {
				q.Set("sort_by", "id-asc")
			}
			if rng.IntN(3) == 0 {
				t0 := stamps[rng.IntN(len(stamps))]
				if def, ok := ol.spec.filter("updated_at_min"); ok && rng.IntN(2) == 0 {
					q.Set(def.name, sec(t0).String())
				} else {
					q.Set("created_at_max", sec(t0).String())
				}
			}
			for k, vs := range ol.extra {
				if rng.IntN(3) == 0 {
					q.Set(k, vs[rng.IntN(len(vs))])
				}
			}
			lq, resp, ok := parseList(ol.spec, q)
			if !ok {
				t.Fatalf("%s?%s: %d %s", name, q.Encode(), resp.status, resp.body)
			}
			if rng.IntN(5) > 0 {
				// A cursor at an item, next to one, or beyond the ends.
				id := allIDs[rng.IntN(len(allIDs))] + int64(rng.IntN(3)-1)
				switch rng.IntN(10) {
				case 0:
					id = allIDs[0] - 1
				case 1:
					id = allIDs[len(allIDs)-1] + 1
				}
				dir := "next"
				if rng.IntN(2) == 0 {
					dir = "prev"
				}
				c := &cursor{f: lq.f, field: "id", desc: lq.desc, dir: dir, id: max(id, 1), key: max(id, 1)}
				lq, resp, ok = parseList(ol.spec, url.Values{"cursor": {c.encode(ol.spec)}, "limit": {q.Get("limit")}})
				if !ok {
					t.Fatalf("%s: cursor: %d %s", name, resp.status, resp.body)
				}
			}
			fast, slow := ol.respond(st, lq, true), ol.respond(st, lq, false)
			if fast.status != slow.status || !bytes.Equal(fast.body, slow.body) {
				t.Fatalf("%s?%s cursor %+v:\nwalk   %s\ngather %s", name, q.Encode(), lq.cur, fast.body, slow.body)
			}
			pages++
			if len(idsIn(t, fast.body)) > 0 {
				nonEmpty++
			}
		}
	}
	if nonEmpty < pages/2 {
		t.Errorf("only %d of %d random pages have items: the queries test too little", nonEmpty, pages)
	}
}

// idsIn returns the ids of the items of a list page.
func idsIn(t *testing.T, body []byte) []int64 {
	t.Helper()
	var page map[string]any
	if err := json.Unmarshal(body, &page); err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for k, v := range page {
		if k == "next_cursor" || k == "previous_cursor" {
			continue
		}
		for _, it := range v.([]any) {
			ids = append(ids, int64(it.(map[string]any)["id"].(float64)))
		}
	}
	return ids
}
