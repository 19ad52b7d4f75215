-- IVR: flow versions (the validated YAML as activated), which version is active
-- for each flow and DID, the activation history (for rollback), each call's path
-- through its flow, and the callback requests callers leave in the IVR.

CREATE TABLE ivr_flow_versions (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    flow        text NOT NULL CHECK (flow ~ '^[a-z][a-z0-9_]{0,62}$'),
    version     integer NOT NULL CHECK (version > 0),
    -- The flow document exactly as checked; the runtime runs this text.
    source      text NOT NULL,
    checksum    text NOT NULL,
    source_path text NOT NULL DEFAULT '',
    dids        text[] NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    created_by  text NOT NULL DEFAULT '',
    UNIQUE (flow, version),
    UNIQUE (flow, checksum)
);

-- Every activation and rollback, newest last. `previous_id` is the activation a
-- rollback returns to.
CREATE TABLE ivr_activations (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    flow         text NOT NULL,
    version_id   bigint NOT NULL REFERENCES ivr_flow_versions (id),
    action       text NOT NULL CHECK (action IN ('activate', 'rollback')),
    previous_id  bigint REFERENCES ivr_activations (id),
    activated_at timestamptz NOT NULL DEFAULT now(),
    activated_by text NOT NULL DEFAULT ''
);
CREATE INDEX ivr_activations_flow ON ivr_activations (flow, id);

CREATE TABLE ivr_active_flows (
    flow          text PRIMARY KEY,
    version_id    bigint NOT NULL REFERENCES ivr_flow_versions (id),
    activation_id bigint NOT NULL REFERENCES ivr_activations (id)
);

-- The number dialed picks the flow.
CREATE TABLE ivr_dids (
    did  text PRIMARY KEY,
    flow text NOT NULL REFERENCES ivr_active_flows (flow) ON DELETE CASCADE
);
CREATE INDEX ivr_dids_flow ON ivr_dids (flow);

CREATE TABLE ivr_calls (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    uniqueid    text NOT NULL,
    did         text NOT NULL,
    caller      text NOT NULL DEFAULT '',
    flow        text NOT NULL,
    version_id  bigint NOT NULL REFERENCES ivr_flow_versions (id),
    started_at  timestamptz NOT NULL,
    ended_at    timestamptz,
    -- NULL while the call is in the IVR.
    outcome     text CHECK (outcome IN ('completed', 'queued', 'transferred', 'transfer_failed',
                                        'voicemail', 'abandoned', 'failed')),
    end_node    text,
    language    text NOT NULL DEFAULT '',
    -- Entries and contact fields, for reporting and the agent's screen pop.
    variables   jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(variables) = 'object'),
    CHECK ((outcome IS NULL) = (ended_at IS NULL))
);
CREATE INDEX ivr_calls_started ON ivr_calls (started_at);
CREATE INDEX ivr_calls_uniqueid ON ivr_calls (uniqueid);
CREATE INDEX ivr_calls_version ON ivr_calls (version_id);

CREATE TABLE ivr_call_steps (
    call_id    uuid NOT NULL REFERENCES ivr_calls (id) ON DELETE CASCADE,
    seq        integer NOT NULL,
    node       text NOT NULL,
    kind       text NOT NULL,
    entered_at timestamptz NOT NULL,
    left_at    timestamptz,
    digits     text NOT NULL DEFAULT '',
    result     text NOT NULL DEFAULT '',
    next_node  text,
    detail     jsonb NOT NULL DEFAULT '{}'::jsonb,
    PRIMARY KEY (call_id, seq)
);

-- A caller asked to be called back; the dialer picks these up. When the caller is
-- a known contact and the flow names a campaign, a row in `callbacks` is made too.
CREATE TABLE ivr_callback_requests (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    call_id     uuid REFERENCES ivr_calls (id) ON DELETE SET NULL,
    e164        text NOT NULL,
    due_at      timestamptz NOT NULL,
    contact_id  bigint REFERENCES contacts (id) ON DELETE SET NULL,
    campaign_id bigint REFERENCES campaigns (id) ON DELETE SET NULL,
    callback_id bigint REFERENCES callbacks (id) ON DELETE SET NULL,
    note        text NOT NULL DEFAULT '',
    status      text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'cancelled')),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ivr_callback_requests_due ON ivr_callback_requests (due_at) WHERE status = 'pending';
