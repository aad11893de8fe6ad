package mirror

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/postgres"
	"github.com/rechargekit/rechargekit/recharge"
	"github.com/rechargekit/rechargekit/recharge/rechargetest"
	"github.com/rechargekit/rechargekit/sqlite"
	"github.com/rechargekit/rechargekit/storetest"
)

// unlimited lifts the simulator's and the client's rate budget, so tests
// never wait for it.
const (
	unlimitedBucket = 1 << 20
	unlimitedRate   = 1e6
)

// testEnv is a simulator loaded with a seed, a SQLite store in a temporary
// directory and a Mirror over both.
type testEnv struct {
	sim    *rechargetest.Server
	client *recharge.Client
	store  rechargekit.MirrorStore
	path   string // the SQLite file, "" on PostgreSQL
	m      *Mirror

	mu      sync.Mutex
	changes []int64 // OnChange calls, in order
}

// envConfig adjusts a testEnv before it starts.
type envConfig struct {
	sim      rechargetest.Config
	seed     *rechargetest.Seed // DemoSeed when nil
	opts     func(*Options)
	client   []recharge.Option
	postgres bool // the store is PostgreSQL (RECHARGEKIT_TEST_POSTGRES), not SQLite
}

func newEnv(t *testing.T, cfg envConfig) *testEnv {
	t.Helper()
	cfg.sim.BucketSize, cfg.sim.LeakPerSecond = unlimitedBucket, unlimitedRate
	sim := rechargetest.NewServer(t, cfg.sim)
	seed := rechargetest.DemoSeed()
	if cfg.seed != nil {
		seed = *cfg.seed
	}
	sim.Load(seed)
	e := &testEnv{sim: sim}
	e.client = sim.Client(append([]recharge.Option{recharge.WithRateLimit(unlimitedBucket, unlimitedRate), recharge.WithMaxRetries(0)}, cfg.client...)...)
	if cfg.postgres {
		e.store = openPostgres(t)
	} else {
		e.path = filepath.Join(t.TempDir(), "rk.db")
		e.store = openStore(t, e.path)
	}
	e.m = e.newMirror(t, e.store, cfg.opts)
	return e
}

// openStore opens the SQLite store at path, closed with the test.
func openStore(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// openPostgres opens a PostgreSQL store in a schema of the test's own,
// or skips the test when RECHARGEKIT_TEST_POSTGRES is not set.
func openPostgres(t *testing.T) *postgres.Store {
	t.Helper()
	dsn := os.Getenv("RECHARGEKIT_TEST_POSTGRES")
	if dsn == "" {
		t.Skip("RECHARGEKIT_TEST_POSTGRES is not set")
	}
	st, err := postgres.Open(context.Background(), storetest.MustPostgresSchema(t, dsn))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// newMirror returns another Mirror over store and the env's simulator.
func (e *testEnv) newMirror(t *testing.T, store rechargekit.MirrorStore, adjust func(*Options)) *Mirror {
	t.Helper()
	opts := Options{
		Store:  store,
		Client: e.client,
		Live:   &recharge.Source{Client: e.client},
		OnChange: func(_ context.Context, id int64) {
			e.mu.Lock()
			e.changes = append(e.changes, id)
			e.mu.Unlock()
		},
	}
	if adjust != nil {
		adjust(&opts)
	}
	m, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// backfill fills the mirror and fails the test unless it completes.
func (e *testEnv) backfill(t *testing.T) {
	t.Helper()
	if err := e.m.Backfill(context.Background(), nil); err != nil {
		t.Fatalf("backfill: %v", err)
	}
}

// card reads a customer's card through the mirror's Source.
func (e *testEnv) card(t *testing.T, customerID int64) *rechargekit.Card {
	t.Helper()
	card, err := e.m.Source().ReadCard(context.Background(), customerID)
	if err != nil {
		t.Fatalf("card of %d: %v", customerID, err)
	}
	return card
}

// changed returns the customers OnChange was told about since the last call.
func (e *testEnv) changed() []int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := e.changes
	e.changes = nil
	return out
}

// customerIDs returns the ids of every customer the simulator holds.
func (e *testEnv) customerIDs(t *testing.T) []int64 {
	t.Helper()
	var ids []int64
	for c, err := range e.client.Customers.All(context.Background(), &recharge.CustomerListOptions{Limit: 250}) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, int64(c.ID))
	}
	if len(ids) == 0 {
		t.Fatal("the simulator holds no customer")
	}
	return ids
}

// requests returns the simulator's Recharge API request count.
func (e *testEnv) requests() int { return e.sim.Stats().Requests }

// hook is one webhook delivery the receiver got.
type hook struct {
	topic string
	body  []byte
}

// receiver is a webhook endpoint that records deliveries.
type receiver struct {
	URL string
	c   chan hook
}

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	r := &receiver{c: make(chan hook, 1000)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.c <- hook{topic: req.Header.Get("X-Recharge-Topic"), body: b}
	}))
	t.Cleanup(srv.Close)
	r.URL = srv.URL
	return r
}

// next waits for the next delivery of topic, skipping others.
func (r *receiver) next(t *testing.T, topic string) hook {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case h := <-r.c:
			if h.topic == topic {
				return h
			}
		case <-deadline:
			t.Fatalf("no %s webhook delivered", topic)
		}
	}
}

// parse decodes a delivery as the webhook handler would; withTopic false
// drops the topic header, as some deliveries arrive.
func parse(t *testing.T, h hook, withTopic bool) *recharge.WebhookEvent {
	t.Helper()
	topic := h.topic
	if !withTopic {
		topic = ""
	}
	ev, err := recharge.ParseWebhook(topic, h.body)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}
