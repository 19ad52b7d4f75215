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
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import structlog

from ccpbx.acd import AcdEvent, AgentState, EventKind, spare_agents
from ccpbx.ami import AmiClient
from ccpbx.ami.channels import ChannelView
from ccpbx.ami.errors import AmiActionError, AmiNotConnected
from ccpbx.ami.protocol import AmiMessage
from ccpbx.dialer.outcomes import amd_outcome
from ccpbx.dialer.pacing.model import Pacer
from ccpbx.dialer.runtime import records
from ccpbx.dialer.runtime.book import AbandonLedger, CallBook, OutboundCall, Phase
from ccpbx.dialer.runtime.gate import Blocked, dial_blocker
from ccpbx.dialer.runtime.settle import outcome_after_restart, settled_outcome
from ccpbx.dialer.runtime.snapshot import pacing_snapshot, pool_view
from ccpbx.errors import CcpbxError, NotFound
from ccpbx.queues.service import CallAttributes, QueueService
from ccpbx.store import attempts as store_attempts
from ccpbx.store.campaigns import Campaign
from ccpbx.store.db import Executor
from ccpbx.store.leasing import LeasedLead, lease, renew_leases
from ccpbx.store.phones import zone
from ccpbx.tasks import Job, OrderedWriter, TaskSet, next_batch

log = structlog.get_logger(__name__)

OUTBOUND_CONTEXT = "ccpbx-outbound"
SETTLE_AFTER_S = 2.0
"""After a failed OriginateResponse, wait this long for the hangup cause that names
the outcome (busy, congestion ...) before recording "failed"."""
_LIVE = frozenset({EventKind.CALL_ENQUEUED, EventKind.CALL_OFFERED, EventKind.CALL_ANSWERED})
"""ACD events that prove a campaign call was answered (it reached the queue)."""
Pool = Callable[[], Executor]


@dataclass(frozen=True, slots=True)
class RunnerSettings:
    """How the runtime dials (beyond the campaign's own stored settings)."""

    grace_s: float = 1.5
    """Seconds a live answer may wait for an agent before the abandon message (the
    message must start within 2 s of the answer)."""
    abandon_prompt: str = "ccpbx/abandon"
    machine_prompt: str = "ccpbx/machine"
    outbound_priority: int = -1
    """ACD priority of answered outbound calls (inbound callers have 0: served first)."""
    max_batch: int = 20
    """At most this many calls placed per decision."""
    max_lines_per_agent: float = 4.0
    """Calls in flight never exceed this many per logged-in agent."""
    shift_length_s: float = 8 * 3600.0
    stuck_after_s: float = 30.0
    """A call with no news this long after its ring timeout, and no channel, is settled."""
    idle_poll_s: float = 5.0
    """When no lead is callable, look again after this long."""


@dataclass(frozen=True, slots=True)
class CallStats:
    placed: int
    answered: int
    connected: int
    abandoned: int
    unanswered: int
    answer_to_agent_ms: tuple[float, ...]


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
        self._on_agent_connected = on_agent_connected  # (campaign, answer -> agent s)
        self.queue = queue
        self._ami = ami
        self._channels = channels
        self._acd = acd
        self._pool = pool
        self.pacer = pacer
        self.dialer_id = dialer_id
        self.settings = settings or RunnerSettings()
        self._clock = clock
        self.book = CallBook()
        self.ledger = AbandonLedger(zone(campaign.settings.cap_time_zone))
        self.agent_calls: dict[str, str] = {}
        """Agent -> the attempt it is on or last wrapped up (for dispositions)."""
        self._inbox: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self.writer = OrderedWriter(pool, owner=f"dialer-{campaign.name}")
        self.tasks = TaskSet(f"dialer-{campaign.name}")
        self._worker: asyncio.Task[None] | None = None
        self.dialing = False
        self.started_at = clock()
        self._last_decision = 0.0
        self._no_leads_until = 0.0
        self.counts = {"placed": 0, "answered": 0, "connected": 0, "abandoned": 0, "unanswered": 0}
        self.answer_to_agent_s: deque[float] = deque(maxlen=10_000)
        self.preview_mode = campaign.settings.mode == "preview"
        self.previews: dict[str, LeasedLead] = {}
        """Agent -> the lead it is previewing (preview mode), until it dials or skips."""
        self.holds: dict[str, str] = {}
        """Attempt -> the agent reserved for it (previews and callbacks)."""
        self._reserving = False
        self._no_callbacks_until = 0.0
        self.blocked: Blocked | None = None
        """Why the campaign cannot dial now (see :mod:`.gate`), or None."""

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
        return CallStats(
            **self.counts,
            answer_to_agent_ms=tuple(s * 1000 for s in self.answer_to_agent_s),
        )

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
            **self.counts,
            "abandon_rate": {
                "today": today.rate,
                "last_24h": last_24h.rate,
                "last_30d": last_30d.rate,
                "target": float(self.campaign.settings.abandon_target),
            },
        }

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
            changed = self._settle_failed(now) or changed
            if now >= next_renew:
                next_renew = now + renew_every
                self._renew_and_sweep(now)
            due = now - self._last_decision >= self.pacer.tick_s
            eager = (
                changed
                and self.pacer.on_events
                and now - self._last_decision >= self.pacer.event_gap_s
            )
            if due or eager:
                self._decide(now)

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
            self._spawn(self._reserve(free, callbacks_only=not self.preview_mode), "dialer-reserve")
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
        self._spawn(self._place(n), "dialer-place")

    def _set_blocked(self, reason: Blocked | None) -> None:
        if reason is self.blocked:
            return
        if reason is None:
            log.info("dialer_campaign_unblocked", campaign=self.campaign.name, was=self.blocked)
        else:
            log.warning("dialer_campaign_blocked", campaign=self.campaign.name, reason=reason)
        self.blocked = reason

    def _handle(self, kind: str, data: Any) -> bool:
        now = self._clock()
        if kind == "originate":
            return self._originate_response(data, now)
        if kind == "hangup":
            return self._hangup(data, now)
        if kind == "amd":
            return self._amd(data, now)
        if kind == "acd":
            return self._acd_event(data, now)
        if kind == "placed":
            lead, ok, held = data
            if held is None:
                self.book.reserved -= 1
            else:
                self.holds[str(lead.attempt_id)] = held
            if ok is None:
                self.book.placed(
                    OutboundCall(lead.attempt_id, lead.contact_id, lead.e164, placed_at=now)
                )
                self.counts["placed"] += 1
            return True
        if kind == "dial_failed":
            key, outcome = data
            self._finish(key, outcome, now)
            return True
        if kind == "sent":
            call = self.book.get(data)
            if call is not None:
                call.sent = True
            return False
        if kind == "not_sent":
            self._not_dialed(data, now)
            return True
        if kind == "unplaced":
            self.book.reserved -= data
            return True
        if kind == "asterisk_restarted":
            self._asterisk_restarted(now)
            return True
        if kind == "dial_end":
            return self._dial_end(data, now)
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
            missing = data
            self.book.reserved -= missing
            self._no_leads_until = now + self.settings.idle_poll_s
            return True
        if kind == "wake":
            self._last_decision = 0.0
            return True
        return False

    # ----- Asterisk's answers ------------------------------------------------------------

    def _originate_response(self, event: AmiMessage, now: float) -> bool:
        key = event.get("Uniqueid") or ""
        call = self.book.get(key)
        if call is None or call.phase is not Phase.DIALING:
            return False
        call.report.originate_response(event.get("Response") or "", event.get("Reason") or "")
        if call.report.response == "Success":
            self._answered(key, now)
            return True
        if call.report.response == "Failure":
            call.failed_at = now
        return self._dialing_settled(call, now)

    def _dial_end(self, event: AmiMessage, now: float) -> bool:
        key = event.get("DestUniqueid") or ""
        call = self.book.get(key)
        if call is None or call.phase is not Phase.DIALING:
            return False
        status = event.get("DialStatus") or ""
        if status.upper() == "ANSWER":
            self._answered(key, now)
            return True
        call.report.dial_end(status)
        return self._dialing_settled(call, now)

    def _dialing_settled(self, call: OutboundCall, now: float, *, final: bool = False) -> bool:
        """Record the outcome of a call that was not answered, once Asterisk has said
        enough (its events come in any order; see :class:`AttemptReport`)."""
        outcome = call.report.outcome(final=final)
        if outcome is None or outcome == "answered":
            return False
        self.pacer.observe_outcome(now - call.placed_at, False)
        self._finish(call.key, outcome, now)
        return True

    def _answered(self, key: str, now: float) -> None:
        """The customer's line answered (the OriginateResponse, or the call already in
        the dialplan or the queue: Asterisk's events race each other)."""
        call = self.book.get(key)
        ring_s = self.book.answered(key, now)
        if call is None or ring_s is None:
            return
        self.counts["answered"] += 1
        if not self.campaign.settings.amd_enabled:
            self.pacer.observe_outcome(ring_s, True)
        stamp = _utc(now)
        self._write(lambda db: store_attempts.mark_progress(db, call.attempt_id, "answered", stamp))

    def _amd(self, event: AmiMessage, now: float) -> bool:
        key = event.get("Attempt") or ""
        call = self.book.get(key)
        if call is not None and call.phase is Phase.DIALING:
            self._answered(key, now)
        if call is None or call.phase is not Phase.ANSWERED or call.human is not None:
            return False
        assert call.answered_at is not None
        ring_s = call.answered_at - call.placed_at
        if amd_outcome(event.get("Status") or "") == "machine":
            call.human = False
            self.pacer.observe_outcome(ring_s, False)
        else:
            call.human = True
            self.pacer.observe_outcome(ring_s, True)
        return True

    def _hangup(self, event: AmiMessage, now: float) -> bool:
        key = event.get("Uniqueid") or ""
        call = self.book.get(key)
        if call is None:
            return False
        if call.phase is Phase.DIALING:
            call.report.hangup(event.get("Cause") or "")
            return self._dialing_settled(call, now)
        if call.phase is Phase.ANSWERED and (
            key not in self._acd.state.calls or self._acd.state.is_held_outbound(key)
        ):
            # Gone before the ACD had it: a machine (AMD), or a customer who hung up
            # at once (counted as abandoned: a live answer no agent reached).
            if call.human is False:
                self._finish(key, "machine", now)
            else:
                self._abandoned(key, now)
            return True
        return False

    # ----- the ACD's events for campaign calls ----------------------------------------------

    def _acd_event(self, event: AcdEvent, now: float) -> bool:
        kind = event.kind
        if kind is EventKind.WRAPUP_ENDED and event.agent_id is not None:
            if event.agent_id in self.agent_calls and event.duration_s is not None:
                self.pacer.observe_wrap(event.duration_s)
            return True
        key = event.call_id or ""
        call = self.book.get(key)
        if call is not None and call.phase is Phase.DIALING and kind in _LIVE:
            self._answered(key, now)
        if kind is EventKind.CALL_ANSWERED and call is not None and event.agent_id:
            self.holds.pop(key, None)
            took = self.book.connected(key, event.agent_id, now)
            if took is not None:
                self.answer_to_agent_s.append(took)
                if self._on_agent_connected is not None:
                    self._on_agent_connected(self.campaign.name, took)
            self.agent_calls[event.agent_id] = key
            self.counts["connected"] += 1
            assert call.answered_at is not None
            self.ledger.add(call.answered_at, abandoned=False, now=now)
            stamp = _utc(now)
            self._write(
                lambda db: store_attempts.record_outcome(db, call.attempt_id, "answered", stamp)
            )
            log.info(
                "dialer_connected",
                campaign=self.campaign.name,
                attempt_id=key,
                agent=event.agent_id,
                answer_to_agent_ms=None if took is None else round(took * 1000, 1),
            )
            return True
        if kind in (EventKind.CALL_OVERFLOWED, EventKind.CALL_ABANDONED) and call is not None:
            self._abandoned(key, now)
            return True
        if kind is EventKind.CALL_ENDED and event.agent_id in self.agent_calls:
            if self.agent_calls.get(event.agent_id or "") == key:
                self.book.finish(key)
                if event.duration_s is not None:
                    self.pacer.observe_talk(event.duration_s)
            return True
        return kind in (EventKind.AGENT_UNPAUSED, EventKind.AGENT_LOGGED_IN)

    def _release_hold(self, key: str) -> None:
        if self.holds.pop(key, None) is not None:
            self._spawn(self._acd.release_outbound(key), "dialer-release-hold")

    def _abandoned(self, key: str, now: float) -> None:
        call = self.book.finish(key)
        self._release_hold(key)
        if call is None:
            return
        self.counts["abandoned"] += 1
        self.ledger.add(call.answered_at or now, abandoned=True, now=now)
        self.pacer.observe_abandon(now)
        stamp = _utc(now)
        self._write(
            lambda db: store_attempts.record_outcome(db, call.attempt_id, "abandoned", stamp)
        )
        log.info("dialer_abandoned", campaign=self.campaign.name, attempt_id=key)

    def _not_dialed(self, key: str, now: float) -> None:
        """The call's Originate never reached Asterisk: nobody was called, the lead goes
        back at once (see :func:`ccpbx.store.attempts.record_outcome`)."""
        call = self.book.finish(key)
        self._release_hold(key)
        if call is None:
            return
        self.counts["placed"] -= 1
        stamp = _utc(now)
        self._write(
            lambda db: store_attempts.record_outcome(db, call.attempt_id, "not_dialed", stamp)
        )
        log.info("dialer_not_dialed", campaign=self.campaign.name, attempt_id=key)

    def _asterisk_restarted(self, now: float) -> None:
        """Asterisk restarted: every call it had is gone; settle them all now."""
        settled: dict[str, int] = {}
        for call in self.book.calls():
            outcome = outcome_after_restart(phase=call.phase.value, sent=call.sent)
            if outcome is None:
                continue
            if outcome == "abandoned":
                self._abandoned(call.key, now)
            elif outcome == "ended":
                self.book.finish(call.key)
            else:
                self._finish(call.key, outcome, now)
            settled[outcome] = settled.get(outcome, 0) + 1
        log.warning(
            "dialer_calls_lost_with_asterisk",
            campaign=self.campaign.name,
            settled=sum(settled.values()),
            **settled,
        )
        self._last_decision = 0.0

    def _finish(self, key: str, outcome: str, now: float) -> None:
        call = self.book.finish(key)
        self._release_hold(key)
        if call is None:
            return
        self.counts["unanswered"] += 1
        stamp = _utc(now)
        self._write(lambda db: store_attempts.record_outcome(db, call.attempt_id, outcome, stamp))
        log.info("dialer_outcome", campaign=self.campaign.name, attempt_id=key, outcome=outcome)

    # ----- placing calls ---------------------------------------------------------------

    async def _place(self, n: int) -> None:
        leads: list[LeasedLead] = []
        if not self._ami.ready:  # the link went down since the decision: lease nothing
            self.feed("unplaced", n)
            return
        try:
            leads = await lease(
                self._pool(), self.campaign.id, n, _utc(self._clock()), dialer_id=self.dialer_id
            )
        except CcpbxError as exc:
            log.warning("dialer_lease_failed", campaign=self.campaign.name, error=exc.message)
        except Exception as exc:
            log.warning("dialer_lease_failed", campaign=self.campaign.name, error=repr(exc))
        if len(leads) < n:
            self.feed("leased_fewer", n - len(leads))
        for lead in leads:
            await self._dial(lead)

    async def _reserve(self, agents: list[str], *, callbacks_only: bool) -> None:
        """Lease up to one lead per free agent, reserve the agent in the ACD, then dial
        (a callback) or show it to the agent (a preview)."""
        leads: list[LeasedLead] = []
        try:
            leads = await lease(
                self._pool(),
                self.campaign.id,
                len(agents),
                _utc(self._clock()),
                dialer_id=self.dialer_id,
                callbacks_only=callbacks_only,
            )
            pairs = await self._pair(leads, agents)
        except Exception as exc:
            log.warning("dialer_reserve_failed", campaign=self.campaign.name, error=repr(exc))
            pairs = [(lead, None) for lead in leads]
        try:
            for lead, agent in pairs:
                key = str(lead.attempt_id)
                if agent is not None:
                    try:
                        await self._acd.hold_for_outbound(key, self.queue, agent)
                    except CcpbxError as exc:
                        log.info(
                            "dialer_hold_refused", attempt_id=key, agent=agent, error=exc.message
                        )
                        agent = None
                if self.preview_mode and agent is not None:
                    self.feed("preview", (agent, lead))
                    log.info(
                        "dialer_preview", campaign=self.campaign.name, agent=agent, attempt_id=key
                    )
                elif agent is not None:
                    await self._dial(lead, held=agent)
                else:
                    # No agent to reserve any more: dial it like any lead (a callback must
                    # not wait) or, for a preview, give it back untouched.
                    if self.preview_mode:
                        await records.settle(
                            self._pool(), lead.attempt_id, "not_dialed", _utc(self._clock())
                        )
                    else:
                        self.book.reserved += 1
                        await self._dial(lead)
        finally:
            # Always: the runner decides again only once this is known.
            self.feed("reserved", (len(leads) < len(agents), agents))

    async def _pair(
        self, leads: list[LeasedLead], agents: list[str]
    ) -> list[tuple[LeasedLead, str | None]]:
        """Give each lead an agent: a callback promised to an agent goes to that agent if
        it is free, the rest to the free agents longest idle first."""
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

    # ----- previews ------------------------------------------------------------------

    def preview_of(self, agent: str) -> dict[str, Any] | None:
        lead = self.previews.get(agent)
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
        lead = self.previews.pop(agent, None)
        if lead is None:
            raise NotFound(f"agent {agent} has no preview", agent=agent)
        await self._dial(lead, held=agent)
        return {"agent": agent, "attempt_id": str(lead.attempt_id), "dialing": lead.e164}

    async def preview_skip(self, agent: str) -> dict[str, Any]:
        lead = self.previews.pop(agent, None)
        if lead is None:
            raise NotFound(f"agent {agent} has no preview", agent=agent)
        key = str(lead.attempt_id)
        self.holds.pop(key, None)
        await store_attempts.record_outcome(
            self._pool(), lead.attempt_id, "not_dialed", _utc(self._clock())
        )
        await self._acd.release_outbound(key)
        log.info("dialer_preview_skipped", agent=agent, attempt_id=key)
        return {"agent": agent, "attempt_id": key, "skipped": True}

    async def _dial(self, lead: LeasedLead, *, held: str | None = None) -> None:
        key = str(lead.attempt_id)
        settings = self.campaign.settings
        if not self._ami.ready:
            # Asterisk cannot be told: the lead goes back untouched, never marked dialing.
            await self._give_back(lead, held)
            return
        try:
            # Written before Asterisk hears of the call: an attempt never marked dialing
            # was never dialed, and may be given back as not_dialed.
            await store_attempts.mark_progress(
                self._pool(), lead.attempt_id, "dialing", _utc(self._clock()), uniqueid=key
            )
        except Exception as exc:
            log.warning("dialer_mark_dialing_failed", attempt_id=key, error=repr(exc))
            self.feed("placed", (lead, "not marked", held))
            if held is not None:
                await self._acd.release_outbound(key)
            return
        self.feed("placed", (lead, None, held))
        if held is None:
            self._acd.expect_call(key, CallAttributes(priority=self.settings.outbound_priority))
        variables = [
            f"CCPBX_ATTEMPT={key}",
            f"CCPBX_CAMPAIGN={self.campaign.id}",
            f"CCPBX_AMD={1 if settings.amd_enabled else 0}",
            f"CCPBX_MACHINE={settings.machine_action}",
            f"CCPBX_ABANDON_PROMPT={self.settings.abandon_prompt}",
            f"CCPBX_MACHINE_PROMPT={self.settings.machine_prompt}",
        ]
        try:
            await self._ami.action(
                "Originate",
                Channel=settings.dial_string_template.format(
                    number=lead.e164, trunk=settings.trunk
                ),
                Context=OUTBOUND_CONTEXT,
                Exten=self.queue,
                Priority="1",
                ChannelId=key,
                CallerID=settings.caller_id,
                Timeout=str(settings.ring_timeout_s * 1000),
                Variable=variables,
                Async="true",
                timeout=10,
            )
        except AmiNotConnected as exc:
            # Refused before anything was written: nobody was called.
            log.warning("dialer_originate_not_sent", attempt_id=key, error=str(exc))
            self.feed("not_sent", key)
            return
        except AmiActionError as exc:
            # Asterisk refused the Originate: nothing was dialed.
            log.warning("dialer_originate_refused", attempt_id=key, error=exc.message)
            self.feed("dial_failed", (key, "failed"))
        except Exception as exc:
            # Not known whether Asterisk placed it: the OriginateResponse, a restart of
            # Asterisk or, failing both, the sweep (no channel after the ring timeout)
            # settles it.
            log.warning("dialer_originate_unknown", attempt_id=key, error=repr(exc))
        self.feed("sent", key)

    async def _give_back(self, lead: LeasedLead, held: str | None) -> None:
        key = str(lead.attempt_id)
        try:
            await store_attempts.record_outcome(
                self._pool(), lead.attempt_id, "not_dialed", _utc(self._clock())
            )
        except Exception as exc:  # its lease lapses; reconciliation finds it never dialed
            log.warning("dialer_give_back_failed", attempt_id=key, error=repr(exc))
        self.feed("placed", (lead, "not sent", held))
        if held is not None:
            await self._acd.release_outbound(key)

    # ----- recovery and sweeping ---------------------------------------------------------

    async def _recover(self) -> None:
        """Load the abandon history; settle or follow the campaign's open attempts."""
        now = self._clock()
        since = _utc(now - 30 * 86_400)
        history = await records.live_answers(self._pool(), self.campaign.id, since)
        fresh = AbandonLedger(zone(self.campaign.settings.cap_time_zone))
        for at, abandoned in history:
            fresh.add(at.timestamp(), abandoned=abandoned, now=now)
        self.ledger = fresh
        settled = followed = 0
        for attempt in await records.open_attempts(self._pool(), self.campaign.id):
            key = str(attempt.id)
            if key in self.book:
                continue
            channel = self._channels.get(key)
            outcome = settled_outcome(
                dialing=attempt.dialing_at is not None,
                answered=attempt.answered_at is not None,
                channel_up=channel is not None,
            )
            if outcome is None:
                call = OutboundCall(attempt.id, attempt.contact_id, attempt.e164, placed_at=now)
                acd_call = self._acd.state.calls.get(key)
                if attempt.answered_at is not None or (
                    channel is not None and channel.state == "Up"
                ):
                    call.phase = Phase.ANSWERED
                    call.answered_at = (
                        attempt.answered_at.timestamp() if attempt.answered_at else now
                    )
                    if acd_call is not None and acd_call.agent_id is not None:
                        call.phase = Phase.CONNECTED
                        call.agent = acd_call.agent_id
                        self.agent_calls[acd_call.agent_id] = key
                self.book.placed(call)
                followed += 1
                continue
            await records.settle(self._pool(), attempt.id, outcome, _utc(now))
            settled += 1
        if settled or followed:
            log.warning(
                "dialer_recovered", campaign=self.campaign.name, settled=settled, followed=followed
            )

    def _settle_failed(self, now: float) -> bool:
        late = [
            c
            for c in self.book.calls()
            if c.failed_at is not None and now - c.failed_at >= SETTLE_AFTER_S
        ]
        for call in late:
            self._dialing_settled(call, now, final=True)
        return bool(late)

    def _renew_and_sweep(self, now: float) -> None:
        ids = [c.attempt_id for c in self.book.calls() if c.phase is not Phase.CONNECTED]
        ids += [lead.attempt_id for lead in self.previews.values()]
        if ids:
            stamp = _utc(now)
            self._write(lambda db: renew_leases(db, ids, stamp))
        limit = self.campaign.settings.ring_timeout_s + self.settings.stuck_after_s
        for call in self.book.calls():
            if call.phase is Phase.DIALING and now - call.placed_at > limit:
                if call.key not in self._channels:
                    log.warning("dialer_call_lost", attempt_id=call.key)
                    self._finish(call.key, "cancelled", now)
            elif call.phase is not Phase.DIALING and call.key not in self._channels:
                # Its end was missed (events lost across a reconnect).
                if call.phase is Phase.CONNECTED:
                    self.book.finish(call.key)
                elif now - (call.answered_at or now) > self.settings.stuck_after_s:
                    self._abandoned(call.key, now)

    # ----- plumbing ------------------------------------------------------------------------

    def _write(self, job: Job) -> None:
        self.writer.put(job)

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        self.tasks.spawn(coro, name)


def _utc(at: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(at, dt.UTC)


def new_dialer_id() -> str:
    return f"ccpbx-{uuid.uuid4().hex[:8]}"
