"""Calls found again after a restart: the ``restore`` transition and the statistics."""

from __future__ import annotations

import pytest

from ccpbx.acd import (
    AcdEvent,
    AcdState,
    AcdStats,
    AgentMode,
    AgentState,
    CallStatus,
    DuplicateCall,
    EventKind,
    IllegalTransition,
    QueueConfig,
    RelaxationStep,
    assign,
)
from ccpbx.acd.stats import QueueCounts

from .build import profile

SALES = QueueConfig("sales", wrapup_s=0, short_abandon_s=5, service_level_s=20)


def counted(stats: AcdStats, queue: str = "sales") -> tuple[int, int, int, int, int]:
    c = stats.queue_counts(queue)
    return (c.offered, c.answered, c.abandoned, c.short_abandoned, c.handled)


def first_life() -> tuple[AcdState, AcdStats, list[AcdEvent]]:
    """Before the restart: c1 answered and ended, c2 abandoned after 10 s, c3 talking to
    ann, c4 and c5 waiting (c4 first, with priority 1 and a skill)."""
    state = AcdState([SALES])
    stats = AcdStats(state.queue, interval_s=60)
    log: list[AcdEvent] = []

    def feed(events: list[AcdEvent]) -> None:
        stats.apply_all(events)
        log.extend(events)

    feed(state.login(profile("ann", mode=AgentMode.PERSISTENT), 0))
    feed(state.enqueue("c1", "sales", 1))
    for _, events in assign(state, 2):
        feed(events)
    feed(state.answered("c1", "ann", 2))
    feed(state.hangup("c1", 30))
    feed(state.enqueue("c2", "sales", 31))
    feed(state.abandon("c2", 41))
    feed(state.enqueue("c3", "sales", 50))
    for _, events in assign(state, 51):
        feed(events)
    feed(state.answered("c3", "ann", 51))
    feed(state.enqueue("c4", "sales", 60, priority=1, required={"fr": 1}))
    feed(state.enqueue("c5", "sales", 65))
    return state, stats, log


def test_a_restart_leaves_offered_answered_and_abandoned_counts_unchanged() -> None:
    """A new state restores the talking and waiting calls; new counters seeded from the
    stored events count the same offered, answered, abandoned and handled calls, and
    the restored calls go on being counted once when they end or are answered."""
    old, before, log = first_life()
    assert counted(before) == (5, 2, 1, 0, 1)

    new = AcdState([SALES])
    after = AcdStats(new.queue, interval_s=60)
    after.apply_all(log)  # what the event log in PostgreSQL holds
    restored = new.login(profile("ann", mode=AgentMode.PERSISTENT), 100)
    restored += new.restore("c3", "sales", 100, enqueued_at=50, agent_id="ann", answered_at=51)
    for cid in ("c4", "c5"):
        call = old.call(cid)
        restored += new.restore(
            cid,
            "sales",
            100,
            enqueued_at=call.enqueued_at,
            arrived_at=call.arrived_at,
            priority=call.priority,
            required=call.required,
        )
    after.apply_all(restored)
    assert counted(after) == counted(before)
    assert [e.kind for e in restored if e.call_id] == [EventKind.CALL_RESTORED] * 3
    assert new.agent("ann").state is AgentState.ON_CALL
    assert new.call("c3").status is CallStatus.CONNECTED
    assert [c.call_id for c in new.waiting("sales")] == ["c4", "c5"]
    assert new.longest_wait("sales", 100) == 40

    # Life goes on: c3 ends (talk counted from its first answer), ann takes c5 (which
    # waited since 65), c4 (needs "fr") leaves.
    after.apply_all(new.hangup("c3", 110))
    assert after.queue_counts("sales").talk_s == pytest.approx(28 + 59)
    [(assignment, events)] = assign(new, 112)
    after.apply_all(events)
    assert assignment.call_id == "c5"
    after.apply_all(new.answered("c5", "ann", 112))
    after.apply_all(new.abandon("c4", 113))
    total = after.queue_counts("sales")
    assert counted(after) == (5, 3, 2, 0, 2)
    assert total.wait_answered_s == pytest.approx(1 + 1 + 47)


def test_a_restored_caller_keeps_its_place_ahead_of_later_callers() -> None:
    """Restore orders by arrival: a caller restored after a newer one is still served
    first, and its skill relaxation counts from its original arrival."""
    relaxed = QueueConfig("sales", relaxation=(RelaxationStep(30, "fr", optional=True),))
    state = AcdState([relaxed])
    state.enqueue("new", "sales", 100)
    state.restore("old", "sales", 100, enqueued_at=80, arrived_at=60, required={"fr": 2})
    assert [c.call_id for c in state.waiting("sales")] == ["old", "new"]
    state.login(profile("bob"), 100)
    [(assignment, _)] = assign(state, 100)
    assert assignment.call_id == "old"  # waited 40 s: "fr" is no longer required
    assert state.call("old").enqueued_at == 80


def test_restore_refuses_what_cannot_be() -> None:
    """A call already known, or an agent not available, is refused with nothing changed;
    times after ``now`` are taken as ``now``."""
    state = AcdState([SALES])
    state.enqueue("c1", "sales", 0)
    with pytest.raises(DuplicateCall):
        state.restore("c1", "sales", 5)
    state.login(profile("ann"), 0)
    state.pause("ann", "lunch", 1)
    with pytest.raises(IllegalTransition):
        state.restore("c2", "sales", 5, agent_id="ann")
    assert "c2" not in state.calls
    [event] = state.restore("c3", "sales", 5, enqueued_at=9, arrived_at=12)
    assert (state.call("c3").enqueued_at, state.call("c3").arrived_at) == (5, 5)
    assert event.wait_s == 0


def test_seed_adds_stored_totals_to_the_counters() -> None:
    """Seeded totals (the stored intervals) add to what events count afterwards."""
    state = AcdState([SALES])
    stats = AcdStats(state.queue)
    stats.seed({"sales": QueueCounts(offered=7, answered=5, talk_s=300.0)})
    stats.apply_all(state.enqueue("c1", "sales", 0))
    total = stats.queue_counts("sales")
    assert (total.offered, total.answered, total.talk_s) == (8, 5, 300.0)
