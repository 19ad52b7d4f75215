"""The wallboard's windows: "today" (since local midnight) and "last 30 min", on
hand-set event times (the event clock is the injected clock)."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from ccpbx.acd import AcdEvent, AcdStats, EventKind, QueueConfig
from ccpbx.acd.stats import day_start

NY = zoneinfo.ZoneInfo("America/New_York")
# 2026-03-10 05:00 UTC is local midnight in New York (EDT, UTC-4, from 8 March).
MIDNIGHT_NY = dt.datetime(2026, 3, 10, 4, 0, tzinfo=dt.UTC).timestamp()


def stats() -> AcdStats:
    return AcdStats(lambda q: QueueConfig(q, service_level_s=20, short_abandon_s=5))


def answered(at: float, wait_s: float) -> AcdEvent:
    return AcdEvent(EventKind.CALL_ANSWERED, at, queue="sales", agent_id="ann", wait_s=wait_s)


def abandoned(at: float, wait_s: float) -> AcdEvent:
    return AcdEvent(EventKind.CALL_ABANDONED, at, queue="sales", wait_s=wait_s)


def test_day_start_is_local_midnight_in_the_zone() -> None:
    """Midnight in New York is 04:00 UTC in summer time, 05:00 in winter (also on the
    day the clocks change); UTC is UTC."""
    assert day_start(MIDNIGHT_NY + 3600, NY) == MIDNIGHT_NY
    assert day_start(MIDNIGHT_NY - 1, NY) == MIDNIGHT_NY - 86400
    # 8 March, the 23-hour day summer time starts, began at 00:00 EST (05:00 UTC).
    assert day_start(MIDNIGHT_NY - 86400 - 1, NY) == MIDNIGHT_NY - 2 * 86400 + 3600
    winter = dt.datetime(2026, 1, 15, 5, 0, tzinfo=dt.UTC).timestamp()
    assert day_start(winter + 7200, NY) == winter
    assert day_start(winter + 7200, dt.UTC) == dt.datetime(2026, 1, 15, tzinfo=dt.UTC).timestamp()


def test_today_counts_intervals_since_midnight_closed_ones_included() -> None:
    """An answer at 23:50 local is yesterday's; answers after midnight count today, also
    once their interval is closed and handed out for storage."""
    s = stats()
    s.apply(answered(MIDNIGHT_NY - 600, 5))  # 23:50 local, yesterday
    s.apply(answered(MIDNIGHT_NY + 60, 10))  # 00:01, in SL
    s.apply(answered(MIDNIGHT_NY + 1000, 40))  # 00:16, out of SL
    s.apply(abandoned(MIDNIGHT_NY + 1100, 30))
    now = MIDNIGHT_NY + 2000
    stored, _ = s.pop_closed_intervals(now)
    assert [start for _, start, _ in stored] == [MIDNIGHT_NY - 900, MIDNIGHT_NY, MIDNIGHT_NY + 900]
    today = s.since_counts("sales", day_start(now, NY), now)
    assert (today.answered, today.answered_in_sl, today.abandoned) == (2, 1, 1)
    assert today.service_level == pytest.approx(1 / 3)
    assert today.asa_s == pytest.approx(25.0)
    assert today.abandon_rate == pytest.approx(1 / 3)
    assert s.queue_counts("sales").answered == 3


def test_last_30_minutes_slides_by_the_minute() -> None:
    """An answer 31 minutes ago is out of the window, one 29 minutes ago in; a minute
    later the latter drops out too."""
    s = stats()
    t0 = 1_800_000_000.0  # on a minute boundary
    s.apply(answered(t0 - 31 * 60, 10))
    s.apply(answered(t0 - 29 * 60, 30))
    s.apply(abandoned(t0 - 60, 30))
    now = t0 + 5
    recent = s.recent_counts("sales", now)
    assert (recent.answered, recent.abandoned) == (1, 1)
    assert recent.asa_s == pytest.approx(30.0)
    assert recent.service_level == 0.0
    later = s.recent_counts("sales", now + 60)
    assert (later.answered, later.abandoned) == (0, 1)


def test_last_30_minutes_reach_across_an_interval_boundary() -> None:
    """The window spans the closed 15-minute interval and the current one alike."""
    s = stats()
    boundary = 1_800_000_900.0  # a 15-minute boundary
    s.apply(answered(boundary - 300, 10))
    s.apply(answered(boundary + 120, 10))
    s.pop_closed_intervals(boundary + 200)
    recent = s.recent_counts("sales", boundary + 200)
    assert (recent.answered, recent.answered_in_sl) == (2, 2)
    assert s.since_counts("sales", boundary, boundary + 200).answered == 1


def test_restored_windows_come_from_stored_intervals_and_events() -> None:
    """A restarted service seeded with today's stored intervals and the last half hour's
    events shows the same windows as the one that ran."""
    ran = stats()
    now = MIDNIGHT_NY + 3 * 3600 + 30
    events = [answered(MIDNIGHT_NY + 100, 10), answered(now - 600, 50), abandoned(now - 300, 9)]
    ran.apply_all(events)
    stored, _ = ran.pop_closed_intervals(now)
    again = stats()
    again.seed_intervals("sales", {start: counts for _, start, counts in stored})
    again.apply_recent(e for e in events if e.at >= now - 1860)
    for s in (ran, again):
        today = s.since_counts("sales", day_start(now, NY), now)
        recent = s.recent_counts("sales", now)
        assert (today.answered, today.abandoned) == (2, 1)
        assert (recent.answered, recent.abandoned) == (1, 1)
