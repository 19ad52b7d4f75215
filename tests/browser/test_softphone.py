"""The agent's browser phone (/phone) in a real Chromium with fake media devices: it
registers over WSS to a sandbox Asterisk with a lab certificate, takes a queue call in
ring mode and in persistent mode, and a SIPp caller's RTP reaches it (getStats)."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import os
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from integration.conftest import eventually
from integration.test_acd_support import add_agent, add_queue
from playwright.async_api import Browser, Page, async_playwright

from ccpbx.acd import AgentMode, AgentState
from ccpbx.asterisk.labcert import make_lab_cert
from ccpbx.asterisk.process import free_tcp_port
from ccpbx.daemon import Daemon
from ccpbx.pbx.softphones import SoftphoneAgent, endpoint_name, password
from ccpbx.sandbox.asterisk import AsteriskInstance, AsteriskSettings
from ccpbx.sandbox.root import ensure_runtime
from ccpbx.sandbox.sipp import Step, caller_scenario, run_sipp
from ccpbx.users import accounts

from .conftest import CHROMIUM_ARGS, Console, PageLog, chromium_path
from .phone_page import PhonePage
from .test_wallboard import into_queue

KEY = "test-softphone-key-" + "k" * 32
USER_PASSWORD = "correct horse battery"
AGENTS = [SoftphoneAgent("1001", "Alice Agent"), SoftphoneAgent("1002", "Bob Agent")]


@pytest.fixture(scope="module")
def sandbox_asterisk() -> Iterator[AsteriskInstance]:
    """This module's Asterisk: WSS on Asterisk's HTTPS server with a lab certificate, and
    the browser phones of agents 1001 and 1002 (in place of the desk-phone sandbox)."""
    settings = AsteriskSettings(
        wss_port=free_tcp_port(), softphone_key=KEY, softphone_agents=list(AGENTS)
    )
    instance = AsteriskInstance(ensure_runtime(), f"softphone-{os.getpid()}", settings)
    cert = make_lab_cert(instance.run_dir / "tls", "127.0.0.1", force=True)
    settings.tls_cert = f"{instance.inside}/tls/{cert.cert.name}"
    settings.tls_key = f"{instance.inside}/tls/{cert.key.name}"
    instance.start()
    yield instance
    instance.stop()
    if not os.environ.get("CCPBX_KEEP_SANDBOX"):
        instance.remove()


def spki_hash(cert: Path) -> str:
    """base64(sha256(SubjectPublicKeyInfo)) of ``cert``, as Chromium's
    --ignore-certificate-errors-spki-list takes it (trust this one certificate only)."""
    pubkey = subprocess.run(
        ["openssl", "x509", "-in", str(cert), "-pubkey", "-noout"],
        check=True,
        capture_output=True,
    ).stdout
    der = subprocess.run(
        ["openssl", "pkey", "-pubin", "-outform", "DER"],
        input=pubkey,
        check=True,
        capture_output=True,
    ).stdout
    digest = subprocess.run(
        ["openssl", "dgst", "-sha256", "-binary"], input=der, check=True, capture_output=True
    ).stdout
    return base64.b64encode(digest).decode()


@pytest.fixture
async def browser(sandbox_asterisk: AsteriskInstance) -> AsyncIterator[Browser]:
    """Chromium with fake microphone and camera (no permission prompt), trusting the
    sandbox's lab certificate by its key hash."""
    cert = sandbox_asterisk.runtime.host_path(sandbox_asterisk.settings.tls_cert)
    args = [
        *CHROMIUM_ARGS,
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--ignore-certificate-errors-spki-list={spki_hash(cert)}",
    ]
    async with async_playwright() as pw:
        launched = await pw.chromium.launch(executable_path=chromium_path(), args=args)
        yield launched
        await launched.close()


async def agent_user(daemon: Daemon, agent: SoftphoneAgent, queue: str, mode: AgentMode) -> str:
    """The ACD agent (in ``queue``) and its user; returns the user name."""
    await add_agent(daemon, agent.agent, [queue], mode=mode)
    name = f"agent{agent.agent}"
    async with daemon.database.pool.acquire() as conn:
        await accounts.add(
            conn,
            name,
            role="agent",
            agent=agent.agent,
            display_name=agent.display_name,
            password=USER_PASSWORD,
            min_length=8,
            actor="test",
            now=dt.datetime.now(dt.UTC),
        )
    return name


async def open_phone(console: Console, user: str) -> tuple[PhonePage, Page, PageLog]:
    """A fresh browser context signs ``user`` in and opens /phone (saved on failure)."""
    context = await console.browser.new_context()
    console.contexts.append(context)
    page = await context.new_page()
    log = PageLog(console.base)
    page.on("request", lambda r: log.requests.append(r.url))
    page.on("console", lambda m: log.console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: log.console_errors.append(str(exc)))
    console.pages.append((f"phone-{user}", page))
    phone = PhonePage(page)
    await phone.sign_in(console.base, user, USER_PASSWORD)
    return phone, page, log


def contact_of(asterisk: AsteriskInstance, endpoint: str) -> str:
    """The contact Asterisk's registrar holds for ``endpoint`` (its astdb entry, which
    ``pjsip show contacts`` shows truncated), '' when it has none."""
    for line in asterisk.cli("database show registrar/contact").splitlines():
        if f"/{endpoint};@" in line:
            return line
    return ""


def talking_caller(talk_ms: int, wait_bye_ms: int) -> str:
    """A SIPp caller that speaks (RTP) for ``talk_ms`` from the moment it is answered
    while already waiting for the BYE, which may come at any time within ``wait_bye_ms``
    (else it hangs up itself); it accepts the re-INVITE Asterisk sends once the agent
    answers."""
    xml = caller_scenario(
        "15550177", "Talking Caller", [Step.talk(talk_ms)], wait_bye_ms, accept_reinvites=True
    )
    return xml.replace(f'  <pause milliseconds="{talk_ms}"/>\n', "", 1)


async def test_browser_phone_registers_over_wss_and_takes_a_ring_mode_queue_call(
    asterisk: AsteriskInstance, daemon_factory: Any, console: Any
) -> None:
    """Signed in as agent 1001, /phone registers agent-1001-web over WSS (Asterisk lists
    its ws contact); logged in to a queue in ring mode at that endpoint, the agent's page
    rings for a SIPp caller, is answered by a click, receives the caller's RTP
    (getStats inbound-rtp packets > 0) and hangs up."""
    daemon = await daemon_factory(into_queue("care"))
    await add_queue(daemon, "care")
    user = await agent_user(daemon, AGENTS[0], "care", AgentMode.RING)
    phone, _, log = await open_phone(console(daemon), user)
    await phone.wait_registered()
    endpoint = endpoint_name("1001")
    contact = await eventually(lambda: contact_of(asterisk, endpoint))
    assert "transport=ws" in contact, contact
    await daemon.acd.login("1001", endpoint, mode=AgentMode.RING)

    call = asyncio.create_task(
        asyncio.to_thread(
            run_sipp, asterisk, talking_caller(20_000, 40_000), service="18005550177", timeout_s=60
        )
    )
    try:
        await phone.expect_call("ringing")
        assert "15550177" in await phone.caller()
        await phone.answer()
        await phone.expect_call("talking")
        await eventually(lambda: daemon.acd.state.agents["1001"].state is AgentState.ON_CALL)
        assert await phone.wait_audio_above(0) > 0
        await phone.hang_up()
        await phone.expect_call("idle")
    finally:
        result = await call
    assert result.ok, result.errors
    assert log.console_errors == []
    assert log.outside() == []


async def test_persistent_mode_session_call_is_answered_and_a_caller_put_through(
    asterisk: AsteriskInstance, daemon_factory: Any, console: Any
) -> None:
    """A persistent agent logged in at the browser phone: the ACD's session call is
    answered by the page itself, the login completes with the agent connected; a SIPp
    caller is then put through without ringing and its RTP reaches the browser (inbound
    packets grow); hanging the customer up leaves the agent connected; logging out ends
    the page's call."""
    daemon = await daemon_factory(into_queue("care"))
    await add_queue(daemon, "care")
    user = await agent_user(daemon, AGENTS[0], "care", AgentMode.PERSISTENT)
    phone, page, log = await open_phone(console(daemon), user)
    await phone.wait_registered()
    endpoint = endpoint_name("1001")
    await eventually(lambda: contact_of(asterisk, endpoint))

    await daemon.acd.login("1001", endpoint, mode=AgentMode.PERSISTENT)
    assert daemon.acd.persistent.connected("1001")
    await phone.expect_call("talking")
    assert await page.locator("#ringing").is_hidden()
    before = await phone.audio_packets()

    call = asyncio.create_task(
        asyncio.to_thread(
            run_sipp, asterisk, talking_caller(20_000, 40_000), service="18005550177", timeout_s=60
        )
    )
    try:
        await eventually(lambda: daemon.acd.state.agents["1001"].state is AgentState.ON_CALL)
        after = await phone.wait_audio_above(before)
        assert after > before
        await daemon.calls.hangup("1001", actor="test")  # the agent ends the customer's call
    finally:
        result = await call
    assert result.ok, result.errors
    await phone.expect_call("talking")  # the caller is gone; the agent stays connected
    assert daemon.acd.persistent.connected("1001")
    await daemon.acd.logout("1001")
    await phone.expect_call("idle")
    assert log.console_errors == []
    assert log.outside() == []


async def test_an_agent_reads_only_its_own_browser_phone_credentials(
    daemon_factory: Any,
) -> None:
    """Agent 1001's session gets its own credentials (the derived password, WSS address,
    no-store) and a 403 for agent 1002's, also marked no-store."""
    daemon = await daemon_factory()
    await add_queue(daemon, "care")
    user = await agent_user(daemon, AGENTS[0], "care", AgentMode.RING)
    await agent_user(daemon, AGENTS[1], "care", AgentMode.RING)
    base = f"http://127.0.0.1:{daemon.http_port}"
    # unsafe=True: keep cookies from an IP address (the daemon is on 127.0.0.1).
    async with aiohttp.ClientSession(base, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.post("/login", json={"name": user, "password": USER_PASSWORD}) as resp:
            assert resp.status == 200, await resp.text()
        async with http.get("/api/agents/1001/softphone") as resp:
            assert resp.status == 200, await resp.text()
            assert resp.headers["Cache-Control"] == "no-store"
            own = await resp.json()
        async with http.get("/api/agents/1002/softphone") as resp:
            assert resp.status == 403, await resp.text()
            assert resp.headers["Cache-Control"] == "no-store"
            assert "password" not in await resp.text()
    wss_port = daemon.config.sip.wss_port
    assert own["ws_url"] == f"wss://127.0.0.1:{wss_port}/ws"
    assert own["user"] == "agent-1001-web"
    assert own["password"] == password(KEY, "1001")
    assert own["display_name"] == "Alice Agent"
