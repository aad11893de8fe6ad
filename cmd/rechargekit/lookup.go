package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/cards"
	"github.com/rechargekit/rechargekit/recharge"
)

// lookupCommand prints the Subscription card of one Recharge customer, found
// by email or by Recharge customer id, straight from the Recharge API.
type lookupCommand struct {
	m          *Main
	email      string
	customerID string
	asJSON     bool
	timeout    time.Duration
}

func (c *lookupCommand) parseFlags(args []string) error {
	fs := c.m.newFlagSet("lookup", "(--email E | --customer-id ID) [--json]")
	fs.StringVar(&c.email, "email", "", "find the customer by email")
	fs.StringVar(&c.customerID, "customer-id", "", "the Recharge customer id")
	fs.BoolVar(&c.asJSON, "json", false, "print JSON (the SUBSCRIPTION transaction fields plus a customer object)")
	fs.DurationVar(&c.timeout, "timeout", 30*time.Second, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if c.timeout <= 0 {
		return fmt.Errorf("--timeout must be positive")
	}
	if err := c.m.checkRechargeEnv(); err != nil {
		return err
	}
	if (c.email == "") == (c.customerID == "") {
		return fmt.Errorf("give exactly one of --email or --customer-id")
	}
	return nil
}

func (c *lookupCommand) run(ctx context.Context) error {
	logger := c.m.oneShotLogger()
	client, err := c.m.rechargeClient(logger)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	svc := cards.New(&recharge.Source{Client: client, Logger: logger})
	svc.Logger = logger

	var ids []int64
	if c.customerID != "" {
		id, err := strconv.ParseInt(strings.TrimSpace(c.customerID), 10, 64)
		if err != nil || id <= 0 {
			return fmt.Errorf("--customer-id %q is not a Recharge customer id (a positive number)", c.customerID)
		}
		ids = append(ids, id)
	} else {
		matches, err := svc.FindCustomers(ctx, rechargekit.CustomerSearch{Emails: []string{c.email}})
		if err != nil {
			return describe(err)
		}
		if len(matches) == 0 {
			return fmt.Errorf("no Recharge customer has the email %q", c.email)
		}
		for _, m := range matches {
			ids = append(ids, m.Customer.ID)
		}
	}

	cardsOut := make([]*rechargekit.Card, 0, len(ids))
	for _, id := range ids {
		card, err := svc.Card(ctx, id)
		if err != nil {
			return describe(err)
		}
		cardsOut = append(cardsOut, card)
	}
	if c.asJSON {
		enc := json.NewEncoder(c.m.Stdout)
		enc.SetIndent("", "  ")
		if len(cardsOut) == 1 {
			return enc.Encode(cardsOut[0])
		}
		return enc.Encode(cardsOut)
	}
	for i, card := range cardsOut {
		if i > 0 {
			fmt.Fprintln(c.m.Stdout)
		}
		printCard(c.m.Stdout, card)
	}
	return nil
}

// checkRechargeEnv checks the settings of a command that calls Recharge
// (RECHARGE_API_URL, RECHARGE_RATE_LIMIT, LOG_LEVEL) before it starts.
func (m *Main) checkRechargeEnv() error {
	if err := m.checkEnv("RECHARGE_API_URL", "LOG_LEVEL"); err != nil {
		return err
	}
	_, _, err := m.rateLimit()
	return err
}

// rechargeClient builds a Recharge client from RECHARGE_API_URL and RECHARGE_API_TOKEN.
func (m *Main) rechargeClient(logger *slog.Logger) (*recharge.Client, error) {
	token, err := m.rechargeToken()
	if err != nil {
		return nil, err
	}
	size, perSecond, err := m.rateLimit()
	if err != nil {
		return nil, err
	}
	return recharge.NewClient(token, recharge.WithBaseURL(m.rechargeURL()), recharge.WithLogger(logger),
		recharge.WithRateLimit(size, perSecond)), nil
}

// rateLimit returns the token's Recharge bucket from RECHARGE_RATE_LIMIT,
// "<bucket size>/<requests per second>" (e.g. "40/4" for a token with twice
// the leak rate), or Recharge's default 40/2.
func (m *Main) rateLimit() (size int, perSecond float64, err error) {
	v := m.Getenv("RECHARGE_RATE_LIMIT")
	if v == "" {
		return recharge.DefaultBucketSize, recharge.DefaultLeakRate, nil
	}
	a, b, ok := strings.Cut(v, "/")
	size, err1 := strconv.Atoi(strings.TrimSpace(a))
	perSecond, err2 := strconv.ParseFloat(strings.TrimSpace(b), 64)
	if !ok || err1 != nil || err2 != nil || size < 1 || !(perSecond > 0) || math.IsInf(perSecond, 0) {
		return 0, 0, fmt.Errorf("RECHARGE_RATE_LIMIT must be <bucket size>/<requests per second>, e.g. 40/2, not %q", v)
	}
	return size, perSecond, nil
}

// rechargeToken returns RECHARGE_API_TOKEN, or an error saying how to set it.
func (m *Main) rechargeToken() (string, error) {
	token := strings.TrimSpace(m.Getenv("RECHARGE_API_TOKEN"))
	if token == "" {
		return "", fmt.Errorf("RECHARGE_API_TOKEN is not set: export the store's Recharge API token (or run 'rechargekit simulate' and use its token)")
	}
	return token, nil
}

// rechargeURL returns RECHARGE_API_URL, or Recharge's own API.
func (m *Main) rechargeURL() string {
	return m.envOr("RECHARGE_API_URL", recharge.DefaultBaseURL)
}

// logger returns the logger of demo and simulate: text on stderr, warnings
// and up unless LOG_LEVEL says otherwise.
func (m *Main) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(m.Stderr, &slog.HandlerOptions{Level: m.logLevel("warn")}))
}

// oneShotLogger returns the logger of a command that makes a few calls and
// exits (lookup, webhooks): errors only unless LOG_LEVEL says otherwise. The
// command prints its own failure as one line; the layers below would
// otherwise each warn about that same failure first. LOG_LEVEL=warn or debug
// shows what led to it.
func (m *Main) oneShotLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(m.Stderr, &slog.HandlerOptions{Level: m.logLevel("error")}))
}

// jsonLogger returns a server's logger: JSON lines on stderr, info and up
// unless LOG_LEVEL says otherwise.
func (m *Main) jsonLogger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(m.Stderr, &slog.HandlerOptions{Level: m.logLevel("info")}))
}

func (m *Main) logLevel(def string) slog.Level {
	var level slog.Level
	if err := level.UnmarshalText([]byte(m.envOr("LOG_LEVEL", def))); err != nil {
		_ = level.UnmarshalText([]byte(def))
	}
	return level
}

// describe turns a domain error into the one line a person at a terminal
// needs: its message, then its cause once for everything that is not the
// user's input. The domain error's own text ("rechargekit: upstream: ...")
// is not repeated: it would say the same thing twice.
func describe(err error) error {
	var de *rechargekit.Error
	if !errors.As(err, &de) {
		return err
	}
	msg := de.Message
	switch de.Code {
	case rechargekit.ENOTFOUND, rechargekit.EINVALID, rechargekit.ECONFLICT:
		return errors.New(msg)
	case rechargekit.EUPSTREAM:
	default:
		return err
	}
	// The message is a sentence; the cause reads on after it.
	msg = strings.TrimSuffix(msg, ".")
	cause := de.Err
	if errors.Is(err, rechargekit.ErrUpstreamRefused) {
		msg = "Recharge refused the API token (check RECHARGE_API_TOKEN and its scopes)"
		// The refusal's cause is the sentinel, then the client's error:
		// name the refusal once, with Recharge's own answer after it.
		if u, ok := cause.(interface{ Unwrap() []error }); ok && len(u.Unwrap()) == 2 {
			cause = u.Unwrap()[1]
		}
	}
	if cause == nil {
		return errors.New(msg)
	}
	return fmt.Errorf("%s: %w", msg, cause)
}

// printCard writes a card as a readable block of text. Recharge data is
// untrusted, so control characters are removed before it reaches a terminal.
func printCard(w io.Writer, card *rechargekit.Card) {
	cu := card.Customer
	name := clean(cu.Name())
	if name == "" {
		name = "(no name)"
	}
	fmt.Fprintf(w, "%s <%s>\n", name, clean(cu.Email))
	summary := []string{"Recharge customer " + strconv.FormatInt(cu.ID, 10)}
	if cu.ExternalID != "" {
		summary = append(summary, "Shopify customer "+clean(cu.ExternalID))
	}
	if cu.Phone != "" {
		summary = append(summary, "phone "+clean(cu.Phone))
	}
	fmt.Fprintln(w, strings.Join(summary, " · "))
	fmt.Fprintf(w, "Subscriptions: %s total, %s active (fetched %s)\n",
		count(cu.SubscriptionsTotal), count(cu.SubscriptionsActive), card.FetchedAt.UTC().Format(rechargekit.TimeLayout))
	if len(card.Subscriptions) == 0 {
		fmt.Fprintln(w, "\n  no subscriptions")
	}
	for _, s := range card.Subscriptions {
		fmt.Fprintln(w)
		title := clean(s.Product.Name)
		if s.Product.VariantName != "" {
			title += " — " + clean(s.Product.VariantName)
		}
		fmt.Fprintf(w, "  %-9s %s\n", strings.ToUpper(clean(s.Status)), title)
		kv := func(k, v string) {
			if v == "" {
				v = "—"
			}
			fmt.Fprintf(w, "            %-18s %s\n", k, v)
		}
		kv("Subscription ID", strconv.FormatInt(s.ID, 10))
		price := clean(s.Price)
		if s.Currency != "" {
			price += " " + clean(s.Currency)
		}
		kv("Price", price)
		kv("Quantity", strconv.Itoa(s.Quantity))
		kv("Billing interval", interval(s.ChargeIntervalFrequency, s.IntervalUnit))
		if s.IsCancelled() || s.CancelledAt != nil {
			kv("Cancelled", formatTime(s.CancelledAt))
			reason := clean(s.CancellationReason)
			if s.CancellationReasonComments != "" {
				reason += " (" + clean(s.CancellationReasonComments) + ")"
			}
			kv("Reason", reason)
		} else {
			kv("Next billing", clean(s.NextChargeDate))
		}
		kv("Created", formatTime(&s.CreatedAt))
		kv("Updated", formatTime(&s.UpdatedAt))
		kv("Product ID", clean(s.Product.ID))
		kv("SKU", clean(s.Product.SKU))
		kv("Image", clean(s.Product.ImageURL))
	}
}

func count(n *int) string {
	if n == nil {
		return "?"
	}
	return strconv.Itoa(*n)
}

func interval(freq int, unit string) string {
	if freq == 0 || unit == "" {
		return ""
	}
	unit = clean(unit)
	if freq != 1 {
		unit += "s"
	}
	return fmt.Sprintf("every %d %s", freq, unit)
}

func formatTime(t *time.Time) string {
	if t == nil || t.IsZero() {
		return ""
	}
	return t.UTC().Format(rechargekit.TimeLayout)
}

// clean removes control characters (escape sequences included) from
// untrusted text so that it cannot rewrite the terminal.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return -1
		}
		return r
	}, s)
}
