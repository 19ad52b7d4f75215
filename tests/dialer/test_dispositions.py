"""dispose_attempt on a real database: codes, callbacks (default delay, reserved agent),
do-not-call, and the errors an agent or supervisor can get."""

from __future__ import annotations

import datetime as dt
import uuid

import asyncpg
import pytest
from store.factories import T0, acd_agents, campaign_with_contacts

from ccpbx.dialer.dispositions import (
    UnknownDisposition,
    dispose_attempt,
    disposition_keys,
)
from ccpbx.errors import Conflict, InvalidInput, NotFound
from ccpbx.store import attempts, campaigns, dnc, leasing
from ccpbx.store.campaigns import Campaign, Disposition

MIN = dt.timedelta(minutes=1)


async def answered(
    pool: asyncpg.Pool, camp: Campaign, n: int = 1, now: dt.datetime = T0
) -> list[leasing.LeasedLead]:
    """Lease ``n`` leads and end each call as answered (a talk with an agent)."""
    leads = await leasing.lease(pool, camp.id, n, now, dialer_id="test")
    for lead in leads:
        await attempts.mark_progress(pool, lead.attempt_id, "answered", now)
        await attempts.record_outcome(pool, lead.attempt_id, "answered", now + MIN)
    return leads


async def test_final_code_finishes_the_lead(pool: asyncpg.Pool) -> None:
    """'sale' is final: the attempt carries it and the contact is never leased again."""
    camp, _ = await campaign_with_contacts(pool, 1, default_retry_delay_s=0)
    [lead] = await answered(pool, camp)
    done = await dispose_attempt(pool, lead.attempt_id, "sale", T0 + 2 * MIN)
    assert (done.code, done.final, done.dnc, done.callback_at) == ("sale", True, False, None)
    assert (await attempts.get_attempt(pool, lead.attempt_id)).disposition == "sale"
    assert await leasing.lease(pool, camp.id, 5, T0 + dt.timedelta(days=2), dialer_id="x") == []


async def test_callback_without_time_uses_the_default_delay(pool: asyncpg.Pool) -> None:
    """A keypad callback (no time) is due callback_delay_s later (2 h for the seeded code)
    and is leased then, first, not before."""
    camp, _ = await campaign_with_contacts(pool, 3, default_retry_delay_s=0)
    [lead] = await answered(pool, camp)
    now = T0 + 2 * MIN
    done = await dispose_attempt(pool, lead.attempt_id, "callback", now, note="by keypad")
    assert done.callback_at == now + dt.timedelta(hours=2)
    before = await leasing.lease(pool, camp.id, 5, done.callback_at - MIN, dialer_id="x")
    assert lead.contact_id not in [x.contact_id for x in before]
    [first] = await leasing.lease(pool, camp.id, 1, done.callback_at, dialer_id="x")
    assert (first.contact_id, first.callback_agent) == (lead.contact_id, None)
    note = await pool.fetchval("SELECT note FROM callbacks WHERE id = $1", first.callback_id)
    assert note == "by keypad"


async def test_callback_reserved_for_the_agent_at_the_given_time(pool: asyncpg.Pool) -> None:
    """A callback with a time and an agent is due then and comes back with that agent."""
    camp, _ = await campaign_with_contacts(pool, 1)
    [lead] = await answered(pool, camp)
    await acd_agents(pool, "1001")
    due = T0 + dt.timedelta(days=1)
    done = await dispose_attempt(
        pool, lead.attempt_id, "callback", T0 + 2 * MIN, callback_at=due, callback_agent="1001"
    )
    assert (done.callback_at, done.callback_agent) == (due, "1001")
    [again] = await leasing.lease(pool, camp.id, 1, due, dialer_id="x")
    assert again.callback_agent == "1001"


async def test_callback_for_an_unknown_agent_is_refused(pool: asyncpg.Pool) -> None:
    """A callback can be promised only to an ACD agent: another number is NotFound and
    the attempt stays undisposed."""
    camp, _ = await campaign_with_contacts(pool, 1)
    [lead] = await answered(pool, camp)
    due = T0 + dt.timedelta(days=1)
    with pytest.raises(NotFound, match="no agent 1009"):
        await dispose_attempt(
            pool, lead.attempt_id, "callback", T0 + 2 * MIN, callback_at=due, callback_agent="1009"
        )
    assert (await attempts.get_attempt(pool, lead.attempt_id)).disposition is None
    assert await pool.fetchval("SELECT count(*) FROM callbacks") == 0


async def test_do_not_call_blocks_the_number(pool: asyncpg.Pool) -> None:
    """'do_not_call' puts the number on the global do-not-call list."""
    camp, _ = await campaign_with_contacts(pool, 1)
    [lead] = await answered(pool, camp)
    done = await dispose_attempt(pool, lead.attempt_id, "do_not_call", T0 + 2 * MIN)
    assert done.dnc
    assert await dnc.is_blocked(pool, lead.e164, T0 + dt.timedelta(days=30))


async def test_refusals(pool: asyncpg.Pool) -> None:
    """Unknown code, a time on a non-callback, a past or far callback, a call still in
    progress, an unknown attempt, a second different code: each refused, nothing written."""
    camp, _ = await campaign_with_contacts(pool, 2)
    [lead] = await answered(pool, camp)
    now = T0 + 2 * MIN
    with pytest.raises(UnknownDisposition) as unknown:
        await dispose_attempt(pool, lead.attempt_id, "nope", now)
    assert unknown.value.error_id == "unknown_disposition"
    with pytest.raises(InvalidInput, match="does not schedule"):
        await dispose_attempt(pool, lead.attempt_id, "sale", now, callback_at=now + MIN)
    with pytest.raises(InvalidInput, match="in the past"):
        await dispose_attempt(pool, lead.attempt_id, "callback", now, callback_at=now - 10 * MIN)
    far = now + dt.timedelta(days=400)
    with pytest.raises(InvalidInput, match="year"):
        await dispose_attempt(pool, lead.attempt_id, "callback", now, callback_at=far)
    assert (await attempts.get_attempt(pool, lead.attempt_id)).disposition is None
    [ringing] = await leasing.lease(pool, camp.id, 1, now, dialer_id="x")
    with pytest.raises(Conflict):
        await dispose_attempt(pool, ringing.attempt_id, "sale", now)
    with pytest.raises(NotFound):
        await dispose_attempt(pool, uuid.uuid4(), "sale", now)
    await dispose_attempt(pool, lead.attempt_id, "left_message", now)
    await dispose_attempt(pool, lead.attempt_id, "left_message", now)  # same again: fine
    with pytest.raises(Conflict):
        await dispose_attempt(pool, lead.attempt_id, "sale", now)


async def test_keys_come_from_the_dispositions_table(pool: asyncpg.Pool) -> None:
    """The seeded codes have keys 1 to 6; a new code with a key is read back; a key
    already taken is a Conflict; a bad key is refused before the database."""
    keys = await disposition_keys(pool)
    assert keys.as_dict() == {
        "1": "sale",
        "2": "not_interested",
        "3": "callback",
        "4": "do_not_call",
        "5": "wrong_number",
        "6": "left_message",
    }
    await campaigns.save_disposition(pool, Disposition("voicemail", "Voicemail", dtmf_key="71"))
    assert (await disposition_keys(pool)).code("71") == "voicemail"
    with pytest.raises(Conflict):
        await campaigns.save_disposition(pool, Disposition("again", "Again", dtmf_key="1"))
    with pytest.raises(InvalidInput):
        Disposition("bad", "Bad", dtmf_key="1#")
    listed = {d.code: d for d in await campaigns.list_dispositions(pool)}
    assert (listed["callback"].dtmf_key, listed["callback"].callback_delay_s) == ("3", 7200)
