-- Campaigns, their lists, do-not-call entries, the per-campaign lead state,
-- call attempts (one row per dial, written before the call is placed),
-- dispositions and scheduled callbacks.

CREATE TABLE campaigns (
    id                    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name                  text NOT NULL UNIQUE CHECK (name <> '' AND length(name) <= 200),
    status                text NOT NULL DEFAULT 'paused'
                          CHECK (status IN ('running', 'paused', 'archived')),
    mode                  text NOT NULL CHECK (mode IN ('preview', 'progressive', 'predictive')),
    -- Calling window in the recipient's local time, minutes after midnight:
    -- open while start <= local time < end (default 08:00-21:00).
    window_start_min      smallint NOT NULL DEFAULT 480,
    window_end_min        smallint NOT NULL DEFAULT 1260,
    -- Zone whose calendar day the per-day attempt cap counts in.
    cap_time_zone         text NOT NULL DEFAULT 'UTC',
    max_attempts_per_day  integer NOT NULL DEFAULT 3 CHECK (max_attempts_per_day > 0),
    max_attempts_total    integer NOT NULL DEFAULT 10 CHECK (max_attempts_total > 0),
    -- Seconds to wait before the next attempt, by outcome or disposition code.
    retry_delays          jsonb NOT NULL DEFAULT '{}'::jsonb
                          CHECK (jsonb_typeof(retry_delays) = 'object'),
    default_retry_delay_s integer NOT NULL DEFAULT 3600 CHECK (default_retry_delay_s >= 0),
    abandon_target        numeric(5, 4) NOT NULL DEFAULT 0.03
                          CHECK (abandon_target >= 0 AND abandon_target <= 1),
    dial_string_template  text NOT NULL DEFAULT 'PJSIP/{number}@{trunk}',
    trunk                 text NOT NULL,
    caller_id             text NOT NULL,
    ring_timeout_s        integer NOT NULL DEFAULT 25 CHECK (ring_timeout_s >= 15),
    amd_enabled           boolean NOT NULL DEFAULT false,
    -- How long a dialer may hold a lease without reporting progress.
    lease_ttl_s           integer NOT NULL DEFAULT 120 CHECK (lease_ttl_s >= 15),
    queue_id              bigint REFERENCES queues (id) ON DELETE SET NULL,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    CHECK (window_start_min >= 0 AND window_start_min < window_end_min
           AND window_end_min <= 1440)
);

CREATE TABLE campaign_lists (
    campaign_id bigint NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    list_id     bigint NOT NULL REFERENCES contact_lists (id) ON DELETE CASCADE,
    added_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (campaign_id, list_id)
);
CREATE INDEX campaign_lists_list ON campaign_lists (list_id);

-- Do-not-call: campaign_id NULL means every campaign.
CREATE TABLE dnc_entries (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    e164        text NOT NULL CHECK (e164 ~ '^\+[1-9][0-9]{5,14}$'),
    campaign_id bigint REFERENCES campaigns (id) ON DELETE CASCADE,
    source      text NOT NULL,
    expires_at  timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE NULLS NOT DISTINCT (e164, campaign_id)
);

CREATE TABLE dispositions (
    code        text PRIMARY KEY CHECK (code ~ '^[a-z0-9_]{1,40}$'),
    label       text NOT NULL,
    -- The contact is finished with in this campaign.
    is_final    boolean NOT NULL DEFAULT false,
    -- A callback time must be given; the contact is called back then.
    is_callback boolean NOT NULL DEFAULT false,
    -- The number goes on the global do-not-call list.
    add_to_dnc  boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CHECK (NOT (is_final AND is_callback))
);
INSERT INTO dispositions (code, label, is_final, is_callback, add_to_dnc) VALUES
    ('sale', 'Sale', true, false, false),
    ('not_interested', 'Not interested', true, false, false),
    ('callback', 'Call back later', false, true, false),
    ('do_not_call', 'Asked not to be called', true, false, true),
    ('wrong_number', 'Wrong number', true, false, false),
    ('left_message', 'Left a message', false, false, false);

-- Dialing state of one contact in one campaign. The hopper reads the partial
-- index below: due callbacks first (tier 0), then priority, then the lead
-- that has waited longest.
CREATE TABLE campaign_leads (
    campaign_id        bigint NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    contact_id         bigint NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    -- ready: may be leased once ready_at has passed; leased: an attempt is in
    -- flight or not yet reconciled; done: finished with; exhausted: caps reached.
    status             text NOT NULL DEFAULT 'ready'
                       CHECK (status IN ('ready', 'leased', 'done', 'exhausted')),
    tier               smallint NOT NULL DEFAULT 1 CHECK (tier IN (0, 1)),
    priority           integer NOT NULL DEFAULT 0,
    ready_at           timestamptz NOT NULL,
    attempts_total     integer NOT NULL DEFAULT 0,
    -- Day (in the campaign's cap_time_zone) attempts_on_day counts.
    attempts_day       date,
    attempts_on_day    integer NOT NULL DEFAULT 0,
    last_attempt_id    uuid,
    last_outcome       text,
    callback_id        bigint,
    preferred_phone_id bigint,
    PRIMARY KEY (campaign_id, contact_id)
);
CREATE INDEX campaign_leads_queue ON campaign_leads
    (campaign_id, tier, priority DESC, ready_at, contact_id) WHERE status = 'ready';
CREATE INDEX campaign_leads_contact ON campaign_leads (contact_id);

CREATE TABLE call_attempts (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    campaign_id      bigint NOT NULL REFERENCES campaigns (id),
    contact_id       bigint NOT NULL REFERENCES contacts (id),
    phone_id         bigint NOT NULL REFERENCES phone_numbers (id),
    e164             text NOT NULL,
    callback_id      bigint,
    dialer_id        text NOT NULL,
    state            text NOT NULL CHECK (state IN ('leased', 'dialing', 'ringing', 'answered',
                                                    'finished', 'expired', 'reconciled')),
    outcome          text CHECK (outcome IN ('answered', 'no_answer', 'busy', 'congestion',
                                             'failed', 'machine', 'abandoned', 'cancelled',
                                             'not_dialed')),
    disposition      text REFERENCES dispositions (code),
    leased_at        timestamptz NOT NULL,
    lease_expires_at timestamptz NOT NULL,
    dialing_at       timestamptz,
    ringing_at       timestamptz,
    answered_at      timestamptz,
    finished_at      timestamptz,
    expired_at       timestamptz,
    reconciled_at    timestamptz,
    -- Asterisk's channel uniqueid once the call exists.
    uniqueid         text,
    CHECK ((outcome IS NULL) = (state NOT IN ('finished', 'reconciled'))),
    CHECK (disposition IS NULL OR outcome IS NOT NULL)
);
CREATE INDEX call_attempts_contact ON call_attempts (campaign_id, contact_id, leased_at);
CREATE INDEX call_attempts_open ON call_attempts (lease_expires_at)
    WHERE state IN ('leased', 'dialing', 'ringing', 'answered');
CREATE INDEX call_attempts_expired ON call_attempts (expired_at) WHERE state = 'expired';

-- A scheduled callback, for one agent or (agent_id NULL) anyone.
CREATE TABLE callbacks (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    campaign_id bigint NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    contact_id  bigint NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    phone_id    bigint REFERENCES phone_numbers (id) ON DELETE SET NULL,
    agent_id    bigint REFERENCES agents (id) ON DELETE SET NULL,
    due_at      timestamptz NOT NULL,
    status      text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'dialed', 'cancelled')),
    attempt_id  uuid REFERENCES call_attempts (id),
    note        text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX callbacks_one_pending ON callbacks (campaign_id, contact_id)
    WHERE status = 'pending';
CREATE INDEX callbacks_agent ON callbacks (agent_id, due_at) WHERE status = 'pending';
