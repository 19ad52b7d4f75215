"""FastAGI for ccpbx: a pure protocol layer, a session API for handlers, and the server.

from ccpbx.agi import AgiSession, FastAgiServer

async def ivr(session: AgiSession) -> None:
    await session.answer()
    digits = await session.get_data("enter-account", timeout_ms=5000, max_digits=6)
    await session.set_variable("ACCOUNT", digits)

async with FastAgiServer("127.0.0.1", 4573, {"ivr": ivr}) as server:
    ...
"""

from ccpbx.agi.errors import (
    AgiCommandError,
    AgiCommandFailed,
    AgiCommandTimeout,
    AgiError,
    AgiHangup,
    AgiInjectionError,
    AgiInvalidCommand,
    AgiProtocolError,
    AgiUsageError,
)
from ccpbx.agi.protocol import (
    AgiEnvironment,
    AgiHangupNotice,
    AgiParser,
    AgiResult,
    build_command,
    quote_argument,
)
from ccpbx.agi.server import STATUS_VARIABLE, AgiHandler, AgiServerStats, FastAgiServer
from ccpbx.agi.session import AgiSession

__all__ = [
    "STATUS_VARIABLE",
    "AgiCommandError",
    "AgiCommandFailed",
    "AgiCommandTimeout",
    "AgiEnvironment",
    "AgiError",
    "AgiHandler",
    "AgiHangup",
    "AgiHangupNotice",
    "AgiInjectionError",
    "AgiInvalidCommand",
    "AgiParser",
    "AgiProtocolError",
    "AgiResult",
    "AgiServerStats",
    "AgiSession",
    "AgiUsageError",
    "FastAgiServer",
    "build_command",
    "quote_argument",
]
