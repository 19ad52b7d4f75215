"""Formulas of the progressive, ratio and VICIdial adaptive pacers, and the registry."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ccpbx.dialer.pacing import (
    AbandonWindow,
    Pacer,
    PacingSnapshot,
    ProgressivePacer,
    ReadyRatioPacer,
    RollingCounter,
    VicidialAdaptivePacer,
    VicidialRatioPacer,
    make_pacer,
)
from ccpbx.dialer.pacing.vicidial import vicidial_need

Snap = Callable[..., PacingSnapshot]


def test_progressive_places_one_call_per_ready_agent(make_snap: Snap) -> None:
    """Progressive tops calls in flight up to the ready agents and never more."""
    pacer = ProgressivePacer()
    assert pacer.decide(make_snap(ready=4, talking=(10.0,) * 6)) == 4
    assert pacer.decide(make_snap(ready=4, ringing=(1.0, 2.0, 3.0))) == 1
    assert pacer.decide(make_snap(ready=2, ringing=(1.0,) * 5)) == 0
    assert pacer.decide(make_snap(talking=(1.0,) * 3, waiting=(0.5,))) == 0


def test_vicidial_need_counts_ready_and_talking_agents_against_all_lines(
    make_snap: Snap,
) -> None:
    """Need is round(level x (ready + talking)) minus talking, ringing and waiting calls."""
    s = make_snap(ready=3, talking=(5.0,) * 5, wrapping=(1.0,) * 2, ringing=(1.0,) * 4)
    assert vicidial_need(1.0, s) == 0  # 8 agents' worth of lines, 9 already used
    assert vicidial_need(2.0, s) == 16 - (5 + 4)
    assert vicidial_need(2.5, s) == 20 - 9
    s2 = make_snap(ready=6, talking=(5.0,) * 4, ringing=(1.0,) * 2, waiting=())
    assert vicidial_need(1.0, s2) == ProgressivePacer().decide(s2) == 4


def test_ratio_dither_averages_the_fractional_lines(make_snap: Snap) -> None:
    """At level 1.05 with 10 agents the line target is 11 about half of the minutes."""
    pacer = VicidialRatioPacer(1.05)
    counts = [pacer.decide(make_snap(now=60.0 * i, ready=10)) for i in range(1000)]
    assert set(counts) == {10, 11}
    assert counts.count(11) / len(counts) == pytest.approx(0.5, abs=0.05)
    same_minute = {pacer.decide(make_snap(now=120.0 + i, ready=10)) for i in range(50)}
    assert len(same_minute) == 1


def test_ready_ratio_counts_only_ready_agents(make_snap: Snap) -> None:
    """ready_ratio:L keeps round(L x ready) calls in flight."""
    pacer = ReadyRatioPacer(2.5)
    assert pacer.decide(make_snap(ready=4, talking=(3.0,) * 6, ringing=(1.0,) * 3)) == 7
    assert pacer.decide(make_snap(ready=0, talking=(3.0,) * 10)) == 0


def _drive(
    pacer: VicidialAdaptivePacer, make_snap: Snap, start: float, stop: float, **kw: object
) -> None:
    t = start
    while t <= stop:
        pacer.decide(make_snap(now=t, **kw))
        t += 2.5


def test_adaptive_level_follows_the_documented_update(make_snap: Snap) -> None:
    """Every 15 s: L <- L x (1 + (avg ready - avg waiting) / avg agents), clamped to [1, max]."""
    pacer = VicidialAdaptivePacer("average")
    _drive(pacer, make_snap, 0.0, 15.0, ready=2, talking=(30.0,) * 8)
    assert pacer.level == pytest.approx(1.2)
    _drive(pacer, make_snap, 17.5, 30.0, ready=0, talking=(30.0,) * 9, waiting=(0.5,))
    assert pacer.level == pytest.approx(1.2 * (1 - 1 / 9))  # 9 agents logged in
    slow = VicidialAdaptivePacer("hard_limit", max_level=3.0)
    for i in range(200):
        slow.decide(make_snap(now=2.5 * i, ready=10))
    assert slow.level == 3.0


@pytest.mark.parametrize(
    ("mode", "elapsed", "expected"),
    [
        ("hard_limit", 20_000.0, 1.0),
        ("average", 20_000.0, 1.0),
        ("tapered", 20_000.0, 1.0),
        ("tapered", 0.0, 2.0),
    ],
)
def test_drop_control_when_the_day_is_over_target(
    make_snap: Snap, mode: str, elapsed: float, expected: float
) -> None:
    """Over the day's target: hard limit resets to 1, average halves, tapered allows early."""
    pacer = VicidialAdaptivePacer(mode, start_level=2.0)
    over = AbandonWindow(answered=1000, abandoned=40)  # 4 %: over 3 %, under 6 %
    base = {"talking": (30.0,) * 10, "today": over, "elapsed": elapsed}
    for i in range(7):
        pacer.decide(make_snap(now=1000.0 + 2.5 * i, **base))
    if mode == "average":
        assert pacer.level == pytest.approx(1.0)  # 2.0 halved
    else:
        assert pacer.level == pytest.approx(expected)


def test_half_of_last_minute_dropped_halves_the_level(make_snap: Snap) -> None:
    """If over half of the last minute's answers were dropped, the level halves."""
    pacer = VicidialAdaptivePacer("average", start_level=3.0, drop_target=0.5)
    t = 0.0
    answered = 1000
    dropped = 0
    while t < 15.0:
        pacer.decide(make_snap(now=t, talking=(30.0,) * 10, today=AbandonWindow(answered, dropped)))
        answered += 2
        dropped += 2
        t += 2.5
    pacer.decide(make_snap(now=t, talking=(30.0,) * 10, today=AbandonWindow(answered, dropped)))
    assert pacer.level == pytest.approx(1.5)


def test_rolling_counter_drops_old_buckets() -> None:
    """Counts leave the window once their bucket is a window length old."""
    c = RollingCounter(3600.0, 60.0)
    c.add(0.0, answered=10, abandoned=1)
    c.add(1800.0, answered=5)
    assert c.window(1800.0) == AbandonWindow(15, 1)
    assert c.window(3660.0) == AbandonWindow(5, 0)
    assert c.window(9000.0) == AbandonWindow(0, 0)
    assert AbandonWindow(200, 5).rate == 0.025


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("progressive", ProgressivePacer),
        ("ratio:2.5", VicidialRatioPacer),
        ("ready_ratio:1.6", ReadyRatioPacer),
        ("vicidial_hard_limit", VicidialAdaptivePacer),
        ("vicidial_average:max_level=4", VicidialAdaptivePacer),
        ("vicidial_tapered", VicidialAdaptivePacer),
    ],
)
def test_registry_builds_each_pacer(name: str, cls: type) -> None:
    """make_pacer parses every documented name into a fresh Pacer."""
    pacer = make_pacer(name)
    assert isinstance(pacer, cls)
    assert isinstance(pacer, Pacer)
    assert make_pacer(name) is not pacer


def test_registry_options_and_errors() -> None:
    """Options reach the pacer; unknown names and options are refused with a message."""
    vici = make_pacer("vicidial_average:max_level=4")
    assert isinstance(vici, VicidialAdaptivePacer)
    assert vici.max_level == 4.0
    assert make_pacer("predictive", {"margin": 0.002}).name == "predictive"
    with pytest.raises(ValueError, match="unknown pacer"):
        make_pacer("fastest")
    with pytest.raises(ValueError, match="numeric level"):
        make_pacer("ratio:abc")
    with pytest.raises(ValueError, match="unknown options"):
        make_pacer("predictive:speed=3")
    with pytest.raises(ValueError, match="key=value"):
        make_pacer("vicidial_tapered:4")
