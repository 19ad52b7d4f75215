"""In-memory sign-in limits: failures per source address, and the lockout of names that
are no user (so a locked answer does not tell which names exist). Pure: the caller
passes the time."""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict, deque

from ccpbx.users.model import Lockout

MAX_TRACKED = 10_000  # sources or names remembered at once; the oldest are forgotten


class SourceLimiter:
    """At most ``max_failures`` failed sign-ins from one address within ``window``."""

    def __init__(self, max_failures: int, window: dt.timedelta) -> None:
        self.max_failures = max_failures
        self.window = window
        self._failures: OrderedDict[str, deque[dt.datetime]] = OrderedDict()

    def _recent(self, source: str, now: dt.datetime) -> deque[dt.datetime]:
        times = self._failures.get(source)
        if times is None:
            return deque()
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._failures[source]
        return times

    def blocked(self, source: str, now: dt.datetime) -> bool:
        return len(self._recent(source, now)) >= self.max_failures

    def failed(self, source: str, now: dt.datetime) -> None:
        times = self._recent(source, now)
        times.append(now)
        self._failures[source] = times
        self._failures.move_to_end(source)
        while len(self._failures) > MAX_TRACKED:
            self._failures.popitem(last=False)


class UnknownNames:
    """The lockout rule applied to names that are no user, as the store applies it to users."""

    def __init__(self, lockout: Lockout) -> None:
        self.lockout = lockout
        self._names: OrderedDict[str, tuple[int, dt.datetime | None]] = OrderedDict()

    def locked(self, name: str, now: dt.datetime) -> bool:
        _, until = self._names.get(name, (0, None))
        return until is not None and until > now

    def failed(self, name: str, now: dt.datetime) -> dt.datetime | None:
        """Count a failure; the time the name is locked until when this one locks it."""
        failures, until = self._names.get(name, (0, None))
        if until is not None and until <= now:
            failures = 0
        failures, until = self.lockout.after_failure(failures, now)
        self._names[name] = (failures, until)
        self._names.move_to_end(name)
        while len(self._names) > MAX_TRACKED:
            self._names.popitem(last=False)
        return until
