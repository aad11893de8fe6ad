-- Agent actions (issue 11): the action audit, which is also the
-- idempotency record, the per-role action policy, and a role on API
-- tokens. It mirrors sqlite/migrations/0002_actions.sql.

-- Every action attempt, append-only: a row is written with its intent
-- (outcome 'pending') before Recharge is called and completed once with
-- its outcome, or written completed when refused before any call. The
-- trigger allows nothing else. State columns hold SubscriptionState as
-- JSON text; inputs holds the request's fields as JSON text.
CREATE TABLE actions (
	id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	at              timestamptz NOT NULL,
	completed_at    timestamptz,
	idempotency_key text COLLATE "C" NOT NULL DEFAULT '',
	request_hash    text NOT NULL DEFAULT '',
	actor_role      text NOT NULL CHECK (actor_role IN ('admin', 'agent', 'gladly')),
	actor_name      text COLLATE "C" NOT NULL,
	via             text NOT NULL CHECK (via IN ('console', 'api', 'gladly')),
	correlation_id  text NOT NULL DEFAULT '',
	profile_id      text COLLATE "C" NOT NULL DEFAULT '',
	customer_id     bigint NOT NULL DEFAULT 0,
	subscription_id bigint NOT NULL DEFAULT 0,
	action          text COLLATE "C" NOT NULL,
	inputs          text NOT NULL DEFAULT '',
	state_before    text,
	state_after     text,
	outcome         text COLLATE "C" NOT NULL CHECK (outcome IN ('pending', 'done', 'refused_policy', 'refused_recharge', 'failed')),
	message         text NOT NULL DEFAULT '',
	CHECK ((outcome = 'pending') = (completed_at IS NULL))
);

-- The audit page filters by one column and lists newest first.
CREATE INDEX actions_action ON actions (action, id);
CREATE INDEX actions_actor ON actions (actor_name, id);
CREATE INDEX actions_customer ON actions (customer_id, id);
CREATE INDEX actions_profile ON actions (profile_id, id);
CREATE INDEX actions_outcome ON actions (outcome, id);

-- Only completing a pending attempt changes a row: its outcome, message,
-- state after and completion time, once.
CREATE FUNCTION actions_complete_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP <> 'UPDATE' OR OLD.outcome <> 'pending' OR NEW.outcome = 'pending'
		OR (NEW.id, NEW.at, NEW.idempotency_key, NEW.request_hash, NEW.actor_role, NEW.actor_name,
		    NEW.via, NEW.correlation_id, NEW.profile_id, NEW.customer_id, NEW.subscription_id,
		    NEW.action, NEW.inputs, NEW.state_before)
		IS DISTINCT FROM
		   (OLD.id, OLD.at, OLD.idempotency_key, OLD.request_hash, OLD.actor_role, OLD.actor_name,
		    OLD.via, OLD.correlation_id, OLD.profile_id, OLD.customer_id, OLD.subscription_id,
		    OLD.action, OLD.inputs, OLD.state_before) THEN
		RAISE EXCEPTION 'actions are append-only but for completing a pending one';
	END IF;
	RETURN NEW;
END
$$;

CREATE TRIGGER actions_complete_only BEFORE UPDATE OR DELETE ON actions
	FOR EACH ROW EXECUTE FUNCTION actions_complete_only();

CREATE TRIGGER actions_no_truncate BEFORE TRUNCATE ON actions
	FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();

-- The live idempotency keys: one row per key, pointing at the attempt that
-- holds it. A key older than rechargekit.IdempotencyWindow is taken over by
-- the next attempt that sends it (the row is updated in place), so the
-- key's uniqueness here never blocks a legitimate reuse, while the
-- attempts themselves keep their key in actions forever.
CREATE TABLE action_keys (
	key       text COLLATE "C" PRIMARY KEY,
	action_id bigint NOT NULL REFERENCES actions (id),
	at        timestamptz NOT NULL
);

-- Which role may take which action; a missing row has its default
-- (rechargekit.DefaultActionPolicy).
CREATE TABLE action_policy (
	role       text COLLATE "C" NOT NULL CHECK (role IN ('admin', 'agent', 'gladly')),
	action     text COLLATE "C" NOT NULL,
	allowed    boolean NOT NULL,
	updated_by text NOT NULL,
	updated_at timestamptz NOT NULL,
	PRIMARY KEY (role, action)
);

-- What a JSON API token may do; tokens made before roles are agents.
ALTER TABLE api_tokens ADD COLUMN role text NOT NULL DEFAULT 'agent' CHECK (role IN ('agent', 'admin'));
