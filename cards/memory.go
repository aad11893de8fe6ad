package cards

import (
	"container/list"
	"context"
	"errors"
	"sync"
	"time"

	"github.com/rechargekit/rechargekit"
)

// This file holds MemoryCache, the in-process rechargekit.CardCache of a
// single replica and NewCachedService's default, apart from the Cached
// service that reads through it.

// DefaultMemoryCacheEntries bounds the in-memory cache.
const DefaultMemoryCacheEntries = 10000

// MemoryCache is an in-memory rechargekit.CardCache holding at most a fixed
// number of customers, least recently used first out. It suits a single
// replica; several replicas share the redis package's cache instead. Cards
// are stored and returned as they are, not copied.
type MemoryCache struct {
	max int

	mu    sync.Mutex
	ll    *list.List // of *memEntry, most recently used first
	items map[int64]*list.Element
	seq   uint64 // the last generation handed out
}

type memEntry struct {
	id int64
	e  rechargekit.CacheEntry
}

var _ rechargekit.CardCache = (*MemoryCache)(nil)

// NewMemoryCache returns a cache of at most maxEntries customers
// (DefaultMemoryCacheEntries when maxEntries < 1).
func NewMemoryCache(maxEntries int) *MemoryCache {
	if maxEntries < 1 {
		maxEntries = DefaultMemoryCacheEntries
	}
	return &MemoryCache{max: maxEntries, ll: list.New(), items: map[int64]*list.Element{}}
}

// Len returns the number of customers held (cards and bare marks).
func (m *MemoryCache) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ll.Len()
}

// Get implements rechargekit.CardCache.
func (m *MemoryCache) Get(ctx context.Context, customerID int64) (*rechargekit.CacheEntry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	el, ok := m.items[customerID]
	if !ok {
		return nil, nil
	}
	m.ll.MoveToFront(el)
	e := el.Value.(*memEntry).e
	return &e, nil
}

// Set implements rechargekit.CardCache.
func (m *MemoryCache) Set(ctx context.Context, card *rechargekit.Card, storedAt time.Time, gen uint64) error {
	if card == nil {
		return errors.New("cards: memory cache: nil card")
	}
	id := card.Customer.ID
	m.mu.Lock()
	defer m.mu.Unlock()
	el, ok := m.items[id]
	if !ok {
		// Nothing held: a first fetch (gen 0), or the entry was evicted or
		// deleted since the fetch's Get, in which case an invalidation may
		// have been lost with it.
		m.insert(id, rechargekit.CacheEntry{Card: card, StoredAt: storedAt, Invalid: gen != 0})
		return nil
	}
	cur := &el.Value.(*memEntry).e
	invalid := cur.Gen != gen
	if cur.Card != nil && cur.StoredAt.After(storedAt) && (!cur.Invalid || invalid) {
		return nil // a later fetch already stored a card at least as good
	}
	cur.Card, cur.StoredAt, cur.Invalid = card, storedAt, invalid
	m.ll.MoveToFront(el)
	return nil
}

// Invalidate implements rechargekit.CardCache.
func (m *MemoryCache) Invalidate(ctx context.Context, customerID int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.seq++
	if el, ok := m.items[customerID]; ok {
		e := &el.Value.(*memEntry).e
		e.Gen, e.Invalid = m.seq, true
		return nil
	}
	m.insertMark(customerID)
	return nil
}

// Delete implements rechargekit.CardCache.
func (m *MemoryCache) Delete(ctx context.Context, customerID int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.seq++
	if el, ok := m.items[customerID]; ok {
		el.Value.(*memEntry).e = rechargekit.CacheEntry{Gen: m.seq, Invalid: true}
		return nil
	}
	m.insertMark(customerID)
	return nil
}

// insertMark records an invalidation of a customer the cache holds no card
// for, so that a fetch in flight does not store its older card as current.
// The mark goes to the back of the LRU list: a billing run's thousands of
// charge webhooks for customers nobody is looking at must not push the
// cards agents are using out of the cache. The caller holds mu.
func (m *MemoryCache) insertMark(id int64) {
	m.items[id] = m.ll.PushBack(&memEntry{id: id, e: rechargekit.CacheEntry{Gen: m.seq, Invalid: true}})
	for m.ll.Len() > m.max {
		last := m.ll.Back()
		if last == m.items[id] && m.ll.Len() > 1 {
			last = last.Prev() // keep the mark just made; drop the next least used
		}
		m.ll.Remove(last)
		delete(m.items, last.Value.(*memEntry).id)
	}
}

// insert adds an entry at the front and evicts the least recently used
// ones beyond the bound. The caller holds mu.
func (m *MemoryCache) insert(id int64, e rechargekit.CacheEntry) {
	m.items[id] = m.ll.PushFront(&memEntry{id: id, e: e})
	for m.ll.Len() > m.max {
		last := m.ll.Back()
		m.ll.Remove(last)
		delete(m.items, last.Value.(*memEntry).id)
	}
}
