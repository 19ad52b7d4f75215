"""Do-not-call entries: global (campaign_id None) or for one campaign, with an
optional expiry. The lease SQL checks them in the leasing transaction."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import asyncpg

from ccpbx.errors import NotFound
from ccpbx.store.db import Executor, translate_errors

# Unexpired entry for a number that applies to a campaign ($campaign may be NULL:
# then only global entries count). Used by the lease query and by is_blocked.
APPLIES_SQL = """
    d.e164 = {e164} AND (d.campaign_id IS NULL OR d.campaign_id = {campaign})
    AND (d.expires_at IS NULL OR d.expires_at > {now})
"""


@dataclass(frozen=True, slots=True)
class DncEntry:
    id: int
    e164: str
    campaign_id: int | None
    source: str
    expires_at: dt.datetime | None
    created_at: dt.datetime


def _entry(row: asyncpg.Record) -> DncEntry:
    return DncEntry(
        row["id"],
        row["e164"],
        row["campaign_id"],
        row["source"],
        row["expires_at"],
        row["created_at"],
    )


async def add(
    db: Executor,
    e164: str,
    *,
    source: str,
    campaign_id: int | None = None,
    expires_at: dt.datetime | None = None,
) -> DncEntry:
    """Put a number on a list; adding it again updates the source and expiry."""
    with translate_errors("add do-not-call entry", e164=e164):
        row = await db.fetchrow(
            """INSERT INTO dnc_entries (e164, campaign_id, source, expires_at)
               VALUES ($1, $2, $3, $4)
               ON CONFLICT (e164, campaign_id) DO UPDATE
                 SET source = EXCLUDED.source, expires_at = EXCLUDED.expires_at
               RETURNING *""",
            e164,
            campaign_id,
            source,
            expires_at,
        )
    assert row is not None
    return _entry(row)


async def remove(db: Executor, e164: str, *, campaign_id: int | None = None) -> None:
    status = await db.execute(
        "DELETE FROM dnc_entries WHERE e164 = $1 AND campaign_id IS NOT DISTINCT FROM $2",
        e164,
        campaign_id,
    )
    if status == "DELETE 0":
        raise NotFound(f"{e164} is not on that do-not-call list", e164=e164)


async def is_blocked(
    db: Executor, e164: str, now: dt.datetime, *, campaign_id: int | None = None
) -> bool:
    """True if an unexpired entry (global, or of the campaign) covers the number."""
    cond = APPLIES_SQL.format(e164="$1", campaign="$2", now="$3")
    found = await db.fetchval(
        f"SELECT EXISTS (SELECT 1 FROM dnc_entries d WHERE {cond})", e164, campaign_id, now
    )
    return bool(found)


async def entries(
    db: Executor, *, campaign_id: int | None = None, after_id: int = 0, limit: int = 1000
) -> list[DncEntry]:
    """A page of one list's entries (the global list when campaign_id is None)."""
    rows = await db.fetch(
        """SELECT * FROM dnc_entries WHERE campaign_id IS NOT DISTINCT FROM $1 AND id > $2
           ORDER BY id LIMIT $3""",
        campaign_id,
        after_id,
        limit,
    )
    return [_entry(r) for r in rows]
