-- rechargekit's SQLite schema. Times are TEXT in UTC, RFC 3339 with exactly
-- six fractional digits ("2006-01-02T15:04:05.000000Z"), so that comparing
-- the text compares the times. The *_lower and phone_digits columns are
-- filled by the Go code (strings.ToLower), so that SQLite and PostgreSQL
-- agree on case-insensitive search and uniqueness, also beyond ASCII.

-- Desk profiles. Emails and phones live in child tables so that a search by
-- email or phone is an indexed lookup and their order is kept.
CREATE TABLE profiles (
	id         TEXT PRIMARY KEY,
	name       TEXT NOT NULL,
	name_lower TEXT NOT NULL,
	updated_at TEXT NOT NULL
) STRICT;

CREATE INDEX profiles_name ON profiles (name_lower, name, id);

CREATE TABLE profile_emails (
	profile_id  TEXT NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
	position    INTEGER NOT NULL,
	email       TEXT NOT NULL,
	email_lower TEXT NOT NULL,
	PRIMARY KEY (profile_id, position)
) STRICT;

CREATE INDEX profile_emails_email ON profile_emails (email_lower);

CREATE TABLE profile_phones (
	profile_id   TEXT NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
	position     INTEGER NOT NULL,
	phone        TEXT NOT NULL,
	phone_lower  TEXT NOT NULL,
	phone_digits TEXT NOT NULL,
	PRIMARY KEY (profile_id, position)
) STRICT;

CREATE INDEX profile_phones_digits ON profile_phones (phone_digits);

-- The current link of each profile: at most one, enforced by the key.
CREATE TABLE links (
	profile_id  TEXT PRIMARY KEY REFERENCES profiles (id),
	customer_id INTEGER NOT NULL CHECK (customer_id > 0),
	method      TEXT NOT NULL CHECK (method IN ('auto', 'manual')),
	linked_by   TEXT NOT NULL,
	linked_at   TEXT NOT NULL
) STRICT;

CREATE INDEX links_customer ON links (customer_id);

-- Unlink tombstones: a profile here is never auto-linked again. The row
-- keeps the latest unlink.
CREATE TABLE unlinks (
	profile_id  TEXT PRIMARY KEY REFERENCES profiles (id),
	customer_id INTEGER NOT NULL,
	unlinked_by TEXT NOT NULL,
	unlinked_at TEXT NOT NULL
) STRICT;

-- The audit log. AUTOINCREMENT keeps ids increasing and never reused; the
-- triggers make the table append-only.
CREATE TABLE audit (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	at          TEXT NOT NULL,
	actor       TEXT NOT NULL,
	action      TEXT NOT NULL CHECK (action IN ('link', 'unlink', 'link_conflict', 'setting', 'user', 'token')),
	profile_id  TEXT NOT NULL DEFAULT '',
	customer_id INTEGER NOT NULL DEFAULT 0,
	detail      TEXT NOT NULL DEFAULT ''
) STRICT;

CREATE INDEX audit_profile ON audit (profile_id, id);

CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN
	SELECT RAISE(ABORT, 'audit is append-only');
END;

CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN
	SELECT RAISE(ABORT, 'audit is append-only');
END;

CREATE TABLE users (
	id            INTEGER PRIMARY KEY AUTOINCREMENT,
	email         TEXT NOT NULL,
	email_lower   TEXT NOT NULL UNIQUE,
	role          TEXT NOT NULL CHECK (role IN ('agent', 'admin')),
	password_hash TEXT NOT NULL,
	created_at    TEXT NOT NULL
) STRICT;

CREATE TABLE sessions (
	token_hash TEXT PRIMARY KEY,
	user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	csrf_token TEXT NOT NULL,
	created_at TEXT NOT NULL,
	expires_at TEXT NOT NULL
) STRICT;

CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE api_tokens (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	name       TEXT NOT NULL UNIQUE,
	hash       TEXT NOT NULL UNIQUE,
	created_at TEXT NOT NULL
) STRICT;

-- Settings as key/value rows; a missing key has its default
-- (rechargekit.DefaultSettings).
CREATE TABLE settings (
	key        TEXT PRIMARY KEY,
	value      TEXT NOT NULL,
	updated_by TEXT NOT NULL,
	updated_at TEXT NOT NULL
) STRICT;
