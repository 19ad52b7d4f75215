"""200 callers in the IVR at once, on the real Asterisk, placed by SIPp."""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest

from ccpbx.daemon import Daemon
from ccpbx.ivr.runner import IvrRuntime
from ccpbx.sandbox.asterisk import AsteriskInstance, AsteriskSettings
from ccpbx.sandbox.sipp import Step, caller_scenario, run_sipp
from ccpbx.sandbox.stack import daemon_config
from ccpbx.welcome import welcome

from .conftest import asterisk_channels, eventually
from .test_ivr_calls import Keypad, activate

CALLERS = 200
LOAD_FLOW = """
flow: load
dids: ["18005550105"]
languages: [en]
sound_languages: [en]
start: menu
prompts:
  beep: beep
  hello: hello-world
  bye: vm-goodbye
nodes:
  menu:
    kind: menu
    prompt: beep
    choices: {"1": thanks}
    timeout_ms: 8000
    retries: 1
    fallback: bye
  thanks: {kind: play, prompts: [hello], next: bye}
  bye: {kind: hangup, prompt: bye}
"""


@pytest.fixture
def wide_asterisk(sandbox_asterisk: AsteriskInstance) -> Iterator[AsteriskInstance]:
    """An Asterisk of its own for this test (200 calls' media: the default 2,000 RTP ports)."""
    settings = AsteriskSettings()
    instance = AsteriskInstance(sandbox_asterisk.runtime, f"ivr-load-{os.getpid()}", settings)
    instance.start()
    try:
        yield instance
    finally:
        instance.stop()
        if not os.environ.get("CCPBX_KEEP_SANDBOX"):
            instance.remove()


@pytest.fixture
async def ivr_daemon(wide_asterisk: AsteriskInstance, database_url: str) -> AsyncIterator[Daemon]:
    """The daemon serving the IVR to `wide_asterisk`."""
    holder: list[Daemon] = []
    runtime = IvrRuntime(lambda: holder[0].database.pool, fallback=welcome)
    config = daemon_config(wide_asterisk, database_url)
    daemon = Daemon(config, handlers={"inbound": runtime.handle})
    holder.append(daemon)
    await daemon.start()
    try:
        await daemon.ami.wait_ready(15)
        assert await daemon.database.wait_ready(15)
        yield daemon
    finally:
        await daemon.stop()


class LoopLag:
    """Samples how late the event loop wakes a 10 ms sleeper, and the peak of calls."""

    def __init__(self, active: object) -> None:
        self.lags: list[float] = []
        self.peak = 0
        self._active = active

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(0.01)
            self.lags.append(loop.time() - before - 0.01)
            self.peak = max(self.peak, self._active())  # type: ignore[operator]


async def test_200_concurrent_callers_all_complete(
    wide_asterisk: AsteriskInstance, ivr_daemon: Daemon, database_url: str
) -> None:
    """200 callers placed at 100/s are all in the IVR together, all press 1 and
    finish the flow, none is left behind, and the event loop stays responsive."""
    asterisk, daemon = wide_asterisk, ivr_daemon
    await activate(database_url, LOAD_FLOW)
    keys = Keypad(asterisk)
    # Every caller stays about 5 s before pressing 1: the last is placed after 2 s.
    scenario = caller_scenario(
        "15550199",
        "Load Caller",
        steps=[Step.pause(4500), *keys.press("1", last=True)],
        wait_bye_ms=20_000,
    )
    lag = LoopLag(lambda: daemon.agi.stats().sessions_active)
    sampler = asyncio.create_task(lag.run())
    started = time.monotonic()
    try:
        result = await asyncio.to_thread(
            run_sipp,
            asterisk,
            scenario,
            service="18005550105",
            calls=CALLERS,
            rate=100,
            limit=CALLERS,
            timeout_s=45,
        )
    finally:
        sampler.cancel()
        await asyncio.gather(sampler, return_exceptions=True)
    elapsed = time.monotonic() - started
    assert result.ok, (result.errors[-2000:], result.stdout[-2000:])
    conn = await asyncpg.connect(database_url)
    try:

        async def all_ended() -> list[asyncpg.Record]:
            rows = await conn.fetch("SELECT * FROM ivr_calls WHERE outcome IS NOT NULL")
            return rows if len(rows) == CALLERS else []

        rows = await eventually(all_ended, timeout=20)
        paths = await conn.fetch(
            """SELECT call_id, string_agg(node || ':' || result, ' ' ORDER BY seq) AS path
               FROM ivr_call_steps GROUP BY call_id"""
        )
    finally:
        await conn.close()
    assert {r["outcome"] for r in rows} == {"completed"}
    assert {p["path"] for p in paths} == {"menu:choice 1 thanks:played bye:hangup"}
    assert len({r["uniqueid"] for r in rows}) == CALLERS
    stats = await eventually(lambda: (s := daemon.agi.stats()).sessions_active == 0 and s)
    assert stats.handler_failures == 0
    assert stats.sessions_total == CALLERS
    await eventually(lambda: not asterisk_channels(asterisk))
    assert lag.peak == CALLERS  # all of them were in the IVR at the same moment
    lags = sorted(lag.lags)
    p99 = lags[int(len(lags) * 0.99)]
    print(
        f"\n{CALLERS} callers in {elapsed:.1f} s; peak in IVR {lag.peak}; loop lag "
        f"median {statistics.median(lags) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, "
        f"max {lags[-1] * 1000:.1f} ms"
    )
    assert p99 < 0.25, f"event-loop lag p99 {p99 * 1000:.0f} ms"
