"""Each queue strategy on small hand-built cases, with the expected agent by name."""

from __future__ import annotations

import random

import pytest

from ccpbx.acd import (
    AcdState,
    AgentMode,
    AgentState,
    IllegalTransition,
    QueueConfig,
    Strategy,
    next_assignments,
)

from .build import connect, finish, offers, profile


def center(strategy: Strategy, *, seed: int = 0) -> AcdState:
    return AcdState([QueueConfig("sales", strategy=strategy, wrapup_s=0)], rng=random.Random(seed))


def test_longest_idle_picks_the_agent_free_the_longest() -> None:
    """Longest-idle offers to the agent free the longest, and a returning agent goes last."""
    state = center(Strategy.LONGEST_IDLE)
    state.login(profile("bob"), 5)
    state.login(profile("ann"), 0)
    state.login(profile("cid"), 10)
    state.enqueue("c1", "sales", 20)
    assert offers(state, 20) == [("c1", ("ann",))]
    state.answered("c1", "ann", 21)
    finish(state, "c1", 30)
    state.enqueue("c2", "sales", 31)
    state.enqueue("c3", "sales", 32)
    assert offers(state, 32) == [("c2", ("bob",)), ("c3", ("cid",))]


def test_fewest_calls_picks_the_agent_with_fewest_answered_calls() -> None:
    """Fewest-calls prefers the agent who answered fewest calls, whatever the idle time."""
    state = center(Strategy.FEWEST_CALLS)
    state.login(profile("ann"), 0)
    state.login(profile("bob"), 50)
    for n in range(2):
        state.enqueue(f"warm{n}", "sales", 1 + n)
        state.reserve(f"warm{n}", ["ann"], 1 + n)
        state.answered(f"warm{n}", "ann", 1 + n)
        finish(state, f"warm{n}", 2 + n)
    assert state.agent("ann").calls_taken == 2
    state.enqueue("c1", "sales", 60)
    assert offers(state, 60) == [("c1", ("bob",))]


def test_round_robin_remembers_the_last_agent() -> None:
    """Round-robin continues after the last agent given a call, even when earlier agents
    are free again, and wraps around."""
    state = center(Strategy.ROUND_ROBIN)
    for position, name in enumerate(["ann", "bob", "cid"]):
        state.login(profile(name, position=position), 0)
    picked = []
    for n in range(5):
        state.enqueue(f"c{n}", "sales", 10 + n)
        [(call_id, (agent_id,))] = offers(state, 10 + n)
        picked.append(agent_id)
        state.answered(call_id, agent_id, 10 + n)
        finish(state, call_id, 10.5 + n)
    assert picked == ["ann", "bob", "cid", "ann", "bob"]


def test_round_robin_skips_agents_that_are_busy() -> None:
    """Round-robin skips a busy agent and takes the next free one in order."""
    state = center(Strategy.ROUND_ROBIN)
    for position, name in enumerate(["ann", "bob", "cid"]):
        state.login(profile(name, position=position), 0)
    state.enqueue("c0", "sales", 1)
    assert offers(state, 1) == [("c0", ("ann",))]
    state.pause("bob", "coffee", 2)
    state.enqueue("c1", "sales", 3)
    assert offers(state, 3) == [("c1", ("cid",))]


def test_linear_always_starts_from_the_first_agent() -> None:
    """Linear offers to the first free agent in queue order, whoever was idle longer."""
    state = center(Strategy.LINEAR)
    state.login(profile("cid", position=2), 0)
    state.login(profile("bob", position=1), 1)
    state.login(profile("ann", position=0), 2)
    for n in range(3):
        state.enqueue(f"c{n}", "sales", 10 + 10 * n)
        assert offers(state, 10 + 10 * n) == [(f"c{n}", ("ann",))]
        state.answered(f"c{n}", "ann", 11 + 10 * n)
        finish(state, f"c{n}", 12 + 10 * n)


def test_random_uses_the_injected_rng() -> None:
    """Random draws from the injected RNG among eligible agents sorted by id: the same
    seed gives the same pick, and every agent gets picked over many draws."""
    names = ["ann", "bob", "cid"]
    for seed in range(6):
        state = center(Strategy.RANDOM, seed=seed)
        for name in names:
            state.login(profile(name), 0)
        state.enqueue("c1", "sales", 1)
        expected = names[random.Random(seed).randrange(3)]
        assert offers(state, 1) == [("c1", (expected,))]
    seen = set()
    state = center(Strategy.RANDOM, seed=1)
    for name in names:
        state.login(profile(name), 0)
    for n in range(40):
        state.enqueue(f"d{n}", "sales", n)
        [(call_id, (agent_id,))] = offers(state, n)
        seen.add(agent_id)
        state.abandon(call_id, n + 0.5)
    assert seen == set(names)


def test_ring_all_rings_every_eligible_ring_agent_and_first_answer_wins() -> None:
    """Ring-all offers to every eligible ring-mode agent; the first to answer gets the call,
    the others are released with their idle time kept, and a late answer is refused."""
    state = center(Strategy.RING_ALL)
    state.login(profile("ann"), 0)
    state.login(profile("bob"), 3)
    state.login(profile("cid", {"fr": 1}), 4)
    state.login(profile("dan", mode=AgentMode.PERSISTENT), 1)
    state.enqueue("c1", "sales", 10)
    assert offers(state, 10) == [("c1", ("ann", "bob", "cid"))]
    assert state.agent("dan").state is AgentState.AVAILABLE
    events = state.answered("c1", "bob", 12)
    assert [e.kind.value for e in events] == ["offer_released", "offer_released", "call_answered"]
    assert state.agent("bob").state is AgentState.ON_CALL
    for name, idle in (("ann", 0), ("cid", 4)):
        agent = state.agent(name)
        assert agent.state is AgentState.AVAILABLE
        assert agent.idle_since == idle
    with pytest.raises(IllegalTransition):
        state.answered("c1", "ann", 12.5)


def test_ring_all_with_only_persistent_agents_puts_through_to_one() -> None:
    """A ring-all queue with only persistent agents eligible puts the call through to the
    one idle longest (a connected phone cannot ring)."""
    state = center(Strategy.RING_ALL)
    state.login(profile("ann", mode=AgentMode.PERSISTENT), 5)
    state.login(profile("bob", mode=AgentMode.PERSISTENT), 2)
    state.enqueue("c1", "sales", 10)
    assert offers(state, 10) == [("c1", ("bob",))]


def test_lower_penalty_tier_is_served_first() -> None:
    """Agents of a lower penalty take calls before higher-penalty agents idle longer."""
    state = center(Strategy.LONGEST_IDLE)
    state.login(profile("backup", penalty=1), 0)
    state.login(profile("main", penalty=0), 50)
    state.enqueue("c1", "sales", 60)
    state.enqueue("c2", "sales", 61)
    assert offers(state, 61) == [("c1", ("main",)), ("c2", ("backup",))]


def test_persistent_agent_is_connected_like_any_other() -> None:
    """A persistent-mode agent is offered calls by the strategy like a ring-mode one."""
    state = center(Strategy.LONGEST_IDLE)
    state.login(profile("ann", mode=AgentMode.PERSISTENT), 0)
    state.enqueue("c1", "sales", 1)
    assert [a.agent_ids for a in connect(state, 1)] == [("ann",)]
    assert state.agent("ann").state is AgentState.ON_CALL


def test_strategy_change_rebuilds_the_order() -> None:
    """Reconfiguring a queue's strategy takes effect on the next decision."""
    state = center(Strategy.LONGEST_IDLE)
    state.login(profile("zed", position=0), 0)
    state.login(profile("amy", position=1), 5)
    state.enqueue("c1", "sales", 10)
    assert [a.agent_ids for a in next_assignments(state, 10)] == [("zed",)]
    state.configure_queue(QueueConfig("sales", strategy=Strategy.LINEAR))
    assert [a.agent_ids for a in next_assignments(state, 10)] == [("zed",)]
    state.configure_queue(QueueConfig("sales", strategy=Strategy.FEWEST_CALLS))
    state.configure_queue(QueueConfig("sales", strategy=Strategy.RANDOM))
    picks = {next_assignments(state, 10)[0].agent_ids for _ in range(30)}
    assert picks == {("zed",), ("amy",)}
