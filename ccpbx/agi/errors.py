"""Errors raised by the FastAGI layer: one tree under `AgiError`."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ccpbx.agi.protocol import AgiResult


class AgiError(Exception):
    """Base of every FastAGI error."""

    error_id = "agi_error"


class AgiProtocolError(AgiError):
    """The peer sent bytes that are not valid AGI (bad header, oversize line, garbage)."""

    error_id = "agi_protocol_error"


class AgiInjectionError(AgiError, ValueError):
    """A command could not be sent safely: CR, LF or NUL in it, or a line Asterisk would split."""

    error_id = "agi_injection_refused"


class AgiHangup(AgiError):
    """The channel hung up or the link closed; the handler should stop.

    `reason` is `hangup_line` (Asterisk's inline HANGUP), `dead_channel` (511 answer)
    or `eof` (Asterisk closed the connection).
    """

    error_id = "agi_hangup"

    def __init__(self, reason: str) -> None:
        super().__init__(f"channel hung up ({reason})")
        self.reason = reason


class AgiCommandTimeout(AgiError, TimeoutError):
    """No answer to a command before its deadline; its late answer is skipped later."""

    error_id = "agi_command_timeout"


class AgiCommandError(AgiError):
    """Asterisk answered a command with something other than success."""

    error_id = "agi_command_error"

    def __init__(self, message: str, result: AgiResult) -> None:
        super().__init__(message)
        self.result = result


class AgiInvalidCommand(AgiCommandError):
    """510: Asterisk does not know the command."""

    error_id = "agi_invalid_command"


class AgiUsageError(AgiCommandError):
    """520: wrong arguments; `result.text` carries Asterisk's usage text."""

    error_id = "agi_usage_error"


class AgiCommandFailed(AgiCommandError):
    """200 result=-1 where the command defines -1 as failure (or a hang-up in progress)."""

    error_id = "agi_command_failed"
