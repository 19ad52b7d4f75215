"""`ccpbx campaign create|start|pause|list`, called the way the main CLI calls them."""

from __future__ import annotations

import argparse

import asyncpg
import pytest

from ccpbx.dialer.cli import register
from ccpbx.errors import InvalidInput, NotFound
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
        queue = await conn.fetchval("SELECT name FROM queues WHERE id = $1", camp.settings.queue_id)
        assert queue == "outbound"
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


async def test_bad_input_is_refused_and_nothing_is_created(database_url: str) -> None:
    """A ring timeout under 15 s, a bad retry, an unknown list: clear errors, no campaign."""
    base = ("campaign", "create", "x", "--queue", "q1", "--trunk", "t", "--caller-id", "+1")
    with pytest.raises(InvalidInput, match="at least 15"):
        await run(database_url, *base, "--ring-timeout", "10")
    with pytest.raises(InvalidInput, match="OUTCOME=SECONDS"):
        await run(database_url, *base, "--retry", "busy")
    with pytest.raises(NotFound):
        await run(database_url, *base, "--list", "ghost")
    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM campaigns") == 0
        assert await conn.fetchval("SELECT count(*) FROM queues") == 0
    finally:
        await conn.close()
