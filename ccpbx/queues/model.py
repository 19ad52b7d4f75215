"""What the queue service is configured with (queues, agent profiles), what it tracks
of each call and phone, and the dialplan places it sends callers to.

Plain data; the store reads and writes the configuration, the service turns it into
the pure engine's :class:`~ccpbx.acd.QueueConfig` and :class:`~ccpbx.acd.AgentProfile`.
Every module of :mod:`ccpbx.queues` may import this one; it imports none of them but
:mod:`ccpbx.queues.pins`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from ccpbx.acd import (
    AgentMode,
    AgentProfile,
    Membership,
    OverflowKind,
    OverflowTarget,
    QueueConfig,
    Strategy,
)
from ccpbx.errors import InvalidInput
from ccpbx.queues.pins import PinCheck, verify_pin

QUEUE_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{1,63}$")
# A queue name is a dialplan extension (ccpbx-queue-enter, -wait, ccpbx-outbound):
# Asterisk's special extensions cannot be queues.
RESERVED_QUEUE_NAMES = frozenset({"failed", "fax", "talk"})
NAME_MAX = 100
"""The longest agent (display) name."""
AGENT_RE = re.compile(r"^[0-9]{2,15}$")
REASON_RE = re.compile(r"^[A-Za-z0-9 _.-]{1,40}$")
MIN_ANNOUNCE_EVERY_S = 5.0
MAILBOX_RE = re.compile(r"^[A-Za-z0-9_-]{1,40}(@[A-Za-z0-9_-]{1,40})?$")
_SKILL_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}(?::[0-9]{1,2})?$")

WAIT_CONTEXT = "ccpbx-queue-wait"
HOLD_CONTEXTS = frozenset({WAIT_CONTEXT, "ccpbx-queue-hold"})
FALLBACK = ("ccpbx-fallback", "s", "1")
VOICEMAIL = (WAIT_CONTEXT, "s", "1")
"""Where a call overflowing to voicemail goes (mailbox in CCPBX_VOICEMAIL)."""
VOICEMAIL_VAR = "CCPBX_VOICEMAIL"
CALLBACK = (WAIT_CONTEXT, "c", "1")
"""Where a call overflowing to a callback goes (the queue-callback script)."""
MESSAGE_CONTEXT = "ccpbx-outbound-abandon"
"""Where a call overflowing to a message goes (extension: the queue it waited in)."""

AGENT_LEFT = "agent_left"
"""Reason of a call's end when the ring-mode agent's leg ended before the caller's
(a transfer from the phone, or the agent hanging up first)."""

PHONE_LOST = "phone_lost"
"""Logout reason of an agent whose persistent phone leg ended."""

DIRECT_PREFIX = "agent-"
"""Queue names starting so are agents' direct lines (``agent-1001``); no stored queue
may take one."""
AGENT_TARGET_VAR = "CCPBX_AGENT_TARGET"
"""Set by the dialplan on a call for one agent (a number routed ``agent:N``)."""


def parse_skills(text: str) -> dict[str, int]:
    """``"spanish billing:3"`` -> ``{"spanish": 1, "billing": 3}`` (bad words skipped)."""
    out: dict[str, int] = {}
    for word in text.split():
        if _SKILL_RE.match(word):
            name, _, level = word.partition(":")
            out[name] = int(level) if level else 1
    return out


def check_agent_name(name: str) -> str:
    """An agent's display name: at most NAME_MAX characters, no control characters."""
    if len(name) > NAME_MAX or any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise InvalidInput(
            f"agent name: at most {NAME_MAX} characters, no control characters", field="name"
        )
    return name


def check_queue_name(name: str) -> str:
    if not QUEUE_RE.match(name):
        raise InvalidInput(f"queue name must match {QUEUE_RE.pattern}, got {name!r}", field="queue")
    if name.startswith(DIRECT_PREFIX):
        raise InvalidInput(
            f"queue name {name!r}: names starting with {DIRECT_PREFIX!r} are agents' direct lines",
            field="queue",
        )
    if name in RESERVED_QUEUE_NAMES:
        raise InvalidInput(
            f"queue name {name!r} is reserved by the dialplan"
            f" ({', '.join(sorted(RESERVED_QUEUE_NAMES))})",
            field="queue",
        )
    return name


def direct_line_name(agent: str) -> str:
    """The queue name of an agent's direct line: ``1001`` -> ``agent-1001``."""
    return DIRECT_PREFIX + check_agent_id(agent)


def direct_line_agent(queue: str) -> str | None:
    """The agent whose direct line ``queue`` is (None: not a direct line's name)."""
    agent = queue.removeprefix(DIRECT_PREFIX)
    if agent == queue or not AGENT_RE.match(agent):
        return None
    return agent


def check_agent_id(agent: str) -> str:
    if not AGENT_RE.match(agent):
        raise InvalidInput(f"agent number must be 2 to 15 digits, got {agent!r}", field="agent")
    return agent


def check_reason(reason: str) -> str:
    if not REASON_RE.match(reason):
        raise InvalidInput("pause reason: 1 to 40 letters, digits, space, _ . -", field="reason")
    return reason


@dataclass(slots=True)
class CallLeg:
    """A caller's channel as the service tracks it."""

    call_id: str
    channel: str
    queue: str
    agent: str | None = None
    agent_channel: str = ""
    ring_legs: dict[str, str] = field(default_factory=dict)  # agent -> ring leg uniqueid
    recording: str | None = None
    agent_leg: str = ""
    """Uniqueid of the ring-mode agent's answered leg: when it ends first (the agent
    transferred the caller, or hung up), the agent's part of the call is over."""
    shown_number: str = ""
    """What a ring-mode agent's phone shows as the caller (see CallAttributes); empty:
    the channel's caller ID."""
    shown_name: str = ""


@dataclass(slots=True)
class Session:
    """A logged-in agent's phone."""

    agent: str
    endpoint: str
    mode: AgentMode


@dataclass(frozen=True, slots=True)
class CallAttributes:
    """What the queue script (or the dialer) learned about a caller before music on hold."""

    priority: int = 0
    required: Mapping[str, int] = field(default_factory=dict)
    shown_number: str = ""
    """The customer's number and name for an agent's phone when the channel's own caller
    ID is not the customer's (a campaign call carries the campaign's caller ID)."""
    shown_name: str = ""


@dataclass(frozen=True, slots=True)
class QueueSpec:
    """A queue: the engine's routing rules plus what the service adds around them."""

    config: QueueConfig
    required: Mapping[str, int] = field(default_factory=dict)
    """Skills every call of this queue needs (name -> minimum level)."""
    record: bool = True
    """Record each connected call with MixMonitor, named by call id."""
    announce_every_s: float = 0.0
    """Tell each waiting caller its position and/or estimated wait every so many
    seconds of music on hold (0: never, the default; else at least 5)."""
    announce_position: bool = True
    announce_wait: bool = True

    def __post_init__(self) -> None:
        target = self.config.overflow
        voicemail = target is not None and target.kind is OverflowKind.VOICEMAIL
        if voicemail and target is not None and not MAILBOX_RE.match(target.target):
            raise ValueError(f"voicemail overflow needs a mailbox, got {target.target!r}")
        every = self.announce_every_s
        if not math.isfinite(every) or every < 0 or 0 < every < MIN_ANNOUNCE_EVERY_S:
            raise ValueError(
                f"announce_every_s must be 0 (never) or at least {MIN_ANNOUNCE_EVERY_S:g}"
            )

    @property
    def name(self) -> str:
        return self.config.name


@dataclass(frozen=True, slots=True)
class DirectLines:
    """How agents' direct lines run (one per agent, opened when a call for that agent
    first arrives; never stored as a queue). A targeted call waits up to
    ``max_wait_s`` for its agent, then goes to the agent's voicemail box (the mailbox
    named by the agent number; the dialplan sends it to the fallback when there is no
    such box)."""

    max_wait_s: float = 60.0
    ring_timeout_s: float = 15.0
    wrapup_s: float = 10.0
    record: bool = True

    def spec(self, agent: str) -> QueueSpec:
        """The queue settings of ``agent``'s direct line."""
        config = QueueConfig(
            direct_line_name(agent),
            strategy=Strategy.LINEAR,
            wrapup_s=self.wrapup_s,
            ring_timeout_s=self.ring_timeout_s,
            max_wait_s=self.max_wait_s,
            overflow=OverflowTarget(OverflowKind.VOICEMAIL, agent),
            agent=agent,
        )
        return QueueSpec(config, record=self.record)


@dataclass(frozen=True, slots=True)
class AgentRecord:
    """An agent's stored profile."""

    agent: str
    name: str = ""
    skills: Mapping[str, int] = field(default_factory=dict)
    queues: Mapping[str, Membership] = field(default_factory=dict)
    mode: AgentMode = AgentMode.RING
    pin_salt: str | None = None
    pin_hash: str | None = None

    def profile(self, mode: AgentMode | None = None) -> AgentProfile:
        return AgentProfile(
            id=self.agent,
            name=self.name,
            skills=dict(self.skills),
            mode=mode or self.mode,
            queues=dict(self.queues),
        )

    def check_pin(self, pin: str) -> PinCheck:
        """Argon2 verification: about 0.1 s of CPU, so call it in a thread."""
        return verify_pin(self.pin_salt, self.pin_hash, pin)
