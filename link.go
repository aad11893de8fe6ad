package rechargekit

import (
	"context"
	"net/mail"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// How a link was made.
const (
	LinkAuto   = "auto"   // rechargekit (or the desk) linked on a unique email match
	LinkManual = "manual" // an agent picked the customer
)

// Link ties a desk profile to one Recharge customer.
//
// The stores keep every time in UTC truncated to microseconds (PostgreSQL's
// precision), so a value read back equals the value written.
type Link struct {
	ProfileID  string
	CustomerID int64
	Method     string // LinkAuto or LinkManual
	By         string // who made it: a user's email, an API token's name, or "auto"
	At         time.Time
}

// Audit actions.
const (
	AuditLink          = "link"
	AuditUnlink        = "unlink"
	AuditLinkConflict  = "link_conflict" // a link attempt refused because the profile was already linked elsewhere
	AuditSettingChange = "setting"
	AuditUserChange    = "user"
	AuditTokenChange   = "token"
)

// AuditEntry is one line of the append-only audit log.
type AuditEntry struct {
	ID         int64
	At         time.Time
	Actor      string // user email, API token name, or "auto"
	Action     string // one of the Audit* constants
	ProfileID  string // "" for settings and users
	CustomerID int64  // 0 when not about a customer
	Detail     string // human-readable, e.g. "auto_link: off -> on"
}

// Roles.
const (
	RoleAgent = "agent" // view, search, link, unlink
	RoleAdmin = "admin" // also settings, users and API tokens
)

// User is a console user.
type User struct {
	ID           int64
	Email        string
	Role         string // RoleAgent or RoleAdmin
	PasswordHash string // a real KDF's encoded hash; never the password
	CreatedAt    time.Time
}

// Session is a signed-in console session. The store keeps only a hash of
// the session token that the browser holds.
type Session struct {
	TokenHash string
	UserID    int64
	CSRFToken string
	CreatedAt time.Time
	ExpiresAt time.Time
	// Flash is the key of the notice waiting for the session's next page
	// (see SessionStore.SetSessionFlash), "" when none is. Session reads
	// it, so that a page costs a write only when a notice is waiting;
	// CreateSession stores it.
	Flash string
}

// ValidateFlashKey reports, with EINVALID, what is wrong with the key of a
// session's flash notice: a key names one of the console's fixed texts, so
// it is short, visible text.
func ValidateFlashKey(key string) error {
	return checkText("flash key", key, MaxIDLength, true)
}

// APIToken is a bearer token for the JSON API; only its hash is stored.
type APIToken struct {
	ID        int64
	Name      string
	Role      string // RoleAgent or RoleAdmin: what the token may do (agent when empty)
	Hash      string
	CreatedAt time.Time
}

// Settings are the console's switches, changed by admins.
type Settings struct {
	AutoLink bool // link an unlinked profile when exactly one customer matches one of its emails
}

// DefaultSettings returns the settings of a store that was never configured.
// Auto-linking is on: a profile with exactly one Recharge customer matching
// one of its emails is linked the way Gladly itself would link it, and a
// profile an agent unlinked is still never auto-linked again.
func DefaultSettings() *Settings { return &Settings{AutoLink: true} }

// AuditFilter narrows an audit query; zero values match everything.
type AuditFilter struct {
	ProfileID string
	Limit     int // default 100 (also for a negative Limit), at most 1000
}

// Limits on stored text, so that a desk or an API client cannot grow the
// database without bound through one profile.
const (
	MaxIDLength     = 255  // profile ids, API token names
	MaxTextLength   = 1000 // names, emails, phones, hashes
	MaxProfileItems = 50   // emails or phones on one profile
)

// NormalizeProfile returns the profile as the stores keep it: the name,
// emails and phones trimmed, empty emails and phones dropped, duplicates
// (case-insensitive) dropped keeping the first, and nil lists made empty;
// the id is kept as given. It rejects, with EINVALID and a sentence that
// names the field: an id ValidateProfileID refuses, a blank name, an email
// that is not a bare address ("ada@example.com", not "Ada
// <ada@example.com>"), a phone without digits, a value that is not valid
// UTF-8 or holds control characters (PostgreSQL refuses NUL bytes), and
// values over the Max* limits.
func NormalizeProfile(p *Profile) (*Profile, error) {
	if p == nil {
		return nil, Errorf(EINVALID, "A profile is required.")
	}
	if err := ValidateProfileID(p.ID); err != nil {
		return nil, err
	}
	if err := checkText("the profile's name", p.Name, MaxTextLength, true); err != nil {
		return nil, err
	}
	emails, err := normalizeList("email", p.Emails, checkEmail)
	if err != nil {
		return nil, err
	}
	phones, err := normalizeList("phone", p.Phones, checkPhone)
	if err != nil {
		return nil, err
	}
	return &Profile{ID: p.ID, Name: strings.TrimSpace(p.Name), Emails: emails, Phones: phones}, nil
}

// ValidateProfileID reports, with EINVALID, what is wrong with a desk
// profile id: blank, over MaxIDLength, not valid UTF-8, or holding control
// characters (NUL, CR, LF, DEL and the rest of Unicode's Cc). Callers check
// an id from a request before it reaches a store, so that no store's own
// error text (PostgreSQL's about NUL) reaches a person.
func ValidateProfileID(id string) error {
	return checkText("the profile id", id, MaxIDLength, true)
}

// normalizeList trims, de-duplicates and checks one of a profile's lists;
// what names an item ("email") in messages and check validates it.
func normalizeList(what string, in []string, check func(string) error) ([]string, error) {
	out := []string{}
	seen := make(map[string]bool, len(in))
	for _, v := range in {
		v = strings.TrimSpace(v)
		if v == "" {
			continue
		}
		if err := checkText("each "+what, v, MaxTextLength, true); err != nil {
			return nil, err
		}
		if err := check(v); err != nil {
			return nil, err
		}
		if k := strings.ToLower(v); !seen[k] {
			seen[k] = true
			out = append(out, v)
		}
	}
	if len(out) > MaxProfileItems {
		return nil, Errorf(EINVALID, "A profile has at most %d %ss; this one has %d.", MaxProfileItems, what, len(out))
	}
	return out, nil
}

// checkEmail accepts a bare email address as net/mail parses it, and
// refuses display-name and angle-bracket forms ("Ada <ada@example.com>"),
// which would never match the address Recharge keeps.
func checkEmail(v string) error {
	a, err := mail.ParseAddress(v)
	if err != nil || a.Name != "" || a.Address != v {
		return Errorf(EINVALID, "The email %q is not an email address such as ada@example.com.", v)
	}
	return nil
}

// checkPhone accepts any phone with at least one digit: desks keep phones
// in every format ("+1 (555) 010-0", "020 7946 0000 ext. 42"), and search
// compares their digits (PhoneDigits).
func checkPhone(v string) error {
	if PhoneDigits(v) == "" {
		return Errorf(EINVALID, "The phone %q has no digits.", v)
	}
	return nil
}

// checkText rejects text the stores cannot keep faithfully in both SQLite and
// PostgreSQL: invalid UTF-8, control characters, and overlong values. what
// names the value in the message's sentence ("the profile id").
func checkText(what, v string, max int, required bool) error {
	what = upperFirst(what)
	switch {
	case required && strings.TrimSpace(v) == "":
		return Errorf(EINVALID, "%s is required.", what)
	case !utf8.ValidString(v):
		return Errorf(EINVALID, "%s is not valid UTF-8.", what)
	case len(v) > max:
		return Errorf(EINVALID, "%s is longer than %d bytes.", what, max)
	case strings.IndexFunc(v, unicode.IsControl) >= 0:
		return Errorf(EINVALID, "%s contains control characters.", what)
	}
	return nil
}

// upperFirst capitalizes the first letter of s, which starts a sentence.
func upperFirst(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 || r == utf8.RuneError {
		return s
	}
	return string(unicode.ToUpper(r)) + s[n:]
}

// ValidateActor reports, with EINVALID, what is wrong with the "by" of a
// change: who made it (a user's email, an API token's name, or "auto").
func ValidateActor(by string) error {
	return checkText("the author of the change", by, MaxTextLength, true)
}

// Validate reports, with EINVALID, what is wrong with a link before it is stored.
func (l *Link) Validate() error {
	switch {
	case l == nil:
		return Errorf(EINVALID, "A link is required.")
	case l.CustomerID <= 0:
		return Errorf(EINVALID, "A Recharge customer id must be a positive number.")
	case l.Method != LinkAuto && l.Method != LinkManual:
		return Errorf(EINVALID, "The link method must be %q or %q.", LinkAuto, LinkManual)
	}
	if err := ValidateProfileID(l.ProfileID); err != nil {
		return err
	}
	return ValidateActor(l.By)
}

// Validate reports, with EINVALID, what is wrong with a user before it is stored.
func (u *User) Validate() error {
	if u == nil {
		return Errorf(EINVALID, "A user is required.")
	}
	if err := checkText("the email", u.Email, MaxTextLength, true); err != nil {
		return err
	}
	local, domain, ok := strings.Cut(u.Email, "@")
	if !ok || local == "" || domain == "" || strings.ContainsFunc(u.Email, unicode.IsSpace) {
		return Errorf(EINVALID, "The email %q is not an email address.", u.Email)
	}
	if u.Role != RoleAgent && u.Role != RoleAdmin {
		return Errorf(EINVALID, "The role must be %q or %q.", RoleAgent, RoleAdmin)
	}
	return checkText("the password hash", u.PasswordHash, MaxTextLength, true)
}

// Validate reports, with EINVALID, what is wrong with a session before it is
// stored. A zero CreatedAt is allowed: the store fills in its own clock.
func (s *Session) Validate() error {
	switch {
	case s == nil:
		return Errorf(EINVALID, "A session is required.")
	case s.UserID <= 0:
		return Errorf(EINVALID, "A session needs a user.")
	case s.ExpiresAt.IsZero():
		return Errorf(EINVALID, "A session needs an expiry time.")
	case !s.CreatedAt.IsZero() && !s.ExpiresAt.After(s.CreatedAt):
		return Errorf(EINVALID, "A session must expire after it is created.")
	}
	if err := checkText("the session token hash", s.TokenHash, MaxTextLength, true); err != nil {
		return err
	}
	if s.Flash != "" {
		if err := ValidateFlashKey(s.Flash); err != nil {
			return err
		}
	}
	return checkText("the CSRF token", s.CSRFToken, MaxTextLength, true)
}

// Validate reports, with EINVALID, what is wrong with an API token before it
// is stored. An empty Role is allowed: the store keeps it as RoleAgent.
func (t *APIToken) Validate() error {
	if t == nil {
		return Errorf(EINVALID, "An API token is required.")
	}
	if t.Role != "" && t.Role != RoleAgent && t.Role != RoleAdmin {
		return Errorf(EINVALID, "The API token's role must be %q or %q.", RoleAgent, RoleAdmin)
	}
	if err := checkText("the API token's name", t.Name, MaxIDLength, true); err != nil {
		return err
	}
	// A token's name is read in lists and in the audit log ("api:NAME"):
	// an invisible formatting character, such as the right-to-left
	// override U+202E, would make it read otherwise than it is.
	if strings.IndexFunc(t.Name, func(r rune) bool { return unicode.Is(unicode.Cf, r) }) >= 0 {
		return Errorf(EINVALID, "The API token name contains an invisible formatting character, such as a right-to-left override.")
	}
	return checkText("the API token hash", t.Hash, MaxTextLength, true)
}

// PhoneDigits returns the decimal digits of a phone number, the form
// profile search compares phones in ("+1 (555) 010-0" -> "15550100").
func PhoneDigits(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// PhoneQueryDigits returns the digits of a profile search q when q looks
// like a phone number (digits and phone punctuation only, at least three
// digits), else "": see LinkStore.SearchProfiles.
func PhoneQueryDigits(q string) string {
	for _, r := range q {
		if !strings.ContainsRune("0123456789+-.() ", r) {
			return ""
		}
	}
	if d := PhoneDigits(q); len(d) >= 3 {
		return d
	}
	return ""
}

// OnOff names a switch's state in audit details ("auto_link: off -> on").
func OnOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// ProfileSummary is one profile as a list of profiles shows it: the
// profile, its link, and whether an agent ever unlinked it.
type ProfileSummary struct {
	Profile     *Profile
	Link        *Link // nil when unlinked
	WasUnlinked bool
}

// Every store method may also fail with EUPSTREAM when the database does not
// answer in time (the message says so), and with EINTERNAL for anything
// unexpected; the docs below list the other codes each method returns.

// ProfileStore keeps desk profiles.
type ProfileStore interface {
	// UpsertProfile creates or replaces a desk profile, stored as
	// NormalizeProfile returns it, and reports whether it created it. Of
	// several callers racing to create one profile, exactly one is told it
	// created it. Errors: EINVALID.
	UpsertProfile(ctx context.Context, p *Profile) (created bool, err error)
	// Profile returns one profile. Errors: ENOTFOUND, EINVALID (an id the
	// database cannot compare, such as one holding a NUL byte).
	Profile(ctx context.Context, id string) (*Profile, error)
	// SearchProfiles finds profiles whose name, email or phone contains q
	// (case-insensitive, q trimmed); an empty q lists profiles. A q made of
	// digits and phone punctuation (+ - . ( ) and spaces) with at least three
	// digits also matches phones by their digits alone, so "555 0100" finds
	// "+1 (555) 010-0". Ordered by name (case-insensitive), then id; limit
	// <= 0 means 50, and at most 1000 are returned. Errors: EINVALID (a q
	// the database cannot compare).
	SearchProfiles(ctx context.Context, q string, limit int) ([]*Profile, error)
	// SearchProfileSummaries finds profiles as SearchProfiles does and
	// returns each with its link and unlink state, read together in one
	// query, so a list of profiles costs one call. Errors: EINVALID.
	SearchProfileSummaries(ctx context.Context, q string, limit int) ([]*ProfileSummary, error)
}

// LinkStore keeps links between desk profiles and Recharge customers, and the
// unlink tombstones that stop a profile from being auto-linked again.
//
// Every write that changes a link also appends its audit entry in the same
// transaction, so an acknowledged change and its story are never separated.
// Link changes to one profile happen one at a time, in every process and
// replica, and the audit log tells them in the order they took effect.
type LinkStore interface {
	// Link returns the profile's current link. Errors: ENOTFOUND when
	// unlinked or when there is no such profile.
	Link(ctx context.Context, profileID string) (*Link, error)
	// CreateLink links a profile and appends an AuditLink entry. A zero At
	// is set to the store's clock. On success l holds the stored link: the
	// new one, or the existing one when the profile was already linked to
	// the same customer, which is a no-op that still succeeds (and audits
	// nothing). A profile linked to another customer gives ECONFLICT and an
	// AuditLinkConflict entry whose CustomerID is the refused customer. An
	// auto link (Method LinkAuto) of an unlinked profile that was ever
	// unlinked gives ECONFLICT and audits nothing.
	// Errors: EINVALID, ENOTFOUND (no such profile), ECONFLICT.
	CreateLink(ctx context.Context, l *Link) error
	// DeleteLink unlinks a profile, records a tombstone so it is never
	// auto-linked again, and appends an AuditUnlink entry naming the
	// customer it was linked to. Errors: EINVALID (empty by), ENOTFOUND when
	// it was not linked (or there is no such profile).
	DeleteLink(ctx context.Context, profileID, by string) error
	// WasUnlinked reports whether the profile was ever unlinked. It
	// returns no error codes of its own (false for an unknown profile).
	WasUnlinked(ctx context.Context, profileID string) (bool, error)
}

// AuditLog reads the append-only audit log; entries are appended by the
// writes they record, in the same transaction.
type AuditLog interface {
	// Audit returns audit entries, newest first. It returns no error
	// codes of its own.
	Audit(ctx context.Context, f AuditFilter) ([]*AuditEntry, error)
}

// SettingsStore keeps the console's settings.
type SettingsStore interface {
	// Settings returns the settings (defaults when never set). It returns
	// no error codes of its own.
	Settings(ctx context.Context) (*Settings, error)
	// UpdateSettings replaces the settings and appends one
	// AuditSettingChange entry per changed switch (none when nothing
	// changed; of two callers making the same change at once, one audits
	// it). Errors: EINVALID.
	UpdateSettings(ctx context.Context, s *Settings, by string) error
}

// UserStore keeps console users.
type UserStore interface {
	// CreateUser adds a user (see User.Validate) and appends an
	// AuditUserChange entry; on success u.ID and u.CreatedAt are set.
	// Errors: EINVALID, ECONFLICT (email taken, case-insensitive).
	CreateUser(ctx context.Context, u *User, by string) error
	// UserByEmail returns a user by email (case-insensitive). Errors: ENOTFOUND.
	UserByEmail(ctx context.Context, email string) (*User, error)
	// UserByID returns a user. Errors: ENOTFOUND.
	UserByID(ctx context.Context, id int64) (*User, error)
	// Users lists users by email (case-insensitive), then id. It returns
	// no error codes of its own.
	Users(ctx context.Context) ([]*User, error)
	// DeleteUser removes a user and their sessions and appends an
	// AuditUserChange entry. Errors: EINVALID (empty by), ENOTFOUND.
	DeleteUser(ctx context.Context, id int64, by string) error
}

// SessionStore keeps signed-in console sessions.
type SessionStore interface {
	// CreateSession stores a session (see Session.Validate); a zero
	// CreatedAt is set to the store's clock. It also drops sessions that
	// had expired by then, so the table does not grow without bound; a
	// refused session drops nothing. Errors: EINVALID, ENOTFOUND (no such
	// user), ECONFLICT (token hash already stored).
	CreateSession(ctx context.Context, s *Session) error
	// Session returns a session by token hash, with its waiting flash key, if
	// it expires after now.
	// Errors: ENOTFOUND (unknown or expired).
	Session(ctx context.Context, tokenHash string, now time.Time) (*Session, error)
	// TouchSession sets the expiry of a session that is still valid at now
	// to until: the console slides it forward while it is used (the idle
	// timeout), or back within the idle timeout when it was stored with a
	// longer one. An expired session stays expired. Errors: EINVALID
	// (until not after now), ENOTFOUND (unknown or expired by now).
	TouchSession(ctx context.Context, tokenHash string, now, until time.Time) error
	// SetSessionFlash leaves the notice key for the next page of a session
	// that is still valid at now, replacing a notice not yet taken. It is
	// kept in the database, so the next page shows it whichever replica
	// serves it. Errors: EINVALID (see ValidateFlashKey), ENOTFOUND
	// (unknown or expired by now).
	SetSessionFlash(ctx context.Context, tokenHash, key string, now time.Time) error
	// TakeSessionFlash returns the notice key left for a session that is
	// still valid at now and clears it in the same transaction, so a
	// notice is taken once: of several callers taking it at once, one
	// gets it. It returns "" when no notice is waiting.
	// Errors: ENOTFOUND (unknown or expired by now).
	TakeSessionFlash(ctx context.Context, tokenHash string, now time.Time) (string, error)
	// DeleteSession removes a session (sign-out); missing is not an error.
	// It returns no error codes of its own.
	DeleteSession(ctx context.Context, tokenHash string) error
	// DeleteUserSessions removes every session of a user ("sign out
	// everywhere"), appends an AuditUserChange entry, and returns how many
	// sessions there were. Errors: EINVALID (empty by), ENOTFOUND.
	DeleteUserSessions(ctx context.Context, userID int64, by string) (int, error)
}

// TokenStore keeps the JSON API's bearer tokens (hashed).
type TokenStore interface {
	// CreateAPIToken stores a token's hash and role (see APIToken.Validate)
	// and appends an AuditTokenChange entry; on success t.ID and
	// t.CreatedAt are set, and an empty t.Role is set to RoleAgent.
	// Errors: EINVALID, ECONFLICT (name or hash taken).
	CreateAPIToken(ctx context.Context, t *APIToken, by string) error
	// APITokenByHash returns a token. Errors: ENOTFOUND.
	APITokenByHash(ctx context.Context, hash string) (*APIToken, error)
	// APITokens lists API tokens by name, so an admin can see what exists.
	// It returns no error codes of its own.
	APITokens(ctx context.Context) ([]*APIToken, error)
	// DeleteAPIToken revokes a token (a leaked one must be revocable) and
	// appends an AuditTokenChange entry. Errors: EINVALID (empty by), ENOTFOUND.
	DeleteAPIToken(ctx context.Context, id int64, by string) error
}

// Store is everything rechargekit keeps in its database: one value that
// sqlite and postgres return (both the one sqlstore implementation), each
// passing the storetest conformance suite. Code that needs only part of it
// takes the small interface it needs.
type Store interface {
	ProfileStore
	LinkStore
	AuditLog
	SettingsStore
	UserStore
	SessionStore
	TokenStore
	ActionStore
	MirrorStore

	// Close releases the store's resources. It returns no error codes of
	// its own.
	Close() error
}
