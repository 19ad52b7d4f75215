"""The ``hours`` FastAGI script: is a number with business hours open now?

``[ccpbx-inbound]`` runs ``AGI(.../hours,FLOW,CALENDAR)`` for a number added with
``--hours FLOW/CALENDAR``; the script reads that calendar from the flow's ACTIVE version
(so ``ccpbx ivr activate`` changes the hours at once, without ``conf apply``), decides
with :func:`ccpbx.pbx.hours.decide` and sets ``CCPBX_HOURS`` to ``open`` or ``closed``;
the dialplan then goes to the number's route or to its closed route. A calendar the
active version no longer has counts as open, logged ``number_hours_calendar_missing``.

Without ccpbx (not running, the database down, this script failed) ``CCPBX_HOURS``
stays empty and the dialplan sends the call to ``ccpbx-fallback``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

import structlog

from ccpbx.agi import AgiSession
from ccpbx.errors import InvalidInput
from ccpbx.ivr import store as ivr_store
from ccpbx.ivr.model import Calendar
from ccpbx.ivr.validate import check_text
from ccpbx.pbx.hours import decide
from ccpbx.store.db import Executor

log = structlog.get_logger(__name__)

HOURS_VARIABLE = "CCPBX_HOURS"

Clock = Callable[[], dt.datetime]


@dataclass(frozen=True, slots=True)
class FoundCalendar:
    """The calendar asked for in the flow's active version (``version`` None: the flow
    is not active; ``calendar`` None: that version has no such calendar)."""

    version: int | None
    calendar: Calendar | None


CalendarLookup = Callable[[str, str], Awaitable[FoundCalendar]]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class ActiveCalendars:
    """Calendars of flows' active versions from PostgreSQL: one round trip per call,
    each version's text parsed once (a stored version never changes)."""

    def __init__(self, pool: Callable[[], Executor]) -> None:
        self._pool = pool
        self._parsed: dict[int, Mapping[str, Calendar]] = {}

    async def __call__(self, flow: str, name: str) -> FoundCalendar:
        active = await ivr_store.active_flow(self._pool(), flow)
        if active is None:
            return FoundCalendar(None, None)
        calendars = self._parsed.get(active.version_id)
        if calendars is None:
            checked = check_text(active.source)
            calendars = checked.flow.calendars if checked.flow is not None else {}
            self._parsed[active.version_id] = calendars
        return FoundCalendar(active.version, calendars.get(name))


def hours_handler(
    calendar_of: CalendarLookup, clock: Clock = utc_now
) -> Callable[[AgiSession], Awaitable[None]]:
    """``AGI(.../hours,FLOW,CALENDAR)``: set ``CCPBX_HOURS`` to open or closed at
    ``clock()`` by that calendar (see the module docstring)."""

    async def handle(session: AgiSession) -> None:
        args = session.env.args
        if len(args) < 2 or not args[0] or not args[1]:
            raise InvalidInput(f"hours script needs FLOW,CALENDAR; got {list(args)!r}")
        flow, name = args[0], args[1]
        did = session.env.extension  # the number dialed (E.164 or its digits)
        found = await calendar_of(flow, name)
        decision = decide(found.calendar, clock())
        if found.calendar is None:
            log.warning(
                "number_hours_calendar_missing",
                did=did,
                flow=flow,
                calendar=name,
                version=found.version,
                flow_active=found.version is not None,
                treated_as="open",
            )
        await session.set_variable(HOURS_VARIABLE, decision.state)
        log.info(
            "number_hours",
            did=did,
            flow=flow,
            calendar=name,
            version=found.version,
            state=decision.state,
            reason=decision.reason,
        )

    return handle


def handler_for(pool: Callable[[], Executor]) -> Callable[[AgiSession], Awaitable[None]]:
    """The script as the daemon serves it: calendars read from the database."""
    return hours_handler(ActiveCalendars(pool))
