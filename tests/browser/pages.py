"""Page objects: what a supervisor sees and does on the wallboard, so that a test reads
like what a person does (as in wazo-ui's integration tests)."""

from __future__ import annotations

from playwright.async_api import Locator, Page, expect

# Generous: the CI machine is shared; no test waits a fixed time.
SHOWS_WITHIN_MS = 20_000


class Wallboard:
    def __init__(self, page: Page) -> None:
        self.page = page

    @property
    def connection(self) -> Locator:
        return self.page.locator("#connection")

    async def wait_live(self) -> None:
        await expect(self.connection).to_have_attribute(
            "data-state", "live", timeout=SHOWS_WITHIN_MS
        )

    def queue_row(self, queue: str) -> Locator:
        return self.page.locator(f'#queues tr[data-queue="{queue}"]')

    def queue_figure(self, queue: str, field: str) -> Locator:
        return self.queue_row(queue).locator(f'[data-field="{field}"]')

    async def expect_waiting(self, queue: str, count: int) -> None:
        await expect(self.queue_figure(queue, "waiting")).to_have_text(
            str(count), timeout=SHOWS_WITHIN_MS
        )

    def agent_row(self, agent: str) -> Locator:
        return self.page.locator(f'#agents tr[data-agent="{agent}"]')

    async def expect_agent_state(self, agent: str, state: str) -> None:
        await expect(self.agent_row(agent)).to_have_attribute(
            "data-state", state, timeout=SHOWS_WITHIN_MS
        )

    async def act_on_agent(self, agent: str, button: str) -> None:
        await self.agent_row(agent).get_by_role("button", name=button).click()

    def help_row(self, agent: str) -> Locator:
        return self.page.locator(f'#help tr[data-agent="{agent}"]')

    def help_figure(self, agent: str, field: str) -> Locator:
        return self.help_row(agent).locator(f'[data-field="{field}"]')

    async def expect_help_from(self, agent: str) -> None:
        await expect(self.help_row(agent)).to_be_visible(timeout=SHOWS_WITHIN_MS)

    async def expect_no_help_from(self, agent: str) -> None:
        await expect(self.help_row(agent)).to_have_count(0, timeout=SHOWS_WITHIN_MS)

    async def act_on_help(self, agent: str, button: str) -> None:
        await self.help_row(agent).get_by_role("button", name=button).click()

    async def set_my_phone(self, endpoint: str) -> None:
        await self.page.locator("#my-phone").fill(endpoint)


class AgentPanel:
    """What an agent sees and does on /agent."""

    def __init__(self, page: Page) -> None:
        self.page = page

    async def wait_live(self) -> None:
        await expect(self.page.locator("#connection")).to_have_attribute(
            "data-state", "live", timeout=SHOWS_WITHIN_MS
        )

    async def expect_state(self, state: str) -> None:
        await expect(self.page.locator("#agent-state")).to_have_attribute(
            "data-state", state, timeout=SHOWS_WITHIN_MS
        )

    async def log_in(self, phone: str) -> None:
        await self.page.locator("#login-endpoint").fill(phone)
        await self.page.get_by_role("button", name="Log in").click()

    async def pause(self, reason: str) -> None:
        await self.page.get_by_label("Pause reason").select_option(reason)
        await self.page.get_by_role("button", name="Pause", exact=True).click()

    async def unpause(self) -> None:
        await self.page.get_by_role("button", name="Unpause").click()

    def pop_field(self, selector: str) -> Locator:
        return self.page.locator(selector)

    async def transfer(self, kind: str, target: str, mode: str) -> None:
        await self.page.locator("#transfer-kind").select_option(kind)
        await self.page.locator("#transfer-target").fill(target)
        await self.page.locator("#transfer-mode").select_option(mode)
        await self.page.get_by_role("button", name="Transfer", exact=True).click()

    async def click(self, name: str) -> None:
        await self.page.get_by_role("button", name=name, exact=True).click()
