package server

import (
	"context"
	"net/http"
	"time"

	"github.com/rechargekit/rechargekit"
)

// withDeadline bounds a request that calls Recharge (opening a profile,
// searching, linking) by the lookup deadline, so that a slow Recharge
// yields a stale card or a clear "unavailable" in time instead of a
// hanging page.
func (c *console) withDeadline(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), c.cfg.LookupDeadline)
}

// openProfile opens the request's profile ({id}) for a desk and counts the
// lookup in the metrics; ctx should carry the lookup deadline
// (withDeadline).
func (c *console) openProfile(ctx context.Context, r *http.Request, desk string) (*rechargekit.ProfileView, error) {
	start := c.cfg.Now()
	v, err := c.cfg.Profiles.Open(ctx, r.PathValue("id"))
	c.countLookup(desk, start, v, err)
	return v, err
}

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
