"""The routing rule written the slow, obvious way, to check the indexed router against.

It reads only the public view of the state (agents, calls, queue configs) and keeps
its own round-robin memory, so it shares no index, memo or cache with the router.
"""

from __future__ import annotations

import random
from collections.abc import Mapping

from ccpbx.acd import (
    AcdState,
    Agent,
    AgentMode,
    AgentState,
    Assignment,
    CallStatus,
    Membership,
    QueueConfig,
    Strategy,
    WaitingCall,
)


def requirement_at(config: QueueConfig, call: WaitingCall, now: float) -> dict[str, int]:
    """The call's required skills after the queue's relaxation steps due at ``now``."""
    req = dict(call.required)
    for step in config.relaxation:
        if call.arrived_at + step.after_s > now:
            continue
        for skill in [step.skill] if step.skill is not None else list(req):
            if skill not in req:
                continue
            if step.optional:
                del req[skill]
            elif step.min_level is not None:
                req[skill] = min(req[skill], step.min_level)
    return req


def qualifies(agent: Agent, req: Mapping[str, int]) -> bool:
    return all(skill in agent.skills and agent.skills[skill] >= lvl for skill, lvl in req.items())


def serves(agent: Agent, queue: str, config: QueueConfig) -> bool:
    """A direct line is served by its one agent, whatever the agent's queues say; any
    other queue by the agents listing it."""
    if config.agent is not None:
        return agent.id == config.agent
    return queue in agent.queues


def membership(agent: Agent, queue: str, config: QueueConfig) -> Membership:
    """How ``agent`` serves ``queue`` (a direct line: penalty 0, position 0)."""
    return Membership() if config.agent is not None else agent.queues[queue]


def reference_assignments(
    state: AcdState,
    now: float,
    rng: random.Random,
    rr_last: Mapping[str, tuple[int, str]],
) -> list[Assignment]:
    """``rr_last``: queue -> (position, agent id) of the agent last given a call there,
    as it was then (round-robin memory)."""
    waiting = sorted(
        (c for c in state.calls.values() if c.status is CallStatus.WAITING),
        key=lambda c: (-c.priority, c.arrived_at, c.seq),
    )
    taken: set[str] = set()
    memory = dict(rr_last)
    out = []
    for call in waiting:
        queue = call.queue
        config = state.queue(queue)
        req = requirement_at(config, call, now)
        eligible = [
            a
            for a in state.agents.values()
            if a.state is AgentState.AVAILABLE
            and serves(a, queue, config)
            and a.id not in taken
            and qualifies(a, req)
        ]
        if not eligible:
            continue
        low = min(membership(a, queue, config).penalty for a in eligible)
        tier = [a for a in eligible if membership(a, queue, config).penalty == low]
        chosen = _pick(config, tier, queue, rng, memory)
        taken.update(chosen)
        out.append(Assignment(call.call_id, queue, tuple(chosen), now - call.enqueued_at))
    return out


def _pick(
    config: QueueConfig,
    tier: list[Agent],
    queue: str,
    rng: random.Random,
    memory: dict[str, tuple[int, str]],
) -> list[str]:
    strategy = config.strategy
    if strategy is Strategy.LONGEST_IDLE:
        return [min(tier, key=lambda a: (a.idle_since, a.id)).id]
    if strategy is Strategy.FEWEST_CALLS:
        return [min(tier, key=lambda a: (a.calls_taken, a.idle_since, a.id)).id]
    if strategy is Strategy.LINEAR:
        return [min(tier, key=lambda a: (membership(a, queue, config).position, a.id)).id]
    if strategy is Strategy.ROUND_ROBIN:
        order = sorted((membership(a, queue, config).position, a.id) for a in tier)
        mark = memory.get(queue)
        after = [key for key in order if mark is None or key > mark]
        chosen = after[0] if after else order[0]
        memory[queue] = chosen
        return [chosen[1]]
    if strategy is Strategy.RANDOM:
        ids = sorted(a.id for a in tier)
        return [ids[rng.randrange(len(ids))]]
    ringing = sorted(a.id for a in tier if a.mode is AgentMode.RING)
    if ringing:
        return ringing
    return [min(tier, key=lambda a: (a.idle_since, a.id)).id]
