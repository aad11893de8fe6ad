package testkit

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var start = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func TestClock(t *testing.T) {
	t.Parallel()
	c := NewClock(start)
	if got := c.Now(); !got.Equal(start) {
		t.Fatalf("NewClock(%v).Now() = %v", start, got)
	}
	c.Advance(90 * time.Second)
	if got, want := c.Now(), start.Add(90*time.Second); !got.Equal(want) {
		t.Errorf("after Advance: %v, want %v", got, want)
	}
	c.Set(start.Add(-time.Hour))
	if got, want := c.Now(), start.Add(-time.Hour); !got.Equal(want) {
		t.Errorf("after Set backwards: %v, want %v", got, want)
	}
	if c.Sleeps() != nil {
		t.Errorf("Sleeps before any sleep = %v, want nil", c.Sleeps())
	}
}

func TestClockSleep(t *testing.T) {
	t.Parallel()
	c := NewClock(start)
	for _, d := range []time.Duration{time.Second, 250 * time.Millisecond} {
		if err := c.Sleep(context.Background(), d); err != nil {
			t.Fatalf("Sleep(%s) = %v", d, err)
		}
	}
	if got, want := c.Now(), start.Add(1250*time.Millisecond); !got.Equal(want) {
		t.Errorf("after two sleeps: %v, want %v", got, want)
	}
	want := []time.Duration{time.Second, 250 * time.Millisecond}
	if diff := cmp.Diff(want, c.Sleeps()); diff != "" {
		t.Errorf("Sleeps (-want +got):\n%s", diff)
	}

	// A sleep in a context that has ended returns its error at once and
	// neither moves the clock nor counts.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Sleep(ctx, time.Minute); err != context.Canceled {
		t.Errorf("Sleep in a cancelled context = %v, want context.Canceled", err)
	}
	if got, want := c.Now(), start.Add(1250*time.Millisecond); !got.Equal(want) || len(c.Sleeps()) != 2 {
		t.Errorf("after a cancelled sleep: %v and %d sleeps, want %v and 2", got, len(c.Sleeps()), want)
	}

	// Sleeps returns a copy: the caller cannot change the record.
	c.Sleeps()[0] = time.Hour
	if diff := cmp.Diff(want, c.Sleeps()); diff != "" {
		t.Errorf("Sleeps after changing a returned slice (-want +got):\n%s", diff)
	}
}

// TestClockConcurrent moves and reads one clock from several goroutines, as
// code under test and its test do; run it with -race.
func TestClockConcurrent(t *testing.T) {
	t.Parallel()
	c := NewClock(start)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				c.Advance(time.Millisecond)
				_ = c.Sleep(context.Background(), time.Millisecond)
				_ = c.Now()
				_ = c.Sleeps()
			}
		})
	}
	wg.Wait()
	if got, want := c.Now(), start.Add(1600*time.Millisecond); !got.Equal(want) || len(c.Sleeps()) != 800 {
		t.Errorf("after 800 advances and 800 sleeps of 1ms: %v and %d sleeps, want %v and 800", got, len(c.Sleeps()), want)
	}
}
