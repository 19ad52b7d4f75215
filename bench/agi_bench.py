"""FastAGI server benchmark over loopback.

    .venv/bin/python bench/agi_bench.py [--concurrency 200] [--seconds 6] [--idle 1000]

The server runs in this process; a second process plays Asterisk (sends the
environment, answers every command with `200 result=0`). Phase 1: `--concurrency`
clients open sessions back to back for `--seconds`; the handler answers, streams a
file and sets a variable (the server then sets CCPBX_AGI_STATUS, four commands in
all). Printed: sessions per second, session latency seen by the client (connect to
close) and the single-command round trip seen by the handler. Phase 2: `--idle`
sessions each wait on an unanswered command; the server's memory per idle session is
printed from tracemalloc and from the RSS growth. Logs below warning are dropped unless
--with-logs (then every event is rendered as JSON into /dev/null, as in production).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing as mp
import statistics
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import structlog

from ccpbx.agi import AgiSession, FastAgiServer

ENV_LINES = {
    "agi_network": "yes",
    "agi_channel": "PJSIP/carrier-00000001",
    "agi_language": "en",
    "agi_type": "PJSIP",
    "agi_uniqueid": "1763900000.1",
    "agi_version": "22.10.1",
    "agi_callerid": "31201234567",
    "agi_calleridname": "Bench",
    "agi_callingpres": "0",
    "agi_dnid": "8001",
    "agi_rdnis": "unknown",
    "agi_context": "inbound",
    "agi_extension": "8001",
    "agi_priority": "2",
    "agi_enhanced": "0.0",
    "agi_accountcode": "",
    "agi_threadid": "140000000000000",
}


def env_for(script: str, port: int) -> bytes:
    lines = [f"agi_network_script: {script}", f"agi_request: agi://127.0.0.1:{port}/{script}"]
    lines += [f"{key}: {value}" for key, value in ENV_LINES.items()]
    return ("\n".join(lines) + "\n\n").encode()


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


# ---- Asterisk side (runs in the client process) ---------------------------------------


async def play_asterisk(port: int, env: bytes) -> float:
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(env)
    while line := await reader.readline():
        if line.startswith(b"WAIT FOR DIGIT"):
            continue  # idle phase: leave it unanswered
        writer.write(b"200 result=0\n")
    writer.close()
    await writer.wait_closed()
    return time.perf_counter() - started


async def load(port: int, concurrency: int, seconds: float) -> list[float]:
    env = env_for("bench", port)
    latencies: list[float] = []
    stop_at = time.perf_counter() + seconds

    async def worker() -> None:
        while time.perf_counter() < stop_at:
            latencies.append(await play_asterisk(port, env))

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies


async def hold_idle(port: int, count: int, ready: Any, release: Any) -> None:
    env = env_for("idle", port)
    conns = []
    for _ in range(count):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(env)
        conns.append((reader, writer))
    ready.set()
    await asyncio.get_running_loop().run_in_executor(None, release.wait)
    for _, writer in conns:
        writer.close()
    await asyncio.gather(*(writer.wait_closed() for _, writer in conns), return_exceptions=True)


def client_process(mode: str, port: int, options: dict[str, Any], out: Any) -> None:
    if mode == "load":
        cpu = time.process_time()
        latencies = asyncio.run(load(port, options["concurrency"], options["seconds"]))
        out.put((latencies, time.process_time() - cpu))
    else:
        asyncio.run(hold_idle(port, options["count"], options["ready"], options["release"]))


# ---- server side ----------------------------------------------------------------------


async def main(concurrency: int, seconds: float, idle: int) -> None:
    rtts: list[float] = []

    async def timed(session: AgiSession, command: str, *args: str) -> None:
        started = time.perf_counter()
        await session.command(command, *args)
        rtts.append(time.perf_counter() - started)

    async def bench(session: AgiSession) -> None:
        await timed(session, "ANSWER")
        await timed(session, "STREAM FILE", "beep", "")
        await timed(session, "SET VARIABLE", "BENCH", "1")

    async def idle_handler(session: AgiSession) -> None:
        await session.command("WAIT FOR DIGIT", 600000, deadline=600)

    ctx = mp.get_context("spawn")
    handlers = {"bench": bench, "idle": idle_handler}
    async with FastAgiServer("127.0.0.1", 0, handlers, header_timeout=5.0) as server:
        out = ctx.Queue()
        proc = ctx.Process(
            target=client_process,
            args=("load", server.port, {"concurrency": concurrency, "seconds": seconds}, out),
        )
        proc.start()
        loop = asyncio.get_running_loop()
        cpu = time.process_time()
        latencies, client_cpu = await loop.run_in_executor(None, out.get)
        server_cpu = time.process_time() - cpu
        await loop.run_in_executor(None, proc.join)
        stats = server.stats()
        print(f"load: {concurrency} concurrent clients for {seconds:.0f} s (server and clients")
        print("      on the same machine, separate processes, loopback TCP)")
        print(f"  sessions completed      {len(latencies)}  (server: ok={stats.sessions_ok},")
        print(f"                          failures={stats.handler_failures})")
        print(f"  sessions per second     {len(latencies) / seconds:.0f}")
        print(f"  session latency p50     {statistics.median(latencies) * 1000:.1f} ms")
        print(f"  session latency p99     {percentile(latencies, 0.99) * 1000:.1f} ms")
        print(f"  command round trip p50  {statistics.median(rtts) * 1000:.2f} ms")
        print(f"  command round trip p99  {percentile(rtts, 0.99) * 1000:.2f} ms")
        print(f"  CPU seconds: server {server_cpu:.1f}, fake Asterisk clients {client_cpu:.1f}")

        ready, release = ctx.Event(), ctx.Event()
        base_rss = rss_bytes()
        tracemalloc.start()
        base_traced = tracemalloc.get_traced_memory()[0]
        proc = ctx.Process(
            target=client_process,
            args=("idle", server.port, {"count": idle, "ready": ready, "release": release}, None),
        )
        proc.start()
        await loop.run_in_executor(None, ready.wait)
        async with asyncio.timeout(20):
            while server.stats().sessions_active < idle:  # noqa: ASYNC110 - counters only
                await asyncio.sleep(0.05)
        traced = tracemalloc.get_traced_memory()[0] - base_traced
        grown = rss_bytes() - base_rss
        tracemalloc.stop()
        release.set()
        await loop.run_in_executor(None, proc.join)
        print(f"idle: {idle} sessions each waiting on an unanswered command")
        print(f"  tracemalloc per session {traced / idle / 1024:.1f} KiB")
        print(f"  RSS growth per session  {grown / idle / 1024:.1f} KiB (coarse: allocator reuse)")


def configure_logs(with_logs: bool) -> None:
    """Warnings only by default; --with-logs renders every event as JSON into /dev/null."""
    if not with_logs:
        structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
        return
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            structlog.processors.JSONRenderer(),
        ],
        logger_factory=structlog.WriteLoggerFactory(open("/dev/null", "w")),  # noqa: SIM115
        cache_logger_on_first_use=True,
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--idle", type=int, default=1000)
    parser.add_argument("--with-logs", action="store_true", help="render info logs as JSON")
    opts = parser.parse_args()
    configure_logs(opts.with_logs)
    asyncio.run(main(opts.concurrency, opts.seconds, opts.idle))
