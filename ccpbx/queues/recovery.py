"""Finding the ACD again after a restart, from Asterisk and PostgreSQL.

Asterisk keeps the calls: persistent agents sit in their conferences (with the
caller they were talking to), ring-mode agents are bridged with their caller, and
waiting callers are still on music on hold in the hold context. PostgreSQL keeps who
was logged in at which phone (``acd_agent_sessions``) and which queue each call was
in (``acd_events``). The service rebuilds its state from both, through the engine's
``restore`` transition: a waiting caller keeps the time it entered its queue (from the
event log; else the wait context's CCPBX_QUEUE_SINCE, else the channel's creation
time), its priority and skills (the queue script's channel variables), and so its
place; a talking caller stays with its agent. Neither counts as a new offer or
answer, and the statistics counters are rebuilt from what was stored, so offered,
answered and abandoned counts go on unchanged across a restart. A caller for one agent
waits in that agent's direct line, whose name (``agent-1001``) is the hold context's
extension: the line is opened again and the caller waits for that agent only.

:func:`recover` is handed what it reads (AMI client, channel view, phone connections,
database) and the floor it fills; it returns what it found, for the service's status.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
from collections.abc import Callable

import structlog

from ccpbx.acd import AcdEvent, AgentMode, AgentState
from ccpbx.acd.stats import HISTORY_S, MINUTE_S, RECENT_S
from ccpbx.ami import AmiClient
from ccpbx.ami.channels import Channel, ChannelView
from ccpbx.callcontrol.persistent import PersistentAgentConnections
from ccpbx.queues import store
from ccpbx.queues.floor import QueueFloor, recovered_event
from ccpbx.queues.model import (
    HOLD_CONTEXTS,
    CallLeg,
    Session,
    direct_line_agent,
    parse_skills,
)
from ccpbx.store.db import Executor

log = structlog.get_logger(__name__)

WAITING_APPS = frozenset({"MusicOnHold", "AGI"})
PRIORITY_VAR = "CCPBX_QUEUE_PRIORITY"
SKILLS_VAR = "CCPBX_QUEUE_SKILLS"
SINCE_VAR = "CCPBX_QUEUE_SINCE"
"""Set by the wait context when the caller first reaches it (epoch seconds)."""


async def recover(
    floor: QueueFloor,
    *,
    ami: AmiClient,
    channels: ChannelView,
    persistent: PersistentAgentConnections,
    pool: Callable[[], Executor] | None,
    clock: Callable[[], float],
) -> dict[str, list[str]]:
    """Rebuild the floor; called by the service's worker before anything else runs.
    Returns the ids found again: ``agents`` logged in, callers ``talking``, ``waiting``."""
    await ami.wait_ready(None)
    if channels.resyncs == 0:
        await channels.wait_resync(0, 30)
    sessions: list[tuple[str, str, AgentMode, str | None]] = []
    if pool is not None:
        db = pool()
        loaded = [s for s in await store.load_queues(db) if s.name not in floor.specs]
        # Every queue first, then their overflows (which may name each other).
        for spec in loaded:
            bare = dataclasses.replace(spec.config, overflow=None)
            floor.set_spec(dataclasses.replace(spec, config=bare))
        for spec in loaded:
            floor.set_spec(spec)
        sessions = await store.load_sessions(db)
        await _restore_stats(floor, pool(), clock())
    legs = await persistent.recover()
    now = clock()
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
            floor.write(functools.partial(store.delete_session, agent=agent))
            continue
        known = floor.state.agents.get(agent)
        if known is not None and known.state is not AgentState.LOGGED_OUT:
            continue
        try:
            record = await store.load_agent(pool(), agent)  # type: ignore[misc]
            events += floor.state.login(record.profile(mode), now, paused=pause)
        except Exception as exc:
            log.warning("acd_session_not_restored", agent=agent, error=repr(exc))
            continue
        floor.sessions[agent] = Session(agent, endpoint, mode)
        logged.append(agent)

    # Talking calls: callers in a persistent agent's conference, or bridged with a
    # ring-mode agent's phone.
    talking: dict[str, tuple[str, str]] = {}  # caller uniqueid -> (agent, agent channel)
    for agent in legs:
        leg = persistent.leg(agent)
        if leg is not None and agent in floor.sessions:
            for caller in leg.callers:
                talking[caller] = (agent, leg.channel)
    ring_agents = {s.endpoint: s.agent for s in floor.sessions.values() if s.mode is AgentMode.RING}
    ring_legs: dict[str, str] = {}  # caller uniqueid -> the ring-mode agent's leg
    for chan in live.values():
        if chan.context in HOLD_CONTEXTS and chan.bridge_id:
            for other in by_bridge.get(chan.bridge_id, []):
                endpoint = other.channel.removeprefix("PJSIP/").rsplit("-", 1)[0]
                if other is not chan and endpoint in ring_agents:
                    talking[chan.uniqueid] = (ring_agents[endpoint], other.channel)
                    ring_legs[chan.uniqueid] = other.uniqueid
    # Callers for one agent wait in that agent's direct line (the hold context's
    # extension, e.g. agent-1001, set from CCPBX_AGENT_TARGET by the queue script):
    # open those lines again, so their agent serves them and nobody else does.
    for chan in live.values():
        target = direct_line_agent(chan.exten) if chan.context in HOLD_CONTEXTS else None
        if target is not None:
            floor.open_direct_line(target)
    # Waiting callers: in a hold context, in no bridge, on music on hold or hearing
    # their position (the announcement script runs between two spells of music).
    waiting = [
        c
        for c in live.values()
        if c.context in HOLD_CONTEXTS
        and not c.bridge_id
        and c.application in WAITING_APPS
        and c.exten in floor.specs
        and c.uniqueid not in talking
    ]
    # When and where each call entered its queue, as stored; else the time the wait
    # context noted (CCPBX_QUEUE_SINCE) or the channel's creation time (whole seconds).
    entered: dict[str, store.CallEntry] = {}
    if pool is not None:
        ids = sorted({*talking, *(c.uniqueid for c in waiting)})
        entered = await store.call_queues(pool(), ids)
        for stored in entered.values():  # a persistent agent's caller of a direct line
            target = direct_line_agent(stored.queue)
            if target is not None:
                floor.open_direct_line(target)

    def entry(chan: Channel, noted: float | None) -> store.CallEntry:
        stored = entered.get(chan.uniqueid)
        if stored is not None and stored.queue in floor.specs:
            return stored
        at = noted if noted is not None else chan.created
        return store.CallEntry(chan.exten, at, at)

    resumed: list[str] = []
    for caller, (agent, agent_channel) in sorted(talking.items()):
        found = live.get(caller)
        a = floor.state.agents.get(agent)
        if found is None or a is None or a.state is not AgentState.AVAILABLE:
            continue
        where = entry(found, None)
        queue = where.queue
        if queue not in a.queues:
            queue = next((q for q in sorted(a.queues) if q in floor.specs), "")
        if not queue:
            continue
        events += floor.state.restore(
            caller,
            queue,
            now,
            enqueued_at=where.enqueued_at,
            arrived_at=where.arrived_at,
            agent_id=agent,
            answered_at=where.answered_at,
        )
        floor.legs[caller] = CallLeg(
            caller, found.channel, queue, agent, agent_channel, agent_leg=ring_legs.get(caller, "")
        )
        resumed.append(caller)

    # Waiting callers keep their place: the time they entered the ACD orders them.
    found_waiting = []
    for chan in waiting:
        variables = await _variables(ami, chan.channel)
        found_waiting.append((entry(chan, _float(variables.get(SINCE_VAR))), chan, variables))
    found_waiting.sort(key=lambda item: (item[0].arrived_at, item[1].created, item[1].uniqueid))
    for where, chan, variables in found_waiting:
        priority, skills = _attributes(variables)
        required = {**floor.specs[where.queue].required, **skills}
        events += floor.state.restore(
            chan.uniqueid,
            where.queue,
            now,
            enqueued_at=where.enqueued_at,
            arrived_at=where.arrived_at,
            priority=priority,
            required=required,
        )
        floor.legs[chan.uniqueid] = CallLeg(chan.uniqueid, chan.channel, where.queue)
    floor.publish([recovered_event(e) for e in events])
    recovered = {
        "agents": logged,
        "talking": resumed,
        "waiting": [chan.uniqueid for _, chan, _ in found_waiting],
    }
    log.info("acd_recovered", **{k: len(v) for k, v in recovered.items()})
    await asyncio.sleep(0)
    return recovered


async def _restore_stats(floor: QueueFloor, db: Executor, now: float) -> None:
    """Counters go on where the stopped process left them: the stored intervals'
    totals, then the stored events after them (queues no longer configured count for
    their agents only; agents' direct lines are opened again); the stored intervals of
    the last day and events of the last 30 minutes feed the wallboard's windows."""
    queues, agents, stored = await store.load_stats(db)
    for name in {*queues, *(e.queue for e in stored if e.queue is not None)}:
        target = direct_line_agent(name)
        if target is not None:  # an agent's direct line counted before the restart
            floor.open_direct_line(target)
    known = floor.specs
    # Fresh counters each try: a recovery that failed half-way and runs again must not
    # count anything twice.
    stats = floor.reset_stats()
    stats.seed({q: c for q, c in queues.items() if q in known}, agents)
    stats.apply_all(
        e if e.queue is None or e.queue in known else dataclasses.replace(e, queue=None)
        for e in stored
    )
    intervals, recent = await store.load_recent(
        db, intervals_since=now - HISTORY_S, events_since=now - RECENT_S - MINUTE_S
    )
    for name, closed in intervals.items():
        if name in known:
            stats.seed_intervals(name, closed)
    stats.apply_recent(e for e in recent if e.queue in known)
    log.info("acd_stats_restored", queues=len(queues), agents=len(agents), events=len(stored))


async def _variables(ami: AmiClient, channel: str) -> dict[str, str]:
    """The queue variables of a waiting caller's channel ({} if they cannot be read)."""
    out: dict[str, str] = {}
    for name in (PRIORITY_VAR, SKILLS_VAR, SINCE_VAR):
        try:
            result = await ami.action("Getvar", Channel=channel, Variable=name, timeout=5)
        except Exception as exc:
            log.info("acd_recovery_getvar_failed", channel=channel, error=repr(exc))
            return out
        value = result.response.get("Value") or ""
        if result.ok and value:
            out[name] = value
    return out


def _attributes(variables: dict[str, str]) -> tuple[int, dict[str, int]]:
    text = variables.get(PRIORITY_VAR, "0")
    priority = int(text) if text.lstrip("-").isdigit() and len(text) < 6 else 0
    return priority, parse_skills(variables.get(SKILLS_VAR, ""))


def _float(text: str | None) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None


def _channel(data: dict[str, object]) -> Channel:
    return Channel(**data)  # type: ignore[arg-type]
