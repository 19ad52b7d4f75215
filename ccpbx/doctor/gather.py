"""The facts ``ccpbx doctor`` judges, gathered from the live Asterisk and PostgreSQL.

AMI: log in (one supervised client, no retries worth waiting for), ``ListCommands``
(what the user may send), ``ModuleCheck`` per module, every event's ``Timestamp``
(clock), and a probe call: ``Originate`` of ``Local/s@ccpbx-doctor``, whose dialplan
sends DTMF, a UserEvent, and runs ``AGI(${CCPBX_AGI}/doctor)`` exactly as a customer's call reaches
ccpbx. When ccpbx is not running, doctor listens on ccpbx's FastAGI port itself;
when it is, doctor listens on a spare port too (``CCPBX_DOCTOR_AGI``) to look for
sound files through Asterisk's eyes (``STREAM FILE`` of an absolute path, which
never falls back to another language). No decision is made here (see ``checks``).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from ccpbx import console
from ccpbx.agi.server import FastAgiServer
from ccpbx.agi.session import AgiSession
from ccpbx.ami.client import AmiClient
from ccpbx.ami.errors import AmiError
from ccpbx.ami.protocol import AmiMessage
from ccpbx.ami.settings import AmiSettings
from ccpbx.config import Config
from ccpbx.doctor.checks import parse_list_commands
from ccpbx.errors import CcpbxError
from ccpbx.store.migrate import applied_versions, default_migrations_dir, load_migrations

PROBE_CONTEXT = "ccpbx-doctor"
# STREAM FILE's sample offset past any real prompt: the file is opened, then ends at once.
_PAST_THE_END = "2000000000"


@dataclass
class ProbeFacts:
    context_error: str | None = None
    originate_error: str | None = None
    agi_status: str | None = None
    reached_us: bool = False
    ccpbx_running: bool = False
    sounds_dir: str | None = None
    sounds: dict[tuple[str, str], bool] | None = None


@dataclass
class AmiFacts:
    address: str
    error: str | None = None
    refused: bool = False
    version: str | None = None
    actions: dict[str, frozenset[str]] = field(default_factory=dict)
    modules: dict[str, str | None] = field(default_factory=dict)
    clock: list[tuple[float, float]] = field(default_factory=list)
    """(event Timestamp, this host's time at receipt) of each event that had one."""
    agi_url: str | None = None
    events: set[str] = field(default_factory=set)
    probe: ProbeFacts | None = None


@dataclass
class DatabaseFacts:
    url: str
    error: str | None = None
    applied: dict[int, str] | None = None
    known: list[tuple[int, str, str]] = field(default_factory=list)


def _settings(config: Config) -> AmiSettings:
    return config.ami.session(
        backoff_max=max(config.ami.reconnect_min, 2.0),
        # A user without the system read class never gets FullyBooted: do not wait long.
        boot_timeout=2.0,
        name="doctor",
    )


async def gather_database(config: Config) -> DatabaseFacts:
    url = console.redact(config.database.url)
    directory = (
        Path(config.database.migrations_dir)
        if config.database.migrations_dir
        else default_migrations_dir()
    )
    facts = DatabaseFacts(url)
    try:
        facts.known = [(m.version, m.name, m.checksum) for m in load_migrations(directory)]
        conn = await console.connect(config.database.url, timeout=config.database.connect_timeout)
    except CcpbxError as exc:
        facts.error = exc.message
        return facts
    try:
        facts.applied = await applied_versions(conn)
    except asyncpg.UndefinedTableError:
        facts.applied = None
    finally:
        await conn.close()
    return facts


async def _module(ami: AmiClient, name: str) -> str | None:
    try:
        result = await ami.action("ModuleCheck", Module=name, check=False)
    except AmiError as exc:
        return str(exc)
    return None if result.ok else (result.message or result.response.name)


class _Probe:
    """Doctor's own FastAGI handler for the probe call."""

    def __init__(self, token: str, wanted: Iterable[tuple[str, str]]) -> None:
        self.token = token
        self.wanted = list(wanted)
        self.done = asyncio.Event()
        self.sounds: dict[tuple[str, str], bool] | None = None
        self.sounds_dir: str | None = None
        self.sessions = 0

    async def handle(self, session: AgiSession) -> None:
        if session.env.args[:1] != (self.token,):
            return  # not our probe (a stray call to doctor's port)
        self.sessions += 1
        if self.sounds is not None:
            return  # the second AGI of the same probe (ccpbx's port was ours too)
        try:
            data = await session.get_full_variable("${ASTDATADIR}")
            self.sounds_dir = f"{data or '/usr/share/asterisk'}/sounds"
            found = {}
            for lang, sound in self.wanted:
                path = f"{self.sounds_dir}/{lang}/{sound}"
                reply = await session.command("STREAM FILE", path, "", _PAST_THE_END, deadline=5)
                found[(lang, sound)] = reply.result is not None and reply.result >= 0
            self.sounds = found
        finally:
            self.done.set()


async def _listen(host: str, port: int, probe: _Probe) -> tuple[FastAgiServer, bool]:
    """Doctor's listener on ccpbx's port (False) or, when that is taken, a spare one (True)."""
    handlers = {"doctor": probe.handle}
    server = FastAgiServer(host, port, handlers, shutdown_grace=1.0)
    try:
        await server.start()
        return server, False
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
    server = FastAgiServer(host, 0, handlers, shutdown_grace=1.0)
    await server.start()
    return server, True


def _agi_host_port(url: str | None) -> tuple[str, int] | None:
    if not url or not url.startswith("agi://"):
        return None
    host, _, port = url[len("agi://") :].partition("/")[0].rpartition(":")
    try:
        return (host or "127.0.0.1", int(port))
    except ValueError:
        return None


async def _probe_call(
    ami: AmiClient,
    config: Config,
    agi_url: str | None,
    wanted: Iterable[tuple[str, str]],
    events: asyncio.Queue[AmiMessage],
    timeout: float,
) -> ProbeFacts:
    facts = ProbeFacts()
    shown = await ami.action("ShowDialPlan", Context=PROBE_CONTEXT, check=False)
    if not shown.ok:
        facts.context_error = shown.message or shown.response.name
        return facts
    token = secrets.token_hex(8)
    probe = _Probe(token, wanted)
    server, spare = await _listen(config.agi.host, config.agi.port, probe)
    facts.ccpbx_running = spare
    try:
        variables = [f"CCPBX_DOCTOR_PROBE={token}"]
        target = _agi_host_port(agi_url)
        if spare:
            host = target[0] if target else config.agi.host
            variables.append(f"CCPBX_DOCTOR_AGI=agi://{host}:{server.port}/doctor")
        result = await ami.action(
            "Originate",
            Channel=f"Local/s@{PROBE_CONTEXT}",
            Application="Wait",
            Data="10",
            Async="true",
            Timeout=str(int(timeout * 1000)),
            Variable=variables,
            check=False,
        )
        if not result.ok:
            facts.originate_error = result.message or result.response.name
            return facts
        deadline = asyncio.get_running_loop().time() + timeout
        while facts.agi_status is None:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                break
            if probe.done.is_set() and not spare:
                # The report comes in a UserEvent; without the user read class it never does.
                left = min(left, 2.0)
            try:
                msg = await asyncio.wait_for(events.get(), left)
            except TimeoutError:
                break
            if msg.name == "UserEvent" and msg.get("Probe") == token and msg.get("Step") == "end":
                facts.agi_status = msg.get("Status") or ""
    finally:
        await server.close(grace=1.0)
    facts.reached_us = not spare and probe.sessions > 0
    facts.sounds = probe.sounds
    facts.sounds_dir = probe.sounds_dir
    return facts


async def _logged_in(ami: AmiClient, timeout: float) -> bool:
    """Ready within ``timeout``; False at once when the first attempt failed (refused
    connection or login): doctor reports, it does not wait for the client's retries."""
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        with contextlib.suppress(AmiError):
            await ami.wait_ready(0.05)
            return True
        if ami.health().failed_attempts:
            return False
    return False


async def gather_ami(
    config: Config,
    modules: Iterable[str],
    wanted_sounds: Iterable[tuple[str, str]],
    probe_timeout: float = 8.0,
) -> AmiFacts:
    facts = AmiFacts(f"{config.ami.host}:{config.ami.port}")
    events: asyncio.Queue[AmiMessage] = asyncio.Queue()
    ami = AmiClient(_settings(config))

    def seen(msg: AmiMessage) -> None:
        received = time.time()
        facts.events.add(msg.name)
        with contextlib.suppress(TypeError, ValueError):
            facts.clock.append((float(msg.get("Timestamp")), received))  # type: ignore[arg-type]
        events.put_nowait(msg)

    ami.on_event("*", seen)
    await ami.start()
    try:
        if not await _logged_in(ami, config.ami.connect_timeout + 3.0):
            error = ami.health().last_error or "no answer"
            facts.error = error
            facts.refused = "refused AMI login" in error
            return facts
        facts.version = ami.health().ami_version
        listed = await ami.action("ListCommands", check=False)
        facts.actions = parse_list_commands(listed.response.fields())
        names = list(modules)
        results = await asyncio.gather(*(_module(ami, m) for m in names))
        facts.modules = dict(zip(names, results, strict=True))
        var = await ami.action("Getvar", Variable="CCPBX_AGI", check=False)
        facts.agi_url = var.response.get("Value") if var.ok else None
        facts.probe = await _probe_call(
            ami, config, facts.agi_url, wanted_sounds, events, probe_timeout
        )
        return facts
    finally:
        with contextlib.suppress(Exception):
            await ami.close()


def wanted_from_flows(sources: Iterable[str]) -> tuple[set[str], list[tuple[str, str, str]]]:
    """Languages and (language, sound, why) of the given IVR flow texts."""
    from ccpbx.ivr.prompts import used_files
    from ccpbx.ivr.validate import check_text

    languages: set[str] = set()
    prompts: list[tuple[str, str, str]] = []
    for text in sources:
        flow = check_text(text).flow
        if flow is None:
            continue
        languages.update(flow.languages)
        prompts += [
            (lang, name, f"IVR flow {flow.name} prompt {ref}")
            for ref, lang, name in used_files(flow)
        ]
    return languages, prompts


async def active_flow_sources(config: Config) -> list[str]:
    """The texts of the active IVR flows (none when the database cannot say)."""
    try:
        conn = await console.connect(config.database.url, timeout=config.database.connect_timeout)
    except CcpbxError:
        return []
    try:
        rows = await conn.fetch(
            "SELECT v.source FROM ivr_active_flows f"
            " JOIN ivr_flow_versions v ON v.id = f.version_id"
        )
    except asyncpg.PostgresError:
        return []
    finally:
        await conn.close()
    return [r["source"] for r in rows]


def read_files(folder: Path, names: Mapping[str, str]) -> dict[str, str | None]:
    """The current text of each named file in ``folder`` (None: absent or unreadable)."""
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = (folder / name).read_text(encoding="utf-8")
        except OSError:
            out[name] = None
    return out
