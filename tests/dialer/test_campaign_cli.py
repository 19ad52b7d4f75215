"""`ccpbx campaign create|start|pause|list`, called the way the main CLI calls them."""

from __future__ import annotations

import argparse
import json

import asyncpg
import pytest

from ccpbx.acd import QueueConfig
from ccpbx.dialer.cli import register
from ccpbx.errors import InvalidInput, NotFound
from ccpbx.queues.model import QueueSpec
from ccpbx.queues.store import save_queue
from ccpbx.store import campaigns, contacts
from tests.store.factories import bulk_contacts


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="ccpbx")
    register(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


async def run(database_url: str, *argv: str) -> int:
    args = parse(*argv)
    return int(await args.func(args, database_url))


async def test_create_start_pause_list(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A campaign created over a list is paused with its leads; start and pause change
    its stored status (which the daemon follows); list shows it."""
    conn = await asyncpg.connect(database_url)
    try:
        clist = await contacts.create_list(conn, "spring")
        await bulk_contacts(conn, clist.id, 25)
        await save_queue(conn, QueueSpec(QueueConfig("outbound")))
        code = await run(
            database_url,
            *("campaign", "create", "spring-sale", "--queue", "outbound", "--list", "spring"),
            *("--trunk", "carrier", "--caller-id", "+12125550000", "--retry", "busy=600"),
            *("--window", "09:00-20:00", "--mode", "progressive"),
        )
        assert code == 0
        assert "25 leads, paused" in capsys.readouterr().out
        camp = await campaigns.get_campaign(conn, "spring-sale")
        assert camp.status == "paused"
        assert camp.settings.retry_delays == {"busy": 600}
        assert (camp.settings.window.start_min, camp.settings.window.end_min) == (540, 1200)
        assert camp.settings.queue == "outbound"
        await run(database_url, "campaign", "start", "spring-sale")
        assert (await campaigns.get_campaign(conn, "spring-sale")).status == "running"
        await run(database_url, "campaign", "pause", "spring-sale")
        assert (await campaigns.get_campaign(conn, "spring-sale")).status == "paused"
        capsys.readouterr()
        await run(database_url, "campaign", "list")
        line = next(x for x in capsys.readouterr().out.splitlines() if "spring-sale" in x)
        assert line.split()[1:4] == ["paused", "progressive", "outbound"]
        assert line.split()[4] == "25"
    finally:
        await conn.close()


async def test_bad_input_is_refused_and_nothing_is_created(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bad option values are usage errors naming the option (argparse exits 2); an unknown
    queue, list or retry outcome fails with what exists; nothing is created either way."""
    conn = await asyncpg.connect(database_url)
    try:
        await save_queue(conn, QueueSpec(QueueConfig("q1")))
        await save_queue(conn, QueueSpec(QueueConfig("q2")))
        base = ("campaign", "create", "x", "--queue", "q1", "--trunk", "t")
        good_caller = ("--caller-id", "+12125550000")
        for bad in (
            ("--ring-timeout", "10"),
            ("--retry", "busy"),
            ("--abandon-target", "nan"),
            ("--window", "8-21"),
            ("--max-per-day", "0"),
            ("--cap-time-zone", "Mars/Olympus"),
        ):
            with pytest.raises(SystemExit) as usage:
                parse(*base, *good_caller, *bad)
            assert usage.value.code == 2
            assert bad[0] in capsys.readouterr().err
        for caller, why in (
            ("2125550000", "is not E.164"),
            ("+1", "is not a phone number"),
            ("+1212555", "is not a valid number"),
        ):
            with pytest.raises(SystemExit) as usage:
                parse(*base, "--caller-id", caller)
            assert usage.value.code == 2
            assert f"--caller-id: caller ID {caller!r} {why}" in capsys.readouterr().err
        with pytest.raises(NotFound) as unknown_queue:
            await run(database_url, *base[:4], "ghost", *base[5:], *good_caller)
        assert "known queues: q1, q2" in unknown_queue.value.message
        with pytest.raises(NotFound):
            await run(database_url, *base, *good_caller, "--list", "ghost")
        with pytest.raises(InvalidInput, match="bussy"):
            await run(database_url, *base, *good_caller, "--retry", "bussy=60")
        assert await conn.fetchval("SELECT count(*) FROM campaigns") == 0
        assert await conn.fetchval("SELECT count(*) FROM acd_queues") == 2  # q1 and q2 only
    finally:
        await conn.close()


async def test_list_without_campaigns_and_json(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`campaign list` with no campaigns succeeds (a hint on stderr, nothing on stdout);
    with --json it prints an array a script can read, and the caller ID is stored as E.164."""
    assert await run(database_url, "campaign", "list") == 0
    out = capsys.readouterr()
    assert out.out == ""
    assert "no campaigns" in out.err
    assert await run(database_url, "campaign", "list", "--json") == 0
    assert json.loads(capsys.readouterr().out) == []
    conn = await asyncpg.connect(database_url)
    try:
        await save_queue(conn, QueueSpec(QueueConfig("sales")))
    finally:
        await conn.close()
    await run(
        database_url,
        *("campaign", "create", "c1", "--queue", "sales", "--trunk", "t"),
        *("--caller-id", "+1 212 555 0000", "--json"),
    )
    created = json.loads(capsys.readouterr().out)
    assert (created["campaign"], created["leads"], created["status"]) == ("c1", 0, "paused")
    await run(database_url, "campaign", "list", "--json")
    (row,) = json.loads(capsys.readouterr().out)
    assert (row["name"], row["queue"], row["ready"]) == ("c1", "sales", 0)
    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT caller_id FROM campaigns") == "+12125550000"
    finally:
        await conn.close()
