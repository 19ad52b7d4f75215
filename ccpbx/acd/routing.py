"""Which waiting call goes to which free agent, now.

The rule (the brute-force reference in ``tests/acd`` states it in a dozen lines):
take waiting calls across all queues, highest priority first, then earliest arrival;
for each, the eligible agents are those available, serving its queue and meeting its
required skills after the queue's relaxation at ``now``, not already given a call in
this pass; among them the lowest penalty tier wins, and the queue's strategy picks
inside that tier. A call with no eligible agent keeps waiting.

Doing that by scanning every call against every agent would cost milliseconds at
contact-center scale, so :func:`next_assignments` only looks at queues that have an
available agent (the state keeps that set, so queues nobody can serve now, such as the
direct lines of agents on a call, cost nothing) and have changed since they were last
found unservable, and at the
head of each (priority, requirement) bucket of those queues (see
:mod:`ccpbx.acd.index`). A requirement that no available agent met is remembered with
the agent-log version; next time only the agents added since are checked.

Routing never changes agent or call state: :func:`assign` applies the decisions
through :meth:`AcdState.reserve`. The memos it updates change no outcome.
"""

from __future__ import annotations

import bisect
import functools
import heapq
import math
import random
from collections.abc import Callable

from ccpbx.acd.index import AgentKey, BucketKey, Head, QueueIndex, Requirement, meets
from ccpbx.acd.model import AcdEvent, AgentMode, AgentState, Assignment, CallStatus, Strategy
from ccpbx.acd.state import AcdState

_ORDERED = (Strategy.LONGEST_IDLE, Strategy.FEWEST_CALLS, Strategy.LINEAR)


class _Pass:
    """What one routing pass has promised so far."""

    __slots__ = ("rng", "rr", "state", "taken")

    def __init__(self, state: AcdState, rng: random.Random) -> None:
        self.state = state
        self.rng = rng
        self.taken: set[str] = set()
        self.rr: dict[str, AgentKey | None] = {}


def next_assignments(
    state: AcdState, now: float, *, rng: random.Random | None = None
) -> list[Assignment]:
    """Every offer to make at ``now``, in the order the rule makes them.

    ``rng`` (default: the state's) drives the random strategy. The result is valid
    until the state changes; apply it with :meth:`AcdState.reserve` or :func:`assign`.
    """
    run = _Pass(state, state.rng if rng is None else rng)
    queues = state._queues
    heap: list[_Entry] = []
    relax_at: dict[str, float] = {}
    cursors: dict[str, _Cursor] = {}
    for name in state._staffed:
        qi = queues[name]
        qa, calls = qi.agents, qi.calls
        if not calls.count:
            continue
        quiet = qi.quiet
        if (
            quiet is not None
            and now < quiet[2]
            and not any(a in qa.key_of for a in quiet[3])
            and not any(_still_waiting(state, c, name) for c in quiet[4])
        ):
            # Every head here was unservable when last looked at (but for the offers
            # made then, now taken up); only agents added since, or buckets that got a
            # call since, can change that.
            agent_v, call_v, until, _, _ = quiet
            if agent_v == qa.version and call_v == calls.version:
                continue
            new = qa.added_since(agent_v)
            if new is not None:
                fresh = [a for a in dict.fromkeys(new) if a in qa.key_of]
                renewed = (
                    [k for k, v in calls.added_at.items() if v > call_v]
                    if call_v != calls.version
                    else []
                )
                if not fresh and not renewed:
                    qi.quiet = (qa.version, calls.version, until, (), ())
                    continue
                relax_at[name] = until
                for key in renewed:
                    arrived, seq, _ = calls.buckets[key][0]
                    heap.append((-key[0], arrived, seq, name, key, 0, -1))
                if fresh:
                    cursors[name] = _Cursor(calls.heads(), fresh, set(renewed))
                    _advance(run, qi, cursors[name], 0, now, heap.append)
                continue
        relax_at[name] = math.inf
        for key, bucket in calls.buckets.items():
            arrived, seq, _ = bucket[0]
            heap.append((-key[0], arrived, seq, name, key, 0, -1))
    heapq.heapify(heap)
    out: list[Assignment] = []
    free = {name: len(queues[name].agents.key_of) for name in relax_at}
    agents = state._agents
    while heap:
        _, _, _, name, bkey, i, cursor = heapq.heappop(heap)
        qi = queues[name]
        bucket = qi.calls.buckets[bkey]
        arrived, _, call_id = bucket[i]
        stage = qi.relaxer.stage(arrived, now)
        found = _find(run, qi, qi.relaxer.effective(bkey[1], stage)) if free[name] else []
        if not found:
            # Nobody (None) or only agents promised in this pass ([]) can take this
            # bucket's head, so the same holds for every call behind it.
            change = qi.relaxer.next_change(arrived, stage)
            if change is not None and change < relax_at[name]:
                relax_at[name] = change
        else:
            run.taken.update(found)
            for agent_id in found:
                for queue in agents[agent_id].queues:
                    if queue in free:
                        free[queue] -= 1
            wait = now - state._calls[call_id].enqueued_at
            out.append(Assignment(call_id, name, tuple(found), wait))
            if i + 1 < len(bucket):
                arrived, seq, _ = bucket[i + 1]
                heapq.heappush(heap, (-bkey[0], arrived, seq, name, bkey, i + 1, -1))
        if cursor >= 0 and free[name]:
            push = functools.partial(heapq.heappush, heap)
            _advance(run, qi, cursors[name], cursor + 1, now, push)
    promised: dict[str, list[str]] = {}
    for assignment in out:
        promised.setdefault(assignment.queue, []).append(assignment.call_id)
    for name, until in relax_at.items():
        qi = queues[name]
        # Trusted only once the offers made here are taken up: the promised agents no
        # longer available and the promised calls no longer waiting.
        blockers = tuple(a for a in run.taken if a in qi.agents.key_of)
        qi.quiet = (
            qi.agents.version,
            qi.calls.version,
            until,
            blockers,
            tuple(promised.get(name, ())),
        )
    return out


def _still_waiting(state: AcdState, call_id: str, queue: str) -> bool:
    call = state._calls.get(call_id)
    return call is not None and call.queue == queue and call.status is CallStatus.WAITING


_Entry = tuple[int, float, int, str, BucketKey, int, int]
"""(-priority, arrived_at, seq, queue, bucket, index in bucket, cursor position or -1)."""


class _Cursor:
    """Walks a quiet queue's bucket heads for the ones an agent added since can take."""

    __slots__ = ("fresh", "heads", "skip")

    def __init__(self, heads: list[Head], fresh: list[str], skip: set[BucketKey]) -> None:
        self.heads = heads
        self.fresh = fresh
        self.skip = skip


def _advance(
    run: _Pass,
    qi: QueueIndex,
    cur: _Cursor,
    start: int,
    now: float,
    push: Callable[[_Entry], None],
) -> None:
    """Queue the next head from ``start`` that a fresh, unpromised agent can take."""
    agents = run.state._agents
    skills = [agents[a].skills for a in cur.fresh if a not in run.taken]
    if not skills:
        return
    relaxer = qi.relaxer
    heads = cur.heads
    for c in range(start, len(heads)):
        neg_priority, arrived, seq, key = heads[c]
        if key in cur.skip:
            continue
        req = relaxer.effective(key[1], relaxer.stage(arrived, now))
        for have in skills:
            if meets(have, req):
                push((neg_priority, arrived, seq, qi.config.name, key, 0, c))
                return


def assign(
    state: AcdState, now: float, *, rng: random.Random | None = None
) -> list[tuple[Assignment, list[AcdEvent]]]:
    """Decide with :func:`next_assignments` and reserve each offer in the state."""
    done = []
    for assignment in next_assignments(state, now, rng=rng):
        done.append((assignment, state.reserve(assignment.call_id, assignment.agent_ids, now)))
    return done


def spare_agents(state: AcdState, now: float) -> list[str]:
    """Available agents that no waiting inbound call would get now (for blending: an
    outbound campaign may use these). Changes no state and draws from no shared RNG."""
    promised: set[str] = set()
    for assignment in next_assignments(state, now, rng=random.Random(0)):
        promised.update(assignment.agent_ids)
    return sorted(
        agent_id
        for agent_id, agent in state.agents.items()
        if agent.state is AgentState.AVAILABLE and agent_id not in promised
    )


def _find(run: _Pass, qi: QueueIndex, req: Requirement) -> list[str] | None:
    """The agents to offer a call needing ``req`` to: None if no available agent of the
    queue meets it (remembered), [] if only agents promised in this pass do."""
    qa = qi.agents
    agents = run.state._agents
    version = qa.version
    memo = qi.dead.get(req)
    if memo is not None:
        if memo == version:
            return None
        new = qa.added_since(memo)
        if new is not None:
            blocked = False
            tiered: list[tuple[int, AgentKey]] = []
            for agent_id in set(new):
                placed = qa.key_of.get(agent_id)
                if placed is None or not meets(agents[agent_id].skills, req):
                    continue
                if agent_id in run.taken:
                    blocked = True
                else:
                    tiered.append(placed)
            if not tiered:
                if blocked:
                    return []
                qi.dead[req] = version
                return None
            low = min(p for p, _ in tiered)
            return _choose(run, qi, sorted(k for p, k in tiered if p == low))
    strategy = qi.config.strategy
    blocked = False
    for penalty in qa.penalties:
        keys = qa.tiers[penalty]
        if strategy in _ORDERED:
            for key in keys:
                agent_id = key[-1]
                if meets(agents[agent_id].skills, req):
                    if agent_id not in run.taken:
                        return [agent_id]
                    blocked = True
            continue
        if strategy is Strategy.ROUND_ROBIN:
            last = run.rr.get(qi.config.name, qa.rr_last)
            start = bisect.bisect_right(keys, last) if last is not None else 0
            n = len(keys)
            for j in range(n):
                key = keys[(start + j) % n]
                if meets(agents[key[-1]].skills, req):
                    if key[-1] not in run.taken:
                        run.rr[qi.config.name] = key
                        return [key[-1]]
                    blocked = True
            continue
        eligible = []
        for key in keys:
            if meets(agents[key[-1]].skills, req):
                if key[-1] in run.taken:
                    blocked = True
                else:
                    eligible.append(key)
        if eligible:
            return _choose(run, qi, eligible)
    if blocked:
        return []
    qi.dead[req] = version
    return None


def _choose(run: _Pass, qi: QueueIndex, keys: list[AgentKey]) -> list[str]:
    """The strategy's pick among eligible, free agents of one tier (``keys`` sorted)."""
    strategy = qi.config.strategy
    ids: list[str] = [key[-1] for key in keys]
    if strategy in _ORDERED:
        return [ids[0]]
    if strategy is Strategy.ROUND_ROBIN:
        name = qi.config.name
        last = run.rr.get(name, qi.agents.rr_last)
        j = bisect.bisect_right(keys, last) if last is not None else 0
        key = keys[j % len(keys)]
        run.rr[name] = key
        return [key[-1]]
    if strategy is Strategy.RANDOM:
        return [ids[run.rng.randrange(len(ids))]]
    agents = run.state._agents
    ringing = [a for a in ids if agents[a].mode is AgentMode.RING]
    if ringing:
        return ringing
    return [min(ids, key=lambda a: (agents[a].idle_since, a))]
