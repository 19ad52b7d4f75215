"""Calls a campaign has in flight, and its abandon ledger (pure; times are passed in).

A call is *dialing* from the Originate until Asterisk says how it ended or that it was
answered; *answered* while the live customer waits for an agent (the ACD has it);
*connected* once an agent took it. The book owns that lifecycle; every transition
returns what the caller needs to record (ring time, answer-to-agent time), and
:meth:`CallBook.finish` removes a call exactly once, so an outcome cannot be recorded
twice even when Asterisk reports the end of a call more than one way.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from enum import StrEnum

from ccpbx.dialer.outcomes import AttemptReport
from ccpbx.dialer.pacing.model import AbandonWindow
from ccpbx.dialer.pacing.window import DAY_S, RollingCounter


class Phase(StrEnum):
    DIALING = "dialing"
    ANSWERED = "answered"
    CONNECTED = "connected"


@dataclass(slots=True)
class OutboundCall:
    """One attempt's call as the runner follows it."""

    attempt_id: uuid.UUID
    contact_id: int
    e164: str
    placed_at: float
    phase: Phase = Phase.DIALING
    answered_at: float | None = None
    human: bool | None = None
    """AMD verdict (None: no AMD or not known yet)."""
    agent: str | None = None
    connected_at: float | None = None
    report: AttemptReport = field(default_factory=AttemptReport)
    """What Asterisk said of the dialing (OriginateResponse, Hangup, DialEnd)."""
    failed_at: float | None = None
    """When a failed OriginateResponse came (the cause may follow it)."""
    sent: bool = False
    """Its Originate was written to Asterisk (answered or not): it may have rung."""

    @property
    def key(self) -> str:
        """The call id the channel and the ACD know it by (the attempt id)."""
        return str(self.attempt_id)


class CallBook:
    """Calls in flight, by attempt id (as a string: the channel's uniqueid)."""

    def __init__(self) -> None:
        self._calls: dict[str, OutboundCall] = {}
        self.reserved = 0
        """Calls being leased and placed, not yet in the book (counted as in flight)."""

    def __contains__(self, key: object) -> bool:
        return key in self._calls

    def __len__(self) -> int:
        return len(self._calls)

    def get(self, key: str) -> OutboundCall | None:
        return self._calls.get(key)

    def calls(self) -> list[OutboundCall]:
        return list(self._calls.values())

    def placed(self, call: OutboundCall) -> None:
        if call.key in self._calls:
            raise ValueError(f"attempt {call.key} is already in flight")
        self._calls[call.key] = call

    def answered(self, key: str, now: float) -> float | None:
        """The customer picked up; returns the ring time, or None if not dialing."""
        call = self._calls.get(key)
        if call is None or call.phase is not Phase.DIALING:
            return None
        call.phase = Phase.ANSWERED
        call.answered_at = now
        return now - call.placed_at

    def connected(self, key: str, agent: str, now: float) -> float | None:
        """An agent took the call; returns the answer-to-agent time, or None."""
        call = self._calls.get(key)
        if call is None or call.phase is not Phase.ANSWERED:
            return None
        call.phase = Phase.CONNECTED
        call.agent = agent
        call.connected_at = now
        assert call.answered_at is not None
        return now - call.answered_at

    def finish(self, key: str) -> OutboundCall | None:
        """Remove the call; None if it was already removed (the outcome is recorded)."""
        return self._calls.pop(key, None)

    def ringing_since(self) -> tuple[float, ...]:
        return tuple(c.placed_at for c in self._calls.values() if c.phase is Phase.DIALING)

    def waiting_since(self) -> tuple[float, ...]:
        """Live-answered calls not yet with an agent (AMD pending ones included)."""
        return tuple(
            c.answered_at  # type: ignore[misc]
            for c in self._calls.values()
            if c.phase is Phase.ANSWERED and c.human is not False
        )


class AbandonLedger:
    """Live answers and abandons of one campaign: today (calendar day in the campaign's
    cap zone), the last 24 hours and the last 30 days. Times are epoch seconds."""

    def __init__(self, zone: dt.tzinfo) -> None:
        self._zone = zone
        self._c24 = RollingCounter(DAY_S, 60.0)
        self._c30 = RollingCounter(30 * DAY_S, 3600.0)
        self._day: dt.date | None = None
        self._today = [0, 0]

    def _date(self, at: float) -> dt.date:
        return dt.datetime.fromtimestamp(at, self._zone).date()

    def add(self, at: float, *, abandoned: bool, now: float | None = None) -> None:
        """One live answer at ``at`` (abandoned or put through). ``now`` (default ``at``)
        decides which day is today when loading history."""
        abandoned_n = int(abandoned)
        self._c24.add(at, 1, abandoned_n)
        self._c30.add(at, 1, abandoned_n)
        today = self._date(now if now is not None else at)
        self._roll(today)
        if self._date(at) == today:
            self._today[0] += 1
            self._today[1] += abandoned_n

    def _roll(self, today: dt.date) -> None:
        if self._day != today:
            self._day = today
            self._today = [0, 0]

    def windows(self, now: float) -> tuple[AbandonWindow, AbandonWindow, AbandonWindow]:
        """(today, last 24 h, last 30 days) at ``now``."""
        self._roll(self._date(now))
        today = AbandonWindow(self._today[0], self._today[1])
        return today, self._c24.window(now), self._c30.window(now)
