"""The runtime's reads and writes of attempts and call records that the store's API
(:mod:`ccpbx.store.attempts`, :mod:`ccpbx.store.records`) does not cover."""

from __future__ import annotations

import datetime as dt
import uuid

from ccpbx.store.attempts import Attempt, attempt_from_row, close_attempt
from ccpbx.store.db import Executor, connection, transaction, translate_errors


async def open_attempts(db: Executor, campaign_id: int) -> list[Attempt]:
    """Attempts of the campaign without an outcome (in flight, or lost by a dialer)."""
    async with connection(db) as conn:
        rows = await conn.fetch(
            """SELECT * FROM call_attempts
               WHERE campaign_id = $1 AND outcome IS NULL ORDER BY leased_at""",
            campaign_id,
        )
    return [attempt_from_row(r) for r in rows]


async def settle(
    db: Executor, attempt_id: uuid.UUID, outcome: str, now: dt.datetime
) -> Attempt | None:
    """Give an open attempt the outcome found on reconciliation (state ``reconciled``);
    None if it already had one."""
    async with transaction(db) as conn:
        row = await conn.fetchrow(
            "SELECT * FROM call_attempts WHERE id = $1 FOR UPDATE", attempt_id
        )
        if row is None or row["outcome"] is not None:
            return None
        return await close_attempt(conn, row, outcome, now, state="reconciled")


async def live_answers(
    db: Executor, campaign_id: int, since: dt.datetime
) -> list[tuple[dt.datetime, bool]]:
    """(answer time, abandoned?) of the campaign's live answers since ``since``, in order."""
    rows = await db.fetch(
        """SELECT answered_at, outcome = 'abandoned' AS abandoned FROM call_attempts
           WHERE campaign_id = $1 AND outcome IN ('answered', 'abandoned')
             AND answered_at >= $2
           ORDER BY answered_at""",
        campaign_id,
        since,
    )
    return [(r["answered_at"], r["abandoned"]) for r in rows]


async def record_of_attempt(db: Executor, attempt_id: uuid.UUID) -> uuid.UUID | None:
    """The call record of an attempt, if one was opened (at most one: attempt_id is
    unique in ``call_records``)."""
    with translate_errors("find call record", attempt_id=str(attempt_id)):
        found: uuid.UUID | None = await db.fetchval(
            "SELECT id FROM call_records WHERE attempt_id = $1", attempt_id
        )
    return found


async def note_linkedid(db: Executor, record_id: uuid.UUID, linkedid: str) -> None:
    """The linkedid of the record's channel (Asterisk names it only in channel events);
    a repeat keeps the first."""
    with translate_errors("call record linkedid", record_id=str(record_id)):
        await db.execute(
            "UPDATE call_records SET linkedid = coalesce(linkedid, $2) WHERE id = $1",
            record_id,
            linkedid,
        )


async def end_record_of_attempt(db: Executor, attempt_id: uuid.UUID, at: dt.datetime) -> None:
    """Close the still open record of an attempt settled after its call was lost (no
    hang-up was heard: it ended at the latest by ``at``)."""
    with translate_errors("end call record", attempt_id=str(attempt_id)):
        await db.execute(
            """UPDATE call_records SET ended_at = greatest($2, started_at)
               WHERE attempt_id = $1 AND ended_at IS NULL""",
            attempt_id,
            at,
        )
