"""``make demo``: the whole stack on this machine, one real call through it.

Starts a sandbox Asterisk (loopback ports of its own), a PostgreSQL database of
its own, the ccpbx daemon, then places a SIPp call that ccpbx answers over
FastAGI, and prints ``/status``; then the IVR, queue and dialer walk-throughs, and
the web console's demo users (sign-in address, logins, a screenshot of each page), and
last the configuration cycle (``ccpbx conf check``, ``diff``, ``apply``, a new phone
registers). Everything it started is stopped at the end, also
when it is interrupted: SIGINT (Ctrl-C, even where a background job inherited it
ignored) and SIGTERM stop the walk-through and run the same clean-up (Asterisk, the
daemon, the database and the run folder; ``CCPBX_KEEP_SANDBOX=1`` keeps the folder).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import asyncpg

from ccpbx import logs
from ccpbx.daemon import Daemon
from ccpbx.sandbox import postgres
from ccpbx.sandbox.asterisk import AsteriskInstance, AsteriskSettings, free_tcp_port
from ccpbx.sandbox.demo_acd import AGENT_PHONES, run_acd_demo
from ccpbx.sandbox.demo_conf import NEW_PHONE, run_conf_demo
from ccpbx.sandbox.demo_console import run_console_demo
from ccpbx.sandbox.demo_dialer import run_dialer_demo
from ccpbx.sandbox.demo_ivr import DEMO_DID, run_ivr_demo
from ccpbx.sandbox.root import ensure_runtime
from ccpbx.sandbox.sipp import caller_scenario, run_sipp, stop_sipp
from ccpbx.sandbox.stack import daemon_config
from ccpbx.store.migrate import migrate


def say(text: str) -> None:
    print(f"\n== {text}", flush=True)


@contextlib.asynccontextmanager
async def demo_database() -> AsyncIterator[str]:
    server = postgres.configured_url()
    if await postgres.reachable(server):
        url = await postgres.create_database(server, prefix="ccpbx_demo")
        try:
            yield url
        finally:
            await postgres.drop_database(server, url)
        return
    with postgres.throwaway_cluster() as cluster:
        url = await postgres.create_database(cluster.url, prefix="ccpbx_demo")
        yield url


async def run(hold: float) -> int:
    say("sandbox Asterisk")
    runtime = ensure_runtime()
    asterisk = AsteriskInstance(
        runtime, f"demo-{int(time.time())}", AsteriskSettings(phones=list(AGENT_PHONES))
    )
    asterisk.start()
    print(asterisk.cli("core show version").strip())
    try:
        async with demo_database() as database_url:
            say(f"PostgreSQL database {postgres.database_name(database_url)}: migrations")
            conn = await asyncpg.connect(database_url)
            applied = await migrate(conn)
            await conn.close()
            print(f"applied {len(applied)} migration(s)")

            http_port = free_tcp_port()
            daemon = Daemon(daemon_config(asterisk, database_url, http_port))
            say("ccpbx daemon")
            await daemon.start()
            try:
                await daemon.database.wait_ready(10)
                await daemon.ami.wait_ready(10)
                say("a customer calls DID 18005550100 (SIPp); ccpbx answers over FastAGI")
                result = await asyncio.to_thread(
                    run_sipp,
                    asterisk,
                    caller_scenario("15550123", "Demo Caller"),
                    service="18005550100",
                    timeout_s=30,
                )
                print("call " + ("completed" if result.ok else f"FAILED:\n{result.errors[-2000:]}"))
                say(f"GET http://127.0.0.1:{http_port}/status")
                url = f"http://127.0.0.1:{http_port}/status"
                async with aiohttp.ClientSession() as http, http.get(url) as resp:
                    body = await resp.json()
                print(json.dumps(body, indent=2, default=str))
                green = resp.status == 200 and body["status"] == "ok" and result.ok
                say("IVR: write a menu, check it, activate it, call it, roll it back")
                with tempfile.TemporaryDirectory(prefix="ccpbx-demo-") as workdir:
                    green = await run_ivr_demo(asterisk, database_url, Path(workdir)) and green
                    say("queues: agents on SIP phones take waiting callers")
                    green = (
                        await run_acd_demo(asterisk, daemon, database_url, Path(workdir)) and green
                    )
                    say("web console: demo users sign in; a screenshot of each one's page")
                    users = await run_console_demo(daemon, database_url, http_port)
                    say("outbound: a predictive campaign dials simulated customers")
                    green = (
                        await run_dialer_demo(asterisk, daemon, database_url, Path(workdir))
                        and green
                    )
                    say("configuration: ccpbx conf check, diff, apply; a new phone registers")
                    green = await run_conf_demo(asterisk, database_url, Path(workdir)) and green
                if hold > 0:
                    sip = f"sip:{DEMO_DID}@127.0.0.1:{asterisk.settings.sip_port}"
                    say(
                        f"holding for {hold:.0f} s: call {sip} from a softphone on this machine"
                        f" (the demo menu), or curl http://127.0.0.1:{http_port}/metrics"
                    )
                    print(
                        f"   or register a softphone as {NEW_PHONE} at 127.0.0.1:"
                        f"{asterisk.settings.sip_port} (UDP) with the secret printed above"
                    )
                    print(
                        f"   or sign in to the web console at http://127.0.0.1:{http_port}/login:"
                    )
                    for user in users:
                        print(f"     {user.name} / {user.password} ({user.page})")
                    await asyncio.sleep(hold)
            except asyncio.CancelledError:
                # Interrupted: end the calls in progress, so the daemon has none to drain,
                # and the SIPp callers still waiting for theirs.
                stop_sipp(asterisk)
                asterisk.cli_result("channel request hangup all", timeout=5)
                raise
            finally:
                await daemon.stop()
    finally:
        asterisk.stop()
        if os.environ.get("CCPBX_KEEP_SANDBOX") != "1":
            asterisk.remove()
    say(
        "demo "
        + (
            "passed: calls answered by ccpbx, IVR walked, queues served, campaign dialed,"
            " configuration applied and a new phone registered, /status green"
            if green
            else "FAILED"
        )
    )
    return 0 if green else 1


async def run_until_signalled(hold: float) -> int:
    """``run`` that SIGINT and SIGTERM cancel, so its clean-up runs; exit 128 + signal."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    received: list[signal.Signals] = []

    def stop(sig: signal.Signals) -> None:
        if not received:
            say(f"{sig.name}: stopping the demo, cleaning up what it started")
            task.cancel()
        received.append(sig)

    for sig in (signal.SIGINT, signal.SIGTERM):
        # Installed explicitly: a job started in the background inherits SIGINT ignored.
        loop.add_signal_handler(sig, stop, sig)
    try:
        return await run(hold)
    except asyncio.CancelledError:
        if not received:
            raise
        say("demo stopped; everything it started is stopped and removed")
        return 128 + received[0]
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--hold", type=float, default=0.0, help="keep everything up this many seconds"
    )
    args = parser.parse_args()
    logs.configure("info", "console")
    return asyncio.run(run_until_signalled(args.hold))


if __name__ == "__main__":
    raise SystemExit(main())
