package rechargetest

import (
	"bytes"
	"cmp"
	"iter"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// List endpoints (spec sections 2, 9): id-descending by default, sort_by
// "<field>-asc|desc", limit 50 by default and at most 250 (larger values are
// clamped), cursor pagination with cursors in Recharge's own format.

const (
	defaultLimit = 50
	maxLimit     = 250
)

type filterKind int

const (
	fString  filterKind = iota
	fInt                // a positive integer id
	fInts               // comma-separated ids
	fStrings            // comma-separated strings
	fTime               // an ISO-8601 date or datetime
	fEnum               // one of enum, compared case-insensitively
	fBool               // true or false
)

type filterDef struct {
	name string
	kind filterKind
	enum []string
}

// listSpec describes one list endpoint: its envelope key, its filters in the
// order cursors carry them, and its sort fields.
type listSpec struct {
	plural  string
	filters []filterDef
	sorts   []string
}

func timeRange(names ...string) []filterDef {
	var defs []filterDef
	for _, n := range names {
		defs = append(defs, filterDef{n + "_min", fTime, nil}, filterDef{n + "_max", fTime, nil})
	}
	return defs
}

var (
	subscriptionStatuses = []string{"active", "cancelled", "expired"}
	chargeStatuses       = []string{"success", "error", "queued", "skipped", "refunded", "partially_refunded", "pending_manual_payment", "pending"}

	customerSpec = &listSpec{
		plural: "customers",
		filters: append([]filterDef{
			{"email", fString, nil},
			{"external_customer_id", fString, nil},
			{"hash", fString, nil},
			{"ids", fInts, nil},
		}, timeRange("created_at", "updated_at")...),
		sorts: []string{"id", "created_at", "updated_at"},
	}
	addressSpec = &listSpec{
		plural: "addresses",
		filters: append([]filterDef{
			{"customer_id", fInt, nil},
			{"discount_code", fString, nil},
			{"discount_id", fInt, nil},
			{"ids", fInts, nil},
			{"is_active", fBool, nil},
		}, timeRange("created_at", "updated_at")...),
		sorts: []string{"id", "created_at", "updated_at"},
	}
	subscriptionSpec = &listSpec{
		plural: "subscriptions",
		filters: append([]filterDef{
			{"customer_id", fInt, nil},
			{"address_id", fInt, nil},
			{"address_ids", fInts, nil},
			{"external_variant_id", fString, nil},
			{"ids", fInts, nil},
			{"status", fEnum, subscriptionStatuses},
		}, timeRange("created_at", "updated_at")...),
		sorts: []string{"id", "created_at", "updated_at"},
	}
	chargeSpec = &listSpec{
		plural: "charges",
		filters: append([]filterDef{
			{"customer_id", fInt, nil},
			{"address_id", fInt, nil},
			{"discount_code", fString, nil},
			{"discount_id", fInt, nil},
			{"external_order_id", fString, nil},
			{"ids", fInts, nil},
			{"purchase_item_id", fInt, nil},
			{"scheduled_at", fTime, nil},
			{"status", fEnum, chargeStatuses},
		}, timeRange("scheduled_at", "processed_at", "created_at", "updated_at")...),
		sorts: []string{"id", "created_at", "updated_at", "scheduled_at"},
	}
	planSpec = &listSpec{
		plural: "plans",
		filters: append([]filterDef{
			{"external_product_id", fString, nil},
			{"ids", fInts, nil},
			{"type", fEnum, []string{"subscription", "prepaid", "onetime"}},
		}, timeRange("updated_at")...),
		sorts: []string{"id", "updated_at"},
	}
	productSpec = &listSpec{
		plural:  "products",
		filters: []filterDef{{"external_product_ids", fStrings, nil}},
		sorts:   []string{"id"},
	}
	retentionSpec = &listSpec{
		plural:  "retention_strategies",
		filters: []filterDef{{"ids", fInts, nil}},
		sorts:   []string{"id", "created_at", "updated_at"},
	}
	webhookSpec = &listSpec{
		plural:  "webhooks",
		filters: []filterDef{{"topic", fString, nil}},
		sorts:   []string{"id"},
	}
)

func (sp *listSpec) filter(name string) (filterDef, bool) {
	for _, f := range sp.filters {
		if f.name == name {
			return f, true
		}
	}
	return filterDef{}, false
}

func (sp *listSpec) sortable(field string) bool { return slices.Contains(sp.sorts, field) }

func (sp *listSpec) sortValues() []string {
	var vs []string
	for _, f := range sp.sorts {
		vs = append(vs, f+"-asc", f+"-desc")
	}
	return vs
}

// kv is one filter as given, in canonical string form.
type kv struct{ key, value string }

// filters are the parsed filters of one list request.
type filters struct {
	kvs   []kv
	ints  map[string]int64
	sets  map[string]map[int64]bool
	strs  map[string]string
	ssets map[string]map[string]bool
	times map[string]time.Time
	bools map[string]bool
}

func (f *filters) int(name string) (int64, bool)    { v, ok := f.ints[name]; return v, ok }
func (f *filters) str(name string) (string, bool)   { v, ok := f.strs[name]; return v, ok }
func (f *filters) set(name string) map[int64]bool   { return f.sets[name] }
func (f *filters) bool(name string) (bool, bool)    { v, ok := f.bools[name]; return v, ok }
func (f *filters) sset(name string) map[string]bool { return f.ssets[name] }

// timeIn reports whether t lies within the <name>_min/<name>_max filters.
func (f *filters) timeIn(name string, t time.Time) bool {
	if min, ok := f.times[name+"_min"]; ok && t.Before(min) {
		return false
	}
	if max, ok := f.times[name+"_max"]; ok && t.After(max) {
		return false
	}
	return true
}

func (f *filters) hasTime(name string) bool {
	_, a := f.times[name+"_min"]
	_, b := f.times[name+"_max"]
	return a || b
}

// dateIn is timeIn for a date-only field (scheduled_at): the bounds are
// compared by their UTC calendar day.
func (f *filters) dateIn(name, date string) bool {
	if min, ok := f.times[name+"_min"]; ok && date < min.Format(dateLayout) {
		return false
	}
	if max, ok := f.times[name+"_max"]; ok && date > max.Format(dateLayout) {
		return false
	}
	return true
}

// parseISO parses the date forms Recharge accepts in filters: a date, or a
// datetime with or without offset and fraction (no offset means UTC).
func parseISO(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02T15:04", dateLayout} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// parseFilters validates raw filters against the spec. The returned map is
// a Recharge 422 field map when some filter is invalid.
func (sp *listSpec) parseFilters(raw []kv) (*filters, map[string]any) {
	f := &filters{
		ints: map[string]int64{}, sets: map[string]map[int64]bool{}, strs: map[string]string{},
		ssets: map[string]map[string]bool{}, times: map[string]time.Time{}, bools: map[string]bool{},
	}
	errs := map[string]any{}
	byName := map[string]string{}
	for _, p := range raw {
		byName[p.key] = p.value
	}
	for _, def := range sp.filters {
		v, ok := byName[def.name]
		if !ok {
			continue
		}
		switch def.kind {
		case fString:
			f.strs[def.name] = v
		case fInt:
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil || n < 0 {
				errs[def.name] = []string{"Not a valid integer."}
				continue
			}
			f.ints[def.name] = n
			v = strconv.FormatInt(n, 10)
		case fInts:
			set := map[int64]bool{}
			var canon []string
			bad := false
			for _, part := range strings.Split(v, ",") {
				n, err := strconv.ParseInt(strings.TrimSpace(part), 10, 64)
				if err != nil || n < 0 {
					bad = true
					break
				}
				set[n] = true
				canon = append(canon, strconv.FormatInt(n, 10))
			}
			if bad {
				errs[def.name] = []string{"Not a valid integer."}
				continue
			}
			f.sets[def.name] = set
			v = strings.Join(canon, ",")
		case fStrings:
			set := map[string]bool{}
			for _, part := range strings.Split(v, ",") {
				if p := strings.TrimSpace(part); p != "" {
					set[p] = true
				}
			}
			f.ssets[def.name] = set
		case fTime:
			t, ok := parseISO(v)
			if !ok {
				errs[def.name] = []string{"Invalid date: " + v + ". Must be a valid ISO-8601 datetime string"}
				continue
			}
			f.times[def.name] = t
		case fEnum:
			lv := strings.ToLower(strings.TrimSpace(v))
			if !slices.Contains(def.enum, lv) {
				errs[def.name] = []string{"Must be one of: " + strings.Join(def.enum, ", ") + "."}
				continue
			}
			f.strs[def.name] = lv
			v = lv
		case fBool:
			b, err := strconv.ParseBool(strings.TrimSpace(v))
			if err != nil {
				errs[def.name] = []string{"Not a valid boolean."}
				continue
			}
			f.bools[def.name] = b
			v = strconv.FormatBool(b)
		}
		f.kvs = append(f.kvs, kv{def.name, v})
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return f, nil
}

// listQuery is a parsed list request.
type listQuery struct {
	spec  *listSpec
	f     *filters
	field string // sort field
	desc  bool
	limit int
	cur   *cursor // nil on a first page
}

func parseSort(sp *listSpec, v string) (string, bool, bool) {
	field, dir, ok := strings.Cut(v, "-")
	if !ok || !sp.sortable(field) || (dir != "asc" && dir != "desc") {
		return "", false, false
	}
	return field, dir == "desc", true
}

// parseList reads limit, cursor, sort_by and the spec's filters. A request
// with a cursor takes its filters and sort from the cursor and ignores the
// others (spec section 17 leaves this open; the simulator decides).
func parseList(sp *listSpec, q url.Values) (*listQuery, response, bool) {
	lq := &listQuery{spec: sp, field: "id", desc: true, limit: defaultLimit}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		switch {
		case err != nil:
			return nil, fieldError("limit", "Not a valid integer."), false
		case n < 1:
			return nil, fieldError("limit", "Must be greater than or equal to 1."), false
		}
		lq.limit = min(n, maxLimit)
	}
	if v := q.Get("cursor"); v != "" {
		cur, ok := decodeCursor(sp, v)
		if !ok {
			return nil, fieldError("cursor", "Invalid value"), false
		}
		lq.cur, lq.f, lq.field, lq.desc = cur, cur.f, cur.field, cur.desc
		return lq, response{}, true
	}
	if v := q.Get("sort_by"); v != "" {
		field, desc, ok := parseSort(sp, strings.ToLower(v))
		if !ok {
			return nil, fieldError("sort_by", "Must be one of: "+strings.Join(sp.sortValues(), ", ")+"."), false
		}
		lq.field, lq.desc = field, desc
	}
	var raw []kv
	for _, def := range sp.filters {
		if v := q.Get(def.name); v != "" {
			raw = append(raw, kv{def.name, v})
		}
	}
	f, errs := sp.parseFilters(raw)
	if errs != nil {
		return nil, errorsBody(http.StatusUnprocessableEntity, errs), false
	}
	lq.f = f
	return lq, response{}, true
}

// listItem is one candidate row of a list with its sort keys.
type listItem struct {
	id      int64
	created time.Time
	updated time.Time
	sched   string // charges: scheduled_at
	obj     any
	k       int64 // key(field) of the list being answered, set by gather
}

// key returns the item's sort key for field as an integer: the id, a time
// in microseconds, or a date as yyyymmdd.
func (it listItem) key(field string) int64 {
	switch field {
	case "created_at":
		return it.created.UnixMicro()
	case "updated_at":
		return it.updated.UnixMicro()
	case "scheduled_at":
		t, _ := parseDate(it.sched)
		return int64(t.Year()*10000 + int(t.Month())*100 + t.Day())
	}
	return it.id
}

// compare orders a before b in the list's sort order (ties by id).
func (lq *listQuery) compare(ka, ida, kb, idb int64) int {
	c := cmp.Compare(ka, kb)
	if c == 0 {
		c = cmp.Compare(ida, idb)
	}
	if lq.desc {
		c = -c
	}
	return c
}

// respond answers the list from items gathered by the caller (the lists of
// small resources).
func (lq *listQuery) respond(items []listItem) response {
	return lq.write(lq.gather(slices.Values(items)))
}

// respondIDs answers the list from ids: every id of the resource in
// ascending order (sorted, its idOrder), or the candidates an index named,
// in any order. item returns an id's item when it exists and passes the
// filters. A list sorted by id over a sorted walk reads from the cursor's
// place to the end of its page (walk); any other list looks at every
// candidate once and keeps only its page (gather). Both answer the same.
func (lq *listQuery) respondIDs(ids []int64, sorted bool, item func(int64) (listItem, bool)) response {
	return respondIn(lq, ids, sorted, func(id int64) int64 { return id }, item)
}

// respondIn is respondIDs over any candidates: idOf is the list id of a
// candidate, ascending along xs when sorted.
func respondIn[T any](lq *listQuery, xs []T, sorted bool, idOf func(T) int64, item func(T) (listItem, bool)) response {
	if sorted && lq.field == "id" {
		return lq.write(walk(lq, xs, idOf, item))
	}
	return lq.write(lq.gather(func(yield func(listItem) bool) {
		for _, x := range xs {
			if it, ok := item(x); ok && !yield(it) {
				return
			}
		}
	}))
}

// walk cuts the page of a list sorted by id out of xs, the candidates in
// ascending id order: a binary search finds the cursor's place, then it
// reads items one way until the page and one more are found, and the other
// way until one is found (to tell whether a page lies there). Unfiltered,
// that is O(log n + page).
func walk[T any](lq *listQuery, xs []T, idOf func(T) int64, item func(T) (listItem, bool)) (page []listItem, more, before bool) {
	n := len(xs)
	at := func(k int) T { // the k-th candidate in the list's order
		if lq.desc {
			return xs[n-1-k]
		}
		return xs[k]
	}
	take := func(k, step int) []listItem { // up to limit+1 items from k on
		got := make([]listItem, 0, min(lq.limit+1, n))
		for ; k >= 0 && k < n && len(got) <= lq.limit; k += step {
			if it, ok := item(at(k)); ok {
				got = append(got, it)
			}
		}
		return got
	}
	some := func(k, step int) bool { // an item from k on
		for ; k >= 0 && k < n; k += step {
			if _, ok := item(at(k)); ok {
				return true
			}
		}
		return false
	}
	cur := lq.cur
	if cur == nil {
		got := take(0, 1)
		return got[:min(len(got), lq.limit)], len(got) > lq.limit, false
	}
	// s splits the candidates in the list's order: next pages read from s
	// on (the items after the cursor's position), previous pages before s
	// (the items strictly before it).
	i, found := slices.BinarySearchFunc(xs, cur.id, func(x T, id int64) int { return cmp.Compare(idOf(x), id) })
	f := 0
	if found {
		f = 1
	}
	if cur.dir == "next" {
		s := i + f
		if lq.desc {
			s = n - i
		}
		got := take(s, 1)
		page = got[:min(len(got), lq.limit)]
		return page, len(got) > lq.limit, len(page) > 0 && some(s-1, -1)
	}
	s := i
	if lq.desc {
		s = n - i - f
	}
	got := take(s-1, -1)
	page = got[:min(len(got), lq.limit)]
	slices.Reverse(page)
	return page, len(page) > 0 && some(s, 1), len(got) > lq.limit
}

// gather cuts the page out of items in any order: one pass keeps the items
// on the cursor's side of its position and, of those, the limit nearest to
// it (a heap), so that a page costs a pass over the candidates and memory
// for the page only.
func (lq *listQuery) gather(items iter.Seq[listItem]) (page []listItem, more, before bool) {
	order := func(a, b listItem) int { return lq.compare(a.k, a.id, b.k, b.id) }
	cur := lq.cur
	if cur != nil && cur.dir == "prev" {
		// The items before the position, the nearest last.
		order = func(a, b listItem) int { return lq.compare(b.k, b.id, a.k, a.id) }
	}
	best := topK{k: lq.limit, order: order}
	n, other := 0, 0 // items on the page's side of the position, on the other
	for it := range items {
		it.k = it.key(lq.field)
		if cur != nil {
			c := lq.compare(it.k, it.id, cur.key, cur.id)
			if (cur.dir == "next" && c <= 0) || (cur.dir == "prev" && c >= 0) {
				other++
				continue
			}
		}
		n++
		best.push(it)
	}
	page = best.sorted()
	switch {
	case cur == nil:
		return page, n > lq.limit, false
	case cur.dir == "next":
		// The position's own item lies before the page.
		return page, n > lq.limit, other > 0 && n > 0
	}
	slices.Reverse(page)
	return page, other > 0 && len(page) > 0, n > lq.limit
}

// topK keeps the k items that come first under order: a heap of the k
// best so far, the worst on top.
type topK struct {
	k     int
	order func(a, b listItem) int
	h     []listItem
}

func (t *topK) push(it listItem) {
	if len(t.h) < t.k {
		t.h = append(t.h, it)
		for i := len(t.h) - 1; i > 0; {
			p := (i - 1) / 2
			if t.order(t.h[i], t.h[p]) <= 0 {
				break
			}
			t.h[i], t.h[p] = t.h[p], t.h[i]
			i = p
		}
		return
	}
	if t.k > 0 && t.order(it, t.h[0]) < 0 {
		t.h[0] = it
		siftDown(t.h, 0, t.order)
	}
}

// sorted returns the items kept, first first.
func (t *topK) sorted() []listItem {
	slices.SortFunc(t.h, t.order)
	return t.h
}

// siftDown restores the max-heap h (under order) below i.
func siftDown(h []listItem, i int, order func(a, b listItem) int) {
	for {
		top, l, r := i, 2*i+1, 2*i+2
		if l < len(h) && order(h[l], h[top]) > 0 {
			top = l
		}
		if r < len(h) && order(h[r], h[top]) > 0 {
			top = r
		}
		if top == i {
			return
		}
		h[i], h[top] = h[top], h[i]
		i = top
	}
}

// write writes the list envelope of a page: the cursors of the pages after
// and before it, and its items.
func (lq *listQuery) write(page []listItem, more, before bool) response {
	var next, prev *string
	if len(page) > 0 {
		if more {
			s := lq.cursorAt(page[len(page)-1], "next")
			next = &s
		}
		if before {
			s := lq.cursorAt(page[0], "prev")
			prev = &s
		}
	}
	var b bytes.Buffer
	b.WriteString(`{"next_cursor":`)
	b.Write(encodeJSON(next))
	b.WriteString(`,"previous_cursor":`)
	b.Write(encodeJSON(prev))
	b.WriteString(`,"` + lq.spec.plural + `":[`)
	for i, it := range page {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(encodeJSON(it.obj))
	}
	b.WriteString("]}")
	return response{status: http.StatusOK, body: b.Bytes()}
}

func (lq *listQuery) cursorAt(it listItem, dir string) string {
	c := &cursor{f: lq.f, field: lq.field, desc: lq.desc, dir: dir, id: it.id, key: it.key(lq.field)}
	switch lq.field {
	case "created_at":
		c.lastValue = sec(it.created).String()
	case "updated_at":
		c.lastValue = sec(it.updated).String()
	case "scheduled_at":
		c.lastValue = it.sched
	}
	return c.encode(lq.spec)
}
