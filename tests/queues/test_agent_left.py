"""A ring-mode agent's leg ending before its caller's (a transfer from the phone), in
either order with the caller reaching a queue again: pure worker logic, fake clock."""

from __future__ import annotations

import pytest

from ccpbx.acd import AgentMode, AgentState, CallStatus
from ccpbx.ami.protocol import AmiMessage
from ccpbx.callcontrol.ring import RingResult
from ccpbx.queues import QueueService
from ccpbx.queues.model import AGENT_LEFT

from .test_service_logic import Clock, held, login, service

LEG = "ccpbx-ring-11-0123456789ab"


def hangup(uniqueid: str) -> AmiMessage:
    return AmiMessage("event", "Hangup", {"Uniqueid": uniqueid})


def answered_call(clock: Clock) -> QueueService:
    """Agent 11 (ring mode) answered caller c1 of queue sales; its leg is ``LEG``."""
    svc = service(clock)
    login(svc, "11", AgentMode.RING, clock.now)
    svc.worker.handle("held", held("c1"))
    svc.worker.tick()
    svc.worker.handle("rang", ("c1", "11", RingResult(LEG, True, "", "PJSIP/11-00000001")))
    assert svc.state.agents["11"].state is AgentState.ON_CALL
    assert svc.legs["c1"].agent_leg == LEG
    return svc


async def test_the_agent_leg_ending_first_sends_the_agent_to_wrapup() -> None:
    """The agent's leg hangs up while the caller lives on (blind transfer): the call
    ends for the ACD (reason "agent_left"), the agent wraps up; the caller's later
    hang-up changes nothing."""
    clock = Clock()
    svc = answered_call(clock)
    feed = svc.subscribe()
    clock.now += 20
    svc.worker.handle("hangup", hangup(LEG))
    assert svc.state.agents["11"].state is AgentState.WRAP_UP
    feed.close()
    ended = [item async for item in feed if item["kind"] == "call_ended"]
    assert [item.get("reason") for item in ended] == [AGENT_LEFT]
    assert "c1" not in svc.state.calls
    assert "c1" not in svc.legs
    svc.worker.handle("hangup", hangup("c1"))
    assert svc.state.agents["11"].state is AgentState.WRAP_UP
    counts = svc.stats.queue_counts("sales")
    assert (counts.answered, counts.handled, counts.abandoned) == (1, 1, 0)
    await svc.tasks.cancel_all()


@pytest.mark.parametrize("leg_ends_first", [True, False])
async def test_a_transferred_caller_back_in_a_queue_waits_as_a_new_call(
    leg_ends_first: bool,
) -> None:
    """The caller reaches music on hold again (transferred to a queue, or a transfer
    that went nowhere) before or after its agent's leg is seen to end: either way the
    agent wraps up and the caller waits as a new call."""
    clock = Clock()
    svc = answered_call(clock)
    clock.now += 20
    inputs = [("hangup", hangup(LEG)), ("held", held("c1"))]
    for kind, data in inputs if leg_ends_first else reversed(inputs):
        svc.worker.handle(kind, data)
    assert svc.state.agents["11"].state is AgentState.WRAP_UP
    assert svc.state.calls["c1"].status is CallStatus.WAITING
    assert svc.legs["c1"].agent_leg == ""
    counts = svc.stats.queue_counts("sales")
    assert (counts.offered, counts.answered, counts.handled) == (2, 1, 1)
    await svc.tasks.cancel_all()


async def test_the_caller_hanging_up_first_ends_the_call_once() -> None:
    """The usual end: the caller hangs up, then the agent's leg (Bridge option x):
    one call end, one wrap-up."""
    clock = Clock()
    svc = answered_call(clock)
    svc.worker.handle("hangup", hangup("c1"))
    svc.worker.handle("hangup", hangup(LEG))
    assert svc.state.agents["11"].state is AgentState.WRAP_UP
    assert svc.stats.queue_counts("sales").handled == 1
    await svc.tasks.cancel_all()
