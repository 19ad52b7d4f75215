"""The agent panel end to end (issue 13): two agents signed in through /login, a
supervisor's wallboard beside them, a SIPp caller who keys an account number in an IVR
flow and reaches the queue, the screen pop, an attended transfer from the page."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import asyncpg
from integration.test_acd_support import add_agent, add_queue, desk_phones
from integration.test_ivr_calls import activate
from playwright.async_api import Browser, BrowserContext, Page, expect

from ccpbx.acd import AgentState
from ccpbx.daemon import Daemon
from ccpbx.sandbox.asterisk import AsteriskInstance
from ccpbx.sandbox.dtmf import Keypad
from ccpbx.sandbox.sipp import Step, caller_scenario, run_sipp
from ccpbx.store.contacts import add_contact, create_list
from ccpbx.store.phones import Phone
from ccpbx.users import accounts

from .conftest import artifacts_dir
from .pages import SHOWS_WITHIN_MS, AgentPanel, Wallboard
from .test_wallboard import supervisor_token

PW = "correct horse battery"
DID = "18005550131"
CALLER = "15550123456"

ACCOUNT_FLOW = f"""
flow: account_pop
dids: ["{DID}"]
languages: [en]
sound_languages: [en]
start: account
prompts:
  beep: beep
  bye: vm-goodbye
nodes:
  account:
    kind: input
    prompt: beep
    variable: account
    min_digits: 6
    max_digits: 6
    terminator: "#"
    timeout_ms: 5000
    retries: 1
    next: queue
    fallback: bye
  queue:
    kind: queue
    queue: accounts
    target: "ccpbx-queue-enter,s,1"
  bye:
    kind: hangup
    prompt: bye
"""


async def add_user(daemon: Daemon, name: str, agent: str) -> None:
    async with daemon.database.pool.acquire() as conn:
        await accounts.add(
            conn,
            name,
            role="agent",
            agent=agent,
            display_name=name.title(),
            password=PW,
            min_length=12,
            actor="test",
            now=daemon.sign_in.clock(),
        )


async def signed_in(
    browser: Browser,
    daemon: Daemon,
    name: str,
    contexts: list[BrowserContext],
    viewport: tuple[int, int] = (1280, 900),
) -> Page:
    """A browser context signed in as ``name`` through the /login form, on /agent."""
    size = {"width": viewport[0], "height": viewport[1]}
    context = await browser.new_context(viewport=size)
    contexts.append(context)
    page = await context.new_page()
    await page.goto(f"http://127.0.0.1:{daemon.http_port}/login")
    await page.get_by_label("User name").fill(name)
    await page.get_by_label("Password").fill(PW)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url("**/agent", timeout=SHOWS_WITHIN_MS)
    return page


async def test_screen_pop_attended_transfer_and_wallboard(
    asterisk: AsteriskInstance,
    daemon_factory: Any,
    console: Any,
    browser: Browser,
    database_url: str,
) -> None:
    """Agents 1001 and 1002 sign in and log in from their pages (1001 paused); a SIPp
    caller keys 123456# in the IVR and waits: the wallboard shows 1 waiting; 1001
    unpauses and gets the call: its page pops the account number and the contact's name,
    the wallboard shows 0 waiting and 1001 on call; 1001 consults 1002 and completes the
    transfer from the page: 1002's page shows the call (same caller), 1001 goes to wrap-up;
    1002 hangs up from its page, sets disposition "sale" with a note (stored on the
    call's record) and is available again. Screenshots of all three pages are
    saved as agent-1.png, agent-2.png and wallboard.png."""
    conn = await asyncpg.connect(database_url)
    try:
        lst = await create_list(conn, "customers")
        await add_contact(
            conn,
            lst.id,
            [Phone(f"+{CALLER}", ("America/New_York",))],
            name="Ada Lovelace",
            external_id="123456",
            now=dt.datetime.now(dt.UTC),
        )
    finally:
        await conn.close()
    await activate(database_url, ACCOUNT_FLOW)
    daemon = await daemon_factory()
    await add_queue(daemon, "accounts", wrapup_s=30)
    for agent in ("1001", "1002"):
        await add_agent(daemon, agent, ["accounts"])
    await add_user(daemon, "anna", "1001")
    await add_user(daemon, "bert", "1002")

    contexts: list[BrowserContext] = []
    pages: dict[str, Page] = {}
    try:
        with desk_phones(asterisk, ["1001", "1002"]):
            board_page, _ = await console(daemon).open(
                "/supervisor", await supervisor_token(daemon), name="wallboard"
            )
            pages["wallboard"] = board_page
            board = Wallboard(board_page)
            pages["agent-1"] = await signed_in(browser, daemon, "anna", contexts)
            # The second agent works on a tablet (portrait).
            pages["agent-2"] = await signed_in(browser, daemon, "bert", contexts, (768, 1024))
            first, second = AgentPanel(pages["agent-1"]), AgentPanel(pages["agent-2"])
            await board.wait_live()
            for panel, phone in ((first, "1001"), (second, "1002")):
                await panel.wait_live()
                await panel.log_in(phone)
                await panel.expect_state("available")
            await first.pause("break")
            await first.expect_state("paused")
            await second.pause("lunch")
            await second.expect_state("paused")
            await board.expect_agent_state("1001", "paused")

            keys = Keypad(asterisk)
            steps = [Step.pause(1500), *keys.press("123456#", last=True)]
            scenario = caller_scenario(CALLER, "Ada L", steps=steps, wait_bye_ms=60_000)
            caller = asyncio.create_task(
                asyncio.to_thread(run_sipp, asterisk, scenario, service=DID, timeout_s=90)
            )
            await board.expect_waiting("accounts", 1)

            await first.unpause()
            await first.expect_state("on_call")
            await expect(
                pages["agent-1"].locator('#pop-inputs [data-field="account"]')
            ).to_have_text("123456", timeout=SHOWS_WITHIN_MS)
            await expect(pages["agent-1"].locator("#pop-name")).to_have_text("Ada Lovelace")
            await expect(pages["agent-1"].locator("#pop-inputs dt")).to_have_text(["account"])
            await expect(pages["agent-1"].locator("#pop-number")).to_contain_text(CALLER)
            await board.expect_waiting("accounts", 0)
            await board.expect_agent_state("1001", "on_call")

            await second.unpause()
            await second.expect_state("available")
            await first.transfer("agent", "1002", "attended")
            await expect(pages["agent-1"].locator("#transfer-complete")).to_be_visible(
                timeout=SHOWS_WITHIN_MS
            )
            await first.click("Complete transfer")
            await second.expect_state("on_call")
            await expect(pages["agent-2"].locator("#pop-number")).to_contain_text(
                CALLER, timeout=SHOWS_WITHIN_MS
            )
            await first.expect_state("wrap_up")
            await board.expect_agent_state("1002", "on_call")
            await board.expect_agent_state("1001", "wrap_up")

            await second.click("Hang up")
            await second.expect_state("wrap_up")
            await board.expect_agent_state("1002", "wrap_up")
            result = await caller
            assert result.ok, result.errors

            page_2 = pages["agent-2"]
            await expect(page_2.locator("#disposition-panel")).to_be_visible()
            await page_2.get_by_label("Outcome").select_option("sale")
            await page_2.get_by_label("Note", exact=True).fill("Account 123456 verified")
            await second.click("Save disposition")
            await expect(page_2.locator("#notice")).to_have_text(
                "Disposition sale saved.", timeout=SHOWS_WITHIN_MS
            )
            await second.expect_state("available")  # the disposition ends the wrap-up
            await board.expect_agent_state("1002", "available")
            row = await daemon.database.pool.fetchrow(
                """SELECT disposition, details ->> 'disposition_note' AS note,
                          details ->> 'disposed_by' AS agent
                   FROM call_records WHERE direction = 'inbound' AND caller = $1""",
                CALLER,
            )
            assert row is not None
            assert (row["disposition"], row["note"], row["agent"]) == (
                "sale",
                "Account 123456 verified",
                "1002",
            )
            assert daemon.acd.state.agents["1002"].state is AgentState.AVAILABLE
    finally:
        out = artifacts_dir()
        for name, page in pages.items():
            try:
                await page.screenshot(path=str(out / f"{name}.png"), full_page=True)
            except Exception as exc:  # a crashed page: the others are still saved
                (out / f"{name}.error.txt").write_text(repr(exc))
        for context in contexts:
            await context.close()
