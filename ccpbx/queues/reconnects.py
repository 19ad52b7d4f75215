"""Persistent agents called back after an Asterisk restart.

Their phone legs died with Asterisk (found gone after a reconnect to a restarted
Asterisk, or hung up by Asterisk's own shutdown); each agent stays logged in, paused for
``reconnecting`` (so no call is offered to it, and a campaign does not dial for it),
while a task calls the phone back (:meth:`~ccpbx.callcontrol.persistent.
PersistentAgentConnections.reconnect`: bounded tries, growing pauses, only once the
endpoint is registered again). Back in its conference, the agent is available again (or
paused as it was before); a phone that does not come back logs its agent out with the
reason. The queue service owns one :class:`AgentReconnects`, handed the floor it
changes, the phone connections, the service's task set and a ``report`` callback; its
methods run on the service's worker, the call-back tasks only report (enqueue).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import structlog

from ccpbx.acd import AcdEvent, AgentState
from ccpbx.ami.channels import ChannelView
from ccpbx.ami.instance import AsteriskInstance
from ccpbx.callcontrol.persistent import PersistentAgentConnections
from ccpbx.callcontrol.reconnect import ReconnectPolicy
from ccpbx.queues.floor import QueueFloor
from ccpbx.queues.model import PHONE_LOST
from ccpbx.tasks import TaskSet

log = structlog.get_logger(__name__)

RECONNECTING = "reconnecting"
"""Pause reason of a persistent agent whose phone ccpbx is calling back."""

Report = Callable[[str, Any], None]


def agent_leg_gone(
    persistent: PersistentAgentConnections, channels: ChannelView, agent: str
) -> bool:
    """The agent's persistent leg is not among Asterisk's channels (as last read)."""
    leg = persistent.leg(agent)
    return leg is not None and leg.joined_at is not None and leg.uniqueid not in channels


class AgentReconnects:
    """Agents whose phone is being called back, with the pause each goes back to."""

    def __init__(
        self,
        floor: QueueFloor,
        persistent: PersistentAgentConnections,
        tasks: TaskSet,
        report: Report,
        policy: ReconnectPolicy | None = None,
    ) -> None:
        self._floor = floor
        self._persistent = persistent
        self._spawned = tasks
        self._report = report
        self.policy = policy or ReconnectPolicy()
        """How often and how long each phone is called back."""
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
        floor = self._floor
        a = floor.state.agents.get(agent)
        session = floor.sessions.get(agent)
        if a is None or a.state is AgentState.LOGGED_OUT or session is None:
            return
        back_to = a.pause_reason if a.state is AgentState.PAUSED else a.pending_pause
        events = floor.drop_call(agent, now)
        events += floor.state.pause(agent, RECONNECTING, now)
        floor.publish(events)
        self._back_to[agent] = None if back_to == RECONNECTING else back_to
        self._tasks[agent] = self._spawned.spawn(
            self._call_back(agent, session.endpoint, not_on), "acd-reconnect"
        )
        log.warning("acd_agent_reconnecting", agent=agent, endpoint=session.endpoint)

    async def _call_back(self, agent: str, endpoint: str, not_on: AsteriskInstance | None) -> None:
        try:
            await self._persistent.reconnect(agent, endpoint, self.policy, not_on=not_on)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            reason = getattr(exc, "message", None) or repr(exc)
            self._report("reconnected", (agent, False, reason))
        else:
            self._report("reconnected", (agent, True, ""))

    def finished(self, agent: str, ok: bool, reason: str, *, now: float) -> str | None:
        """A call-back task ended: the agent is back (None), or the reason to log it
        out with (its phone did not come back; the caller logs it out)."""
        floor = self._floor
        self._tasks.pop(agent, None)
        if agent not in self._back_to:  # logged out meanwhile: end the new leg
            if ok:
                self._spawned.spawn(self._persistent.close(agent), "acd-close-leg")
            return None
        back_to = self._back_to.pop(agent)
        a = floor.state.agents.get(agent)
        if a is None or a.state is AgentState.LOGGED_OUT:
            return None
        if not ok:
            return f"{PHONE_LOST}: {reason}"
        events: list[AcdEvent] = []
        if a.state is AgentState.PAUSED and a.pause_reason == RECONNECTING:
            events = (
                floor.state.unpause(agent, now)
                if back_to is None
                else floor.state.pause(agent, back_to, now)
            )
        elif a.pending_pause == RECONNECTING:
            events = floor.state.unpause(agent, now)  # cancels the pending pause
        floor.publish(events)
        log.info("acd_agent_reconnected", agent=agent, paused=back_to)
        return None

    def stop(self, agent: str) -> None:
        """Stop calling the agent's phone back (it logged out)."""
        self._back_to.pop(agent, None)
        task = self._tasks.pop(agent, None)
        if task is not None:
            task.cancel()
