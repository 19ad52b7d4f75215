"""What a waiting caller is told: its position and an estimated wait (pure).

Position: the caller's place among the calls waiting in its queue, in the order the
queue serves them (priority, then arrival), 1 for the next caller.

Estimated wait (EWT), in seconds::

    EWT = position x AHT / agents

where AHT is the queue's average handle time (talk + wrap-up per call ended, from the
live statistics) and ``agents`` the agents serving the queue who are working: logged
in and not paused (available, reserved, on a call or in wrap-up). On average one of
them frees up every AHT / agents seconds, and the caller needs ``position`` of those.
With no AHT yet (no call ended) or no working agent there is no estimate: the caller
hears the position only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from ccpbx.acd.model import AgentState, CallStatus
from ccpbx.acd.state import AcdState

WORKING = frozenset(
    {AgentState.AVAILABLE, AgentState.RESERVED, AgentState.ON_CALL, AgentState.WRAP_UP}
)


def estimated_wait(position: int, aht_s: float | None, agents: int) -> float | None:
    """``position`` x ``aht_s`` / ``agents`` seconds (None without AHT or agents)."""
    if position < 1 or aht_s is None or aht_s <= 0 or agents < 1:
        return None
    return position * aht_s / agents


def working_agents(by_state: Mapping[AgentState, int]) -> int:
    return sum(n for state, n in by_state.items() if state in WORKING)


def position(state: AcdState, call_id: str) -> int | None:
    """The call's place in its queue (1 = next), or None if it is not waiting."""
    call = state.calls.get(call_id)
    if call is None or call.status is not CallStatus.WAITING:
        return None
    for i, waiting in enumerate(state.waiting(call.queue), 1):
        if waiting.call_id == call_id:
            return i
    return None


@dataclass(frozen=True, slots=True)
class Say:
    """One step of an announcement: a prompt file, or a number said aloud."""

    file: str = ""
    number: int | None = None


def announcement(
    place: int | None, wait_s: float | None, *, say_position: bool, say_wait: bool
) -> list[Say]:
    """The prompts, in order (files from Asterisk's core English sounds):

    - position 1: "queue-youarenext"; later: "queue-thereare" <n> "queue-callswaiting";
    - wait: "queue-holdtime" then "queue-less-than" 1 "queue-minute" under a minute,
      else <m> "queue-minute(s)" with m the wait in whole minutes, rounded up;
    - "queue-thankyou" after anything said. Nothing to say: an empty list.
    """
    steps: list[Say] = []
    if say_position and place is not None:
        if place == 1:
            steps.append(Say("queue-youarenext"))
        else:
            steps += [Say("queue-thereare"), Say(number=place), Say("queue-callswaiting")]
    if say_wait and wait_s is not None:
        steps.append(Say("queue-holdtime"))
        if wait_s < 60:
            steps += [Say("queue-less-than"), Say(number=1), Say("queue-minute")]
        else:
            minutes = math.ceil(wait_s / 60)
            steps += [Say(number=minutes), Say("queue-minute" if minutes == 1 else "queue-minutes")]
    if steps:
        steps.append(Say("queue-thankyou"))
    return steps
