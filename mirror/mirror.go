// Package mirror keeps rechargekit's local copy of the store's Recharge
// data (rechargekit.MirrorStore) and answers cards and searches from it:
//
//   - Backfill fills it from Recharge's list routes, cursor pages of 250
//     sorted by id, paced at background priority so agents' live requests
//     go first, resuming from a checkpoint per resource;
//   - Apply writes webhook payloads (older deliveries ignored by
//     updated_at, deletions removed, one customer's events in order);
//   - Reconcile sweeps each resource with updated_at_min for what a lost
//     webhook missed, and re-creates webhooks Recharge deleted;
//   - Run does all of that in serve, on the replica holding the lease;
//   - Source builds cards from the mirror with no Recharge call, reads a
//     customer not (yet) held live and writes it through;
//   - SearchCustomers finds customers by email, phone, name, zip and ids.
package mirror

import (
	"context"
	"log/slog"
	"time"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/recharge"
)

// Defaults of Options.
const (
	DefaultPageSize          = recharge.MaxPageSize // 250
	DefaultReconcileInterval = 5 * time.Minute
	DefaultLeaseTTL          = 30 * time.Second
)

// Options configure a Mirror.
type Options struct {
	Store  rechargekit.MirrorStore
	Client *recharge.Client // backfill and reconciliation reads, at background priority
	Live   *recharge.Source // live card reads of customers not held yet, written through

	Region            string        // phone region of numbers without a country code (search.DefaultRegion when "")
	PageSize          int           // DefaultPageSize when 0
	ReconcileInterval time.Duration // DefaultReconcileInterval when 0
	LeaseTTL          time.Duration // DefaultLeaseTTL when 0
	Holder            string        // this replica's lease holder name (host and pid when "")
	WebhookURL        string        // where Recharge posts webhooks; "": registrations are not checked

	// OnChange is called with each customer whose mirrored records a
	// webhook, a reconciliation, a backfill page or a live read changed,
	// so that the card caches in front drop that customer's card.
	OnChange func(ctx context.Context, customerID int64)

	Logger  *slog.Logger     // nil: no logs
	Metrics Metrics          // nil: none
	Now     func() time.Time // time.Now when nil
}

// Metrics are what a Mirror reports (the metrics package implements them).
type Metrics interface {
	MirrorRecords(resource string, n int64) // records written by backfill or reconciliation
	MirrorWebhookApplied(outcome string)    // applied, ignored_older, deleted, failed
	MirrorWebhookRecreated(topic string)    // a registration Recharge had deleted, re-created
}

// Progress is where a backfill stands, for the progress bar, the admin
// page and /readyz.
type Progress struct {
	Resource string        // the resource being read ("" when done)
	Records  int64         // records written by this backfill, all resources
	Percent  float64       // 0..100, estimated from ids read against the highest id
	Rate     float64       // records per second over the last pages
	Left     time.Duration // estimated time left; 0 when unknown
	Done     bool
}

// Status is the mirror's state for /readyz, the metrics and the admin page.
type Status struct {
	State           string // rechargekit.MirrorOff, MirrorSyncing, MirrorReady, MirrorBehind
	Percent         float64
	Records         map[string]int64
	LastReconcile   time.Time // when the last reconciliation sweep completed
	Reconciled      time.Time // everything changed before this is in the mirror
	Holder          string    // the replica syncing ("" when none)
	Leader          bool      // this replica holds the lease
	Drift           string    // the last daily count check's finding; "" when none
	WebhooksMissing []string  // topics Recharge had deleted and that were re-created since start
	Err             string    // the last sync error, "" when none
}
