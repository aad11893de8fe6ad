package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/gladly"
	"github.com/rechargekit/rechargekit/mirror"
	"github.com/rechargekit/rechargekit/recharge/rechargetest"
)

// demoCommand runs everything on the embedded demo store: a Recharge
// simulator seeded with a small store, a SQLite database seeded with desk
// profiles and two users, and the server wired to them exactly as serve
// wires a real store.
type demoCommand struct {
	m          *Main
	addr       string
	simAddr    string
	signingKey string
	latency    time.Duration
	dataDir    string
	mirror     mirrorSettings
}

func (c *demoCommand) parseFlags(args []string) error {
	fs := c.m.newFlagSet("demo", "[--addr HOST:PORT] [--sim-addr HOST:PORT] [--signing-key KEY] [--latency D]")
	fs.StringVar(&c.addr, "addr", "127.0.0.1:8080", "listen address of the Lookup Adaptor")
	fs.StringVar(&c.simAddr, "sim-addr", "127.0.0.1:0", "listen address of the Recharge simulator (default: any free port)")
	fs.StringVar(&c.signingKey, "signing-key", "", "Gladly signing key to require (default: a new random key, printed)")
	fs.DurationVar(&c.latency, "latency", 0, "simulated Recharge latency per request, e.g. 80ms")
	fs.StringVar(&c.dataDir, "data-dir", "", "directory for the demo's SQLite database (default: a new temporary directory, removed on exit)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if err := checkListenAddr(c.addr); err != nil {
		return fmt.Errorf("--addr %w", err)
	}
	if err := checkListenAddr(c.simAddr); err != nil {
		return fmt.Errorf("--sim-addr %w", err)
	}
	if c.latency < 0 {
		return fmt.Errorf("--latency must not be negative")
	}
	if err := c.m.checkEnv("LOG_LEVEL", "GLADLY_TRANSACTIONS", "RECHARGE_ADMIN_URL"); err != nil {
		return err
	}
	// The demo runs with the mirror unless RECHARGE_MIRROR=off.
	var err error
	c.mirror, err = c.m.mirrorSettings(mirror.DefaultReconcileInterval, true)
	return err
}

func (c *demoCommand) run(ctx context.Context) error {
	logger := c.m.logger()
	key := c.signingKey
	if key == "" {
		key = randomKey()
	}

	// Listen first: the simulator sends its webhooks to the demo's own
	// /webhooks/recharge, so a change in the simulated store shows on the
	// next look at the card, as it does with Recharge.
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (is another demo running? pass --addr 127.0.0.1:0 for any free port)", c.addr, err)
	}
	defer ln.Close()
	base := "http://" + ln.Addr().String()
	webhookSecret := randomKey()

	sim := rechargetest.New(rechargetest.Config{
		Latency:       c.latency,
		WebhookURL:    base + "/webhooks/recharge",
		WebhookSecret: webhookSecret,
	})
	defer sim.Close()
	simLn, err := net.Listen("tcp", c.simAddr)
	if err != nil {
		return fmt.Errorf("listen on %s for the simulator: %w", c.simAddr, err)
	}
	simURL := "http://" + simLn.Addr().String()
	// The demo's products show pictures the simulator serves itself, which
	// the console's image proxy may fetch from this one local address.
	sim.Load(rechargetest.DemoSeedWithImages(simURL))
	simSrv := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
	go simSrv.Serve(simLn)
	defer simSrv.Close()

	dir, removedOnExit := c.dataDir, ""
	if dir == "" {
		if dir, err = os.MkdirTemp("", "rechargekit-demo-"); err != nil {
			return fmt.Errorf("create a data directory: %w", err)
		}
		defer os.RemoveAll(dir)
		removedOnExit = ", removed on exit"
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return fmt.Errorf("find the data directory: %w", err)
	}
	dbPath := filepath.Join(dir, "rechargekit.db")
	if _, err := os.Stat(dbPath); err == nil {
		return fmt.Errorf("%s already holds a demo database: pass an empty --data-dir (or none) so the demo can seed it", dir)
	}
	store, err := openStore(ctx, dbPath)
	if err != nil {
		return err
	}
	defer store.Close()
	adminPassword, agentPassword, err := seedDemoDesk(ctx, store)
	if err != nil {
		return fmt.Errorf("seed the demo desk: %w", err)
	}
	// A ready JSON API token in the demo's own database: one made with
	// `token add` elsewhere would be unknown here.
	apiToken, err := addAPIToken(ctx, store, "demo", "agent", "demo")
	if err != nil {
		return fmt.Errorf("seed the demo desk: %w", err)
	}

	a, err := newApp(ctx, appConfig{
		token:         rechargetest.DefaultToken,
		baseURL:       simURL,
		logger:        logger,
		store:         store,
		webhookSecret: webhookSecret,
		imageAllow:    []string{simLn.Addr().String()},
		gladlyPath:    gladly.DefaultPath,
		gladly:        gladly.Config{SigningKey: key, Transactions: c.m.Getenv("GLADLY_TRANSACTIONS")},
		// The demo store has no merchant admin of its own: its "Open in
		// Recharge" links show only when one is named, as with serve.
		adminLinks: rechargekit.AdminLinks{Base: c.m.Getenv("RECHARGE_ADMIN_URL")}, // checked in parseFlags
		// The simulator posts its webhooks to the demo without
		// registrations (its WebhookURL above), so the mirror has none to
		// check: webhookURL stays empty.
		mirror: c.mirror,
	})
	if err != nil {
		return err
	}
	defer a.Close()
	mirrored, err := c.mirrorDemo(ctx, a, store, logger)
	if err != nil {
		return err
	}
	w := c.m.Stdout
	fmt.Fprintf(w, "rechargekit demo %s: a simulated Recharge store, its agent console and its Gladly Lookup Adaptor\n\n", version())
	fmt.Fprintf(w, "  Console          %s/login\n", base)
	fmt.Fprintf(w, "                   admin  %s  password %s\n", demoAdminEmail, adminPassword)
	fmt.Fprintf(w, "                   agent  %s  password %s\n", demoAgentEmail, agentPassword)
	fmt.Fprintf(w, "  Lookup Adaptor   %s%s\n", base, gladly.DefaultPath)
	fmt.Fprintf(w, "  Signing key      %s\n", key)
	fmt.Fprintf(w, "  JSON API         %s/api/profiles/{id}  token %s\n", base, apiToken)
	fmt.Fprintf(w, "  Health           %s/healthz  %s/readyz  metrics %s/metrics\n", base, base, base)
	fmt.Fprintf(w, "  Recharge (sim)   %s  token %s  (test controls under /__sim/)\n", simURL, rechargetest.DefaultToken)
	fmt.Fprintf(w, "  Database         DATABASE_URL=%s  (SQLite%s)\n", shellQuote(dbPath), removedOnExit)
	fmt.Fprintf(w, "  Mirror           %s\n\n", mirrored)
	fmt.Fprintf(w, "Desk profiles in the console: %s/profiles\n", base)
	for _, p := range []struct{ id, what string }{
		{demoProfileAutoLink, "links itself on open: one Recharge customer has its email"},
		{demoProfileTwoMatches, "two Recharge accounts match its two emails: pick one"},
		{demoProfileNoMatch, "no Recharge customer matches: search by hand"},
		{demoProfileManual, "linked by hand by an agent (only an expired subscription)"},
		{demoProfileUnlinked, "unlinked by an agent once: never auto-linked again"},
		{demoProfileMany, "linked by hand, 60 subscriptions"},
		{demoProfileFailing, "links itself on open: a payment failing (card declined twice), its retry date, in dunning"},
		{demoProfileShipment, "linked by hand: a next shipment with a discount, a one-time product and a skipped line, a card expiring next month"},
	} {
		fmt.Fprintf(w, "  %s/profiles/%-14s %s\n", base, p.id, p.what)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Try, in another terminal (Alex Rivera: an active Dog Lovers T-Shirt and Dog Dental Chews on one charge, and a cancelled Cat Pajamas):\n\n")
	fmt.Fprintf(w, "  %s gladly-lookup --url %s%s --key %s --email alex.rivera@example.com --detailed\n\n",
		c.m.prog(), base, gladly.DefaultPath, key)
	fmt.Fprintf(w, "the same card from the JSON API, as another desk would read it:\n\n")
	fmt.Fprintf(w, "  curl -H 'Authorization: Bearer %s' %s/api/profiles/%s/card\n\n", apiToken, base, demoProfileAutoLink)
	fmt.Fprintf(w, "or read the card straight from the simulated Recharge:\n\n")
	fmt.Fprintf(w, "  RECHARGE_API_URL=%s RECHARGE_API_TOKEN=%s %s lookup --email alex.rivera@example.com\n\n",
		simURL, rechargetest.DefaultToken, c.m.prog())
	if a.mirror != nil {
		fmt.Fprintf(w, "Search for Alex Rivera by phone, name or Shopify id, as Recharge itself cannot: in the console, from a profile\n"+
			"with no match (the Search box takes any of them), or from the JSON API:\n\n")
		for _, q := range []string{"555-123-4567", "rivera", demoShopifyID(rechargetest.DemoAlexRiveraID)} {
			fmt.Fprintf(w, "  %s/profiles/%s?find=%s#search\n", base, demoProfileNoMatch, url.QueryEscape(q))
		}
		fmt.Fprintf(w, "  curl -H 'Authorization: Bearer %s' '%s/api/search?q=555-123-4567'\n\n", apiToken, base)
		fmt.Fprintf(w, "and the auto-link suggestion Gladly sends for a profile with Alex's mobile phone:\n\n")
		fmt.Fprintf(w, "  %s gladly-lookup --url %s%s --key %s --phone 555-123-4567\n\n", c.m.prog(), base, gladly.DefaultPath, key)
	}
	fmt.Fprintf(w, "The admin commands work on the demo's database while it runs, e.g. a token for another desk:\n\n")
	fmt.Fprintf(w, "  DATABASE_URL=%s %s token add --name my-desk\n\n", shellQuote(dbPath), c.m.prog())
	fmt.Fprintf(w, "Other demo customers: sam.taylor@example.com and sam.t@example.org (two accounts, one person),\n"+
		"priya.patel@example.org (only an expired subscription), customer id %d (60 subscriptions),\n"+
		"riley.brooks@example.com (a failing payment and its retry date: Gladly's paymentStatus),\n"+
		"jamie.park@example.com (a next shipment with a discount: Gladly's nextChargeDate and nextChargeTotal).\n"+
		"Press Ctrl-C to stop.\n", rechargetest.DemoManySubscriptionsID)
	return c.m.serve(ctx, "demo", ln, a.handler)
}

// mirrorDemo fills the mirror with the whole demo store before the demo
// serves (the store is small: a few pages, well within the token's
// bucket), so that the first search by phone or name finds its customers,
// then keeps it current in the background. It returns the line the demo
// prints about it.
func (c *demoCommand) mirrorDemo(ctx context.Context, a *app, store rechargekit.Store, logger *slog.Logger) (string, error) {
	if a.mirror == nil {
		return "off (RECHARGE_MIRROR=off): every card is read from the simulated Recharge", nil
	}
	bctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := a.mirror.Backfill(bctx, nil); err != nil {
		return "", fmt.Errorf("mirror the demo store: %w", describe(err))
	}
	stats, err := store.MirrorStats(bctx)
	if err != nil {
		return "", fmt.Errorf("count the demo store's mirror: %w", describe(err))
	}
	a.runMirror(ctx, logger)
	return "ready: " + recordCounts(stats.Records) + " in the demo's database; cards and searches are answered from it", nil
}

// demoShopifyID returns the Shopify customer id of a demo customer, as
// the demo store has it.
func demoShopifyID(customerID int64) string {
	for _, sc := range rechargetest.DemoSeed().Customers {
		if sc.ID == customerID {
			return sc.ExternalID
		}
	}
	return ""
}

// shellQuote returns s as one word for a POSIX shell: as it is when it
// holds only characters no shell treats specially, else in single quotes.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./:@%+=,-") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// randomKey returns 24 random bytes in hex: a signing key for the demo.
func randomKey() string {
	b := make([]byte, 24)
	rand.Read(b) // never fails (crypto/rand's documented guarantee since Go 1.24)
	return hex.EncodeToString(b)
}
