"""Call control by API on real Asterisk, SIPp phones and PostgreSQL: persistent agents
(hold, DTMF, mute, blind and attended transfers, three-way call, role checks)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ccpbx.acd import AgentState
from ccpbx.daemon import Daemon
from ccpbx.sandbox.asterisk import AsteriskInstance
from ccpbx.sandbox.phones import SippPhone

from .call_control_support import Events, api, audit_actions, conference_members, pushed, watch
from .conftest import StartDaemon, eventually
from .test_acd_support import add_agent, add_queue, desk_phones, waiting_caller


@pytest.fixture
def two_phones(asterisk: AsteriskInstance) -> Iterator[list[SippPhone]]:
    """Desk phones of agents 1001 and 1002, registered, answering."""
    with desk_phones(asterisk, ["1001", "1002"]) as phones:
        yield phones


async def _persistent_call(daemon: Daemon) -> tuple[str, Events]:
    """Agents 1001 and 1002 (persistent) logged in, 1001 on a customer's call."""
    acd = daemon.acd
    await add_queue(daemon, "sales", wrapup_s=60.0)
    await add_queue(daemon, "billing", wrapup_s=60.0)
    await add_agent(daemon, "1001", ["sales"])
    await add_agent(daemon, "1002", ["sales"])
    await acd.login("1001", "1001")
    events = watch(daemon)
    call = await waiting_caller(daemon.ami, "sales")
    await eventually(lambda: acd.state.agents["1001"].state is AgentState.ON_CALL)
    await acd.login("1002", "1002")
    await eventually(lambda: call in acd.persistent.leg("1001").callers)  # type: ignore[union-attr]
    return call, events


async def test_hold_dtmf_mute_and_role_checks_for_a_persistent_agent(
    asterisk: AsteriskInstance, start_daemon: StartDaemon, two_phones: list[SippPhone]
) -> None:
    """Hold moves the customer out of the agent's conference to music on hold, unhold
    back in; DTMF is played to the customer, mute mutes the agent in its conference;
    another agent's token is refused, an agent without a call gets 409, each action is
    audited with its actor."""
    daemon = await start_daemon()
    call, events = await _persistent_call(daemon)
    async with api(daemon, ("1001", "1002")) as client:
        assert (await client.post("1002", "1001", "hold"))[0] == 403
        status, body = await client.post("1002", "1002", "hold")
        assert status == 409, body
        assert body["error_id"] == "conflict"

        ws = await client.http.ws_connect(f"{client.base}/api/events?token={client.tokens['1001']}")
        assert (await ws.receive_json())["type"] == "snapshot"
        mark = events.mark()
        status, body = await client.post("1001", "1001", "hold")
        assert status == 200, body
        assert body["held"] is True
        await eventually(lambda: events.of("MusicOnHoldStart", call, mark))
        item = await pushed(ws, "hold_started")
        assert (item["agent"], item["call_id"]) == ("1001", call)
        await ws.close()
        members = await conference_members(daemon, "1001")
        assert call not in members
        assert len(members) == 1

        mark = events.mark()
        status, body = await client.post("supervisor", "1001", "unhold")
        assert status == 200, body
        await eventually(lambda: events.of("MusicOnHoldStop", call, mark))
        assert call in await conference_members(daemon, "1001")

        # The digits reach the customer's far end: the test caller's other half (a Local
        # channel pair) receives them.
        mark = events.mark()
        assert (await client.post("1001", "1001", "dtmf", {"digits": "1#"}))[0] == 200
        far = f"out-{call}"
        await eventually(lambda: len(events.of("DTMFEnd", far, mark)) >= 2)
        got = [(e.get("Digit"), e.get("Direction")) for e in events.of("DTMFEnd", far, mark)]
        assert got[:2] == [("1", "Received"), ("#", "Received")]
        status, body = await client.post("1001", "1001", "dtmf", {"digits": "x"})
        assert (status, body["details"]["field"]) == (400, "digits")

        assert (await client.post("1001", "1001", "mute"))[0] == 200
        members = await conference_members(daemon, "1001")
        agent_leg = daemon.acd.persistent.leg("1001")
        assert agent_leg is not None
        assert members[agent_leg.uniqueid]["Muted"] == "Yes"
        assert (await client.post("1001", "1001", "unmute"))[0] == 200
        assert (await conference_members(daemon, "1001"))[agent_leg.uniqueid]["Muted"] == "No"

        assert (await client.post("1001", "1001", "hangup"))[0] == 200
        await eventually(lambda: call not in daemon.channels)
        await eventually(lambda: daemon.acd.state.agents["1001"].state is AgentState.WRAP_UP)
    actions = await eventually(lambda: audit_actions(daemon, call))
    assert ("call.hold_started", "agent:1001") in actions
    assert ("call.hold_ended", "supervisor:sup") in actions
    assert ("call.customer_hung_up", "agent:1001") in actions


async def test_blind_transfers_of_a_persistent_agents_customer(
    asterisk: AsteriskInstance, start_daemon: StartDaemon, two_phones: list[SippPhone]
) -> None:
    """A blind transfer to agent 1002 puts the customer into 1002's conference and frees
    1001 into wrap-up; 1002 then transfers it blind to queue billing, where it waits
    with the ACD; a bad target is refused naming the field."""
    daemon = await start_daemon()
    acd = daemon.acd
    call, events = await _persistent_call(daemon)
    async with api(daemon, ("1001", "1002")) as client:
        status, body = await client.post("1001", "1001", "transfer", {"to": "nobody"})
        assert (status, body["details"]["field"]) == (400, "to")

        status, body = await client.post("1001", "1001", "transfer", {"to": "agent:1002"})
        assert status == 200, body
        await eventually(lambda: acd.state.agents["1002"].state is AgentState.ON_CALL)
        assert acd.state.agents["1002"].call_id == call
        assert acd.state.agents["1001"].state is AgentState.WRAP_UP
        await eventually(lambda: _in(daemon, "1002", call))
        assert call not in await conference_members(daemon, "1001")

        mark = events.mark()
        status, body = await client.post("1002", "1002", "transfer", {"to": "queue:billing"})
        assert status == 200, body
        await eventually(
            lambda: call in acd.state.calls and acd.state.calls[call].queue == "billing"
        )
        assert acd.state.agents["1002"].state is AgentState.WRAP_UP
        waits = [
            e
            for e in events.seen[mark:]
            if e.name == "Newexten"
            and e.get("Uniqueid") == call
            and e.get("Context") == "ccpbx-queue-wait"
        ]
        assert waits
        assert waits[0].get("Exten") == "billing"
        await eventually(lambda: events.of("MusicOnHoldStart", call, mark))
        assert call not in await conference_members(daemon, "1002")


async def _in(daemon: Daemon, agent: str, uniqueid: str) -> bool:
    return uniqueid in await conference_members(daemon, agent)


async def test_attended_transfer_and_three_way_call_for_a_persistent_agent(
    asterisk: AsteriskInstance, start_daemon: StartDaemon, two_phones: list[SippPhone]
) -> None:
    """An attended transfer to 1002 holds the customer and joins a consult leg to both
    agents' conferences; cancel drops it and brings the customer back to 1001; a second
    one completes: the customer is with 1002, 1001 in wrap-up. A three-way call puts
    agent, customer and the third party in one conference."""
    daemon = await start_daemon()
    acd = daemon.acd
    call, events = await _persistent_call(daemon)
    async with api(daemon, ("1001", "1002")) as client:
        mark = events.mark()
        body = {"to": "agent:1002", "mode": "attended"}
        status, view = await client.post("1001", "1001", "transfer", body)
        assert status == 200, view
        await eventually(lambda: events.of("MusicOnHoldStart", call, mark))

        async def consulting() -> bool:
            mine = await conference_members(daemon, "1001")
            theirs = await conference_members(daemon, "1002")
            local = [m for m in mine.values() if m["Channel"].startswith("Local/")]
            far = [m for m in theirs.values() if m["Channel"].startswith("Local/")]
            return bool(local and far) and call not in mine

        await eventually(consulting)
        assert acd.state.agents["1002"].state is AgentState.RESERVED  # offered nothing else
        status, view = await client.post("1001", "1001", "transfer/cancel")
        assert status == 200, view
        assert acd.state.agents["1002"].state is AgentState.AVAILABLE
        await eventually(lambda: _in(daemon, "1001", call))
        await eventually(lambda: len(_sync_members(daemon)) == 0)
        assert acd.state.agents["1001"].state is AgentState.ON_CALL

        status, view = await client.post("1001", "1001", "transfer", body)
        assert status == 200, view
        await eventually(consulting)
        status, view = await client.post("1001", "1001", "transfer/complete")
        assert status == 200, view
        await eventually(lambda: _in(daemon, "1002", call))
        assert acd.state.agents["1002"].call_id == call
        assert acd.state.agents["1001"].state is AgentState.WRAP_UP

        # 1002 brings 1001 back into the call: a three-way conference.
        await acd.end_wrapup("1001")
        status, view = await client.post("1002", "1002", "conference", {"to": "agent:1001"})
        assert status == 200, view

        async def three_way() -> bool:
            members = await conference_members(daemon, "1002")
            return call in members and len(members) == 3

        await eventually(three_way)

        async def far_half_with_1001() -> bool:
            members = await conference_members(daemon, "1001")
            return any(m["Channel"].startswith("Local/1001@") for m in members.values())

        await eventually(far_half_with_1001)
    assert ("call.transfer_cancelled", "agent:1001") in await audit_actions(daemon, call)


def _sync_members(daemon: Daemon) -> list[str]:
    """Local channels still up (the consult legs)."""
    return [
        c["channel"] for c in daemon.channels.snapshot() if c["channel"].startswith("Local/1002@")
    ]
