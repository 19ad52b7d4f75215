"""Incremental per-queue indexes that keep a routing decision away from full scans.

:class:`QueueIndex` holds, for one queue:

- the *available* agents serving it, by penalty tier, each tier a list sorted by the
  queue strategy's key (``key[-1]`` is always the agent id), plus an append-only log of
  agents added, so a router can tell which agents are new since it last looked;
- the *waiting* calls, in buckets of equal (priority, required skills), each bucket
  sorted by arrival. Relaxation is a function of the wait, so inside a bucket a later
  call's effective requirement is never weaker than an earlier one's: if a bucket's
  head cannot be served, nobody behind it can;
- memos the router fills: requirements that no available agent met (and at which
  agent-log version), and whether the whole queue was found unservable.

Only :class:`~ccpbx.acd.state.AcdState` adds and removes entries.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ccpbx.acd.model import Agent, QueueConfig, RelaxationStep, Strategy, WaitingCall

Requirement = tuple[tuple[str, int], ...]
"""Required skills as sorted (skill, min level) pairs."""

AgentKey = tuple[Any, ...]
"""A strategy's sort key for an available agent; the agent id is always last."""
CallEntry = tuple[float, int, str]
"""(arrived_at, seq, call_id): a waiting call's place in its bucket."""
BucketKey = tuple[int, Requirement]
"""(priority, required skills as asked)."""


def requirement_of(required: dict[str, int]) -> Requirement:
    return tuple(sorted(required.items()))


def meets(skills: dict[str, int], req: Requirement) -> bool:
    """Whether an agent with ``skills`` has every skill of ``req`` at its minimum level."""
    for skill, level in req:
        have = skills.get(skill)
        if have is None or have < level:
            return False
    return True


class Relaxer:
    """A queue's relaxation steps: which requirement holds for a call at a time."""

    __slots__ = ("_afters", "_cache", "_steps")

    def __init__(self, steps: Iterable[RelaxationStep]) -> None:
        self._steps = tuple(steps)
        self._afters = [s.after_s for s in self._steps]
        self._cache: dict[tuple[Requirement, int], Requirement] = {}

    def stage(self, arrived_at: float, now: float) -> int:
        """How many steps apply: a step applies once ``arrived_at + after_s <= now``."""
        afters = self._afters
        if not afters:
            return 0
        stage = bisect.bisect_right(afters, now - arrived_at)
        # Keep the comparison in absolute times, the same as next_change().
        while stage < len(afters) and arrived_at + afters[stage] <= now:
            stage += 1
        while stage > 0 and arrived_at + afters[stage - 1] > now:
            stage -= 1
        return stage

    def next_change(self, arrived_at: float, stage: int) -> float | None:
        """When the next step would apply to a call at ``stage`` (None: no more steps)."""
        if stage < len(self._afters):
            return arrived_at + self._afters[stage]
        return None

    def effective(self, asked: Requirement, stage: int) -> Requirement:
        """The requirement left of ``asked`` after the first ``stage`` steps."""
        if stage == 0 or not asked:
            return asked
        cached = self._cache.get((asked, stage))
        if cached is not None:
            return cached
        req = dict(asked)
        for step in self._steps[:stage]:
            targets = [step.skill] if step.skill is not None else list(req)
            for skill in targets:
                if skill not in req:
                    continue
                if step.optional:
                    del req[skill]
                elif step.min_level is not None:
                    req[skill] = min(req[skill], step.min_level)
        out = requirement_of(req)
        self._cache[(asked, stage)] = out
        return out


def agent_key(strategy: Strategy, agent: Agent, position: int) -> AgentKey:
    """The sort key of an available agent in a queue of ``strategy`` (agent id last)."""
    if strategy is Strategy.LONGEST_IDLE:
        return (agent.idle_since, agent.id)
    if strategy is Strategy.FEWEST_CALLS:
        return (agent.calls_taken, agent.idle_since, agent.id)
    if strategy in (Strategy.ROUND_ROBIN, Strategy.LINEAR):
        return (position, agent.id)
    return (agent.id,)


@dataclass(slots=True)
class QueueAgents:
    """Available agents of one queue, tiered by penalty and sorted by strategy key."""

    strategy: Strategy
    tiers: dict[int, list[AgentKey]] = field(default_factory=dict)
    penalties: list[int] = field(default_factory=list)
    key_of: dict[str, tuple[int, AgentKey]] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)
    log_base: int = 0
    rr_last: AgentKey | None = None

    @property
    def version(self) -> int:
        return self.log_base + len(self.log)

    def add(self, agent: Agent, penalty: int, position: int) -> None:
        key = agent_key(self.strategy, agent, position)
        tier = self.tiers.get(penalty)
        if tier is None:
            tier = self.tiers[penalty] = []
            bisect.insort(self.penalties, penalty)
        bisect.insort(tier, key)
        self.key_of[agent.id] = (penalty, key)
        self.log.append(agent.id)
        if len(self.log) > 4 * len(self.key_of) + 256:
            # Memos older than the new base fall back to a full scan once.
            self.log_base += len(self.log)
            self.log.clear()

    def remove(self, agent_id: str) -> None:
        penalty, key = self.key_of.pop(agent_id)
        tier = self.tiers[penalty]
        i = bisect.bisect_left(tier, key)
        del tier[i]
        if not tier:
            del self.tiers[penalty]
            self.penalties.remove(penalty)

    def added_since(self, version: int) -> list[str] | None:
        """Agents added since ``version`` (None if the log no longer reaches back)."""
        if version < self.log_base:
            return None
        return self.log[version - self.log_base :]


Head = tuple[int, float, int, BucketKey]
"""(-priority, arrived_at, seq, bucket key): a bucket head's place in routing order."""


@dataclass(slots=True)
class QueueCalls:
    """Waiting calls of one queue, bucketed by (priority, asked requirement)."""

    buckets: dict[BucketKey, list[CallEntry]] = field(default_factory=dict)
    count: int = 0
    version: int = 0
    """Bumped whenever a call is added (removals never make a queue more servable)."""
    added_at: dict[BucketKey, int] = field(default_factory=dict)
    """Bucket -> ``version`` right after its latest addition."""
    _heads: list[Head] | None = None

    def add(self, call: WaitingCall) -> None:
        key = (call.priority, requirement_of(call.required))
        bucket = self.buckets.get(key)
        if bucket is None:
            bucket = self.buckets[key] = []
        entry = (call.arrived_at, call.seq, call.call_id)
        i = bisect.bisect_right(bucket, entry)
        bucket.insert(i, entry)
        self.count += 1
        self.version += 1
        self.added_at[key] = self.version
        if i == 0:
            self._heads = None

    def remove(self, call: WaitingCall) -> None:
        key = (call.priority, requirement_of(call.required))
        bucket = self.buckets[key]
        entry = (call.arrived_at, call.seq, call.call_id)
        i = bisect.bisect_left(bucket, entry)
        if i >= len(bucket) or bucket[i] != entry:
            raise KeyError(call.call_id)
        del bucket[i]
        if not bucket:
            del self.buckets[key]
            del self.added_at[key]
        self.count -= 1
        if i == 0:
            self._heads = None

    def heads(self) -> list[Head]:
        """Every bucket's head, in routing order (cached until a head changes)."""
        heads = self._heads
        if heads is None:
            heads = self._heads = sorted(
                (-key[0], bucket[0][0], bucket[0][1], key) for key, bucket in self.buckets.items()
            )
        return heads


@dataclass(slots=True)
class QueueIndex:
    """Everything routing keeps per queue."""

    config: QueueConfig
    relaxer: Relaxer
    agents: QueueAgents
    calls: QueueCalls = field(default_factory=QueueCalls)
    dead: dict[Requirement, int] = field(default_factory=dict)
    """Requirement -> agent-log version at which no available agent met it."""
    quiet: tuple[int, int, float, tuple[str, ...], tuple[str, ...]] | None = None
    """(agent version, call version, until, promised agents, promised calls): when the
    router last looked, nothing else in this queue was routable; that holds until agents
    or calls are added or ``until`` (the next relaxation step) passes, provided the
    offers it made then were taken up."""

    @classmethod
    def new(cls, config: QueueConfig) -> QueueIndex:
        return cls(config, Relaxer(config.relaxation), QueueAgents(config.strategy))

    def forget_memos(self) -> None:
        self.dead.clear()
        self.quiet = None
