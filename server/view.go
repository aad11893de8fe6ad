package server

import (
	"fmt"
	"html/template"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/rechargekit/rechargekit"
)

// parsePages parses every page template together with the shared layout.
func parsePages(funcs template.FuncMap) map[string]*template.Template {
	base := template.Must(template.New("layout").Funcs(funcs).ParseFS(assets, "templates/layout.html", "templates/parts.html"))
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
	Subs     []subView
}

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

	// Actions are the actions offered on it to the signed-in user, and
	// NotOffered why the others their role may take are not (actions.go).
	Actions    []actionButton
	NotOffered []actionWhy
}

// newCardView lays out card for the console; imageURL turns a product
// image URL from Recharge into the address the page may show (the image
// proxy's, see console.imageURLs), or "" for the placeholder.
func newCardView(card *rechargekit.Card, now time.Time, imageURL func(string) string) *cardView {
	v := &cardView{Customer: newCustomerView(&card.Customer), Fetched: newTimeView(card.FetchedAt, now), Stale: card.Stale}
	for _, s := range card.Subscriptions {
		sv := newSubView(s, now)
		sv.ImageURL = imageURL(sv.ImageURL)
		v.Subs = append(v.Subs, sv)
	}
	return v
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
	}
	return "matches " + v
}

// Search kinds for the manual search box.
const (
	findAny      = ""
	findEmail    = "email"
	findRecharge = "recharge"
	findShopify  = "shopify"
)

// maxFindLength bounds the search box; an email is at most 320 bytes.
const maxFindLength = 320

// parseFind turns the manual search box into a customer search. by picks
// what the text is; with findAny it is detected: a "shopify:" prefix means
// a Shopify customer id, an "@" an email, and plain digits are searched as
// both a Recharge and a Shopify customer id (both are numbers, and the
// results say which one matched).
func parseFind(text, by string) (rechargekit.CustomerSearch, error) {
	var q rechargekit.CustomerSearch
	text = strings.TrimSpace(text)
	if text == "" {
		return q, rechargekit.Errorf(rechargekit.EINVALID, "Type an email, a Recharge customer id or a Shopify customer id.")
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
			return q, nil
		}
		return q, rechargekit.Errorf(rechargekit.EINVALID,
			"%q is not an email or a customer id. Type an email, a Recharge customer id, or shopify: and a Shopify customer id.", text)
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
