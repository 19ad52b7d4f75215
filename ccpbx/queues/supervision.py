"""Supervisor listen/whisper/barge (ChanSpy from the supervisor's own phone) and
recording control (MixMonitor mute) for queue calls.

Handed the AMI client and what to act on: the agent's channel (see
:func:`agent_channel`), the caller's leg.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog

from ccpbx.acd import AcdState
from ccpbx.ami import AmiClient
from ccpbx.callcontrol.persistent import ENDPOINT_RE, PersistentAgentConnections
from ccpbx.errors import Conflict, InvalidInput, NotFound
from ccpbx.queues.model import CallLeg

log = structlog.get_logger(__name__)

SPY_OPTIONS = {"listen": "qE", "whisper": "qwE", "barge": "qBE"}
"""ChanSpy options: q no beep or name, E end with the spied channel; w whisper (only
the spied-on channel, the agent, hears the supervisor), B barge (both hear)."""


def agent_channel(
    persistent: PersistentAgentConnections,
    state: AcdState,
    legs: Mapping[str, CallLeg],
    agent: str,
) -> str:
    """The channel of the agent's phone: the persistent leg, or the answered ring leg."""
    leg = persistent.leg(agent)
    if leg is not None and leg.channel:
        return leg.channel
    a = state.agents.get(agent)
    if a is not None and a.call_id is not None and a.call_id in legs:
        return legs[a.call_id].agent_channel
    return ""


async def spy(
    ami: AmiClient, channel: str, supervisor_endpoint: str, agent: str, how: str, *, now: float
) -> dict[str, Any]:
    """Call the supervisor's phone into ChanSpy on the agent's ``channel`` ("": none)."""
    options = SPY_OPTIONS.get(how)
    if options is None:
        raise InvalidInput("how must be listen, whisper or barge", field="how")
    if not ENDPOINT_RE.match(supervisor_endpoint):
        raise InvalidInput("not a SIP endpoint name", field="endpoint")
    if not channel:
        raise Conflict(f"agent {agent} has no live channel to listen to", agent=agent)
    spy_id = f"ccpbx-spy-{agent}-{int(now * 1000)}"
    await ami.action(
        "Originate",
        Channel=f"PJSIP/{supervisor_endpoint}",
        Application="ChanSpy",
        Data=f"{channel},{options}",
        ChannelId=spy_id,
        CallerID=f'"ccpbx {how} {agent}" <{agent}>',
        Timeout="30000",
        Async="true",
        timeout=10,
    )
    log.info("acd_spy_started", agent=agent, how=how, spied=channel, spy=spy_id)
    return {"agent": agent, "how": how, "channel": channel, "options": options, "id": spy_id}


async def set_recording(
    ami: AmiClient, leg: CallLeg | None, call_id: str, paused: bool
) -> dict[str, Any]:
    """Mute (pause) or unmute (resume) a queue call's MixMonitor recording (``leg``:
    the call's, None if the service does not hold it)."""
    if leg is None or leg.recording is None:
        raise NotFound(f"call {call_id} is not being recorded", call_id=call_id)
    await ami.action(
        "MixMonitorMute",
        Channel=leg.channel,
        Direction="both",
        State="1" if paused else "0",
        timeout=5,
    )
    log.info("acd_recording_muted", call_id=call_id, paused=paused)
    return {"call_id": call_id, "file": leg.recording, "paused": paused}
