"""What a pacer sees and the protocol every pacer follows.

A pacer is pure: it gets a frozen :class:`PacingSnapshot` of what the live runtime
knows, returns how many calls to place now, and learns from outcome hooks.
The discrete-event simulator and the live campaign runner drive the same objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class AbandonWindow:
    """Live answers and abandons counted over one window (today, rolling 24 h, 30 d)."""

    answered: int = 0
    abandoned: int = 0

    @property
    def rate(self) -> float:
        """Abandoned share of live-answered calls (0 when nothing was answered)."""
        return self.abandoned / self.answered if self.answered else 0.0


@dataclass(frozen=True, slots=True)
class PacingSnapshot:
    """State of one campaign at ``now``, as ccpbx can know it live.

    Elapsed times are in seconds. ``talking_s`` and ``wrapping_s`` hold one entry per
    agent in that state (time since the state began); ``ringing_s`` one entry per call
    placed and not yet resolved; ``waiting_s`` one entry per live-answered call waiting
    for an agent (it is abandoned once it has waited ``grace_s``).
    """

    now: float
    logged_in: int
    ready_idle_s: tuple[float, ...]
    talking_s: tuple[float, ...]
    wrapping_s: tuple[float, ...]
    ringing_s: tuple[float, ...]
    waiting_s: tuple[float, ...]
    today: AbandonWindow
    last_24h: AbandonWindow
    last_30d: AbandonWindow
    abandon_target: float
    grace_s: float
    shift_elapsed_s: float
    shift_length_s: float

    @property
    def ready(self) -> int:
        """Agents ready for a call now."""
        return len(self.ready_idle_s)

    @property
    def busy(self) -> int:
        """Agents talking or in wrap-up."""
        return len(self.talking_s) + len(self.wrapping_s)

    @property
    def in_flight(self) -> int:
        """Calls placed and neither answered nor failed yet."""
        return len(self.ringing_s)


@runtime_checkable
class Pacer(Protocol):
    """Decides how many calls to place; told about outcomes through ``observe_*``.

    The runtime calls :meth:`decide` every ``tick_s`` seconds and, when ``on_events``
    is true, also right after each change of agent or call state, unless the last
    decision is less than ``event_gap_s`` old (the next tick then catches up).
    """

    name: str
    tick_s: float
    on_events: bool
    event_gap_s: float

    def decide(self, snapshot: PacingSnapshot) -> int:
        """Number of calls to place now (0 or more)."""
        ...

    def observe_outcome(self, ring_s: float, live: bool) -> None:
        """A placed call resolved after ``ring_s`` seconds: live answer or not."""
        ...

    def observe_talk(self, talk_s: float) -> None:
        """A connected call ended after ``talk_s`` seconds of talk."""
        ...

    def observe_wrap(self, wrap_s: float) -> None:
        """An agent finished wrap-up after ``wrap_s`` seconds."""
        ...

    def observe_abandon(self, now: float) -> None:
        """A live-answered call was abandoned (no agent within the grace time)."""
        ...


class BasePacer:
    """Default no-op hooks, so simple pacers only implement :meth:`decide`."""

    name = "base"
    tick_s = 1.0
    on_events = True
    event_gap_s = 0.0

    def decide(self, snapshot: PacingSnapshot) -> int:
        """Place nothing."""
        return 0

    def observe_outcome(self, ring_s: float, live: bool) -> None:
        """Ignore outcomes."""

    def observe_talk(self, talk_s: float) -> None:
        """Ignore talk times."""

    def observe_wrap(self, wrap_s: float) -> None:
        """Ignore wrap times."""

    def observe_abandon(self, now: float) -> None:
        """Ignore abandons."""
