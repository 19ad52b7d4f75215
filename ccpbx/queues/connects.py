"""The AMI side of the queue service's decisions: putting a caller through to a
persistent agent, ringing a ring-mode agent, recording, sending a caller elsewhere.

Each method is a coroutine the worker runs as a task of its own. An outcome the worker
waits for (a put-through, a ring) comes back through ``report(kind, data)``, which only
enqueues; the others are fire-and-forget and log what failed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import structlog

from ccpbx.ami import AmiClient
from ccpbx.callcontrol.persistent import PersistentAgentConnections
from ccpbx.callcontrol.ring import RingConnections, RingResult
from ccpbx.queues.model import VOICEMAIL, VOICEMAIL_VAR, CallLeg

log = structlog.get_logger(__name__)

Report = Callable[[str, Any], None]


class CallConnects:
    """Connects and redirects over one AMI client (see the module docstring)."""

    def __init__(
        self,
        ami: AmiClient,
        persistent: PersistentAgentConnections,
        ring: RingConnections,
        report: Report,
    ) -> None:
        self._ami = ami
        self._persistent = persistent
        self._ring = ring
        self._report = report

    async def put_through(self, call_id: str, agent: str, channel: str) -> None:
        """Bridge the caller into the persistent agent's conference; reports
        ``connected`` (call id, agent, ok, the agent's channel or the error)."""
        try:
            await self._persistent.put_through(agent, channel, call_id)
        except Exception as exc:
            self._report("connected", (call_id, agent, False, repr(exc)))
        else:
            leg = self._persistent.leg(agent)
            detail = leg.channel if leg is not None else ""
            self._report("connected", (call_id, agent, True, detail))

    async def ring(
        self,
        call_id: str,
        agent: str,
        endpoint: str,
        leg: CallLeg,
        timeout: float,
        caller_id: str = "",
    ) -> None:
        """Ring the agent's phone for the caller (the ring leg is noted in ``leg``),
        showing ``caller_id`` (see :mod:`ccpbx.queues.presentation`); reports ``rang``
        (call id, agent, the result or None when the ring failed)."""
        result: RingResult | None = None
        ring_leg = self._ring.new_leg(agent)
        leg.ring_legs[agent] = ring_leg
        try:
            result = await self._ring.ring(
                agent,
                endpoint,
                leg.channel,
                timeout_s=timeout,
                caller_id=caller_id,
                leg=ring_leg,
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("acd_ring_failed", call_id=call_id, agent=agent, error=repr(exc))
        self._report("rang", (call_id, agent, result))

    async def cancel_ring(self, ring_leg: str) -> None:
        await self._ring.cancel(ring_leg)

    async def record(self, leg: CallLeg) -> None:
        try:
            await self._ami.action(
                "MixMonitor", Channel=leg.channel, File=leg.recording or "", timeout=5
            )
            log.info("acd_recording_started", call_id=leg.call_id, file=leg.recording)
        except Exception as exc:
            log.warning("acd_recording_failed", call_id=leg.call_id, error=repr(exc))

    async def to_voicemail(self, channel: str, mailbox: str) -> None:
        """Leave the caller in VoiceMail for ``mailbox`` (the queue's overflow target):
        the wait context's ``s`` extension reads it from CCPBX_VOICEMAIL."""
        try:
            await self._ami.action(
                "Setvar", Channel=channel, Variable=VOICEMAIL_VAR, Value=mailbox, timeout=5
            )
        except Exception as exc:
            log.warning("acd_voicemail_setvar_failed", channel=channel, error=repr(exc))
        await self.redirect(channel, VOICEMAIL)

    async def redirect(self, channel: str, where: tuple[str, str, str]) -> None:
        context, exten, priority = where
        with contextlib.suppress(Exception):
            await self._ami.action(
                "Redirect",
                Channel=channel,
                Context=context,
                Exten=exten,
                Priority=priority,
                timeout=5,
            )
