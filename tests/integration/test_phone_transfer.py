"""Transfers from an agent phone's own transfer key (REFER) on real Asterisk and SIPp."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from ccpbx.acd import AgentMode, AgentState, CallStatus
from ccpbx.daemon import Daemon
from ccpbx.sandbox.asterisk import AsteriskInstance, Phone
from ccpbx.sandbox.phones import SippPhone
from ccpbx.sandbox.sipp import run_sipp

from .conftest import StartDaemon, eventually
from .test_acd_support import add_agent, add_queue, phone_dial_scenario


def _phone(asterisk: AsteriskInstance, n: str, **options: Any) -> SippPhone:
    """Phone ``n`` of the sandbox (a SIPp desk phone) with SippPhone ``options``."""
    return SippPhone(asterisk, Phone(n, f"pw-{n}-secret", rewrite_contact=False), **options)


@pytest.fixture
def phones(asterisk: AsteriskInstance) -> Iterator[tuple[SippPhone, SippPhone]]:
    """Agent 1006's phone, which blind-transfers every call it answers to 1007 after a
    second, and 1007's phone, which answers (and answers re-INVITEs)."""
    transferring = _phone(asterisk, "1006", transfer_to="1007", transfer_after_ms=1000)
    target = _phone(asterisk, "1007", reinvites=True, capture=("From",))
    started = []
    try:
        for phone in (transferring, target):
            phone.start()
            started.append(phone)
        yield transferring, target
    finally:
        for phone in started:
            phone.stop()


async def _customer(daemon: Daemon, queue: str, caller_id: str) -> str:
    """A customer (Local channel) with ``caller_id`` waiting in ``queue``; its call id."""
    call_id = f"caller-{uuid.uuid4().hex[:10]}"
    await daemon.ami.action(
        "Originate",
        Channel=f"Local/{queue}@ccpbx-queue-wait",
        Application="Wait",
        Data="600",
        ChannelId=f"out-{call_id}",
        OtherChannelId=call_id,
        CallerID=caller_id,
        Async="true",
        timeout=10,
    )
    return call_id


def _bridged_with(daemon: Daemon, uniqueid: str, prefix: str) -> bool:
    snap = daemon.channels.snapshot()
    me = next((c for c in snap if c["uniqueid"] == uniqueid), None)
    return bool(
        me
        and me["bridge_id"]
        and any(c["channel"].startswith(prefix) and c["bridge_id"] == me["bridge_id"] for c in snap)
    )


async def test_blind_transfer_from_the_phone_reaches_another_phone_and_frees_the_agent(
    asterisk: AsteriskInstance,
    start_daemon: StartDaemon,
    phones: tuple[SippPhone, SippPhone],
) -> None:
    """A ring-mode agent answers a queue call and presses transfer (REFER to 1007): the
    customer ends up bridged with phone 1007, the REFER is accepted and reported done,
    and the agent goes to wrap-up then available, not left "on call"."""
    transferring, target = phones
    daemon = await start_daemon()
    acd = daemon.acd
    await add_queue(daemon, "support", ring_timeout_s=10.0, wrapup_s=1.0)
    await add_agent(daemon, "1006", ["support"], mode=AgentMode.RING)
    await acd.login("1006", "1006")

    call = await _customer(daemon, "support", '"Jane Doe" <+12125550101>')
    await eventually(lambda: acd.state.agents["1006"].state is AgentState.ON_CALL)
    assert acd.state.agents["1006"].call_id == call

    await eventually(lambda: _bridged_with(daemon, call, "PJSIP/1007-"), 20)
    assert target.invites() == 1
    assert "<sip:+12125550101@" in target.headers()[0]["From"]
    assert transferring.log_lines("REFER 202")

    await eventually(lambda: acd.state.agents["1006"].state is AgentState.AVAILABLE, 10)
    assert call not in acd.state.calls
    assert call not in acd.legs
    counts = acd.stats.queue_counts("support")
    assert (counts.offered, counts.answered, counts.handled) == (1, 1, 1)

    # The customer and 1007 talk on; their hang-up is no longer the ACD's business.
    await daemon.ami.action("Hangup", Channel=call, timeout=5)
    await eventually(lambda: call not in daemon.channels)
    assert acd.state.agents["1006"].state is AgentState.AVAILABLE
    assert acd.state.agents["1006"].call_id is None


@pytest.fixture
def outside_transfer_phone(asterisk: AsteriskInstance) -> Iterator[SippPhone]:
    """Agent 1008's phone, which blind-transfers every call it answers to an outside
    number (0044207946000) after half a second."""
    phone = _phone(asterisk, "1008", transfer_to="0044207946000", transfer_after_ms=500)
    phone.start()
    yield phone
    phone.stop()


async def test_a_transfer_to_an_outside_number_never_reaches_a_trunk_and_requeues_the_caller(
    asterisk: AsteriskInstance,
    start_daemon: StartDaemon,
    outside_transfer_phone: SippPhone,
) -> None:
    """A phone may transfer only to phones and queues for now (no class of service yet):
    a REFER to an outside number dials no trunk, and the customer goes back to its queue
    and waits there as a new call; the agent is free."""
    created: list[str] = []
    daemon = await start_daemon(
        events={"Newchannel": lambda e: created.append(e.get("Channel") or "")}
    )
    acd = daemon.acd
    await add_queue(daemon, "support", ring_timeout_s=10.0, wrapup_s=60.0)
    await add_agent(daemon, "1008", ["support"], mode=AgentMode.RING)
    await acd.login("1008", "1008")

    call = await _customer(daemon, "support", '"Jane Doe" <+12125550101>')
    await eventually(lambda: acd.state.agents["1008"].state is AgentState.ON_CALL)
    await eventually(lambda: outside_transfer_phone.log_lines("REFER 202"), 10)

    await eventually(lambda: acd.state.agents["1008"].state is AgentState.WRAP_UP, 10)
    await eventually(lambda: call in acd.state.calls, 10)
    assert acd.state.calls[call].status is CallStatus.WAITING
    assert acd.legs[call].queue == "support"
    assert not [name for name in created if name.startswith("PJSIP/carrier")]
    assert [name for name in created if name.startswith("PJSIP/")] == [
        next(name for name in created if name.startswith("PJSIP/1008-"))
    ]


@pytest.fixture
def queue_transfer_phone(asterisk: AsteriskInstance) -> Iterator[SippPhone]:
    """Agent 1009's phone, which blind-transfers every call it answers to queue "sales"."""
    phone = _phone(asterisk, "1009", transfer_to="sales", transfer_after_ms=500)
    phone.start()
    yield phone
    phone.stop()


async def test_a_transfer_to_a_queue_enters_the_caller_there_as_a_new_call(
    asterisk: AsteriskInstance,
    start_daemon: StartDaemon,
    queue_transfer_phone: SippPhone,
) -> None:
    """A REFER to a queue's name (sip:sales@...) sends the customer through the queue
    script into that queue, where it waits as a new call; the transferring agent is in
    wrap-up, not on call."""
    daemon = await start_daemon()
    acd = daemon.acd
    await add_queue(daemon, "support", ring_timeout_s=10.0, wrapup_s=60.0)
    await add_queue(daemon, "sales")
    await add_agent(daemon, "1009", ["support"], mode=AgentMode.RING)
    await acd.login("1009", "1009")

    call = await _customer(daemon, "support", '"Jane Doe" <+12125550101>')
    await eventually(lambda: acd.state.agents["1009"].state is AgentState.ON_CALL)
    await eventually(lambda: queue_transfer_phone.log_lines("REFER 202"), 10)

    await eventually(lambda: call in acd.state.calls and acd.state.calls[call].queue == "sales")
    assert acd.state.calls[call].status is CallStatus.WAITING
    assert acd.state.agents["1009"].state is AgentState.WRAP_UP
    assert acd.state.agents["1009"].call_id is None


@pytest.fixture
def answering_phone(asterisk: AsteriskInstance) -> Iterator[SippPhone]:
    """Agent 1007's phone: answers, and answers re-INVITEs."""
    phone = _phone(asterisk, "1007", reinvites=True, capture=("From",))
    phone.start()
    yield phone
    phone.stop()


async def test_a_ring_mode_agent_hanging_up_first_ends_the_call_for_the_acd(
    asterisk: AsteriskInstance,
    start_daemon: StartDaemon,
    answering_phone: SippPhone,
) -> None:
    """The agent's phone hangs up before the customer (here Asterisk ends the agent's
    leg): the customer is hung up with it and the agent goes to wrap-up, once."""
    daemon = await start_daemon()
    acd = daemon.acd
    await add_queue(daemon, "support", ring_timeout_s=10.0, wrapup_s=1.0)
    await add_agent(daemon, "1007", ["support"], mode=AgentMode.RING)
    await acd.login("1007", "1007")

    call = await _customer(daemon, "support", '"Jane Doe" <+12125550101>')
    await eventually(lambda: acd.state.agents["1007"].state is AgentState.ON_CALL)
    await eventually(lambda: _bridged_with(daemon, call, "PJSIP/1007-"))
    agent_leg = acd.legs[call].agent_leg
    assert agent_leg.startswith("ccpbx-ring-1007-")

    await daemon.ami.action("Hangup", Channel=agent_leg, timeout=5)
    await eventually(lambda: call not in daemon.channels)
    await eventually(lambda: acd.state.agents["1007"].state is AgentState.AVAILABLE, 10)
    assert call not in acd.state.calls
    counts = acd.stats.queue_counts("support")
    assert (counts.offered, counts.answered, counts.handled) == (1, 1, 1)


async def test_a_phone_calls_another_phone_by_its_extension(
    asterisk: AsteriskInstance, answering_phone: SippPhone
) -> None:
    """Phone 1012 dials 1007 (a phone endpoint): 1007 rings and answers, as for the
    consult call of an attended transfer; the call is internal (no trunk, no script)."""
    xml = phone_dial_scenario("1012", "pw-1012-secret", [])
    dialing = asyncio.create_task(
        asyncio.to_thread(run_sipp, asterisk, xml, service="1007", timeout_s=30)
    )

    def answered() -> bool:
        rows = [line.split("!") for line in asterisk.cli("core show channels concise").splitlines()]
        return any(r[0].startswith("PJSIP/1007-") and r[4] == "Up" for r in rows if len(r) > 4)

    try:
        await eventually(lambda: answering_phone.invites() == 1, 10)
        await eventually(answered, 10)
    finally:
        asterisk.cli("channel request hangup all")
        result = await dialing
    assert result.ok, result.errors
    assert "<sip:1012@" in answering_phone.headers()[0]["From"]


@pytest.fixture
def attended_phones(asterisk: AsteriskInstance) -> Iterator[tuple[SippPhone, SippPhone]]:
    """Agent 1006's phone, which consults 1007 a second after answering and then
    completes an attended transfer (REFER with Replaces), and 1007's phone."""
    transferring = _phone(
        asterisk, "1006", transfer_to="1007", transfer_after_ms=1000, attended=True
    )
    target = _phone(asterisk, "1007", reinvites=True, capture=("From",))
    started = []
    try:
        for phone in (transferring, target):
            phone.start()
            started.append(phone)
        yield transferring, target
    finally:
        for phone in started:
            phone.stop()


async def test_attended_transfer_from_the_phone_joins_the_customer_and_the_consulted_phone(
    asterisk: AsteriskInstance,
    start_daemon: StartDaemon,
    attended_phones: tuple[SippPhone, SippPhone],
) -> None:
    """A ring-mode agent answers a queue call, calls 1007 from the same phone (consult)
    and completes the transfer (REFER with Replaces): the customer is bridged with 1007,
    both of the agent's legs end, and the agent goes to wrap-up then available."""
    transferring, target = attended_phones
    daemon = await start_daemon()
    acd = daemon.acd
    await add_queue(daemon, "support", ring_timeout_s=10.0, wrapup_s=1.0)
    await add_agent(daemon, "1006", ["support"], mode=AgentMode.RING)
    await acd.login("1006", "1006")

    call = await _customer(daemon, "support", '"Jane Doe" <+12125550101>')
    await eventually(lambda: acd.state.agents["1006"].state is AgentState.ON_CALL)
    await eventually(lambda: transferring.log_lines("CONSULT 200"), 10)
    assert target.invites() == 1
    assert "<sip:1006@" in target.headers()[0]["From"]

    await eventually(lambda: transferring.log_lines("REFER 202"), 10)
    await eventually(lambda: _bridged_with(daemon, call, "PJSIP/1007-"), 10)
    await eventually(lambda: acd.state.agents["1006"].state is AgentState.AVAILABLE, 10)
    assert call not in acd.state.calls
    await eventually(
        lambda: (
            not [c for c in daemon.channels.snapshot() if c["channel"].startswith("PJSIP/1006-")]
        )
    )
    assert _bridged_with(daemon, call, "PJSIP/1007-")
