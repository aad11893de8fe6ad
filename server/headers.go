package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
)

// framing is what Config.FrameAncestors allows, checked once: the CSP
// frame-ancestors source list and the X-Frame-Options header that agrees
// with it.
type framing struct {
	// ancestors is the frame-ancestors source list: "'none'" unless the
	// configuration names valid sources.
	ancestors string
	// xfo is the X-Frame-Options value for browsers without CSP level 2:
	// DENY for 'none', SAMEORIGIN for 'self', and "" (no header) when
	// other sites may frame the console, since X-Frame-Options cannot name
	// them.
	xfo string
	// crossSite is true when another site may frame the console. A
	// console in a cross-site frame only receives its cookies when they
	// are SameSite=None (and therefore Secure), so setCookie marks them so.
	crossSite bool
}

// sourceRE matches one CSP host-source or scheme-source: "https:",
// "https://desk.example.com", "https://*.example.com:443", "desk.example.com".
var sourceRE = regexp.MustCompile(`^(?i)(?:[a-z][a-z0-9+.-]*:|(?:[a-z][a-z0-9+.-]*://)?(?:\*\.)?[a-z0-9-]+(?:\.[a-z0-9-]+)*(?::(?:[0-9]{1,5}|\*))?(?:/[a-z0-9._~!$&()*+=:@%/-]*)?)$`)

// parseFrameAncestors checks a frame-ancestors source list: "" or "'none'"
// (no framing), "'self'", or space-separated sources as in
// "'self' https://desk.example.com". A value that could add another
// directive to the policy (";", ",", quotes other than 'self' and 'none',
// control characters) is refused.
func parseFrameAncestors(raw string) (framing, error) {
	fields := strings.Fields(raw)
	none := framing{ancestors: "'none'", xfo: "DENY"}
	if len(fields) == 0 {
		return none, nil
	}
	if strings.ContainsFunc(raw, func(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f }) {
		return none, errors.New("frame-ancestors holds control characters")
	}
	f := framing{ancestors: strings.Join(fields, " ")}
	self := false
	for _, s := range fields {
		switch {
		case strings.EqualFold(s, "'none'"):
			if len(fields) > 1 {
				return none, errors.New("frame-ancestors 'none' must stand alone")
			}
			return none, nil
		case strings.EqualFold(s, "'self'"):
			self = true
		case s == "*" || sourceRE.MatchString(s):
			f.crossSite = true
		default:
			return none, fmt.Errorf("frame-ancestors source %q is not a CSP source such as https://desk.example.com", truncate(s, 60))
		}
	}
	if self && !f.crossSite {
		f.xfo = "SAMEORIGIN"
	}
	return f, nil
}

// CheckFrameAncestors reports whether raw is a frame-ancestors source list
// Config.FrameAncestors accepts, for refusing a bad setting at start-up.
func CheckFrameAncestors(raw string) error {
	_, err := parseFrameAncestors(raw)
	return err
}

// frameAncestors returns the framing for cfg, logging (once, at start-up)
// a value it had to refuse: the console then refuses to be framed.
func frameAncestors(raw string, log *slog.Logger) framing {
	f, err := parseFrameAncestors(raw)
	if err != nil {
		log.Error("ignoring the configured frame-ancestors: the console cannot be framed", "error", err)
	}
	return f
}

// contentSecurityPolicy is the policy of every answer: scripts, styles
// and everything else only from this origin, no inline script or style
// anywhere (the templates have none), images only from this origin (product
// pictures come through the console's image proxy, so no URL from
// Recharge's data is ever fetched by the browser) and from data: URLs (the
// stylesheet's icons), forms only to this origin, and framing as
// configured.
func (f framing) contentSecurityPolicy() string {
	return "default-src 'self'; img-src 'self' data:; script-src 'self'; style-src 'self'; " +
		"frame-ancestors " + f.ancestors + "; form-action 'self'; base-uri 'none'"
}

// hsts is the Strict-Transport-Security of answers over HTTPS: a year,
// for this host only (the parent domain is not ours to decide for).
const hsts = "max-age=31536000"

// securityHeaders sets the headers every answer carries, whatever serves
// it (console page, static file, JSON API, Lookup Adaptor, webhooks,
// health, metrics, the mux's own 404 and 405): the Content-Security-Policy,
// X-Frame-Options when it agrees with it, no MIME sniffing, no Referer to
// other sites, and, over HTTPS (TLS here, or X-Forwarded-Proto: https from
// the proxy in front), Strict-Transport-Security. Browsers ignore that
// header over plain HTTP, so a client that fakes the proxy's header gains
// nothing. Handlers may add to them (Cache-Control).
func securityHeaders(frameAncestorsValue string, log *slog.Logger, next http.Handler) http.Handler {
	f := frameAncestors(frameAncestorsValue, log)
	csp := f.contentSecurityPolicy()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		if f.xfo != "" {
			h.Set("X-Frame-Options", f.xfo)
		}
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		if overHTTPS(r) {
			h.Set("Strict-Transport-Security", hsts)
		}
		next.ServeHTTP(w, r)
	})
}

// overHTTPS reports whether the browser reached us over HTTPS: TLS here,
// or X-Forwarded-Proto: https from the TLS-terminating proxy in front.
func overHTTPS(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// truncate cuts s to at most n bytes, for error messages.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
