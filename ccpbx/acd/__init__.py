"""Automatic call distribution: pure, synchronous routing rules and live statistics.

:class:`AcdState` owns agents and calls and changes them only through its transitions;
:func:`next_assignments` decides which waiting call goes to which free agent now;
:class:`AcdStats` counts what the state's events report. Nothing here does I/O or
reads a clock: every call takes ``now``.

How the async service drives it (one task owns the state; callbacks only enqueue):

1. turn each AMI/AGI/API input into one transition (``enqueue`` when a caller reaches
   the queue, ``answered`` when the agent leg is up, ``abandon``/``hangup``,
   ``login``/``pause``/..., ``ring_no_answer`` when an originate fails), store and
   publish the events it returns and feed them to :class:`AcdStats`;
2. after each batch, call :func:`assign` (or :func:`next_assignments` then
   ``reserve``) and, for each offer, ring or bridge the agents; a ring-all loser's
   ``answered`` raises ``IllegalTransition``: hang that leg up;
3. on a timer, read :meth:`AcdState.timers` (ring timeouts, wrap-ups over, overflows),
   apply those transitions, route again, and sleep until ``next_at`` (or a short tick);
4. every interval, :meth:`AcdStats.pop_closed_intervals` gives rows to store.
"""

from ccpbx.acd.errors import (
    DuplicateCall,
    IllegalTransition,
    InvalidAcdInput,
    UnknownAgent,
    UnknownCall,
    UnknownQueue,
)
from ccpbx.acd.estimate import Say, announcement, estimated_wait, position, working_agents
from ccpbx.acd.model import (
    NO_ANSWER,
    AcdEvent,
    Agent,
    AgentMode,
    AgentProfile,
    AgentState,
    Assignment,
    CallStatus,
    EventKind,
    Membership,
    OverflowKind,
    OverflowTarget,
    QueueConfig,
    RelaxationStep,
    Strategy,
    Timers,
    WaitingCall,
)
from ccpbx.acd.routing import assign, next_assignments, spare_agents
from ccpbx.acd.state import AcdState
from ccpbx.acd.stats import AcdStats, AgentStats, QueueStats

__all__ = [
    "NO_ANSWER",
    "AcdEvent",
    "AcdState",
    "AcdStats",
    "Agent",
    "AgentMode",
    "AgentProfile",
    "AgentState",
    "AgentStats",
    "Assignment",
    "CallStatus",
    "DuplicateCall",
    "EventKind",
    "IllegalTransition",
    "InvalidAcdInput",
    "Membership",
    "OverflowKind",
    "OverflowTarget",
    "QueueConfig",
    "QueueStats",
    "RelaxationStep",
    "Say",
    "Strategy",
    "Timers",
    "UnknownAgent",
    "UnknownCall",
    "UnknownQueue",
    "WaitingCall",
    "announcement",
    "assign",
    "estimated_wait",
    "next_assignments",
    "position",
    "spare_agents",
    "working_agents",
]
