"""A scriptable fake AMI peer on 127.0.0.1, used only to inject faults a real Asterisk
cannot produce on demand (refused logins, silence, cut links, floods)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from ccpbx.ami import AmiSettings
from ccpbx.ami.protocol import AmiFramer, AmiMessage

ActionHandler = Callable[["FakeConnection", AmiMessage], Awaitable[None] | None]


def frame(*pairs: tuple[str, str]) -> bytes:
    """Raw AMI bytes of one message."""
    return ("".join(f"{k}: {v}\r\n" for k, v in pairs) + "\r\n").encode("utf-8")


class FakeConnection:
    """One client connection accepted by the fake peer."""

    def __init__(self, peer: FakeAmi, index: int, writer: asyncio.StreamWriter) -> None:
        self.peer = peer
        self.index = index
        self.writer = writer
        self.framer = AmiFramer(actions=True)

    def write(self, data: bytes) -> None:
        if not self.writer.is_closing():
            self.writer.write(data)

    def respond(
        self, action: AmiMessage, response: str = "Success", *pairs: tuple[str, str]
    ) -> None:
        self.write(frame(("Response", response), ("ActionID", action.action_id or ""), *pairs))

    def event(self, name: str, *pairs: tuple[str, str]) -> None:
        self.write(frame(("Event", name), ("Privilege", "call,all"), *pairs))

    def cut(self) -> None:
        """Drop the TCP connection at once (RST)."""
        transport = self.writer.transport
        transport.abort()


class FakeAmi:
    """Fake AMI server: logs every action received, answers per script."""

    def __init__(self, *, secret: str = "s3cret") -> None:
        self.secret = secret
        self.refuse_logins = 0  # refuse this many logins, then accept
        self.silent = False  # stop answering anything (simulates a half-open link)
        self.unanswered: set[str] = set()  # action names never answered
        self.handlers: dict[str, ActionHandler] = {}
        self.channels: list[list[tuple[str, str]]] = []
        self.actions: list[tuple[int, AmiMessage]] = []  # (connection index, action)
        self.connections: list[FakeConnection] = []
        self.bytes_received = 0
        self._changed = asyncio.Condition()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    async def start(self) -> FakeAmi:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for conn in self.connections:
            conn.cut()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def __aenter__(self) -> FakeAmi:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def named(self, name: str) -> list[tuple[int, AmiMessage]]:
        """Actions received with this name, with their connection index."""
        return [(i, a) for i, a in self.actions if a.name == name]

    async def until(self, predicate: Callable[[], bool], limit: float = 2.0) -> None:
        """Wait until ``predicate()`` holds (re-checked on each action or connection)."""
        async with asyncio.timeout(limit), self._changed:
            await self._changed.wait_for(predicate)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        conn = FakeConnection(self, len(self.connections), writer)
        self.connections.append(conn)
        try:
            writer.write(b"Asterisk Call Manager/11.0.0\r\n")
            await self._notify()
            while data := await reader.read(65536):
                self.bytes_received += len(data)
                for msg in conn.framer.feed(data):
                    self.actions.append((conn.index, msg))
                    if not self.silent:
                        await self._answer(conn, self.actions[-1][1])
                    await self._notify()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._tasks.discard(task)
            with contextlib.suppress(Exception):
                writer.close()
            await self._notify()

    async def _answer(self, conn: FakeConnection, action: AmiMessage) -> None:
        name = action.name
        if name in self.unanswered:
            return
        handler = self.handlers.get(name)
        if handler is not None:
            ret = handler(conn, action)
            if ret is not None:
                await ret
            return
        if name == "Login":
            if self.refuse_logins > 0 or action.get("Secret") != self.secret:
                self.refuse_logins = max(0, self.refuse_logins - 1)
                conn.respond(action, "Error", ("Message", "Authentication failed"))
            else:
                conn.respond(action, "Success", ("Message", "Authentication accepted"))
                conn.event("FullyBooted", ("Status", "Fully Booted"))
        elif name == "Ping":
            conn.respond(action, "Success", ("Ping", "Pong"), ("Timestamp", "1763900000.000000"))
        elif name == "CoreShowChannels":
            aid = ("ActionID", action.action_id or "")
            conn.respond(
                action, "Success", ("EventList", "start"), ("Message", "Channels will follow")
            )
            for chan in self.channels:
                conn.write(frame(("Event", "CoreShowChannel"), aid, *chan))
            conn.write(
                frame(
                    ("Event", "CoreShowChannelsComplete"),
                    aid,
                    ("EventList", "Complete"),
                    ("ListItems", str(len(self.channels))),
                )
            )
        else:
            conn.respond(action, "Success", ("Message", f"{name} done"))


def fast_settings(port: int, **overrides: Any) -> AmiSettings:
    """Settings with small timers so each fault shows up within milliseconds."""
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "username": "ccpbx",
        "secret": "s3cret",
        "connect_timeout": 1.0,
        "action_timeout": 1.0,
        "ping_interval": 30.0,
        "ping_timeout": 1.0,
        "backoff_initial": 0.01,
        "backoff_max": 0.04,
        "backoff_jitter": 0.0,
    }
    values.update(overrides)
    return AmiSettings(**values)


async def eventually(predicate: Callable[[], bool], limit: float = 2.0) -> None:
    """Wait until ``predicate()`` holds, checking after each loop turn (bounded by ``limit``)."""
    async with asyncio.timeout(limit):
        while not predicate():  # noqa: ASYNC110 (state of the code under test; no event to await)
            await asyncio.sleep(0.002)


def named(logs: list[dict[str, Any]], event: str) -> list[dict[str, Any]]:
    return [entry for entry in logs if entry["event"] == event]
