"""Campaign metrics of one simulated run, and their aggregate over seeds."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from statistics import fmean
from typing import Any


@dataclass(frozen=True, slots=True)
class RunMetrics:
    """Outcome of one seeded run (all days).

    Occupancies are shares of logged-in time; ``abandon_rate`` is abandoned over live
    answered calls over the whole run; ``abandon_max_30d`` the worst rate over any
    window of 30 consecutive days (the whole run when shorter); ``days_over_target``
    the share of days whose own rate exceeds the target.
    """

    seed: int
    days: int
    busy_occupancy: float
    talk_occupancy: float
    connects_per_agent_hour: float
    abandon_rate: float
    abandon_max_30d: float
    days_over_target: float
    max_day_rate: float
    dials_per_connect: float
    dials: int
    live_answers: int
    connects: int
    abandons: int
    day_rates: tuple[float, ...]

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON form."""
        out = asdict(self)
        out["day_rates"] = list(self.day_rates)
        return out


def summarize(
    *,
    seed: int,
    agents: int,
    day_hours: float,
    target: float,
    talk_s: float,
    wrap_s: float,
    dials: int,
    connects: int,
    day_answered: list[int],
    day_abandoned: list[int],
) -> RunMetrics:
    """Compute :class:`RunMetrics` from the raw totals of a run."""
    days = len(day_answered)
    logged_in = agents * day_hours * 3600.0 * days
    answered = sum(day_answered)
    abandoned = sum(day_abandoned)
    pairs = zip(day_answered, day_abandoned, strict=True)
    rates = tuple(ab / an if an else 0.0 for an, ab in pairs)
    span = min(30, days)
    worst = 0.0
    for start in range(days - span + 1):
        an = sum(day_answered[start : start + span])
        ab = sum(day_abandoned[start : start + span])
        worst = max(worst, ab / an if an else 0.0)
    return RunMetrics(
        seed=seed,
        days=days,
        busy_occupancy=(talk_s + wrap_s) / logged_in,
        talk_occupancy=talk_s / logged_in,
        connects_per_agent_hour=connects / (agents * day_hours * days),
        abandon_rate=abandoned / answered if answered else 0.0,
        abandon_max_30d=worst,
        days_over_target=sum(r > target for r in rates) / days,
        max_day_rate=max(rates),
        dials_per_connect=dials / connects if connects else float("inf"),
        dials=dials,
        live_answers=answered,
        connects=connects,
        abandons=abandoned,
        day_rates=rates,
    )


@dataclass(frozen=True, slots=True)
class Aggregate:
    """Metrics over several seeds: means, and the compliance worst cases."""

    pacer: str
    scenario: str
    seeds: int
    days: int
    busy_occupancy: float
    talk_occupancy: float
    connects_per_agent_hour: float
    abandon_rate: float
    abandon_max_30d: float
    days_over_target: float
    max_day_rate: float
    dials_per_connect: float
    compliant_30d_all_seeds: bool
    runs: tuple[RunMetrics, ...]

    def to_json(self, *, with_runs: bool = True) -> dict[str, Any]:
        """Plain-JSON form (per-seed runs included unless ``with_runs`` is false)."""
        out = {k: v for k, v in asdict(self).items() if k != "runs"}
        if with_runs:
            out["runs"] = [r.to_json() for r in self.runs]
        return out


def aggregate(pacer: str, scenario: str, target: float, runs: list[RunMetrics]) -> Aggregate:
    """Average the runs; keep the worst 30-day rate and pool the days over target."""
    all_days = [r for run in runs for r in run.day_rates]
    return Aggregate(
        pacer=pacer,
        scenario=scenario,
        seeds=len(runs),
        days=runs[0].days,
        busy_occupancy=fmean(r.busy_occupancy for r in runs),
        talk_occupancy=fmean(r.talk_occupancy for r in runs),
        connects_per_agent_hour=fmean(r.connects_per_agent_hour for r in runs),
        abandon_rate=fmean(r.abandon_rate for r in runs),
        abandon_max_30d=max(r.abandon_max_30d for r in runs),
        days_over_target=sum(d > target for d in all_days) / len(all_days),
        max_day_rate=max(all_days),
        dials_per_connect=fmean(r.dials_per_connect for r in runs),
        compliant_30d_all_seeds=all(r.abandon_max_30d <= target for r in runs),
        runs=tuple(runs),
    )
