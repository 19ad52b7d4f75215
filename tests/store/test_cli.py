"""The `ccpbx contacts` and `ccpbx dnc` commands, called the way the main CLI calls them."""

from __future__ import annotations

import argparse
from pathlib import Path

import asyncpg
import pytest

from ccpbx.errors import InvalidInput, NotFound
from ccpbx.store import contacts, dnc
from ccpbx.store.cli import register

from .factories import campaign_with_contacts


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="ccpbx")
    register(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


async def run(database_url: str, *argv: str) -> int:
    args = parse(*argv)
    return int(await args.func(args, database_url))


async def test_import_then_export(
    conn: asyncpg.Connection,
    database_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`contacts import` with --map and --region, then `contacts export` of the same list."""
    src = tmp_path / "in.csv"
    src.write_text("Tel;Who\n06 12 34 56 78;Zoë\n0612;Bad\n", encoding="utf-8")
    code = await run(
        database_url,
        "contacts",
        "import",
        str(src),
        "--list",
        "fr",
        "--region",
        "FR",
        "--map",
        "Tel=phone",
        "--map",
        "Who=name",
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "2 rows read, 1 contacts imported, 1 rejected" in out
    assert str(tmp_path / "in.rejects.csv") in out
    clist = await contacts.get_list(conn, "fr")
    assert clist.default_region == "FR"
    dest = tmp_path / "out.csv"
    assert await run(database_url, "contacts", "export", "--list", "fr", str(dest)) == 0
    assert ",Zoë,+33612345678,,0,,no" in dest.read_text(encoding="utf-8")


async def test_import_refuses_unknown_column_and_missing_file(
    conn: asyncpg.Connection, database_url: str, tmp_path: Path
) -> None:
    """A --map to a missing column or a missing file is an InvalidInput; nothing is created."""
    src = tmp_path / "in.csv"
    src.write_text("phone\n2125550101\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="Tel"):
        await run(database_url, "contacts", "import", str(src), "--list", "a", "--map", "Tel=phone")
    with pytest.raises(InvalidInput, match="no such file"):
        await run(database_url, "contacts", "import", str(tmp_path / "nope.csv"), "--list", "a")
    assert await contacts.list_lists(conn) == []


async def test_export_of_unknown_list(database_url: str, tmp_path: Path) -> None:
    """Exporting a list that does not exist says so."""
    with pytest.raises(NotFound):
        await run(database_url, "contacts", "export", "--list", "ghost", str(tmp_path / "x.csv"))


async def test_dnc_import_for_a_campaign_with_expiry(
    conn: asyncpg.Connection, database_url: str, tmp_path: Path
) -> None:
    """`dnc import --campaign --source --expires` puts the numbers on that campaign's list."""
    camp, _ = await campaign_with_contacts(conn, 0)
    src = tmp_path / "dnc.txt"
    src.write_text("phone\n+1 212 555 0101\n", encoding="utf-8")
    code = await run(
        database_url,
        "dnc",
        "import",
        str(src),
        "--campaign",
        camp.name,
        "--source",
        "complaint",
        "--expires",
        "2026-12-31",
    )
    assert code == 0
    [entry] = await dnc.entries(conn, campaign_id=camp.id)
    assert (entry.e164, entry.source) == ("+12125550101", "complaint")
    assert entry.expires_at is not None
    assert entry.expires_at.isoformat() == "2027-01-01T00:00:00+00:00"
    with pytest.raises(NotFound):
        await run(database_url, "dnc", "import", str(src), "--campaign", "ghost")
    with pytest.raises(InvalidInput):
        await run(database_url, "dnc", "import", str(src), "--expires", "soon")
