package recharge

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// This file holds the lenient JSON field types. Recharge payloads differ
// between captures (2022 timestamps without an offset, 2021-01 numbers where
// 2021-11 has strings, null where a value is expected, 1 and 0 for flags),
// and one odd field must not make a whole customer unreadable. The resource
// types in types.go declare their fields with these types (Time, Date,
// ExternalID, Int64, Int, Money, String, Text, Bool), so each leniency is
// written once, here, and no resource needs a decoder of its own. Each type
// encodes in the 2021-11 form, which it decodes again unchanged.

// Time is a Recharge timestamp. It accepts RFC 3339 with or without
// fractional seconds ("2025-01-26T15:20:33+00:00",
// "2022-03-11T10:19:18.637636+00:00"), the offset-less form of the 2022
// captures ("2022-03-09T02:31:39", read as UTC), a bare date (midnight UTC),
// null and "" (the zero Time). It keeps the offset it was given; callers that
// display it convert it to UTC.
type Time struct {
	time.Time
}

// wireTimeLayout is how Recharge writes timestamps; MarshalJSON uses it so
// that values round-trip to the same shape.
const wireTimeLayout = "2006-01-02T15:04:05-07:00"

// timeLayouts are tried in order by ParseTime. RFC 3339 parsing in Go accepts
// an optional fraction, so one layout covers both observed offset forms.
var timeLayouts = []struct {
	layout string
	utc    bool // the layout has no zone: the value is UTC
}{
	{time.RFC3339Nano, false},
	{"2006-01-02T15:04:05.999999999", true},
	{"2006-01-02 15:04:05.999999999Z07:00", false},
	{"2006-01-02 15:04:05.999999999", true},
	{"2006-01-02T15:04:05.999999999Z0700", false},
	{"2006-01-02", true},
}

// ParseTime parses a Recharge timestamp in any of the forms Time accepts.
// An empty string is an error here; Time itself maps "" to the zero value.
func ParseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, l := range timeLayouts {
		var (
			t   time.Time
			err error
		)
		if l.utc {
			t, err = time.ParseInLocation(l.layout, s, time.UTC)
		} else {
			t, err = time.Parse(l.layout, s)
		}
		if err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("recharge: invalid timestamp %q", abbreviate(s))
}

// UnmarshalJSON implements json.Unmarshaler.
func (t *Time) UnmarshalJSON(b []byte) error {
	s, null, err := jsonString(b)
	if err != nil {
		return fmt.Errorf("recharge: timestamp: %w", err)
	}
	if null || strings.TrimSpace(s) == "" {
		*t = Time{}
		return nil
	}
	v, err := ParseTime(s)
	if err != nil {
		return err
	}
	*t = Time{v}
	return nil
}

// MarshalJSON writes the zero Time as null and any other as Recharge does,
// "2025-01-26T15:20:33+00:00", with the fraction when there is one.
func (t Time) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	layout := wireTimeLayout
	if t.Nanosecond() != 0 {
		layout = "2006-01-02T15:04:05.999999-07:00"
	}
	return json.Marshal(t.Format(layout))
}

// UTCPtr returns a pointer to the time in UTC, or nil for the zero Time. The
// domain types use *time.Time for "may be absent".
func (t Time) UTCPtr() *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// Date is a calendar date such as next_charge_scheduled_at ("2025-02-25").
// It also accepts a full timestamp, as retry_date has been seen in both
// forms; the date is then the calendar day written in the timestamp. Null
// and "" give the zero Date.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// ParseDate parses "YYYY-MM-DD" or any timestamp ParseTime accepts.
func ParseDate(s string) (Date, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return DateOf(t), nil
	}
	t, err := ParseTime(s)
	if err != nil {
		return Date{}, fmt.Errorf("recharge: invalid date %q", abbreviate(s))
	}
	return DateOf(t), nil
}

// DateOf returns the calendar day of t in t's own location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{Year: y, Month: m, Day: d}
}

// IsZero reports whether d is the zero Date (null on the wire).
func (d Date) IsZero() bool { return d == Date{} }

// String returns "YYYY-MM-DD", or "" for the zero Date.
func (d Date) String() string {
	if d.IsZero() {
		return ""
	}
	return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day)
}

// In returns midnight of d in loc.
func (d Date) In(loc *time.Location) time.Time {
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, loc)
}

// UnmarshalJSON implements json.Unmarshaler.
func (d *Date) UnmarshalJSON(b []byte) error {
	s, null, err := jsonString(b)
	if err != nil {
		return fmt.Errorf("recharge: date: %w", err)
	}
	if null || strings.TrimSpace(s) == "" {
		*d = Date{}
		return nil
	}
	v, err := ParseDate(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalJSON writes the zero Date as null and any other as "YYYY-MM-DD".
func (d Date) MarshalJSON() ([]byte, error) {
	if d.IsZero() {
		return []byte("null"), nil
	}
	return json.Marshal(d.String())
}

// ExternalID is a store platform id as 2021-11 sends it:
// {"ecommerce": "7923224739991"} or {"ecommerce": null}. Decoding also
// accepts a bare string or number (2021-01 and the catalog send those).
type ExternalID struct {
	Ecommerce *string `json:"ecommerce"`
}

// NewExternalID returns the ExternalID for a platform id; "" gives the
// null id.
func NewExternalID(id string) ExternalID {
	if id == "" {
		return ExternalID{}
	}
	return ExternalID{Ecommerce: &id}
}

// String returns the platform id, or "" when it is null.
func (e ExternalID) String() string {
	if e.Ecommerce == nil {
		return ""
	}
	return *e.Ecommerce
}

// UnmarshalJSON implements json.Unmarshaler.
func (e *ExternalID) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '{' {
		var aux struct {
			Ecommerce String `json:"ecommerce"`
		}
		if err := json.Unmarshal(b, &aux); err != nil {
			return fmt.Errorf("recharge: external id: %w", err)
		}
		*e = NewExternalID(string(aux.Ecommerce))
		return nil
	}
	var s String
	if err := s.UnmarshalJSON(b); err != nil {
		return fmt.Errorf("recharge: external id: %w", err)
	}
	*e = NewExternalID(string(s))
	return nil
}

// Property is a name/value pair (subscription properties, order
// attributes). A value that is not a string keeps its JSON text.
type Property struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// UnmarshalJSON implements json.Unmarshaler.
func (p *Property) UnmarshalJSON(b []byte) error {
	var aux struct {
		Name  Text            `json:"name"`
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	p.Name = string(aux.Name)
	p.Value = ""
	if len(aux.Value) > 0 {
		var v Text
		if err := v.UnmarshalJSON(aux.Value); err != nil {
			return err
		}
		p.Value = string(v)
	}
	return nil
}

// Text is a free-form field whose shape is not documented (a charge's error,
// a property value): it decodes like String and also takes objects and
// arrays, keeping their compact JSON text.
type Text string

// UnmarshalJSON implements json.Unmarshaler.
func (s *Text) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && (b[0] == '{' || b[0] == '[') {
		var buf bytes.Buffer
		if err := json.Compact(&buf, b); err != nil {
			return err
		}
		*s = Text(buf.String())
		return nil
	}
	var v String
	if err := v.UnmarshalJSON(b); err != nil {
		return err
	}
	*s = Text(v)
	return nil
}

// String is a text field that some payloads send as another scalar (a
// phone, a zip or a SKU as a number). It decodes a JSON string, a number
// (keeping its text, so 98.00 stays "98.00"), a boolean ("true" or "false")
// and null (""). It encodes as a JSON string.
type String string

// UnmarshalJSON implements json.Unmarshaler.
func (s *String) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0:
		return errors.New("empty value")
	case b[0] == 'n':
		if string(b) != "null" {
			return fmt.Errorf("invalid value %s", abbreviate(string(b)))
		}
		*s = ""
	case b[0] == '"':
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = String(v)
	case b[0] == 't' || b[0] == 'f':
		var v bool
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = String(strconv.FormatBool(v))
	case b[0] == '-' || (b[0] >= '0' && b[0] <= '9'):
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return err
		}
		*s = String(n.String())
	default:
		return fmt.Errorf("want a string or number, got %s", abbreviate(string(b)))
	}
	return nil
}

// Money is an amount as Recharge writes it: a decimal string in 2021-11
// ("25.00") and a JSON number in 2021-01 (25.0). It keeps the text it was
// given, never a float, so no amount is rounded; null is "". It decodes
// like String and encodes as a JSON string.
type Money string

// UnmarshalJSON implements json.Unmarshaler.
func (m *Money) UnmarshalJSON(b []byte) error {
	var s String
	if err := s.UnmarshalJSON(b); err != nil {
		return err
	}
	*m = Money(s)
	return nil
}

// Int64 is an id or a number that some payloads send as a string. It
// decodes a JSON integer, an integral float (30.0), a string holding either
// ("176728490", as hand-made and 2021-01 payloads have it, spaces trimmed),
// and "" and null (0). It encodes as a JSON number.
type Int64 int64

// UnmarshalJSON implements json.Unmarshaler.
func (n *Int64) UnmarshalJSON(b []byte) error {
	var s String
	if err := s.UnmarshalJSON(b); err != nil {
		return err
	}
	v, err := parseFlexInt(string(s))
	if err != nil {
		return err
	}
	*n = Int64(v)
	return nil
}

// Int is Int64 for counts and frequencies; a value beyond int is an error.
type Int int

// UnmarshalJSON implements json.Unmarshaler.
func (n *Int) UnmarshalJSON(b []byte) error {
	var v Int64
	if err := v.UnmarshalJSON(b); err != nil {
		return err
	}
	if int64(int(v)) != int64(v) {
		return fmt.Errorf("integer %d out of range", int64(v))
	}
	*n = Int(v)
	return nil
}

func parseFlexInt(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		return v, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, fmt.Errorf("want an integer, got %q", abbreviate(s))
	}
	return int64(f), nil
}

// Bool is a flag. Some payloads (webhooks among them) send flags as 1 and 0
// where 2021-11 has true and false, so it decodes true, false, 1, 0, the
// strings "true", "false", "1" and "0" (any letter case, spaces trimmed),
// and "" and null (false). Anything else is an error. It encodes as a JSON
// boolean.
type Bool bool

// UnmarshalJSON implements json.Unmarshaler.
func (v *Bool) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	text := string(b) // a literal: true, false, null or a number
	if len(b) > 0 && b[0] == '"' {
		s, _, err := jsonString(b)
		if err != nil {
			return err
		}
		if text = strings.ToLower(strings.TrimSpace(s)); text == "" {
			text = "false" // an empty string is an unset flag
		}
	} else if text == "null" {
		text = "false"
	}
	switch text {
	case "true", "1":
		*v = true
	case "false", "0":
		*v = false
	default:
		return fmt.Errorf("want a boolean (true, false, 1 or 0), got %s", abbreviate(string(b)))
	}
	return nil
}

// jsonString decodes a JSON string or null.
func jsonString(b []byte) (s string, null bool, err error) {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		return "", true, nil
	}
	if len(b) == 0 || b[0] != '"' {
		return "", false, fmt.Errorf("want a string, got %s", abbreviate(string(b)))
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return "", false, err
	}
	return s, false, nil
}

// abbreviate shortens s for error messages so that a hostile payload cannot
// blow up logs.
func abbreviate(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}
