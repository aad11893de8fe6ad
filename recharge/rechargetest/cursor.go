package rechargetest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// cursor is a list position in Recharge's cursor format (spec section 9):
// unpadded base64url of a JSON object that carries the filters, then the
// position, the sort and the direction, e.g.
//
//	{"customer_id":176728490,"starting_before_id":585061901,"last_value":585061901,"sort_by":"id-desc","cursor_dir":"next"}
//
// The position key is starting_before_id when the page moves towards lower
// ids (next in descending order, prev in ascending order) and
// starting_after_id otherwise; last_value is the sort field's value of the
// position item (the id itself, a timestamp or a date).
type cursor struct {
	f         *filters
	field     string
	desc      bool
	dir       string // "next" or "prev"
	id        int64  // the position item's id
	key       int64  // the position item's sort key (listItem.key)
	lastValue string // "" for id sorts; else the timestamp or date
}

// intFilter reports whether a filter is written as a JSON number in cursors.
func intFilter(sp *listSpec, name string) bool {
	def, ok := sp.filter(name)
	return ok && def.kind == fInt
}

func (c *cursor) positionKey() string {
	if c.desc == (c.dir == "next") {
		return "starting_before_id"
	}
	return "starting_after_id"
}

func (c *cursor) sortBy() string {
	if c.desc {
		return c.field + "-desc"
	}
	return c.field + "-asc"
}

func (c *cursor) encode(sp *listSpec) string {
	var b bytes.Buffer
	b.WriteByte('{')
	for _, p := range c.f.kvs {
		b.Write(encodeJSON(p.key))
		b.WriteByte(':')
		if intFilter(sp, p.key) {
			b.WriteString(p.value)
		} else {
			b.Write(encodeJSON(p.value))
		}
		b.WriteByte(',')
	}
	b.WriteString(`"` + c.positionKey() + `":` + strconv.FormatInt(c.id, 10))
	b.WriteString(`,"last_value":`)
	if c.field == "id" {
		b.WriteString(strconv.FormatInt(c.id, 10))
	} else {
		b.Write(encodeJSON(c.lastValue))
	}
	b.WriteString(`,"sort_by":"` + c.sortBy() + `","cursor_dir":"` + c.dir + `"}`)
	return base64.RawURLEncoding.EncodeToString(b.Bytes())
}

// decodeCursor parses a cursor minted for the list sp. Anything that is not
// exactly such a cursor (bad base64, bad JSON, unknown keys, a filter of
// another list, a position that does not fit the sort) is invalid.
func decodeCursor(sp *listSpec, s string) (*cursor, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || m == nil || dec.More() {
		return nil, false
	}
	str := func(k string) (string, bool) {
		v, ok := m[k].(string)
		delete(m, k)
		return v, ok
	}
	sortBy, ok1 := str("sort_by")
	dir, ok2 := str("cursor_dir")
	if !ok1 || !ok2 || (dir != "next" && dir != "prev") {
		return nil, false
	}
	field, desc, ok := parseSort(sp, sortBy)
	if !ok {
		return nil, false
	}
	c := &cursor{field: field, desc: desc, dir: dir}
	pos := c.positionKey()
	n, ok := m[pos].(json.Number)
	if !ok {
		return nil, false
	}
	id, err := strconv.ParseInt(n.String(), 10, 64)
	if err != nil || id <= 0 {
		return nil, false
	}
	c.id = id
	delete(m, pos)
	last, ok := m["last_value"]
	if !ok {
		return nil, false
	}
	delete(m, "last_value")
	switch field {
	case "id":
		ln, ok := last.(json.Number)
		if !ok || ln.String() != strconv.FormatInt(id, 10) {
			return nil, false
		}
		c.key = id
	case "created_at", "updated_at":
		ls, ok := last.(string)
		if !ok {
			return nil, false
		}
		t, err := time.Parse(stampLayout, ls)
		if err != nil || t.Nanosecond() != 0 || sec(t).String() != ls {
			return nil, false
		}
		c.key, c.lastValue = t.UnixMicro(), ls
	case "scheduled_at":
		ls, ok := last.(string)
		if !ok {
			return nil, false
		}
		t, err := time.Parse(dateLayout, ls)
		if err != nil || t.Format(dateLayout) != ls {
			return nil, false
		}
		c.key = listItem{sched: ls}.key("scheduled_at")
		c.lastValue = ls
	}
	var raws []kv
	for k, v := range m {
		def, ok := sp.filter(k)
		if !ok {
			return nil, false
		}
		switch v := v.(type) {
		case string:
			if def.kind == fInt {
				return nil, false
			}
			raws = append(raws, kv{k, v})
		case json.Number:
			if def.kind != fInt {
				return nil, false
			}
			raws = append(raws, kv{k, v.String()})
		default:
			return nil, false
		}
	}
	f, errs := sp.parseFilters(raws)
	if errs != nil {
		return nil, false
	}
	// A canonical cursor has canonical filter values; anything else was not
	// minted here.
	for _, p := range f.kvs {
		for _, r := range raws {
			if r.key == p.key && r.value != p.value {
				return nil, false
			}
		}
	}
	c.f = f
	return c, true
}
