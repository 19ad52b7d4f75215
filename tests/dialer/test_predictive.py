"""The predictive pacer: estimates, forecast, feedback and behaviour in simulation."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Any

import pytest

from ccpbx.dialer.pacing import AbandonWindow, PacingSnapshot, PredictivePacer, make_pacer
from ccpbx.dialer.pacing.estimate import Estimator, normal_tail
from ccpbx.dialer.sim import parse_scenario, simulate

Snap = Callable[..., PacingSnapshot]


def _trained(p: float = 0.3, r: float = 15.0, seed: int = 5) -> Estimator:
    est = Estimator()
    rng = random.Random(seed)
    for _ in range(4000):
        est.outcome(rng.expovariate(1 / r), rng.random() < p)
    for _ in range(2000):
        est.talk(rng.expovariate(1 / 120))
        est.wrap(15.0)
    return est


def test_ring_table_is_memoryless_for_exponential_outcomes() -> None:
    """With exponential ring times, a call's answer chance does not depend on its age."""
    est = _trained()
    assert est.p == pytest.approx(0.3, abs=0.04)
    k = est.k
    for j, tau in enumerate(est.taus):
        expected = 0.3 * -math.expm1(-tau / 15.0)
        for e in (0.0, 5.0, 20.0):
            row = est.ring_rows[int(e / est.ring_step)]
            assert row[j] == pytest.approx(expected, abs=0.04)
            assert row[k + j] == pytest.approx(row[j] * (1 - row[j]))


def test_wrap_table_knows_fixed_wrap_remaining_time() -> None:
    """An agent 14 s into a fixed 15 s wrap is surely free within the horizon; at 0 s not."""
    est = _trained()
    est.set_grace(2.0)
    near = est.wrap_rows[int(14.0 / est.wrap_step)]
    assert near[0] == pytest.approx(1.0)
    start = est.wrap_rows[0]
    assert start[0] == pytest.approx(0.0)  # first horizon is a couple of seconds


def test_talk_table_conditions_on_elapsed_talk() -> None:
    """With a lognormal (non-memoryless) talk law the completion chance depends on age."""
    est = Estimator()
    rng = random.Random(1)
    sigma2 = math.log1p(0.8**2)
    for _ in range(2000):
        est.talk(rng.lognormvariate(math.log(120) - sigma2 / 2, math.sqrt(sigma2)))
    est.wrap(0.0)
    for _ in range(300):
        est.wrap(0.0)
    est.talk(100.0)  # trigger a rebuild with the wrap samples in place
    rows = est.talk_rows
    young, mid = rows[0][-1 - est.k], rows[int(100 / est.talk_step)][-1 - est.k]
    assert young < mid  # lognormal hazard rises from 0 first


def test_normal_tail_basics() -> None:
    """P(X <= 0) is about one half at mean 0.5 and small for a large mean."""
    assert normal_tail(0.5, 1.0) == pytest.approx(0.5)
    assert normal_tail(5.0, 1.0) < 1e-4
    assert normal_tail(-3.0, 0.0) == pytest.approx(1.0)


def test_places_more_calls_than_ready_agents_when_idle(make_snap: Snap) -> None:
    """With agents idle and nothing in flight it over-dials (p < 1), and less as calls ring."""
    pacer = PredictivePacer(warmup=0)
    idle = pacer.decide(make_snap(ready=10))
    assert idle > 10
    fewer = pacer.decide(make_snap(ready=10, ringing=(1.0,) * 10))
    assert 0 < fewer < idle


def test_dials_progressively_until_it_has_seen_outcomes(make_snap: Snap) -> None:
    """A fresh campaign's answer rate is unknown: no over-dialing on the prior alone;
    once ``warmup`` outcomes are in, it over-dials for a campaign that answers rarely."""
    pacer = PredictivePacer(warmup=30)
    assert pacer.decide(make_snap(ready=10)) == 10
    assert pacer.decide(make_snap(ready=10, ringing=(1.0,) * 4)) == 6
    for i in range(30):
        pacer.observe_outcome(5.0 + i % 7, live=i % 5 == 0)
    assert pacer.decide(make_snap(ready=10)) > 10


def test_estimator_leaves_the_prior_behind_early() -> None:
    """Tables are rebuilt after a few real samples (not only every hundred), and the
    prior's pseudo-samples are dropped once 20 real ones are in."""
    est = Estimator()
    assert est.taus[0] >= 3.0  # the prior's answer times: 3-15 s
    for _ in range(20):
        est.outcome(0.5, live=True)
    assert est.taus == (0.5,) * est.k
    assert est.p > 0.5


def test_places_nothing_when_all_busy_and_calls_ringing(make_snap: Snap) -> None:
    """All agents just started talking and many calls ring: no new call."""
    pacer = PredictivePacer()
    assert pacer.decide(make_snap(talking=(1.0,) * 10, ringing=(1.0,) * 8)) == 0


def test_agents_in_late_wrap_count_as_supply(make_snap: Snap) -> None:
    """Agents about to leave wrap-up justify calls that fresh talkers do not."""
    pacer = PredictivePacer(warmup=0)
    for _ in range(300):
        pacer.observe_wrap(15.0)
        pacer.observe_talk(120.0)
    late = pacer.decide(make_snap(talking=(1.0,) * 5, wrapping=(14.0,) * 5))
    fresh = pacer.decide(make_snap(talking=(1.0,) * 10))
    assert late > fresh


def test_feedback_tightens_when_the_day_runs_over_budget(make_snap: Snap) -> None:
    """Abandons beyond the day's allowance lower the risk threshold and the calls placed."""
    calm = PredictivePacer(warmup=0)
    hot = PredictivePacer(warmup=0)
    base: dict[str, Any] = {"ready": 3, "talking": (60.0,) * 7}
    a = calm.decide(make_snap(today=AbandonWindow(1000, 10), **base))
    b = hot.decide(make_snap(today=AbandonWindow(1000, 40), **base))
    assert hot.theta < calm.theta / 100
    assert b < a


def test_predictive_beats_progressive_and_complies_in_simulation(
    scenario_dict: Callable[..., dict[str, Any]],
) -> None:
    """On the issue's example campaign it stays under 3 % and raises busy occupancy."""
    sc = parse_scenario(scenario_dict(days=2, day_hours=8))
    pred = simulate(sc, make_pacer("predictive"))
    prog = simulate(sc, make_pacer("progressive"))
    assert pred.abandon_max_30d <= 0.03
    assert pred.days_over_target == 0.0
    assert pred.busy_occupancy > prog.busy_occupancy + 0.05
