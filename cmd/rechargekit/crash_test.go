package main

// TestCrashRestart kills `rechargekit serve` with SIGKILL in the middle of
// a stream of concurrent links and unlinks, restarts it on the same
// database, and checks that every acknowledged operation is there and
// nothing is half-written, on SQLite and on PostgreSQL. TestGracefulDrain
// sends SIGTERM while requests wait on Recharge and checks that each gets
// its normal answer while new connections are refused.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx", to read the store as it is

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/gladly"
	"github.com/rechargekit/rechargekit/recharge/rechargetest"
)

// The crash load: crashWorkers goroutines, each the only writer of its
// crashProfilesPer profiles, link and unlink them among crashCustomers
// customers, one operation at a time per worker; after crashKillAfter
// (plus up to crashKillJitter) acknowledged operations in a round, the
// process is killed, then restarted for the next round.
const (
	crashRounds      = 5
	crashWorkers     = 8
	crashProfilesPer = 2
	crashCustomers   = 6
	crashKillAfter   = 60
	crashKillJitter  = 40
	crashActor       = "api:crash-test"
)

func TestCrashRestart(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the crash test kills serve with SIGKILL, which Windows lacks")
	}
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		testCrashRestart(t, &crashDB{url: filepath.Join(t.TempDir(), "rechargekit.db")})
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		env := requireServices(t, "the PostgreSQL crash test", "RECHARGEKIT_TEST_POSTGRES")
		testCrashRestart(t, &crashDB{url: mustReplicaSchema(t, env["RECHARGEKIT_TEST_POSTGRES"]), postgres: true})
	})
}

func testCrashRestart(t *testing.T, db *crashDB) {
	ctx := context.Background()
	start := time.Now()
	sim := rechargetest.NewServer(t, rechargetest.Config{BucketSize: 1000, LeakPerSecond: 100})
	seed := rechargetest.GenerateSeed(crashCustomers, 3)
	var customers []int64
	for i := range seed.Customers {
		seed.Customers[i].ID = 7_100_000 + int64(i)
		customers = append(customers, seed.Customers[i].ID)
	}
	sim.Load(seed)

	env := map[string]string{
		"RECHARGE_API_URL":    sim.URL,
		"RECHARGE_API_TOKEN":  rechargetest.DefaultToken,
		"RECHARGE_RATE_LIMIT": "1000/100",
		"LISTEN_ADDR":         "127.0.0.1:0",
		"LOG_LEVEL":           "info",
		// Settings a developer's shell might carry, cleared.
		"REDIS_URL": "", "GLADLY_SIGNING_KEY": "", "RECHARGE_WEBHOOK_SECRET": "",
		"SHUTDOWN_DELAY": "", "SHUTDOWN_TIMEOUT": "",
	}
	// The API token, made by the CLI on the new database, which it creates.
	api := &apiClient{token: mustAPIToken(t, db.url, "crash-test")}
	migrations := db.migrations(t)

	var profiles []*crashProfile
	for i := range crashWorkers * crashProfilesPer {
		profiles = append(profiles, &crashProfile{id: fmt.Sprintf("crash-%02d", i)})
	}
	var procs []*replica
	startServe := func(round int) *replica {
		t.Helper()
		e := maps.Clone(env)
		e["DATABASE_URL"] = db.processURL(t, round)
		r := startReplica(t, fmt.Sprintf("serve-%d", round), e)
		r.waitServing(t)
		r.waitReady(t)
		procs = append(procs, r)
		api.hc = &http.Client{Timeout: requestTimeout, Transport: &http.Transport{MaxIdleConnsPerHost: crashWorkers}}
		return r
	}
	r := startServe(0)
	for _, p := range profiles {
		if err := api.putProfile(ctx, r, p.id, "Profile "+p.id, http.StatusCreated); err != nil {
			t.Fatal(err)
		}
	}

	seedRounds := uint64(time.Now().UnixNano())
	t.Logf("operations drawn with seed %d", seedRounds)
	rng := mrand.New(mrand.NewPCG(seedRounds, 6))
	var report []string
	for round := 1; round <= crashRounds; round++ {
		killAt := crashKillAfter + rng.IntN(crashKillJitter+1)
		acked, inFlight := crashRound(t, api, r, profiles, customers, killAt, rng.Uint64())
		if t.Failed() {
			return
		}
		db.waitGone(t, round-1)
		db.checkIntegrity(t)

		// The same database, a new process: it must start cleanly and
		// serve exactly the acknowledged state.
		r = startServe(round)
		applied := db.resolve(t, profiles)
		if t.Failed() {
			return
		}
		checkServedLinks(t, ctx, api, r, profiles)
		report = append(report, fmt.Sprintf("round %d: killed after %d acknowledged operations (aimed at %d) with %d in flight, %d of which were carried out",
			round, acked, killAt, inFlight, applied))
	}
	r.stop(t)
	db.checkIntegrity(t)
	// The crashes left the schema as it was: restarts applied nothing,
	// and migrate finds nothing to do.
	if code, out, errOut := run(t, map[string]string{"DATABASE_URL": db.url}, "migrate"); code != 0 || !strings.Contains(out, "is up to date") {
		t.Errorf("migrate after the crashes = %d %q %q, want 0 and \"is up to date\"", code, out, errOut)
	}
	if diff := gocmp.Diff(migrations, db.migrations(t)); diff != "" {
		t.Errorf("schema_migrations changed across the crashes (-before +after):\n%s", diff)
	}
	for _, p := range procs {
		p.checkLogs(t, map[string]string{"API token": api.token})
	}
	total := 0
	for _, p := range profiles {
		total += p.acked
	}
	t.Logf("%s; %d operations acknowledged on %d profiles in all, in %s",
		strings.Join(report, "; "), total, len(profiles), time.Since(start).Round(time.Millisecond))
}

// crashRound runs the workers against r until killAt operations were
// acknowledged, then kills r while the workers' next operations are in
// flight. It returns how many operations were acknowledged and how many
// were left without an answer.
func crashRound(t *testing.T, api *apiClient, r *replica, profiles []*crashProfile, customers []int64, killAt int, seed uint64) (acked, inFlight int) {
	var (
		count   atomic.Int64
		killed  atomic.Bool
		killNow = make(chan struct{})
		once    sync.Once
		wg      sync.WaitGroup
	)
	for w := range crashWorkers {
		mine := profiles[w*crashProfilesPer : (w+1)*crashProfilesPer]
		wg.Go(func() {
			rng := mrand.New(mrand.NewPCG(seed, uint64(w)))
			defer once.Do(func() { close(killNow) }) // a worker that stops early must not leave the round waiting
			for !killed.Load() {
				p := mine[rng.IntN(len(mine))]
				op := p.next(rng, customers)
				a := op.send(api, r, p.id)
				if a.status == 0 && killed.Load() {
					p.pending = op // no answer: the kill came first
					return
				}
				if problem := op.check(a); problem != "" {
					t.Errorf("profile %s, acknowledged state %d: %s", p.id, p.linked, problem)
					return
				}
				p.apply(op)
				p.acked++
				if count.Add(1) == int64(killAt) {
					once.Do(func() { close(killNow) })
				}
			}
		})
	}
	<-killNow
	killed.Store(true)
	r.kill(t)
	api.hc.CloseIdleConnections()
	wg.Wait()
	for _, p := range profiles {
		if p.pending != nil {
			inFlight++
		}
	}
	return int(count.Load()), inFlight
}

// crashProfile is what the acknowledged answers say about one profile.
// Its worker alone touches it during a round.
type crashProfile struct {
	id           string
	linked       int64 // 0: unlinked
	everUnlinked bool
	audit        []auditStep // the entries the operations made, oldest first
	acked        int
	pending      *crashOp // sent when the process was killed: no answer
}

// crashOp is one link or unlink with the answer it must get from the
// acknowledged state, and what it does to the store.
type crashOp struct {
	unlink   bool
	customer int64 // the customer to link

	status int    // the answer it must get
	code   string // the error code of a 4xx
	steps  []auditStep
	linked int64 // the link after it
}

// next picks an operation for p and works out its answer: linking an
// unlinked profile, relinking it to its customer (a no-op), linking it to
// another (refused and audited), unlinking it, and unlinking an unlinked
// profile (404, no change).
func (p *crashProfile) next(rng *mrand.Rand, customers []int64) *crashOp {
	x := rng.IntN(100)
	op := &crashOp{customer: customers[rng.IntN(len(customers))], linked: p.linked}
	switch {
	case p.linked == 0 && x < 85:
		op.status, op.linked = http.StatusOK, op.customer
		op.steps = []auditStep{{rechargekit.AuditLink, op.customer}}
	case p.linked == 0:
		op.unlink, op.status, op.code = true, http.StatusNotFound, rechargekit.ENOTFOUND
	case x < 50:
		op.unlink, op.status, op.linked = true, http.StatusNoContent, 0
		op.steps = []auditStep{{rechargekit.AuditUnlink, p.linked}}
	case x < 65:
		op.customer, op.status = p.linked, http.StatusOK
	default:
		for op.customer == p.linked {
			op.customer = customers[rng.IntN(len(customers))]
		}
		op.status, op.code = http.StatusConflict, rechargekit.ECONFLICT
		op.steps = []auditStep{{rechargekit.AuditLinkConflict, op.customer}}
	}
	return op
}

func (op *crashOp) send(api *apiClient, r *replica, profile string) linkAnswer {
	if op.unlink {
		return api.unlink(context.Background(), r, profile)
	}
	return api.link(context.Background(), r, profile, op.customer, crashActor)
}

// check returns what is wrong with the answer, or "".
func (op *crashOp) check(a linkAnswer) string {
	switch {
	case a.err != nil:
		return a.err.Error()
	case a.status != op.status || a.code != op.code:
		return fmt.Sprintf("%s; want %d %s", a.raw, op.status, op.code)
	case !op.unlink && a.status == http.StatusOK && a.customer != op.linked:
		return fmt.Sprintf("%s; want the link to %d", a.raw, op.linked)
	}
	return ""
}

// apply records an operation the server carried out.
func (p *crashProfile) apply(op *crashOp) {
	if op.unlink && p.linked != 0 {
		p.everUnlinked = true
	}
	p.linked = op.linked
	p.audit = append(p.audit, op.steps...)
}

// checkServedLinks reads each profile's card from the restarted process:
// its link is the stored one.
func checkServedLinks(t *testing.T, ctx context.Context, api *apiClient, r *replica, profiles []*crashProfile) {
	t.Helper()
	for _, p := range profiles {
		cr, err := api.card(ctx, r, p.id)
		if err != nil {
			t.Error(err)
			continue
		}
		want := ""
		if p.linked != 0 {
			want = strconv.FormatInt(p.linked, 10)
		}
		got := ""
		if cr.Link != nil {
			got = cr.Link.RechargeCustomerID
		}
		if got != want || cr.WasUnlinked != p.everUnlinked {
			t.Errorf("%s after the restart: profile %s linked to %q, wasUnlinked %v; the store says %q, %v",
				r.name, p.id, got, cr.WasUnlinked, want, p.everUnlinked)
		}
	}
}

// crashDB reads the database of the crash test directly, as it is on disk
// or in PostgreSQL, without the store's code.
type crashDB struct {
	url      string // DATABASE_URL: a SQLite path or a postgres:// URL
	postgres bool
}

// processURL is the DATABASE_URL of the round's process. On PostgreSQL
// each process has an application_name of its own, by which waitGone
// finds its sessions.
func (db *crashDB) processURL(t *testing.T, round int) string {
	if !db.postgres {
		return db.url
	}
	u, err := url.Parse(db.url)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("application_name", db.appName(round))
	u.RawQuery = q.Encode()
	return u.String()
}

func (db *crashDB) appName(round int) string {
	return fmt.Sprintf("rk-crash-%s-%d", strings.TrimPrefix(db.schema(), "rk_test_"), round)
}

func (db *crashDB) schema() string {
	u, _ := url.Parse(db.url)
	return u.Query().Get("search_path")
}

func (db *crashDB) open(t *testing.T) *sql.DB {
	t.Helper()
	driver, dsn := "pgx", db.url
	if !db.postgres {
		driver, dsn = "sqlite", "file:"+filepath.ToSlash(db.url)+"?_pragma=busy_timeout(10000)"
	}
	conn, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatalf("open the test database: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// waitGone waits, on PostgreSQL, until the killed process's sessions have
// ended: a transaction it had sent COMMIT for is then committed or rolled
// back for good, and the checks see its final outcome. (A killed SQLite
// writer can do nothing more.)
func (db *crashDB) waitGone(t *testing.T, round int) {
	t.Helper()
	if !db.postgres {
		return
	}
	conn := db.open(t)
	defer conn.Close()
	deadline := time.NewTimer(20 * time.Second)
	defer deadline.Stop()
	poll := time.NewTicker(10 * time.Millisecond)
	defer poll.Stop()
	for {
		var n int
		err := conn.QueryRow(`SELECT count(*) FROM pg_stat_activity WHERE application_name = $1`, db.appName(round)).Scan(&n)
		if err != nil {
			t.Fatalf("count the killed process's sessions: %v", err)
		}
		if n == 0 {
			return
		}
		select {
		case <-poll.C:
		case <-deadline.C:
			t.Fatalf("%d sessions of the killed process still open on PostgreSQL after 20 s", n)
		}
	}
}

// checkIntegrity checks the database as the crash left it: SQLite's own
// integrity and foreign key checks, and on both, no link, tombstone or
// audit entry of a profile that does not exist.
func (db *crashDB) checkIntegrity(t *testing.T) {
	t.Helper()
	conn := db.open(t)
	defer conn.Close()
	if !db.postgres {
		var res []string
		rows, err := conn.Query(`PRAGMA integrity_check`)
		if err != nil {
			t.Fatalf("integrity_check: %v", err)
		}
		for rows.Next() {
			var s string
			rows.Scan(&s)
			res = append(res, s)
		}
		rows.Close()
		if !slices.Equal(res, []string{"ok"}) {
			t.Errorf("PRAGMA integrity_check = %v, want ok", res)
		}
		var fk int
		if err := conn.QueryRow(`SELECT count(*) FROM pragma_foreign_key_check`).Scan(&fk); err != nil || fk != 0 {
			t.Errorf("foreign key check: %d violations (%v)", fk, err)
		}
	}
	for _, table := range []string{"links", "unlinks"} {
		var n int
		err := conn.QueryRow(`SELECT count(*) FROM ` + table + ` WHERE profile_id NOT IN (SELECT id FROM profiles)`).Scan(&n)
		if err != nil || n != 0 {
			t.Errorf("%s: %d rows of profiles that do not exist (%v)", table, n, err)
		}
	}
}

// migrations returns the rows of schema_migrations.
func (db *crashDB) migrations(t *testing.T) []string {
	t.Helper()
	conn := db.open(t)
	defer conn.Close()
	rows, err := conn.Query(`SELECT name, applied_at FROM schema_migrations ORDER BY name`)
	if err != nil {
		t.Fatalf("read schema_migrations: %v", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name string
		var at any
		if err := rows.Scan(&name, &at); err != nil {
			t.Fatalf("read schema_migrations: %v", err)
		}
		out = append(out, fmt.Sprintf("%s %v", name, at))
	}
	if len(out) == 0 {
		t.Fatal("schema_migrations is empty")
	}
	return out
}

// resolve reads links, tombstones and the audit log in one snapshot and
// compares them with the acknowledged operations. A profile's operation
// that was in flight at the kill may have happened or not; whichever it
// was, the profile's model takes it, so that the next round starts from
// what is stored. It returns how many in-flight operations had happened.
//
// Nothing half-written: for every profile in the database, its audit
// trail replays to exactly its stored link, and its tombstone names the
// customer of its last unlink.
func (db *crashDB) resolve(t *testing.T, profiles []*crashProfile) (applied int) {
	t.Helper()
	conn := db.open(t)
	defer conn.Close()
	var opts *sql.TxOptions
	if db.postgres {
		opts = &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}
	}
	tx, err := conn.BeginTx(context.Background(), opts)
	if err != nil {
		t.Fatalf("begin a snapshot: %v", err)
	}
	defer tx.Rollback()
	links := readPairs(t, tx, `SELECT profile_id, customer_id FROM links`)
	tombs := readPairs(t, tx, `SELECT profile_id, customer_id FROM unlinks`)
	rows, err := tx.Query(`SELECT profile_id, actor, action, customer_id FROM audit WHERE action IN ('link', 'unlink', 'link_conflict') ORDER BY id`)
	if err != nil {
		t.Fatalf("read the audit log: %v", err)
	}
	trails := map[string][]auditStep{}
	for rows.Next() {
		var profile, actor string
		var s auditStep
		if err := rows.Scan(&profile, &actor, &s.Action, &s.Customer); err != nil {
			t.Fatalf("read the audit log: %v", err)
		}
		if actor != crashActor {
			t.Errorf("audit entry %+v of %s is by %q, want %q", s, profile, actor, crashActor)
		}
		trails[profile] = append(trails[profile], s)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read the audit log: %v", err)
	}
	rows.Close()

	// Nothing half-written, whatever the test thinks happened.
	ids := map[string]bool{}
	for id := range links {
		ids[id] = true
	}
	for id := range tombs {
		ids[id] = true
	}
	for id := range trails {
		ids[id] = true
	}
	for id := range ids {
		if bad := replayAudit(trails[id], links[id]); bad != "" {
			t.Errorf("profile %s: the audit trail does not match the stored link: %s\n%v", id, bad, trails[id])
		}
		var lastUnlink int64
		for _, s := range trails[id] {
			if s.Action == rechargekit.AuditUnlink {
				lastUnlink = s.Customer
			}
		}
		if tombs[id] != lastUnlink {
			t.Errorf("profile %s: tombstone names customer %d, the audit's last unlink %d", id, tombs[id], lastUnlink)
		}
	}

	// Every acknowledged operation is there; an operation in flight at
	// the kill is there entirely or not at all.
	known := map[string]bool{}
	for _, p := range profiles {
		known[p.id] = true
		got := trails[p.id]
		switch op := p.pending; {
		case slices.Equal(got, p.audit) && links[p.id] == p.linked:
			// Every acknowledged operation, and not the one in flight
			// (or it changed nothing).
		case op != nil && slices.Equal(got, append(slices.Clone(p.audit), op.steps...)) && links[p.id] == op.linked:
			p.apply(op) // carried out, though never acknowledged
			applied++
		default:
			t.Errorf("profile %s: stored link %d and audit trail\n%v\ndo not follow from the acknowledged operations (link %d, trail %v) and the one in flight %+v",
				p.id, links[p.id], got, p.linked, p.audit, op)
		}
		p.pending = nil
	}
	for id := range trails {
		if !known[id] {
			t.Errorf("audit entries for %s, which the test never touched: %v", id, trails[id])
		}
	}
	return applied
}

func readPairs(t *testing.T, tx *sql.Tx, query string) map[string]int64 {
	t.Helper()
	rows, err := tx.Query(query)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var id string
		var c int64
		if err := rows.Scan(&id, &c); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		out[id] = c
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return out
}

// TestGracefulDrain sends SIGTERM to serve while a Gladly lookup and a
// JSON API link wait on Recharge, held by the simulator's gate: the
// process must stop taking connections at once, answer both as usual,
// keep the link, and exit 0. A second SIGTERM during a drain ends the
// process at once.
func TestGracefulDrain(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the drain test stops serve with SIGTERM, which Windows lacks")
	}
	t.Parallel()
	ctx := context.Background()
	sim := rechargetest.New(rechargetest.Config{})
	t.Cleanup(func() { sim.Close() })
	seed := rechargetest.GenerateSeed(3, 4)
	var customers []int64
	for i := range seed.Customers {
		seed.Customers[i].ID = 7_200_000 + int64(i)
		customers = append(customers, seed.Customers[i].ID)
	}
	sim.Load(seed)
	subsTotal := map[int64]int{}
	for _, c := range sim.Customers(0) {
		subsTotal[c.ID] = c.SubscriptionsTotal
	}
	gate := newSimGate(sim)
	upstream := httptest.NewServer(gate)
	t.Cleanup(upstream.Close)

	dbPath := filepath.Join(t.TempDir(), "rechargekit.db")
	api := &apiClient{hc: &http.Client{Timeout: requestTimeout}, token: mustAPIToken(t, dbPath, "drain-test")}
	const signingKey = "drain-test-key"
	env := map[string]string{
		"RECHARGE_API_URL":   upstream.URL,
		"RECHARGE_API_TOKEN": rechargetest.DefaultToken,
		"DATABASE_URL":       dbPath,
		"GLADLY_SIGNING_KEY": signingKey,
		"LISTEN_ADDR":        "127.0.0.1:0",
		"LOG_LEVEL":          "info",
		"REDIS_URL":          "", "RECHARGE_WEBHOOK_SECRET": "", "SHUTDOWN_DELAY": "", "SHUTDOWN_TIMEOUT": "",
	}

	r := startReplica(t, "serve-drain", env)
	r.waitServing(t)
	r.waitReady(t)
	if err := api.putProfile(ctx, r, "drain-1", "Drain One", http.StatusCreated); err != nil {
		t.Fatal(err)
	}
	lookupC, linkC := customers[0], customers[1]
	release := gate.hold(lookupC, linkC)
	defer release()
	var wg sync.WaitGroup
	var lookup *gladly.LookupResponse
	var lookupErr error
	var link linkAnswer
	wg.Go(func() {
		c := &gladly.Client{URL: r.url + gladly.DefaultPath, SigningKey: signingKey, HTTPClient: api.hc}
		lookup, lookupErr = c.Detailed(ctx, strconv.FormatInt(lookupC, 10), rechargekit.Profile{ID: "desk-1"})
	})
	wg.Go(func() { link = api.link(ctx, r, "drain-1", linkC, "api:drain-test") })
	gate.waitFor(t, lookupC, linkC)

	r.terminate(t)
	waitRefused(t, r)
	release()
	wg.Wait()
	r.waitExit(t)

	switch {
	case lookupErr != nil:
		t.Errorf("the lookup in flight at SIGTERM: %v; want its answer", lookupErr)
	case len(lookup.Results) != 1 || len(lookup.Results[0].Transactions) != subsTotal[lookupC]:
		t.Errorf("the lookup in flight at SIGTERM answered %+v; want customer %d with %d subscriptions", lookup, lookupC, subsTotal[lookupC])
	}
	if link.err != nil || link.status != http.StatusOK || link.customer != linkC {
		t.Errorf("the link in flight at SIGTERM: %s (%v); want 200 naming customer %d", link.raw, link.err, linkC)
	}
	logs := r.logs.String()
	for _, want := range []string{`"msg":"shutting down: no new connections; waiting for the requests in flight","in_flight":2`,
		`"msg":"shut down: every request in flight was answered"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("serve did not log %s; stderr:\n%s", want, r.logs.tail(20))
		}
	}
	r.checkLogs(t, map[string]string{"API token": api.token, "signing key": signingKey})

	// The drained link is stored, with its audit entry.
	store, err := openStore(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if l, err := store.Link(ctx, "drain-1"); err != nil || l.CustomerID != linkC {
		t.Errorf("stored link after the drain = %+v, %v; want customer %d", l, err, linkC)
	}
	if entries, err := store.Audit(ctx, rechargekit.AuditFilter{ProfileID: "drain-1"}); err != nil || len(entries) != 1 || entries[0].Action != rechargekit.AuditLink {
		t.Errorf("audit after the drain = %v, %v; want the link's entry", entries, err)
	}

	// A second SIGTERM does not wait for the drain.
	r2 := startReplica(t, "serve-impatient", env)
	r2.waitServing(t)
	r2.waitReady(t)
	release2 := gate.hold(customers[2])
	defer release2()
	held := make(chan error, 1)
	go func() {
		c := &gladly.Client{URL: r2.url + gladly.DefaultPath, SigningKey: signingKey, HTTPClient: api.hc}
		_, err := c.Detailed(ctx, strconv.FormatInt(customers[2], 10), rechargekit.Profile{ID: "desk-2"})
		held <- err
	}()
	gate.waitFor(t, customers[2])
	r2.terminate(t)
	waitRefused(t, r2)
	if err := r2.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("second SIGTERM: %v", err)
	}
	select {
	case <-r2.done:
	case <-time.After(replicaStopTimeout):
		t.Fatalf("serve still running %s after a second SIGTERM", replicaStopTimeout)
	}
	r2.waited = true
	var exit *exec.ExitError
	if !errors.As(r2.waitErr, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGTERM {
		t.Errorf("after a second SIGTERM serve ended with %v, want killed by that signal", r2.waitErr)
	}
	if err := <-held; err == nil {
		t.Errorf("the lookup held at the second SIGTERM was answered; want the connection cut")
	}
	release2()
}

// waitRefused waits until r, which is shutting down, refuses new
// connections; it must still be running, draining.
func waitRefused(t *testing.T, r *replica) {
	t.Helper()
	addr := strings.TrimPrefix(r.url, "http://")
	deadline := time.NewTimer(replicaStopTimeout)
	defer deadline.Stop()
	poll := time.NewTicker(5 * time.Millisecond)
	defer poll.Stop()
	for {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			break
		}
		c.Close()
		select {
		case <-poll.C:
		case <-r.done:
			t.Fatalf("%s exited (%v) while requests were held in flight; stderr:\n%s", r.name, r.waitErr, r.logs.tail(20))
		case <-deadline.C:
			t.Fatalf("%s still takes connections %s after SIGTERM", r.name, replicaStopTimeout)
		}
	}
	select {
	case <-r.done:
		t.Fatalf("%s exited (%v) while requests were held in flight; stderr:\n%s", r.name, r.waitErr, r.logs.tail(20))
	default:
	}
}

// simGate holds the simulator's answers to requests about chosen
// customers until released, and reports each such request as it arrives:
// a request held there is, for certain, in flight inside serve.
type simGate struct {
	next http.Handler

	mu      sync.Mutex
	held    map[string]chan struct{} // customer id -> closed on release
	arrived map[string]int           // customer id -> requests seen
	changed chan struct{}            // closed and replaced on each arrival
}

func newSimGate(next http.Handler) *simGate {
	return &simGate{next: next, held: map[string]chan struct{}{}, arrived: map[string]int{}, changed: make(chan struct{})}
}

// hold starts holding the customers' requests; the returned function
// releases them (and may be called more than once).
func (g *simGate) hold(customers ...int64) (release func()) {
	ch := make(chan struct{})
	g.mu.Lock()
	for _, c := range customers {
		g.held[strconv.FormatInt(c, 10)] = ch
	}
	g.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			g.mu.Lock()
			for _, c := range customers {
				delete(g.held, strconv.FormatInt(c, 10))
			}
			g.mu.Unlock()
			close(ch)
		})
	}
}

// waitFor waits until a request about each customer is held.
func (g *simGate) waitFor(t *testing.T, customers ...int64) {
	t.Helper()
	deadline := time.NewTimer(requestTimeout)
	defer deadline.Stop()
	for {
		g.mu.Lock()
		missing := slices.DeleteFunc(slices.Clone(customers), func(c int64) bool { return g.arrived[strconv.FormatInt(c, 10)] > 0 })
		changed := g.changed
		g.mu.Unlock()
		if len(missing) == 0 {
			return
		}
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("no Recharge request for customers %v reached the simulator within %s", missing, requestTimeout)
		}
	}
}

func (g *simGate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimPrefix(r.URL.Path, "/customers/")
	if id == r.URL.Path || strings.Contains(id, "/") {
		id = r.URL.Query().Get("customer_id")
	}
	g.mu.Lock()
	ch := g.held[id]
	if ch != nil {
		g.arrived[id]++
		close(g.changed)
		g.changed = make(chan struct{})
	}
	g.mu.Unlock()
	if ch != nil {
		select {
		case <-ch:
		case <-r.Context().Done():
			return
		}
	}
	g.next.ServeHTTP(w, r)
}
