"""10 persistent agents on registered SIPp phones and 30 callers across 2 queues with
skills, on real Asterisk, checked offer by offer against the pure engine."""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import pytest

from ccpbx.acd import (
    AcdEvent,
    AcdState,
    AgentMode,
    AgentProfile,
    AgentState,
    EventKind,
    Membership,
    QueueConfig,
    Strategy,
    next_assignments,
)
from ccpbx.daemon import Daemon
from ccpbx.sandbox.asterisk import AsteriskInstance
from ccpbx.sandbox.phones import SippPhone

from .conftest import StartDaemon, eventually
from .test_acd_support import add_agent, add_queue, desk_phones, waiting_caller

WRAPUP_S = 1.0
AGENTS: dict[str, tuple[dict[str, int], dict[str, int]]] = {
    # agent: (skills, queue -> penalty)
    **{str(n): ({"sales": 3}, {"sales": 0}) for n in (1001, 1002, 1003, 1004)},
    **{str(n): ({"care": 2}, {"care": 0}) for n in (1005, 1006, 1007)},
    **{str(n): ({"sales": 2, "care": 1}, {"sales": 0, "care": 1}) for n in (1008, 1009, 1010)},
}
QUEUES = {
    "sales": QueueConfig("sales", Strategy.LONGEST_IDLE, wrapup_s=WRAPUP_S),
    "care": QueueConfig("care", Strategy.FEWEST_CALLS, wrapup_s=WRAPUP_S),
}
REQUIRED = {"sales": {"sales": 2}, "care": {"care": 1}}


@pytest.fixture
def phones(asterisk: AsteriskInstance) -> Iterator[list[SippPhone]]:
    """Ten registered desk phones, 1001 to 1010."""
    with desk_phones(asterisk, AGENTS) as started:
        yield started


def _event(item: dict[str, Any]) -> AcdEvent:
    state = item.get("state")
    return AcdEvent(
        EventKind(item["kind"]),
        item["at"],
        queue=item.get("queue"),
        agent_id=item.get("agent_id"),
        call_id=item.get("call_id"),
        state=AgentState(state) if state else None,
        reason=item.get("reason"),
    )


def _key(e: AcdEvent) -> tuple[str, str | None, str | None]:
    return (e.kind.value, e.agent_id, e.call_id)


def replay(events: list[AcdEvent]) -> int:
    """Re-run the service's event log through a fresh engine: each offer batch must be
    exactly what ``next_assignments`` prescribes at that time; every other transition
    must produce the same events. Returns the number of offers checked."""
    shadow = AcdState(QUEUES.values())
    checked = 0
    i = 0
    while i < len(events):
        e = events[i]
        if e.kind is EventKind.CALL_OFFERED:
            batch = [x for x in events[i:] if x.kind is EventKind.CALL_OFFERED and x.at == e.at]
            wanted = [(a.call_id, a.agent_ids) for a in next_assignments(shadow, e.at)]
            got = [(x.call_id, (x.agent_id,)) for x in batch]
            assert got == wanted, f"offers at {e.at}: {got} != prescribed {wanted}"
            for x in batch:
                assert x.call_id is not None
                assert x.agent_id is not None
                shadow.reserve(x.call_id, [x.agent_id], x.at)
            checked += len(batch)
            i += len(batch)
            continue
        out = _apply(shadow, e)
        assert [_key(x) for x in out] == [_key(x) for x in events[i : i + len(out)]], (
            f"engine diverged at {e}"
        )
        i += len(out)
    return checked


def _apply(shadow: AcdState, e: AcdEvent) -> list[AcdEvent]:
    kind, at = e.kind, e.at
    if kind is EventKind.AGENT_LOGGED_IN:
        assert e.agent_id is not None
        skills, queues = AGENTS[e.agent_id]
        members = {q: Membership(penalty=p) for q, p in queues.items()}
        profile = AgentProfile(
            e.agent_id, f"Agent {e.agent_id}", skills, AgentMode.PERSISTENT, members
        )
        return shadow.login(profile, at)
    if kind is EventKind.CALL_ENQUEUED:
        assert e.call_id is not None
        assert e.queue is not None
        return shadow.enqueue(e.call_id, e.queue, at, required=REQUIRED[e.queue])
    if kind in (EventKind.CALL_ABANDONED, EventKind.OFFER_RELEASED):
        assert e.call_id is not None
        return shadow.abandon(e.call_id, at)
    if kind is EventKind.CALL_ANSWERED:
        assert e.call_id is not None
        assert e.agent_id is not None
        return shadow.answered(e.call_id, e.agent_id, at)
    if kind is EventKind.CALL_ENDED:
        assert e.call_id is not None
        return shadow.hangup(e.call_id, at)
    if kind is EventKind.WRAPUP_ENDED:
        assert e.agent_id is not None
        return shadow.wrapup_done(e.agent_id, at)
    raise AssertionError(f"unexpected event in this scenario: {e}")


async def test_ten_agents_thirty_callers_two_queues_follow_the_engine(
    asterisk: AsteriskInstance, start_daemon: StartDaemon, phones: list[SippPhone]
) -> None:
    """30 callers arrive in two bursts into two skill queues served by 10 persistent
    agents; 5 hang up while waiting. Every offer is the one the pure engine prescribes at
    that moment, no agent's conference ever holds two callers, wrap-up is respected,
    abandoned callers are counted and their places freed, the 25 others are answered."""
    daemon = await start_daemon()
    acd = daemon.acd
    for name, config in QUEUES.items():
        await add_queue(
            daemon, name, strategy=config.strategy, wrapup_s=WRAPUP_S, required=REQUIRED[name]
        )
    for agent, (skills, queues) in AGENTS.items():
        await add_agent(daemon, agent, queues, skills=skills)
    feed = acd.subscribe()
    items: list[dict[str, Any]] = []
    collector = asyncio.create_task(_collect(feed, items))
    talking: set[asyncio.Task[None]] = set()
    rng = random.Random(7)

    async def talk(call_id: str) -> None:
        await asyncio.sleep(rng.uniform(0.3, 1.5))
        leg = acd.legs.get(call_id)
        if leg is not None:
            await daemon.ami.action("Hangup", Channel=leg.channel, timeout=5, check=False)

    async def on_answer() -> None:
        seen = 0
        while True:
            await asyncio.sleep(0.02)
            for item in items[seen:]:
                if item["kind"] == "call_answered":
                    task = asyncio.create_task(talk(item["call_id"]))
                    talking.add(task)
            seen = len(items)

    doubled: list[tuple[str, set[str]]] = []

    async def watch_conferences() -> None:
        while True:
            for agent in AGENTS:
                leg = acd.persistent.leg(agent)
                if leg is not None and len(leg.callers) > 1:
                    doubled.append((agent, set(leg.callers)))
            await asyncio.sleep(0.01)

    helpers = [asyncio.create_task(on_answer()), asyncio.create_task(watch_conferences())]
    try:
        await asyncio.gather(*(acd.login(agent, agent) for agent in AGENTS))
        calls: list[str] = []
        for burst in range(2):
            for n in range(15):
                queue = "sales" if (n + burst) % 3 else "care"
                calls.append(await waiting_caller(daemon.ami, queue))
                await asyncio.sleep(0.03)
            await asyncio.sleep(0.5)
            # Five callers of the second burst give up while they wait.
            if burst == 1:
                await eventually(lambda: sum(acd.state.waiting_count(q) for q in QUEUES) >= 5)
                queued = sorted(
                    (c for q in QUEUES for c in acd.state.waiting(q)), key=lambda c: c.seq
                )
                leaving = [c.call_id for c in queued[-5:]]  # the last to be served
                for call_id in leaving:
                    await daemon.ami.action("Hangup", Channel=acd.legs[call_id].channel, timeout=5)
        await eventually(lambda: len(acd.legs) == 0 and not acd.state.calls, 60)
        await eventually(
            lambda: all(a.state is AgentState.AVAILABLE for a in acd.state.agents.values()), 10
        )
    finally:
        for task in [*helpers, *talking]:
            task.cancel()
        await asyncio.gather(*helpers, *talking, return_exceptions=True)
        feed.close()
        await collector

    events = [_event(i) for i in items]
    assert replay(events) >= 25
    assert not doubled, doubled

    answered = [e for e in events if e.kind is EventKind.CALL_ANSWERED]
    abandoned = [e for e in events if e.kind is EventKind.CALL_ABANDONED]
    assert len(answered) == 25
    assert sorted(e.call_id or "" for e in abandoned) == sorted(leaving)
    assert {e.call_id for e in answered} | set(leaving) == set(calls)
    for e in answered:  # each call went to an agent with the queue's skill
        assert e.agent_id is not None
        assert e.queue is not None
        assert e.queue in AGENTS[e.agent_id][1]

    # One call at a time per agent, and each next offer only after the wrap-up.
    per_agent: dict[str, list[AcdEvent]] = defaultdict(list)
    for e in events:
        if e.agent_id is not None:
            per_agent[e.agent_id].append(e)
    for agent, log in per_agent.items():
        current: str | None = None
        ended_at: float | None = None
        for e in log:
            if e.kind is EventKind.CALL_OFFERED:
                assert current is None, f"{agent} offered {e.call_id} while holding {current}"
                if ended_at is not None:
                    assert e.at - ended_at >= WRAPUP_S
                current = e.call_id
            elif e.kind in (EventKind.CALL_ENDED, EventKind.OFFER_RELEASED):
                assert e.call_id == current
                current = None
                ended_at = e.at if e.kind is EventKind.CALL_ENDED else ended_at

    totals = {q: acd.stats.queue_counts(q) for q in QUEUES}
    assert sum(c.offered for c in totals.values()) == 30
    assert sum(c.answered for c in totals.values()) == 25
    assert sum(c.abandoned + c.short_abandoned for c in totals.values()) == 5
    assert all(acd.state.waiting_count(q) == 0 for q in QUEUES)
    await _stored(daemon, len(events))


async def _collect(feed: Any, items: list[dict[str, Any]]) -> None:
    """The ACD's events from the feed (it also carries screen pops, help requests...)."""
    async for item in feed:
        if item.get("type") == "acd":
            items.append(item)


async def _stored(daemon: Daemon, count: int) -> None:
    async def check() -> bool:
        stored = await daemon.database.pool.fetchval("SELECT count(*) FROM acd_events")
        return bool(stored >= count)

    await eventually(check, 10)
