"""PostgreSQL side of the queue service: configuration, sessions, events, intervals."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from typing import Any

from ccpbx.acd import (
    AcdEvent,
    AgentMode,
    AgentState,
    EventKind,
    Membership,
    OverflowKind,
    OverflowTarget,
    QueueConfig,
    RelaxationStep,
    Strategy,
)
from ccpbx.acd.stats import AgentCounts, QueueCounts
from ccpbx.errors import NotFound
from ccpbx.queues.model import (
    AgentRecord,
    QueueSpec,
    check_agent_id,
    check_agent_name,
    check_queue_name,
)
from ccpbx.queues.pins import hash_pin
from ccpbx.store.db import Executor, translate_errors


def ts(at: float) -> datetime:
    return datetime.fromtimestamp(at, UTC)


async def save_queue(db: Executor, spec: QueueSpec) -> None:
    c = spec.config
    check_queue_name(c.name)
    overflow = c.overflow
    relaxation = [asdict(step) for step in c.relaxation]
    with translate_errors("save queue", queue=c.name):
        await db.execute(
            """INSERT INTO acd_queues (name, strategy, wrapup_s, ring_timeout_s, max_wait_s,
                   service_level_s, short_abandon_s, required, record, announce_every_s,
                   announce_position, announce_wait, overflow_kind, overflow_target,
                   relaxation)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10, $11, $12, $13, $14,
                   $15::jsonb)
               ON CONFLICT (name) DO UPDATE SET strategy = EXCLUDED.strategy,
                   wrapup_s = EXCLUDED.wrapup_s, ring_timeout_s = EXCLUDED.ring_timeout_s,
                   max_wait_s = EXCLUDED.max_wait_s, service_level_s = EXCLUDED.service_level_s,
                   short_abandon_s = EXCLUDED.short_abandon_s, required = EXCLUDED.required,
                   record = EXCLUDED.record, announce_every_s = EXCLUDED.announce_every_s,
                   announce_position = EXCLUDED.announce_position,
                   announce_wait = EXCLUDED.announce_wait,
                   overflow_kind = EXCLUDED.overflow_kind,
                   overflow_target = EXCLUDED.overflow_target,
                   relaxation = EXCLUDED.relaxation, updated_at = now()""",
            c.name,
            c.strategy.value,
            c.wrapup_s,
            c.ring_timeout_s,
            c.max_wait_s,
            c.service_level_s,
            c.short_abandon_s,
            json.dumps(dict(spec.required)),
            spec.record,
            spec.announce_every_s,
            spec.announce_position,
            spec.announce_wait,
            overflow.kind.value if overflow is not None else None,
            overflow.target if overflow is not None else "",
            json.dumps(relaxation),
        )


async def load_queues(db: Executor) -> list[QueueSpec]:
    """Every stored queue; overflow targets that are not (yet) queues are left out."""
    with translate_errors("load queues"):
        rows = await db.fetch("SELECT * FROM acd_queues ORDER BY name")
    names = {r["name"] for r in rows}
    specs = []
    for r in rows:
        overflow = None
        if r["overflow_kind"] is not None:
            overflow = OverflowTarget(OverflowKind(r["overflow_kind"]), r["overflow_target"])
            if overflow.kind is OverflowKind.QUEUE and overflow.target not in names:
                overflow = None
        specs.append(
            QueueSpec(
                QueueConfig(
                    name=r["name"],
                    strategy=Strategy(r["strategy"]),
                    wrapup_s=r["wrapup_s"],
                    ring_timeout_s=r["ring_timeout_s"],
                    max_wait_s=r["max_wait_s"],
                    overflow=overflow if r["max_wait_s"] is not None else None,
                    relaxation=tuple(
                        RelaxationStep(**step) for step in json.loads(r["relaxation"])
                    ),
                    service_level_s=r["service_level_s"],
                    short_abandon_s=r["short_abandon_s"],
                ),
                required=json.loads(r["required"]),
                record=r["record"],
                announce_every_s=r["announce_every_s"],
                announce_position=r["announce_position"],
                announce_wait=r["announce_wait"],
            )
        )
    return specs


async def save_pin_hash(db: Executor, agent: str, pin: str) -> None:
    """Store a new Argon2 hash of the agent's PIN (a rehash after a good login)."""
    digest = await asyncio.to_thread(hash_pin, pin)
    with translate_errors("save PIN", agent=agent):
        await db.execute(
            "UPDATE acd_agents SET pin_salt = NULL, pin_hash = $2, updated_at = now()"
            " WHERE agent = $1",
            agent,
            digest,
        )


async def save_agent(db: Executor, record: AgentRecord, *, pin: str | None = None) -> AgentRecord:
    """Create or replace an agent profile; ``pin`` (digits) sets a new PIN (Argon2id;
    hashing takes about 0.1 s of CPU, done in a thread)."""
    check_agent_id(record.agent)
    check_agent_name(record.name)
    salt: str | None
    digest: str | None
    if pin is not None:
        salt, digest = None, await asyncio.to_thread(hash_pin, pin)
    else:
        salt, digest = record.pin_salt, record.pin_hash
    queues = {q: {"penalty": m.penalty, "position": m.position} for q, m in record.queues.items()}
    with translate_errors("save agent", agent=record.agent):
        await db.execute(
            """INSERT INTO acd_agents (agent, name, pin_salt, pin_hash, skills, queues, mode)
               VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb, $7)
               ON CONFLICT (agent) DO UPDATE SET name = EXCLUDED.name,
                   pin_salt = EXCLUDED.pin_salt, pin_hash = EXCLUDED.pin_hash,
                   skills = EXCLUDED.skills, queues = EXCLUDED.queues, mode = EXCLUDED.mode,
                   updated_at = now()""",
            record.agent,
            record.name,
            salt,
            digest,
            json.dumps(dict(record.skills)),
            json.dumps(queues),
            record.mode.value,
        )
    return await load_agent(db, record.agent)


async def load_agent(db: Executor, agent: str) -> AgentRecord:
    with translate_errors("load agent", agent=agent):
        r = await db.fetchrow("SELECT * FROM acd_agents WHERE agent = $1", agent)
    if r is None:
        raise NotFound(f"no ACD agent {agent}", agent=agent)
    queues = {q: Membership(**m) for q, m in json.loads(r["queues"]).items()}
    return AgentRecord(
        agent=r["agent"],
        name=r["name"],
        skills=json.loads(r["skills"]),
        queues=queues,
        mode=AgentMode(r["mode"]),
        pin_salt=r["pin_salt"],
        pin_hash=r["pin_hash"],
    )


async def save_session(
    db: Executor, agent: str, endpoint: str, mode: AgentMode, at: float, pause: str | None
) -> None:
    with translate_errors("save agent session", agent=agent):
        await db.execute(
            """INSERT INTO acd_agent_sessions (agent, endpoint, mode, logged_in_at, pause_reason)
               VALUES ($1, $2, $3, $4, $5)
               ON CONFLICT (agent) DO UPDATE SET endpoint = EXCLUDED.endpoint,
                   mode = EXCLUDED.mode, logged_in_at = EXCLUDED.logged_in_at,
                   pause_reason = EXCLUDED.pause_reason""",
            agent,
            endpoint,
            mode.value,
            ts(at),
            pause,
        )


async def set_session_pause(db: Executor, agent: str, pause: str | None) -> None:
    with translate_errors("update agent session", agent=agent):
        await db.execute(
            "UPDATE acd_agent_sessions SET pause_reason = $2 WHERE agent = $1", agent, pause
        )


async def delete_session(db: Executor, agent: str) -> None:
    with translate_errors("delete agent session", agent=agent):
        await db.execute("DELETE FROM acd_agent_sessions WHERE agent = $1", agent)


async def load_sessions(db: Executor) -> list[tuple[str, str, AgentMode, str | None]]:
    """(agent, endpoint, mode, pause reason) of every agent logged in."""
    with translate_errors("load agent sessions"):
        rows = await db.fetch("SELECT * FROM acd_agent_sessions ORDER BY logged_in_at, agent")
    return [(r["agent"], r["endpoint"], AgentMode(r["mode"]), r["pause_reason"]) for r in rows]


@dataclass(frozen=True, slots=True)
class CallEntry:
    """Where a call is, as the event log tells: its last queue and when it entered it,
    and when it first entered the ACD."""

    queue: str
    enqueued_at: float
    arrived_at: float
    answered_at: float | None = None


async def call_queues(db: Executor, call_ids: Sequence[str]) -> dict[str, CallEntry]:
    """Each call's last entry into a queue, first entry into the ACD and last answer,
    from the event log (restored calls keep the times of their original entry)."""
    if not call_ids:
        return {}
    with translate_errors("load call queues"):
        rows = await db.fetch(
            """SELECT call_id,
                   (array_agg(queue ORDER BY at DESC, id DESC)
                       FILTER (WHERE kind = 'call_enqueued'))[1] AS queue,
                   extract(epoch FROM max(at) FILTER (WHERE kind = 'call_enqueued')) AS last,
                   extract(epoch FROM min(at) FILTER (WHERE kind = 'call_enqueued')) AS first,
                   extract(epoch FROM max(at) FILTER (WHERE kind = 'call_answered')) AS answered
               FROM acd_events
               WHERE call_id = ANY($1::text[]) AND kind IN ('call_enqueued', 'call_answered')
               GROUP BY call_id""",
            list(call_ids),
        )
    return {
        r["call_id"]: CallEntry(
            r["queue"],
            float(r["last"]),
            float(r["first"]),
            float(r["answered"]) if r["answered"] is not None else None,
        )
        for r in rows
        if r["queue"] is not None
    }


async def load_stats(
    db: Executor,
) -> tuple[dict[str, QueueCounts], dict[str, AgentCounts], list[AcdEvent]]:
    """What a restarted service needs to go on counting: the totals of every stored
    interval (per queue and agent) and the stored events after the last of them."""
    with translate_errors("load ACD statistics"):
        cutoff = await db.fetchval(
            """SELECT max(interval_start + make_interval(secs => interval_s)) FROM (
                   SELECT interval_start, interval_s FROM acd_queue_intervals
                   UNION ALL SELECT interval_start, interval_s FROM acd_agent_intervals) i"""
        )
        queue_rows = await db.fetch(
            """SELECT queue AS name, k, sum(v::double precision) AS v
               FROM acd_queue_intervals, jsonb_each_text(counts) AS j(k, v)
               GROUP BY queue, k"""
        )
        agent_rows = await db.fetch(
            """SELECT agent AS name, k, sum(v::double precision) AS v
               FROM acd_agent_intervals, jsonb_each_text(counts) AS j(k, v)
               GROUP BY agent, k"""
        )
        event_rows = await db.fetch(
            f"""SELECT extract(epoch FROM at) AS epoch, {_EVENT_COLUMNS} FROM acd_events
                WHERE $1::timestamptz IS NULL OR at >= $1 ORDER BY id""",
            cutoff,
        )
    queues: dict[str, QueueCounts] = {}
    agents: dict[str, AgentCounts] = {}
    for rows, out, make in ((queue_rows, queues, QueueCounts), (agent_rows, agents, AgentCounts)):
        names = {f.name: f.type for f in fields(make)}
        for r in rows:
            if r["k"] in names:
                counts = out.setdefault(r["name"], make())  # type: ignore[arg-type]
                value = r["v"] if names[r["k"]] == "float" else round(r["v"])
                setattr(counts, r["k"], value)
    return queues, agents, _events(event_rows)


async def load_recent(
    db: Executor, *, intervals_since: float, events_since: float
) -> tuple[dict[str, dict[float, QueueCounts]], list[AcdEvent]]:
    """What the wallboard's windows need after a restart: each queue's stored intervals
    that start at or after ``intervals_since`` ("today"), and the stored events from
    ``events_since`` up to the end of the last stored interval (the later ones come
    back through :func:`load_stats`), for the "last 30 min" buckets."""
    with translate_errors("load recent ACD statistics"):
        rows = await db.fetch(
            """SELECT queue, extract(epoch FROM interval_start) AS start, counts::text AS counts
               FROM acd_queue_intervals WHERE interval_start >= $1""",
            ts(intervals_since),
        )
        event_rows = await db.fetch(
            f"""SELECT extract(epoch FROM at) AS epoch, {_EVENT_COLUMNS} FROM acd_events
                WHERE at >= $1 AND queue IS NOT NULL AND at < (
                    SELECT max(interval_start + make_interval(secs => interval_s)) FROM (
                        SELECT interval_start, interval_s FROM acd_queue_intervals
                        UNION ALL SELECT interval_start, interval_s FROM acd_agent_intervals) i)
                ORDER BY id""",
            ts(events_since),
        )
    names = {f.name for f in fields(QueueCounts)}
    intervals: dict[str, dict[float, QueueCounts]] = {}
    for r in rows:
        data = json.loads(r["counts"])
        counts = QueueCounts(**{k: v for k, v in data.items() if k in names})
        intervals.setdefault(r["queue"], {})[float(r["start"])] = counts
    return intervals, _events(event_rows)


def _events(event_rows: Iterable[Any]) -> list[AcdEvent]:
    events = []
    known = {k.value for k in EventKind}
    for r in event_rows:
        if r["kind"] not in known:
            continue
        events.append(
            AcdEvent(
                EventKind(r["kind"]),
                float(r["epoch"]),
                queue=r["queue"],
                agent_id=r["agent"],
                call_id=r["call_id"],
                state=AgentState(r["state"]) if r["state"] else None,
                reason=r["reason"],
                wait_s=r["wait_s"],
                duration_s=r["duration_s"],
                target=r["target"],
            )
        )
    return events


_EVENT_COLUMNS = "at, kind, queue, agent, call_id, state, reason, wait_s, duration_s, target"


async def insert_events(db: Executor, events: Iterable[AcdEvent]) -> int:
    rows = [
        (
            ts(e.at),
            e.kind.value,
            e.queue,
            e.agent_id,
            e.call_id,
            e.state.value if e.state is not None else None,
            e.reason,
            e.wait_s,
            e.duration_s,
            e.target,
        )
        for e in events
    ]
    if rows:
        with translate_errors("store ACD events"):
            await db.executemany(
                f"INSERT INTO acd_events ({_EVENT_COLUMNS})"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                rows,
            )
    return len(rows)


async def insert_intervals(
    db: Executor,
    interval_s: float,
    queues: Iterable[tuple[str, float, QueueCounts]],
    agents: Iterable[tuple[str, float, AgentCounts]],
) -> None:
    """Store closed intervals; a second write of the same interval adds nothing new."""
    with translate_errors("store ACD intervals"):
        await db.executemany(
            """INSERT INTO acd_queue_intervals (queue, interval_start, interval_s, counts)
               VALUES ($1, $2, $3, $4::jsonb) ON CONFLICT (queue, interval_start)
               DO UPDATE SET counts = EXCLUDED.counts""",
            [(q, ts(start), interval_s, json.dumps(asdict(c))) for q, start, c in queues],
        )
        await db.executemany(
            """INSERT INTO acd_agent_intervals (agent, interval_start, interval_s, counts)
               VALUES ($1, $2, $3, $4::jsonb) ON CONFLICT (agent, interval_start)
               DO UPDATE SET counts = EXCLUDED.counts""",
            [(a, ts(start), interval_s, json.dumps(asdict(c))) for a, start, c in agents],
        )
