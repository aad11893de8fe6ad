package gladly

import (
	"errors"
	"slices"
	"strings"

	"github.com/rechargekit/rechargekit"
)

// Auto-Linking Fields an admin can select on a Gladly custom app.
const (
	AutoLinkEmails       = "emails"
	AutoLinkMobilePhones = "phones.mobile"
)

// The reasons Gladly gives for not auto-linking (spec section 6). Their text
// is Gladly's own stop message, so a decision can be compared with Gladly's
// test data.
var (
	// ErrAutoLinkOff: no Auto-Linking Field is selected, so Gladly does not
	// even send the lookup.
	ErrAutoLinkOff = errors.New("custom lookup adaptor is not configured for auto linking")
	// ErrNoResults: results is null or empty.
	ErrNoResults = errors.New("the lookup adaptor did not return a customer")
	// ErrMultipleResults: more than one result; Gladly never picks one.
	ErrMultipleResults = errors.New("unable to auto-link since lookup adaptor returned more than one customer")
	// ErrNoMatchingField: the one result shares no selected field with the profile.
	ErrNoMatchingField = errors.New("unable to auto-link since the Gladly customer profile does not contain any matching email addresses or mobile phone numbers returned by the lookup adaptor")
)

// Profile is a Gladly customer profile as Gladly holds it, with typed phone
// numbers. rechargekit.Profile carries no phone types, and Gladly's
// mobile-phone auto-link rule needs them. The JSON form is Gladly's.
type Profile struct {
	ID                  string        `json:"id"`
	ExternalID          string        `json:"externalId,omitempty"`
	Name                string        `json:"name,omitempty"`
	PrimaryEmailAddress string        `json:"primaryEmailAddress,omitempty"`
	EmailAddresses      []string      `json:"emailAddresses,omitempty"`
	PhoneNumbers        []PhoneNumber `json:"phoneNumbers,omitempty"`
}

// PhoneNumber is a phone on a Gladly profile; Type is PhoneMobile, PhoneHome,
// PhoneOffice or PhoneOther.
type PhoneNumber struct {
	Number string `json:"number"`
	Type   string `json:"type"`
}

// Domain returns the profile as Gladly puts it into an auto-link request: the
// primary email first, then the other addresses, then every phone number.
func (p Profile) Domain() rechargekit.Profile {
	out := rechargekit.Profile{ID: p.ID, Name: p.Name}
	if p.PrimaryEmailAddress != "" {
		out.Emails = append(out.Emails, p.PrimaryEmailAddress)
	}
	for _, e := range p.EmailAddresses {
		if e != p.PrimaryEmailAddress {
			out.Emails = append(out.Emails, e)
		}
	}
	for _, ph := range p.PhoneNumbers {
		out.Phones = append(out.Phones, ph.Number)
	}
	return out
}

// NewProfile returns the Gladly form of a desk profile, giving every phone
// the type phoneType (use PhoneMobile to let phones take part in the
// mobile-phone rule). The first email becomes the primary one.
func NewProfile(p rechargekit.Profile, phoneType string) Profile {
	out := Profile{ID: p.ID, Name: p.Name, EmailAddresses: slices.Clone(p.Emails)}
	if len(p.Emails) > 0 {
		out.PrimaryEmailAddress = p.Emails[0]
	}
	for _, n := range p.Phones {
		out.PhoneNumbers = append(out.PhoneNumbers, PhoneNumber{Number: n, Type: phoneType})
	}
	return out
}

// WouldAutoLink reports whether Gladly would link profile to the answer of an
// auto-link lookup, given the app's Auto-Linking Fields, and to which
// external id. See AutoLinkDecision for the rules.
func WouldAutoLink(profile Profile, results []Result, fields []string) (externalID string, ok bool) {
	id, err := AutoLinkDecision(profile, results, fields)
	return id, err == nil
}

// AutoLinkDecision applies Gladly's auto-link rules (spec section 6, as in
// Gladly's own lookup adaptor app) and returns the external id to link to, or
// the reason not to: ErrAutoLinkOff when no field is selected, ErrNoResults
// when results is empty, ErrMultipleResults when there is more than one, and
// ErrNoMatchingField unless a selected field matches. "emails" matches when a
// returned email, trimmed and lowercased, equals one of the profile's
// addresses (also compared lowercased); "phones.mobile" matches when a
// returned MOBILE phone equals, exactly, a profile phone of type MOBILE.
// Gladly's "no conflicts with another profile" rule needs Gladly's data and
// is not modelled.
func AutoLinkDecision(profile Profile, results []Result, fields []string) (string, error) {
	useEmails := slices.Contains(fields, AutoLinkEmails)
	useMobiles := slices.Contains(fields, AutoLinkMobilePhones)
	switch {
	case !useEmails && !useMobiles:
		return "", ErrAutoLinkOff
	case len(results) == 0:
		return "", ErrNoResults
	case len(results) > 1:
		return "", ErrMultipleResults
	}
	r := results[0]
	if useEmails {
		mine := make(map[string]bool)
		for _, e := range append([]string{profile.PrimaryEmailAddress}, profile.EmailAddresses...) {
			if e = strings.ToLower(strings.TrimSpace(e)); e != "" {
				mine[e] = true
			}
		}
		for _, e := range r.Emails {
			if mine[strings.ToLower(strings.TrimSpace(e.Original))] {
				return r.ExternalCustomerID, nil
			}
		}
	}
	if useMobiles {
		for _, ph := range r.Phones {
			if ph.Type != PhoneMobile {
				continue
			}
			for _, mine := range profile.PhoneNumbers {
				if mine.Type == PhoneMobile && mine.Number == ph.Original {
					return r.ExternalCustomerID, nil
				}
			}
		}
	}
	return "", ErrNoMatchingField
}
