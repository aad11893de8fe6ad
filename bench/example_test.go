package bench_test

import (
	"context"
	"log"
	"os"
	"time"

	"github.com/rechargekit/rechargekit/bench"
)

// ExampleRun is what `rechargekit bench` runs: the default configuration
// (3,000 customers, 80 ms per Recharge request, Recharge's 40 / 2 per
// second bucket, 500 warm lookups in flight, bursts of 1,000, the mirror
// in a temporary SQLite file), printing the table to standard output in
// about four minutes, two of them the mirror's backfill at Recharge's
// budget.
func ExampleRun() {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	if _, err := bench.Run(ctx, bench.Options{Out: os.Stdout}); err != nil {
		log.Fatal(err)
	}
}
