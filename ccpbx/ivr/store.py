"""IVR repository: flow versions, activation and rollback, call paths (PostgreSQL,
tables from sql/0007_ivr.sql). Contact lookups and callback requests are
:mod:`ccpbx.ivr.contacts`."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import structlog

from ccpbx.errors import Conflict, InvalidInput, NotFound
from ccpbx.ivr.engine import FlowRun
from ccpbx.ivr.model import Flow
from ccpbx.ivr.validate import check_text
from ccpbx.store.db import Executor, translate_errors

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class FlowVersion:
    id: int
    flow: str
    version: int
    checksum: str
    source_path: str
    dids: tuple[str, ...]
    created_at: dt.datetime
    created_by: str


@dataclass(frozen=True, slots=True)
class Activation:
    id: int
    flow: str
    version_id: int
    version: int
    action: str
    activated_at: dt.datetime
    activated_by: str
    active: bool = False


@dataclass(frozen=True, slots=True)
class ActiveFlow:
    version_id: int
    flow: str
    version: int
    source: str


def checksum(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _version(row: asyncpg.Record) -> FlowVersion:
    return FlowVersion(
        row["id"],
        row["flow"],
        row["version"],
        row["checksum"],
        row["source_path"],
        tuple(row["dids"]),
        row["created_at"],
        row["created_by"],
    )


async def save_version(
    conn: asyncpg.Connection, flow: Flow, text: str, source_path: str = "", by: str = ""
) -> FlowVersion:
    """Store `text` as the flow's next version; the same text again gives the same version."""
    digest = checksum(text)
    with translate_errors("save flow version", flow=flow.name):
        row = await conn.fetchrow(
            "SELECT * FROM ivr_flow_versions WHERE flow = $1 AND checksum = $2", flow.name, digest
        )
        if row is None:
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtext('ivr_flow:' || $1))", flow.name
            )
            row = await conn.fetchrow(
                """INSERT INTO ivr_flow_versions (flow, version, source, checksum, source_path,
                                                  dids, created_by)
                   SELECT $1, coalesce(max(version), 0) + 1, $2, $3, $4, $5, $6
                   FROM ivr_flow_versions WHERE flow = $1
                   RETURNING *""",
                flow.name,
                text,
                digest,
                source_path,
                list(flow.dids),
                by,
            )
    assert row is not None
    return _version(row)


async def _point(
    conn: asyncpg.Connection,
    flow: str,
    version_id: int,
    dids: Sequence[str],
    action: str,
    previous_id: int | None,
    by: str,
) -> int:
    taken = await conn.fetch(
        "SELECT did, flow FROM ivr_dids WHERE did = ANY($1::text[]) AND flow <> $2",
        list(dids),
        flow,
    )
    if taken:
        used = ", ".join(f"{r['did']} (flow {r['flow']})" for r in taken)
        raise Conflict(f"DID already served by another active flow: {used}", flow=flow)
    activation_id: int = await conn.fetchval(
        """INSERT INTO ivr_activations (flow, version_id, action, previous_id, activated_by)
           VALUES ($1, $2, $3, $4, $5) RETURNING id""",
        flow,
        version_id,
        action,
        previous_id,
        by,
    )
    await conn.execute(
        """INSERT INTO ivr_active_flows (flow, version_id, activation_id) VALUES ($1, $2, $3)
           ON CONFLICT (flow) DO UPDATE SET version_id = $2, activation_id = $3""",
        flow,
        version_id,
        activation_id,
    )
    await conn.execute("DELETE FROM ivr_dids WHERE flow = $1", flow)
    await conn.executemany(
        "INSERT INTO ivr_dids (did, flow) VALUES ($1, $2)", [(d, flow) for d in dids]
    )
    return activation_id


async def activate(
    conn: asyncpg.Connection, flow: Flow, text: str, source_path: str = "", by: str = ""
) -> FlowVersion:
    """Store the flow as a version and make it the active one; a text that does not
    pass the checks is refused (InvalidInput with every problem), whoever calls."""
    checked = check_text(text)
    if not checked.ok or checked.flow is None or checked.flow.name != flow.name:
        problems = [str(p) for p in checked.problems] or ["the text is not this flow"]
        raise InvalidInput(
            f"flow {flow.name} not activated: {'; '.join(problems[:5])}", problems=problems
        )
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('ivr_activate'))")
        version = await save_version(conn, flow, text, source_path, by)
        current = await conn.fetchrow(
            "SELECT version_id, activation_id FROM ivr_active_flows WHERE flow = $1", flow.name
        )
        if current is not None and current["version_id"] == version.id:
            return version  # already active: nothing to record
        previous = current["activation_id"] if current is not None else None
        with translate_errors("activate flow", flow=flow.name):
            await _point(conn, flow.name, version.id, flow.dids, "activate", previous, by)
    return version


async def rollback(conn: asyncpg.Connection, flow: str, by: str = "") -> FlowVersion:
    """Make the version active before the current activation active again."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('ivr_activate'))")
        current = await conn.fetchrow(
            """SELECT a.previous_id FROM ivr_active_flows f
               JOIN ivr_activations a ON a.id = f.activation_id WHERE f.flow = $1""",
            flow,
        )
        if current is None:
            raise NotFound(f"flow {flow!r} is not active", flow=flow)
        if current["previous_id"] is None:
            raise Conflict(f"flow {flow!r} has no earlier version to roll back to", flow=flow)
        target = await conn.fetchrow(
            """SELECT a.previous_id, v.* FROM ivr_activations a
               JOIN ivr_flow_versions v ON v.id = a.version_id WHERE a.id = $1""",
            current["previous_id"],
        )
        assert target is not None
        await _point(
            conn, flow, target["id"], target["dids"], "rollback", target["previous_id"], by
        )
    return _version(target)


async def active_for_did(db: Executor, did: str) -> ActiveFlow | None:
    """The flow version that answers calls to `did`, None if no flow is mapped."""
    row = await db.fetchrow(
        """SELECT v.id, v.flow, v.version, v.source FROM ivr_dids d
           JOIN ivr_active_flows f ON f.flow = d.flow
           JOIN ivr_flow_versions v ON v.id = f.version_id
           WHERE d.did = $1""",
        did,
    )
    if row is None:
        return None
    return ActiveFlow(row["id"], row["flow"], row["version"], row["source"])


async def active_flow(db: Executor, flow: str) -> ActiveFlow | None:
    """The active version of ``flow`` (its source text), None if it is not active."""
    row = await db.fetchrow(
        """SELECT v.id, v.flow, v.version, v.source FROM ivr_active_flows f
           JOIN ivr_flow_versions v ON v.id = f.version_id WHERE f.flow = $1""",
        flow,
    )
    if row is None:
        return None
    return ActiveFlow(row["id"], row["flow"], row["version"], row["source"])


async def versions(db: Executor, flow: str) -> list[FlowVersion]:
    rows = await db.fetch("SELECT * FROM ivr_flow_versions WHERE flow = $1 ORDER BY version", flow)
    return [_version(r) for r in rows]


async def history(db: Executor, flow: str) -> list[Activation]:
    """Activations and rollbacks of `flow`, oldest first; the active one flagged."""
    rows = await db.fetch(
        """SELECT a.*, v.version, (f.activation_id = a.id) AS active FROM ivr_activations a
           JOIN ivr_flow_versions v ON v.id = a.version_id
           LEFT JOIN ivr_active_flows f ON f.flow = a.flow
           WHERE a.flow = $1 ORDER BY a.id""",
        flow,
    )
    return [
        Activation(
            r["id"],
            r["flow"],
            r["version_id"],
            r["version"],
            r["action"],
            r["activated_at"],
            r["activated_by"],
            bool(r["active"]),
        )
        for r in rows
    ]


async def active_flows(db: Executor) -> list[asyncpg.Record]:
    return await db.fetch(
        """SELECT f.flow, v.version, v.source_path, a.activated_at, a.action,
                  coalesce(array_agg(d.did ORDER BY d.did) FILTER (WHERE d.did IS NOT NULL),
                           '{}') AS dids
           FROM ivr_active_flows f JOIN ivr_flow_versions v ON v.id = f.version_id
           JOIN ivr_activations a ON a.id = f.activation_id
           LEFT JOIN ivr_dids d ON d.flow = f.flow
           GROUP BY f.flow, v.version, v.source_path, a.activated_at, a.action ORDER BY f.flow"""
    )


# -- calls ----------------------------------------------------------------------------
async def start_call(
    db: Executor, *, uniqueid: str, did: str, caller: str, active: ActiveFlow, now: dt.datetime
) -> uuid.UUID:
    call_id: uuid.UUID = await db.fetchval(
        """INSERT INTO ivr_calls (uniqueid, did, caller, flow, version_id, started_at)
           VALUES ($1, $2, $3, $4, $5, $6) RETURNING id""",
        uniqueid,
        did,
        caller,
        active.flow,
        active.version_id,
        now,
    )
    return call_id


@dataclass(frozen=True, slots=True)
class StartedCall:
    call_id: uuid.UUID
    version_id: int
    flow: str
    version: int


async def start_call_for_did(
    db: Executor,
    *,
    uniqueid: str,
    did: str,
    caller: str,
    now: dt.datetime,
    flow: str | None = None,
) -> StartedCall | None:
    """Record a call on the flow version active for `did` (one round trip), or on the
    active version of `flow` when the number's route names one; None if no flow serves
    the call."""
    row = await db.fetchrow(
        """WITH a AS (
               SELECT v.id, v.flow, v.version FROM ivr_active_flows f
               JOIN ivr_flow_versions v ON v.id = f.version_id
               WHERE CASE WHEN $5::text IS NULL
                          THEN f.flow = (SELECT d.flow FROM ivr_dids d WHERE d.did = $2)
                          ELSE f.flow = $5 END)
           INSERT INTO ivr_calls (uniqueid, did, caller, flow, version_id, started_at)
           SELECT $1, $2, $3, a.flow, a.id, $4 FROM a
           RETURNING id, version_id, flow,
                     (SELECT version FROM ivr_flow_versions WHERE id = version_id) AS version""",
        uniqueid,
        did,
        caller,
        now,
        flow,
    )
    if row is None:
        return None
    return StartedCall(row["id"], row["version_id"], row["flow"], row["version"])


async def version_source(db: Executor, version_id: int) -> str:
    source: str = await db.fetchval(
        "SELECT source FROM ivr_flow_versions WHERE id = $1", version_id
    )
    return source


async def finish_call(db: Executor, call_id: uuid.UUID, run: FlowRun, now: dt.datetime) -> None:
    """Write the call's path and outcome: one statement, so all or nothing."""
    path = run.path
    await db.execute(
        """WITH steps AS (
               INSERT INTO ivr_call_steps (call_id, seq, node, kind, entered_at, left_at, digits,
                                           result, next_node, detail)
               SELECT $1, s.seq, s.node, s.kind, s.entered_at, s.left_at, s.digits, s.result,
                      s.next_node, s.detail::jsonb
               FROM unnest($7::int[], $8::text[], $9::text[], $10::timestamptz[],
                           $11::timestamptz[], $12::text[], $13::text[], $14::text[], $15::text[])
                    AS s(seq, node, kind, entered_at, left_at, digits, result, next_node, detail))
           UPDATE ivr_calls SET ended_at = $2, outcome = $3, end_node = $4, language = $5,
                                variables = $6::jsonb
           WHERE id = $1""",
        call_id,
        now,
        run.outcome or "failed",
        run.end_node,
        run.language,
        json.dumps(run.variables),
        list(range(len(path))),
        [s.node for s in path],
        [s.kind for s in path],
        [s.entered_at for s in path],
        [s.left_at for s in path],
        [s.digits for s in path],
        [s.result for s in path],
        [s.next for s in path],
        [json.dumps(s.detail, default=str) for s in path],
    )


async def settle_interrupted(
    db: Executor, *, before: dt.datetime, live: Collection[str], now: dt.datetime
) -> int:
    """End the calls a ccpbx that died (SIGKILL, a crash) left open: its script died with
    it and the dialplan sent the caller to the fallback, so nothing else records their end.
    A call still open, started before ``before`` (this process's start) and whose channel
    is not ``live`` any more ends ``failed`` at ``now`` (its path is lost: steps are
    written when a call ends). Returns how many were ended."""
    result: str = await db.execute(
        """UPDATE ivr_calls SET ended_at = $3, outcome = 'failed'
           WHERE outcome IS NULL AND started_at < $1 AND NOT (uniqueid = ANY($2::text[]))""",
        before,
        sorted(live),
        now,
    )
    return int(result.rsplit(" ", 1)[-1])


async def call_path(db: Executor, call_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = await db.fetch("SELECT * FROM ivr_call_steps WHERE call_id = $1 ORDER BY seq", call_id)
    return [{**dict(r), "detail": json.loads(r["detail"])} for r in rows]
