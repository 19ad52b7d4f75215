"""Call control by API on real Asterisk and SIPp for ring-mode agents: hold, blind and
attended transfers, three-way call, outside transfers under the phone's class of
service (counted at the SIPp carrier)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator

import pytest

from ccpbx.acd import AgentMode, AgentState, CallStatus
from ccpbx.config import Config, DialingConfig
from ccpbx.daemon import Daemon
from ccpbx.pbx import trunks
from ccpbx.sandbox.asterisk import AsteriskInstance
from ccpbx.sandbox.carrier import Carrier
from ccpbx.sandbox.phones import SippPhone

from .call_control_support import Events, api, bridged_with, conference_members, watch
from .conftest import StartDaemon, eventually
from .test_acd_support import add_agent, add_queue, desk_phones, waiting_caller

LONDON = "+442071234567"
LOCAL = "+12125550123"


@pytest.fixture
def ring_phones(asterisk: AsteriskInstance) -> Iterator[list[SippPhone]]:
    """Desk phones of ring-mode agents 1004 and 1005, registered, answering."""
    with desk_phones(asterisk, ["1004", "1005"]) as phones:
        yield phones


async def _ring_call(daemon: Daemon, agent: str, other: str | None) -> tuple[str, Events]:
    """Ring-mode ``agent`` answers a customer's call; ``other`` logs in after."""
    acd = daemon.acd
    await add_queue(daemon, "sales", wrapup_s=60.0)
    await add_agent(daemon, agent, ["sales"], mode=AgentMode.RING)
    await acd.login(agent, agent)
    events = watch(daemon)
    call = await waiting_caller(daemon.ami, "sales")
    await eventually(lambda: acd.state.agents[agent].state is AgentState.ON_CALL)
    await eventually(lambda: bridged_with(daemon, call, f"PJSIP/{agent}-"))
    if other is not None:
        await add_agent(daemon, other, ["sales"], mode=AgentMode.RING)
        await acd.login(other, other)
    return call, events


async def test_hold_and_blind_transfer_for_a_ring_mode_agent(
    asterisk: AsteriskInstance, start_daemon: StartDaemon, ring_phones: list[SippPhone]
) -> None:
    """Hold sends the customer to music on hold while the agent's phone stays up in
    silence (in its own conference); unhold bridges them again; mute is taken; a blind
    transfer to agent 1005 rings 1005's phone, which is bridged with the customer, and
    1004's phone is hung up with 1004 in wrap-up; 1005's blind transfer to the queue
    puts the customer back to wait there."""
    daemon = await start_daemon()
    acd = daemon.acd
    call, events = await _ring_call(daemon, "1004", "1005")
    agent_leg = acd.legs[call].agent_leg
    async with api(daemon, ("1004", "1005")) as client:
        mark = events.mark()
        status, body = await client.post("1004", "1004", "hold")
        assert status == 200, body
        await eventually(lambda: events.of("MusicOnHoldStart", call, mark))

        async def agent_waits() -> bool:
            return agent_leg in await conference_members(daemon, "1004")

        await eventually(agent_waits)
        assert not bridged_with(daemon, call, "PJSIP/1004-")
        assert acd.state.agents["1004"].state is AgentState.ON_CALL

        mark = events.mark()
        status, body = await client.post("1004", "1004", "unhold")
        assert status == 200, body
        await eventually(lambda: events.of("MusicOnHoldStop", call, mark))
        await eventually(lambda: bridged_with(daemon, call, "PJSIP/1004-"))
        assert agent_leg in daemon.channels
        # Asterisk takes the mute of the bridged phone (MuteAudio, res_mutestream).
        assert (await client.post("1004", "1004", "mute"))[0] == 200
        assert (await client.post("1004", "1004", "unmute"))[0] == 200

        status, body = await client.post("1004", "1004", "transfer", {"to": "agent:1005"})
        assert status == 200, body
        await eventually(lambda: bridged_with(daemon, call, "PJSIP/1005-"))
        assert ring_phones[1].invites() == 1
        assert acd.state.agents["1005"].call_id == call
        assert acd.state.agents["1004"].state is AgentState.WRAP_UP
        await eventually(lambda: agent_leg not in daemon.channels)

        # 1005 sends the customer back to the queue: it waits there (nobody is free).
        mark = events.mark()
        status, body = await client.post("1005", "1005", "transfer", {"to": "queue:sales"})
        assert status == 200, body
        await eventually(lambda: events.of("MusicOnHoldStart", call, mark))
        await eventually(
            lambda: call in acd.state.calls and acd.state.calls[call].status is CallStatus.WAITING
        )
        assert acd.state.agents["1005"].state is AgentState.WRAP_UP
        assert not bridged_with(daemon, call, "PJSIP/")


async def test_attended_transfer_and_three_way_call_for_a_ring_mode_agent(
    asterisk: AsteriskInstance, start_daemon: StartDaemon, ring_phones: list[SippPhone]
) -> None:
    """An attended transfer rings agent 1005's phone into 1004's conference while the
    customer hears music; cancel hangs it up and bridges the customer with 1004 again;
    a three-way call puts 1004, the customer and 1005 in 1004's conference."""
    daemon = await start_daemon()
    acd = daemon.acd
    call, events = await _ring_call(daemon, "1004", "1005")
    agent_leg = acd.legs[call].agent_leg
    async with api(daemon, ("1004", "1005")) as client:
        mark = events.mark()
        body = {"to": "agent:1005", "mode": "attended"}
        status, view = await client.post("1004", "1004", "transfer", body)
        assert status == 200, view
        await eventually(lambda: events.of("MusicOnHoldStart", call, mark))

        async def consulting() -> bool:
            members = await conference_members(daemon, "1004")
            channels = [m["Channel"] for m in members.values()]
            return agent_leg in members and any(c.startswith("PJSIP/1005-") for c in channels)

        await eventually(consulting)
        assert ring_phones[1].invites() == 1
        assert acd.state.agents["1005"].state is AgentState.RESERVED  # offered nothing else

        status, view = await client.post("1004", "1004", "transfer/cancel")
        assert status == 200, view
        assert acd.state.agents["1005"].state is AgentState.AVAILABLE
        await eventually(lambda: bridged_with(daemon, call, "PJSIP/1004-"))
        await eventually(
            lambda: (
                not any(c["channel"].startswith("PJSIP/1005-") for c in daemon.channels.snapshot())
            )
        )

        status, view = await client.post("1004", "1004", "conference", {"to": "agent:1005"})
        assert status == 200, view

        async def three_way() -> bool:
            members = await conference_members(daemon, "1004")
            channels = [m["Channel"] for m in members.values()]
            return (
                call in members
                and agent_leg in members
                and any(c.startswith("PJSIP/1005-") for c in channels)
            )

        await eventually(three_way)
        assert ring_phones[1].invites() == 2

        # The customer hangs up: 1004's phone leaves its conference too.
        await daemon.ami.action("Hangup", Channel=call, timeout=5)
        await eventually(lambda: acd.state.agents["1004"].state is AgentState.WRAP_UP)
        await eventually(lambda: agent_leg not in daemon.channels)


def _dialing(config: Config) -> Config:
    return dataclasses.replace(config, dialing=DialingConfig(local_prefixes=("212",)))


@pytest.fixture
def local_phone(asterisk: AsteriskInstance) -> Iterator[list[SippPhone]]:
    """Phone 1010 (class of service local), registered, answering."""
    with desk_phones(asterisk, ["1010"]) as phones:
        yield phones


@pytest.fixture
def patient_carrier(asterisk: AsteriskInstance) -> Iterator[Carrier]:
    """The SIPp carrier, answering every call and hanging up after 30 s."""
    with Carrier(asterisk, answer_pct=100, busy_pct=0, congestion_pct=0, talk_s=30.0) as running:
        yield running


@pytest.fixture
def carrier(asterisk: AsteriskInstance) -> Iterator[Carrier]:
    """The SIPp carrier, answering every call and hanging up after 2 s."""
    with Carrier(asterisk, answer_pct=100, busy_pct=0, congestion_pct=0, talk_s=2.0) as running:
        yield running


async def test_outside_transfer_follows_the_agent_phones_class_of_service(
    asterisk: AsteriskInstance,
    start_daemon: StartDaemon,
    local_phone: list[SippPhone],
    carrier: Carrier,
) -> None:
    """Agent 1010's phone has class local: a blind transfer of its customer to London is
    refused (403, nothing reaches the carrier, the agent keeps the call); to a local
    number it reaches the carrier once and the agent goes to wrap-up."""
    daemon = await start_daemon(config=_dialing)
    await trunks.add(daemon.database.pool, asterisk.settings.carrier())
    acd = daemon.acd
    call, _ = await _ring_call(daemon, "1010", None)
    async with api(daemon, ("1010",)) as client:
        status, body = await client.post("1010", "1010", "transfer", {"to": LONDON})
        assert status == 403, body
        assert body["details"]["reason"] == "class_too_low"
        await asyncio.sleep(1.0)  # an INVITE sent late would reach the carrier by now
        assert carrier.numbers() == {}
        assert acd.state.agents["1010"].state is AgentState.ON_CALL
        assert bridged_with(daemon, call, "PJSIP/1010-")

        status, body = await client.post("1010", "1010", "transfer", {"to": LOCAL})
        assert status == 200, body
        await eventually(lambda: carrier.numbers() == {LOCAL: 1}, 10)
        assert acd.state.agents["1010"].state is AgentState.WRAP_UP


async def test_attended_transfer_to_an_outside_number(
    asterisk: AsteriskInstance,
    start_daemon: StartDaemon,
    local_phone: list[SippPhone],
    patient_carrier: Carrier,
) -> None:
    """Agent 1010 (class local) may not bring London into a three-way call (403, and its
    customer stays bridged with it); it consults a local number: the carrier gets one
    call, which joins 1010's conference while the customer hears music; complete
    bridges the customer with the outside leg (no second call to the carrier) and 1010
    goes to wrap-up."""
    daemon = await start_daemon(config=_dialing)
    await trunks.add(daemon.database.pool, asterisk.settings.carrier())
    acd = daemon.acd
    call, events = await _ring_call(daemon, "1010", None)
    async with api(daemon, ("1010",)) as client:
        status, view = await client.post("1010", "1010", "conference", {"to": LONDON})
        assert status == 403, view
        assert bridged_with(daemon, call, "PJSIP/1010-")

        mark = events.mark()
        body = {"to": LOCAL, "mode": "attended"}
        status, view = await client.post("1010", "1010", "transfer", body)
        assert status == 200, view
        await eventually(lambda: events.of("MusicOnHoldStart", call, mark))

        async def consulting() -> bool:
            members = await conference_members(daemon, "1010")
            return any(m["Channel"].startswith(f"Local/{LOCAL}@") for m in members.values())

        await eventually(consulting)
        assert patient_carrier.numbers() == {LOCAL: 1}

        status, view = await client.post("1010", "1010", "transfer/complete")
        assert status == 200, view
        # With the outside leg itself, or with the carrier's channel once Asterisk has
        # optimised the Local pair away.
        await eventually(
            lambda: (
                bridged_with(daemon, call, f"Local/{LOCAL}@")
                or bridged_with(daemon, call, "PJSIP/carrier-")
            )
        )
        assert acd.state.agents["1010"].state is AgentState.WRAP_UP
        assert patient_carrier.numbers() == {LOCAL: 1}


async def test_a_held_customer_whose_agent_hangs_up_goes_back_to_its_queue(
    asterisk: AsteriskInstance, start_daemon: StartDaemon, ring_phones: list[SippPhone]
) -> None:
    """Ring-mode agent 1004 holds its customer, then its phone hangs up: the call ends
    for 1004 (wrap-up) and the customer, not left on music forever, waits in its queue
    again and is offered to agent 1005."""
    daemon = await start_daemon()
    acd = daemon.acd
    call, events = await _ring_call(daemon, "1004", None)
    agent_leg = acd.legs[call].agent_leg
    async with api(daemon, ("1004",)) as client:
        assert (await client.post("1004", "1004", "hold"))[0] == 200
    await eventually(lambda: events.of("MusicOnHoldStart", call))
    mark = events.mark()
    await daemon.ami.action("Hangup", Channel=agent_leg, timeout=5)
    await eventually(lambda: acd.state.agents["1004"].state is AgentState.WRAP_UP)

    def waits() -> bool:
        return [
            e
            for e in events.seen[mark:]
            if e.name == "Newexten"
            and e.get("Uniqueid") == call
            and e.get("Context") == "ccpbx-queue-wait"
        ]

    await eventually(waits)
    await add_agent(daemon, "1005", ["sales"], mode=AgentMode.RING)
    await acd.login("1005", "1005")
    await eventually(lambda: bridged_with(daemon, call, "PJSIP/1005-"))
    assert acd.state.agents["1005"].call_id == call
