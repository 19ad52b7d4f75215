"""Inbound numbers (DIDs) in PostgreSQL (``pbx_numbers``): where each one's calls go.

A number routes to one IVR flow, ACD queue or agent; the queue or agent must exist
(the database holds the reference), the flow must have been activated at least once.
Numbers are E.164, checked with ``phonenumbers``. Changes are audited.

A number may have business hours (sql/0017, :mod:`ccpbx.pbx.hours`): a calendar of an
active IVR flow and a closed route, checked like the number's own route; the flow's
active version must have that calendar when the number is added.
"""

from __future__ import annotations

import datetime as dt

import asyncpg

from ccpbx.errors import InvalidInput, NotFound
from ccpbx.ivr import store as ivr_store
from ccpbx.ivr.validate import check_text
from ccpbx.pbx import hours as business_hours
from ccpbx.pbx import model
from ccpbx.pbx.model import NumberHours, NumberRecord
from ccpbx.store import audit
from ccpbx.store.db import Executor, connection, transaction, translate_errors
from ccpbx.store.phones import check_e164

_COLUMNS = (
    "number, flow, queue, agent,"
    " hours_flow, hours_calendar, closed_flow, closed_queue, closed_agent, closed_voicemail"
)
_TARGETS = (("ivr", "flow"), ("queue", "queue"), ("agent", "agent"))
_CLOSED_TARGETS = (*_TARGETS, ("voicemail", "voicemail"))


def _target(
    row: asyncpg.Record, prefix: str = "", targets: tuple[tuple[str, str], ...] = _TARGETS
) -> tuple[str, str] | None:
    for kind, column in targets:
        if row[prefix + column] is not None:
            return kind, row[prefix + column]
    return None


def _record(row: asyncpg.Record) -> NumberRecord:
    target = _target(row)
    if target is None:
        raise AssertionError("pbx_numbers holds exactly one target (CHECK)")
    hours = None
    closed = _target(row, "closed_", _CLOSED_TARGETS)
    if row["hours_flow"] is not None and closed is not None:
        hours = NumberHours(row["hours_flow"], row["hours_calendar"], *closed)
    return NumberRecord(row["number"], *target, hours=hours)


def _columns(
    kind: str, target: str, targets: tuple[tuple[str, str], ...] = _TARGETS
) -> list[str | None]:
    """The flow, queue and agent (and voicemail) columns of one route (one of them set)."""
    return [target if kind == k else None for k, _ in targets]


async def _check_flow_activated(conn: asyncpg.Connection, flow: str) -> None:
    if not await conn.fetchval("SELECT 1 FROM ivr_flow_versions WHERE flow = $1 LIMIT 1", flow):
        raise NotFound(f"no IVR flow {flow!r}: activate it first (ccpbx ivr activate FILE)")


async def _active_calendars(db: Executor, flow: str) -> tuple[int, list[str]] | None:
    """The active version of ``flow`` and the names of its calendars (None: not active)."""
    active = await ivr_store.active_flow(db, flow)
    if active is None:
        return None
    checked = check_text(active.source)
    return active.version, sorted(checked.flow.calendars) if checked.flow is not None else []


async def _check_mailbox(conn: asyncpg.Connection, box: str) -> None:
    if not await conn.fetchval("SELECT 1 FROM acd_queues WHERE name = $1", box):
        raise NotFound(
            f"no voicemail box {box!r}: mailboxes are named after ACD queues; add queue"
            f" {box!r} first",
            field="closed",
        )


def _not_active(hours: NumberHours) -> str:
    return f"IVR flow {hours.flow!r} is not active"


async def _check_calendar(conn: asyncpg.Connection, hours: NumberHours) -> None:
    """The flow is active and its active version has the calendar."""
    active = await _active_calendars(conn, hours.flow)
    if active is None:
        raise NotFound(
            f"hours {hours.name}: {_not_active(hours)}; activate it first"
            " (ccpbx ivr activate FILE)",
            field="hours",
        )
    version, calendars = active
    problem = business_hours.calendar_problem(hours, version, calendars)
    if problem is not None:
        raise InvalidInput(f"hours {hours.name}: {problem}", field="hours", calendars=calendars)


async def hours_problems(db: Executor, records: list[NumberRecord]) -> list[str]:
    """Numbers whose hours name a flow no longer active or a calendar its active version
    lacks (their calls then take the number's own route, see :mod:`ccpbx.pbx.hours`)."""
    problems = []
    async with connection(db) as conn:
        for record in records:
            if record.hours is None:
                continue
            active = await _active_calendars(conn, record.hours.flow)
            problem = (
                _not_active(record.hours)
                if active is None
                else business_hours.calendar_problem(record.hours, *active)
            )
            if problem is not None:
                problems.append(
                    f"number {record.number}: hours {record.hours.name}: {problem}; its calls"
                    " take its own route at every hour until the flow or the number is fixed"
                )
    return problems


async def add(
    db: Executor,
    number: str,
    route: str,
    *,
    hours: str | None = None,
    closed: str | None = None,
    actor: str = "cli",
) -> NumberRecord:
    """Route ``number`` (E.164) to ``route`` (``ivr:FLOW``, ``queue:NAME``, ``agent:N``);
    with ``hours`` (``FLOW/CALENDAR``) only inside that calendar's hours, to ``closed``
    (a route) outside them."""
    e164 = check_e164(number, "number")
    kind, target = model.check_target(route)
    number_hours = business_hours.check_hours(hours, closed)
    closed_columns: list[str | None] = [None] * len(_CLOSED_TARGETS)
    if number_hours is not None:
        closed_columns = _columns(
            number_hours.closed_kind, number_hours.closed_target, _CLOSED_TARGETS
        )
    with translate_errors(f"number {e164}", number=e164):
        async with transaction(db) as conn:
            if kind == "ivr":
                await _check_flow_activated(conn, target)
            if number_hours is not None:
                await _check_calendar(conn, number_hours)
                if number_hours.closed_kind == "ivr":
                    await _check_flow_activated(conn, number_hours.closed_target)
                if number_hours.closed_kind == "voicemail":
                    await _check_mailbox(conn, number_hours.closed_target)
            row = await conn.fetchrow(
                f"""INSERT INTO pbx_numbers ({_COLUMNS})
                    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                    RETURNING {_COLUMNS}""",
                e164,
                *_columns(kind, target),
                number_hours.flow if number_hours else None,
                number_hours.calendar if number_hours else None,
                *closed_columns,
            )
            stored = _record(row)
            await audit.record(
                conn,
                actor=actor,
                action="number.add",
                object_type="number",
                object_id=e164,
                at=dt.datetime.now(dt.UTC),
                details=_details(stored),
            )
    return stored


def _details(number: NumberRecord) -> dict[str, str]:
    if number.hours is None:
        return {"route": number.route}
    return {"route": number.route, "hours": number.hours.name, "closed": number.hours.closed_route}


async def list_all(db: Executor) -> list[NumberRecord]:
    async with connection(db) as conn:
        rows = await conn.fetch(f"SELECT {_COLUMNS} FROM pbx_numbers ORDER BY number")
    return [_record(r) for r in rows]


async def remove(db: Executor, number: str, *, actor: str = "cli") -> NumberRecord:
    e164 = check_e164(number, "number")
    async with transaction(db) as conn:
        row = await conn.fetchrow(
            f"DELETE FROM pbx_numbers WHERE number = $1 RETURNING {_COLUMNS}", e164
        )
        if row is None:
            raise NotFound(f"no number {e164}", number=e164)
        stored = _record(row)
        await audit.record(
            conn,
            actor=actor,
            action="number.remove",
            object_type="number",
            object_id=e164,
            at=dt.datetime.now(dt.UTC),
            details=_details(stored),
        )
    return stored
