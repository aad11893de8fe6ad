// Package searchtest holds an in-memory rechargekit.CustomerIndex for the
// tests of what searches through one (the card service, the Gladly
// adaptor, the console and the JSON API), so that they need no mirror.
package searchtest

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"sync"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/search"
)

// Index is a rechargekit.CustomerIndex over a slice of customers, each
// held under the keys the mirror stores for it (search.CustomerKeys) and
// any added with AddKeys. It compares keys as MirrorStore.SearchMirror
// does: equal values, names by prefix. It is safe for concurrent use.
type Index struct {
	mu      sync.Mutex
	entries []entry
	ready   bool
	err     error
	asked   [][]rechargekit.SearchKey
}

type entry struct {
	c    *rechargekit.Customer
	keys []rechargekit.SearchKey
}

// New returns a ready Index holding custs, their phones read in region.
func New(region string, custs ...*rechargekit.Customer) *Index {
	ix := &Index{ready: true}
	for _, c := range custs {
		ix.entries = append(ix.entries, entry{c, search.CustomerKeys(c, region)})
	}
	return ix
}

// AddKeys adds keys (normalised, such as an address's phone or zip) to a
// held customer.
func (ix *Index) AddKeys(customerID int64, keys ...rechargekit.SearchKey) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for i := range ix.entries {
		if ix.entries[i].c.ID == customerID {
			ix.entries[i].keys = append(ix.entries[i].keys, keys...)
		}
	}
}

// SetReady makes the index answer (true) or report ok false, as a mirror
// that is off or still syncing does.
func (ix *Index) SetReady(ready bool) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.ready = ready
}

// SetErr makes every search fail with err (nil: answer again).
func (ix *Index) SetErr(err error) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.err = err
}

// Asked returns the keys of every search so far, in order.
func (ix *Index) Asked() [][]rechargekit.SearchKey {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	return slices.Clone(ix.asked)
}

// Customers returns the held customers.
func (ix *Index) Customers() []*rechargekit.Customer {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	out := make([]*rechargekit.Customer, 0, len(ix.entries))
	for _, e := range ix.entries {
		out = append(out, e.c)
	}
	return out
}

// SearchCustomers implements rechargekit.CustomerIndex: each customer once,
// with the first of keys that matched it (Value the stored key), by id
// descending, at most limit.
func (ix *Index) SearchCustomers(ctx context.Context, keys []rechargekit.SearchKey, limit int) ([]*rechargekit.Match, bool, error) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.asked = append(ix.asked, slices.Clone(keys))
	if ix.err != nil {
		return nil, false, ix.err
	}
	if !ix.ready {
		return nil, false, nil
	}
	var out []*rechargekit.Match
	for _, e := range ix.entries {
		if m := match(e, keys); m != nil {
			out = append(out, m)
		}
	}
	slices.SortFunc(out, func(a, b *rechargekit.Match) int { return cmp.Compare(b.Customer.ID, a.Customer.ID) })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, true, nil
}

func match(e entry, keys []rechargekit.SearchKey) *rechargekit.Match {
	for _, k := range keys {
		for _, have := range e.keys {
			if have.Kind == k.Kind && (have.Value == k.Value || k.Kind == rechargekit.KeyName && strings.HasPrefix(have.Value, k.Value)) {
				return &rechargekit.Match{Customer: e.c, By: search.MatchKind(k.Kind), Value: have.Value}
			}
		}
	}
	return nil
}
