"""The call recorder's writer against a real PostgreSQL: rows land once, a slow or
broken database delays them but loses none, and event handling never waits for it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import asyncpg
import pytest

from ccpbx.acd import AcdEvent, EventKind
from ccpbx.ami.channels import ChannelView
from ccpbx.ami.client import AmiClient
from ccpbx.ami.protocol import AmiMessage
from ccpbx.ami.settings import AmiSettings
from ccpbx.cdr import CallRecorder

T = 1_764_750_000.0


def newexten(uid: str, at: float, app: str = "NoOp") -> AmiMessage:
    return AmiMessage(
        "event",
        "Newexten",
        {
            "Uniqueid": uid,
            "Linkedid": uid,
            "Context": "ccpbx-inbound",
            "Exten": "18005550100",
            "CallerIDNum": "15550123",
            "Application": app,
            "Timestamp": f"{at:.6f}",
        },
    )


def hangup(uid: str, at: float) -> AmiMessage:
    return AmiMessage(
        "event",
        "Hangup",
        {"Uniqueid": uid, "Cause": "16", "Cause-txt": "Normal Clearing", "Timestamp": f"{at}"},
    )


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    async with asyncpg.create_pool(database_url, min_size=1, max_size=2) as p:
        await p.execute("INSERT INTO acd_queues (name) VALUES ('sales')")
        yield p


def recorder_for(pool: asyncpg.Pool) -> CallRecorder:
    # An AMI client that is never started: the recorder only registers its handlers on
    # it; the test applies the events itself, as the client's consumer would.
    ami = AmiClient(AmiSettings(host="127.0.0.1", username="ccpbx", secret="x"))
    return CallRecorder(ami, ChannelView(), lambda: pool, flush_s=0.01)


async def rows(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    return await pool.fetch("SELECT * FROM call_records ORDER BY uniqueid")


async def wait_for(pool: asyncpg.Pool, count: int, ended: bool = True) -> list[asyncpg.Record]:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        found = await rows(pool)
        if len(found) >= count and (not ended or all(r["ended_at"] for r in found)):
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"{count} rows not written in time: {await rows(pool)}")


async def test_each_call_is_written_once_and_a_replay_adds_nothing(pool: asyncpg.Pool) -> None:
    """Three calls arrive, one is queued, all hang up: three rows; the same events
    again (and an arrival of a dialed-out leg) write no other row."""
    rec = recorder_for(pool)
    rec.start()
    try:
        events = []
        for n in range(3):
            events += [newexten(f"1.{n}", T + n), newexten(f"1.{n}", T + n + 0.1, "AGI")]
        for msg in events:
            rec.on_newexten(msg)
        rec.on_acd(AcdEvent(EventKind.CALL_ENQUEUED, T + 1, queue="sales", call_id="1.0"))
        rec.on_newexten(newexten("9.9", T, app="AppDial2"))
        for n in range(3):
            rec.on_hangup(hangup(f"1.{n}", T + 10 + n))
        first = await wait_for(pool, 3)
        for msg in events:
            rec.on_newexten(msg)
        rec.on_hangup(hangup("1.0", T + 30))
        await asyncio.sleep(0.3)
        again = await rows(pool)
    finally:
        await rec.stop()
    assert [r["uniqueid"] for r in first] == ["1.0", "1.1", "1.2"]
    assert again == first
    assert first[0]["queue"] == "sales"
    assert first[0]["ended_at"].timestamp() == pytest.approx(T + 10)
    assert rec.written >= 3


async def test_a_slow_then_broken_database_delays_records_but_loses_none(
    pool: asyncpg.Pool, database_url: str
) -> None:
    """While call_records is locked (a slow database) 300 calls arrive and end: feeding
    them does not wait; the writer's connection is then killed mid-write (a lost link):
    the batch is given back; once the lock is gone every row is there, once."""
    rec = recorder_for(pool)
    rec.start()
    blocker = await asyncpg.connect(database_url)
    try:
        tx = blocker.transaction()
        await tx.start()
        await blocker.execute("LOCK TABLE call_records IN ACCESS EXCLUSIVE MODE")
        began = time.perf_counter()
        for n in range(300):
            rec.on_newexten(newexten(f"2.{n:03d}", T + n))
            rec.on_hangup(hangup(f"2.{n:03d}", T + n + 5))
        fed_s = time.perf_counter() - began
        assert fed_s < 0.5  # no database round trip in the handlers
        waiting = "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
        deadline = time.monotonic() + 10
        pids: list[asyncpg.Record] = []
        while time.monotonic() < deadline:
            pids = await blocker.fetch(waiting)
            if pids:
                break
            await asyncio.sleep(0.05)
        assert pids, "the writer never reached the locked table"
        for row in pids:
            await blocker.execute("SELECT pg_terminate_backend($1)", row["pid"])
        await asyncio.sleep(0.5)
        assert rec.write_failures >= 1
        assert rec.book.pending > 0
        await tx.rollback()
        found = await wait_for(pool, 300)
    finally:
        await blocker.close()
        await rec.stop()
    assert len(found) == 300
    assert len({r["uniqueid"] for r in found}) == 300
    assert rec.status().state == "stopped"


async def test_stop_writes_what_is_pending(pool: asyncpg.Pool) -> None:
    """Calls changed just before shutdown are written by ``stop``."""
    rec = CallRecorder(
        AmiClient(AmiSettings(host="127.0.0.1", username="ccpbx", secret="x")),
        ChannelView(),
        lambda: pool,
        flush_s=60.0,  # the writer would not get to them on its own
    )
    rec.start()
    rec.on_newexten(newexten("3.1", T))
    rec.on_hangup(hangup("3.1", T + 2))
    await rec.stop()
    [row] = await rows(pool)
    assert (row["uniqueid"], row["hangup_cause"]) == ("3.1", "16")


async def test_stop_with_the_database_gone_returns_and_says_what_is_unwritten(
    pool: asyncpg.Pool,
) -> None:
    """At shutdown with the pool closed (database gone) ``stop`` still returns; the
    records it could not write are counted as pending."""
    rec = CallRecorder(
        AmiClient(AmiSettings(host="127.0.0.1", username="ccpbx", secret="x")),
        ChannelView(),
        lambda: pool,
        flush_s=60.0,
    )
    rec.start()
    rec.on_newexten(newexten("4.1", T))
    await pool.close()
    await rec.stop(timeout=2.0)
    assert rec.book.pending == 1
