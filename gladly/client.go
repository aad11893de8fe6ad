package gladly

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/rechargekit/rechargekit"
)

// Client plays Gladly's side of a lookup: it sends lookups to an adaptor
// with exactly the headers Gladly sends (Content-Type, Accept, Gladly-Time,
// Gladly-Correlation-Id, X-B3-Traceid, Gladly-Authorization, and Basic
// Authorization when configured), signed as Gladly signs them. Tests, the
// simulator and the command line use it to exercise an adaptor as Gladly
// would. The zero value (with URL set) sends unsigned requests.
type Client struct {
	// URL is the adaptor's lookup URL, e.g. https://host/gladly/lookup.
	URL string
	// SigningKey signs every request when set.
	SigningKey string
	// BasicUser and BasicPassword add Basic credentials when either is set.
	BasicUser     string
	BasicPassword string
	// BasicRealm, when set with Basic credentials, is sent as
	// WWW-Authenticate: Basic realm="..." the way Gladly does.
	BasicRealm string
	// Header holds static custom headers (such as X-API-Key) to send; like
	// Gladly's, they are not signed.
	Header http.Header
	// HTTPClient sends the requests (a client with a 15 s timeout, Gladly's
	// own limit, when nil).
	HTTPClient *http.Client
	// Now stamps Gladly-Time (time.Now when nil).
	Now func() time.Time
}

var defaultHTTPClient = &http.Client{Timeout: MaxDeadline}

// maxResponseBytes caps how much of an answer the client reads.
const maxResponseBytes = 64 << 20

// ResponseError is a non-200 answer from an adaptor.
type ResponseError struct {
	StatusCode    int
	CorrelationID string
	Errors        []ErrorDetail // the parsed error body, if it had one
}

// Error implements the error interface.
func (e *ResponseError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "gladly: status %d", e.StatusCode)
	for _, d := range e.Errors {
		b.WriteString(": ")
		if d.Message != "" {
			b.WriteString(d.Message + " ")
		}
		if d.Attr != "" {
			b.WriteString(d.Attr + " ")
		}
		b.WriteString(d.Code)
		if d.Detail != "" {
			b.WriteString(" (" + d.Detail + ")")
		}
	}
	return b.String()
}

// Lookup sends req and decodes the results. The correlation id is the one
// carried by ctx (rechargekit.WithCorrelationID), or a new one. A non-200
// answer is a *ResponseError.
func (c *Client) Lookup(ctx context.Context, req *LookupRequest) (*LookupResponse, error) {
	var out LookupResponse
	if err := c.Send(ctx, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Send sends req like Lookup and decodes a 200 answer into v.
func (c *Client) Send(ctx context.Context, req *LookupRequest, v any) error {
	data, err := c.SendRaw(ctx, req)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("gladly: lookup: decode answer: %w", err)
	}
	return nil
}

// SendRaw sends req like Lookup and returns a 200 answer's body undecoded,
// for a caller that must spend as little as possible on it (a load
// generator sharing the machine with the server it measures).
func (c *Client) SendRaw(ctx context.Context, req *LookupRequest) ([]byte, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("gladly: lookup: encode request: %w", err)
	}
	status, data, corr, err := c.send(ctx, http.MethodPost, c.URL, body)
	if err != nil {
		return nil, fmt.Errorf("gladly: lookup: %w", err)
	}
	if status != http.StatusOK {
		return nil, responseError(status, corr, data)
	}
	return data, nil
}

// responseError is the *ResponseError of a non-200 answer.
func responseError(status int, corr string, data []byte) *ResponseError {
	e := &ResponseError{StatusCode: status, CorrelationID: corr}
	var er ErrorResponse
	if json.Unmarshal(data, &er) == nil {
		e.Errors = er.Errors
	}
	return e
}

// send sends one request the way Gladly does: its headers, its signature
// (over the path, the query string and the exact body), Basic credentials
// and static headers. It returns the status and the body, read under a cap.
func (c *Client) send(ctx context.Context, method, target string, body []byte) (int, []byte, string, error) {
	corr := rechargekit.CorrelationID(ctx)
	if corr == "" {
		corr = NewCorrelationID()
	}
	trace, err := TraceID(corr)
	if err != nil {
		return 0, nil, corr, err
	}
	hr, err := http.NewRequestWithContext(ctx, method, target, bytes.NewReader(body))
	if err != nil {
		return 0, nil, corr, err
	}
	for name, vals := range c.Header {
		for _, v := range vals {
			hr.Header.Add(name, v)
		}
	}
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("Accept", "application/json")
	hr.Header.Set(HeaderCorrelationID, corr)
	hr.Header.Set(HeaderTraceID, trace)
	if c.BasicUser != "" || c.BasicPassword != "" {
		hr.SetBasicAuth(c.BasicUser, c.BasicPassword)
		if c.BasicRealm != "" {
			hr.Header.Set("WWW-Authenticate", `Basic realm="`+c.BasicRealm+`"`)
		}
	}
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	if c.SigningKey != "" {
		if err := Sign(hr, body, c.SigningKey, now()); err != nil {
			return 0, nil, corr, err
		}
	} else {
		hr.Header.Set(HeaderTime, now().UTC().Format(TimeFormat))
	}

	hc := c.HTTPClient
	if hc == nil {
		hc = defaultHTTPClient
	}
	resp, err := hc.Do(hr)
	if err != nil {
		return 0, nil, corr, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return 0, nil, corr, fmt.Errorf("read answer: %w", err)
	}
	return resp.StatusCode, data, corr, nil
}

// resolve returns ref (a formUrl or actionUrl, relative to the adaptor's
// URL) as an absolute URL, resolved as a URL reference against c.URL.
func (c *Client) resolve(ref string) (string, error) {
	base, err := url.Parse(c.URL)
	if err != nil {
		return "", err
	}
	u, err := base.Parse(ref)
	if err != nil {
		return "", err
	}
	return u.String(), nil
}

// Form fetches an action's form as Gladly does: GET <formUrl>, signed with
// an empty body. formURL may be relative to c.URL (a result's formUrl). A
// non-200 answer is a *ResponseError.
func (c *Client) Form(ctx context.Context, formURL string) (*Form, error) {
	target, err := c.resolve(formURL)
	if err != nil {
		return nil, fmt.Errorf("gladly: form: %w", err)
	}
	status, data, corr, err := c.send(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, fmt.Errorf("gladly: form: %w", err)
	}
	if status != http.StatusOK {
		return nil, responseError(status, corr, data)
	}
	var f Form
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("gladly: form: decode answer: %w", err)
	}
	return &f, nil
}

// Submit submits an action's form as Gladly does: POST <actionUrl> with the
// form's attr -> value object. actionURL may be relative to c.URL. A 200
// answer is the ActionResponse; a 400 (the form stays open) or 406 (it
// closes) is a *ResponseError carrying the errors to show.
func (c *Client) Submit(ctx context.Context, actionURL string, fields map[string]string) (*ActionResponse, error) {
	target, err := c.resolve(actionURL)
	if err != nil {
		return nil, fmt.Errorf("gladly: submit: %w", err)
	}
	if fields == nil {
		fields = map[string]string{}
	}
	body, err := json.Marshal(fields)
	if err != nil {
		return nil, fmt.Errorf("gladly: submit: encode form: %w", err)
	}
	status, data, corr, err := c.send(ctx, http.MethodPost, target, body)
	if err != nil {
		return nil, fmt.Errorf("gladly: submit: %w", err)
	}
	if status != http.StatusOK {
		return nil, responseError(status, corr, data)
	}
	var a ActionResponse
	if err := json.Unmarshal(data, &a); err != nil {
		return nil, fmt.Errorf("gladly: submit: decode answer: %w", err)
	}
	return &a, nil
}

// AutoLink sends the auto-link suggestion Gladly sends for an unlinked
// profile: BASIC, with the profile's emails and phones as arrays.
func (c *Client) AutoLink(ctx context.Context, profile rechargekit.Profile) (*LookupResponse, error) {
	q, err := profileQuery(profile)
	if err != nil {
		return nil, err
	}
	return c.Lookup(ctx, &LookupRequest{LookupLevel: LevelBasic, Query: q})
}

// Search sends an agent's manual search: BASIC, each value a single string
// under its Search Query Attribute name (email, rechargeCustomerId,
// shopifyCustomerId).
func (c *Client) Search(ctx context.Context, query map[string]string) (*LookupResponse, error) {
	q := make(map[string]json.RawMessage, len(query))
	for k, v := range query {
		raw, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("gladly: search: encode %s: %w", k, err)
		}
		q[k] = raw
	}
	return c.Lookup(ctx, &LookupRequest{LookupLevel: LevelBasic, Query: q})
}

// Detailed sends the DETAILED lookup Gladly sends for a profile linked to
// externalCustomerID.
func (c *Client) Detailed(ctx context.Context, externalCustomerID string, profile rechargekit.Profile) (*LookupResponse, error) {
	req, err := DetailedRequest(externalCustomerID, profile)
	if err != nil {
		return nil, err
	}
	return c.Lookup(ctx, req)
}

// DetailedRequest returns the DETAILED lookup Gladly sends for a profile
// linked to externalCustomerID.
func DetailedRequest(externalCustomerID string, profile rechargekit.Profile) (*LookupRequest, error) {
	q, err := profileQuery(profile)
	if err != nil {
		return nil, err
	}
	if q[QueryExternalCustomerID], err = json.Marshal(externalCustomerID); err != nil {
		return nil, fmt.Errorf("gladly: detailed: %w", err)
	}
	return &LookupRequest{LookupLevel: LevelDetailed, Query: q, UniqueMatchRequired: true}, nil
}

// profileQuery is the query Gladly builds from a profile: id and name when
// known, emails and phones always as arrays.
func profileQuery(p rechargekit.Profile) (map[string]json.RawMessage, error) {
	q := map[string]json.RawMessage{}
	var errs []error
	put := func(key string, v any) {
		raw, err := json.Marshal(v)
		errs = append(errs, err)
		q[key] = raw
	}
	if p.ID != "" {
		put(QueryID, p.ID)
	}
	if p.Name != "" {
		put(QueryName, p.Name)
	}
	put(QueryEmails, append([]string{}, p.Emails...))
	put(QueryPhones, append([]string{}, p.Phones...))
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("gladly: encode profile: %w", err)
	}
	return q, nil
}
