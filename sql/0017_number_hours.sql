-- Business hours per inbound number (`ccpbx number add ... --hours FLOW/CALENDAR
-- --closed ROUTE`): inside the hours of that calendar of the flow's ACTIVE version the
-- call takes the number's route; outside them, the closed route: exactly one of an IVR
-- flow, an ACD queue or an agent (like the number's own route) or a voicemail box
-- (mailboxes are named after ACD queues). A number without hours has neither; existing
-- rows keep working unchanged.
ALTER TABLE pbx_numbers
    ADD COLUMN hours_flow     text CHECK (hours_flow ~ '^[a-z][a-z0-9_]{0,62}$'),
    ADD COLUMN hours_calendar text CHECK (hours_calendar ~ '^[A-Za-z0-9_-]{1,64}$'),
    ADD COLUMN closed_flow    text CHECK (closed_flow ~ '^[a-z][a-z0-9_]{0,62}$'),
    ADD COLUMN closed_queue   text REFERENCES acd_queues (name) ON UPDATE CASCADE,
    ADD COLUMN closed_agent   text REFERENCES acd_agents (agent) ON UPDATE CASCADE,
    ADD COLUMN closed_voicemail text REFERENCES acd_queues (name) ON UPDATE CASCADE,
    ADD CONSTRAINT pbx_numbers_hours_whole CHECK (
        (hours_flow IS NULL) = (hours_calendar IS NULL)
        AND num_nonnulls(closed_flow, closed_queue, closed_agent, closed_voicemail)
            = CASE WHEN hours_flow IS NULL THEN 0 ELSE 1 END
    );
