"""What the queue service's worker task does with each input, and after each batch.

The inputs, in the order they were enqueued: API and phone commands, callers reaching
music on hold, hang-ups (a caller's, or a ring-mode agent's answered leg ending first:
the phone transferred the caller), the outcomes of connect attempts and phone
call-backs, lost agent legs, reconciles after an AMI reconnect. Each becomes an engine
transition on the :class:`~ccpbx.queues.floor.QueueFloor`. A :meth:`QueueWorker.tick`
then applies the due timers (ring timeout, wrap-up end, max wait), asks
:func:`~ccpbx.acd.next_assignments` who takes which call and starts one connect task
per offer (:class:`~ccpbx.queues.connects.CallConnects`). Nothing here awaits.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Coroutine
from typing import Any

import structlog

from ccpbx.acd import AcdEvent, AgentMode, AgentState, CallStatus, OverflowKind, next_assignments
from ccpbx.ami.channels import ChannelView
from ccpbx.ami.instance import AsteriskInstance
from ccpbx.ami.protocol import AmiMessage
from ccpbx.callcontrol.persistent import PersistentAgentConnections
from ccpbx.callcontrol.reconnect import ASTERISK_SHUTDOWN
from ccpbx.callcontrol.ring import LEG_PREFIX, RingResult
from ccpbx.queues import store
from ccpbx.queues.connects import CallConnects
from ccpbx.queues.floor import QueueFloor
from ccpbx.queues.model import (
    AGENT_LEFT,
    CALLBACK,
    FALLBACK,
    MESSAGE_CONTEXT,
    PHONE_LOST,
    CallLeg,
)
from ccpbx.queues.presentation import ring_caller_id
from ccpbx.queues.reconnects import AgentReconnects, agent_leg_gone
from ccpbx.tasks import TaskSet

log = structlog.get_logger(__name__)

RING_EARLY_S = 0.5
"""Asterisk gives up ringing this much before the engine's ring timeout, so the
phone's own no-answer normally arrives first and the engine's timer is a backstop."""

Command = Callable[[float], list[AcdEvent]]


class QueueWorker:
    """Applies the worker's inputs to the floor (see the module docstring)."""

    def __init__(
        self,
        floor: QueueFloor,
        connects: CallConnects,
        reconnecting: AgentReconnects,
        *,
        persistent: PersistentAgentConnections,
        channels: ChannelView,
        tasks: TaskSet,
        clock: Callable[[], float],
        asterisk: Callable[[], AsteriskInstance],
    ) -> None:
        self._floor = floor
        self._connects = connects
        self._reconnecting = reconnecting
        self._persistent = persistent
        self._channels = channels
        self._tasks = tasks
        self._clock = clock
        self._asterisk = asterisk
        self._next_flush = 0.0

    def handle(self, kind: str, data: Any) -> None:
        """Apply one input of the service's inbox."""
        now = self._clock()
        floor = self._floor
        if kind == "command":
            command, future = data
            try:
                floor.publish(command(now))
            except BaseException as exc:
                if not future.done():
                    future.set_exception(exc)
            else:
                if not future.done():
                    future.set_result(None)
        elif kind == "held":
            self.held(data, now)
        elif kind == "hangup":
            self.hung_up(data.get("Uniqueid") or "", now)
        elif kind == "connected":
            self.connected(*data, now=now)
        elif kind == "rang":
            self.rang(*data, now=now)
        elif kind == "leg_lost":
            agent, reason = data
            if reason == ASTERISK_SHUTDOWN:  # Asterisk is going away (restart, stop)
                self._reconnecting.start(agent, now, not_on=self._asterisk())
            else:
                self.leg_lost(agent, now, reason=f"{PHONE_LOST}: {reason}")
        elif kind == "reconcile":
            self.reconcile(now, restarted=bool(data))
        elif kind == "reconnected":
            agent, ok, reason = data
            lost = self._reconnecting.finished(agent, ok, reason, now=now)
            if lost is not None:
                self.leg_lost(agent, now, reason=lost)

    def tick(self) -> float | None:
        """Apply due timers, route, start connects; return when to wake up next."""
        floor = self._floor
        state = floor.state
        now = self._clock()
        due = state.timers(now)
        events: list[AcdEvent] = []
        for call_id, agent in due.ring_timeouts:
            leg = floor.legs.get(call_id)
            ring_leg = leg.ring_legs.pop(agent, None) if leg else None
            if ring_leg is not None:
                self._spawn(self._connects.cancel_ring(ring_leg), "acd-ring-cancel")
            events += state.ring_no_answer(agent, now)
        for agent in due.wrapups_done:
            events += state.wrapup_done(agent, now)
        for call_id in due.overflows:
            events += self.overflow(call_id, now)
        floor.publish(events)
        for assignment in next_assignments(state, now):
            floor.publish(state.reserve(assignment.call_id, assignment.agent_ids, now))
            for agent in assignment.agent_ids:
                self.start_connect(assignment.call_id, agent)
        next_interval = floor.stats.interval_of(now) + floor.stats.interval_s
        if now >= self._next_flush:
            floor.flush_intervals(self._clock())
            self._next_flush = next_interval
        after = state.timers(now).next_at
        return next_interval if after is None else min(after, next_interval)

    # ----- inputs -----------------------------------------------------------------------

    def held(self, event: AmiMessage, now: float) -> None:
        """A caller reached music on hold in a hold context (extension: its queue)."""
        floor = self._floor
        uniqueid = event.get("Uniqueid") or ""
        queue = event.get("Exten") or ""
        if not uniqueid:
            return
        leg = floor.legs.get(uniqueid)
        if leg is not None:
            if not leg.agent_leg:
                return
            # A ring-mode agent's caller back in a hold context: the agent transferred
            # it there (or a transfer failed), maybe before the agent's leg is seen to end.
            self.agent_left(leg.agent_leg, now)
            if uniqueid in floor.legs:
                return
        if floor.state.is_held_outbound(uniqueid):
            # An outbound call answered with its agent reserved: straight to that agent.
            call = floor.state.calls[uniqueid]
            floor.legs[uniqueid] = CallLeg(uniqueid, event.get("Channel") or "", call.queue)
            floor.publish(floor.state.outbound_answered(uniqueid, now))
            for agent in sorted(call.ringing):
                self.start_connect(uniqueid, agent)
            return
        if queue not in floor.specs:
            log.warning("acd_unknown_queue", queue=queue, uniqueid=uniqueid)
            self._spawn(
                self._connects.redirect(event.get("Channel") or "", FALLBACK), "acd-fallback"
            )
            return
        self.enqueue(uniqueid, event.get("Channel") or "", queue, now)

    def enqueue(self, uniqueid: str, channel: str, queue: str, at: float) -> list[AcdEvent]:
        """The caller waits in ``queue``, with what the queue script learned of it."""
        floor = self._floor
        spec = floor.specs[queue]
        attrs = floor.take_attributes(uniqueid)
        required = {**spec.required, **attrs.required}
        events = floor.state.enqueue(
            uniqueid, queue, at, priority=attrs.priority, required=required
        )
        floor.legs[uniqueid] = CallLeg(
            uniqueid,
            channel,
            queue,
            shown_number=attrs.shown_number,
            shown_name=attrs.shown_name,
        )
        floor.publish(events)
        return events

    def hung_up(self, uniqueid: str, now: float) -> None:
        floor = self._floor
        floor.callback_offers.pop(uniqueid, None)
        leg = floor.legs.pop(uniqueid, None)
        call = floor.state.calls.get(uniqueid)
        if leg is None:
            self.agent_left(uniqueid, now)
            return
        if call is None:
            return
        if call.status is CallStatus.CONNECTED:
            floor.publish(floor.state.hangup(uniqueid, now))
            return
        for ring_leg in leg.ring_legs.values():
            self._spawn(self._connects.cancel_ring(ring_leg), "acd-ring-cancel")
        floor.publish(floor.state.abandon(uniqueid, now))

    def agent_left(self, agent_leg: str, now: float) -> None:
        """A ring-mode agent's answered leg ended while its caller is still up: the
        phone transferred the caller (REFER) or hung up first. The call ends for the ACD
        (the agent goes to wrap-up); the caller's channel lives on where the transfer
        sent it, and comes back as a new call if it reaches a queue again."""
        if not agent_leg.startswith(LEG_PREFIX):
            return
        floor = self._floor
        call_id = next((c for c, leg in floor.legs.items() if leg.agent_leg == agent_leg), None)
        if call_id is None:
            return
        call = floor.state.calls.get(call_id)
        leg = floor.legs.pop(call_id)
        if call is None or call.status is not CallStatus.CONNECTED:
            return
        events = floor.state.hangup(call_id, now)
        floor.publish([dataclasses.replace(e, reason=e.reason or AGENT_LEFT) for e in events])
        log.info("acd_agent_left_call", call_id=call_id, agent=leg.agent, channel=leg.channel)

    def connected(self, call_id: str, agent: str, ok: bool, detail: str, *, now: float) -> None:
        """The outcome of a put-through to a persistent agent."""
        floor = self._floor
        call = floor.state.calls.get(call_id)
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
            floor.publish(floor.state.ring_no_answer(agent, now))

    def rang(self, call_id: str, agent: str, result: RingResult | None, *, now: float) -> None:
        """The outcome of ringing a ring-mode agent's phone."""
        floor = self._floor
        call = floor.state.calls.get(call_id)
        leg = floor.legs.get(call_id)
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
                self._spawn(self._connects.cancel_ring(result.leg), "acd-ring-cancel")
            return
        if result is not None and result.answered:
            self._answered(call_id, agent, result.channel, now)
            assert leg is not None
            leg.agent_leg = result.leg
            for other in list(leg.ring_legs):
                self._spawn(self._connects.cancel_ring(leg.ring_legs.pop(other)), "acd-ring-cancel")
        else:
            floor.publish(floor.state.ring_no_answer(agent, now))

    def _answered(self, call_id: str, agent: str, agent_channel: str, now: float) -> None:
        floor = self._floor
        floor.publish(floor.state.answered(call_id, agent, now))
        leg = floor.legs[call_id]
        leg.agent = agent
        leg.agent_channel = agent_channel
        if floor.specs[leg.queue].record:
            leg.recording = f"ccpbx-{call_id}.wav"
            self._spawn(self._connects.record(leg), "acd-record")

    def leg_lost(self, agent: str, now: float, *, reason: str) -> None:
        """The agent's phone leg ended: its call ends, the agent is logged out."""
        floor = self._floor
        a = floor.state.agents.get(agent)
        if a is None or a.state is AgentState.LOGGED_OUT:
            return
        events = floor.drop_call(agent, now)
        events += floor.state.logout(agent, now)
        events = [dataclasses.replace(e, reason=e.reason or reason) for e in events]
        self._reconnecting.stop(agent)
        floor.sessions.pop(agent, None)
        floor.logout_reasons[agent] = reason
        floor.write(lambda db: store.delete_session(db, agent))
        floor.publish(events)
        log.warning("acd_agent_logged_out", agent=agent, reason=reason)

    def reconcile(self, now: float, *, restarted: bool = False) -> None:
        """After an AMI reconnect or dropped events: callers and persistent agent legs that
        are no longer among Asterisk's channels ended while ccpbx could not see it. After
        an Asterisk restart the agents whose legs died with it are called back."""
        floor = self._floor
        gone = [call_id for call_id in floor.legs if call_id not in self._channels]
        for call_id in gone:
            self.hung_up(call_id, now)
        lost = [
            s.agent
            for s in floor.sessions.values()
            if s.mode is AgentMode.PERSISTENT
            and agent_leg_gone(self._persistent, self._channels, s.agent)
            and s.agent not in self._reconnecting
        ]
        for agent in lost:
            # The leg is not among Asterisk's channels: nothing to hang up (a hang-up by
            # its old name could end another call on a restarted Asterisk).
            self._persistent.forget(agent)
            if restarted:
                self._reconnecting.start(agent, now)
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

    def overflow(self, call_id: str, now: float) -> list[AcdEvent]:
        """The call waited its queue's max wait: it goes where the queue says."""
        floor = self._floor
        target = floor.state.queue(floor.state.call(call_id).queue).overflow
        events = floor.state.overflow(call_id, now)
        leg = floor.legs.get(call_id)
        connects = self._connects
        if leg is not None and target is not None:
            if target.kind is OverflowKind.QUEUE:
                leg.queue = target.target
            elif target.kind is OverflowKind.MESSAGE:
                floor.legs.pop(call_id, None)
                where = (MESSAGE_CONTEXT, leg.queue, "1")
                self._spawn(connects.redirect(leg.channel, where), "acd-overflow-message")
            elif target.kind is OverflowKind.VOICEMAIL:
                floor.legs.pop(call_id, None)
                self._spawn(connects.to_voicemail(leg.channel, target.target), "acd-overflow-vm")
            elif target.kind is OverflowKind.CALLBACK:
                floor.legs.pop(call_id, None)
                floor.callback_offers[call_id] = (leg.queue, target.target)
                self._spawn(connects.redirect(leg.channel, CALLBACK), "acd-overflow-callback")
            else:
                floor.legs.pop(call_id, None)
                self._spawn(connects.redirect(leg.channel, FALLBACK), "acd-overflow")
        return events

    # ----- connects -----------------------------------------------------------------

    def start_connect(self, call_id: str, agent: str) -> None:
        """Put the call through to a persistent agent, or ring a ring-mode agent."""
        floor = self._floor
        leg = floor.legs[call_id]
        session = floor.sessions.get(agent)
        mode = floor.state.agent(agent).mode
        if mode is AgentMode.PERSISTENT:
            self._spawn(self._connects.put_through(call_id, agent, leg.channel), "acd-put-through")
        elif session is not None:
            timeout = max(1.0, floor.specs[leg.queue].config.ring_timeout_s - RING_EARLY_S)
            caller = self._channels.get(call_id)
            if leg.shown_number:  # a campaign call: its channel shows the campaign's ID
                number, name = leg.shown_number, leg.shown_name
            else:
                number = caller.caller_id_num if caller else ""
                name = caller.caller_id_name if caller else ""
            caller_id = ring_caller_id(leg.queue, number, name)
            self._spawn(
                self._connects.ring(call_id, agent, session.endpoint, leg, timeout, caller_id),
                "acd-ring",
            )

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[Any]:
        return self._tasks.spawn(coro, name)
