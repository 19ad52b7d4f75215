"""A client holding idle FastAGI connections cannot make real calls take the fallback."""

from __future__ import annotations

import asyncio
import contextlib

from ccpbx.agi import AgiSession
from ccpbx.sandbox.asterisk import AsteriskInstance

from .conftest import StartDaemon
from .test_inbound_call import place_call


async def test_real_calls_complete_while_another_host_holds_its_share(
    asterisk: AsteriskInstance, start_daemon: StartDaemon
) -> None:
    """Another host (127.0.0.2) opens FastAGI connections and never sends an environment:
    past its share it is refused at once, a real SIPp call through Asterisk still reaches
    its handler, and /status shows FastAGI as refusing, naming that host."""
    answered: list[str] = []

    async def inbound(session: AgiSession) -> None:
        answered.append(session.env.uniqueid)
        await session.answer()
        await session.stream_file("beep")
        await session.hangup()

    daemon = await start_daemon({"inbound": inbound})
    share = daemon.config.agi.max_pending_per_source
    held = []
    try:
        for _ in range(share):
            held.append(
                await asyncio.open_connection(
                    "127.0.0.1", daemon.agi.port, local_addr=("127.0.0.2", 0)
                )
            )
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", daemon.agi.port, local_addr=("127.0.0.2", 0)
        )
        with contextlib.suppress(ConnectionError):
            assert await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()
        result = await place_call(asterisk)
        assert result.ok, result.errors
        assert len(answered) == 1
        status = daemon.health.snapshot()
        agi = status["components"]["agi"]
        assert status["status"] == "degraded"
        assert (agi["state"], agi["refused_source"]) == ("refusing", "127.0.0.2")
        assert agi["source_refusals"] >= 1
        print(f"held {share} idle connections from 127.0.0.2; the real call was served")
    finally:
        for _, w in held:
            w.close()
