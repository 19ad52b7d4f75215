"""Many dialers draining one 100,000-contact campaign: every contact leased exactly once."""

from __future__ import annotations

import asyncio
import sys
from collections import Counter

import asyncpg

from ccpbx.store import leasing

from .factories import T0, campaign_with_contacts

CONTACTS = 100_000
BATCH = 500


async def drain(url: str, campaign_id: int, dialer: str) -> list[int]:
    conn = await asyncpg.connect(url)
    got: list[int] = []
    try:
        while leads := await leasing.lease(conn, campaign_id, BATCH, T0, dialer_id=dialer):
            got.extend(lead.contact_id for lead in leads)
    finally:
        await conn.close()
    return got


async def assert_each_leased_once(conn: asyncpg.Connection) -> Counter[str]:
    row = await conn.fetchrow(
        "SELECT count(*) AS n, count(DISTINCT contact_id) AS distinct_n FROM call_attempts"
    )
    assert row is not None
    assert (row["n"], row["distinct_n"]) == (CONTACTS, CONTACTS)
    leased = await conn.fetchval("SELECT count(*) FROM campaign_leads WHERE status = 'leased'")
    assert leased == CONTACTS
    rows = await conn.fetch("SELECT dialer_id, count(*) AS n FROM call_attempts GROUP BY 1")
    return Counter({r["dialer_id"]: r["n"] for r in rows})


async def test_eight_concurrent_leasers(conn: asyncpg.Connection, database_url: str) -> None:
    """8 tasks on 8 connections lease concurrently: no contact twice, none left out."""
    camp, _ = await campaign_with_contacts(conn, CONTACTS)
    await conn.execute("ANALYZE")
    results = await asyncio.gather(*(drain(database_url, camp.id, f"d{k}") for k in range(8)))
    every = [cid for got in results for cid in got]
    assert len(every) == len(set(every)) == CONTACTS
    per_dialer = await assert_each_leased_once(conn)
    assert len(per_dialer) == 8, "every leaser got a share"


_WORKER = """
import asyncio, datetime as dt, sys
import asyncpg
from ccpbx.store import leasing

async def main(url, campaign_id, dialer, batch):
    conn = await asyncpg.connect(url)
    print("ready", flush=True)
    sys.stdin.readline()
    n = 0
    now = dt.datetime.fromisoformat(sys.argv[5])
    while leads := await leasing.lease(conn, campaign_id, batch, now, dialer_id=dialer):
        n += len(leads)
    await conn.close()
    print(n, flush=True)

asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])))
"""


async def test_two_processes(conn: asyncpg.Connection, database_url: str) -> None:
    """2 OS processes, started together, split the campaign with no overlap."""
    camp, _ = await campaign_with_contacts(conn, CONTACTS)
    await conn.execute("ANALYZE")
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            _WORKER,
            database_url,
            str(camp.id),
            f"p{k}",
            str(BATCH),
            T0.isoformat(),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        for k in range(2)
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None
            assert (await proc.stdout.readline()).strip() == b"ready"
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write(b"go\n")
            await proc.stdin.drain()
        counts = []
        for proc in procs:
            out, _ = await proc.communicate()
            assert proc.returncode == 0
            counts.append(int(out.strip()))
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    assert sum(counts) == CONTACTS
    per_dialer = await assert_each_leased_once(conn)
    assert per_dialer == Counter({"p0": counts[0], "p1": counts[1]})
    assert min(counts) > 0, "both processes got a share"
