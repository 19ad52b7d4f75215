"""Real Asterisk (sandbox), real SIPp and the real daemon, for end-to-end tests.

One Asterisk serves the whole test session; a test that stops or kills it must
leave it running again (the ``asterisk`` fixture restarts it if not). When a test
fails, the tail of Asterisk's log is attached to its report.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from typing import Any

import aiohttp
import pytest

from ccpbx.agi import AgiHandler
from ccpbx.daemon import Daemon
from ccpbx.pbx.model import NumberHours, NumberRecord
from ccpbx.sandbox.asterisk import AsteriskInstance, AsteriskSettings, Phone
from ccpbx.sandbox.phones import SippPhone
from ccpbx.sandbox.root import ensure_runtime
from ccpbx.sandbox.stack import daemon_config
from ccpbx.store.tokens import TokenRepository

from .figures import Figures, table

pytestmark = pytest.mark.asterisk


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration" in str(item.fspath):
            item.add_marker(pytest.mark.asterisk)


@pytest.fixture(scope="session")
def sandbox_asterisk() -> Iterator[AsteriskInstance]:
    """The session's Asterisk 22 (cached sid root or the PATH); a failure to start fails tests."""
    runtime = ensure_runtime()
    phones = [Phone(f"agent{n}", f"pw-{n}-secret") for n in (1001, 1002)]
    # Test desk phones (SIPp) answer on the contact they register: keep it as registered.
    # Classes of service (test_toll_fraud): 1010 local calls only, 1012 no outside calls;
    # the others international.
    classes = {1010: "local", 1012: "none"}
    phones += [
        Phone(
            str(n),
            f"pw-{n}-secret",
            rewrite_contact=False,
            class_of_service=classes.get(n, "international"),
        )
        for n in range(1001, 1013)
    ]
    # A number routed to an IVR flow by name (test_ivr_calls' "short" flow), whatever the
    # flow's own DID list says; no test's flow lists it.
    numbers = [NumberRecord("+18005559901", "ivr", "short")]
    # Numbers with business hours (test_number_hours): calendar "office" of flow
    # "hours_cal" decides; open -> flow hours_open, closed -> flow hours_closed, the
    # ACD queue hours_night or the mailbox support.
    numbers += [
        NumberRecord(
            "+18005559902",
            "ivr",
            "hours_open",
            NumberHours("hours_cal", "office", "ivr", "hours_closed"),
        ),
        NumberRecord(
            "+18005559903",
            "ivr",
            "hours_open",
            NumberHours("hours_cal", "office", "queue", "hours_night"),
        ),
        NumberRecord(
            "+18005559904",
            "ivr",
            "hours_open",
            NumberHours("hours_cal", "office", "voicemail", "support"),
        ),
    ]
    # Numbers that ring one agent (test_acd_direct): agent 1003 has a mailbox, 1002 none.
    numbers += [NumberRecord(f"+1800555991{n}", "agent", f"100{n}") for n in (2, 3)]
    settings = AsteriskSettings(
        phones=phones, numbers=numbers, voicemail_boxes=["support", "sales", "1003"]
    )
    instance = AsteriskInstance(runtime, f"test-{os.getpid()}", settings)
    instance.start()
    yield instance
    instance.stop()
    if not os.environ.get("CCPBX_KEEP_SANDBOX"):
        instance.remove()


@pytest.fixture
def asterisk(sandbox_asterisk: AsteriskInstance) -> Iterator[AsteriskInstance]:
    """The running sandbox Asterisk; channels a test leaves behind are hung up."""
    if not sandbox_asterisk.running:
        sandbox_asterisk.start()
    yield sandbox_asterisk
    if not sandbox_asterisk.running:
        sandbox_asterisk.start()
    sandbox_asterisk.cli("channel request hangup all")


_CASES: dict[str, Figures] = {}


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Figures:
    """What this fault or load case checked and measured: listed in the run's summary."""
    case = Figures(request.node.name)
    _CASES[request.node.nodeid] = case
    return case


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _CASES:
        return
    terminalreporter.section("fault and load cases")
    for line in table(list(_CASES.values())):
        terminalreporter.write_line(line)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    case = _CASES.get(item.nodeid)
    if case is not None and (report.when == "call" or report.failed):
        case.result = "FAIL" if report.failed else "pass" if report.passed else report.outcome
    instance = getattr(item, "funcargs", {}).get("asterisk")
    if report.failed and isinstance(instance, AsteriskInstance):
        path = instance.log_dir / "messages.log"
        if path.exists():
            tail = "\n".join(path.read_text(errors="replace").splitlines()[-60:])
            report.sections.append(("asterisk messages.log (tail)", tail))


StartDaemon = Callable[..., Awaitable[Daemon]]

# The full-size fault and load cases: `make chaos` runs them, `make test` runs each one's
# smaller variant (same checks, fewer calls).
CHAOS = pytest.mark.chaos


@pytest.fixture
async def start_daemon(asterisk: AsteriskInstance, database_url: str) -> AsyncIterator[StartDaemon]:
    """Start a ccpbx daemon wired to the sandbox; stopped after the test."""
    started: list[Daemon] = []

    async def start(handlers: Mapping[str, AgiHandler] | None = None, **hooks: Any) -> Daemon:
        config = daemon_config(asterisk, database_url)
        if "config" in hooks:  # a function of the sandbox's config: the test's own
            config = hooks["config"](config)
        daemon = Daemon(config, handlers=handlers)
        for name, handler in hooks.get("events", {}).items():
            daemon.ami.on_event(name, handler)
        await daemon.start()
        started.append(daemon)
        await daemon.ami.wait_ready(15)
        assert await daemon.database.wait_ready(15)
        return daemon

    yield start
    for daemon in reversed(started):
        await daemon.stop()


async def eventually(
    check: Callable[[], Any], timeout: float = 15.0, interval: float = 0.05
) -> Any:
    """Poll ``check`` until it is truthy; fail with its last value after ``timeout``."""
    deadline = time.monotonic() + timeout
    value: Any = None
    while time.monotonic() < deadline:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s (last value: {value!r})")


def asterisk_channels(instance: AsteriskInstance) -> set[tuple[str, str]]:
    """(uniqueid, channel name) of each channel Asterisk itself reports
    (``core show channels concise``: name first, uniqueid 14th)."""
    with contextlib.suppress(Exception):
        out = instance.cli("core show channels concise")
        rows = [line.split("!") for line in out.splitlines() if line.count("!") >= 13]
        return {(row[13], row[0]) for row in rows}
    return set()


@pytest.fixture
def phone(asterisk: AsteriskInstance) -> Iterator[SippPhone]:
    """Agent 1001's desk phone, registered with digest auth, answering every call."""
    phone = SippPhone(asterisk, Phone("1001", "pw-1001-secret", rewrite_contact=False))
    phone.start()
    yield phone
    phone.stop()


_STATUS_TOKENS: dict[int, str] = {}


async def admin_status(daemon: Daemon) -> tuple[int, dict[str, Any]]:
    """GET /status as an admin (the details: counts, reasons, errors); its code and body.
    The admin token is made once per daemon."""
    token = _STATUS_TOKENS.get(id(daemon))
    if token is None:
        token, _ = await TokenRepository(daemon.database.pool).create("admin", "status test")
        _STATUS_TOKENS[id(daemon)] = token
    url = f"http://127.0.0.1:{daemon.http_port}/status"
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as resp:
        return resp.status, await resp.json()
