// Package search normalises what finds a Recharge customer in the mirror:
// emails, phones (E.164, with libphonenumber's rules), names (lowercase,
// without accents), zips and ids, both when the mirror stores them and
// when an agent or a desk searches, so that "+1 (555) 123-4567",
// "555-123-4567" and "+15551234567" are one number and "Zoë" finds "zoe".
package search

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"
	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"

	"github.com/rechargekit/rechargekit"
)

// DefaultRegion is the region of a phone number written without a country
// code when none is configured (PHONE_DEFAULT_REGION).
const DefaultRegion = "US"

// Email returns e trimmed and lowercased; "" when it has no "@".
func Email(e string) string {
	e = strings.ToLower(strings.TrimSpace(e))
	if !strings.Contains(e, "@") || strings.ContainsFunc(e, unicode.IsSpace) {
		return ""
	}
	return e
}

// Phone returns raw in E.164 ("+15551234567"), reading a number without a
// country code as one of region (DefaultRegion when ""); "" when raw is
// not a possible phone number.
func Phone(raw, region string) string {
	raw = strings.TrimSpace(raw)
	if raw == "" || len(raw) > 64 {
		return ""
	}
	digits := 0
	for _, r := range raw {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case strings.ContainsRune("+-.() /", r):
		case r == 'x' || r == 'X' || r == '#' || r == ',' || r == ';' || r == 'e' || r == 't':
			// extensions: libphonenumber reads and drops them
		default:
			return ""
		}
	}
	if digits < 7 || digits > 17 {
		return ""
	}
	if region == "" {
		region = DefaultRegion
	}
	n, err := phonenumbers.Parse(raw, strings.ToUpper(region))
	if err != nil || !phonenumbers.IsPossibleNumber(n) {
		return ""
	}
	e164 := phonenumbers.Format(n, phonenumbers.E164)
	// The digits counted above may include an extension libphonenumber
	// dropped: the number itself must have as many, or it would not
	// normalise to itself ("+490000X0").
	if d := len(e164) - 1; d < 7 || d > 17 {
		return ""
	}
	// What is stored must be what a search for it finds: a number whose
	// E.164 form reads back as another (a national prefix that is also a
	// digit of the number, in a few regions) is no usable key.
	if back, err := phonenumbers.Parse(e164, ""); err != nil || phonenumbers.Format(back, phonenumbers.E164) != e164 {
		return ""
	}
	return e164
}

// SamePhone reports whether raw is the E.164 number e164, raw read in
// e164's own region when it has no country code. It tells a customer's
// own phone from one that only matched on an address (a gift
// recipient's, say), which must never link a profile to the customer.
func SamePhone(raw, e164 string) bool {
	n, err := phonenumbers.Parse(e164, "")
	if e164 == "" || err != nil {
		return false
	}
	return Phone(raw, phonenumbers.GetRegionCodeForCountryCode(int(n.GetCountryCode()))) == e164
}

// ValidRegion reports whether region is a two-letter region libphonenumber
// knows, such as US, GB or DE.
func ValidRegion(region string) bool {
	return phonenumbers.GetCountryCodeForRegion(strings.ToUpper(region)) != 0
}

// fold removes accents. A transform.Chain keeps state between calls, so
// each call makes its own: a shared one races when names are folded
// concurrently (as every search and every mirror write does).
func fold() transform.Transformer {
	return transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
}

// Name folds a name for comparison: accents removed, lowercased, runs of
// spaces and punctuation other than ' and - made one space, trimmed.
func Name(s string) string {
	// Lowercase first: some capitals lowercase to a letter and a mark
	// ("İ" to "i" and a dot above), which the folding then drops, so that
	// a folded name folds to itself.
	t, _, err := transform.String(fold(), strings.ToLower(s))
	if err != nil {
		t = strings.ToLower(s)
	}
	var b strings.Builder
	space := false
	for _, r := range strings.ToLower(t) {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '\'' || r == '-':
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			b.WriteRune(r)
		default:
			space = true
		}
	}
	return b.String()
}

// Zip returns a postal code uppercased without spaces or dashes; "" when
// it holds anything but letters and digits, or no digit at all (every
// postal code has one, so a word such as a name is never taken for a zip).
func Zip(s string) string {
	var b strings.Builder
	digit := false
	for _, r := range strings.ToUpper(strings.TrimSpace(s)) {
		switch {
		case r == ' ' || r == '-':
		case r >= '0' && r <= '9':
			digit = true
			b.WriteRune(r)
		case r >= 'A' && r <= 'Z':
			b.WriteRune(r)
		default:
			return ""
		}
	}
	if !digit || b.Len() < 3 || b.Len() > 10 {
		return ""
	}
	return b.String()
}

// CustomerKeys returns the keys that find a customer: its email, phone,
// names (first, last and full), Recharge id and platform id.
func CustomerKeys(c *rechargekit.Customer, region string) []rechargekit.SearchKey {
	var keys keySet
	keys.add(rechargekit.KeyEmail, Email(c.Email))
	keys.add(rechargekit.KeyPhone, Phone(c.Phone, region))
	keys.names(c.FirstName, c.LastName)
	if c.ID > 0 {
		keys.add(rechargekit.KeyCustomerID, strconv.FormatInt(c.ID, 10))
	}
	keys.add(rechargekit.KeyExternalID, strings.TrimSpace(c.ExternalID))
	return keys
}

// AddressKeys returns the keys that find an address's customer: its zip,
// phone and the names on it.
func AddressKeys(a *rechargekit.Address, region string) []rechargekit.SearchKey {
	var keys keySet
	keys.add(rechargekit.KeyZip, Zip(a.Zip))
	keys.add(rechargekit.KeyPhone, Phone(a.Phone, region))
	keys.names(a.FirstName, a.LastName)
	return keys
}

// MinNamePrefix is the shortest name a query is searched as: one letter
// would match a good part of a large store's names.
const MinNamePrefix = 2

// Query returns every kind of key a searched text fits, normalised: an
// email; else a phone, a zip, a Recharge id and a platform id for digits
// (a text can be all of them); and a name for any text with a letter that
// folds to at least MinNamePrefix characters. An
// empty slice means it fits none.
func Query(q, region string) []rechargekit.SearchKey {
	q = strings.TrimSpace(q)
	var keys keySet
	if e := Email(q); e != "" {
		keys.add(rechargekit.KeyEmail, e)
		return keys
	}
	keys.add(rechargekit.KeyPhone, Phone(q, region))
	keys.add(rechargekit.KeyZip, Zip(q))
	if n, err := strconv.ParseInt(q, 10, 64); err == nil && n > 0 && q[0] != '+' {
		keys.add(rechargekit.KeyCustomerID, strconv.FormatInt(n, 10))
		keys.add(rechargekit.KeyExternalID, q)
	}
	if n := Name(q); strings.IndexFunc(q, unicode.IsLetter) >= 0 && utf8.RuneCountInString(n) >= MinNamePrefix {
		keys.add(rechargekit.KeyName, n)
	}
	return keys
}

// MatchKind returns the Match.By of a key kind.
func MatchKind(kind string) string {
	switch kind {
	case rechargekit.KeyEmail:
		return rechargekit.MatchEmail
	case rechargekit.KeyPhone:
		return rechargekit.MatchPhone
	case rechargekit.KeyName:
		return rechargekit.MatchName
	case rechargekit.KeyZip:
		return rechargekit.MatchZip
	case rechargekit.KeyCustomerID:
		return rechargekit.MatchCustomerID
	case rechargekit.KeyExternalID:
		return rechargekit.MatchExternalID
	}
	return kind
}

// keySet collects keys without empty values or duplicates.
type keySet []rechargekit.SearchKey

func (k *keySet) add(kind, value string) {
	if value == "" || len(value) > 200 {
		return
	}
	for _, have := range *k {
		if have.Kind == kind && have.Value == value {
			return
		}
	}
	*k = append(*k, rechargekit.SearchKey{Kind: kind, Value: value})
}

func (k *keySet) names(first, last string) {
	f, l := Name(first), Name(last)
	k.add(rechargekit.KeyName, f)
	k.add(rechargekit.KeyName, l)
	if f != "" && l != "" {
		k.add(rechargekit.KeyName, f+" "+l)
	}
}
