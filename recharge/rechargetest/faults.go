package rechargetest

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"
)

// Faults makes the simulator misbehave on purpose, to exercise a client's
// retries, deadlines and fallbacks. The zero value injects nothing.
//
// A fault affects Recharge API requests that passed authentication, the
// version check, the rate limit and the scope check (so that an injected 429
// is distinguishable from a real one in Stats). Effects combine: Delay is
// waited first, then Status answers instead of the route (the request is
// not applied), otherwise Truncate lets the route run and cuts its 200 body.
type Faults struct {
	// Rate is the fraction (0..1) of matching requests affected. 0 means
	// every matching request. The choice is deterministic: with Rate 0.25
	// the 1st, 5th, 9th ... matching requests are affected.
	Rate float64 `json:"rate,omitempty"`
	// Status, when set, is answered with a Recharge-shaped body, e.g. 429
	// {"errors":"Too many requests"}, 409 (route lock), 500, 502, 503.
	Status int `json:"status,omitempty"`
	// Delay is waited before answering (or until the client gives up).
	Delay time.Duration `json:"delay,omitempty"`
	// Truncate sends a 200 body cut in half after a Content-Length header
	// announcing the full body, so the client reads an unexpected EOF.
	Truncate bool `json:"truncate,omitempty"`
	// Count, when > 0, limits the fault to the next Count matching requests;
	// after that the faults are cleared.
	Count int `json:"count,omitempty"`
	// Route, when set, limits the fault to matching requests: a route
	// pattern ("GET /subscriptions/{id}", "/subscriptions/{id}") or a path
	// prefix ("/subscriptions"), optionally preceded by a method
	// ("POST /subscriptions" affects only POSTs under /subscriptions).
	Route string `json:"route,omitempty"`
}

// active reports whether f injects anything.
func (f Faults) active() bool { return f.Status != 0 || f.Delay > 0 || f.Truncate }

// MarshalJSON writes Delay as a Go duration string ("250ms").
func (f Faults) MarshalJSON() ([]byte, error) {
	type plain Faults
	return json.Marshal(struct {
		plain
		Delay string `json:"delay,omitempty"`
	}{plain: plain(f), Delay: durString(f.Delay)})
}

func durString(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return d.String()
}

// UnmarshalJSON accepts Delay as a duration string ("250ms") or as a
// number of nanoseconds.
func (f *Faults) UnmarshalJSON(b []byte) error {
	type plain Faults
	var v struct {
		plain
		Delay json.RawMessage `json:"delay"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*f = Faults(v.plain)
	f.Delay = 0
	if len(v.Delay) == 0 || string(v.Delay) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(v.Delay, &s); err == nil {
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("faults: delay: %w", err)
		}
		f.Delay = d
		return nil
	}
	var n int64
	if err := json.Unmarshal(v.Delay, &n); err != nil {
		return fmt.Errorf("faults: delay must be a duration string or nanoseconds: %w", err)
	}
	f.Delay = time.Duration(n)
	return nil
}

// SetFaults replaces the current faults; Faults{} clears them.
func (s *Simulator) SetFaults(f Faults) {
	s.ctl.Lock()
	defer s.ctl.Unlock()
	s.faults = f
	s.faultSeen = 0
}

// takeFault decides whether the current faults affect this request and
// consumes one use of a counted fault.
func (s *Simulator) takeFault(method, pattern, path string) (Faults, bool) {
	s.ctl.Lock()
	defer s.ctl.Unlock()
	f := s.faults
	if !f.active() || !f.matches(method, pattern, path) {
		return Faults{}, false
	}
	rate := f.Rate
	if rate <= 0 || rate > 1 {
		rate = 1
	}
	// Deterministic: matching request n (from 0) is affected when
	// ceil((n+1)*rate) > ceil(n*rate), so the first one is, then one in
	// every 1/rate.
	n := float64(s.faultSeen)
	s.faultSeen++
	if math.Ceil((n+1)*rate-1e-9) <= math.Ceil(n*rate-1e-9) {
		return Faults{}, false
	}
	if f.Count > 0 {
		s.faults.Count--
		if s.faults.Count == 0 {
			s.faults = Faults{}
			s.faultSeen = 0
		}
	}
	return f, true
}

func (f Faults) matches(method, pattern, path string) bool {
	want := strings.TrimSpace(f.Route)
	if want == "" {
		return true
	}
	if m, rest, ok := strings.Cut(want, " "); ok && m == strings.ToUpper(m) && !strings.HasPrefix(m, "/") {
		if m != method {
			return false
		}
		want = strings.TrimSpace(rest)
	}
	_, patPath, _ := strings.Cut(pattern, " ")
	if want == patPath {
		return true
	}
	return path == want || strings.HasPrefix(path, strings.TrimSuffix(want, "/")+"/")
}
