"""Calls that get their agent before they are dialed: due callbacks and previews.

A free agent is reserved in the ACD (``hold_for_outbound``) for one lead; a callback
is then dialed at once, a preview is shown to the agent, who dials or skips it.
Runs on a reserving task (and, for previews, on the API's request); the worker
learns what happened through ``feed`` (``preview``, ``reserved``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import structlog

from ccpbx.dialer.runtime import records
from ccpbx.dialer.runtime.placing import Feed, Placer
from ccpbx.dialer.runtime.settings import Pool, utc
from ccpbx.dialer.runtime.state import RunnerState
from ccpbx.errors import CcpbxError, NotFound
from ccpbx.queues.service import QueueService
from ccpbx.store import attempts as store_attempts
from ccpbx.store.campaigns import Campaign
from ccpbx.store.leasing import LeasedLead

log = structlog.get_logger(__name__)


def pair_leads(
    leads: Sequence[LeasedLead], agents: Sequence[str]
) -> list[tuple[LeasedLead, str | None]]:
    """Give each lead an agent (pure): a callback promised to an agent goes to that
    agent if it is free, the rest to the free agents in the order given (longest idle
    first); None when no agent is left."""
    free = list(agents)
    pairs: list[tuple[LeasedLead, str | None]] = []
    rest = []
    for lead in leads:
        wanted = lead.callback_agent
        if wanted is not None and wanted in free:
            free.remove(wanted)
            pairs.append((lead, wanted))
        else:
            rest.append(lead)
    for lead in rest:
        pairs.append((lead, free.pop(0) if free else None))
    return pairs


class Reserver:
    """Reserves agents for one campaign's callbacks and previews."""

    def __init__(
        self,
        campaign: Campaign,
        queue: str,
        state: RunnerState,
        *,
        placer: Placer,
        acd: QueueService,
        pool: Pool,
        clock: Callable[[], float],
        feed: Feed,
    ) -> None:
        self.campaign = campaign
        self.queue = queue
        self.state = state
        self.preview_mode = campaign.settings.mode == "preview"
        self._placer = placer
        self._acd = acd
        self._pool = pool
        self._clock = clock
        self._feed = feed

    async def reserve(self, agents: list[str], *, callbacks_only: bool) -> None:
        """Lease up to one lead per free agent, reserve the agent in the ACD, then dial
        (a callback) or show it to the agent (a preview)."""
        leads: list[LeasedLead] = []
        try:
            leads = await self._placer.lease(len(agents), callbacks_only=callbacks_only)
            pairs = pair_leads(leads, agents)
        except Exception as exc:
            log.warning("dialer_reserve_failed", campaign=self.campaign.name, error=repr(exc))
            pairs = [(lead, None) for lead in leads]
        try:
            for lead, agent in pairs:
                await self._reserve_one(lead, agent)
        finally:
            # Always: the runner decides again only once this is known.
            self._feed("reserved", (len(leads) < len(agents), agents))

    async def _reserve_one(self, lead: LeasedLead, agent: str | None) -> None:
        key = str(lead.attempt_id)
        if agent is not None:
            try:
                await self._acd.hold_for_outbound(key, self.queue, agent)
            except CcpbxError as exc:
                log.info("dialer_hold_refused", attempt_id=key, agent=agent, error=exc.message)
                agent = None
        if self.preview_mode and agent is not None:
            self._feed("preview", (agent, lead))
            log.info("dialer_preview", campaign=self.campaign.name, agent=agent, attempt_id=key)
        elif agent is not None:
            await self._placer.dial(lead, held=agent)
        elif self.preview_mode:
            # No agent to reserve any more: a preview goes back untouched.
            await records.settle(self._pool(), lead.attempt_id, "not_dialed", utc(self._clock()))
        else:
            # No agent to reserve any more: dial it like any lead (a callback must not wait).
            self.state.book.reserved += 1
            await self._placer.dial(lead)

    # ----- previews ------------------------------------------------------------------

    def preview_of(self, agent: str) -> dict[str, Any] | None:
        lead = self.state.previews.get(agent)
        if lead is None:
            return None
        return {
            "campaign": self.campaign.name,
            "attempt_id": str(lead.attempt_id),
            "contact_id": lead.contact_id,
            "name": lead.name,
            "number": lead.e164,
            "fields": lead.fields,
            "callback": lead.callback_id is not None,
        }

    async def preview_dial(self, agent: str) -> dict[str, Any]:
        lead = self.state.previews.pop(agent, None)
        if lead is None:
            raise NotFound(f"agent {agent} has no preview", agent=agent)
        await self._placer.dial(lead, held=agent)
        return {"agent": agent, "attempt_id": str(lead.attempt_id), "dialing": lead.e164}

    async def preview_skip(self, agent: str) -> dict[str, Any]:
        lead = self.state.previews.pop(agent, None)
        if lead is None:
            raise NotFound(f"agent {agent} has no preview", agent=agent)
        key = str(lead.attempt_id)
        self.state.holds.pop(key, None)
        await store_attempts.record_outcome(
            self._pool(), lead.attempt_id, "not_dialed", utc(self._clock())
        )
        await self._acd.release_outbound(key)
        log.info("dialer_preview_skipped", agent=agent, attempt_id=key)
        return {"agent": agent, "attempt_id": key, "skipped": True}
