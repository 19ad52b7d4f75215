"""Inbound call records on the real Asterisk: SIPp customers call in through the carrier
trunk and the IVR; each gets one call_records row, filled as the call goes (queue,
agent, answer, end, hang-up cause, outcome); the dialer's calls get none."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import asyncpg
import pytest

from ccpbx.acd import AcdEvent, AgentMode, AgentState, EventKind
from ccpbx.ami.protocol import AmiMessage
from ccpbx.daemon import Daemon
from ccpbx.sandbox.asterisk import AsteriskInstance
from ccpbx.sandbox.carrier import Carrier
from ccpbx.sandbox.outbound import NEW_YORK, seed_campaign
from ccpbx.sandbox.phones import SippPhone
from ccpbx.sandbox.sipp import Step

from .conftest import StartDaemon, eventually
from .test_acd_support import add_agent, add_queue
from .test_ivr_calls import activate, call, start_ivr

QUEUE_FLOW = """
flow: cdr_{queue}
dids: ["{did}"]
languages: [en]
default_language: en
sound_languages: [en]
start: wait
nodes:
  wait:
    kind: queue
    queue: {queue}
    target: "ccpbx-queue-enter,s,1"
"""

MENU_FLOW = """
flow: cdr_menu
dids: ["18005550192"]
languages: [en]
sound_languages: [en]
start: menu
prompts:
  beep: beep
nodes:
  menu:
    kind: menu
    prompt: beep
    choices: {"1": bye}
    timeout_ms: 20000
    retries: 0
    fallback: bye
  bye: {kind: hangup}
"""


async def ended_record(daemon: Daemon, did: str, *, outcome: str) -> dict[str, Any]:
    """The one inbound record of the call to ``did``, once it is ended with ``outcome``."""

    async def row() -> dict[str, Any] | None:
        rows = await daemon.database.pool.fetch(
            "SELECT * FROM call_records WHERE direction = 'inbound' AND callee = $1", did
        )
        assert len(rows) <= 1, rows
        if not rows or rows[0]["ended_at"] is None:
            return None
        found = dict(rows[0])
        found["details"] = json.loads(found["details"])
        return found if found["details"].get("outcome") == outcome else None

    return await eventually(row, timeout=20)  # type: ignore[no-any-return]


class Hangups:
    """AMI Hangup events, by uniqueid."""

    def __init__(self) -> None:
        self.seen: dict[str, AmiMessage] = {}

    def __call__(self, msg: AmiMessage) -> None:
        self.seen[msg.get("Uniqueid") or ""] = msg


def check_channel(record: dict[str, Any], daemon: Daemon, hangups: Hangups) -> None:
    """The record names the customer's channel on the Asterisk process that made it,
    and ends with the cause Asterisk gave in its Hangup."""
    assert record["asterisk_node"] == str(daemon.ami.instance)
    assert daemon.ami.instance.known
    assert record["uniqueid"]
    assert record["linkedid"] == record["uniqueid"]  # the customer leg starts the call
    assert record["caller"] == "15550123"
    assert record["started_at"] <= record["ended_at"]
    hangup = hangups.seen[record["uniqueid"]]
    assert record["hangup_cause"] == hangup.get("Cause")
    assert record["details"]["hangup_cause_text"] == hangup.get("Cause-txt")
    assert float(hangup.get("Timestamp") or 0) == pytest.approx(
        record["ended_at"].timestamp(), abs=0.001
    )


@pytest.mark.timeout(120)
async def test_call_answered_by_an_agent_has_queue_agent_answer_and_end(
    asterisk: AsteriskInstance, start_daemon: StartDaemon, database_url: str, phone: SippPhone
) -> None:
    """A caller sent by the IVR into "sales" is taken by agent 1001 and hangs up after
    talking: one record with the queue, the agent, the answer between start and end,
    the caller's wait and talk time, outcome answered."""
    await activate(database_url, QUEUE_FLOW.format(queue="sales", did="18005550190"))
    hangups = Hangups()
    daemon, _ = await start_ivr(start_daemon, events={"Hangup": hangups})
    await add_queue(daemon, "sales", wrapup_s=0.0)
    await add_agent(daemon, "1001", ["sales"])
    await daemon.acd.login("1001", "1001")
    seen: list[AcdEvent] = []
    daemon.acd.add_listener(seen.append)

    result = await call(asterisk, "18005550190", [Step.pause(6000)], wait_bye_ms=1)
    assert result.ok, result.errors
    record = await ended_record(daemon, "18005550190", outcome="answered")
    check_channel(record, daemon, hangups)
    [answer] = [e for e in seen if e.kind is EventKind.CALL_ANSWERED]
    assert answer.call_id == record["uniqueid"]
    assert (record["queue"], record["agent"]) == ("sales", "1001")
    assert record["started_at"] < record["answered_at"] < record["ended_at"]
    details = record["details"]
    assert details["wait_s"] == pytest.approx(answer.wait_s, abs=0.01)
    talk = await eventually(
        lambda: daemon.database.pool.fetchval(
            "SELECT (details->>'talk_s')::float FROM call_records WHERE id = $1", record["id"]
        )
    )
    assert 2.0 < talk < 7.0
    assert "abandoned" not in details


@pytest.mark.timeout(120)
async def test_call_rung_through_to_a_ring_mode_agent_is_answered_by_it(
    asterisk: AsteriskInstance, start_daemon: StartDaemon, database_url: str, phone: SippPhone
) -> None:
    """A caller (a Local channel dialing the DID) is put through by ringing agent 1001's
    phone, which is bridged with it; when the caller is hung up the record has the
    agent, the answer and the end of that same channel."""
    await activate(database_url, QUEUE_FLOW.format(queue="sales", did="18005550195"))
    hangups = Hangups()
    daemon, _ = await start_ivr(start_daemon, events={"Hangup": hangups})
    await add_queue(daemon, "sales", wrapup_s=0.0)
    await add_agent(daemon, "1001", ["sales"], mode=AgentMode.RING)
    await daemon.acd.login("1001", "1001")
    caller = f"cdr-{uuid.uuid4().hex[:10]}"
    await daemon.ami.action(
        "Originate",
        Channel="Local/18005550195@ccpbx-inbound",
        Application="Wait",
        Data="600",
        CallerID='"Ring Caller" <15550123>',
        ChannelId=f"out-{caller}",
        OtherChannelId=caller,  # the half that runs the inbound dialplan: the customer
        Async="true",
        timeout=10,
    )
    await eventually(lambda: daemon.acd.state.agents["1001"].state is AgentState.ON_CALL, 20)
    assert daemon.acd.state.agents["1001"].call_id == caller
    await asyncio.sleep(1.0)
    await daemon.ami.action("Hangup", Channel=daemon.acd.legs[caller].channel, timeout=5)
    record = await ended_record(daemon, "18005550195", outcome="answered")
    assert record["uniqueid"] == caller
    assert (record["queue"], record["agent"]) == ("sales", "1001")
    assert record["started_at"] < record["answered_at"] < record["ended_at"]
    assert record["caller"] == "15550123"
    assert record["hangup_cause"] == hangups.seen[caller].get("Cause")


@pytest.mark.timeout(120)
async def test_caller_who_hangs_up_waiting_in_the_queue_is_abandoned(
    asterisk: AsteriskInstance, start_daemon: StartDaemon, database_url: str
) -> None:
    """Nobody serves "care"; the caller hangs up after a few seconds of music: the
    record has the queue, no agent and no answer, outcome abandoned with the wait."""
    await activate(database_url, QUEUE_FLOW.format(queue="care", did="18005550191"))
    hangups = Hangups()
    daemon, _ = await start_ivr(start_daemon, events={"Hangup": hangups})
    await add_queue(daemon, "care")
    seen: list[AcdEvent] = []
    daemon.acd.add_listener(seen.append)

    result = await call(asterisk, "18005550191", [Step.pause(4000)], wait_bye_ms=1)
    assert result.ok, result.errors
    record = await ended_record(daemon, "18005550191", outcome="abandoned")
    check_channel(record, daemon, hangups)
    assert (record["queue"], record["agent"], record["answered_at"]) == ("care", None, None)
    details = await eventually(
        lambda: daemon.database.pool.fetchval(
            "SELECT details FROM call_records WHERE id = $1 AND details ? 'wait_s'", record["id"]
        )
    )
    [abandon] = [e for e in seen if e.kind is EventKind.CALL_ABANDONED]
    assert abandon.call_id == record["uniqueid"]
    assert '"abandoned": true' in details
    assert abandon.wait_s is not None
    assert 0.5 < abandon.wait_s < 4.0


@pytest.mark.timeout(120)
async def test_caller_who_hangs_up_in_the_ivr_menu_was_never_queued(
    asterisk: AsteriskInstance, start_daemon: StartDaemon, database_url: str
) -> None:
    """A caller hangs up while the IVR menu waits for a key: the record has no queue,
    no agent, no answer by an agent, outcome ivr."""
    await activate(database_url, MENU_FLOW)
    hangups = Hangups()
    daemon, _ = await start_ivr(start_daemon, events={"Hangup": hangups})

    result = await call(asterisk, "18005550192", [Step.pause(2000)], wait_bye_ms=1)
    assert result.ok, result.errors
    record = await ended_record(daemon, "18005550192", outcome="ivr")
    check_channel(record, daemon, hangups)
    assert (record["queue"], record["agent"], record["answered_at"]) == (None, None, None)
    assert set(record["details"]) == {"outcome", "hangup_cause_text"}


@pytest.mark.timeout(120)
async def test_a_call_in_progress_across_a_ccpbx_restart_keeps_its_one_record(
    asterisk: AsteriskInstance, start_daemon: StartDaemon, database_url: str
) -> None:
    """ccpbx restarts while a caller waits in "care": the new daemon follows the record
    the first one opened (the call stays up in Asterisk); the caller's hang-up ends it
    as abandoned; there is still one record."""
    did = "18005550193"
    await activate(database_url, QUEUE_FLOW.format(queue="care", did=did))
    hangups = Hangups()
    first, _ = await start_ivr(start_daemon, events={"Hangup": hangups})
    await add_queue(first, "care")
    caller = asyncio.create_task(call(asterisk, did, [Step.pause(9000)], wait_bye_ms=1))
    await eventually(
        lambda: first.database.pool.fetchval(
            "SELECT queue FROM call_records WHERE callee = $1", did
        )
    )
    opened = await first.database.pool.fetchrow(
        "SELECT id, started_at FROM call_records WHERE callee = $1", did
    )
    await first.stop()
    assert not caller.done()
    second, _ = await start_ivr(start_daemon, events={"Hangup": hangups})
    result = await caller
    assert result.ok, result.errors
    record = await ended_record(second, did, outcome="abandoned")
    check_channel(record, second, hangups)
    assert (record["id"], record["started_at"]) == (opened["id"], opened["started_at"])
    assert record["queue"] == "care"
    assert "ended_by" not in record["details"]  # ended by its own hang-up


@pytest.mark.timeout(150)
async def test_calls_that_die_with_asterisk_end_and_the_next_asterisk_is_another_node(
    asterisk: AsteriskInstance, start_daemon: StartDaemon, database_url: str
) -> None:
    """Asterisk is SIGKILLed while a caller waits in "care" (no Hangup is ever sent) and
    started again: the record ends when ccpbx reconnects, ended by the restart; a call to
    the new Asterisk gets its own record under the new process's name."""
    did = "18005550194"
    await activate(database_url, QUEUE_FLOW.format(queue="care", did=did))
    hangups = Hangups()
    daemon, _ = await start_ivr(start_daemon, events={"Hangup": hangups})
    await add_queue(daemon, "care")
    before = str(daemon.ami.instance)
    caller = asyncio.create_task(call(asterisk, did, [Step.pause(4000)], wait_bye_ms=1))
    await eventually(
        lambda: daemon.database.pool.fetchval(
            "SELECT queue FROM call_records WHERE callee = $1", did
        )
    )
    asterisk.kill()
    await asyncio.to_thread(asterisk.start)
    await eventually(lambda: daemon.ami.restarted and daemon.ami.ready, timeout=30)
    record = await ended_record(daemon, did, outcome="abandoned")
    assert record["asterisk_node"] == before != str(daemon.ami.instance)
    assert record["details"]["ended_by"] == "asterisk_restarted"
    assert record["hangup_cause"] is None
    assert record["uniqueid"] not in hangups.seen
    await caller  # its BYE found no call (the Asterisk that had it is gone)

    result = await call(asterisk, "18005550199", [Step.pause(1500)], wait_bye_ms=1)
    assert result.ok, result.errors
    after = await ended_record(daemon, "18005550199", outcome="ivr")
    check_channel(after, daemon, hangups)
    assert after["asterisk_node"] != before


@pytest.mark.timeout(180)
async def test_dialer_calls_get_no_inbound_record(
    asterisk: AsteriskInstance, start_daemon: StartDaemon, database_url: str, phone: SippPhone
) -> None:
    """A campaign call answered by the carrier's customer passes through the ACD to
    agent 1001, yet gets no inbound record; an inbound call placed meanwhile gets its
    one record."""
    hangups = Hangups()
    daemon = await start_daemon(events={"Hangup": hangups})
    assert daemon.dialer is not None
    await seed_campaign(daemon, "cdr", [("+12125570001", NEW_YORK)])
    await add_agent(daemon, "1001", ["outbound"])
    await daemon.acd.login("1001", "1001")
    seen: list[AcdEvent] = []
    daemon.acd.add_listener(seen.append)
    with Carrier(asterisk, answer_pct=100, busy_pct=0, congestion_pct=0, talk_s=3.0):
        await daemon.dialer.start_campaign("cdr")
        runner = daemon.dialer.runners["cdr"]
        await eventually(lambda: runner.counts["connected"] >= 1, 60)
        await daemon.dialer.pause_campaign("cdr")
        await eventually(lambda: not runner.book.calls(), 30)
    outbound = {e.call_id for e in seen if e.kind is EventKind.CALL_ANSWERED}
    assert outbound
    # A customer calling in on a DID with no IVR flow hears the welcome and hangs up.
    result = await call(asterisk, "18005550199", [Step.pause(1500)], wait_bye_ms=1)
    assert result.ok, result.errors
    record = await ended_record(daemon, "18005550199", outcome="ivr")
    check_channel(record, daemon, hangups)
    conn = await asyncpg.connect(database_url)
    try:
        inbound = await conn.fetch("SELECT uniqueid FROM call_records WHERE direction = 'inbound'")
    finally:
        await conn.close()
    assert [r["uniqueid"] for r in inbound] == [record["uniqueid"]]
    assert not outbound & {r["uniqueid"] for r in inbound}
