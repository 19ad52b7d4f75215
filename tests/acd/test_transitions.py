"""Agent and call transitions: legality, ring-no-answer, wrap-up, abandon, overflow, timers."""

from __future__ import annotations

import pytest

from ccpbx.acd import (
    NO_ANSWER,
    AcdState,
    AgentState,
    CallStatus,
    DuplicateCall,
    EventKind,
    IllegalTransition,
    OverflowKind,
    OverflowTarget,
    QueueConfig,
    Strategy,
    UnknownQueue,
    next_assignments,
)

from .build import offers, profile


def sales(**config: object) -> AcdState:
    return AcdState([QueueConfig("sales", **config)])  # type: ignore[arg-type]


def test_an_agent_never_gets_two_calls() -> None:
    """Reserving an agent who is reserved or on a call is refused, with nothing changed."""
    state = sales()
    state.login(profile("ann"), 0)
    state.enqueue("c1", "sales", 1)
    state.enqueue("c2", "sales", 2)
    state.reserve("c1", ["ann"], 3)
    with pytest.raises(IllegalTransition) as refused:
        state.reserve("c2", ["ann"], 3)
    assert refused.value.error_id == "acd_illegal_transition"
    assert refused.value.details["state"] == "reserved"
    state.answered("c1", "ann", 4)
    with pytest.raises(IllegalTransition):
        state.reserve("c2", ["ann"], 5)
    assert state.call("c2").status is CallStatus.WAITING
    assert state.agent("ann").call_id == "c1"


@pytest.mark.parametrize(
    ("action", "when"),
    [
        ("logout", "on_call"),
        ("logout", "reserved"),
        ("unpause", "available"),
        ("wrapup_done", "available"),
        ("ring_no_answer", "on_call"),
        ("login", "available"),
    ],
)
def test_illegal_agent_transitions_are_refused(action: str, when: str) -> None:
    """Transitions not allowed from the agent's state raise and change nothing."""
    state = sales()
    state.login(profile("ann"), 0)
    if when in ("reserved", "on_call"):
        state.enqueue("c1", "sales", 1)
        state.reserve("c1", ["ann"], 1)
        if when == "on_call":
            state.answered("c1", "ann", 2)
    before = state.agent("ann").state
    if action == "login":
        with pytest.raises(IllegalTransition):
            state.login(profile("ann"), 3)
    else:
        with pytest.raises(IllegalTransition):
            getattr(state, action)("ann", 3)
    assert state.agent("ann").state is before


def test_illegal_call_transitions_are_refused() -> None:
    """Hangup of a waiting call, answer by an agent not ringing, abandon of a connected
    call and a duplicate call id are refused; an unknown queue is reported."""
    state = sales()
    state.login(profile("ann"), 0)
    state.login(profile("bob"), 0)
    state.enqueue("c1", "sales", 1)
    with pytest.raises(IllegalTransition):
        state.hangup("c1", 2)
    state.reserve("c1", ["ann"], 2)
    with pytest.raises(IllegalTransition):
        state.answered("c1", "bob", 3)
    state.answered("c1", "ann", 3)
    with pytest.raises(IllegalTransition):
        state.abandon("c1", 4)
    with pytest.raises(DuplicateCall):
        state.enqueue("c1", "sales", 5)
    with pytest.raises(UnknownQueue):
        state.enqueue("c9", "nowhere", 5)
    with pytest.raises(IllegalTransition):
        state.reserve("c1", ["bob"], 5)


def test_ring_no_answer_pauses_the_agent_and_the_next_agent_gets_the_call() -> None:
    """An agent letting the call ring out is paused "no answer"; the call returns to its
    original place (ahead of later callers) and goes to the next agent."""
    state = sales(ring_timeout_s=15)
    state.login(profile("ann"), 0)
    state.login(profile("bob"), 5)
    state.enqueue("c1", "sales", 10)
    state.enqueue("c2", "sales", 11)
    assert offers(state, 12) == [("c1", ("ann",)), ("c2", ("bob",))]
    state.answered("c2", "bob", 13)
    assert state.timers(26.9).ring_timeouts == ()
    assert state.timers(27).ring_timeouts == (("c1", "ann"),)
    events = state.ring_no_answer("ann", 27)
    assert [e.kind for e in events] == [
        EventKind.RING_NO_ANSWER,
        EventKind.AGENT_PAUSED,
        EventKind.CALL_REQUEUED,
    ]
    ann = state.agent("ann")
    assert ann.state is AgentState.PAUSED
    assert ann.pause_reason == NO_ANSWER
    state.enqueue("c3", "sales", 28)
    assert [c.call_id for c in state.waiting("sales")] == ["c1", "c3"]
    state.login(profile("cid"), 29)
    assert offers(state, 30) == [("c1", ("cid",))]
    assert state.call("c1").offered_to == ["ann", "cid"]


def test_ring_timeout_on_ring_all_pauses_every_ringing_agent() -> None:
    """A ring-all offer that nobody answers pauses every rung agent and requeues once."""
    state = sales(strategy=Strategy.RING_ALL)
    state.login(profile("ann"), 0)
    state.login(profile("bob"), 0)
    state.enqueue("c1", "sales", 1)
    offers(state, 1)
    events = state.ring_timeout("c1", 16)
    assert [e.kind for e in events].count(EventKind.CALL_REQUEUED) == 1
    assert {state.agent(a).state for a in ("ann", "bob")} == {AgentState.PAUSED}
    assert state.call("c1").status is CallStatus.WAITING


def test_wrapup_is_respected_until_done() -> None:
    """An agent in wrap-up is never picked before the wrap-up ends; the timer tells when,
    an extension moves it, and the agent is picked right after."""
    state = sales(wrapup_s=30)
    state.login(profile("ann"), 0)
    state.enqueue("c1", "sales", 1)
    offers(state, 1)
    state.answered("c1", "ann", 2)
    events = state.hangup("c1", 62)
    assert [e.kind for e in events] == [EventKind.CALL_ENDED, EventKind.WRAPUP_STARTED]
    assert events[0].duration_s == 60
    state.enqueue("c2", "sales", 63)
    assert next_assignments(state, 70) == []
    assert state.timers(70).next_at == 92
    state.extend_wrapup("ann", 15, 80)
    assert state.timers(92).wrapups_done == ()
    assert next_assignments(state, 100) == []
    assert state.timers(107).wrapups_done == ("ann",)
    done = state.wrapup_done("ann", 107)
    assert done[0].kind is EventKind.WRAPUP_ENDED
    assert done[0].duration_s == 45
    assert offers(state, 107) == [("c2", ("ann",))]


def test_zero_wrapup_makes_the_agent_available_at_hangup() -> None:
    """A queue with no wrap-up time frees the agent at hangup."""
    state = sales(wrapup_s=0)
    state.login(profile("ann"), 0)
    state.enqueue("c1", "sales", 1)
    offers(state, 1)
    state.answered("c1", "ann", 2)
    kinds = [e.kind for e in state.hangup("c1", 5)]
    assert kinds[-1] is EventKind.WRAPUP_ENDED
    assert state.agent("ann").state is AgentState.AVAILABLE
    assert state.agent("ann").last_call_end == 5


def test_pause_asked_during_a_call_applies_after_wrapup() -> None:
    """A pause asked while on a call waits for the end of the wrap-up."""
    state = sales(wrapup_s=10)
    state.login(profile("ann"), 0)
    state.enqueue("c1", "sales", 1)
    offers(state, 1)
    state.answered("c1", "ann", 2)
    assert state.pause("ann", "lunch", 3)[0].kind is EventKind.AGENT_PAUSE_PENDING
    assert state.agent("ann").state is AgentState.ON_CALL
    state.hangup("c1", 20)
    state.wrapup_done("ann", 30)
    assert state.agent("ann").state is AgentState.PAUSED
    assert state.agent("ann").pause_reason == "lunch"


def test_abandon_frees_the_place_and_releases_ringing_agents() -> None:
    """A waiting caller who hangs up leaves the queue; one hanging up while ringing
    releases the agent, who stays free with its idle time kept."""
    state = sales()
    state.enqueue("c1", "sales", 0)
    state.enqueue("c2", "sales", 1)
    event = state.abandon("c1", 30)[-1]
    assert event.kind is EventKind.CALL_ABANDONED
    assert event.wait_s == 30
    assert [c.call_id for c in state.waiting("sales")] == ["c2"]
    state.login(profile("ann"), 31)
    offers(state, 32)
    kinds = [e.kind for e in state.abandon("c2", 33)]
    assert kinds == [EventKind.OFFER_RELEASED, EventKind.CALL_ABANDONED]
    assert state.agent("ann").state is AgentState.AVAILABLE
    assert state.agent("ann").idle_since == 31
    assert "c2" not in state.calls


def test_overflow_to_another_queue_and_to_voicemail() -> None:
    """Past max wait, a call moves to the overflow queue (keeping its place by arrival)
    or leaves for voicemail; the timers list what is due."""
    state = AcdState(
        [
            QueueConfig(
                "sales", max_wait_s=60, overflow=OverflowTarget(OverflowKind.QUEUE, "backup")
            ),
            QueueConfig(
                "backup", max_wait_s=30, overflow=OverflowTarget(OverflowKind.VOICEMAIL, "9000")
            ),
        ]
    )
    state.enqueue("late", "backup", 50)
    state.enqueue("c1", "sales", 0)
    assert state.timers(59).overflows == ()
    assert state.timers(60).overflows == ("c1",)
    kinds = [e.kind for e in state.overflow("c1", 60)]
    assert kinds == [EventKind.CALL_OVERFLOWED, EventKind.CALL_ENQUEUED]
    assert [c.call_id for c in state.waiting("backup")] == ["c1", "late"]
    assert state.call("c1").enqueued_at == 60
    assert state.timers(80).overflows == ("late",)
    event = state.overflow("late", 80)[0]
    assert (event.reason, event.target) == ("voicemail", "9000")
    assert "late" not in state.calls
    assert state.timers(90).overflows == ("c1",)
    plain = sales()
    plain.enqueue("c1", "sales", 0)
    with pytest.raises(IllegalTransition):
        plain.overflow("c1", 1000)


def test_logout_during_wrapup_and_login_again() -> None:
    """An agent in wrap-up may log out; logging in again starts available, calls kept."""
    state = sales(wrapup_s=60)
    state.login(profile("ann"), 0)
    state.enqueue("c1", "sales", 1)
    offers(state, 1)
    state.answered("c1", "ann", 2)
    state.hangup("c1", 10)
    kinds = [e.kind for e in state.logout("ann", 20)]
    assert kinds == [EventKind.WRAPUP_ENDED, EventKind.AGENT_LOGGED_OUT]
    assert state.agent("ann").state is AgentState.LOGGED_OUT
    assert state.timers(100).wrapups_done == ()
    state.login(profile("ann"), 30)
    assert state.agent("ann").calls_taken == 1
    assert state.agent("ann").state is AgentState.AVAILABLE


def test_every_event_carries_its_time_and_serialises() -> None:
    """Each transition returns events stamped with ``now``; to_dict is JSON-ready."""
    state = sales()
    events = state.login(profile("ann"), 5) + state.enqueue("c1", "sales", 6)
    assert [e.at for e in events] == [5, 6]
    assert events[0].to_dict() == {
        "kind": "agent_logged_in",
        "at": 5,
        "agent_id": "ann",
        "state": "available",
    }


def test_overflow_into_an_unknown_queue_is_refused_at_configuration() -> None:
    """A queue overflowing into a queue that does not exist is refused when configured;
    queues given together may name each other in any order."""
    target = OverflowTarget(OverflowKind.QUEUE, "missing")
    with pytest.raises(UnknownQueue):
        AcdState([QueueConfig("sales", max_wait_s=10, overflow=target)])
    state = AcdState(
        [
            QueueConfig("a", max_wait_s=10, overflow=OverflowTarget(OverflowKind.QUEUE, "b")),
            QueueConfig("b"),
        ]
    )
    with pytest.raises(UnknownQueue):
        state.configure_queue(QueueConfig("c", max_wait_s=10, overflow=target))
