"""Ring-mode caller ID on real Asterisk: what the agent's SIPp desk phone is sent, for
inbound callers and for campaign calls."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from ccpbx.acd import AgentMode, AgentState
from ccpbx.daemon import Daemon
from ccpbx.sandbox.asterisk import AsteriskInstance, Phone
from ccpbx.sandbox.carrier import Carrier
from ccpbx.sandbox.outbound import NEW_YORK, seed_campaign
from ccpbx.sandbox.phones import SippPhone

from .conftest import StartDaemon, eventually
from .test_acd_support import add_agent, add_queue


@pytest.fixture
def capturing_phone(asterisk: AsteriskInstance) -> Iterator[SippPhone]:
    """Agent 1005's phone: answers after 200 ms and logs each INVITE's From and PAI."""
    phone = SippPhone(
        asterisk,
        Phone("1005", "pw-1005-secret", rewrite_contact=False),
        capture=("From", "P-Asserted-Identity"),
    )
    phone.start()
    yield phone
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


@pytest.mark.parametrize(
    ("caller_id", "display", "number"),
    [
        ('"Jane Doe" <+12125550101>', "sales: Jane Doe", "+12125550101"),
        ("<+12125550102>", "sales: +12125550102", "+12125550102"),
    ],
)
async def test_ring_mode_phone_is_shown_the_customer_and_the_queue(
    asterisk: AsteriskInstance,
    start_daemon: StartDaemon,
    capturing_phone: SippPhone,
    caller_id: str,
    display: str,
    number: str,
) -> None:
    """The INVITE that rings a ring-mode agent carries the customer's number as the
    identity and "queue: name" (or "queue: number") as the display name, in From and in
    P-Asserted-Identity; the agent answers and takes the call."""
    daemon = await start_daemon()
    acd = daemon.acd
    await add_queue(daemon, "sales", ring_timeout_s=10.0)
    await add_agent(daemon, "1005", ["sales"], mode=AgentMode.RING)
    await acd.login("1005", "1005")

    call = await _customer(daemon, "sales", caller_id)
    await eventually(lambda: capturing_phone.invites() == 1)
    await eventually(lambda: acd.state.agents["1005"].state is AgentState.ON_CALL)
    assert acd.state.agents["1005"].call_id == call

    (invite,) = capturing_phone.headers()
    for header in ("From", "P-Asserted-Identity"):
        value = invite[header]
        assert f'"{display}"' in value, (header, value)
        assert f"<sip:{number}@" in value, (header, value)
        assert "ccpbx queue" not in value


async def test_ring_mode_phone_is_shown_the_campaign_customer(
    asterisk: AsteriskInstance, start_daemon: StartDaemon, capturing_phone: SippPhone
) -> None:
    """A campaign call put through to a ring-mode agent: the agent's phone is sent the
    customer's number and contact name, not the campaign's caller ID that the customer's
    channel carries (the carrier sees the campaign's caller ID)."""
    daemon = await start_daemon()
    assert daemon.dialer is not None
    await seed_campaign(daemon, "shown", [("+12125550177", NEW_YORK)], mode="progressive")
    await add_agent(daemon, "1005", ["outbound"], mode=AgentMode.RING)
    await daemon.acd.login("1005", "1005")
    with Carrier(asterisk, answer_pct=100, busy_pct=0, congestion_pct=0, talk_s=8.0) as carrier:
        await daemon.dialer.start_campaign("shown")
        await eventually(lambda: capturing_phone.invites() == 1, 30)
        await eventually(lambda: daemon.acd.state.agents["1005"].state is AgentState.ON_CALL)
        await daemon.dialer.pause_campaign("shown")
        assert [c.caller for c in carrier.log()] == ["+12125550000"]
    (invite,) = capturing_phone.headers()
    for header in ("From", "P-Asserted-Identity"):
        value = invite[header]
        assert '"outbound: Contact 0"' in value, (header, value)
        assert "<sip:+12125550177@" in value, (header, value)
        assert "+12125550000" not in value, (header, value)
