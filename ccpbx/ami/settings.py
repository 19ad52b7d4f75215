"""Typed, frozen settings of one AMI session, checked once at construction."""

from __future__ import annotations

from dataclasses import dataclass, field

from ccpbx.ami.protocol import DEFAULT_MAX_MESSAGE_BYTES
from ccpbx.errors import ConfigError


@dataclass(frozen=True, slots=True)
class AmiSettings:
    """Connection, deadline, keepalive, backoff and queue settings of one Asterisk node.

    Times are in seconds. ``backoff_jitter`` is a fraction: each reconnect delay
    is drawn uniformly from ``delay * (1 - jitter) .. delay * (1 + jitter)``
    (then capped at ``backoff_max``).
    """

    host: str
    username: str
    secret: str = field(repr=False)
    port: int = 5038
    connect_timeout: float = 5.0
    action_timeout: float = 10.0
    ping_interval: float = 10.0
    ping_timeout: float = 5.0
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    backoff_jitter: float = 0.2
    boot_timeout: float = 30.0
    """After login, wait this long for ``FullyBooted`` before serving anyway (a user
    without the ``system`` read class never gets it)."""
    event_queue_size: int = 10_000
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    events: str = "on"
    name: str = ""

    def __post_init__(self) -> None:
        problems: list[str] = []
        if not self.host:
            problems.append("host is empty")
        if not self.username:
            problems.append("username is empty")
        if not 0 < self.port < 65536:
            problems.append(f"port {self.port} is out of range")
        for key in (
            "connect_timeout",
            "action_timeout",
            "ping_interval",
            "ping_timeout",
            "backoff_initial",
            "backoff_max",
            "boot_timeout",
        ):
            if not getattr(self, key) > 0:
                problems.append(f"{key} must be > 0")
        if self.backoff_max < self.backoff_initial:
            problems.append("backoff_max must be >= backoff_initial")
        if not 0 <= self.backoff_jitter < 1:
            problems.append("backoff_jitter must be in [0, 1)")
        if self.event_queue_size < 1:
            problems.append("event_queue_size must be >= 1")
        if self.max_message_bytes < 1024:
            problems.append("max_message_bytes must be >= 1024")
        for key in ("host", "username", "secret", "events"):
            value = getattr(self, key)
            if any(c in value for c in "\r\n\x00"):
                problems.append(f"{key} holds CR, LF or NUL")
        if problems:
            raise ConfigError("invalid AMI settings: " + "; ".join(problems), problems=problems)

    @property
    def node(self) -> str:
        """Label of the node in logs and health reports."""
        return self.name or f"{self.host}:{self.port}"
