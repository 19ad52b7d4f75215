"""One FastAGI conversation: send a command, await its reply under a deadline.

`AgiSession` sits between the pure `AgiParser` and a handler. Commands run one at a
time (AGI is strictly request/reply). A reply that has not come by its deadline, or
that was overtaken by Asterisk's `HANGUP` line, stays owed: it is skipped when it
arrives, so later commands still get their own reply.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable

from ccpbx.agi.errors import (
    AgiCommandError,
    AgiCommandFailed,
    AgiCommandTimeout,
    AgiHangup,
    AgiInjectionError,
    AgiInvalidCommand,
    AgiProtocolError,
    AgiUsageError,
)
from ccpbx.agi.protocol import (
    AgiEnvironment,
    AgiHangupNotice,
    AgiMessage,
    AgiParser,
    AgiResult,
    Arg,
    build_command,
)

READ_CHUNK = 64 * 1024
HANGUP_GRACE = 0.25  # seconds to wait for a HANGUP line after a result of -1


class AgiSession:
    """The handler's view of one call: its environment and the commands it may run."""

    def __init__(
        self,
        env: AgiEnvironment,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        parser: AgiParser,
        *,
        command_timeout: float,
        pending: tuple[AgiMessage, ...] = (),
        on_reply: Callable[[str, float], None] | None = None,
    ) -> None:
        self.env = env
        self._on_reply = on_reply
        self._reader = reader
        self._writer = writer
        self._parser = parser
        self._command_timeout = command_timeout
        self._queue: deque[AgiMessage] = deque(pending)
        self._lock = asyncio.Lock()
        self._owed = 0  # replies Asterisk still has to send, the current one included
        self._hangup_seen = False
        self._eof = False
        self._broken: AgiProtocolError | None = None
        self.commands_sent = 0

    @property
    def hung_up(self) -> bool:
        """True once Asterisk reported a hang-up (HANGUP line, 511) or closed the link."""
        return self._hangup_seen or self._eof

    @property
    def usable(self) -> bool:
        """True while commands can still reach a live channel."""
        return not self.hung_up and self._broken is None

    async def command(self, command: str, *args: Arg, deadline: float | None = None) -> AgiResult:
        """Send `command` with quoted `args`; return its 200 reply.

        Raises `AgiInjectionError` before sending if an argument holds CR, LF or NUL,
        `AgiHangup` on a hang-up, `AgiCommandTimeout` past the deadline (`deadline`
        seconds, the server's command timeout by default), `AgiCommandError` subclasses
        for 510 and 520 replies.
        """
        line = build_command(command, *args)
        if deadline is None:
            deadline = self._command_timeout
        async with self._lock:
            if self._broken is not None:
                raise AgiProtocolError("AGI link is unusable") from self._broken
            if self._eof:
                raise AgiHangup("eof")
            try:
                self._writer.write(line)
            except (ConnectionError, RuntimeError) as exc:
                self._eof = True
                raise AgiHangup("eof") from exc
            self._owed += 1
            self.commands_sent += 1
            sent = time.perf_counter()
            try:
                async with asyncio.timeout(deadline):
                    await self._writer.drain()
                    reply = await self._next_reply()
            except TimeoutError as exc:
                raise AgiCommandTimeout(f"no reply to {command} within {deadline} s") from exc
            except ConnectionError as exc:
                self._eof = True
                raise AgiHangup("eof") from exc
        if self._on_reply is not None:
            self._on_reply(command, time.perf_counter() - sent)
        return self._check(command, reply)

    async def _next_reply(self) -> AgiResult:
        while True:
            message = await self._next_message()
            if isinstance(message, AgiHangupNotice):
                self._hangup_seen = True
                raise AgiHangup("hangup_line")
            if not isinstance(message, AgiResult):
                raise self._fail(AgiProtocolError("second AGI environment block"))
            self._owed -= 1
            if self._owed == 0:
                return message

    async def _next_message(self) -> AgiMessage:
        while not self._queue:
            data = await self._reader.read(READ_CHUNK)
            if not data:
                self._eof = True
                raise AgiHangup("eof")
            try:
                self._queue.extend(self._parser.feed(data))
            except AgiProtocolError as exc:
                raise self._fail(exc) from None
        return self._queue.popleft()

    def _fail(self, exc: AgiProtocolError) -> AgiProtocolError:
        self._broken = exc
        return exc

    def _check(self, command: str, reply: AgiResult) -> AgiResult:
        if reply.code == 200:
            return reply
        if reply.code == 511:
            self._hangup_seen = True
            raise AgiHangup("dead_channel")
        if reply.code == 510:
            raise AgiInvalidCommand(f"{command}: {reply.text}", reply)
        if reply.code == 520:
            raise AgiUsageError(f"{command}: invalid syntax", reply)
        raise AgiCommandError(f"{command}: {reply.code} {reply.text}", reply)

    async def _checked(self, command: str, reply: AgiResult, *failures: int) -> AgiResult:
        """Raise on a failure result: AgiHangup if Asterisk's HANGUP line follows it.

        Asterisk answers a command interrupted by a hang-up with `result=-1` and sends
        its HANGUP line just after; wait a moment for it so the handler sees a hang-up.
        """
        if reply.result not in failures:
            return reply
        reason = await self._hangup_follows()
        if reason is not None:
            raise AgiHangup(reason)
        raise AgiCommandFailed(f"{command} failed (result={reply.result})", reply)

    async def _hangup_follows(self) -> str | None:
        """The hang-up reason if Asterisk reports one within HANGUP_GRACE, else None."""
        if self._eof:
            return "eof"
        if self._hangup_seen:
            return "hangup_line"
        async with self._lock:
            try:
                async with asyncio.timeout(HANGUP_GRACE):
                    message = await self._next_message()
            except (TimeoutError, AgiProtocolError):
                return None
            except AgiHangup as exc:
                return exc.reason
            if isinstance(message, AgiHangupNotice):
                self._hangup_seen = True
                return "hangup_line"
            self._queue.appendleft(message)
            return None

    @staticmethod
    def _digit(reply: AgiResult) -> str | None:
        return chr(reply.result) if reply.result else None

    async def answer(self) -> None:
        """Answer the channel."""
        await self._checked("ANSWER", await self.command("ANSWER"), -1)

    async def hangup(self, channel: str | None = None) -> None:
        """Hang up this channel (or `channel`)."""
        args = () if channel is None else (channel,)
        await self.command("HANGUP", *args)

    async def stream_file(
        self, name: str, escape_digits: str = "", *, deadline: float | None = None
    ) -> str | None:
        """Play `name`; return the escape digit that stopped it, None if it played out."""
        reply = await self.command("STREAM FILE", name, escape_digits, deadline=deadline)
        return self._digit(await self._checked("STREAM FILE", reply, -1))

    async def get_data(
        self,
        prompt: str,
        timeout_ms: int = 0,
        max_digits: int = 1024,
        *,
        deadline: float | None = None,
    ) -> str:
        """Play `prompt`, collect up to `max_digits` DTMF digits ('' if none came).

        `timeout_ms` is Asterisk's wait per digit (0: the channel's default). The
        deadline defaults to the command timeout plus that wait for each digit.
        """
        if deadline is None:
            per_digit = (timeout_ms or 10_000) / 1000
            deadline = self._command_timeout + per_digit * (min(max_digits, 20) + 1)
        reply = await self.command("GET DATA", prompt, timeout_ms, max_digits, deadline=deadline)
        await self._checked("GET DATA", reply, -1)
        return reply.raw_result

    async def wait_for_digit(self, timeout_ms: int, *, deadline: float | None = None) -> str | None:
        """Wait up to `timeout_ms` for one DTMF digit; None if none came."""
        if timeout_ms < 0:
            raise ValueError("timeout_ms must be >= 0 (no endless waits)")
        if deadline is None:
            deadline = self._command_timeout + timeout_ms / 1000
        reply = await self.command("WAIT FOR DIGIT", timeout_ms, deadline=deadline)
        return self._digit(await self._checked("WAIT FOR DIGIT", reply, -1))

    async def say_digits(
        self, digits: str, escape_digits: str = "", *, deadline: float | None = None
    ) -> str | None:
        """Say `digits` one by one; return the escape digit pressed, if any."""
        reply = await self.command("SAY DIGITS", digits, escape_digits, deadline=deadline)
        return self._digit(await self._checked("SAY DIGITS", reply, -1))

    async def get_variable(self, name: str) -> str | None:
        """Value of channel variable `name`, None if it is not set."""
        reply = await self.command("GET VARIABLE", name)
        return reply.data if reply.result == 1 else None

    async def get_full_variable(self, expression: str, channel: str | None = None) -> str | None:
        """Evaluate `expression` (e.g. `${CALLERID(num)}`), None if unset."""
        args = (expression,) if channel is None else (expression, channel)
        reply = await self.command("GET FULL VARIABLE", *args)
        return reply.data if reply.result == 1 else None

    async def set_variable(self, name: str, value: Arg) -> None:
        """Set channel variable `name` to `value` (refused if it holds CR, LF or NUL)."""
        await self.command("SET VARIABLE", name, value)

    async def exec(self, app: str, *args: Arg, deadline: float | None = None) -> int:
        """Run dialplan application `app` with `args`; return its result (-1: it failed).

        Arguments are joined with `,` into the application's argument string, so a
        single argument holding `,` is refused rather than split by the application.
        Pass `deadline` (seconds) for long applications such as Dial.
        """
        if any("," in str(arg) for arg in args):
            raise AgiInjectionError("an EXEC argument holds ',', which the application would split")
        options = ",".join(str(arg) for arg in args)
        reply = await self.command("EXEC", app, options, deadline=deadline)
        await self._checked("EXEC", reply, -2)
        return reply.result if reply.result is not None else 0

    async def verbose(self, message: str, level: int = 1) -> None:
        """Write `message` to Asterisk's verbose log at `level`."""
        await self.command("VERBOSE", message, level)
