package main

import (
	"context"
	"fmt"
	"maps"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/rechargekit/rechargekit/recharge/rechargetest"
)

// simulateCommand serves the Recharge API simulator until interrupted.
type simulateCommand struct {
	m             *Main
	addr          string
	token         string
	seed          string
	customers     int
	latency       time.Duration
	platform      string
	webhookURL    string
	webhookSecret string
	statsEvery    time.Duration
}

func (c *simulateCommand) parseFlags(args []string) error {
	fs := c.m.newFlagSet("simulate", "[--addr HOST:PORT] [--token T] [--seed demo|none] [--customers N] [--latency D] [--webhook-url URL --webhook-secret S] [--stats-every D]")
	fs.StringVar(&c.addr, "addr", "127.0.0.1:4010", "listen address")
	fs.StringVar(&c.token, "token", rechargetest.DefaultToken, "the access token the simulator accepts")
	fs.StringVar(&c.seed, "seed", "demo", "data to start with: demo (a small real-looking store) or none")
	fs.IntVar(&c.customers, "customers", 0, "also generate this many customers with subscriptions (for load tests)")
	fs.DurationVar(&c.latency, "latency", 0, "added to every Recharge API request, e.g. 80ms")
	fs.StringVar(&c.platform, "platform", "shopify", "store platform: shopify (no /products catalog) or custom")
	fs.StringVar(&c.webhookURL, "webhook-url", "", "POST the webhooks Recharge would send (subscription/*, customer/*, charge/*, order/*, ...) here after every change")
	fs.StringVar(&c.webhookSecret, "webhook-secret", "", "API client secret that signs the webhooks (default $RECHARGE_WEBHOOK_SECRET)")
	fs.DurationVar(&c.statsEvery, "stats-every", 0, "print the list pages served (and read again) this often when they change, e.g. 5s, to watch a sync; they are printed at exit too")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if c.webhookSecret == "" {
		c.webhookSecret = c.m.Getenv("RECHARGE_WEBHOOK_SECRET")
	}
	if err := checkListenAddr(c.addr); err != nil {
		return fmt.Errorf("--addr %w", err)
	}
	if err := c.m.checkEnv("LOG_LEVEL"); err != nil {
		return err
	}
	switch {
	case c.seed != "demo" && c.seed != "none":
		return fmt.Errorf("--seed must be demo or none, not %q", c.seed)
	case c.customers < 0:
		return fmt.Errorf("--customers must not be negative")
	case c.platform != "shopify" && c.platform != "custom":
		return fmt.Errorf("--platform must be shopify or custom, not %q", c.platform)
	case c.latency < 0:
		return fmt.Errorf("--latency must not be negative")
	case c.statsEvery < 0:
		return fmt.Errorf("--stats-every must not be negative")
	case c.webhookURL != "" && checkHTTPURL(c.webhookURL) != nil:
		return fmt.Errorf("--webhook-url %w", checkHTTPURL(c.webhookURL))
	case c.token == "":
		return fmt.Errorf("--token must not be empty")
	case (c.webhookURL == "") != (c.webhookSecret == ""):
		return fmt.Errorf("--webhook-url and --webhook-secret go together")
	}
	return nil
}

func (c *simulateCommand) run(ctx context.Context) error {
	sim := rechargetest.New(rechargetest.Config{
		Tokens:        []string{c.token},
		Platform:      c.platform,
		Latency:       c.latency,
		WebhookURL:    c.webhookURL,
		WebhookSecret: c.webhookSecret,
		Logger:        c.m.logger(),
	})
	defer sim.Close()
	if c.seed == "demo" {
		sim.Load(rechargetest.DemoSeed())
	}
	if c.customers > 0 {
		sim.Load(rechargetest.GenerateSeed(c.customers, 1))
	}
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", c.addr, err)
	}
	url := "http://" + ln.Addr().String()
	fmt.Fprintf(c.m.Stdout, "Recharge simulator listening on %s (token %q, seed %s", url, c.token, c.seed)
	if c.customers > 0 {
		fmt.Fprintf(c.m.Stdout, " + %d generated customers", c.customers)
	}
	fmt.Fprintln(c.m.Stdout, ")")
	fmt.Fprintf(c.m.Stdout, "Try:\n  RECHARGE_API_URL=%s RECHARGE_API_TOKEN=%s rechargekit lookup --email alex.rivera@example.com\n", url, c.token)
	fmt.Fprintln(c.m.Stdout, "Test controls: GET /__sim/stats, POST /__sim/faults, POST /__sim/webhooks/lose, POST /__sim/reset. Press Ctrl-C to stop.")
	last := ""
	printPages := func() {
		if line := pagesLine(sim.Stats()); line != last {
			fmt.Fprintln(c.m.Stdout, line)
			last = line
		}
	}
	if c.statsEvery > 0 {
		done := make(chan struct{})
		defer close(done)
		go func() {
			t := time.NewTicker(c.statsEvery)
			defer t.Stop()
			for {
				select {
				case <-t.C:
					printPages()
				case <-done:
					return
				}
			}
		}()
	}
	err = c.m.serve(ctx, "simulate", ln, sim)
	fmt.Fprintln(c.m.Stdout, pagesLine(sim.Stats()))
	return err
}

// pagesLine summarises the list pages served, by route, with the pages
// read more than once: "Pages served: GET /customers 12 (1 again), ...".
func pagesLine(st rechargetest.Stats) string {
	routes := slices.Sorted(maps.Keys(st.Pages))
	if len(routes) == 0 {
		return "Pages served: none"
	}
	parts := make([]string, 0, len(routes))
	for _, r := range routes {
		parts = append(parts, fmt.Sprintf("%s %d (%d again)", r, st.Pages[r], st.RepeatedPages[r]))
	}
	return "Pages served: " + strings.Join(parts, ", ")
}
