"""The exact Markov reference model."""

from __future__ import annotations

import pytest

from ccpbx.dialer.sim.markov import Model, evaluate, optimum


def test_progressive_policy_matches_closed_form() -> None:
    """Topping calls up to the free agents gives occupancy h / (h + r/p)."""
    m = Model(agents=4, p=0.3, r=15.0, h=135.0, cmax=16)
    res = evaluate(m, lambda b: 4 - b)
    assert res.occupancy == pytest.approx(135 / (135 + 50), abs=1e-6)
    assert res.abandon_rate == 0.0


def test_reference_optimum_of_the_small_scenario() -> None:
    """N=10, p=0.3, r=15, h=135: best threshold policy at 3 % reaches about 0.839."""
    m = Model(agents=10, p=0.3, r=15.0, h=135.0, cmax=36)
    res, _ = optimum(m, 0.03, iters=1200, steps=12)
    assert res.abandon_rate <= 0.03
    assert 0.83 <= res.occupancy <= 0.842
    assert list(res.targets) == sorted(res.targets, reverse=True)
    # the reference "best fixed ratio" (0.774) is VICIdial's dial level over all agents:
    lo = evaluate(m, lambda b: 10 - b)
    hi = evaluate(m, lambda b: 11 - b)
    share = (0.03 - lo.abandon_rate) / (hi.abandon_rate - lo.abandon_rate)
    assert lo.occupancy + share * (hi.occupancy - lo.occupancy) == pytest.approx(0.774, abs=0.003)
