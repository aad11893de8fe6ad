-- The local mirror (issue 13): rechargekit's copy of the store's Recharge
-- data, the keys that find a customer in it, where the backfill and the
-- reconciliation of each resource stand, and the lease that lets one
-- replica at a time sync it. It mirrors sqlite/migrations/0004_mirror.sql.

-- One row per mirrored Recharge object: its JSON (doc) exactly as the
-- mirror wrote it (bytea: never queried inside, kept byte for byte, and
-- compressed by TOAST when large), Recharge's updated_at, which decides
-- whether a write is older than what is held, and when rechargekit last
-- read it. A card reads a customer's rows by customer_id.
CREATE TABLE mirror_records (
	resource    text COLLATE "C" NOT NULL,
	id          bigint NOT NULL CHECK (id > 0),
	customer_id bigint NOT NULL CHECK (customer_id > 0),
	updated_at  timestamptz NOT NULL,
	seen_at     timestamptz NOT NULL,
	doc         bytea NOT NULL,
	PRIMARY KEY (resource, id)
);

CREATE INDEX mirror_records_customer ON mirror_records (customer_id);

-- The normalised values that find a record's customer (see the search
-- package), replaced whenever the record is written. The primary key
-- serves exact and prefix searches: value is compared byte by byte
-- (COLLATE "C"), so a prefix is an index range, as in SQLite. The second
-- index serves replacing and deleting one record's keys.
CREATE TABLE mirror_keys (
	kind        text COLLATE "C" NOT NULL,
	value       text COLLATE "C" NOT NULL,
	resource    text COLLATE "C" NOT NULL,
	id          bigint NOT NULL,
	customer_id bigint NOT NULL,
	PRIMARY KEY (kind, value, resource, id)
);

CREATE INDEX mirror_keys_record ON mirror_keys (resource, id);

-- Where the mirror of each resource stands (rechargekit.MirrorCheckpoint);
-- NULL times are zero ones.
CREATE TABLE mirror_checkpoints (
	resource   text COLLATE "C" PRIMARY KEY,
	cursor     text NOT NULL DEFAULT '',
	done       boolean NOT NULL,
	records    bigint NOT NULL,
	started_at timestamptz,
	max_id     bigint NOT NULL,
	last_id    bigint NOT NULL,
	swept_to   timestamptz,
	updated_at timestamptz NOT NULL
);

-- The sync lease: at most one row, the replica that syncs and until when.
CREATE TABLE mirror_lease (
	id      integer PRIMARY KEY CHECK (id = 1),
	holder  text NOT NULL,
	expires timestamptz NOT NULL
);
