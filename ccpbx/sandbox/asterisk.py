"""One sandbox Asterisk instance: render its config, start, stop, kill, query.

Each instance has its own run folder (config, logs, spool, sockets) and its own
loopback ports, so it never clashes with a production PBX on the same host.
"""

from __future__ import annotations

import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from ccpbx.asterisk.render import render_all, write_all
from ccpbx.pbx.model import NumberRecord, PhoneRecord, TrunkRecord, md5_cred
from ccpbx.pbx.values import endpoint_values, number_values, phone_values, trunk_values
from ccpbx.sandbox.root import Runtime, SandboxError

log = structlog.get_logger(__name__)


def free_tcp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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

    def record(self) -> PhoneRecord:
        """The phone as ``ccpbx phone add`` would have stored it (its MD5 credential)."""
        return PhoneRecord(
            name=self.name,
            label=self.label,
            transport="udp",
            webrtc=False,
            class_of_service="international",
            max_calls=2,
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
            dial_template="PJSIP/{number}@{trunk}",
        )

    def template_values(self, dirs: dict[str, str]) -> dict[str, Any]:
        endpoints = endpoint_values(
            (
                phone_values(p.record(), realm=SIP_REALM, rewrite_contact=p.rewrite_contact)
                for p in self.phones
            ),
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
            "transports": [
                {
                    "name": "transport-udp",
                    "protocol": "udp",
                    "bind": "127.0.0.1",
                    "port": self.sip_port,
                }
            ],
            "rtp": {"start": self.rtp_start, "end": self.rtp_start + self.rtp_ports - 2},
            "agi": {"host": self.agi_host, "port": self.agi_port},
            **endpoints,
            "numbers": [number_values(n) for n in self.numbers],
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


class AsteriskInstance:
    """A running (or startable) sandbox Asterisk."""

    def __init__(
        self, runtime: Runtime, name: str, settings: AsteriskSettings, conf_dir: Path | None = None
    ) -> None:
        self.runtime = runtime
        self.name = name
        self.settings = settings
        self.conf_dir = conf_dir
        # The path Asterisk sees (inside the root when there is one).
        base = (
            "/var/tmp/ccpbx-runs"
            if runtime.root is not None
            else str(Path(os.environ.get("TMPDIR", "/tmp")) / "ccpbx-runs")
        )
        self.inside = f"{base}/{name}"
        self.run_dir = runtime.host_path(self.inside)
        self.process: subprocess.Popen[bytes] | None = None

    # -- paths ---------------------------------------------------------------
    @property
    def conf_file(self) -> str:
        return f"{self.inside}/etc/asterisk.conf"

    @property
    def log_dir(self) -> Path:
        return self.run_dir / "log"

    def dirs(self) -> dict[str, str]:
        return {
            "etc": f"{self.inside}/etc",
            "modules": "/usr/lib/x86_64-linux-gnu/asterisk/modules",
            "varlib": f"{self.inside}/lib",
            "db": f"{self.inside}/lib",
            "data": "/usr/share/asterisk",
            "spool": f"{self.inside}/spool",
            "run": f"{self.inside}/run",
            "log": f"{self.inside}/log",
        }

    def render(self) -> None:
        values = self.settings.template_values(self.dirs())
        files = render_all(values, self.conf_dir)
        for sub in (
            "etc",
            "lib",
            "spool",
            "run",
            "log",
            "spool/monitor",
            "spool/recording",
            "lib/keys",
        ):
            (self.run_dir / sub).mkdir(parents=True, exist_ok=True)
        write_all(files, self.run_dir / "etc")

    # -- lifecycle -------------------------------------------------------------
    def start(self, timeout: float = 60.0) -> None:
        if self.running:
            raise SandboxError(f"asterisk {self.name} is already running")
        self.render()
        console = (self.log_dir / "console.log").open("ab")
        argv = self.runtime.command(["asterisk", "-f", "-n", "-C", self.conf_file])
        self.process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=console,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        console.close()
        self._wait_booted(timeout)
        log.info(
            "sandbox_asterisk_started",
            name=self.name,
            pid=self.process.pid,
            ami_port=self.settings.ami_port,
            sip_port=self.settings.sip_port,
        )

    def _wait_booted(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        ctl = self.run_dir / "run" / "asterisk.ctl"
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise SandboxError(
                    f"asterisk exited with {self.process.returncode} during start-up; see "
                    f"{self.log_dir}/console.log:\n{self.console_tail()}"
                )
            if ctl.exists():
                result = self.cli_result(
                    "core waitfullybooted", timeout=max(1.0, deadline - time.monotonic())
                )
                if result.returncode == 0 and "fully booted" in result.stdout.lower():
                    return
            time.sleep(0.05)
        self.kill()
        raise SandboxError(f"asterisk did not boot within {timeout} s:\n{self.console_tail()}")

    def console_tail(self, lines: int = 40) -> str:
        path = self.log_dir / "console.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def cli_result(self, command: str, timeout: float = 15.0) -> subprocess.CompletedProcess[str]:
        argv = self.runtime.command(["asterisk", "-C", self.conf_file, "-rx", command])
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)

    def cli(self, command: str, timeout: float = 15.0) -> str:
        """Run an Asterisk CLI command on this instance; return what it printed."""
        result = self.cli_result(command, timeout)
        if result.returncode != 0:
            raise SandboxError(f"asterisk -rx {command!r} failed: {result.stderr or result.stdout}")
        return result.stdout

    def stop(self, timeout: float = 20.0) -> None:
        """Stop cleanly (``core stop now``); kill if it does not go in time."""
        if not self.running:
            return
        assert self.process is not None
        try:
            self.cli_result("channel request hangup all", timeout=5)
            self.cli_result("core stop now", timeout=timeout)
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
        log.info("sandbox_asterisk_stopped", name=self.name)

    def kill(self) -> None:
        """``kill -9``: the crash a real PBX host can suffer."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        # A killed Asterisk leaves its control socket behind.
        (self.run_dir / "run" / "asterisk.ctl").unlink(missing_ok=True)
        (self.run_dir / "run" / "asterisk.pid").unlink(missing_ok=True)
        log.info("sandbox_asterisk_killed", name=self.name)

    def remove(self) -> None:
        shutil.rmtree(self.run_dir, ignore_errors=True)
