"""Campaign figures pushed to the wallboard: each running campaign's view is published
on the ACD feed (``{"type": "campaign", ...}``) when it has changed, checked once a
second, so at most once a second per campaign; the count of leads left is refreshed
every few seconds by one bounded query per campaign, off the dialer's own tasks.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any

import structlog

from ccpbx.dialer.runtime.runner import CampaignRunner
from ccpbx.dialer.runtime.settings import Pool
from ccpbx.store.campaigns import count_leads_left

log = structlog.get_logger(__name__)


class CampaignFigures:
    """One task: refresh leads left (every ``leads_every_s``), publish changed views."""

    def __init__(
        self,
        runners: Callable[[], Mapping[str, CampaignRunner]],
        publish: Callable[[dict[str, Any]], None],
        pool: Pool,
        *,
        clock: Callable[[], float] = time.monotonic,
        every_s: float = 1.0,
        leads_every_s: float = 5.0,
    ) -> None:
        self._runners = runners
        self._publish = publish
        self._pool = pool
        self._clock = clock
        self.every_s = every_s
        self.leads_every_s = leads_every_s
        self._counted_at: dict[str, float] = {}
        self._last: dict[str, dict[str, Any]] = {}

    async def run(self) -> None:
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("dialer_figures_failed", error=repr(exc))
            await asyncio.sleep(self.every_s)

    async def tick(self) -> int:
        """Refresh what is due and publish the views that changed; how many were sent."""
        now = self._clock()
        runners = dict(self._runners())
        for name in set(self._last) - set(runners):
            self._last.pop(name, None)
            self._counted_at.pop(name, None)
        sent = 0
        for name, runner in sorted(runners.items()):
            if now - self._counted_at.get(name, float("-inf")) >= self.leads_every_s:
                self._counted_at[name] = now
                runner.leads_left = await count_leads_left(self._pool(), runner.campaign.id)
            view = runner.view()
            if view != self._last.get(name):
                self._last[name] = view
                self._publish({"type": "campaign", **view})
                sent += 1
        return sent
