package rechargetest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// form reads a request body field by field and collects Recharge-style
// validation errors (the marshmallow messages Recharge answers with, e.g.
// "Not a valid string.", "Field may not be null.").
type form struct {
	body map[string]json.RawMessage
	errs map[string]any
}

func (c *call) form() *form { return &form{body: c.body, errs: map[string]any{}} }

func (f *form) fail(field string, msg ...string) { f.errs[field] = msg }

func (f *form) ok() bool { return len(f.errs) == 0 }

func (f *form) response() response {
	return errorsBody(http.StatusUnprocessableEntity, f.errs)
}

func (f *form) has(k string) bool { _, ok := f.body[k]; return ok }

func (f *form) isNull(k string) bool {
	v, ok := f.body[k]
	return ok && bytes.Equal(bytes.TrimSpace(v), []byte("null"))
}

// str returns the field's string; present reports whether the key was sent
// (a null gives present with a nil value).
func (f *form) str(k string) (v *string, present bool) {
	raw, ok := f.body[k]
	if !ok {
		return nil, false
	}
	if f.isNull(k) {
		return nil, true
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		f.fail(k, "Not a valid string.")
		return nil, true
	}
	return &s, true
}

// int accepts a JSON integer or a string of digits, like marshmallow's
// non-strict Integer.
func (f *form) int(k string) (v *int64, present bool) {
	raw, ok := f.body[k]
	if !ok {
		return nil, false
	}
	if f.isNull(k) {
		return nil, true
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			f.fail(k, "Not a valid integer.")
			return nil, true
		}
		n = json.Number(strings.TrimSpace(s))
	}
	i, err := strconv.ParseInt(n.String(), 10, 64)
	if err != nil {
		f.fail(k, "Not a valid integer.")
		return nil, true
	}
	return &i, true
}

func (f *form) bool(k string) (v *bool, present bool) {
	raw, ok := f.body[k]
	if !ok {
		return nil, false
	}
	if f.isNull(k) {
		return nil, true
	}
	var b bool
	if err := json.Unmarshal(raw, &b); err != nil {
		f.fail(k, "Not a valid boolean.")
		return nil, true
	}
	return &b, true
}

// ecom reads an external id: {"ecommerce":"..."} as in 2021-11, or a bare
// string or number.
func (f *form) ecom(k string) (v *string, present bool) {
	raw, ok := f.body[k]
	if !ok {
		return nil, false
	}
	if f.isNull(k) {
		return nil, true
	}
	var obj struct {
		Ecommerce json.RawMessage `json:"ecommerce"`
	}
	if err := json.Unmarshal(raw, &obj); err == nil && obj.Ecommerce != nil {
		raw = obj.Ecommerce
		if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
			return nil, true
		}
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return &s, true
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err == nil {
		s := n.String()
		return &s, true
	}
	f.fail(k, "Not a valid string.")
	return nil, true
}

// price reads a money amount sent as a string ("25.00") or a number (25).
func (f *form) price(k string) (v string, present bool) {
	raw, ok := f.body[k]
	if !ok {
		return "", false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		var n json.Number
		if json.Unmarshal(raw, &n) != nil {
			f.fail(k, "Not a valid number.")
			return "", true
		}
		s = n.String()
	}
	p, good := normPrice(s)
	if !good {
		f.fail(k, "Not a valid number.")
		return "", true
	}
	return p, true
}

func (f *form) properties(k string) ([]property, bool) {
	raw, ok := f.body[k]
	if !ok {
		return nil, false
	}
	var ps []property
	if err := json.Unmarshal(raw, &ps); err != nil || ps == nil {
		if f.isNull(k) {
			return []property{}, true
		}
		f.fail(k, "Not a valid list.")
		return nil, true
	}
	return ps, true
}

// required marks the listed keys that are missing with marshmallow's
// message.
func (f *form) required(keys ...string) {
	for _, k := range keys {
		if !f.has(k) {
			f.fail(k, "Missing data for required field.")
		} else if f.isNull(k) {
			f.fail(k, "Field may not be null.")
		}
	}
}
