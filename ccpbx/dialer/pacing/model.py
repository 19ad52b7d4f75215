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

    Times are seconds on one monotonic clock. ``*_since`` hold, per agent or call, when
    its current state began: agents ready (idle since), talking, in wrap-up; calls
    placed and not resolved yet (ringing); live-answered calls waiting for an agent
    (abandoned once they have waited ``grace_s``). The ``*_s`` properties give the
    elapsed times. Agents logged in but paused or on break are in none of the lists.
    """

    now: float
    logged_in: int
    ready_since: tuple[float, ...]
    talking_since: tuple[float, ...]
    wrapping_since: tuple[float, ...]
    ringing_since: tuple[float, ...]
    waiting_since: tuple[float, ...]
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
        return len(self.ready_since)

    @property
    def busy(self) -> int:
        """Agents talking or in wrap-up."""
        return len(self.talking_since) + len(self.wrapping_since)

    @property
    def in_flight(self) -> int:
        """Calls placed and neither answered nor failed yet."""
        return len(self.ringing_since)

    @property
    def waiting(self) -> int:
        """Live-answered calls waiting for an agent."""
        return len(self.waiting_since)

    @property
    def ready_idle_s(self) -> tuple[float, ...]:
        """Idle time of each ready agent."""
        return tuple(map(self.now.__sub__, self.ready_since))

    @property
    def talking_s(self) -> tuple[float, ...]:
        """Elapsed talk time of each talking agent."""
        return tuple(map(self.now.__sub__, self.talking_since))

    @property
    def wrapping_s(self) -> tuple[float, ...]:
        """Elapsed wrap-up time of each agent in wrap-up."""
        return tuple(map(self.now.__sub__, self.wrapping_since))

    @property
    def ringing_s(self) -> tuple[float, ...]:
        """Elapsed ring time of each call in flight."""
        return tuple(map(self.now.__sub__, self.ringing_since))

    @property
    def waiting_s(self) -> tuple[float, ...]:
        """Elapsed wait of each answered call waiting for an agent."""
        return tuple(map(self.now.__sub__, self.waiting_since))


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
