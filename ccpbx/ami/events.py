"""Bounded event intake and the single consumer that applies events in order.

The socket reader only calls ``offer`` (enqueue or drop-and-count). One task runs
``consume``: for each event, in arrival order, it calls the handlers registered
for that event name and then those registered for ``"*"``. Handlers may be sync
or async; one that raises is logged and the next event is applied. When events
were dropped, ``on_stale`` is called once the queue has drained, so state that
may now be stale is read again from Asterisk.
"""

from __future__ import annotations

import asyncio
import inspect
from collections import deque
from collections.abc import Callable
from typing import Any

import structlog

from ccpbx.ami.protocol import AmiMessage

_BURST = 512  # events applied before the consumer yields to the loop

EventHandler = Callable[[AmiMessage], object]
"""A handler returns None (sync) or an awaitable (async); other return values are ignored."""


def _describe(handler: object) -> str:
    return getattr(handler, "__qualname__", None) or repr(handler)


class EventDispatcher:
    """Handler registry, bounded queue and ordered consumer of one AMI client."""

    def __init__(
        self,
        maxsize: int,
        on_stale: Callable[[], None],
        log: Any = None,
    ) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be >= 1")
        # A bounded deque plus one wake-up future: the semantics of a bounded
        # asyncio.Queue with one consumer, at about half its cost per event.
        self.maxsize = maxsize
        self._items: deque[AmiMessage] = deque()
        self._wakeup: asyncio.Future[None] | None = None
        self.received = 0
        self.dropped = 0
        self.handler_failures = 0
        self._on_stale = on_stale
        self._stale = False
        self._handlers: dict[str, list[EventHandler]] = {}
        self._resolved: dict[str, tuple[EventHandler, ...]] = {}
        self._log = log if log is not None else structlog.get_logger("ccpbx.ami.events")

    def on(self, name: str, handler: EventHandler) -> EventHandler:
        """Register ``handler`` for events called ``name`` (exact) or ``"*"`` for all."""
        if not name:
            raise ValueError("event name must not be empty (use '*' for every event)")
        self._handlers.setdefault(name, []).append(handler)
        self._resolved.clear()
        return handler

    def offer(self, _manager: object, msg: AmiMessage) -> None:
        """The one catch-all callback: enqueue, or drop and count when the queue is full."""
        self.received += 1
        items = self._items
        if len(items) >= self.maxsize:
            self.dropped += 1
            if not self._stale:
                self._stale = True
                self._log.warning(
                    "ami_event_queue_overflow",
                    ami_event=msg.name,
                    queue_size=self.maxsize,
                    dropped=self.dropped,
                )
            return
        items.append(msg)
        wakeup = self._wakeup
        if wakeup is not None:
            self._wakeup = None
            if not wakeup.done():
                wakeup.set_result(None)

    @property
    def depth(self) -> int:
        """Events waiting for the consumer."""
        return len(self._items)

    def _handlers_for(self, name: str) -> tuple[EventHandler, ...]:
        found = self._resolved.get(name)
        if found is None:
            found = tuple(self._handlers.get(name, ())) + tuple(self._handlers.get("*", ()))
            self._resolved[name] = found
        return found

    async def consume(self) -> None:
        """Apply queued events in order, forever (cancel to stop)."""
        items = self._items
        resolved = self._resolved
        loop = asyncio.get_running_loop()
        burst = 0
        while True:
            if not items:
                burst = 0
                while not items:
                    self._wakeup = wakeup = loop.create_future()
                    await wakeup
            elif burst >= _BURST:
                # Long run of sync handlers: let the reader and action waiters run too.
                burst = 0
                await asyncio.sleep(0)
            burst += 1
            msg = items.popleft()
            handlers = resolved.get(msg.name)
            if handlers is None:
                handlers = self._handlers_for(msg.name)
                resolved = self._resolved
            for handler in handlers:
                try:
                    ret = handler(msg)
                    if ret is not None and ret.__class__ is not bool and inspect.isawaitable(ret):
                        await ret
                except asyncio.CancelledError:
                    raise
                except Exception:
                    self.handler_failures += 1
                    self._log.exception(
                        "ami_event_handler_failed",
                        ami_event=msg.name,
                        handler=_describe(handler),
                        seq=msg.seq,
                    )
            if self._stale and not items:
                self._stale = False
                self._log.warning("ami_resync_requested", reason="event_queue_overflow")
                self._on_stale()
