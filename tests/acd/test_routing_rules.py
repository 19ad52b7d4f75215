"""Skill matching, relaxation at fixed clocks, caller priority and order across queues."""

from __future__ import annotations

import pytest

from ccpbx.acd import (
    AcdState,
    AgentState,
    IllegalTransition,
    QueueConfig,
    RelaxationStep,
    next_assignments,
    spare_agents,
)

from .build import offers, profile


def test_required_skill_and_minimum_level() -> None:
    """A call goes only to an agent having every required skill at its minimum level."""
    state = AcdState([QueueConfig("sales")])
    state.login(profile("novice", {"fr": 1, "billing": 5}), 0)
    state.login(profile("nofr", {"billing": 5}), 0)
    state.login(profile("expert", {"fr": 3, "billing": 2}), 10)
    state.enqueue("c1", "sales", 20, required={"fr": 2, "billing": 2})
    assert offers(state, 20) == [("c1", ("expert",))]


def test_no_eligible_agent_leaves_the_call_waiting() -> None:
    """A call nobody qualifies for keeps waiting; the unqualified agents stay free."""
    state = AcdState([QueueConfig("sales")])
    state.login(profile("ann", {"fr": 1}), 0)
    state.enqueue("c1", "sales", 1, required={"de": 1})
    assert next_assignments(state, 2) == []
    assert [c.call_id for c in state.waiting("sales")] == ["c1"]
    assert spare_agents(state, 2) == ["ann"]


def test_reserve_refuses_an_agent_lacking_a_skill() -> None:
    """The state itself refuses to offer a call to an agent below the required level."""
    state = AcdState([QueueConfig("sales")])
    state.login(profile("ann", {"fr": 1}), 0)
    state.enqueue("c1", "sales", 1, required={"fr": 2})
    with pytest.raises(IllegalTransition):
        state.reserve("c1", ["ann"], 1)
    assert state.agent("ann").state is AgentState.AVAILABLE


def test_relaxation_lowers_the_level_then_drops_the_skill_at_fixed_clocks() -> None:
    """After 30 s the required level drops to 1, after 60 s the language is optional."""
    relax = (
        RelaxationStep(30.0, skill="fr", min_level=1),
        RelaxationStep(60.0, skill="fr", optional=True),
    )
    state = AcdState([QueueConfig("sales", relaxation=relax)])
    state.login(profile("weak", {"fr": 1, "billing": 3}), 0)
    state.login(profile("none", {"billing": 3}), 0)
    state.enqueue("c1", "sales", 100, required={"fr": 3, "billing": 2})
    assert next_assignments(state, 129.9) == []
    assert [a.agent_ids for a in next_assignments(state, 130)] == [("weak",)]
    state.pause("weak", "meeting", 130)
    assert next_assignments(state, 159.9) == []
    assert [a.agent_ids for a in next_assignments(state, 160)] == [("none",)]
    assert state.timers(100).next_at == 130


def test_relaxation_without_skill_applies_to_every_required_skill() -> None:
    """A step naming no skill caps every required level."""
    state = AcdState([QueueConfig("sales", relaxation=(RelaxationStep(10.0, min_level=1),))])
    state.login(profile("ann", {"fr": 1, "billing": 1}), 0)
    state.enqueue("c1", "sales", 0, required={"fr": 3, "billing": 2})
    assert next_assignments(state, 9) == []
    assert len(next_assignments(state, 10)) == 1


def test_relaxation_counts_from_arrival_across_an_overflow() -> None:
    """Relaxation counts the caller's whole wait, also after overflowing to a queue."""
    from ccpbx.acd import OverflowKind, OverflowTarget

    state = AcdState(
        [
            QueueConfig(
                "first", max_wait_s=20.0, overflow=OverflowTarget(OverflowKind.QUEUE, "second")
            ),
            QueueConfig("second", relaxation=(RelaxationStep(30.0, optional=True),)),
        ]
    )
    state.login(profile("ann", {}, queues=["second"]), 0)
    state.enqueue("c1", "first", 0, required={"fr": 1})
    assert state.timers(20).overflows == ("c1",)
    state.overflow("c1", 20)
    assert next_assignments(state, 29) == []
    assert [a.agent_ids for a in next_assignments(state, 30)] == [("ann",)]


def test_higher_priority_is_served_first_then_longest_wait() -> None:
    """A higher-priority caller goes before older ones; equal priorities go by wait."""
    state = AcdState([QueueConfig("sales")])
    state.enqueue("old", "sales", 0)
    state.enqueue("older_vip", "sales", 1, priority=1)
    state.enqueue("middle", "sales", 2)
    state.enqueue("vip", "sales", 3, priority=1)
    state.login(profile("ann"), 4)
    assert [c.call_id for c in state.waiting("sales")] == ["older_vip", "vip", "old", "middle"]
    assert offers(state, 5) == [("older_vip", ("ann",))]
    state.login(profile("bob"), 6)
    state.login(profile("cid"), 7)
    assert offers(state, 8) == [("vip", ("bob",)), ("old", ("cid",))]


def test_order_holds_across_queues_sharing_an_agent() -> None:
    """An agent serving two queues takes the longest-waiting caller of either."""
    state = AcdState([QueueConfig("sales"), QueueConfig("support")])
    state.enqueue("s1", "sales", 5)
    state.enqueue("t1", "support", 3)
    state.enqueue("t2", "support", 8)
    state.login(profile("ann", queues=["sales", "support"]), 10)
    assert offers(state, 10) == [("t1", ("ann",))]


def test_a_skilled_agent_is_kept_for_the_caller_only_it_can_serve() -> None:
    """Calls are served in order: the first caller takes the first agent the strategy
    gives, even if that leaves a later, pickier caller waiting (no look-ahead)."""
    state = AcdState([QueueConfig("sales")])
    state.login(profile("polyglot", {"fr": 1, "de": 1}), 0)
    state.login(profile("french", {"fr": 1}), 5)
    state.enqueue("c_fr", "sales", 10, required={"fr": 1})
    state.enqueue("c_de", "sales", 11, required={"de": 1})
    assert offers(state, 12) == [("c_fr", ("polyglot",))]
    assert [c.call_id for c in state.waiting("sales")] == ["c_de"]


def test_agent_only_serves_its_queues() -> None:
    """An agent is never offered a call of a queue it does not serve."""
    state = AcdState([QueueConfig("sales"), QueueConfig("support")])
    state.login(profile("ann", queues=["sales"]), 0)
    state.enqueue("t1", "support", 1)
    assert next_assignments(state, 2) == []
    with pytest.raises(IllegalTransition):
        state.reserve("t1", ["ann"], 2)


def test_spare_agents_excludes_agents_inbound_callers_need() -> None:
    """For blending: agents an inbound caller would get now are not spare; the others
    are, and asking changes nothing."""
    state = AcdState([QueueConfig("sales")])
    state.login(profile("ann", {"fr": 1}), 0)
    state.login(profile("bob", {"de": 1}), 1)
    state.login(profile("cid", {"fr": 1}), 2)
    state.enqueue("c1", "sales", 3, required={"fr": 1})
    assert spare_agents(state, 4) == ["bob", "cid"]
    assert state.agent("ann").state is AgentState.AVAILABLE
    assert [a.agent_ids for a in next_assignments(state, 4)] == [("ann",)]


def test_routing_stays_right_after_the_agent_log_is_trimmed() -> None:
    """Hundreds of pause/unpause cycles trim the index's agent log; a memo older than the
    log falls back to a full scan, so a newly qualified agent still gets the caller."""
    state = AcdState([QueueConfig("sales")])
    state.login(profile("ann", {"fr": 1}), 0)
    state.login(profile("bob", {"fr": 2}), 0)
    state.enqueue("c_de", "sales", 1, required={"de": 1})
    now = 2.0
    for _ in range(400):
        assert next_assignments(state, now) == []
        state.pause("ann", "coffee", now)
        state.unpause("ann", now + 0.5)
        now += 1
    assert state._queues["sales"].agents.log_base > 0
    state.enqueue("c_fr", "sales", now, required={"fr": 2})
    assert [a.agent_ids for a in next_assignments(state, now)] == [("bob",)]
    state.login(profile("dan", {"de": 1}), now)
    assert [(a.call_id, a.agent_ids) for a in next_assignments(state, now)] == [
        ("c_de", ("dan",)),
        ("c_fr", ("bob",)),
    ]


def test_an_agent_coming_and_going_between_passes_keeps_the_relaxation_deadline() -> None:
    """An agent available and gone again between two passes changes nothing, and the
    caller is still served when its relaxation step comes."""
    state = AcdState([QueueConfig("sales", relaxation=(RelaxationStep(20.0, min_level=1),))])
    state.login(profile("weak", {"fr": 1}), 0)
    state.login(profile("away", {"de": 1}), 0, paused="break")
    state.enqueue("c1", "sales", 10, required={"fr": 2})
    assert next_assignments(state, 11) == []
    state.unpause("away", 12)
    state.pause("away", "break", 12)
    assert next_assignments(state, 13) == []
    assert [a.agent_ids for a in next_assignments(state, 30)] == [("weak",)]
