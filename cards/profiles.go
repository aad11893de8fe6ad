package cards

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/search"
)

// ActorAuto is who auto links are made by, in links and in the audit log.
const ActorAuto = "auto"

// Profiles implements rechargekit.ProfileService: it keeps links in a
// Store and reads Recharge through a CardService.
type Profiles struct {
	Cards  rechargekit.CardService
	Store  rechargekit.Store
	Region string           // phone region of numbers without a country code (search.DefaultRegion when "")
	Now    func() time.Time // defaults to time.Now
	Logger *slog.Logger     // defaults to slog.Default()
}

var _ rechargekit.ProfileService = (*Profiles)(nil)

func (p *Profiles) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func (p *Profiles) logger() *slog.Logger {
	if p.Logger != nil {
		return p.Logger
	}
	return slog.Default()
}

// SaveProfile implements rechargekit.ProfileService. It answers with the
// profile as normalized and written, not read back, so a concurrent change
// after this one cannot make the answer describe another write.
func (p *Profiles) SaveProfile(ctx context.Context, prof *rechargekit.Profile) (*rechargekit.Profile, bool, error) {
	n, err := rechargekit.NormalizeProfile(prof)
	if err != nil {
		return nil, false, err
	}
	created, err := p.Store.UpsertProfile(ctx, n)
	if err != nil {
		return nil, false, err
	}
	return n, created, nil
}

// Open implements rechargekit.ProfileService.
func (p *Profiles) Open(ctx context.Context, profileID string) (*rechargekit.ProfileView, error) {
	prof, err := p.Store.Profile(ctx, profileID)
	if err != nil {
		return nil, err
	}
	v := &rechargekit.ProfileView{Profile: prof, OpenedAt: p.now()}
	if v.Link, err = p.link(ctx, profileID); err != nil {
		return nil, err
	}
	if v.WasUnlinked, err = p.Store.WasUnlinked(ctx, profileID); err != nil {
		return nil, err
	}
	if v.Link == nil {
		if err := p.autoLink(ctx, v); err != nil {
			return nil, err
		}
	}
	if v.Link != nil {
		v.Card, v.CardErr = p.Cards.Card(ctx, v.Link.CustomerID)
	}
	return v, nil
}

// link returns the profile's link, or nil when it is unlinked.
func (p *Profiles) link(ctx context.Context, profileID string) (*rechargekit.Link, error) {
	l, err := p.Store.Link(ctx, profileID)
	if rechargekit.ErrorCode(err) == rechargekit.ENOTFOUND {
		return nil, nil
	}
	return l, err
}

// autoLink finds the candidates of an unlinked profile (by its emails and
// phones) and links it when the policy allows: auto-linking on, never
// unlinked, exactly one candidate, and that candidate matched exactly: by
// an email that is its Recharge email and one of the profile's, or by one
// of the profile's phones. A name or a zip never links.
func (p *Profiles) autoLink(ctx context.Context, v *rechargekit.ProfileView) error {
	if len(v.Profile.Emails) == 0 && len(v.Profile.Phones) == 0 {
		return nil
	}
	res, err := rechargekit.SearchCustomers(ctx, p.Cards, rechargekit.CustomerSearch{Emails: v.Profile.Emails, Phones: v.Profile.Phones})
	if err != nil {
		v.CandidatesErr = err
		return nil
	}
	v.Candidates, v.CandidatesUnsearched = res.Matches, res.Unsearched
	if len(v.Candidates) == 0 {
		return nil
	}
	settings, err := p.Store.Settings(ctx)
	if err != nil {
		return err
	}
	switch {
	case !settings.AutoLink:
		v.AutoLinkBlocked = "auto-linking is off"
		return nil
	case v.WasUnlinked:
		v.AutoLinkBlocked = "this profile was unlinked before, so it is only linked by hand"
		return nil
	case len(v.Candidates) > 1:
		v.AutoLinkBlocked = "more than one Recharge customer matches"
		return nil
	}
	if why := notExact(v.Profile, v.Candidates[0], p.Region); why != "" {
		v.AutoLinkBlocked = why
		return nil
	}
	l := &rechargekit.Link{
		ProfileID:  v.Profile.ID,
		CustomerID: v.Candidates[0].Customer.ID,
		Method:     rechargekit.LinkAuto,
		By:         ActorAuto,
	}
	switch err := p.Store.CreateLink(ctx, l); rechargekit.ErrorCode(err) {
	case "":
		// On success l holds the stored link: an agent may have linked the
		// profile to the same customer by hand a moment before, in which
		// case nothing was linked automatically.
		v.Link = l
		if l.Method == rechargekit.LinkAuto && l.By == ActorAuto {
			v.AutoLinked = true
			p.logger().InfoContext(ctx, "auto-linked profile", "profile_id", l.ProfileID, "customer_id", l.CustomerID)
		}
	case rechargekit.ECONFLICT:
		// Someone linked or unlinked it meanwhile: show what is stored now.
		if v.Link, err = p.link(ctx, v.Profile.ID); err != nil {
			return err
		}
		if v.WasUnlinked, err = p.Store.WasUnlinked(ctx, v.Profile.ID); err != nil {
			return err
		}
	default:
		return err
	}
	return nil
}

// notExact says why a candidate's match does not allow an auto link, ""
// when it does: an email match needs the customer's Recharge email to be
// one of the profile's, a phone match one of the profile's phones (the
// card service reports a phone in the spelling it was searched with).
func notExact(prof *rechargekit.Profile, m *rechargekit.Match, region string) string {
	switch m.By {
	case rechargekit.MatchEmail:
		if hasEmail(prof.Emails, m.Customer.Email) {
			return ""
		}
		return "the Recharge email does not match the profile's"
	case rechargekit.MatchPhone:
		v := strings.TrimSpace(m.Value)
		if !slices.ContainsFunc(prof.Phones, func(ph string) bool { return v != "" && strings.TrimSpace(ph) == v }) {
			return "the matching phone is not one of the profile's"
		}
		// The search also finds a phone on one of the customer's
		// addresses, which can be someone else's (a gift's recipient):
		// only the customer's own phone links.
		if !search.SamePhone(m.Customer.Phone, search.Phone(v, region)) {
			return "the matching phone is on one of the customer's addresses, not the customer's own"
		}
		return ""
	}
	return "only an email or a phone links automatically, and this customer matched by " + m.By
}

func hasEmail(emails []string, email string) bool {
	email = strings.TrimSpace(email)
	for _, e := range emails {
		if email != "" && strings.EqualFold(strings.TrimSpace(e), email) {
			return true
		}
	}
	return false
}

// Link implements rechargekit.ProfileService.
func (p *Profiles) Link(ctx context.Context, profileID string, customerID int64, by string) (*rechargekit.Link, error) {
	if customerID <= 0 {
		return nil, rechargekit.Errorf(rechargekit.EINVALID, "A Recharge customer id must be a positive number.")
	}
	if _, err := p.Store.Profile(ctx, profileID); err != nil {
		return nil, err
	}
	// Check the customer exists before storing a link to it. Reading the
	// card also warms it for the page the agent sees next.
	if _, err := p.Cards.Card(ctx, customerID); err != nil {
		if rechargekit.ErrorCode(err) == rechargekit.ENOTFOUND {
			return nil, rechargekit.Errorf(rechargekit.ENOTFOUND, "Recharge has no customer with the id %d.", customerID)
		}
		return nil, err
	}
	l := &rechargekit.Link{ProfileID: profileID, CustomerID: customerID, Method: rechargekit.LinkManual, By: by}
	if err := p.Store.CreateLink(ctx, l); err != nil {
		return nil, err
	}
	return l, nil
}

// Unlink implements rechargekit.ProfileService.
func (p *Profiles) Unlink(ctx context.Context, profileID, by string) error {
	return p.Store.DeleteLink(ctx, profileID, by)
}
