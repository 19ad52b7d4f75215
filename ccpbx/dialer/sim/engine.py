"""Seeded discrete-event simulation of an outbound campaign driven by a pacer.

Each day is a shift of ``day_hours``: all agents log in ready at its start; the pacer
is asked for calls every ``tick_s`` and (when it wants) after every state change; at the
end of the shift dialing stops and calls in flight play out. A live answer takes the
longest-idle ready agent; with none ready the customer waits up to ``grace_s`` (less the
AMD analysis time) for an agent and is otherwise abandoned. Busy time is counted inside
the shift only.
"""

from __future__ import annotations

import heapq
import random
from bisect import bisect_left
from itertools import accumulate

from ccpbx.dialer.pacing.model import AbandonWindow, Pacer, PacingSnapshot
from ccpbx.dialer.pacing.window import DAY_S, RollingCounter
from ccpbx.dialer.sim.metrics import RunMetrics, summarize
from ccpbx.dialer.sim.scenario import Scenario

_OUTCOME, _TALK_END, _WRAP_END, _ABANDON, _TICK, _BREAK_DUE, _BREAK_END = range(7)


class Simulator:
    """One seeded run of ``scenario`` under ``pacer``; call :meth:`run` once."""

    def __init__(self, scenario: Scenario, pacer: Pacer, *, seed: int | None = None) -> None:
        self.sc = scenario
        self.pacer = pacer
        self.seed = scenario.seed if seed is None else seed
        rng = random.Random(self.seed)
        self._rand = rng.random
        self._answer = scenario.answer_delay_s.sampler(rng)
        self._talk = scenario.talk_s.sampler(rng)
        self._wrap = scenario.wrap_s.sampler(rng)
        self._fail = [f.after_s.sampler(rng) for f in scenario.failures]
        self._fail_cum = list(accumulate(f.share for f in scenario.failures))
        self._fail_cum[-1] = 1.0
        amd = scenario.amd
        self._machine_share = amd.machine_share if amd else 0.0
        self._detect = amd.detect_s.sampler(rng) if amd else None
        self._human = amd.human_s.sampler(rng) if amd else None
        self._max_batch = 20 * scenario.agents + 20
        self._c24 = RollingCounter(DAY_S, 60.0)
        self._c30 = RollingCounter(30 * DAY_S, 3600.0)
        self._heap: list[tuple[float, int, int, int, float]] = []
        self._seq = 0
        self._next_call = 0
        self.decisions = 0

    # -- event plumbing ---------------------------------------------------------------
    def _push(self, t: float, kind: int, ident: int, extra: float = 0.0) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (t, self._seq, kind, ident, extra))

    def run(self) -> RunMetrics:
        """Simulate all days and return the metrics."""
        sc = self.sc
        self.dials = 0
        self.connects = 0
        self.talk_total = 0.0
        self.wrap_total = 0.0
        day_answered: list[int] = []
        day_abandoned: list[int] = []
        for day in range(sc.days):
            self._run_day(day)
            day_answered.append(self.answered_today)
            day_abandoned.append(self.abandoned_today)
        return summarize(
            seed=self.seed,
            agents=sc.agents,
            day_hours=sc.day_hours,
            target=sc.abandon_target,
            talk_s=self.talk_total,
            wrap_s=self.wrap_total,
            dials=self.dials,
            connects=self.connects,
            day_answered=day_answered,
            day_abandoned=day_abandoned,
        )

    def _run_day(self, day: int) -> None:
        sc = self.sc
        t0 = day * DAY_S
        self.t0 = t0
        self.end = end = t0 + sc.day_hours * 3600.0
        self.ready: dict[int, float] = dict.fromkeys(range(sc.agents), t0)
        self.talking: dict[int, float] = {}
        self.wrapping: dict[int, float] = {}
        self.ringing: dict[int, float] = {}
        self.waiting: dict[int, float] = {}
        self.on_break: set[int] = set()
        self.answered_today = 0
        self.abandoned_today = 0
        self.next_break: list[float] = []
        if sc.breaks:
            every = sc.breaks.every_s
            for aid in range(sc.agents):
                due = t0 + every * (aid + 1) / (sc.agents + 1)
                self.next_break.append(due)
                if due < end:
                    self._push(due, _BREAK_DUE, aid)
        pacer = self.pacer
        on_events = pacer.on_events
        tick = pacer.tick_s
        gap = pacer.event_gap_s
        self._last_decision = -1e18
        self._push(t0, _TICK, 0)
        heap = self._heap
        pop = heapq.heappop
        while heap:
            t, _, kind, ident, extra = pop(heap)
            if kind == _OUTCOME:
                self._outcome(t, ident, extra)
            elif kind == _TALK_END:
                self._talk_end(t, ident)
            elif kind == _WRAP_END:
                self._wrap_end(t, ident)
            elif kind == _ABANDON:
                if ident in self.waiting:
                    del self.waiting[ident]
                    self._abandon(t)
            elif kind == _TICK:
                if t < end:
                    self._decide(t)
                    self._push(t + tick, _TICK, 0)
                continue
            elif kind == _BREAK_DUE:
                if ident in self.ready and t < end:
                    del self.ready[ident]
                    self._start_break(t, ident)
            elif kind == _BREAK_END:
                self.on_break.discard(ident)
                if self.next_break[ident] < end:
                    self._push(self.next_break[ident], _BREAK_DUE, ident)
                self._agent_free(t, ident)
            if on_events and t < end and t - self._last_decision >= gap:
                self._decide(t)

    # -- decisions and dialing ----------------------------------------------------------
    def snapshot(self, now: float) -> PacingSnapshot:
        """What a live runtime would know at ``now``."""
        sc = self.sc
        return PacingSnapshot(
            now=now,
            logged_in=sc.agents,
            ready_since=tuple(self.ready.values()),
            talking_since=tuple(self.talking.values()),
            wrapping_since=tuple(self.wrapping.values()),
            ringing_since=tuple(self.ringing.values()),
            waiting_since=tuple(self.waiting.values()),
            today=AbandonWindow(self.answered_today, self.abandoned_today),
            last_24h=self._c24.window(now),
            last_30d=self._c30.window(now),
            abandon_target=sc.abandon_target,
            grace_s=sc.grace_s,
            shift_elapsed_s=now - self.t0,
            shift_length_s=self.end - self.t0,
        )

    def _decide(self, t: float) -> None:
        self.decisions += 1
        self._last_decision = t
        n = self.pacer.decide(self.snapshot(t))
        if n > 0:
            for _ in range(min(n, self._max_batch)):
                self._dial(t)

    def _dial(self, t: float) -> None:
        sc = self.sc
        cid = self._next_call
        self._next_call += 1
        self.dials += 1
        self.ringing[cid] = t
        u = self._rand()
        p = sc.answer_prob_at(t - self.t0)
        if u < p:
            delay = self._answer()
            grace = sc.grace_s
            if self._human is not None:
                human = self._human()
                delay += human
                grace = max(0.0, grace - human)
            self._push(t + delay, _OUTCOME, cid, grace)
            return
        ms = self._machine_share
        if self._detect is not None and u < p + ms:
            self._push(t + self._answer() + self._detect(), _OUTCOME, cid, -1.0)
            return
        v = (u - p - ms) / (1.0 - p - ms)
        k = bisect_left(self._fail_cum, v)
        self._push(t + self._fail[min(k, len(self._fail) - 1)](), _OUTCOME, cid, -1.0)

    # -- state changes ------------------------------------------------------------------
    def _outcome(self, t: float, cid: int, grace: float) -> None:
        placed = self.ringing.pop(cid)
        live = grace >= 0.0
        self.pacer.observe_outcome(t - placed, live)
        if not live:
            return
        self.answered_today += 1
        self._c24.add(t, answered=1)
        self._c30.add(t, answered=1)
        if self.ready:
            aid = next(iter(self.ready))
            del self.ready[aid]
            self._connect(t, aid)
        elif grace > 0.0:
            self.waiting[cid] = t
            self._push(t + grace, _ABANDON, cid)
        else:
            self._abandon(t)

    def _abandon(self, t: float) -> None:
        self.abandoned_today += 1
        self._c24.add(t, abandoned=1)
        self._c30.add(t, abandoned=1)
        self.pacer.observe_abandon(t)

    def _connect(self, t: float, aid: int) -> None:
        self.connects += 1
        self.talking[aid] = t
        self._push(t + self._talk(), _TALK_END, aid)

    def _busy(self, start: float, stop: float) -> float:
        end = self.end
        return (stop if stop < end else end) - (start if start < end else end)

    def _talk_end(self, t: float, aid: int) -> None:
        since = self.talking.pop(aid)
        self.talk_total += self._busy(since, t)
        self.pacer.observe_talk(t - since)
        wrap = self._wrap()
        if wrap > 0.0:
            self.wrapping[aid] = t
            self._push(t + wrap, _WRAP_END, aid)
        else:
            self.pacer.observe_wrap(0.0)
            self._agent_free(t, aid)

    def _wrap_end(self, t: float, aid: int) -> None:
        since = self.wrapping.pop(aid)
        self.wrap_total += self._busy(since, t)
        self.pacer.observe_wrap(t - since)
        self._agent_free(t, aid)

    def _start_break(self, t: float, aid: int) -> None:
        breaks = self.sc.breaks
        assert breaks is not None
        self.on_break.add(aid)
        while self.next_break[aid] <= t:
            self.next_break[aid] += breaks.every_s
        self._push(t + breaks.duration_s, _BREAK_END, aid)

    def _agent_free(self, t: float, aid: int) -> None:
        if self.next_break and self.next_break[aid] <= t < self.end:
            self._start_break(t, aid)
            return
        if self.waiting:
            cid = next(iter(self.waiting))
            del self.waiting[cid]
            self._connect(t, aid)
        else:
            self.ready[aid] = t


def simulate(scenario: Scenario, pacer: Pacer, *, seed: int | None = None) -> RunMetrics:
    """Run ``scenario`` once with ``pacer`` (a fresh pacer per run) and return metrics."""
    return Simulator(scenario, pacer, seed=seed).run()
