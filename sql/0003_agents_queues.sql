-- Agents, their skills (with a level) and queues, used by the ACD.

CREATE TABLE agents (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username     text NOT NULL UNIQUE CHECK (username ~ '^[a-z0-9][a-z0-9._-]{0,63}$'),
    display_name text NOT NULL DEFAULT '',
    -- The endpoint the agent's calls are sent to, e.g. PJSIP/1001.
    endpoint     text,
    active       boolean NOT NULL DEFAULT true,
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE skills (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       text NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9][a-z0-9_-]{0,63}$'),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE agent_skills (
    agent_id bigint NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    skill_id bigint NOT NULL REFERENCES skills (id) ON DELETE CASCADE,
    level    smallint NOT NULL CHECK (level BETWEEN 1 AND 10),
    PRIMARY KEY (agent_id, skill_id)
);
CREATE INDEX agent_skills_skill ON agent_skills (skill_id, level);

CREATE TABLE queues (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          text NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9][a-z0-9_-]{0,63}$'),
    strategy      text NOT NULL DEFAULT 'longest_idle'
                  CHECK (strategy IN ('longest_idle', 'round_robin', 'skill_level')),
    max_wait_s    integer NOT NULL DEFAULT 300 CHECK (max_wait_s > 0),
    wrapup_s      integer NOT NULL DEFAULT 10 CHECK (wrapup_s >= 0),
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- Skills a queue requires, each with the minimum level an agent needs.
CREATE TABLE queue_skills (
    queue_id  bigint NOT NULL REFERENCES queues (id) ON DELETE CASCADE,
    skill_id  bigint NOT NULL REFERENCES skills (id) ON DELETE CASCADE,
    min_level smallint NOT NULL DEFAULT 1 CHECK (min_level BETWEEN 1 AND 10),
    PRIMARY KEY (queue_id, skill_id)
);
