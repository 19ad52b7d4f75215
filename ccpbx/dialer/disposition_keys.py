"""Dispositions typed on the phone's keypad during wrap-up: pure rules, no I/O.

An agent ends a disposition with ``#``, or presses just its key when no other
key starts with it (``1`` alone when there is no ``1x``). ``*`` clears what was
typed. When the agent stops typing for ``inter_digit_s``, what was typed is
taken as complete: an exact key gives its code, anything else is an error. A
digit that no key starts with is an error at once, so the agent hears about it
without waiting. Every error clears the entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

KEYS = frozenset("0123456789*#")
INTER_DIGIT_S = 3.0


def repeated_end(
    previous: tuple[str, float] | None, digit: str, at: float, duration_ms: int
) -> bool:
    """Whether a key's end (at ``at`` s, held ``duration_ms``) only repeats the previous one.

    Asterisk defers a key pressed within 45 ms of the one before and reads its end
    again later, reporting it twice a few ms apart. A real second press of the same
    key ends at least its own duration after the first ended.
    """
    if previous is None or duration_ms <= 0:
        return False
    last_digit, last_at = previous
    return digit == last_digit and (at - last_at) * 1000 < duration_ms / 2


class KeyStatus(Enum):
    PENDING = "pending"  # more keys may follow
    CODE = "code"  # a disposition code is complete
    INVALID = "invalid"  # no disposition has these keys: tell the agent
    CLEARED = "cleared"  # the agent pressed * (or nothing was typed)


@dataclass(frozen=True, slots=True)
class KeyResult:
    status: KeyStatus
    digits: str = ""
    code: str | None = None


class DispositionKeys:
    """Which keys give which disposition code (from ``dispositions.dtmf_key``)."""

    def __init__(self, keys: Mapping[str, str]) -> None:
        for key in keys:
            if not (1 <= len(key) <= 2 and key.isascii() and key.isdigit()):
                raise ValueError(f"a disposition key is 1 or 2 digits, got {key!r}")
        self._codes = dict(keys)
        self._prefixes = {key[:n] for key in keys for n in range(1, len(key) + 1)}

    def code(self, digits: str) -> str | None:
        return self._codes.get(digits)

    def may_continue(self, digits: str) -> bool:
        """Some key starts with ``digits``."""
        return digits in self._prefixes

    def unambiguous(self, digits: str) -> bool:
        """``digits`` is a key and no longer key starts with it."""
        return digits in self._codes and not any(
            key != digits and key.startswith(digits) for key in self._codes
        )

    def as_dict(self) -> dict[str, str]:
        return dict(self._codes)


class KeyCollector:
    """One agent's keypad entry; ``now`` is any monotonic clock, in seconds."""

    def __init__(self, keys: DispositionKeys, *, inter_digit_s: float = INTER_DIGIT_S) -> None:
        if inter_digit_s <= 0:
            raise ValueError("inter_digit_s must be positive")
        self.keys = keys
        self.inter_digit_s = inter_digit_s
        self._digits = ""
        self._last: float | None = None

    @property
    def digits(self) -> str:
        return self._digits

    @property
    def deadline(self) -> float | None:
        """When the entry times out, None when nothing is typed."""
        if not self._digits or self._last is None:
            return None
        return self._last + self.inter_digit_s

    def press(self, key: str, now: float) -> list[KeyResult]:
        """Results of pressing ``key`` at ``now``: first that of an earlier entry that timed
        out meanwhile (if any), then that of this key."""
        if key not in KEYS:
            raise ValueError(f"not a keypad key: {key!r}")
        results = []
        stale = self.expire(now)  # digits typed long ago do not prefix this key
        if stale is not None:
            results.append(stale)
        results.append(self._press(key, now))
        return results

    def _press(self, key: str, now: float) -> KeyResult:
        if key == "*":
            self.reset()
            return KeyResult(KeyStatus.CLEARED)
        if key == "#":
            digits = self._digits
            self.reset()
            code = self.keys.code(digits)
            if code is not None:
                return KeyResult(KeyStatus.CODE, digits, code)
            return KeyResult(KeyStatus.INVALID if digits else KeyStatus.CLEARED, digits)
        return self._digit(key, now)

    def expire(self, now: float) -> KeyResult | None:
        """The entry's result if it timed out by ``now``, else None."""
        deadline = self.deadline
        if deadline is None or now < deadline:
            return None
        digits = self._digits
        self.reset()
        code = self.keys.code(digits)
        if code is not None:
            return KeyResult(KeyStatus.CODE, digits, code)
        return KeyResult(KeyStatus.INVALID, digits)

    def _digit(self, key: str, now: float) -> KeyResult:
        digits = self._digits + key
        if not self.keys.may_continue(digits):
            self.reset()
            return KeyResult(KeyStatus.INVALID, digits)
        if self.keys.unambiguous(digits):
            self.reset()
            return KeyResult(KeyStatus.CODE, digits, self.keys.code(digits))
        self._digits, self._last = digits, now
        return KeyResult(KeyStatus.PENDING, digits)

    def reset(self) -> None:
        """Forget what was typed."""
        self._digits, self._last = "", None
