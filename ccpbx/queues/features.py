"""FastAGI scripts of the ACD: ``queue`` (a caller enters a queue) and ``phone``
(calls from agent phones: the agent feature codes).

Feature codes, dialed from the agent's desk phone:

- ``*45``: log in; the phone asks for the agent number then the PIN (DTMF, ``#`` ends
  each), and logs the agent in at this phone in the agent's usual mode (persistent:
  the call ends and ccpbx calls the phone back into the agent's conference);
- ``*46``: log out the agent logged in at this phone;
- ``*47``: pause; the digits dialed after ``*47`` (``*472``) or, if none, asked for by
  DTMF, pick the Nth configured pause reason (nothing keyed: the first); ``*48``: unpause.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import structlog

from ccpbx.acd import AgentMode
from ccpbx.agi import AgiError, AgiSession
from ccpbx.callcontrol.persistent import ENDPOINT_RE
from ccpbx.errors import CcpbxError, InvalidInput
from ccpbx.ivr import contacts as ivr_contacts
from ccpbx.queues.model import (
    AGENT_RE,
    AGENT_TARGET_VAR,
    QUEUE_RE,
    WAIT_CONTEXT,
    CallAttributes,
    direct_line_agent,
    parse_skills,
)
from ccpbx.store.db import Executor

if TYPE_CHECKING:
    from ccpbx.queues.service import QueueService

__all__ = [
    "acd_handlers",
    "announce_handler",
    "callback_handler",
    "endpoint_of",
    "parse_skills",
    "phone_handler",
    "queue_handler",
]

log = structlog.get_logger(__name__)

LOGIN, LOGOUT, PAUSE, UNPAUSE = "*45", "*46", "*47", "*48"
ANNOUNCE_VAR = "CCPBX_ANNOUNCE_EVERY"
"""Seconds of music on hold between announcements (set by ccpbx only; empty: none)."""
KEYS = "0123456789*#"


def endpoint_of(channel: str) -> str | None:
    """``PJSIP/1001-0000002a`` -> ``1001``."""
    if not channel.startswith("PJSIP/"):
        return None
    endpoint = channel.removeprefix("PJSIP/").rsplit("-", 1)[0]
    return endpoint if ENDPOINT_RE.match(endpoint) else None


def queue_handler(service: QueueService) -> Callable[[AgiSession], Awaitable[None]]:
    """``AGI(.../queue)``: the queue name comes from the script argument or CCPBX_QUEUE
    (set by the IVR's queue node, with CCPBX_QUEUE_PRIORITY and CCPBX_QUEUE_SKILLS).
    Without either, CCPBX_AGENT_TARGET (a number routed to one agent) names the agent
    whose direct line the caller waits in; a direct line's name (``agent-1001``, e.g.
    a transfer to it) works as a queue name too. A direct line asks for no skills."""

    async def handle(session: AgiSession) -> None:
        env = session.env
        queue = env.args[0] if env.args else await session.get_variable("CCPBX_QUEUE") or ""
        target = direct_line_agent(queue) if queue else await _agent_target(session)
        if target is not None:
            try:
                queue = await service.open_direct_line(target)
            except CcpbxError as exc:
                log.warning("acd_queue_script_unknown_agent", agent=target, error=exc.message)
                return
        if not QUEUE_RE.match(queue) or queue not in service.specs:
            log.warning("acd_queue_script_unknown_queue", queue=queue)
            return
        priority_text = await session.get_variable("CCPBX_QUEUE_PRIORITY") or "0"
        skills = parse_skills(await session.get_variable("CCPBX_QUEUE_SKILLS") or "")
        if target is not None:
            skills = {}
        priority = int(priority_text) if priority_text.lstrip("-").isdigit() else 0
        service.expect_call(env.uniqueid, CallAttributes(priority, skills))
        await session.answer()
        every = int(service.specs[queue].announce_every_s)
        await session.set_variable(ANNOUNCE_VAR, str(every) if every else "")
        await session.exec("Goto", WAIT_CONTEXT, queue, 1)

    return handle


async def _agent_target(session: AgiSession) -> str | None:
    agent = await session.get_variable(AGENT_TARGET_VAR) or ""
    if not AGENT_RE.match(agent):
        if agent:
            log.warning("acd_queue_script_bad_agent_target", agent=agent)
        return None
    return agent


def announce_handler(service: QueueService) -> Callable[[AgiSession], Awaitable[None]]:
    """``AGI(.../queue-announce)``, run by the wait context between spells of music on
    hold: tells the caller its position and estimated wait (see ``ccpbx.acd.estimate``)
    and sets CCPBX_ANNOUNCE_EVERY, the seconds of music until the next time, from the
    caller's current queue (empty: no more announcements). Nothing comes from the
    caller. A caller the service does not hold as waiting (it is still recovering after
    a restart) hears nothing this time and keeps its interval. A caller put through to
    an agent meanwhile leaves the script at once."""

    async def handle(session: AgiSession) -> None:
        found = service.announcement(session.env.uniqueid)
        if found is None:  # not (or not yet) known as waiting: change nothing
            return
        every, steps = found
        await session.set_variable(ANNOUNCE_VAR, str(every) if every else "")
        for step in steps:
            if step.number is not None:
                await session.command("SAY NUMBER", step.number, "")
            else:
                await session.stream_file(step.file)

    return handle


def phone_handler(service: QueueService) -> Callable[[AgiSession], Awaitable[None]]:
    async def handle(session: AgiSession) -> None:
        env = session.env
        dialed = env.get("agi_extension") or ""
        endpoint = endpoint_of(env.channel)
        if endpoint is None:
            return
        await session.answer()
        try:
            if dialed == LOGIN:
                await _login(service, session, endpoint)
            elif dialed == LOGOUT:
                await _with_agent(service, session, endpoint, service.logout, "agent-loggedoff")
            elif dialed.startswith(PAUSE):
                digits = dialed[len(PAUSE) :] or await session.get_data("beep", 5000, 2)
                reason = _reason_of(service, digits)
                await _with_agent(
                    service,
                    session,
                    endpoint,
                    lambda agent: service.pause(agent, reason),
                    "auth-thankyou",
                )
            elif dialed == UNPAUSE:
                await _with_agent(service, session, endpoint, service.unpause, "auth-thankyou")
            else:
                await session.stream_file("invalid")
        except CcpbxError as exc:
            log.info(
                "acd_feature_code_refused", dialed=dialed, endpoint=endpoint, error=exc.message
            )
            if session.usable:
                await session.stream_file("beeperr")
        if session.usable:
            with contextlib.suppress(AgiError):
                await session.hangup()

    return handle


def _reason_of(service: QueueService, digits: str) -> str:
    """The pause reason keyed after ``*47``: N picks the Nth configured reason; none
    keyed, the first."""
    if not digits:
        return service.pause_reasons.reasons[0].code
    code = service.pause_reasons.by_digits(digits)
    if code is None:
        raise InvalidInput(f"no pause reason number {digits}", field="reason")
    return code


async def _ask(session: AgiSession, prompts: list[str], max_digits: int) -> str:
    """Play ``prompts`` (any key cuts them short and starts the answer), collect digits
    until ``#``, ``max_digits`` or a 5 s gap."""
    for prompt in prompts[:-1]:
        key = await session.stream_file(prompt, KEYS)
        if key:
            return (
                ""
                if key == "#"
                else key + await session.get_data("silence/1", 5000, max_digits - 1)
            )
    return await session.get_data(prompts[-1], 5000, max_digits)


async def _login(service: QueueService, session: AgiSession, endpoint: str) -> None:
    first: list[str] = []
    for _ in range(3):
        agent = await _ask(session, [*first, "agent-user"], 15)
        pin = await _ask(session, ["agent-pass"], 10)
        first = ["agent-incorrect"]
        try:
            record = await service.profile(agent) if agent else None
        except CcpbxError:
            record = None
        checked = await asyncio.to_thread(record.check_pin, pin) if record else None
        if record is None or checked is None or not checked.ok:
            log.info("acd_phone_login_refused", agent=agent, endpoint=endpoint)
            continue
        if checked.rehash:
            try:
                await service.save_pin_hash(agent, pin)
            except CcpbxError as exc:  # the login goes on; the next one tries again
                log.warning("acd_pin_rehash_failed", agent=agent, error=exc.message)
        if record.mode is AgentMode.PERSISTENT:
            # The phone is busy with this call: hang it up, then ccpbx calls it back into
            # the agent's conference (the persistent connection).
            await session.stream_file("agent-loginok")
            await session.hangup()
            await service.login(agent, endpoint)
            log.info("acd_phone_login", agent=agent, endpoint=endpoint, mode="persistent")
            return
        await service.login(agent, endpoint)
        log.info("acd_phone_login", agent=agent, endpoint=endpoint, mode="ring")
        await session.stream_file("agent-loginok")
        return
    await session.stream_file("agent-incorrect")


async def _with_agent(
    service: QueueService,
    session: AgiSession,
    endpoint: str,
    action: Callable[[str], Awaitable[object]],
    ok_prompt: str,
) -> None:
    agent = service.agent_at(endpoint)
    if agent is None:
        await session.stream_file("agent-incorrect")
        return
    await action(agent)
    await session.stream_file(ok_prompt)


def callback_handler(
    service: QueueService,
    pool: Callable[[], Executor] | None,
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
) -> Callable[[AgiSession], Awaitable[None]]:
    """``AGI(.../queue-callback)``: a caller whose wait overflowed to a callback. The
    request is recorded as the IVR's callback node records it (``ivr_callback_requests``;
    with the queue's campaign, a known contact's pending callback in that campaign),
    due now, for the caller's number; the caller hears thanks and goodbye. A caller
    without a number hears that no callback is possible. Only callers ccpbx sent here
    (its overflow) are served; the request is stored through ``pool``."""

    async def handle(session: AgiSession) -> None:
        env = session.env
        offer = service.take_callback_offer(env.uniqueid)
        if offer is None or pool is None:
            log.warning("acd_callback_not_offered", uniqueid=env.uniqueid)
            await session.stream_file("vm-goodbye")
            return
        queue, campaign = offer
        ivr_call = await session.get_variable("CCPBX_IVR_CALL") or ""
        try:
            call_id: uuid.UUID | None = uuid.UUID(ivr_call)
        except ValueError:
            call_id = None
        try:
            ident = await ivr_contacts.record_callback(
                pool(),
                call_id=call_id,
                number=env.callerid or "",
                due_at=clock(),
                campaign=campaign or None,
                note=f"queue {queue}: waited too long",
            )
        except InvalidInput:
            log.info("acd_callback_without_number", uniqueid=env.uniqueid, queue=queue)
            await session.stream_file("unidentified-no-callback")
            await session.stream_file("vm-goodbye")
            return
        log.info("acd_callback_recorded", uniqueid=env.uniqueid, queue=queue, request=ident)
        await session.set_variable("CCPBX_CALLBACK_REQUEST", str(ident))
        await session.stream_file("auth-thankyou")
        await session.stream_file("vm-goodbye")

    return handle


def acd_handlers(service: QueueService) -> dict[str, Callable[[AgiSession], Awaitable[None]]]:
    """The FastAGI scripts the daemon serves for the ACD."""
    return {
        "queue": queue_handler(service),
        "phone": phone_handler(service),
        "queue-announce": announce_handler(service),
        "queue-callback": callback_handler(service, service.pool),
    }
