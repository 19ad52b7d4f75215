"""Read side of the queue service: JSON-ready views of agents and queues with their
live statistics (for the API and the websocket snapshot), rendered from the floor."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Container
from typing import Any

from ccpbx.acd import UnknownAgent, UnknownQueue
from ccpbx.acd.stats import AgentCounts, QueueCounts, day_start
from ccpbx.queues.floor import QueueFloor


def agent_view(
    floor: QueueFloor,
    agent: str,
    *,
    reconnecting: Container[str],
    connected: Callable[[str], bool],
) -> dict[str, Any]:
    """An agent's state; a persistent agent's ``connection`` comes from ``reconnecting``
    (phones being called back) and ``connected`` (its phone leg is up)."""
    a = floor.state.agents.get(agent)
    if a is None:
        raise UnknownAgent("agent never logged in", agent_id=agent)
    session = floor.sessions.get(agent)
    return {
        "agent": a.id,
        "name": a.name,
        "state": a.state.value,
        "since": a.since,
        "mode": a.mode.value,
        "endpoint": session.endpoint if session else None,
        "pause_reason": a.pause_reason,
        "pending_pause": a.pending_pause,
        "call_id": a.call_id,
        "wrapup_until": a.wrapup_until,
        "queues": sorted(a.queues),
        "calls_taken": a.calls_taken,
        "connection": (
            _connection(agent, reconnecting, connected) if a.mode.value == "persistent" else None
        ),
        "logout_reason": floor.logout_reasons.get(agent),
    }


def _connection(agent: str, reconnecting: Container[str], connected: Callable[[str], bool]) -> str:
    """A persistent agent's phone leg: connected, reconnecting (being called back after
    an Asterisk restart) or none."""
    if agent in reconnecting:
        return "reconnecting"
    return "connected" if connected(agent) else "none"


def queue_view(
    floor: QueueFloor,
    name: str,
    now: float,
    *,
    waiting: bool = False,
    zone: dt.tzinfo = dt.UTC,
) -> dict[str, Any]:
    """Totals, the current interval, today (since midnight in ``zone``) and the last 30
    minutes, waiting calls, longest wait and agents by state."""
    if name not in floor.specs:
        raise UnknownQueue("no such queue", queue=name)
    s = floor.stats.queue_stats(floor.state, name, now)
    spec = floor.specs[name]
    today = day_start(now, zone)
    out: dict[str, Any] = {
        "queue": name,
        "strategy": spec.config.strategy.value,
        "at": now,
        "waiting": s.waiting,
        "longest_wait_s": round(s.longest_wait_s, 3),
        "agents": s.agents,
        "total": counts(s.total),
        "interval_start": s.interval_start,
        "interval": counts(s.interval),
        "today_start": today,
        "today": counts(floor.stats.since_counts(name, today, now)),
        "last_30m": counts(floor.stats.recent_counts(name, now)),
        "service_level_s": spec.config.service_level_s,
        "max_wait_s": spec.config.max_wait_s,
        "overflow": (
            {"kind": spec.config.overflow.kind.value, "target": spec.config.overflow.target}
            if spec.config.overflow is not None
            else None
        ),
        "announce_every_s": spec.announce_every_s,
        "announce_position": spec.announce_position,
        "announce_wait": spec.announce_wait,
    }
    if spec.config.agent is not None:
        out["direct_line_of"] = spec.config.agent  # calls for that one agent
    if waiting:
        out["calls"] = [
            {"call_id": c.call_id, "wait_s": round(now - c.enqueued_at, 3), "priority": c.priority}
            for c in floor.state.waiting(name)
        ]
    return out


def counts(c: QueueCounts | AgentCounts) -> dict[str, Any]:
    out = dataclasses.asdict(c)
    for name in ("service_level", "asa_s", "abandon_rate", "aht_s"):
        if hasattr(c, name):
            value = getattr(c, name)
            out[name] = round(value, 4) if value is not None else None
    return out
