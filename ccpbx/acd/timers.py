"""What falls due at a time: ring timeouts, wrap-up ends, overflows, relaxation steps.

The async service asks :meth:`AcdState.timers` after each batch of events and on its
timer, applies the due transitions, runs routing, and sleeps until ``next_at``.
The ring timeout applies to every offer, persistent-mode ones included: a connected
phone that could not be bridged within it counts as not answering.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ccpbx.acd.model import Timers

if TYPE_CHECKING:
    from ccpbx.acd.state import AcdState


def due_timers(state: AcdState, now: float) -> Timers:
    """Scan offers, wrap-ups and waiting calls (linear in their number; call it per tick,
    not per routing decision)."""
    upcoming: list[float] = []
    rings: list[tuple[str, str]] = []
    for call_id in state._offered:
        call = state._calls[call_id]
        assert call.offered_at is not None
        deadline = call.offered_at + state._queues[call.queue].config.ring_timeout_s
        if deadline <= now:
            rings.extend((call_id, agent_id) for agent_id in call.ringing)
        else:
            upcoming.append(deadline)
    wrapups: list[str] = []
    for agent_id in state._wrapping:
        until = state._agents[agent_id].wrapup_until
        assert until is not None
        if until <= now:
            wrapups.append(agent_id)
        else:
            upcoming.append(until)
    overflows: list[tuple[float, int, str]] = []
    for qi in state._queues.values():
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
                deadline = state._calls[entry[2]].enqueued_at + config.max_wait_s
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
