"""Discrete-event simulation benchmark of dialer pacing."""

from ccpbx.dialer.sim.dist import Dist
from ccpbx.dialer.sim.engine import Simulator, simulate
from ccpbx.dialer.sim.metrics import Aggregate, RunMetrics, aggregate
from ccpbx.dialer.sim.scenario import Scenario, ScenarioError, load_scenario, parse_scenario

__all__ = [
    "Aggregate",
    "Dist",
    "RunMetrics",
    "Scenario",
    "ScenarioError",
    "Simulator",
    "aggregate",
    "load_scenario",
    "parse_scenario",
    "simulate",
]
