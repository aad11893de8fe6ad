package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/rechargekit/rechargekit"
)

// maxAPIBody caps JSON API request bodies.
const maxAPIBody = 1 << 20

// codeTooLarge is the API's own error code for a body over maxAPIBody; the
// others are the domain's codes. errorStatus (errors.go) gives each its
// HTTP status.
const codeTooLarge = "too_large"

// ProfileRequest is the body of PUT /api/profiles/{id}: the desk profile's
// name, emails and phones (the id is in the path).
type ProfileRequest struct {
	Name   string   `json:"name"`
	Emails []string `json:"emails"`
	Phones []string `json:"phones"`
}

// LinkRequest is the body of POST /api/profiles/{id}/link.
type LinkRequest struct {
	RechargeCustomerID string `json:"rechargeCustomerId"`
}

// ProfileJSON is a desk profile in API answers.
type ProfileJSON struct {
	ID     string   `json:"id"`
	Name   string   `json:"name"`
	Emails []string `json:"emails"`
	Phones []string `json:"phones"`
}

// LinkJSON is a profile's link in API answers.
type LinkJSON struct {
	RechargeCustomerID string `json:"rechargeCustomerId"`
	Method             string `json:"method"` // "auto" or "manual"
	By                 string `json:"by"`
	At                 string `json:"at"`
}

// CandidateJSON is a Recharge customer that matches an unlinked profile
// or a search.
type CandidateJSON struct {
	Customer rechargekit.CustomerSummary `json:"customer"`
	// MatchedBy is "email", "recharge_customer_id", "shopify_customer_id",
	// "phone", "name" or "zip" (rechargekit's Match kinds).
	MatchedBy    string `json:"matchedBy"`
	MatchedValue string `json:"matchedValue"`
}

// SearchResponse is the answer of GET /api/search: the candidates, as a
// profile's card lists them, and what could not be searched.
type SearchResponse struct {
	Candidates []CandidateJSON `json:"candidates"`
	// Unsearched names the kinds the query fits that were not searched
	// ("phone", "name", "zip"): only the mirror searches them, and it is
	// off or not complete; Hint says so in a sentence ("" when none).
	Unsearched []string `json:"unsearched"`
	Hint       string   `json:"hint"`
}

// ErrorJSON is an error in API answers.
type ErrorJSON struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// CardResponse is the answer of GET /api/profiles/{id}/card. Card uses the
// SUBSCRIPTION transaction's field names (spec/gladly-lookup.md section 12)
// plus a customer object, the card's details (nextCharges, payment,
// recentOrders, addresses, events, unavailable) when they were read, and
// the "Open in Recharge" links when Config.AdminLinks has a base.
type CardResponse struct {
	Profile         ProfileJSON           `json:"profile"`
	Link            *LinkJSON             `json:"link"`
	AutoLinked      bool                  `json:"autoLinked"`
	WasUnlinked     bool                  `json:"wasUnlinked"`
	Card            *rechargekit.CardJSON `json:"card"`
	CardError       *ErrorJSON            `json:"cardError"`
	Candidates      []CandidateJSON       `json:"candidates"`
	CandidatesError *ErrorJSON            `json:"candidatesError"`
	AutoLinkBlocked *string               `json:"autoLinkBlocked"`
}

// apiHandler is an API handler for a request with a valid bearer token.
type apiHandler func(w http.ResponseWriter, r *http.Request, tok *rechargekit.APIToken)

func (c *console) registerAPI(mux router) {
	api := func(pattern string, h apiHandler) { mux.Handle(pattern, c.secure(c.bearer(c.profileID(h)))) }
	api("PUT /api/profiles/{id}", c.apiPutProfile)
	api("GET /api/profiles/{id}/card", c.apiCard)
	api("POST /api/profiles/{id}/link", c.apiLink)
	api("DELETE /api/profiles/{id}/link", c.apiUnlink)
	api("GET /api/profiles/{id}/actions", c.apiActionOffers)
	api("POST /api/profiles/{id}/actions/preview", c.apiActionPreview)
	api("POST /api/profiles/{id}/actions", c.apiAction)
	mux.Handle("GET /api/search", c.secure(c.bearer(c.apiSearch)))
	mux.Handle("/api/", c.secure(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.apiError(w, r, rechargekit.Errorf(rechargekit.ENOTFOUND, "There is no API endpoint %s %s.", r.Method, r.URL.Path))
	})))
}

// profileID refuses a path {id} that no store can hold (control characters
// such as NUL, invalid UTF-8, over rechargekit.MaxIDLength) before a store
// sees it, so that the caller gets the domain's sentence naming the profile
// id rather than a database's own error text.
func (c *console) profileID(next apiHandler) apiHandler {
	return func(w http.ResponseWriter, r *http.Request, tok *rechargekit.APIToken) {
		if err := rechargekit.ValidateProfileID(r.PathValue("id")); err != nil {
			c.apiError(w, r, err)
			return
		}
		next(w, r, tok)
	}
}

// bearer authenticates the request with an API token. The whole request,
// token check included, runs within the lookup deadline (storeContext),
// so every store call it makes is bounded by it; a store that cannot read
// the token answers with the error table's status (a hung or down
// database: 503 "upstream"), not as if the token were invalid.
func (c *console) bearer(next apiHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := c.storeContext(r.Context())
		defer cancel()
		r = r.WithContext(ctx)
		scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		token = strings.TrimSpace(token)
		if !strings.EqualFold(scheme, "Bearer") || token == "" || len(token) > 200 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="rechargekit"`)
			c.apiError(w, r, rechargekit.Errorf(rechargekit.EUNAUTHORIZED, "Send an API token in the Authorization header: Bearer TOKEN."))
			return
		}
		tok, err := c.cfg.Store.APITokenByHash(r.Context(), HashAPIToken(token))
		switch rechargekit.ErrorCode(err) {
		case "":
		case rechargekit.ENOTFOUND:
			w.Header().Set("WWW-Authenticate", `Bearer realm="rechargekit", error="invalid_token"`)
			c.apiError(w, r, rechargekit.Errorf(rechargekit.EUNAUTHORIZED, "The API token is not valid: it was revoked or mistyped."))
			return
		default:
			c.apiError(w, r, fmt.Errorf("server: look up API token: %w", err))
			return
		}
		next(w, r, tok)
	})
}

// apiError writes err as {"error":{"code","message"}} with the status from
// errorStatus. Internal errors are logged with their detail, which the
// answer never carries; Recharge refusing rechargekit's token is an
// upstream failure for the desk and logged as a configuration error.
func (c *console) apiError(w http.ResponseWriter, r *http.Request, err error) {
	status, e := c.apiErrorJSON(r, err)
	writeJSON(w, status, map[string]ErrorJSON{"error": e})
}

// apiErrorJSON is apiError's status and error object, for answers that
// carry more beside the error (an action's audited outcome, a new preview).
func (c *console) apiErrorJSON(r *http.Request, err error) (int, ErrorJSON) {
	code, msg := rechargekit.ErrorCode(err), rechargekit.ErrorMessage(err)
	if errors.Is(err, errTooLarge) {
		code, msg = codeTooLarge, fmt.Sprintf("The request body is larger than %d bytes.", maxAPIBody)
	}
	c.logRefused(r, err)
	status, ok := errorStatus[code]
	if !ok {
		code, status = rechargekit.EINTERNAL, http.StatusInternalServerError
	}
	if code == rechargekit.EINTERNAL {
		c.log.ErrorContext(r.Context(), "api error", "method", r.Method, "path", r.URL.Path, "error", err)
		msg = internalMessage
	}
	return status, ErrorJSON{Code: code, Message: msg}
}

var errTooLarge = errors.New("request body too large")

// logRefused logs Recharge refusing rechargekit's own token, which the
// desk sees as Recharge being unavailable, as the configuration error it is.
func (c *console) logRefused(r *http.Request, err error) {
	if errors.Is(err, rechargekit.ErrUpstreamRefused) {
		c.log.ErrorContext(r.Context(), "api: Recharge refused the API token: check RECHARGE_API_TOKEN and its scopes", "path", r.URL.Path, "error", err)
	}
}

// decodeJSON reads one JSON object into v: the body capped at maxAPIBody,
// unknown fields and trailing data refused.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return rechargekit.Errorf(rechargekit.EINVALID, "The body must be JSON (Content-Type: application/json).")
		}
	}
	body := http.MaxBytesReader(w, r.Body, maxAPIBody)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, err2 := dec.Token(); err2 != io.EOF {
			err = errors.New("trailing data after the JSON object")
		}
	}
	var maxErr *http.MaxBytesError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &maxErr):
		return errTooLarge
	case errors.Is(err, io.EOF):
		return rechargekit.Errorf(rechargekit.EINVALID, "The request body is empty; send a JSON object.")
	}
	return rechargekit.Errorf(rechargekit.EINVALID, "The request body is not valid: %s.", jsonProblem(err))
}

// jsonProblem describes a decoding error without echoing the body.
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("malformed JSON at byte %d", syn.Offset)
	case errors.As(err, &typ):
		if typ.Field != "" {
			return fmt.Sprintf("field %q must be a %s", typ.Field, typ.Type)
		}
		return fmt.Sprintf("expected a %s", typ.Type)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "the JSON ends too early"
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

func profileJSON(p *rechargekit.Profile) ProfileJSON {
	out := ProfileJSON{ID: p.ID, Name: p.Name, Emails: p.Emails, Phones: p.Phones}
	if out.Emails == nil {
		out.Emails = []string{}
	}
	if out.Phones == nil {
		out.Phones = []string{}
	}
	return out
}

func linkJSON(l *rechargekit.Link) *LinkJSON {
	if l == nil {
		return nil
	}
	return &LinkJSON{
		RechargeCustomerID: strconv.FormatInt(l.CustomerID, 10),
		Method:             l.Method,
		By:                 l.By,
		At:                 l.At.UTC().Format(rechargekit.TimeLayout),
	}
}

// apiActor is who an API change is recorded as.
func apiActor(tok *rechargekit.APIToken) string { return "api:" + tok.Name }

func (c *console) apiPutProfile(w http.ResponseWriter, r *http.Request, tok *rechargekit.APIToken) {
	var req ProfileRequest
	if err := decodeJSON(w, r, &req); err != nil {
		c.apiError(w, r, err)
		return
	}
	id := r.PathValue("id")
	ctx := r.Context()
	// The store decides, in the write itself, whether this created the
	// profile, so of two racing clients only one is answered 201.
	p, created, err := c.cfg.Profiles.SaveProfile(ctx, &rechargekit.Profile{ID: id, Name: req.Name, Emails: req.Emails, Phones: req.Phones})
	if err != nil {
		c.apiError(w, r, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	c.log.InfoContext(ctx, "profile saved through the API", "profile_id", id, "token", tok.Name, "created", created)
	writeJSON(w, status, profileJSON(p))
}

func (c *console) apiCard(w http.ResponseWriter, r *http.Request, tok *rechargekit.APIToken) {
	ctx, cancel := c.withDeadline(r)
	defer cancel()
	v, err := c.openProfile(ctx, r, rechargekit.DeskAPI)
	if err != nil {
		c.apiError(w, r, err)
		return
	}
	out := CardResponse{
		Profile:     profileJSON(v.Profile),
		Link:        linkJSON(v.Link),
		AutoLinked:  v.AutoLinked,
		WasUnlinked: v.WasUnlinked,
		Candidates:  []CandidateJSON{},
	}
	if v.Card != nil {
		cj := v.Card.JSONWithLinks(c.cfg.AdminLinks)
		out.Card = &cj
	}
	if v.CardErr != nil {
		out.CardError = c.upstreamErrorJSON(r, v.CardErr)
	}
	if v.Link == nil {
		// Candidates are for choosing a link; a linked profile (also one
		// just auto-linked) has none to choose from.
		out.Candidates = candidatesJSON(v.Candidates)
	}
	if v.Link == nil && v.CandidatesErr != nil {
		out.CandidatesError = c.upstreamErrorJSON(r, v.CandidatesErr)
	}
	if v.AutoLinkBlocked != "" {
		out.AutoLinkBlocked = &v.AutoLinkBlocked
	}
	writeJSON(w, http.StatusOK, out)
}

// candidatesJSON is the API form of a list of matches, never null.
func candidatesJSON(ms []*rechargekit.Match) []CandidateJSON {
	out := []CandidateJSON{}
	for _, m := range ms {
		if m != nil && m.Customer != nil {
			out = append(out, CandidateJSON{Customer: m.Customer.Summary(), MatchedBy: m.By, MatchedValue: m.Value})
		}
	}
	return out
}

// apiSearch is GET /api/search?q=…: the console's manual search box (one
// text, the kind of key detected) for any desk.
func (c *console) apiSearch(w http.ResponseWriter, r *http.Request, tok *rechargekit.APIToken) {
	text := r.URL.Query().Get("q")
	if strings.TrimSpace(text) == "" {
		c.apiError(w, r, rechargekit.Errorf(rechargekit.EINVALID, "Send what to search for in q: an email, a phone number, a name, a zip or a customer id."))
		return
	}
	if len(text) > maxFindLength {
		c.apiError(w, r, rechargekit.Errorf(rechargekit.EINVALID, "The search in q is longer than %d bytes.", maxFindLength))
		return
	}
	q, err := parseFind(text, findAny)
	if err != nil {
		c.apiError(w, r, err)
		return
	}
	ctx, cancel := c.withDeadline(r)
	defer cancel()
	res, err := rechargekit.SearchCustomers(ctx, c.cfg.Cards, q)
	if err != nil {
		c.apiError(w, r, err)
		return
	}
	out := SearchResponse{Candidates: candidatesJSON(res.Matches), Unsearched: []string{}, Hint: unsearchedHint(res.Unsearched)}
	out.Unsearched = append(out.Unsearched, res.Unsearched...)
	writeJSON(w, http.StatusOK, out)
}

// upstreamErrorJSON reports a Recharge failure inside a 200 answer; an
// internal one is logged and its detail withheld.
func (c *console) upstreamErrorJSON(r *http.Request, err error) *ErrorJSON {
	code, msg := rechargekit.ErrorCode(err), rechargekit.ErrorMessage(err)
	c.logRefused(r, err)
	if _, ok := errorStatus[code]; !ok || code == rechargekit.EINTERNAL {
		c.log.ErrorContext(r.Context(), "api: recharge call failed", "path", r.URL.Path, "error", err)
		code, msg = rechargekit.EINTERNAL, internalMessage
	}
	return &ErrorJSON{Code: code, Message: msg}
}

func (c *console) apiLink(w http.ResponseWriter, r *http.Request, tok *rechargekit.APIToken) {
	var req LinkRequest
	if err := decodeJSON(w, r, &req); err != nil {
		c.apiError(w, r, err)
		return
	}
	s := strings.TrimSpace(req.RechargeCustomerID)
	id, err := strconv.ParseInt(s, 10, 64)
	if s == "" || err != nil || id <= 0 || strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' }) >= 0 {
		c.apiError(w, r, rechargekit.Errorf(rechargekit.EINVALID, "The rechargeCustomerId must be a Recharge customer id: a positive number in a string."))
		return
	}
	ctx, cancel := c.withDeadline(r)
	defer cancel()
	l, err := c.cfg.Profiles.Link(ctx, r.PathValue("id"), id, apiActor(tok))
	if err != nil {
		c.apiError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, linkJSON(l))
}

func (c *console) apiUnlink(w http.ResponseWriter, r *http.Request, tok *rechargekit.APIToken) {
	if err := c.cfg.Profiles.Unlink(r.Context(), r.PathValue("id"), apiActor(tok)); err != nil {
		c.apiError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
