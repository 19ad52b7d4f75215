"""Calling windows across daylight-saving changes in the recipient's zone: the lease SQL
and the pure rule agree at the instants where a wrong offset would dial an hour off."""

from __future__ import annotations

import datetime as dt

import asyncpg
import pytest

from ccpbx.store import leasing
from ccpbx.store.phones import CallingWindow, calling_window_open

from .factories import campaign_with_contacts
from .test_leasing import NY, add

UTC = dt.UTC
WINDOW = CallingWindow.parse("08:00-21:00")

# (instant in UTC, New York local time then, may it be called)
CASES = [
    (
        dt.datetime(2027, 3, 13, 12, 30, tzinfo=UTC),
        "07:30 EST, the day before spring forward",
        False,
    ),
    (dt.datetime(2027, 3, 14, 12, 30, tzinfo=UTC), "08:30 EDT, the day of spring forward", True),
    (dt.datetime(2027, 3, 14, 7, 30, tzinfo=UTC), "03:30 EDT, just after the skipped hour", False),
    (dt.datetime(2027, 11, 7, 0, 59, tzinfo=UTC), "20:59 EDT, the eve of fall back", True),
    (dt.datetime(2027, 11, 7, 1, 30, tzinfo=UTC), "21:30 EDT, the eve of fall back", False),
    (dt.datetime(2027, 11, 7, 6, 30, tzinfo=UTC), "01:30 EST, the repeated hour", False),
    (dt.datetime(2027, 11, 8, 1, 30, tzinfo=UTC), "20:30 EST, the day of fall back", True),
    (dt.datetime(2027, 11, 8, 2, 0, tzinfo=UTC), "21:00 EST, the window's end", False),
]


@pytest.mark.parametrize(("at", "local", "open_"), CASES, ids=[c[1] for c in CASES])
async def test_window_follows_the_recipients_clock_across_dst(
    conn: asyncpg.Connection, at: dt.datetime, local: str, open_: bool
) -> None:
    """At each instant the New York contact is leased exactly when its local time is in
    08:00-21:00, by the SQL and by the pure rule alike."""
    assert calling_window_open(NY, WINDOW, at) is open_, local
    camp, list_id = await campaign_with_contacts(
        conn, 0, window=WINDOW, now=at - dt.timedelta(days=1)
    )
    await add(conn, list_id, "+12125550101", NY, now=at - dt.timedelta(days=1))
    leased = await leasing.lease(conn, camp.id, 10, at, dialer_id="dst")
    assert bool(leased) is open_, local
