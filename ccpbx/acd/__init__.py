"""Automatic call distribution: pure, synchronous routing rules and live statistics.

:class:`AcdState` owns agents and calls and changes them only through its transitions;
:func:`next_assignments` decides which waiting call goes to which free agent now;
:class:`AcdStats` counts what the state's events report. Nothing here does I/O or
reads a clock: every call takes ``now``.
"""

from ccpbx.acd.errors import (
    DuplicateCall,
    IllegalTransition,
    InvalidAcdInput,
    UnknownAgent,
    UnknownCall,
    UnknownQueue,
)
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
    "Strategy",
    "Timers",
    "UnknownAgent",
    "UnknownCall",
    "UnknownQueue",
    "WaitingCall",
    "assign",
    "next_assignments",
    "spare_agents",
]
