"""Keypad dispositions: what an agent's key presses in wrap-up mean (pure rules)."""

from __future__ import annotations

import pytest

from ccpbx.dialer.disposition_keys import (
    DispositionKeys,
    KeyCollector,
    KeyResult,
    KeyStatus,
    repeated_end,
)

SEEDED = {"1": "sale", "2": "not_interested", "3": "callback", "4": "do_not_call"}


def typed(collector: KeyCollector, keys: str, start: float = 0.0, gap: float = 0.5) -> list:
    results: list[KeyResult] = []
    for n, key in enumerate(keys):
        results += collector.press(key, start + n * gap)
    return results


def test_a_key_alone_is_enough_when_no_longer_key_starts_with_it() -> None:
    """With single-digit keys only, pressing 1 gives 'sale' at once, no # needed."""
    results = typed(KeyCollector(DispositionKeys(SEEDED)), "1")
    assert results == [KeyResult(KeyStatus.CODE, "1", "sale")]


def test_hash_after_a_complete_key_is_harmless() -> None:
    """'1#' (the documented way) gives the code once; the # after it ends an empty entry."""
    results = typed(KeyCollector(DispositionKeys(SEEDED)), "1#")
    assert results == [KeyResult(KeyStatus.CODE, "1", "sale"), KeyResult(KeyStatus.CLEARED)]


def test_ambiguous_prefix_waits_for_hash() -> None:
    """With keys 1 and 12, '1' waits; '1#' is key 1 and '12' is key 12."""
    keys = DispositionKeys({"1": "sale", "12": "callback"})
    collector = KeyCollector(keys)
    assert typed(collector, "1") == [KeyResult(KeyStatus.PENDING, "1")]
    assert typed(collector, "#", start=1) == [KeyResult(KeyStatus.CODE, "1", "sale")]
    assert typed(collector, "12", start=2) == [
        KeyResult(KeyStatus.PENDING, "1"),
        KeyResult(KeyStatus.CODE, "12", "callback"),
    ]


def test_star_clears_the_entry() -> None:
    """'1*2#' with keys 1/12/2 is key 2: the star threw away the 1."""
    keys = DispositionKeys({"1": "sale", "12": "callback", "2": "not_interested"})
    results = typed(KeyCollector(keys), "1*2")
    assert results[-2:] == [
        KeyResult(KeyStatus.CLEARED),
        KeyResult(KeyStatus.CODE, "2", "not_interested"),
    ]


def test_unknown_keys_are_an_error_at_once() -> None:
    """A digit no key starts with is reported invalid at once and the entry is cleared."""
    collector = KeyCollector(DispositionKeys(SEEDED))
    assert typed(collector, "9") == [KeyResult(KeyStatus.INVALID, "9")]
    assert collector.digits == ""
    assert typed(collector, "2", start=1) == [KeyResult(KeyStatus.CODE, "2", "not_interested")]


def test_hash_alone_or_after_a_non_key_prefix() -> None:
    """'#' with nothing typed is no error; '1#' where only 12 exists is invalid."""
    collector = KeyCollector(DispositionKeys({"12": "callback"}))
    assert typed(collector, "#") == [KeyResult(KeyStatus.CLEARED)]
    assert typed(collector, "1#", start=1) == [
        KeyResult(KeyStatus.PENDING, "1"),
        KeyResult(KeyStatus.INVALID, "1"),
    ]


def test_timeout_completes_an_exact_key_and_rejects_a_prefix() -> None:
    """After inter_digit_s without a key, '1' (keys 1, 12) is taken as key 1; with only 12
    defined, a lone '1' times out as invalid."""
    collector = KeyCollector(DispositionKeys({"1": "sale", "12": "callback"}), inter_digit_s=3)
    typed(collector, "1", start=10)
    assert collector.deadline == 13
    assert collector.expire(12.9) is None
    assert collector.expire(13) == KeyResult(KeyStatus.CODE, "1", "sale")
    assert collector.deadline is None
    only_long = KeyCollector(DispositionKeys({"12": "callback"}), inter_digit_s=3)
    typed(only_long, "1")
    assert only_long.expire(5) == KeyResult(KeyStatus.INVALID, "1")


def test_a_late_key_does_not_extend_a_timed_out_entry() -> None:
    """'1', a pause longer than the timeout, then '2': key 1 completes on its timeout and
    the 2 starts a new entry (it is not read as 12)."""
    collector = KeyCollector(DispositionKeys({"1": "sale", "12": "callback", "2": "x"}))
    typed(collector, "1", start=0)
    assert collector.press("2", 10) == [
        KeyResult(KeyStatus.CODE, "1", "sale"),
        KeyResult(KeyStatus.CODE, "2", "x"),
    ]


def test_bad_keys_and_settings_are_refused() -> None:
    """Keys are 1-2 digits; a collector takes only keypad keys and a positive timeout."""
    for bad in ("", "123", "a", "1#"):
        with pytest.raises(ValueError):
            DispositionKeys({bad: "sale"})
    with pytest.raises(ValueError):
        KeyCollector(DispositionKeys(SEEDED), inter_digit_s=0)
    with pytest.raises(ValueError):
        KeyCollector(DispositionKeys(SEEDED)).press("A", 0)


def test_a_key_end_reported_twice_is_read_once() -> None:
    """A second end of the same key a few ms after the first (Asterisk re-reading a
    deferred key) is a repeat; a real second press ends at least its duration later."""
    assert repeated_end(("3", 10.000), "3", 10.008, 180)
    assert repeated_end(("1", 10.000), "1", 10.050, 180)
    assert not repeated_end(("1", 10.000), "1", 10.230, 180)  # pressed again
    assert not repeated_end(("1", 10.000), "2", 10.008, 180)  # another key
    assert not repeated_end(None, "1", 10.0, 180)
    assert not repeated_end(("1", 10.000), "1", 10.001, 0)  # duration unknown
