-- The local mirror (issue 13): rechargekit's copy of the store's Recharge
-- data, the keys that find a customer in it, where the backfill and the
-- reconciliation of each resource stand, and the lease that lets one
-- replica at a time sync it. It mirrors postgres/migrations/0004_mirror.sql.

-- One row per mirrored Recharge object: its JSON (doc) exactly as the
-- mirror wrote it (never queried inside), Recharge's updated_at, which
-- decides whether a write is older than what is held, and when
-- rechargekit last read it. A card reads a customer's rows by customer_id.
CREATE TABLE mirror_records (
	resource    TEXT NOT NULL,
	id          INTEGER NOT NULL CHECK (id > 0),
	customer_id INTEGER NOT NULL CHECK (customer_id > 0),
	updated_at  TEXT NOT NULL,
	seen_at     TEXT NOT NULL,
	doc         BLOB NOT NULL,
	PRIMARY KEY (resource, id)
) STRICT;

CREATE INDEX mirror_records_customer ON mirror_records (customer_id);

-- The normalised values that find a record's customer (see the search
-- package), replaced whenever the record is written. The primary key
-- serves exact and prefix searches (value ranges, BINARY collation); the
-- second index serves replacing and deleting one record's keys.
CREATE TABLE mirror_keys (
	kind        TEXT NOT NULL,
	value       TEXT NOT NULL,
	resource    TEXT NOT NULL,
	id          INTEGER NOT NULL,
	customer_id INTEGER NOT NULL,
	PRIMARY KEY (kind, value, resource, id)
) STRICT, WITHOUT ROWID;

CREATE INDEX mirror_keys_record ON mirror_keys (resource, id);

-- Where the mirror of each resource stands (rechargekit.MirrorCheckpoint);
-- NULL times are zero ones.
CREATE TABLE mirror_checkpoints (
	resource   TEXT PRIMARY KEY,
	cursor     TEXT NOT NULL DEFAULT '',
	done       INTEGER NOT NULL CHECK (done IN (0, 1)),
	records    INTEGER NOT NULL,
	started_at TEXT,
	max_id     INTEGER NOT NULL,
	last_id    INTEGER NOT NULL,
	swept_to   TEXT,
	updated_at TEXT NOT NULL
) STRICT;

-- The sync lease: at most one row, the replica that syncs and until when.
CREATE TABLE mirror_lease (
	id      INTEGER PRIMARY KEY CHECK (id = 1),
	holder  TEXT NOT NULL,
	expires TEXT NOT NULL
) STRICT;
