-- Versions of the Asterisk configuration ccpbx deploys (`ccpbx conf apply`/`rollback`):
-- every attempt, newest last, with the files exactly as written (or as they would have
-- been), what they were verified against, the diff to what was on disk, who, when, why
-- and how it ended. The files of the latest 'applied' version are what the target
-- Asterisk's folder should hold (`ccpbx doctor` compares).
CREATE TABLE conf_versions (
    version     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    created_at  timestamptz NOT NULL DEFAULT now(),
    created_by  text NOT NULL DEFAULT '',
    message     text NOT NULL DEFAULT '',
    -- {"pjsip.conf": "<text>", ...}: every managed file, header included.
    files       jsonb NOT NULL CHECK (jsonb_typeof(files) = 'object'),
    -- Modules, contexts and endpoints the files were proved against (ccpbx/asterisk/expect.py).
    expect      jsonb NOT NULL,
    changed     text[] NOT NULL DEFAULT '{}',
    -- The changed files as they were on disk before (null: there was none), so even the
    -- first apply over an admin's own files can be undone by hand.
    previous    jsonb NOT NULL DEFAULT '{}',
    diff        text NOT NULL DEFAULT '',
    -- applied: written, reloaded, verified live. check_failed: refused by `conf check`,
    -- nothing written. rolled_back: written, then a reload or the live verification
    -- failed and the previous files were put back and reloaded. failed: putting the
    -- previous files back failed too (the folder needs a person).
    result      text NOT NULL CHECK (result IN ('applied', 'check_failed', 'rolled_back', 'failed')),
    detail      text NOT NULL DEFAULT '',
    rollback_of bigint REFERENCES conf_versions (version),
    check_s     double precision,
    apply_s     double precision
);
CREATE INDEX conf_versions_applied ON conf_versions (version) WHERE result = 'applied';
