"""Test data made straight in SQL: large contact sets in a second, not minutes."""

from __future__ import annotations

import datetime as dt

import asyncpg

from ccpbx.queues import store as queue_store
from ccpbx.queues.model import AgentRecord
from ccpbx.store import campaigns, contacts
from ccpbx.store.campaigns import Campaign, CampaignSettings
from ccpbx.store.phones import CallingWindow

T0 = dt.datetime(2026, 3, 2, 17, 0, tzinfo=dt.UTC)  # 12:00 in New York, a Monday
WIDE = CallingWindow(0, 24 * 60)


async def bulk_contacts(
    conn: asyncpg.Connection,
    list_id: int,
    count: int,
    *,
    zones: tuple[str, ...] = ("America/New_York",),
    first: int = 0,
) -> None:
    """``count`` contacts with one number each (+1 212 2xx xxxx), created in one statement."""
    await conn.execute(
        """WITH c AS (
               INSERT INTO contacts (list_id, name, priority, source_line)
               SELECT $1, 'Contact ' || g, 0, g
               FROM generate_series($3::int, $3::int + $2::int - 1) g
               RETURNING id, source_line)
           INSERT INTO phone_numbers (contact_id, list_id, rank, e164, time_zones)
           SELECT id, $1, 0, '+1212' || lpad((2000000 + source_line)::text, 7, '0'), $4::text[]
           FROM c""",
        list_id,
        count,
        first,
        list(zones),
    )


async def campaign_with_contacts(
    conn: asyncpg.Connection,
    count: int,
    *,
    name: str = "c1",
    window: CallingWindow = WIDE,
    per_day: int = 3,
    total: int = 10,
    retry_delays: dict[str, int] | None = None,
    default_retry_delay_s: int = 600,
    zones: tuple[str, ...] = ("America/New_York",),
    now: dt.datetime = T0,
) -> tuple[Campaign, int]:
    """A running campaign dialing one list of ``count`` bulk-made contacts."""
    clist = await contacts.create_list(conn, f"{name}-list")
    await bulk_contacts(conn, clist.id, count, zones=zones)
    settings = CampaignSettings(
        mode="progressive",
        trunk="carrier",
        caller_id="+12125550000",
        window=window,
        max_attempts_per_day=per_day,
        max_attempts_total=total,
        retry_delays=retry_delays or {},
        default_retry_delay_s=default_retry_delay_s,
    )
    campaign = await campaigns.create_campaign(conn, name, settings, status="running")
    await campaigns.attach_list(conn, campaign.id, clist.id, now)
    return campaign, clist.id


async def acd_agents(db: asyncpg.Connection | asyncpg.Pool, *agents: str) -> None:
    """ACD agent profiles (number only) that callbacks and call records may name."""
    for agent in agents:
        await queue_store.save_agent(db, AgentRecord(agent))
