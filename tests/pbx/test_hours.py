"""Business hours of inbound numbers: the checks of --hours/--closed, the open/closed
decision, and the rendered dialplan of a number with hours."""

from __future__ import annotations

import datetime as dt

import pytest

from ccpbx.asterisk.render import render_all
from ccpbx.errors import InvalidInput
from ccpbx.ivr.model import Calendar
from ccpbx.pbx.hours import (
    CLOSED,
    OPEN,
    calendar_problem,
    check_closed_route,
    check_hours,
    check_hours_name,
    decide,
)
from ccpbx.pbx.model import NumberHours, NumberRecord
from ccpbx.pbx.values import number_values
from ccpbx.sandbox.asterisk import AsteriskSettings

WORKDAYS = dict.fromkeys(range(5), ((9 * 60, 17 * 60),))  # Monday to Friday 09:00-17:00
OFFICE = Calendar(
    "office",
    "Europe/Amsterdam",
    WORKDAYS,
    frozenset({dt.date(2026, 12, 25)}),
)
ALWAYS = Calendar(
    "always", "America/New_York", dict.fromkeys(range(7), ((0, 24 * 60),)), frozenset()
)


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("moment", "state", "reason"),
    [
        ("2026-12-07T09:00", OPEN, "open_hours"),  # Monday 10:00 in Amsterdam (UTC+1)
        ("2026-12-07T07:59", CLOSED, "outside_hours"),  # Monday 08:59 local
        ("2026-12-07T08:00", OPEN, "open_hours"),  # Monday 09:00 local: the first minute
        ("2026-12-07T16:00", CLOSED, "outside_hours"),  # Monday 17:00 local: the end is out
        ("2026-12-05T12:00", CLOSED, "outside_hours"),  # Saturday: no hours that day
        ("2026-12-25T10:00", CLOSED, "holiday"),  # Friday 11:00 local, Christmas
    ],
    ids=["inside", "before_opening", "opening_minute", "closing_minute", "weekend", "holiday"],
)
def test_decide_reads_weekly_hours_and_holidays_in_the_calendar_zone(
    moment: str, state: str, reason: str
) -> None:
    """Open inside the local weekly hours (start in, end out), closed outside and on a holiday."""
    decision = decide(OFFICE, utc(moment))
    assert (decision.state, decision.reason) == (state, reason)
    assert decision.open is (state == OPEN)


def test_a_holiday_is_the_local_date_not_the_utc_date() -> None:
    """23:30 UTC on 24 December is already Christmas in Amsterdam: closed all day."""
    always_but_christmas = Calendar(
        "c", "Europe/Amsterdam", ALWAYS.weekly, frozenset({dt.date(2026, 12, 25)})
    )
    assert decide(always_but_christmas, utc("2026-12-24T22:59")).state == OPEN
    assert decide(always_but_christmas, utc("2026-12-24T23:30")).reason == "holiday"


@pytest.mark.parametrize(
    ("moment", "state"),
    [
        ("2026-03-27T07:30", CLOSED),  # Friday before the change: 08:30 CET
        ("2026-03-30T07:30", OPEN),  # Monday after (29 March): 09:30 CEST
        ("2026-10-23T15:30", CLOSED),  # Friday before the change back: 17:30 CEST
        ("2026-10-26T15:30", OPEN),  # Monday after (25 October): 16:30 CET
    ],
    ids=["winter_before_spring", "summer_after_spring", "summer_before_fall", "winter_after_fall"],
)
def test_the_same_utc_hour_opens_or_not_across_daylight_saving(moment: str, state: str) -> None:
    """Hours are local: at the spring and fall changes the same UTC time moves an hour."""
    assert decide(OFFICE, utc(moment)).state == state


def test_a_calendar_gone_from_the_active_version_counts_as_open() -> None:
    """No calendar (the flow's newer active version dropped it): the number's own route."""
    decision = decide(None, utc("2026-12-25T03:00"))
    assert (decision.state, decision.reason) == (OPEN, "no_calendar")


def test_decide_needs_an_aware_clock() -> None:
    """A naive time cannot be placed in the calendar's zone: refused, not guessed."""
    with pytest.raises(ValueError, match="timezone-aware"):
        decide(OFFICE, dt.datetime(2026, 12, 7, 10, 0))


def test_hours_need_a_closed_route_and_the_other_way_round() -> None:
    """--hours without --closed (or --closed without --hours) is refused; neither is no hours."""
    assert check_hours(None, None) is None
    with pytest.raises(InvalidInput, match="--hours needs --closed"):
        check_hours("support/office", None)
    with pytest.raises(InvalidInput, match="--closed needs --hours"):
        check_hours(None, "ivr:afterhours")
    hours = check_hours("support/office", "queue:night")
    assert hours == NumberHours("support", "office", "queue", "night")
    assert (hours.name, hours.closed_route) == ("support/office", "queue:night")


@pytest.mark.parametrize(
    "text", ["support", "support/", "/office", "Support/office", "support/off ice", "s/a,b"]
)
def test_hours_name_is_flow_slash_calendar(text: str) -> None:
    """A name that is not FLOW/CALENDAR, or would break a dialplan argument, is refused."""
    with pytest.raises(InvalidInput, match="FLOW/CALENDAR"):
        check_hours_name(text)


def test_hours_name_splits_flow_and_calendar() -> None:
    """support/office-hours names calendar office-hours of flow support."""
    assert check_hours_name("support/office-hours") == ("support", "office-hours")


def test_a_bad_closed_route_is_named_as_the_closed_route() -> None:
    """The closed route passes the same check as --to; its error says it is the closed one."""
    with pytest.raises(InvalidInput, match=r"^closed route 'fax:x': write ivr:FLOW") as caught:
        check_closed_route("fax:x")
    assert caught.value.details["field"] == "closed"
    assert "(or voicemail:MAILBOX)" in caught.value.message
    assert check_closed_route("ivr:afterhours") == ("ivr", "afterhours")


def test_a_closed_route_may_be_a_queue_mailbox() -> None:
    """voicemail:MAILBOX is a closed route (not a number's own); the box has a queue's name."""
    assert check_closed_route("voicemail:sales") == ("voicemail", "sales")
    for bad in ("voicemail:", "voicemail:Sales", "voicemail:a,b", "voicemail:s@default"):
        with pytest.raises(InvalidInput, match="is not a mailbox"):
            check_closed_route(bad)


def test_calendar_problem_names_the_calendars_the_flow_has() -> None:
    """A calendar the active version lacks: the message lists the ones it has."""
    hours = NumberHours("support", "ofice", "ivr", "afterhours")
    assert calendar_problem(hours, 3, {"office", "weekend"}) == (
        "IVR flow 'support' (active version 3) has no calendar 'ofice'; it has: office, weekend"
    )
    assert "it has: no calendars" in (calendar_problem(hours, 1, set()) or "")
    assert calendar_problem(NumberHours("support", "office", "ivr", "x"), 3, {"office"}) is None


def _extensions(numbers: list[NumberRecord]) -> str:
    settings = AsteriskSettings(ami_port=1, sip_port=2, agi_port=3, carrier_port=4, numbers=numbers)
    values = settings.template_values(
        {k: f"/run/{k}" for k in ("etc", "modules", "varlib", "db", "data", "spool", "run", "log")}
    )
    return render_all(values)["extensions.conf"].text


def _extension(text: str, context: str, exten: str) -> list[str]:
    """The lines of one extension in one context of a rendered extensions.conf."""
    section = text.split(f"[{context}]\n", 1)[1].split("\n[", 1)[0].splitlines()
    start = section.index(next(x for x in section if x.startswith(f"exten => {exten},1,")))
    out = [section[start]]
    for line in section[start + 1 :]:
        if not line.startswith(" same"):
            break
        out.append(line)
    return out


def test_a_number_with_hours_asks_the_hours_script_then_takes_a_branch() -> None:
    """The number runs hours(FLOW,CALENDAR): open -> its route, closed -> the closed
    route, no answer -> the fallback; both branches use the same route steps."""
    hours = NumberHours("support", "office", "ivr", "afterhours")
    text = _extensions([NumberRecord("+12125550100", "queue", "sales", hours)])
    for exten in ("+12125550100", "12125550100"):
        entry = _extension(text, "ccpbx-inbound", exten)
        assert entry[1:] == [
            " same => n,Set(CCPBX_DID=+12125550100)",
            " same => n,Set(CCPBX_HOURS=)",
            " same => n,AGI(${CCPBX_AGI}/hours,support,office)",
            f' same => n,GotoIf($["${{CCPBX_HOURS}}" = "open"]?ccpbx-inbound-open,{exten},1)',
            f' same => n,GotoIf($["${{CCPBX_HOURS}}" = "closed"]?ccpbx-inbound-closed,{exten},1)',
            " same => n,Goto(ccpbx-fallback,s,1)",
        ]
        assert _extension(text, "ccpbx-inbound-open", exten)[1:] == [
            " same => n,Set(CCPBX_ROUTE=queue:sales)",
            " same => n,Goto(ccpbx-queue-enter,sales,1)",
        ]
        assert _extension(text, "ccpbx-inbound-closed", exten)[1:] == [
            " same => n,Set(CCPBX_ROUTE=ivr:afterhours)",
            " same => n,Set(CCPBX_AGI_STATUS=)",
            " same => n,AGI(${CCPBX_AGI}/inbound,${CCPBX_ROUTE})",
            ' same => n,GotoIf($["${CCPBX_AGI_STATUS}" = "ok"]?done)',
            " same => n,Goto(ccpbx-fallback,s,1)",
            " same => n(done),Hangup()",
        ]


def test_a_closed_voicemail_route_records_into_the_queue_mailbox() -> None:
    """Closed to voicemail:sales: VoiceMail(sales@default,u), then hang up."""
    hours = NumberHours("support", "office", "voicemail", "sales")
    text = _extensions([NumberRecord("+12125550100", "ivr", "support", hours)])
    assert _extension(text, "ccpbx-inbound-closed", "+12125550100")[1:] == [
        " same => n,Set(CCPBX_ROUTE=voicemail:sales)",
        " same => n,VoiceMail(sales@default,u)",
        " same => n,Hangup()",
    ]


def test_a_number_without_hours_renders_as_before() -> None:
    """No hours: the route's steps in [ccpbx-inbound], no hours script, no branch contexts."""
    text = _extensions([NumberRecord("+12125550100", "queue", "sales")])
    assert _extension(text, "ccpbx-inbound", "+12125550100")[1:] == [
        " same => n,Set(CCPBX_DID=+12125550100)",
        " same => n,Set(CCPBX_ROUTE=queue:sales)",
        " same => n,Goto(ccpbx-queue-enter,sales,1)",
    ]
    assert "/hours," not in text
    assert "\n[ccpbx-inbound-open]\n" not in text
    assert number_values(NumberRecord("+12125550100", "queue", "sales"))["hours"] is None
