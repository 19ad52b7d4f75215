"""What a waiting caller is told: position, estimated wait, and the prompts for them."""

from __future__ import annotations

import pytest

from ccpbx.acd import (
    AcdState,
    AgentState,
    QueueConfig,
    Say,
    announcement,
    assign,
    estimated_wait,
    position,
    working_agents,
)

from .build import profile


def test_estimated_wait_is_position_times_aht_over_working_agents() -> None:
    """EWT = position x AHT / agents; no estimate without an AHT or a working agent."""
    assert estimated_wait(3, 120.0, 2) == pytest.approx(180.0)
    assert estimated_wait(1, 90.0, 3) == pytest.approx(30.0)
    assert estimated_wait(2, None, 2) is None
    assert estimated_wait(2, 60.0, 0) is None
    assert estimated_wait(0, 60.0, 1) is None


def test_working_agents_leave_out_paused_ones() -> None:
    """Available, reserved, on-call and wrap-up agents work; paused ones do not."""
    by_state = {
        AgentState.AVAILABLE: 1,
        AgentState.ON_CALL: 2,
        AgentState.WRAP_UP: 1,
        AgentState.RESERVED: 1,
        AgentState.PAUSED: 4,
    }
    assert working_agents(by_state) == 5


def test_position_follows_the_serving_order_and_ends_when_offered() -> None:
    """Position counts priority first, then arrival; an offered call has none."""
    state = AcdState([QueueConfig("sales")])
    state.enqueue("a", "sales", 0)
    state.enqueue("b", "sales", 1)
    state.enqueue("vip", "sales", 2, priority=5)
    assert [position(state, c) for c in ("vip", "a", "b")] == [1, 2, 3]
    state.login(profile("ann"), 3)
    assign(state, 3)
    assert position(state, "vip") is None
    assert [position(state, c) for c in ("a", "b")] == [1, 2]
    assert position(state, "nobody") is None


def files(steps: list[Say]) -> list[str | int]:
    return [s.number if s.number is not None else s.file for s in steps]


def test_announcement_prompts() -> None:
    """Next in line hears "you are next"; later callers their number; the wait is said
    in whole minutes rounded up ("less than 1 minute" under 60 s); then thanks."""
    assert files(announcement(1, None, say_position=True, say_wait=True)) == [
        "queue-youarenext",
        "queue-thankyou",
    ]
    assert files(announcement(3, 130.0, say_position=True, say_wait=True)) == [
        "queue-thereare",
        3,
        "queue-callswaiting",
        "queue-holdtime",
        3,
        "queue-minutes",
        "queue-thankyou",
    ]
    assert files(announcement(2, 45.0, say_position=False, say_wait=True)) == [
        "queue-holdtime",
        "queue-less-than",
        1,
        "queue-minute",
        "queue-thankyou",
    ]
    assert files(announcement(2, 60.0, say_position=False, say_wait=True))[1:3] == [
        1,
        "queue-minute",
    ]
    assert announcement(2, 60.0, say_position=False, say_wait=False) == []
    assert announcement(None, None, say_position=True, say_wait=True) == []
