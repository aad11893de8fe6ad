-- rechargekit's PostgreSQL schema. It mirrors sqlite/migrations: the
-- *_lower and phone_digits columns are filled by the Go code
-- (strings.ToLower), so both stores agree on case-insensitive search and
-- uniqueness, also beyond ASCII. Text that is sorted or compared uses the
-- "C" collation, byte order, as SQLite does, so that both stores list
-- things in the same order whatever the database's locale.

CREATE TABLE profiles (
	id         text COLLATE "C" PRIMARY KEY,
	name       text COLLATE "C" NOT NULL,
	name_lower text COLLATE "C" NOT NULL,
	updated_at timestamptz NOT NULL
);

CREATE INDEX profiles_name ON profiles (name_lower, name, id);

CREATE TABLE profile_emails (
	profile_id  text COLLATE "C" NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
	position    integer NOT NULL,
	email       text NOT NULL,
	email_lower text COLLATE "C" NOT NULL,
	PRIMARY KEY (profile_id, position)
);

CREATE INDEX profile_emails_email ON profile_emails (email_lower);

CREATE TABLE profile_phones (
	profile_id   text COLLATE "C" NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
	position     integer NOT NULL,
	phone        text NOT NULL,
	phone_lower  text COLLATE "C" NOT NULL,
	phone_digits text COLLATE "C" NOT NULL,
	PRIMARY KEY (profile_id, position)
);

CREATE INDEX profile_phones_digits ON profile_phones (phone_digits);

-- The current link of each profile: at most one, enforced by the key.
CREATE TABLE links (
	profile_id  text COLLATE "C" PRIMARY KEY REFERENCES profiles (id),
	customer_id bigint NOT NULL CHECK (customer_id > 0),
	method      text NOT NULL CHECK (method IN ('auto', 'manual')),
	linked_by   text NOT NULL,
	linked_at   timestamptz NOT NULL
);

CREATE INDEX links_customer ON links (customer_id);

-- Unlink tombstones: a profile here is never auto-linked again. The row
-- keeps the latest unlink.
CREATE TABLE unlinks (
	profile_id  text COLLATE "C" PRIMARY KEY REFERENCES profiles (id),
	customer_id bigint NOT NULL,
	unlinked_by text NOT NULL,
	unlinked_at timestamptz NOT NULL
);

-- The audit log; the triggers make it append-only.
CREATE TABLE audit (
	id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	at          timestamptz NOT NULL,
	actor       text NOT NULL,
	action      text NOT NULL CHECK (action IN ('link', 'unlink', 'link_conflict', 'setting', 'user', 'token')),
	profile_id  text COLLATE "C" NOT NULL DEFAULT '',
	customer_id bigint NOT NULL DEFAULT 0,
	detail      text NOT NULL DEFAULT ''
);

CREATE INDEX audit_profile ON audit (profile_id, id);

CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'audit is append-only';
END
$$;

CREATE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON audit
	FOR EACH ROW EXECUTE FUNCTION audit_append_only();

CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
	FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();

CREATE TABLE users (
	id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	email         text NOT NULL,
	email_lower   text COLLATE "C" NOT NULL UNIQUE,
	role          text NOT NULL CHECK (role IN ('agent', 'admin')),
	password_hash text NOT NULL,
	created_at    timestamptz NOT NULL
);

CREATE TABLE sessions (
	token_hash text COLLATE "C" PRIMARY KEY,
	user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	csrf_token text NOT NULL,
	created_at timestamptz NOT NULL,
	expires_at timestamptz NOT NULL
);

CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE api_tokens (
	id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	name       text COLLATE "C" NOT NULL CONSTRAINT api_tokens_name_key UNIQUE,
	hash       text COLLATE "C" NOT NULL CONSTRAINT api_tokens_hash_key UNIQUE,
	created_at timestamptz NOT NULL
);

-- Settings as key/value rows; a missing key has its default
-- (rechargekit.DefaultSettings).
CREATE TABLE settings (
	key        text COLLATE "C" PRIMARY KEY,
	value      text NOT NULL,
	updated_by text NOT NULL,
	updated_at timestamptz NOT NULL
);
