"""ccpbx's predictive pacer: marginal abandon risk from live state, under feedback.

For a call placed now, answered at one of the horizons ``tau_k`` (quantiles of the
live-answer delay), the pacer forecasts

* supply: ready agents plus, for each busy agent, the chance it is free by
  ``tau_k + grace`` given how long it has been talking or wrapping (empirical
  conditional laws, so long-tailed talk times are read from elapsed time);
* demand: answered calls already waiting plus, for each call in flight, the chance it
  is live-answered by ``tau_k`` given how long it has rung, plus the other calls placed
  in this same decision.

The new call is abandoned if supply - demand <= 0; that probability (normal
approximation with continuity correction, averaged over the horizons) is its marginal
abandon risk. Calls are placed one by one while the risk stays under a threshold, and
never fewer than progressive dialing would place (calls that fit within the ready
agents cannot be abandoned). On the exponential Markov model this rule, at the right
threshold, gives the same targets c*(busy agents) as the optimal policy in all but the
rarely visited states, and the same occupancy and abandon rate.

The threshold comes from a feedback loop on measured abandons: the day's unspent
abandon allowance ``slack = goal * (answered + a0) - abandoned`` (goal = target -
margin, the margin shrinking as the daily volume grows; likewise over the rolling 30
days) sets ``theta = theta0 * exp((slack - cushion) / kappa)``, and ``theta0`` itself
drifts slowly (over about ``integral_s``) so that the slack sits at the cushion. A day
running hot therefore tightens within minutes, and the daily rate stays under the
target by the margin.

Everything is learnt online from the ``observe_*`` hooks (see
:mod:`ccpbx.dialer.pacing.estimate`); before data arrives a generic prior stands in.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ccpbx.dialer.pacing.estimate import Estimator, Prior, normal_tail
from ccpbx.dialer.pacing.model import BasePacer, PacingSnapshot

PREDICTIVE_OPTIONS = (
    "margin",
    "margin_k",
    "theta0",
    "kappa",
    "cushion",
    "a0",
    "integral_s",
    "p_halflife",
    "warmup",
)


class PredictivePacer(BasePacer):
    """Places calls while the marginal call's forecast abandon risk is under ``theta``."""

    name = "predictive"
    tick_s = 1.0
    on_events = True
    event_gap_s = 0.25

    def __init__(
        self,
        *,
        margin: float = 0.0,
        margin_k: float = 1.0,
        theta0: float = 0.01,
        kappa: float = 5.0,
        cushion: float = 1.0,
        a0: float = 50.0,
        integral_s: float = 3600.0,
        horizons: int = 4,
        prior: Prior | None = None,
        p_halflife: float = 1500.0,
        warmup: float = 30,
    ) -> None:
        if not 0 <= margin < 0.5 or kappa <= 0 or not 0 < theta0 < 1 or integral_s <= 0:
            raise ValueError("invalid predictive pacer parameters")
        self.margin = margin
        self.margin_k = margin_k
        self.kappa = kappa
        self.cushion = cushion
        self.a0 = a0
        self.integral_s = integral_s
        self.log_theta0 = math.log(theta0)
        self.est = Estimator(horizons=horizons, prior=prior, p_halflife=p_halflife)
        self._last_now: float | None = None
        self.theta = theta0
        self.warmup = int(warmup)
        """Until this many call outcomes are seen, dial progressively: the generic prior
        must not over-dial a campaign whose answer rate nobody knows yet."""

    @classmethod
    def from_options(cls, options: Mapping[str, float]) -> PredictivePacer:
        """Build from numeric options (names as in ``__init__``; ``horizons`` an integer)."""
        opts = dict(options)
        horizons = int(opts.pop("horizons", 4))
        floats: dict[str, Any] = {
            k: float(opts.pop(k)) for k in list(opts) if k in PREDICTIVE_OPTIONS
        }
        if opts:
            raise ValueError(f"predictive: unknown options {sorted(opts)}")
        return cls(horizons=horizons, **floats)

    # -- hooks ----------------------------------------------------------------------------
    def observe_outcome(self, ring_s: float, live: bool) -> None:
        """Feed the answer-probability and ring-time estimates."""
        self.est.outcome(ring_s, live)

    def observe_talk(self, talk_s: float) -> None:
        """Feed the talk-time law."""
        self.est.talk(talk_s)

    def observe_wrap(self, wrap_s: float) -> None:
        """Feed the wrap-time law."""
        self.est.wrap(wrap_s)

    # -- control --------------------------------------------------------------------------
    def margin_for(self, snapshot: PacingSnapshot) -> float:
        """Safety margin under the target for the day's rate.

        A fixed ``margin`` if one was given; otherwise ``margin_k * sqrt(target / A)``
        where A is the number of live answers in a day (read from the rolling 24 h
        window, which holds about one shift): the day's rate wanders by about that
        much under feedback, so big campaigns can run closer to the target.
        """
        if self.margin > 0:
            return self.margin
        target = snapshot.abandon_target
        daily = max(snapshot.last_24h.answered, snapshot.today.answered, 200)
        return min(0.3 * target, max(0.03 * target, self.margin_k * math.sqrt(target / daily)))

    def slack(self, snapshot: PacingSnapshot) -> float:
        """Unspent abandon allowance (in calls) of the tighter of today and 30 days."""
        margin = self.margin_for(snapshot)
        goal = snapshot.abandon_target - margin
        today = snapshot.today
        s_day = goal * (today.answered + self.a0) - today.abandoned
        month = snapshot.last_30d
        goal30 = snapshot.abandon_target - margin / 2
        s_month = goal30 * (month.answered + self.a0) - month.abandoned
        return min(s_day, s_month)

    def threshold(self, snapshot: PacingSnapshot) -> float:
        """Marginal-risk threshold for now (updates the slow integral term)."""
        err = (self.slack(snapshot) - self.cushion) / self.kappa
        now = snapshot.now
        if self._last_now is not None:
            dt = min(now - self._last_now, 10.0)
            if dt > 0:
                step = dt / self.integral_s * max(-1.0, min(1.0, err))
                self.log_theta0 = max(math.log(0.002), min(math.log(0.5), self.log_theta0 + step))
        self._last_now = now
        theta = math.exp(self.log_theta0 + max(-8.0, min(2.0, err)))
        self.theta = theta
        return theta

    def forecast(self, snapshot: PacingSnapshot) -> tuple[list[float], list[float]]:
        """Mean and variance of (supply - demand) at each horizon, before new calls."""
        est = self.est
        k = est.k
        acc = [float(snapshot.ready - snapshot.waiting)] * k + [0.0] * k
        now = snapshot.now
        for since, cols, step, sign in (
            (snapshot.talking_since, est.talk_cols, est.talk_step, 1.0),
            (snapshot.wrapping_since, est.wrap_cols, est.wrap_step, 1.0),
            (snapshot.ringing_since, est.ring_cols, est.ring_step, -1.0),
        ):
            if not since:
                continue
            last, inv = len(cols[0]) - 1, 1.0 / step
            idx = [i if i < last else last for i in [int((now - t) * inv) for t in since]]
            for j in range(k):
                acc[j] += sign * sum(map(cols[j].__getitem__, idx))
                acc[k + j] += sum(map(cols[k + j].__getitem__, idx))
        return acc[:k], acc[k:]

    def decide(self, snapshot: PacingSnapshot) -> int:
        """Place calls while the next one's forecast abandon risk is under the threshold."""
        if snapshot.logged_in <= 0:
            return 0
        est = self.est
        est.set_grace(snapshot.grace_s)
        theta = self.threshold(snapshot)
        means, variances = self.forecast(snapshot)
        k = est.k
        new = est.new_call
        cap = 3 * snapshot.logged_in + 10
        # Calls that fit within the ready agents cannot be abandoned (every one of them
        # finds an agent whatever happens), so never place fewer than progressive would.
        placed = max(0, snapshot.ready - snapshot.in_flight - snapshot.waiting)
        if est.outcomes < self.warmup:
            return placed
        while placed < cap:
            risk = 0.0
            for i in range(k):
                risk += normal_tail(means[i] - placed * new[i], variances[i] + placed * new[k + i])
            if risk / k > theta:
                break
            placed += 1
        return placed
