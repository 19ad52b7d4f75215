"""NAT both ways round, against Asterisk rendered as `ccpbx conf render` does, in three
network namespaces made for the run (the public side, a router that masquerades its
LAN, the LAN), removed afterwards even on failure.

- A phone behind the NAT: it registers from a private address, the PBX reaches it
  through the router's public address (rewrite_contact, force_rport: res_pjsip_nat),
  and RTP flows both ways (rtp_symmetric).
- Asterisk behind the NAT (the router forwards UDP to it), ``[sip] external_address``
  and ``local_nets`` set: a phone on the public side registers and takes a call whose
  SIP and SDP name the public address, with RTP both ways.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from ccpbx.asterisk import production
from ccpbx.asterisk.sources import load_records
from ccpbx.config import load
from ccpbx.pbx import phones
from ccpbx.rootfs import Runtime
from ccpbx.sandbox.asterisk import AsteriskInstance
from ccpbx.sandbox.root import ensure_runtime

from .test_conf_render_asterisk import RenderedSettings, _environ
from .test_transports_asterisk import REALM, _templates

PUBLIC_IP = "198.18.77.1"  # the public side (RFC 2544 test addresses)
ROUTER_WAN_IP = "198.18.77.2"
ROUTER_LAN_IP = "10.77.0.1"
LAN_IP = "10.77.0.2"
PHONE = Path(__file__).with_name("nat_phone.py")


def _ip(*argv: str) -> None:
    subprocess.run(["ip", *argv], check=True, capture_output=True, text=True, timeout=10)


def _in(ns: str, *argv: str) -> None:
    subprocess.run(
        ["ip", "netns", "exec", ns, *argv], check=True, capture_output=True, text=True, timeout=10
    )


@dataclass(frozen=True)
class Nat:
    public: str
    router: str
    lan: str
    wan_dev: str  # the router's public interface

    def forward_udp_to_lan(self) -> None:
        """Port forwarding: every UDP packet to the router's public address goes to LAN_IP."""
        _in(
            self.router,
            "iptables",
            "-t",
            "nat",
            "-A",
            "PREROUTING",
            "-i",
            self.wan_dev,
            "-p",
            "udp",
            "-j",
            "DNAT",
            "--to-destination",
            LAN_IP,
        )


@contextlib.contextmanager
def masquerading_nat() -> Iterator[Nat]:
    """public <-> router (MASQUERADE out of its WAN side) <-> LAN; names unique per run."""
    tag = uuid.uuid4().hex[:6]
    nat = Nat(f"ccpbx-{tag}-pub", f"ccpbx-{tag}-nat", f"ccpbx-{tag}-lan", f"w{tag}b")
    made: list[str] = []
    try:
        for ns in (nat.public, nat.router, nat.lan):
            _ip("netns", "add", ns)
            made.append(ns)
            _in(ns, "ip", "link", "set", "lo", "up")
        # veth names: at most 15 characters.
        _ip(
            "link",
            "add",
            f"w{tag}a",
            "netns",
            nat.public,
            "type",
            "veth",
            "peer",
            f"w{tag}b",
            "netns",
            nat.router,
        )
        _ip(
            "link",
            "add",
            f"l{tag}a",
            "netns",
            nat.router,
            "type",
            "veth",
            "peer",
            f"l{tag}b",
            "netns",
            nat.lan,
        )
        for ns, dev, addr in (
            (nat.public, f"w{tag}a", f"{PUBLIC_IP}/24"),
            (nat.router, f"w{tag}b", f"{ROUTER_WAN_IP}/24"),
            (nat.router, f"l{tag}a", f"{ROUTER_LAN_IP}/24"),
            (nat.lan, f"l{tag}b", f"{LAN_IP}/24"),
        ):
            _in(ns, "ip", "addr", "add", addr, "dev", dev)
            _in(ns, "ip", "link", "set", dev, "up")
        _in(nat.lan, "ip", "route", "add", "default", "via", ROUTER_LAN_IP)
        _in(nat.router, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        _in(
            nat.router,
            "iptables",
            "-t",
            "nat",
            "-A",
            "POSTROUTING",
            "-o",
            f"w{tag}b",
            "-j",
            "MASQUERADE",
        )
        # The public side has no route to the LAN: only the router's address is reachable.
        yield nat
    finally:
        for ns in reversed(made):
            subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True)


@dataclass(frozen=True)
class NetnsRuntime(Runtime):
    """The sandbox's runtime, run inside a network namespace."""

    netns: str = ""

    def command(self, argv: list[str]) -> list[str]:  # type: ignore[override]
        return ["ip", "netns", "exec", self.netns, *super().command(argv)]


@pytest.fixture
def nat() -> Iterator[Nat]:
    with masquerading_nat() as made:
        yield made


@contextlib.contextmanager
def _asterisk_in(netns: str, tmp_path: Path) -> Iterator[AsteriskInstance]:
    instance = AsteriskInstance(
        NetnsRuntime(ensure_runtime().root, netns=netns),
        f"nat-{os.getpid()}-{uuid.uuid4().hex[:6]}",
        RenderedSettings(),
        conf_dir=_templates(tmp_path / "templates"),
    )
    try:
        yield instance
    finally:
        instance.stop()
        if not os.environ.get("CCPBX_KEEP_SANDBOX"):
            instance.remove()


async def _start(instance: AsteriskInstance, database_url: str, bind: str, **sip: str) -> str:
    """Add phone 3001, render as production with [sip] bind (and ``sip`` keys), start
    Asterisk; return the phone's secret."""
    conn = await asyncpg.connect(database_url)
    try:
        _, secret = await phones.add(conn, "3001", realm=REALM)
        records = await load_records(conn)
    finally:
        await conn.close()
    env = _environ(instance, database_url) | {"CCPBX_SIP_BIND": bind, "CCPBX_SIP_PORT": "5060"}
    env |= {f"CCPBX_SIP_{key.upper()}": value for key, value in sip.items()}
    settings = instance.settings
    assert isinstance(settings, RenderedSettings)
    settings.rendered = production.template_values(load(None, env), records)
    instance.start()
    assert "res_pjsip_nat.so" in instance.cli("module show like res_pjsip_nat")
    return secret


@dataclass(frozen=True)
class Call:
    contacts: str  # pjsip show contacts, once the phone registered
    stats: str  # pjsip show channelstats, three seconds into the call
    phone: dict[str, Any]  # what the phone saw (nat_phone.py's JSON line)

    def asterisk_counts(self) -> tuple[int, int]:
        """RTP packets Asterisk received from and sent to the phone."""
        row = next(r for r in self.stats.splitlines() if "3001-" in r)
        found = re.findall(r"ulaw\s+(\d+)\s+\d+\s+\d+\s+\S+\s+(\d+)", row)
        return int(found[0][0]), int(found[0][1])


async def _echo_call(
    instance: AsteriskInstance, phone_ns: str, pbx: str, phone_ip: str, secret: str
) -> Call:
    """Phone 3001 (in ``phone_ns``, on ``phone_ip``) registers to ``pbx``:5060; Asterisk
    calls it into Echo for three seconds, then hangs up."""
    phone = await asyncio.create_subprocess_exec(
        *("ip", "netns", "exec", phone_ns, sys.executable, str(PHONE)),
        *(pbx, "5060", "3001", secret, REALM, phone_ip),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert phone.stdout is not None
        line = await asyncio.wait_for(phone.stdout.readline(), 20)
        assert line.strip() == b"registered", line
        contacts = instance.cli("pjsip show contacts")
        instance.cli("channel originate PJSIP/3001 application Echo")
        await asyncio.sleep(3)
        stats = instance.cli("pjsip show channelstats")
        instance.cli("channel request hangup all")
        out, err = await asyncio.wait_for(phone.communicate(), 20)
    finally:
        if phone.returncode is None:
            phone.kill()
            await phone.wait()
    assert phone.returncode == 0, err.decode()
    return Call(contacts, stats, json.loads(out.decode().strip().splitlines()[-1]))


def _two_way_rtp(call: Call, pbx_seen_at: str) -> None:
    assert call.phone["acked"], call
    assert call.phone["rtp_sent"] >= 100, call  # three seconds at 50 packets a second
    # What the phone sent, echoed back by Asterisk, from the address the phone knows.
    assert call.phone["rtp_received"] >= 50, call
    assert all(s.startswith(f"{pbx_seen_at}:") for s in call.phone["rtp_sources"]), call
    received, sent = call.asterisk_counts()
    assert received >= 100, call.stats
    assert sent >= 100, call.stats


async def test_phone_behind_nat_registers_and_takes_a_call_with_two_way_rtp(
    nat: Nat, database_url: str, tmp_path: Path
) -> None:
    """The contact Asterisk keeps is the router's public address, not the phone's private
    one; a call to the phone is answered through the NAT; the phone gets RTP back from
    the PBX and Asterisk counts RTP from the phone."""
    with _asterisk_in(nat.public, tmp_path) as instance:
        secret = await _start(instance, database_url, PUBLIC_IP)
        call = await _echo_call(instance, nat.lan, PUBLIC_IP, LAN_IP, secret)
    # rewrite_contact: Asterisk keeps the address the REGISTER came from (the router).
    assert re.search(rf"3001/sip:3001@{re.escape(ROUTER_WAN_IP)}:\d+", call.contacts), call
    assert LAN_IP not in call.contacts
    _two_way_rtp(call, PUBLIC_IP)


async def test_asterisk_behind_nat_names_its_external_address(
    nat: Nat, database_url: str, tmp_path: Path
) -> None:
    """With [sip] external_address (the router's) and local_nets (the LAN), a phone on the
    public side registers through the port forward; Asterisk's INVITE and SDP name the
    external address, never its private one, and RTP flows both ways."""
    nat.forward_udp_to_lan()
    with _asterisk_in(nat.lan, tmp_path) as instance:
        secret = await _start(
            instance,
            database_url,
            LAN_IP,
            external_address=ROUTER_WAN_IP,
            local_nets="10.77.0.0/24",
        )
        transport = instance.cli("pjsip show transport transport-udp")
        assert re.search(rf"external_media_address\s*:\s*{ROUTER_WAN_IP}", transport), transport
        call = await _echo_call(instance, nat.public, ROUTER_WAN_IP, PUBLIC_IP, secret)
    assert re.search(rf"3001/sip:3001@{re.escape(PUBLIC_IP)}:5060", call.contacts), call
    assert call.phone["offer"] == ROUTER_WAN_IP, call  # SDP c=, not 10.77.0.2
    assert ROUTER_WAN_IP in call.phone["invite_contact"], call
    assert LAN_IP not in call.phone["invite_headers"], call
    _two_way_rtp(call, ROUTER_WAN_IP)
