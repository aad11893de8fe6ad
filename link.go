package rechargekit

import (
	"context"
	"time"
)

// How a link was made.
const (
	LinkAuto   = "auto"   // rechargekit (or the desk) linked on a unique email match
	LinkManual = "manual" // an agent picked the customer
)

// Link ties a desk profile to one Recharge customer.
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
}

// APIToken is a bearer token for the JSON API; only its hash is stored.
type APIToken struct {
	ID        int64
	Name      string
	Hash      string
	CreatedAt time.Time
}

// Settings are the console's switches, changed by admins.
type Settings struct {
	AutoLink bool // link an unlinked profile when exactly one customer matches one of its emails
}

// AuditFilter narrows an audit query; zero values match everything.
type AuditFilter struct {
	ProfileID string
	Limit     int // default 100
}

// LinkStore keeps profiles, links, unlink tombstones, the audit log, users,
// sessions, API tokens and settings. sqlite and postgres implement it and
// both pass the storetest conformance suite.
//
// Every write that changes a link also appends its audit entry in the same
// transaction, so an acknowledged change and its story are never separated.
type LinkStore interface {
	// UpsertProfile creates or replaces a desk profile. Errors: EINVALID.
	UpsertProfile(ctx context.Context, p *Profile) error
	// Profile returns one profile. Errors: ENOTFOUND.
	Profile(ctx context.Context, id string) (*Profile, error)
	// SearchProfiles finds profiles whose name, email or phone contains q
	// (case-insensitive); an empty q lists profiles. Ordered by name, then id.
	SearchProfiles(ctx context.Context, q string, limit int) ([]*Profile, error)

	// Link returns the profile's current link. Errors: ENOTFOUND when unlinked.
	Link(ctx context.Context, profileID string) (*Link, error)
	// CreateLink links a profile. Linking again to the same customer is a
	// no-op that still succeeds; a profile linked to another customer gives
	// ECONFLICT and an AuditLinkConflict entry. An auto link (Method
	// LinkAuto) of a profile that was ever unlinked gives ECONFLICT.
	// Errors: EINVALID, ENOTFOUND (no such profile), ECONFLICT.
	CreateLink(ctx context.Context, l *Link) error
	// DeleteLink unlinks a profile and records a tombstone so it is never
	// auto-linked again. Errors: ENOTFOUND when it was not linked.
	DeleteLink(ctx context.Context, profileID, by string) error
	// WasUnlinked reports whether the profile was ever unlinked.
	WasUnlinked(ctx context.Context, profileID string) (bool, error)
	// Audit returns audit entries, newest first.
	Audit(ctx context.Context, f AuditFilter) ([]*AuditEntry, error)

	// Settings returns the settings (defaults when never set).
	Settings(ctx context.Context) (*Settings, error)
	// UpdateSettings replaces the settings and audits the change.
	UpdateSettings(ctx context.Context, s *Settings, by string) error

	// CreateUser adds a user. Errors: EINVALID, ECONFLICT (email taken).
	CreateUser(ctx context.Context, u *User, by string) error
	// UserByEmail returns a user by email (case-insensitive). Errors: ENOTFOUND.
	UserByEmail(ctx context.Context, email string) (*User, error)
	// UserByID returns a user. Errors: ENOTFOUND.
	UserByID(ctx context.Context, id int64) (*User, error)
	// Users lists users by email.
	Users(ctx context.Context) ([]*User, error)
	// DeleteUser removes a user and their sessions. Errors: ENOTFOUND.
	DeleteUser(ctx context.Context, id int64, by string) error

	// CreateSession stores a session. Errors: EINVALID.
	CreateSession(ctx context.Context, s *Session) error
	// Session returns an unexpired session by token hash. Errors: ENOTFOUND.
	Session(ctx context.Context, tokenHash string, now time.Time) (*Session, error)
	// DeleteSession removes a session (sign-out); missing is not an error.
	DeleteSession(ctx context.Context, tokenHash string) error

	// CreateAPIToken stores a token's hash. Errors: EINVALID, ECONFLICT (name taken).
	CreateAPIToken(ctx context.Context, t *APIToken, by string) error
	// APITokenByHash returns a token. Errors: ENOTFOUND.
	APITokenByHash(ctx context.Context, hash string) (*APIToken, error)

	// Close releases the store's resources.
	Close() error
}
