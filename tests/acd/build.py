"""Small builders for hand-made ACD cases."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ccpbx.acd import (
    AcdState,
    AgentMode,
    AgentProfile,
    Assignment,
    Membership,
    assign,
)


def profile(
    agent_id: str,
    skills: Mapping[str, int] | None = None,
    queues: Iterable[str] = ("sales",),
    *,
    mode: AgentMode = AgentMode.RING,
    penalty: int = 0,
    position: int = 0,
) -> AgentProfile:
    return AgentProfile(
        agent_id,
        agent_id.title(),
        dict(skills or {}),
        mode,
        {q: Membership(penalty=penalty, position=position) for q in queues},
    )


def offers(state: AcdState, now: float) -> list[tuple[str, tuple[str, ...]]]:
    """Route and reserve; (call, agents) for each offer made."""
    return [(a.call_id, a.agent_ids) for a, _ in assign(state, now)]


def connect(state: AcdState, now: float) -> list[Assignment]:
    """Route, reserve and answer every offer (first agent answers)."""
    done = []
    for a, _ in assign(state, now):
        state.answered(a.call_id, a.agent_ids[0], now)
        done.append(a)
    return done


def finish(state: AcdState, call_id: str, now: float) -> str:
    """Hang up a connected call and end its wrap-up; returns the agent."""
    agent_id = state.call(call_id).agent_id
    assert agent_id is not None
    state.hangup(call_id, now)
    if state.agent(agent_id).state.value == "wrap_up":
        state.wrapup_done(agent_id, now)
    return agent_id
