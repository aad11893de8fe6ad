package rechargekit

import (
	"context"
	"time"
)

// ProfileView is what an agent sees on a desk profile: the profile, its
// link state, and either the linked customer's card or the candidates to
// link to.
type ProfileView struct {
	Profile     *Profile
	Link        *Link // nil when unlinked
	WasUnlinked bool  // an agent unlinked it once: it is never auto-linked again
	AutoLinked  bool  // linked by this very Open, on a unique email or phone match

	// Card is the linked customer's card; nil when unlinked or when it
	// could not be fetched, and then CardErr says why (ENOTFOUND: the
	// customer no longer exists in Recharge; EUPSTREAM: Recharge is
	// unavailable).
	Card    *Card
	CardErr error

	// Candidates are the Recharge customers that match the profile's
	// emails or phones, when it is unlinked; CandidatesErr when they could not be
	// searched.
	Candidates    []*Match
	CandidatesErr error
	// CandidatesUnsearched lists what the candidate search held but could
	// not search (MatchPhone: the profile's phones, while the mirror is
	// off or not complete); see SearchResult.Unsearched.
	CandidatesUnsearched []string

	// AutoLinkBlocked says why an unlinked profile with candidates was not
	// linked automatically ("" when it was, or when there is nothing to
	// link): auto-linking off, several candidates, previously unlinked.
	AutoLinkBlocked string

	OpenedAt time.Time
}

// ProfileService saves and opens profiles, applying the auto-link policy,
// and links and unlinks them by hand: the one way the console and the JSON
// API write profiles and links. The cards package implements it over a
// CardService and a Store.
type ProfileService interface {
	// SaveProfile creates or replaces a desk profile and returns it as
	// stored (see NormalizeProfile), and whether this call created it; of
	// callers racing to create one profile, exactly one is told it did.
	// Errors: EINVALID, EUPSTREAM (the database is not answering).
	SaveProfile(ctx context.Context, p *Profile) (saved *Profile, created bool, err error)

	// Open returns the profile's view. When auto-linking is on and the
	// profile is unlinked, never unlinked before, and exactly one Recharge
	// customer has one of its emails, Open links it (by "auto") first.
	// Errors: ENOTFOUND (no such profile); Recharge failures are reported
	// in the view, not as errors.
	Open(ctx context.Context, profileID string) (*ProfileView, error)

	// Link links the profile to a Recharge customer by hand, after checking
	// that the customer exists. Errors: EINVALID, ENOTFOUND (profile or
	// Recharge customer), ECONFLICT (linked to another customer), EUPSTREAM.
	Link(ctx context.Context, profileID string, customerID int64, by string) (*Link, error)

	// Unlink removes the profile's link. Errors: ENOTFOUND (not linked).
	Unlink(ctx context.Context, profileID, by string) error
}
