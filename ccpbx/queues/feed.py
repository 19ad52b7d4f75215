"""Fan-out of ACD events to live subscribers (websockets), bounded per subscriber.

A subscriber that falls ``maxsize`` events behind is cut off (its feed ends with
``overflowed`` set) rather than slowing the service or growing memory.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any


class EventFeed:
    """One subscriber's queue of JSON-ready event dicts."""

    def __init__(self, maxsize: int) -> None:
        self._queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(maxsize + 1)
        self._maxsize = maxsize
        self.closed = False
        self.overflowed = False

    def offer(self, item: dict[str, Any]) -> bool:
        """Queue ``item``; False (and the feed closed) if the subscriber is too far behind."""
        if self.closed:
            return False
        if self._queue.qsize() >= self._maxsize:
            self.overflowed = True
            self.close()
            return False
        self._queue.put_nowait(item)
        return True

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._queue.put_nowait(None)

    async def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        while True:
            item = await self._queue.get()
            if item is None:
                return
            yield item


class Broadcaster:
    def __init__(self, maxsize: int = 1000) -> None:
        self._feeds: set[EventFeed] = set()
        self._maxsize = maxsize

    def subscribe(self) -> EventFeed:
        feed = EventFeed(self._maxsize)
        self._feeds.add(feed)
        return feed

    def unsubscribe(self, feed: EventFeed) -> None:
        self._feeds.discard(feed)
        feed.close()

    def publish(self, item: dict[str, Any]) -> None:
        for feed in list(self._feeds):
            if not feed.offer(item):
                self._feeds.discard(feed)

    def close(self) -> None:
        for feed in list(self._feeds):
            self.unsubscribe(feed)

    def __len__(self) -> int:
        return len(self._feeds)
