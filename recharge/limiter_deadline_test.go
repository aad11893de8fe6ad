package recharge_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rechargekit/rechargekit/recharge"
)

// A full bucket's next slot is 0.5 s away. A caller whose deadline leaves
// no time for the request after that wait gets an error at once, without
// spending the slot; one with room enough waits for it.
func TestLeakyBucketLeavesTimeForTheRequest(t *testing.T) {
	t.Parallel()
	start := time.Now()
	now := start
	var slept time.Duration
	b := recharge.NewLeakyBucket(1, 2, func() time.Time { return now },
		func(ctx context.Context, d time.Duration) error { slept += d; return nil })
	if err := b.Wait(context.Background()); err != nil { // fills the bucket
		t.Fatal(err)
	}

	tight, cancel := context.WithDeadline(context.Background(), start.Add(500*time.Millisecond+recharge.MinRequestTime/2))
	defer cancel()
	if err := b.Wait(tight); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Wait with no time left for the request = %v, want a deadline error", err)
	}
	if level := b.Level(); level != 1 {
		t.Errorf("level = %v after a refused wait, want 1 (no slot spent)", level)
	}

	roomy, cancel2 := context.WithDeadline(context.Background(), start.Add(time.Minute))
	defer cancel2()
	if err := b.Wait(roomy); err != nil || slept != 500*time.Millisecond {
		t.Errorf("Wait = %v after sleeping %v, want nil after 500ms", err, slept)
	}
}
