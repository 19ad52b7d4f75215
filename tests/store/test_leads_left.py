"""Leads left per campaign (real PostgreSQL) and the campaign figures pushed to the
wallboard: a view is sent when it changed, once per check, never twice unchanged."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg

from ccpbx.dialer.runtime.figures import CampaignFigures
from ccpbx.store.campaigns import count_leads_left

from .factories import T0, campaign_with_contacts
from .test_leasing import lease


async def test_leads_left_counts_ready_and_leased_not_finished(conn: asyncpg.Connection) -> None:
    """Five leads: all left; two leased: still five; one done, one exhausted: three; a
    cap bounds the count; another campaign's leads do not count."""
    camp, _ = await campaign_with_contacts(conn, 5)
    other, _ = await campaign_with_contacts(conn, 2, name="c2")
    assert await count_leads_left(conn, camp.id) == 5
    leased = await lease(conn, camp, T0, 2)
    assert await count_leads_left(conn, camp.id) == 5
    for lead, status in zip(leased, ("done", "exhausted"), strict=True):
        await conn.execute(
            "UPDATE campaign_leads SET status = $3 WHERE campaign_id = $1 AND contact_id = $2",
            camp.id,
            lead.contact_id,
            status,
        )
    assert await count_leads_left(conn, camp.id) == 3
    assert await count_leads_left(conn, camp.id, cap=2) == 2
    assert await count_leads_left(conn, other.id) == 2


@dataclass
class _Campaign:
    id: int


class Runner:
    """The part of a campaign runner the figures read: its campaign and its view."""

    def __init__(self, name: str, campaign_id: int) -> None:
        self.name = name
        self.campaign = _Campaign(campaign_id)
        self.leads_left: int | None = None
        self.in_flight = 0

    def view(self) -> dict[str, Any]:
        return {"name": self.name, "in_flight": self.in_flight, "leads_left": self.leads_left}


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_figures_are_pushed_when_they_change_and_leads_recounted_every_5_s(
    conn: asyncpg.Connection,
) -> None:
    """The first check sends the view with leads left counted; an unchanged view is not
    sent again; a change (a call placed) is; leads are counted again only after 5 s."""
    camp, _ = await campaign_with_contacts(conn, 4)
    runner = Runner("c1", camp.id)
    sent: list[dict[str, Any]] = []
    clock = Clock()
    figures = CampaignFigures(
        lambda: {"c1": runner},  # type: ignore[dict-item]
        sent.append,
        lambda: conn,
        clock=clock,
    )
    assert await figures.tick() == 1
    assert sent == [{"type": "campaign", "name": "c1", "in_flight": 0, "leads_left": 4}]
    clock.now += 1
    assert await figures.tick() == 0
    runner.in_flight = 1
    await conn.execute("UPDATE campaign_leads SET status = 'done' WHERE campaign_id = $1", camp.id)
    clock.now += 1
    assert await figures.tick() == 1
    assert sent[-1]["in_flight"] == 1
    assert sent[-1]["leads_left"] == 4  # counted 2 s ago: not yet again
    clock.now += 3
    assert await figures.tick() == 1
    assert sent[-1]["leads_left"] == 0
