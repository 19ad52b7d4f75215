"""Pause reason codes: the configured list an agent picks from (``[acd] pause_reasons``).

Each entry is ``code=Label`` (a code alone is its own label): codes are short
identifiers (``break``, ``lunch``, ``acw``), labels free text. On the desk phone
``*47`` followed by digits N picks the Nth reason of the list (``*472``: the second).
Reasons the ACD sets itself (``no answer``, ``reconnecting``) never go through here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ccpbx.errors import InvalidInput

CODE_RE = re.compile(r"^[a-z][a-z0-9_-]{0,23}$")

DEFAULT_PAUSE_REASONS = (
    "break=Break",
    "lunch=Lunch",
    "training=Training",
    "meeting=Meeting",
    "coaching=Coaching",
    "acw=After-call work",
    "supervisor=Paused by a supervisor",
)


@dataclass(frozen=True, slots=True)
class PauseReason:
    code: str
    label: str


class PauseReasons:
    """The allowed pause reasons, in the configured order."""

    def __init__(self, reasons: Iterable[PauseReason]) -> None:
        self.reasons = tuple(reasons)
        if not self.reasons:
            raise ValueError("at least one pause reason is needed")
        codes = [r.code for r in self.reasons]
        if len(set(codes)) != len(codes):
            raise ValueError("pause reason codes must be unique")
        self._codes = frozenset(codes)

    @classmethod
    def parse(cls, entries: Iterable[str]) -> PauseReasons:
        """``["break=Break", "lunch"]`` -> reasons; ValueError names a bad entry."""
        reasons = []
        for entry in entries:
            code, _, label = entry.partition("=")
            code, label = code.strip(), label.strip() or code.strip()
            if not CODE_RE.match(code):
                raise ValueError(
                    f"pause reason code {code!r}: 1 to 24 lower-case letters, digits, _ -,"
                    " starting with a letter"
                )
            if len(label) > 60 or any(c in label for c in "\r\n\0"):
                raise ValueError(f"pause reason label of {code!r}: one line, 60 characters")
            reasons.append(PauseReason(code, label))
        return cls(reasons)

    def check(self, code: str) -> str:
        """``code`` if it is one of the list, else InvalidInput naming the field."""
        if code not in self._codes:
            raise InvalidInput(
                f"unknown pause reason {code!r}; one of: {', '.join(sorted(self._codes))}",
                field="reason",
            )
        return code

    def by_digits(self, digits: str) -> str | None:
        """The code of the Nth reason for the digits ``N`` keyed on a phone (1-based)."""
        if not digits.isdigit():
            return None
        index = int(digits) - 1
        return self.reasons[index].code if 0 <= index < len(self.reasons) else None

    def view(self) -> list[dict[str, Any]]:
        return [
            {"code": r.code, "label": r.label, "digits": str(i + 1)}
            for i, r in enumerate(self.reasons)
        ]


DEFAULT = PauseReasons.parse(DEFAULT_PAUSE_REASONS)
