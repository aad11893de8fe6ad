package server_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/cards"
	"github.com/rechargekit/rechargekit/recharge/rechargetest"
	"github.com/rechargekit/rechargekit/server"
)

// detailsCards is a card service that adds hand-made details to the
// simulator's cards, as the data side will once it is merged, and counts
// the invalidations the refresh button asks for.
type detailsCards struct {
	rechargekit.CardService
	// details returns the customer's details; card is the simulator's card,
	// whose subscriptions it may rewrite (their AddressID, or many more).
	details func(card *rechargekit.Card) *rechargekit.CardDetails

	// invalidateErr, when set, is what Invalidate answers (a cache that
	// does not answer).
	invalidateErr error

	mu          sync.Mutex
	invalidated []int64
}

func (d *detailsCards) Card(ctx context.Context, customerID int64) (*rechargekit.Card, error) {
	card, err := d.CardService.Card(ctx, customerID)
	if err != nil {
		return card, err
	}
	c := *card
	c.Subscriptions = append([]*rechargekit.Subscription(nil), card.Subscriptions...)
	c.Details = nil // nil details: a card read without them (an older cached card)
	if d.details != nil {
		c.Details = d.details(&c)
	}
	return &c, nil
}

// Invalidate records the call, as cards.Cached would mark the card stale.
func (d *detailsCards) Invalidate(_ context.Context, customerID int64) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.invalidated = append(d.invalidated, customerID)
	return d.invalidateErr
}

func (d *detailsCards) Invalidated() []int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]int64(nil), d.invalidated...)
}

// adminBase is the merchant admin the tests link to.
const adminBase = "https://example-store-sp.admin.rechargeapps.com"

// MustDetailsEnv starts the console with cards that carry the details.
func MustDetailsEnv(tb testing.TB, details func(*rechargekit.Card) *rechargekit.CardDetails, links rechargekit.AdminLinks) (*env, *detailsCards) {
	tb.Helper()
	dc := &detailsCards{details: details}
	e := MustEnv(tb, envOptions{Config: func(cfg *server.Config) {
		dc.CardService = cfg.Cards
		cfg.Cards = dc
		cfg.Profiles = &cards.Profiles{Cards: dc, Store: cfg.Store, Logger: discardLogger()}
		cfg.AdminLinks = links
	}})
	return e, dc
}

func tm(tb testing.TB, s string) *time.Time {
	tb.Helper()
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		tb.Fatal(err)
	}
	return &t
}

// alexDetails are Alex Rivera's details, shaped after the captured
// charges (gladly-app-platform data/pull/charges), the payment method of
// the rechargesharp capture and the events of spec section 2.5: a next
// shipment of two subscriptions and a one-time product with a discount,
// one line skipped and the shipping not re-quoted yet after an unskip; a
// failed payment with its retry; a card expiring within weeks of now.
func alexDetails(tb testing.TB, now time.Time) func(*rechargekit.Card) *rechargekit.CardDetails {
	return func(card *rechargekit.Card) *rechargekit.CardDetails {
		home := &rechargekit.Address{ID: 195741005, FirstName: "Alex", LastName: "Rivera", Address1: "1001 Everglades Avenue",
			Address2: "Apartment 304, Oakwood Residences", City: "Auburn", Province: "Alabama", Zip: "35004", Country: "United States", PaymentMethodID: 324534534}
		office := &rechargekit.Address{ID: 195741006, FirstName: "Alex", LastName: "Rivera", Company: "Rivera Design", Address1: "20 Harbor Street",
			City: "Mobile", Province: "Alabama", Zip: "36602", Country: "US"}
		img := map[int64]string{}
		for i, s := range card.Subscriptions {
			img[s.ID] = s.Product.ImageURL
			c := *s
			c.AddressID = home.ID
			card.Subscriptions[i] = &c
		}
		next := &rechargekit.Charge{
			ID: 1302050269, AddressID: home.ID, Status: rechargekit.ChargeQueued, Type: "recurring",
			ScheduledAt: now.AddDate(0, 0, 5).Format("2006-01-02"), Currency: "USD",
			Lines: []rechargekit.ChargeLine{
				{SubscriptionID: 585062092, Title: "Dog Lovers T-Shirt", VariantTitle: "Large / Heather Grey", SKU: "DOG-TEE-L", ImageURL: img[585062092], Quantity: 1, UnitPrice: "25.00", TotalPrice: "25.00"},
				{SubscriptionID: 585062000, Title: "Dog Dental Chews", VariantTitle: "30 count", ImageURL: img[585062000], Quantity: 2, UnitPrice: "14.95", TotalPrice: "29.90", Skipped: true},
				{SubscriptionID: 601000017, OneTime: true, Title: "Tennis Ball Launcher", VariantTitle: "Mini", Quantity: 1, UnitPrice: "19.00", TotalPrice: "19.00"},
			},
			Discounts:      []rechargekit.Discount{{Code: "WELCOME10", Value: "10", ValueType: "percentage", Amount: "4.40"}},
			Shipping:       []rechargekit.ShippingLine{{Title: "pending", Code: "pending", Price: "0.00", Pending: true}},
			SubtotalPrice:  "44.00",
			TotalDiscounts: "4.40",
			TotalTax:       "0.00",
			TotalPrice:     "39.60",
			ShipTo:         home,
		}
		failed := &rechargekit.Charge{
			ID: 1302050301, AddressID: office.ID, Status: rechargekit.ChargeError, Type: "recurring",
			ScheduledAt: now.AddDate(0, 0, -2).Format("2006-01-02"), Currency: "USD",
			Lines: []rechargekit.ChargeLine{
				{SubscriptionID: 585061999, Title: "Cat Pajamas", VariantTitle: "Large", SKU: "111-3", Quantity: 1, UnitPrice: "49.50", TotalPrice: "49.50"},
			},
			Shipping:      []rechargekit.ShippingLine{{Title: "Standard", Code: "Standard", Price: "4.90"}},
			SubtotalPrice: "49.50", TotalDiscounts: "0.00", TotalTax: "0.00", TotalPrice: "54.40",
			ShipTo:        office,
			ErrorType:     "CARD_DECLINED",
			Error:         "Your card was declined.",
			Attempts:      2,
			LastAttemptAt: tm(tb, now.Add(-20*time.Hour).Format(time.RFC3339)),
			RetryAt:       tm(tb, now.Add(72*time.Hour).Format(time.RFC3339)),
		}
		exp := now.AddDate(0, 1, 0)
		paid := tm(tb, "2025-02-03T22:41:14Z")
		refunded := tm(tb, "2025-01-03T22:40:02Z")
		return &rechargekit.CardDetails{
			NextCharges: []*rechargekit.Charge{failed, next},
			Payment: &rechargekit.Payment{
				InDunning: true,
				Failing:   []*rechargekit.Charge{failed},
				Default: &rechargekit.PaymentMethod{ID: 324534534, Default: true, Type: "CREDIT_CARD", Brand: "visa", Last4: "0001",
					ExpMonth: int(exp.Month()), ExpYear: exp.Year()},
			},
			RecentOrders: []*rechargekit.Charge{
				{ID: 1302050276, Status: rechargekit.ChargeSuccess, ScheduledAt: "2025-02-03", ProcessedAt: paid, Currency: "USD", OrderName: "#1016",
					Lines:    []rechargekit.ChargeLine{{SubscriptionID: 589553679, Title: "Cat Pajamas", VariantTitle: "Large", Quantity: 1, UnitPrice: "49.50", TotalPrice: "49.50"}},
					Shipping: []rechargekit.ShippingLine{{Title: "Standard", Price: "4.90"}}, SubtotalPrice: "49.50", TotalPrice: "54.40"},
				{ID: 1302050011, Status: rechargekit.ChargePartiallyRefunded, ScheduledAt: "2025-01-03", ProcessedAt: refunded, Currency: "USD", OrderName: "#1009",
					SubtotalPrice: "49.50", TotalPrice: "54.40"},
			},
			Addresses: []*rechargekit.Address{home, office},
			Events: []*rechargekit.Event{
				{ID: 3, At: now.Add(-20 * time.Hour), ObjectType: "charge", ObjectID: failed.ID, Verb: "failed", Description: "Failed charge #1302050301", Origin: "api", Who: "rechargekit-production"},
				{ID: 2, At: now.Add(-26 * time.Hour), ObjectType: "charge", ObjectID: next.ID, Verb: "skipped", Description: "Skipped Dog Dental Chews on the next charge", Origin: "portal", Who: "the customer"},
			},
		}
	}
}

// openAlex signs in as the agent and returns Alex Rivera's profile page.
func openAlex(tb testing.TB, e *env) (*browser, page) {
	tb.Helper()
	b := e.Browser(tb).MustLogin(agentEmail, agentPassword)
	p := b.Get("/profiles/" + profAlex)
	if p.Status != http.StatusOK {
		tb.Fatalf("GET the profile = %d\n%s", p.Status, p.Body)
	}
	return b, p
}

func TestCardSections(t *testing.T) {
	t.Parallel()
	now := time.Now().UTC()
	e, _ := MustDetailsEnv(t, alexDetails(t, now), rechargekit.AdminLinks{Base: adminBase})
	e.Clock.Set(now)
	_, p := openAlex(t, e)
	body := p.Body

	// The next shipment: every line, the skipped one marked, the one-time
	// product tagged, the discount, the total not final, where it ships.
	mustContain(t, body,
		`id="next-shipments"`, `id="shipment-1302050269"`,
		"Dog Lovers T-Shirt", "Large / Heather Grey", "25.00 USD",
		"Dog Dental Chews", "30 count", "2 ×", "14.95 USD", `line line--skipped`, ">Skipped<",
		"Tennis Ball Launcher", "One-time",
		"WELCOME10 (10% off) −4.40 USD", "pending: not quoted yet", "39.60 USD", "not final",
		"1001 Everglades Avenue", "Apartment 304, Oakwood Residences", "35004 Auburn, Alabama", "United States",
		"in 5 days",
	)
	// The payment problem in plain words, with Recharge's own, the
	// attempts, the last attempt and the retry; the dunning flag; the
	// default card with its coming expiry.
	mustContain(t, body,
		`payment payment--failing`, "The card was declined.", "CARD_DECLINED", "Recharge says: “Your card was declined.”",
		"<dt>Attempts</dt><dd>2</dd>", "in 3 days", `id="dunning"`, "In dunning",
		"Credit card", "Visa", "•••• 0001", fmt.Sprintf("expires %02d/%d", int(now.AddDate(0, 1, 0).Month()), now.AddDate(0, 1, 0).Year()), "Expires soon",
	)
	// Recent orders, addresses and the timeline.
	mustContain(t, body,
		`id="recent-orders"`, "#1016", "Paid", "#1009", "Partially refunded",
		`id="addresses"`, "Rivera Design", "20 Harbor Street", "36602 Mobile, Alabama",
		`id="timeline"`, "Failed charge #1302050301", "by rechargekit-production", "by the customer",
	)
	// The payment problem and the next shipment are above the
	// subscriptions; orders, addresses and the timeline below them.
	at := func(s string) int {
		i := strings.Index(body, s)
		if i < 0 {
			t.Fatalf("page lacks %q", s)
		}
		return i
	}
	if !(at(`id="payment"`) < at(`id="next-shipments"`) && at(`id="next-shipments"`) < at(`class="subs"`) &&
		at(`class="subs"`) < at(`id="recent-orders"`) && at(`id="recent-orders"`) < at(`id="timeline"`)) {
		t.Error("the sections are out of order: want the failing payment, then the next shipments, the subscriptions, then orders and the timeline")
	}
	// Each subscription says which shipment it goes in and where it ships.
	tee := subPanel(t, body, "585062092")
	mustContain(t, tee, `href="#shipment-1302050269"`, "In the next shipment", "ships to 1001 Everglades Avenue, Auburn",
		adminBase+"/merchant/subscriptions/585062092/details")
	mustContain(t, subPanel(t, body, "585062000"), "Skipped in the next shipment")
	// Open in Recharge: the customer, each subscription, each charge.
	mustContain(t, body,
		`href="`+adminBase+`/merchant/customers/183940021"`,
		`href="`+adminBase+`/merchant/orders/charges/1302050269"`,
		`href="`+adminBase+`/merchant/orders/charges/1302050301"`,
		`target="_blank" rel="noopener noreferrer"`,
	)
	// Line images go through the console's image proxy like the
	// subscriptions' own.
	if !regexp.MustCompile(`class="line__img" src="/img\?u=`).MatchString(body) {
		t.Error("the shipment's line images do not go through the image proxy")
	}
}

// subPanel returns the HTML of one subscription's panel.
func subPanel(tb testing.TB, body, id string) string {
	tb.Helper()
	for _, chunk := range strings.Split(body, `<article class="sub`)[1:] {
		chunk, _, _ = strings.Cut(chunk, "</article>")
		if strings.Contains(chunk, `data-subscription-id="`+id+`"`) {
			return chunk
		}
	}
	tb.Fatalf("no panel of subscription %s", id)
	return ""
}

func TestCardHealthyPaymentBelowShipment(t *testing.T) {
	t.Parallel()
	now := time.Now().UTC()
	base := alexDetails(t, now)
	e, _ := MustDetailsEnv(t, func(c *rechargekit.Card) *rechargekit.CardDetails {
		d := base(c)
		d.NextCharges = d.NextCharges[1:]
		d.Payment = &rechargekit.Payment{Default: &rechargekit.PaymentMethod{Type: "PAYPAL", Email: "alex.rivera@example.com", Default: true}}
		return d
	}, rechargekit.AdminLinks{})
	e.Clock.Set(now)
	_, p := openAlex(t, e)
	mustContain(t, p.Body, "Payments are healthy.", "PayPal", "alex.rivera@example.com")
	mustNotContain(t, p.Body, "payment--failing", `id="dunning"`, "Expires soon", "Expired<")
	if strings.Index(p.Body, `id="next-shipments"`) > strings.Index(p.Body, `id="payment"`) {
		t.Error("with healthy payments the next shipment should come first")
	}
	// No admin base URL: no links rather than wrong ones.
	mustNotContain(t, p.Body, "Open in Recharge", "admin.rechargeapps.com")
}

func TestCardExpiredCardAndRetriesRunOut(t *testing.T) {
	t.Parallel()
	now := time.Now().UTC()
	base := alexDetails(t, now)
	e, _ := MustDetailsEnv(t, func(c *rechargekit.Card) *rechargekit.CardDetails {
		d := base(c)
		f := d.Payment.Failing[0]
		f.ErrorType, f.Error, f.Attempts, f.RetryAt, f.RetriesExhausted = "CLOSED_MAX_RETRIES_REACHED", "Max retries reached.", 6, nil, true
		exp := now.AddDate(0, -2, 0)
		d.Payment.Default.ExpMonth, d.Payment.Default.ExpYear = int(exp.Month()), exp.Year()
		return d
	}, rechargekit.AdminLinks{})
	e.Clock.Set(now)
	_, p := openAlex(t, e)
	mustContain(t, p.Body, "Recharge gave up after the last retry.", "retries have run out", "<dt>Attempts</dt><dd>6</dd>", ">Expired<")
}

// Each section that could not be read says so in one line, and the rest
// of the card is intact.
func TestCardSectionUnavailable(t *testing.T) {
	t.Parallel()
	now := time.Now().UTC()
	for _, tt := range []struct {
		section string
		gone    string // what the page must lack once the section is gone
		kept    []string
	}{
		{rechargekit.SectionNextCharges, "Tennis Ball Launcher", []string{"In dunning", "#1016", "Rivera Design", "Failed charge #1302050301"}},
		{rechargekit.SectionPayment, "•••• 0001", []string{"Tennis Ball Launcher", "#1016", "Rivera Design", "Failed charge #1302050301"}},
		{rechargekit.SectionRecentOrders, "#1016", []string{"Tennis Ball Launcher", "•••• 0001", "Rivera Design", "Failed charge #1302050301"}},
		{rechargekit.SectionAddresses, "data-address-id=", []string{"Tennis Ball Launcher", "•••• 0001", "#1016", "Failed charge #1302050301"}},
		{rechargekit.SectionEvents, "Failed charge #1302050301", []string{"Tennis Ball Launcher", "•••• 0001", "#1016", "Rivera Design"}},
	} {
		t.Run(tt.section, func(t *testing.T) {
			t.Parallel()
			base := alexDetails(t, now)
			why := "The Recharge token may not read " + tt.section + "."
			e, _ := MustDetailsEnv(t, func(c *rechargekit.Card) *rechargekit.CardDetails {
				d := base(c)
				switch tt.section {
				case rechargekit.SectionNextCharges:
					d.NextCharges = nil
				case rechargekit.SectionPayment:
					d.Payment = nil
				case rechargekit.SectionRecentOrders:
					d.RecentOrders = nil
				case rechargekit.SectionAddresses:
					d.Addresses = nil
				case rechargekit.SectionEvents:
					d.Events = nil
				}
				d.Unavailable = map[string]string{tt.section: why}
				return d
			}, rechargekit.AdminLinks{})
			e.Clock.Set(now)
			_, p := openAlex(t, e)
			mustContain(t, p.Body, why, "Dog Lovers T-Shirt")
			mustContain(t, p.Body, tt.kept...)
			if n := strings.Count(p.Body, "data-unavailable"); n != 1 {
				t.Errorf("%d sections say they are unavailable, want 1", n)
			}
			if tt.section != rechargekit.SectionNextCharges && tt.section != rechargekit.SectionPayment {
				mustNotContain(t, p.Body, tt.gone)
			}
		})
	}
}

// A card without details (the data side not merged, or an older cached
// card) shows as before.
func TestCardWithoutDetails(t *testing.T) {
	t.Parallel()
	e, _ := MustDetailsEnv(t, nil, rechargekit.AdminLinks{Base: adminBase})
	_, p := openAlex(t, e)
	mustContain(t, p.Body, "Dog Lovers T-Shirt", `id="refresh"`, adminBase+"/merchant/customers/183940021")
	mustNotContain(t, p.Body, `id="next-shipments"`, `id="payment"`, `id="timeline"`)
}

// A customer with 60 subscriptions stays usable: the cancelled and expired
// ones are collapsed and a filter box is offered.
func TestCardManySubscriptions(t *testing.T) {
	t.Parallel()
	e, _ := MustDetailsEnv(t, func(c *rechargekit.Card) *rechargekit.CardDetails {
		proto := c.Subscriptions[0]
		c.Subscriptions = nil
		for i := range 60 {
			s := *proto
			s.ID = int64(700000000 + i)
			s.Product.Name = fmt.Sprintf("Coffee blend %02d", i)
			switch {
			case i%3 == 1:
				s.Status = rechargekit.StatusCancelled
			case i%3 == 2:
				s.Status = rechargekit.StatusExpired
			default:
				s.Status = rechargekit.StatusActive
			}
			c.Subscriptions = append(c.Subscriptions, &s)
		}
		return &rechargekit.CardDetails{}
	}, rechargekit.AdminLinks{})
	_, p := openAlex(t, e)
	mustContain(t, p.Body, `id="sub-filter"`, `data-filter=".subs .sub"`, `<details class="subs__inactive" id="inactive-subs">`, "Cancelled and expired (40)")
	inactive := p.Body[strings.Index(p.Body, `id="inactive-subs"`):]
	if n := strings.Count(inactive, `<article class="sub sub--inactive`); n != 40 {
		t.Errorf("%d inactive panels in the collapsed group, want 40", n)
	}
	if n := strings.Count(p.Body, `<article class="sub sub--active`); n != 20 {
		t.Errorf("%d active panels, want 20", n)
	}
	if strings.Contains(p.Body, "<script>") || strings.Contains(p.Body, " oninput=") {
		t.Error("the filter uses inline script, which the CSP forbids")
	}

	// Alex's three subscriptions are all laid out: no filter, nothing
	// collapsed.
	e2, _ := MustDetailsEnv(t, func(*rechargekit.Card) *rechargekit.CardDetails { return &rechargekit.CardDetails{} }, rechargekit.AdminLinks{})
	_, p2 := openAlex(t, e2)
	mustNotContain(t, p2.Body, `id="sub-filter"`, `id="inactive-subs"`)
	mustContain(t, p2.Body, "Cat Pajamas")
}

// The refresh button invalidates the linked customer's card, as a webhook
// would, and sends the agent back to the card; it is a POST with the
// session's CSRF token.
func TestCardRefresh(t *testing.T) {
	t.Parallel()
	e, dc := MustDetailsEnv(t, nil, rechargekit.AdminLinks{})
	b, p := openAlex(t, e)
	mustContain(t, p.Body, `action="/profiles/`+profAlex+`/refresh"`, `id="refresh"`)

	// Without the CSRF token: refused, nothing invalidated.
	if r := b.Post("/profiles/"+profAlex+"/refresh", url.Values{}); r.Status != http.StatusForbidden {
		t.Errorf("refresh without CSRF = %d, want 403", r.Status)
	}
	if got := dc.Invalidated(); len(got) != 0 {
		t.Fatalf("refused refresh invalidated %v", got)
	}

	r := b.Post("/profiles/"+profAlex+"/refresh", url.Values{"csrf": {CSRF(t, p.Body)}})
	if r.Status != http.StatusSeeOther || r.Resp.Header.Get("Location") != "/profiles/"+profAlex {
		t.Fatalf("refresh = %d to %q, want 303 to the profile", r.Status, r.Resp.Header.Get("Location"))
	}
	if got := dc.Invalidated(); len(got) != 1 || got[0] != rechargetest.DemoAlexRiveraID {
		t.Errorf("invalidated %v, want [%d]", got, rechargetest.DemoAlexRiveraID)
	}
	mustContain(t, b.Get("/profiles/"+profAlex).Body, "Read again from Recharge just now.")

	// An unlinked profile has no card to refresh.
	r = b.Post("/profiles/"+profNoMatch+"/refresh", url.Values{"csrf": {CSRF(t, p.Body)}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("refresh of an unlinked profile = %d, want 303", r.Status)
	}
	if got := dc.Invalidated(); len(got) != 1 {
		t.Errorf("refresh of an unlinked profile invalidated %v", got)
	}
	mustContain(t, b.Get("/profiles/"+profNoMatch).Body, "This profile is not linked.")
}

// The refresh button really re-reads Recharge: over the cached card
// service, a change in Recharge shows after a refresh and not before.
func TestCardRefreshRereadsRecharge(t *testing.T) {
	t.Parallel()
	var cached *cards.Cached
	e := MustEnv(t, envOptions{Config: func(cfg *server.Config) {
		cached = cards.NewCached(cfg.Cards, cards.NewMemoryCache(10), cards.CachedOptions{TTL: time.Hour, Logger: discardLogger()})
		cfg.Cards = cached
		cfg.Profiles = &cards.Profiles{Cards: cached, Store: cfg.Store, Logger: discardLogger()}
	}})
	t.Cleanup(func() { cached.Close() })
	b, p := openAlex(t, e)
	mustContain(t, p.Body, `<dd id="count-total">3</dd>`)
	if ids := e.Sim.AddSubscriptions(rechargetest.DemoAlexRiveraID, 2); len(ids) != 2 {
		t.Fatalf("added %v, want two subscriptions", ids)
	}
	mustContain(t, b.Get("/profiles/"+profAlex).Body, `<dd id="count-total">3</dd>`) // the cached card, before the refresh
	b.Post("/profiles/"+profAlex+"/refresh", url.Values{"csrf": {CSRF(t, p.Body)}})
	mustContain(t, b.Get("/profiles/"+profAlex).Body, `<dd id="count-total">5</dd>`)
}

// Processor and customer tokens never reach a page. The card has no field
// that carries them (rechargekit.PaymentMethod keeps none), so no Card
// field can be poisoned with one; this greps the page of the fullest card,
// its payment method taken from the rechargesharp capture whose tokens are
// cus_testtest1 and pm_testtest1, for anything token-shaped.
func TestCardShowsNoProcessorTokens(t *testing.T) {
	t.Parallel()
	now := time.Now().UTC()
	e, _ := MustDetailsEnv(t, alexDetails(t, now), rechargekit.AdminLinks{Base: adminBase})
	_, p := openAlex(t, e)
	tokenRE := regexp.MustCompile(`\b(tok|pm|cus|card|src|seti|pi|ba|BA)_[A-Za-z0-9]{6,}`)
	if m := tokenRE.FindAllString(p.Body, -1); len(m) > 0 {
		t.Errorf("the page shows token-shaped values: %v", m)
	}
}

// When the cache cannot be invalidated the agent is told the card may be
// a few minutes old, and the failure is logged.
func TestCardRefreshFails(t *testing.T) {
	t.Parallel()
	e, dc := MustDetailsEnv(t, nil, rechargekit.AdminLinks{})
	dc.mu.Lock()
	dc.invalidateErr = errors.New("redis: connection refused")
	dc.mu.Unlock()
	b, p := openAlex(t, e)
	r := b.Post("/profiles/"+profAlex+"/refresh", url.Values{"csrf": {CSRF(t, p.Body)}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("refresh = %d, want 303", r.Status)
	}
	mustContain(t, b.Get("/profiles/"+profAlex).Body, "may be up to a few minutes old", "Dog Lovers T-Shirt")
	if !strings.Contains(e.Logs.String(), "refresh: invalidate the card failed") {
		t.Error("the failed invalidation was not logged")
	}
}
