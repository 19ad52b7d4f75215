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
