"""The ACD floor: the live state of one Asterisk node's queues, with one owner.

:class:`QueueFloor` holds the pure engine's :class:`~ccpbx.acd.AcdState` and its
counters, the queue settings, the agents' phones and the callers' channels. Only the
queue service's worker changes it: through the engine's transitions, whose events go
to :meth:`QueueFloor.publish` (counted, stored in order, logged, sent to subscribers
and listeners), and through the few methods below. Anyone may read it (the API's
views, the AGI scripts); it does no I/O of its own but hand jobs to the writer.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from ccpbx.acd import (
    AcdEvent,
    AcdState,
    AcdStats,
    AgentState,
    CallStatus,
    Say,
    announcement,
    estimated_wait,
    position,
    working_agents,
)
from ccpbx.queues import store
from ccpbx.queues.feed import Broadcaster
from ccpbx.queues.model import CallAttributes, CallLeg, DirectLines, QueueSpec, Session
from ccpbx.store.db import Executor
from ccpbx.tasks import OrderedWriter

log = structlog.get_logger(__name__)

Listener = Callable[[AcdEvent], None]


class QueueFloor:
    """Queues, agents, callers and counters of one node (see the module docstring)."""

    def __init__(self, *, interval_s: float = 900.0) -> None:
        self.state = AcdState()
        self.stats = AcdStats(self.state.queue, interval_s=interval_s)
        self.specs: dict[str, QueueSpec] = {}
        self.sessions: dict[str, Session] = {}
        """Logged-in agents' phones, by agent."""
        self.legs: dict[str, CallLeg] = {}
        """Callers' channels, by call id (the caller's uniqueid)."""
        self.logout_reasons: dict[str, str] = {}
        """Why an agent was logged out by ccpbx (not by a request), until it logs in."""
        self.callback_offers: dict[str, tuple[str, str]] = {}
        """Callers sent to the callback script: uniqueid -> (queue, campaign or "")."""
        self.feed = Broadcaster()
        self.writer: OrderedWriter | None = None
        """Stores what :meth:`write` is given, in order (none: nothing is stored)."""
        self.direct = DirectLines()
        """Settings of agents' direct lines (calls for one agent)."""
        self._expected: dict[str, CallAttributes] = {}
        self._listeners: list[Listener] = []

    # ----- changes (the worker only) ------------------------------------------------

    def set_spec(self, spec: QueueSpec) -> None:
        """Configure (or reconfigure) a queue."""
        self.specs[spec.name] = spec
        self.state.configure_queue(spec.config)

    def open_direct_line(self, agent: str) -> str:
        """``agent``'s direct line, configured now if it is not yet; returns its name."""
        line = self.state.direct_line(agent)
        if line is None:
            spec = self.direct.spec(agent)
            self.set_spec(spec)
            line = spec.name
        return line

    def publish(self, events: list[AcdEvent]) -> None:
        """Count, store, log and send out the engine's events, in order."""
        if not events:
            return
        self.stats.apply_all(events)
        batch = list(events)
        self.write(lambda db: store.insert_events(db, batch))
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

    def write(self, job: Callable[[Executor], Awaitable[Any]]) -> None:
        """Hand a database job to the writer (dropped when there is no database)."""
        if self.writer is not None:
            self.writer.put(job)

    def flush_intervals(self, now: float) -> int:
        """Store the statistics intervals that have ended (15 minutes by default)."""
        queues, agents = self.stats.pop_closed_intervals(now)
        if queues or agents:
            size = self.stats.interval_s
            self.write(lambda db: store.insert_intervals(db, size, queues, agents))
        return len(queues) + len(agents)

    def reset_stats(self) -> AcdStats:
        """Start the counters afresh (a recovery seeds them from what was stored)."""
        self.stats = AcdStats(self.state.queue, interval_s=self.stats.interval_s)
        return self.stats

    def drop_call(self, agent: str, now: float) -> list[AcdEvent]:
        """End what the agent was doing when its phone leg went (the leg is gone)."""
        a = self.state.agent(agent)
        if a.state is AgentState.ON_CALL and a.call_id is not None:
            self.legs.pop(a.call_id, None)
            return self.state.hangup(a.call_id, now)
        if a.state is AgentState.RESERVED:
            return self.state.ring_no_answer(agent, now)
        return []

    def add_listener(self, listener: Listener) -> None:
        """``listener(event)`` runs for every published event, in order."""
        self._listeners.append(listener)

    def expect_call(self, uniqueid: str, attributes: CallAttributes) -> None:
        """Remember a caller's priority and skills until it reaches music on hold."""
        self._expected[uniqueid] = attributes

    def take_attributes(self, uniqueid: str) -> CallAttributes:
        """The attributes remembered for a caller (forgotten now), or the defaults."""
        return self._expected.pop(uniqueid, CallAttributes())

    def take_callback_offer(self, uniqueid: str) -> tuple[str, str] | None:
        """(queue, campaign or "") of a caller ccpbx sent to the callback script, once."""
        return self.callback_offers.pop(uniqueid, None)

    # ----- reads (any task) -----------------------------------------------------------

    def agent_at(self, endpoint: str) -> str | None:
        """The agent logged in at a phone endpoint, if any."""
        for session in self.sessions.values():
            if session.endpoint == endpoint:
                return session.agent
        return None

    def announcement(self, call_id: str) -> tuple[int, list[Say]] | None:
        """What a waiting caller hears now, from its queue's settings: (seconds of music
        until the next announcement, 0 for none; the prompts to play, maybe none), or
        None for a caller not waiting."""
        call = self.state.calls.get(call_id)
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


def recovered_event(event: AcdEvent) -> AcdEvent:
    """An event of a recovery: its reason says so unless it has one."""
    return dataclasses.replace(event, reason=event.reason or "recovered")
