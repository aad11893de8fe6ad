package main

// TestReplicas runs three `rechargekit serve` processes against one
// PostgreSQL schema, one Redis and one Recharge simulator, drives a
// concurrent load of Gladly lookups and JSON API links and unlinks across
// them, and then checks the shared state: every acknowledged change is in
// the database, with one audit entry per change and none more, and the
// replicas together stayed inside the token's Recharge budget.
//
// The test binary is its own rechargekit binary: TestMain runs Main when
// RECHARGEKIT_TEST_MAIN=1, so the replicas are real OS processes that
// share nothing but the services they are given.

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	goredis "github.com/redis/go-redis/v9"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/gladly"
	"github.com/rechargekit/rechargekit/postgres"
	"github.com/rechargekit/rechargekit/recharge/rechargetest"
	"github.com/rechargekit/rechargekit/redis"
	"github.com/rechargekit/rechargekit/server"
)

// The load. Recharge's budget for one token is 40 requests and 2 a second;
// a cold card costs 3 calls.
//
// The warm-up links one profile to each hot customer, all at once across
// the replicas: with the replicas' start-up checks that is more calls than
// one bucket holds (about 45), so replicas pacing themselves apart would
// overrun Recharge and see 429s, while the shared budget makes the last few
// wait a few seconds (links have no 5 s deadline, unlike Gladly lookups).
// Then cold customers arrive one every coldEvery, 3 calls each, slower than
// the bucket drains, and last one that all replicas look up at once: no
// lookup should have to wait for budget past its deadline, so a 503 here
// is a finding, not bad luck.
const (
	replicaCount   = 3
	hotCustomers   = 12 // fetched by the warm-up; every link goes to one of them
	coldCustomers  = 5  // first looked up during the load, one at a time
	coldEvery      = 2 * time.Second
	serialProfiles = 24 // one writer each, operations sent to changing replicas
	raceProfiles   = 8  // rounds of concurrent operations on two or three replicas
	lookupWorkers  = 4
	loadFor        = (coldCustomers + 1) * coldEvery // serial and race work continue until then, within their bounds

	minSerialOps, maxSerialOps   = 6, 100
	minRaceRounds, maxRaceRounds = 3, 50
	maxLookups                   = 20000
)

func TestReplicas(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the multi-replica test stops its replicas with SIGTERM, which Windows lacks")
	}
	env := requireServices(t, "the multi-replica test", "RECHARGEKIT_TEST_POSTGRES", "RECHARGEKIT_TEST_REDIS")
	dbURL := mustReplicaSchema(t, env["RECHARGEKIT_TEST_POSTGRES"])
	redisURL := env["RECHARGEKIT_TEST_REDIS"]
	ctx := context.Background()

	// Secrets unique to this run: the shared limiter is keyed on the
	// token, and the logs are checked for every one of them.
	rechargeToken := "rk-replicas-" + randomHex(8)
	signingKey := "gladly-key-" + randomHex(8)
	webhookSecret := "webhook-secret-" + randomHex(8)

	// Customers with ids no other test or run uses: the card cache keys
	// in Redis are named by customer id alone.
	seed := rechargetest.GenerateSeed(hotCustomers+1+coldCustomers, 5)
	base := int64(5_000_000_000) + mrand.Int64N(4_000_000_000)/100*100
	var ids []int64
	for i := range seed.Customers {
		seed.Customers[i].ID = base + int64(i)
		ids = append(ids, seed.Customers[i].ID)
	}
	hot, raceCold, cold := ids[:hotCustomers], ids[hotCustomers], ids[hotCustomers+1:]
	cleanRedisKeys(t, redisURL, rechargeToken, ids)

	sim := rechargetest.NewServer(t, rechargetest.Config{Tokens: []string{rechargeToken}})
	sim.Load(seed)
	subsTotal := map[int64]int{}
	for _, c := range sim.Customers(0) {
		subsTotal[c.ID] = c.SubscriptionsTotal
	}
	for _, id := range ids {
		if subsTotal[id] == 0 {
			t.Fatalf("the generated customer %d has no subscriptions in the simulator", id)
		}
	}

	replicaEnv := map[string]string{
		"RECHARGE_API_URL":        sim.URL,
		"RECHARGE_API_TOKEN":      rechargeToken,
		"DATABASE_URL":            dbURL,
		"REDIS_URL":               redisURL,
		"REDIS_TIMEOUT":           "1s", // a machine busy with this test must not make Redis look down
		"GLADLY_SIGNING_KEY":      signingKey,
		"RECHARGE_WEBHOOK_SECRET": webhookSecret,
		"LISTEN_ADDR":             "127.0.0.1:0",
		"LOG_LEVEL":               "info",
		// Cards stay fresh for the whole test, so no refresh-ahead adds
		// Recharge calls whatever the machine's speed: the call count
		// below then depends on the load alone.
		"CARD_TTL":       "10m",
		"CARD_STALE_FOR": "",
		// Pull-only, as this test's budget and cache counts assume: the
		// mirror's backfill would spend budget and drop the cards it
		// writes from the cache. TestMirrorReplicasShareLease runs
		// replicas with the mirror.
		"RECHARGE_MIRROR": "off",
		// Settings a developer's shell might carry, cleared.
		"GLADLY_BASIC_USER": "", "GLADLY_BASIC_PASSWORD": "", "COOKIE_SECURE": "", "FRAME_ANCESTORS": "",
	}
	// All three start at once on an empty schema: they race to migrate it.
	var reps []*replica
	for i := range replicaCount {
		reps = append(reps, startReplica(t, fmt.Sprintf("replica-%d", i+1), replicaEnv))
	}
	readyzCalls := 0
	for _, r := range reps {
		r.waitServing(t)
		readyzCalls += r.waitReady(t)
	}

	store, err := postgres.Open(ctx, dbURL)
	if err != nil {
		t.Fatalf("open the replicas' schema: %v", err)
	}
	t.Cleanup(func() { store.Close() })
	apiToken, apiHash := server.NewAPIToken()
	const tokenName = "replicas-test"
	if err := store.CreateAPIToken(ctx, &rechargekit.APIToken{Name: tokenName, Hash: apiHash}, "test"); err != nil {
		t.Fatalf("create the API token: %v", err)
	}
	actor := "api:" + tokenName

	hc := &http.Client{Timeout: requestTimeout, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	t.Cleanup(hc.CloseIdleConnections)
	api := &apiClient{hc: hc, token: apiToken}
	for _, r := range reps {
		r.gladly = &gladly.Client{URL: r.url + gladly.DefaultPath, SigningKey: signingKey, HTTPClient: hc}
	}
	lookups := &lookupLog{subsTotal: subsTotal}

	// Profiles: created on one replica (201), saved again on the next (200).
	var models []*profileModel
	for i := range serialProfiles {
		models = append(models, &profileModel{id: fmt.Sprintf("serial-%02d", i), ordered: true})
	}
	for i := range raceProfiles {
		models = append(models, &profileModel{id: fmt.Sprintf("race-%02d", i)})
	}
	for i, m := range models {
		m.name = "Profile " + m.id
		for k, want := range []int{http.StatusCreated, http.StatusOK} {
			if err := api.putProfile(ctx, reps[(i+k)%replicaCount], m.id, m.name, want); err != nil {
				t.Fatal(err)
			}
		}
	}

	// Warm-up: serial profile k is linked to hot customer k on replica
	// k%3, one after the other. Linking reads the card, so each hot
	// customer is fetched once, by one replica, and lands in Redis, where
	// the other replicas find it. A card costs 4 calls, so 12 links at once
	// would need 48 of the token's 40-call bucket at the same moment and
	// the last ones would wait past the lookup deadline for the budget
	// (as they would against Recharge); one at a time, none waits long.
	warm := make([]linkAnswer, len(hot))
	for k := range hot {
		warm[k] = api.link(ctx, reps[k%replicaCount], models[k].id, hot[k], actor)
	}
	for k, a := range warm {
		if a.err != nil || a.status != http.StatusOK || a.customer != hot[k] {
			t.Fatalf("warm-up link: %s (%v); want 200 naming customer %d", a.raw, a.err, hot[k])
		}
		m := models[k]
		m.linked = hot[k]
		m.audit = append(m.audit, auditStep{rechargekit.AuditLink, hot[k]})
		m.steps++
	}
	mustCardsInRedis(t, redisURL, hot)

	// The load: lookups round-robin over the replicas, serial and racing
	// link work, and cold customers arriving one at a time.
	loadStart := time.Now()
	deadline := loadStart.Add(loadFor)
	var pool customerPool
	pool.add(hot...)
	var stopLookups atomic.Bool
	var rr atomic.Uint64
	var lookupsDone sync.WaitGroup
	for w := range lookupWorkers {
		lookupsDone.Go(func() {
			rng := mrand.New(mrand.NewPCG(uint64(w), 1))
			for n := 0; !stopLookups.Load() && n < maxLookups/lookupWorkers; n++ {
				lookups.do(ctx, reps[rr.Add(1)%replicaCount], pool.pick(rng))
			}
		})
	}
	var coldDone, linksDone sync.WaitGroup
	coldDone.Go(func() {
		// Cold customers, each first looked up by one replica, and last
		// one looked up by all three replicas at once.
		tick := time.NewTicker(coldEvery)
		defer tick.Stop()
		for i, id := range cold {
			<-tick.C
			lookups.do(ctx, reps[i%replicaCount], id)
			pool.add(id)
		}
		<-tick.C
		fire(replicaCount, func(k int) { lookups.do(ctx, reps[k], raceCold) })
		pool.add(raceCold)
	})
	for i, m := range models {
		linksDone.Go(func() {
			w := &linkWorker{t: t, ctx: ctx, api: api, reps: reps, m: m, customers: hot, actor: actor,
				rng: mrand.New(mrand.NewPCG(uint64(i), 2)), offset: i}
			if m.ordered {
				w.serial(deadline)
			} else {
				w.race(deadline)
			}
		})
	}
	linksDone.Wait()
	linkTime := time.Since(loadStart)
	coldDone.Wait()
	stopLookups.Store(true)
	lookupsDone.Wait()
	loadTime := time.Since(loadStart)

	// Graceful shutdown: SIGTERM, exit 0.
	for _, r := range reps {
		r.stop(t)
	}

	// Lookups: every one answered in full, none refused or failed.
	if p := lookups.problems(); len(p) > 0 {
		t.Errorf("%d of %d lookups went wrong (a 503 means neither the budget nor the cache could serve):\n%s",
			lookups.failed(), lookups.total(), strings.Join(p, "\n"))
	}
	if got, least := lookups.total(), len(ids)+replicaCount; got < least {
		t.Errorf("only %d lookups ran, want at least %d", got, least)
	}

	// The shared budget held: Recharge never refused a request, and warm
	// lookups cost nothing. Each replica checks its token at start-up and
	// on /readyz and may probe the catalog once; each customer costs at
	// most 4 calls per replica that fetched it (the customer with its
	// addresses and payment methods included, the subscriptions, the
	// charges, the events; only the racing cold one can be fetched by
	// several: single flight is per process).
	stats := sim.Stats()
	if stats.ByStatus["429"] != 0 || stats.RateLimited != 0 {
		t.Errorf("Recharge answered 429 %d times (rate limited %d): the replicas overran the shared budget; by route %v",
			stats.ByStatus["429"], stats.RateLimited, stats.ByRoute)
	}
	// A replica asks GET /products once in its life, the first time a
	// subscription lacks an image, to learn whether the store has a
	// catalog; the simulator is a Shopify store, which answers 422.
	probes := stats.ByRoute["GET /products"]
	if probes > replicaCount {
		t.Errorf("GET /products was asked %d times, want at most once per replica (%d)", probes, replicaCount)
	}
	for status, n := range stats.ByStatus {
		if status != "200" && status != "422" {
			t.Errorf("Recharge answered %s %d times; want only 200s, and 422s to the catalog probe (by route %v)", status, n, stats.ByRoute)
		}
	}
	if n := stats.ByStatus["422"]; n != probes {
		t.Errorf("Recharge answered 422 %d times, want only the %d catalog probes (by route %v)", n, probes, stats.ByRoute)
	}
	maxCalls := replicaCount + readyzCalls + 4*(len(hot)+len(cold)) + 4*replicaCount + replicaCount
	if stats.Requests > maxCalls {
		t.Errorf("%d Recharge calls for %d lookups, want at most %d: warm lookups must not call Recharge; by route %v",
			stats.Requests, lookups.total(), maxCalls, stats.ByRoute)
	}

	// The database tells the story the API told.
	wantActions := map[string]int{}
	linked := 0
	for _, m := range models {
		checkStoredProfile(t, ctx, store, m, actor)
		for _, a := range m.audit {
			wantActions[a.Action]++
		}
		if m.linked != 0 {
			linked++
		}
	}
	checkSchemaTotals(t, ctx, dbURL, wantActions, linked)

	// The replicas' logs: no errors, no secrets.
	secrets := map[string]string{"Recharge token": rechargeToken, "Gladly signing key": signingKey,
		"webhook secret": webhookSecret, "API token": apiToken}
	for _, r := range reps {
		r.checkLogs(t, secrets)
	}

	serialOps, raceRounds := 0, 0
	for _, m := range models {
		if m.ordered {
			serialOps += m.steps
		} else {
			raceRounds += m.steps
		}
	}
	t.Logf("load of %s: %d lookups; %d serial operations on %d profiles and %d racing rounds on %d profiles, done after %s; "+
		"Recharge: %d calls (at most %d allowed), statuses %v",
		loadTime.Round(time.Millisecond), lookups.total(), serialOps, serialProfiles, raceRounds, raceProfiles,
		linkTime.Round(time.Millisecond), stats.Requests, maxCalls, stats.ByStatus)
}

// cleanRedisKeys deletes, when the test ends, the keys the replicas wrote
// for this run: the cards of its customers and its token's bucket. Other
// tests share the Redis, so nothing else is touched.
func cleanRedisKeys(t *testing.T, redisURL, token string, customers []int64) {
	t.Helper()
	opts, err := goredis.ParseURL(redisURL)
	if err != nil {
		t.Fatalf("parse RECHARGEKIT_TEST_REDIS: %v", err)
	}
	sum := sha256.Sum256([]byte(token))
	keys := []string{redis.KeyPrefix + "ratelimit:" + hex.EncodeToString(sum[:])}
	for _, id := range customers {
		keys = append(keys, redis.KeyPrefix+"card:"+strconv.FormatInt(id, 10))
	}
	t.Cleanup(func() {
		c := goredis.NewClient(opts)
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := c.Del(ctx, keys...).Err(); err != nil {
			t.Errorf("delete the test's Redis keys: %v", err)
		}
	})
}

// mustCardsInRedis checks that the shared cache holds each customer's card.
func mustCardsInRedis(t *testing.T, redisURL string, customers []int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// A generous call budget: a Redis slow under this test's load must
	// not read as down (the cache would then answer from memory).
	rc, err := redis.New(redisURL, redis.Options{CallTimeout: time.Second})
	if err != nil {
		t.Fatalf("open the test Redis: %v", err)
	}
	defer rc.Close()
	if err := rc.Ping(ctx); err != nil {
		t.Fatalf("open the test Redis: %v", err)
	}
	cache := redis.NewCardCache(rc, redis.CardCacheOptions{NearFor: -1})
	for _, id := range customers {
		e, err := cache.Get(ctx, id)
		switch {
		case err != nil:
			t.Fatalf("read the card of customer %d from Redis: %v", id, err)
		case e == nil || e.Card == nil || e.Invalid:
			t.Fatalf("customer %d was looked up but its card is not in the shared cache: %+v", id, e)
		case e.Card.Customer.ID != id:
			t.Fatalf("the shared cache holds customer %d's card under %d", e.Card.Customer.ID, id)
		}
	}
}

// customers arrive.
type customerPool struct {
	mu  sync.Mutex
	ids []int64
}

func (p *customerPool) add(ids ...int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ids = append(p.ids, ids...)
}

func (p *customerPool) pick(rng *mrand.Rand) int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ids[rng.IntN(len(p.ids))]
}

// lookupLog sends DETAILED lookups and keeps what went wrong.
type lookupLog struct {
	subsTotal map[int64]int // read only

	mu       sync.Mutex
	n, bad   int
	byStatus map[int]int
	notes    []string
}

// do sends a DETAILED lookup for customer id to r and checks the answer:
// one result, the customer asked for, all its subscriptions.
func (l *lookupLog) do(ctx context.Context, r *replica, id int64) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	ext := strconv.FormatInt(id, 10)
	resp, err := r.gladly.Detailed(ctx, ext, rechargekit.Profile{ID: "desk-" + ext})
	var problem string
	status := http.StatusOK
	var re *gladly.ResponseError
	switch {
	case errors.As(err, &re):
		status, problem = re.StatusCode, re.Error()
	case err != nil:
		status, problem = 0, err.Error()
	case len(resp.Results) != 1 || resp.Results[0].ExternalCustomerID != ext:
		problem = fmt.Sprintf("%d results, want exactly customer %s", len(resp.Results), ext)
	case len(resp.Results[0].Transactions) != l.subsTotal[id]:
		problem = fmt.Sprintf("%d transactions, want %d", len(resp.Results[0].Transactions), l.subsTotal[id])
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.n++
	if l.byStatus == nil {
		l.byStatus = map[int]int{}
	}
	l.byStatus[status]++
	if problem != "" {
		l.bad++
		if len(l.notes) < 20 {
			l.notes = append(l.notes, fmt.Sprintf("%s: customer %d: %s", r.name, id, problem))
		}
	}
}

func (l *lookupLog) problems() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.bad == 0 {
		return nil
	}
	return append(slices.Clone(l.notes), fmt.Sprintf("answers by status: %v", l.byStatus))
}

func (l *lookupLog) total() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n
}

func (l *lookupLog) failed() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.bad
}

// auditStep is an audit entry as the test predicts it.
type auditStep struct {
	Action   string
	Customer int64
}

// profileModel is what the acknowledged answers say about one profile.
// Only its own worker touches it.
type profileModel struct {
	id           string
	ordered      bool // serial: the audit's order is known exactly
	name         string
	linked       int64 // 0: unlinked
	everUnlinked bool
	audit        []auditStep
	steps        int // operations (serial) or rounds (race) acknowledged
}

// linkWorker drives one profile's operations.
type linkWorker struct {
	t         *testing.T
	ctx       context.Context
	api       *apiClient
	reps      []*replica
	m         *profileModel
	customers []int64
	actor     string
	rng       *mrand.Rand
	offset    int
}

func (w *linkWorker) rep(k int) *replica { return w.reps[(w.offset+k)%len(w.reps)] }

// otherCustomer returns a customer other than those given.
func (w *linkWorker) otherCustomer(not ...int64) int64 {
	for {
		c := w.customers[w.rng.IntN(len(w.customers))]
		if !slices.Contains(not, c) {
			return c
		}
	}
}

// serial sends one operation at a time, each to the next replica, and
// predicts every answer: with a single writer the outcome of each
// operation is determined. After each, another replica must show the
// change.
func (w *linkWorker) serial(deadline time.Time) {
	m := w.m
	for op := 0; op < maxSerialOps && (op < minSerialOps || time.Now().Before(deadline)); op++ {
		r := w.rep(op)
		var a linkAnswer
		wantStatus, wantCode := 0, ""
		switch p := w.rng.IntN(100); {
		case p < 15: // rename, on another replica than the last change
			name := fmt.Sprintf("Profile %s v%d", m.id, op)
			if err := w.api.putProfile(w.ctx, r, m.id, name, http.StatusOK); err != nil {
				w.t.Error(err)
				return
			}
			m.name = name
			m.steps++
			if !w.checkCard(w.rep(op + 1)) {
				return
			}
			continue
		case m.linked == 0 && p < 90, m.linked != 0 && p < 40:
			// Link: made when unlinked; refused when linked elsewhere;
			// a no-op when already linked to that customer.
			c := w.otherCustomer(m.linked)
			if m.linked != 0 && p < 25 {
				c = m.linked
			}
			a = w.api.link(w.ctx, r, m.id, c, w.actor)
			switch {
			case m.linked == 0:
				wantStatus = http.StatusOK
				m.linked = c
				m.audit = append(m.audit, auditStep{rechargekit.AuditLink, c})
			case m.linked == c:
				wantStatus = http.StatusOK
			default:
				wantStatus, wantCode = http.StatusConflict, rechargekit.ECONFLICT
				m.audit = append(m.audit, auditStep{rechargekit.AuditLinkConflict, c})
			}
			if wantStatus == http.StatusOK && a.err == nil && a.status == http.StatusOK && a.customer != m.linked {
				w.t.Errorf("%s: the answer names customer %d, want %d", a.raw, a.customer, m.linked)
				return
			}
		default: // unlink: made when linked, 404 when not
			a = w.api.unlink(w.ctx, r, m.id)
			if m.linked != 0 {
				wantStatus = http.StatusNoContent
				m.audit = append(m.audit, auditStep{rechargekit.AuditUnlink, m.linked})
				m.linked, m.everUnlinked = 0, true
			} else {
				wantStatus, wantCode = http.StatusNotFound, rechargekit.ENOTFOUND
			}
		}
		if a.err != nil || a.status != wantStatus || a.code != wantCode {
			w.t.Errorf("%s (err %v); want %d %s", a.raw, a.err, wantStatus, wantCode)
			return
		}
		m.steps++
		if !w.checkCard(w.rep(op + 1)) {
			return
		}
	}
}

// race runs rounds of concurrent operations on the profile, each on a
// different replica, and works out from the answers what must have
// happened: the answers of a round are consistent with exactly one order.
func (w *linkWorker) race(deadline time.Time) {
	m := w.m
	for round := 0; round < maxRaceRounds && (round < minRaceRounds || time.Now().Before(deadline)); round++ {
		var ok bool
		if m.linked == 0 {
			if w.rng.IntN(4) == 0 {
				ok = w.raceSameLinks()
			} else {
				ok = w.raceLinks(2 + w.rng.IntN(2))
			}
		} else {
			if w.rng.IntN(2) == 0 {
				ok = w.raceUnlinkAndLink()
			} else {
				ok = w.raceUnlinks()
			}
		}
		if !ok {
			return
		}
		m.steps++
		if !w.checkCard(w.rep(round + 2)) {
			return
		}
	}
}

// raceLinks links the unlinked profile to n different customers at once
// on n replicas: exactly one wins, the others are refused and audited.
func (w *linkWorker) raceLinks(n int) bool {
	m := w.m
	var cs []int64
	for range n {
		cs = append(cs, w.otherCustomer(cs...))
	}
	answers := make([]linkAnswer, n)
	fire(n, func(k int) { answers[k] = w.api.link(w.ctx, w.rep(k), m.id, cs[k], w.actor) })
	winner := -1
	for k, a := range answers {
		switch {
		case a.err != nil:
			w.t.Errorf("racing links of %s: %s: %v", m.id, a.raw, a.err)
			return false
		case a.status == http.StatusOK && winner < 0 && a.customer == cs[k]:
			winner = k
		case a.status == http.StatusConflict && a.code == rechargekit.ECONFLICT:
		default:
			w.t.Errorf("racing links of %s to %v: answers %v; want one 200 naming its customer and 409s", m.id, cs, raws(answers))
			return false
		}
	}
	if winner < 0 {
		w.t.Errorf("racing links of %s to %v: no link was made: %v", m.id, cs, raws(answers))
		return false
	}
	m.linked = cs[winner]
	m.audit = append(m.audit, auditStep{rechargekit.AuditLink, cs[winner]})
	for k, c := range cs {
		if k != winner {
			m.audit = append(m.audit, auditStep{rechargekit.AuditLinkConflict, c})
		}
	}
	return true
}

// raceSameLinks links the unlinked profile to one customer from two
// replicas at once: both succeed, and one link (one audit entry) is made.
func (w *linkWorker) raceSameLinks() bool {
	m := w.m
	c := w.otherCustomer()
	answers := make([]linkAnswer, 2)
	fire(2, func(k int) { answers[k] = w.api.link(w.ctx, w.rep(k), m.id, c, w.actor) })
	for _, a := range answers {
		if a.err != nil || a.status != http.StatusOK || a.customer != c {
			w.t.Errorf("two links of %s to the same customer %d: %v; want both 200 (%v)", m.id, c, raws(answers), a.err)
			return false
		}
	}
	m.linked = c
	m.audit = append(m.audit, auditStep{rechargekit.AuditLink, c})
	return true
}

// raceUnlinkAndLink unlinks the linked profile on one replica while
// linking it to another customer on another. The unlink always succeeds;
// the link succeeds when it came second and is refused when it came first.
func (w *linkWorker) raceUnlinkAndLink() bool {
	m := w.m
	old, c := m.linked, w.otherCustomer(m.linked)
	var un, ln linkAnswer
	fire(2, func(k int) {
		if k == 0 {
			un = w.api.unlink(w.ctx, w.rep(0), m.id)
		} else {
			ln = w.api.link(w.ctx, w.rep(1), m.id, c, w.actor)
		}
	})
	if un.err != nil || un.status != http.StatusNoContent {
		w.t.Errorf("unlink racing a link of %s: %s (%v); want 204", m.id, un.raw, un.err)
		return false
	}
	m.everUnlinked = true
	switch {
	case ln.err == nil && ln.status == http.StatusOK && ln.customer == c:
		m.audit = append(m.audit, auditStep{rechargekit.AuditUnlink, old}, auditStep{rechargekit.AuditLink, c})
		m.linked = c
	case ln.err == nil && ln.status == http.StatusConflict && ln.code == rechargekit.ECONFLICT:
		m.audit = append(m.audit, auditStep{rechargekit.AuditLinkConflict, c}, auditStep{rechargekit.AuditUnlink, old})
		m.linked = 0
	default:
		w.t.Errorf("link racing an unlink of %s: %s (%v); want 200 or 409", m.id, ln.raw, ln.err)
		return false
	}
	return true
}

// raceUnlinks unlinks the linked profile from two replicas at once: one
// unlinks it, the other finds it unlinked.
func (w *linkWorker) raceUnlinks() bool {
	m := w.m
	answers := make([]linkAnswer, 2)
	fire(2, func(k int) { answers[k] = w.api.unlink(w.ctx, w.rep(k), m.id) })
	got := []int{answers[0].status, answers[1].status}
	slices.Sort(got)
	if answers[0].err != nil || answers[1].err != nil ||
		!slices.Equal(got, []int{http.StatusNoContent, http.StatusNotFound}) {
		w.t.Errorf("two unlinks of %s at once: %v; want one 204 and one 404", m.id, raws(answers))
		return false
	}
	m.audit = append(m.audit, auditStep{rechargekit.AuditUnlink, m.linked})
	m.linked, m.everUnlinked = 0, true
	return true
}

// checkCard reads the profile's card on r, another replica than the one
// that made the last change, and compares it with the model.
func (w *linkWorker) checkCard(r *replica) bool {
	m := w.m
	cr, err := w.api.card(w.ctx, r, m.id)
	if err != nil {
		w.t.Error(err)
		return false
	}
	var problems []string
	if cr.Profile.Name != m.name {
		problems = append(problems, fmt.Sprintf("name %q, want %q", cr.Profile.Name, m.name))
	}
	if cr.WasUnlinked != m.everUnlinked || cr.AutoLinked {
		problems = append(problems, fmt.Sprintf("wasUnlinked %v autoLinked %v, want %v false", cr.WasUnlinked, cr.AutoLinked, m.everUnlinked))
	}
	if cr.CardError != nil {
		problems = append(problems, fmt.Sprintf("card error %+v", *cr.CardError))
	}
	want := strconv.FormatInt(m.linked, 10)
	switch {
	case m.linked == 0 && (cr.Link != nil || cr.Card != nil):
		problems = append(problems, fmt.Sprintf("link %+v and a card, want unlinked", cr.Link))
	case m.linked == 0:
	case cr.Link == nil || cr.Link.RechargeCustomerID != want || cr.Link.Method != rechargekit.LinkManual || cr.Link.By != w.actor:
		problems = append(problems, fmt.Sprintf("link %+v, want a manual link to %s by %s", cr.Link, want, w.actor))
	case cr.Card == nil || cr.Card.Customer.RechargeCustomerID != want || cr.Card.Stale:
		problems = append(problems, fmt.Sprintf("card %+v, want customer %s's fresh card", cr.Card, want))
	}
	if len(problems) > 0 {
		w.t.Errorf("%s: profile %s after %d steps: %s", r.name, m.id, m.steps, strings.Join(problems, "; "))
		return false
	}
	return true
}

func raws(answers []linkAnswer) []string {
	var out []string
	for _, a := range answers {
		out = append(out, a.raw)
	}
	return out
}

// checkStoredProfile compares the store with what the API acknowledged:
// the profile, its link, its tombstone, and its audit trail, which must
// tell the same story, entry for entry, in an order that could happen.
func checkStoredProfile(t *testing.T, ctx context.Context, store *postgres.Store, m *profileModel, actor string) {
	t.Helper()
	if p, err := store.Profile(ctx, m.id); err != nil || p.Name != m.name {
		t.Errorf("stored profile %s = %+v, %v; want the name %q", m.id, p, err, m.name)
	}
	l, err := store.Link(ctx, m.id)
	switch {
	case m.linked == 0 && rechargekit.ErrorCode(err) != rechargekit.ENOTFOUND:
		t.Errorf("profile %s: stored link %+v, %v; the acknowledged operations leave it unlinked", m.id, l, err)
	case m.linked != 0 && (err != nil || l.CustomerID != m.linked || l.Method != rechargekit.LinkManual || l.By != actor):
		t.Errorf("profile %s: stored link %+v, %v; the acknowledged operations leave it linked to %d by %s", m.id, l, err, m.linked, actor)
	}
	if was, err := store.WasUnlinked(ctx, m.id); err != nil || was != m.everUnlinked {
		t.Errorf("profile %s: WasUnlinked = %v, %v; want %v", m.id, was, err, m.everUnlinked)
	}

	entries, err := store.Audit(ctx, rechargekit.AuditFilter{ProfileID: m.id, Limit: 1000})
	if err != nil {
		t.Errorf("audit of %s: %v", m.id, err)
		return
	}
	slices.Reverse(entries) // oldest first
	var got []auditStep
	for _, e := range entries {
		if e.Actor != actor {
			t.Errorf("profile %s: audit entry %+v is by %q, want %q", m.id, e, e.Actor, actor)
		}
		got = append(got, auditStep{e.Action, e.CustomerID})
	}
	if bad := replayAudit(got, m.linked); bad != "" {
		t.Errorf("profile %s: the audit trail cannot have happened: %s\n%v", m.id, bad, got)
	}
	want := m.audit
	if !m.ordered {
		// Concurrent operations: the entries are right in number and kind,
		// and replayAudit checked that their order is a possible one.
		got, want = sortedSteps(got), sortedSteps(want)
	}
	if diff := gocmp.Diff(want, got); diff != "" {
		t.Errorf("profile %s: audit trail differs from the acknowledged operations (-want +got):\n%s", m.id, diff)
	}
}

// replayAudit runs the entries through the link rules, starting unlinked:
// a link only of an unlinked profile, a conflict only against another
// customer's link, an unlink only of the customer linked. It returns what
// broke the rules, or "" when the trail ends linked to final.
func replayAudit(steps []auditStep, final int64) string {
	var linked int64
	for i, s := range steps {
		switch {
		case s.Action == rechargekit.AuditLink && linked == 0:
			linked = s.Customer
		case s.Action == rechargekit.AuditLinkConflict && linked != 0 && linked != s.Customer:
		case s.Action == rechargekit.AuditUnlink && linked != 0 && linked == s.Customer:
			linked = 0
		default:
			return fmt.Sprintf("entry %d %+v while linked to %d", i, s, linked)
		}
	}
	if linked != final {
		return fmt.Sprintf("the trail ends linked to %d, the store holds %d", linked, final)
	}
	return ""
}

func sortedSteps(steps []auditStep) []auditStep {
	out := slices.Clone(steps)
	slices.SortFunc(out, func(a, b auditStep) int {
		if c := strings.Compare(a.Action, b.Action); c != 0 {
			return c
		}
		return cmp.Compare(a.Customer, b.Customer)
	})
	return out
}

// checkSchemaTotals checks the whole schema: the audit holds no link
// entries beyond those of the test's profiles, and the links table no
// more rows than the profiles linked.
func checkSchemaTotals(t *testing.T, ctx context.Context, dbURL string, wantActions map[string]int, wantLinks int) {
	t.Helper()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Errorf("connect to the replicas' schema: %v", err)
		return
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT action, count(*) FROM audit WHERE action IN ('link', 'unlink', 'link_conflict') GROUP BY action`)
	if err != nil {
		t.Errorf("count audit entries: %v", err)
		return
	}
	got := map[string]int{}
	for rows.Next() {
		var action string
		var n int
		if err := rows.Scan(&action, &n); err != nil {
			t.Errorf("count audit entries: %v", err)
			return
		}
		got[action] = n
	}
	if err := rows.Err(); err != nil {
		t.Errorf("count audit entries: %v", err)
	}
	if diff := gocmp.Diff(wantActions, got); diff != "" {
		t.Errorf("audit entries by action in the schema (-acknowledged +stored):\n%s", diff)
	}
	var links int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM links`).Scan(&links); err != nil {
		t.Errorf("count links: %v", err)
	} else if links != wantLinks {
		t.Errorf("%d links stored, the acknowledged operations leave %d", links, wantLinks)
	}
}
