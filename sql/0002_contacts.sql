-- Contact lists, contacts and their phone numbers (E.164, with the time zones
-- each number may be in, so the calling window can be checked in SQL).

CREATE TABLE contact_lists (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name           text NOT NULL UNIQUE CHECK (name <> '' AND length(name) <= 200),
    -- Region used to read numbers written without a country code.
    default_region text NOT NULL DEFAULT 'US' CHECK (default_region ~ '^[A-Z]{2}$'),
    created_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE contacts (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    list_id     bigint NOT NULL REFERENCES contact_lists (id) ON DELETE CASCADE,
    external_id text,
    name        text NOT NULL DEFAULT '',
    -- A zone given explicitly for the contact; then it replaces the zones
    -- derived from its numbers.
    time_zone   text,
    priority    integer NOT NULL DEFAULT 0,
    -- NULL: consent unknown.
    consent     boolean,
    fields      jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(fields) = 'object'),
    -- Line of the import file the contact came from.
    source_line integer,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX contacts_list ON contacts (list_id, id);

CREATE TABLE phone_numbers (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    contact_id  bigint NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    -- Copied from the contact so a number is unique within its list.
    list_id     bigint NOT NULL REFERENCES contact_lists (id) ON DELETE CASCADE,
    -- Order of preference within the contact (0 first).
    rank        smallint NOT NULL DEFAULT 0 CHECK (rank >= 0),
    e164        text NOT NULL CHECK (e164 ~ '^\+[1-9][0-9]{5,14}$'),
    -- Every IANA zone the number may be in; the calling window must hold in all.
    time_zones  text[] NOT NULL CHECK (cardinality(time_zones) >= 1),
    -- On a do-not-call list when imported: kept for the record, never dialed.
    dnc_flagged boolean NOT NULL DEFAULT false,
    UNIQUE (list_id, e164),
    UNIQUE (contact_id, rank)
);
CREATE INDEX phone_numbers_e164 ON phone_numbers (e164);
