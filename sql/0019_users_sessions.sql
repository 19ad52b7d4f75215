-- Users of the web console and their browser sessions.
-- A user signs in with a name and a password (Argon2id hash, argon2-cffi); its role
-- is a token's (agent < supervisor < admin). An agent user acts as one ACD agent.
-- Failed sign-ins in a row are counted; enough of them lock the name until locked_until.
CREATE TABLE users (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name            text NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9][a-z0-9._@-]{0,63}$'),
    display_name    text NOT NULL DEFAULT '',
    role            text NOT NULL CHECK (role IN ('agent', 'supervisor', 'admin')),
    agent           text REFERENCES acd_agents (agent) ON UPDATE CASCADE ON DELETE RESTRICT,
    password_hash   text NOT NULL,
    disabled        boolean NOT NULL DEFAULT false,
    failed_attempts integer NOT NULL DEFAULT 0 CHECK (failed_attempts >= 0),
    locked_until    timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_agent_role_has_agent CHECK (role <> 'agent' OR agent IS NOT NULL)
);
-- One sign-in per agent: an agent's screen belongs to one person.
CREATE UNIQUE INDEX users_one_per_agent ON users (agent) WHERE agent IS NOT NULL;

-- A browser session: only a SHA-256 of its id is stored (the id carries 256 random
-- bits); its CSRF token goes with every state-changing request. It ends at expires_at
-- (absolute lifetime) or when last_seen_at is older than the idle timeout (config).
CREATE TABLE user_sessions (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_hash bytea NOT NULL UNIQUE,
    user_id      bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token   text NOT NULL,
    source       text,
    created_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL
);
CREATE INDEX user_sessions_user ON user_sessions (user_id);
CREATE INDEX user_sessions_expires ON user_sessions (expires_at);
