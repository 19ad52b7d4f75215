"""Page object of ``/phone``: what an agent sees and does with the browser phone."""

from __future__ import annotations

from integration.conftest import eventually
from playwright.async_api import Locator, Page, expect

from .pages import SHOWS_WITHIN_MS


class PhonePage:
    def __init__(self, page: Page) -> None:
        self.page = page

    @property
    def registration(self) -> Locator:
        return self.page.locator("#registration")

    @property
    def call_state(self) -> Locator:
        return self.page.locator("#call-state")

    async def sign_in(self, base: str, name: str, password: str) -> None:
        """Sign in with the form, as a person does, and land on /phone."""
        await self.page.goto(f"{base}/login?next=/phone")
        await self.page.locator("#name").fill(name)
        await self.page.locator("#password").fill(password)
        await self.page.locator("button[type=submit]").click()
        await self.page.wait_for_url(f"{base}/phone")

    async def wait_registered(self) -> None:
        await expect(self.registration).to_have_attribute(
            "data-state", "live", timeout=SHOWS_WITHIN_MS
        )

    async def expect_call(self, state: str) -> None:
        await expect(self.call_state).to_have_attribute(
            "data-state", state, timeout=SHOWS_WITHIN_MS
        )

    async def answer(self) -> None:
        await self.page.locator("#answer").click()

    async def hang_up(self) -> None:
        await self.page.locator("#hangup").click()

    async def caller(self) -> str:
        return await self.page.locator("#caller").inner_text()

    async def audio_packets(self) -> int:
        """The inbound RTP packets the page reports (RTCPeerConnection.getStats)."""
        return int(await self.page.locator("#audio-in").inner_text())

    async def wait_audio_above(self, packets: int) -> int:
        """Wait until the page has received more than ``packets`` RTP packets."""

        async def more() -> int:
            now = await self.audio_packets()
            return now if now > packets else 0

        return int(await eventually(more, timeout=SHOWS_WITHIN_MS / 1000, interval=0.2))
