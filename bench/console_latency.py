"""Web console: event-to-screen latency and page weight, in headless Chromium.

The real daemon on a sandbox Asterisk and a throwaway database; the supervisor
wallboard open in Debian's chromium (Playwright, ``executable_path``). An agent is
paused and unpaused by API ``--events`` times; a MutationObserver in the page stamps
(wall clock, ms) each time the agent's row shows the new state. Latency = that stamp
minus the moment before the API request was sent (same machine, same clock), so it
covers the request, the ACD, the websocket push and the page's rendering.
Page weight: bytes of JavaScript and CSS the wallboard loads (uncompressed).

    .venv/bin/python bench/console_latency.py [--events 100]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import time
from typing import Any

import aiohttp
import asyncpg
from playwright.async_api import async_playwright
from targets import check

from ccpbx import logs
from ccpbx.acd import AgentMode, Membership, QueueConfig
from ccpbx.daemon import Daemon
from ccpbx.queues import store as queue_store
from ccpbx.queues.model import AgentRecord, QueueSpec
from ccpbx.sandbox.asterisk import AsteriskInstance, AsteriskSettings, Phone
from ccpbx.sandbox.demo import demo_database
from ccpbx.sandbox.root import ensure_runtime
from ccpbx.sandbox.stack import daemon_config
from ccpbx.store.migrate import migrate
from ccpbx.store.tokens import TokenRepository

AGENT = "1001"
OBSERVER = """agent => {
  window.__seen = [];
  let last = null;
  const body = document.querySelector("#agents tbody");
  const stamp = () => {
    const row = body.querySelector(`tr[data-agent="${agent}"]`);
    const state = row && row.dataset.state;
    if (state && state !== last) {
      last = state;
      window.__seen.push([state, performance.timeOrigin + performance.now()]);
    }
  };
  new MutationObserver(stamp).observe(body, {
    subtree: true, childList: true, attributes: true, attributeFilter: ["data-state"],
  });
  stamp();
}"""


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure(daemon: Daemon, events: int) -> tuple[list[float], dict[str, int]]:
    token, _ = await TokenRepository(daemon.database.pool).create("supervisor", "bench")
    base = f"http://127.0.0.1:{daemon.http_port}"
    weights: dict[str, int] = {}
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=chromium, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        context = await browser.new_context(extra_http_headers={"Authorization": f"Bearer {token}"})
        page = await context.new_page()

        async def weigh(resp: Any) -> None:
            kind = resp.request.resource_type
            if kind in ("script", "stylesheet") and resp.ok:
                weights[resp.url] = len(await resp.body())

        page.on("response", weigh)
        await page.goto(f"{base}/supervisor#token={token}")
        await page.wait_for_selector('#connection[data-state="live"]', timeout=20_000)
        await page.wait_for_selector(f'#agents tr[data-agent="{AGENT}"]', timeout=20_000)
        await page.wait_for_load_state("networkidle")
        await page.evaluate(OBSERVER, AGENT)
        latencies: list[float] = []
        headers = {"Authorization": f"Bearer {token}"}
        async with aiohttp.ClientSession(headers=headers) as http:
            for n in range(events):
                seen_before = await page.evaluate("window.__seen.length")
                pause = n % 2 == 0
                started_ms = time.time() * 1000
                action = "pause" if pause else "unpause"
                body = {"reason": "bench"} if pause else None
                async with http.post(f"{base}/api/agents/{AGENT}/{action}", json=body) as resp:
                    resp.raise_for_status()
                await page.wait_for_function(
                    "n => window.__seen.length > n", arg=seen_before, timeout=10_000
                )
                state, shown_ms = await page.evaluate(f"window.__seen[{seen_before}]")
                assert state == ("paused" if pause else "available"), state
                latencies.append(shown_ms - started_ms)
        await browser.close()
    return latencies, weights


async def run(events: int) -> None:
    phone = Phone(AGENT, "pw-bench-1001", rewrite_contact=False)
    asterisk = AsteriskInstance(
        ensure_runtime(), f"bench-console-{int(time.time())}", AsteriskSettings(phones=[phone])
    )
    asterisk.start()
    try:
        async with demo_database() as url:
            conn = await asyncpg.connect(url)
            await migrate(conn)
            await conn.close()
            daemon = Daemon(daemon_config(asterisk, url, log_format="console"))
            await daemon.start()
            try:
                await daemon.ami.wait_ready(15)
                await daemon.database.wait_ready(15)
                await daemon.acd.wait_ready(20)
                await daemon.acd.configure_queue(QueueSpec(QueueConfig("sales"), {}, False))
                record = AgentRecord(AGENT, "Bench", {}, {"sales": Membership()}, AgentMode.RING)
                await queue_store.save_agent(daemon.database.pool, record)
                await daemon.acd.login(AGENT, AGENT, mode=AgentMode.RING)
                latencies, weights = await measure(daemon, events)
            finally:
                await daemon.stop()
    finally:
        asterisk.stop()
        asterisk.remove()
    js = sum(v for k, v in weights.items() if k.split("?")[0].endswith(".js")) / 1024
    css = sum(v for k, v in weights.items() if k.split("?")[0].endswith(".css")) / 1024
    print(
        f"\n{len(latencies)} agent state changes by API -> shown on the wallboard: p50"
        f" {statistics.median(latencies):.1f} ms, p99 {pct(latencies, 0.99):.1f} ms,"
        f" max {max(latencies):.1f} ms"
    )
    print(f"page weight: {js:.0f} KB JavaScript, {css:.0f} KB CSS ({len(weights)} files)")
    for url, size in sorted(weights.items()):
        print(f"  {size / 1024:7.1f} KB  {url.split('/static/', 1)[-1]}")
    check("console event -> screen p50", statistics.median(latencies), "<", 1000, "ms")
    check("console event -> screen p99", pct(latencies, 0.99), "<", 1000, "ms")
    check("wallboard JS + CSS loaded", js + css, "<=", 500, "KB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100)
    args = parser.parse_args()
    logs.configure("warning", "console")
    asyncio.run(run(args.events))


if __name__ == "__main__":
    main()
