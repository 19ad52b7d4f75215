"""Live statistics computed from known timelines."""

from __future__ import annotations

import pytest

from ccpbx.acd import AcdEvent, AcdState, AcdStats, QueueConfig, assign

from .build import offers, profile


def run_timeline(interval_s: float = 60.0) -> tuple[AcdState, AcdStats]:
    """Four callers on one queue (service level 20 s, short abandon 5 s, wrap-up 10 s):
    c1 waits 10 s, talks 60 s; c2 waits 30 s, talks 60 s; c3 leaves after 3 s;
    c4 leaves after 30 s."""
    state = AcdState([QueueConfig("sales", service_level_s=20, short_abandon_s=5, wrapup_s=10)])
    stats = AcdStats(state.queue, interval_s=interval_s)

    def feed(events: list[AcdEvent]) -> None:
        stats.apply_all(events)

    feed(state.enqueue("c1", "sales", 0))
    feed(state.enqueue("c2", "sales", 5))
    feed(state.login(profile("ann"), 10))
    for _, events in assign(state, 10):
        feed(events)
    feed(state.answered("c1", "ann", 10))
    feed(state.login(profile("bob"), 35))
    for _, events in assign(state, 35):
        feed(events)
    feed(state.answered("c2", "bob", 35))
    feed(state.enqueue("c3", "sales", 40))
    feed(state.abandon("c3", 43))
    feed(state.enqueue("c4", "sales", 50))
    feed(state.hangup("c1", 70))
    feed(state.wrapup_done("ann", 80))
    feed(state.abandon("c4", 80))
    feed(state.hangup("c2", 95))
    feed(state.wrapup_done("bob", 105))
    return state, stats


def test_service_level_asa_aht_and_abandons_from_a_known_timeline() -> None:
    """SL = answered within 20 s / (answered + abandoned), ASA = mean wait of answered,
    AHT = (talk + wrap-up) / handled; a 3 s abandon is short and left out."""
    _, stats = run_timeline()
    total = stats.queue_counts("sales")
    assert (total.offered, total.answered, total.answered_in_sl) == (4, 2, 1)
    assert (total.abandoned, total.short_abandoned) == (1, 1)
    assert total.service_level == pytest.approx(1 / 3)
    assert total.asa_s == pytest.approx(20.0)
    assert total.aht_s == pytest.approx(70.0)
    ann = stats.agent_counts("ann")
    assert (ann.offered, ann.answered, ann.handled) == (1, 1, 1)
    assert (ann.talk_s, ann.wrapup_s) == (60, 10)


def test_interval_buckets_are_keyed_by_start_and_popped_when_closed() -> None:
    """Counts fall in the interval of each event's time; closed intervals are handed out
    once, oldest first, and the totals stay."""
    _, stats = run_timeline(interval_s=60)
    intervals = stats.queue_intervals("sales")
    assert sorted(intervals) == [0, 60]
    first, second = intervals[0], intervals[60]
    assert (first.offered, first.answered, first.short_abandoned, first.abandoned) == (4, 2, 1, 0)
    assert (second.abandoned, second.handled, second.talk_s, second.wrapup_s) == (1, 2, 120, 20)
    queues, agents = stats.pop_closed_intervals(119)
    assert [(q, start) for q, start, _ in queues] == [("sales", 0)]
    assert {a for a, _, _ in agents} == {"ann", "bob"}
    queues, _ = stats.pop_closed_intervals(130)
    assert [(q, start) for q, start, _ in queues] == [("sales", 60)]
    assert stats.pop_closed_intervals(130) == ([], [])
    assert stats.queue_counts("sales").offered == 4


def test_default_interval_is_fifteen_minutes() -> None:
    """Intervals default to 15 minutes, keyed by their start."""
    stats = AcdStats(AcdState([QueueConfig("sales")]).queue)
    assert stats.interval_of(899.9) == 0
    assert stats.interval_of(900) == 900
    assert stats.interval_of(2000) == 1800


def test_live_snapshot_has_waiting_longest_wait_and_agents_by_state() -> None:
    """The queue snapshot reports waiting callers, the longest wait and agents by state."""
    state = AcdState([QueueConfig("sales"), QueueConfig("support")])
    stats = AcdStats(state.queue)
    for name in ("ann", "bob", "cid"):
        stats.apply_all(state.login(profile(name, queues=["sales", "support"]), 0))
    stats.apply_all(state.pause("cid", "lunch", 1))
    stats.apply_all(state.enqueue("c1", "sales", 10))
    offers(state, 10)
    stats.apply_all(state.enqueue("c2", "sales", 20))
    stats.apply_all(state.enqueue("c3", "sales", 25))
    state.pause("bob", "coffee", 26)
    snap = stats.queue_stats(state, "sales", 40)
    assert snap.waiting == 2
    assert snap.longest_wait_s == 20
    assert snap.agents == {"reserved": 1, "paused": 2}
    assert stats.queue_stats(state, "support", 40).waiting == 0
    agent = stats.agent_stats(state, "ann", 40)
    assert (agent.state, agent.since) == ("reserved", 10)
