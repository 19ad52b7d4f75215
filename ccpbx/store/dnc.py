"""Do-not-call entries: global (campaign_id None) or for one campaign, with an
optional expiry (None: permanent). The lease SQL checks them in the leasing
transaction.

Protection only gets stronger on its own: adding a number that is already on
the list keeps the wider of the two protections (permanent over dated, the
later expiry over the earlier). Shortening or ending it takes an explicit
``remove`` (or an import with ``replace``) with a reason, written to the audit
log in the same transaction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import asyncpg

from ccpbx.errors import InvalidInput, NotFound
from ccpbx.store import audit, compliance
from ccpbx.store.db import Executor, transaction, translate_errors
from ccpbx.store.phones import check_e164

# In ``ON CONFLICT (e164, campaign_id) DO UPDATE ... WHERE``: the new terms
# protect the number longer than the stored ones.
WIDENS_SQL = """dnc_entries.expires_at IS NOT NULL
    AND (EXCLUDED.expires_at IS NULL OR EXCLUDED.expires_at > dnc_entries.expires_at)"""


@dataclass(frozen=True, slots=True)
class DncEntry:
    id: int
    e164: str
    campaign_id: int | None
    source: str
    expires_at: dt.datetime | None
    created_at: dt.datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "e164": self.e164,
            "campaign_id": self.campaign_id,
            "source": self.source,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "created_at": self.created_at.isoformat(),
        }


def _entry(row: asyncpg.Record) -> DncEntry:
    return DncEntry(
        row["id"],
        row["e164"],
        row["campaign_id"],
        row["source"],
        row["expires_at"],
        row["created_at"],
    )


def typed_number(text: str) -> str:
    """A number typed on the command line: E.164 (``+`` and country code), valid."""
    return check_e164(text, "number")


def check_reason(reason: str | None) -> str:
    """The reason given for weakening a protection: required, one line, not blank."""
    text = (reason or "").strip()
    if not text:
        raise InvalidInput("removing or shortening a do-not-call entry needs a --reason")
    if len(text) > 500 or "\n" in text:
        raise InvalidInput("the reason must be one line of at most 500 characters")
    return text


async def add(
    db: Executor,
    e164: str,
    *,
    source: str,
    campaign_id: int | None = None,
    expires_at: dt.datetime | None = None,
) -> DncEntry:
    """Put a number on a list. Already there: the entry takes the new source and
    expiry only if they protect longer; it is never shortened. The stored entry."""
    with translate_errors("add do-not-call entry", e164=e164):
        async with transaction(db) as conn:
            row = await conn.fetchrow(
                f"""INSERT INTO dnc_entries (e164, campaign_id, source, expires_at)
                    VALUES ($1, $2, $3, $4)
                    ON CONFLICT (e164, campaign_id) DO UPDATE
                      SET source = EXCLUDED.source, expires_at = EXCLUDED.expires_at
                      WHERE {WIDENS_SQL}
                    RETURNING *""",
                e164,
                campaign_id,
                source,
                expires_at,
            )
            if row is None:
                row = await conn.fetchrow(
                    """SELECT * FROM dnc_entries
                       WHERE e164 = $1 AND campaign_id IS NOT DISTINCT FROM $2""",
                    e164,
                    campaign_id,
                )
    assert row is not None
    return _entry(row)


async def remove(
    db: Executor,
    e164: str,
    *,
    reason: str,
    actor: str,
    now: dt.datetime,
    campaign_id: int | None = None,
) -> DncEntry:
    """Take a number off one list, with the reason written to the audit log."""
    why = check_reason(reason)
    async with transaction(db) as conn:
        row = await conn.fetchrow(
            """DELETE FROM dnc_entries WHERE e164 = $1 AND campaign_id IS NOT DISTINCT FROM $2
               RETURNING *""",
            e164,
            campaign_id,
        )
        if row is None:
            raise NotFound(f"{e164} is not on that do-not-call list", e164=e164)
        entry = _entry(row)
        await audit.record(
            conn,
            actor=actor,
            action="dnc.remove",
            object_type="dnc_entry",
            object_id=e164,
            at=now,
            details={"reason": why, "removed": entry.as_dict()},
        )
    return entry


async def is_blocked(
    db: Executor, e164: str, now: dt.datetime, *, campaign_id: int | None = None
) -> bool:
    """True if an unexpired entry (global, or of the campaign) covers the number."""
    cond = compliance.dnc_applies(e164="$1", campaign="$2", now="$3")
    found = await db.fetchval(
        f"SELECT EXISTS (SELECT 1 FROM dnc_entries d WHERE {cond})", e164, campaign_id, now
    )
    return bool(found)


async def entries(
    db: Executor,
    *,
    campaign_id: int | None = None,
    after_id: int = 0,
    limit: int = 1000,
    e164: str | None = None,
) -> list[DncEntry]:
    """A page of one list's entries (the global list when campaign_id is None),
    or only the entry of one number."""
    rows = await db.fetch(
        """SELECT * FROM dnc_entries WHERE campaign_id IS NOT DISTINCT FROM $1 AND id > $2
             AND ($4::text IS NULL OR e164 = $4)
           ORDER BY id LIMIT $3""",
        campaign_id,
        after_id,
        limit,
        e164,
    )
    return [_entry(r) for r in rows]
