"""The AMI link between ccpbx and a running Asterisk is cut, or goes half-open, through a
TCP proxy (ccpbx.sandbox.faultproxy); Asterisk itself stays up with its calls."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections import Counter

import pytest

from ccpbx.config import Config
from ccpbx.sandbox.asterisk import AsteriskInstance
from ccpbx.sandbox.carrier import Carrier
from ccpbx.sandbox.faultproxy import FaultProxy
from ccpbx.sandbox.outbound import NEW_YORK, seed_campaign

from .conftest import StartDaemon, asterisk_channels, eventually
from .dialer_support import attempt_rows, log_in_agents
from .figures import Figures
from .test_acd_support import desk_phones
from .test_ami_recovery import park_call, view_names

AGENTS = ("1001", "1002", "1003", "1004", "1005", "1006")


def through(proxy: FaultProxy):  # type: ignore[no-untyped-def]
    def config(base: Config) -> Config:
        return dataclasses.replace(base, ami=dataclasses.replace(base.ami, port=proxy.port))

    return config


@pytest.mark.timeout(240)
async def test_ami_cut_in_an_originate_burst_dials_no_number_twice(
    asterisk: AsteriskInstance, start_daemon: StartDaemon, figures: Figures
) -> None:
    """The AMI link is reset while the dialer's first burst of Originates is going out:
    at most one INVITE per attempt reaches the carrier, no number twice, and every
    attempt gets an outcome once the link is back."""
    proxy = FaultProxy("127.0.0.1", asterisk.settings.ami_port)
    await proxy.start()
    try:
        daemon = await start_daemon(config=through(proxy))
        assert daemon.dialer is not None
        numbers = [(f"+1212558{i:04d}", NEW_YORK) for i in range(30)]
        campaign = await seed_campaign(
            daemon, "amicut", numbers, mode="progressive", retry_delays={"no_answer": 3600}
        )
        with (
            Carrier(asterisk, answer_pct=60, busy_pct=20, congestion_pct=0, talk_s=2.0) as carrier,
            desk_phones(asterisk, AGENTS),
        ):
            await log_in_agents(daemon, AGENTS, ["outbound"])
            await daemon.dialer.start_campaign("amicut")
            # The first INVITE at the carrier: the rest of the burst is on its way.
            await eventually(lambda: len(carrier.log()) >= 1, timeout=30, interval=0.005)
            cut_at = time.monotonic()
            in_flight = len(await _open_attempts(daemon, campaign.id))
            cut = proxy.cut()
            await eventually(lambda: not daemon.ami.ready, timeout=5, interval=0.01)
            await eventually(lambda: daemon.ami.ready, timeout=20, interval=0.02)
            back_at = time.monotonic()

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
            await daemon.dialer.pause_campaign("amicut")
            seen = carrier.numbers()
        rows = await attempt_rows(daemon, campaign)
    finally:
        await proxy.stop()
    dialed = Counter(str(r["e164"]) for r in rows if r["outcome"] != "not_dialed")
    outcomes = Counter(str(r["outcome"]) for r in rows)
    figures.checks("AMI reset mid-burst: <= 1 INVITE per attempt, every attempt settled")
    figures["links cut"] = cut
    figures["attempts open at the cut"] = in_flight
    figures["link back s"] = back_at - cut_at
    figures["outcomes"] = dict(outcomes)
    print(f"\nAMI cut with {in_flight} attempts open; back in {back_at - cut_at:.2f} s; {outcomes}")
    assert cut >= 1
    assert in_flight >= 2
    assert all(r["outcome"] is not None for r in rows)
    assert set(seen) <= set(dialed)
    for number, invites in seen.items():
        assert invites <= dialed[number], (number, invites, dialed[number])
    assert max(seen.values()) == 1
    assert {str(r["e164"]) for r in rows} == {n for n, _ in numbers}


async def _open_attempts(daemon, campaign_id: int) -> list[object]:  # type: ignore[no-untyped-def]
    return await daemon.database.pool.fetch(
        "SELECT id FROM call_attempts WHERE campaign_id = $1 AND outcome IS NULL", campaign_id
    )


@pytest.mark.timeout(120)
async def test_half_open_ami_link_is_detected_and_the_view_resynced(
    asterisk: AsteriskInstance, start_daemon: StartDaemon, figures: Figures
) -> None:
    """The proxy stops forwarding without closing (a firewall that dropped the link's
    state): the keepalive watchdog (ping every 2 s, 2 s to answer) notices within 5 s,
    ccpbx connects again, and its channel view holds exactly Asterisk's channels,
    including one created while the link was dead."""
    proxy = FaultProxy("127.0.0.1", asterisk.settings.ami_port)
    await proxy.start()
    try:
        daemon = await start_daemon(config=through(proxy))
        await park_call(daemon)
        await eventually(lambda: len(view_names(daemon)) >= 2, timeout=10)
        stalled = proxy.stall()
        stalled_at = time.monotonic()
        # A call starts while ccpbx cannot hear: it must be in the view after the resync.
        asterisk.cli("channel originate Local/s@ccpbx-park application Wait 600")
        await eventually(lambda: not daemon.ami.ready, timeout=10, interval=0.02)
        detected_at = time.monotonic()
        await eventually(lambda: daemon.ami.ready, timeout=20, interval=0.02)
        ready_at = time.monotonic()
        real = await eventually(
            lambda: (c := asterisk_channels(asterisk)) and len(c) >= 4 and c, timeout=10
        )
        await eventually(lambda: view_names(daemon) == real, timeout=10)
        status_ok = daemon.ami.health()
    finally:
        await proxy.stop()
        asterisk.cli("channel request hangup all")
        await asyncio.sleep(0.2)
    figures.checks("AMI half-open: detected by the watchdog, reconnected, view resynced")
    figures["detected s"] = detected_at - stalled_at
    figures["ready again s"] = ready_at - stalled_at
    figures["channels"] = len(real)
    print(
        f"\nhalf-open link detected {detected_at - stalled_at:.2f} s after the stall,"
        f" ready again after {ready_at - stalled_at:.2f} s; view = Asterisk's {len(real)}"
        f" channels; health {status_ok}"
    )
    assert stalled == 1
    assert detected_at - stalled_at <= 5.0
    assert proxy.accepted >= 2
