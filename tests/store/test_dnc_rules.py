"""Do-not-call protection only widens on its own; shortening or removing it is explicit,
with a reason in the audit log; the leaser reads the result."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import asyncpg
import pytest

from ccpbx.errors import InvalidInput, NotFound
from ccpbx.store import audit, dnc, leasing
from ccpbx.store.dnc_import import import_dnc, parse_expiry

from .factories import T0, campaign_with_contacts

JUNE = parse_expiry("2026-06-30")
DEC = parse_expiry("2026-12-31")


def dnc_file(tmp_path: Path, *numbers: str) -> Path:
    path = tmp_path / "dnc.csv"
    path.write_text("phone\n" + "".join(f"{n}\n" for n in numbers), encoding="utf-8")
    return path


async def entry(conn: asyncpg.Connection, e164: str) -> dnc.DncEntry:
    [found] = await dnc.entries(conn, e164=e164)
    return found


async def test_widening_compares_expiries(conn: asyncpg.Connection) -> None:
    """Permanent beats dated, later beats earlier; nothing beats permanent (the rule is
    the store's SQL, WIDENS_SQL, checked here for each pair)."""
    cases = [(JUNE, None, True), (JUNE, DEC, True), (DEC, JUNE, False), (None, DEC, False)]
    cases.append((None, None, False))
    for n, (old, new, widened) in enumerate(cases):
        number = f"+1212555{n + 200:04d}"
        await dnc.add(conn, number, source="old", expires_at=old)
        after = await dnc.add(conn, number, source="new", expires_at=new)
        assert (after.source == "new") is widened, (old, new)
        assert after.expires_at == (new if widened else old)


async def test_add_keeps_the_wider_protection(conn: asyncpg.Connection) -> None:
    """dnc.add never shortens an entry: a dated add onto a permanent one changes nothing."""
    await dnc.add(conn, "+12125550101", source="asked")
    kept = await dnc.add(conn, "+12125550101", source="state", expires_at=DEC)
    assert (kept.source, kept.expires_at) == ("asked", None)
    await dnc.add(conn, "+12125550102", source="state", expires_at=JUNE)
    later = await dnc.add(conn, "+12125550102", source="state-2", expires_at=DEC)
    assert (later.source, later.expires_at) == ("state-2", DEC)
    earlier = await dnc.add(conn, "+12125550102", source="state-3", expires_at=JUNE)
    assert (earlier.source, earlier.expires_at) == ("state-2", DEC)
    forever = await dnc.add(conn, "+12125550102", source="asked")
    assert forever.expires_at is None


async def test_import_widens_dated_entries_and_counts_each_kind(
    conn: asyncpg.Connection, tmp_path: Path
) -> None:
    """An import adds new numbers, extends shorter entries and leaves longer ones alone."""
    await dnc.add(conn, "+12125550101", source="asked")
    await dnc.add(conn, "+12125550102", source="old", expires_at=JUNE)
    await dnc.add(conn, "+12125550103", source="long", expires_at=parse_expiry("2027-06-30"))
    src = dnc_file(tmp_path, "+12125550101", "+12125550102", "+12125550103", "+12125550104")
    result = await import_dnc(conn, src, now=T0, source="state", expires_at=DEC)
    assert (result.added, result.widened, result.unchanged, result.narrowed) == (1, 1, 2, 0)
    assert (result.imported, result.rejected) == (2, 0)
    assert (await entry(conn, "+12125550101")).expires_at is None
    assert (await entry(conn, "+12125550102")).expires_at == DEC
    assert (await entry(conn, "+12125550103")).source == "long"
    assert (await entry(conn, "+12125550104")).expires_at == DEC


async def test_replace_shortens_with_a_reason_each_in_the_audit_log(
    conn: asyncpg.Connection, tmp_path: Path
) -> None:
    """--replace sets the file's terms even where shorter; each shortened entry is audited."""
    await dnc.add(conn, "+12125550101", source="asked")
    await dnc.add(conn, "+12125550102", source="state", expires_at=JUNE)
    src = dnc_file(tmp_path, "+12125550101", "+12125550102")
    with pytest.raises(InvalidInput, match="reason"):
        await import_dnc(conn, src, now=T0, source="fixed", expires_at=DEC, replace=True)
    result = await import_dnc(
        conn,
        src,
        now=T0,
        source="fixed",
        expires_at=DEC,
        replace=True,
        reason="ticket 4521",
        actor="cli:ann",
    )
    assert (result.narrowed, result.widened, result.added) == (1, 1, 0)
    assert (await entry(conn, "+12125550101")).expires_at == DEC
    [narrowed] = await audit.entries(conn, "dnc_entry", "+12125550101")
    assert (narrowed.action, narrowed.actor) == ("dnc.narrow", "cli:ann")
    assert narrowed.details["reason"] == "ticket 4521"
    assert narrowed.details["old"] == {"source": "asked", "expires_at": None}
    assert narrowed.details["new"]["expires_at"] == DEC.isoformat()
    assert await audit.entries(conn, "dnc_entry", "+12125550102") == []
    [imported] = await audit.entries(conn, "dnc_list", "global")
    assert imported.details["replace"] is True
    assert imported.details["narrowed"] == 1


async def test_remove_needs_a_reason_and_is_audited(conn: asyncpg.Connection) -> None:
    """Removing an entry takes a reason; the entry removed and why are in the audit log."""
    await dnc.add(conn, "+12125550101", source="asked")
    with pytest.raises(InvalidInput, match="reason"):
        await dnc.remove(conn, "+12125550101", reason="  ", actor="cli:ann", now=T0)
    removed = await dnc.remove(
        conn, "+12125550101", reason="consent given", actor="cli:ann", now=T0
    )
    assert removed.source == "asked"
    assert await dnc.entries(conn) == []
    [logged] = await audit.entries(conn, "dnc_entry", "+12125550101")
    assert (logged.action, logged.details["reason"]) == ("dnc.remove", "consent given")
    assert logged.details["removed"]["source"] == "asked"
    with pytest.raises(NotFound):
        await dnc.remove(conn, "+12125550101", reason="again", actor="cli:ann", now=T0)


async def test_leaser_skips_widened_and_dials_after_a_shortened_expiry(
    conn: asyncpg.Connection, tmp_path: Path
) -> None:
    """The leaser reads a widened entry as still blocking and a shortened one as lapsed."""
    camp, list_id = await campaign_with_contacts(conn, 2)
    numbers = [
        r["e164"]
        for r in await conn.fetch(
            "SELECT e164 FROM phone_numbers WHERE list_id = $1 ORDER BY e164", list_id
        )
    ]
    src = dnc_file(tmp_path, *numbers)
    await import_dnc(conn, src, now=T0, source="s", expires_at=JUNE)
    await import_dnc(conn, src, now=T0, source="s")  # widened to permanent
    july = dt.datetime(2026, 7, 6, 16, tzinfo=dt.UTC)
    assert await leasing.lease(conn, camp.id, 10, july, dialer_id="d") == []
    await import_dnc(conn, src, now=T0, source="s", expires_at=JUNE, replace=True, reason="fix")
    # (The blocked leads were put back for a few minutes.)
    leads = await leasing.lease(conn, camp.id, 10, july + dt.timedelta(hours=1), dialer_id="d")
    assert sorted(lead.e164 for lead in leads) == numbers


@pytest.mark.parametrize(
    ("typed", "problem"),
    [("2125550101", r"E\.164"), ("+1 555 555 1234", "not a valid"), ("+abc", "not a phone")],
)
def test_typed_numbers_must_be_valid_e164(typed: str, problem: str) -> None:
    """A number typed for `dnc remove` or `dnc list` is checked with phonenumbers."""
    with pytest.raises(InvalidInput, match=problem):
        dnc.typed_number(typed)
    assert dnc.typed_number(" +1 212-555-0101 ") == "+12125550101"
