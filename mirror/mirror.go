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
//   - Run does all of that in serve, on the replica holding the lease
//     (Lead takes or renews it);
//   - Source builds cards from the mirror with no Recharge call, reads a
//     customer not (yet) held live and writes it through;
//   - SearchCustomers finds customers by email, phone, name, zip and ids.
//
// The files are named by their job: records.go (wire objects to records
// and back), pages.go (one list page), backfill.go, apply.go,
// reconcile.go, run.go, source.go, search.go and status.go.
package mirror

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/recharge"
	"github.com/rechargekit/rechargekit/search"
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
	// webhook, a reconciliation or a backfill page changed, so that the
	// card caches in front drop that customer's card. A live read written
	// through does not call it: the card it returns is that fresh data,
	// and the cache in front is storing it.
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

// Mirror runs the mirror of one store. Create it with New; it is safe for
// concurrent use.
type Mirror struct {
	opts   Options
	store  rechargekit.MirrorStore
	client *recharge.Client
	live   *recharge.Source
	log    *slog.Logger
	source *Source

	// locks order the webhooks of one customer (a stripe per customer id).
	locks [64]sync.Mutex

	// after waits between Run's steps; tests replace it.
	after func(time.Duration) <-chan time.Time

	mu              sync.Mutex
	cps             map[string]*rechargekit.MirrorCheckpoint // cached checkpoints, read at cpsAt
	cpsAt           time.Time
	leader          bool
	progress        Progress
	minIDs          map[string]int64 // each resource's lowest id, for progress
	lastReconcile   time.Time
	reconcileErr    string
	syncErr         string
	lastCount       time.Time
	drift           string
	webhooksMissing []string
	refusedLogged   map[string]bool
}

// New returns a Mirror over opts.Store, reading Recharge through
// opts.Client (and opts.Live for cards not mirrored yet). Errors:
// EINVALID (no store or no client).
func New(opts Options) (*Mirror, error) {
	if opts.Store == nil || opts.Client == nil {
		return nil, rechargekit.Errorf(rechargekit.EINVALID, "The mirror needs a store and a Recharge client.")
	}
	if opts.PageSize <= 0 || opts.PageSize > recharge.MaxPageSize {
		opts.PageSize = DefaultPageSize
	}
	if opts.ReconcileInterval <= 0 {
		opts.ReconcileInterval = DefaultReconcileInterval
	}
	if opts.LeaseTTL <= 0 {
		opts.LeaseTTL = DefaultLeaseTTL
	}
	if opts.Region == "" {
		opts.Region = search.DefaultRegion
	}
	if opts.Holder == "" {
		host, _ := os.Hostname()
		opts.Holder = fmt.Sprintf("%s:%d", host, os.Getpid())
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	live := opts.Live
	if live == nil {
		live = &recharge.Source{Client: opts.Client, Logger: log}
	}
	m := &Mirror{
		opts: opts, store: opts.Store, client: opts.Client, live: live, log: log,
		after:         time.After,
		minIDs:        map[string]int64{},
		refusedLogged: map[string]bool{},
	}
	m.source = &Source{m: m}
	return m, nil
}

func (m *Mirror) now() time.Time { return m.opts.Now() }

// changed tells OnChange about each customer whose records changed.
func (m *Mirror) changed(ctx context.Context, ids []int64) {
	if m.opts.OnChange == nil {
		return
	}
	for _, id := range ids {
		m.opts.OnChange(ctx, id)
	}
}

// records counts records written by the backfill or a reconciliation.
func (m *Mirror) records(resource string, n int) {
	if m.opts.Metrics != nil && n > 0 {
		m.opts.Metrics.MirrorRecords(resource, int64(n))
	}
}
