"""``ccpbx bench dialer``: simulate a campaign scenario under a pacer and print metrics."""

from __future__ import annotations

import argparse
import json
import sys

from ccpbx.dialer.pacing.registry import PACER_NAMES
from ccpbx.dialer.sim.metrics import Aggregate
from ccpbx.dialer.sim.runner import run_seeds
from ccpbx.dialer.sim.scenario import ScenarioError, load_scenario

_ROWS = (
    ("busy_occupancy", "busy occupancy ((talk+wrap)/logged-in)", "{:.4f}"),
    ("talk_occupancy", "talk occupancy", "{:.4f}"),
    ("connects_per_agent_hour", "connects per agent hour", "{:.2f}"),
    ("abandon_rate", "abandon rate (abandoned/live answered)", "{:.4f}"),
    ("abandon_max_30d", "worst 30-day abandon rate (any seed)", "{:.4f}"),
    ("days_over_target", "share of days over target", "{:.4f}"),
    ("max_day_rate", "worst day abandon rate", "{:.4f}"),
    ("dials_per_connect", "dials per connect", "{:.2f}"),
)


def build_parser() -> argparse.ArgumentParser:
    """Argument parser of ``ccpbx bench dialer``."""
    parser = argparse.ArgumentParser(
        prog="ccpbx bench dialer",
        description="Seeded discrete-event simulation of a predictive-dialer campaign.",
    )
    parser.add_argument("--scenario", required=True, help="scenario JSON file")
    parser.add_argument("--pacer", required=True, help=f"pacer name: {', '.join(PACER_NAMES)}")
    parser.add_argument("--seeds", type=int, default=1, help="seeds to run (default 1)")
    parser.add_argument("--days", type=int, default=None, help="override the scenario's days")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    return parser


def render_text(agg: Aggregate) -> str:
    """Human-readable metrics of one aggregate."""
    lines = [f"scenario {agg.scenario}  pacer {agg.pacer}  seeds {agg.seeds}  days {agg.days}"]
    for key, label, fmt in _ROWS:
        lines.append(f"  {label:<42} {fmt.format(getattr(agg, key))}")
    verdict = "yes" if agg.compliant_30d_all_seeds else "NO"
    lines.append(f"  {'30-day rate under target in every seed':<42} {verdict}")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    """Run the benchmark; 0 on success, 2 on a bad scenario or argument."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    if args.seeds < 1 or (args.days is not None and args.days < 1):
        print("ccpbx bench dialer: --seeds and --days must be >= 1", file=sys.stderr)
        return 2
    try:
        scenario = load_scenario(args.scenario)
        agg = run_seeds(scenario, args.pacer, seeds=args.seeds, days=args.days)
    except (ScenarioError, ValueError) as exc:
        print(f"ccpbx bench dialer: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(agg.to_json(), indent=2))
    else:
        print(render_text(agg))
    return 0
