"""Numbers with business hours in a real PostgreSQL: stored, listed, refused, audited,
and the calendar read from the flow's active version at call time."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import asyncpg
import pytest

from ccpbx.errors import InvalidInput, NotFound
from ccpbx.ivr import store as ivr_store
from ccpbx.ivr.validate import check_text
from ccpbx.pbx import numbers
from ccpbx.pbx.hours import decide
from ccpbx.pbx.hours_script import ActiveCalendars
from ccpbx.pbx.model import NumberHours
from ccpbx.store import audit

from .test_cli import ccpbx
from .test_conf import _config

SUPPORT = """
flow: support
languages: [en]
sound_languages: [en]
start: bye
calendars:
  office:
    time_zone: Europe/Amsterdam
    weekly: {mon: ["09:00-17:00"]}
  weekend:
    time_zone: Europe/Amsterdam
    weekly: {sat: ["10:00-14:00"]}
prompts: {bye: vm-goodbye}
nodes:
  bye: {kind: hangup, prompt: bye}
"""
AFTERHOURS = """
flow: afterhours
languages: [en]
sound_languages: [en]
start: bye
prompts: {bye: vm-goodbye}
nodes:
  bye: {kind: hangup, prompt: bye}
"""


async def activate(pool: asyncpg.Pool, text: str) -> ivr_store.FlowVersion:
    checked = check_text(text)
    assert checked.ok, [str(p) for p in checked.problems]
    assert checked.flow is not None
    async with pool.acquire() as conn:
        return await ivr_store.activate(conn, checked.flow, text, "test", "pytest")


async def test_a_number_with_hours_is_stored_listed_and_audited(pool: asyncpg.Pool) -> None:
    """--hours support/office --closed ivr:afterhours is kept beside the route and audited."""
    await pool.execute("INSERT INTO acd_queues (name) VALUES ('sales')")
    await activate(pool, SUPPORT)
    await activate(pool, AFTERHOURS)
    added = await numbers.add(
        pool, "+12125550100", "queue:sales", hours="support/office", closed="ivr:afterhours"
    )
    assert added.hours == NumberHours("support", "office", "ivr", "afterhours")
    await numbers.add(pool, "+12125550101", "queue:sales")
    await numbers.add(
        pool, "+12125550102", "ivr:support", hours="support/weekend", closed="queue:sales"
    )
    await numbers.add(
        pool, "+12125550103", "queue:sales", hours="support/office", closed="voicemail:sales"
    )
    listed = {n.number: n for n in await numbers.list_all(pool)}
    assert listed["+12125550100"] == added
    assert listed["+12125550101"].hours is None
    assert listed["+12125550102"].hours == NumberHours("support", "weekend", "queue", "sales")
    assert listed["+12125550103"].hours == NumberHours("support", "office", "voicemail", "sales")
    (entry,) = await audit.entries(pool, "number", "+12125550100")
    assert entry.details == {
        "route": "queue:sales",
        "hours": "support/office",
        "closed": "ivr:afterhours",
    }
    removed = await numbers.remove(pool, "+12125550100")
    assert removed.hours == added.hours


async def test_hours_must_name_a_calendar_of_the_active_version(pool: asyncpg.Pool) -> None:
    """The flow must be active and its active version hold the calendar; the error names
    the calendars it has. Nothing is stored on a refusal."""
    await pool.execute("INSERT INTO acd_queues (name) VALUES ('sales')")
    with pytest.raises(NotFound, match="'support' is not active"):
        await numbers.add(
            pool, "+12125550100", "queue:sales", hours="support/office", closed="queue:sales"
        )
    await activate(pool, SUPPORT)
    with pytest.raises(InvalidInput, match="has no calendar 'night'; it has: office, weekend"):
        await numbers.add(
            pool, "+12125550100", "queue:sales", hours="support/night", closed="queue:sales"
        )
    with pytest.raises(NotFound, match="no IVR flow 'afterhours'"):
        await numbers.add(
            pool, "+12125550100", "queue:sales", hours="support/office", closed="ivr:afterhours"
        )
    with pytest.raises(NotFound):  # the closed queue must exist like any queue route
        await numbers.add(
            pool, "+12125550100", "queue:sales", hours="support/office", closed="queue:nosuch"
        )
    with pytest.raises(NotFound, match="no voicemail box 'nosuch'"):
        await numbers.add(
            pool, "+12125550100", "queue:sales", hours="support/office", closed="voicemail:nosuch"
        )
    with pytest.raises(InvalidInput, match="--hours needs --closed"):
        await numbers.add(pool, "+12125550100", "queue:sales", hours="support/office")
    with pytest.raises(InvalidInput, match="--closed needs --hours"):
        await numbers.add(pool, "+12125550100", "queue:sales", closed="queue:sales")
    assert await numbers.list_all(pool) == []


async def test_the_table_refuses_half_an_hours_setting(pool: asyncpg.Pool) -> None:
    """sql/0017: hours without a closed route (or a calendar without a flow) cannot be stored."""
    await pool.execute("INSERT INTO acd_queues (name) VALUES ('sales')")
    for columns, values in (
        ("hours_flow, hours_calendar", "'support', 'office'"),
        ("hours_flow, closed_queue", "'support', 'sales'"),
        ("closed_queue", "'sales'"),
        ("hours_flow, hours_calendar, closed_flow, closed_queue", "'s', 'o', 'a', 'sales'"),
        (
            "hours_flow, hours_calendar, closed_queue, closed_voicemail",
            "'s', 'o', 'sales', 'sales'",
        ),
    ):
        with pytest.raises(asyncpg.CheckViolationError):
            await pool.execute(
                f"INSERT INTO pbx_numbers (number, queue, {columns})"
                f" VALUES ('+12125550100', 'sales', {values})"
            )
    await pool.execute(
        "INSERT INTO pbx_numbers (number, queue, hours_flow, hours_calendar, closed_voicemail)"
        " VALUES ('+12125550100', 'sales', 'support', 'office', 'sales')"
    )  # whole: stored


async def test_the_script_reads_the_calendar_of_the_active_version(pool: asyncpg.Pool) -> None:
    """A re-activated flow's new hours hold at once; a calendar dropped by the newer
    version (or a flow no longer active) is not found, which decide() treats as open."""
    calendars = ActiveCalendars(lambda: pool)
    assert (await calendars("support", "office")).version is None  # not active yet
    await activate(pool, SUPPORT)
    monday_8_utc = dt.datetime(2026, 12, 7, 8, 30, tzinfo=dt.UTC)  # 09:30 in Amsterdam
    first = await calendars("support", "office")
    assert first.version == 1
    assert first.calendar is not None
    assert decide(first.calendar, monday_8_utc).state == "open"
    later = SUPPORT.replace('mon: ["09:00-17:00"]', 'mon: ["10:00-17:00"]')
    await activate(pool, later)
    second = await calendars("support", "office")
    assert second.version == 2
    assert decide(second.calendar, monday_8_utc).state == "closed"
    dropped = later.replace("  office:\n", "  office_old:\n")
    await activate(pool, dropped)
    third = await calendars("support", "office")
    assert (third.version, third.calendar) == (3, None)
    assert decide(third.calendar, monday_8_utc).reason == "no_calendar"
    await pool.execute("DELETE FROM ivr_active_flows WHERE flow = 'support'")
    assert await calendars("support", "office") == type(third)(None, None)


async def test_number_commands_take_and_show_hours(pool: asyncpg.Pool, database_url: str) -> None:
    """number add --hours/--closed (exit 2 on a bad value, 1 on a missing calendar);
    number list shows hours and closed route, as text and --json (null without hours)."""
    await pool.execute("INSERT INTO acd_queues (name) VALUES ('sales')")
    await activate(pool, SUPPORT)
    await activate(pool, AFTERHOURS)
    add = ["number", "add", "+12125550100", "--to", "queue:sales"]
    bad = ccpbx(*add, "--hours", "support", "--closed", "ivr:afterhours", database_url=database_url)
    assert bad.returncode == 2
    assert "FLOW/CALENDAR" in bad.stderr
    missing = ccpbx(
        *add, "--hours", "support/night", "--closed", "ivr:afterhours", database_url=database_url
    )
    assert missing.returncode == 1
    assert "it has: office, weekend" in missing.stderr
    alone = ccpbx(*add, "--hours", "support/office", database_url=database_url)
    assert alone.returncode == 1
    assert "--hours needs --closed" in alone.stderr
    ok = ccpbx(
        *add, "--hours", "support/office", "--closed", "ivr:afterhours", database_url=database_url
    )
    assert ok.returncode == 0, ok.stderr
    assert "inside the hours of support/office, to ivr:afterhours outside them" in ok.stdout
    plain = ccpbx("number", "add", "+12125550101", "--to", "queue:sales", database_url=database_url)
    assert plain.returncode == 0, plain.stderr
    listed = json.loads(ccpbx("number", "list", "--json", database_url=database_url).stdout)
    assert listed == [
        {
            "number": "+12125550100",
            "route": "queue:sales",
            "hours": "support/office",
            "closed": "ivr:afterhours",
        },
        {"number": "+12125550101", "route": "queue:sales", "hours": None, "closed": None},
    ]
    text = ccpbx("number", "list", database_url=database_url).stdout.splitlines()
    assert text == [
        "number\troute\thours\tclosed",
        "+12125550100\tqueue:sales\tsupport/office\tivr:afterhours",
        "+12125550101\tqueue:sales\t-\t-",
    ]


async def test_conf_render_warns_of_hours_whose_calendar_vanished(
    pool: asyncpg.Pool, database_url: str, tmp_path: Path
) -> None:
    """conf render renders the hours step and names a number whose calendar the flow's
    newer active version dropped; with the calendar back, no warning."""
    await pool.execute("INSERT INTO acd_queues (name) VALUES ('sales')")
    await activate(pool, SUPPORT)
    await numbers.add(
        pool, "+12125550100", "queue:sales", hours="support/office", closed="queue:sales"
    )
    cfg = _config(tmp_path)
    quiet = ccpbx("conf", "render", database_url=database_url, config=cfg)
    assert quiet.returncode == 0, quiet.stderr
    assert "warning" not in quiet.stderr
    staged = (tmp_path / "staged" / "extensions.conf").read_text()
    assert "AGI(${CCPBX_AGI}/hours,support,office)" in staged
    await activate(pool, SUPPORT.replace("  office:\n", "  office_old:\n"))
    warned = ccpbx("conf", "render", database_url=database_url, config=cfg)
    assert warned.returncode == 0, warned.stderr
    assert (
        "ccpbx: warning: number +12125550100: hours support/office: IVR flow 'support'"
        " (active version 2) has no calendar 'office'; it has: office_old, weekend"
    ) in warned.stderr
