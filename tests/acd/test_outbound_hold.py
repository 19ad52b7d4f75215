"""Outbound calls with an agent reserved first (previews, callbacks)."""

from __future__ import annotations

import pytest

from ccpbx.acd import (
    AcdState,
    AgentState,
    EventKind,
    IllegalTransition,
    QueueConfig,
    next_assignments,
)
from ccpbx.acd.errors import UnknownCall

from .build import profile


def _state() -> AcdState:
    state = AcdState([QueueConfig("camp", ring_timeout_s=5.0)])
    state.login(profile("a1", queues=("camp",)), 0.0)
    state.login(profile("a2", queues=("camp",)), 0.0)
    return state


def test_held_agent_takes_no_routed_call() -> None:
    """A held agent is reserved: routing gives waiting calls to the other agent only."""
    state = _state()
    events = state.hold_for_outbound("o1", "camp", "a1", 1.0)
    assert [e.kind for e in events] == [EventKind.CALL_OFFERED]
    assert state.agents["a1"].state is AgentState.RESERVED
    state.enqueue("in1", "camp", 2.0)
    assert [(a.call_id, a.agent_ids) for a in next_assignments(state, 2.0)] == [("in1", ("a2",))]
    # No ring timeout runs while the customer is being dialed.
    assert state.timers(100.0).ring_timeouts == ()


def test_answered_hold_is_put_through_and_counted() -> None:
    """Answered, the held call enters the queue's figures and connects to its agent."""
    state = _state()
    state.hold_for_outbound("o1", "camp", "a1", 1.0)
    assert [e.kind for e in state.outbound_answered("o1", 9.0)] == [EventKind.CALL_ENQUEUED]
    assert state.timers(9.0).next_at == pytest.approx(14.0)  # the connect's backstop
    kinds = [e.kind for e in state.answered("o1", "a1", 9.1)]
    assert EventKind.CALL_ANSWERED in kinds
    assert state.agents["a1"].state is AgentState.ON_CALL


def test_released_hold_frees_the_agent_without_penalty() -> None:
    """A customer who does not answer frees the agent: available, not paused."""
    state = _state()
    state.hold_for_outbound("o1", "camp", "a1", 1.0)
    events = state.release_outbound("o1", 20.0)
    assert [e.kind for e in events] == [EventKind.OFFER_RELEASED]
    assert state.agents["a1"].state is AgentState.AVAILABLE
    assert "o1" not in state.calls
    with pytest.raises(UnknownCall):
        state.release_outbound("o1", 21.0)


def test_only_an_available_member_can_be_held() -> None:
    """Holding a busy agent, or one outside the queue, is refused."""
    state = _state()
    state.login(profile("x", queues=()), 0.0)
    state.hold_for_outbound("o1", "camp", "a1", 1.0)
    with pytest.raises(IllegalTransition):
        state.hold_for_outbound("o2", "camp", "a1", 1.0)
    with pytest.raises(IllegalTransition):
        state.hold_for_outbound("o3", "camp", "x", 1.0)
    state.outbound_answered("o1", 2.0)
    with pytest.raises(IllegalTransition):
        state.outbound_answered("o1", 3.0)
    with pytest.raises(IllegalTransition):
        state.release_outbound("o1", 3.0)
