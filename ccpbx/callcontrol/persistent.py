"""Persistent agent connections: the agent's phone stays connected between calls.

At login ccpbx calls the agent's phone once into ``[ccpbx-agent-session]``, where
it waits in a conference of its own, ``ccpbx-agent-<agent>`` (ConfBridge, the
agent as its marked user). To put a caller through, ccpbx redirects the caller's
channel into ``[ccpbx-agent-connect]``, which joins that conference: no ringing,
no answer delay. When the caller hangs up the agent stays; if the agent leaves,
the caller leaves too (``end_marked``) and goes back to the dialplan.

A leg belongs to the Asterisk process that made it (:mod:`ccpbx.ami.instance`): it is
hung up by its uniqueid (unique across restarts, unlike the channel name a restarted
Asterisk gives a new call), and never once that process is gone. After an Asterisk
restart :meth:`PersistentAgentConnections.reconnect` calls the phone back (see
:mod:`.reconnect`).

This module knows channels, conferences and AMI; it knows nothing of queues or
campaigns: the ACD and the dialer decide who goes where and call ``put_through``.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import structlog

from ccpbx.ami import AmiClient
from ccpbx.ami.instance import UNKNOWN, AsteriskInstance, ChannelRef
from ccpbx.ami.protocol import AmiMessage
from ccpbx.callcontrol.reconnect import (
    ASTERISK_SHUTDOWN,
    SHUTDOWN_SOFTHANGUP,
    ReconnectPolicy,
    registered,
)
from ccpbx.errors import Conflict, InvalidInput, NotFound, Unavailable

log = structlog.get_logger(__name__)

AGENT_RE = re.compile(r"^[0-9]{2,15}$")
ENDPOINT_RE = re.compile(r"^[A-Za-z0-9_.+@-]{1,80}$")
CONFERENCE_PREFIX = "ccpbx-agent-"
SESSION_CONTEXT = "ccpbx-agent-session"
CONNECT_CONTEXT = "ccpbx-agent-connect"

LegLost = Callable[[str, str], Awaitable[None] | None]


def conference_of(agent: str) -> str:
    return f"{CONFERENCE_PREFIX}{agent}"


def check_agent(agent: str) -> str:
    if not AGENT_RE.match(agent):
        raise InvalidInput(f"agent number must be 2 to 15 digits, got {agent!r}", field="agent")
    return agent


@dataclass
class AgentLeg:
    """The agent phone's channel while it sits in its conference."""

    agent: str
    endpoint: str
    uniqueid: str
    channel: str = ""
    joined_at: float | None = None
    callers: set[str] = field(default_factory=set)  # uniqueids of callers in the conference
    instance: AsteriskInstance = UNKNOWN
    """The Asterisk process the leg lives on."""

    @property
    def ref(self) -> ChannelRef:
        return ChannelRef(self.instance, self.uniqueid, self.channel)


class PersistentAgentConnections:
    """Owns the persistent legs of agents' phones on one Asterisk node."""

    def __init__(self, ami: AmiClient, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._ami = ami
        self._clock = clock
        self._legs: dict[str, AgentLeg] = {}
        self._by_uniqueid: dict[str, str] = {}
        self._join_waiters: dict[str, asyncio.Future[AmiMessage]] = {}
        self._lost_hooks: list[LegLost] = []
        self._shut_down: set[str] = set()
        """Legs Asterisk is ending because it shuts down (uniqueids)."""
        ami.on_event("ConfbridgeJoin", self._on_join)
        ami.on_event("SoftHangupRequest", self._on_soft_hangup)
        ami.on_event("ConfbridgeLeave", self._on_leave)
        ami.on_event("Hangup", self._on_hangup)
        ami.on_event("OriginateResponse", self._on_originate_response)

    # -- queries -----------------------------------------------------------------
    def connected(self, agent: str) -> bool:
        leg = self._legs.get(agent)
        return leg is not None and leg.joined_at is not None

    def leg(self, agent: str) -> AgentLeg | None:
        return self._legs.get(agent)

    def agents(self) -> list[str]:
        return sorted(a for a in self._legs if self.connected(a))

    def on_leg_lost(self, hook: LegLost) -> None:
        """``hook(agent, reason)`` runs when a connected agent's phone leaves."""
        self._lost_hooks.append(hook)

    # -- actions -----------------------------------------------------------------
    async def open(self, agent: str, endpoint: str, *, ring_timeout: float = 30.0) -> AgentLeg:
        """Call the agent's phone (PJSIP ``endpoint``) and wait until it is in its conference."""
        check_agent(agent)
        if not ENDPOINT_RE.match(endpoint):
            raise InvalidInput(f"not a SIP endpoint name: {endpoint!r}", field="endpoint")
        if self.connected(agent):
            raise Conflict(f"agent {agent} is already connected", agent=agent)
        uniqueid = f"ccpbx-agent-{agent}-{uuid.uuid4().hex[:12]}"
        leg = AgentLeg(agent, endpoint, uniqueid, instance=self._ami.instance)
        self._legs[agent] = leg
        self._by_uniqueid[uniqueid] = agent
        joined = self._wait_join(uniqueid)
        try:
            await self._ami.action(
                "Originate",
                Channel=f"PJSIP/{endpoint}",
                Context=SESSION_CONTEXT,
                Exten=agent,
                Priority="1",
                ChannelId=uniqueid,
                CallerID=f'"ccpbx agent {agent}" <{agent}>',
                Timeout=str(int(ring_timeout * 1000)),
                Variable=f"CCPBX_AGENT={agent}",
                Async="true",
                timeout=10,
            )
            async with asyncio.timeout(ring_timeout + 5):
                await joined
        except BaseException:
            self._forget(agent, uniqueid)
            self._join_waiters.pop(uniqueid, None)
            raise
        log.info("agent_leg_connected", agent=agent, endpoint=endpoint, channel=leg.channel)
        return leg

    async def put_through(
        self, agent: str, caller_channel: str, caller_uniqueid: str, *, timeout: float = 5.0
    ) -> float:
        """Move a waiting caller into the agent's conference; return seconds until joined."""
        leg = self._legs.get(agent)
        if leg is None or leg.joined_at is None:
            raise Unavailable(f"agent {agent} has no live connection", agent=agent)
        joined = self._wait_join(caller_uniqueid)
        started = self._clock()
        try:
            await self._ami.action(
                "Redirect",
                Channel=caller_channel,
                Context=CONNECT_CONTEXT,
                Exten=agent,
                Priority="1",
                timeout=timeout,
            )
            async with asyncio.timeout(timeout):
                await joined
        finally:
            self._join_waiters.pop(caller_uniqueid, None)
        return self._clock() - started

    async def close(self, agent: str) -> None:
        """Hang up the agent's persistent leg (logout), by its uniqueid, if it lives on
        the Asterisk ccpbx talks to now."""
        leg = self._legs.get(agent)
        if leg is None:
            raise NotFound(f"agent {agent} has no connection", agent=agent)
        if leg.channel and leg.ref.lives_on(self._ami.instance):
            await self._ami.action("Hangup", Channel=leg.uniqueid, timeout=5, check=False)
        self._forget(agent, leg.uniqueid)

    def forget(self, agent: str) -> AgentLeg | None:
        """Drop the agent's leg without a word to Asterisk (it died with its Asterisk)."""
        leg = self._legs.get(agent)
        if leg is not None:
            self._forget(agent, leg.uniqueid)
        return leg

    async def registered(self, endpoint: str) -> bool:
        """Asterisk has a contact it can call for the PJSIP ``endpoint``."""
        result = await self._ami.action(
            "PJSIPShowEndpoint", Endpoint=endpoint, timeout=10, check=False
        )
        return result.ok and registered(e for e in result.events if e.name == "ContactStatusDetail")

    async def reconnect(
        self,
        agent: str,
        endpoint: str,
        policy: ReconnectPolicy | None = None,
        *,
        not_on: AsteriskInstance | None = None,
    ) -> AgentLeg:
        """Call the agent's phone again until it is back in its conference (after an
        Asterisk restart): each try waits for the link (to another Asterisk process than
        ``not_on``, the one that shut down) and the phone's registration; ``Unavailable``
        with the last reason once ``policy``'s tries are spent."""
        policy = policy or ReconnectPolicy()
        reason = "not tried"
        attempt = 0
        while (pause := policy.pause_before(attempt)) is not None:
            attempt += 1
            await asyncio.sleep(pause)
            try:
                if not await self._wait_link(not_on, policy.link_wait_s):
                    reason = "Asterisk is not reachable"
                elif not await self.registered(endpoint):
                    reason = f"endpoint {endpoint} is not registered"
                else:
                    leg = await self.open(agent, endpoint, ring_timeout=policy.ring_timeout_s)
                    log.info("agent_leg_reconnected", agent=agent, attempt=attempt)
                    return leg
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                reason = getattr(exc, "message", None) or repr(exc)
            log.info("agent_reconnect_try_failed", agent=agent, attempt=attempt, reason=reason)
        raise Unavailable(
            f"agent {agent}'s phone did not come back: {reason}", agent=agent, reason=reason
        )

    async def recover(self) -> list[str]:
        """Find agents whose phones are still in their conferences (after a ccpbx restart)."""
        rooms = await self._ami.action("ConfbridgeListRooms", timeout=10, check=False)
        instance = self._ami.instance
        found = []
        for room in rooms.events:
            name = room.get("Conference") or ""
            agent = name.removeprefix(CONFERENCE_PREFIX)
            if not name.startswith(CONFERENCE_PREFIX) or not AGENT_RE.match(agent):
                continue
            members = await self._ami.action(
                "ConfbridgeList", Conference=name, timeout=10, check=False
            )
            for member in members.events:
                if member.name != "ConfbridgeList":
                    continue
                uniqueid = member.get("Uniqueid") or ""
                if member.get("MarkedUser") == "Yes":
                    channel = member.get("Channel") or ""
                    endpoint = channel.removeprefix("PJSIP/").rsplit("-", 1)[0]
                    leg = AgentLeg(
                        agent, endpoint, uniqueid, channel, self._clock(), instance=instance
                    )
                    self._legs[agent] = leg
                    self._by_uniqueid[uniqueid] = agent
                    found.append(agent)
                elif agent in self._legs:
                    self._legs[agent].callers.add(uniqueid)
        log.info("agent_legs_recovered", agents=found)
        return found

    async def _wait_link(self, not_on: AsteriskInstance | None, timeout: float) -> bool:
        """Wait until the link serves an Asterisk other than ``not_on``; False on timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            left = deadline - loop.time()
            if left <= 0:
                return False
            try:
                await self._ami.wait_ready(left)
            except Unavailable:
                return False
            if not_on is None or self._ami.instance != not_on:
                return True
            await asyncio.sleep(min(0.2, left))  # still the Asterisk that is going away

    # -- events ------------------------------------------------------------------
    def _wait_join(self, uniqueid: str) -> asyncio.Future[AmiMessage]:
        future: asyncio.Future[AmiMessage] = asyncio.get_running_loop().create_future()
        self._join_waiters[uniqueid] = future
        return future

    def _on_join(self, event: AmiMessage) -> None:
        uniqueid = event.get("Uniqueid") or ""
        conference = event.get("Conference") or ""
        agent = self._by_uniqueid.get(uniqueid)
        if agent is not None and conference == conference_of(agent):
            leg = self._legs[agent]
            leg.channel = event.get("Channel") or leg.channel
            leg.joined_at = self._clock()
        elif conference.startswith(CONFERENCE_PREFIX):
            owner = self._legs.get(conference.removeprefix(CONFERENCE_PREFIX))
            if owner is not None:
                owner.callers.add(uniqueid)
        waiter = self._join_waiters.pop(uniqueid, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(event)

    def _on_leave(self, event: AmiMessage) -> None:
        conference = event.get("Conference") or ""
        owner = self._legs.get(conference.removeprefix(CONFERENCE_PREFIX))
        if owner is not None:
            owner.callers.discard(event.get("Uniqueid") or "")

    def _on_originate_response(self, event: AmiMessage) -> None:
        uniqueid = event.get("Uniqueid") or ""
        if uniqueid in self._by_uniqueid and event.get("Response") == "Failure":
            waiter = self._join_waiters.pop(uniqueid, None)
            if waiter is not None and not waiter.done():
                reason = event.get("Reason") or "?"
                waiter.set_exception(
                    Unavailable(
                        f"the agent's phone did not answer (reason {reason})",
                        agent=self._by_uniqueid[uniqueid],
                        reason=reason,
                    )
                )

    def _on_soft_hangup(self, event: AmiMessage) -> None:
        uniqueid = event.get("Uniqueid") or ""
        if uniqueid in self._by_uniqueid and event.get("Cause") == SHUTDOWN_SOFTHANGUP:
            self._shut_down.add(uniqueid)

    async def _on_hangup(self, event: AmiMessage) -> None:
        uniqueid = event.get("Uniqueid") or ""
        agent = self._by_uniqueid.get(uniqueid)
        if agent is None:
            return
        leg = self._legs.get(agent)
        was_connected = leg is not None and leg.joined_at is not None
        self._forget(agent, uniqueid)
        shut_down = uniqueid in self._shut_down
        self._shut_down.discard(uniqueid)
        if was_connected:
            reason = (
                ASTERISK_SHUTDOWN
                if shut_down
                else event.get("Cause-txt") or event.get("Cause") or "hangup"
            )
            log.info("agent_leg_lost", agent=agent, reason=reason)
            for hook in self._lost_hooks:
                try:
                    result = hook(agent, reason)
                    if result is not None:
                        await result
                except Exception:
                    log.exception("agent_leg_lost_hook_failed", agent=agent)

    def _forget(self, agent: str, uniqueid: str) -> None:
        self._by_uniqueid.pop(uniqueid, None)
        leg = self._legs.get(agent)
        if leg is not None and leg.uniqueid == uniqueid:
            del self._legs[agent]
