"""A DialerControl for tests, backed by the real store (no campaign runner).

The test says which attempt each agent is on (``assign``); ``dispose`` does what a
runner does: :func:`ccpbx.dialer.dispositions.dispose_attempt` on the real database,
then the agent's wrap-up is over. Campaign views are read from the database.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import asyncpg

from ccpbx.callcontrol.persistent import PersistentAgentConnections
from ccpbx.dialer.dispositions import NoCallToDispose, dispose_attempt
from ccpbx.errors import NotFound
from ccpbx.store import campaigns

STATUS_SQL = """
    SELECT c.name, c.status, c.mode,
           count(l.*) FILTER (WHERE l.status = 'ready') AS ready,
           count(l.*) FILTER (WHERE l.status = 'leased') AS leased,
           count(l.*) FILTER (WHERE l.status IN ('done', 'exhausted')) AS finished
    FROM campaigns c LEFT JOIN campaign_leads l ON l.campaign_id = c.id
"""


class StoreControl:
    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        legs: PersistentAgentConnections | None = None,
        clock: Callable[[], datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.pool = pool
        self.legs = legs
        self.clock = clock
        self.on_call: dict[str, uuid.UUID] = {}
        self.disposed: list[tuple[str, str, dict[str, Any]]] = []
        self.views: dict[str, dict[str, Any]] = {}

    def assign(self, agent: str, attempt_id: uuid.UUID) -> None:
        self.on_call[agent] = attempt_id

    async def refresh(self) -> None:
        """Read the campaign figures (the runner keeps them live; here on request)."""
        rows = await self.pool.fetch(STATUS_SQL + " GROUP BY c.id ORDER BY c.name")
        self.views = {
            r["name"]: {k: r[k] for k in ("name", "status", "mode", "ready", "leased", "finished")}
            for r in rows
        }

    def campaigns_view(self) -> list[dict[str, Any]]:
        return list(self.views.values())

    def campaign_view(self, name: str) -> dict[str, Any]:
        if name not in self.views:
            raise NotFound(f"no campaign named {name!r}", name=name)
        return self.views[name]

    async def _set(self, name: str, status: str) -> dict[str, Any]:
        campaign = await campaigns.get_campaign(self.pool, name)
        await campaigns.set_status(self.pool, campaign.id, status)
        await self.refresh()
        return self.campaign_view(name)

    async def start_campaign(self, name: str) -> dict[str, Any]:
        return await self._set(name, "running")

    async def pause_campaign(self, name: str) -> dict[str, Any]:
        return await self._set(name, "paused")

    def attempt_of_agent(self, agent: str) -> uuid.UUID | None:
        return self.on_call.get(agent)

    def agent_of_channel(self, uniqueid: str) -> str | None:
        if self.legs is None:
            return None
        for agent in self.legs.agents():
            leg = self.legs.leg(agent)
            if leg is not None and uniqueid in (leg.uniqueid, leg.channel):
                return agent
        return None

    async def dispose(
        self,
        agent: str,
        code: str,
        *,
        callback_at: datetime | None = None,
        callback_for_agent: bool = False,
        note: str = "",
    ) -> dict[str, Any]:
        attempt_id = self.on_call.get(agent)
        if attempt_id is None:
            raise NoCallToDispose(f"agent {agent} has no call to dispose", agent=agent)
        disposed = await dispose_attempt(
            self.pool,
            attempt_id,
            code,
            self.clock(),
            callback_at=callback_at,
            callback_agent=agent if callback_for_agent else None,
            note=note,
        )
        del self.on_call[agent]  # wrap-up over
        result = {"agent": agent, **disposed.as_dict()}
        self.disposed.append((agent, code, result))
        return result
