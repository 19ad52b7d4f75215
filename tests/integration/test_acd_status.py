"""The ACD's entry in /status on the real daemon."""

from __future__ import annotations

from typing import Any

import structlog

from ccpbx.sandbox.asterisk import AsteriskInstance

from .conftest import StartDaemon, admin_status, eventually
from .test_acd_support import add_queue, waiting_caller

status = admin_status


async def test_status_reports_the_queue_service(
    asterisk: AsteriskInstance, start_daemon: StartDaemon
) -> None:
    """/status has an ``acd`` component: ready (and up) once the service has recovered,
    with what it found and holds; once the service stops it is down and /status is 503."""
    daemon = await start_daemon()
    await daemon.acd.wait_ready(20)
    await add_queue(daemon, "sales")
    call = await waiting_caller(daemon.ami, "sales")
    await eventually(lambda: call in daemon.acd.state.calls)
    code, body = await status(daemon)
    assert code == 200, body
    acd = body["components"]["acd"]
    assert (acd["up"], acd["state"]) == (True, "ready")
    assert (acd["queues"], acd["calls"], acd["agents_logged_in"]) == (1, 1, 0)
    assert acd["recovered"] == {"agents": 0, "talking": 0, "waiting": 0}
    assert "last_error" not in acd

    await daemon.acd.stop()
    code, body = await status(daemon)
    assert code == 503
    assert body["status"] == "degraded"
    assert body["components"]["acd"]["state"] == "stopped"
    assert body["components"]["acd"]["up"] is False
    assert body["components"]["ami"]["up"] is True


async def test_status_reports_the_dialer(
    asterisk: AsteriskInstance, start_daemon: StartDaemon
) -> None:
    """/status has a ``dialer`` component: ready once it has taken up the running
    campaigns, naming those it dials."""
    from ccpbx.sandbox.outbound import NEW_YORK, seed_campaign

    daemon = await start_daemon()
    assert daemon.dialer is not None
    await seed_campaign(daemon, "st", [("+12125660001", NEW_YORK)])

    async def ready() -> dict[str, Any] | None:
        code, body = await status(daemon)
        entry: dict[str, Any] = body["components"]["dialer"]
        return entry if code == 200 and entry["state"] == "ready" else None

    entry = await eventually(ready)
    assert entry["campaigns_dialing"] == []
    await daemon.dialer.start_campaign("st")
    code, body = await status(daemon)
    assert code == 200, body
    assert body["components"]["dialer"]["campaigns_dialing"] == ["st"]
    await daemon.dialer.pause_campaign("st")


async def test_normal_start_logs_no_recovery_failure(
    asterisk: AsteriskInstance, start_daemon: StartDaemon
) -> None:
    """On a normal start the ACD's recovery waits for the database pool being created
    with it: no acd_recovery_failed warning, no error left in its status."""
    with structlog.testing.capture_logs() as logs:
        daemon = await start_daemon()
        await daemon.acd.wait_ready(20)
    events = [entry["event"] for entry in logs]
    assert "acd_recovered" in events
    assert "acd_recovery_failed" not in events
    assert "last_error" not in daemon.acd.status().detail
