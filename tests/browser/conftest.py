"""A real Chromium (Debian's ``chromium``, driven by Playwright through its
``executable_path``; never a downloaded browser) against the real daemon, a sandbox
Asterisk, SIPp and PostgreSQL.

``console`` opens pages in a browser context that carries a bearer token (page loads
and fetches get ``Authorization``; the page's websocket gets ``?token=`` from the
fragment). Each page's requests are recorded; when a test fails, every page it opened
leaves a screenshot and its HTML in the artifacts folder (``$CCPBX_ARTIFACTS``, else
``test-artifacts/`` in the checkout). A missing browser fails the tests: none skips.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from ccpbx.agi import AgiHandler
from ccpbx.ami.protocol import AmiMessage
from ccpbx.daemon import Daemon
from ccpbx.sandbox.asterisk import AsteriskInstance, AsteriskSettings, Phone
from ccpbx.sandbox.root import ensure_runtime
from ccpbx.sandbox.stack import daemon_config

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"]
# What the pages ask for to learn whether a feature exists (404: it does not, yet).
FEATURE_PROBES = frozenset({"/api/session"})


def artifacts_dir() -> Path:
    path = Path(os.environ.get("CCPBX_ARTIFACTS") or ROOT / "test-artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


def chromium_path() -> str:
    """Debian's chromium ($CCPBX_CHROMIUM overrides); a clear failure when it is absent."""
    path = os.environ.get("CCPBX_CHROMIUM") or shutil.which("chromium") or ""
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail(
            f"no chromium for the browser tests ({path or 'not on the PATH'}): `make sandbox`"
            " installs it as root (apt-get install chromium chromium-driver)"
        )
    return path


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser" in str(item.fspath):
            item.add_marker(pytest.mark.asterisk)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"ccpbx_{report.when}_failed", report.failed)


@pytest.fixture(scope="session")
def sandbox_asterisk() -> Iterator[AsteriskInstance]:
    """This directory's own Asterisk 22 (desk phones 1001-1006 as SIPp registers them)."""
    runtime = ensure_runtime()
    phones = [Phone(str(n), f"pw-{n}-secret", rewrite_contact=False) for n in range(1001, 1007)]
    instance = AsteriskInstance(runtime, f"browser-{os.getpid()}", AsteriskSettings(phones=phones))
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
    sandbox_asterisk.cli("channel request hangup all")


@pytest.fixture
async def daemon_factory(asterisk: AsteriskInstance, database_url: str) -> AsyncIterator[Any]:
    """Start a ccpbx daemon wired to the sandbox (HTTP on a free port); stopped after."""
    started: list[Daemon] = []

    async def start(
        handlers: Mapping[str, AgiHandler] | None = None,
        events: Mapping[str, Callable[[AmiMessage], None]] | None = None,
    ) -> Daemon:
        daemon = Daemon(daemon_config(asterisk, database_url), handlers=handlers)
        for name, handler in (events or {}).items():
            daemon.ami.on_event(name, handler)
        await daemon.start()
        started.append(daemon)
        await daemon.ami.wait_ready(15)
        assert await daemon.database.wait_ready(15)
        await daemon.acd.wait_ready(20)
        return daemon

    yield start
    for daemon in reversed(started):
        await daemon.stop()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Headless Chromium from the host's package."""
    async with async_playwright() as pw:
        launched = await pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


@dataclass
class PageLog:
    """What one page asked for: every URL, the failed ones, and the bytes it loaded."""

    origin: str
    requests: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    loaded: dict[str, int] = field(default_factory=dict)  # URL -> body bytes
    console_errors: list[str] = field(default_factory=list)

    def outside(self) -> list[str]:
        """Requests to any host but ccpbx's (data: URLs stay inside the page)."""
        mine = urlsplit(self.origin).netloc
        return [
            url
            for url in self.requests
            if not url.startswith("data:") and urlsplit(url).netloc != mine
        ]


@dataclass
class Console:
    """Opens console pages of one daemon in token-carrying browser contexts."""

    browser: Browser
    base: str
    pages: list[tuple[str, Page]] = field(default_factory=list)
    contexts: list[BrowserContext] = field(default_factory=list)

    async def open(
        self, path: str, token: str, *, viewport: tuple[int, int] = (1280, 800), name: str = ""
    ) -> tuple[Page, PageLog]:
        context = await self.browser.new_context(
            extra_http_headers={"Authorization": f"Bearer {token}"},
            viewport={"width": viewport[0], "height": viewport[1]},
        )
        self.contexts.append(context)
        page = await context.new_page()
        log = PageLog(self.base)
        page.on("request", lambda r: log.requests.append(r.url))
        page.on("requestfailed", lambda r: log.failed.append(f"{r.url}: {r.failure}"))

        async def on_response(resp: Any) -> None:
            if resp.status == 404 and urlsplit(resp.url).path in FEATURE_PROBES:
                return
            if resp.status >= 400:
                log.failed.append(f"{resp.url}: HTTP {resp.status}")
            elif resp.request.resource_type in ("script", "stylesheet", "document"):
                try:
                    log.loaded[resp.url] = len(await resp.body())
                except Exception:  # a body gone with its page
                    log.loaded[resp.url] = 0

        page.on("response", on_response)
        page.on(
            "console", lambda m: log.console_errors.append(m.text) if m.type == "error" else None
        )
        page.on("pageerror", lambda exc: log.console_errors.append(str(exc)))
        self.pages.append((name or re.sub(r"\W+", "_", path).strip("_"), page))
        await page.goto(f"{self.base}{path}#token={token}")
        return page, log


@pytest.fixture
async def console(browser: Browser, request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    """``console(daemon)`` -> a :class:`Console` for that daemon's HTTP port; a failed
    test's pages are saved (screenshot + HTML) into the artifacts folder."""
    made: list[Console] = []

    def make(daemon: Daemon) -> Console:
        c = Console(browser, f"http://127.0.0.1:{daemon.http_port}")
        made.append(c)
        return c

    yield make
    failed = getattr(request.node, "ccpbx_call_failed", False)
    for c in made:
        if failed:
            await save_pages(c, request.node.name)
        for context in c.contexts:
            await context.close()


async def save_pages(console: Console, test_name: str) -> None:
    out = artifacts_dir()
    for name, page in console.pages:
        stem = out / f"{test_name}-{name}"
        try:
            await page.screenshot(path=f"{stem}.png", full_page=True)
            html = await page.content()
            await asyncio.to_thread(Path(f"{stem}.html").write_text, html)
        except Exception as exc:  # a crashed page: say so, keep the others
            await asyncio.to_thread(Path(f"{stem}.error.txt").write_text, repr(exc))
