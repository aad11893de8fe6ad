package server

import (
	"fmt"
	"html/template"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/rechargekit/rechargekit"
)

// parsePages parses every page template together with the shared layout.
func parsePages(funcs template.FuncMap) map[string]*template.Template {
	base := template.Must(template.New("layout").Funcs(funcs).ParseFS(assets, "templates/layout.html", "templates/parts.html", "templates/card.html"))
	pages := map[string]*template.Template{}
	for _, name := range []string{
		"login", "error", "profiles", "profile", "unlink",
		"settings", "users", "tokens", "audit",
		"action", "action_audit",
	} {
		t := template.Must(base.Clone())
		pages[name] = template.Must(t.ParseFS(assets, "templates/"+name+".html"))
	}
	return pages
}

func (c *console) funcs() template.FuncMap {
	return template.FuncMap{
		"asset": func(name string) string {
			return "/static/" + name + "?v=" + c.assetVer[name]
		},
		"profileURL": profileURL,
		"auditURL": func(profileID string) string {
			return "/admin/audit?profile=" + url.QueryEscape(profileID)
		},
		"clean": cleanText,
		"plural": func(n int, one, many string) string {
			if n == 1 {
				return one
			}
			return many
		},
		"initials": initials,
		"matchRow": func(m matchView, profileID, csrf string) matchRow {
			return matchRow{M: m, ProfileID: profileID, CSRF: csrf}
		},
	}
}

// matchRow is a candidate with what its Link button needs.
type matchRow struct {
	M         matchView
	ProfileID string
	CSRF      string
}

// profileURL is the console address of a profile; the id is escaped as one
// path segment, so any id a desk uses makes a working link.
func profileURL(id string) string { return "/profiles/" + url.PathEscape(id) }

// maxShownRunes is how much of one untrusted text the console shows: more
// than any real name, title or reason, far less than the 100 KB a broken
// or hostile store could send.
const maxShownRunes = 1000

// cleanText makes untrusted text safe to lay out: control characters and
// the Unicode bidirectional overrides (which can make text read backwards)
// are dropped, runs of whitespace become one space, and text longer than
// maxShownRunes is cut there and ends with "…". Escaping itself is
// html/template's job; wrapping long words is the stylesheet's.
func cleanText(s string) string {
	var b strings.Builder
	b.Grow(min(len(s), 4*maxShownRunes))
	space := false
	n := 0
	for _, r := range s {
		switch {
		case r == '\n' || r == '\t' || r == '\r' || unicode.IsSpace(r):
			space = true
			continue
		case unicode.IsControl(r), isBidiControl(r):
			continue
		}
		space = space && b.Len() > 0
		if space {
			n++
		}
		if n++; n > maxShownRunes {
			b.WriteString("…")
			break
		}
		if space {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	return b.String()
}

func isBidiControl(r rune) bool {
	return (r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069) || r == 0x200E || r == 0x200F || r == 0x061C
}

// initials returns up to two letters for an avatar.
func initials(name string) string {
	var out []rune
	for f := range strings.FieldsSeq(name) {
		for _, r := range f {
			if unicode.IsLetter(r) || unicode.IsDigit(r) {
				out = append(out, unicode.ToUpper(r))
				break
			}
		}
		if len(out) == 2 {
			break
		}
	}
	if len(out) == 0 {
		return "?"
	}
	return string(out)
}

// timeView is a moment shown to a person: a short date, the exact UTC time
// for a tooltip, and the ISO form for <time datetime>.
type timeView struct {
	Text  string // "Mar 3, 2026"
	Exact string // "2026-03-03 14:05:09 UTC"
	ISO   string // "2026-03-03T14:05:09Z"
	Ago   string // "2 minutes ago" / "in 5 days", relative to the page's clock
}

func (v timeView) IsZero() bool { return v.ISO == "" && v.Text == "" }

func newTimeView(t, now time.Time) timeView {
	if t.IsZero() {
		return timeView{}
	}
	t = t.UTC()
	return timeView{
		Text:  t.Format("Jan 2, 2006"),
		Exact: t.Format("2006-01-02 15:04:05 UTC"),
		ISO:   t.Format(time.RFC3339),
		Ago:   relativeTime(t, now),
	}
}

// newDateView shows a YYYY-MM-DD date as Recharge sends it (a calendar day
// of the store, not an instant), with how many days away it is; a value
// that does not parse is shown as it is.
func newDateView(s string, now time.Time) timeView {
	s = strings.TrimSpace(s)
	if s == "" {
		return timeView{}
	}
	d, err := time.Parse("2006-01-02", s)
	if err != nil {
		// Recharge sometimes sends a full timestamp here.
		if t, err2 := time.Parse(time.RFC3339, s); err2 == nil {
			d = time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
		} else {
			return timeView{Text: cleanText(s), Exact: cleanText(s)}
		}
	}
	today := time.Date(now.UTC().Year(), now.UTC().Month(), now.UTC().Day(), 0, 0, 0, 0, time.UTC)
	days := int(d.Sub(today).Hours() / 24)
	var ago string
	switch {
	case days == 0:
		ago = "today"
	case days == 1:
		ago = "tomorrow"
	case days == -1:
		ago = "yesterday"
	case days > 1:
		ago = fmt.Sprintf("in %d days", days)
	default:
		ago = fmt.Sprintf("%d days ago", -days)
	}
	return timeView{Text: d.Format("Mon, Jan 2, 2006"), Exact: d.Format("2006-01-02"), ISO: d.Format("2006-01-02"), Ago: ago}
}

// relativeTime says how long ago (or ahead) t is from now, in words.
func relativeTime(t, now time.Time) string {
	d := now.Sub(t)
	future := d < 0
	if future {
		d = -d
	}
	var s string
	switch {
	case d < 45*time.Second:
		return "just now"
	case d < 90*time.Second:
		s = "1 minute"
	case d < 45*time.Minute:
		s = fmt.Sprintf("%d minutes", int((d + 30*time.Second).Minutes()))
	case d < 90*time.Minute:
		s = "1 hour"
	case d < 22*time.Hour:
		s = fmt.Sprintf("%d hours", int((d + 30*time.Minute).Hours()))
	case d < 36*time.Hour:
		s = "1 day"
	default:
		s = fmt.Sprintf("%d days", int((d+12*time.Hour).Hours()/24))
	}
	if future {
		return "in " + s
	}
	return s + " ago"
}

// linkView is a profile's link as the console shows it.
type linkView struct {
	CustomerID string
	Auto       bool
	By         string
	At         timeView
}

func newLinkView(l *rechargekit.Link, now time.Time) *linkView {
	if l == nil {
		return nil
	}
	return &linkView{
		CustomerID: strconv.FormatInt(l.CustomerID, 10),
		Auto:       l.Method == rechargekit.LinkAuto,
		By:         cleanText(l.By),
		At:         newTimeView(l.At, now),
	}
}

// customerView is a Recharge customer in a card header or a candidate row.
type customerView struct {
	ID        string
	ShopifyID string
	Name      string
	Email     string
	Phone     string
	Total     string // "—" when Recharge did not say
	Active    string
}

func newCustomerView(cu *rechargekit.Customer) customerView {
	count := func(n *int) string {
		if n == nil {
			return "—"
		}
		return strconv.Itoa(*n)
	}
	name := cleanText(cu.Name())
	if name == "" {
		name = "Unnamed customer"
	}
	return customerView{
		ID:        strconv.FormatInt(cu.ID, 10),
		ShopifyID: cleanText(cu.ExternalID),
		Name:      name,
		Email:     cleanText(cu.Email),
		Phone:     cleanText(cu.Phone),
		Total:     count(cu.SubscriptionsTotal),
		Active:    count(cu.SubscriptionsActive),
	}
}

// cardView is the Subscription card.
type cardView struct {
	Customer customerView
	Fetched  timeView
	Stale    bool // served from the cache because Recharge could not answer
	// Subs are the active subscriptions, and the others too when the
	// customer has few; Inactive are the cancelled and expired ones of a
	// customer with many (more than collapseSubsOver), shown collapsed.
	Subs     []subView
	Inactive []subView
	// Filter offers the filter box: the customer has many subscriptions.
	Filter bool
	// Details are the sections beyond the subscriptions; nil when they
	// were not read.
	Details *detailsView
	// AdminURL opens the customer in Recharge's merchant admin; "" without
	// AdminLinks.
	AdminURL string
}

// collapseSubsOver is how many subscriptions a card lays out in full; past
// it the cancelled and expired ones are collapsed and a filter box is
// offered, so a 60-subscription customer stays usable.
const collapseSubsOver = 6

// subView is one subscription panel.
type subView struct {
	ID          string
	Status      string // lowercase, for the badge's class
	StatusLabel string
	Active      bool
	Cancelled   bool
	Inactive    bool // cancelled, expired or anything not active: muted

	ProductName string
	VariantName string
	SKU         string
	ProductID   string
	VariantID   string
	ImageURL    string // the image proxy's address; "" shows the placeholder

	Price    string // "25.00 USD"
	Quantity string
	Interval string // "every 1 month"
	Delivery string // "every 1 month", when it differs from billing

	NextBilling timeView
	CancelledAt timeView
	Reason      string
	Comments    string
	Created     timeView
	Updated     timeView

	// AdminURL opens it in Recharge's merchant admin; "" without
	// AdminLinks.
	AdminURL string
	// ShipsTo is its address in one line, and ShipmentID the next shipment
	// (a charge on the card) it goes in, "" when none; ShipmentSkipped
	// says its line there is skipped.
	ShipsTo         string
	ShipmentID      string
	ShipmentSkipped bool

	// Actions are the actions offered on it to the signed-in user, and
	// NotOffered why the others their role may take are not (actions.go).
	Actions    []actionButton
	NotOffered []actionWhy
}

// newCardView lays out card for the console; imageURL turns a product
// image URL from Recharge into the address the page may show (the image
// proxy's, see console.imageURLs), or "" for the placeholder; links makes
// the "Open in Recharge" links (none when its Base is empty).
func newCardView(card *rechargekit.Card, now time.Time, imageURL func(string) string, links rechargekit.AdminLinks) *cardView {
	v := &cardView{
		Customer: newCustomerView(&card.Customer),
		Fetched:  newTimeView(card.FetchedAt, now),
		Stale:    card.Stale,
		Details:  newDetailsView(card.Details, now, imageURL, links),
		AdminURL: rechargekit.SafeURL(links.Customer(card.Customer.ID)),
	}
	many := len(card.Subscriptions) > collapseSubsOver
	v.Filter = many
	for _, s := range card.Subscriptions {
		sv := newSubView(s, now)
		sv.ImageURL = imageURL(sv.ImageURL)
		sv.AdminURL = rechargekit.SafeURL(links.Subscription(s.ID))
		placeSub(&sv, s, card.Details)
		if many && (s.IsCancelled() || s.Status == rechargekit.StatusExpired) {
			v.Inactive = append(v.Inactive, sv)
			continue
		}
		v.Subs = append(v.Subs, sv)
	}
	return v
}

// placeSub says on the subscription where it ships and in which of the
// next shipments it goes: the queued or failing charge with its line, else
// the one of its address.
func placeSub(sv *subView, s *rechargekit.Subscription, d *rechargekit.CardDetails) {
	if d == nil {
		return
	}
	for _, a := range d.Addresses {
		if a != nil && s.AddressID != 0 && a.ID == s.AddressID {
			sv.ShipsTo = newAddressView(a).Short
		}
	}
	for _, c := range d.NextCharges {
		if c == nil {
			continue
		}
		if l := c.Line(s.ID); l != nil && !l.OneTime {
			sv.ShipmentID = strconv.FormatInt(c.ID, 10)
			sv.ShipmentSkipped = l.Skipped
			if sv.ShipsTo == "" && c.ShipTo != nil {
				sv.ShipsTo = newAddressView(c.ShipTo).Short
			}
			return
		}
	}
}

func newSubView(s *rechargekit.Subscription, now time.Time) subView {
	status := strings.ToLower(cleanText(s.Status))
	label := "Unknown"
	if status != "" {
		label = strings.ToUpper(status[:1]) + status[1:]
	}
	v := subView{
		ID:          strconv.FormatInt(s.ID, 10),
		Status:      statusClass(status),
		StatusLabel: label,
		Active:      s.IsActive(),
		Cancelled:   s.IsCancelled(),
		Inactive:    !s.IsActive(),
		ProductName: cleanText(s.Product.Name),
		VariantName: cleanText(s.Product.VariantName),
		SKU:         cleanText(s.Product.SKU),
		ProductID:   cleanText(s.Product.ID),
		VariantID:   cleanText(s.Product.VariantID),
		ImageURL:    rechargekit.SafeURL(s.Product.ImageURL),
		Price:       strings.TrimSpace(cleanText(s.Price) + " " + cleanText(s.Currency)),
		Interval:    interval(s.ChargeIntervalFrequency, s.IntervalUnit),
		NextBilling: newDateView(s.NextChargeDate, now),
		Reason:      cleanText(s.CancellationReason),
		Comments:    cleanText(s.CancellationReasonComments),
		Created:     newTimeView(s.CreatedAt, now),
		Updated:     newTimeView(s.UpdatedAt, now),
	}
	if v.ProductName == "" {
		v.ProductName = "Unnamed product"
	}
	if s.Quantity > 0 {
		v.Quantity = strconv.Itoa(s.Quantity)
	}
	if s.OrderIntervalFrequency > 0 && s.OrderIntervalFrequency != s.ChargeIntervalFrequency {
		v.Delivery = interval(s.OrderIntervalFrequency, s.IntervalUnit)
	}
	if s.CancelledAt != nil {
		v.CancelledAt = newTimeView(*s.CancelledAt, now)
	}
	return v
}

// statusClass maps a status to one of the badge classes the stylesheet has.
func statusClass(status string) string {
	switch status {
	case rechargekit.StatusActive, rechargekit.StatusCancelled, rechargekit.StatusExpired:
		return status
	}
	return "other"
}

// interval says "every 1 month" or "every 30 days"; "" when unknown.
func interval(n int, unit string) string {
	unit = strings.ToLower(cleanText(unit))
	if n <= 0 || unit == "" {
		return ""
	}
	if n > 1 && !strings.HasSuffix(unit, "s") {
		unit += "s"
	}
	return fmt.Sprintf("every %d %s", n, unit)
}

// matchView is a candidate customer and why it matched.
type matchView struct {
	Customer customerView
	Why      string // "email sam.t@example.org matches"
}

func newMatchViews(ms []*rechargekit.Match) []matchView {
	out := make([]matchView, 0, len(ms))
	for _, m := range ms {
		if m == nil || m.Customer == nil {
			continue
		}
		out = append(out, matchView{Customer: newCustomerView(m.Customer), Why: matchReason(m)})
	}
	return out
}

func matchReason(m *rechargekit.Match) string {
	v := cleanText(m.Value)
	switch m.By {
	case rechargekit.MatchEmail:
		return "email " + v + " matches"
	case rechargekit.MatchCustomerID:
		return "Recharge customer id " + v + " matches"
	case rechargekit.MatchExternalID:
		return "Shopify customer id " + v + " matches"
	case rechargekit.MatchPhone:
		return "phone " + v + " matches"
	case rechargekit.MatchName:
		return "name " + v + " matches"
	case rechargekit.MatchZip:
		return "zip " + v + " matches"
	}
	return "matches " + v
}

// unsearchedHint tells an agent which kinds of a search found nothing
// because only the mirror searches them ("" when every kind was searched).
func unsearchedHint(kinds []string) string {
	var names []string
	for _, k := range kinds {
		switch k {
		case rechargekit.MatchPhone, rechargekit.MatchName, rechargekit.MatchZip:
			names = append(names, k)
		}
	}
	if len(names) == 0 {
		return ""
	}
	list := names[0]
	if n := len(names); n > 1 {
		list = strings.Join(names[:n-1], ", ") + " and " + names[n-1]
	}
	return strings.ToUpper(list[:1]) + list[1:] + " search works once the mirror is complete: until then only emails and ids are searched, in Recharge."
}

// Search kinds for the manual search box. The console's box is one field
// (findAny); the others remain for links that name the kind.
const (
	findAny      = ""
	findEmail    = "email"
	findRecharge = "recharge"
	findShopify  = "shopify"
)

// maxFindLength bounds the search box; an email is at most 320 bytes.
const maxFindLength = 320

// parseFind turns the manual search box into a customer search. by picks
// what the text is; with findAny (the one box) the card service detects
// it: a "shopify:" prefix means a Shopify customer id, an "@" an email,
// plain digits are searched as both a Recharge and a Shopify customer id,
// and any text (digits too) is the search's Query, tried in the mirror as
// every kind of key it fits (a phone, a name, a zip, an id). The results
// say which one matched.
func parseFind(text, by string) (rechargekit.CustomerSearch, error) {
	var q rechargekit.CustomerSearch
	text = strings.TrimSpace(text)
	if text == "" {
		return q, rechargekit.Errorf(rechargekit.EINVALID, "Type what to search for: an email, a phone number, a name, a zip or a customer id.")
	}
	if len(text) > maxFindLength || strings.IndexFunc(text, unicode.IsControl) >= 0 {
		return q, rechargekit.Errorf(rechargekit.EINVALID, "That search is too long or holds characters that cannot be searched.")
	}
	if by == findAny && len(text) >= 8 && strings.EqualFold(text[:8], "shopify:") {
		by = findShopify
	}
	if by == findShopify && len(text) >= 8 && strings.EqualFold(text[:8], "shopify:") {
		text = strings.TrimSpace(text[8:])
	}
	digits := text != "" && strings.IndexFunc(text, func(r rune) bool { return r < '0' || r > '9' }) < 0
	switch by {
	case findAny:
		switch {
		case strings.Contains(text, "@"):
			return parseFind(text, findEmail)
		case digits:
			id, err := strconv.ParseInt(text, 10, 64)
			if err == nil && id > 0 {
				q.CustomerID = id
			}
			q.ExternalID = text
		}
		q.Query = text
		return q, nil
	case findEmail:
		local, domain, ok := strings.Cut(text, "@")
		if !ok || local == "" || domain == "" || strings.ContainsFunc(text, unicode.IsSpace) {
			return q, rechargekit.Errorf(rechargekit.EINVALID, "%q is not an email address.", text)
		}
		q.Emails = []string{text}
	case findRecharge:
		id, err := strconv.ParseInt(text, 10, 64)
		if !digits || err != nil || id <= 0 {
			return q, rechargekit.Errorf(rechargekit.EINVALID, "A Recharge customer id is a number, like 183940021.")
		}
		q.CustomerID = id
	case findShopify:
		if text == "" || strings.ContainsFunc(text, unicode.IsSpace) {
			return q, rechargekit.Errorf(rechargekit.EINVALID, "A Shopify customer id is a number, like 7923224739991.")
		}
		q.ExternalID = text
	default:
		return q, rechargekit.Errorf(rechargekit.EINVALID, "Pick what to search by: any, email, Recharge id or Shopify id.")
	}
	return q, nil
}

// detailsView is the card's whole picture beyond the subscriptions
// (rechargekit.CardDetails), laid out for an agent answering a ticket.
// Each section that could not be read carries the one-line reason instead.
type detailsView struct {
	Shipments            []chargeView // the next shipments, earliest first
	ShipmentsUnavailable string

	Payment            *paymentView
	PaymentUnavailable string

	Orders            []chargeView // the recent orders, newest first
	OrdersUnavailable string

	Addresses            []addressView
	AddressesUnavailable string

	Events            []eventView
	EventsUnavailable string
}

// chargeView is a charge: a next shipment or a recent order.
type chargeView struct {
	ID          string
	Status      string // lowercase, for the badge's class
	StatusLabel string
	Date        timeView // the scheduled date, or when it was processed
	OrderName   string
	Lines       []chargeLineView
	Discounts   []string // "SAVE10 (10% off) −5.44 USD"
	Shipping    []string // "Standard 4.90 USD"
	Subtotal    string
	Discount    string // the total of the discounts, "" when none
	Tax         string
	Total       string
	NotFinal    bool // Recharge has not re-quoted it yet (a pending shipping line)
	ShipTo      *addressView
	Failure     *failureView
	AdminURL    string // "Open in Recharge"; "" without AdminLinks
}

// chargeLineView is one line of a charge.
type chargeLineView struct {
	SubscriptionID string
	OneTime        bool
	Skipped        bool
	Title          string
	Variant        string
	SKU            string
	ImageURL       string // the image proxy's address; "" shows the placeholder
	Quantity       string
	UnitPrice      string
	Total          string
}

// failureView is why a charge failed and what Recharge will do next.
type failureView struct {
	Text        string // ChargeErrorText in plain words
	Type        string // Recharge's own type, e.g. CARD_DECLINED
	Error       string // Recharge's own text
	Attempts    string // "" when Recharge did not say
	LastAttempt timeView
	Retry       timeView
	RunOut      bool // no retry will come
}

// paymentView says whether the customer's payments are healthy.
type paymentView struct {
	Healthy   bool
	InDunning bool
	Failing   []chargeView
	Method    *methodView // the default method; nil when none
}

// methodView is a payment method without anything a processor issued.
type methodView struct {
	Type     string // "Credit card"
	Brand    string // "Visa"
	Last4    string
	Expiry   string // "03/2027"
	Expired  bool
	Expiring bool // expires within expiringSoon
	Email    string
	Status   string
}

// addressView is one of the customer's addresses.
type addressView struct {
	ID      string
	Name    string
	Company string
	Lines   []string // street lines, then "zip city, province", then country
	Short   string   // one line: "1 Main St, Springfield"
	Phone   string
}

// eventView is one line of the Recharge timeline.
type eventView struct {
	At         timeView
	What       string
	Who        string
	ObjectType string
	ObjectID   string
}

// expiringSoon is how far ahead a card's expiry is flagged: a monthly
// charge within two months would fail on it.
const expiringSoon = 62 * 24 * time.Hour

// newDetailsView lays out the card's details; nil details (not read at
// all) give nil.
func newDetailsView(d *rechargekit.CardDetails, now time.Time, imageURL func(string) string, links rechargekit.AdminLinks) *detailsView {
	if d == nil {
		return nil
	}
	v := &detailsView{
		ShipmentsUnavailable: unavailable(d, rechargekit.SectionNextCharges),
		PaymentUnavailable:   unavailable(d, rechargekit.SectionPayment),
		OrdersUnavailable:    unavailable(d, rechargekit.SectionRecentOrders),
		AddressesUnavailable: unavailable(d, rechargekit.SectionAddresses),
		EventsUnavailable:    unavailable(d, rechargekit.SectionEvents),
	}
	for _, c := range d.NextCharges {
		if c != nil {
			v.Shipments = append(v.Shipments, newChargeView(c, now, imageURL, links))
		}
	}
	if p := d.Payment; p != nil {
		pv := &paymentView{InDunning: p.InDunning}
		for _, c := range p.Failing {
			if c != nil {
				pv.Failing = append(pv.Failing, newChargeView(c, now, imageURL, links))
			}
		}
		if p.Default != nil {
			pv.Method = newMethodView(p.Default, now)
		}
		pv.Healthy = !pv.InDunning && len(pv.Failing) == 0 && (pv.Method == nil || !pv.Method.Expired)
		v.Payment = pv
	}
	for i, c := range d.RecentOrders {
		if c != nil && i < rechargekit.RecentOrdersMax {
			v.Orders = append(v.Orders, newChargeView(c, now, imageURL, links))
		}
	}
	for _, a := range d.Addresses {
		if a != nil {
			v.Addresses = append(v.Addresses, newAddressView(a))
		}
	}
	for i, e := range d.Events {
		if e != nil && i < rechargekit.EventsMax {
			v.Events = append(v.Events, newEventView(e, now))
		}
	}
	return v
}

// unavailable is the section's one-line reason, or "" when it was read.
func unavailable(d *rechargekit.CardDetails, section string) string {
	why, ok := d.Unavailable[section]
	if !ok {
		return ""
	}
	if why = cleanText(why); why == "" {
		why = "Recharge did not answer for this part of the card."
	}
	return why
}

// money joins an amount and its currency: "54.40 USD"; "" when there is
// no amount.
func money(amount, currency string) string {
	amount = cleanText(amount)
	if amount == "" {
		return ""
	}
	return strings.TrimSpace(amount + " " + cleanText(currency))
}

func newChargeView(c *rechargekit.Charge, now time.Time, imageURL func(string) string, links rechargekit.AdminLinks) chargeView {
	status := strings.ToLower(cleanText(c.Status))
	v := chargeView{
		ID:          strconv.FormatInt(c.ID, 10),
		Status:      chargeStatusClass(status),
		StatusLabel: chargeStatusLabel(status),
		OrderName:   cleanText(c.OrderName),
		Subtotal:    money(c.SubtotalPrice, c.Currency),
		Tax:         money(c.TotalTax, c.Currency),
		Total:       money(c.TotalPrice, c.Currency),
		NotFinal:    !c.TotalFinal(),
		AdminURL:    rechargekit.SafeURL(links.Charge(c.ID)),
	}
	switch {
	case c.ProcessedAt != nil && status != rechargekit.ChargeQueued && status != rechargekit.ChargeError:
		v.Date = newTimeView(*c.ProcessedAt, now)
	default:
		v.Date = newDateView(c.ScheduledAt, now)
	}
	if d := strings.TrimSpace(c.TotalDiscounts); d != "" && !isZeroAmount(d) {
		v.Discount = money(d, c.Currency)
	}
	for _, l := range c.Lines {
		lv := chargeLineView{
			SubscriptionID: strconv.FormatInt(l.SubscriptionID, 10),
			OneTime:        l.OneTime,
			Skipped:        l.Skipped,
			Title:          cleanText(l.Title),
			Variant:        cleanText(l.VariantTitle),
			SKU:            cleanText(l.SKU),
			ImageURL:       imageURL(rechargekit.SafeURL(l.ImageURL)),
			UnitPrice:      money(l.UnitPrice, c.Currency),
			Total:          money(l.TotalPrice, c.Currency),
		}
		if lv.Title == "" {
			lv.Title = "Unnamed product"
		}
		if l.Quantity > 0 {
			lv.Quantity = strconv.Itoa(l.Quantity)
		}
		v.Lines = append(v.Lines, lv)
	}
	for _, d := range c.Discounts {
		v.Discounts = append(v.Discounts, discountText(d, c.Currency))
	}
	for _, s := range c.Shipping {
		title := cleanText(s.Title)
		if title == "" {
			title = cleanText(s.Code)
		}
		if title == "" {
			title = "Shipping"
		}
		if s.Pending {
			v.Shipping = append(v.Shipping, title+": not quoted yet")
			continue
		}
		v.Shipping = append(v.Shipping, strings.TrimSpace(title+" "+money(s.Price, c.Currency)))
	}
	if c.ShipTo != nil {
		a := newAddressView(c.ShipTo)
		v.ShipTo = &a
	}
	if status == rechargekit.ChargeError || c.ErrorType != "" {
		f := &failureView{
			Text:   chargeErrorSentence(c.ErrorType),
			Type:   cleanText(c.ErrorType),
			Error:  cleanText(c.Error),
			RunOut: c.RetriesExhausted || (status == rechargekit.ChargeError && c.RetryAt == nil),
		}
		if c.Attempts > 0 {
			f.Attempts = strconv.Itoa(c.Attempts)
		}
		if c.LastAttemptAt != nil {
			f.LastAttempt = newTimeView(*c.LastAttemptAt, now)
		}
		if c.RetryAt != nil && !c.RetriesExhausted {
			f.Retry = newTimeView(*c.RetryAt, now)
		}
		v.Failure = f
	}
	return v
}

// chargeErrorSentence is rechargekit.ChargeErrorText as the console shows
// it: a sentence ending in a period.
func chargeErrorSentence(errorType string) string {
	s := cleanText(rechargekit.ChargeErrorText(errorType))
	if s != "" && !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}

// isZeroAmount reports whether a Recharge amount is zero ("0", "0.00").
func isZeroAmount(s string) bool {
	return strings.Trim(strings.TrimSpace(s), "0.") == ""
}

func discountText(d rechargekit.Discount, currency string) string {
	code := cleanText(d.Code)
	if code == "" {
		code = "Discount"
	}
	var what string
	switch value := cleanText(d.Value); d.ValueType {
	case "percentage":
		if value != "" {
			what = value + "% off"
		}
	case "fixed_amount":
		if value != "" {
			what = money(value, currency) + " off"
		}
	case "shipping":
		what = "shipping"
		if value != "" {
			what = value + "% off shipping"
		}
	default:
		what = value
	}
	s := code
	if what != "" {
		s += " (" + what + ")"
	}
	if amt := money(d.Amount, currency); amt != "" {
		s += " −" + amt
	}
	return s
}

// chargeStatusClass maps a charge status to a badge class the stylesheet has.
func chargeStatusClass(status string) string {
	switch status {
	case rechargekit.ChargeQueued, rechargekit.ChargeSkipped, rechargekit.ChargeError,
		rechargekit.ChargeSuccess, rechargekit.ChargeRefunded:
		return status
	case rechargekit.ChargePartiallyRefunded:
		return "refunded"
	}
	return "other"
}

func chargeStatusLabel(status string) string {
	switch status {
	case rechargekit.ChargeQueued:
		return "Queued"
	case rechargekit.ChargeSkipped:
		return "Skipped"
	case rechargekit.ChargeError:
		return "Payment failed"
	case rechargekit.ChargeSuccess:
		return "Paid"
	case rechargekit.ChargeRefunded:
		return "Refunded"
	case rechargekit.ChargePartiallyRefunded:
		return "Partially refunded"
	case "":
		return "Unknown"
	}
	return capitalize(strings.ReplaceAll(status, "_", " "))
}

// paymentTypes says Recharge's payment types in words.
var paymentTypes = map[string]string{
	"CREDIT_CARD": "Credit card",
	"PAYPAL":      "PayPal",
	"APPLE_PAY":   "Apple Pay",
	"GOOGLE_PAY":  "Google Pay",
	"SEPA_DEBIT":  "SEPA direct debit",
}

func newMethodView(m *rechargekit.PaymentMethod, now time.Time) *methodView {
	t := strings.ToUpper(cleanText(m.Type))
	v := &methodView{Type: paymentTypes[t], Last4: cleanText(m.Last4), Email: cleanText(m.Email), Status: cleanText(m.Status)}
	if v.Type == "" {
		v.Type = strings.ReplaceAll(strings.ToLower(t), "_", " ")
	}
	v.Brand = capitalize(cleanText(m.Brand))
	if exp, ok := m.Expires(); ok {
		v.Expiry = fmt.Sprintf("%02d/%d", m.ExpMonth, m.ExpYear)
		v.Expired = !now.Before(exp)
		v.Expiring = !v.Expired && exp.Sub(now) <= expiringSoon
	}
	return v
}

func newAddressView(a *rechargekit.Address) addressView {
	v := addressView{ID: strconv.FormatInt(a.ID, 10), Name: cleanText(a.Name()), Company: cleanText(a.Company), Phone: cleanText(a.Phone)}
	street := []string{cleanText(a.Address1), cleanText(a.Address2)}
	for _, s := range street {
		if s != "" {
			v.Lines = append(v.Lines, s)
		}
	}
	var place []string
	if city := strings.TrimSpace(cleanText(a.Zip) + " " + cleanText(a.City)); city != "" {
		place = append(place, city)
	}
	if p := cleanText(a.Province); p != "" {
		place = append(place, p)
	}
	if len(place) > 0 {
		v.Lines = append(v.Lines, strings.Join(place, ", "))
	}
	if c := cleanText(a.Country); c != "" {
		v.Lines = append(v.Lines, c)
	}
	var short []string
	if s := cleanText(a.Address1); s != "" {
		short = append(short, s)
	}
	if c := cleanText(a.City); c != "" {
		short = append(short, c)
	}
	v.Short = strings.Join(short, ", ")
	if v.Short == "" {
		v.Short = "Address " + v.ID
	}
	return v
}

// eventOrigins says who acted, by Recharge's origin, when the event does
// not name them.
var eventOrigins = map[string]string{
	"portal":   "the customer, in the portal",
	"customer": "the customer",
	"merchant": "the merchant, in Recharge",
	"admin":    "the merchant, in Recharge",
	"api":      "an API token",
}

func newEventView(e *rechargekit.Event, now time.Time) eventView {
	v := eventView{
		At:         newTimeView(e.At, now),
		What:       cleanText(e.Description),
		Who:        cleanText(e.Who),
		ObjectType: cleanText(e.ObjectType),
	}
	if e.ObjectID > 0 {
		v.ObjectID = strconv.FormatInt(e.ObjectID, 10)
	}
	if v.What == "" {
		// "Charge 1302050301 failed", from the parts Recharge always sends.
		what := strings.Join(strings.Fields(v.ObjectType+" "+v.ObjectID+" "+cleanText(e.Verb)), " ")
		if what == "" {
			what = "Something changed"
		}
		v.What = capitalize(what)
	}
	if v.Who == "" {
		origin := strings.ToLower(cleanText(e.Origin))
		if v.Who = eventOrigins[origin]; v.Who == "" {
			v.Who = origin
		}
	}
	return v
}

// capitalize upper-cases the first letter of s, whatever its length in
// bytes.
func capitalize(s string) string {
	r, size := utf8.DecodeRuneInString(s)
	if size == 0 {
		return s
	}
	return string(unicode.ToUpper(r)) + s[size:]
}
