"""Call records: one per inbound or outbound call, written as the call progresses.

Writers are event handlers that may see an event twice (an AMI reconnect
replays state): ``start`` is idempotent on (asterisk_node, uniqueid), and the
later steps only fill in what is still empty.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from ccpbx.errors import InvalidInput, NotFound
from ccpbx.store.db import Executor, translate_errors


@dataclass(frozen=True, slots=True)
class CallRecord:
    id: uuid.UUID
    direction: str
    started_at: dt.datetime
    asterisk_node: str = ""
    uniqueid: str | None = None
    linkedid: str | None = None
    caller: str = ""
    callee: str = ""
    attempt_id: uuid.UUID | None = None
    campaign_id: int | None = None
    contact_id: int | None = None
    queue: str | None = None
    agent: str | None = None
    answered_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    hangup_cause: str | None = None
    disposition: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


def _record(row: asyncpg.Record) -> CallRecord:
    values = dict(row)
    values["details"] = json.loads(values["details"])
    return CallRecord(**values)


async def start(
    db: Executor,
    *,
    direction: str,
    started_at: dt.datetime,
    asterisk_node: str = "",
    uniqueid: str | None = None,
    linkedid: str | None = None,
    caller: str = "",
    callee: str = "",
    attempt_id: uuid.UUID | None = None,
    campaign_id: int | None = None,
    contact_id: int | None = None,
    queue: str | None = None,
    details: dict[str, Any] | None = None,
) -> CallRecord:
    """Open the record of a call; the same (node, uniqueid) again returns the first one."""
    if direction not in ("inbound", "outbound"):
        raise InvalidInput("direction is inbound or outbound", direction=direction)
    with translate_errors("start call record", uniqueid=uniqueid):
        row = await db.fetchrow(
            """INSERT INTO call_records (direction, started_at, asterisk_node, uniqueid, linkedid,
                   caller, callee, attempt_id, campaign_id, contact_id, queue, details)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::jsonb)
               ON CONFLICT (asterisk_node, uniqueid) DO NOTHING
               RETURNING *""",
            direction,
            started_at,
            asterisk_node,
            uniqueid,
            linkedid,
            caller,
            callee,
            attempt_id,
            campaign_id,
            contact_id,
            queue,
            json.dumps(details or {}),
        )
        if row is None:
            row = await db.fetchrow(
                "SELECT * FROM call_records WHERE asterisk_node = $1 AND uniqueid = $2",
                asterisk_node,
                uniqueid,
            )
    assert row is not None
    return _record(row)


async def answered(
    db: Executor, record_id: uuid.UUID, at: dt.datetime, *, agent: str | None = None
) -> CallRecord:
    """The call was answered (by an agent, given by number, for a queue call); a repeat
    keeps the first time."""
    with translate_errors("answer call record", record_id=str(record_id)):
        row = await db.fetchrow(
            """UPDATE call_records SET answered_at = coalesce(answered_at, $2),
                   agent = coalesce(agent, $3)
               WHERE id = $1 RETURNING *""",
            record_id,
            at,
            agent,
        )
    if row is None:
        raise NotFound(f"no call record {record_id}", record_id=str(record_id))
    return _record(row)


async def ended(
    db: Executor,
    record_id: uuid.UUID,
    at: dt.datetime,
    *,
    hangup_cause: str | None = None,
    disposition: str | None = None,
) -> CallRecord:
    """The call ended; a repeat keeps the first end time and cause."""
    with translate_errors("end call record", record_id=str(record_id)):
        row = await db.fetchrow(
            """UPDATE call_records SET ended_at = coalesce(ended_at, $2),
                   hangup_cause = coalesce(hangup_cause, $3),
                   disposition = coalesce($4, disposition)
               WHERE id = $1 RETURNING *""",
            record_id,
            at,
            hangup_cause,
            disposition,
        )
    if row is None:
        raise NotFound(f"no call record {record_id}", record_id=str(record_id))
    return _record(row)


@dataclass(frozen=True, slots=True)
class RecordUpdate:
    """What a writer knows of one call, to merge into its record (see :func:`merge`)."""

    direction: str
    asterisk_node: str
    uniqueid: str
    started_at: dt.datetime
    linkedid: str | None = None
    caller: str = ""
    callee: str = ""
    queue: str | None = None
    agent: str | None = None
    answered_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    hangup_cause: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


_MERGE = """
INSERT INTO call_records AS r (direction, started_at, asterisk_node, uniqueid, linkedid,
    caller, callee, queue, agent, answered_at, ended_at, hangup_cause, details)
SELECT $1, $2, $3, $4, $5, $6, $7,
       (SELECT name FROM acd_queues WHERE name = $8),
       (SELECT agent FROM acd_agents WHERE agent = $9),
       $10, $11, $12,
       $13::jsonb
       || CASE WHEN $8::text IS NOT NULL
                    AND NOT EXISTS (SELECT 1 FROM acd_queues WHERE name = $8)
               THEN jsonb_build_object('unmatched_queue', $8::text) ELSE '{}'::jsonb END
       || CASE WHEN $9::text IS NOT NULL
                    AND NOT EXISTS (SELECT 1 FROM acd_agents WHERE agent = $9)
               THEN jsonb_build_object('unmatched_agent', $9::text) ELSE '{}'::jsonb END
ON CONFLICT (asterisk_node, uniqueid) DO UPDATE SET
    linkedid = coalesce(r.linkedid, EXCLUDED.linkedid),
    caller = CASE WHEN r.caller = '' THEN EXCLUDED.caller ELSE r.caller END,
    callee = CASE WHEN r.callee = '' THEN EXCLUDED.callee ELSE r.callee END,
    queue = coalesce(EXCLUDED.queue, r.queue),
    agent = coalesce(r.agent, EXCLUDED.agent),
    answered_at = coalesce(r.answered_at, EXCLUDED.answered_at),
    ended_at = coalesce(r.ended_at, EXCLUDED.ended_at),
    hangup_cause = coalesce(r.hangup_cause, EXCLUDED.hangup_cause),
    details = r.details || EXCLUDED.details
WHERE r.direction = EXCLUDED.direction
"""


async def merge(db: Executor, updates: Sequence[RecordUpdate]) -> None:
    """Write what is known of each call into its record, all or nothing: a new
    (node, uniqueid) opens one, a known one keeps its first start, answer, agent, end
    and cause, takes the latest queue, and merges ``details`` key by key (newer wins).
    Writing the same update twice changes nothing. A queue or agent that is not (or no
    longer) configured is kept in details (``unmatched_queue``, ``unmatched_agent``).
    A record of the other direction with the same (node, uniqueid) is left alone."""
    for u in updates:
        if u.direction not in ("inbound", "outbound"):
            raise InvalidInput("direction is inbound or outbound", direction=u.direction)
    if not updates:
        return
    args = [
        (
            u.direction,
            u.started_at,
            u.asterisk_node,
            u.uniqueid,
            u.linkedid,
            u.caller,
            u.callee,
            u.queue,
            u.agent,
            u.answered_at,
            u.ended_at,
            u.hangup_cause,
            json.dumps(u.details),
        )
        for u in updates
    ]
    with translate_errors("merge call records", records=len(args)):
        await db.executemany(_MERGE, args)


async def find(db: Executor, asterisk_node: str, uniqueid: str) -> CallRecord | None:
    """The record of the channel ``uniqueid`` made by ``asterisk_node``, if any."""
    row = await db.fetchrow(
        "SELECT * FROM call_records WHERE asterisk_node = $1 AND uniqueid = $2",
        asterisk_node,
        uniqueid,
    )
    return _record(row) if row is not None else None


async def open_calls(db: Executor, direction: str, asterisk_node: str) -> list[CallRecord]:
    """Records of ``direction`` made by ``asterisk_node`` that have no end yet."""
    rows = await db.fetch(
        """SELECT * FROM call_records
           WHERE direction = $1 AND asterisk_node = $2 AND ended_at IS NULL
           ORDER BY started_at, id""",
        direction,
        asterisk_node,
    )
    return [_record(r) for r in rows]


async def get(db: Executor, record_id: uuid.UUID) -> CallRecord:
    row = await db.fetchrow("SELECT * FROM call_records WHERE id = $1", record_id)
    if row is None:
        raise NotFound(f"no call record {record_id}", record_id=str(record_id))
    return _record(row)


async def between(
    db: Executor, since: dt.datetime, until: dt.datetime, *, limit: int = 1000
) -> list[CallRecord]:
    """Records of calls that started in [since, until), oldest first."""
    rows = await db.fetch(
        """SELECT * FROM call_records WHERE started_at >= $1 AND started_at < $2
           ORDER BY started_at, id LIMIT $3""",
        since,
        until,
        limit,
    )
    return [_record(r) for r in rows]
