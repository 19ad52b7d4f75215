-- ACD service: queue configuration, agent profiles (number, PIN, skills, queues),
-- agent sessions (who is logged in where, for recovery after a restart), every ACD
-- state change with its time, and 15-minute statistics intervals.

CREATE TABLE acd_queues (
    name            text PRIMARY KEY CHECK (name ~ '^[a-z0-9][a-z0-9_-]{1,63}$'),
    strategy        text NOT NULL DEFAULT 'longest_idle'
                    CHECK (strategy IN ('longest_idle', 'fewest_calls', 'round_robin',
                                        'random', 'linear', 'ring_all')),
    wrapup_s        double precision NOT NULL DEFAULT 10 CHECK (wrapup_s >= 0),
    ring_timeout_s  double precision NOT NULL DEFAULT 15 CHECK (ring_timeout_s > 0),
    max_wait_s      double precision CHECK (max_wait_s > 0),
    service_level_s double precision NOT NULL DEFAULT 20 CHECK (service_level_s >= 0),
    short_abandon_s double precision NOT NULL DEFAULT 5 CHECK (short_abandon_s >= 0),
    -- Skill name -> minimum level every call of this queue needs.
    required        jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(required) = 'object'),
    record          boolean NOT NULL DEFAULT true,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- An agent as the ACD knows it: the number typed at a phone (also the token subject).
CREATE TABLE acd_agents (
    agent      text PRIMARY KEY CHECK (agent ~ '^[0-9]{2,15}$'),
    name       text NOT NULL DEFAULT '',
    -- SHA-256 of the PIN with a per-agent salt (hex), or NULL: no phone login.
    pin_salt   text,
    pin_hash   text,
    -- Skill name -> level; queue name -> {"penalty": n, "position": n}.
    skills     jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(skills) = 'object'),
    queues     jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(queues) = 'object'),
    mode       text NOT NULL DEFAULT 'ring' CHECK (mode IN ('ring', 'persistent')),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Logged-in agents (deleted at logout): read back after a restart.
CREATE TABLE acd_agent_sessions (
    agent        text PRIMARY KEY REFERENCES acd_agents (agent) ON DELETE CASCADE,
    endpoint     text NOT NULL,
    mode         text NOT NULL CHECK (mode IN ('ring', 'persistent')),
    logged_in_at timestamptz NOT NULL,
    pause_reason text
);

-- Every ACD state change as the engine reported it. Rows with an agent are the
-- agent state log (state after the change, and its time).
CREATE TABLE acd_events (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at         timestamptz NOT NULL,
    kind       text NOT NULL,
    queue      text,
    agent      text,
    call_id    text,
    state      text,
    reason     text,
    wait_s     double precision,
    duration_s double precision,
    target     text
);
CREATE INDEX acd_events_at ON acd_events (at);
CREATE INDEX acd_events_agent ON acd_events (agent, at) WHERE agent IS NOT NULL;
CREATE INDEX acd_events_call ON acd_events (call_id, at) WHERE call_id IS NOT NULL;

CREATE VIEW acd_agent_state_log AS
    SELECT at, agent, state, kind, reason, queue, call_id
    FROM acd_events WHERE agent IS NOT NULL AND state IS NOT NULL;

-- Closed statistics intervals (15 minutes by default), one row per queue or agent.
CREATE TABLE acd_queue_intervals (
    queue          text NOT NULL,
    interval_start timestamptz NOT NULL,
    interval_s     double precision NOT NULL,
    counts         jsonb NOT NULL,
    PRIMARY KEY (queue, interval_start)
);

CREATE TABLE acd_agent_intervals (
    agent          text NOT NULL,
    interval_start timestamptz NOT NULL,
    interval_s     double precision NOT NULL,
    counts         jsonb NOT NULL,
    PRIMARY KEY (agent, interval_start)
);
