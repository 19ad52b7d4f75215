"""The calling window decides at dial time: a lead leased while the window was open is
not called if it closed before its turn came (real PostgreSQL; Asterisk stands in as a
stub that records what it is asked)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from ccpbx.ami import AmiClient, AmiSettings
from ccpbx.ami.channels import ChannelView
from ccpbx.dialer.pacing import make_pacer
from ccpbx.dialer.runtime.runner import CampaignRunner
from ccpbx.queues import QueueService
from ccpbx.sandbox.outbound import NEW_YORK, seed_campaign
from ccpbx.store.leasing import lease
from ccpbx.store.phones import CallingWindow

WINDOW = CallingWindow(9 * 60, 17 * 60)


class Link:
    """A ready AMI link that notes every action and answers each like Asterisk would
    (an Async Originate is accepted; its outcome would come as events)."""

    ready = True

    def __init__(self) -> None:
        self.actions: list[tuple[str, dict[str, Any]]] = []

    @property
    def instance(self) -> str:
        return "stub@boot"

    async def action(self, name: str, **fields: Any) -> None:
        self.actions.append((name, fields))


def _new_york(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), ZoneInfo(NEW_YORK))


async def _runner(pool: asyncpg.Pool, link: Link, now: list[dt.datetime]) -> CampaignRunner:
    campaign = await seed_campaign(pool, "window", [("+12125570001", NEW_YORK)], window=WINDOW)
    await pool.execute("UPDATE campaigns SET status = 'running' WHERE id = $1", campaign.id)
    ami = AmiClient(AmiSettings(host="127.0.0.1", username="x", secret="y", port=1))
    return CampaignRunner(
        campaign,
        "outbound",
        ami=link,  # type: ignore[arg-type]
        channels=ChannelView(),
        acd=QueueService(ami, ChannelView()),
        pool=lambda: pool,
        pacer=make_pacer("progressive"),
        dialer_id="test-dialer",
        clock=lambda: now[0].timestamp(),
    )


async def _drain(runner: CampaignRunner) -> None:
    while not runner._inbox.empty():
        runner._handle(*runner._inbox.get_nowait())
    runner.writer.start()
    await runner.writer.stop()


async def test_lead_is_not_called_once_its_window_has_closed(pool: asyncpg.Pool) -> None:
    """Leased at 16:59 New York (window 09:00-17:00), its turn comes at 17:00: no
    Originate, the attempt is not_dialed (never marked dialing, no call record), the
    lead is ready again and uncounted, and the lease then defers it until the window
    opens the next day."""
    day = dt.datetime.now(ZoneInfo(NEW_YORK)).date() + dt.timedelta(days=1)
    now = [_new_york(day, 16, 59)]
    link = Link()
    runner = await _runner(pool, link, now)
    [lead] = await lease(pool, runner.campaign.id, 1, now[0], dialer_id="test-dialer")
    now[0] = _new_york(day, 17, 0)
    runner.book.reserved = 1  # as the pacing decision does before placing
    await runner.placer.dial(lead)
    await _drain(runner)
    assert link.actions == []
    assert runner.book.reserved == 0
    assert len(runner.book) == 0
    assert runner.counts["placed"] == 0
    row = await pool.fetchrow(
        """SELECT a.outcome, a.dialing_at, l.status, l.attempts_total
           FROM call_attempts a JOIN campaign_leads l ON l.last_attempt_id = a.id"""
    )
    assert row is not None
    assert (row["outcome"], row["dialing_at"]) == ("not_dialed", None)
    assert (row["status"], row["attempts_total"]) == ("ready", 0)
    assert await pool.fetchval("SELECT count(*) FROM call_records") == 0
    assert await lease(pool, runner.campaign.id, 1, now[0], dialer_id="test-dialer") == []
    opened = await lease(
        pool, runner.campaign.id, 1, _new_york(day + dt.timedelta(days=1), 9, 0), dialer_id="t"
    )
    assert [lead.contact_id for lead in opened] == [lead.contact_id]


async def test_lead_is_called_while_its_window_is_open(pool: asyncpg.Pool) -> None:
    """The same lead whose turn comes at 16:59:59 is dialed: one Originate to its
    number, the attempt marked dialing, a call record opened once it is sent."""
    day = dt.datetime.now(ZoneInfo(NEW_YORK)).date() + dt.timedelta(days=1)
    now = [_new_york(day, 16, 59)]
    link = Link()
    runner = await _runner(pool, link, now)
    [lead] = await lease(pool, runner.campaign.id, 1, now[0], dialer_id="test-dialer")
    now[0] = _new_york(day, 16, 59) + dt.timedelta(seconds=59)
    runner.book.reserved = 1
    await runner.placer.dial(lead)
    await _drain(runner)
    assert [(name, fields["ChannelId"]) for name, fields in link.actions] == [
        ("Originate", str(lead.attempt_id))
    ]
    assert runner.counts["placed"] == 1
    assert await pool.fetchval("SELECT dialing_at IS NOT NULL FROM call_attempts")
    record = await pool.fetchrow("SELECT attempt_id, asterisk_node FROM call_records")
    assert record is not None
    assert (record["attempt_id"], record["asterisk_node"]) == (lead.attempt_id, "stub@boot")
