"""What `ccpbx conf render` makes from the database loads in a real Asterisk and works:
the endpoints are exactly the phones and trunks, a phone registers with the secret
`phone add` printed, a routed number reaches its queue, a registered trunk's call to
"s" is routed by its To header, a trunk registered to a registrar with digest auth
takes calls at its registered contact (PJSIP line) from any address, and under the
production identifier order (ip first) a request naming a trunk from another address
is still refused.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from ccpbx.asterisk import production
from ccpbx.asterisk.sources import load_records
from ccpbx.config import load
from ccpbx.pbx import numbers, phones, trunks
from ccpbx.sandbox.asterisk import AsteriskInstance, AsteriskSettings, Phone, free_udp_port
from ccpbx.sandbox.carrier import udp_port_bound
from ccpbx.sandbox.phones import SippPhone
from ccpbx.sandbox.root import ensure_runtime
from ccpbx.sandbox.sipp import caller_scenario, run_sipp, server_argv

from .conftest import eventually
from .test_trunk_identity import SPOOFED_INVITE

CARRIER = "127.0.0.2"
STRANGER = "127.0.0.3"


@dataclass
class RenderedSettings(AsteriskSettings):
    """Sandbox ports and folders, but the template values `conf render` builds."""

    rendered: dict[str, Any] = field(default_factory=dict)

    def template_values(self, dirs: dict[str, str]) -> dict[str, Any]:
        return self.rendered


@pytest.fixture
def instance() -> Iterator[AsteriskInstance]:
    instance = AsteriskInstance(ensure_runtime(), f"conf-{os.getpid()}", RenderedSettings())
    yield instance
    instance.stop()
    if not os.environ.get("CCPBX_KEEP_SANDBOX"):
        instance.remove()


def _environ(instance: AsteriskInstance, database_url: str) -> dict[str, str]:
    s, dirs = instance.settings, instance.dirs()
    env = {
        "DATABASE_URL": database_url,
        "CCPBX_AMI_HOST": "127.0.0.1",
        "CCPBX_AMI_PORT": str(s.ami_port),
        "CCPBX_AMI_USERNAME": s.ami_username,
        "CCPBX_AMI_SECRET": s.ami_secret,
        "CCPBX_AGI_PORT": str(s.agi_port),
        "CCPBX_SIP_BIND": "127.0.0.1",
        "CCPBX_SIP_PORT": str(s.sip_port),
        "CCPBX_SIP_REALM": "pbx.example",
        "CCPBX_ASTERISK_RTP_START": str(s.rtp_start),
        "CCPBX_ASTERISK_RTP_END": str(s.rtp_start + s.rtp_ports - 2),
    }
    for key, folder in (("conf", "etc"), ("modules", "modules"), ("varlib", "varlib")):
        env[f"CCPBX_ASTERISK_{key.upper()}_DIR"] = dirs[folder]
    for key in ("data", "spool", "run", "log"):
        env[f"CCPBX_ASTERISK_{key.upper()}_DIR"] = dirs[key]
    return env


def _endpoints(instance: AsteriskInstance) -> set[str]:
    """Endpoint names `pjsip show endpoints` lists (its header line left out)."""
    out = instance.cli("pjsip show endpoints")
    found = re.findall(r"^\s*Endpoint:\s+([^\s/]+)", out, re.M)
    return {name for name in found if not name.startswith("<")}


async def test_rendered_configuration_runs_on_asterisk(
    instance: AsteriskInstance, database_url: str
) -> None:
    """Phones, trunks and numbers added as data become a working Asterisk configuration."""
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("INSERT INTO acd_queues (name) VALUES ('sales')")
        _, secret = await phones.add(conn, "1001", realm="pbx.example", label="Anna")
        await trunks.add(
            conn,
            trunks.check("acme", host=CARRIER, port=free_udp_port(), identify=[CARRIER]),
        )
        await trunks.add(
            conn,
            trunks.check(
                "voip",
                host="127.0.0.1",
                port=free_udp_port(),
                register=True,
                username="4420",
                secret="trunk-secret",
            ),
        )
        await numbers.add(conn, "+12125550100", "queue:sales")
        records = await load_records(conn)
    finally:
        await conn.close()
    config = load(None, _environ(instance, database_url))
    assert config.sip.identify_order == "ip,username"  # the production default
    settings = instance.settings
    assert isinstance(settings, RenderedSettings)
    settings.rendered = production.template_values(config, records)
    instance.start()

    assert _endpoints(instance) == {"1001", "acme", "voip"}
    assert "voip/" in instance.cli("pjsip show registrations")

    phone = SippPhone(instance, Phone("1001", secret, rewrite_contact=False))
    phone.start()
    phone.stop()

    before = len((instance.log_dir / "messages.log").read_text(errors="replace"))
    routed = await asyncio.to_thread(
        run_sipp,
        instance,
        caller_scenario("15550123", wait_bye_ms=15_000),
        service="+12125550100",
        timeout_s=40,
        extra=("-i", CARRIER),
    )
    assert routed.ok, routed.errors
    to_s = caller_scenario("15550124", wait_bye_ms=15_000).replace(
        "To: <sip:[service]@", "To: <sip:+12125550100@"
    )
    registered = await asyncio.to_thread(
        run_sipp, instance, to_s, service="s", timeout_s=40, extra=("-i", CARRIER)
    )
    assert registered.ok, registered.errors
    log = (instance.log_dir / "messages.log").read_text(errors="replace")[before:]
    assert log.count("ccpbx number +12125550100 routes to queue:sales") == 2, log
    assert log.count("enters queue sales") == 2, log  # ccpbx-queue-enter ran, twice
    assert "[s@ccpbx-inbound:1]" in log  # the registered-contact call went through "s"

    spoofed = await asyncio.to_thread(
        run_sipp,
        instance,
        SPOOFED_INVITE.replace("sip:carrier@", "sip:acme@"),
        service="+12125550100",
        timeout_s=20,
        extra=("-i", STRANGER),
    )
    assert spoofed.ok, spoofed.stdout[-2000:] + spoofed.errors
    log = (instance.log_dir / "messages.log").read_text(errors="replace")
    assert re.search(rf"Request 'INVITE' from '.*acme@.*' failed for '{STRANGER}:\d+'", log)


REGISTRAR = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="ccpbx test registrar">
  <recv request="REGISTER" crlf="true"/>
  <send><![CDATA[
      SIP/2.0 401 Unauthorized
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]reg[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      WWW-Authenticate: Digest realm="voip.example", nonce="n[pid][call_number]", algorithm=MD5
      Content-Length: 0
  ]]></send>
  <recv request="REGISTER" crlf="true">
    <action>
      <verifyauth assign_to="authvalid" username="4420" password="trunk-secret"/>
      <ereg regexp="<([^>]*)>" search_in="hdr" header="Contact:" check_it="true"
            assign_to="contact_all,contact_uri"/>
    </action>
  </recv>
  <nop next="good" test="authvalid"/>
  <send next="done"><![CDATA[
      SIP/2.0 403 Forbidden
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]reg[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
  ]]></send>
  <label id="good"/>
  <nop><action><log message="ccpbx-registrar contact [$contact_uri] [$contact_all]"/></action></nop>
  <send><![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]reg[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <[$contact_uri]>;expires=3600
      Expires: 3600
      Content-Length: 0
  ]]></send>
  <label id="done"/>
</scenario>
"""


def _start_registrar(instance: AsteriskInstance, port: int) -> tuple[subprocess.Popen[bytes], Path]:
    """SIPp running REGISTRAR on 127.0.0.1:``port`` for one registration; its folder."""
    inside = f"{instance.inside}/registrar"
    folder = instance.runtime.host_path(inside)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "registrar.xml").write_text(REGISTRAR)
    argv = ["sipp", *server_argv(inside, "registrar.xml", port, "registrar", "-m", "1")]
    registrar = subprocess.Popen(
        instance.runtime.command(["sh", "-c", f'cd {inside} && exec "$@"', "sipp", *argv]),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    return registrar, folder


async def test_a_registered_trunk_takes_calls_at_its_registered_contact(
    instance: AsteriskInstance, database_url: str
) -> None:
    """A trunk added with --register registers to a SIPp registrar with digest auth (the
    registrar checks user and password); the carrier's call to the registered contact,
    from an address no trunk is identified by, is taken as that trunk (PJSIP "line")
    and routed by its To number; the same INVITE without the contact's line is refused."""
    conn = await asyncpg.connect(database_url)
    registrar_port = free_udp_port()
    try:
        await conn.execute("INSERT INTO acd_queues (name) VALUES ('sales')")
        await trunks.add(
            conn,
            trunks.check(
                "voip",
                host="127.0.0.1",
                port=registrar_port,
                register=True,
                username="4420",
                secret="trunk-secret",
            ),
        )
        await numbers.add(conn, "+12125550100", "queue:sales")
        records = await load_records(conn)
    finally:
        await conn.close()
    settings = instance.settings
    assert isinstance(settings, RenderedSettings)
    settings.rendered = production.template_values(
        load(None, _environ(instance, database_url)), records
    )
    registrar, folder = _start_registrar(instance, registrar_port)
    try:
        await eventually(lambda: udp_port_bound(registrar_port, registrar.pid), 10)
        instance.start()
        await eventually(lambda: registrar.poll() is not None, 20)
    finally:
        if registrar.poll() is None:
            registrar.kill()
        registrar.wait()
    log = (folder / "registrar.log").read_text(errors="replace")
    assert registrar.returncode == 0, log + (folder / "registrar.errors.log").read_text()
    (contact,) = re.findall(r"ccpbx-registrar contact (\S+) ", log)
    assert ";line=" in contact, contact
    await eventually(lambda: "Registered" in instance.cli("pjsip show registrations"), 10)

    before = len((instance.log_dir / "messages.log").read_text(errors="replace"))
    invite = caller_scenario("15550125", wait_bye_ms=15_000).replace(
        "To: <sip:[service]@", "To: <sip:+12125550100@"
    )
    to_contact = invite.replace(
        "INVITE sip:[service]@[remote_ip]:[remote_port]", f"INVITE {contact}"
    )
    routed = await asyncio.to_thread(
        run_sipp, instance, to_contact, service="s", timeout_s=40, extra=("-i", STRANGER)
    )
    assert routed.ok, routed.errors
    messages = (instance.log_dir / "messages.log").read_text(errors="replace")[before:]
    assert "[s@ccpbx-inbound:1]" in messages, messages
    assert re.search(r"PJSIP/voip-[0-9a-f]+.*ccpbx number \+12125550100 routes to", messages), (
        messages
    )
    assert "enters queue sales" in messages, messages

    no_line = await asyncio.to_thread(
        run_sipp, instance, invite, service="s", timeout_s=20, extra=("-i", STRANGER)
    )
    assert not no_line.ok  # refused: no trunk is identified by STRANGER, no line
    assert re.search(r"40[13] ", no_line.stdout + no_line.errors), no_line.errors[-2000:]
