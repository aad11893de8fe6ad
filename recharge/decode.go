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

// This file holds the lenient JSON building blocks. Recharge payloads differ
// between captures (2022 timestamps without an offset, 2021-01 numbers where
// 2021-11 has strings, null where a value is expected), and one odd field must
// not make a whole customer unreadable. The resource types decode through
// these helpers so that their exported fields stay plain Go types.

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
			Ecommerce flexString `json:"ecommerce"`
		}
		if err := json.Unmarshal(b, &aux); err != nil {
			return fmt.Errorf("recharge: external id: %w", err)
		}
		*e = NewExternalID(string(aux.Ecommerce))
		return nil
	}
	var s flexString
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
		Name  flexText        `json:"name"`
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	p.Name = string(aux.Name)
	p.Value = ""
	if len(aux.Value) > 0 {
		var v flexText
		if err := v.UnmarshalJSON(aux.Value); err != nil {
			return err
		}
		p.Value = string(v)
	}
	return nil
}

// flexText is flexString that also takes objects and arrays, keeping their
// compact JSON text. Free-form fields (a charge's error, a property value)
// use it: their shape is not documented.
type flexText string

func (s *flexText) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && (b[0] == '{' || b[0] == '[') {
		var buf bytes.Buffer
		if err := json.Compact(&buf, b); err != nil {
			return err
		}
		*s = flexText(buf.String())
		return nil
	}
	var v flexString
	if err := v.UnmarshalJSON(b); err != nil {
		return err
	}
	*s = flexText(v)
	return nil
}

// flexString accepts a JSON string, number (its text is kept, so 98.00
// stays "98.00"), boolean or null (""). Money amounts use it: they are
// strings in 2021-11 and numbers in 2021-01.
type flexString string

func (s *flexString) UnmarshalJSON(b []byte) error {
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
		*s = flexString(v)
	case b[0] == 't' || b[0] == 'f':
		var v bool
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = flexString(strconv.FormatBool(v))
	case b[0] == '-' || (b[0] >= '0' && b[0] <= '9'):
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return err
		}
		*s = flexString(n.String())
	default:
		return fmt.Errorf("want a string or number, got %s", abbreviate(string(b)))
	}
	return nil
}

// flexInt64 accepts a JSON integer, an integral float (30.0), a string
// holding an integer ("176728490", as hand-made and 2021-01 payloads have
// it), "" and null (0).
type flexInt64 int64

func (n *flexInt64) UnmarshalJSON(b []byte) error {
	var s flexString
	if err := s.UnmarshalJSON(b); err != nil {
		return err
	}
	v, err := parseFlexInt(string(s))
	if err != nil {
		return err
	}
	*n = flexInt64(v)
	return nil
}

// flexInt is flexInt64 for counts and frequencies.
type flexInt int

func (n *flexInt) UnmarshalJSON(b []byte) error {
	var v flexInt64
	if err := v.UnmarshalJSON(b); err != nil {
		return err
	}
	if int64(int(v)) != int64(v) {
		return fmt.Errorf("integer %d out of range", int64(v))
	}
	*n = flexInt(v)
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

// intPtr converts an optional flexInt.
func intPtr(v *flexInt) *int {
	if v == nil {
		return nil
	}
	n := int(*v)
	return &n
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
