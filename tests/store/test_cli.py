"""The `ccpbx contacts` and `ccpbx dnc` commands, called the way the main CLI calls them."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
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
    """`contacts import` with --map and --region (a rejected row: exit 3), then
    `contacts export` of the same list."""
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
    assert code == 3
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


@pytest.mark.parametrize(
    "argv",
    [
        ("dnc", "import", "x.csv", "--expires", "soon"),
        ("dnc", "import", "x.csv", "--expires", "2020-01-01"),
        ("contacts", "import", "x.csv", "--list", "a", "--encoding", "klingon"),
        ("contacts", "import", "x.csv", "--list", "a", "--max-field", "0"),
        ("contacts", "import", "x.csv", "--list", "a", "--region", "ZZ"),
        ("dnc", "remove", "+12125550101"),
    ],
)
def test_bad_options_are_usage_errors(argv: tuple[str, ...]) -> None:
    """An unreadable or meaningless option value is a usage error (exit status 2)."""
    with pytest.raises(SystemExit) as exited:
        parse(*argv)
    assert exited.value.code == 2


async def test_rejects_exit_3_unless_allowed_and_json_adds_up(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A rejected row makes the import exit 3 (partial); --allow-rejects exits 0; --json
    prints one object whose line counts add up."""
    src = tmp_path / "in.csv"
    src.write_text('phone,name\n2125550101,Ann\nnope,Bo\n\n2125550102,"Cy\n', encoding="utf-8")
    assert await run(database_url, "contacts", "import", str(src), "--list", "a") == 3
    captured = capsys.readouterr()
    assert "exit status 3" in captured.err
    assert "lines: 5 = 1 header + 1 imported + 2 rejected + 1 blank (skipped)" in captured.out
    argv = ("contacts", "import", str(src), "--list", "b", "--json", "--allow-rejects")
    assert await run(database_url, *argv) == 0
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert data["status"] == "ok"
    assert data["records"] == {"read": 3, "imported": 1, "rejected": 2}
    lines = data["lines"]
    assert lines == {"total": 5, "header": 1, "accepted": 1, "rejected": 2, "skipped": 1}
    assert data["reject_file"] == str(tmp_path / "in.rejects.csv")
    assert "exit status" not in captured.err


async def test_dnc_remove_list_and_json(
    conn: asyncpg.Connection, database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`dnc import`, `dnc list --json`, `dnc remove --reason`: results on stdout, audited."""
    src = tmp_path / "dnc.csv"
    src.write_text("phone\n+12125550101\n+12125550102\n", encoding="utf-8")
    assert await run(database_url, "dnc", "import", str(src), "--source", "asked", "--json") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["numbers"]["added"] == 2
    assert await run(database_url, "dnc", "list", "--json") == 0
    listed = json.loads(capsys.readouterr().out)
    assert [e["e164"] for e in listed["entries"]] == ["+12125550101", "+12125550102"]
    assert all(e["expires_at"] is None for e in listed["entries"])
    code = await run(database_url, "dnc", "remove", "+12125550101", "--reason", "consent given")
    assert code == 0
    assert "removed +12125550101" in capsys.readouterr().out
    assert [e.e164 for e in await dnc.entries(conn)] == ["+12125550102"]
    actions = await conn.fetch("SELECT action, details FROM audit_log ORDER BY id")
    assert [a["action"] for a in actions] == ["dnc.import", "dnc.remove"]
    with pytest.raises(InvalidInput, match=r"E\.164"):
        await run(database_url, "dnc", "remove", "2125550102", "--reason", "x")
    with pytest.raises(NotFound):
        await run(database_url, "dnc", "remove", "+12125550102", "+12125550103", "--reason", "x")
    assert [e.e164 for e in await dnc.entries(conn)] == ["+12125550102"]


async def test_export_json_and_lists(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`contacts export --json` and `contacts lists --json` print one object each."""
    src = tmp_path / "in.csv"
    src.write_text("phone\n2125550101\n", encoding="utf-8")
    assert await run(database_url, "contacts", "import", str(src), "--list", "a") == 0
    capsys.readouterr()
    dest = tmp_path / "out.csv"
    assert await run(database_url, "contacts", "export", "--list", "a", str(dest), "--json") == 0
    assert json.loads(capsys.readouterr().out)["rows"] == 1
    assert await run(database_url, "contacts", "lists", "--json") == 0
    [only] = json.loads(capsys.readouterr().out)["lists"]
    assert (only["name"], only["contacts"]) == ("a", 1)


def test_every_command_and_option_has_help() -> None:
    """Each store command has a description and examples; each option says what it does."""
    parser = argparse.ArgumentParser(prog="ccpbx")
    sub = parser.add_subparsers(dest="command")
    register(sub)
    for group in ("contacts", "dnc"):
        commands = sub.choices[group]._subparsers._group_actions[0].choices  # type: ignore[union-attr]
        for name, command in commands.items():
            assert command.description, (group, name)
            assert "examples:" in (command.epilog or ""), (group, name)
            for action in command._actions:
                assert action.help, (group, name, action.dest)


def test_import_logs_to_stderr_and_summary_to_stdout(database_url: str, tmp_path: Path) -> None:
    """Run as a program: the log event goes to stderr, the summary alone to stdout, exit 3
    for a partial import."""
    src = tmp_path / "in.csv"
    src.write_text("phone\n2125550101\nnope\n", encoding="utf-8")
    env = {**os.environ, "DATABASE_URL": database_url, "CCPBX_LOG_LEVEL": "info"}
    env.pop("CCPBX_CONFIG", None)
    done = subprocess.run(
        [sys.executable, "-m", "ccpbx", "contacts", "import", str(src), "--list", "a"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 3, done.stderr
    assert done.stdout.splitlines()[0].startswith("2 rows read, 1 contacts imported, 1 rejected")
    assert "contacts_imported" not in done.stdout
    events = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    assert [e["event"] for e in events] == ["contacts_imported"]
