package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/rechargekit/rechargekit"
)

// Defaults of CardCacheOptions.
const (
	// DefaultStaleFor is how long the Redis cache keeps a customer's entry
	// after its last write: the stale window of cards.DefaultStaleFor.
	DefaultStaleFor = 24 * time.Hour
	// DefaultNearFor is how long a replica serves an entry it read from
	// Redis from its own memory, without asking Redis again.
	DefaultNearFor = time.Second
	// DefaultNearEntries bounds the entries a replica holds in memory.
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
	// NearFor is how long an entry read from Redis is served, decoded,
	// from this process's memory (DefaultNearFor; negative: not at all),
	// so that a card many agents open at once costs one Redis read and one
	// decode a second rather than one per lookup. Writes through this
	// replica show at once; a change written through another replica (a
	// webhook it received) shows here within NearFor. While Redis does not
	// answer, entries held are served whatever their age.
	NearFor time.Duration
	// NearEntries bounds the entries held in memory (DefaultNearEntries).
	NearEntries int
	// Now is the clock of NearFor (time.Now when nil).
	Now func() time.Time
}

// CardCache is a rechargekit.CardCache on Redis, shared by every replica.
// Each customer is one hash: "card" (the card as JSON), "stored" (when its
// fetch started, Unix microseconds), "gen" (the invalidation generation)
// and "invalid". Writes are Lua scripts, so a Set racing an Invalidate on
// another replica cannot lose the invalidation. An entry expires StaleFor
// after its last write.
//
// Each replica also keeps what it read and wrote, least recently used out
// first (NearEntries): it serves an entry read less than NearFor ago
// without asking Redis, and while Redis does not answer (ErrUnavailable)
// it serves what it holds, whatever its age (cards.Cached decides, by the
// card's age, whether to serve it fresh, stale or fetch again), and keeps
// the cards it fetches meanwhile. A warm card is then still answered from
// memory, in microseconds. Create it with NewCardCache.
type CardCache struct {
	rdb      *goredis.Client
	prefix   string
	staleFor time.Duration
	nearFor  time.Duration
	now      func() time.Time
	local    *localCards
}

var _ rechargekit.CardCache = (*CardCache)(nil)

// NewCardCache returns a card cache on c.
func NewCardCache(c *Client, opts CardCacheOptions) *CardCache {
	cc := &CardCache{rdb: c.rdb, prefix: opts.Prefix, staleFor: opts.StaleFor, nearFor: opts.NearFor, now: opts.Now}
	if cc.prefix == "" {
		cc.prefix = KeyPrefix + "card:"
	}
	if cc.staleFor <= 0 {
		cc.staleFor = DefaultStaleFor
	}
	if cc.nearFor == 0 {
		cc.nearFor = DefaultNearFor
	}
	if opts.NearEntries <= 0 {
		opts.NearEntries = DefaultNearEntries
	}
	cc.local = newLocalCards(opts.NearEntries)
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
// Version 2 added the card's details (issue 12): a version 1 record would
// read as a card without them.
const cardRecordVersion = 2

// cardRecord is the stored form of a card. rechargekit.Card marshals to its
// display form (strings, no types), so the cache keeps the domain structs
// themselves, whose exported fields round-trip through encoding/json.
type cardRecord struct {
	V             int                         `json:"v"`
	Customer      rechargekit.Customer        `json:"customer"`
	Subscriptions []*rechargekit.Subscription `json:"subscriptions"`
	FetchedAt     time.Time                   `json:"fetched_at"`
	Details       *rechargekit.CardDetails    `json:"details,omitempty"`
}

// Get implements rechargekit.CardCache. A card that cannot be decoded (an
// older release's record, say) reads as no card. While Redis does not
// answer, Get answers from this replica's memory (nil when it holds
// nothing) without an error: the Client logs the outage once.
func (c *CardCache) Get(ctx context.Context, customerID int64) (*rechargekit.CacheEntry, error) {
	now := c.now()
	if c.nearFor > 0 {
		if e, ok := c.local.fresh(customerID, now, c.nearFor); ok {
			return e, nil
		}
	}
	seq := c.local.seq()
	e, err := c.read(ctx, customerID)
	if errors.Is(err, ErrUnavailable) {
		return c.local.any(customerID), nil
	}
	if err != nil {
		return nil, err
	}
	c.local.keep(customerID, e, now, seq)
	return e, nil
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
			e.Card = &rechargekit.Card{Customer: rec.Customer, Subscriptions: rec.Subscriptions, FetchedAt: rec.FetchedAt, Details: rec.Details}
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
// possible invalidation with it). It returns 0 when it kept a newer card,
// 1 when it stored the card valid and 2 when invalid.
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
if invalid == '1' then return 2 end
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

// Set implements rechargekit.CardCache. While Redis does not answer, the
// card is kept in this replica's memory alone, and Set reports no error.
func (c *CardCache) Set(ctx context.Context, card *rechargekit.Card, storedAt time.Time, gen uint64) error {
	if card == nil {
		return errors.New("redis: store a card: nil card")
	}
	id := card.Customer.ID
	b, err := json.Marshal(cardRecord{V: cardRecordVersion, Customer: card.Customer, Subscriptions: card.Subscriptions, FetchedAt: card.FetchedAt, Details: card.Details})
	if err != nil {
		return fmt.Errorf("redis: encode the card of customer %d: %w", id, err)
	}
	c.local.write(id, unchanged) // a read in progress may predate this write: not kept
	res, err := setScript.Run(ctx, c.rdb, []string{c.key(id)},
		string(b), storedAt.UnixMicro(), strconv.FormatUint(gen, 10), c.staleFor.Milliseconds()).Int()
	switch {
	case err == nil:
		c.local.write(id, func(*rechargekit.CacheEntry) *rechargekit.CacheEntry {
			// Redis holding a newer card (res 0), this one may predate a
			// change: kept for an outage, it is served only as stale.
			return &rechargekit.CacheEntry{Card: card, StoredAt: storedAt, Gen: gen, Invalid: res != 1}
		})
		return nil
	case errors.Is(err, ErrUnavailable):
		c.local.write(id, func(cur *rechargekit.CacheEntry) *rechargekit.CacheEntry {
			return setLocal(cur, card, storedAt, gen)
		})
		return nil
	}
	return fmt.Errorf("redis: store the card of customer %d: %w", id, err)
}

// setLocal is Set's rule, as the in-memory cache of package cards applies
// it, for a card kept only in memory while Redis does not answer.
func setLocal(cur *rechargekit.CacheEntry, card *rechargekit.Card, storedAt time.Time, gen uint64) *rechargekit.CacheEntry {
	if cur == nil {
		// Nothing held: a first fetch (gen 0), or the entry was evicted
		// since the fetch's Get, and an invalidation with it maybe.
		return &rechargekit.CacheEntry{Card: card, StoredAt: storedAt, Invalid: gen != 0}
	}
	invalid := cur.Gen != gen
	if cur.Card != nil && cur.StoredAt.After(storedAt) && (!cur.Invalid || invalid) {
		return cur // a later fetch already stored a card at least as good
	}
	return &rechargekit.CacheEntry{Card: card, StoredAt: storedAt, Gen: cur.Gen, Invalid: invalid}
}

func unchanged(cur *rechargekit.CacheEntry) *rechargekit.CacheEntry { return cur }

// Invalidate implements rechargekit.CardCache. While Redis does not answer,
// the card held in memory is marked invalid, and the error is returned so
// that the webhook is delivered again and reaches the shared cache.
func (c *CardCache) Invalidate(ctx context.Context, customerID int64) error {
	if err := c.invalidate(ctx, customerID, false); err != nil {
		return fmt.Errorf("redis: invalidate the card of customer %d: %w", customerID, err)
	}
	return nil
}

// Delete implements rechargekit.CardCache, and fails like Invalidate.
func (c *CardCache) Delete(ctx context.Context, customerID int64) error {
	if err := c.invalidate(ctx, customerID, true); err != nil {
		return fmt.Errorf("redis: drop the card of customer %d: %w", customerID, err)
	}
	return nil
}

func (c *CardCache) invalidate(ctx context.Context, customerID int64, drop bool) error {
	c.local.write(customerID, unchanged)
	flag := "0"
	if drop {
		flag = "1"
	}
	g, err := invalidateScript.Run(ctx, c.rdb, []string{c.key(customerID)}, c.staleFor.Milliseconds(), flag).Uint64()
	c.local.write(customerID, func(cur *rechargekit.CacheEntry) *rechargekit.CacheEntry {
		if cur == nil {
			if err == nil {
				return nil // Redis has it; nothing held here to correct
			}
			// A mark, so that a fetch in flight does not store its
			// card as current.
			return &rechargekit.CacheEntry{Gen: 1, Invalid: true}
		}
		e := *cur
		e.Invalid = true
		if drop {
			e.Card = nil
		}
		if err == nil {
			e.Gen = g
		} else {
			e.Gen++
		}
		return &e
	})
	return err
}
