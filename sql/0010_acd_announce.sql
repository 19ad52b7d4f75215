-- ACD queues: announcements to waiting callers (every N seconds, 0 = never; their
-- position and/or estimated wait), and the overflow and skill relaxation rules, so a
-- restarted ccpbx routes with the same rules.

ALTER TABLE acd_queues
    ADD COLUMN announce_every_s  double precision NOT NULL DEFAULT 0
        CHECK (announce_every_s = 0 OR announce_every_s >= 5),
    ADD COLUMN announce_position boolean NOT NULL DEFAULT true,
    ADD COLUMN announce_wait     boolean NOT NULL DEFAULT true,
    -- Where a call goes after max_wait_s: another queue, a mailbox, a callback offer or
    -- a recorded message (NULL: nowhere, the caller keeps waiting).
    ADD COLUMN overflow_kind     text
        CHECK (overflow_kind IN ('queue', 'voicemail', 'callback', 'message')),
    ADD COLUMN overflow_target   text NOT NULL DEFAULT '',
    -- [{"after_s": n, "skill": name|null, "min_level": n|null, "optional": bool}, ...]
    ADD COLUMN relaxation        jsonb NOT NULL DEFAULT '[]'::jsonb
        CHECK (jsonb_typeof(relaxation) = 'array');
