"""Listen / whisper / barge from the wallboard, on a real call: the supervisor's own
SIPp phone is called into ChanSpy on the agent's channel with the chosen options."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from integration.conftest import eventually
from integration.test_acd_support import add_agent, add_queue, waiting_caller
from playwright.async_api import expect

from ccpbx.acd import AgentState
from ccpbx.ami.protocol import AmiMessage
from ccpbx.sandbox.asterisk import AsteriskInstance, Phone
from ccpbx.sandbox.phones import SippPhone

from .pages import SHOWS_WITHIN_MS, Wallboard
from .test_wallboard import supervisor_token


@pytest.fixture
def phones(asterisk: AsteriskInstance) -> Iterator[dict[str, SippPhone]]:
    """Agent phone 1004 and supervisor phone 1006, registered, answering."""
    started: dict[str, SippPhone] = {}
    try:
        for n in ("1004", "1006"):
            phone = SippPhone(asterisk, Phone(n, f"pw-{n}-secret", rewrite_contact=False))
            phone.start()
            started[n] = phone
        yield started
    finally:
        for phone in started.values():
            phone.stop()


async def test_whisper_button_calls_the_supervisor_phone_into_chanspy(
    asterisk: AsteriskInstance, daemon_factory: Any, console: Any, phones: dict[str, SippPhone]
) -> None:
    """Without "My phone" the Whisper button asks for it and calls nobody; with 1006 typed
    in, it has ccpbx call phone 1006 into ChanSpy on the talking agent's channel, with
    the whisper options (qwE)."""
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
    await board.expect_agent_state("1004", "on_call")
    await board.act_on_agent("1004", "Whisper")
    await expect(page.locator("#notice")).to_contain_text("My phone")
    assert phones["1006"].invites() == 0

    await page.locator("#my-phone").fill("1006")
    await board.act_on_agent("1004", "Whisper")
    await expect(page.locator("#notice")).to_contain_text(
        "Calling 1006 to whisper on agent 1004", timeout=SHOWS_WITHIN_MS
    )
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
    assert log.failed == []
