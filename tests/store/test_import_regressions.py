"""The three data defects of issue 18 with the exact files described, and a property test:
an import refuses the file or accounts for every physical line, storing nothing too long."""

from __future__ import annotations

import asyncio
import codecs
import datetime as dt
import itertools
from pathlib import Path

import asyncpg
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from ccpbx.errors import InvalidInput
from ccpbx.store import contacts, dnc, leasing
from ccpbx.store.dnc_import import import_dnc, parse_expiry
from ccpbx.store.importer import import_contacts

from .factories import T0, campaign_with_contacts


async def test_utf8_file_with_bom_and_one_latin1_byte_is_refused_whole(
    conn: asyncpg.Connection, tmp_path: Path
) -> None:
    """BOM + UTF-8 names + one Latin-1 byte: refused with line and column, nothing stored;
    the header never reads "ï»¿phone", no name is ever stored garbled."""
    src = tmp_path / "leads.csv"
    rows = [f"2125550{100 + i},José Núñez {i}" for i in range(20)]
    rows[6] = "2125550106,Andr\udce9"  # one Latin-1 "é" on line 8
    src.write_bytes(
        codecs.BOM_UTF8
        + ("phone,name\n" + "\n".join(rows) + "\n").encode("utf-8", "surrogateescape")
    )
    with pytest.raises(InvalidInput, match=r"not valid UTF-8: line 8, column 16: byte e9"):
        await import_contacts(conn, src, list_name="spring", now=T0)
    assert await conn.fetchval("SELECT count(*) FROM contacts") == 0
    with pytest.raises(InvalidInput, match="byte-order mark"):
        await import_contacts(conn, src, list_name="spring", now=T0, encoding="latin-1")
    # Fixed at the byte named, the file imports with its names intact.
    src.write_bytes(src.read_bytes().replace(b"Andr\xe9", "André".encode()))
    result = await import_contacts(conn, src, list_name="spring", now=T0)
    assert (result.imported, result.rejected) == (20, 0)
    clist = await contacts.get_list(conn, "spring")
    people = await contacts.list_contacts(conn, clist.id)
    assert people[0].name == "José Núñez 0"
    assert people[6].name == "André"


async def test_stray_quote_in_row_11_of_1000_rejects_that_row_only(
    conn: asyncpg.Connection, tmp_path: Path
) -> None:
    """One unbalanced opening quote in row 11 of 1,000: row 11 rejected ("unclosed quote"),
    the 989 rows after it imported as rows, every line accounted for, no 23k-char name."""
    src = tmp_path / "big.csv"
    lines = ["phone,name,city"]
    for i in range(1, 1001):
        name = f'"Jose Nunez {i}' if i == 11 else f"Contact {i}"
        lines.append(f"+1 212 {200 + i // 100} {i % 100:04d},{name},NYC")
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = await import_contacts(conn, src, list_name="big", now=T0)
    assert (result.rows, result.imported, result.rejected) == (1000, 999, 1)
    n = result.lines
    assert (n.total, n.header, n.accepted, n.rejected, n.skipped) == (1001, 1, 999, 1, 0)
    assert result.reject_path == tmp_path / "big.rejects.csv"
    text = result.reject_path.read_text(encoding="utf-8")
    assert text.splitlines()[1].startswith("12,unclosed quote")
    longest = await conn.fetchval("SELECT max(length(name)) FROM contacts")
    assert longest <= len("Contact 1000")


async def test_dnc_reimport_with_a_past_expiry_never_unprotects(
    conn: asyncpg.Connection, tmp_path: Path
) -> None:
    """`dnc import --source customer-request`, then the same file with --expires 2020-01-01:
    refused as protecting nothing; a later-dated re-import leaves the entry permanent."""
    camp, list_id = await campaign_with_contacts(conn, 0)
    name = await conn.fetchval("SELECT name FROM contact_lists WHERE id = $1", list_id)
    src = tmp_path / "dnc.csv"
    src.write_text("phone\n+12125550101\n", encoding="utf-8")
    first = await import_dnc(conn, src, now=T0, source="customer-request")
    assert (first.added, first.unchanged) == (1, 0)
    with pytest.raises(InvalidInput, match="already past"):
        await import_dnc(
            conn, src, now=T0, source="customer-request", expires_at=parse_expiry("2020-01-01")
        )
    again = await import_dnc(
        conn, src, now=T0, source="state-list", expires_at=parse_expiry("2026-12-31")
    )
    assert (again.added, again.widened, again.unchanged, again.imported) == (0, 0, 1, 0)
    [entry] = await dnc.entries(conn)
    assert (entry.source, entry.expires_at) == ("customer-request", None)
    # The leaser reads it as permanent: a contact with that number is never leased.
    contacts_csv = tmp_path / "c.csv"
    contacts_csv.write_text("phone\n2125550101\n2125550102\n", encoding="utf-8")
    await import_contacts(conn, contacts_csv, list_name=name, now=T0)
    await conn.execute("UPDATE phone_numbers SET dnc_flagged = false")
    later = dt.datetime(2030, 1, 1, 17, tzinfo=dt.UTC)
    leads = await leasing.lease(conn, camp.id, 10, later, dialer_id="d")
    assert [lead.e164 for lead in leads] == ["+12125550102"]


_physical_line_ends = ("\n", "\r\n", "\r")
_cell_text = st.lists(
    st.sampled_from([*'ab é,;"\t\n\r\x00|ñ', "2125550101", "+1 212 555 01", "=1+2"]),
    max_size=8,
).map("".join)


@st.composite
def csv_files(draw: st.DrawFn) -> tuple[bytes, str | None, int]:
    """Random CSV-ish content: quotes, separators, line ends, BOMs, NULs, long fields."""
    sep = draw(st.sampled_from([",", ";", "\t", "|"]))
    header = sep.join(draw(st.sampled_from([["phone", "name"], ["phone", "name", "notes"]])))
    rows = []
    for _ in range(draw(st.integers(0, 12))):
        cells = draw(st.lists(st.one_of(_cell_text, st.just("x" * 70)), min_size=0, max_size=4))
        number = draw(st.sampled_from(["21255501", "+1212555", "", '"2125550']))
        cells.insert(0, number + str(draw(st.integers(10, 99))))
        rows.append(sep.join(cells))
    end = draw(st.sampled_from(_physical_line_ends))
    text = end.join([header, *rows]) + draw(st.sampled_from(["", end]))
    encoding = draw(st.sampled_from([None, "latin-1", "cp1252"]))
    if encoding is None:
        data = text.encode("utf-8")
        if draw(st.booleans()):
            data = codecs.BOM_UTF8 + data
    else:
        data = text.encode(encoding, "replace")
    if draw(st.booleans()):
        data += draw(st.binary(max_size=4))
    return data, encoding, draw(st.sampled_from([16, 64, 4096]))


def physical_lines(text: str) -> int:
    return len(text.replace("\r\n", "\n").replace("\r", "\n").split("\n")) - (
        1 if text.endswith(("\n", "\r")) else 0
    )


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(sample=csv_files())
def test_import_refuses_or_accounts_for_every_line(
    database_url: str,
    tmp_path_factory: pytest.TempPathFactory,
    sample: tuple[bytes, str | None, int],
) -> None:
    """For any content: the import refuses the file, or imported + rejected + skipped lines
    (+ the header) = physical lines; no stored value is longer than the field limit."""
    data, encoding, limit = sample
    path = tmp_path_factory.mktemp("prop") / "in.csv"
    path.write_bytes(data)
    asyncio.run(_import_and_check(database_url, path, data, encoding, limit))


_lists = itertools.count()


async def _import_and_check(
    url: str, path: Path, data: bytes, encoding: str | None, limit: int
) -> None:
    conn = await asyncpg.connect(url)
    try:
        name = f"p{next(_lists)}"
        try:
            result = await import_contacts(
                conn, path, list_name=name, now=T0, encoding=encoding, max_field=limit
            )
        except InvalidInput:
            assert (
                await conn.fetchval("SELECT count(*) FROM contact_lists WHERE name = $1", name) == 0
            )
            return
        event("imported" if result.imported else "nothing imported")
        event("rows rejected" if result.rejected else "no rejects")
        codec = "utf-8-sig" if encoding is None else encoding
        n = result.lines
        assert n.total == physical_lines(data.decode(codec))
        assert n.total == n.header + n.accepted + n.rejected + n.skipped
        assert result.rows == result.imported + result.rejected
        longest = await conn.fetchval(
            """SELECT max(greatest(length(c.name), length(c.external_id),
                                   (SELECT max(length(v)) FROM jsonb_each_text(c.fields) f(k, v))))
               FROM contacts c JOIN contact_lists l ON l.id = c.list_id WHERE l.name = $1""",
            name,
        )
        assert longest is None or longest <= limit
    finally:
        await conn.close()
