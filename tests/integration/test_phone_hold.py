"""Hold from an agent phone's own hold key, on real Asterisk and SIPp."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest

from ccpbx.acd import AgentMode, AgentState
from ccpbx.ami.protocol import AmiMessage
from ccpbx.daemon import Daemon
from ccpbx.sandbox.asterisk import AsteriskInstance, Phone
from ccpbx.sandbox.phones import SippPhone

from .conftest import StartDaemon, eventually
from .test_acd_support import add_agent, add_queue


@pytest.fixture
def holding_phone(asterisk: AsteriskInstance) -> Iterator[SippPhone]:
    """Agent 1010's phone: answers, puts the call on hold after a second (re-INVITE
    with a=sendonly) for three seconds, takes it off hold and stays in the call."""
    phone = SippPhone(
        asterisk,
        Phone("1010", "pw-1010-secret", rewrite_contact=False),
        hold_after_ms=1000,
        hold_ms=3000,
        reinvites=True,
    )
    phone.start()
    yield phone
    phone.stop()


async def _customer(daemon: Daemon, queue: str) -> str:
    """A customer (Local channel) waiting in ``queue``; its call id."""
    call_id = f"caller-{uuid.uuid4().hex[:10]}"
    await daemon.ami.action(
        "Originate",
        Channel=f"Local/{queue}@ccpbx-queue-wait",
        Application="Wait",
        Data="600",
        ChannelId=f"out-{call_id}",
        OtherChannelId=call_id,
        CallerID='"Jane Doe" <+12125550101>',
        Async="true",
        timeout=10,
    )
    return call_id


async def test_phone_hold_plays_music_to_the_customer_until_it_resumes(
    asterisk: AsteriskInstance, start_daemon: StartDaemon, holding_phone: SippPhone
) -> None:
    """A ring-mode agent's phone puts the queue call on hold (sendonly re-INVITE): the
    agent's channel is on hold and the customer's channel gets music on hold; when the
    phone resumes, the music stops; the agent stays on the call throughout."""
    seen: list[tuple[str, str]] = []

    def note(event: AmiMessage) -> None:
        seen.append((event.name, event.get("Uniqueid") or ""))

    daemon = await start_daemon(
        events=dict.fromkeys(("Hold", "Unhold", "MusicOnHoldStart", "MusicOnHoldStop"), note)
    )
    acd = daemon.acd
    await add_queue(daemon, "support", ring_timeout_s=10.0)
    await add_agent(daemon, "1010", ["support"], mode=AgentMode.RING)
    await acd.login("1010", "1010")

    call = await _customer(daemon, "support")
    await eventually(lambda: acd.state.agents["1010"].state is AgentState.ON_CALL)
    agent_leg = acd.legs[call].agent_leg
    # The music the customer heard while waiting stopped when the agent answered.
    await eventually(lambda: ("MusicOnHoldStop", call) in seen)
    answered_at = len(seen)

    await eventually(lambda: holding_phone.log_lines("HOLD 200"), 10)
    await eventually(lambda: ("MusicOnHoldStart", call) in seen[answered_at:])
    assert ("Hold", agent_leg) in seen[answered_at:]
    assert acd.state.agents["1010"].state is AgentState.ON_CALL

    await eventually(lambda: holding_phone.log_lines("RESUME 200"), 10)
    await eventually(lambda: ("MusicOnHoldStop", call) in seen[answered_at:])
    assert ("Unhold", agent_leg) in seen[answered_at:]
    after = seen[answered_at:]
    assert after.index(("MusicOnHoldStart", call)) < after.index(("MusicOnHoldStop", call))
    assert acd.state.agents["1010"].state is AgentState.ON_CALL
    assert acd.state.agents["1010"].call_id == call


@pytest.fixture
def customer_phone(asterisk: AsteriskInstance) -> Iterator[SippPhone]:
    """Phone 1011 playing a customer: answers the call that puts it in the queue."""
    phone = SippPhone(
        asterisk, Phone("1011", "pw-1011-secret", rewrite_contact=False), reinvites=True
    )
    phone.start()
    yield phone
    phone.stop()


async def _rtp_sent(daemon: Daemon, uniqueid: str) -> int:
    """RTP packets Asterisk has sent on a PJSIP channel (its RTCP statistics)."""
    result = await daemon.ami.action(
        "Getvar", Channel=uniqueid, Variable="CHANNEL(rtcp,txcount)", timeout=5
    )
    return int(result.response.get("Value") or 0)


async def test_a_sip_customer_receives_rtp_only_while_the_agent_holds(
    asterisk: AsteriskInstance,
    start_daemon: StartDaemon,
    holding_phone: SippPhone,
    customer_phone: SippPhone,
) -> None:
    """A SIP customer (phone 1011 called into the queue) connected to an agent whose
    phone sends no audio gets no RTP from the call; while the agent's phone holds, it
    gets the music as RTP (about 50 packets a second); after the resume it gets the
    agent's audio again (the phone starts sending once off hold)."""
    daemon = await start_daemon()
    acd = daemon.acd
    await add_queue(daemon, "support", ring_timeout_s=10.0)
    await add_agent(daemon, "1010", ["support"], mode=AgentMode.RING)
    await acd.login("1010", "1010")

    call = f"customer-{uuid.uuid4().hex[:10]}"
    await daemon.ami.action(
        "Originate",
        Channel="PJSIP/1011",
        Context="ccpbx-queue-wait",
        Exten="support",
        Priority="1",
        ChannelId=call,
        CallerID='"Jane Doe" <+12125550101>',
        Async="true",
        timeout=10,
    )
    await eventually(lambda: acd.state.agents["1010"].state is AgentState.ON_CALL)
    assert acd.state.agents["1010"].call_id == call

    await asyncio.sleep(0.3)  # the bridge is up; the agent's phone sends nothing yet
    before = await _rtp_sent(daemon, call)
    await asyncio.sleep(0.5)
    quiet = await _rtp_sent(daemon, call) - before

    await eventually(lambda: holding_phone.log_lines("HOLD 200"), 10)
    start = await _rtp_sent(daemon, call)
    await asyncio.sleep(2.0)
    on_hold = await _rtp_sent(daemon, call) - start

    await eventually(lambda: holding_phone.log_lines("RESUME 200"), 10)
    await asyncio.sleep(0.3)
    resumed_at = await _rtp_sent(daemon, call)
    await asyncio.sleep(0.5)
    resumed = await _rtp_sent(daemon, call) - resumed_at
    assert quiet <= 5, (quiet, on_hold, resumed)
    assert on_hold >= 80, (quiet, on_hold, resumed)  # 2 s of 20 ms packets is 100
    assert resumed >= 10, (quiet, on_hold, resumed)
    assert acd.state.agents["1010"].state is AgentState.ON_CALL
