"""Persistent agent connections on real Asterisk with a SIPp desk phone that registers."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from ccpbx.ami.protocol import AmiMessage
from ccpbx.callcontrol.persistent import PersistentAgentConnections
from ccpbx.errors import InvalidInput
from ccpbx.sandbox.asterisk import AsteriskInstance, Phone
from ccpbx.sandbox.phones import SippPhone

from .conftest import StartDaemon, eventually

AGENT_PHONE = Phone("1001", "pw-1001-secret", rewrite_contact=False)


@pytest.fixture
def phone(asterisk: AsteriskInstance) -> Iterator[SippPhone]:
    """Agent 1001's desk phone, registered with digest auth, answering every call."""
    phone = SippPhone(asterisk, AGENT_PHONE)
    phone.start()
    yield phone
    phone.stop()


async def waiting_caller(daemon_ami: object, events: list[AmiMessage], number: str) -> AmiMessage:
    """Originate a caller that waits in the queue hold context (music on hold)."""
    ami = daemon_ami
    await ami.action(  # type: ignore[attr-defined]
        "Originate",
        Channel=f"Local/{number}@ccpbx-queue-hold",
        Application="Wait",
        Data="600",
        Async="true",
        timeout=10,
    )
    return await eventually(
        lambda: next(
            (
                e
                for e in events
                if e.name == "Newexten"
                and e.get("Application") == "MusicOnHold"
                and e.get("Exten") == number
            ),
            None,
        )
    )


async def test_callers_are_put_through_without_ringing(
    asterisk: AsteriskInstance, start_daemon: StartDaemon, phone: SippPhone
) -> None:
    """After login the agent's phone rings once; three callers in turn are put through into
    the agent's conference without another ring, and the agent stays connected after each."""
    events: list[AmiMessage] = []
    daemon = await start_daemon(events={"*": events.append})
    agents = PersistentAgentConnections(daemon.ami)
    leg = await agents.open("1001", "1001")
    assert leg.channel.startswith("PJSIP/1001-")
    assert phone.invites() == 1

    for n in range(3):
        hold = await waiting_caller(daemon.ami, events, f"50{n}")
        seconds = await agents.put_through("1001", hold["Channel"], hold["Uniqueid"])
        assert seconds < 5
        assert hold["Uniqueid"] in agents.leg("1001").callers  # type: ignore[union-attr]
        await daemon.ami.action("Hangup", Channel=hold["Channel"], timeout=5)
        await eventually(lambda u=hold["Uniqueid"]: u not in agents.leg("1001").callers)  # type: ignore[union-attr,misc]
        assert agents.connected("1001")

    assert phone.invites() == 1  # one ring at login, none per call


async def test_agent_leg_is_found_again_after_restart(
    asterisk: AsteriskInstance, start_daemon: StartDaemon, phone: SippPhone
) -> None:
    """A new ccpbx process finds agents still sitting in their conferences and can put a
    caller through to them; when the agent's phone hangs up, the loss is reported."""
    first = await start_daemon()
    await PersistentAgentConnections(first.ami).open("1001", "1001")
    await first.stop()

    events: list[AmiMessage] = []
    second = await start_daemon(events={"*": events.append})
    agents = PersistentAgentConnections(second.ami)
    assert await agents.recover() == ["1001"]
    hold = await waiting_caller(second.ami, events, "600")
    await agents.put_through("1001", hold["Channel"], hold["Uniqueid"])

    lost: list[tuple[str, str]] = []
    agents.on_leg_lost(lambda agent, reason: lost.append((agent, reason)))
    await second.ami.action("Hangup", Channel=agents.leg("1001").channel, timeout=5)  # type: ignore[union-attr]
    await eventually(lambda: lost)
    assert lost[0][0] == "1001"
    assert not agents.connected("1001")
    # The caller left the conference with the agent (end_marked) and went on in the dialplan.
    await eventually(
        lambda: any(
            e.name == "Newexten"
            and e.get("Uniqueid") == hold["Uniqueid"]
            and e.get("Context") == "ccpbx-fallback"
            for e in events
        )
    )
    await asyncio.sleep(0)


def test_agent_numbers_are_checked() -> None:
    """Agent numbers become dialplan extensions: only 2 to 15 digits are accepted."""
    from ccpbx.callcontrol.persistent import check_agent

    for bad in ("1", "12a", "1001;x", "", "1" * 16):
        with pytest.raises(InvalidInput):
            check_agent(bad)
    assert check_agent("1001") == "1001"
