"""What falls due at a time: ring timeouts, wrap-up ends, overflows, relaxation steps.

The async service asks ``AcdState.timers`` after each batch of events and on its
timer, applies the due transitions, runs routing, and sleeps until ``next_at``.
The ring timeout applies to every offer, persistent-mode ones included: a connected
phone that could not be bridged within it counts as not answering.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ccpbx.acd.index import QueueIndex
from ccpbx.acd.model import Agent, Timers, WaitingCall


def due_timers(
    *,
    calls: Mapping[str, WaitingCall],
    offered: Iterable[str],
    agents: Mapping[str, Agent],
    wrapping: Iterable[str],
    queues: Mapping[str, QueueIndex],
    now: float,
) -> Timers:
    """Scan offers, wrap-ups and waiting calls (linear in their number; call it per tick,
    not per routing decision): ``offered`` and ``wrapping`` name the calls ringing an agent
    and the agents in wrap-up, ``calls``, ``agents`` and ``queues`` are the state's tables."""
    upcoming: list[float] = []
    rings: list[tuple[str, str]] = []
    for call_id in offered:
        call = calls[call_id]
        assert call.offered_at is not None
        deadline = call.offered_at + queues[call.queue].config.ring_timeout_s
        if deadline <= now:
            rings.extend((call_id, agent_id) for agent_id in call.ringing)
        else:
            upcoming.append(deadline)
    wrapups: list[str] = []
    for agent_id in wrapping:
        until = agents[agent_id].wrapup_until
        assert until is not None
        if until <= now:
            wrapups.append(agent_id)
        else:
            upcoming.append(until)
    overflows: list[tuple[float, int, str]] = []
    for qi in queues.values():
        config = qi.config
        overflowing = config.max_wait_s is not None and config.overflow is not None
        for bucket in qi.calls.buckets.values():
            arrived, _, _ = bucket[0]
            step = qi.relaxer.next_change(arrived, qi.relaxer.stage(arrived, now))
            if step is not None:
                upcoming.append(step)
            if not overflowing:
                continue
            assert config.max_wait_s is not None
            for entry in bucket:
                deadline = calls[entry[2]].enqueued_at + config.max_wait_s
                if deadline <= now:
                    overflows.append(entry)
                else:
                    upcoming.append(deadline)
    return Timers(
        ring_timeouts=tuple(sorted(rings)),
        wrapups_done=tuple(sorted(wrapups)),
        overflows=tuple(entry[2] for entry in sorted(overflows)),
        next_at=min(upcoming, default=None),
    )
