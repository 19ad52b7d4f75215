"""Call attempts after the lease: progress, outcome, disposition, callbacks.

An attempt row exists before its call is placed (see :mod:`ccpbx.store.leasing`);
its uuid travels with the call. Outcomes and dispositions are recorded
idempotently: the same value twice changes nothing, a different one is a
Conflict. Recording an outcome releases the contact's lead, with the retry
delay of that outcome, or finishes it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg

from ccpbx.errors import Conflict, InvalidInput, NotFound
from ccpbx.store import compliance
from ccpbx.store.campaigns import OUTCOMES
from ccpbx.store.db import Executor, transaction, translate_errors

PROGRESS = ("dialing", "ringing", "answered")
OPEN_STATES = ("leased", "dialing", "ringing", "answered", "expired")
_ORDER = {"leased": 0, "expired": 0, "dialing": 1, "ringing": 2, "answered": 3}


@dataclass(frozen=True, slots=True)
class Attempt:
    id: uuid.UUID
    campaign_id: int
    contact_id: int
    phone_id: int
    e164: str
    dialer_id: str
    state: str
    outcome: str | None
    disposition: str | None
    leased_at: dt.datetime
    lease_expires_at: dt.datetime
    finished_at: dt.datetime | None
    callback_id: int | None
    uniqueid: str | None
    dialing_at: dt.datetime | None = None
    """Set before the call is handed to Asterisk: an attempt without it was never dialed."""
    answered_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class Callback:
    id: int
    campaign_id: int
    contact_id: int
    due_at: dt.datetime
    agent: str | None
    phone_id: int | None
    status: str
    note: str


def attempt_from_row(row: asyncpg.Record) -> Attempt:
    return Attempt(
        id=row["id"],
        campaign_id=row["campaign_id"],
        contact_id=row["contact_id"],
        phone_id=row["phone_id"],
        e164=row["e164"],
        dialer_id=row["dialer_id"],
        state=row["state"],
        outcome=row["outcome"],
        disposition=row["disposition"],
        leased_at=row["leased_at"],
        lease_expires_at=row["lease_expires_at"],
        finished_at=row["finished_at"],
        callback_id=row["callback_id"],
        uniqueid=row["uniqueid"],
        dialing_at=row["dialing_at"],
        answered_at=row["answered_at"],
    )


async def get_attempt(db: Executor, attempt_id: uuid.UUID) -> Attempt:
    row = await db.fetchrow("SELECT * FROM call_attempts WHERE id = $1", attempt_id)
    if row is None:
        raise NotFound(f"no call attempt {attempt_id}", attempt_id=str(attempt_id))
    return attempt_from_row(row)


async def attempts_of(db: Executor, campaign_id: int, contact_id: int) -> list[Attempt]:
    rows = await db.fetch(
        """SELECT * FROM call_attempts WHERE campaign_id = $1 AND contact_id = $2
           ORDER BY leased_at, id""",
        campaign_id,
        contact_id,
    )
    return [attempt_from_row(r) for r in rows]


async def _locked(conn: asyncpg.Connection, attempt_id: uuid.UUID) -> asyncpg.Record:
    row = await conn.fetchrow("SELECT * FROM call_attempts WHERE id = $1 FOR UPDATE", attempt_id)
    if row is None:
        raise NotFound(f"no call attempt {attempt_id}", attempt_id=str(attempt_id))
    return row


async def mark_progress(
    db: Executor,
    attempt_id: uuid.UUID,
    state: str,
    now: dt.datetime,
    *,
    uniqueid: str | None = None,
) -> Attempt:
    """The call moved on (dialing, ringing, answered): note it and renew the lease.

    Events arrive out of order: a state the attempt is already past is ignored.
    """
    if state not in PROGRESS:
        raise InvalidInput(f"progress state must be one of {', '.join(PROGRESS)}", state=state)
    async with transaction(db) as conn:
        row = await _locked(conn, attempt_id)
        if row["state"] not in OPEN_STATES or _ORDER[row["state"]] >= _ORDER[state]:
            return attempt_from_row(row)
        row = await conn.fetchrow(
            f"""UPDATE call_attempts a SET state = $2, {state}_at = $3::timestamptz,
                   uniqueid = coalesce($4, a.uniqueid),
                   lease_expires_at = $3::timestamptz + make_interval(secs => c.lease_ttl_s)
                FROM campaigns c WHERE a.id = $1 AND c.id = a.campaign_id
                RETURNING a.*""",
            attempt_id,
            state,
            now,
            uniqueid,
        )
    assert row is not None
    return attempt_from_row(row)


# Release (or finish) the lead of a just-closed attempt. $1 attempt id,
# $2 outcome or disposition code (the retry-delay key), $3 now, $4 final.
# An attempt that was never dialed ('not_dialed': no Originate reached Asterisk) did not
# call the contact: it does not count against the caps, and its lead is ready again at
# once (unless the campaign sets a retry delay for 'not_dialed').
_RELEASE_LEAD_SQL = """
    UPDATE campaign_leads l SET
        status = CASE WHEN $4::boolean THEN 'done'
                      WHEN $2::text = 'not_dialed' THEN 'ready'
                      WHEN {total_cap_reached} THEN 'exhausted'
                      ELSE 'ready' END,
        ready_at = CASE WHEN $2::text = 'not_dialed'
            THEN $3::timestamptz
                 + make_interval(secs => coalesce((c.retry_delays ->> 'not_dialed')::int, 0))
            ELSE greatest(
            $3::timestamptz + make_interval(secs => coalesce((c.retry_delays ->> $2::text)::int,
                                                c.default_retry_delay_s)),
            CASE WHEN {day_cap_reached}
                 THEN {next_cap_day}
                 ELSE $3::timestamptz END) END,
        attempts_total = CASE WHEN $2::text = 'not_dialed'
                              THEN greatest(l.attempts_total - 1, 0) ELSE l.attempts_total END,
        attempts_on_day = CASE WHEN $2::text = 'not_dialed'
                               THEN greatest(l.attempts_on_day - 1, 0) ELSE l.attempts_on_day END,
        tier = 1, callback_id = NULL, preferred_phone_id = NULL, last_outcome = $2::text
    FROM call_attempts a JOIN campaigns c ON c.id = a.campaign_id
    WHERE a.id = $1 AND l.campaign_id = a.campaign_id AND l.contact_id = a.contact_id
      AND l.last_attempt_id = a.id
""".format(
    total_cap_reached=compliance.total_cap_reached(lead="l", camp="c"),
    next_cap_day=compliance.next_cap_day(day="l.attempts_day", camp="c"),
    day_cap_reached=compliance.day_cap_reached(
        lead="l", camp="c", today=compliance.cap_day(now="$3", camp="c")
    ),
)


async def close_attempt(
    conn: asyncpg.Connection,
    row: asyncpg.Record,
    outcome: str,
    now: dt.datetime,
    *,
    state: str = "finished",
) -> Attempt:
    """Give a locked, open attempt its outcome and release its lead (in conn's transaction)."""
    updated = await conn.fetchrow(
        f"""UPDATE call_attempts SET state = $2, outcome = $3, finished_at = $4
               {", reconciled_at = $4" if state == "reconciled" else ""}
            WHERE id = $1 RETURNING *""",
        row["id"],
        state,
        outcome,
        now,
    )
    # An answered call reached the contact: the disposition decides what next.
    await conn.execute(_RELEASE_LEAD_SQL, row["id"], outcome, now, outcome == "answered")
    assert updated is not None
    return attempt_from_row(updated)


def _check_outcome(outcome: str) -> None:
    if outcome not in OUTCOMES:
        raise InvalidInput(f"outcome must be one of {', '.join(OUTCOMES)}", outcome=outcome)


async def record_outcome(
    db: Executor, attempt_id: uuid.UUID, outcome: str, now: dt.datetime
) -> Attempt:
    """The call ended with ``outcome``; idempotent, a different second outcome is a Conflict."""
    _check_outcome(outcome)
    async with transaction(db) as conn:
        row = await _locked(conn, attempt_id)
        if row["outcome"] is not None:
            if row["outcome"] == outcome:
                return attempt_from_row(row)
            raise Conflict(
                f"attempt {attempt_id} already ended with {row['outcome']!r}",
                attempt_id=str(attempt_id),
                recorded=row["outcome"],
                given=outcome,
            )
        return await close_attempt(conn, row, outcome, now)


async def set_disposition(
    db: Executor,
    attempt_id: uuid.UUID,
    code: str,
    now: dt.datetime,
    *,
    callback_at: dt.datetime | None = None,
    callback_agent: str | None = None,
    note: str = "",
) -> Attempt:
    """The agent's verdict on an ended call; idempotent like :func:`record_outcome`."""
    async with transaction(db) as conn:
        disp = await conn.fetchrow("SELECT * FROM dispositions WHERE code = $1", code)
        if disp is None:
            raise InvalidInput(f"unknown disposition code {code!r}", code=code)
        if disp["is_callback"] and callback_at is None:
            raise InvalidInput(f"disposition {code!r} needs a callback time", code=code)
        row = await _locked(conn, attempt_id)
        if row["outcome"] is None:
            raise Conflict(f"attempt {attempt_id} has no outcome yet", attempt_id=str(attempt_id))
        if row["disposition"] is not None:
            if row["disposition"] == code:
                return attempt_from_row(row)
            raise Conflict(
                f"attempt {attempt_id} already has disposition {row['disposition']!r}",
                attempt_id=str(attempt_id),
                recorded=row["disposition"],
                given=code,
            )
        updated = await conn.fetchrow(
            "UPDATE call_attempts SET disposition = $2 WHERE id = $1 RETURNING *",
            attempt_id,
            code,
        )
        if disp["add_to_dnc"]:
            await conn.execute(
                """INSERT INTO dnc_entries (e164, campaign_id, source) VALUES ($1, NULL, $2)
                   ON CONFLICT (e164, campaign_id) DO UPDATE
                     SET expires_at = NULL, source = EXCLUDED.source""",
                row["e164"],
                f"disposition:{code}",
            )
        current = await conn.fetchval(
            """SELECT status FROM campaign_leads WHERE campaign_id = $1 AND contact_id = $2
                 AND last_attempt_id = $3 FOR UPDATE""",
            row["campaign_id"],
            row["contact_id"],
            attempt_id,
        )
        # Only the latest attempt's disposition steers the lead.
        if current is not None and current != "leased":
            if disp["is_callback"]:
                assert callback_at is not None
                await _schedule(conn, row, callback_at, callback_agent, note)
            else:
                await conn.execute(_RELEASE_LEAD_SQL, attempt_id, code, now, disp["is_final"])
    assert updated is not None
    return attempt_from_row(updated)


async def _schedule(
    conn: asyncpg.Connection,
    attempt: Mapping[str, Any],
    due_at: dt.datetime,
    agent: str | None,
    note: str,
) -> int:
    with translate_errors("schedule callback", contact_id=attempt["contact_id"]):
        await conn.execute(
            """UPDATE callbacks SET status = 'cancelled'
               WHERE campaign_id = $1 AND contact_id = $2 AND status = 'pending'""",
            attempt["campaign_id"],
            attempt["contact_id"],
        )
        callback_id: int = await conn.fetchval(
            """INSERT INTO callbacks (campaign_id, contact_id, phone_id, agent, due_at, note)
               VALUES ($1, $2, $3, $4, $5, $6) RETURNING id""",
            attempt["campaign_id"],
            attempt["contact_id"],
            attempt["phone_id"],
            agent,
            due_at,
            note,
        )
    await conn.execute(
        """UPDATE campaign_leads SET status = 'ready', tier = 0, ready_at = $3,
               callback_id = $4, preferred_phone_id = $5
           WHERE campaign_id = $1 AND contact_id = $2""",
        attempt["campaign_id"],
        attempt["contact_id"],
        due_at,
        callback_id,
        attempt["phone_id"],
    )
    return callback_id


async def schedule_callback(
    db: Executor,
    campaign_id: int,
    contact_id: int,
    due_at: dt.datetime,
    *,
    agent: str | None = None,
    note: str = "",
) -> Callback:
    """Call a contact back at ``due_at`` (replacing a pending callback).

    Refused (Conflict) while an attempt on the contact is in flight: record its
    outcome first, or give the callback with the disposition.
    """
    async with transaction(db) as conn:
        lead = await conn.fetchrow(
            """SELECT status, last_attempt_id FROM campaign_leads
               WHERE campaign_id = $1 AND contact_id = $2 FOR UPDATE""",
            campaign_id,
            contact_id,
        )
        if lead is None:
            raise NotFound(
                f"contact {contact_id} is not a lead of campaign {campaign_id}",
                campaign_id=campaign_id,
                contact_id=contact_id,
            )
        if lead["status"] == "leased":
            raise Conflict("an attempt on this contact is in flight", contact_id=contact_id)
        fake = {"campaign_id": campaign_id, "contact_id": contact_id, "phone_id": None}
        callback_id = await _schedule(conn, fake, due_at, agent, note)
        row = await conn.fetchrow("SELECT * FROM callbacks WHERE id = $1", callback_id)
    assert row is not None
    return Callback(
        row["id"],
        row["campaign_id"],
        row["contact_id"],
        row["due_at"],
        row["agent"],
        row["phone_id"],
        row["status"],
        row["note"],
    )


async def request_callback(
    db: Executor,
    campaign_id: int,
    contact_id: int,
    due_at: dt.datetime,
    *,
    phone_id: int | None = None,
    agent: str | None = None,
    note: str = "",
) -> int:
    """The contact asked to be called back (IVR): make it a due callback of the campaign.

    Unlike :func:`schedule_callback` the contact need not be a lead yet: it becomes
    one. Its lead is dialed first (tier 0) from ``due_at`` on, through the same
    lease rules as any lead (calling window, do-not-call, attempt caps). While an
    attempt on the contact is in flight the lead is left to that attempt and the
    callback stays pending (a customer on the phone with us needs no callback).
    Returns the callback's id.
    """
    async with transaction(db) as conn:
        await conn.execute(
            """INSERT INTO campaign_leads (campaign_id, contact_id, priority, ready_at)
               SELECT $1, c.id, c.priority, $3 FROM contacts c WHERE c.id = $2
               ON CONFLICT DO NOTHING""",
            campaign_id,
            contact_id,
            due_at,
        )
        status = await conn.fetchval(
            """SELECT status FROM campaign_leads WHERE campaign_id = $1 AND contact_id = $2
               FOR UPDATE""",
            campaign_id,
            contact_id,
        )
        if status is None:
            raise NotFound(f"no contact {contact_id}", contact_id=contact_id)
        target = {"campaign_id": campaign_id, "contact_id": contact_id, "phone_id": phone_id}
        if status != "leased":
            return await _schedule(conn, target, due_at, agent, note)
        with translate_errors("request callback", contact_id=contact_id):
            callback_id: int = await conn.fetchval(
                """INSERT INTO callbacks (campaign_id, contact_id, phone_id, agent, due_at, note)
                   VALUES ($1, $2, $3, $4, $5, $6)
                   ON CONFLICT (campaign_id, contact_id) WHERE status = 'pending'
                   DO UPDATE SET due_at = EXCLUDED.due_at, phone_id = EXCLUDED.phone_id,
                                 note = EXCLUDED.note
                   RETURNING id""",
                campaign_id,
                contact_id,
                phone_id,
                agent,
                due_at,
                note,
            )
        return callback_id
