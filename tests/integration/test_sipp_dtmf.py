"""SIPp callers press keys that Asterisk hears, in any order and repeated."""

from __future__ import annotations

import asyncio

from ccpbx.agi import AgiSession
from ccpbx.sandbox.asterisk import AsteriskInstance
from ccpbx.sandbox.sipp import Step, caller_scenario, run_sipp

from .conftest import StartDaemon


async def test_descending_and_repeated_keys_arrive(
    asterisk: AsteriskInstance, start_daemon: StartDaemon
) -> None:
    """Keys 9, 7, 7, 1, 1, * and # pressed by SIPp reach the FastAGI handler in order
    (SIPp's shipped pcaps would lose every key not newer than the one before)."""
    heard: list[str] = []

    async def inbound(session: AgiSession) -> None:
        await session.answer()
        heard.append(await session.get_data("silence/1", 8000, 7))
        await session.hangup()

    await start_daemon({"inbound": inbound})
    steps = [Step.pause(1200), *Step.dtmf("977311*", gap_ms=350)]
    result = await asyncio.to_thread(
        run_sipp,
        asterisk,
        caller_scenario("15550199", steps=steps),
        service="18005550100",
        timeout_s=40,
    )
    assert result.ok, result.errors
    assert heard == ["977311*"]
