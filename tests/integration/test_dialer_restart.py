"""A crash mid-campaign: `ccpbx serve` is killed with calls in flight and started again."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections import Counter
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from ccpbx.acd import AgentMode, Membership
from ccpbx.queues import AgentRecord, store
from ccpbx.sandbox.asterisk import AsteriskInstance, free_tcp_port
from ccpbx.sandbox.carrier import Carrier
from ccpbx.sandbox.outbound import NEW_YORK, seed_campaign
from ccpbx.store.tokens import TokenRepository

from .conftest import StartDaemon, eventually
from .dialer_support import agent_phones
from .test_service import write_config

AGENTS = ("1006", "1007", "1008")


async def _serve_until_healthy(config: Path, http_port: int) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "ccpbx", "--config", str(config), "serve"),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{http_port}/health"
    async with aiohttp.ClientSession() as http:

        async def healthy() -> bool:
            try:
                async with http.get(url) as resp:
                    return resp.status == 200
            except aiohttp.ClientError:
                return False

        await eventually(healthy, timeout=30, interval=0.2)
    return proc


@pytest.mark.timeout(400)
async def test_killed_mid_campaign_dials_no_number_twice(
    asterisk: AsteriskInstance, start_daemon: StartDaemon, database_url: str, tmp_path: Path
) -> None:
    """ccpbx is killed (SIGKILL) while a predictive campaign dials, with calls ringing,
    waiting and talking; a new ccpbx settles or follows every attempt left open: the
    carrier never sees a number twice (the retry delay is an hour) nor one number in
    two calls at once, and the campaign still runs to its end."""
    numbers = [(f"+1212556{i:04d}", NEW_YORK) for i in range(120)]
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    assert pool is not None
    http_port = free_tcp_port()
    config = tmp_path / "ccpbx.toml"
    write_config(config, asterisk, database_url, http_port)
    config.write_text(
        config.read_text()
        + '[dialer]\nabandon_prompt = "please-try-call-later"\n'
        + 'machine_prompt = "please-try-call-later"\n'
    )
    proc: asyncio.subprocess.Process | None = None
    try:
        campaign = await seed_campaign(pool, "crash", numbers)
        for agent in AGENTS:
            record = AgentRecord(
                agent, f"Agent {agent}", {}, {"outbound": Membership()}, AgentMode.PERSISTENT
            )
            await store.save_agent(pool, record, pin="1234")
        token, _ = await TokenRepository(pool).create("admin", "restart test")
        with (
            Carrier(asterisk, answer_pct=55, busy_pct=15, congestion_pct=5, talk_s=3.0) as carrier,
            agent_phones(asterisk, AGENTS),
        ):
            proc = await _serve_until_healthy(config, http_port)
            base = f"http://127.0.0.1:{http_port}"
            headers = {"Authorization": f"Bearer {token}"}
            async with aiohttp.ClientSession(headers=headers) as http:
                for agent in AGENTS:
                    body = {"endpoint": agent, "mode": "persistent"}
                    async with http.post(f"{base}/api/agents/{agent}/login", json=body) as r:
                        assert r.status == 200, await r.text()
                async with http.post(f"{base}/api/campaigns/crash/start") as r:
                    assert r.status == 200, await r.text()
            # Kill it once calls are in every state: some ringing, some talking.
            await eventually(lambda: len(carrier.log()) >= 30, timeout=120, interval=0.2)
            await eventually(lambda: len(carrier.active()) >= 3, timeout=30, interval=0.05)
            proc.send_signal(signal.SIGKILL)
            async with asyncio.timeout(10):
                await proc.wait()
            killed_with = len(carrier.active())
            open_at_kill = await pool.fetchval(
                "SELECT count(*) FROM call_attempts WHERE outcome IS NULL"
            )

            daemon = await start_daemon()

            async def finished() -> bool:
                left = await pool.fetchval(
                    """SELECT (SELECT count(*) FROM call_attempts WHERE outcome IS NULL)
                            + (SELECT count(*) FROM campaign_leads
                               WHERE status IN ('ready', 'leased') AND ready_at <= now())"""
                )
                return left == 0

            await eventually(finished, timeout=300, interval=1.0)
            assert daemon.dialer is not None
            await daemon.dialer.pause_campaign("crash")
            await asyncio.sleep(1.0)
            seen = carrier.numbers()
            overlaps = carrier.overlaps()
        rows = await pool.fetch(
            """SELECT e164, state, outcome, dialing_at IS NOT NULL AS dialed
               FROM call_attempts WHERE campaign_id = $1""",
            campaign.id,
        )
    finally:
        if proc is not None and proc.returncode is None:
            proc.kill()
            await proc.wait()
        await pool.close()
    assert open_at_kill > 0
    assert killed_with >= 3
    assert max(seen.values()) == 1
    assert overlaps == []
    dialed = Counter(r["e164"] for r in rows if r["dialed"])
    assert max(dialed.values()) == 1
    assert set(seen) <= set(dialed)
    reconciled = [r for r in rows if r["state"] == "reconciled"]
    assert reconciled, "the restart settled the attempts the killed process left open"
    leads = {r["e164"] for r in rows}
    assert leads == {n for n, _ in numbers}
    print(
        f"\nkilled with {killed_with} calls up, {open_at_kill} attempts open;"
        f" reconciled {len(reconciled)}: "
        + ", ".join(f"{k} {v}" for k, v in Counter(r["outcome"] for r in reconciled).items())
    )
