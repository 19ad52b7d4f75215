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

The service owns the pieces and the worker task; each piece has one job and is handed
what it needs: the live state and its output (:mod:`~ccpbx.queues.floor`), what the
worker does with each input (:mod:`~ccpbx.queues.worker`), the AMI side of connects
(:mod:`~ccpbx.queues.connects`), phone call-backs (:mod:`~ccpbx.queues.reconnects`),
recovery after a restart (:mod:`~ccpbx.queues.recovery`), supervisor actions
(:mod:`~ccpbx.queues.supervision`) and the read side (:mod:`~ccpbx.queues.views`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import structlog

from ccpbx.acd import (
    AcdEvent,
    AcdState,
    AcdStats,
    AgentMode,
    AgentState,
    OverflowKind,
    Say,
)
from ccpbx.ami import AmiClient
from ccpbx.ami.channels import ChannelView
from ccpbx.ami.protocol import AmiMessage
from ccpbx.callcontrol.persistent import PersistentAgentConnections
from ccpbx.callcontrol.reconnect import ReconnectPolicy
from ccpbx.callcontrol.ring import RingConnections
from ccpbx.errors import Conflict, InvalidInput, Unavailable
from ccpbx.health import ComponentStatus
from ccpbx.queues import reasons, store, supervision, views
from ccpbx.queues.connects import CallConnects
from ccpbx.queues.feed import Broadcaster, EventFeed
from ccpbx.queues.floor import QueueFloor
from ccpbx.queues.model import (
    HOLD_CONTEXTS,
    AgentRecord,
    CallAttributes,
    CallLeg,
    QueueSpec,
    Session,
    check_agent_id,
    check_reason,
)
from ccpbx.queues.reconnects import AgentReconnects
from ccpbx.queues.recovery import recover
from ccpbx.queues.worker import Command, QueueWorker
from ccpbx.store.db import Executor
from ccpbx.tasks import OrderedWriter, TaskSet, next_batch

__all__ = ["CallAttributes", "DatabaseReady", "Pool", "QueueService"]

log = structlog.get_logger(__name__)

Pool = Callable[[], Executor]
DatabaseReady = Callable[[float], Awaitable[bool]]


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
        pause_reasons: reasons.PauseReasons | None = None,
        report_zone: dt.tzinfo | None = None,
    ) -> None:
        self._ami = ami
        self._channels = channels
        self._pool = pool
        self._database_ready = database_ready
        self._clock = clock
        self.floor = QueueFloor(interval_s=interval_s)
        self.pause_reasons = pause_reasons or reasons.DEFAULT
        """The reasons an agent may pause for (the ACD's own, e.g. no answer, aside)."""
        self.report_zone = report_zone or dt.UTC
        """The time zone whose midnight starts the "today" figures."""
        """The live state (queues, agents, callers, counters); the worker changes it."""
        for spec in queues:
            self.floor.set_spec(spec)
        self.persistent = persistent or PersistentAgentConnections(ami)
        self.ring = ring or RingConnections(ami)
        self.inbox: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        """The worker's inputs, in order: callbacks and connect tasks only put here."""
        self.tasks = TaskSet("acd")
        self.reconnecting = AgentReconnects(
            self.floor, self.persistent, self.tasks, self._report, reconnect
        )
        """Persistent agents whose phone is being called back after an Asterisk restart."""
        self.worker = QueueWorker(
            self.floor,
            CallConnects(ami, self.persistent, self.ring, self._report),
            self.reconnecting,
            persistent=self.persistent,
            channels=channels,
            tasks=self.tasks,
            clock=clock,
            asterisk=lambda: ami.instance,
        )
        """Applies each input of the inbox to the floor (run by the worker task)."""
        self._task: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()
        self.recovered: dict[str, list[str]] = {}
        self._recovery_error: str | None = None
        ami.on_event("Newexten", self._on_newexten)
        ami.on_event("Hangup", self._on_hangup)
        self.persistent.on_leg_lost(self._on_leg_lost)

    # ----- the floor, as the service's users read it -----------------------------------

    @property
    def pool(self) -> Pool | None:
        """The database the service stores in (None: it runs without one)."""
        return self._pool

    @property
    def state(self) -> AcdState:
        return self.floor.state

    @property
    def stats(self) -> AcdStats:
        return self.floor.stats

    @property
    def specs(self) -> dict[str, QueueSpec]:
        return self.floor.specs

    @property
    def sessions(self) -> dict[str, Session]:
        return self.floor.sessions

    @property
    def legs(self) -> dict[str, CallLeg]:
        return self.floor.legs

    @property
    def logout_reasons(self) -> dict[str, str]:
        return self.floor.logout_reasons

    @property
    def callback_offers(self) -> dict[str, tuple[str, str]]:
        return self.floor.callback_offers

    @property
    def feed(self) -> Broadcaster:
        return self.floor.feed

    @property
    def reconnect_policy(self) -> ReconnectPolicy:
        """How agents' phones are called back after an Asterisk restart."""
        return self.reconnecting.policy

    @reconnect_policy.setter
    def reconnect_policy(self, policy: ReconnectPolicy) -> None:
        self.reconnecting.policy = policy

    # ----- lifecycle -----------------------------------------------------------------

    async def start(self) -> None:
        """Start the worker (it recovers state from Asterisk first) and the DB writer."""
        if self._task is not None:
            raise RuntimeError("queue service already started")
        # Registered here, after the channel view's own resync hooks (the daemon attaches
        # the view first): a reconcile then reads a fresh view.
        self._ami.on_connected(self._on_reconnected)
        self._ami.on_resync(self._on_resynced)
        if self._pool is not None:
            self.floor.writer = OrderedWriter(self._pool, owner="acd", attempts=3)
            self.floor.writer.start()
        self._task = asyncio.create_task(self._run(), name="acd-worker")

    async def stop(self) -> None:
        """Stop deciding, cancel connect tasks, store what is pending; calls stay up in
        Asterisk (the next start finds them again)."""
        if self._task is None:
            return
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        await self.tasks.cancel_all()
        self.floor.flush_intervals(self._clock())
        if self.floor.writer is not None:
            await self.floor.writer.stop(timeout=5.0)
        self.floor.feed.close()
        self._task = None

    def status(self) -> ComponentStatus:
        """The ``acd`` entry of ``/status``: up once the worker runs and has recovered.

        States: ``stopped`` (not started, stopped, or its worker ended), ``recovering``
        (finding calls and agents again; ``last_error`` says why a try failed),
        ``degraded`` (Asterisk unreachable or not booted, or agents' phones being called
        back: ``reasons``, ``agents_reconnecting``), ``ready``."""
        task = self._task
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
        if task is None or task.done():
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
            self.floor.set_spec(spec)
            return []

        await self._call(apply)

    async def open_direct_line(self, agent: str) -> str:
        """The queue name of a known agent's direct line (opened if need be), for a call
        targeted at that agent."""
        await self.profile(agent)
        line: list[str] = []

        def apply(now: float) -> list[AcdEvent]:
            line.append(self.floor.open_direct_line(agent))
            return []

        await self._call(apply)
        return line[0]

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
            self.floor.write(lambda db: store.save_session(db, agent, endpoint, mode, now, paused))
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
            self.floor.write(lambda db: store.delete_session(db, agent))
            return events

        await self._call(apply)
        if self.persistent.leg(agent) is not None:
            await self.persistent.close(agent)
        return self.agent_view(agent)

    async def pause(self, agent: str, reason: str) -> dict[str, Any]:
        """Pause for one of the configured reasons (:attr:`pause_reasons`)."""
        self.pause_reasons.check(check_reason(reason))

        def apply(now: float) -> list[AcdEvent]:
            events = self.state.pause(agent, reason, now)
            self.floor.write(lambda db: store.set_session_pause(db, agent, reason))
            return events

        await self._call(apply)
        return self.agent_view(agent)

    async def unpause(self, agent: str) -> dict[str, Any]:
        def apply(now: float) -> list[AcdEvent]:
            events = self.state.unpause(agent, now)
            self.floor.write(lambda db: store.set_session_pause(db, agent, None))
            return events

        await self._call(apply)
        return self.agent_view(agent)

    async def end_wrapup(self, agent: str) -> dict[str, Any]:
        await self._call(lambda now: self.state.wrapup_done(agent, now))
        return self.agent_view(agent)

    async def extend_wrapup(self, agent: str, seconds: float) -> dict[str, Any]:
        """``seconds`` more wrap-up for an agent in wrap-up."""
        await self._call(lambda now: self.state.extend_wrapup(agent, seconds, now))
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

    async def apply(self, command: Command) -> None:
        """Run ``command(now)`` on the worker, in order with every other input; its
        engine events are published (call control ends or re-routes calls this way)."""
        await self._call(command)

    def expect_call(self, uniqueid: str, attributes: CallAttributes) -> None:
        """Remember a caller's priority and skills until it reaches music on hold."""
        self.floor.expect_call(uniqueid, attributes)

    def take_callback_offer(self, uniqueid: str) -> tuple[str, str] | None:
        """(queue, campaign or "") of a caller ccpbx sent to the callback script, once."""
        return self.floor.take_callback_offer(uniqueid)

    def agent_at(self, endpoint: str) -> str | None:
        """The agent logged in at a phone endpoint, if any."""
        return self.floor.agent_at(endpoint)

    def announcement(self, call_id: str) -> tuple[int, list[Say]] | None:
        """What a waiting caller hears now, from its queue's settings: (seconds of music
        until the next announcement, 0 for none; the prompts to play, maybe none), or
        None for a caller the service does not hold as waiting (yet: it may still be
        recovering). Read-only: the AGI script's task may call it."""
        if not self.ready.is_set():
            return None
        return self.floor.announcement(call_id)

    def subscribe(self) -> EventFeed:
        return self.feed.subscribe()

    def add_listener(self, listener: Callable[[AcdEvent], None]) -> None:
        """``listener(event)`` runs on the worker for every ACD event, in order; it must
        not block (enqueue and return). The dialer follows its calls this way."""
        self.floor.add_listener(listener)

    # ----- supervisor, recording, read side (see supervision.py and views.py) ---------

    async def spy(self, supervisor_endpoint: str, agent: str, how: str) -> dict[str, Any]:
        channel = self.agent_channel(agent)
        return await supervision.spy(
            self._ami, channel, supervisor_endpoint, agent, how, now=self._clock()
        )

    def agent_channel(self, agent: str) -> str:
        return supervision.agent_channel(self.persistent, self.state, self.legs, agent)

    async def set_recording(self, call_id: str, paused: bool) -> dict[str, Any]:
        return await supervision.set_recording(self._ami, self.legs.get(call_id), call_id, paused)

    def agent_view(self, agent: str) -> dict[str, Any]:
        return views.agent_view(
            self.floor, agent, reconnecting=self.reconnecting, connected=self.persistent.connected
        )

    def agents_view(self) -> list[dict[str, Any]]:
        return [self.agent_view(a) for a in sorted(self.state.agents)]

    def queue_view(self, name: str, *, waiting: bool = False) -> dict[str, Any]:
        return views.queue_view(
            self.floor, name, self._clock(), waiting=waiting, zone=self.report_zone
        )

    def queues_view(self) -> list[dict[str, Any]]:
        return [self.queue_view(name) for name in sorted(self.specs)]

    # ----- AMI callbacks (enqueue only) ------------------------------------------------

    def _report(self, kind: str, data: Any) -> None:
        self.inbox.put_nowait((kind, data))

    def _on_newexten(self, event: AmiMessage) -> None:
        if event.get("Context") in HOLD_CONTEXTS and event.get("Application") == "MusicOnHold":
            self.inbox.put_nowait(("held", event))

    def _on_hangup(self, event: AmiMessage) -> None:
        # Every hang-up is passed on: one that arrives while the worker recovers must
        # still find the caller it is about once recovery has registered it.
        self.inbox.put_nowait(("hangup", event))

    async def _on_resynced(self) -> None:
        self.inbox.put_nowait(("reconcile", False))

    async def _on_reconnected(self) -> None:
        self.inbox.put_nowait(("reconcile", self._ami.restarted))

    def _on_leg_lost(self, agent: str, reason: str) -> None:
        self.inbox.put_nowait(("leg_lost", (agent, reason)))

    # ----- worker task ----------------------------------------------------------------

    async def _call(self, command: Command) -> None:
        if self._task is None or self._task.done():
            raise Unavailable("the queue service is not running")
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.inbox.put_nowait(("command", (command, future)))
        await future

    async def _run(self) -> None:
        backoff = 0.1  # the database may still be starting: try again soon, then less often
        while True:
            if self._database_ready is not None and not await self._database_ready(5.0):
                # Not a failure: the pool is still being created (or the database is down,
                # which its own component reports); recovery needs it.
                self._recovery_error = "waiting for the database"
                log.info("acd_recovery_waiting", reason="database")
                continue
            try:
                self.recovered = await recover(
                    self.floor,
                    ami=self._ami,
                    channels=self._channels,
                    persistent=self.persistent,
                    pool=self._pool,
                    clock=self._clock,
                )
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
        self.worker.tick()
        wake: float | None = None
        while True:
            timeout = None if wake is None else max(0.0, wake - self._clock())
            batch = await next_batch(self.inbox, timeout)
            for kind, data in batch:
                try:
                    self.worker.handle(kind, data)
                except Exception:
                    log.exception("acd_input_failed", kind=kind)
            wake = self.worker.tick()
