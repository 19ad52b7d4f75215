"""Contact store benchmark: CSV import rate and memory, lead leasing rate and latency.

    .venv/bin/python bench/store_bench.py [--rows N] [--leasers 4] [--batch 10]

1. Writes a synthetic CSV of N contacts (default 1,000,000), imports it with
   the same code as ``ccpbx contacts import``; prints rows/s end to end and
   the process's RSS (sampled during the import, and the peak).
2. Attaches the imported list to a campaign and runs ``--leasers`` concurrent
   leasers, each on its own connection, until the campaign is drained or
   ``--lease-seconds`` pass; prints leads/s and lease latency percentiles.

Uses its own database on the configured server (DATABASE_URL, the local
server, or a throwaway cluster), dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from targets import check

from ccpbx.sandbox import postgres
from ccpbx.store import campaigns, leasing
from ccpbx.store.campaigns import CampaignSettings
from ccpbx.store.importer import import_contacts
from ccpbx.store.migrate import migrate
from ccpbx.store.phones import CallingWindow

NPAS = (
    212,
    310,
    415,
    312,
    617,
    713,
    305,
    206,
    404,
    503,
    602,
    303,
    612,
    314,
    702,
    808,
    907,
    215,
    214,
    512,
)
NOW = dt.datetime(2026, 3, 2, 17, 0, tzinfo=dt.UTC)


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def backend_cpu(pid: int) -> float:
    """CPU seconds used so far by a PostgreSQL backend (local server only, else 0)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load() -> str:
    return "load average " + " ".join(f"{x:.1f}" for x in os.getloadavg())


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_csv(path: Path, rows: int) -> None:
    """Contacts with a unique valid US number each, in several time zones."""
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("Name,Phone,Email,Priority,Notes\n")
        n = len(NPAS)
        for i in range(rows):
            rest = i // n
            exchange = 200 + (rest // 10000) % 800
            out.write(
                f"Contact {i},({NPAS[i % n]}) {exchange}-{rest % 10000:04d},"
                f'c{i}@example.com,{i % 3},"note, with comma {i}"\n'
            )


@contextlib.contextmanager
def server() -> Iterator[str]:
    url = postgres.configured_url()
    if asyncio.run(postgres.reachable(url)):
        yield url
        return
    with postgres.throwaway_cluster() as cluster:
        yield cluster.url


async def bench_import(url: str, rows: int) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "contacts.csv"
        t0 = time.perf_counter()
        write_csv(path, rows)
        size = path.stat().st_size
        print(f"generated {rows} rows ({size / 2**20:.0f} MiB) in {time.perf_counter() - t0:.1f} s")
        conn = await asyncpg.connect(url)
        samples: list[float] = []
        stop = asyncio.Event()

        async def sample() -> None:
            while not stop.is_set():
                samples.append(rss_mb())
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 0.5)

        sampler = asyncio.create_task(sample())
        before = rss_mb()
        backend = conn.get_server_pid()
        try:
            print(f"import starts, {load()}")
            t0 = time.perf_counter()
            cpu0, pg0 = time.process_time(), backend_cpu(backend)
            result = await import_contacts(conn, path, list_name="bench", now=NOW)
            elapsed = time.perf_counter() - t0
            cpu, pg = time.process_time() - cpu0, backend_cpu(backend) - pg0
        finally:
            stop.set()
            await sampler
            await conn.close()
    print(
        f"import: {result.imported} contacts imported, {result.rejected} rejected,"
        f" {elapsed:.1f} s, {result.rows / elapsed:,.0f} rows/s end to end"
    )
    print(
        f"import CPU: this process {cpu:.1f} s ({cpu / result.rows * 1e6:.0f} us/row),"
        f" its PostgreSQL backend {pg:.1f} s ({pg / result.rows * 1e6:.0f} us/row); {load()}"
    )
    print(
        f"import memory: RSS before {before:.0f} MB, during max {max(samples):.0f} MB"
        f" (samples every 0.5 s: min {min(samples):.0f}, median {statistics.median(samples):.0f}),"
        f" process peak {peak_rss_mb():.0f} MB"
    )
    check(
        "contact import rows per second, end to end", result.rows / elapsed, ">=", 20_000, "rows/s"
    )
    check("import peak memory (RSS)", peak_rss_mb(), "<", 300, "MB")
    assert result.list_id is not None
    return result.list_id


async def bench_lease(url: str, list_id: int, leasers: int, batch: int, seconds: float) -> None:
    conn = await asyncpg.connect(url)
    try:
        settings = CampaignSettings(
            mode="predictive",
            trunk="carrier",
            caller_id="+12125550000",
            window=CallingWindow(0, 24 * 60),
        )
        camp = await campaigns.create_campaign(conn, "bench", settings, status="running")
        t0 = time.perf_counter()
        leads = await campaigns.attach_list(conn, camp.id, list_id, NOW)
        await conn.execute("ANALYZE")
        print(f"campaign: {leads} leads attached in {time.perf_counter() - t0:.1f} s")
    finally:
        await conn.close()

    latencies: list[float] = []
    counts = [0] * leasers
    pg_cpu = [0.0] * leasers
    deadline = time.perf_counter() + seconds

    async def leaser(k: int) -> None:
        c = await asyncpg.connect(url)
        pid = c.get_server_pid()
        start = backend_cpu(pid)
        try:
            while time.perf_counter() < deadline:
                t = time.perf_counter()
                got = await leasing.lease(c, camp.id, batch, NOW, dialer_id=f"bench-{k}")
                latencies.append(time.perf_counter() - t)
                if not got:
                    return
                counts[k] += len(got)
        finally:
            pg_cpu[k] = backend_cpu(pid) - start
            await c.close()

    print(f"leasing starts, {load()}")
    t0 = time.perf_counter()
    cpu0 = time.process_time()
    await asyncio.gather(*(leaser(k) for k in range(leasers)))
    cpu = time.process_time() - cpu0
    elapsed = time.perf_counter() - t0
    total = sum(counts)
    ms = sorted(x * 1000 for x in latencies)

    def pct(p: float) -> float:
        return ms[min(len(ms) - 1, int(p * len(ms)))]

    print(
        f"lease: {leasers} leasers x batch {batch}: {total} leads in {elapsed:.1f} s ="
        f" {total / elapsed:,.0f} leads/s; latency per lease call p50 {pct(0.5):.1f} ms,"
        f" p99 {pct(0.99):.1f} ms, max {ms[-1]:.1f} ms ({len(ms)} calls)"
    )
    check(f"leads leased per second ({leasers} leasers)", total / elapsed, ">=", 2_000, "leads/s")
    check("lease call latency p99", pct(0.99), "<", 20, "ms")
    print(
        f"lease CPU: this process {cpu:.1f} s, PostgreSQL backends {sum(pg_cpu):.1f} s"
        f" ({sum(pg_cpu) / max(total, 1) * 1e6:.0f} us/lead); {load()}"
    )
    conn = await asyncpg.connect(url)
    try:
        dup = await conn.fetchval(
            """SELECT count(*) FROM (SELECT contact_id FROM call_attempts
               GROUP BY contact_id HAVING count(*) > 1) d"""
        )
        print(f"lease check: contacts leased more than once: {dup}")
        check("contacts leased more than once", dup, "<=", 0)
    finally:
        await conn.close()


async def run(server_url: str, args: argparse.Namespace) -> None:
    url = await postgres.create_database(server_url, prefix="ccpbx_bench")
    try:
        conn = await asyncpg.connect(url)
        try:
            await migrate(conn)
        finally:
            await conn.close()
        list_id = await bench_import(url, args.rows)
        await bench_lease(url, list_id, args.leasers, args.batch, args.lease_seconds)
    finally:
        await postgres.drop_database(server_url, url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--leasers", type=int, default=4)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--lease-seconds", type=float, default=20.0)
    args = parser.parse_args()
    with server() as url:
        asyncio.run(run(url, args))


if __name__ == "__main__":
    main()
