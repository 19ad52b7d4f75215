"""Rolling counts of live answers and abandons, bucketed so memory stays bounded."""

from __future__ import annotations

from collections import deque

from ccpbx.dialer.pacing.model import AbandonWindow

DAY_S = 86_400.0


class RollingCounter:
    """Live answers and abandons over the last ``window_s`` seconds.

    Events are kept in ``bucket_s`` buckets; a bucket leaves the window once its start
    is ``window_s`` or more before ``now`` (so the window is exact to one bucket).
    """

    def __init__(self, window_s: float, bucket_s: float = 60.0) -> None:
        if window_s <= 0 or bucket_s <= 0:
            raise ValueError("window_s and bucket_s must be > 0")
        self.window_s = window_s
        self.bucket_s = bucket_s
        self._buckets: deque[list[int]] = deque()  # [bucket index, answered, abandoned]
        self._answered = 0
        self._abandoned = 0

    def _expire(self, now: float) -> None:
        oldest = int((now - self.window_s) // self.bucket_s)
        buckets = self._buckets
        while buckets and buckets[0][0] <= oldest:
            _, ans, ab = buckets.popleft()
            self._answered -= ans
            self._abandoned -= ab

    def add(self, now: float, answered: int = 0, abandoned: int = 0) -> None:
        """Count ``answered`` live answers and ``abandoned`` abandons at ``now``."""
        idx = int(now // self.bucket_s)
        buckets = self._buckets
        if buckets and buckets[-1][0] == idx:
            buckets[-1][1] += answered
            buckets[-1][2] += abandoned
        else:
            buckets.append([idx, answered, abandoned])
        self._answered += answered
        self._abandoned += abandoned
        self._expire(now)

    def window(self, now: float) -> AbandonWindow:
        """Counts over the window ending at ``now``."""
        self._expire(now)
        return AbandonWindow(self._answered, self._abandoned)
