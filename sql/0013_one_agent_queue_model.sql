-- One model of agents, queues and skills: the ACD's (acd_agents keyed by the agent
-- number, acd_queues keyed by name, skills as jsonb, sql/0008). Campaigns, callbacks and
-- call records now point at those by name; the older tables of sql/0003 (agents, skills,
-- agent_skills, queues, queue_skills) are carried over and dropped.
--
-- What maps to what:
-- * A 0003 queue whose name is an ACD queue is that queue (the ACD's settings stay).
--   One that is not becomes an ACD queue with its strategy (skill_level, which the ACD
--   has not, becomes longest_idle), wrap-up, max wait and required skills (skill name ->
--   minimum level). A one-character name cannot be an ACD queue (nor could a campaign
--   on it ever run: the dialer refuses such a name); it is left out.
-- * A 0003 agent whose username is an ACD agent number is that agent (the ACD's profile
--   stays). One that is not yet an ACD agent becomes one: display name, skills with
--   their levels, no PIN (no phone login until one is set) and no queues. A username
--   that is no agent number (2 to 15 digits) cannot be an ACD agent: it is left out.
-- * campaigns.queue_id -> campaigns.queue; callbacks.agent_id -> callbacks.agent;
--   call_records.queue_id, agent_id -> call_records.queue, agent.
--   A campaign whose queue was left out has no queue (as after a deleted queue); a
--   callback promised to an agent that was left out is for anyone (as after a deleted
--   agent); a call record keeps the name of a queue or agent that was left out in
--   details ("unmatched_queue", "unmatched_agent").

INSERT INTO acd_queues (name, strategy, wrapup_s, max_wait_s, required)
SELECT q.name,
       CASE WHEN q.strategy IN ('longest_idle', 'round_robin') THEN q.strategy
            ELSE 'longest_idle' END,
       q.wrapup_s,
       q.max_wait_s,
       coalesce((SELECT jsonb_object_agg(s.name, qs.min_level)
                 FROM queue_skills qs JOIN skills s ON s.id = qs.skill_id
                 WHERE qs.queue_id = q.id), '{}'::jsonb)
FROM queues q
WHERE q.name ~ '^[a-z0-9][a-z0-9_-]{1,63}$'
ON CONFLICT (name) DO NOTHING;

INSERT INTO acd_agents (agent, name, skills)
SELECT a.username,
       a.display_name,
       coalesce((SELECT jsonb_object_agg(s.name, x.level)
                 FROM agent_skills x JOIN skills s ON s.id = x.skill_id
                 WHERE x.agent_id = a.id), '{}'::jsonb)
FROM agents a
WHERE a.username ~ '^[0-9]{2,15}$'
ON CONFLICT (agent) DO NOTHING;

-- Campaigns: the ACD queue whose members are the campaign's agents.
ALTER TABLE campaigns
    ADD COLUMN queue text REFERENCES acd_queues (name) ON UPDATE CASCADE ON DELETE SET NULL;
UPDATE campaigns c SET queue = q.name
FROM queues q JOIN acd_queues aq ON aq.name = q.name
WHERE q.id = c.queue_id;
ALTER TABLE campaigns DROP COLUMN queue_id;

-- Callbacks: the agent (number) the callback is promised to, NULL for anyone.
ALTER TABLE callbacks
    ADD COLUMN agent text REFERENCES acd_agents (agent) ON UPDATE CASCADE ON DELETE SET NULL;
UPDATE callbacks cb SET agent = a.username
FROM agents a JOIN acd_agents aa ON aa.agent = a.username
WHERE a.id = cb.agent_id;
ALTER TABLE callbacks DROP COLUMN agent_id;
CREATE INDEX callbacks_agent ON callbacks (agent, due_at) WHERE status = 'pending';

-- Call records: the queue and the agent of the call.
ALTER TABLE call_records
    ADD COLUMN queue text REFERENCES acd_queues (name) ON UPDATE CASCADE ON DELETE SET NULL,
    ADD COLUMN agent text REFERENCES acd_agents (agent) ON UPDATE CASCADE ON DELETE SET NULL;
UPDATE call_records r SET queue = aq.name
FROM queues q JOIN acd_queues aq ON aq.name = q.name
WHERE q.id = r.queue_id;
UPDATE call_records r SET agent = aa.agent
FROM agents a JOIN acd_agents aa ON aa.agent = a.username
WHERE a.id = r.agent_id;
UPDATE call_records r SET details = r.details || jsonb_build_object('unmatched_queue', q.name)
FROM queues q
WHERE q.id = r.queue_id AND r.queue IS NULL;
UPDATE call_records r SET details = r.details || jsonb_build_object('unmatched_agent', a.username)
FROM agents a
WHERE a.id = r.agent_id AND r.agent IS NULL;
ALTER TABLE call_records DROP COLUMN queue_id, DROP COLUMN agent_id;
CREATE INDEX call_records_agent ON call_records (agent, started_at);

DROP TABLE queue_skills, agent_skills, queues, skills, agents;
