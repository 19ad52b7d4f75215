"""What the ACD knows: queue configuration, agents, waiting calls, events, assignments.

Everything here is plain data. :class:`QueueConfig`, :class:`AgentProfile` and the
events are frozen; :class:`Agent` and :class:`WaitingCall` are mutable records owned
by :class:`ccpbx.acd.state.AcdState`, which is the only code that changes them.
Times are seconds on one clock chosen by the caller (``now`` is always passed in).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

MAX_SECONDS = 86_400
"""The longest time a queue setting may name (a day): no NaN, no infinity."""


def _seconds(value: float) -> bool:
    return math.isfinite(value) and 0 <= value <= MAX_SECONDS


class AgentState(StrEnum):
    LOGGED_OUT = "logged_out"
    AVAILABLE = "available"
    RESERVED = "reserved"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    PAUSED = "paused"


class AgentMode(StrEnum):
    RING = "ring"
    """The agent's phone rings for each call; a ring timeout applies."""
    PERSISTENT = "persistent"
    """The agent's phone stays connected; calls are put through without ringing."""


class Strategy(StrEnum):
    LONGEST_IDLE = "longest_idle"
    FEWEST_CALLS = "fewest_calls"
    ROUND_ROBIN = "round_robin"
    RANDOM = "random"
    LINEAR = "linear"
    RING_ALL = "ring_all"


class OverflowKind(StrEnum):
    QUEUE = "queue"
    VOICEMAIL = "voicemail"
    CALLBACK = "callback"
    MESSAGE = "message"
    """Play a recorded message and hang up (an outbound campaign's abandon message)."""


class CallStatus(StrEnum):
    WAITING = "waiting"
    OFFERED = "offered"
    CONNECTED = "connected"


NO_ANSWER = "no answer"
"""Pause reason given to a ring-mode agent who let an offered call ring out."""


@dataclass(frozen=True, slots=True)
class OverflowTarget:
    """Where a call goes once it has waited ``max_wait_s`` in its queue."""

    kind: OverflowKind
    target: str = ""
    """Queue name for ``QUEUE``; mailbox or callback list for the others."""


@dataclass(frozen=True, slots=True)
class RelaxationStep:
    """From ``after_s`` seconds of caller wait on, a required skill is relaxed.

    ``skill`` names the required skill it applies to (``None``: every required skill).
    ``optional`` drops the requirement; otherwise ``min_level`` caps the required level.
    Steps apply cumulatively, in the order of ``after_s``.
    """

    after_s: float
    skill: str | None = None
    min_level: int | None = None
    optional: bool = False


@dataclass(frozen=True, slots=True)
class QueueConfig:
    """One queue's routing and reporting rules."""

    name: str
    strategy: Strategy = Strategy.LONGEST_IDLE
    wrapup_s: float = 10.0
    ring_timeout_s: float = 15.0
    max_wait_s: float | None = None
    overflow: OverflowTarget | None = None
    relaxation: tuple[RelaxationStep, ...] = ()
    service_level_s: float = 20.0
    short_abandon_s: float = 5.0
    agent: str | None = None
    """Set: this queue is that agent's direct line (a personal queue). Only that agent
    serves it, whatever the agent's profile lists; no other agent may be a member.
    Its calls are the agent's targeted calls: offered to nobody else, waiting (and
    overflowing after ``max_wait_s``) like any queued call."""

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("queue name must not be empty")
        if self.agent == "":
            raise ValueError("a direct line needs its agent's id")
        for value, what in (
            (self.wrapup_s, "wrapup_s"),
            (self.ring_timeout_s, "ring_timeout_s"),
            (self.service_level_s, "service_level_s"),
            (self.short_abandon_s, "short_abandon_s"),
        ):
            if not _seconds(value):
                raise ValueError(f"{what} must be a number of seconds from 0 to {MAX_SECONDS}")
        if self.max_wait_s is not None and not (_seconds(self.max_wait_s) and self.max_wait_s > 0):
            raise ValueError(f"max_wait_s must be > 0 and at most {MAX_SECONDS} when set")
        if self.overflow is not None and self.max_wait_s is None:
            raise ValueError("an overflow target needs max_wait_s")
        target = self.overflow
        if target is not None and target.kind is OverflowKind.QUEUE and target.target == self.name:
            raise ValueError("a queue cannot overflow into itself")
        steps = self.relaxation
        if any(b.after_s < a.after_s for a, b in itertools.pairwise(steps)):
            raise ValueError("relaxation steps must be ordered by after_s")
        for step in steps:
            if not _seconds(step.after_s):
                raise ValueError(f"relaxation after_s must be from 0 to {MAX_SECONDS}")
            if not step.optional and step.min_level is None:
                raise ValueError("a relaxation step needs min_level or optional=True")


@dataclass(frozen=True, slots=True)
class Membership:
    """How an agent serves one queue: lower ``penalty`` is tried first, ``position``
    orders agents for the linear and round-robin strategies (ties by agent id)."""

    penalty: int = 0
    position: int = 0


@dataclass(frozen=True, slots=True)
class AgentProfile:
    """Who an agent is, as given at login."""

    id: str
    name: str = ""
    skills: Mapping[str, int] = field(default_factory=dict)
    mode: AgentMode = AgentMode.RING
    queues: Mapping[str, Membership] = field(default_factory=dict)


@dataclass(slots=True)
class Agent:
    """An agent's live record; changed only by :class:`~ccpbx.acd.state.AcdState`."""

    id: str
    name: str
    skills: dict[str, int]
    mode: AgentMode
    queues: dict[str, Membership]
    state: AgentState = AgentState.LOGGED_OUT
    since: float = 0.0
    pause_reason: str | None = None
    pending_pause: str | None = None
    """Pause asked for while busy; applied when the wrap-up ends."""
    calls_taken: int = 0
    last_call_end: float | None = None
    idle_since: float = 0.0
    """When the agent last became free; kept across a released ring-all offer."""
    call_id: str | None = None
    call_queue: str | None = None
    wrapup_until: float | None = None


@dataclass(slots=True)
class WaitingCall:
    """A caller in the ACD, from enqueue until an agent hangs up or the caller leaves."""

    call_id: str
    queue: str
    priority: int = 0
    """Higher is served first."""
    required: dict[str, int] = field(default_factory=dict)
    """Skill name -> minimum level."""
    enqueued_at: float = 0.0
    """When the call entered its current queue (max wait and statistics count from here)."""
    arrived_at: float = 0.0
    """When the call entered the ACD (ordering and skill relaxation count from here)."""
    seq: int = 0
    status: CallStatus = CallStatus.WAITING
    offered_to: list[str] = field(default_factory=list)
    """Every agent the call was offered to, in order (history)."""
    ringing: set[str] = field(default_factory=set)
    """Agents the call is offered to right now."""
    offered_at: float | None = None
    agent_id: str | None = None
    answered_at: float | None = None


@dataclass(frozen=True, slots=True)
class Assignment:
    """A routing decision: offer ``call_id`` to ``agent_ids`` (several only for ring-all)."""

    call_id: str
    queue: str
    agent_ids: tuple[str, ...]
    wait_s: float


class EventKind(StrEnum):
    AGENT_LOGGED_IN = "agent_logged_in"
    AGENT_LOGGED_OUT = "agent_logged_out"
    AGENT_PAUSED = "agent_paused"
    AGENT_PAUSE_PENDING = "agent_pause_pending"
    AGENT_UNPAUSED = "agent_unpaused"
    CALL_ENQUEUED = "call_enqueued"
    CALL_ABANDONED = "call_abandoned"
    CALL_OFFERED = "call_offered"
    OFFER_RELEASED = "offer_released"
    CALL_ANSWERED = "call_answered"
    RING_NO_ANSWER = "ring_no_answer"
    CALL_REQUEUED = "call_requeued"
    CALL_ENDED = "call_ended"
    WRAPUP_STARTED = "wrapup_started"
    WRAPUP_EXTENDED = "wrapup_extended"
    WRAPUP_ENDED = "wrapup_ended"
    CALL_OVERFLOWED = "call_overflowed"
    CALL_RESTORED = "call_restored"
    """A call found again after a restart (waiting, or talking to an agent): not a new
    offer, not a new answer; statistics do not count it."""


@dataclass(frozen=True, slots=True)
class AcdEvent:
    """One state change, with its time; stored and pushed to websockets as it is.

    ``state`` is the agent's state after the change (when an agent is concerned).
    ``wait_s`` is the caller's wait in ``queue`` (answer, abandon, overflow);
    ``duration_s`` the talk time (``call_ended``) or wrap-up time (``wrapup_ended``).
    """

    kind: EventKind
    at: float
    queue: str | None = None
    agent_id: str | None = None
    call_id: str | None = None
    state: AgentState | None = None
    reason: str | None = None
    wait_s: float | None = None
    duration_s: float | None = None
    target: str | None = None

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-ready form, without the empty fields."""
        out: dict[str, object] = {"kind": self.kind.value, "at": self.at}
        for name in (
            "queue",
            "agent_id",
            "call_id",
            "state",
            "reason",
            "wait_s",
            "duration_s",
            "target",
        ):
            value = getattr(self, name)
            if value is not None:
                out[name] = str(value) if name == "state" else value
        return out


@dataclass(frozen=True, slots=True)
class Timers:
    """What is due at ``now``: the service acts on each with a state transition."""

    ring_timeouts: tuple[tuple[str, str], ...] = ()
    """(call_id, agent_id) offers that rang past the queue's ring timeout."""
    wrapups_done: tuple[str, ...] = ()
    """Agents whose wrap-up time is over."""
    overflows: tuple[str, ...] = ()
    """Waiting calls past their queue's max wait that have an overflow target."""
    next_at: float | None = None
    """The earliest future time something becomes due (ring, wrap-up, max wait or a
    skill relaxation step), for the service's timer; ``None`` if nothing is pending."""
