"""The simulator against closed forms: progressive occupancy and Erlang-B."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Any

import pytest

from ccpbx.dialer.pacing import BasePacer, PacingSnapshot, make_pacer
from ccpbx.dialer.sim import Simulator, parse_scenario, simulate


class PoissonPacer(BasePacer):
    """State-blind dialing: a Poisson stream of calls at ``rate`` per second."""

    name = "poisson"
    tick_s = 0.25
    on_events = False

    def __init__(self, rate: float, seed: int) -> None:
        self.rate = rate
        self.rng = random.Random(seed)
        self.next_at = self.rng.expovariate(rate)

    def decide(self, snapshot: PacingSnapshot) -> int:
        """Calls whose Poisson arrival time has come."""
        n = 0
        while self.next_at <= snapshot.now:
            n += 1
            self.next_at += self.rng.expovariate(self.rate)
        return n


def erlang_b(servers: int, load: float) -> float:
    """Blocking probability of an Erlang loss system."""
    b = 1.0
    for k in range(1, servers + 1):
        b = load * b / (k + load * b)
    return b


def test_progressive_occupancy_matches_h_over_h_plus_r_over_p(
    scenario_dict: Callable[..., dict[str, Any]],
) -> None:
    """Progressive busy occupancy is h / (h + r/p) whatever the laws (renewal argument)."""
    sc = parse_scenario(scenario_dict(day_hours=24, days=1))
    m = simulate(sc, make_pacer("progressive"))
    h = 120 + 15
    expected = h / (h + sc.mean_dial_to_outcome_s / sc.live_answer_prob)
    assert m.busy_occupancy == pytest.approx(expected, abs=0.012)
    assert m.abandons == 0
    assert m.dials_per_connect == pytest.approx(1 / 0.3, rel=0.05)


def test_blind_poisson_dialing_gives_erlang_b(
    scenario_dict: Callable[..., dict[str, Any]],
) -> None:
    """State-blind Poisson dialing with no grace abandons Erlang-B(N, load) of live answers.

    Erlang-B is insensitive to the holding-time law, so lognormal talk plus fixed wrap
    must give the same blocking as exponential handling.
    """
    agents, p, h = 5, 0.3, 135.0
    load = 4.0  # offered Erlangs of live answers
    rate = load / (p * h)
    sc = parse_scenario(
        scenario_dict(agents=agents, day_hours=24, days=2, grace_s=0.0, live_answer_prob=p)
    )
    m = simulate(sc, PoissonPacer(rate, seed=9))
    blocking = erlang_b(agents, load)
    assert m.abandon_rate == pytest.approx(blocking, abs=0.02)
    assert m.busy_occupancy == pytest.approx(load * (1 - blocking) / agents, abs=0.02)
    assert max(m.day_rates) > m.abandon_rate * 0.8


def test_grace_time_rescues_some_answers(scenario_dict: Callable[..., dict[str, Any]]) -> None:
    """With a grace time, fewer live answers are abandoned than with none."""
    rate = 4.0 / (0.3 * 135.0)
    strict = parse_scenario(scenario_dict(agents=5, day_hours=8, grace_s=0.0))
    lenient = parse_scenario(scenario_dict(agents=5, day_hours=8, grace_s=10.0))
    a = simulate(strict, PoissonPacer(rate, seed=4))
    b = simulate(lenient, PoissonPacer(rate, seed=4))
    assert b.abandon_rate < a.abandon_rate - 0.02


def test_same_seed_same_result_and_different_seed_differs(
    scenario_dict: Callable[..., dict[str, Any]],
) -> None:
    """Runs are deterministic for a seed and vary across seeds."""
    sc = parse_scenario(scenario_dict(days=2))
    a = simulate(sc, make_pacer("ratio:1.1"))
    b = simulate(sc, make_pacer("ratio:1.1"))
    c = simulate(sc, make_pacer("ratio:1.1"), seed=2)
    assert a == b
    assert a != c


def test_metrics_are_consistent(scenario_dict: Callable[..., dict[str, Any]]) -> None:
    """Per-day rates, 30-day worst and days over target agree with the totals."""
    sc = parse_scenario(scenario_dict(days=3, day_hours=2))
    sim = Simulator(sc, make_pacer("ratio:1.6"))
    m = sim.run()
    assert m.days == 3
    assert len(m.day_rates) == 3
    assert m.abandon_max_30d == pytest.approx(m.abandon_rate)
    assert m.days_over_target == sum(r > 0.03 for r in m.day_rates) / 3
    assert m.talk_occupancy < m.busy_occupancy <= 1.0
    assert m.connects + m.abandons == m.live_answers
    assert math.isclose(m.connects_per_agent_hour, m.connects / (10 * 2 * 3))
    assert sim.decisions > 0


def test_optional_machines_breaks_and_drift(scenario_dict: Callable[..., dict[str, Any]]) -> None:
    """AMD, breaks and hourly drift load and run; breaks and machines cut occupancy."""
    extra = {
        "amd": {"machine_share": 0.2, "detect_s": 3.0, "human_s": 1.0},
        "breaks": {"every_s": 3600, "duration_s": 600},
        "answer_drift": [0.5, 1.5],
    }
    plain = parse_scenario(scenario_dict(day_hours=4, days=1))
    full = parse_scenario(scenario_dict(day_hours=4, days=1, **extra))
    assert full.answer_prob_at(100.0) == pytest.approx(0.15)
    assert full.answer_prob_at(3700.0) == pytest.approx(0.45)
    a = simulate(plain, make_pacer("progressive"))
    b = simulate(full, make_pacer("progressive"))
    assert b.busy_occupancy < a.busy_occupancy - 0.05
    assert b.abandons == 0
