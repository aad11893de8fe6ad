package rechargetest

import (
	"bytes"
	"cmp"
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

// respond cuts the page out of the items and writes the list envelope.
// Only the page is sorted: one pass keeps the items on the cursor's side
// of its position and picks the limit nearest to it, so that a page of a
// large store (a backfill's walk of 100,000 customers) costs a pass over
// the candidates rather than a sort of them all.
func (lq *listQuery) respond(items []listItem) response {
	order := func(a, b listItem) int {
		return lq.compare(a.key(lq.field), a.id, b.key(lq.field), b.id)
	}
	var page []listItem
	var more, before bool // items after the page, items before it
	switch cur := lq.cur; {
	case cur == nil:
		page, more = nearest(items, lq.limit, order), len(items) > lq.limit
	case cur.dir == "next":
		// The items after the cursor's position; the position's own item
		// lies before it.
		after := items[:0] // filtered in place: the items are respond's own
		n := 0
		for _, it := range items {
			if lq.compare(it.key(lq.field), it.id, cur.key, cur.id) > 0 {
				after = append(after, it)
			} else {
				n++
			}
		}
		page, more, before = nearest(after, lq.limit, order), len(after) > lq.limit, n > 0 && len(after) > 0
	default:
		// The items strictly before the position, the nearest last.
		below := items[:0]
		n := 0
		for _, it := range items {
			if lq.compare(it.key(lq.field), it.id, cur.key, cur.id) < 0 {
				below = append(below, it)
			} else {
				n++
			}
		}
		page = nearest(below, lq.limit, func(a, b listItem) int { return order(b, a) })
		slices.Reverse(page)
		more, before = n > 0 && len(page) > 0, len(below) > lq.limit
	}
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

// nearest returns, sorted, the k items that come first under order. It
// reorders items and returns a part of it: a heap of the k best so far
// (the worst on top) takes each item in one pass.
func nearest(items []listItem, k int, order func(a, b listItem) int) []listItem {
	if k >= len(items) {
		slices.SortFunc(items, order)
		return items
	}
	h := items[:k]
	for i := k/2 - 1; i >= 0; i-- {
		siftDown(h, i, order)
	}
	for _, it := range items[k:] {
		if order(it, h[0]) < 0 {
			h[0] = it
			siftDown(h, 0, order)
		}
	}
	slices.SortFunc(h, order)
	return h
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
