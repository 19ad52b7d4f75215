"""Help requests on the wallboard, on a real call: an agent asks by API, the request
shows on the supervisor's page with its queue and note; Whisper (with "My phone")
calls the supervisor's SIPp phone into ChanSpy on the agent's channel; Close removes
it. The queue's today and last-30-minutes figures render beside it."""

from __future__ import annotations

from typing import Any

import aiohttp
from integration.conftest import eventually
from integration.test_acd_support import add_agent, add_queue, waiting_caller
from playwright.async_api import expect

from ccpbx.acd import AgentState
from ccpbx.ami.protocol import AmiMessage
from ccpbx.sandbox.asterisk import AsteriskInstance
from ccpbx.sandbox.phones import SippPhone
from ccpbx.store.tokens import TokenRepository

from .conftest import artifacts_dir
from .pages import SHOWS_WITHIN_MS, Wallboard
from .test_supervision import phones
from .test_wallboard import supervisor_token

__all__ = ["phones"]  # the fixture (agent phone 1004, supervisor phone 1006)


async def test_help_request_shows_is_whispered_on_and_closed(
    asterisk: AsteriskInstance, daemon_factory: Any, console: Any, phones: dict[str, SippPhone]
) -> None:
    """Agent 1004, on a call of queue vip, asks for help by API: the wallboard lists it
    (queue vip, the note); Whisper with "My phone" 1006 has ChanSpy run on the agent's
    channel with qwE and the row shows who answered; Close takes the row away. The
    queue row shows 100 % in SL today and last 30 min, 0 % abandoned."""
    spies: list[AmiMessage] = []
    daemon = await daemon_factory(events={"ChanSpyStart": spies.append})
    await add_queue(daemon, "vip")
    await add_agent(daemon, "1004", ["vip"])
    await daemon.acd.login("1004", "1004")
    await waiting_caller(daemon.ami, "vip")
    await eventually(lambda: daemon.acd.state.agents["1004"].state is AgentState.ON_CALL)

    page, log = await console(daemon).open("/supervisor", await supervisor_token(daemon))
    board = Wallboard(page)
    await board.wait_live()
    await expect(page.locator("#help-empty")).to_be_visible()
    for field in ("sl-today", "sl-30m"):
        await expect(board.queue_figure("vip", field)).to_have_text(
            "100 %", timeout=SHOWS_WITHIN_MS
        )
    for field in ("abandon-today", "abandon-30m"):
        await expect(board.queue_figure("vip", field)).to_have_text("0 %")

    agent_token, _ = await TokenRepository(daemon.database.pool).create(
        "agent", "agent 1004", subject="1004"
    )
    async with (
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {agent_token}"}) as http,
        http.post(
            f"http://127.0.0.1:{daemon.http_port}/api/agents/1004/help",
            json={"note": "customer wants a discount"},
        ) as resp,
    ):
        assert resp.status == 201, await resp.text()
    await board.expect_help_from("1004")
    await expect(board.help_figure("1004", "queue")).to_have_text("vip")
    await expect(board.help_figure("1004", "note")).to_have_text("customer wants a discount")
    await page.screenshot(path=artifacts_dir() / "wallboard-help.png", full_page=True)

    await board.set_my_phone("1006")
    await board.act_on_help("1004", "Whisper")
    await expect(page.locator("#notice")).to_contain_text(
        "Calling 1006 to whisper on agent 1004", timeout=SHOWS_WITHIN_MS
    )
    await expect(board.help_figure("1004", "answered")).to_contain_text("whisper")
    spy = await eventually(lambda: spies and spies[0])
    agent_channel = daemon.acd.agent_channel("1004")
    assert spy.get("SpyeeChannel") == agent_channel
    assert spy.get("SpyerChannel", "").startswith("PJSIP/1006-")

    def spy_app() -> str | None:
        for line in asterisk.cli("core show channels concise").splitlines():
            fields = line.split("!")
            if fields[0].startswith("PJSIP/1006-") and fields[5] == "ChanSpy":
                return fields[6]
        return None

    assert await eventually(spy_app) == f"{agent_channel},qwE"

    await board.act_on_help("1004", "Close")
    await board.expect_no_help_from("1004")
    await expect(page.locator("#help-empty")).to_be_visible()
    assert log.failed == []
    assert log.console_errors == []
