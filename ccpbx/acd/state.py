"""The one owner of ACD agent and call state, with explicit transitions.

Every transition takes ``now``, checks that it is legal (raising
:class:`~ccpbx.acd.errors.IllegalTransition` otherwise, with nothing changed), applies
it, keeps the routing indexes in step and returns the :class:`AcdEvent` records it made.
An agent holds at most one call at any time: only an available agent can be reserved.

Why one module of ~790 lines: :class:`AcdState` is the single owner of the agent, call
and queue tables and of the routing indexes over them; each transition changes several
of them at once and must leave them consistent, so the transitions stay methods of one
class. What only reads the tables lives beside it: the timer scan (``timers.py``), the
indexes (``index.py``), routing (``routing.py``), statistics (``stats.py``).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from types import MappingProxyType

from ccpbx.acd.errors import (
    DuplicateCall,
    IllegalTransition,
    InvalidAcdInput,
    UnknownAgent,
    UnknownCall,
    UnknownQueue,
)
from ccpbx.acd.index import QueueIndex, meets, requirement_of
from ccpbx.acd.model import (
    NO_ANSWER,
    AcdEvent,
    Agent,
    AgentMode,
    AgentProfile,
    AgentState,
    CallStatus,
    EventKind,
    Membership,
    OverflowKind,
    QueueConfig,
    Strategy,
    Timers,
    WaitingCall,
)
from ccpbx.acd.timers import due_timers

_BUSY = (AgentState.RESERVED, AgentState.ON_CALL)


class AcdState:
    """Agents, waiting and connected calls, and the indexes routing reads."""

    def __init__(self, queues: Iterable[QueueConfig] = (), *, rng: random.Random | None = None):
        self.rng = rng if rng is not None else random.Random()
        self._queues: dict[str, QueueIndex] = {}
        self._agents: dict[str, Agent] = {}
        self._calls: dict[str, WaitingCall] = {}
        self._offered: set[str] = set()
        self._wrapping: set[str] = set()
        self._counts: dict[str, dict[AgentState, int]] = {}
        self._direct: dict[str, str] = {}
        """Agent id -> the queue that is that agent's direct line."""
        self._staffed: set[str] = set()
        """Queues with at least one available agent: the only ones routing looks at (a
        contact center has many queues nobody can serve now, e.g. the direct lines of
        agents on a call)."""
        self._seq = 0
        configs = list(queues)
        for config in configs:
            self._configure(config)
        for config in configs:
            self._check_overflow(config)

    # ----- read side -------------------------------------------------------------

    @property
    def queues(self) -> Mapping[str, QueueConfig]:
        return MappingProxyType({name: qi.config for name, qi in self._queues.items()})

    @property
    def agents(self) -> Mapping[str, Agent]:
        """Live agent records (read them, never change them)."""
        return MappingProxyType(self._agents)

    @property
    def calls(self) -> Mapping[str, WaitingCall]:
        """Calls in the ACD: waiting, offered or connected (read only)."""
        return MappingProxyType(self._calls)

    def queue(self, name: str) -> QueueConfig:
        return self._index(name).config

    def direct_line(self, agent_id: str) -> str | None:
        """The queue that is ``agent_id``'s direct line, if one is configured."""
        return self._direct.get(agent_id)

    def agent(self, agent_id: str) -> Agent:
        agent = self._agents.get(agent_id)
        if agent is None:
            raise UnknownAgent("no such agent", agent_id=agent_id)
        return agent

    def call(self, call_id: str) -> WaitingCall:
        call = self._calls.get(call_id)
        if call is None:
            raise UnknownCall("no such call", call_id=call_id)
        return call

    def waiting(self, queue: str) -> list[WaitingCall]:
        """The calls waiting in ``queue``, highest priority first, then longest wait."""
        qi = self._index(queue)
        entries = sorted(
            (-prio, arrived, seq, cid)
            for (prio, _), bucket in qi.calls.buckets.items()
            for arrived, seq, cid in bucket
        )
        return [self._calls[cid] for *_, cid in entries]

    def waiting_count(self, queue: str) -> int:
        return self._index(queue).calls.count

    def available_agents(self, queue: str) -> list[str]:
        """Available agents serving ``queue``, in the queue strategy's order per tier."""
        qa = self._index(queue).agents
        return [key[-1] for p in qa.penalties for key in qa.tiers[p]]

    def agents_by_state(self, queue: str) -> dict[AgentState, int]:
        """How many agents serving ``queue`` are in each state (logged-out ones excluded)."""
        self._index(queue)
        return {s: n for s, n in self._counts.get(queue, {}).items() if n}

    def longest_wait(self, queue: str, now: float) -> float:
        """The longest current wait in ``queue`` (0 when nobody waits)."""
        qi = self._index(queue)
        oldest = min(
            (self._calls[cid].enqueued_at for b in qi.calls.buckets.values() for _, _, cid in b),
            default=now,
        )
        return max(0.0, now - oldest)

    def timers(self, now: float) -> Timers:
        """What is due at ``now`` and when the next thing falls due."""
        return due_timers(
            calls=self._calls,
            offered=self._offered,
            agents=self._agents,
            wrapping=self._wrapping,
            queues=self._queues,
            now=now,
        )

    # ----- configuration ---------------------------------------------------------

    def configure_queue(self, config: QueueConfig) -> None:
        """Add a queue or replace its configuration (its agent index is rebuilt, its
        waiting calls kept; round-robin memory survives unless the strategy changes)."""
        self._check_overflow(config)
        self._configure(config)

    def _check_overflow(self, config: QueueConfig) -> None:
        target = config.overflow
        if target is None or target.kind is not OverflowKind.QUEUE:
            return
        if target.target not in self._queues:
            raise UnknownQueue(
                "overflow target is not a queue", queue=config.name, target=target.target
            )

    def _configure(self, config: QueueConfig) -> None:
        old = self._queues.get(config.name)
        if old is not None and old.config.agent != config.agent:
            raise InvalidAcdInput(
                "a queue cannot become or stop being a direct line, nor change its agent",
                queue=config.name,
            )
        if config.agent is not None:
            line = self._direct.get(config.agent)
            if line is not None and line != config.name:
                raise InvalidAcdInput(
                    "the agent already has a direct line", agent_id=config.agent, queue=line
                )
            member = self._agents.get(config.agent)
            if member is not None and config.name not in member.queues and old is None:
                self._join_direct_line(member, config.name)
            self._direct[config.agent] = config.name
        qi = QueueIndex.new(config)
        if old is not None:
            qi.calls = old.calls
            if old.config.strategy is config.strategy:
                qi.agents.rr_last = old.agents.rr_last
        self._queues[config.name] = qi
        self._counts.setdefault(config.name, {})
        for agent in self._agents.values():
            if agent.state is AgentState.AVAILABLE and config.name in agent.queues:
                m = agent.queues[config.name]
                qi.agents.add(agent, m.penalty, m.position)
        if qi.agents.key_of:
            self._staffed.add(config.name)
        else:
            self._staffed.discard(config.name)

    # ----- agent transitions -----------------------------------------------------

    def login(
        self, profile: AgentProfile, now: float, *, paused: str | None = None
    ) -> list[AcdEvent]:
        """A logged-out (or new) agent logs in; available, or paused for ``paused``."""
        known = self._agents.get(profile.id)
        if known is not None and known.state is not AgentState.LOGGED_OUT:
            raise self._illegal(known, "login")
        for queue in profile.queues:
            owner = self._index(queue).config.agent
            if owner is not None and owner != profile.id:
                raise InvalidAcdInput(
                    "an agent cannot serve another agent's direct line",
                    agent_id=profile.id,
                    queue=queue,
                )
        for skill, level in profile.skills.items():
            if not isinstance(level, int) or isinstance(level, bool):
                raise InvalidAcdInput("skill levels are integers", skill=skill)
        agent = Agent(
            id=profile.id,
            name=profile.name,
            skills=dict(profile.skills),
            mode=profile.mode,
            queues=dict(profile.queues),
            since=now,
            idle_since=now,
        )
        line = self._direct.get(profile.id)
        if line is not None:
            agent.queues.setdefault(line, Membership())
        if known is not None:
            agent.calls_taken = known.calls_taken
            agent.last_call_end = known.last_call_end
        self._agents[profile.id] = agent
        first = AgentState.AVAILABLE if paused is None else AgentState.PAUSED
        events = [self._agent_event(EventKind.AGENT_LOGGED_IN, agent, now, first)]
        if paused is None:
            self._set_state(agent, AgentState.AVAILABLE, now)
        else:
            agent.pause_reason = paused
            self._set_state(agent, AgentState.PAUSED, now)
            events.append(self._agent_event(EventKind.AGENT_PAUSED, agent, now, reason=paused))
        return events

    def logout(self, agent_id: str, now: float) -> list[AcdEvent]:
        """An agent without a call logs out (ending any wrap-up)."""
        agent = self.agent(agent_id)
        if agent.state in (*_BUSY, AgentState.LOGGED_OUT):
            raise self._illegal(agent, "logout")
        wrapping = agent.state is AgentState.WRAP_UP
        events = self._end_wrapup(agent, now, AgentState.LOGGED_OUT) if wrapping else []
        agent.pause_reason = agent.pending_pause = None
        self._set_state(agent, AgentState.LOGGED_OUT, now)
        events.append(self._agent_event(EventKind.AGENT_LOGGED_OUT, agent, now))
        return events

    def pause(self, agent_id: str, reason: str, now: float) -> list[AcdEvent]:
        """Pause an agent; one with a call is paused when its wrap-up ends."""
        agent = self.agent(agent_id)
        if agent.state is AgentState.LOGGED_OUT:
            raise self._illegal(agent, "pause")
        if agent.state in _BUSY:
            agent.pending_pause = reason
            return [self._agent_event(EventKind.AGENT_PAUSE_PENDING, agent, now, reason=reason)]
        wrapping = agent.state is AgentState.WRAP_UP
        events = self._end_wrapup(agent, now, AgentState.PAUSED) if wrapping else []
        agent.pause_reason = reason
        self._set_state(agent, AgentState.PAUSED, now)
        events.append(self._agent_event(EventKind.AGENT_PAUSED, agent, now, reason=reason))
        return events

    def unpause(self, agent_id: str, now: float) -> list[AcdEvent]:
        """A paused agent becomes available (a pending pause is cancelled)."""
        agent = self.agent(agent_id)
        if agent.state is not AgentState.PAUSED:
            if agent.pending_pause is not None:
                agent.pending_pause = None
                return [self._agent_event(EventKind.AGENT_UNPAUSED, agent, now)]
            raise self._illegal(agent, "unpause")
        agent.pause_reason = None
        agent.idle_since = now
        self._set_state(agent, AgentState.AVAILABLE, now)
        return [self._agent_event(EventKind.AGENT_UNPAUSED, agent, now)]

    def extend_wrapup(self, agent_id: str, seconds: float, now: float) -> list[AcdEvent]:
        """An agent in wrap-up asks for ``seconds`` more."""
        agent = self.agent(agent_id)
        if agent.state is not AgentState.WRAP_UP or agent.wrapup_until is None:
            raise self._illegal(agent, "extend_wrapup")
        if seconds <= 0:
            raise InvalidAcdInput("wrap-up extension must be positive", seconds=seconds)
        agent.wrapup_until += seconds
        return [
            self._agent_event(
                EventKind.WRAPUP_EXTENDED, agent, now, queue=agent.call_queue, duration=seconds
            )
        ]

    def wrapup_done(self, agent_id: str, now: float) -> list[AcdEvent]:
        """Wrap-up ends (timer or agent): available, or paused if a pause was asked."""
        agent = self.agent(agent_id)
        if agent.state is not AgentState.WRAP_UP:
            raise self._illegal(agent, "wrapup_done")
        paused = agent.pending_pause is not None
        events = self._end_wrapup(agent, now, AgentState.PAUSED if paused else AgentState.AVAILABLE)
        if agent.pending_pause is not None:
            agent.pause_reason, agent.pending_pause = agent.pending_pause, None
            self._set_state(agent, AgentState.PAUSED, now)
            events.append(
                self._agent_event(EventKind.AGENT_PAUSED, agent, now, reason=agent.pause_reason)
            )
        else:
            agent.idle_since = now
            self._set_state(agent, AgentState.AVAILABLE, now)
        return events

    # ----- call transitions ------------------------------------------------------

    def enqueue(
        self,
        call_id: str,
        queue: str,
        now: float,
        *,
        priority: int = 0,
        required: Mapping[str, int] | None = None,
    ) -> list[AcdEvent]:
        """A caller enters ``queue``."""
        qi = self._index(queue)
        if call_id in self._calls:
            raise DuplicateCall("call already in the ACD", call_id=call_id)
        req = dict(required or {})
        if any(not isinstance(v, int) or isinstance(v, bool) for v in req.values()):
            raise InvalidAcdInput("required skill levels are integers", call_id=call_id)
        self._seq += 1
        call = WaitingCall(call_id, queue, priority, req, now, now, self._seq)
        self._calls[call_id] = call
        qi.calls.add(call)
        return [AcdEvent(EventKind.CALL_ENQUEUED, now, queue=queue, call_id=call_id)]

    def restore(
        self,
        call_id: str,
        queue: str,
        now: float,
        *,
        enqueued_at: float | None = None,
        arrived_at: float | None = None,
        priority: int = 0,
        required: Mapping[str, int] | None = None,
        agent_id: str | None = None,
        answered_at: float | None = None,
    ) -> list[AcdEvent]:
        """A call found again after a restart, as it was: not a new offer.

        Without ``agent_id`` the caller waits in ``queue`` since ``enqueued_at`` (in the
        ACD since ``arrived_at``, which orders it and drives skill relaxation); with it,
        the caller is already talking to that agent (who must be available: just logged
        in again) since ``answered_at``. Times default to ``now`` and never lie after it.
        The one event, ``call_restored``, is counted by no statistic: the call was
        offered (and answered) before the restart.
        """
        qi = self._index(queue)
        if call_id in self._calls:
            raise DuplicateCall("call already in the ACD", call_id=call_id)
        req = dict(required or {})
        if any(not isinstance(v, int) or isinstance(v, bool) for v in req.values()):
            raise InvalidAcdInput("required skill levels are integers", call_id=call_id)
        entered = min(now, enqueued_at if enqueued_at is not None else now)
        arrived = min(entered, arrived_at if arrived_at is not None else entered)
        agent = self.agent(agent_id) if agent_id is not None else None
        if agent is not None:
            if agent.state is not AgentState.AVAILABLE:
                raise self._illegal(agent, "restore", call_id=call_id)
            if queue not in agent.queues:
                raise IllegalTransition(
                    "agent does not serve this queue", agent_id=agent.id, queue=queue
                )
        self._seq += 1
        call = WaitingCall(call_id, queue, priority, req, entered, arrived, self._seq)
        self._calls[call_id] = call
        if agent is None:
            qi.calls.add(call)
            return [
                AcdEvent(
                    EventKind.CALL_RESTORED,
                    now,
                    queue=queue,
                    call_id=call_id,
                    reason="waiting",
                    wait_s=now - entered,
                )
            ]
        call.status = CallStatus.CONNECTED
        call.agent_id = agent.id
        call.offered_to.append(agent.id)
        call.answered_at = min(now, max(entered, answered_at if answered_at is not None else now))
        agent.call_id = call_id
        agent.call_queue = queue
        agent.calls_taken += 1
        self._set_state(agent, AgentState.ON_CALL, now)
        return [
            AcdEvent(
                EventKind.CALL_RESTORED,
                now,
                queue=queue,
                agent_id=agent.id,
                call_id=call_id,
                state=AgentState.ON_CALL,
                reason="talking",
                duration_s=now - call.answered_at,
            )
        ]

    def abandon(self, call_id: str, now: float) -> list[AcdEvent]:
        """The caller hung up before being connected; ringing agents are released."""
        call = self.call(call_id)
        if call.status is CallStatus.CONNECTED:
            raise IllegalTransition(
                "a connected call ends with hangup", call_id=call_id, action="abandon"
            )
        events: list[AcdEvent] = []
        if call.status is CallStatus.WAITING:
            self._index(call.queue).calls.remove(call)
        else:
            events += self._release(call, sorted(call.ringing), now)
            self._offered.discard(call_id)
        del self._calls[call_id]
        events.append(
            AcdEvent(
                EventKind.CALL_ABANDONED,
                now,
                queue=call.queue,
                call_id=call_id,
                wait_s=now - call.enqueued_at,
            )
        )
        return events

    def reserve(self, call_id: str, agent_ids: Iterable[str], now: float) -> list[AcdEvent]:
        """Offer a waiting call to available agents (several only on a ring-all queue)."""
        call = self.call(call_id)
        ids = list(dict.fromkeys(agent_ids))
        if call.status is not CallStatus.WAITING:
            raise IllegalTransition(
                "only a waiting call can be offered", call_id=call_id, status=call.status
            )
        qi = self._index(call.queue)
        if not ids:
            raise InvalidAcdInput("no agent to offer the call to", call_id=call_id)
        if len(ids) > 1 and qi.config.strategy is not Strategy.RING_ALL:
            raise InvalidAcdInput("several agents only on a ring-all queue", call_id=call_id)
        req = qi.relaxer.effective(
            requirement_of(call.required), qi.relaxer.stage(call.arrived_at, now)
        )
        agents = [self.agent(a) for a in ids]
        for agent in agents:
            if agent.state is not AgentState.AVAILABLE:
                raise self._illegal(agent, "reserve", call_id=call_id)
            if call.queue not in agent.queues:
                raise IllegalTransition(
                    "agent does not serve this queue", agent_id=agent.id, queue=call.queue
                )
            if not meets(agent.skills, req):
                raise IllegalTransition(
                    "agent lacks a required skill", agent_id=agent.id, call_id=call_id
                )
            if len(agents) > 1 and agent.mode is not AgentMode.RING:
                raise InvalidAcdInput("ring-all offers only to ring-mode agents", agent_id=agent.id)
        qi.calls.remove(call)
        call.status = CallStatus.OFFERED
        call.ringing = set(ids)
        call.offered_to.extend(ids)
        call.offered_at = now
        self._offered.add(call_id)
        events = []
        for agent in agents:
            agent.call_id = call_id
            agent.call_queue = call.queue
            self._set_state(agent, AgentState.RESERVED, now)
            events.append(
                self._agent_event(EventKind.CALL_OFFERED, agent, now, queue=call.queue, call=call)
            )
        if len(agents) == 1 and qi.config.strategy is Strategy.ROUND_ROBIN:
            qi.agents.rr_last = (agents[0].queues[call.queue].position, agents[0].id)
        return events

    def answered(self, call_id: str, agent_id: str, now: float) -> list[AcdEvent]:
        """``agent_id`` answered the offered call; other ringing agents are released.

        A second answer on a ring-all offer raises :class:`IllegalTransition`: that
        agent lost the race and its leg must be hung up.
        """
        call = self.call(call_id)
        agent = self.agent(agent_id)
        if call.status is not CallStatus.OFFERED or agent_id not in call.ringing:
            raise IllegalTransition(
                "call is not ringing this agent", call_id=call_id, agent_id=agent_id
            )
        others = sorted(call.ringing - {agent_id})
        events = self._release(call, others, now)
        call.ringing = set()
        call.status = CallStatus.CONNECTED
        call.agent_id = agent_id
        call.answered_at = now
        self._offered.discard(call_id)
        agent.calls_taken += 1
        self._set_state(agent, AgentState.ON_CALL, now)
        events.append(
            AcdEvent(
                EventKind.CALL_ANSWERED,
                now,
                queue=call.queue,
                agent_id=agent_id,
                call_id=call_id,
                state=AgentState.ON_CALL,
                wait_s=now - call.enqueued_at,
            )
        )
        return events

    def ring_no_answer(self, agent_id: str, now: float) -> list[AcdEvent]:
        """A reserved agent did not answer: paused "no answer"; the call goes back to
        its original place in the queue once nobody else is ringing."""
        agent = self.agent(agent_id)
        if agent.state is not AgentState.RESERVED or agent.call_id is None:
            raise self._illegal(agent, "ring_no_answer")
        call = self._calls[agent.call_id]
        call.ringing.discard(agent_id)
        agent.call_id = agent.call_queue = None
        agent.pause_reason = NO_ANSWER
        agent.pending_pause = None
        self._set_state(agent, AgentState.PAUSED, now)
        events = [
            self._agent_event(EventKind.RING_NO_ANSWER, agent, now, queue=call.queue, call=call),
            self._agent_event(EventKind.AGENT_PAUSED, agent, now, reason=NO_ANSWER),
        ]
        if not call.ringing:
            events.append(self._requeue(call, now))
        return events

    def ring_timeout(self, call_id: str, now: float) -> list[AcdEvent]:
        """Every agent still ringing for ``call_id`` did not answer."""
        call = self.call(call_id)
        if call.status is not CallStatus.OFFERED:
            raise IllegalTransition("call is not ringing", call_id=call_id)
        events: list[AcdEvent] = []
        for agent_id in sorted(call.ringing):
            events += self.ring_no_answer(agent_id, now)
        return events

    def hangup(self, call_id: str, now: float) -> list[AcdEvent]:
        """A connected call ends; its agent goes to wrap-up (or straight on if none)."""
        call = self.call(call_id)
        if call.status is not CallStatus.CONNECTED or call.agent_id is None:
            raise IllegalTransition("call is not connected", call_id=call_id)
        agent = self._agents[call.agent_id]
        del self._calls[call_id]
        talk = now - (call.answered_at if call.answered_at is not None else now)
        agent.call_id = None
        agent.last_call_end = now
        agent.wrapup_until = now + self._index(call.queue).config.wrapup_s
        self._set_state(agent, AgentState.WRAP_UP, now)
        self._wrapping.add(agent.id)
        events = [
            self._agent_event(
                EventKind.CALL_ENDED, agent, now, queue=call.queue, call=call, duration=talk
            ),
            self._agent_event(EventKind.WRAPUP_STARTED, agent, now, queue=call.queue),
        ]
        if agent.wrapup_until <= now:
            events += self.wrapup_done(agent.id, now)
        return events

    def overflow(self, call_id: str, now: float) -> list[AcdEvent]:
        """Send a waiting call to its queue's overflow target (another queue keeps the
        caller's arrival time for ordering and relaxation)."""
        call = self.call(call_id)
        qi = self._index(call.queue)
        target = qi.config.overflow
        if call.status is not CallStatus.WAITING or target is None:
            raise IllegalTransition("call cannot overflow", call_id=call_id, status=call.status)
        wait = now - call.enqueued_at
        event = AcdEvent(
            EventKind.CALL_OVERFLOWED,
            now,
            queue=call.queue,
            call_id=call_id,
            wait_s=wait,
            reason=target.kind.value,
            target=target.target,
        )
        if target.kind is OverflowKind.QUEUE:
            dest = self._index(target.target)
            qi.calls.remove(call)
            call.queue = target.target
            call.enqueued_at = now
            dest.calls.add(call)
            return [
                event,
                AcdEvent(
                    EventKind.CALL_ENQUEUED,
                    now,
                    queue=dest.config.name,
                    call_id=call_id,
                    reason="overflow",
                ),
            ]
        qi.calls.remove(call)
        del self._calls[call_id]
        return [event]

    # ----- outbound calls with an agent reserved first ---------------------------

    def hold_for_outbound(
        self, call_id: str, queue: str, agent_id: str, now: float
    ) -> list[AcdEvent]:
        """Reserve an available agent of ``queue`` for an outbound call not placed yet
        (a preview, a callback): the agent is offered the call first and no other call
        can take them. The call enters the queue's figures only once answered
        (:meth:`outbound_answered`); :meth:`release_outbound` frees the agent if not."""
        self._index(queue)
        agent = self.agent(agent_id)
        if call_id in self._calls:
            raise DuplicateCall("call already in the ACD", call_id=call_id)
        if agent.state is not AgentState.AVAILABLE:
            raise self._illegal(agent, "hold_for_outbound", call_id=call_id)
        if queue not in agent.queues:
            raise IllegalTransition(
                "agent does not serve this queue", agent_id=agent_id, queue=queue
            )
        self._seq += 1
        call = WaitingCall(call_id, queue, 0, {}, now, now, self._seq)
        call.status = CallStatus.OFFERED
        call.ringing = {agent_id}
        call.offered_to.append(agent_id)
        self._calls[call_id] = call
        agent.call_id = call_id
        agent.call_queue = queue
        self._set_state(agent, AgentState.RESERVED, now)
        return [
            self._agent_event(
                EventKind.CALL_OFFERED, agent, now, queue=queue, call=call, reason="outbound"
            )
        ]

    def outbound_answered(self, call_id: str, now: float) -> list[AcdEvent]:
        """The held outbound call was answered and is being put through to its agent:
        it counts as offered to the queue now, and the ring timeout guards the connect."""
        call = self.call(call_id)
        if call.status is not CallStatus.OFFERED or call.offered_at is not None:
            raise IllegalTransition("not a held outbound call", call_id=call_id)
        call.enqueued_at = call.arrived_at = now
        call.offered_at = now
        self._offered.add(call_id)
        return [
            AcdEvent(
                EventKind.CALL_ENQUEUED, now, queue=call.queue, call_id=call_id, reason="outbound"
            )
        ]

    def release_outbound(self, call_id: str, now: float) -> list[AcdEvent]:
        """The held outbound call will not reach its agent (not answered, skipped):
        the agent is free again (or takes a pause asked for meanwhile), no penalty."""
        call = self.call(call_id)
        if call.status is not CallStatus.OFFERED or call.offered_at is not None:
            raise IllegalTransition("not a held outbound call", call_id=call_id)
        events = self._release(call, sorted(call.ringing), now)
        del self._calls[call_id]
        return events

    def is_held_outbound(self, call_id: str) -> bool:
        """A held outbound call not answered yet."""
        call = self._calls.get(call_id)
        return call is not None and call.status is CallStatus.OFFERED and call.offered_at is None

    # ----- internals -------------------------------------------------------------

    def _index(self, queue: str) -> QueueIndex:
        qi = self._queues.get(queue)
        if qi is None:
            raise UnknownQueue("no such queue", queue=queue)
        return qi

    def _join_direct_line(self, agent: Agent, queue: str) -> None:
        """A direct line configured for a known agent: the agent serves it from now on
        (counted in its state; indexed by :meth:`_configure` when available)."""
        agent.queues[queue] = Membership()
        if agent.state is not AgentState.LOGGED_OUT:
            counts = self._counts.setdefault(queue, {})
            counts[agent.state] = counts.get(agent.state, 0) + 1

    def _set_state(self, agent: Agent, state: AgentState, now: float) -> None:
        old = agent.state
        if old is AgentState.AVAILABLE:
            for queue in agent.queues:
                qa = self._queues[queue].agents
                qa.remove(agent.id)
                if not qa.key_of:
                    self._staffed.discard(queue)
        for queue in agent.queues:
            counts = self._counts[queue]
            if old is not AgentState.LOGGED_OUT:
                counts[old] -= 1
            if state is not AgentState.LOGGED_OUT:
                counts[state] = counts.get(state, 0) + 1
        agent.state = state
        agent.since = now
        if state is AgentState.AVAILABLE:
            for queue, m in agent.queues.items():
                self._queues[queue].agents.add(agent, m.penalty, m.position)
                self._staffed.add(queue)

    def _release(self, call: WaitingCall, agent_ids: list[str], now: float) -> list[AcdEvent]:
        """Agents reserved for ``call`` go back to available, keeping their idle time."""
        events = []
        for agent_id in agent_ids:
            agent = self._agents[agent_id]
            agent.call_id = agent.call_queue = None
            call.ringing.discard(agent_id)
            if agent.pending_pause is not None:
                agent.pause_reason, agent.pending_pause = agent.pending_pause, None
                self._set_state(agent, AgentState.PAUSED, now)
            else:
                self._set_state(agent, AgentState.AVAILABLE, now)
            events.append(
                self._agent_event(EventKind.OFFER_RELEASED, agent, now, queue=call.queue, call=call)
            )
        return events

    def _requeue(self, call: WaitingCall, now: float) -> AcdEvent:
        call.status = CallStatus.WAITING
        call.offered_at = None
        self._offered.discard(call.call_id)
        self._index(call.queue).calls.add(call)
        return AcdEvent(EventKind.CALL_REQUEUED, now, queue=call.queue, call_id=call.call_id)

    def _end_wrapup(self, agent: Agent, now: float, then: AgentState) -> list[AcdEvent]:
        self._wrapping.discard(agent.id)
        queue, agent.call_queue, agent.wrapup_until = agent.call_queue, None, None
        return [
            self._agent_event(
                EventKind.WRAPUP_ENDED, agent, now, then, queue=queue, duration=now - agent.since
            )
        ]

    @staticmethod
    def _agent_event(
        kind: EventKind,
        agent: Agent,
        now: float,
        state: AgentState | None = None,
        *,
        queue: str | None = None,
        call: WaitingCall | None = None,
        reason: str | None = None,
        duration: float | None = None,
    ) -> AcdEvent:
        return AcdEvent(
            kind,
            now,
            queue=queue,
            agent_id=agent.id,
            call_id=call.call_id if call is not None else None,
            state=state if state is not None else agent.state,
            reason=reason,
            duration_s=duration,
        )

    @staticmethod
    def _illegal(agent: Agent, action: str, **details: object) -> IllegalTransition:
        return IllegalTransition(
            f"agent cannot {action} while {agent.state.value}",
            agent_id=agent.id,
            state=agent.state.value,
            action=action,
            **details,
        )
