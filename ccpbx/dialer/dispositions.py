"""Dispositions: the store work behind them, and the keypad desk that takes them by DTMF.

:func:`dispose_attempt` is what the campaign runner calls for an agent's verdict
(from the API or the keypad): it checks the code and the callback time, applies a
callback disposition's default delay when no time was given, and records it
(which finishes the lead, schedules the callback or adds the number to the
do-not-call list, see :func:`ccpbx.store.attempts.set_disposition`), on the
attempt's call record too.

:class:`DispositionDesk` listens to the keys agents press on their persistent
legs (AMI ``DTMFEnd``, direction Received), feeds each agent's
:class:`~ccpbx.dialer.disposition_keys.KeyCollector` and hands complete codes to
:meth:`DialerControl.dispose`. Its AMI callback only enqueues; one task owned
by the desk does the rest, and is awaited on ``stop``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeAlias

import asyncpg
import structlog

from ccpbx.ami import AmiClient
from ccpbx.ami.protocol import AmiMessage
from ccpbx.dialer.control import DialerControl
from ccpbx.dialer.disposition_keys import (
    INTER_DIGIT_S,
    DispositionKeys,
    KeyCollector,
    KeyResult,
    KeyStatus,
    repeated_end,
)
from ccpbx.errors import CcpbxError, Conflict, InvalidInput, NotFound
from ccpbx.store import attempts
from ccpbx.store.campaigns import Disposition, list_dispositions
from ccpbx.store.db import Executor, translate_errors

log = structlog.get_logger(__name__)

# A callback further ahead than this is a typing mistake.
MAX_CALLBACK_AHEAD = dt.timedelta(days=366)
# Clock skew between the agent's browser and the server: a callback "now" is fine.
PAST_SLACK = dt.timedelta(minutes=5)

PoolSource: TypeAlias = "asyncpg.Pool | Callable[[], asyncpg.Pool]"


class UnknownDisposition(InvalidInput):
    error_id = "unknown_disposition"


class CallbackTimeRequired(InvalidInput):
    error_id = "callback_time_required"


class NoCallToDispose(Conflict):
    error_id = "no_call_to_dispose"


@dataclass(frozen=True, slots=True)
class Disposed:
    attempt_id: uuid.UUID
    code: str
    campaign_id: int
    contact_id: int
    final: bool
    dnc: bool
    callback_at: dt.datetime | None = None
    callback_agent: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "attempt_id": str(self.attempt_id),
            "code": self.code,
            "campaign_id": self.campaign_id,
            "contact_id": self.contact_id,
            "final": self.final,
            "dnc": self.dnc,
            "callback_at": self.callback_at.isoformat() if self.callback_at else None,
            "callback_agent": self.callback_agent,
        }


def _pool(source: PoolSource) -> asyncpg.Pool:
    return source if isinstance(source, asyncpg.Pool) else source()


async def disposition(db: Executor, code: str) -> Disposition:
    """The disposition ``code``; :class:`UnknownDisposition` if there is none."""
    for item in await list_dispositions(db):
        if item.code == code:
            return item
    raise UnknownDisposition(f"unknown disposition code {code!r}", code=code)


def callback_time(
    disp: Disposition, now: dt.datetime, callback_at: dt.datetime | None
) -> dt.datetime | None:
    """When a disposition's callback is due: the given time (checked), the disposition's
    default delay when none was given, None for a disposition that is not a callback."""
    if not disp.is_callback:
        if callback_at is not None:
            raise InvalidInput(
                f"disposition {disp.code!r} does not schedule a callback", code=disp.code
            )
        return None
    if callback_at is None:
        return now + dt.timedelta(seconds=disp.callback_delay_s)
    if callback_at.tzinfo is None:
        raise InvalidInput("callback time needs a time zone offset", callback_at=str(callback_at))
    if callback_at < now - PAST_SLACK:
        raise InvalidInput("callback time is in the past", callback_at=callback_at.isoformat())
    if callback_at > now + MAX_CALLBACK_AHEAD:
        raise InvalidInput(
            "callback time is over a year ahead", callback_at=callback_at.isoformat()
        )
    return callback_at


async def dispose_attempt(
    pool: Executor,
    attempt_id: uuid.UUID,
    code: str,
    now: dt.datetime,
    *,
    callback_at: dt.datetime | None = None,
    callback_agent: str | None = None,
    note: str = "",
) -> Disposed:
    """Record the agent's verdict on an attempt whose call has ended (has an outcome).

    A callback disposition without ``callback_at`` is due after the disposition's
    ``callback_delay_s`` (the keypad's way). ``callback_agent`` (an ACD agent's number,
    NotFound if there is none) reserves the callback for that agent. Idempotent:
    the same code again changes nothing; another code is a Conflict, as is an
    attempt still in progress.
    """
    disp = await disposition(pool, code)
    due = callback_time(disp, now, callback_at)
    owner = callback_agent if due is not None else None
    if owner is not None:
        await check_callback_agent(pool, owner)
    attempt = await attempts.set_disposition(
        pool,
        attempt_id,
        code,
        now,
        callback_at=due,
        callback_agent=owner,
        note=note,
    )
    # The call's record (opened when its Originate was sent, before the outcome that
    # a disposition needs) gets the same code.
    await dispose_record(pool, attempt_id, code)
    log.info(
        "attempt_disposed",
        attempt_id=str(attempt_id),
        code=code,
        callback_at=due.isoformat() if due else None,
        dnc=disp.add_to_dnc,
    )
    return Disposed(
        attempt_id,
        code,
        attempt.campaign_id,
        attempt.contact_id,
        disp.is_final,
        disp.add_to_dnc,
        due,
        owner,
    )


async def dispose_record(db: Executor, attempt_id: uuid.UUID, code: str) -> None:
    """The attempt's disposition on its call record, if it has one (a ``dispositions``
    code, as the record's foreign key wants; ``ccpbx.store.records`` has no such step)."""
    with translate_errors("dispose call record", attempt_id=str(attempt_id), code=code):
        await db.execute(
            "UPDATE call_records SET disposition = $2 WHERE attempt_id = $1", attempt_id, code
        )


async def check_callback_agent(db: Executor, agent: str) -> None:
    """A callback can be promised to an ACD agent only (``acd_agents``, by number)."""
    with translate_errors("agent for callbacks", agent=agent):
        found = await db.fetchval("SELECT 1 FROM acd_agents WHERE agent = $1", agent)
    if found is None:
        raise NotFound(f"no agent {agent} to promise the callback to", agent=agent)


async def disposition_keys(db: Executor) -> DispositionKeys:
    items = await list_dispositions(db)
    return DispositionKeys({d.dtmf_key: d.code for d in items if d.dtmf_key is not None})


@dataclass(frozen=True, slots=True)
class _Key:
    uniqueid: str
    channel: str
    digit: str
    at: float  # Asterisk's event time (s)
    duration_ms: int


def _key(event: AmiMessage) -> _Key:
    try:
        at = float(event.get("Timestamp") or 0)
        duration_ms = int(event.get("DurationMs") or 0)
    except ValueError:
        at, duration_ms = 0.0, 0
    return _Key(
        event.get("Uniqueid") or "",
        event.get("Channel") or "",
        event.get("Digit") or "",
        at,
        duration_ms,
    )


class DispositionDesk:
    """Takes dispositions agents type on their phones' keypads during wrap-up.

    Keys pressed on a channel that is no agent's persistent leg are ignored, as are
    keys of an agent with no campaign call to dispose (``attempt_of_agent`` None).
    ``callback_for_agent``: a callback given by keypad is reserved for the agent who
    gave it (default: anyone). ``results`` keeps the last 20 key results (for tests
    and a supervisor's view).
    """

    def __init__(
        self,
        ami: AmiClient,
        pool: PoolSource,
        control: DialerControl,
        *,
        inter_digit_s: float = INTER_DIGIT_S,
        callback_for_agent: bool = False,
        max_pending: int = 1000,
    ) -> None:
        self._ami = ami
        self._pool = pool
        self._control = control
        self._inter_digit_s = inter_digit_s
        self._callback_for_agent = callback_for_agent
        self._queue: asyncio.Queue[_Key] = asyncio.Queue(maxsize=max_pending)
        self._collectors: dict[str, KeyCollector] = {}
        self._last_end: dict[str, tuple[str, float]] = {}  # agent -> (digit, at)
        self._keys: DispositionKeys | None = None
        self._task: asyncio.Task[None] | None = None
        self.dropped = 0
        self.results: list[tuple[str, KeyResult]] = []  # the last few, newest last
        ami.on_event("DTMFEnd", self._on_dtmf)

    @property
    def backlog(self) -> int:
        """Keys received and not yet looked at."""
        return self._queue.qsize()

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="disposition-desk")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def reload_keys(self) -> None:
        """Read the disposition keys again (after they were changed)."""
        self._keys = await disposition_keys(_pool(self._pool))
        self._collectors.clear()

    # -- AMI callback: only enqueue -------------------------------------------------
    def _on_dtmf(self, event: AmiMessage) -> None:
        if event.get("Direction") != "Received" or self._task is None:
            return
        key = _key(event)
        try:
            self._queue.put_nowait(key)
        except asyncio.QueueFull:
            self.dropped += 1
            log.warning("disposition_key_dropped", uniqueid=key.uniqueid, dropped=self.dropped)

    # -- the desk's task --------------------------------------------------------------
    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            deadlines = [d for c in self._collectors.values() if (d := c.deadline) is not None]
            try:
                async with asyncio.timeout_at(min(deadlines) if deadlines else None):
                    key = await self._queue.get()
            except TimeoutError:
                now = loop.time()
                for agent, collector in list(self._collectors.items()):
                    result = collector.expire(now)
                    if result is not None:
                        await self._result(agent, result)
                continue
            try:
                await self._key(key, loop.time())
            except Exception:
                log.exception("disposition_key_failed", uniqueid=key.uniqueid, digit=key.digit)

    async def _key(self, key: _Key, now: float) -> None:
        agent = self._control.agent_of_channel(key.uniqueid) or self._control.agent_of_channel(
            key.channel
        )
        if agent is None:
            return
        if self._control.attempt_of_agent(agent) is None:
            # Not on a campaign call nor wrapping one up: the keys are not for us.
            self._collectors.pop(agent, None)
            return
        previous = self._last_end.get(agent)
        self._last_end[agent] = (key.digit, key.at)
        if key.at and repeated_end(previous, key.digit, key.at, key.duration_ms):
            log.debug("disposition_key_repeat_ignored", agent=agent, digit=key.digit)
            return
        try:
            if self._keys is None:
                await self.reload_keys()
            assert self._keys is not None
            collector = self._collectors.get(agent)
            if collector is None:
                collector = KeyCollector(self._keys, inter_digit_s=self._inter_digit_s)
                self._collectors[agent] = collector
            results = collector.press(key.digit, now)
        except (CcpbxError, ValueError) as exc:
            log.warning("disposition_key_ignored", agent=agent, digit=key.digit, error=str(exc))
            return
        for result in results:
            await self._result(agent, result)

    async def _result(self, agent: str, result: KeyResult) -> None:
        self.results = [*self.results[-19:], (agent, result)]
        if result.status is KeyStatus.PENDING:
            return
        if result.status is not KeyStatus.CODE or result.code is None:
            event = "disposition_keys_invalid"
            if result.status is KeyStatus.CLEARED:
                event = "disposition_keys_cleared"
            log.info(event, agent=agent, digits=result.digits)
            return
        try:
            outcome = await self._control.dispose(
                agent,
                result.code,
                callback_at=None,
                callback_for_agent=self._callback_for_agent,
                note="by keypad",
            )
        except CcpbxError as exc:
            log.warning(
                "disposition_by_keypad_refused",
                agent=agent,
                code=result.code,
                error_id=exc.error_id,
                error=exc.message,
            )
        except Exception:
            log.exception("disposition_by_keypad_failed", agent=agent, code=result.code)
        else:
            log.info("disposition_by_keypad", agent=agent, code=result.code, result=outcome)
