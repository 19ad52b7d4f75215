"""PostgreSQL stops in the middle of a predictive campaign and comes back 8 s later
(a private cluster: the machine's shared server is never touched)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import asyncpg
import pytest

from ccpbx.daemon import Daemon
from ccpbx.sandbox import postgres
from ccpbx.sandbox.asterisk import AsteriskInstance
from ccpbx.sandbox.carrier import Carrier
from ccpbx.sandbox.outbound import NEW_YORK, seed_campaign
from ccpbx.sandbox.stack import daemon_config
from ccpbx.store.migrate import migrate

from .conftest import eventually
from .dialer_support import log_in_agents
from .figures import Figures
from .test_acd_support import desk_phones

AGENTS = ("1001", "1002", "1003", "1004", "1005")
OUTAGE_S = 8.0


def _up(daemon: Daemon) -> bool:
    return daemon.database.status().state == "up"


@pytest.mark.timeout(240)
async def test_postgres_restart_mid_campaign_loses_and_doubles_nothing(
    asterisk: AsteriskInstance, figures: Figures
) -> None:
    """The database stops (fast shutdown: every connection cut) while calls are up and
    comes back 8 s later: ccpbx says the database is down, calls already up go on,
    no number reaches the carrier twice, and once the database is back the campaign runs
    to its end with an outcome for every attempt."""
    with postgres.throwaway_cluster() as cluster:
        url = await postgres.create_database(cluster.url, prefix="ccpbx_pgdown")
        conn = await asyncpg.connect(url)
        try:
            await migrate(conn)
        finally:
            await conn.close()
        daemon = Daemon(daemon_config(asterisk, url))
        await daemon.start()
        try:
            await daemon.ami.wait_ready(15)
            assert await daemon.database.wait_ready(15)
            assert daemon.dialer is not None
            numbers = [(f"+1212559{i:04d}", NEW_YORK) for i in range(40)]
            campaign = await seed_campaign(daemon, "pgdown", numbers)
            with (
                Carrier(
                    asterisk, answer_pct=60, busy_pct=20, congestion_pct=0, talk_s=3.0
                ) as carrier,
                desk_phones(asterisk, AGENTS),
            ):
                await log_in_agents(daemon, AGENTS, ["outbound"])
                await daemon.dialer.start_campaign("pgdown")
                await eventually(lambda: len(carrier.active()) >= 3, timeout=60, interval=0.05)
                up_at_stop = len(carrier.active())
                invites_before = len(carrier.log())
                stop_at = time.monotonic()
                await asyncio.to_thread(cluster.stop)
                await eventually(lambda: not _up(daemon), timeout=10, interval=0.05)
                noticed = time.monotonic() - stop_at
                await asyncio.sleep(OUTAGE_S)
                invites_during = len(carrier.log()) - invites_before
                status_down = daemon.database.status().state
                await asyncio.to_thread(cluster.start)
                back_at = time.monotonic()
                await eventually(lambda: _up(daemon), timeout=30, interval=0.05)
                reconnected = time.monotonic() - back_at

                async def finished() -> bool:
                    left = await daemon.database.pool.fetchval(
                        """SELECT (SELECT count(*) FROM call_attempts
                                   WHERE campaign_id = $1 AND outcome IS NULL)
                                + (SELECT count(*) FROM campaign_leads
                                   WHERE campaign_id = $1 AND status IN ('ready', 'leased')
                                     AND ready_at <= now())""",
                        campaign.id,
                    )
                    return left == 0

                await eventually(finished, timeout=150, interval=0.5)

                async def records_written() -> list[asyncpg.Record]:
                    found = await daemon.database.pool.fetch(
                        """SELECT r.callee, r.ended_at FROM call_records r
                           WHERE r.campaign_id = $1 AND r.ended_at IS NOT NULL""",
                        campaign.id,
                    )
                    return found if len(found) >= len(numbers) else []

                # Every call's record was written to its end (the calls end after their
                # 3 s of talk), the ones whose steps fell in the outage too.
                records = await eventually(records_written, timeout=30, interval=0.2)
                await daemon.dialer.pause_campaign("pgdown")
                seen = carrier.numbers()
                overlaps = carrier.overlaps()
            rows = await daemon.database.pool.fetch(
                "SELECT e164, outcome FROM call_attempts WHERE campaign_id = $1", campaign.id
            )

        finally:
            await daemon.stop()
    outcomes = Counter(str(r["outcome"]) for r in rows)
    dialed = Counter(str(r["e164"]) for r in rows if r["outcome"] != "not_dialed")
    figures.checks("PostgreSQL down 8 s mid-campaign: nothing lost or doubled, campaign ends")
    figures["calls up at stop"] = up_at_stop
    figures["noticed s"] = noticed
    figures["INVITEs while down"] = invites_during
    figures["pool back s after start"] = reconnected
    figures["outcomes"] = dict(outcomes)
    print(
        f"\ndatabase stopped with {up_at_stop} calls up; noticed in {noticed:.2f} s;"
        f" {invites_during} INVITEs while it was down; pool back {reconnected:.2f} s after"
        f" the server; status while down {status_down}; {outcomes}"
    )
    assert all(r["outcome"] is not None for r in rows)
    assert {str(r["e164"]) for r in rows} == {n for n, _ in numbers}
    assert max(seen.values()) == 1
    assert overlaps == []
    assert set(seen) <= set(dialed)
    assert max(dialed.values()) == 1
    assert sorted(str(r["callee"]) for r in records) == sorted(dialed)
