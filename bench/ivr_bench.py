"""IVR benchmark: ccpbx's own cost per call through a 3-node flow.

    .venv/bin/python bench/ivr_bench.py [--concurrency 200] [--seconds 6] [--engine-calls 20000]

Part 1, pure step logic: a 3-node flow (menu -> play -> hang-up) walked by `FlowRun`
with scripted results, no I/O; CPU microseconds per call.

Part 2, the whole runtime over loopback: `FastAgiServer` + `IvrRuntime` in this
process, with a real PostgreSQL (the flow's active version looked up per call, the call
and its path recorded); a second process plays Asterisk with fake AGI clients
(`--concurrency` at once, back to back for `--seconds`): it answers every command at
once, pressing 1 during the menu prompt. Printed: calls per second, this process's
CPU time per call (FastAGI, step logic, asyncpg, logging at warning level), and the
round trip of each AGI command seen by the handler (send to reply), p50/p99.
No real Asterisk: audio, RTP and Asterisk's own scheduling are not in these figures.
PostgreSQL: $DATABASE_URL, or the local server, or a throwaway cluster (as the tests).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import logging
import multiprocessing as mp
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg
import structlog
from targets import check

from ccpbx.agi import AgiSession, FastAgiServer
from ccpbx.ivr import store
from ccpbx.ivr.engine import Ask, FlowRun
from ccpbx.ivr.runner import IvrRuntime
from ccpbx.ivr.validate import check_text
from ccpbx.sandbox import postgres
from ccpbx.store.migrate import migrate

FLOW = """
flow: bench
dids: ["8001"]
languages: [en]
sound_languages: [en]
start: menu
prompts: {beep: beep, hello: hello-world, bye: vm-goodbye}
nodes:
  menu:
    kind: menu
    prompt: beep
    choices: {"1": thanks}
    timeout_ms: 5000
    fallback: bye
  thanks: {kind: play, prompts: [hello], next: bye}
  bye: {kind: hangup, prompt: bye}
"""

ENV = {
    "agi_network": "yes",
    "agi_channel": "PJSIP/carrier-00000001",
    "agi_language": "en",
    "agi_type": "PJSIP",
    "agi_version": "22.10.1",
    "agi_callerid": "31201234567",
    "agi_calleridname": "Bench",
    "agi_dnid": "8001",
    "agi_context": "ccpbx-inbound",
    "agi_extension": "8001",
    "agi_priority": "4",
}


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


# ---- part 1: the pure step logic ---------------------------------------------------------


def engine_cpu(calls: int) -> float:
    """CPU seconds per call for the step logic alone."""
    result = check_text(FLOW)
    assert result.flow is not None
    flow = result.flow
    now = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
    started = time.process_time()
    for _ in range(calls):
        run = FlowRun(
            flow, caller="31201234567", did="8001", clock=lambda: now, channel_language="en"
        )
        steps = run.steps()
        effect = next(steps)
        with contextlib.suppress(StopIteration):
            while True:
                effect = steps.send("1" if isinstance(effect, Ask) else None)
        assert run.outcome == "completed"
    return (time.process_time() - started) / calls


# ---- part 2: fake Asterisk (client process) ------------------------------------------------


class Seen:
    """What the fake Asterisk measured: call durations, ccpbx's turn after each reply
    (reply sent -> next command received), call set-up (environment -> first command)
    and call close (hang-up reply -> status variable, the path written in between)."""

    def __init__(self) -> None:
        self.calls: list[float] = []
        self.turns: list[float] = []
        self.setups: list[float] = []
        self.closings: list[float] = []


async def play_call(port: int, n: int, play_s: float, seen: Seen) -> None:
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    lines = ["agi_network_script: inbound", f"agi_request: agi://127.0.0.1:{port}/inbound"]
    lines += [f"{k}: {v}" for k, v in ENV.items()] + [f"agi_uniqueid: bench.{n}"]
    writer.write(("\n".join(lines) + "\n\n").encode())
    sent = time.perf_counter()
    first = True
    while line := await reader.readline():
        waited = time.perf_counter() - sent
        if first:
            seen.setups.append(waited)
        elif b"CCPBX_AGI_STATUS" in line:
            seen.closings.append(waited)  # after the hang-up: the path is written first
        else:
            seen.turns.append(waited)
        first = False
        if line.startswith(b"STREAM FILE"):
            await asyncio.sleep(play_s)  # the prompt plays; the caller presses 1 in the menu
            reply = b"200 result=49 endpos=800\n" if b" beep " in line else b"200 result=0\n"
        elif line.startswith(b"HANGUP"):
            reply = b"200 result=1\n"
        else:
            reply = b"200 result=0\n"
        writer.write(reply)
        sent = time.perf_counter()
    writer.close()
    await writer.wait_closed()
    seen.calls.append(time.perf_counter() - started)


async def load(port: int, concurrency: int, seconds: float, play_s: float, ramp_s: float) -> Seen:
    seen = Seen()
    stop_at = time.perf_counter() + seconds
    counter = iter(range(10**9))

    async def worker(delay: float) -> None:
        await asyncio.sleep(delay)  # callers arrive spread over the ramp
        while time.perf_counter() < stop_at:
            await play_call(port, next(counter), play_s, seen)

    await asyncio.gather(*(worker(ramp_s * i / concurrency) for i in range(concurrency)))
    return seen


def client_process(
    port: int, concurrency: int, seconds: float, play_s: float, ramp_s: float, out: Any
) -> None:
    seen = asyncio.run(load(port, concurrency, seconds, play_s, ramp_s))
    out.put((seen.calls, seen.turns, seen.setups, seen.closings))


# ---- part 2: ccpbx side ----------------------------------------------------------------------


@contextlib.contextmanager
def database() -> Iterator[str]:
    url = postgres.configured_url()
    if asyncio.run(postgres.reachable(url)):
        yield url
        return
    with postgres.throwaway_cluster() as cluster:
        yield cluster.url


async def runtime_bench(
    server_url: str, concurrency: int, seconds: float, play_s: float, ramp_s: float
) -> None:
    url = await postgres.create_database(server_url, prefix="ccpbx_ivrbench")
    try:
        conn = await asyncpg.connect(url)
        try:
            await migrate(conn)
            result = check_text(FLOW)
            assert result.flow is not None
            await store.activate(conn, result.flow, FLOW)
        finally:
            await conn.close()
        pool = await asyncpg.create_pool(url, min_size=4, max_size=10)
        try:
            await serve(pool, concurrency, seconds, play_s, ramp_s)
        finally:
            await pool.close()
    finally:
        await postgres.drop_database(server_url, url)


async def serve(
    pool: asyncpg.Pool, concurrency: int, seconds: float, play_s: float, ramp_s: float
) -> None:
    rtts: list[float] = []  # commands Asterisk answers at once (not STREAM FILE)
    original = AgiSession.command

    async def timed(
        self: AgiSession, command: str, *args: Any, deadline: float | None = None
    ) -> Any:
        started = time.perf_counter()
        try:
            return await original(self, command, *args, deadline=deadline)
        finally:
            if command != "STREAM FILE":
                rtts.append(time.perf_counter() - started)

    AgiSession.command = timed  # type: ignore[method-assign]
    runtime = IvrRuntime(lambda: pool)
    ctx = mp.get_context("spawn")
    async with FastAgiServer("127.0.0.1", 0, {"inbound": runtime.handle}) as server:
        out = ctx.Queue()
        proc = ctx.Process(
            target=client_process, args=(server.port, concurrency, seconds, play_s, ramp_s, out)
        )
        proc.start()
        loop = asyncio.get_running_loop()
        cpu = time.process_time()
        latencies, turns, setups, closings = await loop.run_in_executor(None, out.get)
        server_cpu = time.process_time() - cpu
        await loop.run_in_executor(None, proc.join)
        stats = server.stats()
    AgiSession.command = original  # type: ignore[method-assign]
    recorded = await pool.fetchval("SELECT count(*) FROM ivr_calls WHERE outcome = 'completed'")
    calls = len(latencies)
    print(f"runtime: {concurrency} concurrent fake-AGI calls for {seconds:.0f} s over loopback,")
    print(f"         3-node flow, each prompt 'plays' {play_s * 1000:.0f} ms; PostgreSQL look-up")
    print(f"         and path writes included; arrivals spread over {ramp_s:.1f} s")
    print(f"  calls completed         {calls}  (server ok={stats.sessions_ok}, ", end="")
    print(f"failures={stats.handler_failures}; paths recorded {recorded})")
    print(f"  calls per second        {calls / seconds:.0f}")
    print(f"  CPU per call (ccpbx)    {server_cpu / max(calls, 1) * 1000:.2f} ms")
    for label, values, note in (
        ("call duration", latencies, ""),
        ("call set-up", setups, "environment -> first command (flow look-up, call row)"),
        ("ccpbx turn", turns, "reply sent -> next command in the flow, seen by Asterisk"),
        ("call close", closings, "hang-up reply -> status (the path is written between)"),
        ("AGI round trip", rtts, "handler: send -> reply"),
    ):
        p50, p99 = statistics.median(values) * 1000, percentile(values, 0.99) * 1000
        print(f"  {label + ' p50/p99':<24}{p50:.2f} / {p99:.2f} ms  {note}")
    check(
        f"IVR AGI command round trip p99 ({concurrency} concurrent calls)",
        percentile(rtts, 0.99) * 1000,
        "<",
        5,
        "ms",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--engine-calls", type=int, default=20_000)
    parser.add_argument("--play-ms", type=float, default=1000, help="simulated prompt length")
    parser.add_argument(
        "--ramp-s", type=float, default=1.0, help="seconds over which the first callers arrive"
    )
    opts = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    per_call = engine_cpu(opts.engine_calls)
    print(f"engine: 3-node flow, {opts.engine_calls} calls, no I/O")
    print(f"  CPU per call            {per_call * 1e6:.1f} us")
    with database() as server_url:
        asyncio.run(
            runtime_bench(
                server_url, opts.concurrency, opts.seconds, opts.play_ms / 1000, opts.ramp_s
            )
        )


if __name__ == "__main__":
    main()
