"""The AMI link survives Asterisk stopping or crashing, and the channel view stays true."""

from __future__ import annotations

import asyncio

import pytest

from ccpbx.daemon import Daemon
from ccpbx.sandbox.asterisk import AsteriskInstance

from .conftest import StartDaemon, admin_status, asterisk_channels, eventually


async def park_call(daemon: Daemon) -> None:
    """Originate a pair of Local channels that stay up (answer, wait)."""
    await daemon.ami.action(
        "Originate",
        Channel="Local/s@ccpbx-park",
        Application="Wait",
        Data="600",
        Async="true",
        timeout=10,
    )


def view_names(daemon: Daemon) -> set[tuple[str, str]]:
    return {(c["uniqueid"], c["channel"]) for c in daemon.channels.snapshot()}


status = admin_status


@pytest.mark.parametrize("how", ["core stop now", "kill -9"])
async def test_daemon_recovers_when_asterisk_goes_away(
    asterisk: AsteriskInstance, start_daemon: StartDaemon, how: str
) -> None:
    """Asterisk stopped or killed mid-test and started again: the daemon reconnects by
    itself, /status shows the outage and the recovery, and its channel view matches
    Asterisk's afterwards (channels that died with Asterisk are gone)."""
    daemon = await start_daemon()
    await park_call(daemon)
    before = await eventually(lambda: len(view_names(daemon)) == 2 and view_names(daemon))
    assert before == asterisk_channels(asterisk)

    await daemon.acd.wait_ready(20)  # /status is 200 once the queue service has recovered
    code, body = await status(daemon)
    assert code == 200
    assert body["components"]["ami"]["state"] == "connected"

    if how == "kill -9":
        asterisk.kill()
    else:
        await asyncio.to_thread(asterisk.stop)
    await eventually(lambda: daemon.ami.health().state != "connected", timeout=10)
    code, body = await status(daemon)
    assert code == 503
    assert body["status"] == "degraded"
    assert body["components"]["ami"]["up"] is False
    assert body["components"]["database"]["up"] is True

    await asyncio.to_thread(asterisk.start)
    await eventually(lambda: daemon.ami.health().state == "connected", timeout=20)
    await park_call(daemon)
    after = await eventually(lambda: len(view_names(daemon)) == 2 and view_names(daemon))
    assert after == asterisk_channels(asterisk)
    assert not after & before  # the view holds no channel that died with the old Asterisk

    code, body = await status(daemon)
    assert code == 200
    assert body["components"]["ami"]["reconnects"] >= 1
    assert body["components"]["ami"]["channels"] == 2


async def test_view_is_built_from_asterisk_on_connect(
    asterisk: AsteriskInstance, start_daemon: StartDaemon
) -> None:
    """Channels that were up before the daemon connected (no events seen for them) are in
    its view once it is connected: every (re)connect re-reads the channels."""
    out = asterisk.cli("channel originate Local/s@ccpbx-park application Wait 600")
    assert out.strip() == "", out
    existing = await eventually(
        lambda: len(asterisk_channels(asterisk)) == 2 and asterisk_channels(asterisk)
    )
    daemon = await start_daemon()
    await eventually(lambda: view_names(daemon) == existing)
