"""Screen pop reads against a real PostgreSQL: campaign lead and attempts, IVR entries,
contact by number and the number's recent calls (ccpbx.queues.screenpop.fill)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import asyncpg

from ccpbx.queues.screenpop import fill
from ccpbx.store import contacts, leasing
from ccpbx.store.attempts import mark_progress
from ccpbx.store.phones import Phone

from .factories import T0, acd_agents, campaign_with_contacts

NY = ("America/New_York",)


def bare_pop(call_id: str, number: str, name: str = "") -> dict[str, Any]:
    return {
        "call_id": call_id,
        "agent": "1001",
        "direction": "inbound",
        "queue": "sales",
        "waited_s": 3.0,
        "offered_at": T0.isoformat(),
        "caller": {"number": number, "name": name},
        "contact": None,
        "ivr": None,
        "campaign": None,
        "history": [],
    }


async def test_campaign_call_pops_the_lead_fields_and_every_attempt(
    conn: asyncpg.Connection,
) -> None:
    """A campaign call (attempt uniqueid = call id) pops as outbound with the lead's
    contact, fields and zones, and the lead's attempts in this campaign, oldest first."""
    camp, list_id = await campaign_with_contacts(conn, 0)
    contact = await contacts.add_contact(
        conn,
        list_id,
        [Phone("+12125550101", NY)],
        name="Grace Hopper",
        fields={"plan": "gold"},
        now=T0,
    )
    phone_id = await conn.fetchval("SELECT id FROM phone_numbers WHERE contact_id = $1", contact.id)
    earlier = T0 - dt.timedelta(days=1)
    await conn.execute(
        """INSERT INTO call_attempts (campaign_id, contact_id, phone_id, e164, dialer_id, state,
                                      outcome, leased_at, lease_expires_at, finished_at)
           VALUES ($1, $2, $3, '+12125550101', 'd', 'finished', 'no_answer', $4, $4, $4)""",
        camp.id,
        contact.id,
        phone_id,
        earlier,
    )
    [lead] = await leasing.lease(conn, camp.id, 1, T0, dialer_id="dialer-1")
    await mark_progress(conn, lead.attempt_id, "dialing", T0, uniqueid="camp-call-1")
    pop = bare_pop("camp-call-1", "+12125550101")
    await fill(conn, pop)
    assert pop["direction"] == "outbound"
    assert pop["caller"] == {"number": "+12125550101", "name": "Grace Hopper"}
    assert pop["contact"]["id"] == contact.id
    assert pop["contact"]["fields"] == {"plan": "gold"}
    assert pop["contact"]["time_zones"] == list(NY)
    assert pop["campaign"]["name"] == camp.name
    assert pop["campaign"]["attempt_id"] == str(lead.attempt_id)
    assert [a["outcome"] for a in pop["campaign"]["attempts"]] == ["no_answer", None]
    assert pop["ivr"] is None


async def test_inbound_pop_has_ivr_entries_contact_and_recent_history(
    conn: asyncpg.Connection,
) -> None:
    """An inbound caller's pop carries the IVR path and what was keyed (not the lookup's
    contact variables), the contact found by number and the calls of the last 30 days only."""
    lst = await contacts.create_list(conn, "inbound")
    contact = await contacts.add_contact(
        conn, lst.id, [Phone("+15550123456", NY)], name="Ada Lovelace", now=T0
    )
    version_id = await conn.fetchval(
        """INSERT INTO ivr_flow_versions (flow, version, source, checksum)
           VALUES ('accounts', 3, 'flow: accounts', 'x') RETURNING id"""
    )
    now = dt.datetime.now(dt.UTC)
    ivr_id = await conn.fetchval(
        """INSERT INTO ivr_calls (uniqueid, did, caller, flow, version_id, started_at, ended_at,
                                  outcome, end_node, variables)
           VALUES ('in-call-1', '18005550101', '+15550123456', 'accounts', $1, $2, $2,
                   'queued', 'q', $3::jsonb) RETURNING id""",
        version_id,
        now,
        json.dumps(
            {
                "account": "123456",
                "caller": "+15550123456",
                "did": "18005550101",
                "language": "en",
                "contact.name": "Ada Lovelace",
                "contact_found": "yes",
            }
        ),
    )
    for seq, (node, kind, digits) in enumerate(
        [("main", "menu", "2"), ("account", "input", "123456"), ("q", "queue", "")]
    ):
        await conn.execute(
            """INSERT INTO ivr_call_steps (call_id, seq, node, kind, entered_at, digits)
               VALUES ($1, $2, $3, $4, $5, $6)""",
            ivr_id,
            seq,
            node,
            kind,
            now,
            digits,
        )
    await acd_agents(conn, "1002")
    for days, uniqueid in ((5, "old-1"), (40, "old-2")):
        start = now - dt.timedelta(days=days)
        await conn.execute(
            """INSERT INTO call_records (direction, caller, callee, started_at, answered_at,
                                         ended_at, uniqueid, agent)
               VALUES ('inbound', '+15550123456', '18005550101', $1, $2, $3, $4, '1002')""",
            start,
            start + dt.timedelta(seconds=10),
            start + dt.timedelta(seconds=70),
            uniqueid,
        )
    pop = bare_pop("in-call-1", "+15550123456")
    await fill(conn, pop, history_days=30)
    assert pop["direction"] == "inbound"
    assert pop["caller"]["name"] == "Ada Lovelace"
    assert pop["contact"]["id"] == contact.id
    assert pop["contact"]["list"] == "inbound"
    assert pop["ivr"] == {
        "flow": "accounts",
        "version": 3,
        "path": [
            {"node": "main", "digits": "2"},
            {"node": "account", "digits": "123456"},
            {"node": "q", "digits": ""},
        ],
        "inputs": {"account": "123456"},
    }
    [previous] = pop["history"]
    assert (previous["agent"], previous["outcome"], previous["duration_s"]) == (
        "1002",
        "answered",
        60.0,
    )


async def test_unknown_caller_pops_with_every_database_part_empty(
    conn: asyncpg.Connection,
) -> None:
    """A caller the database knows nothing of: contact, IVR and campaign are null,
    history is empty, and the caller's own name is kept."""
    pop = bare_pop("nobody-1", "+15559990000", "Unknown Caller")
    await fill(conn, pop)
    assert (pop["contact"], pop["ivr"], pop["campaign"], pop["history"]) == (None, None, None, [])
    assert pop["caller"] == {"number": "+15559990000", "name": "Unknown Caller"}
