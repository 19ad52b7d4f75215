"""request_callback: a contact's own request to be called back, in the lead's terms."""

from __future__ import annotations

import datetime as dt

import asyncpg

from ccpbx.store import attempts, leasing

from .factories import T0, campaign_with_contacts

HOUR = dt.timedelta(hours=1)


async def test_request_while_a_call_is_in_flight_leaves_the_lead_alone(
    conn: asyncpg.Connection,
) -> None:
    """While an attempt on the contact is in flight the lead stays leased (never dialed
    twice at once); the callback is kept pending, a second request moves it."""
    camp, _ = await campaign_with_contacts(conn, 1)
    [lead] = await leasing.lease(conn, camp.id, 1, T0, dialer_id="d")
    first = await attempts.request_callback(conn, camp.id, lead.contact_id, T0 + HOUR)
    second = await attempts.request_callback(conn, camp.id, lead.contact_id, T0 + 2 * HOUR)
    assert first == second
    row = await conn.fetchrow(
        "SELECT status, tier FROM campaign_leads WHERE contact_id = $1", lead.contact_id
    )
    assert (row["status"], row["tier"]) == ("leased", 1)
    assert await leasing.lease(conn, camp.id, 1, T0 + 3 * HOUR, dialer_id="d") == []
    due = await conn.fetchval("SELECT due_at FROM callbacks WHERE id = $1", first)
    assert due == T0 + 2 * HOUR


async def test_request_replaces_a_pending_callback(conn: asyncpg.Connection) -> None:
    """A new request for a contact with a pending callback replaces it (one pending each)."""
    camp, _ = await campaign_with_contacts(conn, 1)
    contact_id = await conn.fetchval("SELECT id FROM contacts")
    old = await attempts.request_callback(conn, camp.id, contact_id, T0 + HOUR)
    new = await attempts.request_callback(conn, camp.id, contact_id, T0 + 2 * HOUR, note="later")
    statuses = dict(await conn.fetch("SELECT id, status FROM callbacks ORDER BY id"))
    assert statuses == {old: "cancelled", new: "pending"}
    assert await leasing.lease(conn, camp.id, 1, T0 + HOUR, dialer_id="d") == []
    [called] = await leasing.lease(conn, camp.id, 1, T0 + 2 * HOUR, dialer_id="d")
    assert called.callback_id == new
