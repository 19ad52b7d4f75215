"""What `ccpbx conf render` makes from the database loads in a real Asterisk and works:
the endpoints are exactly the phones and trunks, a phone registers with the secret
`phone add` printed, a routed number reaches its queue, a registered trunk's call to
"s" is routed by its To header, and under the production identifier order (ip first)
a request naming a trunk from another address is still refused.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import pytest

from ccpbx.asterisk import production
from ccpbx.asterisk.sources import load_records
from ccpbx.config import load
from ccpbx.pbx import numbers, phones, trunks
from ccpbx.sandbox.asterisk import AsteriskInstance, AsteriskSettings, Phone, free_udp_port
from ccpbx.sandbox.phones import SippPhone
from ccpbx.sandbox.root import ensure_runtime
from ccpbx.sandbox.sipp import caller_scenario, run_sipp

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
