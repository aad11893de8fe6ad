package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/rechargekit/rechargekit"
)

// Defaults of CardCacheOptions.
const (
	// DefaultStaleFor is how long the Redis cache keeps a customer's entry
	// after its last write: the stale window of cards.DefaultStaleFor.
	DefaultStaleFor = 24 * time.Hour
	// DefaultNearFor is how long a replica keeps an entry it read from
	// Redis, decoded, in its own memory.
	DefaultNearFor = time.Second
	// DefaultNearEntries bounds that copy.
	DefaultNearEntries = 10000
)

// CardCacheOptions configures a CardCache.
type CardCacheOptions struct {
	// Prefix starts every key; default "rechargekit:card:" (the key of
	// customer 42 is "rechargekit:card:42").
	Prefix string
	// StaleFor is how long an entry lives after its last write
	// (DefaultStaleFor): at least the cards.Cached stale window.
	StaleFor time.Duration
	// NearFor is how long an entry read from Redis is kept, decoded, in
	// this process (DefaultNearFor; negative: not at all), so that a card
	// many agents open at once costs one Redis read and one decode a
	// second rather than one per lookup. Writes through this replica show
	// at once; a change written through another replica (a webhook it
	// received) shows here within NearFor.
	NearFor time.Duration
	// NearEntries bounds the near copy (DefaultNearEntries).
	NearEntries int
	// Now is the near copy's clock (time.Now when nil).
	Now func() time.Time
}

// CardCache is a rechargekit.CardCache on Redis, shared by every replica.
// Each customer is one hash: "card" (the card as JSON), "stored" (when its
// fetch started, Unix microseconds), "gen" (the invalidation generation)
// and "invalid". Writes are Lua scripts, so a Set racing an Invalidate on
// another replica cannot lose the invalidation. An entry expires StaleFor
// after its last write. Create it with NewCardCache.
type CardCache struct {
	rdb      *goredis.Client
	prefix   string
	staleFor time.Duration
	nearFor  time.Duration
	nearMax  int
	now      func() time.Time

	mu     sync.Mutex
	near   map[int64]nearEntry
	writes atomic.Uint64 // bumped by every write, so a read that raced one is not kept
}

// nearEntry is an entry kept in process, and when it was read.
type nearEntry struct {
	e  rechargekit.CacheEntry
	at time.Time
}

var _ rechargekit.CardCache = (*CardCache)(nil)

// NewCardCache returns a card cache on c.
func NewCardCache(c *Client, opts CardCacheOptions) *CardCache {
	cc := &CardCache{rdb: c.rdb, prefix: opts.Prefix, staleFor: opts.StaleFor, nearFor: opts.NearFor,
		nearMax: opts.NearEntries, now: opts.Now, near: map[int64]nearEntry{}}
	if cc.prefix == "" {
		cc.prefix = KeyPrefix + "card:"
	}
	if cc.staleFor <= 0 {
		cc.staleFor = DefaultStaleFor
	}
	if cc.nearFor == 0 {
		cc.nearFor = DefaultNearFor
	}
	if cc.nearMax <= 0 {
		cc.nearMax = DefaultNearEntries
	}
	if cc.now == nil {
		cc.now = time.Now
	}
	return cc
}

func (c *CardCache) key(customerID int64) string {
	return c.prefix + strconv.FormatInt(customerID, 10)
}

// cardRecordVersion is bumped when cardRecord changes shape; a record of
// another version reads as a miss, so replicas of two releases can share
// one Redis during a rolling upgrade.
const cardRecordVersion = 1

// cardRecord is the stored form of a card. rechargekit.Card marshals to its
// display form (strings, no types), so the cache keeps the domain structs
// themselves, whose exported fields round-trip through encoding/json.
type cardRecord struct {
	V             int                         `json:"v"`
	Customer      rechargekit.Customer        `json:"customer"`
	Subscriptions []*rechargekit.Subscription `json:"subscriptions"`
	FetchedAt     time.Time                   `json:"fetched_at"`
}

// Get implements rechargekit.CardCache. A card that cannot be decoded (an
// older release's record, say) reads as no card.
func (c *CardCache) Get(ctx context.Context, customerID int64) (*rechargekit.CacheEntry, error) {
	if e, ok := c.nearGet(customerID); ok {
		return e, nil
	}
	seq := c.writes.Load()
	e, err := c.read(ctx, customerID)
	if err == nil && e != nil {
		c.nearPut(customerID, e, seq)
	}
	return e, err
}

func (c *CardCache) nearGet(customerID int64) (*rechargekit.CacheEntry, bool) {
	if c.nearFor < 0 {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.near[customerID]
	if !ok || c.now().Sub(n.at) >= c.nearFor {
		return nil, false
	}
	e := n.e
	return &e, true
}

// nearPut keeps e unless a write happened since the read began (seq): the
// read may predate it.
func (c *CardCache) nearPut(customerID int64, e *rechargekit.CacheEntry, seq uint64) {
	if c.nearFor < 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.writes.Load() != seq {
		return
	}
	if len(c.near) >= c.nearMax {
		// Drop about a tenth, oldest first would need an index; any will do
		// for a copy that lives a second.
		n := 0
		for id := range c.near {
			delete(c.near, id)
			if n++; n >= max(1, c.nearMax/10) {
				break
			}
		}
	}
	c.near[customerID] = nearEntry{e: *e, at: c.now()}
}

// forget drops the near copy of a customer being written.
func (c *CardCache) forget(customerID int64) {
	c.mu.Lock()
	c.writes.Add(1)
	delete(c.near, customerID)
	c.mu.Unlock()
}

// read reads the customer's entry from Redis.
func (c *CardCache) read(ctx context.Context, customerID int64) (*rechargekit.CacheEntry, error) {
	vals, err := c.rdb.HMGet(ctx, c.key(customerID), "card", "stored", "gen", "invalid").Result()
	if err != nil {
		return nil, fmt.Errorf("redis: read the card of customer %d: %w", customerID, err)
	}
	if vals[0] == nil && vals[2] == nil {
		return nil, nil
	}
	e := &rechargekit.CacheEntry{Invalid: str(vals[3]) == "1"}
	if g := str(vals[2]); g != "" {
		e.Gen, _ = strconv.ParseUint(g, 10, 64)
	}
	if raw := str(vals[0]); raw != "" {
		var rec cardRecord
		stored, serr := strconv.ParseInt(str(vals[1]), 10, 64)
		if err := json.Unmarshal([]byte(raw), &rec); err == nil && serr == nil && rec.V == cardRecordVersion {
			e.Card = &rechargekit.Card{Customer: rec.Customer, Subscriptions: rec.Subscriptions, FetchedAt: rec.FetchedAt}
			e.StoredAt = time.UnixMicro(stored)
		}
	}
	return e, nil
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// setScript stores a card unless a newer one is held, invalid when the
// generation moved since the fetch's Get (or the entry vanished, taking a
// possible invalidation with it).
//
// KEYS[1] the customer's hash; ARGV[1] the card JSON, ARGV[2] stored (µs),
// ARGV[3] the generation the fetch saw, ARGV[4] the TTL in ms.
var setScript = goredis.NewScript(`
local cur = redis.call('HMGET', KEYS[1], 'card', 'stored', 'gen', 'invalid')
local invalid = '0'
if cur[3] then
  if cur[3] ~= ARGV[3] then invalid = '1' end
elseif ARGV[3] ~= '0' then
  invalid = '1'
end
if cur[1] and cur[2] and tonumber(cur[2]) > tonumber(ARGV[2]) and (cur[4] ~= '1' or invalid == '1') then
  return 0
end
redis.call('HSET', KEYS[1], 'card', ARGV[1], 'stored', ARGV[2], 'invalid', invalid)
if not cur[3] then redis.call('HSET', KEYS[1], 'gen', '0') end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
`)

// invalidateScript moves the generation and marks the card invalid; with
// ARGV[2] = "1" it also drops the card.
//
// KEYS[1] the customer's hash; ARGV[1] the TTL in ms, ARGV[2] drop.
var invalidateScript = goredis.NewScript(`
if ARGV[2] == '1' then redis.call('HDEL', KEYS[1], 'card', 'stored') end
local g = redis.call('HINCRBY', KEYS[1], 'gen', 1)
redis.call('HSET', KEYS[1], 'invalid', '1')
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return g
`)

// Set implements rechargekit.CardCache.
func (c *CardCache) Set(ctx context.Context, card *rechargekit.Card, storedAt time.Time, gen uint64) error {
	if card == nil {
		return errors.New("redis: store a card: nil card")
	}
	b, err := json.Marshal(cardRecord{V: cardRecordVersion, Customer: card.Customer, Subscriptions: card.Subscriptions, FetchedAt: card.FetchedAt})
	if err != nil {
		return fmt.Errorf("redis: encode the card of customer %d: %w", card.Customer.ID, err)
	}
	c.forget(card.Customer.ID)
	defer c.forget(card.Customer.ID)
	err = setScript.Run(ctx, c.rdb, []string{c.key(card.Customer.ID)},
		string(b), storedAt.UnixMicro(), strconv.FormatUint(gen, 10), c.staleFor.Milliseconds()).Err()
	if err != nil {
		return fmt.Errorf("redis: store the card of customer %d: %w", card.Customer.ID, err)
	}
	return nil
}

// Invalidate implements rechargekit.CardCache.
func (c *CardCache) Invalidate(ctx context.Context, customerID int64) error {
	c.forget(customerID)
	defer c.forget(customerID)
	if err := invalidateScript.Run(ctx, c.rdb, []string{c.key(customerID)}, c.staleFor.Milliseconds(), "0").Err(); err != nil {
		return fmt.Errorf("redis: invalidate the card of customer %d: %w", customerID, err)
	}
	return nil
}

// Delete implements rechargekit.CardCache.
func (c *CardCache) Delete(ctx context.Context, customerID int64) error {
	c.forget(customerID)
	defer c.forget(customerID)
	if err := invalidateScript.Run(ctx, c.rdb, []string{c.key(customerID)}, c.staleFor.Milliseconds(), "1").Err(); err != nil {
		return fmt.Errorf("redis: drop the card of customer %d: %w", customerID, err)
	}
	return nil
}
