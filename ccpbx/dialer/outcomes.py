"""Attempt outcomes from what Asterisk reports (provisional: replaced by the carrier work)."""

from __future__ import annotations

_REASONS = {"0": "failed", "1": "no_answer", "3": "no_answer", "5": "busy", "8": "congestion"}


def originate_outcome(response: str, reason: str) -> str | None:
    if response == "Success" or reason == "4":
        return None
    return _REASONS.get(reason, "failed")


def amd_outcome(status: str) -> str | None:
    return "machine" if status == "MACHINE" else None
