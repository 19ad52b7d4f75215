"""Finding the ACD again after a restart, from Asterisk and PostgreSQL.

Asterisk keeps the calls: persistent agents sit in their conferences (with the
caller they were talking to), ring-mode agents are bridged with their caller, and
waiting callers are still on music on hold in the hold context. PostgreSQL keeps who
was logged in at which phone (``acd_agent_sessions``) and which queue each call was
in (``acd_events``). The service rebuilds its state from both, through the engine's
own transitions: waiting callers are enqueued at their channel's creation time, so
they keep their place and their wait.
"""

from __future__ import annotations

import asyncio
import functools
from typing import TYPE_CHECKING

import structlog

from ccpbx.acd import AcdEvent, AgentMode, AgentState
from ccpbx.ami.channels import Channel
from ccpbx.queues import store

if TYPE_CHECKING:
    from ccpbx.queues.service import QueueService

log = structlog.get_logger(__name__)


async def recover(service: QueueService) -> None:
    """Rebuild the service's state; called by its worker before anything else runs."""
    from ccpbx.queues.service import HOLD_CONTEXTS, CallLeg, Session

    ami, channels = service._ami, service._channels
    await ami.wait_ready(None)
    if channels.resyncs == 0:
        await channels.wait_resync(0, 30)
    sessions: list[tuple[str, str, AgentMode, str | None]] = []
    if service._pool is not None:
        db = service._pool()
        for spec in await store.load_queues(db):
            if spec.name not in service.specs:
                service._set_spec(spec)
        sessions = await store.load_sessions(db)
    legs = await service.persistent.recover()
    now = service._clock()
    events: list[AcdEvent] = []
    live = {c.uniqueid: c for c in map(_channel, channels.snapshot())}
    by_bridge: dict[str, list[Channel]] = {}
    for chan in live.values():
        if chan.bridge_id:
            by_bridge.setdefault(chan.bridge_id, []).append(chan)

    logged: list[str] = []
    for agent, endpoint, mode, pause in sessions:
        if mode is AgentMode.PERSISTENT and agent not in legs:
            log.info("acd_session_dropped", agent=agent, reason="no persistent leg")
            service._write(functools.partial(store.delete_session, agent=agent))
            continue
        known = service.state.agents.get(agent)
        if known is not None and known.state is not AgentState.LOGGED_OUT:
            continue
        try:
            record = await store.load_agent(service._pool(), agent)  # type: ignore[misc]
            events += service.state.login(record.profile(mode), now, paused=pause)
        except Exception as exc:
            log.warning("acd_session_not_restored", agent=agent, error=repr(exc))
            continue
        service.sessions[agent] = Session(agent, endpoint, mode)
        logged.append(agent)

    # Talking calls: callers in a persistent agent's conference, or bridged with a
    # ring-mode agent's phone.
    talking: dict[str, tuple[str, str]] = {}  # caller uniqueid -> (agent, agent channel)
    for agent in legs:
        leg = service.persistent.leg(agent)
        if leg is not None and agent in service.sessions:
            for caller in leg.callers:
                talking[caller] = (agent, leg.channel)
    ring_agents = {
        s.endpoint: s.agent for s in service.sessions.values() if s.mode is AgentMode.RING
    }
    for chan in live.values():
        if chan.context in HOLD_CONTEXTS and chan.bridge_id:
            for other in by_bridge.get(chan.bridge_id, []):
                endpoint = other.channel.removeprefix("PJSIP/").rsplit("-", 1)[0]
                if other is not chan and endpoint in ring_agents:
                    talking[chan.uniqueid] = (ring_agents[endpoint], other.channel)
    waiting = [
        c
        for c in live.values()
        if c.context in HOLD_CONTEXTS
        and not c.bridge_id
        and c.application == "MusicOnHold"
        and c.exten in service.specs
        and c.uniqueid not in talking
    ]
    # When and where each call entered its queue, as stored; the channel's creation
    # time (whole seconds from Asterisk) when the store missed it.
    entered: dict[str, tuple[str, float]] = {}
    if service._pool is not None:
        ids = sorted({*talking, *(c.uniqueid for c in waiting)})
        entered = await store.call_queues(service._pool(), ids)
    resumed: list[str] = []
    for caller, (agent, agent_channel) in sorted(talking.items()):
        found = live.get(caller)
        a = service.state.agents.get(agent)
        if found is None or a is None or a.state is not AgentState.AVAILABLE:
            continue
        chan = found
        queue, at = entered.get(caller, (chan.exten, chan.created))
        if queue not in service.specs:
            queue = next((q for q in sorted(a.queues) if q in service.specs), "")
        if not queue:
            continue
        events += service.state.enqueue(caller, queue, at)
        events += service.state.reserve(caller, [agent], now)
        events += service.state.answered(caller, agent, now)
        service.legs[caller] = CallLeg(caller, chan.channel, queue, agent, agent_channel)
        resumed.append(caller)

    # Waiting callers (on music on hold in a hold context, in no bridge), in the order
    # they entered their queue.
    def since(chan: Channel) -> float:
        stored = entered.get(chan.uniqueid)
        return stored[1] if stored is not None and stored[0] == chan.exten else chan.created

    waiting.sort(key=lambda c: (since(c), c.created, c.uniqueid))
    for chan in waiting:
        events += service.state.enqueue(chan.uniqueid, chan.exten, since(chan))
        service.legs[chan.uniqueid] = CallLeg(chan.uniqueid, chan.channel, chan.exten)
    service._publish([service.recovered_event(e) for e in events])
    service.recovered = {
        "agents": logged,
        "talking": resumed,
        "waiting": [c.uniqueid for c in waiting],
    }
    log.info("acd_recovered", **{k: len(v) for k, v in service.recovered.items()})
    await asyncio.sleep(0)


def _channel(data: dict[str, object]) -> Channel:
    return Channel(**data)  # type: ignore[arg-type]
