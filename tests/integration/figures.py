"""The table of fault and load cases printed at the end of a run (`make chaos`, `make test`).

A case takes the ``figures`` fixture, says what it checks and records what it measured;
the run's summary lists every such case with its result, so a reader sees the numbers
beside pass or fail without digging through captured output.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Figures:
    """What one case checked and measured."""

    case: str
    checked: str = ""
    values: dict[str, str] = field(default_factory=dict)
    result: str = "not run"

    def checks(self, text: str) -> None:
        self.checked = text

    def __setitem__(self, name: str, value: object) -> None:
        self.values[name] = f"{value:.2f}" if isinstance(value, float) else str(value)


def table(cases: list[Figures]) -> list[str]:
    """The summary lines: one row per case (case, checked, result, figures)."""
    rows = [("case", "checked", "result", "figures")]
    rows += [
        (c.case, c.checked, c.result, ", ".join(f"{k} {v}" for k, v in c.values.items()))
        for c in cases
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = []
    for n, row in enumerate(rows):
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row[:3])]
        lines.append("  ".join([*cells, row[3]]))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths) + "  " + "-" * 7)
    return lines
