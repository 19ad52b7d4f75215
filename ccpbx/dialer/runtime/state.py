"""What one campaign runner knows of its calls and agents (plain data).

The runner's worker task owns it: only the worker changes it, in the order its
inputs came (see :mod:`.runner`). The placing and reserving tasks read it and tell
the worker what they did; they change nothing here but the book's count of calls
being placed (:attr:`CallBook.reserved`).
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from dataclasses import dataclass, field

from ccpbx.dialer.runtime.book import AbandonLedger, CallBook
from ccpbx.store.leasing import LeasedLead


@dataclass(frozen=True, slots=True)
class CallStats:
    placed: int
    answered: int
    connected: int
    abandoned: int
    unanswered: int
    answer_to_agent_ms: tuple[float, ...]


def _counts() -> dict[str, int]:
    return {"placed": 0, "answered": 0, "connected": 0, "abandoned": 0, "unanswered": 0}


@dataclass(slots=True)
class RunnerState:
    """A campaign's calls in flight, its abandon ledger, figures and agent ties."""

    ledger: AbandonLedger
    book: CallBook = field(default_factory=CallBook)
    counts: dict[str, int] = field(default_factory=_counts)
    answer_to_agent_s: deque[float] = field(default_factory=lambda: deque(maxlen=10_000))
    agent_calls: dict[str, str] = field(default_factory=dict)
    """Agent -> the attempt it is on or last wrapped up (for dispositions)."""
    previews: dict[str, LeasedLead] = field(default_factory=dict)
    """Agent -> the lead it is previewing (preview mode), until it dials or skips."""
    holds: dict[str, str] = field(default_factory=dict)
    """Attempt -> the agent reserved for it (previews and callbacks)."""

    @classmethod
    def for_zone(cls, cap_zone: dt.tzinfo) -> RunnerState:
        return cls(AbandonLedger(cap_zone))

    def stats(self) -> CallStats:
        return CallStats(
            **self.counts,
            answer_to_agent_ms=tuple(s * 1000 for s in self.answer_to_agent_s),
        )
