"""What a campaign's pacer sees, built from the shared agent pool (pure).

The ACD owns the agents. A campaign's agents are those logged in as members of its
queue. Blending: inbound waiting calls are served first, so pacing counts only the
agents inbound does not need:

* a ready agent counts only if the ACD's router would give it no waiting inbound
  call now (``spare``, from :func:`ccpbx.acd.spare_agents`);
* each inbound call still waiting beyond those already promised a ready agent will
  take the next busy campaign agent to free up: the busy agents furthest into their
  call are set aside for them (the pacer would otherwise dial for them).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from ccpbx.acd import AcdState, AgentState, CallStatus
from ccpbx.dialer.pacing.model import AbandonWindow, PacingSnapshot


@dataclass(frozen=True, slots=True)
class PoolView:
    """A campaign's agents by state, after inbound has taken what it needs."""

    logged_in: int
    ready_since: tuple[float, ...]
    talking_since: tuple[float, ...]
    wrapping_since: tuple[float, ...]
    ready_agents: tuple[str, ...]
    held_for_inbound: int


def pool_view(
    state: AcdState, queue: str, spare: Collection[str], *, outbound_calls: Collection[str]
) -> PoolView:
    """The agents of ``queue`` (the campaign's) as pacing should count them.

    ``spare``: available agents no waiting inbound call would get now.
    ``outbound_calls``: call ids of the campaign's own calls (not inbound).
    """
    members = [
        a
        for a in state.agents.values()
        if queue in a.queues and a.state is not AgentState.LOGGED_OUT
    ]
    ready: list[tuple[float, str]] = []
    busy: list[tuple[float, AgentState]] = []
    promised = 0
    served: set[str] = set()
    for agent in members:
        served.update(agent.queues)
        if agent.state is AgentState.AVAILABLE:
            if agent.id in spare:
                ready.append((agent.idle_since, agent.id))
            else:
                promised += 1
        elif agent.state in (AgentState.RESERVED, AgentState.ON_CALL, AgentState.WRAP_UP):
            busy.append((agent.since, agent.state))
    served.discard(queue)
    inbound_waiting = sum(
        1
        for call in state.calls.values()
        if call.status is CallStatus.WAITING
        and call.queue in served
        and call.call_id not in outbound_calls
    )
    held = max(0, inbound_waiting - promised)
    busy.sort()
    busy = busy[min(held, len(busy)) :]
    ready.sort()
    return PoolView(
        logged_in=len(members),
        ready_since=tuple(t for t, _ in ready),
        talking_since=tuple(t for t, s in busy if s is not AgentState.WRAP_UP),
        wrapping_since=tuple(t for t, s in busy if s is AgentState.WRAP_UP),
        ready_agents=tuple(a for _, a in ready),
        held_for_inbound=held,
    )


def pacing_snapshot(
    pool: PoolView,
    *,
    now: float,
    ringing_since: tuple[float, ...],
    waiting_since: tuple[float, ...],
    windows: tuple[AbandonWindow, AbandonWindow, AbandonWindow],
    abandon_target: float,
    grace_s: float,
    shift_elapsed_s: float,
    shift_length_s: float,
) -> PacingSnapshot:
    today, last_24h, last_30d = windows
    return PacingSnapshot(
        now=now,
        logged_in=pool.logged_in,
        ready_since=pool.ready_since,
        talking_since=pool.talking_since,
        wrapping_since=pool.wrapping_since,
        ringing_since=ringing_since,
        waiting_since=waiting_since,
        today=today,
        last_24h=last_24h,
        last_30d=last_30d,
        abandon_target=abandon_target,
        grace_s=grace_s,
        shift_elapsed_s=shift_elapsed_s,
        shift_length_s=shift_length_s,
    )
