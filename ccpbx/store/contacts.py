"""Contact lists and contacts with their phone numbers."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from ccpbx.errors import InvalidInput, NotFound
from ccpbx.store import compliance
from ccpbx.store.db import Executor, connection, transaction, translate_errors
from ccpbx.store.phones import Phone, check_region, zone

_DNC_LISTED = compliance.dnc_listed(e164="$4", now="$6")


@dataclass(frozen=True, slots=True)
class ContactList:
    id: int
    name: str
    default_region: str
    created_at: dt.datetime


@dataclass(frozen=True, slots=True)
class PhoneNumber:
    id: int
    rank: int
    e164: str
    time_zones: tuple[str, ...]
    dnc_flagged: bool


@dataclass(frozen=True, slots=True)
class Contact:
    id: int
    list_id: int
    name: str
    phones: tuple[PhoneNumber, ...]
    time_zone: str | None = None
    priority: int = 0
    consent: bool | None = None
    external_id: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    source_line: int | None = None


def _list(row: asyncpg.Record) -> ContactList:
    return ContactList(row["id"], row["name"], row["default_region"], row["created_at"])


async def create_list(db: Executor, name: str, default_region: str = "US") -> ContactList:
    """A new, empty contact list; Conflict if the name is taken."""
    region = check_region(default_region)
    with translate_errors("create contact list", name=name):
        row = await db.fetchrow(
            "INSERT INTO contact_lists (name, default_region) VALUES ($1, $2) RETURNING *",
            name,
            region,
        )
    assert row is not None
    return _list(row)


async def get_list(db: Executor, name: str) -> ContactList:
    row = await db.fetchrow("SELECT * FROM contact_lists WHERE name = $1", name)
    if row is None:
        raise NotFound(f"no contact list named {name!r}", name=name)
    return _list(row)


async def get_or_create_list(
    conn: asyncpg.Connection, name: str, default_region: str = "US"
) -> ContactList:
    region = check_region(default_region)
    with translate_errors("create contact list", name=name):
        row = await conn.fetchrow(
            """INSERT INTO contact_lists (name, default_region) VALUES ($1, $2)
               ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING *""",
            name,
            region,
        )
    assert row is not None
    return _list(row)


async def list_lists(db: Executor) -> list[ContactList]:
    return [_list(r) for r in await db.fetch("SELECT * FROM contact_lists ORDER BY name")]


async def delete_list(db: Executor, name: str) -> None:
    """Remove a list and its contacts; refused (Conflict) once any was dialed."""
    with translate_errors("delete contact list", name=name):
        status = await db.execute("DELETE FROM contact_lists WHERE name = $1", name)
    if status == "DELETE 0":
        raise NotFound(f"no contact list named {name!r}", name=name)


async def add_contact(
    db: Executor,
    list_id: int,
    phones: Sequence[Phone],
    *,
    name: str = "",
    time_zone: str | None = None,
    priority: int = 0,
    consent: bool | None = None,
    external_id: str | None = None,
    fields: dict[str, Any] | None = None,
    now: dt.datetime,
) -> Contact:
    """Add one contact; it becomes a lead of every campaign using the list."""
    if not phones:
        raise InvalidInput("a contact needs at least one phone number")
    if time_zone is not None:
        zone(time_zone)
    async with transaction(db) as conn:
        with translate_errors("add contact", list_id=list_id):
            contact_id = await conn.fetchval(
                """INSERT INTO contacts (list_id, name, time_zone, priority, consent,
                                         external_id, fields)
                   VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb) RETURNING id""",
                list_id,
                name,
                time_zone,
                priority,
                consent,
                external_id,
                json.dumps(fields or {}),
            )
            await conn.executemany(
                f"""INSERT INTO phone_numbers (contact_id, list_id, rank, e164, time_zones,
                                               dnc_flagged)
                    VALUES ($1, $2, $3, $4, $5,
                            EXISTS (SELECT 1 FROM dnc_entries d WHERE {_DNC_LISTED}))""",
                [
                    (
                        contact_id,
                        list_id,
                        rank,
                        p.e164,
                        [time_zone] if time_zone else list(p.time_zones),
                        now,
                    )
                    for rank, p in enumerate(phones)
                ],
            )
            await conn.execute(
                """INSERT INTO campaign_leads (campaign_id, contact_id, priority, ready_at)
                   SELECT cl.campaign_id, $1, $2, $3 FROM campaign_lists cl
                   WHERE cl.list_id = $4""",
                contact_id,
                priority,
                now,
                list_id,
            )
        return await get_contact(conn, contact_id)


_CONTACT_SQL = """
    SELECT c.*, coalesce(
        (SELECT array_agg(ROW(p.id, p.rank, p.e164, p.time_zones, p.dnc_flagged) ORDER BY p.rank)
         FROM phone_numbers p WHERE p.contact_id = c.id), '{}') AS phones
    FROM contacts c
"""


def _contact(row: asyncpg.Record) -> Contact:
    phones = tuple(PhoneNumber(p[0], p[1], p[2], tuple(p[3]), p[4]) for p in row["phones"])
    return Contact(
        id=row["id"],
        list_id=row["list_id"],
        name=row["name"],
        phones=phones,
        time_zone=row["time_zone"],
        priority=row["priority"],
        consent=row["consent"],
        external_id=row["external_id"],
        fields=json.loads(row["fields"]),
        source_line=row["source_line"],
    )


async def get_contact(db: Executor, contact_id: int) -> Contact:
    async with connection(db) as conn:
        row = await conn.fetchrow(_CONTACT_SQL + " WHERE c.id = $1", contact_id)
    if row is None:
        raise NotFound(f"no contact {contact_id}", contact_id=contact_id)
    return _contact(row)


async def list_contacts(
    db: Executor, list_id: int, *, after_id: int = 0, limit: int = 100
) -> list[Contact]:
    """A page of the list's contacts in id order, starting after ``after_id``."""
    rows = await db.fetch(
        _CONTACT_SQL + " WHERE c.list_id = $1 AND c.id > $2 ORDER BY c.id LIMIT $3",
        list_id,
        after_id,
        limit,
    )
    return [_contact(r) for r in rows]


async def count_contacts(db: Executor, list_id: int) -> int:
    return int(await db.fetchval("SELECT count(*) FROM contacts WHERE list_id = $1", list_id))
