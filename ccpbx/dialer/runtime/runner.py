"""One running campaign: pace, lease, dial, follow each call, record its outcome once.

Everything that changes the campaign's calls runs on the runner's worker task, in
order: Asterisk's answers (OriginateResponse, Hangup, the AMD verdict), the ACD's
events for the campaign's calls (put through to an agent, abandoned, talk ended) and
the outcomes of its own placing tasks. The service passes them in with :meth:`feed`.

A call's life: the pacer asks for n calls; the runner leases n leads (each gets its
attempt row), writes ``dialing`` on the attempt (before Asterisk hears of it: an
attempt that was never ``dialing`` was never dialed), tells the ACD what priority the
call will have, and sends ``Originate`` with the attempt id as the channel's uniqueid.
A live answer goes to ``[ccpbx-outbound]``, then waits in the campaign's ACD queue;
the ACD puts it through to an agent's persistent connection, or, after the grace time
(the queue's max wait), redirects it to the campaign's abandon message. Outcomes are
written in order by one writer task; a lost database only delays them (the attempt
stays open and is settled later, never redialed on a guess).

The runner sequences; its parts do the work: :mod:`.placing` (lease and Originate,
on placing tasks), :mod:`.reserving` (callbacks and previews that get their agent
first), :mod:`.follow` (what each input means for the calls, on the worker),
:mod:`.call_records` (the calls' records), :mod:`.recovery` (taking over after a
restart), and the pure rules of :mod:`.gate`, :mod:`.snapshot` and :mod:`.book`.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any

import structlog

from ccpbx.acd import AgentState, spare_agents
from ccpbx.ami import AmiClient
from ccpbx.ami.channels import ChannelView
from ccpbx.dialer.pacing.model import Pacer
from ccpbx.dialer.runtime.book import AbandonLedger, CallBook
from ccpbx.dialer.runtime.call_records import OutboundRecords
from ccpbx.dialer.runtime.follow import CallFollower
from ccpbx.dialer.runtime.gate import Blocked, dial_blocker
from ccpbx.dialer.runtime.placing import Placer
from ccpbx.dialer.runtime.recovery import recover
from ccpbx.dialer.runtime.reserving import Reserver
from ccpbx.dialer.runtime.settings import Pool, RunnerSettings
from ccpbx.dialer.runtime.snapshot import pacing_snapshot, pool_view
from ccpbx.dialer.runtime.state import CallStats, RunnerState
from ccpbx.queues.service import QueueService
from ccpbx.store.campaigns import Campaign
from ccpbx.store.leasing import LeasedLead
from ccpbx.store.phones import zone
from ccpbx.tasks import Job, OrderedWriter, TaskSet, next_batch

__all__ = ["CallStats", "CampaignRunner", "Pool", "RunnerSettings", "new_dialer_id"]

log = structlog.get_logger(__name__)


class CampaignRunner:
    """Dials one campaign (see the module docstring)."""

    def __init__(
        self,
        campaign: Campaign,
        queue: str,
        *,
        ami: AmiClient,
        channels: ChannelView,
        acd: QueueService,
        pool: Pool,
        pacer: Pacer,
        dialer_id: str,
        settings: RunnerSettings | None = None,
        clock: Callable[[], float] = time.time,
        on_agent_connected: Callable[[str, float], None] | None = None,
    ) -> None:
        self.campaign = campaign
        self.queue = queue
        self._ami = ami
        self._channels = channels
        self._acd = acd
        self._pool = pool
        self.pacer = pacer
        self.dialer_id = dialer_id
        self.settings = settings or RunnerSettings()
        self._clock = clock
        self.state = RunnerState.for_zone(zone(campaign.settings.cap_time_zone))
        self._inbox: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self.writer = OrderedWriter(pool, owner=f"dialer-{campaign.name}")
        self.tasks = TaskSet(f"dialer-{campaign.name}")
        self._worker: asyncio.Task[None] | None = None
        self.dialing = False
        self.leads_left: int | None = None
        """Leads not finished with, counted every few seconds (:mod:`.figures`)."""
        self.started_at = clock()
        self._last_decision = 0.0
        self._no_leads_until = 0.0
        self.preview_mode = campaign.settings.mode == "preview"
        self._reserving = False
        self._no_callbacks_until = 0.0
        self.blocked: Blocked | None = None
        """Why the campaign cannot dial now (see :mod:`.gate`), or None."""
        self.call_records = OutboundRecords(
            campaign_id=campaign.id,
            queue=queue,
            caller=campaign.settings.caller_id,
            write=self._write,
        )
        self.follower = CallFollower(
            campaign,
            self.state,
            settings=self.settings,
            pacer=pacer,
            acd=acd,
            channels=channels,
            records=self.call_records,
            write=self._write,
            spawn=self._spawn,
            on_agent_connected=on_agent_connected,
        )
        self.placer = Placer(
            campaign,
            queue,
            ami=ami,
            acd=acd,
            pool=pool,
            dialer_id=dialer_id,
            settings=self.settings,
            clock=clock,
            feed=self.feed,
        )
        self.reserver = Reserver(
            campaign,
            queue,
            self.state,
            placer=self.placer,
            acd=acd,
            pool=pool,
            clock=clock,
            feed=self.feed,
        )

    # ----- the state, as the service and the tests read it ----------------------------

    @property
    def book(self) -> CallBook:
        return self.state.book

    @property
    def ledger(self) -> AbandonLedger:
        return self.state.ledger

    @property
    def counts(self) -> dict[str, int]:
        return self.state.counts

    @property
    def answer_to_agent_s(self) -> deque[float]:
        return self.state.answer_to_agent_s

    @property
    def agent_calls(self) -> dict[str, str]:
        """Agent -> the attempt it is on or last wrapped up (for dispositions)."""
        return self.state.agent_calls

    @property
    def previews(self) -> dict[str, LeasedLead]:
        """Agent -> the lead it is previewing (preview mode), until it dials or skips."""
        return self.state.previews

    @property
    def holds(self) -> dict[str, str]:
        """Attempt -> the agent reserved for it (previews and callbacks)."""
        return self.state.holds

    # ----- lifecycle -----------------------------------------------------------------

    async def start(self) -> None:
        if self._worker is not None:
            raise RuntimeError("campaign runner already started")
        self.writer.start()
        self._worker = asyncio.create_task(self._run(), name=f"dialer-{self.campaign.name}")

    def resume_dialing(self) -> None:
        self.dialing = True
        self._inbox.put_nowait(("wake", None))

    def stop_dialing(self) -> None:
        """Place no new call; calls in flight are followed to their end."""
        self.dialing = False

    async def stop(self) -> None:
        """Stop the worker; calls stay up in Asterisk (a restart settles or follows them)."""
        if self._worker is None:
            return
        self._worker.cancel()
        await asyncio.gather(self._worker, return_exceptions=True)
        await self.tasks.cancel_all()
        await self.writer.stop(timeout=5.0)
        self._worker = None

    def feed(self, kind: str, data: Any) -> None:
        """An input from the service's dispatch (any task; only enqueues)."""
        self._inbox.put_nowait((kind, data))

    # ----- read side -----------------------------------------------------------------

    def stats(self) -> CallStats:
        return self.state.stats()

    def view(self) -> dict[str, Any]:
        now = self._clock()
        today, last_24h, last_30d = self.ledger.windows(now)
        return {
            "name": self.campaign.name,
            "id": self.campaign.id,
            "mode": self.campaign.settings.mode,
            "queue": self.queue,
            "dialing": self.dialing,
            "blocked": self.blocked.value if self.blocked is not None else None,
            "pacer": self.pacer.name,
            "in_flight": len(self.book),
            "ringing": len(self.book.ringing_since()),
            "waiting_for_agent": len(self.book.waiting_since()),
            "leads_left": self.leads_left,
            **self.counts,
            "abandon_rate": {
                "today": today.rate,
                "last_24h": last_24h.rate,
                "last_30d": last_30d.rate,
                "target": float(self.campaign.settings.abandon_target),
            },
        }

    # ----- previews (the agent's requests) -----------------------------------------------

    def preview_of(self, agent: str) -> dict[str, Any] | None:
        return self.reserver.preview_of(agent)

    async def preview_dial(self, agent: str) -> dict[str, Any]:
        return await self.reserver.preview_dial(agent)

    async def preview_skip(self, agent: str) -> dict[str, Any]:
        return await self.reserver.preview_skip(agent)

    # ----- worker --------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            try:
                await self._recover()
                break
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("dialer_recovery_failed", campaign=self.campaign.name, error=repr(exc))
                await asyncio.sleep(1.0)
        renew_every = max(5.0, self.campaign.settings.lease_ttl_s / 3)
        next_renew = self._clock() + renew_every
        while True:
            timeout = max(0.0, self._last_decision + self.pacer.tick_s - self._clock())
            batch = await next_batch(self._inbox, timeout)
            changed = False
            for kind, data in batch:
                try:
                    changed = self._handle(kind, data) or changed
                except Exception:
                    log.exception("dialer_input_failed", kind=kind, campaign=self.campaign.name)
            now = self._clock()
            changed = self.follower.settle_failed(now) or changed
            if now >= next_renew:
                next_renew = now + renew_every
                self.follower.renew_and_sweep(now)
            due = now - self._last_decision >= self.pacer.tick_s
            eager = (
                changed
                and self.pacer.on_events
                and now - self._last_decision >= self.pacer.event_gap_s
            )
            if due or eager:
                self._decide(now)

    async def _recover(self) -> None:
        await recover(
            self._pool(),
            self.campaign,
            self.state,
            channels=self._channels,
            acd=self._acd.state,
            call_records=self.call_records,
            node=str(self._ami.instance),
            now=self._clock(),
        )

    def _decide(self, now: float) -> None:
        self._last_decision = now
        if not self.dialing:
            self._set_blocked(None)
            return
        state = self._acd.state
        if self.queue not in state.queues:
            return
        outbound = {c.key for c in self.book.calls()}
        pool = pool_view(state, self.queue, set(spare_agents(state, now)), outbound_calls=outbound)
        working = sum(
            1
            for a in state.agents.values()
            if self.queue in a.queues and a.state not in (AgentState.LOGGED_OUT, AgentState.PAUSED)
        )
        self._set_blocked(
            dial_blocker(
                asterisk_ready=self._ami.ready,
                agents_logged_in=pool.logged_in,
                agents_working=working,
            )
        )
        if self.blocked is not None or self._reserving or now < self._no_leads_until:
            return
        free = [a for a in pool.ready_agents if a not in self.previews]
        if free and (self.preview_mode or now >= self._no_callbacks_until):
            # Due callbacks (and, in preview mode, every lead) get an agent reserved
            # before they are dialed; pacing decides after, on what is left.
            self._reserving = True
            self._spawn(
                self.reserver.reserve(free, callbacks_only=not self.preview_mode),
                "dialer-reserve",
            )
            return
        if self.preview_mode:
            return
        ringing = self.book.ringing_since() + (now,) * self.book.reserved
        snapshot = pacing_snapshot(
            pool,
            now=now,
            ringing_since=ringing,
            waiting_since=self.book.waiting_since(),
            windows=self.ledger.windows(now),
            abandon_target=float(self.campaign.settings.abandon_target),
            grace_s=self.settings.grace_s,
            shift_elapsed_s=now - self.started_at,
            shift_length_s=self.settings.shift_length_s,
        )
        wanted = self.pacer.decide(snapshot)
        cap = int(pool.logged_in * self.settings.max_lines_per_agent) - len(ringing)
        n = min(wanted, self.settings.max_batch, cap)
        if n <= 0:
            return
        self.book.reserved += n
        self._spawn(self.placer.place(n), "dialer-place")

    def _set_blocked(self, reason: Blocked | None) -> None:
        if reason is self.blocked:
            return
        if reason is None:
            log.info("dialer_campaign_unblocked", campaign=self.campaign.name, was=self.blocked)
        else:
            log.warning("dialer_campaign_blocked", campaign=self.campaign.name, reason=reason)
        self.blocked = reason

    def _handle(self, kind: str, data: Any) -> bool:
        """Apply one input; True if it may change the pacing decision."""
        now = self._clock()
        follow = self.follower
        if kind == "originate":
            return follow.originate_response(data, now)
        if kind == "hangup":
            return follow.hangup(data, now)
        if kind == "amd":
            return follow.amd(data, now)
        if kind == "acd":
            return follow.acd_event(data, now)
        if kind == "dial_end":
            return follow.dial_end(data, now)
        if kind == "placed":
            lead, given_back, held = data  # given_back: why the lead was not dialed, or None
            if held is None:
                self.book.reserved -= 1
            elif given_back is None:  # a lead given back has had its agent released already
                self.holds[str(lead.attempt_id)] = held
            if given_back is None:
                follow.placed(lead, now)
            return True
        if kind == "dial_failed":
            key, outcome = data
            follow.finish(key, outcome, now)
            return True
        if kind == "sent":
            key, at, node = data
            follow.sent(key, at, node)
            return False
        if kind == "not_sent":
            follow.not_dialed(data, now)
            return True
        if kind == "unplaced":
            self.book.reserved -= data
            return True
        if kind == "asterisk_restarted":
            follow.asterisk_restarted(now)
            self._last_decision = 0.0
            return True
        if kind == "reserved":
            fewer, _agents = data
            self._reserving = False
            if fewer:
                if self.preview_mode:
                    self._no_leads_until = now + self.settings.idle_poll_s
                else:
                    self._no_callbacks_until = now + self.settings.idle_poll_s
            self._last_decision = 0.0
            return True
        if kind == "preview":
            agent, lead = data
            self.previews[agent] = lead
            self.holds[str(lead.attempt_id)] = agent
            return True
        if kind == "leased_fewer":
            self.book.reserved -= data
            self._no_leads_until = now + self.settings.idle_poll_s
            return True
        if kind == "wake":
            self._last_decision = 0.0
            return True
        return False

    # ----- plumbing ------------------------------------------------------------------------

    def _write(self, job: Job) -> None:
        self.writer.put(job)

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        self.tasks.spawn(coro, name)


def new_dialer_id() -> str:
    return f"ccpbx-{uuid.uuid4().hex[:8]}"
