"""Call records: one per inbound or outbound call, written as the call progresses.

Writers are event handlers that may see an event twice (an AMI reconnect
replays state): ``start`` is idempotent on (asterisk_node, uniqueid), and the
later steps only fill in what is still empty.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
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
