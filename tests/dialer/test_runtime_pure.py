"""The campaign runtime's pure parts: the call book, the abandon ledger, the pool view
pacing sees (blending), and how lost attempts are settled."""

from __future__ import annotations

import datetime as dt
import uuid
from zoneinfo import ZoneInfo

import pytest

from ccpbx.acd import AcdState, AgentMode, QueueConfig
from ccpbx.dialer.runtime.book import AbandonLedger, CallBook, OutboundCall, Phase
from ccpbx.dialer.runtime.gate import Blocked, dial_blocker
from ccpbx.dialer.runtime.settle import outcome_after_restart, settled_outcome
from ccpbx.dialer.runtime.snapshot import pacing_snapshot, pool_view
from tests.acd.build import profile


def _call(placed_at: float = 0.0) -> OutboundCall:
    return OutboundCall(uuid.uuid4(), 1, "+15550100001", placed_at=placed_at)


def test_call_book_lifecycle_reports_times_once() -> None:
    """A call goes dialing → answered → connected; each step reports its time once and
    finish removes it exactly once."""
    book = CallBook()
    call = _call(10.0)
    book.placed(call)
    assert book.ringing_since() == (10.0,)
    assert book.answered(call.key, 14.0) == 4.0
    assert book.answered(call.key, 15.0) is None
    assert book.ringing_since() == ()
    assert book.waiting_since() == (14.0,)
    assert book.connected(call.key, "1001", 14.25) == 0.25
    assert book.connected(call.key, "1002", 14.5) is None
    assert book.get(call.key).phase is Phase.CONNECTED  # type: ignore[union-attr]
    assert book.waiting_since() == ()
    assert book.finish(call.key) is call
    assert book.finish(call.key) is None
    book.placed(call)
    with pytest.raises(ValueError):
        book.placed(call)


def test_machine_verdict_leaves_the_waiting_list() -> None:
    """An answered call that AMD found to be a machine is not a customer waiting."""
    book = CallBook()
    call = _call()
    book.placed(call)
    book.answered(call.key, 3.0)
    call.human = False
    assert book.waiting_since() == ()


def test_abandon_ledger_windows() -> None:
    """Today counts the calendar day in the campaign's zone; 24 h and 30 d roll."""
    zone = ZoneInfo("America/New_York")
    ledger = AbandonLedger(zone)
    base = dt.datetime(2026, 11, 20, 23, 30, tzinfo=zone).timestamp()
    ledger.add(base - 40 * 86_400, abandoned=True)  # outside every window
    ledger.add(base - 2 * 86_400, abandoned=True)  # 30 d only
    ledger.add(base - 3600, abandoned=False)  # today and 24 h
    ledger.add(base, abandoned=True)
    today, day, month = ledger.windows(base)
    assert (today.answered, today.abandoned) == (2, 1)
    assert (day.answered, day.abandoned) == (2, 1)
    assert (month.answered, month.abandoned) == (3, 2)
    # 45 minutes later it is the next day in New York: today starts empty.
    today, day, _ = ledger.windows(base + 45 * 60)
    assert (today.answered, today.abandoned) == (0, 0)
    assert day.answered == 2


def _blended_state() -> AcdState:
    state = AcdState([QueueConfig("support"), QueueConfig("camp")])
    for agent in ("a1", "a2", "a3"):
        state.login(profile(agent, queues=("support", "camp"), mode=AgentMode.PERSISTENT), 0.0)
    state.login(profile("b1", queues=("camp",), mode=AgentMode.PERSISTENT), 0.0)
    return state


def test_pool_view_counts_only_campaign_members() -> None:
    """Only the campaign queue's logged-in members count, ready ones by idle time."""
    state = _blended_state()
    state.login(profile("x9", queues=("support",)), 0.0)
    view = pool_view(state, "camp", {"a1", "a2", "a3", "b1", "x9"}, outbound_calls=())
    assert view.logged_in == 4
    assert sorted(view.ready_agents) == ["a1", "a2", "a3", "b1"]
    assert view.talking_since == ()
    assert view.held_for_inbound == 0


def test_inbound_waiting_calls_take_agents_before_pacing() -> None:
    """Blending: an agent the router promises to an inbound caller is not ready for the
    campaign, and inbound callers beyond the ready agents set busy agents aside."""
    state = _blended_state()
    for i, agent in enumerate(("a1", "a2", "a3", "b1")):
        state.enqueue(f"in{i}", "support" if agent != "b1" else "camp", float(i))
        state.reserve(f"in{i}", [agent], 1.0 + i)
        state.answered(f"in{i}", agent, 1.0 + i)
    # Everyone busy; 2 inbound callers wait: the 2 agents longest on their calls are
    # expected to go to them.
    state.enqueue("w1", "support", 10.0)
    state.enqueue("w2", "support", 11.0)
    view = pool_view(state, "camp", set(), outbound_calls=())
    assert view.held_for_inbound == 2
    assert view.talking_since == (3.0, 4.0)
    # A waiting *outbound* call in the campaign's own queue is not inbound work.
    state.enqueue("o1", "camp", 12.0)
    assert pool_view(state, "camp", set(), outbound_calls={"o1"}).held_for_inbound == 2


def test_snapshot_carries_the_pool_and_calls() -> None:
    """The pacing snapshot holds the pool's agents and the runner's calls in flight."""
    state = _blended_state()
    view = pool_view(state, "camp", {"a1", "b1"}, outbound_calls=())
    from ccpbx.dialer.pacing.model import AbandonWindow

    w = AbandonWindow(10, 1)
    snap = pacing_snapshot(
        view,
        now=5.0,
        ringing_since=(1.0, 2.0),
        waiting_since=(4.0,),
        windows=(w, w, w),
        abandon_target=0.03,
        grace_s=1.5,
        shift_elapsed_s=5.0,
        shift_length_s=3600.0,
    )
    assert (snap.ready, snap.in_flight, snap.waiting, snap.logged_in) == (2, 2, 1, 4)
    assert snap.today.rate == 0.1


@pytest.mark.parametrize(
    ("dialing", "answered", "up", "expected"),
    [
        (False, False, False, "not_dialed"),
        (True, False, False, "cancelled"),
        (True, True, False, "answered"),
        (True, False, True, None),
        (True, True, True, None),
    ],
)
def test_settled_outcome(dialing: bool, answered: bool, up: bool, expected: str | None) -> None:
    """A lost attempt is never given back as undialed once it may have rung."""
    assert settled_outcome(dialing=dialing, answered=answered, channel_up=up) == expected


@pytest.mark.parametrize(
    ("phase", "sent", "expected"),
    [
        (Phase.DIALING, True, "cancelled"),
        (Phase.DIALING, False, None),
        (Phase.ANSWERED, True, "abandoned"),
        (Phase.CONNECTED, True, "ended"),
    ],
)
def test_outcome_after_restart(phase: Phase, sent: bool, expected: str | None) -> None:
    """Every call dies with its Asterisk: one that may have rung is cancelled, a live
    answer no agent took is abandoned, one with an agent just ends; one whose Originate is
    not sent yet is left to its placing task (which makes it not_dialed if never sent)."""
    assert outcome_after_restart(phase=phase.value, sent=sent) == expected


@pytest.mark.parametrize(
    ("ready", "logged_in", "working", "expected"),
    [
        (False, 4, 4, Blocked.ASTERISK_UNAVAILABLE),
        (False, 0, 0, Blocked.ASTERISK_UNAVAILABLE),
        (True, 0, 0, Blocked.NO_AGENTS),
        (True, 4, 0, Blocked.NO_WORKING_AGENTS),
        (True, 4, 1, None),
    ],
)
def test_dial_gate(ready: bool, logged_in: int, working: int, expected: Blocked | None) -> None:
    """A campaign leases and dials only with Asterisk reachable and booted and at least one
    agent logged in and not paused (an agent whose phone is being called back is paused)."""
    found = dial_blocker(asterisk_ready=ready, agents_logged_in=logged_in, agents_working=working)
    assert found == expected
