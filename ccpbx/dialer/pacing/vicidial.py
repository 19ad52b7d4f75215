"""Re-implementations of VICIdial's RATIO and ADAPT_* dial methods, as baselines.

From VICIdial's public documentation and its AST_VDauto_dial / AST_VDadapt logic:

* every 2.5 s the campaign needs ``round(level * active agents) - active lines`` new
  calls, where active agents are those ready or in a call (agents in wrap-up/dispo are
  paused and not counted, ``available_only_ratio_tally`` = N) and active lines are the
  campaign's calls in ``vicidial_auto_calls``: ringing, answered and waiting, and
  connected to an agent. At level 1 this is one call per ready agent.
* every 15 s the adaptive modes set
  ``level <- level * (1 + (avg ready - avg waiting calls) / avg logged-in agents)``
  over the past interval, clamped to [1, max level] (default max 3.0, intensity 0,
  dial-level difference target 0);
* drop control against the day's dropped share of answered calls:
  ``ADAPT_HARD_LIMIT`` drops to level 1 while over the target; ``ADAPT_AVERAGE`` halves
  the level while over it; ``ADAPT_TAPERED`` allows running over early in the shift (up
  to twice the target at the start, tapering to the target itself at mid-shift) and
  halves the level while over that allowance;
* if more than half of the last minute's answered calls were dropped, the level halves.
"""

from __future__ import annotations

from collections import deque

from ccpbx.dialer.pacing.model import BasePacer, PacingSnapshot

MODES = ("hard_limit", "average", "tapered")


def vicidial_need(level: float, snapshot: PacingSnapshot) -> int:
    """Calls VICIdial places now at dial ``level``."""
    talking = len(snapshot.talking_since)
    active_agents = snapshot.ready + talking
    lines = talking + snapshot.in_flight + snapshot.waiting
    return max(0, round(level * active_agents) - lines)


class VicidialRatioPacer(BasePacer):
    """VICIdial's RATIO method: a fixed dial level over ready and talking agents.

    It tops up after every state change as well as every 2.5 s, like the fixed-ratio
    policy of the Markov reference (VICIdial itself only looks every 2.5 s).
    Fractional parts of ``level * agents`` are dithered over time: the rounding offset
    changes every ``dither_s`` seconds (a low-discrepancy sequence), so that level 1.05
    with 10 agents means 11 lines half of the time and 10 otherwise, not always 11.
    """

    tick_s = 2.5
    on_events = True
    event_gap_s = 0.25

    def __init__(self, level: float) -> None:
        if not 1.0 <= level <= 20.0:
            raise ValueError(f"ratio level must be in [1, 20], not {level!r}")
        self.level = level
        self.name = f"ratio:{level:g}"
        self.dither_s = 60.0

    def decide(self, snapshot: PacingSnapshot) -> int:
        """Top up active lines to ``level * (ready + talking)``, dithered."""
        talking = len(snapshot.talking_since)
        goal = self.level * (snapshot.ready + talking)
        phase = (int(snapshot.now // self.dither_s) * 0.6180339887498949) % 1.0
        lines = talking + snapshot.in_flight + snapshot.waiting
        return max(0, int(goal + phase) - lines)


class VicidialAdaptivePacer(BasePacer):
    """VICIdial ``ADAPT_HARD_LIMIT``, ``ADAPT_AVERAGE`` or ``ADAPT_TAPERED``."""

    tick_s = 2.5
    on_events = False

    def __init__(
        self,
        mode: str,
        *,
        max_level: float = 3.0,
        start_level: float = 1.0,
        drop_target: float | None = None,
        adapt_s: float = 15.0,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        if max_level < 1.0 or not 1.0 <= start_level <= max_level:
            raise ValueError("need 1 <= start_level <= max_level")
        self.mode = mode
        self.name = f"vicidial_{mode}"
        self.max_level = max_level
        self.level = start_level
        self.drop_target = drop_target
        self.adapt_s = adapt_s
        self._next_adapt: float | None = None
        self._sum_ready = 0.0
        self._sum_waiting = 0.0
        self._sum_agents = 0.0
        self._samples = 0
        self._history: deque[tuple[float, int, int]] = deque()

    def decide(self, snapshot: PacingSnapshot) -> int:
        """Sample the averages, adapt the level when due, and place the needed calls."""
        now = snapshot.now
        self._sum_ready += snapshot.ready
        self._sum_waiting += snapshot.waiting
        self._sum_agents += snapshot.logged_in
        self._samples += 1
        self._history.append((now, snapshot.today.answered, snapshot.today.abandoned))
        while self._history and self._history[0][0] < now - 60.0:
            self._history.popleft()
        if self._next_adapt is None or now > self._next_adapt + 4 * self.adapt_s:
            # first decision, or the first of a new shift: start a fresh interval
            self._sum_ready = self._sum_waiting = self._sum_agents = 0.0
            self._samples = 0
            self._next_adapt = now + self.adapt_s
        elif now >= self._next_adapt:
            self._adapt(snapshot)
            self._next_adapt = now + self.adapt_s
        return vicidial_need(self.level, snapshot)

    def _adapt(self, snapshot: PacingSnapshot) -> None:
        n = max(1, self._samples)
        ready, waiting, agents = (
            self._sum_ready / n,
            self._sum_waiting / n,
            self._sum_agents / n,
        )
        self._sum_ready = self._sum_waiting = self._sum_agents = 0.0
        self._samples = 0
        if agents > 0:
            self.level *= 1.0 + (ready - waiting) / agents
        self.level = min(self.max_level, max(1.0, self.level))
        target = snapshot.abandon_target if self.drop_target is None else self.drop_target
        today = snapshot.today
        frac = (
            min(1.0, snapshot.shift_elapsed_s / snapshot.shift_length_s)
            if snapshot.shift_length_s > 0
            else 1.0
        )
        allowed = target
        if self.mode == "tapered":
            allowed *= 1.0 + max(0.0, 1.0 - 2.0 * frac)
        if today.answered and today.rate > allowed:
            if self.mode == "hard_limit":
                self.level = 1.0
            else:
                self.level = max(1.0, self.level / 2.0)
        if self._history:
            _, answered0, dropped0 = self._history[0]
            answered = today.answered - answered0
            dropped = today.abandoned - dropped0
            if answered > 0 and dropped > answered / 2:
                self.level = max(1.0, self.level / 2.0)
