package rechargekit

import (
	"context"
	"time"
)

// The mirror is rechargekit's own copy of the store's Recharge data: the
// customers, addresses, subscriptions, charges, payment methods (never a
// payment token) and events that a Subscription card is built from, kept
// current by webhooks, a resumable backfill and reconciliation. Lookups and
// searches are answered from it without a Recharge call; the mirror
// package runs it, sqlstore keeps it.

// Mirrored Recharge resources, named as Recharge's list routes name them.
const (
	MirrorCustomers      = "customers"
	MirrorAddresses      = "addresses"
	MirrorSubscriptions  = "subscriptions"
	MirrorCharges        = "charges"
	MirrorPaymentMethods = "payment_methods"
	MirrorEvents         = "events"
)

// MirrorResources are the mirrored resources in the order a backfill
// reads them: customers first, so that a customer's other records never
// wait long for it.
var MirrorResources = []string{
	MirrorCustomers, MirrorAddresses, MirrorSubscriptions, MirrorCharges, MirrorPaymentMethods, MirrorEvents,
}

// IsMirrorResource reports whether r is one of MirrorResources.
func IsMirrorResource(r string) bool {
	for _, m := range MirrorResources {
		if m == r {
			return true
		}
	}
	return false
}

// MirrorRecord is one mirrored Recharge object.
type MirrorRecord struct {
	Resource   string // one of MirrorResources
	ID         int64  // Recharge's id of the object
	CustomerID int64  // the customer it belongs to (a customer's own id)

	// UpdatedAt is Recharge's updated_at of the object (created_at for
	// events, which never change): what decides whether a write is older
	// than what the mirror holds.
	UpdatedAt time.Time
	// SeenAt is when rechargekit last read the object from Recharge (a
	// page, a webhook, a live card); zero means the store's clock.
	SeenAt time.Time

	// Doc is the object as Recharge's JSON, re-encoded from rechargekit's
	// own wire types, so that it never holds a field rechargekit does not
	// read (payment tokens among them).
	Doc []byte

	// Keys are what finds the record's customer in a search; a write
	// replaces the record's keys with these. Customers and addresses have
	// keys, other resources none.
	Keys []SearchKey
}

// Kinds of search keys. Values are stored and searched normalised (see
// the search package): emails lowercased, phones in E.164, names folded
// (lowercase, without accents), zips uppercase without spaces.
const (
	KeyEmail      = "email"
	KeyPhone      = "phone"
	KeyName       = "name" // a first name, a last name or a full name: each is a key, searched by prefix
	KeyZip        = "zip"
	KeyCustomerID = "customer_id" // the Recharge customer id, in decimal
	KeyExternalID = "external_id" // the platform's (Shopify) customer id
)

// SearchKey is one normalised value that finds a customer.
type SearchKey struct {
	Kind  string // KeyEmail, KeyPhone, ...
	Value string // normalised
}

// MirrorHit is one customer a mirror search found, with the stored key
// that matched it.
type MirrorHit struct {
	CustomerID int64
	Key        SearchKey
}

// MirrorCheckpoint is where the mirror of one resource stands.
type MirrorCheckpoint struct {
	Resource string

	// Backfill: Cursor is the cursor of the next page to read (the one
	// after the last page written), "" before the first page; Done is set
	// when the last page was written; Records counts the records the
	// backfill wrote; StartedAt is when it started (zero before), and
	// MaxID the highest id Recharge had then (for progress).
	Cursor    string
	Done      bool
	Records   int64
	StartedAt time.Time
	MaxID     int64
	LastID    int64 // the highest id written by the backfill so far

	// SweptTo is the time up to which every change of the resource is in
	// the mirror: a backfill's StartedAt once it is done, then the start of
	// each completed reconciliation sweep.
	SweptTo time.Time

	UpdatedAt time.Time // when the checkpoint was last written (the store's clock)
}

// MirrorStats is what the mirror holds.
type MirrorStats struct {
	Records     map[string]int64 // by resource
	Checkpoints map[string]*MirrorCheckpoint
	Lease       *MirrorLease // nil when nobody holds it
}

// MirrorLease says which replica syncs the mirror: one at a time.
type MirrorLease struct {
	Holder  string
	Expires time.Time
}

// MirrorStore keeps the mirror. Every method is safe across replicas
// sharing one database.
type MirrorStore interface {
	// PutMirror writes records in one transaction. A record replaces the
	// stored one of the same resource and id unless the stored one has a
	// later UpdatedAt (an older delivery is ignored; an equal one only
	// refreshes SeenAt). A deleted record (see DeleteMirror) is written
	// again only by a version whose UpdatedAt is strictly after its
	// deletion, and a record of a deleted customer only when it is
	// strictly newer than the customer's deletion: Recharge never reuses
	// an id, so only a change made after the deletion brings a record
	// back, never a late delivery of an older version. A written record's
	// keys replace its old ones. It returns the distinct customer ids
	// whose records changed, ascending. Errors: EINVALID (an unknown
	// resource, a non-positive id, an empty doc).
	PutMirror(ctx context.Context, recs []*MirrorRecord) (changed []int64, err error)

	// DeleteMirror deletes a record as of at, the deletion's time (a zero
	// at means the store's clock, or the held record's UpdatedAt when that
	// is later: it always deletes), unless the stored one was updated
	// after at. The mirror keeps a tombstone (resource, id, customer id,
	// at) instead of forgetting the record, held or not, so that PutMirror
	// can refuse older versions delivered late; a tombstone has no
	// document and no keys, and no read (MirroredCustomer, SearchMirror,
	// MirrorStats) sees it. Deleting a customer makes tombstones of the
	// customer and of every record of the customer. It returns the
	// customer id of what it removed, 0 when nothing was held (or a newer
	// version refused the deletion). Errors: EINVALID.
	DeleteMirror(ctx context.Context, resource string, id int64, at time.Time) (customerID int64, err error)

	// MirroredCustomer returns every record of the customer, by resource
	// (in MirrorResources order) then id, without tombstones. Errors:
	// ENOTFOUND when the customer itself is not held (or deleted).
	MirroredCustomer(ctx context.Context, customerID int64) ([]*MirrorRecord, error)

	// SearchMirror returns the customers with a key equal to one of keys
	// (for KeyName: starting with it), each once with the first key that
	// matched, by customer id descending; limit <= 0 means 50, at most
	// 1000. Errors: EINVALID (a key the database cannot compare).
	SearchMirror(ctx context.Context, keys []SearchKey, limit int) ([]*MirrorHit, error)

	// MirrorCheckpoint returns a resource's checkpoint (a zero one, with
	// Resource set, when there is none). Errors: EINVALID.
	MirrorCheckpoint(ctx context.Context, resource string) (*MirrorCheckpoint, error)
	// SetMirrorCheckpoint writes a resource's checkpoint. Errors: EINVALID.
	SetMirrorCheckpoint(ctx context.Context, cp *MirrorCheckpoint) error

	// MirrorStats returns the record counts (tombstones not counted),
	// checkpoints and lease. It returns no error codes of its own.
	MirrorStats(ctx context.Context) (*MirrorStats, error)

	// PurgeMirror deletes every mirrored record, tombstone, key and
	// checkpoint (the lease stays). It returns no error codes of its own.
	PurgeMirror(ctx context.Context) error

	// AcquireMirrorLease takes the sync lease for holder until now+ttl, or
	// renews it when holder has it; it reports false, with the current
	// holder, when another holder's lease has not expired by now.
	// Errors: EINVALID (empty holder, ttl <= 0).
	AcquireMirrorLease(ctx context.Context, holder string, now time.Time, ttl time.Duration) (ok bool, current *MirrorLease, err error)
	// ReleaseMirrorLease gives the lease up if holder has it. It returns
	// no error codes of its own.
	ReleaseMirrorLease(ctx context.Context, holder string) error
}

// Mirror states, as /readyz, the metrics and the admin page show them.
const (
	MirrorOff     = "off"     // RECHARGE_MIRROR=off: every card is read live
	MirrorSyncing = "syncing" // the backfill is running; Percent says how far
	MirrorReady   = "ready"   // complete and current
	MirrorBehind  = "behind"  // complete, but the last reconciliation is overdue or failed
)

// CustomerIndex finds Recharge customers by what Recharge cannot search
// (phone, name, zip) as well as by email and ids. The mirror implements
// it; the card service uses it when it is there and ready.
type CustomerIndex interface {
	// SearchCustomers returns the customers matching any of keys (see
	// MirrorStore.SearchMirror), each as a Match saying what matched, by
	// Recharge id descending. ok is false when the index cannot answer
	// for the whole store yet (off, still syncing): the caller then asks
	// Recharge. Errors: EINVALID, EUPSTREAM (the database failed).
	SearchCustomers(ctx context.Context, keys []SearchKey, limit int) (matches []*Match, ok bool, err error)
}
