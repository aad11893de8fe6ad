-- Agent actions (issue 11): the action audit, which is also the
-- idempotency record, the per-role action policy, and a role on API tokens.

-- Every action attempt, append-only: a row is written with its intent
-- (outcome 'pending') before Recharge is called and completed once with
-- its outcome, or written completed when refused before any call. The
-- triggers allow nothing else. State columns hold SubscriptionState as
-- JSON; inputs holds the request's fields as JSON.
CREATE TABLE actions (
	id              INTEGER PRIMARY KEY AUTOINCREMENT,
	at              TEXT NOT NULL,
	completed_at    TEXT,
	idempotency_key TEXT NOT NULL DEFAULT '',
	request_hash    TEXT NOT NULL DEFAULT '',
	actor_role      TEXT NOT NULL CHECK (actor_role IN ('admin', 'agent', 'gladly')),
	actor_name      TEXT NOT NULL,
	via             TEXT NOT NULL CHECK (via IN ('console', 'api', 'gladly')),
	correlation_id  TEXT NOT NULL DEFAULT '',
	profile_id      TEXT NOT NULL DEFAULT '',
	customer_id     INTEGER NOT NULL DEFAULT 0,
	subscription_id INTEGER NOT NULL DEFAULT 0,
	action          TEXT NOT NULL,
	inputs          TEXT NOT NULL DEFAULT '',
	state_before    TEXT,
	state_after     TEXT,
	outcome         TEXT NOT NULL CHECK (outcome IN ('pending', 'done', 'refused_policy', 'refused_recharge', 'failed')),
	message         TEXT NOT NULL DEFAULT '',
	CHECK ((outcome = 'pending') = (completed_at IS NULL))
) STRICT;

-- The audit page filters by one column and lists newest first.
CREATE INDEX actions_action ON actions (action, id);
CREATE INDEX actions_actor ON actions (actor_name, id);
CREATE INDEX actions_customer ON actions (customer_id, id);
CREATE INDEX actions_profile ON actions (profile_id, id);
CREATE INDEX actions_outcome ON actions (outcome, id);

-- Only completing a pending attempt changes a row: its outcome, message,
-- state after and completion time, once.
CREATE TRIGGER actions_complete_only BEFORE UPDATE ON actions
WHEN OLD.outcome <> 'pending' OR NEW.outcome = 'pending'
	OR NEW.id IS NOT OLD.id OR NEW.at IS NOT OLD.at
	OR NEW.idempotency_key IS NOT OLD.idempotency_key OR NEW.request_hash IS NOT OLD.request_hash
	OR NEW.actor_role IS NOT OLD.actor_role OR NEW.actor_name IS NOT OLD.actor_name
	OR NEW.via IS NOT OLD.via OR NEW.correlation_id IS NOT OLD.correlation_id
	OR NEW.profile_id IS NOT OLD.profile_id OR NEW.customer_id IS NOT OLD.customer_id
	OR NEW.subscription_id IS NOT OLD.subscription_id OR NEW.action IS NOT OLD.action
	OR NEW.inputs IS NOT OLD.inputs OR NEW.state_before IS NOT OLD.state_before
BEGIN
	SELECT RAISE(ABORT, 'actions are append-only but for completing a pending one');
END;

CREATE TRIGGER actions_no_delete BEFORE DELETE ON actions
BEGIN
	SELECT RAISE(ABORT, 'actions are append-only');
END;

-- The live idempotency keys: one row per key, pointing at the attempt that
-- holds it. A key older than rechargekit.IdempotencyWindow is taken over by
-- the next attempt that sends it (the row is updated in place), so the
-- key's uniqueness here never blocks a legitimate reuse, while the
-- attempts themselves keep their key in actions forever.
CREATE TABLE action_keys (
	key       TEXT PRIMARY KEY,
	action_id INTEGER NOT NULL REFERENCES actions (id),
	at        TEXT NOT NULL
) STRICT;

-- Which role may take which action; a missing row has its default
-- (rechargekit.DefaultActionPolicy).
CREATE TABLE action_policy (
	role       TEXT NOT NULL CHECK (role IN ('admin', 'agent', 'gladly')),
	action     TEXT NOT NULL,
	allowed    INTEGER NOT NULL CHECK (allowed IN (0, 1)),
	updated_by TEXT NOT NULL,
	updated_at TEXT NOT NULL,
	PRIMARY KEY (role, action)
) STRICT;

-- What a JSON API token may do; tokens made before roles are agents.
ALTER TABLE api_tokens ADD COLUMN role TEXT NOT NULL DEFAULT 'agent' CHECK (role IN ('agent', 'admin'));
