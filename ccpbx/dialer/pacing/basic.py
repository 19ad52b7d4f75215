"""Simple pacers: one call per ready agent, and a fixed dial ratio."""

from __future__ import annotations

from ccpbx.dialer.pacing.model import BasePacer, PacingSnapshot


class ProgressivePacer(BasePacer):
    """One call in flight per ready agent: never abandons, often leaves agents waiting."""

    name = "progressive"
    tick_s = 1.0
    on_events = True

    def decide(self, snapshot: PacingSnapshot) -> int:
        """Top up calls in flight (and waiting) to the number of ready agents."""
        return max(0, snapshot.ready - snapshot.in_flight - snapshot.waiting)


class ReadyRatioPacer(BasePacer):
    """A fixed ratio per ready agent: keep ``round(level * ready agents)`` calls in flight.

    Busy agents are not counted, so at full occupancy nothing is dialed; calls already
    in flight and answered calls waiting for an agent count against the target.
    """

    tick_s = 1.0
    on_events = True

    def __init__(self, level: float) -> None:
        if not 0 < level <= 100:
            raise ValueError(f"ratio level must be in (0, 100], not {level!r}")
        self.level = level
        self.name = f"ready_ratio:{level:g}"

    def decide(self, snapshot: PacingSnapshot) -> int:
        """Top up calls in flight to ``round(level * ready)``."""
        target = round(self.level * snapshot.ready)
        return max(0, target - snapshot.in_flight - snapshot.waiting)
