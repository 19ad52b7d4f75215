"""Progress of a long import on stderr, with rows per second and time left.

On a terminal a one-line bar is redrawn at most five times a second; on
anything else (a pipe, a log file, cron) one plain line is written every few
seconds. Pure apart from the stream and the clock, both passed in.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import IO

TERMINAL_EVERY_S = 0.2
LOG_EVERY_S = 5.0


def _duration(seconds: float) -> str:
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


class Progress:
    """Draw the progress of reading ``total`` bytes; ``update`` is cheap to call often."""

    def __init__(
        self,
        total: int,
        label: str,
        stream: IO[str] | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        enabled: bool = True,
    ) -> None:
        self.stream = stream or sys.stderr
        self.terminal = self.stream.isatty()
        self.enabled = enabled
        self.every = TERMINAL_EVERY_S if self.terminal else LOG_EVERY_S
        self.total = max(total, 1)
        self.label = label
        self.clock = clock
        self.started = clock()
        self._next = self.started + self.every
        self._drawn = False

    def line(self, done: int, rows: int, now: float) -> str:
        """The progress text: percent, rows, rows/s and the time left."""
        elapsed = max(now - self.started, 1e-9)
        done = min(done, self.total)
        percent = done * 100 // self.total
        rate = rows / elapsed
        eta = elapsed * (self.total - done) / done if done else None
        left = f"ETA {_duration(eta)}" if eta is not None else "ETA unknown"
        return f"{percent:3d}% {rows:,} rows, {rate:,.0f} rows/s, {left}"

    def update(self, done: int, rows: int) -> None:
        if not self.enabled:
            return
        now = self.clock()
        if now < self._next:
            return
        self._next = now + self.every
        text = self.line(done, rows, now)
        if self.terminal:
            percent = min(done, self.total) * 100 // self.total
            bar = "#" * (percent // 4)
            self.stream.write(f"\r{self.label} [{bar:<25}] {text}\x1b[K")
            self._drawn = True
        else:
            self.stream.write(f"{self.label}: {text}\n")
        self.stream.flush()

    def finish(self) -> None:
        if self.enabled and self.terminal and self._drawn:
            self.stream.write("\n")
            self.stream.flush()
