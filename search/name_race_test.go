package search_test

import (
	"sync"
	"testing"

	"github.com/rechargekit/rechargekit/search"
)

// TestNameConcurrent folds names from several goroutines at once, as the
// mirror's backfill and webhooks do (run with -race).
func TestNameConcurrent(t *testing.T) {
	t.Parallel()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				if got := search.Name("Zoë Núñez"); got != "zoe nunez" {
					t.Errorf("Name = %q", got)
					return
				}
			}
		})
	}
	wg.Wait()
}
