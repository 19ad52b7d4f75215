"""The outbound call records a campaign runner writes, on real PostgreSQL: each step
goes through the runner's ordered writer, in any order the runner learns of them
(no Asterisk here: the recorder is told what Asterisk said)."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import asyncpg
import pytest

from ccpbx.dialer.runtime.call_records import OutboundRecords
from ccpbx.sandbox.outbound import NEW_YORK, seed_campaign
from ccpbx.store.leasing import LeasedLead, lease
from ccpbx.tasks import OrderedWriter

CALLER = "+12125550000"
NODE = "pbx1@2026-12-03 08:00:00"


async def _setup(
    pool: asyncpg.Pool, numbers: int = 1
) -> tuple[OutboundRecords, OrderedWriter, list[LeasedLead]]:
    campaign = await seed_campaign(
        pool, "records", [(f"+1212557{i:04d}", NEW_YORK) for i in range(numbers)]
    )
    await pool.execute("UPDATE campaigns SET status = 'running' WHERE id = $1", campaign.id)
    await pool.execute("INSERT INTO acd_agents (agent, name) VALUES ('1001', 'Ann')")
    leads = await lease(pool, campaign.id, numbers, dt.datetime.now(dt.UTC), dialer_id="t")
    writer = OrderedWriter(lambda: pool, owner="test-records", pause_s=0.01)
    writer.start()
    recorder = OutboundRecords(
        campaign_id=campaign.id, queue="outbound", caller=CALLER, write=writer.put
    )
    return recorder, writer, leads


def _placed(recorder: OutboundRecords, lead: LeasedLead) -> str:
    key = str(lead.attempt_id)
    recorder.placed(key, lead.attempt_id, lead.contact_id, lead.e164)
    return key


async def _rows(pool: asyncpg.Pool) -> list[dict[str, Any]]:
    rows = await pool.fetch("SELECT * FROM call_records ORDER BY started_at")
    return [dict(r) for r in rows]


def _after_start(row: dict[str, Any], column: str) -> float:
    """Seconds from the record's start to ``column``."""
    return float((row[column] - row["started_at"]).total_seconds())


def _at(epoch: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, dt.UTC)


async def test_a_connected_call_has_one_complete_record(pool: asyncpg.Pool) -> None:
    """Answer news that comes before the word that the Originate was sent waits for
    it; the record has the call's attempt, contact, numbers, queue, channel, answer
    time (the customer's), agent, end time and cause; a replayed hang-up and a
    follow-up after a restart of ccpbx change nothing and add no row."""
    recorder, writer, [lead] = await _setup(pool)
    t0 = time.time()
    key = _placed(recorder, lead)
    recorder.answered(key, t0 + 2)
    recorder.sent(key, t0, NODE)
    recorder.connected(key, t0 + 3, "1001")
    recorder.hangup(key, t0 + 10, "16", key)
    recorder.hangup(key, t0 + 11, "0", "other")  # replayed after a reconnect
    assert key not in recorder
    recorder.followed(key, lead.attempt_id, lead.contact_id, lead.e164, started_at=t0, node=NODE)
    recorder.answered(key, t0 + 12)
    recorder.hangup(key, t0 + 13, "0", None)
    await writer.stop()
    [row] = await _rows(pool)
    assert row["direction"] == "outbound"
    assert (row["attempt_id"], row["contact_id"]) == (lead.attempt_id, lead.contact_id)
    assert row["campaign_id"] == lead.campaign_id
    assert (row["caller"], row["callee"], row["queue"]) == (CALLER, lead.e164, "outbound")
    assert (row["asterisk_node"], row["uniqueid"], row["linkedid"]) == (NODE, key, key)
    assert abs((row["started_at"] - _at(t0)).total_seconds()) < 0.001
    assert _after_start(row, "answered_at") == pytest.approx(2, abs=0.01)
    assert _after_start(row, "ended_at") == pytest.approx(10, abs=0.01)
    assert (row["agent"], row["hangup_cause"], row["disposition"]) == ("1001", "16", None)


async def test_a_call_never_sent_has_no_record(pool: asyncpg.Pool) -> None:
    """A call whose Originate never reached Asterisk (not dialed) leaves no record,
    even when steps for it were already waiting."""
    recorder, writer, [lead] = await _setup(pool)
    key = _placed(recorder, lead)
    recorder.ended(key, time.time())
    recorder.not_sent(key)
    recorder.sent(key, time.time(), NODE)  # too late: it is forgotten
    await writer.stop()
    assert await _rows(pool) == []
    assert len(recorder) == 0


async def test_an_unanswered_call_ends_before_its_cause_is_known(pool: asyncpg.Pool) -> None:
    """A call settled before its hang-up is heard ends then; the cause heard later is
    filled in and the end time stays the first."""
    recorder, writer, [lead] = await _setup(pool)
    t0 = time.time()
    key = _placed(recorder, lead)
    recorder.sent(key, t0, NODE)
    recorder.ended(key, t0 + 5)
    recorder.hangup(key, t0 + 6, "17", key)
    await writer.stop()
    [row] = await _rows(pool)
    assert row["answered_at"] is None
    assert row["agent"] is None
    assert _after_start(row, "ended_at") == pytest.approx(5, abs=0.01)
    assert row["hangup_cause"] == "17"


async def test_calls_gone_unheard_are_ended_by_the_sweep(pool: asyncpg.Pool) -> None:
    """A sent call the runner and Asterisk no longer have ends at the sweep; one still
    live stays open; an Asterisk restart ends every open record; ended records are
    forgotten once no late hang-up is expected."""
    recorder, writer, leads = await _setup(pool, numbers=3)
    t0 = time.time()
    gone, live, restarted = (_placed(recorder, lead) for lead in leads)
    for key in (gone, live, restarted):
        recorder.sent(key, t0, NODE)
    recorder.sweep(t0 + 30, lambda key: key != gone)
    recorder.ended_all(t0 + 40)
    recorder.sweep(t0 + 40 + 61, lambda key: True)
    assert len(recorder) == 0
    await writer.stop()
    ended = {r["uniqueid"]: _after_start(r, "ended_at") for r in await _rows(pool)}
    assert ended == {
        gone: pytest.approx(30, abs=0.01),
        live: pytest.approx(40, abs=0.01),
        restarted: pytest.approx(40, abs=0.01),
    }
