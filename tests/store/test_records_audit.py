"""Call records and the audit log, against a real PostgreSQL."""

from __future__ import annotations

import datetime as dt

import asyncpg
import pytest

from ccpbx.errors import InvalidInput, NotFound
from ccpbx.store import audit, records

from .factories import T0, acd_agents

MIN = dt.timedelta(minutes=1)


async def test_call_record_is_idempotent_per_channel(conn: asyncpg.Connection) -> None:
    """Starting the same (node, uniqueid) twice gives one record; later steps keep first values."""
    first = await records.start(
        conn,
        direction="inbound",
        started_at=T0,
        asterisk_node="pbx1",
        uniqueid="170.1",
        caller="+12125550101",
        callee="100",
    )
    again = await records.start(
        conn, direction="inbound", started_at=T0 + MIN, asterisk_node="pbx1", uniqueid="170.1"
    )
    assert again == first
    await acd_agents(conn, "1001")
    answered = await records.answered(conn, first.id, T0 + MIN, agent="1001")
    await records.answered(conn, first.id, T0 + 2 * MIN)
    done = await records.ended(conn, first.id, T0 + 3 * MIN, hangup_cause="16")
    repeat = await records.ended(conn, first.id, T0 + 4 * MIN, hangup_cause="17")
    assert (answered.answered_at, answered.agent) == (T0 + MIN, "1001")
    assert repeat == done
    assert (done.ended_at, done.hangup_cause) == (T0 + 3 * MIN, "16")
    assert await records.between(conn, T0, T0 + MIN) == [done]
    with pytest.raises(NotFound):
        await records.get(conn, records.uuid.uuid4())
    with pytest.raises(InvalidInput):
        await records.start(conn, direction="sideways", started_at=T0)


async def test_record_times_must_be_ordered(conn: asyncpg.Connection) -> None:
    """An end before the start is refused as invalid input, not stored."""
    rec = await records.start(conn, direction="outbound", started_at=T0)
    with pytest.raises(InvalidInput):
        await records.ended(conn, rec.id, T0 - MIN)


async def test_audit_entries_newest_first(conn: asyncpg.Connection) -> None:
    """Audit entries are appended and read back per object, newest first."""
    for k in range(3):
        await audit.record(
            conn,
            actor="admin",
            action=f"campaign.edit{k}",
            object_type="campaign",
            object_id="7",
            at=T0 + k * MIN,
            details={"k": k},
        )
    got = await audit.entries(conn, "campaign", "7")
    assert [e.action for e in got] == ["campaign.edit2", "campaign.edit1", "campaign.edit0"]
    assert got[0].details == {"k": 2}


async def test_merge_opens_then_fills_a_record_and_a_replay_changes_nothing(
    conn: asyncpg.Connection,
) -> None:
    """``merge`` opens a record per (node, uniqueid), keeps the first answer, agent, end
    and cause, takes the latest queue, merges details; the same updates again change
    nothing; an unknown queue is kept in details; an outbound row is left alone."""
    await acd_agents(conn, "1001", "1002")
    await conn.execute("INSERT INTO acd_queues (name) VALUES ('sales'), ('support')")
    opened = records.RecordUpdate(
        "inbound", "pbx1", "170.1", T0, linkedid="170.1", caller="15550123", callee="1800"
    )
    await records.merge(conn, [opened])
    rec = await records.find(conn, "pbx1", "170.1")
    assert rec is not None
    assert (rec.direction, rec.caller, rec.callee, rec.queue) == (
        "inbound",
        "15550123",
        "1800",
        None,
    )
    done = records.RecordUpdate(
        "inbound",
        "pbx1",
        "170.1",
        T0,
        queue="support",
        agent="1001",
        answered_at=T0 + MIN,
        ended_at=T0 + 2 * MIN,
        hangup_cause="16",
        details={"outcome": "answered", "wait_s": 3.0},
    )
    later = records.RecordUpdate(
        "inbound",
        "pbx1",
        "170.1",
        T0 + MIN,
        caller="other",
        agent="1002",
        answered_at=T0 + 3 * MIN,
        ended_at=T0 + 4 * MIN,
        hangup_cause="17",
        details={"talk_s": 60.0},
    )
    other = records.RecordUpdate("inbound", "pbx1", "170.2", T0, queue="gone")
    await records.merge(conn, [done, other])
    await records.merge(conn, [done, later, other])
    rec = await records.find(conn, "pbx1", "170.1")
    assert rec is not None
    assert (rec.started_at, rec.caller, rec.queue, rec.agent) == (T0, "15550123", "support", "1001")
    assert (rec.answered_at, rec.ended_at, rec.hangup_cause) == (T0 + MIN, T0 + 2 * MIN, "16")
    assert rec.details == {"outcome": "answered", "wait_s": 3.0, "talk_s": 60.0}
    unknown = await records.find(conn, "pbx1", "170.2")
    assert unknown is not None
    assert (unknown.queue, unknown.details) == (None, {"unmatched_queue": "gone"})
    assert await conn.fetchval("SELECT count(*) FROM call_records") == 2
    out = await records.start(
        conn, direction="outbound", started_at=T0, asterisk_node="pbx1", uniqueid="170.3"
    )
    await records.merge(conn, [records.RecordUpdate("inbound", "pbx1", "170.3", T0, caller="x")])
    assert await records.get(conn, out.id) == out


async def test_merge_is_all_or_nothing(conn: asyncpg.Connection) -> None:
    """A batch with one record the table refuses (end before start) writes none of it."""
    good = records.RecordUpdate("inbound", "pbx1", "171.1", T0)
    bad = records.RecordUpdate("inbound", "pbx1", "171.2", T0, ended_at=T0 - MIN)
    with pytest.raises(InvalidInput):
        await records.merge(conn, [good, bad])
    assert await conn.fetchval("SELECT count(*) FROM call_records") == 0
