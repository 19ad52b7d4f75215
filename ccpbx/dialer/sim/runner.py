"""Run a named pacer over several seeds of a scenario."""

from __future__ import annotations

from ccpbx.dialer.pacing.registry import make_pacer
from ccpbx.dialer.sim.engine import simulate
from ccpbx.dialer.sim.metrics import Aggregate, aggregate
from ccpbx.dialer.sim.scenario import Scenario


def run_seeds(
    scenario: Scenario, pacer: str, *, seeds: int = 1, days: int | None = None
) -> Aggregate:
    """Simulate seeds ``scenario.seed .. scenario.seed + seeds - 1``, a fresh pacer each."""
    if seeds < 1:
        raise ValueError("seeds must be >= 1")
    sc = scenario if days is None else scenario.with_overrides(days=days)
    runs = [simulate(sc, make_pacer(pacer), seed=sc.seed + i) for i in range(seeds)]
    return aggregate(runs_pacer_name(pacer), sc.name, sc.abandon_target, runs)


def runs_pacer_name(pacer: str) -> str:
    """Canonical display name of a pacer spec."""
    return make_pacer(pacer).name if ":" not in pacer else pacer
