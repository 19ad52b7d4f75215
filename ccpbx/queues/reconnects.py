"""Persistent agents called back after an Asterisk restart.

Their phone legs died with Asterisk (found gone after a reconnect to a restarted
Asterisk, or hung up by Asterisk's own shutdown); each agent stays logged in, paused for
``reconnecting`` (so no call is offered to it, and a campaign does not dial for it),
while a task calls the phone back (:meth:`~ccpbx.callcontrol.persistent.
PersistentAgentConnections.reconnect`: bounded tries, growing pauses, only once the
endpoint is registered again). Back in its conference, the agent is available again (or
paused as it was before); a phone that does not come back logs its agent out with the
reason. The queue service owns one :class:`AgentReconnects`; its methods run on the
service's worker, the call-back tasks only report to the worker's inbox.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import structlog

from ccpbx.acd import AcdEvent, AgentState
from ccpbx.ami.instance import AsteriskInstance

if TYPE_CHECKING:
    from ccpbx.queues.service import QueueService

log = structlog.get_logger(__name__)

RECONNECTING = "reconnecting"
"""Pause reason of a persistent agent whose phone ccpbx is calling back."""


def agent_leg_gone(service: QueueService, agent: str) -> bool:
    """The agent's persistent leg is not among Asterisk's channels (as last read)."""
    leg = service.persistent.leg(agent)
    return leg is not None and leg.joined_at is not None and leg.uniqueid not in service._channels


class AgentReconnects:
    """Agents whose phone is being called back, with the pause each goes back to."""

    def __init__(self, service: QueueService) -> None:
        self._service = service
        self._back_to: dict[str, str | None] = {}
        self._tasks: dict[str, asyncio.Task[Any]] = {}

    def __contains__(self, agent: object) -> bool:
        return agent in self._back_to

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._back_to))

    def __len__(self) -> int:
        return len(self._back_to)

    def start(self, agent: str, now: float, *, not_on: AsteriskInstance | None = None) -> None:
        """The agent's leg died with Asterisk: pause it and call its phone back (on
        another Asterisk process than ``not_on``, the one shutting down)."""
        service = self._service
        a = service.state.agents.get(agent)
        session = service.sessions.get(agent)
        if a is None or a.state is AgentState.LOGGED_OUT or session is None:
            return
        back_to = a.pause_reason if a.state is AgentState.PAUSED else a.pending_pause
        events = service.drop_call(agent, now)
        events += service.state.pause(agent, RECONNECTING, now)
        service._publish(events)
        self._back_to[agent] = None if back_to == RECONNECTING else back_to
        self._tasks[agent] = service.tasks.spawn(
            self._call_back(agent, session.endpoint, not_on), "acd-reconnect"
        )
        log.warning("acd_agent_reconnecting", agent=agent, endpoint=session.endpoint)

    async def _call_back(self, agent: str, endpoint: str, not_on: AsteriskInstance | None) -> None:
        service = self._service
        try:
            await service.persistent.reconnect(
                agent, endpoint, service.reconnect_policy, not_on=not_on
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            reason = getattr(exc, "message", None) or repr(exc)
            service._inbox.put_nowait(("reconnected", (agent, False, reason)))
        else:
            service._inbox.put_nowait(("reconnected", (agent, True, "")))

    def finished(self, agent: str, ok: bool, reason: str, *, now: float) -> None:
        """A call-back task ended: the agent is back, or logged out with ``reason``."""
        service = self._service
        self._tasks.pop(agent, None)
        if agent not in self._back_to:  # logged out meanwhile: end the new leg
            if ok:
                service._spawn(service.persistent.close(agent), "acd-close-leg")
            return
        back_to = self._back_to.pop(agent)
        a = service.state.agents.get(agent)
        if a is None or a.state is AgentState.LOGGED_OUT:
            return
        if not ok:
            service.leg_lost(agent, now, reason=f"phone_lost: {reason}")
            return
        events: list[AcdEvent] = []
        if a.state is AgentState.PAUSED and a.pause_reason == RECONNECTING:
            events = (
                service.state.unpause(agent, now)
                if back_to is None
                else service.state.pause(agent, back_to, now)
            )
        elif a.pending_pause == RECONNECTING:
            events = service.state.unpause(agent, now)  # cancels the pending pause
        service._publish(events)
        log.info("acd_agent_reconnected", agent=agent, paused=back_to)

    def stop(self, agent: str) -> None:
        """Stop calling the agent's phone back (it logged out)."""
        self._back_to.pop(agent, None)
        task = self._tasks.pop(agent, None)
        if task is not None:
            task.cancel()
