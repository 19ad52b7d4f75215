"""The runtime's reads and writes of attempts that the store's API does not cover."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from ccpbx.store.attempts import Attempt, close_attempt
from ccpbx.store.db import Executor, connection, transaction


@dataclass(frozen=True, slots=True)
class OpenAttempt:
    id: uuid.UUID
    contact_id: int
    e164: str
    state: str
    dialing: bool
    answered: bool
    leased_at: dt.datetime
    answered_at: dt.datetime | None


async def open_attempts(db: Executor, campaign_id: int) -> list[OpenAttempt]:
    """Attempts of the campaign without an outcome (in flight, or lost by a dialer)."""
    async with connection(db) as conn:
        rows = await conn.fetch(
            """SELECT id, contact_id, e164, state, dialing_at, answered_at, leased_at
               FROM call_attempts
               WHERE campaign_id = $1 AND outcome IS NULL ORDER BY leased_at""",
            campaign_id,
        )
    return [
        OpenAttempt(
            r["id"],
            r["contact_id"],
            r["e164"],
            r["state"],
            r["dialing_at"] is not None,
            r["answered_at"] is not None,
            r["leased_at"],
            r["answered_at"],
        )
        for r in rows
    ]


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
