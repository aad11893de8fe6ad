// Package gladly speaks Gladly's Lookup Adaptor protocol
// (shared/spec/gladly-lookup.md): the wire types of a lookup request and its
// answer, request signing (Sign and Verify of the Gladly-Authorization
// header), an http.Handler that answers Gladly's three kinds of lookup from a
// rechargekit.CardService and, given a rechargekit.ActionService, offers
// actions and serves their forms and submits (spec section 14), and a Client
// that plays Gladly's side of the exchange for tests and the command line.
//
// The package imports only the standard library and the root rechargekit
// package. It knows nothing about Recharge's HTTP API, storage or HTML: the
// CardService it is given does all of that, and the ActionService decides
// every action's policy; the handler only renders what it offers.
package gladly

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/rechargekit/rechargekit"
)

// Lookup levels, the values of the envelope's "lookupLevel".
const (
	LevelBasic    = "BASIC"
	LevelDetailed = "DETAILED"
)

// Limits from the contract (spec sections 5 and 8).
const (
	// MaxAutoLinkEmails is how many distinct profile emails an auto-link
	// suggestion searches. Each costs a Recharge call, and Recharge's bucket
	// holds 40, so a profile with many addresses must not drain it.
	MaxAutoLinkEmails = 5

	// MaxAutoLinkPhones is how many distinct profile phones an auto-link
	// suggestion searches (in the mirror: phones cost no Recharge call).
	MaxAutoLinkPhones = 5

	// MaxSearchResults caps a manual search, whose results Gladly shows an
	// agent as a table.
	MaxSearchResults = 25
)

// Query keys this service reads (spec section 3). Any other key, such as a
// profile custom attribute sent flattened into the query, is ignored.
const (
	QueryID                 = "id"
	QueryName               = "name"
	QueryEmails             = "emails"
	QueryEmail              = "email"
	QueryPhones             = "phones"
	QueryPhone              = "phone"
	QueryZip                = "zip"
	QueryExternalCustomerID = "externalCustomerId"
	QueryRechargeCustomerID = "rechargeCustomerId"
	QueryShopifyCustomerID  = "shopifyCustomerId"
)

// LookupRequest is the JSON envelope Gladly POSTs for every lookup. Query is
// kept as raw JSON per key so that unknown keys (custom attributes, nested or
// flattened) are carried along without being rejected. The same type is what
// Client sends.
type LookupRequest struct {
	LookupLevel         string                     `json:"lookupLevel"`
	Query               map[string]json.RawMessage `json:"query"`
	UniqueMatchRequired bool                       `json:"uniqueMatchRequired"`
}

// Kind is what a lookup request asks for, decided from its level and the
// shape of its query (spec section 3.4).
type Kind int

// The three kinds of lookup Gladly sends.
const (
	// KindAutoLink is a BASIC lookup Gladly sends on its own for an unlinked
	// profile: the query is the profile, with emails and phones as arrays.
	KindAutoLink Kind = iota + 1
	// KindSearch is a BASIC lookup from an agent's "Link to external
	// customer" form: single strings under the Search Query Attribute names.
	KindSearch
	// KindDetailed is a DETAILED lookup for a linked profile.
	KindDetailed
)

// String returns the kind as it appears in logs.
func (k Kind) String() string {
	switch k {
	case KindAutoLink:
		return "auto_link"
	case KindSearch:
		return "search"
	case KindDetailed:
		return "detailed"
	default:
		return "unknown"
	}
}

// Request is a parsed and classified lookup request.
type Request struct {
	Kind  Kind
	Level string // LevelBasic or LevelDetailed

	// Profile is the Gladly profile carried by auto-link and detailed
	// lookups: id, name, and the trimmed non-empty emails and phones in the
	// order Gladly sent them. It is empty for a manual search.
	Profile rechargekit.Profile

	// Search is what to look Recharge up by. For an auto-link suggestion it
	// holds the profile's distinct emails (trimmed, compared
	// case-insensitively, first spelling and order kept, at most
	// MaxAutoLinkEmails) and phones (at most MaxAutoLinkPhones), never its
	// name; for a manual search the one email, phone, name, zip and ids
	// the agent typed. It is zero for a detailed lookup.
	Search rechargekit.CustomerSearch

	// ExternalCustomerID is the trimmed externalCustomerId of a detailed
	// lookup: the id stored when the profile was linked.
	ExternalCustomerID string

	UniqueMatchRequired bool
}

// ErrInvalidRequest is matched (errors.Is) by every error ParseRequest
// returns; those errors are *RequestError and carry a detail for the caller.
var ErrInvalidRequest = errors.New("invalid lookup request")

// RequestError says why a lookup request was rejected. Detail is written for
// the caller and goes into the 400 answer.
type RequestError struct {
	Detail string
}

// Error implements the error interface.
func (e *RequestError) Error() string { return "gladly: invalid lookup request: " + e.Detail }

// Is reports whether target is ErrInvalidRequest.
func (e *RequestError) Is(target error) bool { return target == ErrInvalidRequest }

func invalid(format string, args ...any) error {
	return &RequestError{Detail: fmt.Sprintf(format, args...)}
}

// ParseRequest decodes and classifies a lookup request body (spec section
// 3.4). The body must be a JSON object with a known lookupLevel and an object
// query; a DETAILED lookup needs externalCustomerId as a non-empty string.
// emails, email and phones may each be one string or an array of strings.
// Errors are *RequestError.
func ParseRequest(body []byte) (*Request, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, invalid("the body is empty")
	}
	if trimmed[0] != '{' {
		return nil, invalid("the body must be a JSON object")
	}
	var env struct {
		LookupLevel         json.RawMessage `json:"lookupLevel"`
		Query               json.RawMessage `json:"query"`
		UniqueMatchRequired json.RawMessage `json:"uniqueMatchRequired"`
	}
	if err := json.Unmarshal(trimmed, &env); err != nil {
		return nil, invalid("malformed JSON: %s", jsonProblem(err))
	}

	level, present, err := optString(env.LookupLevel)
	switch {
	case err != nil:
		return nil, invalid("lookupLevel must be a string")
	case !present:
		return nil, invalid("lookupLevel is missing")
	}
	switch {
	case strings.EqualFold(strings.TrimSpace(level), LevelBasic):
		level = LevelBasic
	case strings.EqualFold(strings.TrimSpace(level), LevelDetailed):
		level = LevelDetailed
	default:
		return nil, invalid("unknown lookupLevel %q: want BASIC or DETAILED", truncate(level, 40))
	}

	if isNull(env.Query) {
		return nil, invalid("query is missing")
	}
	var q map[string]json.RawMessage
	if err := json.Unmarshal(env.Query, &q); err != nil {
		return nil, invalid("query must be a JSON object")
	}

	req := &Request{Level: level}
	// uniqueMatchRequired is informative only (the kind comes from the level
	// and the query), so a strange value is ignored rather than rejected.
	_ = json.Unmarshal(env.UniqueMatchRequired, &req.UniqueMatchRequired)

	if level == LevelDetailed {
		ext, present, err := optString(q[QueryExternalCustomerID])
		ext = strings.TrimSpace(ext)
		if err != nil || !present || ext == "" {
			return nil, invalid("a DETAILED lookup needs externalCustomerId as a non-empty string")
		}
		req.Kind = KindDetailed
		req.ExternalCustomerID = ext
		// Only externalCustomerId drives a detailed lookup, so a profile
		// field of an unexpected shape is dropped instead of failing it.
		req.Profile, _ = parseProfile(q)
		return req, nil
	}

	emails, emailsIsList, err := stringOrList(q[QueryEmails])
	if err != nil {
		return nil, invalid("query.emails must be a string or an array of strings")
	}
	_, phonesIsList, err := stringOrList(q[QueryPhones])
	if err != nil {
		return nil, invalid("query.phones must be a string or an array of strings")
	}
	if emailsIsList || phonesIsList || !isNull(q[QueryID]) {
		profile, err := parseProfile(q)
		if err != nil {
			return nil, err
		}
		req.Kind = KindAutoLink
		req.Profile = profile
		req.Search.Emails = rechargekit.DistinctEmails(profile.Emails, MaxAutoLinkEmails)
		req.Search.Phones = distinctPhones(profile.Phones, MaxAutoLinkPhones)
		return req, nil
	}

	req.Kind = KindSearch
	email, _, err := stringOrList(q[QueryEmail])
	if err != nil {
		return nil, invalid("query.email must be a string or an array of strings")
	}
	// A manual search looks up one email: the "email" attribute, or the
	// plural spelling some adaptors document.
	req.Search.Emails = rechargekit.DistinctEmails(append(email, emails...), 1)
	if id, ok := idString(q[QueryRechargeCustomerID]); ok {
		// A value that is not a Recharge id cannot match anything; it is
		// dropped, and a search left with nothing answers "no results".
		if n, ok := parseDecimalID(id); ok {
			req.Search.CustomerID = n
		}
	}
	if id, ok := idString(q[QueryShopifyCustomerID]); ok {
		req.Search.ExternalID = id
	}
	// Phones, names and zips are searched in the mirror (Recharge cannot):
	// without a ready one they find nothing. A value of another shape is
	// dropped like an unusable id.
	phone, _, _ := stringOrList(q[QueryPhone])
	phones, _, _ := stringOrList(q[QueryPhones])
	req.Search.Phones = distinctPhones(append(phone, phones...), 1)
	if name, _, err := optString(q[QueryName]); err == nil {
		req.Search.Name = strings.TrimSpace(name)
	}
	if zip, ok := idString(q[QueryZip]); ok {
		req.Search.Zip = zip
	}
	return req, nil
}

// distinctPhones returns up to max of phones, trimmed, without empty ones
// or exact duplicates, in their first order.
func distinctPhones(phones []string, max int) []string {
	var out []string
	for _, p := range nonEmpty(phones) {
		if len(out) == max {
			break
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// parseProfile reads the Gladly profile fields of a query.
func parseProfile(q map[string]json.RawMessage) (rechargekit.Profile, error) {
	var p rechargekit.Profile
	p.ID, _ = idString(q[QueryID])
	if name, _, err := optString(q[QueryName]); err == nil {
		p.Name = strings.TrimSpace(name)
	}
	emails, _, err := stringOrList(q[QueryEmails])
	if err != nil {
		return p, invalid("query.emails must be a string or an array of strings")
	}
	phones, _, err := stringOrList(q[QueryPhones])
	if err != nil {
		return p, invalid("query.phones must be a string or an array of strings")
	}
	p.Emails = nonEmpty(emails)
	p.Phones = nonEmpty(phones)
	return p, nil
}

func nonEmpty(in []string) []string {
	var out []string
	for _, s := range in {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || bytes.Equal(t, []byte("null"))
}

// optString decodes an optional JSON string; null or absent is not present.
func optString(raw json.RawMessage) (s string, present bool, err error) {
	if isNull(raw) {
		return "", false, nil
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false, err
	}
	return s, true, nil
}

// stringOrList decodes a value that may be one JSON string or an array of
// strings (null elements are skipped). isList reports the array form, which
// is what marks an auto-link suggestion.
func stringOrList(raw json.RawMessage) (vals []string, isList bool, err error) {
	t := bytes.TrimSpace(raw)
	if isNull(t) {
		return nil, false, nil
	}
	if t[0] == '[' {
		var list []*string
		if err := json.Unmarshal(t, &list); err != nil {
			return nil, true, err
		}
		for _, s := range list {
			if s != nil {
				vals = append(vals, *s)
			}
		}
		return vals, true, nil
	}
	var s string
	if err := json.Unmarshal(t, &s); err != nil {
		return nil, false, err
	}
	return []string{s}, false, nil
}

// idString reads an id typed as a JSON string or number, trimmed.
func idString(raw json.RawMessage) (string, bool) {
	t := bytes.TrimSpace(raw)
	if isNull(t) {
		return "", false
	}
	var s string
	if json.Unmarshal(t, &s) == nil {
		s = strings.TrimSpace(s)
		return s, s != ""
	}
	var n json.Number
	if json.Unmarshal(t, &n) == nil {
		return n.String(), true
	}
	return "", false
}

// parseDecimalID parses a positive decimal id made of ASCII digits only (no
// sign, no spaces), as Recharge ids are.
func parseDecimalID(s string) (int64, bool) {
	if s == "" || len(s) > 19 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, false
	}
	return n, true
}

// jsonProblem describes a decode error without echoing the body.
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("syntax error at byte %d", syn.Offset)
	case errors.As(err, &typ):
		return fmt.Sprintf("%s must not be a JSON %s", typ.Field, typ.Value)
	default:
		return "unexpected end of input"
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// LookupResponse is the answer to every successful lookup: a JSON object
// with the single key "results". "No match" is an empty list, never null.
type LookupResponse struct {
	Results []Result `json:"results"`

	// encoded, when set, is this answer already encoded (a memoized
	// DETAILED answer); the handler writes it as is.
	encoded []byte
	// stale marks a DETAILED answer built from a card served past its TTL,
	// for the lookup metrics.
	stale bool
}

// Result is one customer in a lookup answer (spec sections 4 and 11).
type Result struct {
	// ExternalCustomerID is the Recharge customer id as a decimal string; it
	// is what Gladly stores when it links the profile.
	ExternalCustomerID string  `json:"externalCustomerId"`
	Name               string  `json:"name,omitempty"`
	Emails             []Email `json:"emails,omitempty"`
	Phones             []Phone `json:"phones,omitempty"`
	// CustomAttributes is a flat string map; Gladly accepts no nesting.
	CustomAttributes map[string]string `json:"customAttributes,omitempty"`
	// Transactions is set in DETAILED answers only: nil is omitted (BASIC),
	// an empty non-nil slice is sent as [] (a customer with no subscriptions).
	Transactions []rechargekit.SubscriptionTransaction `json:"transactions,omitzero"`
	// Orders, when set (DETAILED with TransactionsOrder), are sent as the
	// transactions instead: each subscription as an ORDER transaction.
	// Decoding puts ORDER transactions here and the others in
	// Transactions.
	Orders []OrderTransaction `json:"-"`
	// Actions are the customer-level actions offered (DETAILED only; spec
	// section 14): the agent picks one, and Gladly fetches its form.
	Actions []Action `json:"actions,omitempty"`
}

// Action is one action offered in a result: Gladly shows Name in the
// profile's action menu and fetches the form at FormURL, relative to the
// adaptor's URL.
type Action struct {
	Name    string `json:"name"`
	FormURL string `json:"formUrl"`
}

// Email is an email address in a result.
type Email struct {
	Original string `json:"original"`
}

// Phone is a phone number in a result.
type Phone struct {
	Original string `json:"original"`
	Type     string `json:"type"`
}

// Phone types Gladly knows.
const (
	PhoneMobile = "MOBILE"
	PhoneHome   = "HOME"
	PhoneOffice = "OFFICE"
	PhoneOther  = "OTHER"
)

// Customer-level custom attribute keys (spec section 11). Each needs display
// setup on the Gladly side.
const (
	AttrRechargeCustomerID       = "rechargeCustomerId"
	AttrSubscriptionsTotalCount  = "subscriptionsTotalCount"
	AttrSubscriptionsActiveCount = "subscriptionsActiveCount"
	// AttrDataAsOf is when the card's data was read from Recharge (UTC,
	// rechargekit.TimeLayout). It is sent with every DETAILED answer, so an
	// agent can see the age of a card served from the cache while Recharge
	// is unavailable.
	AttrDataAsOf = "rechargeDataAsOf"
)

// BasicResult maps a Recharge customer to a BASIC result: id, name (omitted
// when empty), email exactly as Recharge stores it, the phone only when it is
// E.164 and then typed OTHER (Recharge records no phone type, so a stored
// phone must never trigger Gladly's mobile-phone auto-link; only the number
// of the profile that found the customer in an auto-link suggestion is sent
// as MOBILE, see Handler), and the customer-level custom attributes. It never
// carries transactions.
func BasicResult(c *rechargekit.Customer) Result {
	id := strconv.FormatInt(c.ID, 10)
	r := Result{
		ExternalCustomerID: id,
		Name:               c.Name(),
		CustomAttributes:   map[string]string{AttrRechargeCustomerID: id},
	}
	if strings.TrimSpace(c.Email) != "" {
		r.Emails = []Email{{Original: c.Email}}
	}
	if phone := strings.TrimSpace(c.Phone); IsE164(phone) {
		r.Phones = []Phone{{Original: phone, Type: PhoneOther}}
	}
	if c.SubscriptionsTotal != nil {
		r.CustomAttributes[AttrSubscriptionsTotalCount] = strconv.Itoa(*c.SubscriptionsTotal)
	}
	if c.SubscriptionsActive != nil {
		r.CustomAttributes[AttrSubscriptionsActiveCount] = strconv.Itoa(*c.SubscriptionsActive)
	}
	return r
}

// DetailedResult maps a card to a DETAILED result with the default
// options: SUBSCRIPTION transactions and no admin links (see
// DetailOptions.Result).
func DetailedResult(card *rechargekit.Card) Result { return DetailOptions{}.Result(card) }

// IsE164 reports whether s is an E.164 phone number: "+", a non-zero digit,
// then 6 to 14 more digits (^\+[1-9][0-9]{6,14}$).
func IsE164(s string) bool {
	if len(s) < 8 || len(s) > 16 || s[0] != '+' || s[1] < '1' || s[1] > '9' {
		return false
	}
	for i := 2; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// ErrorResponse is the body of every non-200 answer (spec section 9).
type ErrorResponse struct {
	Errors []ErrorDetail `json:"errors"`
}

// ErrorDetail is one error: Attr names the offending header or form field
// when there is one, Code is stable and machine-readable, Message (action
// submits) is the headline Gladly shows and Detail is for people.
type ErrorDetail struct {
	Attr    string `json:"attr,omitempty"`
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
	Detail  string `json:"detail,omitempty"`
}

// Error codes of ErrorDetail.
const (
	CodeInvalidRequest      = "invalid_request"
	CodeInvalidSignature    = "invalid_signature"
	CodeInvalidCredentials  = "invalid_credentials"
	CodeMethodNotAllowed    = "method_not_allowed"
	CodeRequestTooLarge     = "request_too_large"
	CodeUpstreamUnavailable = "upstream_unavailable"
	CodeInternal            = "internal_error"
)
