"""All campaigns of one Asterisk node: starts their runners, routes Asterisk's and the
ACD's events to them, and is the control surface the HTTP API and the agents' phones
use (start, pause, figures, dispositions)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import re
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import structlog

from ccpbx.acd import AcdEvent, AgentState, EventKind, OverflowKind, OverflowTarget, QueueConfig
from ccpbx.ami import AmiClient
from ccpbx.ami.channels import ChannelView
from ccpbx.ami.protocol import AmiMessage
from ccpbx.dialer.dispositions import NoCallToDispose, dispose_attempt
from ccpbx.dialer.pacing import make_pacer
from ccpbx.dialer.runtime.figures import CampaignFigures
from ccpbx.dialer.runtime.records import end_record_of_attempt
from ccpbx.dialer.runtime.runner import CampaignRunner, Pool, RunnerSettings, new_dialer_id
from ccpbx.dialer.runtime.settle import settled_outcome
from ccpbx.errors import CcpbxError, Conflict, InvalidInput, NotFound
from ccpbx.health import ComponentStatus
from ccpbx.queues.model import QueueSpec, check_queue_name
from ccpbx.queues.service import QueueService
from ccpbx.store import campaigns as store_campaigns
from ccpbx.store.attempts import Attempt
from ccpbx.store.campaigns import Campaign
from ccpbx.store.leasing import reconcile_expired

log = structlog.get_logger(__name__)

_UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_AGENT_FREED = frozenset(
    {EventKind.WRAPUP_ENDED, EventKind.AGENT_UNPAUSED, EventKind.AGENT_LOGGED_IN}
)
"""ACD events that may free an agent for a campaign (a pacing decision follows)."""
PACER_OF_MODE = {"preview": "progressive", "progressive": "progressive", "predictive": "predictive"}
"""Preview campaigns place a call only when the agent asks (the pacer is not used)."""


class DialerService:
    """Runs every campaign marked running (see the module docstring)."""

    def __init__(
        self,
        ami: AmiClient,
        channels: ChannelView,
        acd: QueueService,
        *,
        pool: Pool,
        settings: RunnerSettings | None = None,
        pacers: Mapping[str, str] | None = None,
        dialer_id: str | None = None,
        clock: Callable[[], float] = time.time,
        sync_s: float = 5.0,
        on_agent_connected: Callable[[str, float], None] | None = None,
    ) -> None:
        self._connected_hook = on_agent_connected  # (campaign, answer -> agent seconds)
        self._ami = ami
        self._channels = channels
        self._acd = acd
        self._pool = pool
        self.settings = settings or RunnerSettings()
        self.pacers = dict(PACER_OF_MODE, **(pacers or {}))
        """Pacer name by campaign mode (e.g. ``{"predictive": "ratio:1.5"}`` to override)."""
        self.dialer_id = dialer_id or new_dialer_id()
        self._clock = clock
        self.runners: dict[str, CampaignRunner] = {}
        self._lock = asyncio.Lock()
        """Held while runners are started or stopped (API, sync loop)."""
        self._refused: set[str] = set()
        """Running campaigns that cannot be dialed (bad settings): logged once."""
        self._started = False
        self._hooked = False
        self._sync_s = sync_s
        self._sync_task: asyncio.Task[None] | None = None
        self.figures = CampaignFigures(lambda: self.runners, acd.feed.publish, pool)
        """Campaign views pushed on the ACD feed when they change (the wallboard)."""
        self._figures_task: asyncio.Task[None] | None = None
        ami.on_event("OriginateResponse", self._on_originate)
        ami.on_event("Hangup", self._on_hangup)
        ami.on_event("UserEvent", self._on_user_event)
        ami.on_event("DialEnd", self._on_dial_end)
        acd.add_listener(self._on_acd)

    # ----- lifecycle -----------------------------------------------------------------

    async def start(self, *, ready_timeout: float = 30.0) -> None:
        """Start a runner for every running campaign (after the ACD has recovered, so
        calls already with agents are found)."""
        await self._acd.wait_ready(ready_timeout)
        if not self._hooked:
            # After the channel view's and the ACD's hooks (both registered earlier).
            self._ami.on_connected(self._on_connected)
            self._hooked = True
        self._started = True
        await self.sync()
        self._sync_task = asyncio.create_task(self._sync_loop(), name="dialer-sync")
        self._figures_task = asyncio.create_task(self.figures.run(), name="dialer-figures")

    async def sync(self) -> None:
        """Follow the campaigns' stored status (set by the API, the CLI or another node's
        operator): run the running ones, stop dialing the others."""
        rows = await self._pool().fetch("SELECT name, status FROM campaigns")
        for row in rows:
            name, status = row["name"], row["status"]
            runner = self.runners.get(name)
            if status == "running" and (runner is None or not runner.dialing):
                if name in self._refused:
                    continue
                try:
                    await self._run(name)
                except CcpbxError as exc:
                    self._refused.add(name)
                    log.error("dialer_campaign_not_started", campaign=name, error=exc.message)
            elif status != "running" and runner is not None and runner.dialing:
                runner.stop_dialing()
                log.info("dialer_campaign_paused", campaign=name)
            if status != "running":
                self._refused.discard(name)

    async def reconcile_expired(self) -> int:
        """Settle attempts whose lease lapsed (their dialer died, on any node, or their
        campaign is no longer run here): followed no further if Asterisk has no channel
        for them, decided by how far they got (see :func:`settled_outcome`); the call
        record of a settled attempt is closed."""
        pool = self._pool()

        async def resolve(attempt: Attempt) -> str | None:
            key = str(attempt.id)
            if any(key in r.book for r in self.runners.values()):
                return None
            return settled_outcome(
                dialing=attempt.dialing_at is not None,
                answered=attempt.answered_at is not None,
                channel_up=key in self._channels,
            )

        now = dt.datetime.fromtimestamp(self._clock(), dt.UTC)
        report = await reconcile_expired(pool, now, resolve)
        for attempt in report.reconciled:
            if attempt.outcome != "not_dialed":  # its call, if it had one, is over
                await end_record_of_attempt(pool, attempt.id, now)
        return len(report.reconciled)

    async def _sync_loop(self) -> None:
        while True:
            await asyncio.sleep(self._sync_s)
            try:
                await self.sync()
                await self.reconcile_expired()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("dialer_sync_failed", error=repr(exc))

    async def stop(self) -> None:
        """Stop dialing; calls in flight stay up in Asterisk for the next start."""
        for task in (self._sync_task, self._figures_task):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        self._sync_task = self._figures_task = None
        for runner in list(self.runners.values()):
            runner.stop_dialing()
        for runner in list(self.runners.values()):
            await runner.stop()
        self.runners.clear()
        self._started = False

    def status(self) -> ComponentStatus:
        """The ``dialer`` entry of ``/status``: ``starting`` until it has taken up the
        running campaigns (after the ACD's recovery), then ``ready``; what it dials.

        ``degraded`` (down) while it cannot dial as asked: Asterisk is unreachable or
        not booted, or agents' phones are being called back after an Asterisk restart.
        A running campaign that cannot dial for want of agents is listed in
        ``campaigns_blocked`` with the reason (an operating state, not a fault)."""
        blocked = {
            n: r.blocked.value for n, r in sorted(self.runners.items()) if r.dialing and r.blocked
        }
        detail: dict[str, Any] = {
            "dialer_id": self.dialer_id,
            "campaigns_dialing": sorted(n for n, r in self.runners.items() if r.dialing),
            "campaigns_blocked": blocked,
            "calls_in_flight": sum(len(r.book) for r in self.runners.values()),
        }
        if self._refused:
            detail["refused"] = sorted(self._refused)
        if not self._started:
            return ComponentStatus("dialer", False, "starting", detail)
        reasons = []
        if not self._ami.ready:
            reasons.append("asterisk_unavailable")
        if self._acd.reconnecting:
            reasons.append("agents_reconnecting")
        if reasons:
            return ComponentStatus("dialer", False, "degraded", {**detail, "reasons": reasons})
        return ComponentStatus("dialer", True, "ready", detail)

    # ----- control ---------------------------------------------------------------------

    async def start_campaign(self, name: str) -> dict[str, Any]:
        campaign = await store_campaigns.get_campaign(self._pool(), name)
        if campaign.status == "archived":
            raise Conflict(f"campaign {name!r} is archived", campaign=name)
        self._pacer_name(campaign)
        await store_campaigns.set_status(self._pool(), campaign.id, "running")
        self._refused.discard(name)
        await self._run(name)
        return self.campaign_view(name)

    async def pause_campaign(self, name: str) -> dict[str, Any]:
        campaign = await store_campaigns.get_campaign(self._pool(), name)
        await store_campaigns.set_status(self._pool(), campaign.id, "paused")
        runner = self.runners.get(name)
        if runner is None:
            return {"name": name, "id": campaign.id, "status": "paused", "dialing": False}
        runner.stop_dialing()
        return self.campaign_view(name)

    def campaigns_view(self) -> list[dict[str, Any]]:
        return [runner.view() for _, runner in sorted(self.runners.items())]

    def campaign_view(self, name: str) -> dict[str, Any]:
        runner = self.runners.get(name)
        if runner is None:
            raise NotFound(f"campaign {name!r} is not running on this node", campaign=name)
        return runner.view()

    def attempt_of_agent(self, agent: str) -> uuid.UUID | None:
        """The campaign call the agent is on, or wrapped up last."""
        for runner in self.runners.values():
            key = runner.agent_calls.get(agent)
            if key is not None:
                return uuid.UUID(key)
        return None

    def agent_of_channel(self, uniqueid: str) -> str | None:
        """The agent whose persistent phone leg has this uniqueid (or channel name)."""
        persistent = self._acd.persistent
        for agent in persistent.agents():
            leg = persistent.leg(agent)
            if leg is not None and uniqueid in (leg.uniqueid, leg.channel):
                return agent
        return None

    def preview(self, agent: str) -> dict[str, Any] | None:
        for runner in self.runners.values():
            found = runner.preview_of(agent)
            if found is not None:
                return found
        return None

    async def preview_action(self, agent: str, action: str) -> dict[str, Any]:
        for runner in self.runners.values():
            if agent in runner.previews:
                if action == "dial":
                    return await runner.preview_dial(agent)
                if action == "skip":
                    return await runner.preview_skip(agent)
                raise InvalidInput('action must be "dial" or "skip"', field="action")
        raise NotFound(f"agent {agent} has no preview", agent=agent)

    async def dispose(
        self,
        agent: str,
        code: str,
        *,
        callback_at: dt.datetime | None = None,
        callback_for_agent: bool = False,
        note: str = "",
    ) -> dict[str, Any]:
        """The agent's disposition of its current or last campaign call; a disposition
        given in wrap-up ends the wrap-up (the agent is ready for the next call)."""
        attempt_id = self.attempt_of_agent(agent)
        if attempt_id is None:
            raise NoCallToDispose(f"agent {agent} has no campaign call to dispose", agent=agent)
        pool = self._pool()
        now = dt.datetime.fromtimestamp(self._clock(), dt.UTC)
        done = await dispose_attempt(
            pool,
            attempt_id,
            code,
            now,
            callback_at=callback_at,
            callback_agent=agent if callback_for_agent else None,
            note=note,
        )
        record = self._acd.state.agents.get(agent)
        if record is not None and record.state is AgentState.WRAP_UP:
            with contextlib.suppress(CcpbxError):
                await self._acd.end_wrapup(agent)
        log.info("dialer_disposition", agent=agent, attempt_id=str(attempt_id), code=code)
        return {"agent": agent, **done.as_dict()}

    # ----- internals -------------------------------------------------------------------

    def _pacer_name(self, campaign: Campaign) -> str:
        name = self.pacers.get(campaign.settings.mode)
        if name is None:
            raise InvalidInput(
                f"campaign mode {campaign.settings.mode!r} is not dialed automatically;"
                f" use one of {', '.join(sorted(self.pacers))}",
                mode=campaign.settings.mode,
            )
        return name

    async def _run(self, name: str) -> CampaignRunner:
        async with self._lock:
            return await self._run_locked(name)

    async def _run_locked(self, name: str) -> CampaignRunner:
        runner = self.runners.get(name)
        if runner is not None:
            runner.resume_dialing()
            return runner
        campaign = await store_campaigns.get_campaign(self._pool(), name)
        queue = self._queue_of(campaign)
        await self._configure_queue(queue)
        runner = CampaignRunner(
            campaign,
            queue,
            ami=self._ami,
            channels=self._channels,
            acd=self._acd,
            pool=self._pool,
            pacer=make_pacer(self._pacer_name(campaign)),
            dialer_id=self.dialer_id,
            settings=self.settings,
            clock=self._clock,
            on_agent_connected=self._connected_hook,
        )
        self.runners[name] = runner
        await runner.start()
        runner.resume_dialing()
        log.info("dialer_campaign_started", campaign=name, queue=queue, pacer=runner.pacer.name)
        return runner

    @staticmethod
    def _queue_of(campaign: Campaign) -> str:
        if campaign.settings.queue is None:
            raise InvalidInput(
                f"campaign {campaign.name!r} has no queue: its agents are that queue's members",
                campaign=campaign.name,
            )
        return check_queue_name(campaign.settings.queue)

    async def _configure_queue(self, queue: str) -> None:
        """The campaign's ACD queue: its max wait is the grace time, and a call that waits
        that long hears the abandon message (the dialer owns these two settings)."""
        spec = self._acd.specs.get(queue) or QueueSpec(QueueConfig(queue))
        config = dataclasses.replace(
            spec.config,
            max_wait_s=self.settings.grace_s,
            overflow=OverflowTarget(OverflowKind.MESSAGE),
            relaxation=(),
        )
        await self._acd.configure_queue(dataclasses.replace(spec, config=config), save=False)

    # ----- event routing (only enqueues) ----------------------------------------------------

    async def _on_connected(self) -> None:
        """Every (re)connect: decide again at once; after an Asterisk restart every
        campaign call is gone, and each runner settles its own at once."""
        restarted = self._ami.restarted
        self._broadcast("asterisk_restarted" if restarted else "wake", None)
        if restarted:
            log.warning(
                "dialer_asterisk_restarted",
                calls_in_flight=sum(len(r.book) for r in self.runners.values()),
            )

    def _broadcast(self, kind: str, data: Any) -> None:
        for runner in self.runners.values():
            runner.feed(kind, data)

    def _on_originate(self, event: AmiMessage) -> None:
        if _UUID_RE.match(event.get("Uniqueid") or ""):
            self._broadcast("originate", event)

    def _on_hangup(self, event: AmiMessage) -> None:
        if _UUID_RE.match(event.get("Uniqueid") or ""):
            self._broadcast("hangup", event)

    def _on_dial_end(self, event: AmiMessage) -> None:
        if _UUID_RE.match(event.get("DestUniqueid") or ""):
            self._broadcast("dial_end", event)

    def _on_user_event(self, event: AmiMessage) -> None:
        if event.get("UserEvent") == "CcpbxAmd":
            self._broadcast("amd", event)

    def _on_acd(self, event: AcdEvent) -> None:
        if event.kind in _AGENT_FREED or _UUID_RE.match(event.call_id or ""):
            self._broadcast("acd", event)
