"""The IVR's contact lookups and callback requests (PostgreSQL).

The contact store has no lookup by phone number or account yet, so the two queries
the IVR needs live here, against the existing ``contacts`` and ``phone_numbers``
tables; a callback a caller asks for becomes a callback lead of the campaign.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid

import asyncpg
import structlog

from ccpbx.errors import InvalidInput
from ccpbx.store.attempts import request_callback
from ccpbx.store.contacts import add_contact, get_or_create_list
from ccpbx.store.db import Executor
from ccpbx.store.phones import PhoneError, normalise

log = structlog.get_logger(__name__)


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
