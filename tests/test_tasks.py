"""Owned background tasks and the ordered database writer."""

from __future__ import annotations

import asyncio
from typing import Any

from structlog.testing import capture_logs

from ccpbx.errors import Conflict, Unavailable
from ccpbx.tasks import OrderedWriter, TaskSet


async def test_task_set_logs_failures_and_cancels_the_rest() -> None:
    """A failed task is logged with its owner; cancel_all cancels and awaits the others."""
    tasks = TaskSet("svc")

    async def boom() -> None:
        raise RuntimeError("x")

    with capture_logs() as logs:
        tasks.spawn(boom(), "boom")
        sleeper = tasks.spawn(asyncio.sleep(60), "sleeper")
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert len(tasks) == 1
        await tasks.cancel_all()
    assert sleeper.cancelled()
    assert [(e["event"], e["task"]) for e in logs] == [("task_failed", "boom")]


async def test_writer_keeps_order_retries_outages_and_drops_refusals() -> None:
    """Jobs run in order; an unavailable database is retried, a refusal is not."""
    done: list[str] = []
    failures = {"b": 2}

    def job(name: str, error: Exception | None = None) -> Any:
        async def run(db: object) -> None:
            if failures.get(name):
                failures[name] -= 1
                raise Unavailable("db down")
            if error is not None:
                raise error
            done.append(name)

        return run

    writer = OrderedWriter(lambda: None, owner="t", pause_s=0.001)  # type: ignore[arg-type,return-value]
    writer.start()
    with capture_logs() as logs:
        for item in (job("a"), job("b"), job("c", Conflict("no")), job("d")):
            writer.put(item)
        await writer.stop()
    assert done == ["a", "b", "d"]
    kinds = [e["event"] for e in logs]
    assert kinds.count("store_failed") == 2
    assert kinds.count("store_refused") == 1


async def test_writer_outlasts_an_outage_of_any_length_and_bounds_its_queue() -> None:
    """A database unavailable for 50 tries in a row loses nothing and keeps the order; an
    unexpected error is given up after `attempts`; a full queue drops and counts."""
    done: list[str] = []
    down = {"n": 50}

    async def first(db: object) -> None:
        if down["n"]:
            down["n"] -= 1
            raise Unavailable("db down")
        done.append("first")

    async def broken(db: object) -> None:
        raise RuntimeError("a bug in the job")

    async def second(db: object) -> None:
        done.append("second")

    writer = OrderedWriter(
        lambda: None,  # type: ignore[arg-type,return-value]
        owner="t",
        attempts=3,
        pause_s=0.0005,
        max_pause_s=0.001,
        max_pending=3,
    )
    with capture_logs() as logs:
        for job in (first, broken, second, second):
            writer.put(job)
        assert (writer.pending, writer.dropped) == (3, 1)
        writer.start()
        await writer.stop()
    assert done == ["first", "second"]
    kinds = [e["event"] for e in logs]
    assert kinds.count("store_gave_up") == 1
    assert kinds.count("store_queue_full") == 1
    assert kinds.count("store_failed") == 50 + 3
