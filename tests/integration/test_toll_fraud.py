"""Toll fraud (issue 12): phones dial out only as their class of service allows, and an
unauthenticated INVITE never reaches the carrier. Counted at the SIPp carrier.

Sandbox phones: 1010 has class ``local``, 1012 ``none``, 1011 ``international``; the
carrier trunk is stored as ``ccpbx trunk add`` stores it (its dial template is read for
each allowed call); the PBX's home region is the default US, local prefix 212.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import Iterator

import pytest
from structlog.testing import capture_logs

from ccpbx.config import Config, DialingConfig
from ccpbx.daemon import Daemon
from ccpbx.pbx import trunks
from ccpbx.sandbox.asterisk import EMERGENCY_CALLER_ID, AsteriskInstance
from ccpbx.sandbox.carrier import Carrier
from ccpbx.sandbox.sipp import SippResult, run_sipp, scenario_path

from .conftest import StartDaemon, eventually
from .test_acd_support import phone_dial_scenario

LONDON = "+442071234567"
STRANGER = "127.0.0.2"


def _dialing(config: Config) -> Config:
    return dataclasses.replace(config, dialing=DialingConfig(local_prefixes=("212",)))


@pytest.fixture
async def daemon(asterisk: AsteriskInstance, start_daemon: StartDaemon) -> Daemon:
    """The daemon, with the sandbox's carrier trunk stored in its database."""
    started = await start_daemon(config=_dialing)
    await trunks.add(started.database.pool, asterisk.settings.carrier())
    return started


@pytest.fixture
def carrier(asterisk: AsteriskInstance) -> Iterator[Carrier]:
    """The SIPp carrier, answering every call and hanging up after 2 s."""
    with Carrier(asterisk, answer_pct=100, busy_pct=0, congestion_pct=0, talk_s=2.0) as running:
        yield running


def _messages(asterisk: AsteriskInstance) -> str:
    path = asterisk.log_dir / "messages.log"
    return path.read_text(errors="replace") if path.exists() else ""


async def _dial(asterisk: AsteriskInstance, phone: str, number: str) -> SippResult:
    xml = phone_dial_scenario(phone, f"pw-{phone}-secret", [])
    return await asyncio.to_thread(run_sipp, asterisk, xml, service=number, timeout_s=40)


async def _denied(
    asterisk: AsteriskInstance, carrier: Carrier, phone: str, number: str, klass: str, reason: str
) -> None:
    before = len(_messages(asterisk))
    with capture_logs() as logs:
        result = await _dial(asterisk, phone, number)
    assert result.ok, result.errors  # answered, then hung up by the PBX
    denied = [e for e in logs if e["event"] == "phone_call_denied"]
    assert denied == [
        {
            "event": "phone_call_denied",
            "log_level": "warning",
            "phone": phone,
            "number": number,
            "class_of_service": klass,
            "reason": reason,
        }
    ]
    log = _messages(asterisk)[before:]
    assert "Playing 'cannot-complete-as-dialed" in log, log
    line = f"ccpbx phone_call_denied phone={phone} number={number} class={klass} reason={reason}"
    assert re.search(re.escape(f"{line} from 127.0.0.1 port ") + r"\d+", log), log
    await asyncio.sleep(1.0)  # an INVITE sent late would reach the carrier by now
    assert carrier.numbers() == {}, carrier.log()


async def test_a_local_phone_dialing_london_never_reaches_the_carrier(
    asterisk: AsteriskInstance, daemon: Daemon, carrier: Carrier
) -> None:
    """Phone 1010 (class local) dials +44 20 7123 4567: it hears the denied prompt, is
    hung up, ccpbx and Asterisk log the denial, and the carrier receives no INVITE."""
    await _denied(asterisk, carrier, "1010", LONDON, "local", "class_too_low")


async def test_an_international_phone_dialing_london_reaches_the_carrier_once(
    asterisk: AsteriskInstance, daemon: Daemon, carrier: Carrier
) -> None:
    """Phone 1011 (class international) dials the same number: one INVITE for the E.164
    number reaches the carrier, which answers, and the phone's caller ID goes with it."""
    with capture_logs() as logs:
        result = await _dial(asterisk, "1011", LONDON)
    assert result.ok, result.errors
    await eventually(lambda: carrier.numbers() == {LONDON: 1}, 10)
    assert [c.answered_at is not None for c in carrier.log()] == [True]
    out = [e for e in logs if e["event"] == "phone_call_out"]
    assert [(e["phone"], e["number"], e["trunk"]) for e in out] == [("1011", LONDON, "carrier")]
    assert [c.caller for c in carrier.log()] == ["1011"]


async def test_outside_calls_show_the_company_caller_id(
    asterisk: AsteriskInstance, start_daemon: StartDaemon, carrier: Carrier
) -> None:
    """With [dialing] caller_id set, phone 1011's call to London and phone 1012's 911
    reach the carrier From the company number, not the phone's extension."""

    def company(config: Config) -> Config:
        dialing = DialingConfig(local_prefixes=("212",), caller_id="+12125550100")
        return dataclasses.replace(config, dialing=dialing)

    daemon = await start_daemon(config=company)
    await trunks.add(daemon.database.pool, asterisk.settings.carrier())
    for phone, number in (("1011", LONDON), ("1012", "911")):
        result = await _dial(asterisk, phone, number)
        assert result.ok, result.errors
    await eventually(lambda: carrier.numbers() == {LONDON: 1, "911": 1}, 10)
    assert {c.number: c.caller for c in carrier.log()} == {
        LONDON: "+12125550100",
        "911": "+12125550100",
    }


async def test_a_local_phone_reaches_a_local_number(
    asterisk: AsteriskInstance, daemon: Daemon, carrier: Carrier
) -> None:
    """Phone 1010 (class local) dials 212 555 0123 (local prefix 212): the carrier
    receives it as +12125550123."""
    result = await _dial(asterisk, "1010", "2125550123")
    assert result.ok, result.errors
    await eventually(lambda: carrier.numbers() == {"+12125550123": 1}, 10)


async def test_premium_rate_is_denied_even_to_an_international_phone(
    asterisk: AsteriskInstance, daemon: Daemon, carrier: Carrier
) -> None:
    """Phone 1011 (international) dials a 1-900 number and a UK 09 number: both denied
    (premium_not_allowed), no INVITE at the carrier."""
    await _denied(asterisk, carrier, "1011", "19005551234", "international", "premium_not_allowed")
    await _denied(
        asterisk, carrier, "1011", "+449098790000", "international", "premium_not_allowed"
    )


async def test_a_phone_of_class_none_still_reaches_911(
    asterisk: AsteriskInstance, daemon: Daemon, carrier: Carrier
) -> None:
    """Phone 1012 (class none) is denied +44 but its 911 goes out to the carrier as
    dialed: no class of service ever blocks an emergency call."""
    await _denied(asterisk, carrier, "1012", LONDON, "none", "class_too_low")
    result = await _dial(asterisk, "1012", "911")
    assert result.ok, result.errors
    await eventually(lambda: carrier.numbers() == {"911": 1}, 10)


# An INVITE from an address no trunk has, with no credentials; it expects 401 or 403
# and ACKs it. Anything else (100 Trying is allowed; 180 or 200) fails SIPp.
UNAUTHENTICATED_INVITE = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="ccpbx unauthenticated international call">
  <send retrans="500"><![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:{user}@[remote_ip]>;tag=[pid]fraud[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:{user}@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=fraud 1 1 IN IP4 [local_ip]
      s=-
      c=IN IP4 [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000
  ]]></send>
  <recv response="100" optional="true"/>
  <recv response="401" optional="true" next="refused"/>
  <recv response="403" next="refused"/>
  <label id="refused"/>
  <send><![CDATA[
      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [last_From:]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0
  ]]></send>
</scenario>
"""


@pytest.mark.parametrize("user", ["anonymous", "1011"])
async def test_an_unauthenticated_invite_from_an_unknown_address_never_reaches_the_carrier(
    asterisk: AsteriskInstance, daemon: Daemon, carrier: Carrier, user: str
) -> None:
    """From 127.0.0.2, with no credentials, an INVITE to +44 is answered 401/403 and
    makes no channel and no INVITE at the carrier: From an unknown user (no guest
    endpoint: logged with the source address), or from international phone 1011's name
    (a digest challenge the sender cannot answer)."""
    before = len(_messages(asterisk))
    trace = scenario_path(asterisk, f"fraud-{user}-messages.log")
    trace.unlink(missing_ok=True)
    result = await asyncio.to_thread(
        run_sipp,
        asterisk,
        UNAUTHENTICATED_INVITE.format(user=user),
        service=LONDON,
        timeout_s=20,
        extra=(
            "-i",
            STRANGER,
            "-trace_msg",
            "-message_file",
            f"{asterisk.inside}/sipp/{trace.name}",
        ),
    )
    assert result.ok, result.stdout[-3000:] + result.errors
    sent = trace.read_text(errors="replace")
    assert re.search(r"SIP/2.0 40[13]", sent), sent
    assert f"Via: SIP/2.0/UDP {STRANGER}:" in sent
    assert "SIP/2.0 200" not in sent
    await asyncio.sleep(1.0)
    assert carrier.numbers() == {}, carrier.log()
    assert "PJSIP/" not in asterisk.cli("core show channels concise")
    log = _messages(asterisk)[before:]
    if user == "anonymous":  # no endpoint: refused and logged with the address (fail2ban)
        assert re.search(rf"Request 'INVITE' from '.*anonymous@.*' failed for '{STRANGER}:", log)
        assert "No matching endpoint found" in log
    else:  # a phone's name: challenged for the phone's password, which it does not have
        assert "WWW-Authenticate: Digest" in sent, sent


async def _busy_after(
    asterisk: AsteriskInstance, carrier: Carrier, phone: str, numbers: list[str], reason: str
) -> None:
    """``numbers`` dialed at once from ``phone`` and kept up by the carrier; one more
    outside call is then denied with ``reason`` and hears that all circuits are busy."""
    calls = [asyncio.create_task(_dial(asterisk, phone, n)) for n in numbers]
    try:
        await eventually(lambda: len(carrier.active()) == len(numbers), 15)
        before = len(_messages(asterisk))
        with capture_logs() as logs:
            result = await _dial(asterisk, phone, "+442071234599")
        assert result.ok, result.errors
        assert [(e["event"], e["reason"]) for e in logs if e["event"] == "phone_call_denied"] == [
            ("phone_call_denied", reason)
        ]
        log = _messages(asterisk)[before:]
        assert "Playing 'all-circuits-busy-now" in log, log
        assert re.search(
            rf"phone_call_denied phone={phone} .* reason={reason} from 127\.0\.0\.1", log
        )
        assert sorted(carrier.numbers()) == sorted(numbers)
    finally:
        asterisk.cli("channel request hangup all")
        for call in calls:
            await call


@pytest.fixture
def long_carrier(asterisk: AsteriskInstance) -> Iterator[Carrier]:
    """The SIPp carrier, answering every call and keeping it up for 20 s."""
    with Carrier(asterisk, answer_pct=100, busy_pct=0, congestion_pct=0, talk_s=20.0) as running:
        yield running


async def test_a_phone_has_at_most_max_calls_outside_calls_up(
    asterisk: AsteriskInstance, daemon: Daemon, long_carrier: Carrier
) -> None:
    """Phone 1011 (max_calls 2) with two outside calls up: a third is denied (max_calls)
    and never reaches the carrier."""
    await _busy_after(
        asterisk, long_carrier, "1011", ["+442071234501", "+442071234502"], "max_calls"
    )


async def test_an_emergency_call_goes_out_past_the_phones_call_limit(
    asterisk: AsteriskInstance, daemon: Daemon, long_carrier: Carrier
) -> None:
    """Phone 1011 with its two outside calls up still reaches the carrier with 911."""
    calls = [asyncio.create_task(_dial(asterisk, "1011", f"+4420712345{n}")) for n in ("01", "02")]
    try:
        await eventually(lambda: len(long_carrier.active()) == 2, 15)
        calls.append(asyncio.create_task(_dial(asterisk, "1011", "911")))
        await eventually(lambda: long_carrier.numbers()["911"] == 1, 10)
    finally:
        asterisk.cli("channel request hangup all")
        for call in calls:
            await call


async def test_a_trunk_takes_at_most_max_channels_phone_calls(
    asterisk: AsteriskInstance, start_daemon: StartDaemon, long_carrier: Carrier
) -> None:
    """The carrier stored with max_channels 1: with phone 1011's call up, phone 1003's
    outside call is denied (trunk_busy) and never reaches the carrier."""
    daemon = await start_daemon(config=_dialing)
    trunk = dataclasses.replace(asterisk.settings.carrier(), max_channels=1)
    await trunks.add(daemon.database.pool, trunk)
    call = asyncio.create_task(_dial(asterisk, "1011", "+442071234501"))
    try:
        await eventually(lambda: len(long_carrier.active()) == 1, 15)
        with capture_logs() as logs:
            result = await _dial(asterisk, "1003", "+442071234599")
        assert result.ok, result.errors
        reasons = [e["reason"] for e in logs if e["event"] == "phone_call_denied"]
        assert reasons == ["trunk_busy"]
        assert long_carrier.numbers() == {"+442071234501": 1}
    finally:
        asterisk.cli("channel request hangup all")
        await call


async def test_without_the_trunk_record_only_emergency_calls_go_out(
    asterisk: AsteriskInstance, start_daemon: StartDaemon, carrier: Carrier
) -> None:
    """No trunk stored under [dialing] trunk: phone 1011's +44 call is denied (no_trunk),
    phone 1012's 911 still reaches the carrier (the trunk's endpoint, standard template)."""
    await start_daemon(config=_dialing)
    await _denied(asterisk, carrier, "1011", LONDON, "international", "no_trunk")
    result = await _dial(asterisk, "1012", "911")
    assert result.ok, result.errors
    await eventually(lambda: carrier.numbers() == {"911": 1}, 10)


async def test_without_ccpbx_only_emergency_calls_go_out(
    asterisk: AsteriskInstance, carrier: Carrier
) -> None:
    """No ccpbx answers the phone script (nothing listens on the FastAGI port): a call to
    911 still goes out on the carrier, from the dialplan alone, showing the company
    number it rendered; +44 does not."""
    refused = await _dial(asterisk, "1012", LONDON)
    assert not refused.ok  # never answered
    assert "603 Decline" in refused.errors
    result = await _dial(asterisk, "1012", "911")
    assert result.ok, result.errors
    await eventually(lambda: carrier.numbers() == {"911": 1}, 10)
    await asyncio.sleep(1.0)
    assert carrier.numbers() == {"911": 1}
    assert [c.caller for c in carrier.log()] == [EMERGENCY_CALLER_ID]
