"""Outside numbers for call control: a transfer, consult or three-way call to an outside
number goes out only as the agent's phone could dial it itself.

The phone's class of service is read from its channel (``CCPBX_CLASS_OF_SERVICE``,
which every channel of a provisioned phone endpoint carries), decided by the same
rules as a phone's own outside call (:class:`~ccpbx.pbx.dialing.DialingPolicy`, the
daemon's ``[dialing]``), and dialed on the same trunk (its stored dial template).
A denied number raises ``Forbidden`` with the rules' reason.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog

from ccpbx.ami import AmiClient
from ccpbx.config import DialingConfig
from ccpbx.errors import Forbidden, Unavailable
from ccpbx.pbx import trunks
from ccpbx.pbx.dialing import DialingPolicy
from ccpbx.pbx.model import dial_string
from ccpbx.store.db import Executor

log = structlog.get_logger(__name__)

CLASS_VAR = "CCPBX_CLASS_OF_SERVICE"


class OutsideDialing:
    """Decides and builds the dial string of call control's outside calls."""

    def __init__(
        self, ami: AmiClient, dialing: DialingConfig, pool: Callable[[], Executor] | None
    ) -> None:
        self._ami = ami
        self._dialing = dialing
        self._policy = DialingPolicy(
            dialing.home_region, dialing.local_prefixes, dialing.premium_classes
        )
        self._pool = pool

    async def class_of(self, agent_channel: str) -> str:
        """The class of service of the phone on ``agent_channel`` ("" if unknown)."""
        if not agent_channel:
            return ""
        result = await self._ami.action(
            "Getvar", Channel=agent_channel, Variable=CLASS_VAR, timeout=5, check=False
        )
        return (result.response.get("Value") or "") if result.ok else ""

    async def dial_string(self, agent_channel: str, number: str) -> str:
        """The trunk dial string for ``number``, if the agent's phone may call it."""
        klass = await self.class_of(agent_channel)
        decision = self._policy.decide(number, klass)
        if not decision.allowed:
            log.warning(
                "call_control_outside_denied",
                number=number,
                class_of_service=klass,
                reason=decision.reason,
            )
            raise Forbidden(
                f"the agent's phone (class {klass or 'unknown'}) may not call {number}",
                field="to",
                number=number,
                class_of_service=klass,
                reason=decision.reason,
            )
        if self._pool is None:
            raise Unavailable("no database to read the outside trunk from")
        record = await trunks.get(self._pool(), self._dialing.trunk)
        return dial_string(record, decision.number)
