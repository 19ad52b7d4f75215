"""Helpers for the dialer's real-call tests (no tests here): campaigns with contacts,
agents on SIPp desk phones, and what Asterisk said about each campaign call."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from ccpbx.ami.protocol import AmiMessage
from ccpbx.daemon import Daemon
from ccpbx.sandbox.asterisk import AsteriskInstance, Phone
from ccpbx.sandbox.phones import SippPhone
from ccpbx.store import agents as store_agents
from ccpbx.store import campaigns, contacts, dnc
from ccpbx.store.campaigns import Campaign, CampaignSettings
from ccpbx.store.phones import CallingWindow

from .test_acd_support import add_agent, add_queue

NEW_YORK = "America/New_York"
TOKYO = "Asia/Tokyo"


def window_around_now(zone: str = NEW_YORK, margin_min: int = 120) -> CallingWindow:
    """A calling window open now in ``zone`` for at least an hour, closed 10 hours away."""
    local = dt.datetime.now(ZoneInfo(zone))
    minute = local.hour * 60 + local.minute
    start = max(0, minute - margin_min)
    end = min(24 * 60, minute + margin_min)
    if end - minute < 60:  # too close to midnight: keep the last two hours of the day
        start, end = 22 * 60, 24 * 60
    return CallingWindow(start, end)


@dataclass
class CallLog:
    """Campaign-call events Asterisk raised, by channel uniqueid (the attempt id)."""

    abandon_message: set[str] = field(default_factory=set)
    waited: set[str] = field(default_factory=set)

    def newexten(self, event: AmiMessage) -> None:
        uniqueid = event.get("Uniqueid") or ""
        context = event.get("Context") or ""
        if context == "ccpbx-outbound-abandon" and event.get("Application") == "Playback":
            self.abandon_message.add(uniqueid)
        elif context == "ccpbx-queue-wait" and event.get("Application") == "MusicOnHold":
            self.waited.add(uniqueid)


async def seed_campaign(
    daemon: Daemon,
    name: str,
    numbers: Sequence[tuple[str, str]],
    *,
    queue: str = "outbound",
    mode: str = "predictive",
    window: CallingWindow | None = None,
    do_not_call: Sequence[str] = (),
    retry_delays: dict[str, int] | None = None,
    wrapup_s: float = 0.3,
) -> Campaign:
    """A paused campaign over one list of (E.164 number, time zone) contacts, dialing
    through the sandbox carrier; its agents are the members of ACD queue ``queue``."""
    pool = daemon.database.pool
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
        await dnc.add(pool, e164, source="test")
    store_queue = await store_agents.create_queue(pool, queue)
    settings = CampaignSettings(
        mode=mode,
        trunk="carrier",
        caller_id="+12125550000",
        window=window or window_around_now(),
        retry_delays=retry_delays or {},
        default_retry_delay_s=3600,
        ring_timeout_s=15,
        queue_id=store_queue.id,
    )
    campaign = await campaigns.create_campaign(pool, name, settings)
    await campaigns.attach_list(pool, campaign.id, clist.id, dt.datetime.now(dt.UTC))
    await add_queue(daemon, queue, wrapup_s=wrapup_s)
    return campaign


@contextmanager
def agent_phones(asterisk: AsteriskInstance, agents: Sequence[str]) -> Iterator[list[SippPhone]]:
    """Desk phones for ``agents`` (provisioned in the sandbox), registered, answering."""
    started: list[SippPhone] = []
    try:
        for n in agents:
            phone = SippPhone(asterisk, Phone(n, f"pw-{n}-secret", rewrite_contact=False))
            phone.start()
            started.append(phone)
        yield started
    finally:
        for phone in started:
            phone.stop()


async def log_in_agents(daemon: Daemon, agents: Sequence[str], queues: Sequence[str]) -> None:
    """Store the agents as persistent members of ``queues`` and log them in at their phones."""
    for agent in agents:
        await add_agent(daemon, agent, list(queues))
        await daemon.acd.login(agent, agent)


async def attempt_rows(daemon: Daemon, campaign: Campaign) -> list[dict[str, object]]:
    rows = await daemon.database.pool.fetch(
        """SELECT id::text AS id, e164, state, outcome FROM call_attempts
           WHERE campaign_id = $1 ORDER BY leased_at""",
        campaign.id,
    )
    return [dict(r) for r in rows]
