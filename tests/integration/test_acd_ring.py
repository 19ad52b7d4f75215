"""ACD service on real Asterisk: ring-mode agents on SIPp desk phones that register."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ccpbx.acd import NO_ANSWER, AgentMode, AgentState
from ccpbx.sandbox.asterisk import AsteriskInstance, Phone
from ccpbx.sandbox.phones import SippPhone

from .conftest import StartDaemon, eventually
from .test_acd_support import add_agent, add_queue, waiting_caller


@pytest.fixture
def deaf_phone(asterisk: AsteriskInstance) -> Iterator[SippPhone]:
    """Agent 1003's phone: rings (180) and never answers."""
    phone = SippPhone(
        asterisk, Phone("1003", "pw-1003-secret", rewrite_contact=False), answer_after_ms=600_000
    )
    phone.start()
    yield phone
    phone.stop()


@pytest.fixture
def good_phone(asterisk: AsteriskInstance) -> Iterator[SippPhone]:
    """Agent 1004's phone: answers after 200 ms."""
    phone = SippPhone(asterisk, Phone("1004", "pw-1004-secret", rewrite_contact=False))
    phone.start()
    yield phone
    phone.stop()


async def test_unanswered_ring_pauses_agent_and_next_agent_gets_the_call(
    asterisk: AsteriskInstance,
    start_daemon: StartDaemon,
    deaf_phone: SippPhone,
    good_phone: SippPhone,
) -> None:
    """The longest-idle ring-mode agent's phone rings out: that agent is paused "no answer"
    and the same caller rings the next agent, who answers and is bridged with the caller;
    when the caller hangs up the agent goes to wrap-up, then is available again."""
    daemon = await start_daemon()
    acd = daemon.acd
    await add_queue(daemon, "support", ring_timeout_s=3.0, wrapup_s=1.0)
    await add_agent(daemon, "1003", ["support"], mode=AgentMode.RING)
    await add_agent(daemon, "1004", ["support"], mode=AgentMode.RING)
    await acd.login("1003", "1003")  # idle longest: offered first
    await acd.login("1004", "1004")
    assert deaf_phone.invites() == 0

    call = await waiting_caller(daemon.ami, "support")
    await eventually(lambda: acd.state.agents["1003"].call_id == call)
    await eventually(lambda: deaf_phone.invites() == 1)
    assert acd.state.agents["1004"].state is AgentState.AVAILABLE

    await eventually(lambda: acd.state.agents["1003"].state is AgentState.PAUSED, 10)
    assert acd.state.agents["1003"].pause_reason == NO_ANSWER
    await eventually(lambda: acd.state.agents["1004"].state is AgentState.ON_CALL, 10)
    assert acd.state.agents["1004"].call_id == call
    assert good_phone.invites() == 1
    assert acd.state.calls[call].offered_to == ["1003", "1004"]

    # Caller and agent phone share one bridge.
    agent_channel = acd.legs[call].agent_channel
    assert agent_channel.startswith("PJSIP/1004-")

    def bridged() -> bool:
        snap = {c["channel"]: c for c in daemon.channels.snapshot()}
        caller = snap.get(acd.legs[call].channel)
        agent = snap.get(agent_channel)
        return bool(
            caller and agent and caller["bridge_id"] and caller["bridge_id"] == agent["bridge_id"]
        )

    await eventually(bridged)

    await daemon.ami.action("Hangup", Channel=acd.legs[call].channel, timeout=5)
    await eventually(lambda: acd.state.agents["1004"].state is AgentState.WRAP_UP)
    await eventually(lambda: acd.state.agents["1004"].state is AgentState.AVAILABLE, 5)
    # The agent's leg ended with the caller (Bridge option x).
    await eventually(lambda: all(c["channel"] != agent_channel for c in daemon.channels.snapshot()))
    counts = acd.stats.queue_counts("support")
    assert (counts.offered, counts.answered, counts.no_answer, counts.handled) == (1, 1, 1, 1)
