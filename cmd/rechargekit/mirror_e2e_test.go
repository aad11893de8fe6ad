package main

// End-to-end tests of the mirror's commands: sync against a simulated
// store of several pages, a sync killed with SIGKILL and resumed, mirror
// status and purge, two serve replicas sharing the sync lease on one
// PostgreSQL database, and RECHARGE_MIRROR=off.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/gladly"
	"github.com/rechargekit/rechargekit/internal/testkit"
	"github.com/rechargekit/rechargekit/postgres"
	"github.com/rechargekit/rechargekit/recharge/rechargetest"
	"github.com/rechargekit/rechargekit/sqlite"
)

// testPageSize makes a store of a few hundred customers several pages per
// resource, and testRateLimit a budget that never makes a test wait.
const (
	testPageSize  = 25
	testRateLimit = "1000/500"
)

// pageLog serves the simulator and counts the backfill's list pages it
// answered (isPage), by route and query, so that a test can tell a page
// read twice. With holdAfter set,
// every page after that many is held, unanswered, until release: the sync
// asking for it is then, for certain, between two pages.
type pageLog struct {
	next      http.Handler
	holdAfter int

	mu      sync.Mutex
	served  map[string]int // "/customers?cursor=...&limit=50&sort_by=id-asc" -> 200 answers
	pages   int
	held    chan struct{} // closed when a page is held
	heldSet bool
	release chan struct{}
}

func newPageLog(next http.Handler, holdAfter int) *pageLog {
	return &pageLog{next: next, holdAfter: holdAfter, served: map[string]int{}, held: make(chan struct{}), release: make(chan struct{})}
}

// isPage reports whether r asks for a page of a backfill: a list of a
// mirrored resource, not one customer's (a live card's reads) nor the one
// record a backfill asks for to learn the highest or lowest id.
func isPage(r *http.Request) bool {
	q := r.URL.Query()
	return r.Method == http.MethodGet && rechargekit.IsMirrorResource(strings.TrimPrefix(r.URL.Path, "/")) &&
		!q.Has("customer_id") && !q.Has("email") && q.Get("limit") != "1"
}

func (p *pageLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !isPage(r) {
		p.next.ServeHTTP(w, r)
		return
	}
	p.mu.Lock()
	hold := p.holdAfter > 0 && p.pages >= p.holdAfter
	if hold && !p.heldSet {
		p.heldSet = true
		close(p.held)
	}
	p.mu.Unlock()
	if hold {
		// The process asking is killed meanwhile: this page is never
		// answered, so it counts as read by nobody.
		select {
		case <-p.release:
		case <-r.Context().Done():
		}
		http.Error(w, "held", http.StatusServiceUnavailable)
		return
	}
	rec := httptest.NewRecorder()
	p.next.ServeHTTP(rec, r)
	if rec.Code == http.StatusOK {
		p.mu.Lock()
		p.served[r.URL.Path+"?"+r.URL.Query().Encode()]++
		p.pages++
		p.mu.Unlock()
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

// counts returns the pages answered and the pages answered more than once.
func (p *pageLog) counts() (pages int, twice []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, n := range p.served {
		if n > 1 {
			twice = append(twice, fmt.Sprintf("%s (%d times)", k, n))
		}
	}
	sort.Strings(twice)
	return p.pages, twice
}

// mirrorSim is a simulated store of several pages per resource behind a
// pageLog.
type mirrorSim struct {
	*rechargetest.Simulator
	pages *pageLog
	URL   string
}

func newMirrorSim(t *testing.T, customers, holdAfter int) *mirrorSim {
	t.Helper()
	// The simulator's bucket matches testRateLimit: Recharge's own 40/2
	// would make every test wait for it.
	sim := rechargetest.New(rechargetest.Config{BucketSize: 1000, LeakPerSecond: 500})
	sim.Load(rechargetest.GenerateSeed(customers, 7))
	pages := newPageLog(sim, holdAfter)
	srv := httptest.NewServer(pages)
	t.Cleanup(func() {
		pages.releaseOnce()
		srv.Close()
		sim.Close()
	})
	return &mirrorSim{Simulator: sim, pages: pages, URL: srv.URL}
}

// releaseOnce answers the held page (503: its asker is gone) and holds
// no page after it.
func (p *pageLog) releaseOnce() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.holdAfter = 0
	select {
	case <-p.release:
	default:
		close(p.release)
	}
}

// syncEnv is the environment of `sync` against sim into databaseURL.
func syncEnv(sim *mirrorSim, databaseURL string) map[string]string {
	return map[string]string{
		"RECHARGE_API_URL":    sim.URL,
		"RECHARGE_API_TOKEN":  rechargetest.DefaultToken,
		"DATABASE_URL":        databaseURL,
		"RECHARGE_RATE_LIMIT": testRateLimit,
	}
}

// mirrorStats opens the SQLite database and returns what its mirror holds.
func mirrorStats(t *testing.T, path string) *rechargekit.MirrorStats {
	t.Helper()
	store, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	st, err := store.MirrorStats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// checkComplete checks that every resource's backfill is done and that
// the mirror holds every customer of the simulator.
func checkComplete(t *testing.T, st *rechargekit.MirrorStats, customers int) {
	t.Helper()
	for _, r := range rechargekit.MirrorResources {
		if cp := st.Checkpoints[r]; cp == nil || !cp.Done {
			t.Errorf("the backfill of %s is not done: %+v", r, cp)
		}
	}
	if got := st.Records[rechargekit.MirrorCustomers]; got != int64(customers) {
		t.Errorf("the mirror holds %d customers, want %d", got, customers)
	}
	for _, r := range []string{rechargekit.MirrorAddresses, rechargekit.MirrorSubscriptions, rechargekit.MirrorCharges} {
		if st.Records[r] <= testPageSize {
			t.Errorf("the mirror holds %d %s: the store should span several pages", st.Records[r], r)
		}
	}
}

// TestSyncFillsMirror runs `rechargekit sync` against a simulated store of
// several pages per resource: it completes (exit 0), prints its progress
// as plain lines (stdout is no terminal) and a last line with what the
// mirror holds, which is the whole store; `mirror status` then says the
// backfill is complete, a second sync reads nothing again, and `mirror
// purge` empties the mirror and says what it deleted.
func TestSyncFillsMirror(t *testing.T) {
	t.Parallel()
	const customers = 120
	sim := newMirrorSim(t, customers, 0)
	db := filepath.Join(t.TempDir(), "mirror.db")
	env := syncEnv(sim, db)

	code, out, errOut := run(t, env, "sync", "--page-size", strconv.Itoa(testPageSize))
	if code != 0 {
		t.Fatalf("sync = %d:\n%s\n%s", code, out, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 5 || !strings.HasPrefix(lines[0], "Syncing the mirror in SQLite "+db) {
		t.Fatalf("sync printed:\n%s", out)
	}
	var percents []int
	for _, l := range lines[1 : len(lines)-1] {
		f := strings.Fields(l)
		if len(f) < 3 || f[0] != "sync" || !strings.HasSuffix(f[1], "%") || f[3] != "records" && f[3] != "records " {
			t.Fatalf("not a progress line: %q", l)
		}
		n, err := strconv.Atoi(strings.TrimSuffix(f[1], "%"))
		if err != nil {
			t.Fatalf("progress line %q: %v", l, err)
		}
		percents = append(percents, n)
	}
	if len(percents) < 3 || !slices.IsSorted(percents) || percents[len(percents)-1] != 100 {
		t.Errorf("progress percents %v: want several, rising to 100", percents)
	}
	if strings.Contains(out, "\r") {
		t.Error("the progress redraws in place although stdout is no terminal")
	}
	st := mirrorStats(t, db)
	checkComplete(t, st, customers)
	if want := "The mirror is complete: " + recordCounts(st.Records) + ", in "; !strings.HasPrefix(lines[len(lines)-1], want) {
		t.Errorf("last line %q, want it to start %q", lines[len(lines)-1], want)
	}
	pages, twice := sim.pages.counts()
	if len(twice) > 0 {
		t.Errorf("pages read twice: %v", twice)
	}

	code, out, errOut = run(t, env, "mirror", "status")
	if code != 0 || !strings.Contains(out, "The backfill is complete") || !strings.Contains(out, "holds "+recordCounts(st.Records)) ||
		!strings.Contains(out, "Nobody holds the sync lease") {
		t.Errorf("mirror status = %d:\n%s\n%s", code, out, errOut)
	}

	// Complete: a second sync reads no page again.
	if code, out, errOut = run(t, env, "sync", "--page-size", strconv.Itoa(testPageSize)); code != 0 || !strings.Contains(out, "The mirror is complete") {
		t.Errorf("second sync = %d:\n%s\n%s", code, out, errOut)
	}
	if again, _ := sim.pages.counts(); again != pages {
		t.Errorf("a sync of a complete mirror read %d pages", again-pages)
	}

	// While another process holds the sync lease, neither a sync nor a
	// purge runs (a purge with --force does).
	holder, err := sqlite.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _, err := holder.AcquireMirrorLease(context.Background(), "replica-7", time.Now(), time.Hour); err != nil || !ok {
		t.Fatalf("take the lease: %v, %v", ok, err)
	}
	if code, out, errOut = run(t, env, "sync", "--page-size", strconv.Itoa(testPageSize)); code == 0 || !strings.Contains(out+errOut, "replica-7 is syncing the mirror") {
		t.Errorf("sync while replica-7 holds the lease = %d:\n%s\n%s", code, out, errOut)
	}
	if code, out, errOut = run(t, env, "mirror", "purge"); code == 0 || !strings.Contains(errOut, "replica-7 is syncing the mirror") {
		t.Errorf("purge while replica-7 holds the lease = %d:\n%s\n%s", code, out, errOut)
	}
	if st := mirrorStats(t, db); st.Records[rechargekit.MirrorCustomers] == 0 {
		t.Error("a refused purge deleted records")
	}
	_ = holder.Close()

	code, out, errOut = run(t, env, "mirror", "purge", "--force")
	if code != 0 || !strings.HasPrefix(out, "Deleted every mirrored record from SQLite "+db+": "+recordCounts(st.Records)) {
		t.Errorf("mirror purge = %d:\n%s\n%s", code, out, errOut)
	}
	st = mirrorStats(t, db)
	for _, r := range rechargekit.MirrorResources {
		if st.Records[r] != 0 || (st.Checkpoints[r] != nil && st.Checkpoints[r].Done) {
			t.Errorf("after purge, %s: %d records, checkpoint %+v", r, st.Records[r], st.Checkpoints[r])
		}
	}
}

// TestSyncRefusals checks sync's clear refusals: no database, the mirror
// switched off, a page size Recharge would refuse.
func TestSyncRefusals(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "never.db")
	for _, tt := range []struct {
		name string
		env  map[string]string
		args []string
		code int
		want string
	}{
		{"no database", map[string]string{"RECHARGE_API_TOKEN": "tok"}, nil, 1, "DATABASE_URL is not set"},
		{"mirror off", map[string]string{"RECHARGE_API_TOKEN": "tok", "DATABASE_URL": db, "RECHARGE_MIRROR": "off"}, nil, 1, "RECHARGE_MIRROR is off"},
		{"no token", map[string]string{"DATABASE_URL": db}, nil, 1, "RECHARGE_API_TOKEN is not set"},
		{"page size", map[string]string{"RECHARGE_API_TOKEN": "tok", "DATABASE_URL": db}, []string{"--page-size", "251"}, 2, "--page-size must be between 1 and 250"},
		{"bad switch", map[string]string{"RECHARGE_API_TOKEN": "tok", "DATABASE_URL": db, "RECHARGE_MIRROR": "maybe"}, nil, 2, "RECHARGE_MIRROR must be on or off"},
		{"mirror without action", map[string]string{"DATABASE_URL": db}, []string{"mirror"}, 2, "usage: rechargekit mirror status|purge"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			args := append([]string{"sync"}, tt.args...)
			if tt.name == "mirror without action" {
				args = tt.args
			}
			code, out, errOut := run(t, tt.env, args...)
			if code != tt.code || !strings.Contains(errOut, tt.want) || strings.Count(strings.TrimSpace(errOut), "\n") != 0 || out != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want %d and one line with %q", code, out, errOut, tt.code, tt.want)
			}
		})
	}
}

// TestSyncResumesAfterKill kills a sync with SIGKILL while it waits for a
// page (the simulator holds it), then runs sync again: it completes, and
// no page the first run was answered is read again, since each page's
// records and then its checkpoint were written before the next page was
// asked for.
func TestSyncResumesAfterKill(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("SIGKILL is not Windows'")
	}
	t.Parallel()
	const customers, killAfter = 120, 7 // customers over 5 pages, then 2 of addresses
	sim := newMirrorSim(t, customers, killAfter)
	db := filepath.Join(t.TempDir(), "mirror.db")
	env := syncEnv(sim, db)

	// The killed sync's lease outlives it by --lease-ttl: the resumed one
	// waits for it to expire.
	first := startProcess(t, "sync", env, "sync", "--page-size", strconv.Itoa(testPageSize), "--lease-ttl", "1s")
	select {
	case <-sim.pages.held:
	case <-first.done:
		t.Fatalf("sync exited before it had read %d pages (%v):\n%s\n%s", killAfter, first.waitErr, first.stdout, first.logs.tail(20))
	case <-time.After(replicaStartTimeout):
		t.Fatalf("sync did not read %d pages within %s:\n%s", killAfter, replicaStartTimeout, first.stdout)
	}
	first.kill(t)
	sim.pages.releaseOnce()
	before, twice := sim.pages.counts()
	if before != killAfter || len(twice) > 0 {
		t.Fatalf("before the kill: %d pages, %v read twice; want %d, none twice", before, twice, killAfter)
	}
	st := mirrorStats(t, db)
	if st.Records[rechargekit.MirrorCustomers] != customers || st.Checkpoints[rechargekit.MirrorAddresses].Done {
		t.Fatalf("after the kill the mirror holds %v", st.Records)
	}

	code, out, errOut := run(t, env, "sync", "--page-size", strconv.Itoa(testPageSize), "--lease-ttl", "1s")
	if code != 0 || !strings.Contains(out, "The mirror is complete") {
		t.Fatalf("resumed sync = %d:\n%s\n%s", code, out, errOut)
	}
	after, twice := sim.pages.counts()
	if len(twice) > 0 {
		t.Errorf("the resumed sync read again pages the first had finished: %v", twice)
	}
	if after <= before {
		t.Errorf("the resumed sync read %d pages", after-before)
	}
	checkComplete(t, mirrorStats(t, db), customers)
}

// TestSyncInterrupted stops a sync with its context (SIGINT or SIGTERM in
// the binary) while it waits for a page: it says in one line that it
// stopped before the mirror was complete, what is kept, and that the
// next run resumes; it exits 1, not 0, since the mirror is not complete.
func TestSyncInterrupted(t *testing.T) {
	t.Parallel()
	const held = 3
	sim := newMirrorSim(t, 120, held)
	db := filepath.Join(t.TempDir(), "mirror.db")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut syncBuffer
	env := syncEnv(sim, db)
	m := &Main{Stdout: &out, Stderr: &errOut, Getenv: func(k string) string { return env[k] }}
	done := make(chan int, 1)
	go func() { done <- m.Run(ctx, []string{"sync", "--page-size", strconv.Itoa(testPageSize)}) }()
	select {
	case <-sim.pages.held:
	case code := <-done:
		t.Fatalf("sync exited %d before it was held:\n%s\n%s", code, &out, &errOut)
	case <-time.After(replicaStartTimeout):
		t.Fatal("sync was not held")
	}
	cancel()
	code := <-done
	line := strings.TrimSpace(errOut.String())
	kept := thousands(held * testPageSize)
	if code != 1 || strings.Contains(line, "\n") || !strings.HasPrefix(line, "rechargekit sync: stopped before the mirror was complete: the "+kept+" records ("+kept+" customers,") ||
		!strings.HasSuffix(line, "are kept, and 'rechargekit sync' resumes where this run stopped") {
		t.Errorf("interrupted sync: exit %d, stderr %q", code, line)
	}
}

// readyzChecks returns /readyz's status and its mirror check.
func readyzChecks(t *testing.T, base string) (status string, mirror map[string]any) {
	t.Helper()
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Status string                    `json:"status"`
		Checks map[string]map[string]any `json:"checks"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return body.Status, body.Checks["mirror"]
}

// scrapeMetrics returns base's /metrics.
func scrapeMetrics(t *testing.T, base string) string {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestMirrorReplicasShareLease runs two serve replicas on one PostgreSQL
// database: the first takes the sync lease and fills the mirror; the
// second reads it (a card with no Recharge call, /readyz "ready") without
// taking the lease; stopping the first cleanly hands the lease to the
// second within its TTL.
func TestMirrorReplicasShareLease(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the replicas are stopped with SIGTERM, which Windows lacks")
	}
	env := requireServices(t, "the mirror's lease between replicas", "RECHARGEKIT_TEST_POSTGRES")
	t.Parallel()
	dbURL := mustReplicaSchema(t, env["RECHARGEKIT_TEST_POSTGRES"])
	const customers = 120
	sim := newMirrorSim(t, customers, 0)
	key := "lease-key-" + randomHex(6)
	replicaEnv := map[string]string{
		"RECHARGE_API_URL":    sim.URL,
		"RECHARGE_API_TOKEN":  rechargetest.DefaultToken,
		"RECHARGE_RATE_LIMIT": testRateLimit,
		"DATABASE_URL":        dbURL,
		"GLADLY_SIGNING_KEY":  key,
		"LISTEN_ADDR":         "127.0.0.1:0",
		"LOG_LEVEL":           "info",
		"REDIS_URL":           "", "RECHARGE_MIRROR": "", "GLADLY_BASIC_USER": "", "GLADLY_BASIC_PASSWORD": "",
	}
	const ttl = 3 * time.Second
	args := []string{"serve", "--mirror-lease-ttl", ttl.String()}
	store, err := postgres.Open(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	lease := func() string {
		st, err := store.MirrorStats(context.Background())
		if err != nil || st.Lease == nil || !st.Lease.Expires.After(time.Now()) {
			return ""
		}
		return st.Lease.Holder
	}

	first := startProcess(t, "replica-1", replicaEnv, args...)
	first.waitServing(t)
	holder1 := fmt.Sprintf(":%d", first.cmd.Process.Pid)
	testkit.WaitFor(t, "the first replica to take the lease", func() bool { return strings.HasSuffix(lease(), holder1) })
	waitMirrorReady(t, first)
	checkComplete(t, mustMirrorStats(t, store), customers)

	second := startProcess(t, "replica-2", replicaEnv, args...)
	second.waitServing(t)
	holder2 := fmt.Sprintf(":%d", second.cmd.Process.Pid)
	if status, m := readyzChecks(t, second.url); status != "ready" || m["state"] != rechargekit.MirrorReady {
		t.Errorf("the second replica's /readyz: %s, mirror %v", status, m)
	}
	// The second replica reads the mirror: a card with no Recharge call.
	id := sim.Customers(0)[0].ID
	calls := sim.Stats().Requests
	gc := &gladly.Client{URL: second.url + gladly.DefaultPath, SigningKey: key}
	resp, err := gc.Detailed(context.Background(), strconv.FormatInt(id, 10), rechargekit.Profile{ID: "p"})
	if err != nil || len(resp.Results) != 1 {
		t.Fatalf("detailed lookup on the second replica: %v %+v", err, resp)
	}
	if n := sim.Stats().ByRoute["GET /customers/{id}"]; n != 0 {
		t.Errorf("the second replica read customer %d from Recharge (%d calls to GET /customers/{id}; %d requests in all since)", id, n, sim.Stats().Requests-calls)
	}
	if h := lease(); !strings.HasSuffix(h, holder1) {
		t.Errorf("the lease is %q, want the first replica's still", h)
	}
	if m := scrapeMetrics(t, second.url); !strings.Contains(m, `rechargekit_mirror_state{state="ready"} 1`) ||
		!strings.Contains(m, fmt.Sprintf(`rechargekit_mirror_records{resource="customers"} %d`, customers)) {
		t.Errorf("the second replica's metrics lack the mirror's state and records")
	}

	// A clean stop releases the lease; the second takes it at its next
	// renewal, within the TTL.
	first.stop(t)
	testkit.WaitFor(t, "the second replica to take the lease", func() bool { return strings.HasSuffix(lease(), holder2) })
	first.checkLogs(t, map[string]string{"signing key": key})
	second.checkLogs(t, map[string]string{"signing key": key})
}

// waitMirrorReady waits until the replica's /readyz says its mirror is
// ready.
func waitMirrorReady(t *testing.T, r *replica) {
	t.Helper()
	deadline := time.Now().Add(replicaStartTimeout)
	for {
		_, m := readyzChecks(t, r.url)
		if m["state"] == rechargekit.MirrorReady {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s's mirror is not ready within %s: %v; stderr:\n%s", r.name, replicaStartTimeout, m, r.logs.tail(30))
		}
		select {
		case <-r.done:
			t.Fatalf("%s exited (%v); stderr:\n%s", r.name, r.waitErr, r.logs.tail(30))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func mustMirrorStats(t *testing.T, store rechargekit.MirrorStore) *rechargekit.MirrorStats {
	t.Helper()
	st, err := store.MirrorStats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestServeMirrorOff checks that RECHARGE_MIRROR=off keeps serve
// pull-only although DATABASE_URL is set: /readyz and the metrics say
// off, a card is read from Recharge, and nothing is mirrored or listed.
func TestServeMirrorOff(t *testing.T) {
	t.Parallel()
	sim := newMirrorSim(t, 60, 0)
	db := filepath.Join(t.TempDir(), "serve.db")
	env := map[string]string{
		"RECHARGE_API_URL":    sim.URL,
		"RECHARGE_API_TOKEN":  rechargetest.DefaultToken,
		"RECHARGE_RATE_LIMIT": testRateLimit,
		"DATABASE_URL":        db,
		"LISTEN_ADDR":         "127.0.0.1:0",
		"RECHARGE_MIRROR":     "off",
	}
	base, _ := startServer(t, env, "serve")
	if status, m := readyzChecks(t, base); status != "ready" || m["state"] != rechargekit.MirrorOff {
		t.Errorf("/readyz: %s, mirror %v", status, m)
	}
	metrics := scrapeMetrics(t, base)
	if !strings.Contains(metrics, `rechargekit_mirror_state{state="off"} 1`) || strings.Contains(metrics, "rechargekit_mirror_records{") {
		t.Errorf("the metrics do not say the mirror is off")
	}
	id := sim.Customers(0)[0].ID
	gc := &gladly.Client{URL: base + gladly.DefaultPath}
	if resp, err := gc.Detailed(context.Background(), strconv.FormatInt(id, 10), rechargekit.Profile{ID: "p"}); err != nil || len(resp.Results) != 1 {
		t.Fatalf("detailed lookup: %v %+v", err, resp)
	}
	if n := sim.Stats().ByRoute["GET /customers/{id}"]; n != 1 {
		t.Errorf("GET /customers/{id} = %d, want the card read from Recharge once", n)
	}
	if pages, _ := sim.pages.counts(); pages != 0 {
		t.Errorf("serve read %d list pages with the mirror off", pages)
	}
	st := mirrorStats(t, db)
	for _, r := range rechargekit.MirrorResources {
		if st.Records[r] != 0 {
			t.Errorf("the mirror holds %d %s although it is off", st.Records[r], r)
		}
	}
}
