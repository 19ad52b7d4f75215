"""Property tests of the hopper: random contacts, clocks, outcomes and concurrent leasers.

Whatever hypothesis draws, these hold:
- no contact is leased twice at once (not by two leasers, not while an attempt is open);
- no number on an applicable, unexpired DNC entry (or flagged at import) is returned;
- no number is returned outside the calling window in any of its zones;
- attempt caps (per day, total) and retry delays per outcome hold over the whole history.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
from dataclasses import dataclass, field

import asyncpg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from phonenumbers.tzdata import TIMEZONE_DATA

from ccpbx.store import attempts, campaigns, compliance, contacts, dnc, leasing
from ccpbx.store.attempts import Attempt
from ccpbx.store.campaigns import CampaignSettings
from ccpbx.store.phones import CallingWindow, Phone, calling_window_open

ZONES = (
    "America/New_York",
    "America/Los_Angeles",
    "Pacific/Honolulu",
    "America/St_Johns",
    "Europe/London",
    "Asia/Kolkata",
    "Asia/Tokyo",
    "Australia/Lord_Howe",
)
OUTCOMES = ("no_answer", "busy", "answered", "failed", "machine")
DNC_KINDS = ("none", "global", "campaign", "other_campaign", "expired", "expiring")
YEAR_START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
TABLES = (
    "callbacks, call_attempts, campaign_leads, campaign_lists, dnc_entries, campaigns,"
    " phone_numbers, contacts, contact_lists, audit_log"
)


@dataclass
class Person:
    contact_id: int
    e164: str
    zones: tuple[str, ...]
    flagged: bool
    kind: str
    dnc_added_after: bool
    dnc_until: dt.datetime | None


@dataclass
class World:
    settings: CampaignSettings
    people: dict[int, Person] = field(default_factory=dict)
    in_flight: dict[int, leasing.LeasedLead] = field(default_factory=dict)

    def blocked(self, person: Person, now: dt.datetime) -> bool:
        if person.flagged:
            return True
        if not person.dnc_added_after:
            return False
        if person.kind in ("global", "campaign"):
            return True
        return person.kind == "expiring" and person.dnc_until is not None and now < person.dnc_until

    def delay(self, outcome: str) -> dt.timedelta:
        seconds = self.settings.retry_delays.get(outcome, self.settings.default_retry_delay_s)
        return dt.timedelta(seconds=seconds)


campaign_settings = st.builds(
    lambda start, length, per_day, total, delays, default: CampaignSettings(
        mode="progressive",
        trunk="t",
        caller_id="+12125550000",
        window=CallingWindow(start, min(24 * 60, start + length)),
        max_attempts_per_day=per_day,
        max_attempts_total=total,
        retry_delays=delays,
        default_retry_delay_s=default,
    ),
    start=st.integers(0, 23 * 4).map(lambda q: q * 15),
    length=st.integers(4, 96).map(lambda q: q * 15),
    per_day=st.integers(1, 3),
    total=st.integers(1, 5),
    delays=st.dictionaries(st.sampled_from(OUTCOMES), st.integers(0, 4 * 3600), max_size=3),
    default=st.integers(0, 3 * 3600),
)
people_specs = st.lists(
    st.tuples(
        st.lists(st.sampled_from(ZONES), min_size=1, max_size=3, unique=True),
        st.sampled_from(DNC_KINDS),
        st.booleans(),
        st.integers(0, 2),
    ),
    min_size=1,
    max_size=20,
)


async def setup(
    conn: asyncpg.Connection, world: World, specs: list, start: dt.datetime, expiring: int
) -> int:
    await conn.execute(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")
    clist = await contacts.create_list(conn, "prop")
    camp = await campaigns.create_campaign(conn, "prop", world.settings, status="running")
    other = await campaigns.create_campaign(conn, "other", world.settings, status="running")
    await campaigns.attach_list(conn, camp.id, clist.id, start)
    until = start + dt.timedelta(seconds=expiring)

    async def add_dnc(e164: str, kind: str) -> None:
        if kind == "global":
            await dnc.add(conn, e164, source="p")
        elif kind == "campaign":
            await dnc.add(conn, e164, source="p", campaign_id=camp.id)
        elif kind == "other_campaign":
            await dnc.add(conn, e164, source="p", campaign_id=other.id)
        elif kind == "expired":
            await dnc.add(conn, e164, source="p", expires_at=start - dt.timedelta(seconds=1))
        elif kind == "expiring":
            await dnc.add(conn, e164, source="p", expires_at=until)

    for i, (zones, kind, after, priority) in enumerate(specs):
        e164 = f"+1212555{i:04d}"
        if not after:
            await add_dnc(e164, kind)
        contact = await contacts.add_contact(
            conn, clist.id, [Phone(e164, tuple(zones))], priority=priority, now=start
        )
        if after:
            await add_dnc(e164, kind)
        flagged = contact.phones[0].dnc_flagged
        unexpired = kind in ("global", "campaign", "other_campaign") or (
            kind == "expiring" and until > start
        )
        assert flagged == (not after and unexpired)
        world.people[contact.id] = Person(
            contact.id, e164, tuple(zones), flagged, kind, after, until
        )
    return camp.id


async def check_history(conn: asyncpg.Connection, world: World, campaign_id: int) -> None:
    rows = await conn.fetch(
        "SELECT * FROM call_attempts WHERE campaign_id = $1 ORDER BY contact_id, leased_at, id",
        campaign_id,
    )
    by_contact: dict[int, list[asyncpg.Record]] = {}
    for row in rows:
        by_contact.setdefault(row["contact_id"], []).append(row)
    s = world.settings
    for history in by_contact.values():
        assert len(history) <= s.max_attempts_total
        per_day: dict[dt.date, int] = {}
        for row in history:
            day = row["leased_at"].astimezone(dt.UTC).date()
            per_day[day] = per_day.get(day, 0) + 1
        assert max(per_day.values()) <= s.max_attempts_per_day
        for prev, nxt in itertools.pairwise(history):
            assert prev["outcome"] is not None, "redialed while an attempt was open"
            assert prev["outcome"] != "answered", "a reached contact was redialed"
            assert nxt["leased_at"] >= prev["finished_at"] + world.delay(prev["outcome"])


async def scenario(url: str, data: st.DataObject) -> None:
    world = World(data.draw(campaign_settings, label="campaign"))
    specs = data.draw(people_specs, label="people")
    now = YEAR_START + dt.timedelta(minutes=data.draw(st.integers(0, 365 * 24 * 60)))
    expiring = data.draw(st.integers(0, 12 * 3600), label="dnc expiry")
    conns = [await asyncpg.connect(url) for _ in range(3)]
    try:
        conn = conns[0]
        campaign_id = await setup(conn, world, specs, now, expiring)
        for _ in range(data.draw(st.integers(1, 8), label="steps")):
            now += dt.timedelta(seconds=data.draw(st.integers(0, 8 * 3600), label="advance"))
            if data.draw(st.booleans(), label="reconcile"):

                async def resolver(attempt: Attempt) -> str | None:
                    return data.draw(st.sampled_from((None, *OUTCOMES)), label="resolution")

                report = await leasing.reconcile_expired(conn, now, resolver)
                for done in report.reconciled:
                    world.in_flight.pop(done.contact_id)
            sizes = data.draw(st.lists(st.integers(1, 5), min_size=1, max_size=3), label="n")
            batches = await asyncio.gather(
                *(
                    leasing.lease(c, campaign_id, n, now, dialer_id=f"d{k}")
                    for k, (c, n) in enumerate(zip(conns, sizes, strict=False))
                )
            )
            for lead in (lead for batch in batches for lead in batch):
                person = world.people[lead.contact_id]
                assert lead.contact_id not in world.in_flight, "leased twice at once"
                assert not world.blocked(person, now), "DNC number leased"
                assert lead.time_zones == person.zones
                assert calling_window_open(person.zones, world.settings.window, now), "window"
                world.in_flight[lead.contact_id] = lead
            for contact_id in sorted(world.in_flight):
                outcome = data.draw(st.sampled_from((None, *OUTCOMES)), label="outcome")
                if outcome is not None:
                    lead = world.in_flight.pop(contact_id)
                    await attempts.record_outcome(conn, lead.attempt_id, outcome, now)
        await check_history(conn, world, campaign_id)
    finally:
        for c in conns:
            await c.close()


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_hopper_invariants_hold_for_any_history(database_url: str, data: st.DataObject) -> None:
    """No double lease, no DNC, no out-of-window number, caps and retry delays: always."""
    asyncio.run(scenario(database_url, data))


# Every zone a number can be given (phonenumbers' prefix table), for the window property.
ALL_ZONES = tuple(sorted({z for found in TIMEZONE_DATA.values() for z in found} - {"Etc/Unknown"}))


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    zones=st.lists(st.sampled_from(ZONES) | st.sampled_from(ALL_ZONES), max_size=3, unique=True),
    minutes=st.integers(0, 12 * 365 * 24 * 60),
    seconds=st.floats(0, 60, exclude_max=True, allow_nan=False),
    start=st.integers(0, 24 * 60 - 1),
    length=st.integers(1, 24 * 60),
)
def test_lease_window_prefilter_matches_the_dial_time_rule(
    database_url: str,
    zones: list[str],
    minutes: int,
    seconds: float,
    start: int,
    length: int,
) -> None:
    """The lease's window SQL (ccpbx.store.compliance, the very text the lease formats in)
    and the dial-time rule calling_window_open agree for any zones (none included),
    window and instant from 2026 to 2037."""
    window = CallingWindow(start, min(24 * 60, start + length))
    now = YEAR_START + dt.timedelta(minutes=minutes, seconds=seconds)
    predicate = compliance.window_open(zones="$1::text[]", now="$2", open_s="$3", close_s="$4")

    async def sql_open() -> bool:
        conn = await asyncpg.connect(database_url)
        try:
            return bool(
                await conn.fetchval(
                    f"SELECT {predicate}", zones, now, window.start_min * 60, window.end_min * 60
                )
            )
        finally:
            await conn.close()

    assert asyncio.run(sql_open()) == calling_window_open(zones, window, now)
