"""``conf check``'s proof: the files started in a throwaway Asterisk of their own.

The throwaway runs the target's Asterisk (same binary, modules and sounds, inside
``[asterisk] root`` when there is one) from a private run folder. Only what would
clash with the live PBX is rewritten, value by value on the same lines (so a line
number in Asterisk's log is the line in the real file): its own folders in
``asterisk.conf``, AMI and SIP transports on free loopback ports, and trunk
registrations pointed at a loopback port nobody answers (so the check never
registers at a carrier in the live PBX's place). Everything else is proved as is.
"""

from __future__ import annotations

import asyncio
import re
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from ccpbx.ami import AmiClient, AmiError, AmiSettings
from ccpbx.asterisk.expect import Expectations
from ccpbx.asterisk.process import (
    AsteriskProcess,
    AsteriskProcessError,
    free_tcp_port,
    free_udp_port,
)
from ccpbx.asterisk.verify import Problem, verify
from ccpbx.rootfs import Runtime

log = structlog.get_logger(__name__)

_SECTION = re.compile(r"^\s*\[([^\]]+)\]")
_OPTION = re.compile(r"^(\s*)([A-Za-z_][A-Za-z0-9_]*)(\s*=>?\s*)(.*?)(\s*)$")
_DIR_KEYS = {
    "astetcdir": "etc",
    "astvarlibdir": "varlib",
    "astdbdir": "db",
    "astkeydir": "varlib",
    "astspooldir": "spool",
    "astrundir": "run",
    "astlogdir": "log",
}
_CONFIG_ERROR = re.compile(r"(?:WARNING|ERROR)\[[^\]]*\]\S*\s+\S+:\s(.*?) at line (\d+) of ?(\S*)")
_CONFIG_FILE = re.compile(r"configuration file '([^']+)'")


@dataclass(frozen=True, slots=True)
class CheckPorts:
    ami: int = field(default_factory=free_tcp_port)
    dead: int = field(default_factory=free_udp_port)


Change = Callable[[str, Mapping[str, str], str, str], "str | None"]
"""(section, the section's options, key, value) -> the new value, or None to keep it."""


def _sections(lines: list[str]) -> list[tuple[str, dict[str, str]]]:
    """(section name, that section's options) of each line: options (``type``,
    ``protocol``) may come after the line that needs them."""
    owner: list[int] = []
    names: dict[int, str] = {}
    options: dict[int, dict[str, str]] = {-1: {}}
    current = -1
    for index, line in enumerate(lines):
        header = _SECTION.match(line)
        if header:
            current = index
            names[index] = header.group(1).strip()
            options[index] = {}
        owner.append(current)
        m = _OPTION.match(line)
        if m:
            options[current].setdefault(m.group(2), m.group(4))
    return [(names.get(o, ""), options[o]) for o in owner]


def _rewrite(text: str, change: Change) -> str:
    lines = text.splitlines(keepends=True)
    out = []
    for line, (section, options) in zip(lines, _sections(lines), strict=True):
        body = line.rstrip("\r\n")
        m = _OPTION.match(body)
        if m:
            new = change(section, options, m.group(2), m.group(4))
            if new is not None:
                line = f"{m.group(1)}{m.group(2)}{m.group(3)}{new}{line[len(body) :]}"
        out.append(line)
    return "".join(out)


def for_check(
    files: Mapping[str, str], run_dirs: Mapping[str, str], ports: CheckPorts
) -> dict[str, str]:
    """The files as the throwaway Asterisk runs them (see the module docstring)."""
    out = dict(files)

    def directories(section: str, opts: Mapping[str, str], key: str, value: str) -> str | None:
        if section == "directories" and key in _DIR_KEYS:
            return run_dirs[_DIR_KEYS[key]]
        return None

    def manager(section: str, opts: Mapping[str, str], key: str, value: str) -> str | None:
        if section == "general" and key == "bindaddr":
            return "127.0.0.1"
        if section == "general" and key == "port":
            return str(ports.ami)
        return None

    def pjsip(section: str, opts: Mapping[str, str], key: str, value: str) -> str | None:
        kind = opts.get("type")
        if kind == "transport" and key == "bind":
            tcp = opts.get("protocol", "udp") in ("tcp", "tls", "ws", "wss")
            return f"127.0.0.1:{free_tcp_port() if tcp else free_udp_port()}"
        if kind == "registration" and key in ("server_uri", "client_uri"):
            user = value.split(":", 1)[-1].split("@")[0] if "@" in value else ""
            return f"sip:{user + '@' if user else ''}127.0.0.1:{ports.dead}"
        return None

    for name, change in (
        ("asterisk.conf", directories),
        ("manager.conf", manager),
        ("pjsip.conf", pjsip),
    ):
        if name in out:
            out[name] = _rewrite(out[name], change)
    return out


def config_errors(log_text: str) -> list[Problem]:
    """Asterisk's complaints about a file and line (``... at line N of FILE``). An option
    inherited from a template section is reported without its file, which the next
    lines name (``... from configuration file 'pjsip.conf'``)."""
    lines = log_text.splitlines()
    found = []
    for index, line in enumerate(lines):
        m = _CONFIG_ERROR.search(line)
        if not m:
            continue
        file = m.group(3).rstrip(".,:")
        if not file:
            later = (_CONFIG_FILE.search(x) for x in lines[index + 1 : index + 4])
            file = next((f.group(1) for f in later if f), "?")
        found.append(Problem(f"{Path(file).name}:{m.group(2)}", m.group(1)))
    return found


@dataclass(frozen=True, slots=True)
class CheckReport:
    problems: list[Problem]
    seconds: float
    run_dir: Path

    @property
    def ok(self) -> bool:
        return not self.problems


async def prove(
    files: Mapping[str, str],
    expect: Expectations,
    *,
    runtime: Runtime,
    ami_username: str,
    ami_secret: str,
    boot_timeout: float = 60.0,
    keep: bool = False,
) -> CheckReport:
    """Start the files in a throwaway Asterisk and verify ``expect`` there."""
    started = time.monotonic()
    base = runtime.host_path("/var/tmp")
    base.mkdir(parents=True, exist_ok=True)
    host_dir = Path(tempfile.mkdtemp(prefix="ccpbx-check-", dir=base))
    process = AsteriskProcess(runtime, f"/var/tmp/{host_dir.name}")
    ports = CheckPorts()
    process.make_dirs()
    for name, text in for_check(files, process.run_dirs(), ports).items():
        (process.run_dir / "etc" / name).write_text(text, encoding="utf-8")
    problems: list[Problem] = []
    try:
        try:
            await asyncio.to_thread(process.start, boot_timeout)
        except AsteriskProcessError as exc:
            problems.append(Problem("", f"Asterisk did not start from these files: {exc}"))
        else:
            settings = AmiSettings("127.0.0.1", ami_username, ami_secret, port=ports.ami)
            try:
                async with AmiClient(settings) as ami:
                    await ami.wait_ready(15)
                    problems += await verify(ami, expect)
            except AmiError as exc:
                problems.append(Problem("manager.conf", f"AMI login refused or failed: {exc}"))
    finally:
        await asyncio.to_thread(process.stop)
        messages = process.log_dir / "messages.log"
        text = messages.read_text(errors="replace") if messages.exists() else ""
        errors = config_errors(text + "\n" + process.console_tail(400))
        if not keep:
            process.remove()
    # Asterisk's own complaints (file and line) first: they are the causes of what the
    # verification then misses. The same complaint may stand in both logs.
    causes: list[Problem] = []
    for p in errors:
        if p not in causes:
            causes.append(p)
    problems = causes + problems
    seconds = time.monotonic() - started
    log.info("conf_check_done", problems=len(problems), seconds=round(seconds, 2))
    return CheckReport(problems, seconds, host_dir)
