"""Agents' help requests ("escalate to a supervisor"): raised by an agent, listed on
the wallboard, answered by a supervisor's listen, whisper or barge, then closed.

The requests live in PostgreSQL (:mod:`ccpbx.queues.help_store`), so a restart keeps the
open ones; each change is published on the ACD feed (``help_requested``,
``help_answered``, ``help_closed``) for the websocket. Answering goes through the
queue service's supervision (ChanSpy from the supervisor's phone).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import structlog

from ccpbx.errors import Forbidden, InvalidInput, NotFound, Unavailable
from ccpbx.queues import help_store
from ccpbx.queues.help_store import HelpRequest
from ccpbx.queues.service import Pool, QueueService
from ccpbx.queues.supervision import SPY_OPTIONS

log = structlog.get_logger(__name__)

MAX_NOTE = 500


def check_note(note: object) -> str:
    """The agent's note: text on one line, at most 500 characters (may be empty)."""
    if note is None:
        return ""
    if not isinstance(note, str) or len(note) > MAX_NOTE or any(c in note for c in "\r\n\0"):
        raise InvalidInput(f"note must be one line of at most {MAX_NOTE} characters", field="note")
    return note.strip()


def check_how(how: object) -> str:
    if not isinstance(how, str) or how not in SPY_OPTIONS:
        raise InvalidInput("how must be listen, whisper or barge", field="how")
    return how


class HelpDesk:
    """Help requests over the queue service (its feed, its agents' calls, its spy)."""

    def __init__(
        self,
        acd: QueueService,
        pool: Pool | None,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self._acd = acd
        self._pool = pool
        self._clock = clock

    def _db(self) -> Any:
        if self._pool is None:
            raise Unavailable("no database for help requests")
        return self._pool()

    def current_call(self, agent: str) -> tuple[str | None, str | None]:
        """(queue, call id) of the agent's current call, or (None, None)."""
        a = self._acd.state.agents.get(agent)
        if a is None or a.call_id is None:
            return None, None
        leg = self._acd.legs.get(a.call_id)
        queue = leg.queue if leg is not None else None
        if queue is None:
            call = self._acd.state.calls.get(a.call_id)
            queue = call.queue if call is not None else None
        return queue, a.call_id

    async def raise_request(self, agent: str, note: str, *, actor: str) -> HelpRequest:
        queue, call_id = self.current_call(agent)
        request = await help_store.open_request(
            self._db(),
            agent=agent,
            queue=queue,
            call_id=call_id,
            note=note,
            at=self._clock(),
            actor=actor,
        )
        self._publish("help_requested", request)
        return request

    async def open_requests(self) -> list[HelpRequest]:
        return await help_store.list_open(self._db())

    async def answer(self, request_id: int, how: str, endpoint: str, *, by: str) -> dict[str, Any]:
        """Call the supervisor's phone into ChanSpy on the agent's channel, then mark the
        request answered; a spy that cannot start leaves the request as it was."""
        request = await help_store.get(self._db(), request_id)
        if request.closed_at is not None:
            raise NotFound(f"no open help request {request_id}", request=request_id)
        spy = await self._acd.spy(endpoint, request.agent, how)
        answered = await help_store.mark_answered(
            self._db(),
            request_id,
            by=by,
            how=how,
            at=self._clock(),
            details={"endpoint": endpoint, "channel": spy["channel"], "spy": spy["id"]},
        )
        self._publish("help_answered", answered)
        return {**answered.view(), "spy": spy}

    async def close(self, request_id: int, *, by: str, agent: str | None = None) -> HelpRequest:
        """Close an open request; ``agent`` set: only that agent's own request."""
        if agent is not None:
            request = await help_store.get(self._db(), request_id)
            if request.agent != agent:
                raise Forbidden(
                    "an agent closes only its own help requests", request=request_id, agent=agent
                )
        closed = await help_store.close(self._db(), request_id, by=by, at=self._clock())
        self._publish("help_closed", closed)
        return closed

    def _publish(self, kind: str, request: HelpRequest) -> None:
        log.info(kind, request=request.id, agent=request.agent, queue=request.queue)
        self._acd.feed.publish({"type": kind, **request.view()})
