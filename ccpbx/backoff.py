"""Exponential reconnect backoff with jitter (pure: the random source is injected).

The one backoff of every supervised link: the AMI link per Asterisk, the PostgreSQL pool.
"""

from __future__ import annotations

import random as _random
from collections.abc import Callable


def exponential(initial: float, maximum: float, attempt: int) -> float:
    """``initial * 2**attempt`` capped at ``maximum`` (attempt 0 is ``initial``)."""
    return min(maximum, initial * (2.0 ** min(attempt, 60)))


class Backoff:
    """Delays ``initial * 2**n`` capped at ``maximum``, each scaled by ``1 ± jitter``."""

    def __init__(
        self,
        initial: float,
        maximum: float,
        jitter: float,
        random: Callable[[], float] = _random.random,
    ) -> None:
        self.initial = initial
        self.maximum = maximum
        self.jitter = jitter
        self._random = random
        self.attempt = 0

    def next_delay(self) -> float:
        """The delay before the next attempt; each call counts one more failure."""
        base = exponential(self.initial, self.maximum, self.attempt)
        self.attempt += 1
        scale = 1.0 - self.jitter + 2.0 * self.jitter * self._random()
        return min(self.maximum, max(0.0, base * scale))

    def reset(self) -> None:
        """Start again from ``initial`` (after a successful connect)."""
        self.attempt = 0
