"""A phone behind a masquerading NAT, against Asterisk rendered as `ccpbx conf render`
does: three network namespaces made for the run (the PBX's, a router that masquerades
its LAN, the phone's LAN), removed afterwards even on failure. The phone registers from
a private address, the PBX reaches it through the router's public address (rewrite_contact,
force_rport: res_pjsip_nat), and RTP flows both ways (rtp_symmetric).
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

PBX_IP = "198.18.77.1"  # the "public" side (RFC 2544 test addresses)
ROUTER_WAN_IP = "198.18.77.2"
ROUTER_LAN_IP = "10.77.0.1"
PHONE_IP = "10.77.0.2"
PHONE = Path(__file__).with_name("nat_phone.py")


def _ip(*argv: str) -> None:
    subprocess.run(["ip", *argv], check=True, capture_output=True, text=True, timeout=10)


def _in(ns: str, *argv: str) -> None:
    subprocess.run(
        ["ip", "netns", "exec", ns, *argv], check=True, capture_output=True, text=True, timeout=10
    )


@dataclass(frozen=True)
class Nat:
    pbx: str
    router: str
    phone: str


@contextlib.contextmanager
def masquerading_nat() -> Iterator[Nat]:
    """PBX <-> router (MASQUERADE out of its WAN side) <-> phone; names unique per run."""
    tag = uuid.uuid4().hex[:6]
    nat = Nat(f"ccpbx-{tag}-pbx", f"ccpbx-{tag}-nat", f"ccpbx-{tag}-phone")
    made: list[str] = []
    try:
        for ns in (nat.pbx, nat.router, nat.phone):
            _ip("netns", "add", ns)
            made.append(ns)
            _in(ns, "ip", "link", "set", "lo", "up")
        # veth names: at most 15 characters.
        _ip(
            "link",
            "add",
            f"w{tag}a",
            "netns",
            nat.pbx,
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
            nat.phone,
        )
        for ns, dev, addr in (
            (nat.pbx, f"w{tag}a", f"{PBX_IP}/24"),
            (nat.router, f"w{tag}b", f"{ROUTER_WAN_IP}/24"),
            (nat.router, f"l{tag}a", f"{ROUTER_LAN_IP}/24"),
            (nat.phone, f"l{tag}b", f"{PHONE_IP}/24"),
        ):
            _in(ns, "ip", "addr", "add", addr, "dev", dev)
            _in(ns, "ip", "link", "set", dev, "up")
        _in(nat.phone, "ip", "route", "add", "default", "via", ROUTER_LAN_IP)
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
        # The PBX has no route to the phone's LAN: only the router's address is reachable.
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


@pytest.fixture
def instance(tmp_path: Path, nat: Nat) -> Iterator[AsteriskInstance]:
    runtime = ensure_runtime()
    instance = AsteriskInstance(
        NetnsRuntime(runtime.root, netns=nat.pbx),
        f"nat-{os.getpid()}-{uuid.uuid4().hex[:6]}",
        RenderedSettings(),
        conf_dir=_templates(tmp_path / "templates"),
    )
    yield instance
    instance.stop()
    if not os.environ.get("CCPBX_KEEP_SANDBOX"):
        instance.remove()


async def test_phone_behind_nat_registers_and_takes_a_call_with_two_way_rtp(
    instance: AsteriskInstance, nat: Nat, database_url: str
) -> None:
    """The contact Asterisk keeps is the router's public address, not the phone's private
    one; a call to the phone is answered through the NAT; the phone gets RTP back from
    the PBX and Asterisk counts RTP from the phone."""
    conn = await asyncpg.connect(database_url)
    try:
        _, secret = await phones.add(conn, "3001", realm=REALM)
        records = await load_records(conn)
    finally:
        await conn.close()
    env = _environ(instance, database_url) | {"CCPBX_SIP_BIND": PBX_IP, "CCPBX_SIP_PORT": "5060"}
    settings = instance.settings
    assert isinstance(settings, RenderedSettings)
    settings.rendered = production.template_values(load(None, env), records)
    instance.start()
    assert "res_pjsip_nat.so" in instance.cli("module show like res_pjsip_nat")

    phone = await asyncio.create_subprocess_exec(
        "ip",
        "netns",
        "exec",
        nat.phone,
        sys.executable,
        str(PHONE),
        PBX_IP,
        "5060",
        "3001",
        secret,
        REALM,
        PHONE_IP,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert phone.stdout is not None
        line = await asyncio.wait_for(phone.stdout.readline(), 20)
        assert line.strip() == b"registered", line
        contacts = instance.cli("pjsip show contacts")
        # rewrite_contact: Asterisk keeps the address the REGISTER came from (the router).
        assert re.search(rf"3001/sip:3001@{re.escape(ROUTER_WAN_IP)}:\d+", contacts), contacts
        assert PHONE_IP not in contacts

        instance.cli("channel originate PJSIP/3001 application Echo")

        await asyncio.sleep(3)  # three seconds of Echo
        stats = instance.cli("pjsip show channelstats")
        instance.cli("channel request hangup all")
        out, err = await asyncio.wait_for(phone.communicate(), 20)
    finally:
        if phone.returncode is None:
            phone.kill()
            await phone.wait()
    assert phone.returncode == 0, err.decode()
    call = json.loads(out.decode().strip().splitlines()[-1])
    assert call["acked"], call
    assert call["rtp_sent"] >= 100, call  # three seconds at 50 packets a second
    # What the phone sent, echoed back by Asterisk through the NAT.
    assert call["rtp_received"] >= 50, call
    assert all(source.startswith(f"{PBX_IP}:") for source in call["rtp_sources"]), call
    # Asterisk's own counts for the call: packets received from and sent to the phone.
    row = next(r for r in stats.splitlines() if "3001-" in r)
    received, sent = (int(n) for n in re.findall(r"ulaw\s+(\d+)\s+\d+\s+\d+\s+\S+\s+(\d+)", row)[0])
    assert received >= 100, stats
    assert sent >= 100, stats
