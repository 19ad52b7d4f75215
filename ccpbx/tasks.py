"""Background work a service owns: a set of tasks, and an ordered database writer.

Every task is kept until it ends, its failure is logged, and all are cancelled and
awaited when the owner stops (nothing runs on unowned). Database writes that must
happen in order (events, outcomes) go through one :class:`OrderedWriter` task.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import structlog

from ccpbx.backoff import Backoff
from ccpbx.errors import CcpbxError
from ccpbx.store.db import Executor

log = structlog.get_logger(__name__)

Job = Callable[[Executor], Awaitable[Any]]
T = TypeVar("T")


async def next_batch(inbox: asyncio.Queue[T], timeout: float | None) -> list[T]:
    """Wait up to ``timeout`` seconds (None: no limit) for an item of a worker's inbox,
    then take everything queued behind it; [] when the time is up.

    ``asyncio.timeout``, not ``wait_for``: on Python 3.11 ``wait_for`` can swallow a
    cancellation that arrives as an item does, and the worker would never end."""
    try:
        async with asyncio.timeout(timeout):
            item = await inbox.get()
    except TimeoutError:
        return []
    batch = [item]
    while not inbox.empty():
        batch.append(inbox.get_nowait())
    return batch


class TaskSet:
    """Tasks one service started; ``owner`` names it in the logs."""

    def __init__(self, owner: str) -> None:
        self.owner = owner
        self._tasks: set[asyncio.Task[Any]] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error(
                "task_failed", owner=self.owner, task=task.get_name(), exc_info=task.exception()
            )

    async def wait_all(self) -> None:
        """Wait for the tasks running now to end (their errors are logged, not raised)."""
        await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def cancel_all(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class OrderedWriter:
    """Runs database jobs one after the other, in the order given.

    A job that fails because the database is unreachable (``Unavailable``) is retried
    until the database answers again, with pauses growing from ``pause_s`` to
    ``max_pause_s``: an outage of any length loses no outcome, and the jobs behind it
    keep their order. A job that fails for another reason is retried ``attempts`` times
    and then dropped (``store_gave_up``); one the store refuses (a conflict, bad input)
    is logged and dropped at once: retrying cannot help. At most ``max_pending`` jobs
    wait; past that a new job is dropped and counted (``dropped``) rather than memory
    growing without bound.
    """

    def __init__(
        self,
        pool: Callable[[], Executor],
        *,
        owner: str,
        attempts: int = 5,
        pause_s: float = 0.5,
        max_pause_s: float = 5.0,
        max_pending: int = 100_000,
    ) -> None:
        self._pool = pool
        self.owner = owner
        self._attempts = attempts
        self._pause_s = pause_s
        self._max_pause_s = max(pause_s, max_pause_s)
        self._max_pending = max_pending
        self.dropped = 0
        self._jobs: asyncio.Queue[Job | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"{self.owner}-writer")

    def put(self, job: Job) -> None:
        if self._jobs.qsize() >= self._max_pending:
            self.dropped += 1
            log.error("store_queue_full", owner=self.owner, pending=self.pending)
            return
        self._jobs.put_nowait(job)

    @property
    def pending(self) -> int:
        return self._jobs.qsize()

    async def stop(self, timeout: float = 5.0) -> None:
        """Finish the jobs already given (at most ``timeout`` seconds), then end."""
        if self._task is None:
            return
        self._jobs.put_nowait(None)
        try:
            async with asyncio.timeout(timeout):
                await asyncio.shield(self._task)
        except TimeoutError:
            log.warning("writer_stop_timeout", owner=self.owner, pending=self.pending)
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self._task = None

    async def _run(self) -> None:
        while True:
            job = await self._jobs.get()
            if job is None:
                return
            await self._write(job)

    async def _write(self, job: Job) -> None:
        backoff = Backoff(initial=self._pause_s, maximum=self._max_pause_s, jitter=0.2)
        failures = 0
        while True:
            try:
                await job(self._pool())
                return
            except asyncio.CancelledError:
                raise
            except CcpbxError as exc:
                if exc.error_id != "unavailable":
                    log.warning("store_refused", owner=self.owner, error=exc.message)
                    return
                log.warning(
                    "store_failed", owner=self.owner, error=exc.message, attempt=backoff.attempt
                )
            except Exception as exc:
                failures += 1
                log.warning("store_failed", owner=self.owner, error=repr(exc), attempt=failures)
                if failures >= self._attempts:
                    log.error("store_gave_up", owner=self.owner, attempts=failures)
                    return
            await asyncio.sleep(backoff.next_delay())
