"""Phone numbers and calling windows: pure rules, no I/O.

A number is normalised to E.164 with ``phonenumbers`` and given every time
zone it may be in. Where a number maps to several zones (a UK number, a US
mobile in an overlay area, a country-wide mobile range) the calling window
must be open in all of them, the most restrictive reading.

:func:`calling_window_open` is the calling-window decision: the dialer applies it
just before it sends a call. The lease only pre-filters with the SQL of
:mod:`ccpbx.store.compliance` (a property test holds the two together).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import PhoneNumberType
from phonenumbers.tzdata import TIMEZONE_DATA, TIMEZONE_LONGEST_PREFIX

from ccpbx.errors import InvalidInput

_UNKNOWN_ZONE = "Etc/Unknown"
_WINDOW_RE = re.compile(r"^(\d{1,2}):(\d{2})$")


class PhoneError(ValueError):
    """A phone number that cannot be dialed; the message says why."""


@dataclass(frozen=True, slots=True)
class Phone:
    e164: str
    time_zones: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CallingWindow:
    """Local time of day during which a recipient may be called: start <= t < end."""

    start_min: int = 8 * 60
    end_min: int = 21 * 60

    def __post_init__(self) -> None:
        if not 0 <= self.start_min < self.end_min <= 24 * 60:
            raise InvalidInput(
                "calling window must satisfy 00:00 <= start < end <= 24:00",
                start_min=self.start_min,
                end_min=self.end_min,
            )

    @classmethod
    def parse(cls, text: str) -> CallingWindow:
        """Read ``"08:00-21:00"``."""
        start, sep, end = text.partition("-")
        if not sep:
            raise InvalidInput(f"calling window {text!r} is not of the form HH:MM-HH:MM")
        return cls(_parse_minutes(start.strip()), _parse_minutes(end.strip()))

    def __str__(self) -> str:
        return f"{_fmt_minutes(self.start_min)}-{_fmt_minutes(self.end_min)}"


def _parse_minutes(text: str) -> int:
    match = _WINDOW_RE.match(text)
    if match is None or int(match.group(2)) >= 60:
        raise InvalidInput(f"time of day {text!r} is not of the form HH:MM")
    minutes = int(match.group(1)) * 60 + int(match.group(2))
    if minutes > 24 * 60:
        raise InvalidInput(f"time of day {text!r} is past 24:00")
    return minutes


def _fmt_minutes(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@functools.lru_cache(maxsize=1024)
def zone(name: str) -> ZoneInfo:
    """The IANA zone of that name; InvalidInput if there is none."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInput(f"unknown time zone {name!r}") from exc


def local_seconds(now: dt.datetime, zone_name: str) -> float:
    """Seconds since local midnight in that zone at instant ``now``."""
    if now.tzinfo is None:
        raise InvalidInput("now must be an aware datetime")
    local = now.astimezone(zone(zone_name))
    return local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6


def calling_window_open(zones: Iterable[str], window: CallingWindow, now: dt.datetime) -> bool:
    """True if it is inside the window at ``now`` in every one of ``zones``.

    No zone at all means nothing is known about the recipient: closed.
    """
    seen = False
    for name in zones:
        seen = True
        seconds = local_seconds(now, name)
        if not window.start_min * 60 <= seconds < window.end_min * 60:
            return False
    return seen


def _prefix_zones(digits: str) -> tuple[str, ...] | None:
    for length in range(min(TIMEZONE_LONGEST_PREFIX, len(digits)), 0, -1):
        found = TIMEZONE_DATA.get(digits[:length])
        if found is not None:
            return tuple(found)
    return None


def zones_for(number: phonenumbers.PhoneNumber, ntype: int, e164: str) -> tuple[str, ...]:
    """Every zone the number may be in: by its prefix for a geographical number,
    else every zone of its country."""
    geographical = phonenumbers.is_number_type_geographical(ntype, number.country_code or 0)
    found = _prefix_zones(e164[1:]) if geographical else None
    if found is None or found == (_UNKNOWN_ZONE,):
        found = _prefix_zones(str(number.country_code))
    if found is None or found == (_UNKNOWN_ZONE,):
        raise PhoneError(f"no time zone known for {e164}")
    return found


def unneutralise(text: str) -> str:
    """Undo the spreadsheet-formula guard of an export (a leading apostrophe)."""
    if len(text) > 1 and text[0] == "'" and text[1] in "=+-@\t\r":
        return text[1:]
    return text


_FORMATTING = str.maketrans("", "", " ()-./\u00a0")
_NANP_REGIONS = frozenset(phonenumbers.COUNTRY_CODE_TO_REGION_CODE[1])


def _nanp_fast(text: str, region: str) -> phonenumbers.PhoneNumber | None:
    """A plainly written North American number without the full parser (a third of
    the cost), or None to let the parser decide. Same result as ``parse`` here."""
    digits = text.translate(_FORMATTING)
    if digits.startswith("+1"):
        digits = digits[2:]
    elif region in _NANP_REGIONS and len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    elif region not in _NANP_REGIONS:
        return None
    if len(digits) != 10 or not digits.isascii() or not digits.isdigit() or digits[0] < "2":
        return None
    return phonenumbers.PhoneNumber(country_code=1, national_number=int(digits))


def normalise(raw: str, region: str) -> Phone:
    """Parse a number as written in a file; E.164 and its zones, or PhoneError."""
    text = unneutralise(raw.strip())
    if not text:
        raise PhoneError("missing phone number")
    number = _nanp_fast(text, region)
    if number is None:
        try:
            number = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException as exc:
            raise PhoneError(f"not a phone number: {raw!r}") from exc
    # number_type is UNKNOWN exactly when is_valid_number is false; calling it
    # once instead of both halves the cost of a large import.
    ntype = phonenumbers.number_type(number)
    if ntype == PhoneNumberType.UNKNOWN:
        raise PhoneError(f"invalid phone number: {raw!r}")
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return Phone(e164, zones_for(number, ntype, e164))


def check_region(region: str) -> str:
    """A region code phonenumbers knows (``US``, ``FR``...), upper-cased."""
    code = region.strip().upper()
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise InvalidInput(f"unknown region {region!r}; use a two-letter code such as US")
    return code


def check_e164(text: str, what: str = "number") -> str:
    """A number a user typed (a caller ID, a test number) in E.164: ``+``, the country
    code and a number valid in that country; spaces and dashes are dropped. InvalidInput
    says what is wrong, e.g. a national number given without its country code."""
    cleaned = text.strip()
    if not cleaned.startswith("+"):
        raise InvalidInput(
            f"{what} {text!r} is not E.164: write + and the country code first (e.g. +12125550000)",
            value=text,
        )
    try:
        number = phonenumbers.parse(cleaned, None)
    except phonenumbers.NumberParseException as exc:
        raise InvalidInput(f"{what} {text!r} is not a phone number", value=text) from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidInput(f"{what} {text!r} is not a valid number in its country", value=text)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
