package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/mirror"
)

// TestProgressPrinter checks both forms of the sync's progress: on a
// terminal one line redrawn in place (\r, blanking what a shorter line
// leaves) with the bar, percent, records, rate and time left; elsewhere a
// plain line each time the whole percent or the resource changes, and not
// for every page.
func TestProgressPrinter(t *testing.T) {
	t.Parallel()
	steps := []mirror.Progress{
		{Resource: rechargekit.MirrorCustomers, Records: 250, Percent: 10.2, Rate: 500, Left: 95 * time.Second},
		{Resource: rechargekit.MirrorCustomers, Records: 500, Percent: 10.9, Rate: 500, Left: 90 * time.Second},
		{Resource: rechargekit.MirrorPaymentMethods, Records: 12345, Percent: 62.5, Rate: 480.4, Left: 2*time.Minute + 10*time.Second},
		{Records: 20000, Percent: 100, Rate: 490, Done: true},
	}

	t.Run("terminal", func(t *testing.T) {
		t.Parallel()
		var b bytes.Buffer
		pp := &progressPrinter{w: &b, tty: true}
		for _, p := range steps {
			pp.update(p)
		}
		pp.finish()
		out := b.String()
		if strings.Count(out, "\r") != len(steps) || strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\n") {
			t.Errorf("want %d redraws on one line ended once:\n%q", len(steps), out)
		}
		for _, want := range []string{
			"\r[##----------------------]  10.2%  250 records  500/s  1m35s left  customers",
			"\r[###############---------]  62.5%  12,345 records  480/s  2m10s left  payment methods",
			"\r[########################] 100.0%  20,000 records  490/s  complete",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%q", want, out)
			}
		}
		// The last line is shorter than the one before: spaces blank the rest.
		last := out[strings.LastIndex(out, "\r"):]
		if prev := len("[###############---------]  62.5%  12,345 records  480/s  2m10s left  payment methods"); len(strings.TrimSuffix(last, "\n"))-1 != prev {
			t.Errorf("the last line is not padded to the previous one's width: %q", last)
		}
	})

	t.Run("plain", func(t *testing.T) {
		t.Parallel()
		var b bytes.Buffer
		pp := &progressPrinter{w: &b}
		for _, p := range steps {
			pp.update(p)
		}
		pp.finish()
		want := "sync  10%  250 records  500/s  1m35s left  customers\n" +
			"sync  62%  12,345 records  480/s  2m10s left  payment methods\n" +
			"sync 100%  20,000 records  complete\n"
		if got := b.String(); got != want {
			t.Errorf("plain progress =\n%s\nwant\n%s", got, want)
		}
	})
}

func TestThousands(t *testing.T) {
	t.Parallel()
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -45000: "-45,000"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestPrintMirrorStats checks `mirror status` for a backfill under way:
// each resource's state (done, a percent with what was read, not
// started), the note that cards are read from Recharge meanwhile, and the
// lease, held or expired.
func TestPrintMirrorStats(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	st := &rechargekit.MirrorStats{
		Records: map[string]int64{rechargekit.MirrorCustomers: 3000, rechargekit.MirrorAddresses: 1250},
		Checkpoints: map[string]*rechargekit.MirrorCheckpoint{
			rechargekit.MirrorCustomers: {Done: true, Records: 3000, StartedAt: now.Add(-time.Hour), SweptTo: now.Add(-time.Hour)},
			rechargekit.MirrorAddresses: {Records: 1250, StartedAt: now.Add(-time.Hour), LastID: 400, MaxID: 1000, Cursor: "abc"},
		},
		Lease: &rechargekit.MirrorLease{Holder: "rk-1:42\x1b[2J", Expires: now.Add(20 * time.Second)},
	}
	var b bytes.Buffer
	printMirrorStats(&b, "SQLite /data/rk.db", st, now)
	out := b.String()
	for _, want := range []string{
		"The mirror in SQLite /data/rk.db holds 4,250 records (3,000 customers, 1,250 addresses, 0 subscriptions,",
		"  customers             3,000  done (3,000 read)                  2026-12-05T11:00:00Z",
		"  addresses             1,250  40%, 1,250 read, resumes           -",
		"  payment methods           0  not started                        -",
		"The backfill is not complete",
		"rk-1:42[2J holds the sync lease until 2026-12-05T12:00:20Z",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	st.Lease.Expires = now.Add(-time.Second)
	b.Reset()
	printMirrorStats(&b, "db", st, now)
	if !strings.Contains(b.String(), "The sync lease of rk-1:42[2J expired at 2026-12-05T11:59:59Z") {
		t.Errorf("expired lease:\n%s", b.String())
	}
}
