"""Online estimates of answer probability and of ring, talk and wrap time laws.

Everything is empirical (recent samples, no parametric form), so whatever the real
laws are, the conditional probabilities the predictive pacer needs come out right:

* ``ring_rows``: for a call that has rung ``e`` seconds without outcome, the chance it
  is live-answered within each horizon ``tau_k``;
* ``talk_rows`` / ``wrap_rows``: for an agent ``e`` seconds into talk (or wrap-up), the
  chance it is free again within ``tau_k + grace``.

The horizons ``tau_k`` are quantiles of the live-answer delay (the times at which a
call placed now would be answered). Tables are rebuilt every so many observations;
rows are ``(mean_0..mean_K-1, var_0..var_K-1)`` so callers can sum them with ``map``.

Until real samples arrive a small prior (documented in :class:`Prior`) stands in; its
pseudo-samples are pushed out as real ones come.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import deque
from dataclasses import dataclass

Row = tuple[float, ...]


@dataclass(frozen=True, slots=True)
class Prior:
    """Starting beliefs before any outcome is seen (generic, not the scenario's truth).

    Defaults: live-answer probability 0.25, live answers spread evenly over 3-15 s,
    other outcomes over 3-30 s, talk 60-180 s, wrap 10 s.
    """

    live_answer_prob: float = 0.25
    answer_s: tuple[float, ...] = (3.0, 5.0, 7.0, 9.0, 11.0, 13.0, 15.0)
    fail_s: tuple[float, ...] = (3.0, 8.0, 13.0, 18.0, 23.0, 28.0)
    talk_s: tuple[float, ...] = (60.0, 80.0, 100.0, 120.0, 140.0, 160.0, 180.0)
    wrap_s: tuple[float, ...] = (10.0,)


class Estimator:
    """Recent-sample estimates and the lookup tables built from them."""

    def __init__(
        self,
        *,
        horizons: int = 4,
        prior: Prior | None = None,
        p_halflife: float = 400.0,
        keep: int = 2000,
        rebuild_every: int = 100,
    ) -> None:
        prior = prior or Prior()
        self.k = horizons
        self._decay = 0.5 ** (1.0 / p_halflife)
        self._live_w = prior.live_answer_prob * 20.0
        self._all_w = 20.0
        self._answer: deque[float] = deque(prior.answer_s, maxlen=keep)
        self._fail: deque[float] = deque(prior.fail_s, maxlen=keep)
        self._talk: deque[float] = deque(prior.talk_s, maxlen=keep)
        self._wrap: deque[float] = deque(prior.wrap_s, maxlen=keep // 2)
        self._rebuild_every = rebuild_every
        self._ring_new = self._handle_new = 0
        self.grace_s = 0.0
        self.ring_step = 0.5
        self._ring_every = 4 * rebuild_every
        self.talk_step = 2.0
        self.wrap_step = 0.5
        # Real samples seen; the prior's pseudo-samples are dropped from a law once it has
        # PRIOR_OUT real ones, and tables are rebuilt early (at 10, 20, 40, ... samples)
        # so a fresh campaign leaves the generic prior within its first minutes.
        self.outcomes = 0
        self.talks = 0
        self._prior_left = {
            "answer": len(prior.answer_s),
            "fail": len(prior.fail_s),
            "talk": len(prior.talk_s),
            "wrap": len(prior.wrap_s),
        }
        self._real = {"answer": 0, "fail": 0, "talk": 0, "wrap": 0}
        self._build_ring()
        self._build_handle()

    PRIOR_OUT = 20

    def _add(self, law: str, sample: deque[float], value: float) -> None:
        sample.append(value)
        self._real[law] += 1
        if self._prior_left[law] and self._real[law] >= self.PRIOR_OUT:
            for _ in range(min(self._prior_left[law], len(sample) - self._real[law])):
                sample.popleft()
            self._prior_left[law] = 0

    def _due(self, new: int, seen: int, every: int) -> bool:
        return new >= min(every, max(10, seen // 2))

    # -- observations -------------------------------------------------------------------
    @property
    def p(self) -> float:
        """Current live-answer probability estimate (exponentially forgetting)."""
        return self._live_w / self._all_w

    def outcome(self, ring_s: float, live: bool) -> None:
        """Record a resolved call."""
        d = self._decay
        self._live_w = self._live_w * d + (1.0 if live else 0.0)
        self._all_w = self._all_w * d + 1.0
        if live:
            self._add("answer", self._answer, ring_s)
        else:
            self._add("fail", self._fail, ring_s)
        self._ring_new += 1
        self.outcomes += 1
        if self._due(self._ring_new, self.outcomes, self._ring_every):
            self._build_ring()

    def talk(self, talk_s: float) -> None:
        """Record a finished talk."""
        self._add("talk", self._talk, talk_s)
        self._handle_new += 1
        self.talks += 1
        if self._due(self._handle_new, self.talks, self._rebuild_every):
            self._build_handle()

    def wrap(self, wrap_s: float) -> None:
        """Record a finished wrap-up."""
        self._add("wrap", self._wrap, wrap_s)

    def set_grace(self, grace_s: float) -> None:
        """Grace time added to the agent-side horizon (rebuilds if it changed)."""
        if grace_s != self.grace_s:
            self.grace_s = grace_s
            self._build_handle()

    @property
    def mean_talk(self) -> float:
        """Mean of the recent talk times."""
        return sum(self._talk) / len(self._talk)

    @property
    def mean_wrap(self) -> float:
        """Mean of the recent wrap times."""
        return sum(self._wrap) / len(self._wrap)

    # -- tables ---------------------------------------------------------------------------
    def _build_ring(self) -> None:
        self._ring_new = 0
        ans = sorted(self._answer)
        fail = sorted(self._fail)
        k = self.k
        na, nf = len(ans), len(fail)
        old_taus = getattr(self, "taus", ())
        self.taus = tuple(ans[min(na - 1, int((2 * i + 1) * na / (2 * k)))] for i in range(k))
        p = min(0.999, max(0.001, self.p))
        top = max(ans[-1], fail[-1])
        rows: list[Row] = []
        step = self.ring_step
        n_rows = int(top / step) + 2
        for i in range(n_rows):
            e = i * step
            surv_a = 1.0 - bisect_right(ans, e) / na
            surv_f = 1.0 - bisect_right(fail, e) / nf
            alive = p * surv_a + (1.0 - p) * surv_f
            means = []
            for tau in self.taus:
                got = (bisect_right(ans, e + tau) / na) - (1.0 - surv_a)
                means.append(min(1.0, p * got / alive) if alive > 0 else 0.0)
            rows.append(tuple(means) + tuple(m - m * m for m in means))
        self.ring_rows = rows
        self.ring_cols = _columns(rows)
        self.new_call = rows[0]
        if any(abs(a - b) > 0.25 for a, b in zip(old_taus, self.taus, strict=False)):
            self._build_handle()

    def _build_handle(self) -> None:
        self._handle_new = 0
        talk = sorted(self._talk)
        wrap = sorted(self._wrap)
        nw = len(wrap)
        wq = [wrap[min(nw - 1, int((2 * j + 1) * nw / 16))] for j in range(8)]
        horizons = [t + self.grace_s for t in self.taus]
        self.talk_rows = _conditional_rows(talk, horizons, wq, self.talk_step)
        self.wrap_rows = _conditional_rows(wrap, horizons, [0.0], self.wrap_step)
        self.talk_cols = _columns(self.talk_rows)
        self.wrap_cols = _columns(self.wrap_rows)


def _columns(rows: list[Row]) -> list[list[float]]:
    """Column lists of a table (one list per row position), for ``map`` lookups."""
    return [list(col) for col in zip(*rows, strict=True)]


def _conditional_rows(
    sample: list[float], horizons: list[float], extra: list[float], step: float
) -> list[Row]:
    """Rows over elapsed e: P(X - e + Y <= h | X > e) for each horizon h.

    ``sample`` is the sorted sample of X; ``extra`` equally weighted values of Y (the
    wrap-up that follows talk, or 0). Rows stop where fewer than 10 samples exceed e.
    """
    n = len(sample)
    rows: list[Row] = []
    min_left = min(10, max(1, n // 4))
    e = 0.0
    while True:
        start = bisect_right(sample, e)
        left = n - start
        if left < min_left and rows:
            break
        means = []
        for h in horizons:
            hits = 0
            for y in extra:
                x = e + h - y
                if x > e:
                    hits += bisect_right(sample, x) - start
            means.append(hits / (left * len(extra)) if left else 1.0)
        rows.append(tuple(means) + tuple(m - m * m for m in means))
        e += step
        if len(rows) > 5000:
            break
    return rows


def normal_tail(mean: float, var: float) -> float:
    """P(X <= 0) for an integer-valued X with this mean and variance (normal approx)."""
    sd = math.sqrt(var) if var > 0.09 else 0.3
    return 0.5 * math.erfc((mean - 0.5) / (sd * math.sqrt(2.0)))
