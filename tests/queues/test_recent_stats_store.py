"""What a restarted service reads back for the wallboard's windows, from real
PostgreSQL: the day's stored intervals, and the stored events of the last half hour
that lie before the end of the last stored interval (later ones come with the totals)."""

from __future__ import annotations

import asyncpg

from ccpbx.acd import AcdEvent, AcdStats, EventKind, QueueConfig
from ccpbx.queues import store

T = 1_800_000_000.0  # a 15-minute boundary


def answered(at: float) -> AcdEvent:
    return AcdEvent(EventKind.CALL_ANSWERED, at, queue="sales", agent_id="ann", wait_s=5.0)


async def test_load_recent_gives_todays_intervals_and_the_half_hour_before_the_cutoff(
    pool: asyncpg.Pool,
) -> None:
    """Stored: answers at T-2000 (yesterday's side of the cut), T-1000, T-100 and T+60;
    intervals closed up to T. Read back from T-1800 (intervals) and T-1200 (events):
    the intervals starting at T-1800 and T-900 (not T-2700's), and the events T-1000
    and T-100 only (T+60 is after the cutoff, T-2000 before the window)."""
    ran = AcdStats(lambda q: QueueConfig(q))
    events = [answered(T - 2000), answered(T - 1000), answered(T - 100), answered(T + 60)]
    ran.apply_all(events)
    closed, agents = ran.pop_closed_intervals(T + 100)
    await store.insert_events(pool, events)
    await store.insert_intervals(pool, ran.interval_s, closed, agents)
    intervals, recent = await store.load_recent(
        pool, intervals_since=T - 1800, events_since=T - 1200
    )
    assert sorted(intervals["sales"]) == [T - 1800, T - 900]
    assert [c.answered for c in intervals["sales"].values()] == [1, 1]
    assert [e.at for e in recent] == [T - 1000, T - 100]
