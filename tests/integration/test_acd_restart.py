"""ACD restart on real Asterisk: talking calls continue, waiting callers keep their place."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from ccpbx.acd import AgentState, CallStatus
from ccpbx.sandbox.asterisk import AsteriskInstance, Phone
from ccpbx.sandbox.phones import SippPhone

from .conftest import StartDaemon, eventually
from .test_acd_support import add_agent, add_queue, desk_phones, waiting_caller


@pytest.fixture
def phones(asterisk: AsteriskInstance) -> Iterator[list[SippPhone]]:
    """Desk phones 1001 and 1002, registered, answering."""
    with desk_phones(asterisk, ("1001", "1002")) as started:
        yield started


async def test_restart_keeps_talking_calls_and_waiting_order(
    asterisk: AsteriskInstance, start_daemon: StartDaemon, phones: list[SippPhone]
) -> None:
    """Two persistent agents talk, three callers wait; ccpbx stops and a new process
    starts: both agents are on the same calls, the waiting callers are in the same order
    with their wait counted from channel creation, and when a call ends the first
    waiting caller is put through, without ringing any phone again."""
    first = await start_daemon()
    await add_queue(first, "sales", wrapup_s=0.5)
    for agent in ("1001", "1002"):
        await add_agent(first, agent, ["sales"])
        await first.acd.login(agent, agent)
    # One call answered and ended before the restart.
    done = await waiting_caller(first.ami, "sales")
    await eventually(
        lambda: (
            done in first.acd.state.calls
            and first.acd.state.calls[done].status is CallStatus.CONNECTED
        )
    )
    await first.ami.action("Hangup", Channel=first.acd.legs[done].channel, timeout=5)
    await eventually(
        lambda: all(a.state is AgentState.AVAILABLE for a in first.acd.state.agents.values())
    )
    talking = [await waiting_caller(first.ami, "sales") for _ in range(2)]
    await eventually(
        lambda: all(a.state is AgentState.ON_CALL for a in first.acd.state.agents.values())
    )
    on_call = {a: first.acd.state.agents[a].call_id for a in ("1001", "1002")}
    assert sorted(on_call.values()) == sorted(talking)  # type: ignore[type-var]
    waiting = []
    for _ in range(3):
        waiting.append(await waiting_caller(first.ami, "sales"))
        await eventually(lambda c=waiting[-1]: c in first.acd.state.calls)
    await eventually(lambda: first.acd.state.waiting_count("sales") == 3)
    # One more caller gives up waiting.
    gone = await waiting_caller(first.ami, "sales")
    await eventually(lambda: gone in first.acd.state.calls)
    await first.ami.action("Hangup", Channel=first.acd.legs[gone].channel, timeout=5)
    await eventually(lambda: gone not in first.acd.state.calls)
    queued_at = time.time()
    before = first.acd.queue_view("sales")["total"]
    assert (before["offered"], before["answered"], before["handled"]) == (7, 3, 1)
    assert before["abandoned"] + before["short_abandoned"] == 1
    await first.stop()

    second = await start_daemon()
    acd = second.acd
    await acd.wait_ready(20)
    assert sorted(acd.recovered["agents"]) == ["1001", "1002"]
    assert sorted(acd.recovered["talking"]) == sorted(talking)
    assert {a: acd.state.agents[a].call_id for a in on_call} == on_call
    assert all(acd.state.calls[c].status is CallStatus.CONNECTED for c in talking)
    assert [c.call_id for c in acd.state.waiting("sales")] == waiting
    oldest = acd.state.waiting("sales")[0]
    assert oldest.enqueued_at <= queued_at
    assert acd.state.longest_wait("sales", time.time()) >= time.time() - queued_at
    # The counters go on where the first process left them, read through the API's view.
    counted = ("offered", "answered", "abandoned", "short_abandoned", "handled")
    view = acd.queue_view("sales")
    after = view["total"]
    assert {k: after[k] for k in counted} == {k: before[k] for k in counted}
    # So do the wallboard's windows (everything here happened in the last minutes).
    for window in ("today", "last_30m"):
        assert {k: view[window][k] for k in counted} == {k: before[k] for k in counted}, window

    # A talking call ends: its agent wraps up, then takes the first waiting caller.
    agent = next(a for a, c in on_call.items() if c == talking[0])
    await second.ami.action("Hangup", Channel=acd.legs[talking[0]].channel, timeout=5)
    await eventually(lambda: acd.state.agents[agent].call_id == waiting[0], 10)
    leg = acd.persistent.leg(agent)
    assert leg is not None
    await eventually(lambda: waiting[0] in leg.callers)
    assert [c.call_id for c in acd.state.waiting("sales")] == waiting[1:]
    assert [p.invites() for p in phones] == [1, 1]
    await eventually(lambda: acd.queue_view("sales")["total"]["answered"] == 4)
    total = acd.queue_view("sales")["total"]
    assert (total["offered"], total["handled"]) == (7, 2)


async def test_restart_keeps_a_ring_mode_call(
    asterisk: AsteriskInstance, start_daemon: StartDaemon
) -> None:
    """A ring-mode agent's phone bridged with a caller when ccpbx stops is found again
    from the bridge the two channels share: the agent is on that call after the restart,
    and goes to wrap-up when the caller hangs up."""
    from ccpbx.acd import AgentMode

    phone = SippPhone(asterisk, Phone("1003", "pw-1003-secret", rewrite_contact=False))
    phone.start()
    try:
        first = await start_daemon()
        await add_queue(first, "care", wrapup_s=0.5)
        await add_agent(first, "1003", ["care"], mode=AgentMode.RING)
        await first.acd.login("1003", "1003")
        call = await waiting_caller(first.ami, "care")
        await eventually(lambda: first.acd.state.agents["1003"].state is AgentState.ON_CALL)
        agent_channel = first.acd.legs[call].agent_channel
        agent_leg = first.acd.legs[call].agent_leg
        assert agent_leg.startswith("ccpbx-ring-1003-")
        await first.stop()

        second = await start_daemon()
        acd = second.acd
        await acd.wait_ready(20)
        assert acd.recovered["talking"] == [call]
        assert acd.state.agents["1003"].call_id == call
        assert acd.legs[call].agent_channel == agent_channel
        assert acd.legs[call].agent_leg == agent_leg  # its end (a transfer) is noticed
        await second.ami.action("Hangup", Channel=acd.legs[call].channel, timeout=5)
        await eventually(lambda: acd.state.agents["1003"].state is AgentState.AVAILABLE, 10)
        assert phone.invites() == 1
    finally:
        phone.stop()


async def test_queue_rules_survive_a_restart(
    asterisk: AsteriskInstance, start_daemon: StartDaemon
) -> None:
    """Overflow (to a queue that sorts after it), skill relaxation and announcement
    settings are stored: a restarted ccpbx routes with the same rules."""
    from ccpbx.acd import OverflowKind, OverflowTarget, RelaxationStep

    first = await start_daemon()
    await add_queue(first, "zzz-overflow")
    await add_queue(first, "care", announce_every_s=30, required={"french": 2})
    specs = {
        "sales": await add_queue(
            first,
            "sales",
            max_wait_s=60,
            overflow=OverflowTarget(OverflowKind.QUEUE, "zzz-overflow"),
            relaxation=[
                RelaxationStep(20, "french", min_level=1),
                RelaxationStep(40, optional=True),
            ],
            announce_every_s=45,
        ),
        "care": first.acd.specs["care"],
    }
    await first.stop()

    second = await start_daemon()
    await second.acd.wait_ready(20)
    assert {n: second.acd.specs[n] for n in specs} == specs
    assert second.acd.state.queue("sales").overflow == OverflowTarget(
        OverflowKind.QUEUE, "zzz-overflow"
    )
