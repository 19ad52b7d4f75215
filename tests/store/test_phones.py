"""Phone number normalisation and the calling-window rule, without a database."""

from __future__ import annotations

import datetime as dt

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ccpbx.errors import InvalidInput
from ccpbx.store import phones
from ccpbx.store.phones import CallingWindow, PhoneError, calling_window_open, normalise

UTC = dt.UTC
WINDOW = CallingWindow.parse("08:00-21:00")


def test_national_number_gets_country_code_and_zone() -> None:
    """A US number written nationally becomes E.164 with its area's zone."""
    phone = normalise("(212) 555-0123", "US")
    assert phone.e164 == "+12125550123"
    assert phone.time_zones == ("America/New_York",)


def test_international_number_ignores_default_region() -> None:
    """A number with + keeps its own country whatever the list's region."""
    assert normalise("+33 6 12 34 56 78", "US").e164 == "+33612345678"


def test_region_decides_national_numbers() -> None:
    """The same digits read in France are a French number."""
    phone = normalise("06 12 34 56 78", "FR")
    assert phone.e164 == "+33612345678"
    assert phone.time_zones == ("Europe/Paris",)


def test_number_in_several_zones_keeps_them_all() -> None:
    """A UK mobile may be in London, Jersey, Guernsey or the Isle of Man: all are kept."""
    zones = normalise("+44 7911 123456", "GB").time_zones
    assert "Europe/London" in zones
    assert len(zones) > 1


def test_non_geographic_number_gets_every_zone_of_its_country() -> None:
    """A toll-free number could ring anywhere in the plan: every zone is kept."""
    zones = normalise("+1 800 555 1234", "US").time_zones
    assert {"America/New_York", "America/Los_Angeles", "Pacific/Honolulu"} <= set(zones)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "missing"),
        ("   ", "missing"),
        ("hello", "not a phone number"),
        ("+1 555 555 1234", "invalid"),
        ("12", "invalid"),
        ("555-1234", "invalid"),
    ],
)
def test_bad_numbers_are_refused_with_a_reason(raw: str, reason: str) -> None:
    """Empty, non-numeric, too short and unassigned numbers raise PhoneError saying why."""
    with pytest.raises(PhoneError, match=reason):
        normalise(raw, "US")


def test_exported_apostrophe_is_removed_before_parsing() -> None:
    """A number neutralised on export ('+1...) imports back unchanged."""
    assert normalise("'+12125550123", "US").e164 == "+12125550123"


_NANP_FORMATS = ("{a}{b}{c}", "({a}) {b}-{c}", "1{a}{b}{c}", "+1 {a} {b} {c}", "{a}.{b}.{c}")


@settings(max_examples=300, deadline=None)
@given(
    a=st.integers(0, 999),
    b=st.integers(0, 999),
    c=st.integers(0, 9999),
    fmt=st.sampled_from(_NANP_FORMATS),
    region=st.sampled_from(["US", "CA", "FR", "JM"]),
)
def test_fast_north_american_path_agrees_with_the_parser(
    a: int, b: int, c: int, fmt: str, region: str
) -> None:
    """The parser shortcut for plain NANP numbers gives exactly what phonenumbers gives."""
    raw = fmt.format(a=f"{a:03d}", b=f"{b:03d}", c=f"{c:04d}")
    try:
        expected: str | None = phonenumbers.format_number(
            parsed := phonenumbers.parse(raw, region), phonenumbers.PhoneNumberFormat.E164
        )
        if not phonenumbers.is_valid_number(parsed):
            expected = None
    except phonenumbers.NumberParseException:
        expected = None
    try:
        got: str | None = normalise(raw, region).e164
    except PhoneError:
        got = None
    assert got == expected


def at(hour: int, minute: int = 0, *, day: int = 2, month: int = 3) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=UTC)


def test_window_is_open_inside_and_closed_outside_local_hours() -> None:
    """08:00-21:00 New York time: 13:00 UTC (08:00 EST) open, 12:59 UTC closed."""
    ny = ["America/New_York"]
    assert calling_window_open(ny, WINDOW, at(13, 0))
    assert not calling_window_open(ny, WINDOW, at(12, 59))
    assert calling_window_open(ny, WINDOW, at(1, 59))  # 20:59 EST
    assert not calling_window_open(ny, WINDOW, at(2, 0))  # 21:00 EST: end is exclusive


def test_several_zones_need_the_window_open_in_all() -> None:
    """At 17:00 UTC it is noon in New York but 07:00 in Honolulu: closed for both together."""
    assert calling_window_open(["America/New_York"], WINDOW, at(17))
    assert not calling_window_open(["Pacific/Honolulu"], WINDOW, at(17))
    assert not calling_window_open(["America/New_York", "Pacific/Honolulu"], WINDOW, at(17))
    assert calling_window_open(["America/New_York", "Pacific/Honolulu"], WINDOW, at(19))


def test_window_follows_daylight_saving_time() -> None:
    """08:00 in New York is 13:00 UTC in winter and 12:00 UTC in summer."""
    ny = ["America/New_York"]
    assert not calling_window_open(ny, WINDOW, at(12, 30, day=2, month=3))
    assert calling_window_open(ny, WINDOW, at(12, 30, day=2, month=7))


def test_no_zone_means_closed() -> None:
    """Nothing known about where the recipient is: never inside the window."""
    assert not calling_window_open([], WINDOW, at(17))


def test_naive_clock_is_refused() -> None:
    """A clock without a zone would silently mean the server's zone: refused."""
    with pytest.raises(InvalidInput):
        calling_window_open(["UTC"], WINDOW, dt.datetime(2026, 3, 2, 12))


@pytest.mark.parametrize("text", ["8-21", "21:00-08:00", "08:00-25:00", "08:61-09:00", "x"])
def test_malformed_windows_are_refused(text: str) -> None:
    """A window must be HH:MM-HH:MM with start before end within one day."""
    with pytest.raises(InvalidInput):
        CallingWindow.parse(text)


def test_window_round_trips_through_text() -> None:
    """A window prints as it is written, including an end of 24:00."""
    assert str(CallingWindow.parse("00:00-24:00")) == "00:00-24:00"
    assert str(WINDOW) == "08:00-21:00"


def test_zone_lookup_refuses_unknown_names() -> None:
    """A time zone name that does not exist is an input error, not a crash."""
    with pytest.raises(InvalidInput):
        phones.zone("Mars/Olympus_Mons")
