"""Direct lines: calls targeted at one agent (a personal queue), offered to nobody else."""

from __future__ import annotations

import pytest

from ccpbx.acd import (
    AcdState,
    AcdStats,
    AgentMode,
    AgentState,
    InvalidAcdInput,
    OverflowKind,
    OverflowTarget,
    QueueConfig,
    next_assignments,
)

from .build import offers, profile


def _state() -> AcdState:
    return AcdState(
        [
            QueueConfig("sales"),
            QueueConfig(
                "agent-bob",
                agent="bob",
                max_wait_s=30.0,
                overflow=OverflowTarget(OverflowKind.VOICEMAIL, "bob"),
            ),
        ]
    )


def test_targeted_call_waits_for_its_agent_while_others_are_free() -> None:
    """A call on bob's direct line is not offered to free agents who are not bob."""
    state = _state()
    state.login(profile("ann"), 0)
    state.login(profile("bob"), 0)
    state.pause("bob", "lunch", 1)
    state.enqueue("c1", "agent-bob", 2)
    assert next_assignments(state, 3) == []
    assert state.available_agents("agent-bob") == []
    assert state.agent("ann").state is AgentState.AVAILABLE
    state.unpause("bob", 5)
    assert offers(state, 5) == [("c1", ("bob",))]


def test_other_queues_keep_flowing_behind_a_targeted_call() -> None:
    """An older targeted call waiting for a busy agent does not hold up other queues."""
    state = _state()
    state.login(profile("ann"), 0)
    state.login(profile("bob"), 0)
    state.enqueue("c0", "sales", 1)
    assert offers(state, 1) == [("c0", ("ann",))]
    state.login(profile("cat"), 2)
    state.enqueue("direct", "agent-bob", 3, priority=5)
    state.pause("bob", "meeting", 3)
    state.enqueue("c2", "sales", 4)
    assert offers(state, 4) == [("c2", ("cat",))]
    assert [c.call_id for c in state.waiting("agent-bob")] == ["direct"]


def test_targeted_call_competes_with_the_agents_queues_by_priority_then_arrival() -> None:
    """Bob, free, gets the earliest of his calls: his direct call before a later sales call."""
    state = _state()
    state.enqueue("direct", "agent-bob", 1)
    state.enqueue("sales1", "sales", 2)
    state.login(profile("bob"), 3)
    assert offers(state, 3) == [("direct", ("bob",))]


def test_agent_logging_in_gets_the_waiting_targeted_call() -> None:
    """A call for an agent not logged in waits; the agent's login puts it through."""
    state = _state()
    state.login(profile("ann"), 0)
    state.enqueue("c1", "agent-bob", 1)
    assert next_assignments(state, 2) == []
    state.login(profile("bob", mode=AgentMode.PERSISTENT), 10)
    assert state.agent("bob").queues.keys() == {"sales", "agent-bob"}
    assert offers(state, 10) == [("c1", ("bob",))]


def test_direct_line_opened_while_the_agent_is_logged_in_and_busy() -> None:
    """A line configured for an agent already on a call counts him and serves him once free."""
    state = AcdState([QueueConfig("sales", wrapup_s=0)])
    state.login(profile("bob"), 0)
    state.enqueue("c0", "sales", 1)
    assert offers(state, 1) == [("c0", ("bob",))]
    state.answered("c0", "bob", 2)
    state.configure_queue(QueueConfig("agent-bob", agent="bob"))
    assert state.direct_line("bob") == "agent-bob"
    assert state.agents_by_state("agent-bob") == {AgentState.ON_CALL: 1}
    state.enqueue("c1", "agent-bob", 3)
    assert next_assignments(state, 3) == []
    state.hangup("c0", 4)
    assert offers(state, 4) == [("c1", ("bob",))]


def test_ring_no_answer_sends_the_targeted_call_back_to_wait_for_its_agent() -> None:
    """Bob lets it ring out: bob is paused "no answer", the call waits again for bob only."""
    state = _state()
    state.login(profile("ann"), 0)
    state.login(profile("bob"), 0)
    state.enqueue("c1", "agent-bob", 1)
    assert offers(state, 1) == [("c1", ("bob",))]
    state.ring_no_answer("bob", 16)
    assert state.agent("bob").pause_reason == "no answer"
    assert next_assignments(state, 17) == []
    assert [c.call_id for c in state.waiting("agent-bob")] == ["c1"]


def test_max_wait_overflows_the_targeted_call_to_the_agents_voicemail() -> None:
    """Past the line's max wait the call leaves for its overflow target, counted there."""
    state = _state()
    stats = AcdStats(state.queue)
    stats.apply_all(state.enqueue("c1", "agent-bob", 0))
    assert state.timers(29.0).overflows == ()
    assert state.timers(29.0).next_at == 30.0
    assert state.timers(30.0).overflows == ("c1",)
    events = state.overflow("c1", 30.0)
    stats.apply_all(events)
    assert (events[0].reason, events[0].target, events[0].queue) == (
        "voicemail",
        "bob",
        "agent-bob",
    )
    assert "c1" not in state.calls
    counts = stats.queue_counts("agent-bob")
    assert (counts.offered, counts.overflowed) == (1, 1)


def test_no_other_agent_may_serve_a_direct_line() -> None:
    """A profile listing another agent's direct line is refused, with nothing changed."""
    state = _state()
    with pytest.raises(InvalidAcdInput):
        state.login(profile("ann", queues=("sales", "agent-bob")), 0)
    assert "ann" not in state.agents


def test_an_agent_has_one_direct_line_and_a_line_keeps_its_agent() -> None:
    """A second line for the same agent, or a line changing hands, is refused."""
    state = _state()
    with pytest.raises(InvalidAcdInput):
        state.configure_queue(QueueConfig("bob2", agent="bob"))
    with pytest.raises(InvalidAcdInput):
        state.configure_queue(QueueConfig("agent-bob", agent="ann"))
    with pytest.raises(InvalidAcdInput):
        state.configure_queue(QueueConfig("sales", agent="ann"))
    assert state.direct_line("bob") == "agent-bob"
    assert state.direct_line("ann") is None
