"""Benchmark targets: each figure held against its goal and printed PASS or MISS.

A benchmark calls ``check(name, value, op, goal, unit)`` once per goal; it prints a
line a person reads and ``run_all.py`` collects into the table that ends
``make bench``::

    TARGET | AMI events/s (recorded stream) | 61,230 | >= 50,000 | PASS

Nothing is asserted: a MISS is a figure to look into, printed as loudly as a PASS.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass

MARK = "TARGET"
_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    "<": operator.lt,
    ">": operator.gt,
}


@dataclass(frozen=True, slots=True)
class Target:
    name: str
    figure: str
    goal: str
    verdict: str


def _fmt(value: float, unit: str) -> str:
    if math.isnan(value):
        text = "n/a"
    elif abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.3g}"
    return f"{text} {unit}".rstrip()


def line(name: str, value: float, op: str, goal: float, unit: str = "") -> str:
    """The target line for ``value op goal`` (NaN never meets a goal)."""
    met = not math.isnan(value) and _OPS[op](value, goal)
    return flag_line(name, met, _fmt(value, unit), f"{op} {_fmt(goal, unit)}")


def flag_line(name: str, held: bool, figure: str, goal: str) -> str:
    """The target line for a yes/no goal (e.g. "every seed under the abandon target")."""
    return f"{MARK} | {name} | {figure} | {goal} | {'PASS' if held else 'MISS'}"


def check(name: str, value: float, op: str, goal: float, unit: str = "") -> bool:
    """Print one target line; True when ``value op goal`` holds."""
    text = line(name, value, op, goal, unit)
    print(text, flush=True)
    return text.endswith("PASS")


def parse(line: str) -> Target | None:
    """The target a benchmark's output line reports, or None for any other line."""
    if not line.startswith(MARK + " | "):
        return None
    parts = [p.strip() for p in line.rstrip("\n").split(" | ")]
    if len(parts) != 5 or parts[4] not in ("PASS", "MISS"):
        return None
    return Target(parts[1], parts[2], parts[3], parts[4])


def table(rows: list[tuple[str, Target]]) -> str:
    """The closing table: benchmark, target, figure, goal, verdict (markdown)."""
    out = ["| benchmark | target | figure | goal | verdict |", "|---|---|---|---|---|"]
    for bench, t in rows:
        out.append(f"| {bench} | {t.name} | {t.figure} | {t.goal} | {t.verdict} |")
    missed = sum(1 for _, t in rows if t.verdict == "MISS")
    out.append("")
    out.append(f"{len(rows) - missed} targets met, {missed} missed")
    return "\n".join(out)
