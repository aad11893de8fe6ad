package redis

import (
	"container/list"
	"sync"
	"time"

	"github.com/rechargekit/rechargekit"
)

// localCards is what one replica holds of the shared card cache: the
// entries it read from Redis or wrote through it, least recently used out
// first. An entry read within NearFor is served without asking Redis; any
// entry, however old, is served while Redis does not answer, so that a card
// agents were looking at is still answered from memory during an outage.
// Writes made during an outage land here alone.
type localCards struct {
	max int

	mu     sync.Mutex
	ll     *list.List // of *localEntry, most recently used first
	items  map[int64]*list.Element
	writes uint64 // moved by every write, so that a read that raced one is not kept
}

type localEntry struct {
	id int64
	e  rechargekit.CacheEntry
	at time.Time // when read from Redis; zero: not to be served while Redis answers
}

func newLocalCards(maxEntries int) *localCards {
	return &localCards{max: maxEntries, ll: list.New(), items: map[int64]*list.Element{}}
}

// seq returns the write counter, to pass to keep after a read.
func (l *localCards) seq() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.writes
}

// fresh returns the entry when it was read from Redis less than nearFor
// before now.
func (l *localCards) fresh(id int64, now time.Time, nearFor time.Duration) (*rechargekit.CacheEntry, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	el, ok := l.items[id]
	if !ok {
		return nil, false
	}
	le := el.Value.(*localEntry)
	if le.at.IsZero() || now.Sub(le.at) >= nearFor {
		return nil, false
	}
	l.ll.MoveToFront(el)
	e := le.e
	return &e, true
}

// any returns the entry whatever its age, or nil.
func (l *localCards) any(id int64) *rechargekit.CacheEntry {
	l.mu.Lock()
	defer l.mu.Unlock()
	el, ok := l.items[id]
	if !ok {
		return nil
	}
	l.ll.MoveToFront(el)
	e := el.Value.(*localEntry).e
	return &e
}

// keep records what a read from Redis returned (nil: no entry), unless a
// write happened since the read began (seq): the read may predate it.
func (l *localCards) keep(id int64, e *rechargekit.CacheEntry, at time.Time, seq uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.writes != seq {
		return
	}
	if e == nil {
		l.remove(id)
		return
	}
	l.put(id, *e, at)
}

// write applies f to the customer's entry (nil when there is none) as one
// write: a read in progress is not kept. f returns the new entry, or nil to
// drop it. The entry is not served while Redis answers.
func (l *localCards) write(id int64, f func(cur *rechargekit.CacheEntry) *rechargekit.CacheEntry) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.writes++
	var cur *rechargekit.CacheEntry
	if el, ok := l.items[id]; ok {
		e := el.Value.(*localEntry).e
		cur = &e
	}
	if next := f(cur); next != nil {
		l.put(id, *next, time.Time{})
	} else {
		l.remove(id)
	}
}

// put stores an entry at the front, evicting the least recently used
// beyond the bound. The caller holds mu.
func (l *localCards) put(id int64, e rechargekit.CacheEntry, at time.Time) {
	if el, ok := l.items[id]; ok {
		el.Value = &localEntry{id: id, e: e, at: at}
		l.ll.MoveToFront(el)
		return
	}
	l.items[id] = l.ll.PushFront(&localEntry{id: id, e: e, at: at})
	for l.ll.Len() > l.max {
		last := l.ll.Back()
		l.ll.Remove(last)
		delete(l.items, last.Value.(*localEntry).id)
	}
}

// remove drops an entry. The caller holds mu.
func (l *localCards) remove(id int64) {
	if el, ok := l.items[id]; ok {
		l.ll.Remove(el)
		delete(l.items, id)
	}
}
