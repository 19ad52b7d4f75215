"""An agent's manual outbound call to a number, checked like a campaign call.

Before anything is dialed the number must pass, in order: the do-not-call list (the
same entries campaigns obey, :func:`ccpbx.store.dnc.is_blocked`), the recipient-local
calling window (every zone the number may be in, :func:`calling_window_open`, with the
``[dialer] manual_window`` hours) and the agent phone's class of service (the phone's
own outside-call rules, :class:`~ccpbx.callcontrol.outside.OutsideDialing`). A refusal
is a 403 whose ``error_id`` is the reason (``dnc``, ``outside_calling_window``,
``class_too_low``); refusals and placed calls are audited.

The call goes out on the outside-call trunk with the company caller ID
(``[dialing] caller_id``): a persistent agent's phone already sits in its conference,
so the number is called into that conference; a ring-mode agent's phone is rung first
and, once it answers, dials the number.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable
from typing import Any

import structlog

from ccpbx.acd import AgentMode, AgentState
from ccpbx.ami import AmiClient
from ccpbx.callcontrol.control import JOIN_CONTEXT, OUTSIDE_CONTEXT
from ccpbx.callcontrol.outside import OutsideDialing
from ccpbx.config import DialingConfig
from ccpbx.errors import Conflict, Forbidden
from ccpbx.queues.service import QueueService
from ccpbx.store import audit, dnc
from ccpbx.store.db import Executor
from ccpbx.store.phones import CallingWindow, PhoneError, calling_window_open, check_e164, normalise

log = structlog.get_logger(__name__)

MANUAL_PREFIX = "manual-"
DIALABLE = (AgentState.AVAILABLE, AgentState.PAUSED, AgentState.WRAP_UP)


class DncRefused(Forbidden):
    error_id = "dnc"


class OutsideWindow(Forbidden):
    error_id = "outside_calling_window"


class ClassTooLow(Forbidden):
    error_id = "class_too_low"


class ManualDial:
    """Places agents' manual calls (see the module docstring)."""

    def __init__(
        self,
        ami: AmiClient,
        acd: QueueService,
        outside: OutsideDialing,
        dialing: DialingConfig,
        window: CallingWindow,
        pool: Callable[[], Executor],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._ami = ami
        self._acd = acd
        self._outside = outside
        self._dialing = dialing
        self.window = window
        self._pool = pool
        self.clock = clock

    async def dial(self, agent: str, number: object, *, actor: str) -> dict[str, Any]:
        """Check ``number`` for ``agent`` and call it; the call's id and target."""
        e164 = check_e164(number if isinstance(number, str) else "", "number")
        a = self._acd.state.agents.get(agent)
        session = self._acd.sessions.get(agent)
        if a is None or session is None or a.state not in DIALABLE:
            state = a.state.value if a is not None else "logged_out"
            raise Conflict(f"agent {agent} cannot place a call now ({state})", agent=agent)
        now = dt.datetime.fromtimestamp(self.clock(), dt.UTC)
        db = self._pool()
        try:
            if await dnc.is_blocked(db, e164, now):
                raise DncRefused(f"{e164} is on a do-not-call list", number=e164, reason="dnc")
            try:
                zones = normalise(e164, "US").time_zones
            except PhoneError:
                zones = ()
            if not calling_window_open(zones, self.window, now):
                raise OutsideWindow(
                    f"{e164} may be called only {self.window} its local time",
                    number=e164,
                    reason="outside_calling_window",
                    time_zones=list(zones),
                )
            leg = self._acd.persistent.leg(agent) if a.mode is AgentMode.PERSISTENT else None
            try:
                trunk_dial = await self._outside.dial_string(leg.channel if leg else "", e164)
            except Forbidden as exc:
                raise ClassTooLow(
                    exc.message, number=e164, reason="class_too_low", rule=exc.details.get("reason")
                ) from exc
        except Forbidden as refused:
            await self._audit(
                db, actor, "call.manual_dial_refused", e164, now, agent, reason=refused.error_id
            )
            log.info("manual_dial_refused", agent=agent, number=e164, reason=refused.error_id)
            raise
        call_id = f"{MANUAL_PREFIX}{agent}-{uuid.uuid4().hex[:10]}"
        fields = self._originate(agent, a.mode, session.endpoint, e164, trunk_dial, call_id)
        await self._ami.action("Originate", **fields, timeout=10)
        await self._audit(db, actor, "call.manual_dial", e164, now, agent, call_id=call_id)
        log.info("manual_dial_placed", agent=agent, number=e164, call_id=call_id)
        return {"agent": agent, "number": e164, "call_id": call_id}

    def _originate(
        self, agent: str, mode: AgentMode, endpoint: str, e164: str, trunk_dial: str, call_id: str
    ) -> dict[str, Any]:
        shown = self._dialing.caller_id or agent
        name = self._dialing.caller_name or shown
        variables = [f"CCPBX_DIAL={trunk_dial}", f"CCPBX_MANUAL_FOR={agent}"]
        common = {
            "ChannelId": call_id,
            "CallerID": f'"{name}" <{shown}>',
            "Timeout": "30000",
            "Variable": variables,
            "Async": "true",
        }
        if mode is AgentMode.PERSISTENT:
            # The outside party, once it answers, joins the agent's conference.
            return {
                "Channel": f"Local/{e164}@{OUTSIDE_CONTEXT}",
                "Context": JOIN_CONTEXT,
                "Exten": agent,
                "Priority": "1",
                **common,
            }
        # A ring-mode agent's phone rings; when it answers, the number is dialed.
        return {
            "Channel": f"PJSIP/{endpoint}",
            "Context": OUTSIDE_CONTEXT,
            "Exten": e164,
            "Priority": "1",
            **common,
        }

    async def _audit(
        self,
        db: Executor,
        actor: str,
        action: str,
        e164: str,
        now: dt.datetime,
        agent: str,
        **details: Any,
    ) -> None:
        await audit.record(
            db,
            actor=actor,
            action=action,
            object_type="number",
            object_id=e164,
            at=now,
            details={"agent": agent, **details},
        )
