"""Ring mode: ring an agent's phone for one waiting caller; on answer, bridge them.

ccpbx originates a call to the agent's phone (``PJSIP/<endpoint>``) with a ring
timeout. When the phone answers, the new channel runs ``[ccpbx-ring-answer]``, which
bridges it with the caller (``Bridge(${CCPBX_RING_CALLER},x)``): the caller is taken
out of music on hold and bridged with the agent at once; when the bridge ends the
caller is hung up (``x``), then the agent's leg. The leg runs in the dialplan (not as
an originated application) so that call control can redirect it (hold, consult).
When the phone does not answer in time, Asterisk gives up the originate and
:meth:`RingConnections.ring` reports no answer.

Like :mod:`ccpbx.callcontrol.persistent`, this module knows channels and AMI, not
queues: the queue service decides who rings for which caller.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass

import structlog

from ccpbx.ami import AmiClient
from ccpbx.ami.protocol import AmiMessage
from ccpbx.callcontrol.persistent import ENDPOINT_RE
from ccpbx.errors import InvalidInput

log = structlog.get_logger(__name__)

LEG_PREFIX = "ccpbx-ring-"
ANSWER_CONTEXT = "ccpbx-ring-answer"
CALLER_VAR = "CCPBX_RING_CALLER"


@dataclass(frozen=True, slots=True)
class RingResult:
    """How one ring ended: ``answered`` (the agent is bridged with the caller) or not."""

    leg: str
    """Uniqueid of the agent's leg."""
    answered: bool
    reason: str
    """Asterisk's originate reason code when not answered (3 no answer, 5 busy, ...)."""
    channel: str = ""


class RingConnections:
    """Rings agents' phones on one Asterisk node and tracks the legs it started."""

    def __init__(self, ami: AmiClient) -> None:
        self._ami = ami
        self._waiters: dict[str, asyncio.Future[AmiMessage]] = {}
        self._channels: dict[str, str] = {}  # leg uniqueid -> channel name
        ami.on_event("OriginateResponse", self._on_originate_response)
        ami.on_event("Newchannel", self._on_newchannel)
        ami.on_event("Hangup", self._on_hangup)

    @staticmethod
    def new_leg(agent: str) -> str:
        return f"{LEG_PREFIX}{agent}-{uuid.uuid4().hex[:12]}"

    def channel_of(self, leg: str) -> str | None:
        return self._channels.get(leg)

    async def ring(
        self,
        agent: str,
        endpoint: str,
        caller_channel: str,
        *,
        timeout_s: float,
        caller_id: str = "",
        leg: str | None = None,
    ) -> RingResult:
        """Ring ``endpoint`` for up to ``timeout_s``; bridge ``caller_channel`` on answer.

        ``leg`` (from :meth:`new_leg`) names the agent's channel, so that the caller can
        :meth:`cancel` it while it rings."""
        if not ENDPOINT_RE.match(endpoint):
            raise InvalidInput(f"not a SIP endpoint name: {endpoint!r}", field="endpoint")
        if any(c in caller_channel for c in ",\r\n") or not caller_channel:
            raise InvalidInput("not a channel name", field="caller_channel")
        if any(c in caller_id for c in "\r\n\x00"):
            raise InvalidInput("a caller ID is one line", field="caller_id")
        leg = leg or self.new_leg(agent)
        future: asyncio.Future[AmiMessage] = asyncio.get_running_loop().create_future()
        self._waiters[leg] = future
        try:
            await self._ami.action(
                "Originate",
                Channel=f"PJSIP/{endpoint}",
                Context=ANSWER_CONTEXT,
                Exten=agent,
                Priority="1",
                ChannelId=leg,
                CallerID=caller_id or f'"ccpbx queue" <{agent}>',
                Timeout=str(max(1000, int(timeout_s * 1000))),
                Variable=[f"CCPBX_AGENT={agent}", f"{CALLER_VAR}={caller_channel}"],
                Async="true",
                timeout=10,
            )
            async with asyncio.timeout(timeout_s + 10):
                response = await future
        except BaseException:
            # Nothing may ring on after we stopped waiting for it.
            await self.cancel(leg)
            raise
        finally:
            self._waiters.pop(leg, None)
        answered = response.get("Response") == "Success"
        reason = response.get("Reason") or ""
        log.info("agent_ring_ended", agent=agent, leg=leg, answered=answered, reason=reason)
        return RingResult(leg, answered, reason, self._channels.get(leg, ""))

    async def cancel(self, leg: str) -> None:
        """Hang up a leg (ringing or answered); nothing if it is already gone."""
        channel = self._channels.get(leg)
        if channel is None:
            # Not created yet (or gone): a waiter still pending will see its end.
            return
        try:
            # By uniqueid (ccpbx's own, unique across Asterisk restarts): the channel's
            # name may belong to another call on a restarted Asterisk.
            await self._ami.action("Hangup", Channel=leg, timeout=5, check=False)
        except Exception as exc:  # the link may be down: the leg will time out by itself
            log.warning("agent_ring_cancel_failed", leg=leg, error=repr(exc))

    # -- events ------------------------------------------------------------------
    def _on_newchannel(self, event: AmiMessage) -> None:
        uniqueid = event.get("Uniqueid") or ""
        if uniqueid.startswith(LEG_PREFIX):
            self._channels[uniqueid] = event.get("Channel") or ""

    def _on_originate_response(self, event: AmiMessage) -> None:
        waiter = self._waiters.get(event.get("Uniqueid") or "")
        if waiter is not None and not waiter.done():
            waiter.set_result(event)

    def _on_hangup(self, event: AmiMessage) -> None:
        self._channels.pop(event.get("Uniqueid") or "", None)
