"""A TCP proxy on loopback that cuts or stalls the links through it, for fault tests.

ccpbx connects to the proxy instead of its peer (Asterisk's AMI, PostgreSQL). The
proxy forwards bytes both ways until told otherwise:

- :meth:`FaultProxy.cut` resets every link through it at once (as a cable pulled
  with a firewall answering RST); new connections are forwarded again;
- :meth:`FaultProxy.stall` stops forwarding on every current link, in both
  directions, without closing it (a half-open link: a NAT or firewall that dropped
  its state); new connections are forwarded normally.

It runs in the caller's event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field


@dataclass(eq=False)
class _Link:
    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter
    flowing: asyncio.Event = field(default_factory=asyncio.Event)
    pumps: list[asyncio.Task[None]] = field(default_factory=list)


class FaultProxy:
    def __init__(self, target_host: str, target_port: int, host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.host = host
        self.port = 0
        self.accepted = 0
        self.cuts = 0
        self.stalls = 0
        self._server: asyncio.Server | None = None
        self._links: set[_Link] = set()

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        pumps = [task for link in self._links for task in link.pumps]
        self.cut()
        for task in pumps:
            task.cancel()
        await asyncio.gather(*pumps, return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.wait_closed()

    @property
    def links(self) -> int:
        return len(self._links)

    def cut(self) -> int:
        """Reset every link through the proxy; the number of links cut."""
        links = list(self._links)
        for link in links:
            for writer in (link.client, link.upstream):
                writer.transport.abort()
            self._links.discard(link)
        self.cuts += len(links)
        return len(links)

    def stall(self) -> int:
        """Stop forwarding on every current link, leaving it open; the number stalled."""
        links = [link for link in self._links if link.flowing.is_set()]
        for link in links:
            link.flowing.clear()
        self.stalls += len(links)
        return len(links)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        link = _Link(writer, up_writer)
        link.flowing.set()
        self._links.add(link)
        link.pumps = [
            asyncio.create_task(self._pump(link, reader, up_writer)),
            asyncio.create_task(self._pump(link, up_reader, writer)),
        ]
        await asyncio.gather(*link.pumps, return_exceptions=True)
        self._links.discard(link)
        for w in (writer, up_writer):
            w.transport.abort()

    @staticmethod
    async def _pump(link: _Link, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        while True:
            await link.flowing.wait()
            data = await src.read(65536)
            if not data:
                return
            # A link stalled while this read waited: what was read is never delivered.
            await link.flowing.wait()
            dst.write(data)
            await dst.drain()
