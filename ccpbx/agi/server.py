"""FastAGI server: accept Asterisk's connections, route each to its script's handler.

One task per connection, each kept in a set and awaited on close. A connection first
has `header_timeout` seconds to send its environment; a peer that closes early or
stalls costs a task until then and nothing more. No source host may hold more than
`max_pending_per_source` connections that have not sent their environment yet, nor
more than `max_connections_per_source` in all, so one client holding idle
connections cannot take the places Asterisk's calls need; a refused connection is
closed at once, counted, and shows as "refusing" in `health()` for `refusal_memory_s`.
The handler's outcome is reported to the dialplan in channel variable
`CCPBX_AGI_STATUS` (`ok` or `failed`); a call whose variable is not `ok` should take
the dialplan's fallback.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass
from types import TracebackType

import structlog

from ccpbx.agi.errors import AgiCommandFailed, AgiError, AgiHangup, AgiProtocolError
from ccpbx.agi.protocol import DEFAULT_MAX_HEADER_BYTES, AgiEnvironment, AgiMessage, AgiParser
from ccpbx.agi.session import READ_CHUNK, AgiSession

AgiHandler = Callable[[AgiSession], Awaitable[None]]
STATUS_VARIABLE = "CCPBX_AGI_STATUS"

log = structlog.get_logger("ccpbx.agi")


@dataclass(frozen=True, slots=True)
class AgiServerStats:
    """A snapshot of the server's counters, for /status and /metrics."""

    connections_active: int = 0
    sessions_active: int = 0
    sessions_total: int = 0
    sessions_ok: int = 0
    sessions_hangup: int = 0
    handler_failures: int = 0
    header_timeouts: int = 0
    header_errors: int = 0
    unknown_scripts: int = 0
    connections_refused: int = 0
    """Refused because the server holds `max_connections`."""
    source_refusals: int = 0
    """Refused because their source host holds its share (pending or in all)."""

    def as_dict(self) -> dict[str, int]:
        """Counters by name (stable keys, usable as metric names with a prefix)."""
        return asdict(self)


class _Counters:
    __slots__ = tuple(AgiServerStats.__dataclass_fields__)

    def __init__(self) -> None:
        for name in self.__slots__:
            setattr(self, name, 0)

    def bump(self, name: str, by: int = 1) -> None:
        setattr(self, name, getattr(self, name) + by)

    def snapshot(self) -> AgiServerStats:
        return AgiServerStats(**{name: getattr(self, name) for name in self.__slots__})


class FastAgiServer:
    """FastAGI server for `AGI(agi://host:port/<script>?k=v,arg1,...)`.

    `handlers` maps a script path (`ivr`, `queue/entry`; no leading slash) to an async
    function taking an `AgiSession`. Use as `async with FastAgiServer(...) as server:`
    or call `start()` and `close()`.
    """

    def __init__(
        self,
        host: str,
        port: int,
        handlers: Mapping[str, AgiHandler],
        *,
        header_timeout: float = 5.0,
        max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES,
        command_timeout: float = 30.0,
        status_timeout: float = 5.0,
        shutdown_grace: float = 10.0,
        max_connections: int = 4096,
        max_connections_per_source: int = 2048,
        max_pending_per_source: int = 128,
        refusal_memory_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        on_reply: Callable[[str, float], None] | None = None,
    ) -> None:
        for name, handler in handlers.items():
            if not callable(handler):
                raise TypeError(f"AGI handler for {name!r} is not callable")
        self._host = host
        self._requested_port = port
        self._handlers = {name.strip("/"): handler for name, handler in handlers.items()}
        self._header_timeout = header_timeout
        self._max_header_bytes = max_header_bytes
        self._command_timeout = command_timeout
        self._status_timeout = status_timeout
        self._shutdown_grace = shutdown_grace
        self._max_connections = max_connections
        self._max_per_source = max_connections_per_source
        self._max_pending_per_source = max_pending_per_source
        self._refusal_memory_s = refusal_memory_s
        self._clock = clock
        self._on_reply = on_reply  # (command, seconds from sending to its reply)
        self._per_source: Counter[str] = Counter()
        self._pending_per_source: Counter[str] = Counter()
        self._last_refusal: tuple[float, str, str] | None = None
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._handshaking: set[asyncio.Task[None]] = set()
        self._counters = _Counters()

    @property
    def port(self) -> int:
        """The bound port (the one picked by the system when started with port 0)."""
        if self._server is None or not self._server.sockets:
            raise RuntimeError("FastAGI server is not started")
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def running(self) -> bool:
        """True between start() and close()."""
        return self._server is not None

    def stats(self) -> AgiServerStats:
        """Current counters."""
        return self._counters.snapshot()

    def health(self) -> tuple[str, dict[str, object]]:
        """``stopped``, ``listening``, or ``refusing`` while a connection was refused
        within ``refusal_memory_s`` (some calls may then have taken the fallback), with
        what was refused last: the source host and which limit."""
        if self._server is None:
            return "stopped", {}
        last = self._last_refusal
        if last is None or self._clock() - last[0] > self._refusal_memory_s:
            return "listening", {}
        at, source, limit = last
        return "refusing", {
            "refused_source": source,
            "refused_by": limit,
            "refused_s_ago": round(self._clock() - at, 1),
        }

    async def start(self) -> None:
        """Bind and start accepting connections."""
        if self._server is not None:
            raise RuntimeError("FastAGI server already started")
        self._server = await asyncio.start_server(
            self._on_connection, self._host, self._requested_port, limit=READ_CHUNK
        )
        log.info(
            "agi_server_started", host=self._host, port=self.port, scripts=sorted(self._handlers)
        )

    async def close(self, grace: float | None = None) -> None:
        """Stop accepting; let live sessions run up to `grace` seconds, then cancel them.

        Connections still waiting for their environment are cancelled at once.
        """
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for task in self._handshaking:
            task.cancel()
        grace = self._shutdown_grace if grace is None else grace
        if self._tasks and grace > 0:
            await asyncio.wait(set(self._tasks), timeout=grace)
        left = set(self._tasks)
        for task in left:
            task.cancel()
        if left:
            _, stuck = await asyncio.wait(left, timeout=5.0)
            if stuck:
                log.error("agi_sessions_stuck_on_close", count=len(stuck))
        await server.wait_closed()
        log.info("agi_server_stopped", cancelled=len(left))

    async def __aenter__(self) -> FastAgiServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def _on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        source = str(peer[0]) if isinstance(peer, tuple) and peer else "?"
        refused_by = self._limit_reached(source)
        if refused_by is not None:
            self._counters.bump(
                "connections_refused" if refused_by == "max_connections" else "source_refusals"
            )
            self._last_refusal = (self._clock(), source, refused_by)
            log.warning("agi_connection_refused", source=source, limit=refused_by)
            writer.transport.abort()
            return
        self._per_source[source] += 1
        self._pending_per_source[source] += 1
        task = asyncio.get_running_loop().create_task(self._serve(reader, writer, source))
        self._tasks.add(task)
        self._handshaking.add(task)
        task.add_done_callback(functools.partial(self._forget, source))

    def _limit_reached(self, source: str) -> str | None:
        """The limit a new connection from ``source`` would pass, or None."""
        if len(self._tasks) >= self._max_connections:
            return "max_connections"
        if self._per_source[source] >= self._max_per_source:
            return "max_connections_per_source"
        if self._pending_per_source[source] >= self._max_pending_per_source:
            return "max_pending_per_source"
        return None

    def _handshake_done(self, task: asyncio.Task[None] | None, source: str) -> None:
        if task is not None and task in self._handshaking:
            self._handshaking.discard(task)
            _decrement(self._pending_per_source, source)

    def _forget(self, source: str, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._handshake_done(task, source)
        _decrement(self._per_source, source)

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, source: str
    ) -> None:
        self._counters.bump("connections_active")
        peer = str(writer.get_extra_info("peername"))
        try:
            opening = await self._read_environment(reader, peer)
            self._handshake_done(asyncio.current_task(), source)
            if opening is not None:
                parser, env, pending = opening
                session = AgiSession(
                    env,
                    reader,
                    writer,
                    parser,
                    command_timeout=self._command_timeout,
                    pending=pending,
                    on_reply=self._on_reply,
                )
                with structlog.contextvars.bound_contextvars(
                    uniqueid=env.uniqueid, channel=env.channel, script=env.script
                ):
                    await self._dispatch(session)
        except Exception:  # a bug here must not become an unretrieved task exception
            log.exception("agi_connection_crashed", peer=peer)
        finally:
            self._counters.bump("connections_active", -1)
            await _close_writer(writer)

    async def _read_environment(
        self, reader: asyncio.StreamReader, peer: str
    ) -> tuple[AgiParser, AgiEnvironment, tuple[AgiMessage, ...]] | None:
        parser = AgiParser(max_header_bytes=self._max_header_bytes)
        try:
            async with asyncio.timeout(self._header_timeout):
                while True:
                    data = await reader.read(READ_CHUNK)
                    if not data:
                        self._counters.bump("header_errors")
                        log.info("agi_header_incomplete", peer=peer, buffered=parser.buffered)
                        return None
                    messages = parser.feed(data)
                    if messages:
                        env = messages[0]
                        if not isinstance(env, AgiEnvironment):  # the parser yields it first
                            raise AgiProtocolError("AGI reply before the environment")
                        return parser, env, tuple(messages[1:])
        except TimeoutError:
            self._counters.bump("header_timeouts")
            log.info("agi_header_timeout", peer=peer, buffered=parser.buffered)
        except AgiProtocolError as exc:
            self._counters.bump("header_errors")
            log.warning("agi_header_invalid", peer=peer, error=str(exc))
        except ConnectionError as exc:
            self._counters.bump("header_errors")
            log.info("agi_header_incomplete", peer=peer, error=repr(exc))
        return None

    async def _dispatch(self, session: AgiSession) -> None:
        env = session.env
        handler = self._handlers.get(env.script)
        if handler is None:
            self._counters.bump("unknown_scripts")
            log.warning("agi_unknown_script", request=env.request)
            return
        counters = self._counters
        counters.bump("sessions_total")
        counters.bump("sessions_active")
        loop = asyncio.get_running_loop()
        started = loop.time()
        log.debug("agi_session_started", args=len(env.args))
        try:
            outcome = await self._run_handler(handler, session)
        except asyncio.CancelledError:
            log.info("agi_session_cancelled", commands=session.commands_sent)
            raise
        finally:
            counters.bump("sessions_active", -1)
        counters.bump(f"sessions_{outcome}" if outcome != "failed" else "handler_failures")
        log.info(
            "agi_session_ended",
            outcome=outcome,
            commands=session.commands_sent,
            duration_ms=round((loop.time() - started) * 1000, 1),
        )

    async def _run_handler(self, handler: AgiHandler, session: AgiSession) -> str:
        """Run the handler; report to the dialplan; return ok, hangup or failed."""
        try:
            awaitable = handler(session)
            if not inspect.isawaitable(awaitable):
                raise TypeError("AGI handler returned a non-awaitable: it must be async")
            await awaitable
        except AgiHangup as exc:
            log.info("agi_session_hangup", reason=exc.reason)
            return "hangup"
        except Exception as exc:
            status_set = await self._set_status(session, "failed")
            if isinstance(exc, AgiCommandFailed) and session.hung_up:
                log.info("agi_session_hangup", reason="command_failed", error=str(exc))
                return "hangup"
            log.exception("agi_handler_failed", error=repr(exc), status_set=status_set)
            return "failed"
        if not session.usable:
            return "hangup"
        if await self._set_status(session, "ok"):
            return "ok"
        return "hangup" if session.hung_up else "failed"

    async def _set_status(self, session: AgiSession, status: str) -> bool:
        if not session.usable:
            return False
        try:
            await session.command(
                "SET VARIABLE", STATUS_VARIABLE, status, deadline=self._status_timeout
            )
        except AgiHangup:
            return False
        except AgiError as exc:
            log.warning("agi_status_not_set", status=status, error=repr(exc))
            return False
        return True


def _decrement(counts: Counter[str], key: str) -> None:
    counts[key] -= 1
    if counts[key] <= 0:
        del counts[key]


async def _close_writer(writer: asyncio.StreamWriter) -> None:
    writer.close()
    try:
        async with asyncio.timeout(1.0):
            await writer.wait_closed()
    except (TimeoutError, ConnectionError):
        writer.transport.abort()
