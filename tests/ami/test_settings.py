"""Frozen AMI settings checked at construction, and the pure reconnect backoff."""

from __future__ import annotations

import dataclasses

import pytest

from ccpbx.ami import AmiSettings
from ccpbx.backoff import Backoff
from ccpbx.errors import ConfigError


def test_settings_are_frozen_and_hide_the_secret() -> None:
    """Settings cannot be changed after construction and repr() never shows the secret."""
    s = AmiSettings(host="127.0.0.1", username="ccpbx", secret="hunter2")
    assert "hunter2" not in repr(s)
    assert s.node == "127.0.0.1:5038"
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.port = 1  # type: ignore[misc]


def test_invalid_settings_list_every_problem() -> None:
    """Bad values raise one ConfigError naming each problem."""
    with pytest.raises(ConfigError) as info:
        AmiSettings(
            host="",
            username="u\r\nAction: Originate",
            secret="s",
            port=0,
            ping_timeout=0,
            backoff_initial=5,
            backoff_max=1,
            backoff_jitter=1.5,
            event_queue_size=0,
        )
    problems = info.value.details["problems"]
    assert "host is empty" in problems
    assert "port 0 is out of range" in problems
    assert "ping_timeout must be > 0" in problems
    assert "backoff_max must be >= backoff_initial" in problems
    assert "backoff_jitter must be in [0, 1)" in problems
    assert "event_queue_size must be >= 1" in problems
    assert "username holds CR, LF or NUL" in problems


def test_backoff_doubles_up_to_the_cap_and_resets() -> None:
    """Without jitter the delays double from initial and stop at the cap; reset starts over."""
    b = Backoff(0.5, 4.0, 0.0, random=lambda: 0.9)
    assert [b.next_delay() for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    b.reset()
    assert b.next_delay() == 0.5


def test_backoff_jitter_spreads_within_bounds() -> None:
    """With jitter j a delay d is drawn from d*(1-j)..d*(1+j), never above the cap."""
    low = Backoff(1.0, 10.0, 0.2, random=lambda: 0.0)
    high = Backoff(1.0, 10.0, 0.2, random=lambda: 1.0)
    assert [round(low.next_delay(), 6) for _ in range(3)] == [0.8, 1.6, 3.2]
    assert [round(high.next_delay(), 6) for _ in range(5)] == [1.2, 2.4, 4.8, 9.6, 10.0]
