-- Phones, carrier trunks and inbound numbers (DIDs) as data: what `ccpbx conf render`
-- turns into pjsip.conf and the inbound dialplan.
--
-- Phones and trunks share one name space (each is a PJSIP endpoint of that name); the
-- store refuses a phone named like a trunk and the other way round.

-- A SIP phone (desk phone or softphone). Its password is never stored: only the MD5
-- digest Asterisk checks a REGISTER or INVITE against, md5(name:realm:password), with
-- the realm it was made for (a changed realm needs `ccpbx phone reset-secret`).
CREATE TABLE pbx_phones (
    name             text PRIMARY KEY CHECK (name ~ '^[a-z0-9][a-z0-9_.]{0,39}$'),
    label            text NOT NULL DEFAULT '' CHECK (label !~ '[][;#"<>\r\n\x01-\x1f]'),
    transport        text NOT NULL DEFAULT 'udp' CHECK (transport IN ('udp', 'tcp', 'tls', 'wss')),
    webrtc           boolean NOT NULL DEFAULT false,
    class_of_service text NOT NULL DEFAULT 'national'
                     CHECK (class_of_service IN ('none', 'local', 'national', 'international')),
    max_calls        integer NOT NULL DEFAULT 2 CHECK (max_calls BETWEEN 1 AND 100),
    realm            text NOT NULL,
    md5_cred         text NOT NULL CHECK (md5_cred ~ '^[0-9a-f]{32}$'),
    secret_set_at    timestamptz NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    CHECK (NOT webrtc OR transport = 'wss')
);

-- A carrier trunk. Inbound calls are taken from it only when it is identified by the
-- address they come from (identify: CIDRs) or by its registration (register: the
-- carrier calls the contact we registered with our credentials): never by a name in
-- a header. A trunk with neither is refused.
CREATE TABLE pbx_trunks (
    name          text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_]{0,39}$'),
    host          text NOT NULL CHECK (host ~ '^[A-Za-z0-9.:-]{1,253}$'),
    port          integer NOT NULL DEFAULT 5060 CHECK (port BETWEEN 1 AND 65535),
    transport     text NOT NULL DEFAULT 'udp' CHECK (transport IN ('udp', 'tcp', 'tls')),
    identify      cidr[] NOT NULL DEFAULT '{}',
    register      boolean NOT NULL DEFAULT false,
    -- Outbound digest credentials (registration and challenged INVITEs). The carrier's
    -- secret is needed in plain text to answer its challenges.
    username      text CHECK (username ~ '^[A-Za-z0-9_.+-]{1,64}$'),
    secret        text CHECK (secret !~ '[][;#\r\n\x01-\x1f]' AND length(secret) BETWEEN 1 AND 128),
    codecs        text[] NOT NULL DEFAULT '{ulaw,alaw}',
    max_channels  integer CHECK (max_channels > 0),
    dial_template text NOT NULL DEFAULT 'PJSIP/{number}@{trunk}',
    created_at    timestamptz NOT NULL DEFAULT now(),
    CHECK (cardinality(identify) > 0 OR register),
    CHECK (NOT register OR (username IS NOT NULL AND secret IS NOT NULL)),
    CHECK ((username IS NULL) = (secret IS NULL))
);

-- An inbound number (E.164) and where its calls go: exactly one of an IVR flow, an ACD
-- queue or an agent.
CREATE TABLE pbx_numbers (
    number     text PRIMARY KEY CHECK (number ~ '^\+[1-9][0-9]{4,14}$'),
    flow       text CHECK (flow ~ '^[a-z][a-z0-9_]{0,62}$'),
    queue      text REFERENCES acd_queues (name) ON UPDATE CASCADE,
    agent      text REFERENCES acd_agents (agent) ON UPDATE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK (num_nonnulls(flow, queue, agent) = 1)
);
