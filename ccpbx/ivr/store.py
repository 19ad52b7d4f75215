"""IVR repository: flow versions, activation and rollback, call paths, contact
lookups and callback requests (PostgreSQL, tables from sql/0007_ivr.sql).

The contact store has no lookup by phone number or account yet, so the two queries
the IVR needs live here, against the existing `contacts` and `phone_numbers` tables.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import structlog

from ccpbx.errors import Conflict, InvalidInput, NotFound
from ccpbx.ivr.engine import FlowRun
from ccpbx.ivr.model import Flow
from ccpbx.ivr.validate import check_text
from ccpbx.store.attempts import request_callback
from ccpbx.store.contacts import add_contact, get_or_create_list
from ccpbx.store.db import Executor, translate_errors
from ccpbx.store.phones import PhoneError, normalise

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


async def call_path(db: Executor, call_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = await db.fetch("SELECT * FROM ivr_call_steps WHERE call_id = $1 ORDER BY seq", call_id)
    return [{**dict(r), "detail": json.loads(r["detail"])} for r in rows]


# -- contacts and callbacks -------------------------------------------------------------
def e164_candidates(number: str) -> list[str]:
    """E.164 forms a caller number may stand for (`+...`, `00...`, bare digits)."""
    raw = number.strip()
    digits = "".join(ch for ch in raw if ch.isdigit())
    if not digits:
        return []
    if raw.startswith("+"):
        return ["+" + digits]
    if digits.startswith("00"):
        return ["+" + digits[2:], "+" + digits]
    return ["+" + digits]


async def find_contact(
    db: Executor, by: str, value: str, field: str = "external_id"
) -> dict[str, str] | None:
    """The contact with phone `value` (by="caller") or with `field` = `value`, or None."""
    if not value:
        return None
    if by == "caller":
        row = await db.fetchrow(
            """SELECT c.*, p.e164 FROM phone_numbers p JOIN contacts c ON c.id = p.contact_id
               WHERE p.e164 = ANY($1::text[]) ORDER BY p.rank, c.id LIMIT 1""",
            e164_candidates(value),
        )
    elif field == "external_id":
        row = await db.fetchrow(
            "SELECT c.*, NULL AS e164 FROM contacts c WHERE external_id = $1 ORDER BY id LIMIT 1",
            value,
        )
    else:
        row = await db.fetchrow(
            """SELECT c.*, NULL AS e164 FROM contacts c WHERE fields ->> $1 = $2
               ORDER BY id LIMIT 1""",
            field,
            value,
        )
    if row is None:
        return None
    fields = json.loads(row["fields"]) if isinstance(row["fields"], str) else dict(row["fields"])
    out = {k: str(v) for k, v in fields.items()}
    out.update(id=str(row["id"]), name=row["name"], external_id=row["external_id"] or "")
    if row["e164"]:
        out["phone"] = row["e164"]
    return out


CALLBACK_LIST_PREFIX = "ivr-callbacks:"


def callback_list_name(campaign: str) -> str:
    """The contact list that holds a campaign's callers unknown to the contact store."""
    return (CALLBACK_LIST_PREFIX + campaign)[:200]


async def _new_callback_contact(
    conn: asyncpg.Connection,
    campaign_id: int,
    campaign: str,
    number: str,
    candidates: list[str],
    now: dt.datetime,
) -> tuple[int, int] | None:
    """A contact for an unknown caller, in the campaign's callbacks list (created and
    dialed by the campaign on first use); None when the number cannot be dialed by
    the rules (not a valid number, or no time zone known for it)."""
    clist = await get_or_create_list(conn, callback_list_name(campaign))
    phone = None
    # The number as an international one first, then as a national one of the list's region.
    for text in (candidates[0], number):
        try:
            phone = normalise(text, clist.default_region)
            break
        except PhoneError as exc:
            log.info("ivr_callback_number_unreadable", number=text, error=str(exc))
    if phone is None:
        log.warning("ivr_callback_number_not_dialable", number=number)
        return None
    if phone.e164 not in candidates:  # read as a national number: known after all?
        known = await conn.fetchrow(
            """SELECT contact_id, id FROM phone_numbers WHERE e164 = $1
               ORDER BY rank, contact_id LIMIT 1""",
            phone.e164,
        )
        if known is not None:
            return known["contact_id"], known["id"]
    await conn.execute(
        """INSERT INTO campaign_lists (campaign_id, list_id) VALUES ($1, $2)
           ON CONFLICT DO NOTHING""",
        campaign_id,
        clist.id,
    )
    contact = await add_contact(
        conn, clist.id, [phone], name=phone.e164, fields={"source": "ivr callback"}, now=now
    )
    return contact.id, contact.phones[0].id


async def record_callback(
    pool: asyncpg.Pool,
    *,
    call_id: uuid.UUID | None,
    number: str,
    due_at: dt.datetime,
    campaign: str | None,
    note: str,
    now: dt.datetime | None = None,
) -> int:
    """Record a caller's callback request; for a named campaign, make it a due callback.

    The caller's contact (a new one in the campaign's callbacks list when the number
    is unknown) becomes a lead of the campaign, dialed first from ``due_at`` on,
    through the dialer's usual rules (calling window, do-not-call, attempt caps).
    """
    candidates = e164_candidates(number)
    if not candidates:
        raise InvalidInput("callback request without a caller number")
    now = now or dt.datetime.now(dt.UTC)
    async with pool.acquire() as conn, conn.transaction():
        campaign_id = None
        if campaign is not None:
            campaign_id = await conn.fetchval("SELECT id FROM campaigns WHERE name = $1", campaign)
        # A contact already dialed by this campaign first, then any contact with the number.
        contact = await conn.fetchrow(
            """SELECT p.contact_id, p.id AS phone_id FROM phone_numbers p
               LEFT JOIN campaign_leads l ON l.contact_id = p.contact_id AND l.campaign_id = $2
               WHERE p.e164 = ANY($1::text[])
               ORDER BY l.contact_id IS NULL, p.rank, p.contact_id LIMIT 1""",
            candidates,
            campaign_id,
        )
        found = (contact["contact_id"], contact["phone_id"]) if contact is not None else None
        callback_id = None
        if campaign_id is not None and campaign is not None:
            if found is None:
                found = await _new_callback_contact(
                    conn, campaign_id, campaign, number, candidates, now
                )
            if found is not None:
                callback_id = await request_callback(
                    conn,
                    campaign_id,
                    found[0],
                    due_at,
                    phone_id=found[1],
                    note=note or "requested in the IVR",
                )
        ident: int = await conn.fetchval(
            """INSERT INTO ivr_callback_requests (call_id, e164, due_at, contact_id, campaign_id,
                                                  callback_id, note)
               VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id""",
            call_id,
            candidates[0],
            due_at,
            found[0] if found else None,
            campaign_id,
            callback_id,
            note,
        )
    return ident
