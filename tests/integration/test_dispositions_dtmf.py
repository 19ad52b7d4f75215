"""Dispositions by DTMF from an agent's persistent leg, on real Asterisk with a SIPp desk phone.

The phone presses keys when ccpbx tells it to: the test sends the agent's channel a
text (AMI ``SendText``, an in-dialog SIP MESSAGE), the phone answers it and plays
the next batch of key presses (RFC 2833 pcaps from :class:`ccpbx.sandbox.dtmf.Keypad`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from dialer.store_control import StoreControl
from store.factories import T0, campaign_with_contacts

from ccpbx.ami.protocol import AmiMessage
from ccpbx.callcontrol.persistent import PersistentAgentConnections
from ccpbx.dialer.disposition_keys import KeyStatus, repeated_end
from ccpbx.dialer.dispositions import DispositionDesk
from ccpbx.sandbox import phones
from ccpbx.sandbox.asterisk import AsteriskInstance, Phone
from ccpbx.sandbox.dtmf import Keypad
from ccpbx.sandbox.phones import SippPhone
from ccpbx.store import attempts, campaigns, leasing
from ccpbx.store.campaigns import Disposition

from .conftest import StartDaemon, eventually

AGENT = "1003"
AGENT_PHONE = Phone(AGENT, f"pw-{AGENT}-secret", rewrite_contact=False)

_OK = """
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
"""


def key_pressing_answer(keypad: Keypad, batches: list[str]) -> str:
    """A desk phone's answering scenario (the template of :class:`SippPhone`): answer,
    then for each batch wait for an in-dialog MESSAGE and press that batch's keys."""
    body = [
        '<?xml version="1.0" encoding="ISO-8859-1" ?>',
        '<scenario name="ccpbx agent phone pressing keys">',
        '  <recv request="INVITE" crlf="true"/>',
        '  <nop><action><log message="INVITE [call_id]"/></action></nop>',
        "  <send><![CDATA[",
        "      SIP/2.0 180 Ringing",
        "      [last_Via:]",
        "      [last_From:]",
        "      [last_To:];tag=[pid]ph[call_number]",
        "      [last_Call-ID:]",
        "      [last_CSeq:]",
        "      Contact: <sip:{user}@[local_ip]:[local_port];transport=[transport]>",
        "      Content-Length: 0",
        "  ]]></send>",
        '  <pause milliseconds="{answer_after_ms}"/>',
        '  <send retrans="500"><![CDATA[',
        "      SIP/2.0 200 OK",
        "      [last_Via:]",
        "      [last_From:]",
        "      [last_To:];tag=[pid]ph[call_number]",
        "      [last_Call-ID:]",
        "      [last_CSeq:]",
        "      Contact: <sip:{user}@[local_ip]:[local_port];transport=[transport]>",
        "      Content-Type: application/sdp",
        "      Content-Length: [len]",
        "",
        "{sdp}  ]]></send>",
        '  <recv request="ACK" crlf="true"/>',
    ]
    for batch in batches:
        body += ['  <recv request="MESSAGE"/>', f"  <send><![CDATA[{_OK}]]></send>"]
        for step in keypad.press(batch, gap_ms=300, last=True):
            if step.kind == "audio":
                body.append(f'  <nop><action><exec play_pcap_audio="{step.value}"/></action></nop>')
            else:
                body.append(f'  <pause milliseconds="{int(step.value)}"/>')
    body += ['  <recv request="BYE"/>', f"  <send><![CDATA[{_OK}]]></send>", "</scenario>"]
    # SippPhone fills in {user}, {answer_after_ms} and {sdp}.
    return "\n".join(body) + "\n"


@pytest.fixture
def key_batches() -> list[str]:
    return ["1#"]


@pytest.fixture
def phone(
    asterisk: AsteriskInstance, monkeypatch: pytest.MonkeyPatch, key_batches: list[str]
) -> Iterator[SippPhone]:
    """The agent's desk phone, registered, answering, pressing ``key_batches`` on cue."""
    scenario = key_pressing_answer(Keypad(asterisk), key_batches)
    monkeypatch.setattr(phones, "_ANSWER", scenario)
    phone = SippPhone(asterisk, AGENT_PHONE)
    phone.start()
    yield phone
    phone.stop()


async def cue(ami: object, channel: str) -> None:
    """Tell the phone to press its next batch of keys."""
    await ami.action("SendText", Channel=channel, Message="keys", timeout=5)  # type: ignore[attr-defined]


async def test_keys_on_a_persistent_leg_raise_dtmf_events(
    asterisk: AsteriskInstance, start_daemon: StartDaemon, phone: SippPhone
) -> None:
    """Keys the agent presses while sitting in their conference reach AMI as DTMFEnd events
    (Direction Received) naming the leg's uniqueid: ConfBridge does not swallow them."""
    events: list[AmiMessage] = []
    daemon = await start_daemon(events={"DTMFEnd": events.append})
    agents = PersistentAgentConnections(daemon.ami)
    leg = await agents.open(AGENT, AGENT)
    await cue(daemon.ami, leg.channel)
    received = await eventually(
        lambda: (
            [
                e["Digit"]
                for e in events
                if e.get("Direction") == "Received" and e.get("Uniqueid") == leg.uniqueid
            ]
            if len(events) >= 2
            else None
        )
    )
    assert received == ["1", "#"]


@pytest.mark.parametrize("key_batches", [["1", "1#", "9#", "3", "1"]])
async def test_agent_disposes_by_keypad(
    asterisk: AsteriskInstance, start_daemon: StartDaemon, phone: SippPhone
) -> None:
    """With keys 1 (sale) and 11 (a code added for the test), a 1 pressed with no call is
    ignored; then an agent in wrap-up presses 1# and the desk disposes of the call as
    'sale'; on the next call 9# is refused (no such key) and 3 alone schedules a callback
    after the callback disposition's default delay (2 h); on a third, a lone 1 is taken
    as 'sale' once the agent stops typing."""
    events: list[AmiMessage] = []
    daemon = await start_daemon(events={"DTMFEnd": events.append})
    pool = daemon.database.pool

    def keys_heard() -> str:
        """The keys pressed, each once (Asterisk may report a key's end twice)."""
        keys, last = "", None
        for e in events:
            if e.get("Direction") != "Received":
                continue
            at, digit = float(e["Timestamp"]), e["Digit"]
            if not repeated_end(last, digit, at, int(e["DurationMs"])):
                keys += digit
            last = (digit, at)
        return keys

    await campaigns.save_disposition(pool, Disposition("voicemail", "Voicemail", dtmf_key="11"))
    camp, _ = await campaign_with_contacts(pool, 3)
    first, second, third = await leasing.lease(pool, camp.id, 3, T0, dialer_id="test")
    for lead in (first, second, third):
        await attempts.record_outcome(pool, lead.attempt_id, "answered", T0)
    agents = PersistentAgentConnections(daemon.ami)
    control = StoreControl(pool, legs=agents)
    desk = DispositionDesk(daemon.ami, lambda: pool, control, inter_digit_s=1.5)
    await desk.start()
    try:
        leg = await agents.open(AGENT, AGENT)
        await cue(daemon.ami, leg.channel)
        await eventually(lambda: keys_heard() == "1" and desk.backlog == 0)
        control.assign(AGENT, first.attempt_id)
        await cue(daemon.ami, leg.channel)
        await eventually(lambda: keys_heard() == "11#" and control.disposed)
        assert (await attempts.get_attempt(pool, first.attempt_id)).disposition == "sale"

        control.assign(AGENT, second.attempt_id)
        await cue(daemon.ami, leg.channel)
        await eventually(lambda: keys_heard() == "11#9#")
        await eventually(lambda: [r for _, r in desk.results if r.status is KeyStatus.INVALID])
        assert len(control.disposed) == 1
        before = dt.datetime.now(dt.UTC)
        await cue(daemon.ami, leg.channel)
        await eventually(lambda: len(control.disposed) == 2)
        after = dt.datetime.now(dt.UTC)

        control.assign(AGENT, third.attempt_id)
        await cue(daemon.ami, leg.channel)
        await eventually(lambda: len(control.disposed) == 3)
    finally:
        await desk.stop()
    codes = [r.code for _, r in desk.results if r.status is KeyStatus.CODE]
    assert codes == ["sale", "callback", "sale"]  # no key read twice
    assert [(a, c) for a, c, _ in control.disposed] == [
        (AGENT, "sale"),
        (AGENT, "callback"),
        (AGENT, "sale"),
    ]
    assert (await attempts.get_attempt(pool, third.attempt_id)).disposition == "sale"
    due = await pool.fetchval(
        "SELECT due_at FROM callbacks WHERE contact_id = $1 AND status = 'pending'",
        second.contact_id,
    )
    delay = dt.timedelta(hours=2)
    assert before + delay <= due <= after + delay
