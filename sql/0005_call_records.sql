-- One record per inbound or outbound call, written as the call progresses.

CREATE TABLE call_records (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    direction     text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    -- The attempt an outbound campaign call came from.
    attempt_id    uuid UNIQUE REFERENCES call_attempts (id),
    campaign_id   bigint REFERENCES campaigns (id) ON DELETE SET NULL,
    contact_id    bigint REFERENCES contacts (id) ON DELETE SET NULL,
    queue_id      bigint REFERENCES queues (id) ON DELETE SET NULL,
    agent_id      bigint REFERENCES agents (id) ON DELETE SET NULL,
    asterisk_node text NOT NULL DEFAULT '',
    uniqueid      text,
    linkedid      text,
    caller        text NOT NULL DEFAULT '',
    callee        text NOT NULL DEFAULT '',
    started_at    timestamptz NOT NULL,
    answered_at   timestamptz,
    ended_at      timestamptz,
    hangup_cause  text,
    disposition   text REFERENCES dispositions (code),
    details       jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(details) = 'object'),
    UNIQUE (asterisk_node, uniqueid),
    CHECK (answered_at IS NULL OR answered_at >= started_at),
    CHECK (ended_at IS NULL OR ended_at >= started_at)
);
CREATE INDEX call_records_started ON call_records (started_at);
CREATE INDEX call_records_agent ON call_records (agent_id, started_at);
CREATE INDEX call_records_linkedid ON call_records (linkedid);
