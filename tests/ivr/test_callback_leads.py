"""Callbacks requested in the IVR become dialable leads of the named campaign, dialed
through the same rules as any lead (due time first, calling window, do-not-call)."""

from __future__ import annotations

import datetime as dt

import asyncpg
from store.factories import T0, campaign_with_contacts

from ccpbx.ivr import contacts as ivr_contacts
from ccpbx.store import contacts, dnc, leasing
from ccpbx.store.campaigns import Campaign
from ccpbx.store.phones import CallingWindow, Phone

HOUR = dt.timedelta(hours=1)
MIN = dt.timedelta(minutes=1)
NY = ("America/New_York",)


async def lease(pool: asyncpg.Pool, camp: Campaign, now: dt.datetime, n: int = 10) -> list:
    return await leasing.lease(pool, camp.id, n, now, dialer_id="test")


async def request(
    pool: asyncpg.Pool, number: str, due: dt.datetime, campaign: str | None = "c1"
) -> asyncpg.Record:
    ident = await ivr_contacts.record_callback(
        pool, call_id=None, number=number, due_at=due, campaign=campaign, note="", now=T0
    )
    row = await pool.fetchrow("SELECT * FROM ivr_callback_requests WHERE id = $1", ident)
    assert row is not None
    return row


async def test_known_contact_is_called_back_first_when_due(pool: asyncpg.Pool) -> None:
    """A caller who is a lead of the campaign is leased first once the callback is due,
    ahead of a higher-priority lead, and not before."""
    camp, list_id = await campaign_with_contacts(pool, 0)
    caller = await contacts.add_contact(
        pool, list_id, [Phone("+12125550101", NY)], name="Ann", now=T0
    )
    vip = await contacts.add_contact(pool, list_id, [Phone("+12125550102", NY)], priority=9, now=T0)
    [first] = await lease(pool, camp, T0, 1)
    assert first.contact_id == vip.id  # Ann's lead is ready too, but behind the VIP
    due = T0 + HOUR
    req = await request(pool, "0012125550101", due)
    assert (req["contact_id"], req["campaign_id"]) == (caller.id, camp.id)
    assert await lease(pool, camp, due - MIN) == []
    [called] = await lease(pool, camp, due)
    assert (called.contact_id, called.callback_id) == (caller.id, req["callback_id"])


async def test_contact_of_another_list_joins_the_campaign(pool: asyncpg.Pool) -> None:
    """A caller known only from a list the campaign does not dial becomes its lead."""
    camp, _ = await campaign_with_contacts(pool, 0)
    other = await contacts.create_list(pool, "other")
    known = await contacts.add_contact(pool, other.id, [Phone("+12125550111", NY)], now=T0)
    req = await request(pool, "+12125550111", T0 + HOUR)
    assert req["contact_id"] == known.id
    [called] = await lease(pool, camp, T0 + HOUR)
    assert (called.contact_id, called.e164) == (known.id, "+12125550111")


async def test_unknown_caller_gets_a_contact_in_the_callbacks_list(pool: asyncpg.Pool) -> None:
    """An unknown number becomes a contact of the campaign's callbacks list, in E.164 with
    the time zones of its number, and is dialed when due."""
    camp, _ = await campaign_with_contacts(pool, 0)
    req = await request(pool, "13125550123", T0 + HOUR)  # Chicago, written without +
    contact = await contacts.get_contact(pool, req["contact_id"])
    clist = await contacts.get_list(pool, ivr_contacts.callback_list_name("c1"))
    assert contact.list_id == clist.id
    assert [(p.e164, p.time_zones) for p in contact.phones] == [
        ("+13125550123", ("America/Chicago",))
    ]
    [called] = await lease(pool, camp, T0 + HOUR)
    assert called.contact_id == contact.id
    again = await request(pool, "+13125550123", T0 + 3 * HOUR)  # the same caller again
    assert again["contact_id"] == contact.id


async def test_callback_waits_for_the_calling_window(pool: asyncpg.Pool) -> None:
    """A callback due after the window closed in the caller's zone (21:30 in New York)
    is not dialed then, and is dialed once the window opens the next morning."""
    camp, _ = await campaign_with_contacts(pool, 0, window=CallingWindow(8 * 60, 21 * 60))
    late = dt.datetime(2026, 3, 3, 2, 30, tzinfo=dt.UTC)  # 21:30 in New York
    await request(pool, "+12125550131", late)
    assert await lease(pool, camp, late) == []
    morning = dt.datetime(2026, 3, 3, 13, 0, tzinfo=dt.UTC)  # 08:00 in New York
    [called] = await lease(pool, camp, morning)
    assert called.e164 == "+12125550131"


async def test_callback_to_a_do_not_call_number_is_never_dialed(pool: asyncpg.Pool) -> None:
    """A caller whose number is on the do-not-call list (known or not) is recorded but the
    dialer never leases the number."""
    camp, list_id = await campaign_with_contacts(pool, 0)
    await contacts.add_contact(pool, list_id, [Phone("+12125550141", NY)], now=T0)
    await dnc.add(pool, "+12125550141", source="test")
    await dnc.add(pool, "+12125550142", source="test")
    for number in ("+12125550141", "+12125550142"):
        req = await request(pool, number, T0 + HOUR)
        assert req["callback_id"] is not None
    assert await lease(pool, camp, T0 + 2 * HOUR) == []


async def test_no_campaign_or_undialable_number_records_only_the_request(
    pool: asyncpg.Pool,
) -> None:
    """Without a known campaign, or with a number that is no phone number, the request is
    recorded as before and no callback is scheduled."""
    await campaign_with_contacts(pool, 0)
    for number, campaign in (("+12125550151", None), ("+12125550151", "nope"), ("123", "c1")):
        req = await request(pool, number, T0 + HOUR, campaign)
        assert req["callback_id"] is None
    assert await pool.fetchval("SELECT count(*) FROM callbacks") == 0
