"""One sandbox Asterisk instance: render its config, then start, stop, kill, query it
(:class:`ccpbx.asterisk.process.AsteriskProcess`).

Each instance has its own run folder (config, logs, spool, sockets) and its own
loopback ports, so it never clashes with a production PBX on the same host.
"""

from __future__ import annotations

import os
import random
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from ccpbx.asterisk.process import AsteriskProcess, free_tcp_port, free_udp_port
from ccpbx.asterisk.render import render_all, write_all
from ccpbx.pbx.model import (
    DEFAULT_DIAL_TEMPLATE,
    NumberRecord,
    PhoneRecord,
    TrunkRecord,
    md5_cred,
)
from ccpbx.pbx.softphones import SoftphoneAgent, phone_record
from ccpbx.pbx.values import (
    emergency_values,
    endpoint_values,
    number_values,
    phone_values,
    trunk_values,
)
from ccpbx.sandbox.root import Runtime, SandboxError

log = structlog.get_logger(__name__)

# The company number the sandbox dialplan shows on emergency calls made without ccpbx.
EMERGENCY_CALLER_ID = "+12125550100"


SIP_REALM = "ccpbx"
"""The digest realm of sandbox phones (their credentials are made for it)."""

# Every sandbox peer (phones, callers, the carrier) sends from 127.0.0.1, so phones are
# told apart from the carrier by user name first; the carrier's endpoint can only be
# found by address (identify_by = ip), so no user name ever reaches it.
IDENTIFY_ORDER = "username,ip"


@dataclass(frozen=True)
class Phone:
    """A SIP phone provisioned on the sandbox (digest auth, one contact)."""

    name: str
    password: str
    label: str = ""
    # Keep the contact the phone registers (a test phone answers on another port).
    rewrite_contact: bool = True
    class_of_service: str = "international"
    max_calls: int = 2

    def record(self) -> PhoneRecord:
        """The phone as ``ccpbx phone add`` would have stored it (its MD5 credential)."""
        return PhoneRecord(
            name=self.name,
            label=self.label,
            transport="udp",
            webrtc=False,
            class_of_service=self.class_of_service,
            max_calls=self.max_calls,
            realm=SIP_REALM,
            md5_cred=md5_cred(self.name, SIP_REALM, self.password),
        )


@dataclass
class AsteriskSettings:
    """Per-run values handed to the templates."""

    ami_port: int = field(default_factory=free_tcp_port)
    ami_username: str = "ccpbx"
    ami_secret: str = field(default_factory=lambda: secrets.token_hex(16))
    sip_port: int = field(default_factory=free_udp_port)
    # 1,000 calls' worth of media ports (2 per call), in a block chosen per run.
    rtp_start: int = field(default_factory=lambda: 20000 + 2000 * random.randrange(0, 20))
    rtp_ports: int = 2000
    agi_host: str = "127.0.0.1"
    agi_port: int = field(default_factory=free_tcp_port)
    carrier_port: int = field(default_factory=free_udp_port)
    phones: list[Phone] = field(default_factory=list)
    numbers: list[NumberRecord] = field(default_factory=list)
    """Inbound numbers with a route, as ``ccpbx number add`` stores them."""
    fallback_prompt: str = "ss-noservice"
    voicemail_boxes: list[str] = field(default_factory=lambda: ["support", "sales"])
    wss_port: int = 0
    """Asterisk's HTTPS server for browsers' SIP over websockets (0: none); it needs
    ``tls_cert`` and ``tls_key``, paths as Asterisk sees them."""
    tls_cert: str = ""
    tls_key: str = ""
    softphone_key: str = ""
    softphone_agents: list[SoftphoneAgent] = field(default_factory=list)
    """Agents whose browser phones (``agent-N-web``, WebRTC over WSS) are provisioned,
    their passwords derived from ``softphone_key`` as ``conf render`` derives them."""

    def transports(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = [
            {"name": "transport-udp", "protocol": "udp", "bind": "127.0.0.1", "port": self.sip_port}
        ]
        if self.wss_port:
            out.append(
                {
                    "name": "transport-wss",
                    "protocol": "wss",
                    "bind": "127.0.0.1",
                    "port": self.wss_port,
                    "http_bind": "127.0.0.1",
                    "cert_file": self.tls_cert,
                    "priv_key_file": self.tls_key,
                }
            )
        return out

    def carrier(self) -> TrunkRecord:
        """The SIPp carrier as ``ccpbx trunk add carrier --identify 127.0.0.1`` stores it."""
        return TrunkRecord(
            name="carrier",
            host="127.0.0.1",
            port=self.carrier_port,
            transport="udp",
            identify=("127.0.0.1/32",),
            register=False,
            username=None,
            secret=None,
            codecs=("ulaw", "alaw"),
            max_channels=None,
            dial_template=DEFAULT_DIAL_TEMPLATE,
        )

    def template_values(self, dirs: dict[str, str]) -> dict[str, Any]:
        endpoints = endpoint_values(
            [
                *(
                    phone_values(p.record(), realm=SIP_REALM, rewrite_contact=p.rewrite_contact)
                    for p in self.phones
                ),
                *(
                    phone_values(phone_record(self.softphone_key, a, SIP_REALM), realm=SIP_REALM)
                    for a in self.softphone_agents
                ),
            ],
            [trunk_values(self.carrier())],
        )
        return {
            "dirs": dirs,
            "ami": {
                "bind": "127.0.0.1",
                "port": self.ami_port,
                "username": self.ami_username,
                "secret": self.ami_secret,
            },
            "sip": {
                "bind": "127.0.0.1",
                "port": self.sip_port,
                "realm": SIP_REALM,
                "identify_order": IDENTIFY_ORDER,
            },
            "transports": self.transports(),
            "rtp": {"start": self.rtp_start, "end": self.rtp_start + self.rtp_ports - 2},
            "agi": {"host": self.agi_host, "port": self.agi_port},
            **endpoints,
            "numbers": [number_values(n) for n in self.numbers],
            # The dialplan's own emergency calls show the sandbox company's number.
            "emergency": emergency_values("US", self.carrier(), EMERGENCY_CALLER_ID),
            "fallback": {
                "prompt": self.fallback_prompt,
                "context": "ccpbx-fallback-hangup",
                "exten": "s",
                "describe": "hang up",
            },
            "voicemail": {
                "boxes": [{"name": b, "pin": "0000", "label": b} for b in self.voicemail_boxes]
            },
            "tones": {"country": "us"},
        }


class AsteriskInstance(AsteriskProcess):
    """A running (or startable) sandbox Asterisk: its files rendered from ``settings``."""

    def __init__(
        self, runtime: Runtime, name: str, settings: AsteriskSettings, conf_dir: Path | None = None
    ) -> None:
        # The path Asterisk sees (inside the root when there is one).
        base = (
            "/var/tmp/ccpbx-runs"
            if runtime.root is not None
            else str(Path(os.environ.get("TMPDIR", "/tmp")) / "ccpbx-runs")
        )
        super().__init__(runtime, f"{base}/{name}", name)
        self.settings = settings
        self.conf_dir = conf_dir

    def dirs(self) -> dict[str, str]:
        return {
            **self.run_dirs(),
            "modules": "/usr/lib/x86_64-linux-gnu/asterisk/modules",
            "data": "/usr/share/asterisk",
        }

    def render(self) -> None:
        values = self.settings.template_values(self.dirs())
        files = render_all(values, self.conf_dir)
        self.make_dirs()
        write_all(files, self.run_dir / "etc")

    def start(self, timeout: float = 60.0) -> None:
        if self.running:
            raise SandboxError(f"asterisk {self.name} is already running")
        self.render()
        super().start(timeout)
        log.info(
            "sandbox_asterisk_started",
            name=self.name,
            ami_port=self.settings.ami_port,
            sip_port=self.settings.sip_port,
        )
