"""Contact and do-not-call import against a real PostgreSQL: rejects, flags, atomicity."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import os
from pathlib import Path

import asyncpg
import pytest

from ccpbx.errors import InvalidInput
from ccpbx.store import contacts, dnc, importer, leasing
from ccpbx.store.dnc_import import import_dnc, parse_expiry
from ccpbx.store.exporter import export_contacts
from ccpbx.store.importer import import_contacts

from .factories import T0, campaign_with_contacts


def rejects_of(path: Path | None) -> list[tuple[int, str]]:
    assert path is not None
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0][:2] == ["line", "reason"]
    return [(int(r[0]), r[1]) for r in rows[1:]]


async def test_messy_file_imports_good_rows_and_explains_each_reject(
    conn: asyncpg.Connection, tmp_path: Path
) -> None:
    """BOM, NUL, bad, missing, duplicate numbers: good rows in, each bad one with line, reason."""
    src = tmp_path / "leads.csv"
    src.write_bytes(
        b"\xef\xbb\xbfPhone,Name,Email\r\n"
        b"(212) 555-0101,Ann,ann@example.com\r\n"  # 2 ok
        b"+1 555 555 1234,Bad,\r\n"  # 3 invalid
        b",Nobody,\r\n"  # 4 missing
        b"212.555.0101,Ann again,\r\n"  # 5 duplicate of line 2
        b"2125550102,Nu\x00l,\r\n"  # 6 NUL
        b'2125550103,=HYPERLINK("http://evil"),x\r\n'  # 7 ok, formula kept as data
        b"\r\n"  # blank line: skipped, not a reject
        b"hello,Words,\r\n"  # 9 not a number
    )
    result = await import_contacts(conn, src, list_name="spring", now=T0)
    assert (result.rows, result.imported, result.rejected) == (7, 2, 5)
    reasons = rejects_of(result.reject_path)
    assert [line for line, _ in reasons] == [3, 4, 5, 6, 9]
    assert "invalid phone number" in reasons[0][1]
    assert "missing phone number" in reasons[1][1]
    assert "duplicate number +12125550101 (first on line 2)" in reasons[2][1]
    assert "NUL" in reasons[3][1]
    assert "not a phone number" in reasons[4][1]
    clist = await contacts.get_list(conn, "spring")
    people = await contacts.list_contacts(conn, clist.id)
    assert [(c.name, c.phones[0].e164, c.source_line) for c in people] == [
        ("Ann", "+12125550101", 2),
        ('=HYPERLINK("http://evil")', "+12125550103", 7),
    ]
    assert people[0].fields == {"Email": "ann@example.com"}
    audit = await conn.fetchrow("SELECT * FROM audit_log WHERE action = 'contacts.import'")
    assert audit is not None
    assert audit["object_id"] == str(clist.id)


async def test_reject_file_keeps_the_original_cells_neutralised(
    conn: asyncpg.Connection, tmp_path: Path
) -> None:
    """The reject file repeats the refused row's cells, formulas made inert."""
    src = tmp_path / "x.csv"
    src.write_text("phone,name\n=1+2,Eve\n2125550101,Ann\n2125550101,Dup\n", encoding="utf-8")
    result = await import_contacts(conn, src, list_name="x", now=T0)
    assert result.reject_path is not None
    with result.reject_path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["line", "reason", "phone", "name"]
    assert rows[1][0] == "2"
    assert rows[1][2:] == ["'=1+2", "Eve"]
    assert rows[2][0] == "4"
    assert rows[2][2:] == ["2125550101", "Dup"]


async def test_latin1_semicolon_file(conn: asyncpg.Connection, tmp_path: Path) -> None:
    """A Latin-1, semicolon-separated spreadsheet export, named as such, keeps its accents."""
    src = tmp_path / "fr.csv"
    src.write_bytes(
        "Téléphone;Nom;Ville\n06 12 34 56 78;Zoë Dupré;Orléans, Loiret\n".encode("latin-1")
    )
    result = await import_contacts(
        conn,
        src,
        list_name="fr",
        now=T0,
        region="FR",
        mapping={"Téléphone": "phone", "Nom": "name"},
        encoding="latin-1",
    )
    assert result.imported == 1
    assert result.reject_path is None
    clist = await contacts.get_list(conn, "fr")
    [person] = await contacts.list_contacts(conn, clist.id)
    assert person.name == "Zoë Dupré"
    assert person.phones[0].e164 == "+33612345678"
    assert person.fields == {"Ville": "Orléans, Loiret"}


async def test_unknown_mapping_column_refuses_everything(
    conn: asyncpg.Connection, tmp_path: Path
) -> None:
    """A --map naming a missing column stops the import before anything is written."""
    src = tmp_path / "a.csv"
    src.write_text("phone,name\n2125550101,Ann\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="does not have"):
        await import_contacts(conn, src, list_name="a", now=T0, mapping={"Tel": "phone"})
    assert await conn.fetchval("SELECT count(*) FROM contact_lists") == 0


async def test_reimport_rejects_numbers_already_in_the_list(
    conn: asyncpg.Connection, tmp_path: Path
) -> None:
    """Importing the same file twice adds nothing the second time, and says why."""
    src = tmp_path / "a.csv"
    src.write_text("phone\n2125550101\n2125550102\n", encoding="utf-8")
    first = await import_contacts(conn, src, list_name="a", now=T0)
    second = await import_contacts(conn, src, list_name="a", now=T0)
    assert (first.imported, second.imported, second.rejected) == (2, 0, 2)
    assert all("already in the list" in r for _, r in rejects_of(second.reject_path))


async def test_duplicates_across_chunks_are_found(
    conn: asyncpg.Connection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A number repeated far apart in a big file (different chunks) is still a duplicate."""
    monkeypatch.setattr(importer, "CHUNK_ROWS", 3)
    src = tmp_path / "a.csv"
    src.write_text(
        "phone\n" + "".join(f"212555{1000 + i}\n" for i in range(7)) + "2125551001\n",
        encoding="utf-8",
    )
    result = await import_contacts(conn, src, list_name="a", now=T0)
    assert (result.imported, result.rejected) == (7, 1)
    assert rejects_of(result.reject_path) == [
        (9, "duplicate number +12125551001 (first on line 3)")
    ]


async def test_number_on_dnc_is_imported_flagged_and_never_leased(
    conn: asyncpg.Connection, tmp_path: Path
) -> None:
    """A do-not-call number is kept (flagged) but the hopper never hands it out."""
    camp, list_id = await campaign_with_contacts(conn, 0)
    await dnc.add(conn, "+12125550102", source="state list")
    src = tmp_path / "a.csv"
    src.write_text("phone,name\n2125550101,Ann\n2125550102,Bo\n", encoding="utf-8")
    name = await conn.fetchval("SELECT name FROM contact_lists WHERE id = $1", list_id)
    result = await import_contacts(conn, src, list_name=name, now=T0)
    assert (result.imported, result.dnc_flagged) == (2, 1)
    leads = await leasing.lease(conn, camp.id, 10, T0, dialer_id="d")
    assert [lead.e164 for lead in leads] == ["+12125550101"]
    await dnc.remove(conn, "+12125550102", reason="asked by mistake", actor="t", now=T0)
    assert await leasing.lease(conn, camp.id, 10, T0, dialer_id="d") == []


async def test_export_neutralises_formulas_and_imports_back(
    conn: asyncpg.Connection, tmp_path: Path
) -> None:
    """Exported cells cannot run as formulas, numbers stay plain E.164 and whole numbers,
    and the file re-imports to the same contacts."""
    src = tmp_path / "a.csv"
    src.write_text(
        "phone,phone2,name,priority,consent,Notes\n"
        "2125550101,2125550199,=cmd|' /C calc'!A0,-5,yes,\"@SUM(1,2)\"\n"
        "2125550102,,Bo,3,,plain\n",
        encoding="utf-8",
    )
    await import_contacts(conn, src, list_name="a", now=T0)
    out = tmp_path / "out.csv"
    result = await export_contacts(conn, "a", out)
    assert result.rows == 2
    with out.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == [
        "external_id",
        "name",
        "phone",
        "phone2",
        "time_zone",
        "priority",
        "consent",
        "dnc_flagged",
        "Notes",
    ]
    assert rows[1][1:4] == ["'=cmd|' /C calc'!A0", "+12125550101", "+12125550199"]
    assert rows[1][5] == "-5"
    assert rows[1][8] == "'@SUM(1,2)"
    again = await import_contacts(conn, out, list_name="b", now=T0)
    assert again.imported == 2
    assert again.reject_path is None
    a = await contacts.list_contacts(conn, (await contacts.get_list(conn, "a")).id)
    b = await contacts.list_contacts(conn, (await contacts.get_list(conn, "b")).id)

    def strip(c: contacts.Contact) -> tuple[object, ...]:
        return (c.name, [p.e164 for p in c.phones], c.priority, c.consent, c.fields)

    assert [strip(c) for c in a] == [strip(c) for c in b]


async def test_import_into_a_dialed_list_makes_leads(
    conn: asyncpg.Connection, tmp_path: Path
) -> None:
    """Contacts imported into a list a running campaign uses can be leased at once."""
    camp, list_id = await campaign_with_contacts(conn, 0)
    name = await conn.fetchval("SELECT name FROM contact_lists WHERE id = $1", list_id)
    src = tmp_path / "a.csv"
    src.write_text("phone,priority\n2125550101,1\n2125550102,9\n", encoding="utf-8")
    await import_contacts(conn, src, list_name=name, now=T0)
    leads = await leasing.lease(conn, camp.id, 10, T0, dialer_id="d")
    assert [lead.e164 for lead in leads] == ["+12125550102", "+12125550101"]


def big_file(path: Path, rows: int) -> Path:
    with path.open("w", encoding="utf-8") as out:
        out.write("phone,name\n")
        for i in range(rows):
            out.write(
                f"+1 {[212, 415, 312, 617][i % 4]} {200 + i // 40000} {(i // 4) % 10000:04d},P{i}\n"
            )
    return path


async def assert_store_empty(conn: asyncpg.Connection) -> None:
    for table in ("contact_lists", "contacts", "phone_numbers", "audit_log", "campaign_leads"):
        assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 0, table


async def test_cancelled_import_leaves_nothing(
    conn: asyncpg.Connection, tmp_path: Path, database_url: str
) -> None:
    """Cancelling the import task in the middle rolls everything back: no half list."""
    src = big_file(tmp_path / "big.csv", 120_000)
    worker = await asyncpg.connect(database_url)
    try:
        task = asyncio.create_task(import_contacts(worker, src, list_name="big", now=T0))
        # Wait until the first chunk has been written inside the import's transaction.
        for _ in range(600):
            await asyncio.sleep(0.05)
            busy = await conn.fetchval(
                """SELECT count(*) FROM pg_stat_activity
                   WHERE pid = $1 AND query LIKE '%import_staging%'""",
                worker.get_server_pid(),
            )
            if busy:
                break
        else:
            pytest.fail("the import never reached its first chunk")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    finally:
        await worker.close()
    await assert_store_empty(conn)
    assert sorted(os.listdir(tmp_path)) == ["big.csv"]


async def test_killed_import_process_leaves_nothing(
    conn: asyncpg.Connection, tmp_path: Path, database_url: str
) -> None:
    """SIGKILL of a process in the middle of `ccpbx contacts import` leaves no list, no file."""
    src = big_file(tmp_path / "big.csv", 150_000)
    script = (
        "import argparse, asyncio, sys\n"
        "from ccpbx.store.cli import register\n"
        "p = argparse.ArgumentParser(); register(p.add_subparsers())\n"
        "args = p.parse_args(['contacts', 'import', sys.argv[1], '--list', 'big'])\n"
        "asyncio.run(args.func(args, sys.argv[2]))\n"
    )
    proc = await asyncio.create_subprocess_exec(
        "python",
        "-c",
        script,
        str(src),
        database_url,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        for _ in range(1200):
            await asyncio.sleep(0.05)
            inserted = await conn.fetchval(
                """SELECT count(*) FROM pg_stat_activity
                   WHERE datname = current_database() AND query LIKE '%ANALYZE import_staging%'"""
            )
            if inserted:
                break
            assert proc.returncode is None, "the import ended before it could be killed"
        else:
            pytest.fail("the import never reached its first chunk")
        proc.kill()
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()
    # The server notices the dead client and rolls its transaction back.
    for _ in range(200):
        others = await conn.fetchval(
            """SELECT count(*) FROM pg_stat_activity
               WHERE datname = current_database() AND pid <> pg_backend_pid()"""
        )
        if not others:
            break
        await asyncio.sleep(0.05)
    await assert_store_empty(conn)
    assert sorted(os.listdir(tmp_path)) == ["big.csv"]


async def test_dnc_import_global_campaign_and_expiry(
    conn: asyncpg.Connection, tmp_path: Path
) -> None:
    """DNC files go to the global or a campaign list, with source and expiry; bad rows refused."""
    camp, _ = await campaign_with_contacts(conn, 0)
    src = tmp_path / "dnc.csv"
    src.write_text("number\n2125550101\n(212) 555-0102\nnope\n2125550101\n", encoding="utf-8")
    until = parse_expiry("2026-12-31")
    result = await import_dnc(conn, src, now=T0, source="state-2026", expires_at=until)
    assert (result.rows, result.imported, result.rejected) == (4, 2, 1)
    assert rejects_of(result.reject_path)[0][0] == 4
    assert await dnc.is_blocked(conn, "+12125550102", T0)
    assert not await dnc.is_blocked(conn, "+12125550102", dt.datetime(2027, 1, 1, tzinfo=dt.UTC))
    [entry] = [e for e in await dnc.entries(conn) if e.e164 == "+12125550101"]
    assert (entry.source, entry.expires_at) == ("state-2026", until)
    src.write_text("phone\n2125550103\n", encoding="utf-8")
    await import_dnc(conn, src, now=T0, campaign_id=camp.id)
    assert await dnc.is_blocked(conn, "+12125550103", T0, campaign_id=camp.id)
    assert not await dnc.is_blocked(conn, "+12125550103", T0)
