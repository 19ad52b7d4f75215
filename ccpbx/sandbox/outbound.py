"""Sandbox campaigns: a list of contacts dialed through the sandbox carrier, for the demo,
the benchmarks and the tests (not for production data: real lists come in by import)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from zoneinfo import ZoneInfo

import asyncpg

from ccpbx.acd import QueueConfig
from ccpbx.daemon import Daemon
from ccpbx.queues import QueueSpec
from ccpbx.queues import store as queue_store
from ccpbx.store import campaigns, contacts, dnc
from ccpbx.store.campaigns import Campaign, CampaignSettings
from ccpbx.store.phones import CallingWindow

NEW_YORK = "America/New_York"
TOKYO = "Asia/Tokyo"


def window_around_now(zone: str = NEW_YORK, margin_min: int = 120) -> CallingWindow:
    """A calling window open now in ``zone`` for at least an hour, closed ten hours away."""
    local = dt.datetime.now(ZoneInfo(zone))
    minute = local.hour * 60 + local.minute
    start = max(0, minute - margin_min)
    end = min(24 * 60, minute + margin_min)
    if end - minute < 60:  # close to midnight: the last two hours of the day
        start, end = 22 * 60, 24 * 60
    return CallingWindow(start, end)


async def seed_campaign(
    target: Daemon | asyncpg.Pool,
    name: str,
    numbers: Sequence[tuple[str, str]],
    *,
    queue: str = "outbound",
    mode: str = "predictive",
    window: CallingWindow | None = None,
    do_not_call: Sequence[str] = (),
    retry_delays: dict[str, int] | None = None,
    wrapup_s: float = 0.3,
    ring_timeout_s: int = 15,
    amd: bool = False,
    machine_action: str = "hangup",
) -> Campaign:
    """A paused campaign over one list of (E.164 number, time zone) contacts, dialing
    through the sandbox carrier; its agents are the members of ACD queue ``queue``.
    ``target``: a running daemon (its ACD gets the queue at once) or a database pool
    (the queue is stored; a daemon started later loads it)."""
    pool = target.database.pool if isinstance(target, Daemon) else target
    clist = await contacts.create_list(pool, f"{name}-list")
    async with pool.acquire() as conn:
        await conn.executemany(
            """WITH c AS (INSERT INTO contacts (list_id, name, priority, source_line)
                          VALUES ($1, $2, 0, $3) RETURNING id)
               INSERT INTO phone_numbers (contact_id, list_id, rank, e164, time_zones)
               SELECT id, $1, 0, $4, ARRAY[$5::text] FROM c""",
            [(clist.id, f"Contact {i}", i, e164, z) for i, (e164, z) in enumerate(numbers)],
        )
    for e164 in do_not_call:
        await dnc.add(pool, e164, source="sandbox")
    # The queue first: the campaign row references it.
    spec = QueueSpec(QueueConfig(queue, wrapup_s=wrapup_s), {}, record=False)
    if not isinstance(target, Daemon):
        await queue_store.save_queue(pool, spec)
    elif queue not in target.acd.specs:
        await target.acd.wait_ready(20)
        await target.acd.configure_queue(spec)
    settings = CampaignSettings(
        mode=mode,
        trunk="carrier",
        caller_id="+12125550000",
        window=window or window_around_now(),
        retry_delays=retry_delays or {},
        default_retry_delay_s=3600,
        ring_timeout_s=ring_timeout_s,
        amd_enabled=amd,
        machine_action=machine_action,
        queue=queue,
    )
    campaign = await campaigns.create_campaign(pool, name, settings)
    await campaigns.attach_list(pool, campaign.id, clist.id, dt.datetime.now(dt.UTC))
    return campaign
