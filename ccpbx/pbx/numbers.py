"""Inbound numbers (DIDs) in PostgreSQL (``pbx_numbers``): where each one's calls go.

A number routes to one IVR flow, ACD queue or agent; the queue or agent must exist
(the database holds the reference), the flow must have been activated at least once.
Numbers are E.164, checked with ``phonenumbers``. Changes are audited.
"""

from __future__ import annotations

import datetime as dt

import asyncpg

from ccpbx.errors import NotFound
from ccpbx.pbx import model
from ccpbx.pbx.model import NumberRecord
from ccpbx.store import audit
from ccpbx.store.db import Executor, connection, transaction, translate_errors
from ccpbx.store.phones import check_e164

_COLUMNS = "number, flow, queue, agent"


def _record(row: asyncpg.Record) -> NumberRecord:
    for kind, column in (("ivr", "flow"), ("queue", "queue"), ("agent", "agent")):
        if row[column] is not None:
            return NumberRecord(row["number"], kind, row[column])
    raise AssertionError("pbx_numbers holds exactly one target (CHECK)")


async def add(db: Executor, number: str, route: str, *, actor: str = "cli") -> NumberRecord:
    """Route ``number`` (E.164) to ``route`` (``ivr:FLOW``, ``queue:NAME``, ``agent:N``)."""
    e164 = check_e164(number, "number")
    kind, target = model.check_target(route)
    columns: dict[str, str | None] = {"flow": None, "queue": None, "agent": None}
    columns[{"ivr": "flow", "queue": "queue", "agent": "agent"}[kind]] = target
    with translate_errors(f"number {e164}", number=e164):
        async with transaction(db) as conn:
            if kind == "ivr" and not await conn.fetchval(
                "SELECT 1 FROM ivr_flow_versions WHERE flow = $1 LIMIT 1", target
            ):
                raise NotFound(
                    f"no IVR flow {target!r}: activate it first (ccpbx ivr activate FILE)"
                )
            row = await conn.fetchrow(
                f"""INSERT INTO pbx_numbers ({_COLUMNS}) VALUES ($1, $2, $3, $4)
                    RETURNING {_COLUMNS}""",
                e164,
                columns["flow"],
                columns["queue"],
                columns["agent"],
            )
            stored = _record(row)
            await audit.record(
                conn,
                actor=actor,
                action="number.add",
                object_type="number",
                object_id=e164,
                at=dt.datetime.now(dt.UTC),
                details={"route": stored.route},
            )
    return stored


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
            details={"route": stored.route},
        )
    return stored
