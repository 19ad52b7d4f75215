"""The queue service: the pure ACD engine driven by Asterisk events, on one task.

Everything that changes ACD state runs on the service's worker task, in order:
AMI events (a caller reaches music on hold, a channel hangs up), API and phone
commands (login, pause, ...), the outcomes of connect attempts, and timers (ring
timeout, wrap-up end, max wait, skill relaxation, statistics intervals). Each is
translated into an :class:`~ccpbx.acd.AcdState` transition; after each batch the
service asks :func:`~ccpbx.acd.next_assignments` who takes which call and starts
one connect task per offer: ``put_through`` for persistent agents, a ring for
ring-mode agents. Their outcome comes back to the worker as one more input.

When Asterisk restarts, the persistent agents' phone legs die with it: each such agent
stays logged in, paused for ``reconnecting``, while ccpbx calls the phone back
(:meth:`~ccpbx.callcontrol.persistent.PersistentAgentConnections.reconnect`); a phone
that does not come back logs its agent out, with the reason. Ring-mode agents have no
leg to lose and stay as they were.

Callbacks only enqueue. Every event the engine returns is counted
(:class:`~ccpbx.acd.AcdStats`), written to PostgreSQL by one writer task (in order)
and published to live subscribers. Every task is owned and awaited on ``stop``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import structlog

from ccpbx.acd import (
    AcdEvent,
    AcdState,
    AcdStats,
    AgentMode,
    AgentState,
    CallStatus,
    OverflowKind,
    Say,
    announcement,
    estimated_wait,
    next_assignments,
    position,
    working_agents,
)
from ccpbx.ami import AmiClient
from ccpbx.ami.channels import ChannelView
from ccpbx.ami.protocol import AmiMessage
from ccpbx.callcontrol.persistent import PersistentAgentConnections
from ccpbx.callcontrol.reconnect import ASTERISK_SHUTDOWN, ReconnectPolicy
from ccpbx.callcontrol.ring import RingConnections, RingResult
from ccpbx.errors import Conflict, InvalidInput, Unavailable
from ccpbx.health import ComponentStatus
from ccpbx.queues import store, supervision, views
from ccpbx.queues.feed import Broadcaster, EventFeed
from ccpbx.queues.model import AgentRecord, QueueSpec, check_agent_id, check_reason
from ccpbx.queues.reconnects import AgentReconnects, agent_leg_gone
from ccpbx.store.db import Executor
from ccpbx.tasks import OrderedWriter, TaskSet, next_batch

log = structlog.get_logger(__name__)

WAIT_CONTEXT = "ccpbx-queue-wait"
HOLD_CONTEXTS = frozenset({WAIT_CONTEXT, "ccpbx-queue-hold"})
FALLBACK = ("ccpbx-fallback", "s", "1")
VOICEMAIL = (WAIT_CONTEXT, "s", "1")
"""Where a call overflowing to voicemail goes (mailbox in CCPBX_VOICEMAIL)."""
VOICEMAIL_VAR = "CCPBX_VOICEMAIL"
CALLBACK = (WAIT_CONTEXT, "c", "1")
"""Where a call overflowing to a callback goes (the queue-callback script)."""
MESSAGE_CONTEXT = "ccpbx-outbound-abandon"
"""Where a call overflowing to a message goes (extension: the queue it waited in)."""
RING_EARLY_S = 0.5
"""Asterisk gives up ringing this much before the engine's ring timeout, so the
phone's own no-answer normally arrives first and the engine's timer is a backstop."""

PHONE_LOST = "phone_lost"
"""Logout reason of an agent whose persistent phone leg ended."""

Pool = Callable[[], Executor]
DatabaseReady = Callable[[float], Awaitable[bool]]
Command = Callable[[float], list[AcdEvent]]


@dataclass(slots=True)
class CallLeg:
    """A caller's channel as the service tracks it."""

    call_id: str
    channel: str
    queue: str
    agent: str | None = None
    agent_channel: str = ""
    ring_legs: dict[str, str] = field(default_factory=dict)  # agent -> ring leg uniqueid
    recording: str | None = None


@dataclass(slots=True)
class Session:
    """A logged-in agent's phone."""

    agent: str
    endpoint: str
    mode: AgentMode


@dataclass(frozen=True, slots=True)
class CallAttributes:
    """What the queue script learned about a caller before music on hold."""

    priority: int = 0
    required: Mapping[str, int] = field(default_factory=dict)


class QueueService:
    """Runs the ACD for one Asterisk node (see the module docstring)."""

    def __init__(
        self,
        ami: AmiClient,
        channels: ChannelView,
        *,
        pool: Pool | None = None,
        queues: Iterable[QueueSpec] = (),
        clock: Callable[[], float] = time.time,
        interval_s: float = 900.0,
        persistent: PersistentAgentConnections | None = None,
        ring: RingConnections | None = None,
        database_ready: DatabaseReady | None = None,
        reconnect: ReconnectPolicy | None = None,
    ) -> None:
        self._ami = ami
        self._channels = channels
        self._pool = pool
        self._database_ready = database_ready
        self._clock = clock
        self.reconnect_policy = reconnect or ReconnectPolicy()
        self.reconnecting = AgentReconnects(self)
        """Persistent agents whose phone is being called back after an Asterisk restart."""
        self.logout_reasons: dict[str, str] = {}
        """Why an agent was logged out by ccpbx (not by a request), until it logs in."""
        self.specs: dict[str, QueueSpec] = {}
        self.state = AcdState()
        self.stats = AcdStats(self.state.queue, interval_s=interval_s)
        for spec in queues:
            self._set_spec(spec)
        self.persistent = persistent or PersistentAgentConnections(ami)
        self.ring = ring or RingConnections(ami)
        self.feed = Broadcaster()
        self.sessions: dict[str, Session] = {}
        self.legs: dict[str, CallLeg] = {}
        self._attrs: dict[str, CallAttributes] = {}
        self._inbox: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self.tasks = TaskSet("acd")
        self.writer: OrderedWriter | None = None
        self._listeners: list[Callable[[AcdEvent], None]] = []
        self._worker: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()
        self._next_flush = 0.0
        self.recovered: dict[str, list[str]] = {}
        self._recovery_error: str | None = None
        self.callback_offers: dict[str, tuple[str, str]] = {}
        """Callers sent to the callback script: uniqueid -> (queue, campaign or "")."""
        ami.on_event("Newexten", self._on_newexten)
        ami.on_event("Hangup", self._on_hangup)
        self.persistent.on_leg_lost(self._on_leg_lost)

    # ----- lifecycle -----------------------------------------------------------------

    async def start(self) -> None:
        """Start the worker (it recovers state from Asterisk first) and the DB writer."""
        if self._worker is not None:
            raise RuntimeError("queue service already started")
        # Registered here, after the channel view's own resync hooks (the daemon attaches
        # the view first): a reconcile then reads a fresh view.
        self._ami.on_connected(self._on_reconnected)
        self._ami.on_resync(self._on_resynced)
        if self._pool is not None:
            self.writer = OrderedWriter(self._pool, owner="acd", attempts=3)
            self.writer.start()
        self._worker = asyncio.create_task(self._run(), name="acd-worker")

    async def stop(self) -> None:
        """Stop deciding, cancel connect tasks, store what is pending; calls stay up in
        Asterisk (the next start finds them again)."""
        if self._worker is None:
            return
        self._worker.cancel()
        await asyncio.gather(self._worker, return_exceptions=True)
        await self.tasks.cancel_all()
        self._flush_intervals()
        if self.writer is not None:
            await self.writer.stop(timeout=5.0)
        self.feed.close()
        self._worker = None

    def status(self) -> ComponentStatus:
        """The ``acd`` entry of ``/status``: up once the worker runs and has recovered.

        States: ``stopped`` (not started, stopped, or its worker ended), ``recovering``
        (finding calls and agents again; ``last_error`` says why a try failed),
        ``degraded`` (Asterisk unreachable or not booted, or agents' phones being called
        back: ``reasons``, ``agents_reconnecting``), ``ready``."""
        worker = self._worker
        detail: dict[str, Any] = {
            "queues": len(self.specs),
            "agents_logged_in": sum(
                1 for a in self.state.agents.values() if a.state is not AgentState.LOGGED_OUT
            ),
            "calls": len(self.state.calls),
            "recovered": {k: len(v) for k, v in self.recovered.items()},
        }
        if self._recovery_error is not None:
            detail["last_error"] = self._recovery_error
        if self.reconnecting:
            detail["agents_reconnecting"] = sorted(self.reconnecting)
        if worker is None or worker.done():
            return ComponentStatus("acd", False, "stopped", detail)
        if not self.ready.is_set():
            return ComponentStatus("acd", False, "recovering", detail)
        reasons = [
            reason
            for reason, applies in (
                ("asterisk_unavailable", not self._ami.ready),
                ("agents_reconnecting", bool(self.reconnecting)),
            )
            if applies
        ]
        if reasons:
            return ComponentStatus("acd", False, "degraded", {**detail, "reasons": reasons})
        return ComponentStatus("acd", True, "ready", detail)

    async def wait_ready(self, timeout: float) -> None:
        async with asyncio.timeout(timeout):
            await self.ready.wait()

    # ----- commands (any task) ---------------------------------------------------------

    async def configure_queue(self, spec: QueueSpec, *, save: bool = True) -> None:
        target = spec.config.overflow
        to_queue = target is not None and target.kind is OverflowKind.QUEUE
        if to_queue and target is not None and target.target not in self.specs:
            raise InvalidInput(
                f"overflow target {target.target!r} is not a queue", field="overflow"
            )
        if save and self._pool is not None:
            await store.save_queue(self._pool(), spec)

        def apply(now: float) -> list[AcdEvent]:
            self._set_spec(spec)
            return []

        await self._call(apply)

    async def profile(self, agent: str) -> AgentRecord:
        if self._pool is None:
            raise Unavailable("no database for agent profiles")
        return await store.load_agent(self._pool(), check_agent_id(agent))

    async def save_pin_hash(self, agent: str, pin: str) -> None:
        """Rehash an agent's PIN with today's Argon2 parameters (after a good login)."""
        if self._pool is None:
            raise Unavailable("no database for agent profiles")
        await store.save_pin_hash(self._pool(), check_agent_id(agent), pin)

    async def login(
        self,
        agent: str,
        endpoint: str,
        *,
        mode: AgentMode | None = None,
        paused: str | None = None,
        connect_timeout: float = 30.0,
    ) -> dict[str, Any]:
        """Log an agent in at a phone; a persistent agent's phone is called first."""
        record = await self.profile(agent)
        mode = mode or record.mode
        if paused is not None:
            check_reason(paused)
        known = self.state.agents.get(agent)
        if known is not None and known.state is not AgentState.LOGGED_OUT:
            raise Conflict(f"agent {agent} is already logged in", agent=agent)
        if mode is AgentMode.PERSISTENT and not self.persistent.connected(agent):
            await self.persistent.open(agent, endpoint, ring_timeout=connect_timeout)
        profile = record.profile(mode)

        def apply(now: float) -> list[AcdEvent]:
            events = self.state.login(profile, now, paused=paused)
            self.sessions[agent] = Session(agent, endpoint, mode)
            self.logout_reasons.pop(agent, None)
            self._write(lambda db: store.save_session(db, agent, endpoint, mode, now, paused))
            return events

        try:
            await self._call(apply)
        except BaseException:
            if mode is AgentMode.PERSISTENT and self.persistent.connected(agent):
                await self.persistent.close(agent)
            raise
        return self.agent_view(agent)

    async def logout(self, agent: str) -> dict[str, Any]:
        def apply(now: float) -> list[AcdEvent]:
            events = self.state.logout(agent, now)
            self.reconnecting.stop(agent)
            self.sessions.pop(agent, None)
            self._write(lambda db: store.delete_session(db, agent))
            return events

        await self._call(apply)
        if self.persistent.leg(agent) is not None:
            await self.persistent.close(agent)
        return self.agent_view(agent)

    async def pause(self, agent: str, reason: str) -> dict[str, Any]:
        check_reason(reason)

        def apply(now: float) -> list[AcdEvent]:
            events = self.state.pause(agent, reason, now)
            self._write(lambda db: store.set_session_pause(db, agent, reason))
            return events

        await self._call(apply)
        return self.agent_view(agent)

    async def unpause(self, agent: str) -> dict[str, Any]:
        def apply(now: float) -> list[AcdEvent]:
            events = self.state.unpause(agent, now)
            self._write(lambda db: store.set_session_pause(db, agent, None))
            return events

        await self._call(apply)
        return self.agent_view(agent)

    async def end_wrapup(self, agent: str) -> dict[str, Any]:
        await self._call(lambda now: self.state.wrapup_done(agent, now))
        return self.agent_view(agent)

    async def hold_for_outbound(self, call_id: str, queue: str, agent: str) -> None:
        """Reserve an available agent for an outbound call about to be placed (preview,
        callback); when the call is answered it goes to that agent without routing."""
        await self._call(lambda now: self.state.hold_for_outbound(call_id, queue, agent, now))

    async def release_outbound(self, call_id: str) -> None:
        """The held outbound call will not be answered: its agent is free again."""

        def apply(now: float) -> list[AcdEvent]:
            if not self.state.is_held_outbound(call_id):
                return []
            return self.state.release_outbound(call_id, now)

        await self._call(apply)

    def expect_call(self, uniqueid: str, attributes: CallAttributes) -> None:
        """Remember a caller's priority and skills until it reaches music on hold."""
        self._attrs[uniqueid] = attributes

    def agent_at(self, endpoint: str) -> str | None:
        """The agent logged in at a phone endpoint, if any."""
        for session in self.sessions.values():
            if session.endpoint == endpoint:
                return session.agent
        return None

    def announcement(self, call_id: str) -> tuple[int, list[Say]] | None:
        """What a waiting caller hears now, from its queue's settings: (seconds of music
        until the next announcement, 0 for none; the prompts to play, maybe none), or
        None for a caller the service does not hold as waiting (yet: it may still be
        recovering). Read-only: the AGI script's task may call it."""
        call = self.state.calls.get(call_id) if self.ready.is_set() else None
        if call is None or call.status is not CallStatus.WAITING:
            return None
        spec = self.specs[call.queue]
        every = int(spec.announce_every_s)
        if not every:
            return 0, []
        place = position(self.state, call_id)
        aht = self.stats.queue_counts(call.queue).aht_s
        agents = working_agents(self.state.agents_by_state(call.queue))
        wait = estimated_wait(place or 0, aht, agents)
        steps = announcement(
            place, wait, say_position=spec.announce_position, say_wait=spec.announce_wait
        )
        log.info(
            "acd_announcement",
            call_id=call_id,
            queue=call.queue,
            position=place,
            estimated_wait_s=round(wait, 1) if wait is not None else None,
        )
        return every, steps

    def subscribe(self) -> EventFeed:
        return self.feed.subscribe()

    def add_listener(self, listener: Callable[[AcdEvent], None]) -> None:
        """``listener(event)`` runs on the worker for every ACD event, in order; it must
        not block (enqueue and return). The dialer follows its calls this way."""
        self._listeners.append(listener)

    # ----- supervisor, recording, read side (see supervision.py and views.py) ---------

    async def spy(self, supervisor_endpoint: str, agent: str, how: str) -> dict[str, Any]:
        return await supervision.spy(self, supervisor_endpoint, agent, how)

    def agent_channel(self, agent: str) -> str:
        return supervision.agent_channel(self, agent)

    async def set_recording(self, call_id: str, paused: bool) -> dict[str, Any]:
        return await supervision.set_recording(self, call_id, paused)

    def agent_view(self, agent: str) -> dict[str, Any]:
        return views.agent_view(self, agent)

    def agents_view(self) -> list[dict[str, Any]]:
        return [views.agent_view(self, a) for a in sorted(self.state.agents)]

    def queue_view(self, name: str, *, waiting: bool = False) -> dict[str, Any]:
        return views.queue_view(self, name, waiting=waiting)

    def queues_view(self) -> list[dict[str, Any]]:
        return [views.queue_view(self, name) for name in sorted(self.specs)]

    # ----- AMI callbacks (enqueue only) ------------------------------------------------

    def _on_newexten(self, event: AmiMessage) -> None:
        if event.get("Context") in HOLD_CONTEXTS and event.get("Application") == "MusicOnHold":
            self._inbox.put_nowait(("held", event))

    def _on_hangup(self, event: AmiMessage) -> None:
        # Every hang-up is passed on: one that arrives while the worker recovers must
        # still find the caller it is about once recovery has registered it.
        self._inbox.put_nowait(("hangup", event))

    async def _on_resynced(self) -> None:
        self._inbox.put_nowait(("reconcile", False))

    async def _on_reconnected(self) -> None:
        self._inbox.put_nowait(("reconcile", self._ami.restarted))

    def _on_leg_lost(self, agent: str, reason: str) -> None:
        self._inbox.put_nowait(("leg_lost", (agent, reason)))

    # ----- worker ---------------------------------------------------------------------

    async def _call(self, command: Command) -> None:
        if self._worker is None or self._worker.done():
            raise Unavailable("the queue service is not running")
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._inbox.put_nowait(("command", (command, future)))
        await future

    async def _run(self) -> None:
        from ccpbx.queues.recovery import recover

        backoff = 0.1  # the database may still be starting: try again soon, then less often
        while True:
            if self._database_ready is not None and not await self._database_ready(5.0):
                # Not a failure: the pool is still being created (or the database is down,
                # which its own component reports); recovery needs it.
                self._recovery_error = "waiting for the database"
                log.info("acd_recovery_waiting", reason="database")
                continue
            try:
                await recover(self)
                break
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("acd_recovery_failed", error=repr(exc), retry_in_s=backoff)
                self._recovery_error = repr(exc)
                await asyncio.sleep(backoff)
                backoff = min(2.0, backoff * 2)
        self._recovery_error = None
        self.ready.set()
        self._tick()
        wake: float | None = None
        while True:
            timeout = None if wake is None else max(0.0, wake - self._clock())
            batch = await next_batch(self._inbox, timeout)
            for kind, data in batch:
                try:
                    self._handle(kind, data)
                except Exception:
                    log.exception("acd_input_failed", kind=kind)
            wake = self._tick()

    def _handle(self, kind: str, data: Any) -> None:
        now = self._clock()
        if kind == "command":
            command, future = data
            try:
                self._publish(command(now))
            except BaseException as exc:
                if not future.done():
                    future.set_exception(exc)
            else:
                if not future.done():
                    future.set_result(None)
        elif kind == "held":
            self._held(data, now)
        elif kind == "hangup":
            self._hung_up(data.get("Uniqueid") or "", now)
        elif kind == "connected":
            self._connected(*data, now=now)
        elif kind == "rang":
            self._rang(*data, now=now)
        elif kind == "leg_lost":
            agent, reason = data
            if reason == ASTERISK_SHUTDOWN:  # Asterisk is going away (restart, stop)
                self.reconnecting.start(agent, now, not_on=self._ami.instance)
            else:
                self.leg_lost(agent, now, reason=f"{PHONE_LOST}: {reason}")
        elif kind == "reconcile":
            self._reconcile(now, restarted=bool(data))
        elif kind == "reconnected":
            self.reconnecting.finished(*data, now=now)

    def _tick(self) -> float | None:
        """Apply due timers, route, start connects; return when to wake up next."""
        now = self._clock()
        due = self.state.timers(now)
        events: list[AcdEvent] = []
        for call_id, agent in due.ring_timeouts:
            leg = self.legs.get(call_id)
            ring_leg = leg.ring_legs.pop(agent, None) if leg else None
            if ring_leg is not None:
                self._spawn(self.ring.cancel(ring_leg), "acd-ring-cancel")
            events += self.state.ring_no_answer(agent, now)
        for agent in due.wrapups_done:
            events += self.state.wrapup_done(agent, now)
        for call_id in due.overflows:
            events += self._overflow(call_id, now)
        self._publish(events)
        for assignment in next_assignments(self.state, now):
            self._publish(self.state.reserve(assignment.call_id, assignment.agent_ids, now))
            for agent in assignment.agent_ids:
                self._start_connect(assignment.call_id, agent)
        next_interval = self.stats.interval_of(now) + self.stats.interval_s
        if now >= self._next_flush:
            self._flush_intervals()
            self._next_flush = next_interval
        after = self.state.timers(now).next_at
        return next_interval if after is None else min(after, next_interval)

    # ----- inputs -----------------------------------------------------------------------

    def _held(self, event: AmiMessage, now: float) -> None:
        uniqueid = event.get("Uniqueid") or ""
        queue = event.get("Exten") or ""
        if not uniqueid or uniqueid in self.legs:
            return
        if self.state.is_held_outbound(uniqueid):
            # An outbound call answered with its agent reserved: straight to that agent.
            call = self.state.calls[uniqueid]
            self.legs[uniqueid] = CallLeg(uniqueid, event.get("Channel") or "", call.queue)
            self._publish(self.state.outbound_answered(uniqueid, now))
            for agent in sorted(call.ringing):
                self._start_connect(uniqueid, agent)
            return
        if queue not in self.specs:
            log.warning("acd_unknown_queue", queue=queue, uniqueid=uniqueid)
            self._spawn(self._redirect(event.get("Channel") or "", FALLBACK), "acd-fallback")
            return
        self._enqueue(uniqueid, event.get("Channel") or "", queue, now)

    def _enqueue(self, uniqueid: str, channel: str, queue: str, at: float) -> list[AcdEvent]:
        spec = self.specs[queue]
        attrs = self._attrs.pop(uniqueid, CallAttributes())
        required = {**spec.required, **attrs.required}
        events = self.state.enqueue(uniqueid, queue, at, priority=attrs.priority, required=required)
        self.legs[uniqueid] = CallLeg(uniqueid, channel, queue)
        self._publish(events)
        return events

    def _hung_up(self, uniqueid: str, now: float) -> None:
        self.callback_offers.pop(uniqueid, None)
        leg = self.legs.pop(uniqueid, None)
        call = self.state.calls.get(uniqueid)
        if leg is None or call is None:
            return
        if call.status is CallStatus.CONNECTED:
            self._publish(self.state.hangup(uniqueid, now))
            return
        for ring_leg in leg.ring_legs.values():
            self._spawn(self.ring.cancel(ring_leg), "acd-ring-cancel")
        self._publish(self.state.abandon(uniqueid, now))

    def _connected(self, call_id: str, agent: str, ok: bool, detail: str, *, now: float) -> None:
        call = self.state.calls.get(call_id)
        if call is None or call.status is not CallStatus.OFFERED or agent not in call.ringing:
            log.info("acd_connect_outcome_stale", call_id=call_id, agent=agent, ok=ok)
            return
        if ok:
            self._answered(call_id, agent, detail, now)
        elif call_id in self._channels:
            # The caller is still there: the agent could not take it; the engine pauses
            # the agent and gives the call to the next one. (A caller who left is
            # abandoned by its Hangup; the engine's ring timeout is the backstop.)
            log.warning("acd_connect_failed", call_id=call_id, agent=agent, error=detail)
            self._publish(self.state.ring_no_answer(agent, now))

    def _rang(self, call_id: str, agent: str, result: RingResult | None, *, now: float) -> None:
        call = self.state.calls.get(call_id)
        leg = self.legs.get(call_id)
        current = (
            call is not None
            and leg is not None
            and call.status is CallStatus.OFFERED
            and agent in call.ringing
        )
        if leg is not None:
            leg.ring_legs.pop(agent, None)
        if not current:
            if result is not None and result.answered:
                self._spawn(self.ring.cancel(result.leg), "acd-ring-cancel")
            return
        if result is not None and result.answered:
            self._answered(call_id, agent, result.channel, now)
            assert leg is not None
            for other in list(leg.ring_legs):
                self._spawn(self.ring.cancel(leg.ring_legs.pop(other)), "acd-ring-cancel")
        else:
            self._publish(self.state.ring_no_answer(agent, now))

    def _answered(self, call_id: str, agent: str, agent_channel: str, now: float) -> None:
        self._publish(self.state.answered(call_id, agent, now))
        leg = self.legs[call_id]
        leg.agent = agent
        leg.agent_channel = agent_channel
        if self.specs[leg.queue].record:
            leg.recording = f"ccpbx-{call_id}.wav"
            self._spawn(self._record(leg), "acd-record")

    def leg_lost(self, agent: str, now: float, *, reason: str) -> None:
        """The agent's phone leg ended: its call ends, the agent is logged out."""
        a = self.state.agents.get(agent)
        if a is None or a.state is AgentState.LOGGED_OUT:
            return
        events = self.drop_call(agent, now)
        events += self.state.logout(agent, now)
        events = [dataclasses.replace(e, reason=e.reason or reason) for e in events]
        self.reconnecting.stop(agent)
        self.sessions.pop(agent, None)
        self.logout_reasons[agent] = reason
        self._write(lambda db: store.delete_session(db, agent))
        self._publish(events)
        log.warning("acd_agent_logged_out", agent=agent, reason=reason)

    def drop_call(self, agent: str, now: float) -> list[AcdEvent]:
        """End what the agent was doing when its phone leg went (the leg is gone)."""
        a = self.state.agent(agent)
        if a.state is AgentState.ON_CALL and a.call_id is not None:
            self.legs.pop(a.call_id, None)
            return self.state.hangup(a.call_id, now)
        if a.state is AgentState.RESERVED:
            return self.state.ring_no_answer(agent, now)
        return []

    def _reconcile(self, now: float, *, restarted: bool = False) -> None:
        """After an AMI reconnect or dropped events: callers and persistent agent legs that
        are no longer among Asterisk's channels ended while ccpbx could not see it. After
        an Asterisk restart the agents whose legs died with it are called back."""
        gone = [call_id for call_id in self.legs if call_id not in self._channels]
        for call_id in gone:
            self._hung_up(call_id, now)
        lost = [
            s.agent
            for s in self.sessions.values()
            if s.mode is AgentMode.PERSISTENT
            and agent_leg_gone(self, s.agent)
            and s.agent not in self.reconnecting
        ]
        for agent in lost:
            # The leg is not among Asterisk's channels: nothing to hang up (a hang-up by
            # its old name could end another call on a restarted Asterisk).
            self.persistent.forget(agent)
            if restarted:
                self.reconnecting.start(agent, now)
            else:
                self.leg_lost(agent, now, reason=f"{PHONE_LOST}: gone while ccpbx was away")
        if gone or lost or restarted:
            log.warning(
                "acd_reconciled",
                calls_gone=len(gone),
                agents_lost=0 if restarted else len(lost),
                agents_reconnecting=len(lost) if restarted else 0,
                asterisk_restarted=restarted,
            )

    def _overflow(self, call_id: str, now: float) -> list[AcdEvent]:
        target = self.state.queue(self.state.call(call_id).queue).overflow
        events = self.state.overflow(call_id, now)
        leg = self.legs.get(call_id)
        if leg is not None and target is not None:
            if target.kind is OverflowKind.QUEUE:
                leg.queue = target.target
            elif target.kind is OverflowKind.MESSAGE:
                self.legs.pop(call_id, None)
                where = (MESSAGE_CONTEXT, leg.queue, "1")
                self._spawn(self._redirect(leg.channel, where), "acd-overflow-message")
            elif target.kind is OverflowKind.VOICEMAIL:
                self.legs.pop(call_id, None)
                self._spawn(self._to_voicemail(leg.channel, target.target), "acd-overflow-vm")
            elif target.kind is OverflowKind.CALLBACK:
                self.legs.pop(call_id, None)
                self.callback_offers[call_id] = (leg.queue, target.target)
                self._spawn(self._redirect(leg.channel, CALLBACK), "acd-overflow-callback")
            else:
                self.legs.pop(call_id, None)
                self._spawn(self._redirect(leg.channel, FALLBACK), "acd-overflow")
        return events

    # ----- connects -----------------------------------------------------------------

    def _start_connect(self, call_id: str, agent: str) -> None:
        leg = self.legs[call_id]
        session = self.sessions.get(agent)
        mode = self.state.agent(agent).mode
        if mode is AgentMode.PERSISTENT:
            self._spawn(self._put_through(call_id, agent, leg.channel), "acd-put-through")
        elif session is not None:
            timeout = max(1.0, self.specs[leg.queue].config.ring_timeout_s - RING_EARLY_S)
            self._spawn(self._ring(call_id, agent, session.endpoint, leg, timeout), "acd-ring")

    async def _put_through(self, call_id: str, agent: str, channel: str) -> None:
        try:
            await self.persistent.put_through(agent, channel, call_id)
        except Exception as exc:
            self._inbox.put_nowait(("connected", (call_id, agent, False, repr(exc))))
        else:
            leg = self.persistent.leg(agent)
            detail = leg.channel if leg is not None else ""
            self._inbox.put_nowait(("connected", (call_id, agent, True, detail)))

    async def _ring(
        self, call_id: str, agent: str, endpoint: str, leg: CallLeg, timeout: float
    ) -> None:
        result: RingResult | None = None
        ring_leg = self.ring.new_leg(agent)
        leg.ring_legs[agent] = ring_leg
        try:
            result = await self.ring.ring(
                agent, endpoint, leg.channel, timeout_s=timeout, leg=ring_leg
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("acd_ring_failed", call_id=call_id, agent=agent, error=repr(exc))
        self._inbox.put_nowait(("rang", (call_id, agent, result)))

    async def _record(self, leg: CallLeg) -> None:
        try:
            await self._ami.action(
                "MixMonitor", Channel=leg.channel, File=leg.recording or "", timeout=5
            )
            log.info("acd_recording_started", call_id=leg.call_id, file=leg.recording)
        except Exception as exc:
            log.warning("acd_recording_failed", call_id=leg.call_id, error=repr(exc))

    async def _to_voicemail(self, channel: str, mailbox: str) -> None:
        """Leave the caller in VoiceMail for ``mailbox`` (the queue's overflow target):
        the wait context's ``s`` extension reads it from CCPBX_VOICEMAIL."""
        try:
            await self._ami.action(
                "Setvar", Channel=channel, Variable=VOICEMAIL_VAR, Value=mailbox, timeout=5
            )
        except Exception as exc:
            log.warning("acd_voicemail_setvar_failed", channel=channel, error=repr(exc))
        await self._redirect(channel, VOICEMAIL)

    async def _redirect(self, channel: str, where: tuple[str, str, str]) -> None:
        context, exten, priority = where
        with contextlib.suppress(Exception):
            await self._ami.action(
                "Redirect",
                Channel=channel,
                Context=context,
                Exten=exten,
                Priority=priority,
                timeout=5,
            )

    # ----- output ---------------------------------------------------------------------

    def _publish(self, events: list[AcdEvent]) -> None:
        if not events:
            return
        self.stats.apply_all(events)
        batch = list(events)
        self._write(lambda db: store.insert_events(db, batch))
        for event in events:
            log.info(
                "acd_event",
                **{k: v for k, v in event.to_dict().items() if k != "kind"},
                event_kind=event.kind.value,
            )
            self.feed.publish({"type": "acd", **event.to_dict()})
            for listener in self._listeners:
                try:
                    listener(event)
                except Exception:
                    log.exception("acd_listener_failed", event_kind=event.kind.value)

    def _write(self, job: Callable[[Executor], Awaitable[Any]]) -> None:
        if self.writer is not None:
            self.writer.put(job)

    def _flush_intervals(self) -> int:
        """Store the statistics intervals that have ended (15 minutes by default)."""
        queues, agents = self.stats.pop_closed_intervals(self._clock())
        if queues or agents:
            size = self.stats.interval_s
            self._write(lambda db: store.insert_intervals(db, size, queues, agents))
        return len(queues) + len(agents)

    def _set_spec(self, spec: QueueSpec) -> None:
        self.specs[spec.name] = spec
        self.state.configure_queue(spec.config)

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        self.tasks.spawn(coro, name)

    def recovered_event(self, event: AcdEvent) -> AcdEvent:
        return dataclasses.replace(event, reason=event.reason or "recovered")
