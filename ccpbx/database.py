"""The PostgreSQL link: one pool, supervised.

The pool is created in the background with backoff and checked periodically;
while the database is down, users get ``Unavailable`` at once (no hang), and
``/status`` says so. asyncpg replaces broken connections itself; the supervisor
only has to notice an outage and report it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import asyncpg
import structlog

from ccpbx.backoff import Backoff
from ccpbx.config import DatabaseConfig
from ccpbx.errors import Unavailable
from ccpbx.health import ComponentStatus
from ccpbx.metrics import Sample

log = structlog.get_logger(__name__)


class Database:
    def __init__(self, config: DatabaseConfig, check_interval: float = 5.0) -> None:
        self.config = config
        self.check_interval = check_interval
        self._pool: asyncpg.Pool | None = None
        self._up = False
        self._since = time.time()
        self._last_error = ""
        self._outages = 0
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None or not self._up:
            raise Unavailable("the database is not reachable right now", component="database")
        return self._pool

    async def start(self) -> None:
        self._task = asyncio.create_task(self._supervise(), name="database-supervisor")

    async def wait_ready(self, timeout: float) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), timeout)
        return self._ready.is_set()

    def _set(self, up: bool, error: str = "") -> None:
        if up != self._up:
            self._since = time.time()
            if not up:
                self._outages += 1
            log.info("database_up" if up else "database_down", error=error or None)
        self._up = up
        if error:
            self._last_error = error
        if up:
            self._ready.set()

    async def _supervise(self) -> None:
        backoff = Backoff(initial=0.5, maximum=30.0, jitter=0.5)
        while True:
            if self._pool is None:
                try:
                    self._pool = await asyncpg.create_pool(
                        self.config.url,
                        min_size=self.config.pool_min,
                        max_size=self.config.pool_max,
                        timeout=self.config.connect_timeout,
                        command_timeout=30,
                    )
                    self._set(True)
                    backoff.reset()
                except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
                    self._set(False, f"{type(exc).__name__}: {exc}")
                    await asyncio.sleep(backoff.next_delay())
                    continue
            await asyncio.sleep(self.check_interval)
            try:
                await self._pool.fetchval("SELECT 1", timeout=self.config.connect_timeout)
                self._set(True)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
                self._set(False, f"{type(exc).__name__}: {exc}")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._pool is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._pool.close(), 10)
            self._pool = None
        self._up = False

    def status(self) -> ComponentStatus:
        detail: dict[str, Any] = {"since": self._since, "outages": self._outages}
        if self._last_error:
            detail["last_error"] = self._last_error
        if self._pool is not None:
            detail["pool_size"] = self._pool.get_size()
            detail["pool_idle"] = self._pool.get_idle_size()
        return ComponentStatus("database", self._up, "up" if self._up else "down", detail)

    def samples(self) -> list[Sample]:
        return [
            Sample("ccpbx_database_up", "gauge", "1 if PostgreSQL answers", 1 if self._up else 0),
            Sample(
                "ccpbx_database_outages_total", "counter", "PostgreSQL outages seen", self._outages
            ),
        ]
