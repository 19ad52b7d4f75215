"""The ``phone-outside`` FastAGI script: a phone's call to an outside number.

``[ccpbx-phones]`` sends here every number a phone dials that is not a phone's
extension or a feature code, with the phone's class of service (its endpoint's
``CCPBX_CLASS_OF_SERVICE``), the number dialed, the phone's ``max_calls`` and how many
outside calls it has up (this one included) as the script's arguments: no round trip
to read them. The class rules are :mod:`ccpbx.pbx.dialing`'s; this module carries
them out:

- allowed: the script sets ``CCPBX_DIAL`` (the trunk's dial template filled with the
  E.164 number, or an emergency number's digits) and ``CCPBX_DIAL_TIMEOUT``; the
  dialplan then dials it, with the company's caller ID (``[dialing] caller_id`` and
  ``caller_name``) when one is configured, else the phone's own.
- a phone with more than ``max_calls`` outside calls up, or a trunk with
  ``max_channels`` that many phones' outside calls up (group ``ccpbx-trunk``; campaign
  calls are not counted): denied as below, with ``all-circuits-busy-now``. Emergency
  calls are never held back by a limit, nor by a trunk record ccpbx cannot read (they
  then go out as ``PJSIP/<digits>@<trunk>``).
- denied: the caller hears the denied prompt (``[dialing] denied_prompt``), the call
  is hung up, ccpbx logs ``phone_call_denied`` (phone, number, class, reason) and
  Asterisk's own log gets a line with the phone's address that fail2ban can read::

      WARNING[...] ...: ccpbx phone_call_denied phone=1010 number=+442071234567
      class=local reason=class_too_low from 127.0.0.1 port 5070     (one line)

(a fail2ban ``failregex``: ``ccpbx phone_call_denied .* from <HOST> port``).

Without ccpbx (not running, or this script failed) ``CCPBX_DIAL`` stays empty and
the dialplan hangs up: outside calls fail closed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable

import structlog

from ccpbx.agi import AgiError, AgiSession
from ccpbx.config import DialingConfig
from ccpbx.errors import CcpbxError
from ccpbx.pbx import trunks
from ccpbx.pbx.dialing import EMERGENCY, DialingPolicy
from ccpbx.pbx.model import (
    DEFAULT_DIAL_TEMPLATE,
    TrunkRecord,
    dial_string,
    fill_dial_template,
)
from ccpbx.store.db import Executor

log = structlog.get_logger(__name__)

TRUNK_GROUP = "ccpbx-trunk"
BUSY_PROMPT = "all-circuits-busy-now"

TrunkLookup = Callable[[str], Awaitable[TrunkRecord]]


def phone_of(channel: str) -> str:
    """``PJSIP/1010-0000002a`` -> ``1010`` (the channel name when it is not PJSIP)."""
    return (
        channel.removeprefix("PJSIP/").rsplit("-", 1)[0]
        if channel.startswith("PJSIP/")
        else channel
    )


def emergency_dial(trunk: str, number: str) -> str:
    """How an emergency number is dialed when the trunk's record cannot be read."""
    return fill_dial_template(DEFAULT_DIAL_TEMPLATE, trunk, number)


def over_limit(up: str, limit: str) -> bool:
    """More calls ``up`` (this one included) than ``limit`` allows; a count or limit
    that is not a whole number (a dialplan without them) counts as over."""
    if not (up.isdigit() and limit.isdigit()):
        return True
    return int(up) > int(limit)


def fail2ban_line(phone: str, number: str, klass: str, reason: str, remote: str) -> str:
    """The line Asterisk logs for a denied call: no commas (Log() would split them),
    the phone's address as ``from HOST port PORT`` for a fail2ban ``<HOST>``."""
    host, _, port = remote.rpartition(":") if remote.count(":") == 1 else (remote, "", "")
    host = host.strip("[]")
    where = f" from {host} port {port}" if port else f" from {host}" if host else ""
    fields = f"phone={phone} number={number or '-'} class={klass or '-'} reason={reason}"
    return f"ccpbx phone_call_denied {fields}{where}".replace(",", " ")


def outside_call_handler(
    policy: DialingPolicy,
    trunk_of: TrunkLookup,
    *,
    trunk: str,
    denied_prompt: str = "cannot-complete-as-dialed",
    dial_timeout_s: int = 60,
    caller_id: str = "",
    caller_name: str = "",
) -> Callable[[AgiSession], Awaitable[None]]:
    """``AGI(.../phone-outside,CLASS,NUMBER,MAX_CALLS,UP)``: decide (the class, then the
    phone's calls UP against MAX_CALLS, then the trunk's channels), then hand the
    dialplan what to dial or play the denied prompt (see the module docstring).
    ``trunk_of`` reads the trunk named ``trunk`` (dial template, channel limit) for
    each allowed call."""

    async def deny(session: AgiSession, phone: str, number: str, klass: str, reason: str) -> None:
        log.warning(
            "phone_call_denied", phone=phone, number=number, class_of_service=klass, reason=reason
        )
        remote = await session.get_variable("CHANNEL(pjsip,remote_addr)") or ""
        with contextlib.suppress(AgiError):
            await session.exec(
                "Log", "WARNING", fail2ban_line(phone, number, klass, reason, remote)
            )
        await session.answer()
        busy = reason in ("trunk_busy", "max_calls")
        await session.stream_file(BUSY_PROMPT if busy else denied_prompt)
        with contextlib.suppress(AgiError):
            await session.hangup()

    async def handle(session: AgiSession) -> None:
        env = session.env
        phone = phone_of(env.channel)
        args = list(env.args)
        klass = args[0] if args else await session.get_variable("CCPBX_CLASS_OF_SERVICE") or ""
        dialed = args[1] if len(args) > 1 else env.get("agi_extension") or ""
        decision = policy.decide(dialed, klass)
        if not decision.allowed:
            await deny(session, phone, dialed, klass, decision.reason)
            return
        emergency = decision.category == EMERGENCY  # never held back by a limit either
        up, limit = (args[3] if len(args) > 3 else ""), (args[2] if len(args) > 2 else "")
        if not emergency and over_limit(up, limit):
            await deny(session, phone, dialed, klass, "max_calls")
            return
        record: TrunkRecord | None = None
        try:
            record = await trunk_of(trunk)
        except CcpbxError as exc:
            log.error("phone_call_no_trunk", phone=phone, trunk=trunk, error=exc.message)
            if not emergency:
                await deny(session, phone, dialed, klass, "no_trunk")
                return
        # An emergency call goes out even when the trunk cannot be read (the database
        # is down): through the trunk's endpoint by the standard template.
        dial = dial_string(record, decision.number) if record else emergency_dial(trunk, dialed)
        if record is not None and record.max_channels and not emergency:
            await session.exec("Set", f"GROUP({TRUNK_GROUP})={record.name}")
            up = await session.get_variable(f"GROUP_COUNT({record.name}@{TRUNK_GROUP})") or ""
            if over_limit(up, str(record.max_channels)):
                await deny(session, phone, dialed, klass, "trunk_busy")
                return
        if caller_id:
            await session.set_variable("CALLERID(num)", caller_id)
        if caller_name:
            await session.set_variable("CALLERID(name)", caller_name)
        await session.set_variable("CCPBX_DIAL", dial)
        await session.set_variable("CCPBX_DIAL_TIMEOUT", str(dial_timeout_s))
        log.info(
            "phone_call_out",
            phone=phone,
            number=decision.number,
            category=decision.category,
            class_of_service=klass,
            trunk=trunk,
        )

    return handle


def handler_for(
    dialing: DialingConfig, pool: Callable[[], Executor]
) -> Callable[[AgiSession], Awaitable[None]]:
    """The script as the daemon serves it: ``[dialing]``'s rules, the trunk read from
    the database (``ccpbx trunk add``) for each allowed call."""
    policy = DialingPolicy(dialing.home_region, dialing.local_prefixes, dialing.premium_classes)

    async def trunk_of(name: str) -> TrunkRecord:
        return await trunks.get(pool(), name)

    return outside_call_handler(
        policy,
        trunk_of,
        trunk=dialing.trunk,
        denied_prompt=dialing.denied_prompt,
        dial_timeout_s=dialing.dial_timeout_s,
        caller_id=dialing.caller_id,
        caller_name=dialing.caller_name,
    )
