"""Which Asterisk process ccpbx talks to, and which channel is which (pure).

Asterisk numbers its channels from zero again when it restarts (``PJSIP/1006-00000000``
...), so a channel name, or even a uniqueid, means nothing without the process that
made it. An instance is known by its start time, from ``CoreStatus``
(``CoreStartupDate`` and ``CoreStartupTime``), and its ``SystemName`` when one is set. A
channel is the pair (instance, uniqueid); its name is only a label.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


class Headers(Protocol):
    """What is read from a message: ``AmiMessage`` or a plain dict."""

    def get(self, key: str, /) -> str | None: ...


@dataclass(frozen=True, slots=True)
class AsteriskInstance:
    """One run of one Asterisk process: empty ``started`` when it could not be read."""

    started: str
    system_name: str = ""

    @property
    def known(self) -> bool:
        return bool(self.started)

    def __str__(self) -> str:
        name = f"{self.system_name}@" if self.system_name else ""
        return f"{name}{self.started or 'unknown'}"


UNKNOWN = AsteriskInstance("")


def instance_from_core_status(headers: Headers) -> AsteriskInstance:
    """The instance a ``CoreStatus`` response describes (``UNKNOWN`` without a start time)."""
    date = (headers.get("CoreStartupDate") or "").strip()
    time = (headers.get("CoreStartupTime") or "").strip()
    if not date or not time:
        return UNKNOWN
    return AsteriskInstance(f"{date} {time}", (headers.get("SystemName") or "").strip())


def restarted(before: AsteriskInstance | None, now: AsteriskInstance) -> bool:
    """True if ``now`` is provably another process than ``before`` (both known, different).

    A first connection (``before`` None) or an instance that could not be read is not a
    restart: ccpbx then trusts what Asterisk lists, as it always did."""
    if before is None or not before.known or not now.known:
        return False
    return before != now


@dataclass(frozen=True, slots=True)
class ChannelRef:
    """A channel as ccpbx may act on it: the instance that made it and its uniqueid.

    Two refs are the same channel only if both match; the name is carried for logs and
    for actions on the instance that made it, never compared."""

    instance: AsteriskInstance
    uniqueid: str
    name: str = field(default="", compare=False)

    def lives_on(self, current: AsteriskInstance) -> bool:
        """The channel may still exist on ``current``: it was made by it (or either
        instance is unknown, when ccpbx cannot tell)."""
        if not self.instance.known or not current.known:
            return True
        return self.instance == current


def same_channel(a: ChannelRef, b: ChannelRef) -> bool:
    """Same uniqueid on the same instance; the names do not matter."""
    return a == b
