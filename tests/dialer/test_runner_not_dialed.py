"""A campaign call whose Originate never reaches Asterisk is not_dialed, and its contact
goes back to the hopper at once (real PostgreSQL; Asterisk stands in as a stub)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import asyncpg

from ccpbx.ami import AmiClient, AmiSettings
from ccpbx.ami.channels import ChannelView
from ccpbx.ami.errors import AmiNotConnected
from ccpbx.dialer.pacing import make_pacer
from ccpbx.dialer.runtime.runner import CampaignRunner
from ccpbx.queues import QueueService
from ccpbx.sandbox.outbound import NEW_YORK, seed_campaign
from ccpbx.store.leasing import lease


class Link:
    """What the runner asks of the AMI client: is it ready, and send an action."""

    def __init__(self, *, ready: bool) -> None:
        self.ready = ready
        self.actions: list[str] = []

    async def action(self, name: str, *args: Any, **kwargs: Any) -> None:
        self.actions.append(name)
        raise AmiNotConnected(f"AMI is disconnected; {name} not sent")


async def _runner(pool: asyncpg.Pool, link: Link) -> tuple[CampaignRunner, Any]:
    campaign = await seed_campaign(pool, "gate", [("+12125570001", NEW_YORK)])
    await pool.execute("UPDATE campaigns SET status = 'running' WHERE id = $1", campaign.id)
    ami = AmiClient(AmiSettings(host="127.0.0.1", username="x", secret="y", port=1))
    acd = QueueService(ami, ChannelView())
    runner = CampaignRunner(
        campaign,
        "outbound",
        ami=link,  # type: ignore[arg-type]
        channels=ChannelView(),
        acd=acd,
        pool=lambda: pool,
        pacer=make_pacer("progressive"),
        dialer_id="test-dialer",
    )
    [lead] = await lease(pool, campaign.id, 1, dt.datetime.now(dt.UTC), dialer_id="test-dialer")
    return runner, lead


async def _drain(runner: CampaignRunner) -> None:
    while not runner._inbox.empty():
        runner._handle(*runner._inbox.get_nowait())
    runner.writer.start()
    await runner.writer.stop()


async def _attempt_and_lead(pool: asyncpg.Pool) -> asyncpg.Record:
    row = await pool.fetchrow(
        """SELECT a.outcome, a.dialing_at, l.status, l.attempts_total,
                  l.ready_at <= now() AS ready_now
           FROM call_attempts a JOIN campaign_leads l ON l.last_attempt_id = a.id"""
    )
    assert row is not None
    return row


async def test_originate_refused_before_sending_is_not_dialed(pool: asyncpg.Pool) -> None:
    """The link dropped between the dialing mark and the Originate (AmiNotConnected: not
    sent): the attempt is not_dialed, not counted as placed, and its lead is ready now."""
    link = Link(ready=True)
    runner, lead = await _runner(pool, link)
    runner.book.reserved = 1
    await runner.placer.dial(lead)
    await _drain(runner)
    assert runner.book.reserved == 0
    assert link.actions == ["Originate"]
    assert len(runner.book) == 0
    assert runner.counts["placed"] == 0
    row = await _attempt_and_lead(pool)
    assert row["outcome"] == "not_dialed"
    assert row["dialing_at"] is not None
    assert (row["status"], row["attempts_total"], row["ready_now"]) == ("ready", 0, True)
    assert await pool.fetchval("SELECT count(*) FROM call_records") == 0  # never sent


async def test_nothing_is_dialed_while_the_link_is_down(pool: asyncpg.Pool) -> None:
    """A lead about to be dialed while the AMI link is down goes back untouched: never
    marked dialing, no action sent, not_dialed, ready again at once."""
    link = Link(ready=False)
    runner, lead = await _runner(pool, link)
    runner.book.reserved = 1  # as the pacing decision does before placing
    await runner.placer.dial(lead)
    await _drain(runner)
    assert runner.book.reserved == 0
    assert link.actions == []
    row = await _attempt_and_lead(pool)
    assert (row["outcome"], row["dialing_at"]) == ("not_dialed", None)
    assert (row["status"], row["ready_now"]) == ("ready", True)
    assert await pool.fetchval("SELECT count(*) FROM call_records") == 0
    runner.book.reserved = 3
    await runner.placer.place(3)
    await _drain(runner)
    assert await pool.fetchval("SELECT count(*) FROM call_attempts") == 1  # no new lease
    assert runner.book.reserved == 0


async def test_a_lead_given_back_keeps_no_hold_on_its_agent(pool: asyncpg.Pool) -> None:
    """A lead whose agent was reserved first and that is given back (link down, window
    closed) releases the agent and leaves no hold behind in the runner."""
    link = Link(ready=False)
    runner, lead = await _runner(pool, link)
    # What Placer.give_back reports once it has recorded not_dialed and released agent
    # 1001 in the ACD (that release needs a running ACD, which this test has not).
    runner.feed("placed", (lead, "link down", "1001"))
    await _drain(runner)
    assert runner.holds == {}
    assert runner.counts["placed"] == 0
