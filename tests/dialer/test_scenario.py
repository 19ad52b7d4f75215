"""Scenario loading, validation errors and distributions."""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ccpbx.dialer.sim.dist import Dist, parse_dist
from ccpbx.dialer.sim.scenario import ScenarioError, load_scenario, parse_scenario

SCENARIOS = sorted((Path(__file__).parents[2] / "bench" / "scenarios").glob("*.json"))


def test_shipped_scenarios_load() -> None:
    """Every shipped scenario file loads; the four reference campaigns come in two forms."""
    names = {load_scenario(p).name for p in SCENARIOS}
    for base in ("n10_p30", "n100_p15", "n25_p50", "n50_p20"):
        assert {f"{base}_realistic", f"{base}_exponential"} <= names


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_shipped_mean_dial_to_outcome_matches_reference(path: Path) -> None:
    """Shipped reference scenarios keep r (mean dial-to-outcome) within 0.1 s of the table."""
    sc = load_scenario(path)
    expected = {"n10_p30": 15.0, "n100_p15": 20.0, "n25_p50": 10.0, "n50_p20": 15.0}
    key = sc.name.rsplit("_", 1)[0]
    if key in expected:
        tolerance = 1.0 if sc.name.endswith("realistic") else 0.01
        assert abs(sc.mean_dial_to_outcome_s - expected[key]) <= tolerance


def test_issue_example_parses(scenario_dict: Callable[..., dict[str, Any]]) -> None:
    """The example from the issue parses into the expected fields."""
    sc = parse_scenario(scenario_dict(days=30, day_hours=8))
    assert sc.agents == 10
    assert sc.failures[1].share == 0.4
    assert sc.failures[1].after_s == Dist("fixed", 4.0)
    assert sc.talk_s == Dist("lognormal", 120.0, 0.8)
    assert math.isclose(sc.mean_dial_to_outcome_s, 0.3 * 8 + 0.7 * (0.6 * 25 + 0.4 * 4))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"agents": 0}, "agents"),
        ({"agents": "ten"}, "agents"),
        ({"live_answer_prob": 1.5}, "live_answer_prob"),
        ({"failures": [{"share": 0.5, "after_s": 25}]}, "sum to 0.5"),
        ({"failures": []}, "failures"),
        ({"talk_s": {"dist": "weibull", "mean": 3}}, "talk_s"),
        ({"talk_s": {"dist": "lognormal", "mean": 3}}, "cv > 0"),
        ({"wrap_s": {"mean": -1}}, "wrap_s"),
        ({"talk_time": 3}, "unknown keys"),
        ({"answer_drift": [1.0, 4.0]}, "answer_drift[1]"),
        ({"amd": {"machine_share": 0.9, "detect_s": 2, "human_s": 1}}, "machine_share"),
    ],
)
def test_invalid_scenarios_name_the_key(
    change: dict[str, object], message: str, scenario_dict: Callable[..., dict[str, Any]]
) -> None:
    """An invalid scenario raises ScenarioError whose message names the bad key."""
    with pytest.raises(ScenarioError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_scenario(scenario_dict(**change))


def test_missing_key_is_reported(scenario_dict: Callable[..., dict[str, Any]]) -> None:
    """A missing required key is named in the error."""
    raw = scenario_dict()
    del raw["grace_s"]
    with pytest.raises(ScenarioError, match="grace_s"):
        parse_scenario(raw)


def test_load_reports_bad_json_and_missing_file(
    tmp_path: Path, scenario_dict: Callable[..., dict[str, Any]]
) -> None:
    """Unreadable files and invalid JSON give clear ScenarioErrors."""
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"agents": 3,', encoding="utf-8")
    with pytest.raises(ScenarioError, match="invalid JSON at line 1"):
        load_scenario(bad)
    good = tmp_path / "good.json"
    good.write_text(json.dumps(scenario_dict()), encoding="utf-8")
    assert load_scenario(good).name == "good"


@pytest.mark.parametrize(
    "dist",
    [Dist("fixed", 15.0), Dist("exponential", 20.0), Dist("lognormal", 120.0, 0.8)],
    ids=lambda d: d.kind,
)
def test_samplers_have_the_stated_mean_and_cv(dist: Dist) -> None:
    """Sampled means and coefficients of variation match the parameters."""
    draw = dist.sampler(random.Random(3))
    xs = [draw() for _ in range(40_000)]
    mean = sum(xs) / len(xs)
    sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / len(xs))
    assert mean == pytest.approx(dist.mean, rel=0.03)
    assert sd / mean == pytest.approx(dist.true_cv, abs=0.05)
    median = sorted(xs)[len(xs) // 2]
    assert dist.cdf(median) == pytest.approx(0.5, abs=0.02) or dist.kind == "fixed"


def test_parse_dist_accepts_plain_numbers_as_fixed() -> None:
    """A bare number is a fixed duration."""
    assert parse_dist(25, "x") == Dist("fixed", 25.0)
    with pytest.raises(ValueError, match=r"x\.mean"):
        parse_dist({"dist": "fixed"}, "x")
