"""`ccpbx bench dialer` entry point."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ccpbx.dialer.bench_cli import main

TABLE = Path(__file__).parents[2] / "bench" / "dialer_table.py"

KEYS = {
    "busy_occupancy",
    "talk_occupancy",
    "connects_per_agent_hour",
    "abandon_rate",
    "abandon_max_30d",
    "days_over_target",
    "dials_per_connect",
}


def test_json_output_has_the_documented_metrics(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], scenario_dict: Callable[..., dict[str, Any]]
) -> None:
    """--json prints the aggregate with every documented metric and per-seed runs."""
    f = tmp_path / "small.json"
    f.write_text(json.dumps(scenario_dict(agents=4, day_hours=0.5)), encoding="utf-8")
    rc = main(["--scenario", str(f), "--pacer", "ratio:1.2", "--seeds", "2", "--json"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) >= KEYS
    assert out["seeds"] == 2
    assert len(out["runs"]) == 2
    assert set(out["runs"][0]) >= KEYS


def test_text_output_and_days_override(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], scenario_dict: Callable[..., dict[str, Any]]
) -> None:
    """Plain output names the scenario and pacer; --days overrides the file."""
    f = tmp_path / "small.json"
    f.write_text(json.dumps(scenario_dict(agents=3, day_hours=0.25, days=30)), encoding="utf-8")
    assert main(["--scenario", str(f), "--pacer", "predictive", "--days", "2"]) == 0
    out = capsys.readouterr().out
    assert "pacer predictive" in out
    assert "days 2" in out
    assert "busy occupancy" in out


def test_errors_exit_2_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], scenario_dict: Callable[..., dict[str, Any]]
) -> None:
    """A bad scenario or pacer name returns 2 and says why on stderr."""
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(scenario_dict(agents=-1)), encoding="utf-8")
    assert main(["--scenario", str(bad), "--pacer", "progressive"]) == 2
    assert "agents" in capsys.readouterr().err
    good = tmp_path / "good.json"
    good.write_text(json.dumps(scenario_dict(day_hours=0.1)), encoding="utf-8")
    assert main(["--scenario", str(good), "--pacer", "turbo"]) == 2
    assert "unknown pacer" in capsys.readouterr().err
    assert main(["--scenario", str(good)]) == 2


def test_table_script_prints_every_pacer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], scenario_dict: Callable[..., dict[str, Any]]
) -> None:
    """bench/dialer_table.py prints a markdown row per pacer with the reference line."""
    spec = importlib.util.spec_from_file_location("dialer_table", TABLE)
    assert spec is not None
    assert spec.loader is not None
    table = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(table)
    folder = tmp_path / "scenarios"
    folder.mkdir()
    raw = scenario_dict(agents=4, day_hours=0.5, name="tiny", reference={"optimum": 0.8})
    (folder / "tiny.json").write_text(json.dumps(raw), encoding="utf-8")
    assert table.main(["--scenarios", str(folder), "--days", "1", "--ratio-steps", "1"]) == 0
    out = capsys.readouterr().out
    for pacer in ("progressive", "best ratio:", "vicidial_hard_limit", "vicidial_tapered"):
        assert f"| tiny | {pacer}" in out
    assert "| tiny | predictive |" in out
    assert "reference (Markov" in out
    verdicts = [line.rsplit(" | ", 1)[1] for line in out.splitlines() if line.startswith("TARGET")]
    assert len(verdicts) == 5  # compliance, days under, gap, vs optimum, beats the others
    assert set(verdicts) <= {"PASS", "MISS"}


def test_targets_are_read_back_into_the_closing_table() -> None:
    """A target line says PASS or MISS (NaN never passes) and `make bench`'s table
    counts the misses."""
    spec = importlib.util.spec_from_file_location("targets", TABLE.parent / "targets.py")
    assert spec is not None
    assert spec.loader is not None
    targets = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(targets)
    met = targets.line("round trip p99", 3.2, "<", 5, "ms")
    missed = targets.line("round trip p99", 7.7, "<", 5, "ms")
    unknown = targets.line("events/s", float("nan"), ">=", 50_000, "events/s")
    assert met == "TARGET | round trip p99 | 3.2 ms | < 5 ms | PASS"
    assert missed.endswith("| MISS")
    assert unknown == "TARGET | events/s | n/a events/s | >= 50,000 events/s | MISS"
    rows = [("IVR", targets.parse(t)) for t in (met, missed, unknown)]
    assert targets.parse("round trip p99 3.2 ms") is None
    text = targets.table(rows)
    assert "| IVR | round trip p99 | 7.7 ms | < 5 ms | MISS |" in text
    assert text.endswith("1 targets met, 2 missed")
