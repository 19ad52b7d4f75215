"""Business hours and callback times from a flow calendar (pure; `now` is passed in)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ccpbx.ivr.model import Calendar


def zone_exists(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def local(calendar: Calendar, now: dt.datetime) -> dt.datetime:
    """`now` (aware) in the calendar's time zone."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(ZoneInfo(calendar.time_zone))


def is_holiday(calendar: Calendar, now: dt.datetime) -> bool:
    """True when the local date of `now` is one of the calendar's holidays."""
    return local(calendar, now).date() in calendar.holidays


def is_open(calendar: Calendar, now: dt.datetime) -> bool:
    """True inside the weekly hours of the local day, unless that day is a holiday."""
    here = local(calendar, now)
    if here.date() in calendar.holidays:
        return False
    minute = here.hour * 60 + here.minute
    return any(start <= minute < end for start, end in calendar.weekly.get(here.weekday(), ()))


def next_time_of_day(now: dt.datetime, hhmm: str, time_zone: str) -> dt.datetime | None:
    """The next moment (after `now`) whose local time in `time_zone` is `hhmm` (e.g. "1430")."""
    if len(hhmm) != 4 or not hhmm.isdigit():
        return None
    hour, minute = int(hhmm[:2]), int(hhmm[2:])
    if hour > 23 or minute > 59:
        return None
    here = now.astimezone(ZoneInfo(time_zone))
    candidate = here.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if candidate <= here:
        candidate += dt.timedelta(days=1)
    return candidate.astimezone(dt.UTC)
