package sqlstore

import (
	"fmt"
	"testing"
	"time"
)

func TestTimeText(t *testing.T) {
	t.Parallel()
	// The layout must sort as text in time order, also across zones and
	// with whole seconds (no trimmed zeros).
	a := formatTime(mustTime(t, "2026-01-02T03:04:05Z"))
	b := formatTime(mustTime(t, "2026-01-02T03:04:05.000001Z"))
	c := formatTime(mustTime(t, "2026-01-02T00:04:06-03:00"))
	if !(a < b && b < c) {
		t.Errorf("time text does not sort in time order: %q, %q, %q", a, b, c)
	}
	var got = mustTime(t, "2000-01-01T00:00:00Z")
	if err := (scanTime{&got}).Scan(b); err != nil || formatTime(got) != b {
		t.Errorf("scanTime(%q) = %v, %v", b, got, err)
	}
	if err := (scanTime{&got}).Scan(int64(5)); err == nil {
		t.Error("scanTime accepted an integer")
	}
	// PostgreSQL's driver hands over times, in any zone.
	zoned := time.Date(2026, 1, 2, 0, 4, 6, 0, time.FixedZone("UTC-3", -3*3600))
	if err := (scanTime{&got}).Scan(zoned); err != nil || !got.Equal(zoned) || got.Location() != time.UTC {
		t.Errorf("scanTime(%v) = %v, %v; want the same instant in UTC", zoned, got, err)
	}
	if v, err := dbTime(zoned).Value(); err != nil || v != c {
		t.Errorf("dbTime(%v).Value() = %v, %v; want %q", zoned, v, err, c)
	}
}

func mustTime(tb testing.TB, s string) time.Time {
	tb.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		tb.Fatal(fmt.Errorf("parse %q: %w", s, err))
	}
	return v
}

// FuzzTimeText checks that stored time text reads back as the same instant
// at microsecond precision, and that comparing the text of two times
// compares the times (session expiry and the audit order rely on it).
func FuzzTimeText(f *testing.F) {
	// Times are microseconds since 1970 plus a few nanoseconds, which the
	// store drops.
	f.Add(int64(0), uint16(0), int64(1), uint16(999))
	f.Add(int64(1767225600123456), uint16(789), int64(1767225600123456), uint16(0))
	f.Add(int64(-62135596800000000), uint16(1), int64(253402300799999999), uint16(999)) // years 1 and 9999
	f.Fuzz(func(t *testing.T, a int64, an uint16, b int64, bn uint16) {
		ta := time.UnixMicro(a).Add(time.Duration(an % 1000))
		tb := time.UnixMicro(b).Add(time.Duration(bn % 1000))
		if ta.Year() < 1 || ta.Year() > 9999 || tb.Year() < 1 || tb.Year() > 9999 {
			t.Skip("outside the four-digit years the layout covers")
		}
		sa, sb := formatTime(ta), formatTime(tb)
		var got time.Time
		if err := (scanTime{&got}).Scan(sa); err != nil {
			t.Fatalf("scan %q: %v", sa, err)
		}
		if want := truncate(ta); !got.Equal(want) || got.Location() != time.UTC {
			t.Fatalf("round trip of %v gave %v, want %v", ta, got, want)
		}
		if ua, ub := truncate(ta), truncate(tb); (sa < sb) != ua.Before(ub) || (sa == sb) != ua.Equal(ub) {
			t.Fatalf("text order of %q and %q disagrees with time order of %v and %v", sa, sb, ua, ub)
		}
	})
}
