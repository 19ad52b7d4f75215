"""The supervisor wallboard in headless Chromium against the real daemon, Asterisk, SIPp
and PostgreSQL: it loads only from ccpbx, follows a real caller in and out of a queue,
shows agents as they log in and acts on them, and fits a tablet."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from integration.test_acd_support import add_agent, add_queue
from playwright.async_api import expect

from ccpbx.acd import AgentMode
from ccpbx.agi import AgiSession
from ccpbx.daemon import Daemon
from ccpbx.sandbox.asterisk import AsteriskInstance
from ccpbx.sandbox.sipp import caller_scenario, run_sipp
from ccpbx.store.tokens import TokenRepository

from .conftest import artifacts_dir
from .pages import SHOWS_WITHIN_MS, Wallboard


async def supervisor_token(daemon: Daemon) -> str:
    token, _ = await TokenRepository(daemon.database.pool).create("supervisor", "Sam Supervisor")
    return token


def into_queue(queue: str) -> dict[str, Any]:
    """An ``inbound`` script that sends every caller into ``queue`` (as an IVR queue node)."""

    async def inbound(session: AgiSession) -> None:
        await session.exec("Goto", "ccpbx-queue-enter", queue, "1")

    return {"inbound": inbound}


async def test_wallboard_loads_everything_from_ccpbx(daemon_factory: Any, console: Any) -> None:
    """The page loads with no failed request, no request to another host and no script
    error; it goes live on the websocket and lists the configured queue."""
    daemon = await daemon_factory()
    await add_queue(daemon, "sales")
    page, log = await console(daemon).open("/supervisor", await supervisor_token(daemon))
    board = Wallboard(page)
    await board.wait_live()
    await expect(board.queue_figure("sales", "waiting")).to_have_text("0")
    await page.wait_for_load_state("networkidle")
    assert log.failed == []
    assert log.outside() == []
    assert log.console_errors == []
    assert any("/static/vendor/uplot-1.6.32/" in url for url in log.loaded)
    await page.screenshot(path=artifacts_dir() / "wallboard.png", full_page=True)


async def test_waiting_caller_counts_up_then_down(
    asterisk: AsteriskInstance, daemon_factory: Any, console: Any
) -> None:
    """A SIPp caller enters a queue no agent serves: the page shows 1 waiting; when the
    caller hangs up, 0."""
    daemon = await daemon_factory(into_queue("care"))
    await add_queue(daemon, "care")
    page, _ = await console(daemon).open("/supervisor", await supervisor_token(daemon))
    board = Wallboard(page)
    await board.wait_live()
    await board.expect_waiting("care", 0)
    # The caller waits (music on hold) until it gives up and hangs up, 12 s after answer.
    scenario = caller_scenario("15550142", "Waiting Caller", wait_bye_ms=12_000)
    call = asyncio.create_task(
        asyncio.to_thread(run_sipp, asterisk, scenario, service="18005550142", timeout_s=40)
    )
    try:
        await board.expect_waiting("care", 1)
        await page.screenshot(path=artifacts_dir() / "wallboard-waiting.png", full_page=True)
        await expect(board.queue_figure("care", "longest-wait")).not_to_have_text(
            "0:00", timeout=SHOWS_WITHIN_MS
        )
        await board.expect_waiting("care", 0)
    finally:
        result = await call
    assert result.ok, result.errors
    await expect(board.queue_figure("care", "abandoned")).to_have_text("100 %")


async def test_agent_rows_follow_logins_and_supervisor_actions(
    daemon_factory: Any, console: Any
) -> None:
    """An agent logged in by API appears with its state; the supervisor's Pause and Log
    out buttons change it through the API, and the row follows."""
    daemon = await daemon_factory()
    await add_queue(daemon, "sales")
    await add_agent(daemon, "1003", ["sales"], mode=AgentMode.RING)
    token = await supervisor_token(daemon)
    page, log = await console(daemon).open("/supervisor", token)
    board = Wallboard(page)
    await board.wait_live()
    await expect(page.locator("#agents-empty")).to_be_visible()
    headers = {"Authorization": f"Bearer {token}"}
    url = f"http://127.0.0.1:{daemon.http_port}/api/agents/1003/login"
    async with (
        aiohttp.ClientSession(headers=headers) as http,
        http.post(url, json={"endpoint": "1003", "mode": "ring"}) as resp,
    ):
        assert resp.status == 200, await resp.text()
    await board.expect_agent_state("1003", "available")
    await expect(board.agent_row("1003")).to_contain_text("Agent 1003")

    await board.act_on_agent("1003", "Pause")
    await board.expect_agent_state("1003", "paused")
    await expect(board.agent_row("1003")).to_contain_text("paused (supervisor)")
    assert daemon.acd.state.agents["1003"].pause_reason == "supervisor"

    page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await board.act_on_agent("1003", "Log out")
    await board.expect_agent_state("1003", "logged_out")
    assert log.failed == []


async def test_wallboard_fits_a_tablet(daemon_factory: Any, console: Any) -> None:
    """At a tablet's 768x1024 the page renders its panels without sideways scrolling."""
    daemon = await daemon_factory()
    await add_queue(daemon, "sales")
    page, _ = await console(daemon).open(
        "/supervisor", await supervisor_token(daemon), viewport=(768, 1024), name="tablet"
    )
    board = Wallboard(page)
    await board.wait_live()
    for panel in ("#queues-panel", "#chart-panel", "#agents-panel"):
        await expect(page.locator(panel)).to_be_visible()
    await expect(page.locator("#chart canvas")).to_be_visible()
    overflow = await page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0
    await page.screenshot(path=artifacts_dir() / "wallboard-tablet.png", full_page=True)


async def test_dropped_websocket_shows_disconnected(daemon_factory: Any, console: Any) -> None:
    """When the daemon goes away the page says "disconnected" (and keeps retrying)."""
    daemon = await daemon_factory()
    page, _ = await console(daemon).open("/supervisor", await supervisor_token(daemon))
    board = Wallboard(page)
    await board.wait_live()
    await daemon.stop()
    await expect(board.connection).to_have_attribute(
        "data-state", "disconnected", timeout=SHOWS_WITHIN_MS
    )
    await expect(board.connection).to_contain_text("retrying")
