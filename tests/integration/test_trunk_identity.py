"""Who Asterisk takes a request for: trunks by address only, phones by digest credential.

The caller-ID spoofing hole of issue 12: with the carrier endpoint findable by user
name, an INVITE with ``From: sip:carrier@...`` from any address was the carrier's call,
with a trusted caller ID the dialer would later call back. The sandbox carrier is
identified by 127.0.0.1; a spoofer binds 127.0.0.2 (another loopback address: a
different address, not only a different port).
"""

from __future__ import annotations

import asyncio
import re

import pytest

from ccpbx.sandbox.asterisk import AsteriskInstance, Phone
from ccpbx.sandbox.phones import SippPhone
from ccpbx.sandbox.sipp import caller_scenario, run_sipp, scenario_path

SPOOFER = "127.0.0.2"

# An INVITE claiming to come from the carrier; it expects to be refused (401 or 403)
# and ACKs the refusal. Anything else (100 Trying is allowed; 180 or 200) fails SIPp.
SPOOFED_INVITE = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="ccpbx spoofed carrier">
  <send retrans="500"><![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "Carrier" <sip:carrier@[remote_ip]>;tag=[pid]spoof[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:carrier@[local_ip]:[local_port]>
      P-Asserted-Identity: <sip:+15550009999@[remote_ip]>
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=spoof 1 1 IN IP4 [local_ip]
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
  <nop><action><log message="refused [last_Status:]"/></action></nop>
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


def _messages(asterisk: AsteriskInstance) -> str:
    path = asterisk.log_dir / "messages.log"
    return path.read_text(errors="replace") if path.exists() else ""


async def test_an_invite_claiming_to_be_the_carrier_from_another_address_is_refused(
    asterisk: AsteriskInstance,
) -> None:
    """From 127.0.0.2, "From: sip:carrier@" (with a P-Asserted-Identity) finds no endpoint:
    Asterisk answers 401, logs the failed request with the source address (what fail2ban
    reads), and no channel is created. The very same From from the carrier's address is
    taken (control)."""
    before = len(_messages(asterisk))
    trace = scenario_path(asterisk, "spoof-messages.log")
    trace.unlink(missing_ok=True)
    spoofed = await asyncio.to_thread(
        run_sipp,
        asterisk,
        SPOOFED_INVITE,
        service="18005550100",
        timeout_s=20,
        extra=(
            "-i",
            SPOOFER,
            "-trace_msg",
            "-message_file",
            f"{asterisk.inside}/sipp/{trace.name}",
        ),
    )
    assert spoofed.ok, spoofed.stdout[-3000:] + spoofed.errors
    sent = trace.read_text(errors="replace")
    assert re.search(r"SIP/2.0 40[13]", sent), sent
    assert f"Via: SIP/2.0/UDP {SPOOFER}:" in sent  # it really was sent from the other address
    assert "SIP/2.0 200" not in sent
    log = _messages(asterisk)[before:]
    assert re.search(rf"Request 'INVITE' from '.*carrier@.*' failed for '{SPOOFER}:\d+'", log), log
    assert "No matching endpoint found" in log
    assert "carrier" not in asterisk.cli("core show channels concise")

    control = await asyncio.to_thread(
        run_sipp,
        asterisk,
        caller_scenario("carrier", "Carrier", wait_bye_ms=15_000),
        service="18005550100",
        timeout_s=40,
    )
    assert control.ok, control.errors  # answered: by ccpbx-fallback, no daemon runs here


async def test_phones_register_with_the_md5_credential_only(asterisk: AsteriskInstance) -> None:
    """A phone whose pjsip.conf auth holds only md5(name:realm:password) registers with
    that password, and is refused with any other."""
    good = SippPhone(asterisk, Phone("1005", "pw-1005-secret", rewrite_contact=False))
    good.start()
    try:
        contacts = asterisk.cli("pjsip show contacts")
        assert "1005/sip:1005@127.0.0.1" in contacts, contacts
    finally:
        good.stop()
    bad = SippPhone(asterisk, Phone("1006", "not-its-password", rewrite_contact=False))
    with pytest.raises(RuntimeError, match="failed to register"):
        bad.start(timeout_s=5)
    auth = asterisk.run_dir / "etc" / "pjsip.conf"
    assert "pw-1005-secret" not in auth.read_text()
