package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
	"time"

	"github.com/rechargekit/rechargekit"
)

// countLookup reports one console or API card lookup to the metrics.
func (c *console) countLookup(desk string, start time.Time, v *rechargekit.ProfileView, err error) {
	c.cfg.Metrics.Lookup(desk, rechargekit.LevelCard, lookupOutcome(v, err), c.cfg.Now().Sub(start))
}

// lookupOutcome is the metrics outcome of opening a profile: the card's
// (fresh, stale or failed), else the candidate search's.
func lookupOutcome(v *rechargekit.ProfileView, err error) string {
	switch {
	case err != nil:
		return rechargekit.OutcomeOf(err)
	case v.Card != nil && v.Card.Stale:
		return rechargekit.OutcomeStale
	case v.Card != nil:
		return rechargekit.OutcomeOK
	case v.Link != nil:
		return rechargekit.OutcomeOf(v.CardErr)
	default:
		return rechargekit.OutcomeOf(v.CandidatesErr)
	}
}

// metricsHandler guards the metrics with a bearer token when one is set.
func metricsHandler(next http.Handler, token string) http.Handler {
	if token == "" {
		return next
	}
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		sum := sha256.Sum256([]byte(strings.TrimSpace(got)))
		if !ok || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="rechargekit metrics"`)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "missing or wrong metrics token"})
			return
		}
		next.ServeHTTP(w, r)
	})
}
