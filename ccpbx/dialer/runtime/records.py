"""The runtime's reads and writes of attempts that the store's API does not cover."""

from __future__ import annotations

import datetime as dt
import uuid

from ccpbx.store.attempts import Attempt, attempt_from_row, close_attempt
from ccpbx.store.db import Executor, connection, transaction


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
