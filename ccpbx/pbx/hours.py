"""Business hours of inbound numbers: the rules a number's hours must pass, and which
route a call takes (pure code, no I/O; ``now`` is passed in).

A number with hours names a calendar of an IVR flow (``--hours FLOW/CALENDAR``) and
where calls go outside it (``--closed ROUTE``: any route ``number add`` takes, or a
voicemail box, ``voicemail:MAILBOX``, named after an ACD queue as all mailboxes are). The
calendar is read at call time from the flow's ACTIVE version, so editing the flow and
activating it again changes the hours without ``ccpbx conf apply``.

A calendar that the active version no longer has (or a flow no longer active) counts
as OPEN: callers reach the number's own route, as they would without hours, rather
than a closed message in what may be business hours; the ``hours`` script logs it
(``number_hours_calendar_missing``) so the admin fixes the flow or the number.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection
from dataclasses import dataclass

from ccpbx.errors import InvalidInput
from ccpbx.ivr.calendar import is_holiday, is_open
from ccpbx.ivr.model import Calendar
from ccpbx.pbx import model
from ccpbx.pbx.model import NumberHours

OPEN = "open"
CLOSED = "closed"
VOICEMAIL = "voicemail"

_FLOW = re.compile(r"[a-z][a-z0-9_]{0,62}")
# A calendar name travels as a FastAGI argument and a dialplan word: no commas,
# spaces or dialplan syntax.
_CALENDAR = re.compile(r"[A-Za-z0-9_-]{1,64}")
_MAILBOX = re.compile(r"[a-z0-9][a-z0-9_-]{1,63}")  # an ACD queue's name


@dataclass(frozen=True, slots=True)
class HoursDecision:
    """Open or closed, and why (``open_hours``, ``outside_hours``, ``holiday``,
    ``no_calendar``)."""

    state: str
    reason: str

    @property
    def open(self) -> bool:
        return self.state == OPEN


def check_hours_name(text: str) -> tuple[str, str]:
    """``FLOW/CALENDAR`` (e.g. ``support/office``) -> (flow, calendar)."""
    flow, sep, calendar = text.partition("/")
    if not sep or not _FLOW.fullmatch(flow) or not _CALENDAR.fullmatch(calendar):
        raise InvalidInput(
            f"hours {text!r}: write FLOW/CALENDAR, a calendar of an IVR flow (e.g."
            " support/office; calendar names of letters, digits, '_' and '-')",
            field="hours",
        )
    return flow, calendar


def check_closed_route(text: str) -> tuple[str, str]:
    """Where calls go outside the hours: any route a number may have, or
    ``voicemail:MAILBOX``."""
    kind, _, target = text.partition(":")
    if kind == VOICEMAIL:
        if not _MAILBOX.fullmatch(target):
            raise InvalidInput(
                f"closed route {text!r}: {target!r} is not a mailbox (mailboxes are named"
                " after ACD queues, e.g. voicemail:sales)",
                field="closed",
            )
        return kind, target
    try:
        return model.check_target(text)
    except InvalidInput as exc:
        raise InvalidInput(f"closed {exc.message} (or voicemail:MAILBOX)", field="closed") from None


def check_hours(hours: str | None, closed: str | None) -> NumberHours | None:
    """A number's hours from ``--hours`` and ``--closed``: both or neither."""
    if hours is None and closed is None:
        return None
    if hours is None:
        raise InvalidInput(
            "--closed needs --hours FLOW/CALENDAR: the hours outside which calls go there",
            field="hours",
        )
    if closed is None:
        raise InvalidInput(
            "--hours needs --closed ROUTE: where calls go outside those hours"
            " (e.g. --closed ivr:afterhours)",
            field="closed",
        )
    flow, calendar = check_hours_name(hours)
    kind, target = check_closed_route(closed)
    return NumberHours(flow, calendar, kind, target)


def calendar_problem(hours: NumberHours, version: int, calendars: Collection[str]) -> str | None:
    """Why ``hours`` cannot be used with the flow's active ``version`` holding
    ``calendars`` (None: it can)."""
    if hours.calendar in calendars:
        return None
    has = ", ".join(sorted(calendars)) if calendars else "no calendars"
    return (
        f"IVR flow {hours.flow!r} (active version {version}) has no calendar"
        f" {hours.calendar!r}; it has: {has}"
    )


def decide(calendar: Calendar | None, now: dt.datetime) -> HoursDecision:
    """Open or closed at ``now`` by ``calendar`` (in its own time zone); no calendar
    (gone from the flow's active version) counts as open (see the module docstring)."""
    if calendar is None:
        return HoursDecision(OPEN, "no_calendar")
    if is_holiday(calendar, now):
        return HoursDecision(CLOSED, "holiday")
    if is_open(calendar, now):
        return HoursDecision(OPEN, "open_hours")
    return HoursDecision(CLOSED, "outside_hours")
