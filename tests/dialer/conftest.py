"""Shared helpers for dialer tests: scenario dictionaries and snapshot builders."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ccpbx.dialer.pacing.model import AbandonWindow, PacingSnapshot


def base_scenario(**changes: Any) -> dict[str, Any]:
    """The issue's example scenario as a dict, with overrides."""
    raw: dict[str, Any] = {
        "agents": 10,
        "days": 1,
        "day_hours": 1,
        "live_answer_prob": 0.30,
        "answer_delay_s": {"dist": "lognormal", "mean": 8, "cv": 0.5},
        "failures": [{"share": 0.6, "after_s": 25}, {"share": 0.4, "after_s": 4}],
        "talk_s": {"dist": "lognormal", "mean": 120, "cv": 0.8},
        "wrap_s": {"dist": "fixed", "mean": 15},
        "grace_s": 2.0,
        "abandon_target": 0.03,
        "seed": 1,
    }
    raw.update(changes)
    return raw


def snap(
    *,
    now: float = 100.0,
    ready: int = 0,
    talking: tuple[float, ...] = (),
    wrapping: tuple[float, ...] = (),
    ringing: tuple[float, ...] = (),
    waiting: tuple[float, ...] = (),
    logged_in: int | None = None,
    today: AbandonWindow | None = None,
    last_30d: AbandonWindow | None = None,
    elapsed: float = 3600.0,
    length: float = 28800.0,
) -> PacingSnapshot:
    """A snapshot with ``ready`` agents idle 5 s and the given elapsed times."""
    n = ready + len(talking) + len(wrapping) if logged_in is None else logged_in
    return PacingSnapshot(
        now=now,
        logged_in=n,
        ready_since=(now - 5.0,) * ready,
        talking_since=tuple(now - e for e in talking),
        wrapping_since=tuple(now - e for e in wrapping),
        ringing_since=tuple(now - e for e in ringing),
        waiting_since=tuple(now - e for e in waiting),
        today=today or AbandonWindow(),
        last_24h=today or AbandonWindow(),
        last_30d=last_30d or today or AbandonWindow(),
        abandon_target=0.03,
        grace_s=2.0,
        shift_elapsed_s=elapsed,
        shift_length_s=length,
    )


@pytest.fixture
def scenario_dict() -> Callable[..., dict[str, Any]]:
    """Factory of scenario dicts (the issue's example with overrides)."""
    return base_scenario


@pytest.fixture
def make_snap() -> Callable[..., PacingSnapshot]:
    """Factory of pacing snapshots."""
    return snap
