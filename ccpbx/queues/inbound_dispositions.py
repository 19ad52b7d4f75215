"""Dispositions of inbound (queue) calls: the agent's verdict and note on the call it
is on or wrapping up, written to that call's record.

A campaign call's disposition belongs to its attempt (the dialer); an inbound call has
no attempt, so its code goes to ``call_records.disposition`` and the note (with who
gave it) into the record's details. Only a non-callback code applies: a callback needs a
campaign to be dialed from. As for campaign calls, a disposition given in wrap-up ends
the wrap-up.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import structlog

from ccpbx.acd import AgentState
from ccpbx.errors import Conflict, InvalidInput
from ccpbx.queues.screenpop import ScreenPops
from ccpbx.queues.service import QueueService
from ccpbx.store import audit
from ccpbx.store.campaigns import list_dispositions
from ccpbx.store.db import Executor

log = structlog.get_logger(__name__)


class NoInboundCall(Conflict):
    error_id = "no_call_to_dispose"


class InboundDispositions:
    def __init__(self, acd: QueueService, pops: ScreenPops, pool: Callable[[], Executor]) -> None:
        self._acd = acd
        self._pops = pops
        self._pool = pool

    async def dispose(self, agent: str, code: str, *, note: str, actor: str) -> dict[str, Any]:
        """Record ``code`` and ``note`` on the agent's current or last inbound call."""
        call_id = self._pops.last_call(agent)
        if call_id is None:
            raise NoInboundCall(f"agent {agent} has no call to dispose", agent=agent)
        db = self._pool()
        found = {d.code: d for d in await list_dispositions(db)}.get(code)
        if found is None:
            raise InvalidInput(f"unknown disposition code {code!r}", field="code", code=code)
        if found.is_callback:
            raise InvalidInput(
                "a callback needs a campaign: an inbound call takes a code without callback",
                field="code",
                code=code,
            )
        now = dt.datetime.now(dt.UTC)
        details = json.dumps({"disposition_note": note, "disposed_by": agent})
        updated = await db.fetchval(
            """UPDATE call_records SET disposition = $1, details = details || $2::jsonb
               WHERE uniqueid = $3 AND direction = 'inbound' RETURNING id""",
            code,
            details,
            call_id,
        )
        if updated is None:
            raise NoInboundCall(
                f"the record of call {call_id} is not written yet", agent=agent, call_id=call_id
            )
        await audit.record(
            db,
            actor=actor,
            action="call.disposition",
            object_type="call",
            object_id=call_id,
            at=now,
            details={"agent": agent, "code": code},
        )
        log.info("inbound_call_disposed", agent=agent, call_id=call_id, code=code)
        a = self._acd.state.agents.get(agent)
        if a is not None and a.state is AgentState.WRAP_UP:
            await self._acd.end_wrapup(agent)
        return {"agent": agent, "call_id": call_id, "code": code, "record_id": str(updated)}
