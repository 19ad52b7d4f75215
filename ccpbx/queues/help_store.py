"""The ``help_requests`` table (sql/0022): agents' open requests for a supervisor.

Every change is audited in the same transaction (``audit_log``, object type
``help_request``). Times are timezone-aware UTC datetimes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import asyncpg

from ccpbx.errors import Conflict, NotFound
from ccpbx.store import audit
from ccpbx.store.db import Executor, connection, transaction, translate_errors

OBJECT_TYPE = "help_request"


@dataclass(frozen=True, slots=True)
class HelpRequest:
    id: int
    agent: str
    queue: str | None
    call_id: str | None
    note: str
    at: dt.datetime
    answered_by: str | None = None
    answered_how: str | None = None
    answered_at: dt.datetime | None = None
    closed_by: str | None = None
    closed_at: dt.datetime | None = None

    def view(self) -> dict[str, Any]:
        """JSON-ready; times as seconds since the epoch (as agents' ``since``)."""

        def ts(value: dt.datetime | None) -> float | None:
            return value.timestamp() if value is not None else None

        return {
            "id": self.id,
            "agent": self.agent,
            "queue": self.queue,
            "call_id": self.call_id,
            "note": self.note,
            "at": ts(self.at),
            "answered_by": self.answered_by,
            "answered_how": self.answered_how,
            "answered_at": ts(self.answered_at),
            "closed_by": self.closed_by,
            "closed_at": ts(self.closed_at),
        }


def _row(r: asyncpg.Record) -> HelpRequest:
    return HelpRequest(
        id=r["id"],
        agent=r["agent"],
        queue=r["queue"],
        call_id=r["call_id"],
        note=r["note"],
        at=r["requested_at"],
        answered_by=r["answered_by"],
        answered_how=r["answered_how"],
        answered_at=r["answered_at"],
        closed_by=r["closed_by"],
        closed_at=r["closed_at"],
    )


async def open_request(
    db: Executor,
    *,
    agent: str,
    queue: str | None,
    call_id: str | None,
    note: str,
    at: dt.datetime,
    actor: str,
) -> HelpRequest:
    """A new open request; Conflict if the agent already has one open."""
    async with transaction(db) as conn:
        with translate_errors("help request", agent=agent):
            existing = await conn.fetchval(
                "SELECT id FROM help_requests WHERE agent = $1 AND closed_at IS NULL", agent
            )
            if existing is not None:
                raise Conflict(
                    f"agent {agent} already has an open help request",
                    agent=agent,
                    request=existing,
                )
            row = await conn.fetchrow(
                """INSERT INTO help_requests (agent, queue, call_id, note, requested_at)
                   VALUES ($1, $2, $3, $4, $5) RETURNING *""",
                agent,
                queue,
                call_id,
                note,
                at,
            )
        request = _row(row)
        await audit.record(
            conn,
            actor=actor,
            action="help.requested",
            object_type=OBJECT_TYPE,
            object_id=str(request.id),
            at=at,
            details={"agent": agent, "queue": queue, "call_id": call_id, "note": note},
        )
    return request


async def get(db: Executor, request_id: int) -> HelpRequest:
    async with connection(db) as conn:
        row = await conn.fetchrow("SELECT * FROM help_requests WHERE id = $1", request_id)
    if row is None:
        raise NotFound(f"no help request {request_id}", request=request_id)
    return _row(row)


async def list_open(db: Executor, *, limit: int = 200) -> list[HelpRequest]:
    """Open requests, newest first."""
    async with connection(db) as conn:
        rows = await conn.fetch(
            """SELECT * FROM help_requests WHERE closed_at IS NULL
               ORDER BY requested_at DESC, id DESC LIMIT $1""",
            limit,
        )
    return [_row(r) for r in rows]


async def mark_answered(
    db: Executor, request_id: int, *, by: str, how: str, at: dt.datetime, details: dict[str, Any]
) -> HelpRequest:
    """An open request answered by supervisor ``by`` (``how``: listen, whisper, barge)."""
    return await _change_open(
        db,
        request_id,
        "answered_by = $2, answered_how = $3, answered_at = $4",
        (by, how, at),
        action="help.answered",
        by=by,
        at=at,
        details={"how": how, **details},
    )


async def close(db: Executor, request_id: int, *, by: str, at: dt.datetime) -> HelpRequest:
    return await _change_open(
        db,
        request_id,
        "closed_by = $2, closed_at = $3",
        (by, at),
        action="help.closed",
        by=by,
        at=at,
    )


async def _change_open(
    db: Executor,
    request_id: int,
    assignments: str,
    values: tuple[Any, ...],
    *,
    action: str,
    by: str,
    at: dt.datetime,
    details: dict[str, Any] | None = None,
) -> HelpRequest:
    """Change an open request (``assignments`` use $2... for ``values``) and audit it in
    the same transaction; NotFound when it is closed or does not exist."""
    async with transaction(db) as conn:
        row = await conn.fetchrow(
            f"""UPDATE help_requests SET {assignments}
                WHERE id = $1 AND closed_at IS NULL RETURNING *""",
            request_id,
            *values,
        )
        if row is None:
            raise NotFound(f"no open help request {request_id}", request=request_id)
        await audit.record(
            conn,
            actor=by,
            action=action,
            object_type=OBJECT_TYPE,
            object_id=str(request_id),
            at=at,
            details=details,
        )
    return _row(row)
