"""The inbound call handler ccpbx serves until an IVR flow is configured:
answer, play a greeting, hang up. It proves the whole path (carrier, dialplan,
FastAGI, ccpbx) end to end."""

from __future__ import annotations

import structlog

from ccpbx.agi import AgiSession

log = structlog.get_logger(__name__)

GREETING = "hello-world"


async def welcome(session: AgiSession) -> None:
    env = session.env
    log.info("inbound_call", did=env.get("agi_dnid") or env.extension, caller=env.callerid)
    await session.answer()
    await session.stream_file(GREETING)
    await session.hangup()
