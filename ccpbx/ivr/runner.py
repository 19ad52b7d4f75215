"""The IVR over FastAGI: pick the flow for the number dialed, drive it, record the path.

`IvrRuntime.handle` is the FastAGI handler for `inbound`. One call is one task (the
FastAGI server's); the flow's pure `FlowRun` says what to do next and this module
does it with AGI commands and the store. A hang-up anywhere ends the call cleanly:
its path is recorded as abandoned at the node in progress. A DID with no active
flow goes to the `fallback` handler (the welcome greeting).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

import asyncpg
import structlog

from ccpbx.agi import AgiHandler, AgiHangup, AgiSession
from ccpbx.ivr import contacts, store
from ccpbx.ivr.engine import (
    Ask,
    Clock,
    Effect,
    FlowRun,
    Hangup,
    Lookup,
    Play,
    ScheduleCallback,
    SetLanguage,
    ToQueue,
    Transfer,
    Voicemail,
)
from ccpbx.ivr.model import Flow
from ccpbx.ivr.validate import check_text

log = structlog.get_logger(__name__)

DTMF_ESCAPE = "0123456789*#"
TRANSFER_MAX_S = 4 * 3600  # a transferred call holds the AGI session while it lasts


# Stands in for a stored version that no longer passes the checks (the call is
# recorded as failed and the dialplan falls back).
_BROKEN = Flow("broken", "x", ("en",), "en", (), (), {}, {}, {}, {})


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _clean(value: str, limit: int = 512) -> str:
    """A value safe for a channel variable (no line breaks or NUL), bounded."""
    return "".join(ch if ch >= " " else " " for ch in value)[:limit]


class IvrRuntime:
    """Runs the active flow for each inbound call."""

    def __init__(
        self,
        pool: Callable[[], asyncpg.Pool],
        *,
        fallback: AgiHandler | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self._pool = pool
        self._fallback = fallback
        self.clock = clock
        self._flows: dict[int, Flow] = {}  # parsed flow per version id (versions never change)

    async def _flow(self, pool: asyncpg.Pool, started: store.StartedCall) -> Flow | None:
        flow = self._flows.get(started.version_id)
        if flow is None:
            result = check_text(await store.version_source(pool, started.version_id))
            if not result.ok or result.flow is None:
                log.error(
                    "ivr_flow_invalid",
                    flow=started.flow,
                    version=started.version,
                    problems=[str(p) for p in result.problems][:10],
                )
                return None
            flow = self._flows[started.version_id] = result.flow
        return flow

    async def handle(self, session: AgiSession) -> None:
        """FastAGI handler: the DID's flow, or the fallback when none is mapped."""
        env = session.env
        did = env.extension or env.dnid or ""
        caller = env.callerid or ""
        # A number routed with `ccpbx number add --to ivr:FLOW` passes its route.
        route = env.args[0] if env.args else ""
        flow_name = route.removeprefix("ivr:") if route.startswith("ivr:") else None
        pool = self._pool()
        started = await store.start_call_for_did(
            pool,
            uniqueid=env.uniqueid,
            did=did,
            caller=caller,
            now=self.clock(),
            flow=flow_name,
        )
        if started is None:
            log.info("ivr_no_flow", did=did)
            if self._fallback is None:
                raise LookupError(f"no IVR flow for DID {did}")
            await self._fallback(session)
            return
        call_id = started.call_id
        flow = await self._flow(pool, started)
        run = FlowRun(
            flow or _BROKEN, caller=caller, did=did, clock=self.clock, channel_language=env.language
        )
        structlog.contextvars.bind_contextvars(ivr_call=str(call_id), flow=started.flow)
        try:
            if flow is None:
                raise RuntimeError(f"flow {started.flow} version {started.version} is invalid")
            await session.answer()
            await self._drive(session, run, pool, call_id)
        except AgiHangup:
            run.abandon()
        except asyncio.CancelledError:  # ccpbx is stopping past its drain time
            run.fail("ccpbx stopped during the call")
            raise
        except Exception as exc:
            run.fail(repr(exc))
            raise
        finally:
            await self._finish(pool, call_id, run)
            structlog.contextvars.unbind_contextvars("ivr_call", "flow")

    async def _finish(self, pool: asyncpg.Pool, call_id: uuid.UUID, run: FlowRun) -> None:
        try:
            await store.finish_call(pool, call_id, run, self.clock())
        except Exception as exc:  # the call is over either way; say so loudly
            log.error("ivr_path_not_recorded", error=repr(exc))
        log.info("ivr_call_ended", outcome=run.outcome, end_node=run.end_node, steps=len(run.path))

    async def _drive(
        self, session: AgiSession, run: FlowRun, pool: asyncpg.Pool, call_id: uuid.UUID
    ) -> None:
        steps = run.steps()
        result: Any = None
        while True:
            try:
                effect = steps.send(result)
            except StopIteration:
                return
            if isinstance(effect, Ask):
                result = await collect(session, effect, run.note_digits)
            else:
                result = await self._do(session, effect, pool, call_id)

    async def _do(
        self, session: AgiSession, effect: Effect, pool: asyncpg.Pool, call_id: uuid.UUID
    ) -> Any:
        if isinstance(effect, Play):
            await play(session, effect.files)
            return None
        if isinstance(effect, SetLanguage):
            await session.set_variable("CHANNEL(language)", effect.language)
            return None
        if isinstance(effect, Lookup):
            found = await contacts.find_contact(pool, effect.by, effect.value, effect.field)
            if found is not None:
                await session.set_variable("CCPBX_CONTACT_ID", found["id"])
                await session.set_variable("CCPBX_CONTACT_NAME", _clean(found.get("name", "")))
            return found
        if isinstance(effect, ScheduleCallback):
            return await contacts.record_callback(
                pool,
                call_id=call_id,
                number=effect.number,
                due_at=effect.due_at,
                campaign=effect.campaign,
                note=effect.note,
            )
        if isinstance(effect, ToQueue):
            await play(session, effect.files)
            await session.set_variable("CCPBX_IVR_CALL", str(call_id))
            await session.set_variable("CCPBX_QUEUE", effect.queue)
            await session.set_variable("CCPBX_QUEUE_PRIORITY", effect.priority)
            await session.set_variable("CCPBX_QUEUE_SKILLS", " ".join(effect.skills))
            await session.exec("Goto", *effect.target.split(","))
            return None
        if isinstance(effect, Voicemail):
            await play(session, effect.files)
            return await session.exec("VoiceMail", effect.mailbox, "u", deadline=600)
        if isinstance(effect, Transfer):
            await play(session, effect.files)
            await session.exec(
                "Dial", effect.dial, effect.timeout_s, deadline=effect.timeout_s + TRANSFER_MAX_S
            )
            return await session.get_variable("DIALSTATUS") or "UNKNOWN"
        if isinstance(effect, Hangup):
            await play(session, effect.files)
            await session.hangup()
            return None
        raise TypeError(f"unknown effect {effect!r}")


async def play(session: AgiSession, files: tuple[str, ...]) -> None:
    for name in files:
        await session.stream_file(name)


async def collect(
    session: AgiSession, ask: Ask, progress: Callable[[str], None] | None = None
) -> str:
    """Play the prompts (a key stops them), then gather digits one at a time;
    `progress` hears the digits so far after each key."""
    digits = ""
    for name in ask.files:
        key = await session.stream_file(name, DTMF_ESCAPE)
        if key:
            digits = key
            break
    while True:
        if progress is not None and digits:
            progress(digits)
        if ask.terminator and digits.endswith(ask.terminator):
            return digits[: -len(ask.terminator)]
        if len(digits) >= ask.max_digits:
            return digits
        key = await session.wait_for_digit(ask.timeout_ms)
        if key is None:
            return digits
        digits += key
