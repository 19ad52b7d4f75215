"""Live ACD statistics per queue and agent, fed by the state's events.

Counts are kept in total and per interval (15 minutes by default, keyed by the
interval's start time on the event clock). Definitions:

- offered: calls entering the queue (new or overflowed in; a requeue after a ring with
  no answer is not a new offer);
- abandoned: callers who left after waiting at least the queue's ``short_abandon_s``;
  shorter ones are counted apart as short abandons and left out of the service level;
- service level: answered within ``service_level_s`` / (answered + abandoned);
- ASA: mean wait of answered calls; AHT: (talk + wrap-up time) / calls ended;
- abandon rate: abandoned / (answered + abandoned).

Besides the totals, the wallboard's windows: "today" sums the intervals that start at
or after local midnight (:func:`day_start`, the configured report time zone), closed
ones included (kept in memory 26 h); "last 30 min" sums one-minute buckets (see
:meth:`AcdStats.recent_counts`: 29 whole minutes and the current one).

A call found again after a restart (``call_restored``) counts as nothing: it was
offered, and answered if talking, before. A restarted service rebuilds its counters
with :meth:`AcdStats.seed` (the totals of the intervals already stored) and
:meth:`AcdStats.apply_all` (the stored events since), so they go on unchanged.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields

from ccpbx.acd.model import AcdEvent, EventKind, QueueConfig
from ccpbx.acd.state import AcdState

INTERVAL_S = 900.0
MINUTE_S = 60.0
RECENT_S = 1800.0
"""The sliding window of the "last 30 min" figures (see :meth:`AcdStats.recent_counts`)."""
HISTORY_S = 26 * 3600.0
"""How long closed intervals stay in memory for the "today" figures."""


@dataclass(slots=True)
class QueueCounts:
    offered: int = 0
    answered: int = 0
    answered_in_sl: int = 0
    abandoned: int = 0
    short_abandoned: int = 0
    overflowed: int = 0
    no_answer: int = 0
    handled: int = 0
    wait_answered_s: float = 0.0
    talk_s: float = 0.0
    wrapup_s: float = 0.0

    @property
    def service_level(self) -> float | None:
        """Share answered within the threshold (None before any answer or abandon)."""
        base = self.answered + self.abandoned
        return self.answered_in_sl / base if base else None

    @property
    def asa_s(self) -> float | None:
        return self.wait_answered_s / self.answered if self.answered else None

    @property
    def abandon_rate(self) -> float | None:
        """Share abandoned of the calls whose wait ended in an answer or an abandon
        (short abandons left out, as in the service level)."""
        base = self.answered + self.abandoned
        return self.abandoned / base if base else None

    @property
    def aht_s(self) -> float | None:
        return (self.talk_s + self.wrapup_s) / self.handled if self.handled else None


def day_start(now: float, zone: dt.tzinfo) -> float:
    """The epoch time of the local midnight that began ``now``'s day in ``zone`` (on a
    day that has no midnight, the first moment of it)."""
    local = dt.datetime.fromtimestamp(now, zone)
    midnight = dt.datetime(local.year, local.month, local.day, tzinfo=zone)
    return min(midnight.timestamp(), now)


@dataclass(slots=True)
class AgentCounts:
    offered: int = 0
    answered: int = 0
    no_answer: int = 0
    handled: int = 0
    talk_s: float = 0.0
    wrapup_s: float = 0.0

    @property
    def aht_s(self) -> float | None:
        return (self.talk_s + self.wrapup_s) / self.handled if self.handled else None


@dataclass(frozen=True, slots=True)
class QueueStats:
    """One queue at ``at``: totals, the current interval, and live figures."""

    queue: str
    at: float
    total: QueueCounts
    interval_start: float
    interval: QueueCounts
    waiting: int
    longest_wait_s: float
    agents: dict[str, int]


@dataclass(frozen=True, slots=True)
class AgentStats:
    agent_id: str
    at: float
    state: str
    since: float
    total: AgentCounts
    interval_start: float
    interval: AgentCounts


@dataclass(slots=True)
class _Series:
    total: QueueCounts = field(default_factory=QueueCounts)
    intervals: dict[float, QueueCounts] = field(default_factory=dict)
    closed: dict[float, QueueCounts] = field(default_factory=dict)
    """Intervals already handed out for storage, kept for :data:`HISTORY_S` ("today")."""
    minutes: dict[float, QueueCounts] = field(default_factory=dict)
    """One-minute buckets of the last :data:`RECENT_S` (the "last 30 min" figures)."""


@dataclass(slots=True)
class _AgentSeries:
    total: AgentCounts = field(default_factory=AgentCounts)
    intervals: dict[float, AgentCounts] = field(default_factory=dict)


class AcdStats:
    """Counters updated by :meth:`apply`; ``config_of`` gives a queue's thresholds."""

    def __init__(
        self, config_of: Callable[[str], QueueConfig], *, interval_s: float = INTERVAL_S
    ) -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be > 0")
        self._config_of = config_of
        self.interval_s = interval_s
        self._queues: dict[str, _Series] = {}
        self._agents: dict[str, _AgentSeries] = {}

    def interval_of(self, at: float) -> float:
        return math.floor(at / self.interval_s) * self.interval_s

    def apply(self, event: AcdEvent) -> None:
        start = self.interval_of(event.at)
        if event.queue is not None:
            self._apply_queue(event, start)
        if event.agent_id is not None:
            self._apply_agent(event, start)

    def apply_all(self, events: Iterable[AcdEvent]) -> None:
        for event in events:
            self.apply(event)

    def seed(
        self,
        queues: Mapping[str, QueueCounts] | None = None,
        agents: Mapping[str, AgentCounts] | None = None,
    ) -> None:
        """Add counts kept elsewhere (the stored, closed intervals) to the totals."""
        for name, qc in (queues or {}).items():
            series = self._queues.get(name)
            if series is None:
                series = self._queues[name] = _Series()
            _add(series.total, qc)
        for agent_id, ac in (agents or {}).items():
            aseries = self._agents.get(agent_id)
            if aseries is None:
                aseries = self._agents[agent_id] = _AgentSeries()
            _add(aseries.total, ac)

    def seed_intervals(self, queue: str, intervals: Mapping[float, QueueCounts]) -> None:
        """Closed intervals kept elsewhere (stored today) for the "today" figures."""
        series = self._queues.get(queue)
        if series is None:
            series = self._queues[queue] = _Series()
        for start, qc in intervals.items():
            _add(series.closed.setdefault(start, QueueCounts()), qc)

    def apply_recent(self, events: Iterable[AcdEvent]) -> None:
        """Count events into the one-minute buckets only (stored events a restarted
        service reads back for its "last 30 min" figures; their intervals are stored)."""
        for event in events:
            if event.queue is not None and event.kind in _QUEUE_KINDS:
                series = self._queues.get(event.queue)
                if series is None:
                    series = self._queues[event.queue] = _Series()
                bucket = series.minutes.setdefault(_minute(event.at), QueueCounts())
                self._count(event, (bucket,))

    def since_counts(self, queue: str, start: float, now: float) -> QueueCounts:
        """Sum of the intervals (closed and open) that start at or after ``start`` and
        before ``now``: with ``start`` on an interval boundary (a local midnight, for
        zones whose offset is a whole number of intervals), exactly the events since it."""
        out = QueueCounts()
        series = self._queues.get(queue)
        if series is None:
            return out
        for group in (series.closed, series.intervals):
            for begin, qc in group.items():
                if start <= begin <= now:
                    _add(out, qc)
        return out

    def recent_counts(self, queue: str, now: float) -> QueueCounts:
        """The last 30 minutes: the one-minute buckets that start after ``now - 30 min``
        and at or before ``now``: 29 whole minutes and the current, partial one, so
        the figures cover between 29 and 30 minutes (events of the minute that started
        exactly 30 minutes ago and earlier are out)."""
        out = QueueCounts()
        series = self._queues.get(queue)
        if series is None:
            return out
        for begin, qc in series.minutes.items():
            if now - RECENT_S < begin <= now:
                _add(out, qc)
        return out

    def queue_counts(self, queue: str) -> QueueCounts:
        series = self._queues.get(queue)
        return series.total if series else QueueCounts()

    def queue_intervals(self, queue: str) -> dict[float, QueueCounts]:
        series = self._queues.get(queue)
        return dict(series.intervals) if series else {}

    def agent_counts(self, agent_id: str) -> AgentCounts:
        series = self._agents.get(agent_id)
        return series.total if series else AgentCounts()

    def agent_intervals(self, agent_id: str) -> dict[float, AgentCounts]:
        series = self._agents.get(agent_id)
        return dict(series.intervals) if series else {}

    def queue_stats(self, state: AcdState, queue: str, now: float) -> QueueStats:
        """Totals, current interval and live figures (waiting, longest wait, agents)."""
        start = self.interval_of(now)
        series = self._queues.get(queue) or _Series()
        return QueueStats(
            queue=queue,
            at=now,
            total=series.total,
            interval_start=start,
            interval=series.intervals.get(start) or QueueCounts(),
            waiting=state.waiting_count(queue),
            longest_wait_s=state.longest_wait(queue, now),
            agents={s.value: n for s, n in state.agents_by_state(queue).items()},
        )

    def agent_stats(self, state: AcdState, agent_id: str, now: float) -> AgentStats:
        agent = state.agent(agent_id)
        start = self.interval_of(now)
        series = self._agents.get(agent_id) or _AgentSeries()
        return AgentStats(
            agent_id=agent_id,
            at=now,
            state=agent.state.value,
            since=agent.since,
            total=series.total,
            interval_start=start,
            interval=series.intervals.get(start) or AgentCounts(),
        )

    def pop_closed_intervals(
        self, now: float
    ) -> tuple[list[tuple[str, float, QueueCounts]], list[tuple[str, float, AgentCounts]]]:
        """Take out (for storage) every interval that ended before ``now``'s interval."""
        current = self.interval_of(now)
        queues = []
        for name, series in self._queues.items():
            for start in sorted(s for s in series.intervals if s < current):
                counts = series.intervals.pop(start)
                queues.append((name, start, counts))
                series.closed[start] = counts
            for start in [s for s in series.closed if s < now - HISTORY_S]:
                del series.closed[start]
            for start in [s for s in series.minutes if s <= now - RECENT_S - MINUTE_S]:
                del series.minutes[start]
        agents = []
        for agent_id, aseries in self._agents.items():
            for start in sorted(s for s in aseries.intervals if s < current):
                agents.append((agent_id, start, aseries.intervals.pop(start)))
        return queues, agents

    def _apply_queue(self, event: AcdEvent, start: float) -> None:
        assert event.queue is not None
        kind = event.kind
        if kind not in _QUEUE_KINDS:
            return
        series = self._queues.get(event.queue)
        if series is None:
            series = self._queues[event.queue] = _Series()
        interval = series.intervals.get(start)
        if interval is None:
            interval = series.intervals[start] = QueueCounts()
        minute = _minute(event.at)
        bucket = series.minutes.get(minute)
        if bucket is None:
            bucket = series.minutes[minute] = QueueCounts()
            for old in [s for s in series.minutes if s <= minute - RECENT_S - MINUTE_S]:
                del series.minutes[old]
        self._count(event, (series.total, interval, bucket))

    def _count(self, event: AcdEvent, into: Iterable[QueueCounts]) -> None:
        assert event.queue is not None
        kind = event.kind
        config = self._config_of(event.queue)
        for counts in into:
            if kind is EventKind.CALL_ENQUEUED:
                counts.offered += 1
            elif kind is EventKind.CALL_ANSWERED:
                wait = event.wait_s or 0.0
                counts.answered += 1
                counts.wait_answered_s += wait
                if wait <= config.service_level_s:
                    counts.answered_in_sl += 1
            elif kind is EventKind.CALL_ABANDONED:
                if (event.wait_s or 0.0) < config.short_abandon_s:
                    counts.short_abandoned += 1
                else:
                    counts.abandoned += 1
            elif kind is EventKind.CALL_OVERFLOWED:
                counts.overflowed += 1
            elif kind is EventKind.RING_NO_ANSWER:
                counts.no_answer += 1
            elif kind is EventKind.CALL_ENDED:
                counts.handled += 1
                counts.talk_s += event.duration_s or 0.0
            elif kind is EventKind.WRAPUP_ENDED:
                counts.wrapup_s += event.duration_s or 0.0

    def _apply_agent(self, event: AcdEvent, start: float) -> None:
        assert event.agent_id is not None
        kind = event.kind
        if kind not in _AGENT_KINDS:
            return
        series = self._agents.get(event.agent_id)
        if series is None:
            series = self._agents[event.agent_id] = _AgentSeries()
        interval = series.intervals.get(start)
        if interval is None:
            interval = series.intervals[start] = AgentCounts()
        for counts in (series.total, interval):
            if kind is EventKind.CALL_OFFERED:
                counts.offered += 1
            elif kind is EventKind.CALL_ANSWERED:
                counts.answered += 1
            elif kind is EventKind.RING_NO_ANSWER:
                counts.no_answer += 1
            elif kind is EventKind.CALL_ENDED:
                counts.handled += 1
                counts.talk_s += event.duration_s or 0.0
            elif kind is EventKind.WRAPUP_ENDED:
                counts.wrapup_s += event.duration_s or 0.0


def _minute(at: float) -> float:
    return math.floor(at / MINUTE_S) * MINUTE_S


def _add(into: QueueCounts | AgentCounts, more: QueueCounts | AgentCounts) -> None:
    for f in fields(into):
        setattr(into, f.name, getattr(into, f.name) + getattr(more, f.name))


_QUEUE_KINDS = frozenset(
    {
        EventKind.CALL_ENQUEUED,
        EventKind.CALL_ANSWERED,
        EventKind.CALL_ABANDONED,
        EventKind.CALL_OVERFLOWED,
        EventKind.RING_NO_ANSWER,
        EventKind.CALL_ENDED,
        EventKind.WRAPUP_ENDED,
    }
)
_AGENT_KINDS = frozenset(
    {
        EventKind.CALL_OFFERED,
        EventKind.CALL_ANSWERED,
        EventKind.RING_NO_ANSWER,
        EventKind.CALL_ENDED,
        EventKind.WRAPUP_ENDED,
    }
)
