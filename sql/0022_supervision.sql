-- Supervision: agents' help requests to a supervisor ("escalations"), open until closed; a
-- supervisor answers one by listening, whispering or barging in on the agent's call.
-- Each change is also written to audit_log (object_type 'help_request').

CREATE TABLE help_requests (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    agent        text NOT NULL,
    queue        text,
    call_id      text,
    note         text NOT NULL DEFAULT '' CHECK (length(note) <= 500),
    requested_at timestamptz NOT NULL DEFAULT now(),
    answered_by  text,
    answered_how text CHECK (answered_how IN ('listen', 'whisper', 'barge')),
    answered_at  timestamptz,
    closed_by    text,
    closed_at    timestamptz
);
-- One open request per agent; the open ones are what the wallboard lists.
CREATE UNIQUE INDEX help_requests_open_agent ON help_requests (agent) WHERE closed_at IS NULL;
CREATE INDEX help_requests_open ON help_requests (requested_at) WHERE closed_at IS NULL;

-- The wallboard's "leads left" per campaign (leads not finished with: ready or leased),
-- counted every few seconds: an index-only count over this partial index.
CREATE INDEX campaign_leads_left ON campaign_leads (campaign_id)
    WHERE status IN ('ready', 'leased');
