package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/rechargekit/rechargekit"
)

// profileRow is one line of the profile list.
type profileRow struct {
	ID          string
	Name        string
	Emails      []string
	Phones      []string
	Linked      bool
	Auto        bool
	CustomerID  string
	WasUnlinked bool
}

type profileListData struct {
	Query string
	Rows  []profileRow
	Limit int
}

// profileListLimit is how many profiles the list shows at most.
const profileListLimit = 100

func (c *console) profileList(w http.ResponseWriter, r *http.Request, s *auth) {
	ctx := r.Context()
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	if len(q) > maxFindLength {
		q = q[:maxFindLength]
	}
	// One store call reads every row with its link and unlink state.
	found, err := c.cfg.Store.SearchProfileSummaries(ctx, q, profileListLimit)
	if err != nil && !errIs(err, rechargekit.EINVALID) {
		c.renderError(w, r, s, storeTitle(err, ""), fmt.Errorf("server: search profiles: %w", err))
		return
	}
	d := profileListData{Query: q, Limit: profileListLimit}
	for _, f := range found {
		p := f.Profile
		row := profileRow{ID: p.ID, Name: cleanText(p.Name), Emails: cleanAll(p.Emails), Phones: cleanAll(p.Phones)}
		if l := f.Link; l != nil {
			row.Linked, row.Auto, row.CustomerID = true, l.Method == rechargekit.LinkAuto, strconv.FormatInt(l.CustomerID, 10)
		} else {
			row.WasUnlinked = f.WasUnlinked
		}
		d.Rows = append(d.Rows, row)
	}
	c.render(w, r, http.StatusOK, "profiles", withAuth(&pageData{Title: "Profiles", Nav: "profiles", Data: d}, s))
}

func cleanAll(in []string) []string {
	out := make([]string, 0, len(in))
	for _, v := range in {
		if v = cleanText(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// profileData is the profile page.
type profileData struct {
	ID          string
	Name        string
	Emails      []string
	Phones      []string
	Link        *linkView
	WasUnlinked bool
	AutoLinked  bool

	Card      *cardView
	CardState string // "" (card shown), "missing", "upstream", "refused" or "error"

	// The subscription actions (see actions.go): whether the card offers
	// them, why not when they could not be read, and the customer's recent
	// attempts.
	ActionsOn    bool
	ActionsError string
	Recent       []actionRow
	RecentError  string

	Candidates      []matchView
	CandidatesError string
	CandidatesHint  string // the profile's phones were not searched: why
	AutoLinkBlocked string

	Find        string
	FindBy      string
	Searched    bool
	FindResults []matchView
	FindError   string
	FindHint    string // part of the search needs the mirror: why it found nothing
}

func (c *console) profilePage(w http.ResponseWriter, r *http.Request, s *auth) {
	// One deadline for the card and the manual search alike.
	ctx, cancel := c.withDeadline(r)
	defer cancel()
	id := r.PathValue("id")
	v, err := c.openProfile(ctx, r, rechargekit.DeskConsole)
	if err != nil {
		c.renderError(w, r, s, storeTitle(err, "Profile not found"), noSuchProfile(fmt.Errorf("server: open profile %q: %w", id, err)))
		return
	}
	now := c.cfg.Now()
	d := profileData{
		ID:              v.Profile.ID,
		Name:            cleanText(v.Profile.Name),
		Emails:          cleanAll(v.Profile.Emails),
		Phones:          cleanAll(v.Profile.Phones),
		Link:            newLinkView(v.Link, now),
		WasUnlinked:     v.WasUnlinked,
		AutoLinked:      v.AutoLinked,
		AutoLinkBlocked: cleanText(v.AutoLinkBlocked),
		Candidates:      newMatchViews(v.Candidates),
		CandidatesHint:  unsearchedHint(v.CandidatesUnsearched),
	}
	if d.Name == "" {
		d.Name = "Unnamed profile"
	}
	if v.CandidatesErr != nil {
		d.CandidatesError = c.upstreamMessage(ctx, "find candidates", v.CandidatesErr)
	}
	switch {
	case v.Card != nil:
		d.Card = newCardView(v.Card, now, c.imageURLs(s), c.cfg.AdminLinks)
		if v.Link != nil {
			c.profileActions(ctx, s, &d, v.Link.CustomerID)
		}
	case v.Link != nil && v.CardErr != nil:
		d.CardState = c.cardState(ctx, id, v.CardErr)
	}
	if v.Link == nil {
		c.manualSearch(ctx, r, &d)
	}
	c.render(w, r, http.StatusOK, "profile", withAuth(&pageData{Title: d.Name, Nav: "profiles", Data: d}, s))
}

// cardStates is the profile page's card state for the codes of a failed
// card it explains; any other failure is "error".
var cardStates = map[string]string{
	rechargekit.ENOTFOUND: "missing",
	rechargekit.EUPSTREAM: "upstream",
}

// cardState is the profile page's state for a card that failed: the
// refused state when Recharge refused rechargekit's own token (an admin's
// configuration error, logged as such), else by code from cardStates.
func (c *console) cardState(ctx context.Context, profileID string, err error) string {
	if errors.Is(err, rechargekit.ErrUpstreamRefused) {
		c.log.ErrorContext(ctx, "recharge refused the token", "during", "card", "profile_id", profileID, "error", err)
		return "refused"
	}
	if state, ok := cardStates[rechargekit.ErrorCode(err)]; ok {
		return state
	}
	c.log.ErrorContext(ctx, "card failed", "profile_id", profileID, "error", err)
	return "error"
}

// manualSearch runs the search box of an unlinked profile, when used.
func (c *console) manualSearch(ctx context.Context, r *http.Request, d *profileData) {
	query := r.URL.Query()
	if !query.Has("find") {
		return
	}
	d.Find = query.Get("find")
	d.FindBy = query.Get("by")
	d.Searched = true
	q, err := parseFind(d.Find, d.FindBy)
	if err != nil {
		d.FindError = rechargekit.ErrorMessage(err)
		return
	}
	res, err := rechargekit.SearchCustomers(ctx, c.cfg.Cards, q)
	if err != nil {
		d.FindError = c.upstreamMessage(ctx, "manual search", err)
		return
	}
	d.FindResults = newMatchViews(res.Matches)
	d.FindHint = unsearchedHint(res.Unsearched)
}

// upstreamMessage is what an agent reads when a Recharge call failed.
func (c *console) upstreamMessage(ctx context.Context, what string, err error) string {
	switch code := rechargekit.ErrorCode(err); {
	case errors.Is(err, rechargekit.ErrUpstreamRefused):
		c.log.ErrorContext(ctx, "recharge refused the token", "during", what, "error", err)
		return "Recharge refused rechargekit's API token. Tell an admin."
	case code == rechargekit.EUPSTREAM:
		return "Recharge is unavailable right now; try again shortly."
	case code == rechargekit.EINVALID:
		return rechargekit.ErrorMessage(err)
	}
	c.log.ErrorContext(ctx, "recharge call failed", "during", what, "error", err)
	return "Recharge could not be searched because of an error on our side."
}

func (c *console) linkProfile(w http.ResponseWriter, r *http.Request, s *auth) {
	id := r.PathValue("id")
	back := profileURL(id)
	cid, err := strconv.ParseInt(strings.TrimSpace(r.PostForm.Get("customer_id")), 10, 64)
	if err != nil || cid <= 0 {
		c.redirectWithFlash(w, r, s, back, "invalid")
		return
	}
	ctx, cancel := c.withDeadline(r)
	defer cancel()
	_, err = c.cfg.Profiles.Link(ctx, id, cid, s.User.Email)
	switch code := rechargekit.ErrorCode(err); {
	case err == nil:
		c.log.InfoContext(r.Context(), "linked profile by hand", "profile_id", id, "customer_id", cid, "user_id", s.User.ID)
	case code == rechargekit.ENOTFOUND:
		// Either the profile or the Recharge customer is missing: only
		// the customer is the form's problem.
		if _, perr := c.cfg.Store.Profile(r.Context(), id); perr != nil {
			c.renderError(w, r, s, storeTitle(perr, "Profile not found"), noSuchProfile(perr))
			return
		}
	case errors.Is(err, rechargekit.ErrUpstreamRefused):
		c.log.ErrorContext(r.Context(), "recharge refused the token", "during", "link", "profile_id", id, "error", err)
	case code == rechargekit.EUPSTREAM:
		c.log.WarnContext(r.Context(), "link failed: recharge unavailable", "profile_id", id, "error", err)
	}
	c.redirectAfter(w, r, s, back, err, linkFlashes)
}

// linkFlashes are the outcomes of linking by hand.
var linkFlashes = flashKeys{
	"":                    "linked",
	rechargekit.ECONFLICT: "conflict",
	rechargekit.ENOTFOUND: "customer_missing",
	rechargekit.EUPSTREAM: "upstream",
	rechargekit.EINVALID:  "invalid",
}

type unlinkData struct {
	ID         string
	Name       string
	CustomerID string
	Auto       bool
	By         string
}

func (c *console) unlinkConfirm(w http.ResponseWriter, r *http.Request, s *auth) {
	ctx := r.Context()
	id := r.PathValue("id")
	p, err := c.cfg.Store.Profile(ctx, id)
	if err != nil {
		c.renderError(w, r, s, storeTitle(err, "Profile not found"), noSuchProfile(err))
		return
	}
	l, err := c.cfg.Store.Link(ctx, id)
	if err != nil {
		// Only the link's absence has a flash; the success case never
		// redirects.
		c.redirectAfter(w, r, s, profileURL(id), err, flashKeys{rechargekit.ENOTFOUND: "not_linked"})
		return
	}
	d := unlinkData{ID: p.ID, Name: cleanText(p.Name), CustomerID: strconv.FormatInt(l.CustomerID, 10),
		Auto: l.Method == rechargekit.LinkAuto, By: cleanText(l.By)}
	if d.Name == "" {
		d.Name = "Unnamed profile"
	}
	c.render(w, r, http.StatusOK, "unlink", withAuth(&pageData{Title: "Unlink " + d.Name, Nav: "profiles", Data: d}, s))
}

func (c *console) unlinkProfile(w http.ResponseWriter, r *http.Request, s *auth) {
	id := r.PathValue("id")
	err := c.cfg.Profiles.Unlink(r.Context(), id, s.User.Email)
	if err == nil {
		c.log.InfoContext(r.Context(), "unlinked profile", "profile_id", id, "user_id", s.User.ID)
	}
	c.redirectAfter(w, r, s, profileURL(id), err, flashKeys{"": "unlinked", rechargekit.ENOTFOUND: "not_linked"})
}

// cardInvalidator is a card service with a cache to invalidate
// (cards.Cached), as webhooks invalidate it.
type cardInvalidator interface {
	Invalidate(ctx context.Context, customerID int64) error
}

// refreshCard is the card's refresh button: it invalidates the linked
// customer's cached card, so that the profile page it redirects back to
// reads Recharge now instead of a copy. Without a cache there is nothing
// to invalidate: every page reads Recharge anyway.
func (c *console) refreshCard(w http.ResponseWriter, r *http.Request, s *auth) {
	id := r.PathValue("id")
	back := profileURL(id)
	l, err := c.cfg.Store.Link(r.Context(), id)
	if err != nil {
		if !errIs(err, rechargekit.ENOTFOUND) {
			c.renderError(w, r, s, storeTitle(err, "Profile not found"), fmt.Errorf("server: refresh the card of profile %q: %w", id, err))
			return
		}
		c.redirectWithFlash(w, r, s, back, "not_linked")
		return
	}
	inv, ok := c.cfg.Cards.(cardInvalidator)
	if !ok {
		c.redirectWithFlash(w, r, s, back, "refreshed")
		return
	}
	if err := inv.Invalidate(r.Context(), l.CustomerID); err != nil {
		c.log.ErrorContext(r.Context(), "refresh: invalidate the card failed", "profile_id", id, "customer_id", l.CustomerID, "error", err)
		c.redirectWithFlash(w, r, s, back, "refresh_failed")
		return
	}
	c.log.InfoContext(r.Context(), "refreshed the card", "profile_id", id, "customer_id", l.CustomerID, "user_id", s.User.ID)
	c.redirectWithFlash(w, r, s, back, "refreshed")
}
