package recharge

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// MaxPageSize is the largest limit Recharge accepts on a list call.
const MaxPageSize = 250

// listPage fetches one page of a list endpoint whose envelope holds the
// items under key, and records the cursors on the Response.
func listPage[T any](ctx context.Context, c *Client, path string, q url.Values, key string) ([]*T, *Response, error) {
	var env map[string]json.RawMessage
	resp, err := c.call(ctx, http.MethodGet, path, q, nil, &env)
	if err != nil {
		return nil, resp, err
	}
	raw, ok := env[key]
	if !ok {
		return nil, resp, missingKey(http.MethodGet, path, key)
	}
	var items []*T
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, resp, c.decodeFailure(http.MethodGet, path, fmt.Errorf("%s: %w", key, err))
	}
	if items == nil {
		items = []*T{}
	}
	resp.NextCursor = cursorValue(env["next_cursor"])
	resp.PreviousCursor = cursorValue(env["previous_cursor"])
	return items, resp, nil
}

// cursorValue reads a cursor that may be a string, null or absent.
func cursorValue(raw json.RawMessage) string {
	var s string
	if len(raw) == 0 || json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return strings.TrimSpace(s)
}

// listAll returns an iterator over every item of a list endpoint. The first
// request sends q as given; later requests send only cursor and limit, as
// the cursor already encodes the filters and the sort. It stops when
// next_cursor is null or empty, at the first error (yielded once), or when
// the consumer stops.
func listAll[T any](ctx context.Context, c *Client, path string, q url.Values, key string) iter.Seq2[*T, error] {
	return func(yield func(*T, error) bool) {
		q := cloneValues(q)
		seen := map[string]bool{}
		for {
			items, resp, err := listPage[T](ctx, c, path, q, key)
			if err != nil {
				yield(nil, err)
				return
			}
			for _, it := range items {
				if !yield(it, nil) {
					return
				}
			}
			next := resp.NextCursor
			if next == "" {
				return
			}
			if seen[next] {
				yield(nil, fmt.Errorf("recharge: GET %s: next_cursor repeats a cursor already followed", path))
				return
			}
			seen[next] = true
			later := url.Values{"cursor": {next}}
			if l := q.Get("limit"); l != "" {
				later.Set("limit", l)
			}
			q = later
		}
	}
}

func cloneValues(q url.Values) url.Values {
	out := make(url.Values, len(q))
	for k, v := range q {
		out[k] = append([]string(nil), v...)
	}
	return out
}

// query builds url.Values, skipping zero values, so that options structs
// stay declarative.
type query url.Values

func (q query) str(key, v string) {
	if v = strings.TrimSpace(v); v != "" {
		url.Values(q).Set(key, v)
	}
}

func (q query) int64(key string, v int64) {
	if v != 0 {
		url.Values(q).Set(key, strconv.FormatInt(v, 10))
	}
}

func (q query) int(key string, v int) {
	if v != 0 {
		url.Values(q).Set(key, strconv.Itoa(v))
	}
}

func (q query) ids(key string, v []int64) {
	if len(v) == 0 {
		return
	}
	parts := make([]string, len(v))
	for i, id := range v {
		parts[i] = strconv.FormatInt(id, 10)
	}
	url.Values(q).Set(key, strings.Join(parts, ","))
}

func (q query) strs(key string, v []string) {
	var parts []string
	for _, s := range v {
		if s = strings.TrimSpace(s); s != "" {
			parts = append(parts, s)
		}
	}
	if len(parts) > 0 {
		url.Values(q).Set(key, strings.Join(parts, ","))
	}
}

// time writes t as RFC 3339 in UTC, the form 2021-11 validates.
func (q query) time(key string, t *time.Time) {
	if t != nil && !t.IsZero() {
		url.Values(q).Set(key, t.UTC().Format(time.RFC3339))
	}
}

func (q query) bool(key string, b *bool) {
	if b != nil {
		url.Values(q).Set(key, strconv.FormatBool(*b))
	}
}

// limit writes the page size, clamped to MaxPageSize.
func (q query) limit(n int) {
	if n > 0 {
		url.Values(q).Set("limit", strconv.Itoa(min(n, MaxPageSize)))
	}
}

// dateRange writes the created_at and updated_at filters.
func (q query) dateRange(createdMin, createdMax, updatedMin, updatedMax *time.Time) {
	q.time("created_at_min", createdMin)
	q.time("created_at_max", createdMax)
	q.time("updated_at_min", updatedMin)
	q.time("updated_at_max", updatedMax)
}

// page writes limit and cursor.
func (q query) page(limit int, cursor string) {
	q.limit(limit)
	q.str("cursor", cursor)
}
