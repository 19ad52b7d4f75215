"""The hopper against a real PostgreSQL: eligibility, order, caps, retries, callbacks, outcomes."""

from __future__ import annotations

import datetime as dt
import uuid

import asyncpg
import pytest

from ccpbx.errors import Conflict, InvalidInput, NotFound, Unavailable
from ccpbx.store import attempts, campaigns, contacts, dnc, leasing
from ccpbx.store.attempts import Attempt
from ccpbx.store.campaigns import Campaign
from ccpbx.store.phones import CallingWindow, Phone

from .factories import T0, acd_agents, campaign_with_contacts

NY = ("America/New_York",)
LA = ("America/Los_Angeles",)
HNL = ("Pacific/Honolulu",)
MIN = dt.timedelta(minutes=1)


async def add(
    conn: asyncpg.Connection,
    list_id: int,
    e164: str,
    zones: tuple[str, ...] = NY,
    *,
    priority: int = 0,
    now: dt.datetime = T0,
    more: tuple[str, ...] = (),
) -> int:
    phones = [Phone(e164, zones), *(Phone(m, zones) for m in more)]
    contact = await contacts.add_contact(
        conn, list_id, phones, name=e164, priority=priority, now=now
    )
    return contact.id


async def lease(
    conn: asyncpg.Connection, camp: Campaign, now: dt.datetime = T0, n: int = 10
) -> list[leasing.LeasedLead]:
    return await leasing.lease(conn, camp.id, n, now, dialer_id="dialer-1")


async def test_lease_records_an_attempt_per_lead(conn: asyncpg.Connection) -> None:
    """Each lead comes with a fresh attempt row (state leased, dialer, lease expiry)."""
    camp, list_id = await campaign_with_contacts(conn, 0)
    cid = await add(conn, list_id, "+12125550101")
    [lead] = await lease(conn, camp)
    assert (lead.contact_id, lead.e164, lead.time_zones) == (cid, "+12125550101", NY)
    attempt = await attempts.get_attempt(conn, lead.attempt_id)
    assert (attempt.state, attempt.dialer_id, attempt.outcome) == ("leased", "dialer-1", None)
    assert attempt.leased_at == T0
    assert attempt.lease_expires_at == lead.lease_expires_at == T0 + dt.timedelta(seconds=120)


async def test_leased_contact_is_not_handed_out_again(conn: asyncpg.Connection) -> None:
    """A contact with an attempt in flight is skipped by every later lease."""
    camp, _ = await campaign_with_contacts(conn, 3)
    first = await lease(conn, camp, n=2)
    second = await lease(conn, camp, n=2)
    assert len(first) == 2
    assert len(second) == 1
    assert not {lead.contact_id for lead in first} & {lead.contact_id for lead in second}
    assert await lease(conn, camp) == []


async def test_order_is_priority_then_longest_waiting(conn: asyncpg.Connection) -> None:
    """Higher priority first; equal priority, the lead that became ready earliest first."""
    camp, list_id = await campaign_with_contacts(conn, 0)
    late = await add(conn, list_id, "+12125550101", now=T0 - MIN)
    early = await add(conn, list_id, "+12125550102", now=T0 - 5 * MIN)
    vip = await add(conn, list_id, "+12125550103", priority=5, now=T0)
    assert [lead.contact_id for lead in await lease(conn, camp)] == [vip, early, late]


async def test_paused_campaign_leases_nothing(conn: asyncpg.Connection) -> None:
    """Only a running campaign hands out leads."""
    camp, _ = await campaign_with_contacts(conn, 2)
    await campaigns.set_status(conn, camp.id, "paused")
    assert await lease(conn, camp) == []


async def test_dnc_global_campaign_and_expired(conn: asyncpg.Connection) -> None:
    """Global and own-campaign DNC entries block; expired or other campaigns' do not."""
    camp, list_id = await campaign_with_contacts(conn, 0)
    other, _ = await campaign_with_contacts(conn, 0, name="other")
    numbers = ["+12125550101", "+12125550102", "+12125550103", "+12125550104", "+12125550105"]
    for e164 in numbers:
        await add(conn, list_id, e164)
    await dnc.add(conn, numbers[0], source="national")
    await dnc.add(conn, numbers[1], source="asked", campaign_id=camp.id)
    await dnc.add(conn, numbers[2], source="old", expires_at=T0)
    await dnc.add(conn, numbers[3], source="other", campaign_id=other.id)
    got = sorted(lead.e164 for lead in await lease(conn, camp))
    assert got == numbers[2:]


async def test_dnc_number_falls_back_to_the_contact_next_number(
    conn: asyncpg.Connection,
) -> None:
    """A contact whose first number is on DNC is dialed on its second number."""
    camp, list_id = await campaign_with_contacts(conn, 0)
    await add(conn, list_id, "+12125550101", more=("+12125550199",))
    await dnc.add(conn, "+12125550101", source="asked")
    [lead] = await lease(conn, camp)
    assert lead.e164 == "+12125550199"


async def test_calling_window_in_every_zone(conn: asyncpg.Connection) -> None:
    """08:00-21:00 local: at 15:30 UTC New York (10:30) is open, LA (07:30) not; both zones: not."""
    camp, list_id = await campaign_with_contacts(conn, 0, window=CallingWindow.parse("08:00-21:00"))
    morning = T0.replace(hour=6)
    ny = await add(conn, list_id, "+12125550101", NY, now=morning)
    la = await add(conn, list_id, "+13105550101", LA, now=morning)
    await add(conn, list_id, "+18085550101", (*NY, *HNL), now=morning)
    at_1530 = T0.replace(hour=15, minute=30)
    assert [lead.contact_id for lead in await lease(conn, camp, at_1530)] == [ny]
    at_1700 = T0.replace(hour=17)  # noon NY, 09:00 LA, 07:00 Honolulu
    assert [lead.contact_id for lead in await lease(conn, camp, at_1700)] == [la]
    at_1900 = T0.replace(hour=19)  # 09:00 Honolulu
    assert len(await lease(conn, camp, at_1900)) == 1


async def finish(
    conn: asyncpg.Connection, lead: leasing.LeasedLead, outcome: str, now: dt.datetime
) -> Attempt:
    return await attempts.record_outcome(conn, lead.attempt_id, outcome, now)


async def test_retry_delay_per_outcome(conn: asyncpg.Connection) -> None:
    """After busy the contact waits 300 s, after no answer 3600 s, from the end of the call."""
    camp, _ = await campaign_with_contacts(
        conn, 1, retry_delays={"busy": 300, "no_answer": 3600}, per_day=10
    )
    [lead] = await lease(conn, camp)
    await finish(conn, lead, "busy", T0 + MIN)
    assert await lease(conn, camp, T0 + MIN + dt.timedelta(seconds=299)) == []
    [lead] = await lease(conn, camp, T0 + MIN + dt.timedelta(seconds=300))
    t1 = T0 + 10 * MIN
    await finish(conn, lead, "no_answer", t1)
    assert await lease(conn, camp, t1 + dt.timedelta(seconds=3599)) == []
    assert len(await lease(conn, camp, t1 + dt.timedelta(seconds=3600))) == 1


async def test_never_dialed_attempt_gives_its_lead_back_at_once(conn: asyncpg.Connection) -> None:
    """An attempt whose call never reached Asterisk ('not_dialed') called nobody: the
    lead is ready again at once (no retry delay) and the attempt counts against no cap."""
    camp, _ = await campaign_with_contacts(conn, 1, per_day=1, total=1)
    for k in range(3):
        [lead] = await lease(conn, camp, T0 + k * MIN)
        await finish(conn, lead, "not_dialed", T0 + k * MIN)
    [lead] = await lease(conn, camp, T0 + 3 * MIN)
    await finish(conn, lead, "no_answer", T0 + 3 * MIN)
    assert await lease(conn, camp, T0 + dt.timedelta(days=3)) == []  # the one real try
    status = await conn.fetchval("SELECT status FROM campaign_leads")
    assert status == "exhausted"


async def test_attempt_caps_per_day_and_total(conn: asyncpg.Connection) -> None:
    """Two attempts a day, three in all: the third waits a day, the fourth never comes."""
    camp, _ = await campaign_with_contacts(conn, 1, per_day=2, total=3, default_retry_delay_s=0)
    for k in range(2):
        [lead] = await lease(conn, camp, T0 + k * MIN)
        await finish(conn, lead, "no_answer", T0 + k * MIN)
    assert await lease(conn, camp, T0 + 5 * MIN) == []
    next_day = T0 + dt.timedelta(days=1)
    [lead] = await lease(conn, camp, next_day)
    await finish(conn, lead, "no_answer", next_day)
    assert await lease(conn, camp, next_day + dt.timedelta(days=3)) == []
    status = await conn.fetchval("SELECT status FROM campaign_leads")
    assert status == "exhausted"


async def test_answered_call_finishes_the_lead(conn: asyncpg.Connection) -> None:
    """A reached contact is not redialed unless a disposition says so."""
    camp, _ = await campaign_with_contacts(conn, 1, default_retry_delay_s=0)
    [lead] = await lease(conn, camp)
    await finish(conn, lead, "answered", T0)
    assert await lease(conn, camp, T0 + dt.timedelta(days=2)) == []


async def test_outcome_is_idempotent_and_a_second_one_conflicts(conn: asyncpg.Connection) -> None:
    """The same outcome twice changes nothing; a different one is a Conflict."""
    camp, _ = await campaign_with_contacts(conn, 1)
    [lead] = await lease(conn, camp)
    first = await finish(conn, lead, "busy", T0 + MIN)
    again = await finish(conn, lead, "busy", T0 + 2 * MIN)
    assert again == first
    assert first.finished_at == T0 + MIN
    with pytest.raises(Conflict) as err:
        await finish(conn, lead, "answered", T0 + 2 * MIN)
    assert err.value.details["recorded"] == "busy"
    with pytest.raises(NotFound):
        await attempts.record_outcome(conn, uuid.uuid4(), "busy", T0)
    with pytest.raises(InvalidInput):
        await attempts.record_outcome(conn, lead.attempt_id, "exploded", T0)


async def test_progress_renews_the_lease_and_ignores_late_events(conn: asyncpg.Connection) -> None:
    """dialing/ringing/answered push the lease expiry; an older state arriving late is ignored."""
    camp, _ = await campaign_with_contacts(conn, 1)
    [lead] = await lease(conn, camp)
    a = await attempts.mark_progress(conn, lead.attempt_id, "ringing", T0 + MIN, uniqueid="1.1")
    assert (a.state, a.uniqueid) == ("ringing", "1.1")
    assert a.lease_expires_at == T0 + MIN + dt.timedelta(seconds=120)
    late = await attempts.mark_progress(conn, lead.attempt_id, "dialing", T0 + 2 * MIN)
    assert late.state == "ringing"
    assert late.lease_expires_at == a.lease_expires_at


async def test_expired_lease_keeps_the_contact_locked_until_reconciled(
    conn: asyncpg.Connection,
) -> None:
    """A dead dialer's lease expires; the contact is not redialed until the resolver knows."""
    camp, _ = await campaign_with_contacts(conn, 1, default_retry_delay_s=0)
    [lead] = await lease(conn, camp)
    asked: list[uuid.UUID] = []

    async def unknown(attempt: Attempt) -> str | None:
        asked.append(attempt.id)
        return None

    early = await leasing.reconcile_expired(conn, T0 + MIN, unknown)
    assert (early.newly_expired, asked) == (0, [])
    later = T0 + dt.timedelta(minutes=3)
    report = await leasing.reconcile_expired(conn, later, unknown)
    assert report.newly_expired == 1
    assert [a.id for a in report.unresolved] == [lead.attempt_id]
    assert (await attempts.get_attempt(conn, lead.attempt_id)).state == "expired"
    assert await lease(conn, camp, later + dt.timedelta(hours=1)) == []

    async def asterisk_says(attempt: Attempt) -> str | None:
        return "no_answer"

    report = await leasing.reconcile_expired(conn, later + MIN, asterisk_says)
    [done] = report.reconciled
    assert (done.state, done.outcome) == ("reconciled", "no_answer")
    assert await attempts.record_outcome(conn, lead.attempt_id, "no_answer", later) == done
    with pytest.raises(Conflict):
        await attempts.record_outcome(conn, lead.attempt_id, "busy", later)
    [again] = await lease(conn, camp, later + 2 * MIN)
    assert again.attempt_id != lead.attempt_id


async def test_late_dialer_report_beats_reconciliation(conn: asyncpg.Connection) -> None:
    """A dialer that reports after its lease expired is believed; reconciliation then skips it."""
    camp, _ = await campaign_with_contacts(conn, 1)
    [lead] = await lease(conn, camp)
    later = T0 + dt.timedelta(minutes=5)

    async def never(attempt: Attempt) -> str | None:
        return None

    await leasing.reconcile_expired(conn, later, never)
    done = await finish(conn, lead, "busy", later)
    assert done.state == "finished"

    async def wrong(attempt: Attempt) -> str | None:
        raise AssertionError("a settled attempt must not be reconciled")

    report = await leasing.reconcile_expired(conn, later + MIN, wrong)
    assert report.reconciled == []


async def test_renewed_lease_does_not_expire(conn: asyncpg.Connection) -> None:
    """A live dialer renewing its leases keeps them out of reconciliation."""
    camp, _ = await campaign_with_contacts(conn, 2)
    leads = await lease(conn, camp)
    assert await leasing.renew_leases(conn, [x.attempt_id for x in leads], T0 + MIN) == 2

    async def never(attempt: Attempt) -> str | None:
        return None

    report = await leasing.reconcile_expired(conn, T0 + dt.timedelta(seconds=150), never)
    assert report.newly_expired == 0


async def test_callback_disposition_comes_first_when_due(conn: asyncpg.Connection) -> None:
    """A callback is leased before higher-priority leads once due, not before, for its agent."""
    camp, list_id = await campaign_with_contacts(conn, 0, default_retry_delay_s=0)
    cb_contact = await add(conn, list_id, "+12125550101", more=("+12125550102",))
    agent = "1001"
    await acd_agents(conn, agent)
    [lead] = await lease(conn, camp)
    await finish(conn, lead, "answered", T0 + MIN)
    due = T0 + dt.timedelta(hours=2)
    await attempts.set_disposition(
        conn, lead.attempt_id, "callback", T0 + 2 * MIN, callback_at=due, callback_agent=agent
    )
    vip = await add(conn, list_id, "+12125550103", priority=9)
    assert [x.contact_id for x in await lease(conn, camp, due - MIN)] == [vip]
    [cb] = await lease(conn, camp, due)
    assert (cb.contact_id, cb.callback_agent, cb.e164) == (cb_contact, agent, lead.e164)
    status = await conn.fetchval("SELECT status FROM callbacks WHERE id = $1", cb.callback_id)
    assert status == "dialed"


async def test_dispositions_final_dnc_and_retry(conn: asyncpg.Connection) -> None:
    """Final ends the lead, do_not_call also blocks the number everywhere, others retry."""
    camp, _ = await campaign_with_contacts(
        conn, 3, retry_delays={"left_message": 600}, default_retry_delay_s=0
    )
    a, b, c = await lease(conn, camp)
    for lead in (a, b, c):
        await finish(conn, lead, "answered", T0)
    await attempts.set_disposition(conn, a.attempt_id, "sale", T0)
    await attempts.set_disposition(conn, b.attempt_id, "do_not_call", T0)
    await attempts.set_disposition(conn, c.attempt_id, "left_message", T0)
    assert await attempts.set_disposition(conn, c.attempt_id, "left_message", T0)
    with pytest.raises(Conflict):
        await attempts.set_disposition(conn, c.attempt_id, "sale", T0)
    assert await dnc.is_blocked(conn, b.e164, T0)
    assert await lease(conn, camp, T0 + dt.timedelta(seconds=599)) == []
    later = await lease(conn, camp, T0 + dt.timedelta(days=1))
    assert [x.contact_id for x in later] == [c.contact_id]


async def test_disposition_needs_an_outcome_and_a_known_code(conn: asyncpg.Connection) -> None:
    """No disposition before the call ended; unknown codes and callbacks without time refused."""
    camp, _ = await campaign_with_contacts(conn, 1)
    [lead] = await lease(conn, camp)
    with pytest.raises(Conflict):
        await attempts.set_disposition(conn, lead.attempt_id, "sale", T0)
    await finish(conn, lead, "answered", T0)
    with pytest.raises(InvalidInput):
        await attempts.set_disposition(conn, lead.attempt_id, "nope", T0)
    with pytest.raises(InvalidInput):
        await attempts.set_disposition(conn, lead.attempt_id, "callback", T0)


async def test_schedule_callback_refused_while_in_flight(conn: asyncpg.Connection) -> None:
    """A callback cannot be set on a contact whose attempt has no outcome yet."""
    camp, _ = await campaign_with_contacts(conn, 1)
    [lead] = await lease(conn, camp)
    with pytest.raises(Conflict):
        await attempts.schedule_callback(conn, camp.id, lead.contact_id, T0 + MIN)
    await finish(conn, lead, "no_answer", T0)
    cb = await attempts.schedule_callback(conn, camp.id, lead.contact_id, T0 + MIN)
    assert cb.status == "pending"


async def test_campaign_settings_are_checked(conn: asyncpg.Connection) -> None:
    """Ring timeout under 15 s, unknown mode or zone are refused before reaching SQL."""
    with pytest.raises(InvalidInput):
        campaigns.CampaignSettings(mode="progressive", trunk="t", caller_id="1", ring_timeout_s=10)
    with pytest.raises(InvalidInput):
        campaigns.CampaignSettings(mode="blast", trunk="t", caller_id="1")
    with pytest.raises(InvalidInput):
        campaigns.CampaignSettings(mode="preview", trunk="t", caller_id="1", cap_time_zone="X/Y")
    camp, _ = await campaign_with_contacts(conn, 0)
    with pytest.raises(Conflict):
        await campaigns.create_campaign(conn, camp.name, camp.settings)
    assert await campaigns.get_campaign(conn, camp.name) == camp


async def test_lost_database_is_reported_as_unavailable(database_url: str) -> None:
    """A dead connection surfaces as the domain error Unavailable, not an asyncpg error."""
    dead = await asyncpg.connect(database_url)
    await dead.close()
    with pytest.raises(Unavailable):
        await leasing.lease(dead, 1, 5, T0, dialer_id="d")
    with pytest.raises(Unavailable):
        await attempts.record_outcome(dead, uuid.uuid4(), "busy", T0)


async def test_lead_not_callable_now_steps_aside(conn: asyncpg.Connection) -> None:
    """A head lead outside its window is deferred DEFER_S seconds so the next lead gets dialed."""
    camp, list_id = await campaign_with_contacts(conn, 0, window=CallingWindow.parse("08:00-21:00"))
    morning = T0.replace(hour=6)
    hnl = await add(conn, list_id, "+18085550101", HNL, priority=5, now=morning)
    ny = await add(conn, list_id, "+12125550101", NY, now=morning)
    assert await lease(conn, camp, T0, n=1) == []  # 07:00 in Honolulu
    assert [x.contact_id for x in await lease(conn, camp, T0, n=1)] == [ny]
    row = await conn.fetchrow(
        "SELECT status, ready_at FROM campaign_leads WHERE contact_id = $1", hnl
    )
    assert row is not None
    assert (row["status"], row["ready_at"]) == ("ready", T0 + dt.timedelta(seconds=leasing.DEFER_S))
    assert [x.contact_id for x in await lease(conn, camp, T0.replace(hour=19))] == [hnl]


async def test_lead_with_only_flagged_numbers_is_finished(conn: asyncpg.Connection) -> None:
    """A contact whose every number was on a DNC list at import leaves the queue for good."""
    camp, list_id = await campaign_with_contacts(conn, 0)
    await dnc.add(conn, "+12125550101", source="national")
    flagged = await add(conn, list_id, "+12125550101", now=T0 - MIN)
    assert await lease(conn, camp) == []
    status = await conn.fetchval("SELECT status FROM campaign_leads WHERE contact_id = $1", flagged)
    assert status == "done"


async def test_callbacks_only_lease_skips_fresh_leads(conn: asyncpg.Connection) -> None:
    """``callbacks_only`` hands out due callbacks and nothing else."""
    camp, _ = await campaign_with_contacts(conn, 3)
    [lead] = await lease(conn, camp, n=1)
    await finish(conn, lead, "no_answer", T0)
    assert await leasing.lease(conn, camp.id, 5, T0, dialer_id="d", callbacks_only=True) == []
    await attempts.schedule_callback(conn, camp.id, lead.contact_id, T0 + MIN)
    early = await leasing.lease(conn, camp.id, 5, T0, dialer_id="d", callbacks_only=True)
    assert early == []
    [cb] = await leasing.lease(conn, camp.id, 5, T0 + MIN, dialer_id="d", callbacks_only=True)
    assert cb.contact_id == lead.contact_id
    assert cb.callback_id is not None
    assert len(await lease(conn, camp, T0 + MIN)) == 2  # the fresh leads are still there
