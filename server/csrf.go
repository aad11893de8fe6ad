// This file holds the console's defences against cross-site request
// forgery: the per-session CSRF token every state-changing form carries,
// and the check that such a request comes from this site.

package server

import (
	"crypto/subtle"
	"net/http"
	"net/url"
	"strings"
)

// csrfField is the form field that carries the CSRF token.
const csrfField = "csrf"

func isStateChanging(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

// csrfOK parses the form (capped) and compares its CSRF field with want in
// constant time.
func (c *console) csrfOK(w http.ResponseWriter, r *http.Request, want string) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		return false
	}
	got := r.PostForm.Get(csrfField)
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// sameOrigin reports whether a state-changing request comes from this site,
// as far as the browser says: Sec-Fetch-Site, then Origin, then Referer.
// A request with none of them (an old browser, a script) passes on the
// strength of its CSRF token alone.
func (c *console) sameOrigin(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "cross-site", "same-site":
		return false
	}
	if o := r.Header.Get("Origin"); o != "" {
		return hostOf(o) == strings.ToLower(r.Host)
	}
	if ref := r.Header.Get("Referer"); ref != "" {
		return hostOf(ref) == strings.ToLower(r.Host)
	}
	return true
}

func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "\x00" // never equal to a Host header
	}
	return strings.ToLower(u.Host)
}
