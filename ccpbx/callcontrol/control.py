"""Call control by API: an agent holds, transfers, conferences, sends DTMF to, mutes
toward or hangs up the customer of its current ACD call.

The call is found in the queue service's floor (the agent's ``call_id`` and the
caller's :class:`~ccpbx.queues.model.CallLeg`); changes to ACD state run on the
service's worker (:meth:`~ccpbx.queues.service.QueueService.apply`), the rest is AMI:

- **hold**: the customer is redirected to ``[ccpbx-hold]`` (music on hold). A
  persistent agent stays in its own conference and hears silence; a ring-mode agent's
  phone is redirected in the same action to ``[ccpbx-agent-hold]``, where it waits in
  silence, in its own conference. **unhold**: a persistent agent's customer is put
  through into its conference again; a ring-mode agent's phone goes back to
  ``[ccpbx-ring-answer]``, which bridges it with the customer as after the ring.
- **blind transfer**: the ACD call ends for the agent (wrap-up) and the customer goes
  to ``[ccpbx-queue-wait]``: to a queue, with its priority and skills kept; to another
  agent, who is reserved for it first (the ACD's held-outbound path), so that agent's
  mode is honoured (put through, or rung); to an outside number, only if the agent's
  phone's class of service allows it (the phone-outside rules), dialed through
  ``[ccpbx-transfer-outside]``.
- **attended transfer**: the customer is put on hold and the target is called into the
  agent's conference (a ring-mode agent's phone is moved into its conference for the
  consult). ``complete`` moves the customer to the target (an agent through the ACD
  as above; the outside party's leg is sent to ``[ccpbx-ring-answer]`` to bridge with
  the customer) and frees the agent into wrap-up; ``cancel`` hangs the consult leg up
  and takes the customer off hold.
- **three-way call**: the customer and the third party join the agent's conference
  (a ring-mode agent's phone and customer are moved into it first).
- **DTMF** (``PlayDTMF`` on the customer's channel), **mute** (``ConfbridgeMute`` of a
  persistent agent or of any agent in its conference; ``MuteAudio`` on a ring-mode
  agent's bridged phone), **hang up** the customer.

Each action is written to the audit log with its actor and published on the ACD's
event feed as ``{"type": "call_control", ...}``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

from ccpbx.acd import AcdEvent, AgentMode, AgentState
from ccpbx.ami import AmiClient
from ccpbx.ami.protocol import AmiMessage
from ccpbx.callcontrol.outside import OutsideDialing
from ccpbx.callcontrol.ring import ANSWER_CONTEXT, CALLER_VAR
from ccpbx.callcontrol.targets import Target, TargetKind, TransferMode, check_digits
from ccpbx.errors import Conflict, InvalidInput
from ccpbx.queues.model import WAIT_CONTEXT, CallAttributes, CallLeg
from ccpbx.queues.service import QueueService
from ccpbx.store import audit
from ccpbx.store.db import Executor
from ccpbx.tasks import TaskSet

log = structlog.get_logger(__name__)

HOLD_CONTEXT = "ccpbx-hold"
AGENT_HOLD_CONTEXT = "ccpbx-agent-hold"
JOIN_CONTEXT = "ccpbx-conference-join"
CONNECT_CONTEXT = "ccpbx-agent-connect"
OUTSIDE_CONTEXT = "ccpbx-transfer-outside"
CONSULT_PREFIX = "ccpbx-consult-"

Dial = tuple[str, list[str]]
"""A leg's Originate channel and its variables."""


@dataclass(slots=True)
class Controlled:
    """What call control did to an agent's current call."""

    agent: str
    call_id: str
    held: bool = False
    in_conference: bool = False
    """A ring-mode agent's phone sits in the agent's conference (moved there)."""
    agent_leg: str = ""
    """Uniqueid of the agent's phone leg (persistent session or answered ring)."""
    channel: str = ""
    """The customer's channel."""
    queue: str = ""
    """The queue the call came from."""
    consult: str = ""
    """Uniqueid of the consult (or third-party) leg."""
    consult_target: Target | None = None
    third_parties: list[str] = field(default_factory=list)


class CallControl:
    """Acts on agents' current calls over one AMI client (see the module docstring)."""

    def __init__(
        self,
        ami: AmiClient,
        acd: QueueService,
        outside: OutsideDialing,
        pool: Callable[[], Executor] | None = None,
    ) -> None:
        self._ami = ami
        self._acd = acd
        self._outside = outside
        self._pool = pool
        self._calls: dict[str, Controlled] = {}
        self._tasks = TaskSet("call-control")
        ami.on_event("Hangup", self._on_hangup)

    # ----- reading the floor ---------------------------------------------------------

    def _current(self, agent: str) -> tuple[CallLeg, Controlled]:
        """The agent's connected call: its leg and what call control did to it."""
        a = self._acd.state.agents.get(agent)
        call_id = a.call_id if a is not None else None
        leg = self._acd.legs.get(call_id) if call_id else None
        if a is None or a.state is not AgentState.ON_CALL or call_id is None or leg is None:
            raise Conflict(f"agent {agent} has no call", agent=agent, error="no_call")
        known = self._calls.get(agent)
        if known is None or known.call_id != call_id:
            own = self._acd.persistent.leg(agent) if a.mode is AgentMode.PERSISTENT else None
            phone = own.uniqueid if own is not None else leg.agent_leg
            known = Controlled(
                agent, call_id, agent_leg=phone, channel=leg.channel, queue=leg.queue
            )
            self._calls[agent] = known
        return leg, known

    def _mode(self, agent: str) -> AgentMode:
        return self._acd.state.agent(agent).mode

    def _agent_channel(self, agent: str, leg: CallLeg) -> str:
        if self._mode(agent) is AgentMode.PERSISTENT:
            own = self._acd.persistent.leg(agent)
            return own.channel if own is not None else ""
        return leg.agent_channel

    def view(self, agent: str) -> dict[str, Any]:
        """The agent's call as call control sees it."""
        leg, c = self._current(agent)
        return {
            "agent": agent,
            "call_id": c.call_id,
            "channel": leg.channel,
            "mode": self._mode(agent).value,
            "held": c.held,
            "consult": str(c.consult_target) if c.consult_target else None,
            "third_parties": list(c.third_parties),
        }

    # ----- hold -----------------------------------------------------------------------

    async def hold(self, agent: str, *, actor: str) -> dict[str, Any]:
        leg, c = self._current(agent)
        if c.held:
            raise Conflict(f"agent {agent}'s call is already on hold", agent=agent)
        await self._hold(agent, leg, c)
        await self._done(actor, "hold_started", agent, c)
        return self.view(agent)

    async def _hold(self, agent: str, leg: CallLeg, c: Controlled) -> None:
        headers: dict[str, str] = {
            "Channel": leg.channel,
            "Context": HOLD_CONTEXT,
            "Exten": agent,
            "Priority": "1",
        }
        if self._mode(agent) is AgentMode.RING and not c.in_conference:
            # The agent's phone waits in its own conference meanwhile: silence, and the
            # place a consult leg joins.
            headers |= {
                "ExtraChannel": leg.agent_channel,
                "ExtraContext": AGENT_HOLD_CONTEXT,
                "ExtraExten": agent,
                "ExtraPriority": "1",
            }
            c.in_conference = True
        await self._ami.action("Redirect", headers, timeout=5)
        c.held = True

    async def stop(self) -> None:
        await self._tasks.cancel_all()

    async def unhold(self, agent: str, *, actor: str) -> dict[str, Any]:
        leg, c = self._current(agent)
        if not c.held:
            raise Conflict(f"agent {agent}'s call is not on hold", agent=agent)
        if c.consult:
            raise Conflict("complete or cancel the consult call first", agent=agent)
        await self._unhold(agent, leg, c)
        await self._done(actor, "hold_ended", agent, c)
        return self.view(agent)

    async def _unhold(self, agent: str, leg: CallLeg, c: Controlled) -> None:
        if self._mode(agent) is AgentMode.PERSISTENT:
            await self._acd.persistent.put_through(agent, leg.channel, c.call_id)
        else:
            # The phone leaves its conference for the ring's own bridge with the
            # customer (CCPBX_RING_CALLER is still set on it).
            await self._redirect(leg.agent_channel, ANSWER_CONTEXT, agent)
            c.in_conference = False
        c.held = False

    # ----- simple actions -------------------------------------------------------------

    async def hangup(self, agent: str, *, actor: str) -> dict[str, Any]:
        leg, c = self._current(agent)
        await self._ami.action("Hangup", Channel=leg.channel, timeout=5)
        await self._done(actor, "customer_hung_up", agent, c)
        return {"agent": agent, "call_id": c.call_id, "hung_up": True}

    async def dtmf(self, agent: str, digits: object, *, actor: str) -> dict[str, Any]:
        text = check_digits(digits)
        leg, c = self._current(agent)
        for digit in text:
            await self._ami.action("PlayDTMF", Channel=leg.channel, Digit=digit, timeout=5)
        await self._done(actor, "dtmf_sent", agent, c, digits=text)
        return {"agent": agent, "call_id": c.call_id, "digits": text}

    async def mute(self, agent: str, muted: bool, *, actor: str) -> dict[str, Any]:
        """Mute (or unmute) the agent's voice toward the customer."""
        leg, c = self._current(agent)
        channel = self._agent_channel(agent, leg)
        if not channel:
            raise Conflict(f"agent {agent} has no phone channel", agent=agent)
        if self._mode(agent) is AgentMode.PERSISTENT or c.in_conference:
            await self._ami.action(
                "ConfbridgeUnmute" if not muted else "ConfbridgeMute",
                Conference=f"ccpbx-agent-{agent}",
                Channel=channel,
                timeout=5,
            )
        else:
            await self._ami.action(
                "MuteAudio", Channel=channel, Direction="in", State="on" if muted else "off"
            )
        await self._done(actor, "muted" if muted else "unmuted", agent, c)
        return {"agent": agent, "call_id": c.call_id, "muted": muted}

    # ----- transfers -------------------------------------------------------------------

    async def transfer(
        self, agent: str, target: Target, mode: TransferMode, *, actor: str
    ) -> dict[str, Any]:
        leg, c = self._current(agent)
        if c.consult:
            raise Conflict("a consult call is already up", agent=agent)
        if mode is TransferMode.ATTENDED:
            if target.kind is TargetKind.QUEUE:
                raise InvalidInput("an attended transfer goes to an agent or a number", field="to")
            dial = await self._dial_for(agent, target, leg)
            leg_id = f"{CONSULT_PREFIX}{agent}-{uuid.uuid4().hex[:10]}"
            if target.kind is TargetKind.AGENT:
                await self._reserve(leg_id, target.value, c.call_id)
            try:
                if not c.held:
                    await self._hold(agent, leg, c)
                c.consult = await self._call_into_conference(agent, dial, leg_id)
            except BaseException:
                await self._unreserve(leg_id)
                raise
            c.consult_target = target
            await self._done(actor, "transfer_started", agent, c, to=str(target))
            return self.view(agent)
        await self._blind(agent, leg, c, target)
        await self._done(actor, "transfer_completed", agent, c, to=str(target), mode="blind")
        return {"agent": agent, "call_id": c.call_id, "to": str(target), "completed": True}

    async def _blind(self, agent: str, leg: CallLeg, c: Controlled, target: Target) -> None:
        if target.kind is TargetKind.NUMBER:
            dial = await self._outside.dial_string(self._agent_channel(agent, leg), target.value)
            await self._release(agent, c.call_id)
            await self._ami.action(
                "Setvar", Channel=leg.channel, Variable="CCPBX_DIAL", Value=dial, timeout=5
            )
            await self._redirect(leg.channel, OUTSIDE_CONTEXT, target.value)
        else:
            queue = await self._release(agent, c.call_id, to=target)
            await self._redirect(leg.channel, WAIT_CONTEXT, queue)
        await self._after_release(agent, c)

    async def complete(self, agent: str, *, actor: str) -> dict[str, Any]:
        leg, c = self._current(agent)
        target = c.consult_target
        if not c.consult or target is None:
            raise Conflict(f"agent {agent} has no consult call", agent=agent)
        if target.kind is TargetKind.AGENT:
            queue = await self._release(agent, c.call_id, to=target, reserved=c.consult)
            await self._ami.action("Hangup", Channel=c.consult, timeout=5, check=False)
            await self._redirect(leg.channel, WAIT_CONTEXT, queue)
        else:
            # The outside party is already on the line: bridge it with the customer.
            await self._release(agent, c.call_id)
            await self._ami.action(
                "Setvar", Channel=c.consult, Variable=CALLER_VAR, Value=leg.channel, timeout=5
            )
            await self._redirect(c.consult, ANSWER_CONTEXT, agent)
        await self._after_release(agent, c)
        await self._done(actor, "transfer_completed", agent, c, to=str(target), mode="attended")
        return {"agent": agent, "call_id": c.call_id, "to": str(target), "completed": True}

    async def cancel(self, agent: str, *, actor: str) -> dict[str, Any]:
        leg, c = self._current(agent)
        if not c.consult:
            raise Conflict(f"agent {agent} has no consult call", agent=agent)
        target = c.consult_target
        await self._ami.action("Hangup", Channel=c.consult, timeout=5, check=False)
        await self._unreserve(c.consult)
        c.consult, c.consult_target = "", None
        await self._unhold(agent, leg, c)
        await self._done(actor, "transfer_cancelled", agent, c, to=str(target))
        return self.view(agent)

    # ----- three-way call ---------------------------------------------------------------

    async def conference(self, agent: str, target: Target, *, actor: str) -> dict[str, Any]:
        leg, c = self._current(agent)
        if target.kind is TargetKind.QUEUE:
            raise InvalidInput("a three-way call joins an agent or a number", field="to")
        if c.consult:
            raise Conflict("complete or cancel the consult call first", agent=agent)
        dial = await self._dial_for(agent, target, leg)
        if self._mode(agent) is AgentMode.RING and not c.in_conference:
            await self._ami.action(
                "Redirect",
                Channel=leg.channel,
                Context=CONNECT_CONTEXT,
                Exten=agent,
                Priority="1",
                ExtraChannel=leg.agent_channel,
                ExtraContext=AGENT_HOLD_CONTEXT,
                ExtraExten=agent,
                ExtraPriority="1",
                timeout=5,
            )
            c.in_conference = True
        elif c.held and self._mode(agent) is AgentMode.PERSISTENT:
            await self._acd.persistent.put_through(agent, leg.channel, c.call_id)
        elif c.held:
            await self._redirect(leg.channel, CONNECT_CONTEXT, agent)
        c.held = False
        third = await self._call_into_conference(agent, dial)
        c.third_parties.append(third)
        await self._done(actor, "conference_joined", agent, c, to=str(target), leg=third)
        return self.view(agent)

    # ----- helpers ----------------------------------------------------------------------

    async def _dial_for(self, agent: str, target: Target, leg: CallLeg) -> Dial:
        """How to reach ``target`` for a consult or three-way leg (checked before
        anything moves: a target the agent may not call changes nothing)."""
        variables: list[str] = [f"CCPBX_CONSULT_FOR={agent}"]
        if target.kind is TargetKind.AGENT:
            return self._agent_dial(agent, target.value), variables
        dial = await self._outside.dial_string(self._agent_channel(agent, leg), target.value)
        variables.append(f"CCPBX_DIAL={dial}")
        return f"Local/{target.value}@{OUTSIDE_CONTEXT}", variables

    async def _call_into_conference(self, agent: str, dial: Dial, leg_id: str = "") -> str:
        """Originate a leg (``dial``) that joins the agent's conference; its uniqueid."""
        leg_id = leg_id or f"{CONSULT_PREFIX}{agent}-{uuid.uuid4().hex[:10]}"
        channel, variables = dial
        await self._ami.action(
            "Originate",
            Channel=channel,
            Context=JOIN_CONTEXT,
            Exten=agent,
            Priority="1",
            ChannelId=leg_id,
            CallerID=f'"ccpbx agent {agent}" <{agent}>',
            Timeout="30000",
            Variable=variables,
            Async="true",
            timeout=10,
        )
        return leg_id

    def _agent_dial(self, agent: str, other: str) -> str:
        """How a consult or three-way leg reaches agent ``other``: a persistent agent's
        conference (Local channel), a ring-mode agent's phone."""
        if other == agent:
            raise InvalidInput("an agent cannot call itself", field="to")
        a = self._acd.state.agents.get(other)
        session = self._acd.sessions.get(other)
        if a is None or session is None or a.state is not AgentState.AVAILABLE:
            raise Conflict(f"agent {other} is not available", agent=other)
        if a.mode is AgentMode.PERSISTENT:
            return f"Local/{other}@{JOIN_CONTEXT}"
        return f"PJSIP/{session.endpoint}"

    async def _reserve(self, consult: str, other: str, call_id: str) -> None:
        """Hold agent ``other`` for the consult leg ``consult`` (the ACD offers it no
        other call meanwhile), in a queue it serves, the call's own if it can."""

        def apply(now: float) -> list[AcdEvent]:
            state = self._acd.floor.state
            a = state.agents.get(other)
            if a is None or a.state is not AgentState.AVAILABLE or not a.queues:
                raise Conflict(f"agent {other} is not available", agent=other)
            queue = state.call(call_id).queue
            queue = queue if queue in a.queues else sorted(a.queues)[0]
            return state.hold_for_outbound(consult, queue, other, now)

        await self._acd.apply(apply)

    async def _unreserve(self, consult: str) -> None:
        """Free the agent held for a consult leg (nothing if none is)."""

        def apply(now: float) -> list[AcdEvent]:
            state = self._acd.floor.state
            if not state.is_held_outbound(consult):
                return []
            return state.release_outbound(consult, now)

        await self._acd.apply(apply)

    async def _release(
        self, agent: str, call_id: str, *, to: Target | None = None, reserved: str = ""
    ) -> str:
        """End the agent's part of the call on the worker (the agent goes to wrap-up);
        for a queue or agent target, make the ACD take the customer when it reaches
        the wait context (``reserved``: the consult leg the target agent was held
        for, freed first). Returns the queue it is to wait in."""
        floor = self._acd.floor
        chosen: list[str] = []

        def apply(now: float) -> list[AcdEvent]:
            # Every check before the first change: a command that raises publishes nothing.
            state = floor.state
            held = bool(reserved) and state.is_held_outbound(reserved)
            call = state.call(call_id)
            queue = call.queue
            other = None
            if to is not None and to.kind is TargetKind.QUEUE:
                if to.value not in floor.specs:
                    raise InvalidInput(f"no queue {to.value!r}", field="to")
                queue = to.value
            elif to is not None and to.kind is TargetKind.AGENT:
                other = state.agents.get(to.value)
                ours = held and other is not None and other.call_id == reserved
                if other is None or (other.state is not AgentState.AVAILABLE and not ours):
                    raise Conflict(f"agent {to.value} is not available", agent=to.value)
                if queue not in other.queues:
                    if not other.queues:
                        raise Conflict(f"agent {to.value} serves no queue", agent=to.value)
                    queue = sorted(other.queues)[0]
            events = state.release_outbound(reserved, now) if held else []
            events += state.hangup(call_id, now)
            floor.legs.pop(call_id, None)
            if other is not None and other.state is AgentState.AVAILABLE:
                events += state.hold_for_outbound(call_id, queue, other.id, now)
            elif to is not None:  # a queue (or an agent who paused meanwhile: its queue)
                floor.expect_call(call_id, CallAttributes(call.priority, dict(call.required)))
            chosen.append(queue)
            return events

        await self._acd.apply(apply)
        return chosen[0]

    async def _after_release(self, agent: str, c: Controlled) -> None:
        """The agent is off the call: hang up its ring-mode phone if call control moved
        it into its conference (a persistent agent stays in its session)."""
        self._calls.pop(agent, None)
        if c.in_conference and c.agent_leg:
            await self._ami.action("Hangup", Channel=c.agent_leg, timeout=5, check=False)

    async def _redirect(self, channel: str, context: str, exten: str) -> None:
        await self._ami.action(
            "Redirect", Channel=channel, Context=context, Exten=exten, Priority="1", timeout=5
        )

    async def _done(
        self, actor: str, action: str, agent: str, c: Controlled, **details: Any
    ) -> None:
        """Log, publish on the ACD feed and audit one call-control action."""
        log.info(
            "call_control", action=action, agent=agent, call_id=c.call_id, actor=actor, **details
        )
        item = {"type": "call_control", "action": action, "agent": agent, "call_id": c.call_id}
        self._acd.feed.publish({**item, **details})
        if self._pool is not None:
            await audit.record(
                self._pool(),
                actor=actor,
                action=f"call.{action}",
                object_type="call",
                object_id=c.call_id,
                at=dt.datetime.now(dt.UTC),
                details={"agent": agent, **details},
            )

    def _on_hangup(self, event: AmiMessage) -> None:
        """A customer hung up while its ring-mode agent's phone sat in the agent's
        conference (hold, consult, three-way): that phone is hung up too, as the
        Bridge of a ring would have done. An agent's phone hung up while its customer
        is on hold: the customer goes back to its queue (the ACD takes it as a new
        call), as after a phone's transfer that went nowhere."""
        uniqueid = event.get("Uniqueid") or ""
        for agent, c in list(self._calls.items()):
            if c.call_id == uniqueid:
                del self._calls[agent]
                if c.in_conference and c.agent_leg:
                    self._tasks.spawn(
                        self._ami.action("Hangup", Channel=c.agent_leg, timeout=5, check=False),
                        "call-control-agent-hangup",
                    )
            elif c.agent_leg == uniqueid:
                del self._calls[agent]
                if c.held and c.channel and c.queue:
                    log.info("call_control_held_customer_requeued", agent=agent, call_id=c.call_id)
                    self._tasks.spawn(self._requeue(c), "call-control-requeue")

    async def _requeue(self, c: Controlled) -> None:
        try:
            await self._redirect(c.channel, WAIT_CONTEXT, c.queue)
        except Exception as exc:  # the customer may be gone too
            log.warning("call_control_requeue_failed", call_id=c.call_id, error=repr(exc))
