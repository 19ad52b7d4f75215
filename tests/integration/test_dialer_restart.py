"""A crash mid-campaign: `ccpbx serve` is killed with calls in flight and started again."""

from __future__ import annotations

import asyncio
import datetime as dt
import signal
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from ccpbx.acd import AgentMode, Membership
from ccpbx.queues import AgentRecord, store
from ccpbx.sandbox.asterisk import AsteriskInstance, free_tcp_port
from ccpbx.sandbox.carrier import Carrier
from ccpbx.sandbox.outbound import NEW_YORK, seed_campaign
from ccpbx.store import attempts
from ccpbx.store.leasing import lease
from ccpbx.store.tokens import TokenRepository

from .conftest import CHAOS, StartDaemon, eventually
from .figures import Figures
from .test_acd_support import desk_phones
from .test_service import write_config

AGENTS = ("1006", "1007", "1008")


async def serve_until_healthy(
    config: Path, http_port: int, log_path: Path | None = None
) -> asyncio.subprocess.Process:
    """`ccpbx serve` as ops run it, once /health answers; its output goes to
    ``log_path`` (or nowhere)."""
    out = log_path.open("wb") if log_path is not None else None
    try:
        proc = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "ccpbx", "--config", str(config), "serve"),
            stdout=out if out is not None else asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.STDOUT if out is not None else asyncio.subprocess.DEVNULL,
        )
    finally:
        if out is not None:
            out.close()
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
@pytest.mark.parametrize(
    ("contacts", "kill_after"),
    [pytest.param(50, 15, id="50-contacts"), pytest.param(120, 30, id="120-contacts", marks=CHAOS)],
)
async def test_killed_mid_campaign_dials_no_number_twice(
    asterisk: AsteriskInstance,
    start_daemon: StartDaemon,
    database_url: str,
    tmp_path: Path,
    figures: Figures,
    contacts: int,
    kill_after: int,
) -> None:
    """ccpbx is killed (SIGKILL) while a predictive campaign dials, with calls ringing,
    waiting and talking; a new ccpbx settles or follows every attempt left open: the
    carrier never sees a number twice (the retry delay is an hour) nor one number in
    two calls at once, and the campaign still runs to its end."""
    numbers = [(f"+1212556{i:04d}", NEW_YORK) for i in range(contacts)]
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
            desk_phones(asterisk, AGENTS),
        ):
            proc = await serve_until_healthy(config, http_port)
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
            await eventually(lambda: len(carrier.log()) >= kill_after, timeout=120, interval=0.2)
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
    leads = {r["e164"] for r in rows}
    assert leads == {n for n, _ in numbers}
    figures.checks("ccpbx SIGKILLed mid-campaign: no number twice, every attempt settled")
    figures["contacts"] = contacts
    figures["calls up at kill"] = killed_with
    figures["open attempts"] = open_at_kill
    figures["reconciled"] = len(reconciled)
    print(
        f"\nkilled with {killed_with} calls up, {open_at_kill} attempts open;"
        f" reconciled {len(reconciled)}: "
        + ", ".join(f"{k} {v}" for k, v in Counter(r["outcome"] for r in reconciled).items())
    )


async def test_restart_settles_attempts_whose_calls_are_gone(
    asterisk: AsteriskInstance, start_daemon: StartDaemon, database_url: str
) -> None:
    """Attempts a dead dialer left open with no channel in Asterisk are settled at start:
    one never handed to Asterisk is 'not_dialed' (its contact may be called again), one
    that may have rung is 'cancelled' (its retry delay applies); neither is redialed."""
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    assert pool is not None
    try:
        numbers = [(f"+1212564{i:04d}", NEW_YORK) for i in range(2)]
        campaign = await seed_campaign(pool, "gone", numbers)
        await pool.execute("UPDATE campaigns SET status = 'running' WHERE id = $1", campaign.id)
        now = dt.datetime.now(dt.UTC)
        leased, dialing = await lease(pool, campaign.id, 2, now, dialer_id="dead-dialer")
        await attempts.mark_progress(pool, dialing.attempt_id, "dialing", now)
        daemon = await start_daemon()
        assert daemon.dialer is not None

        async def states() -> dict[str, tuple[str, str]]:
            rows = await pool.fetch(
                "SELECT id::text, state, outcome FROM call_attempts WHERE campaign_id = $1",
                campaign.id,
            )
            return {r["id"]: (r["state"], r["outcome"]) for r in rows}

        await eventually(lambda: _all_settled(states), timeout=20, interval=0.2)
        found = await states()
        assert found[str(leased.attempt_id)] == ("reconciled", "not_dialed")
        assert found[str(dialing.attempt_id)] == ("reconciled", "cancelled")
        assert len(found) == 2
        await daemon.dialer.pause_campaign("gone")
    finally:
        await pool.close()


async def _all_settled(states: Any) -> bool:
    return all(outcome is not None for _, outcome in (await states()).values())


async def test_lapsed_lease_of_a_paused_campaign_is_settled(
    asterisk: AsteriskInstance, start_daemon: StartDaemon, database_url: str
) -> None:
    """An attempt whose lease lapsed in a campaign no runner dials (paused) is settled by
    the service's periodic reconciliation, from what Asterisk shows (no channel)."""
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    assert pool is not None
    try:
        campaign = await seed_campaign(pool, "lapsed", [("+12125650001", NEW_YORK)])
        await pool.execute("UPDATE campaigns SET status = 'running' WHERE id = $1", campaign.id)
        now = dt.datetime.now(dt.UTC)
        [lead] = await lease(pool, campaign.id, 1, now, dialer_id="other-node")
        await attempts.mark_progress(pool, lead.attempt_id, "dialing", now)
        await pool.execute("UPDATE campaigns SET status = 'paused' WHERE id = $1", campaign.id)
        daemon = await start_daemon()
        assert daemon.dialer is not None
        assert await daemon.dialer.reconcile_expired() == 0  # the lease still holds
        await pool.execute(
            "UPDATE call_attempts SET lease_expires_at = now() - interval '1 s' WHERE id = $1",
            lead.attempt_id,
        )
        assert await daemon.dialer.reconcile_expired() == 1
        row = await pool.fetchrow(
            "SELECT state, outcome FROM call_attempts WHERE id = $1", lead.attempt_id
        )
        assert (row["state"], row["outcome"]) == ("reconciled", "cancelled")
        assert daemon.dialer.runners == {}
    finally:
        await pool.close()
